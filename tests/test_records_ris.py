"""RIS and Web of Science tagged exports: per-source fixtures, counts, located errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from review._schema import RECORD_COLUMNS
from review.errors import InputError, OptionError, RISError
from review.records import combine_records, normalise_author, read_csv_export, read_ris

IMPORTS = Path(__file__).parent / "data" / "imports"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def ris_record(title: str, extra: str = "") -> str:
    return f"TY  - JOUR\nTI  - {title}\nAU  - Smith, J.\nPY  - 2023\n{extra}ER  - \n\n"


# -- per-source fixtures --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "n", "source", "prefix"),
    [
        ("embase.ris", 4, "Embase", "embase"),
        ("scopus.ris", 4, "Scopus", "scopus"),
        ("wos.ris", 3, "Web of Science", "wos"),
        ("wos.txt", 2, "Web of Science", "wos"),
        ("cochrane_central.ris", 3, "Cochrane CENTRAL", "central"),
    ],
)
def test_fixture_count_source_and_schema(name: str, n: int, source: str, prefix: str) -> None:
    df = read_ris(IMPORTS / name)
    assert len(df) == n
    assert list(df.columns[: len(RECORD_COLUMNS)]) == list(RECORD_COLUMNS)
    assert df["source"].tolist() == [source] * n
    assert df["record_id"].tolist() == [f"{prefix}:{k}" for k in range(1, n + 1)]
    assert df["year"].dtype == "Int64"
    assert all(isinstance(a, list) and a for a in df["authors"])
    assert all(t for t in df["title"])


def test_embase_tags_mapped() -> None:
    df = read_ris(IMPORTS / "embase.ris")
    r = df.iloc[0]
    assert r["title"].startswith("Second primary malignancies after CAR T-cell therapy")
    assert r["authors"] == ["Smith J", "Doe AB", "Synthetic Data Consortium"]  # A1, collective
    assert r["pmid"] == "90000001"  # C5
    assert r["doi"] == "10.9999/synth.2023.001"
    assert r["journal"] == "Journal of Synthetic Oncology"  # JF before JA
    assert r["year"] == 2023 and r["pub_date"] == "2023"  # Y1 "2023//"
    assert r["abstract"].startswith("SYNTHETIC RECORD FOR TESTS") and "4.1%" in r["abstract"]
    assert r["keywords"] == ["adult", "*chimeric antigen receptor T-cell", "*second cancer"]
    assert r["language"] == "eng"
    assert r["accession"] == "L2031000001"  # U2
    assert df.iloc[2]["article_type"] == "Conference Abstract"
    assert df.iloc[3]["pub_date"] == "2023-06-15"  # Y1 "2023/06/15/"


def test_scopus_tags_mapped() -> None:
    r = read_ris(IMPORTS / "scopus.ris").iloc[0]
    assert r["pmid"] == "90000001"  # C2
    assert r["doi"] == "10.9999/synth.2023.001"  # lower-cased
    assert r["journal"] == "Journal of Synthetic Oncology"  # T2
    assert r["authors"][:2] == ["Smith J", "Doe AB"]
    assert r["accession"] == "2-s2.0-90000000001"  # EID from the UR
    assert r["abstract"].startswith("SYNTHETIC RECORD FOR TESTS")


def test_wos_ris_and_tagged() -> None:
    ris = read_ris(IMPORTS / "wos.ris")
    assert ris.iloc[0]["authors"] == ["Smith J", "Doe AB"]  # "Doe, AB": two initials
    assert ris.iloc[0]["accession"] == "WOS:009000000000001"
    assert ris["pmid"].isna().all()
    txt = read_ris(IMPORTS / "wos.txt")
    r = txt.iloc[0]
    assert r["title"] == "Incidence of T-cell lymphoma following BCMA-directed CAR T cells"
    assert r["authors"] == ["Garcia M", "Chen L"]  # continuation lines
    assert r["pmid"] == "90000002" and r["doi"] == "10.9999/synth.2024.002"  # PM, DI
    assert r["keywords"] == ["CAR T cells", "lymphoma", "synthetic data"]  # DE split on ;
    assert r["journal"] == "SYNTHETIC HAEMATOLOGY" and r["pub_date"] == "2024 Mar"
    assert r["accession"] == "WOS:009000000000002"


def test_cochrane_central_tags_mapped() -> None:
    df = read_ris(IMPORTS / "cochrane_central.ris")
    assert df["pmid"].tolist()[:2] == ["90000001", "90000002"]  # "AN  - PUBMED n"
    assert df.iloc[2]["pmid"] is None  # "AN  - CTG NCT..." is not a PMID
    assert df.iloc[0]["journal"] == "Journal of synthetic oncology"  # JO
    assert df.iloc[2]["authors"] == ["Synthetic Trials Group"]


def test_source_given_overrides_inference_and_id_prefix(tmp_path: Path) -> None:
    p = write(tmp_path, "export.ris", ris_record("A synthetic title about cancer"))
    df = read_ris(p, source="CINAHL", id_prefix="cinahl2")
    assert df["source"].tolist() == ["CINAHL"]
    assert df["record_id"].tolist() == ["cinahl2:1"]
    df = read_ris(p, source="web of science")
    assert df["source"].tolist() == ["Web of Science"] and df["record_id"].tolist() == ["wos:1"]


def test_source_inferred_from_file_name(tmp_path: Path) -> None:
    p = write(tmp_path, "embase_2026-11-01.ris", ris_record("A synthetic title about cancer"))
    assert read_ris(p)["source"].tolist() == ["Embase"]


def test_source_not_inferable_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, "export.ris", ris_record("A synthetic title about cancer"))
    with pytest.raises(RISError, match="pass source=") as e:
        read_ris(p)
    assert e.value.column == "DB" and e.value.row == 1


# -- counts (synthesisr #16: a line starting with "ER" taken as an end tag) -------------


def test_lines_starting_with_er_are_text_not_end_tags() -> None:
    df = read_ris(IMPORTS / "embase.ris")
    assert len(df) == 4  # synthesisr-style end-tag matching on "^ER" would give 5+
    ab = df.iloc[2]["abstract"]
    assert "ER stress markers were measured" in ab and "ER-positive cells" in ab
    assert df.iloc[3]["title"].startswith("MYELOID NEOPLASMS")  # the next record intact


def test_count_729_records_with_er_lines(tmp_path: Path) -> None:
    recs = []
    for k in range(729):
        ab = "AB  - first line of a synthetic abstract\nER stress was also seen\n" if k % 3 else ""
        recs.append(ris_record(f"Synthetic title number {k} on cancer", ab + "DB  - Embase\n"))
    p = write(tmp_path, "big.ris", "".join(recs))
    df = read_ris(p)
    assert len(df) == 729
    assert df["record_id"].iloc[-1] == "embase:729"
    assert df["record_id"].is_unique


def test_crlf_bom_and_blank_lines(tmp_path: Path) -> None:
    text = "\ufeff\r\n" + ris_record("First synthetic title", "DB  - Scopus\n") + "\r\n\r\n"
    text += ris_record("Second synthetic title", "DB  - Scopus\n")
    p = write(tmp_path, "x.ris", text.replace("\n", "\r\n"))
    df = read_ris(p)
    assert df["title"].tolist() == ["First synthetic title", "Second synthetic title"]


# -- malformed input: errors name file, line, record and field --------------------------


def test_missing_er_before_next_record(tmp_path: Path) -> None:
    text = ris_record("One", "DB  - Embase\n")
    text += "TY  - JOUR\nTI  - Two\nDB  - Embase\n\n" + ris_record("Three", "DB  - Embase\n")
    p = write(tmp_path, "broken.ris", text)
    with pytest.raises(RISError) as e:
        read_ris(p)
    err = e.value
    assert err.path == str(p) and err.row == 8 and err.column == "ER"
    assert err.record == 2
    assert "broken.ris" in str(err) and "record 2" in str(err) and "line 12" in str(err)


def test_missing_er_at_end_of_file(tmp_path: Path) -> None:
    # rispy alone drops such a last record silently
    text = ris_record("One", "DB  - Embase\n") + "TY  - JOUR\nTI  - Two\nDB  - Embase\n"
    p = write(tmp_path, "truncated.ris", text)
    with pytest.raises(RISError, match="ends inside this record") as e:
        read_ris(p)
    assert (e.value.record, e.value.row, e.value.column) == (2, 8, "ER")


@pytest.mark.parametrize(
    ("bad_line", "tag"),
    [("TI - Single space", "TI"), ("TI  -No space after the hyphen", "TI"), ("ti  - lower", "ti")],
)
def test_tag_line_in_bad_form(tmp_path: Path, bad_line: str, tag: str) -> None:
    text = ris_record("One", "DB  - Embase\n")
    text += f"TY  - JOUR\n{bad_line}\nDB  - Embase\nER  - \n"
    p = write(tmp_path, "badtag.ris", text)
    with pytest.raises(RISError, match="bad form") as e:
        read_ris(p)
    assert (e.value.row, e.value.column, e.value.record) == (9, tag, 2)


def test_non_utf8_byte(tmp_path: Path) -> None:
    text = ris_record("One", "DB  - Embase\n") + ris_record("Caf\xe9 study", "DB  - Embase\n")
    p = write(tmp_path, "latin1.ris", text.encode("latin-1"))
    with pytest.raises(RISError, match="not valid utf-8") as e:
        read_ris(p)
    assert e.value.row == 9 and e.value.record == 2
    # the reader accepts the file once told its encoding
    assert read_ris(p, encoding="latin-1")["title"].tolist()[1] == "Café study"


def test_text_outside_a_record(tmp_path: Path) -> None:
    p = write(tmp_path, "junk.ris", "Exported by a tool\n" + ris_record("One", "DB  - Embase\n"))
    with pytest.raises(RISError, match="outside a record") as e:
        read_ris(p)
    assert e.value.row == 1


def test_pmid_not_digits_names_field(tmp_path: Path) -> None:
    p = write(tmp_path, "scopus.ris", ris_record("One title here", "C2  - PMC12345\n"))
    with pytest.raises(RISError, match="not digits") as e:
        read_ris(p)
    assert (e.value.row, e.value.column, e.value.record) == (5, "C2", 1)


def test_embase_c5_used_only_when_it_looks_like_a_pmid(tmp_path: Path) -> None:
    text = ris_record("One title here", "C5  - 12345678\nDB  - Embase\n")
    text += ris_record("Two title here", "C5  - 2012345678\nDB  - Embase\n")  # not a PMID
    text += ris_record("Three title here", "C5  - L2012345678\nDB  - Embase\n")
    assert read_ris(write(tmp_path, "e.ris", text))["pmid"].tolist() == ["12345678", None, None]


def test_two_pmids_in_one_record(tmp_path: Path) -> None:
    p = write(tmp_path, "s.ris", ris_record("One", "C2  - 111\nN1  - PMID: 222\nDB  - Scopus\n"))
    with pytest.raises(RISError, match="second PubMed ID 222") as e:
        read_ris(p)
    assert (e.value.column, e.value.row) == ("N1", 6)


def test_pubmed_ris_ids_match_pubmed_xml_ids(tmp_path: Path) -> None:
    text = ris_record("One title here", "AN  - 33499930\nC2  - PMC1234567\nDB  - PubMed\n")
    text += ris_record("Two title here", "DB  - PubMed\n")
    df = read_ris(write(tmp_path, "pubmed.ris", text))
    assert df["record_id"].tolist() == ["pubmed:33499930", "pubmed_ris:2"]
    assert df["pmid"].tolist() == ["33499930", None]  # C2 (PMCID) is not read as a PMID
    assert df["source"].tolist() == ["PubMed", "PubMed"]


def test_bad_doi_names_field(tmp_path: Path) -> None:
    p = write(tmp_path, "scopus.ris", ris_record("One title here", "DO  - not-a-doi\n"))
    with pytest.raises(RISError, match="DOI") as e:
        read_ris(p)
    assert e.value.column == "DO"


def test_wos_tagged_bad_line(tmp_path: Path) -> None:
    text = (
        "FN Clarivate Analytics Web of Science\nVR 1.0\nPT J\nTI A title\nnot a tag line\nER\nEF\n"
    )
    p = write(tmp_path, "savedrecs.txt", text)
    with pytest.raises(RISError, match="bad form") as e:
        read_ris(p)
    assert e.value.row == 5 and e.value.record == 1


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(RISError, match="cannot read") as e:
        read_ris(tmp_path / "absent.ris", source="Embase")
    assert isinstance(e.value, InputError)


def test_record_without_title_warns_and_is_kept(tmp_path: Path) -> None:
    text = ris_record("One", "DB  - Embase\n") + "TY  - JOUR\nAU  - Doe, A.\nDB  - Embase\nER  - \n"
    p = write(tmp_path, "x.ris", text)
    with pytest.warns(UserWarning, match="without a title.*embase:2 \\(line 8\\)"):
        df = read_ris(p)
    assert len(df) == 2 and not df["title"].tolist()[1]


def test_empty_file_is_an_error_not_zero_records(tmp_path: Path) -> None:
    # issue 15: a 0-byte export gave 0 records without a word, so PRISMA's "identified"
    # was short; an export always holds records, so an empty one is a failed download
    for name, text in (("empty.ris", ""), ("blank.ris", "\n \n")):
        with pytest.raises(RISError, match=r"empty|white space") as e:
            read_ris(write(tmp_path, name, text), source="Embase")
        assert e.value.path == str(tmp_path / name)


# -- authors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Smith, John A.", "Smith JA"),
        ("Smith, J.A.", "Smith JA"),
        ("Smith J.A.", "Smith JA"),
        ("Doe, AB", "Doe AB"),
        ("van der Berg, Anna-Maria", "van der Berg AM"),
        ("CAR-T Study Group", "CAR-T Study Group"),
        ("  ", None),
    ],
)
def test_normalise_author(raw: str, expected: str | None) -> None:
    assert normalise_author(raw) == expected


# -- combine -----------------------------------------------------------------------------


def test_combine_records_all_fixtures() -> None:
    frames = [
        read_ris(IMPORTS / "embase.ris"),
        read_ris(IMPORTS / "scopus.ris"),
        read_ris(IMPORTS / "wos.ris"),
        read_ris(IMPORTS / "wos.txt", id_prefix="wostxt"),
        read_ris(IMPORTS / "cochrane_central.ris"),
        read_csv_export(IMPORTS / "scopus.csv", source="Scopus", id_prefix="scopuscsv"),
    ]
    out = combine_records(*frames)
    assert len(out) == sum(len(f) for f in frames) == 19
    assert out["record_id"].is_unique
    assert list(out.columns[: len(RECORD_COLUMNS)]) == list(RECORD_COLUMNS)
    assert combine_records(frames)["record_id"].tolist() == out["record_id"].tolist()


def test_combine_records_refuses_repeated_ids() -> None:
    a = read_ris(IMPORTS / "wos.ris")
    b = read_ris(IMPORTS / "wos.txt")  # also numbered wos:1, wos:2
    with pytest.raises(InputError, match="id_prefix") as e:
        combine_records(a, b)
    assert e.value.column == "record_id"


def test_combine_records_needs_frames() -> None:
    with pytest.raises(InputError, match="record_id"):
        combine_records(pd.DataFrame({"source": ["x"]}))
    with pytest.raises(OptionError):
        read_ris(IMPORTS / "wos.ris", source="  ")


def test_no_warnings_on_clean_fixtures() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("embase.ris", "scopus.ris", "wos.ris", "wos.txt", "cochrane_central.ris"):
            read_ris(IMPORTS / name)
