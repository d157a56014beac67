"""Hostile exports into records import (issue 15): every record read, or an error that names
the file and the line; nothing skipped without a word (PRISMA's "identified" box).

Generated exports (hypothesis) in every line-end convention and the encodings databases
write, plus a corpus of broken files: truncated, empty, binary, NUL bytes, Latin-1, UTF-16,
huge fields, duplicate headers, quotes that never close, folders, FIFOs, links to nowhere
and link loops.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review._io import line_at, read_delimited, read_text
from review.dedup import load_overrides
from review.errors import CSVImportError, InputError, RISError
from review.records import load_review_records, read_csv_export, read_ris

from conftest import REPO

IMPORTS = REPO / "tests" / "data" / "imports"
HYP = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# printable titles: no line breaks or controls (those are a line structure, tested apart)
TITLE = (
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"),
        min_size=1,
        max_size=60,
    )
    .map(lambda t: " ".join(t.split()))
    .filter(bool)
)
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom", "utf-32"])


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-le-bom":
        return b"\xff\xfe" + text.encode("utf-16-le")
    return text.encode(encoding)


def _ris(titles: list[str], nl: str) -> str:
    recs = [f"TY  - JOUR{nl}TI  - {t}{nl}PY  - 2020{nl}DB  - Embase{nl}ER  - {nl}" for t in titles]
    return nl.join(recs)


def _write(tmp: Path, name: str, data: bytes | str) -> Path:
    p = tmp / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


# -- generated exports: every record, exactly ---------------------------------------------


@HYP
@given(st.lists(TITLE, min_size=1, max_size=8), NEWLINES, ENCODINGS)
def test_generated_ris_reads_every_record_in_any_line_end_and_encoding(
    tmp_path_factory, titles, nl, encoding
) -> None:
    p = _write(tmp_path_factory.mktemp("ris"), "x.ris", _encode(_ris(titles, nl), encoding))
    df = read_ris(p)
    assert list(df["title"]) == titles
    assert df.attrs["read"]["records"] == len(titles)


@HYP
@given(st.lists(TITLE, min_size=1, max_size=8), st.integers(min_value=1, max_value=400))
def test_truncated_ris_is_an_error_naming_line_or_a_prefix_of_the_records(
    tmp_path_factory, titles, cut
) -> None:
    data = _ris(titles, "\n").encode("utf-8")
    cut = min(cut, len(data) - 1)
    p = _write(tmp_path_factory.mktemp("ris"), "cut.ris", data[:cut])
    try:
        df = read_ris(p)
    except RISError as e:
        assert e.path == str(p)
        assert e.row is not None or "empty" in e.message or "white space" in e.message
        return
    # a cut that falls right after an end tag leaves complete records only
    assert list(df["title"]) == titles[: len(df)]


@HYP
@given(st.binary(max_size=300))
def test_random_bytes_as_ris_never_escape_the_error_tree(tmp_path_factory, data) -> None:
    p = _write(tmp_path_factory.mktemp("bin"), "x.ris", data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_ris(p, source="Embase")
    except InputError as e:
        assert e.path == str(p)


@HYP
@given(
    st.lists(st.tuples(TITLE, st.integers(min_value=1900, max_value=2030)), min_size=1, max_size=8),
    st.sampled_from([",", ";", "\t"]),
    NEWLINES,
)
def test_generated_csv_round_trips(tmp_path_factory, rows, delim, nl) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator=nl)
    w.writerow(["Title", "Year"])
    w.writerows(rows)
    p = _write(tmp_path_factory.mktemp("csv"), "x.csv", buf.getvalue())
    df = read_csv_export(p, source="Scopus")
    assert list(df["title"]) == [t for t, _ in rows]
    assert list(df["year"]) == [y for _, y in rows]


@HYP
@given(st.lists(TITLE, min_size=2, max_size=10), st.data())
def test_tab_export_with_titles_starting_with_a_quote_keeps_every_record(
    tmp_path_factory, titles, data
) -> None:
    # issue 15: a title beginning with '"' swallowed the rest of the file (2 of 7 records)
    quoted = data.draw(st.sets(st.integers(0, len(titles) - 1), min_size=1))
    titles = [('"' + t if i in quoted else t).replace("\t", " ") for i, t in enumerate(titles)]
    text = "TI\tPY\tSO\n" + "".join(f"{t}\t2021\tJ Synth\n" for t in titles)
    p = _write(tmp_path_factory.mktemp("tab"), "savedrecs.txt", text)
    df = read_csv_export(p, source="Web of Science")
    assert len(df) == len(titles)
    assert list(df["title"]) == [" ".join(t.split()) for t in titles]


def test_the_issue_example_seven_records_all_read(tmp_path: Path) -> None:
    lines = ["TI\tAU\tPY"] + [f"Title {i}\tSmith J\t2020" for i in range(7)]
    lines[3] = '"CAR-T" after all\tSmith J\t2020'
    p = _write(tmp_path, "x.txt", "\n".join(lines) + "\n")
    assert len(read_csv_export(p, source="Web of Science")) == 7


def test_quote_that_never_closes_in_a_csv_names_its_line(tmp_path: Path) -> None:
    text = 'Title,Year\nA,2020\n"Unclosed title,2021\nC,2022\nD,2023\n'
    with pytest.raises(CSVImportError, match="quote") as e:
        read_csv_export(_write(tmp_path, "x.csv", text), source="Scopus")
    assert e.value.row == 3


def test_quote_inside_a_field_in_a_csv_names_its_line(tmp_path: Path) -> None:
    text = 'Title,Year\nA,2020\n"Quoted" then more,2021\n'
    with pytest.raises(CSVImportError) as e:
        read_csv_export(_write(tmp_path, "x.csv", text), source="Scopus")
    assert e.value.row == 3


# -- a corpus of broken files -------------------------------------------------------------

BROKEN_RIS = {
    "empty": (b"", "empty"),
    "blank": (b"\n  \r\n\t\n", "white space"),
    "nul-bytes": (b"TY  - JOUR\nTI  - a\x00b\nER  - \n", "NUL"),
    "utf16-no-bom": ("TY  - JOUR\nTI  - x\nER  - \n".encode("utf-16-le"), "NUL"),
    "latin1": ("TY  - JOUR\nTI  - caf\u00e9\nER  - \n".encode("latin-1"), "line 2"),
    "no-end-tag": (b"TY  - JOUR\nTI  - x\nDB  - Embase\n", "no 'ER  - ' end tag|ends inside"),
    "text-before": (b"hello\nTY  - JOUR\nER  - \n", "outside a record"),
    "bad-tag-form": (b"TY  - JOUR\nTI - x\nER  - \n", "bad form"),
    "pmid-letters": (b"TY  - JOUR\nAN  - PMID: abc\nER  - \n", "not digits"),
    "pmid-arabic": (
        "TY  - JOUR\nAN  - PMID: \u0664\u0664\u0669\nER  - \n".encode(),
        "not digits",
    ),
    "two-ty": (b"TY  - JOUR\nTY  - JOUR\nER  - \n", "no 'ER  - ' end tag"),
    "binary": (bytes(range(256)) * 4, "NUL|not valid"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_RIS))
def test_broken_ris_is_an_error_naming_file(tmp_path: Path, name: str) -> None:
    data, match = BROKEN_RIS[name]
    p = _write(tmp_path, "x.ris", data)
    with pytest.raises(RISError, match=match) as e:
        read_ris(p, source="Embase")
    assert e.value.path == str(p)
    assert p.read_bytes() == data  # left as it was


BROKEN_CSV = {
    "empty": (b"", "empty"),
    "blank": (b"\r\n\r\n", "white space"),
    "no-title": (b"Author,Year\nx,2020\n", "no title column"),
    "duplicate-header": (b"Title,Year,Title\na,2020,b\n", "appears twice"),
    "too-many-fields": (b"Title,Year\na,2020,extra\n", "3 fields where the header has 2"),
    "nul": (b"Title,Year\na\x00,2020\n", "NUL"),
    "latin1": ("Title,Year\ncaf\u00e9,2020\n".encode("latin-1"), "not valid utf-8"),
    "pmid-fullwidth": ("Title,PubMed ID\na,\uff14\uff14\uff19\n".encode(), "not digits"),
    "unclosed-quote": (b'Title,Year\n"a,2020\nb,2021\n', "quote"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_CSV))
def test_broken_csv_is_an_error_naming_file(tmp_path: Path, name: str) -> None:
    data, match = BROKEN_CSV[name]
    p = _write(tmp_path, "x.csv", data)
    with pytest.raises(CSVImportError, match=match) as e:
        read_csv_export(p, source="Scopus")
    assert e.value.path == str(p)


def test_header_only_csv_warns_and_gives_no_records(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "Title,Year\n")
    with pytest.warns(UserWarning, match="no record"):
        df = read_csv_export(p, source="Scopus")
    assert len(df) == 0 and df.attrs["read"]["records"] == 0


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_byte_order_marks_are_honoured(tmp_path: Path, encoding: str) -> None:
    text = (IMPORTS / "scopus.csv").read_text(encoding="utf-8")
    p = _write(tmp_path, "scopus.csv", text.encode(encoding))
    assert len(read_csv_export(p, source="Scopus")) == len(
        read_csv_export(IMPORTS / "scopus.csv", source="Scopus")
    )
    ris = (IMPORTS / "embase.ris").read_text(encoding="utf-8").replace("\n", "\r\n")
    q = _write(tmp_path, "embase.ris", ris.encode(encoding))
    assert list(read_ris(q)["title"]) == list(read_ris(IMPORTS / "embase.ris")["title"])


def test_latin1_reads_when_named(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "Title,Year\ncaf\u00e9,2020\n".encode("latin-1"))
    assert read_csv_export(p, source="Scopus", encoding="latin-1")["title"].tolist() == [
        "caf\u00e9"
    ]


def test_huge_field_is_read_whole(tmp_path: Path) -> None:
    abstract = "word " * 400_000  # 2 MB, past the csv module's default field limit
    p = _write(tmp_path, "x.csv", f'Title,Abstract\nA,"{abstract}"\n')
    df = read_csv_export(p, source="Scopus")
    assert len(df.loc[0, "abstract"]) == len(abstract.strip())


def test_crlf_cr_and_lf_give_the_same_line_numbers(tmp_path: Path) -> None:
    for nl in ("\n", "\r\n", "\r"):
        text = nl.join(["Title,PubMed ID", "a,1", "", "b,2x"]) + nl
        with pytest.raises(CSVImportError) as e:
            read_csv_export(_write(tmp_path, "x.csv", text), source="Scopus")
        assert e.value.row == 4, repr(nl)
    assert line_at("a\r\nb\rc\nd", 7) == 4


def test_blank_lines_are_counted_as_skipped(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "Title\n\na\n\n\nb\n")
    df = read_csv_export(p, source="Scopus")
    assert df.attrs["read"]["records"] == 2
    assert [ln for ln, _ in df.attrs["read"]["skipped"]] == [2, 4, 5]


# -- paths that are not files -------------------------------------------------------------


def test_paths_that_are_not_readable_files(tmp_path: Path) -> None:
    (tmp_path / "folder.ris").mkdir()
    os.symlink(tmp_path / "nowhere.ris", tmp_path / "dangling.ris")
    os.symlink(tmp_path / "loop_b.ris", tmp_path / "loop_a.ris")
    os.symlink(tmp_path / "loop_a.ris", tmp_path / "loop_b.ris")
    os.mkfifo(tmp_path / "fifo.ris")  # reading it would block forever
    cases = {
        "folder.ris": "folder",
        "dangling.ris": "dangling",
        "loop_a.ris": "loop",
        "fifo.ris": "not a regular file",
        "absent.ris": "not found",
    }
    for name, match in cases.items():
        with pytest.raises(RISError, match=match) as e:
            read_ris(tmp_path / name, source="Embase")
        assert e.value.path == str(tmp_path / name)
        with pytest.raises(CSVImportError, match=match):
            read_csv_export(tmp_path / name, source="Scopus")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file regardless of mode")
def test_permission_denied(tmp_path: Path) -> None:  # pragma: no cover - not as root
    p = _write(tmp_path, "x.ris", "TY  - JOUR\nER  - \n")
    p.chmod(0)
    with pytest.raises(RISError, match="permission denied"):
        read_ris(p, source="Embase")


def test_read_text_on_a_folder_and_an_unknown_encoding(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder"):
        read_text(tmp_path)
    p = _write(tmp_path, "x.txt", "a")
    with pytest.raises(InputError, match="unknown encoding"):
        read_text(p, encoding="klingon")


# -- a review's imports/ folder: what PRISMA counts -----------------------------------------


def _review(tmp_path: Path) -> Path:
    (tmp_path / "imports").mkdir()
    return tmp_path


def test_exports_are_read_by_content_not_extension(tmp_path: Path) -> None:
    # issue 15: .nbib/.enw files holding RIS were skipped without a word
    rev = _review(tmp_path)
    shutil.copy(IMPORTS / "embase.ris", rev / "imports" / "embase.nbib")
    shutil.copy(IMPORTS / "scopus.ris", rev / "imports" / "scopus.enw")
    shutil.copy(IMPORTS / "wos.txt", rev / "imports" / "savedrecs.txt")
    shutil.copy(IMPORTS / "scopus.csv", rev / "imports" / "cinahl_export.CSV")
    (rev / "imports" / ".DS_Store").write_bytes(b"\x00\x01binary")
    (rev / "imports" / "README.md").write_text("# where these came from\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        records = load_review_records(rev)
        expected = {
            "embase.nbib": len(read_ris(IMPORTS / "embase.ris")),
            "scopus.enw": len(read_ris(IMPORTS / "scopus.ris")),
            "savedrecs.txt": len(read_ris(IMPORTS / "wos.txt")),
            "cinahl_export.CSV": len(read_csv_export(IMPORTS / "scopus.csv", source="CINAHL")),
        }
    read = {Path(f).name: n for f, _, n in records.attrs["read"]}
    assert read == expected
    assert len(records) == sum(expected.values())  # PRISMA's "identified"
    skipped = {Path(f).name for f, _ in records.attrs["skipped"]}
    assert skipped == {".DS_Store", "README.md"}


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.ris", b"", "empty"),
        ("pubmed.nbib", b"PMID- 12345678\nTI  - A title\n", "MEDLINE"),
        ("endnote.enw", b"%0 Journal Article\n%T A title\n", "EndNote"),
        ("refs.bib", b"@article{key,\n title={A}\n}\n", "BibTeX"),
        ("export.xml", b"<?xml version='1.0'?><records/>", "XML"),
        ("notes.docx", b"PK\x03\x04" + bytes(20), "NUL|not a records export"),
        ("odd.dat", b"just some words\n", "not a records export"),
    ],
)
def test_exports_the_toolkit_cannot_read_are_errors_not_skips(
    tmp_path: Path, name: str, content: bytes, match: str
) -> None:
    rev = _review(tmp_path)
    shutil.copy(IMPORTS / "embase.ris", rev / "imports" / "embase.ris")
    _write(rev / "imports", name, content)
    with pytest.raises(InputError, match=match) as e:
        load_review_records(rev)
    assert e.value.path == str(rev / "imports" / name)


def test_folder_inside_imports_is_an_error(tmp_path: Path) -> None:
    rev = _review(tmp_path)
    (rev / "imports" / "older").mkdir()
    shutil.copy(IMPORTS / "embase.ris", rev / "imports" / "older" / "embase.ris")
    with pytest.raises(InputError, match="folder inside imports"):
        load_review_records(rev)


def test_unfinished_snapshot_folder_is_a_warning_and_listed(tmp_path: Path) -> None:
    rev = _review(tmp_path)
    shutil.copy(IMPORTS / "embase.ris", rev / "imports" / "embase.ris")
    (rev / "search" / "pubmed-2027" / ".partial").mkdir(parents=True)
    with pytest.warns(UserWarning, match="no metadata.json"):
        records = load_review_records(rev)
    assert any("pubmed-2027" in f for f, _ in records.attrs["skipped"])


# -- de-duplication overrides: the same reader ---------------------------------------------


@pytest.mark.parametrize(
    ("content", "match", "row"),
    [
        (b"record_id_a;record_id_b\n", "missing column", 1),
        (b'record_id_a,record_id_b,action,reviewer,note\n"a,b,merge,KH,\n', "quote", 2),
        (b"record_id_a,record_id_b,action,reviewer,note\na,b,merge,KH,x,y\n", "6 fields", 2),
        (b"record_id_a,record_id_b,action,reviewer,note,action\n", "appears twice", 1),
        (b"record_id_a,record_id_b,action,reviewer,note\na,b,merge,K\xe9,\n", "not valid", 2),
    ],
)
def test_broken_overrides_name_line(tmp_path: Path, content: bytes, match: str, row: int) -> None:
    p = _write(tmp_path, "overrides.csv", content)
    with pytest.raises(CSVImportError, match=match) as e:
        load_overrides(p)
    assert e.value.row == row and e.value.path == str(p)


def test_empty_overrides_file_means_no_overrides(tmp_path: Path) -> None:
    assert len(load_overrides(_write(tmp_path, "overrides.csv", b""))) == 0


def test_read_delimited_counts(tmp_path: Path) -> None:
    p = _write(tmp_path, "x.csv", "a,b\r\n1,2\r\n\r\n3,4\r\n")
    t = read_delimited(p)
    assert t.counts() == {"lines": 4, "rows": 2, "skipped": 1}
    assert t.lines == (2, 4)
    assert isinstance(pd.DataFrame(list(t.rows), columns=list(t.header)), pd.DataFrame)


def test_permission_denied_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # as root chmod does not stop a read: the OS error is played instead
    import errno

    p = _write(tmp_path, "x.ris", "TY  - JOUR\nER  - \n")

    def denied(self: Path) -> bytes:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(RISError, match="permission denied") as e:
        read_ris(p, source="Embase")
    assert e.value.path == str(p)
    with pytest.raises(CSVImportError, match="permission denied"):
        read_csv_export(p, source="Scopus")


def test_two_exports_of_one_database_are_both_counted(tmp_path: Path) -> None:
    rev = _review(tmp_path)
    shutil.copy(IMPORTS / "embase.ris", rev / "imports" / "embase.ris")
    shutil.copy(IMPORTS / "embase.ris", rev / "imports" / "embase_2027.ris")
    with pytest.warns(UserWarning, match=r"embase_2027\.ris: its record ids would repeat"):
        records = load_review_records(rev)
    n = len(read_ris(IMPORTS / "embase.ris"))
    assert len(records) == 2 * n and records["record_id"].is_unique
    assert records["record_id"].str.startswith("embase:").sum() == n
    assert records["record_id"].str.startswith("embase_2027:").sum() == n
