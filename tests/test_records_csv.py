"""CSV exports: Scopus fixture, mappings, delimiters, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from review._schema import RECORD_COLUMNS
from review.errors import CSVImportError, OptionError
from review.records import read_csv_export

IMPORTS = Path(__file__).parent / "data" / "imports"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


def test_scopus_csv_fixture() -> None:
    df = read_csv_export(IMPORTS / "scopus.csv", source="Scopus")
    assert len(df) == 3
    assert list(df.columns[: len(RECORD_COLUMNS)]) == list(RECORD_COLUMNS)
    assert df["record_id"].tolist() == ["scopus:1", "scopus:2", "scopus:3"]
    assert df["source"].unique().tolist() == ["Scopus"]
    r = df.iloc[0]
    assert r["authors"] == ["Smith J", "Doe AB"]
    assert r["pmid"] == "90000001" and r["doi"] == "10.9999/synth.2023.001"
    assert r["journal"] == "Journal of Synthetic Oncology"  # "Source title", not "Source"
    assert r["year"] == 2023 and r["language"] == "eng"
    assert r["keywords"] == ["CAR T cells", "second primary malignancy"]
    assert r["accession"] == "2-s2.0-90000000001" and r["article_type"] == "Article"
    assert df.iloc[2]["pmid"] is None


def test_tab_delimited_wos_style_columns(tmp_path: Path) -> None:
    text = "PT\tAU\tTI\tSO\tPY\tDI\tPM\tUT\n"
    text += "J\tGarcia, M; Chen, L\tA synthetic title\tSYNTH J\t2024\t10.9999/x\t90000002\tWOS:1\n"
    df = read_csv_export(write(tmp_path, "savedrecs.txt", text), source="Web of Science")
    r = df.iloc[0]
    assert r["record_id"] == "wos:1" and r["source"] == "Web of Science"
    assert r["authors"] == ["Garcia M", "Chen L"]
    assert (r["title"], r["journal"], r["year"]) == ("A synthetic title", "SYNTH J", 2024)
    assert (r["pmid"], r["doi"], r["accession"]) == ("90000002", "10.9999/x", "WOS:1")


def test_explicit_mapping(tmp_path: Path) -> None:
    text = "Headline;Writers;When\nA synthetic title;Smith J.;2021\n"
    df = read_csv_export(
        write(tmp_path, "x.csv", text),
        source="Other DB",
        mapping={"title": "Headline", "authors": "Writers", "year": "When"},
    )
    assert df.iloc[0][["title", "year"]].tolist() == ["A synthetic title", 2021]
    assert df.iloc[0]["authors"] == ["Smith J"]
    assert df.iloc[0]["record_id"] == "other_db:1"


def test_old_scopus_comma_authors(tmp_path: Path) -> None:
    text = 'Authors,Title\n"Smith J., Doe A.B.",A synthetic title\n'
    df = read_csv_export(write(tmp_path, "x.csv", text), source="Scopus")
    assert df.iloc[0]["authors"] == ["Smith J", "Doe AB"]


def test_missing_title_column(tmp_path: Path) -> None:
    p = write(tmp_path, "notitle.csv", "Authors,Year\nSmith J.,2020\n")
    with pytest.raises(CSVImportError, match="no title column") as e:
        read_csv_export(p, source="Scopus")
    assert (e.value.path, e.value.row, e.value.column) == (str(p), 1, "title")
    assert "notitle.csv" in str(e.value)


def test_mapped_column_absent(tmp_path: Path) -> None:
    p = write(tmp_path, "x.csv", "Title,Year\nA,2020\n")
    with pytest.raises(CSVImportError, match="not in the header") as e:
        read_csv_export(p, source="Scopus", mapping={"doi": "Digital Object"})
    assert e.value.column == "Digital Object"
    with pytest.raises(OptionError, match="Invalid mapping field 'colour'"):
        read_csv_export(p, source="Scopus", mapping={"colour": "Year"})


def test_too_many_fields_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, "ragged.csv", "Title,Year\nA title,2020\nB title, with comma,2021\n")
    with pytest.raises(CSVImportError, match="3 fields where the header has 2") as e:
        read_csv_export(p, source="Scopus")
    assert e.value.row == 3


def test_pmid_not_digits_names_row_and_column(tmp_path: Path) -> None:
    p = write(tmp_path, "x.csv", "Title,PubMed ID\nA title,123\nB title,PMC99\n")
    with pytest.raises(CSVImportError, match="not digits") as e:
        read_csv_export(p, source="Scopus")
    assert (e.value.row, e.value.column) == (3, "PubMed ID")


def test_non_utf8_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, "x.csv", "Title,Year\nA title,2020\nCaf\xe9,2021\n".encode("latin-1"))
    with pytest.raises(CSVImportError, match="not valid utf-8") as e:
        read_csv_export(p, source="Scopus")
    assert e.value.row == 3


def test_quoted_newlines_keep_line_numbers_right(tmp_path: Path) -> None:
    text = 'Title,Abstract,PubMed ID\nA title,"line one\nline two",1\nB title,x,bad\n'
    with pytest.raises(CSVImportError) as e:
        read_csv_export(write(tmp_path, "x.csv", text), source="Scopus")
    assert e.value.row == 4  # the physical line, past the quoted newline


def test_blank_rows_skipped_and_counted_right(tmp_path: Path) -> None:
    text = "Title,Year\nA title,2020\n,\nB title,in press\n"
    with pytest.warns(UserWarning, match="no readable year"):
        df = read_csv_export(write(tmp_path, "x.csv", text), source="Scopus")
    assert df["record_id"].tolist() == ["scopus:1", "scopus:2"]
    assert df["year"].isna().tolist() == [False, True]
