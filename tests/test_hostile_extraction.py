"""Hostile extraction tables (issue 15): every number where the file has it, or an
ExtractionError naming the file, the line the reader sees in an editor, and the column.

Uses the small protocol of tests/test_extraction.py (infections after hip replacement).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_extraction import OUTCOMES, STUDIES, write

from review.errors import ExtractionError
from review.extraction import read_extraction

HYP = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _check_provenance_lines(folder: Path, text: str) -> None:
    """Every number's provenance line is the file line holding that number."""
    ex = read_extraction(folder)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert len(ex.numbers) == 10
    for r in ex.numbers.itertuples():
        held = lines[r.line - 1]
        assert held.startswith(f"{r.study_id},{r.field},"), (r.line, held)
    for e in ex.estimates.itertuples():
        assert lines[e.line - 1].startswith(f"{e.study_id},{e.outcome},")


def test_blank_lines_do_not_shift_provenance(tmp_path: Path) -> None:
    # issue 15: after one blank line in outcomes.csv the provenance line of 38 of 39 numbers
    # pointed at another number
    rows = OUTCOMES.split("\n")
    text = "\n".join([rows[0], rows[1], "", rows[2], "", "", *rows[3:]])
    _check_provenance_lines(write(tmp_path, outcomes=text), text)


def test_quoted_line_breaks_do_not_shift_provenance(tmp_path: Path) -> None:
    text = OUTCOMES.replace(
        "s1,n_ssi,10,112,Table 3,https://example.org/112,,",
        's1,n_ssi,10,112,"Table 3,\nfirst row",https://example.org/112,"two\nline note",',
    )
    _check_provenance_lines(write(tmp_path, outcomes=text), text)


@pytest.mark.parametrize("nl", ["\r\n", "\r"])
def test_crlf_and_cr_line_ends(tmp_path: Path, nl: str) -> None:
    text = OUTCOMES.replace("\n", nl)
    folder = write(tmp_path, studies=STUDIES.replace("\n", nl), outcomes=text)
    _check_provenance_lines(folder, text)


@HYP
@given(st.data())
def test_error_rows_are_the_file_lines_whatever_the_blank_lines(tmp_path_factory, data) -> None:
    # issue 15: row numbers were off by one against the file's lines
    rows = OUTCOMES.rstrip("\n").split("\n")
    body = rows[1:]
    blanks = data.draw(st.lists(st.integers(0, len(body)), max_size=5))
    bad = data.draw(st.integers(0, len(body) - 1))
    body = [r.replace(",Table", ",Table") for r in body]
    target = body[bad]
    parts = target.split(",")
    parts[2] = "x" + parts[2]  # the value is no longer a number
    body[bad] = ",".join(parts)
    out: list[str] = [rows[0]]
    for i, r in enumerate(body):
        out += [""] * blanks.count(i)
        out.append(r)
    text = "\n".join(out) + "\n"
    folder = write(tmp_path_factory.mktemp("x"), outcomes=text)
    with pytest.raises(ExtractionError) as e:
        read_extraction(folder)
    assert e.value.column == "value"
    assert text.split("\n")[e.value.row - 1] == body[bad]


def test_semicolon_delimited_and_spaced_headers_are_read(tmp_path: Path) -> None:
    # issue 15: both said only "required columns missing"
    semi_studies = "\n".join(
        ";".join(f'"{c}"' if ";" in c else c for c in ln.split(",")) for ln in STUDIES.split("\n")
    )
    spaced = OUTCOMES.replace("study_id,field,value", "study_id , field,value ", 1)
    ex = read_extraction(write(tmp_path, studies=semi_studies, outcomes=spaced))
    assert list(ex.studies["study_id"]) == ["s1", "s2", "s3"]
    assert len(ex.numbers) == 10


def test_missing_column_names_what_the_header_holds(tmp_path: Path) -> None:
    text = OUTCOMES.replace("study_id,field,value,", "study,field,value,", 1)
    with pytest.raises(ExtractionError, match=r"missing column\(s\): study_id.*header") as e:
        read_extraction(write(tmp_path, outcomes=text))
    assert (e.value.row, e.value.column) == (1, "study_id")
    one_col = "\n".join(ln.replace(",", "|") for ln in OUTCOMES.split("\n"))
    with pytest.raises(ExtractionError, match=r"'\|'.*delimiter"):
        read_extraction(write(tmp_path, outcomes=one_col))


def test_non_utf8_names_the_line(tmp_path: Path) -> None:
    # issue 15: a non-UTF-8 file gave a byte offset but no line
    folder = write(tmp_path)
    data = (folder / "outcomes.csv").read_bytes().replace(b"Table 3", b"Tabl\xe9 3", 1)
    (folder / "outcomes.csv").write_bytes(data)
    with pytest.raises(ExtractionError, match="not valid utf-8") as e:
        read_extraction(folder)
    assert e.value.row == 3


def test_utf16_and_bom_files_are_read(tmp_path: Path) -> None:
    folder = write(tmp_path)
    (folder / "studies.csv").write_bytes(STUDIES.encode("utf-16"))
    (folder / "outcomes.csv").write_bytes(OUTCOMES.encode("utf-8-sig"))
    assert len(read_extraction(folder).numbers) == 10


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("1e19", "too large to be a count"),
        ("10000000000000000000", "too large to be a count"),
        ("1_027", "write 1027"),
        ("1,027", "write 1027"),
        ("\u0664\u0664\u0669", "write 449"),
        ("\uff14\uff14\uff19", "write 449"),
        ("True", "not a number"),
        ("-3", "negative"),
        ("2.5", "not a whole number"),
        ("", "empty"),
        ("nan", "not finite"),
    ],
)
def test_counts_taken_wrongly_are_refused(tmp_path: Path, value: str, match: str) -> None:
    # issue 15: 1e19 wrapped to a negative after the checks; 1_027, ٤٤٩, ４４９ raised raw errors
    text = OUTCOMES.replace("s1,n_operated,200,", f's1,n_operated,"{value}",', 1)
    with pytest.raises(ExtractionError, match=match) as e:
        read_extraction(write(tmp_path, outcomes=text))
    assert (e.value.row, e.value.column) == (2, "value")


def test_a_denominator_of_zero_is_refused(tmp_path: Path) -> None:
    # issue 15: n_treated = 0 was accepted
    text = OUTCOMES.replace("s2,n_operated,50,", "s2,n_operated,0,", 1).replace(
        "s2,n_ssi,2,", "s2,n_ssi,0,", 1
    )
    with pytest.raises(ExtractionError, match="denominator") as e:
        read_extraction(write(tmp_path, outcomes=text))
    assert (e.value.row, e.value.column) == (7, "value")


def test_zero_events_are_still_counts(tmp_path: Path) -> None:
    text = OUTCOMES.replace("s2,n_ssi,2,", "s2,n_ssi,0,", 1)
    assert read_extraction(write(tmp_path, outcomes=text)).studies.loc[1, "n_ssi"] == 0


@pytest.mark.parametrize("pmid", ["abc", "\u0664\u0664\u0669", "0", "1234567890", "12 34"])
def test_pmid_that_is_not_one_is_refused(tmp_path: Path, pmid: str) -> None:
    studies = STUDIES.replace("s2,Beta 2021,222,222,", f"s2,Beta 2021,{pmid},222,", 1)
    with pytest.raises(ExtractionError, match="not a PubMed identifier") as e:
        read_extraction(write(tmp_path, studies=studies))
    assert (e.value.row, e.value.column) == (3, "pmid")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"\n \n", "white space"),
        (b"study_id,field,value,pmid,location,note,field\n", "appears twice"),
        (b"study_id,field,value,pmid,location,note\ns1,n_ssi,\x00,111,x,\n", "NUL"),
        (b'study_id,field,value,pmid,location,note\ns1,"n_ssi,10,111,x,\n', "quote"),
        (b"study_id,field,value,pmid,location,note\ns1,n_ssi,10,111,x,,extra\n", "7 fields"),
    ],
    ids=["empty", "blank", "duplicate-header", "nul", "unclosed-quote", "too-wide"],
)
def test_broken_outcomes_file_is_named(tmp_path: Path, data: bytes, match: str) -> None:
    folder = write(tmp_path)
    (folder / "outcomes.csv").write_bytes(data)
    with pytest.raises(ExtractionError, match=match) as e:
        read_extraction(folder)
    assert e.value.path == str(folder / "outcomes.csv")
    assert (folder / "outcomes.csv").read_bytes() == data


def test_trailing_delimiter_columns_are_dropped_when_empty(tmp_path: Path) -> None:
    studies = "\n".join(ln + ",," if ln else ln for ln in STUDIES.split("\n"))
    assert len(read_extraction(write(tmp_path, studies=studies)).studies) == 3
    held = STUDIES.replace("high_rob,prophylaxis_h", "high_rob,prophylaxis_h,", 1).replace(
        "2022,,48", "2022,,48,oops", 1
    )
    with pytest.raises(ExtractionError, match="no name") as e:
        read_extraction(write(tmp_path, studies=held))
    assert e.value.row == 4


def test_paths_that_are_not_files(tmp_path: Path) -> None:
    folder = write(tmp_path)
    (folder / "outcomes.csv").unlink()
    (folder / "outcomes.csv").mkdir()
    with pytest.raises(ExtractionError, match="folder"):
        read_extraction(folder)
    (folder / "outcomes.csv").rmdir()
    os.symlink(folder / "nowhere.csv", folder / "outcomes.csv")
    with pytest.raises(ExtractionError, match="dangling"):
        read_extraction(folder)


HOSTILE_CELLS = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["1_027", "١٢", "１２", "1,5", "1e400", "-0", "+7", " 12 ", "0x1A", "∞"]),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@HYP
@given(HOSTILE_CELLS)
def test_generated_value_cells_are_read_exactly_or_named(tmp_path_factory, cell: str) -> None:
    quoted = '"' + cell.replace('"', '""') + '"'
    text = OUTCOMES.replace("s2,n_ssi,2,", f"s2,n_ssi,{quoted},", 1)
    folder = write(tmp_path_factory.mktemp("v"), outcomes=text)
    try:
        ex = read_extraction(folder)
    except ExtractionError as e:
        assert e.path == str(folder / "outcomes.csv")
        # a NUL is refused when the file is read, before its columns are known: the line
        assert e.row is not None and (e.column is not None or "NUL" in str(e))
        return
    got = ex.studies.loc[1, "n_ssi"]
    s = cell.strip()
    assert s.isascii() and float(s) == got and 0 <= got <= 50 and got == int(got)
