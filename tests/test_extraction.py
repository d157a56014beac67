"""Validation of extraction tables: bad rows are refused with file, row and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from review.errors import ExtractionError
from review.extraction import FIELDS, load_extraction, provenance

STUDIES = """study_id,label,pmid,trial,design,product,target,disease,year,note,report_pmids
s1,Alpha 2024,111,ALPHA,trial,axi-cel,CD19,LBCL,2024,,111;112
s2,Beta 2023,222,,real_world,mixed,mixed,LBCL+MM,2023,,222
"""

OUTCOMES = """study_id,field,value,pmid,location,source_url,note
s1,n_treated,100,111,Table 1,https://example.org/111,
s1,spm_any,10,112,Table 3,https://example.org/112,
s1,spm_tcell,1,112,Table 3,https://example.org/112,
s1,spm_myeloid,3,112,Table 3,https://example.org/112,
s1,median_followup_months,24.5,111,Abstract,https://example.org/111,
s2,n_treated,50,222,Abstract,https://example.org/222,
s2,spm_any,2,222,Abstract,https://example.org/222,
s2,person_years,80.5,222,Results paragraph 2,https://example.org/222,
"""


def write(tmp_path: Path, studies: str = STUDIES, outcomes: str = OUTCOMES) -> Path:
    (tmp_path / "studies.csv").write_text(studies, encoding="utf-8")
    (tmp_path / "outcomes.csv").write_text(outcomes, encoding="utf-8")
    return tmp_path


def replace_line(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def test_good_tables_load_wide_with_provenance(tmp_path: Path) -> None:
    df = load_extraction(write(tmp_path))
    assert list(df["study_id"]) == ["s1", "s2"]
    assert list(df.columns[-len(FIELDS) :]) == list(FIELDS)
    assert df.loc[0, "n_treated"] == 100 and df.loc[0, "spm_any"] == 10
    assert df["n_treated"].dtype == "Int64"
    assert df.loc[0, "median_followup_months"] == pytest.approx(24.5)
    assert pd.isna(df.loc[1, "spm_tcell"])
    assert df.loc[1, "person_years"] == pytest.approx(80.5)
    prov = df.attrs["provenance"]
    row = prov[(prov.study_id == "s1") & (prov.field == "spm_any")].iloc[0]
    assert (row.pmid, row.location, row.line) == ("112", "Table 3", 3)
    assert len(provenance(tmp_path)) == len(prov) == 8


@pytest.mark.parametrize(
    ("old", "new", "row", "column", "words"),
    [
        # a number without its PMID
        ("s1,spm_any,10,112,", "s1,spm_any,10,,", 3, "pmid", "no PMID"),
        # a number without its location
        ("s1,spm_any,10,112,Table 3,", "s1,spm_any,10,112,,", 3, "location", "no location"),
        # a PMID that is not one of the study's reports
        ("s1,spm_any,10,112,", "s1,spm_any,10,999,", 3, "pmid", "not a report"),
        # events above the patients treated
        ("s2,spm_any,2,", "s2,spm_any,51,", 8, "value", "exceeds n_treated"),
        # a fractional count
        ("s2,spm_any,2,", "s2,spm_any,2.5,", 8, "value", "whole number"),
        # a negative count
        ("s2,spm_any,2,", "s2,spm_any,-1,", 8, "value", "whole number"),
        # text where a number belongs
        ("s2,spm_any,2,", "s2,spm_any,two,", 8, "value", "not a number"),
        # person-years must be positive
        ("s2,person_years,80.5,", "s2,person_years,0,", 9, "value", "> 0"),
        # sub-types summing above the total, without a note
        ("s1,spm_myeloid,3,", "s1,spm_myeloid,10,", 3, "value", "sum to 11"),
        # an unknown field
        ("s2,person_years,", "s2,person_months,", 9, "field", "not one of"),
        # an unknown study
        ("s2,person_years,", "s9,person_years,", 9, "study_id", "not in studies.csv"),
        # the same number given twice
        ("s2,person_years,80.5,", "s2,spm_any,1,", 9, "field", "already given"),
    ],
)
def test_bad_outcome_rows_name_file_row_column(
    tmp_path: Path, old: str, new: str, row: int, column: str, words: str
) -> None:
    write(tmp_path, outcomes=replace_line(OUTCOMES, old, new))
    with pytest.raises(ExtractionError) as info:
        load_extraction(tmp_path)
    err = info.value
    assert err.path == str(tmp_path / "outcomes.csv")
    assert (err.row, err.column) == (row, column)
    assert words in str(err)


def test_subtypes_above_total_accepted_with_a_note(tmp_path: Path) -> None:
    outcomes = replace_line(OUTCOMES, "s1,spm_myeloid,3,", "s1,spm_myeloid,10,")
    outcomes = replace_line(
        outcomes,
        "s1,spm_any,10,112,Table 3,https://example.org/112,",
        's1,spm_any,10,112,Table 3,https://example.org/112,"total excludes NMSC"',
    )
    df = load_extraction(write(tmp_path, outcomes=outcomes))
    assert df.loc[0, "spm_myeloid"] == 10


def test_single_subtype_above_total_without_note(tmp_path: Path) -> None:
    outcomes = OUTCOMES + "s2,spm_nmsc,3,222,Table 2,https://example.org/222,\n"
    write(tmp_path, outcomes=outcomes)
    with pytest.raises(ExtractionError, match="spm_nmsc = 3 exceeds spm_any = 2"):
        load_extraction(tmp_path)


def test_study_without_n_treated(tmp_path: Path) -> None:
    outcomes = "\n".join(
        line for line in OUTCOMES.splitlines() if not line.startswith("s2,n_treated")
    )
    write(tmp_path, outcomes=outcomes + "\n")
    with pytest.raises(ExtractionError, match="no n_treated") as info:
        load_extraction(tmp_path)
    assert info.value.row == "s2"


@pytest.mark.parametrize(
    ("old", "new", "column"),
    [
        (",trial,axi-cel,", ",rct,axi-cel,", "design"),
        (",axi-cel,CD19,", ",axi-cel,CD22,", "target"),
        (",axi-cel,CD19,", ",obe-cel,CD19,", "product"),
        ("s1,Alpha 2024,111,", "s1,Alpha 2024,PMC111,", "pmid"),
        ("LBCL,2024,", "LBCL,24,", "year"),
        ("s2,Beta 2023,", "s1,Beta 2023,", "study_id"),
        (",111;112", ",111;x12", "report_pmids"),
    ],
)
def test_bad_study_rows(tmp_path: Path, old: str, new: str, column: str) -> None:
    write(tmp_path, studies=replace_line(STUDIES, old, new))
    with pytest.raises(ExtractionError) as info:
        load_extraction(tmp_path)
    assert info.value.path == str(tmp_path / "studies.csv")
    assert info.value.column == column
    assert isinstance(info.value.row, int) and info.value.row >= 2


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    write(tmp_path, outcomes=OUTCOMES.replace(",location,", ",where,", 1))
    with pytest.raises(ExtractionError, match="location") as info:
        load_extraction(tmp_path)
    assert info.value.column == "location"
    (tmp_path / "studies.csv").unlink()
    with pytest.raises(ExtractionError, match="file not found"):
        load_extraction(tmp_path)
