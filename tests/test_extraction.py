"""Extraction validated against the protocol: bad rows are refused with file, row and column.

The protocol here is a small review of infections after surgery (not the worked example):
what the columns and fields mean comes from it, not from the toolkit.
"""

from __future__ import annotations

import copy
import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.errors import ExtractionError, ProtocolError
from review.extraction import (
    load_extraction,
    parse_scale,
    provenance,
    read_extraction,
    report_study_map,
    time_factor,
)
from review.protocol import protocol_from_mapping

PROTOCOL: dict[str, Any] = {
    "schema_version": 2,
    "title": "Infection after hip replacement",
    "question": "How often do patients develop an infection after hip replacement?",
    "eligibility": {"include": ["Primary THA"], "exclude": ["Revisions"]},
    "exclusion_reasons": [{"code": "wrong_population", "label": "Not primary THA"}],
    "databases": [{"name": "PubMed", "query": "hip AND infection"}],
    "fields": [
        {"code": "n_operated", "label": "Patients operated", "type": "count"},
        {"code": "n_ssi", "label": "Patients with an SSI", "type": "count"},
        {"code": "n_deep", "label": "Patients with a deep SSI", "type": "count"},
        {"code": "n_superficial", "label": "Patients with a superficial SSI", "type": "count"},
        {"code": "episodes", "label": "SSI episodes", "type": "count", "unit": "episodes"},
        {"code": "fu_months", "label": "Median follow-up", "type": "number", "unit": "months"},
        {"code": "age", "label": "Mean age", "type": "number", "minimum": 18, "maximum": 110},
        {
            "code": "person_years",
            "label": "Person-years",
            "type": "person_time",
            "unit": "person-years",
            "derived": {
                "rule": "count_times_duration",
                "count": "n_operated",
                "duration": "fu_months",
                "label": "N x median follow-up",
            },
        },
    ],
    "outcomes": [
        {
            "code": "ssi",
            "label": "SSI",
            "kind": "proportion",
            "events": "n_ssi",
            "counts": "patients",
            "denominator": "n_operated",
            "subtypes_exclusive": True,
        },
        {
            "code": "deep",
            "label": "Deep SSI",
            "kind": "proportion",
            "events": "n_deep",
            "counts": "patients",
            "denominator": "n_operated",
            "subtype_of": "ssi",
        },
        {
            "code": "superficial",
            "label": "Superficial SSI",
            "kind": "proportion",
            "events": "n_superficial",
            "counts": "patients",
            "denominator": "n_operated",
            "subtype_of": "ssi",
        },
        {
            "code": "ssi_rate",
            "label": "SSI episodes per person-time",
            "kind": "rate",
            "events": "episodes",
            "counts": "events",
            "time": "person_years",
        },
    ],
    "covariates": [
        {
            "code": "design",
            "label": "Design",
            "type": "categorical",
            "required": True,
            "values": ["rct", "cohort"],
        },
        {"code": "approach", "label": "Approach", "type": "text"},
        {"code": "year", "label": "Year", "type": "integer", "required": True, "minimum": 1950},
        {"code": "high_rob", "label": "High risk of bias", "type": "boolean"},
        {"code": "prophylaxis_h", "label": "Prophylaxis (hours)", "type": "number"},
    ],
}

STUDIES = """study_id,label,pmid,report_pmids,note,design,approach,year,high_rob,prophylaxis_h
s1,Alpha 2020,111,111;112,,rct,posterior,2020,no,24
s2,Beta 2021,222,222,,cohort,,2021,yes,
s3,Gamma 2022,333,333,,cohort,anterior,2022,,48
"""

HEADER = "study_id,field,value,pmid,location,source_url,note,"
OUTCOMES = (
    HEADER
    + """ci_low,ci_high,ci_level,se,scale,estimate_type
s1,n_operated,200,111,Table 1,https://example.org/111,,,,,,,
s1,n_ssi,10,112,Table 3,https://example.org/112,,,,,,,
s1,n_deep,4,112,Table 3,https://example.org/112,,,,,,,
s1,n_superficial,6,112,Table 3,https://example.org/112,,,,,,,
s1,fu_months,12,111,Abstract,https://example.org/111,,,,,,,
s2,n_operated,50,222,Abstract,https://example.org/222,,,,,,,
s2,n_ssi,2,222,Abstract,https://example.org/222,,,,,,,
s2,episodes,3,222,Results,https://example.org/222,,,,,,,
s2,person_years,80.5,222,Results paragraph 2,https://example.org/222,,,,,,,
s3,ssi,4.2,333,Figure 2 (1-year Kaplan-Meier),https://example.org/333,,3.1,5.6,0.95,,percent,kaplan_meier
s3,age,67.5,333,Table 1,https://example.org/333,,,,,,,
"""
)


def write(
    tmp_path: Path,
    studies: str = STUDIES,
    outcomes: str = OUTCOMES,
    protocol: dict[str, Any] | None = None,
) -> Path:
    (tmp_path / "protocol.yaml").write_text(
        yaml.safe_dump(protocol or PROTOCOL, sort_keys=False), encoding="utf-8"
    )
    folder = tmp_path / "extraction"
    folder.mkdir(exist_ok=True)
    (folder / "studies.csv").write_text(studies, encoding="utf-8")
    (folder / "outcomes.csv").write_text(outcomes, encoding="utf-8")
    return folder


def replace_line(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def test_good_tables_load_typed_with_provenance(tmp_path: Path) -> None:
    ex = read_extraction(write(tmp_path))
    df = ex.studies
    assert list(df["study_id"]) == ["s1", "s2", "s3"]
    assert df["n_operated"].dtype == "Int64" and df["fu_months"].dtype == "Float64"
    assert df["year"].dtype == "Int64" and df["high_rob"].dtype == "boolean"
    assert df.loc[0, "n_ssi"] == 10 and pd.isna(df.loc[2, "n_ssi"])
    assert bool(df.loc[1, "high_rob"]) and pd.isna(df.loc[2, "high_rob"])
    assert pd.isna(df.loc[1, "approach"]) and pd.isna(df.loc[1, "prophylaxis_h"])
    # person-time: reported for s2, derived for s1 (200 x 12 months = 200 person-years)
    assert df.loc[1, "person_years"] == pytest.approx(80.5)
    assert df.loc[0, "person_years"] == pytest.approx(200.0)
    assert list(df["person_years_source"][:2]) == ["N x median follow-up", "reported"]
    assert pd.isna(df.loc[2, "person_years_source"])
    prov = ex.numbers
    row = prov[(prov.study_id == "s1") & (prov.field == "n_ssi")].iloc[0]
    assert (row.pmid, row.location, row.line) == ("112", "Table 3", 3)
    assert len(provenance(write(tmp_path))) == len(prov) == 10
    assert "ci_low" not in prov.columns
    # the Kaplan-Meier estimate, on the proportion scale
    est = ex.estimates.iloc[0]
    assert (est.study_id, est.outcome, est.estimate_type) == ("s3", "ssi", "kaplan_meier")
    assert (est.estimate, est.ci_low, est.ci_high) == pytest.approx((0.042, 0.031, 0.056))
    assert est.line == 11 and est.reported == "4.2"
    assert load_extraction(write(tmp_path)).equals(df)


def test_outcome_table_and_completeness(tmp_path: Path) -> None:
    ex = read_extraction(write(tmp_path))
    t = ex.outcome_table("ssi")
    assert list(t["basis"]) == ["counts", "counts", "estimate"]
    assert list(t["n"][:2]) == [200.0, 50.0]
    assert t.loc[2, "estimate"] == pytest.approx(0.042)
    r = ex.outcome_table("ssi_rate")
    assert list(r["basis"]) == ["not_reported", "counts", "not_reported"]
    assert r.loc[1, "time"] == pytest.approx(80.5) and r.loc[1, "time_source"] == "reported"
    comp = ex.completeness().set_index("outcome")
    assert comp.loc["ssi", ["counts", "estimate_only", "not_reported"]].tolist() == [2, 1, 0]
    assert comp.loc["ssi", "total"] == 250 and comp.loc["ssi", "events"] == 12
    assert comp.loc["deep", "missing"] == "Beta 2021; Gamma 2022"
    assert "ssi" in ex.summary() and "<table" in ex._repr_html_()


def test_rates_are_pooled_per_person_year_whatever_the_unit(tmp_path: Path) -> None:
    proto = copy.deepcopy(PROTOCOL)
    proto["fields"][-1]["unit"] = "person-months"
    ex = read_extraction(write(tmp_path, protocol=proto))
    r = ex.outcome_table("ssi_rate")
    assert r.loc[1, "time"] == pytest.approx(80.5 / 12)  # 80.5 person-months
    # derived person-months: 200 x 12 months
    assert ex.studies.loc[0, "person_years"] == pytest.approx(2400.0)


@pytest.mark.parametrize(
    ("old", "new", "row", "column", "words"),
    [
        # a number without its PMID, location, source
        ("s1,n_ssi,10,112,", "s1,n_ssi,10,,", 3, "pmid", "no PMID"),
        ("s1,n_ssi,10,112,Table 3,", "s1,n_ssi,10,112,,", 3, "location", "no location"),
        (
            "s1,n_ssi,10,112,Table 3,https://example.org/112,",
            "s1,n_ssi,10,112,Table 3,,",
            3,
            "source_url",
            "no source_url",
        ),
        ("s1,n_ssi,10,112,", "s1,n_ssi,10,999,", 3, "pmid", "not a report"),
        ("s1,n_ssi,10,112,", "s1,n_ssi,10,PMC1,", 3, "pmid", "not a PubMed identifier"),
        # a count above its denominator
        ("s2,n_ssi,2,", "s2,n_ssi,51,", 8, "value", "exceeds n_operated = 50"),
        # a count of patients that is not a whole number; negative; not a number
        ("s2,n_ssi,2,", "s2,n_ssi,2.5,", 8, "value", "whole number of patients"),
        ("s2,n_ssi,2,", "s2,n_ssi,-1,", 8, "value", "whole number"),
        ("s2,episodes,3,", "s2,episodes,3.5,", 9, "value", "whole number of episodes"),
        ("s2,n_ssi,2,", "s2,n_ssi,two,", 8, "value", "not a number"),
        ("s2,n_ssi,2,", "s2,n_ssi,inf,", 8, "value", "not finite"),
        # person-time must be positive; a duration too; a number within its bounds
        ("s2,person_years,80.5,", "s2,person_years,0,", 10, "value", "> 0 (person-time)"),
        ("s1,fu_months,12,", "s1,fu_months,-3,", 6, "value", "> 0 (a duration in months)"),
        ("s3,age,67.5,", "s3,age,12,", 12, "value", "below the declared minimum"),
        # a subtype above its parent, exclusive subtypes summing above it (no note)
        ("s1,n_deep,4,", "s1,n_deep,11,", 4, "value", "n_deep = 11 exceeds n_ssi = 10"),
        ("s1,n_deep,4,", "s1,n_deep,5,", 3, "value", "sum to 11"),
        # an unknown field; an outcome given as a number; an unknown study; twice
        ("s2,person_years,", "s2,person_months,", 10, "field", "not one of"),
        ("s2,episodes,3,", "s2,ssi,3,", 9, "field", "needs its scale"),
        ("s2,person_years,", "s9,person_years,", 10, "study_id", "not in studies.csv"),
        ("s2,person_years,80.5,", "s2,n_ssi,1,", 10, "field", "already given"),
        # an event count nothing divides
        ("s2,n_operated,50,", "s2,age,50,", 8, "field", "cannot be pooled"),
        # estimate columns on a number row
        (
            "s3,age,67.5,333,Table 1,https://example.org/333,,,,,,,",
            "s3,age,67.5,333,Table 1,https://example.org/333,,,,,0.1,,",
            12,
            "se",
            "estimate row",
        ),
    ],
)
def test_bad_outcome_rows_name_file_row_column(
    tmp_path: Path, old: str, new: str, row: int, column: str, words: str
) -> None:
    folder = write(tmp_path, outcomes=replace_line(OUTCOMES, old, new))
    with pytest.raises(ExtractionError) as info:
        read_extraction(folder)
    err = info.value
    assert err.path == str(folder / "outcomes.csv")
    assert (err.row, err.column) == (row, column), str(err)
    assert words in str(err), str(err)


KM = "s3,ssi,4.2,333,Figure 2 (1-year Kaplan-Meier),https://example.org/333,,3.1,5.6,0.95,,percent,kaplan_meier"


@pytest.mark.parametrize(
    ("new", "column", "words"),
    [
        (KM.replace(",percent,", ",per cent,"), "scale", "is not one of"),
        (KM.replace(",percent,", ",per 100 person-years,"), "scale", "is for a rate"),
        (KM.replace("s3,ssi,", "s3,infection,"), "field", "not a declared outcome"),
        (KM.replace(",kaplan_meier", ",km"), "estimate_type", "not one of"),
        (KM.replace(",3.1,5.6,", ",4.5,5.6,"), "ci_low", "does not contain"),
        (KM.replace(",3.1,5.6,", ",3.1,,"), "ci_high", "needs both ends"),
        (KM.replace(",3.1,5.6,0.95,", ",,,0.95,"), "ci_low", "needs its CI"),
        (KM.replace(",0.95,", ",95,"), "ci_level", "write 0.95"),
        (KM.replace(",4.2,", ",142,").replace(",3.1,5.6,", ",130,150,"), "value", "outside"),
        (KM.replace(",3.1,5.6,0.95,,", ",,,,-0.2,"), "se", "must be > 0"),
        (KM.replace(",3.1,5.6,", ",3.1,x,"), "ci_high", "not a number"),
    ],
)
def test_bad_estimate_rows(tmp_path: Path, new: str, column: str, words: str) -> None:
    folder = write(tmp_path, outcomes=replace_line(OUTCOMES, KM, new))
    with pytest.raises(ExtractionError) as info:
        read_extraction(folder)
    assert (info.value.row, info.value.column) == (11, column), str(info.value)
    assert words in str(info.value)


def test_estimate_with_se_and_rate_scales(tmp_path: Path) -> None:
    outcomes = replace_line(OUTCOMES, KM, KM.replace(",3.1,5.6,0.95,,", ",,,,0.7,"))
    outcomes += "s3,ssi_rate,5.1,333,Table 2,https://example.org/333,,4,6.4,,,"
    outcomes += "per 1000 person-months,crude\n"
    ex = read_extraction(write(tmp_path, outcomes=outcomes))
    e = ex.estimates.set_index("outcome")
    assert e.loc["ssi", "se"] == pytest.approx(0.007) and pd.isna(e.loc["ssi", "ci_low"])
    # 5.1 per 1000 person-months = 0.0612 per person-year
    assert e.loc["ssi_rate", "estimate"] == pytest.approx(5.1 / 1000 * 12)
    assert e.loc["ssi_rate", "ci_level"] == 0.95


def test_a_note_allows_a_subtype_above_its_parent(tmp_path: Path) -> None:
    outcomes = replace_line(OUTCOMES, "s1,n_deep,4,", "s1,n_deep,11,")
    outcomes = replace_line(
        outcomes,
        "s1,n_ssi,10,112,Table 3,https://example.org/112,,",
        's1,n_ssi,10,112,Table 3,https://example.org/112,"total counts the first infection only",',
    )
    df = load_extraction(write(tmp_path, outcomes=outcomes))
    assert df.loc[0, "n_deep"] == 11


@pytest.mark.parametrize(
    ("old", "new", "column", "words"),
    [
        (",rct,posterior,", ",trial,posterior,", "design", "not one of ['rct', 'cohort']"),
        (",cohort,,2021,", ",,,2021,", "design", "required"),
        (",2020,no,", ",2020.5,no,", "year", "whole number"),
        (",2020,no,", ",1900,no,", "year", "minimum 1950"),
        (",2021,yes,", ",2021,perhaps,", "high_rob", "not a boolean"),
        (",no,24\n", ",no,a day\n", "prophylaxis_h", "not a number"),
        ("s1,Alpha 2020,111,", "s1,Alpha 2020,PMC111,", "pmid", "digits"),
        ("s2,Beta 2021,", "s1,Beta 2021,", "study_id", "repeats line 2"),
        ("s2,Beta 2021,", "s2,,", "label", "empty"),
        ("s2,Beta 2021,", "s2,Alpha 2020,", "label", "repeats line 2"),
        (",111;112,", ",111;x12,", "report_pmids", "not a PubMed identifier (1-9 ASCII digits) or"),
    ],
)
def test_bad_study_rows(tmp_path: Path, old: str, new: str, column: str, words: str) -> None:
    folder = write(tmp_path, studies=replace_line(STUDIES, old, new))
    with pytest.raises(ExtractionError) as info:
        read_extraction(folder)
    assert info.value.path == str(folder / "studies.csv")
    assert info.value.column == column
    assert words in str(info.value)
    assert isinstance(info.value.row, int) and info.value.row >= 2


def test_undeclared_and_missing_columns(tmp_path: Path) -> None:
    studies = STUDIES.replace(",prophylaxis_h\n", ",prophylaxis_h,country\n", 1)
    studies = "\n".join(line + ",x" if i else line for i, line in enumerate(studies.splitlines()))
    with pytest.raises(ExtractionError, match="declare a descriptive column") as info:
        read_extraction(write(tmp_path, studies=studies + "\n"))
    assert (info.value.row, info.value.column) == (1, "country")
    studies = STUDIES.replace(",approach,", ",approach_,", 1)
    with pytest.raises(ExtractionError) as info:
        read_extraction(write(tmp_path, studies=studies))
    assert info.value.column == "approach_"
    outcomes = OUTCOMES.replace(",location,", ",where,", 1)
    with pytest.raises(ExtractionError, match="location") as info:
        read_extraction(write(tmp_path, outcomes=outcomes))
    assert info.value.column == "location"
    folder = write(tmp_path)
    (folder / "studies.csv").unlink()
    with pytest.raises(ExtractionError, match="file not found"):
        read_extraction(folder)


def test_version_1_protocol_says_how_to_migrate(tmp_path: Path) -> None:
    folder = write(tmp_path)
    minimal = Path(__file__).parent / "data" / "protocol_minimal.yaml"
    with pytest.raises(ProtocolError, match="schema_version 2") as info:
        read_extraction(folder, minimal)
    assert info.value.column == "schema_version" and info.value.path == str(minimal)
    bare = {k: v for k, v in PROTOCOL.items() if k not in ("fields", "outcomes", "covariates")}
    with pytest.raises(ProtocolError, match="declares no fields"):
        read_extraction(folder, protocol_from_mapping(bare))


def test_no_example_names_are_needed(tmp_path: Path) -> None:
    """The toolkit reads any field names: rename every code and the tables still load."""
    proto = yaml.safe_dump(PROTOCOL, sort_keys=False)
    studies, outcomes = STUDIES, OUTCOMES
    for old, new in [("n_operated", "at_risk"), ("n_ssi", "cases"), ("design", "setting")]:
        proto, studies, outcomes = (t.replace(old, new) for t in (proto, studies, outcomes))
    folder = write(tmp_path, studies, outcomes, yaml.safe_load(proto))
    df = load_extraction(folder)
    assert df.loc[0, "cases"] == 10 and df.loc[0, "setting"] == "rct"


# ---------------------------------------------------------------- property tests
PROP_PROTOCOL = {
    **{k: v for k, v in PROTOCOL.items() if k not in ("fields", "outcomes", "covariates")},
    "fields": PROTOCOL["fields"][:2],
    "outcomes": [{k: v for k, v in PROTOCOL["outcomes"][0].items() if k != "subtypes_exclusive"}],
    "covariates": [],
}
study_rows = st.lists(
    st.tuples(st.integers(1, 10_000), st.integers(0, 10_000)).map(
        lambda t: (t[0], min(t[1], t[0]))
    ),
    min_size=1,
    max_size=8,
)


def _tables(rows: list[tuple[int, int]]) -> tuple[str, str]:
    s = io.StringIO()
    w = csv.writer(s, lineterminator="\n")
    w.writerow(["study_id", "label", "pmid"])
    for i, _ in enumerate(rows):
        w.writerow([f"s{i}", f"Study {i}", str(100 + i)])
    o = io.StringIO()
    w = csv.writer(o, lineterminator="\n")
    w.writerow(["study_id", "field", "value", "pmid", "location", "note"])
    for i, (n, x) in enumerate(rows):
        w.writerow([f"s{i}", "n_operated", n, 100 + i, "Table 1", ""])
        w.writerow([f"s{i}", "n_ssi", x, 100 + i, "Table 2", ""])
    return s.getvalue(), o.getvalue()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=study_rows)
def test_valid_counts_load_exactly(tmp_path: Path, rows: list[tuple[int, int]]) -> None:
    studies, outcomes = _tables(rows)
    df = load_extraction(write(tmp_path, studies, outcomes, PROP_PROTOCOL))
    assert df["n_operated"].tolist() == [n for n, _ in rows]
    assert df["n_ssi"].tolist() == [x for _, x in rows]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=study_rows, which=st.integers(0, 7), excess=st.integers(1, 1000))
def test_events_above_denominator_are_refused_at_their_line(
    tmp_path: Path, rows: list[tuple[int, int]], which: int, excess: int
) -> None:
    i = which % len(rows)
    rows = list(rows)
    rows[i] = (rows[i][0], rows[i][0] + excess)
    studies, outcomes = _tables(rows)
    with pytest.raises(ExtractionError, match="exceeds n_operated") as info:
        load_extraction(write(tmp_path, studies, outcomes, PROP_PROTOCOL))
    assert info.value.row == 2 + 2 * i + 1 and info.value.column == "value"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=study_rows, which=st.integers(0, 7), frac=st.floats(0.01, 0.99))
def test_fractional_counts_are_refused_at_their_line(
    tmp_path: Path, rows: list[tuple[int, int]], which: int, frac: float
) -> None:
    i = which % len(rows)
    studies, outcomes = _tables(rows)
    lines = outcomes.splitlines()
    cells = lines[1 + 2 * i + 1].split(",")
    cells[2] = repr(int(cells[2]) - 1 + frac) if int(cells[2]) > 0 else repr(frac)
    lines[1 + 2 * i + 1] = ",".join(cells)
    with pytest.raises(ExtractionError, match="whole number") as info:
        load_extraction(write(tmp_path, studies, "\n".join(lines) + "\n", PROP_PROTOCOL))
    assert info.value.row == 2 + 2 * i + 1


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=study_rows, seed=st.randoms())
def test_row_order_of_outcomes_does_not_matter(
    tmp_path: Path, rows: list[tuple[int, int]], seed
) -> None:
    studies, outcomes = _tables(rows)
    head, *body = outcomes.splitlines()
    seed.shuffle(body)
    a = load_extraction(write(tmp_path, studies, outcomes, PROP_PROTOCOL))
    b = load_extraction(write(tmp_path, studies, "\n".join([head, *body]) + "\n", PROP_PROTOCOL))
    cols = ["study_id", "n_operated", "n_ssi"]
    assert a[cols].equals(b[cols])


def test_scale_and_units() -> None:
    assert parse_scale("proportion") == ("proportion", 1.0)
    assert parse_scale("per 1,000 person-years") == ("rate", 0.001)
    assert parse_scale("per 100 person-days")[1] == pytest.approx(365.25 / 100)
    with pytest.raises(ExtractionError):
        parse_scale("per 0 person-years")
    assert time_factor("weeks", "person-days") == 7
    with pytest.raises(ExtractionError, match="unknown time unit"):
        time_factor("fortnights", "years")


def test_a_report_without_pmid_is_identified_by_its_doi(tmp_path: Path) -> None:
    """A report PubMed does not index (found by other methods) carries its DOI instead."""
    doi = "10.1002/abc.70164"
    studies = replace_line(STUDIES, "s2,Beta 2021,222,222,", f"s2,Beta 2021,{doi},{doi},")
    outcomes = OUTCOMES.replace(",222,", f",{doi},")
    ex = read_extraction(write(tmp_path, studies=studies, outcomes=outcomes))
    assert ex.studies.loc[1, "pmid"] == doi
    assert report_study_map(ex.studies)[f"doi:{doi}"] == f"doi:{doi}"
    # a number must still name one of the study's reports
    bad = OUTCOMES.replace("s2,n_ssi,2,222,", "s2,n_ssi,2,10.1002/other,")
    with pytest.raises(ExtractionError) as ei:
        read_extraction(write(tmp_path, studies=studies, outcomes=bad))
    assert ei.value.column == "pmid" and "not a report" in str(ei.value)
