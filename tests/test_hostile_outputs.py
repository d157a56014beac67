"""Hostile search snapshots, figure paths and PRISMA study tables (issue 15).

A snapshot folder that was damaged, a figure written where a folder stands or where nothing
can be written, a study table holding a PMID that is not one: an error of the project's tree
naming the file and line (or the argument), and what was there before left intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.errors import InputError, OutputError
from review.plots import save_figure
from review.prisma import _extraction_rows
from review.search import load_snapshot, parse_pubmed_xml, save_snapshot

DATA = Path(__file__).parent / "data" / "pubmed"
META = {"query": "q", "date_of_search": "2026-11-26", "retrieval": "live", "count_reported": 3}


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    save_snapshot(parse_pubmed_xml(DATA / "reference-doi.xml"), tmp_path / "snap", META)
    return tmp_path / "snap"


def _lines(p: Path) -> list[str]:
    return p.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    ("change", "match", "row"),
    [
        (lambda ls: [*ls[:1], "{not json", *ls[1:]], "not valid JSON", 2),
        (lambda ls: [*ls[:1], "[1, 2]", *ls[1:]], "keys must be the record schema", 2),
        (lambda ls: [ls[0].replace('"pmid": "', '"pmid": "abc'), *ls[1:]], "not a PubMed", 1),
        (lambda ls: [ls[0].replace('"pmid": "', '"pmid": "٤'), *ls[1:]], "not a PubMed", 1),
        (lambda ls: ls + ls[:1], "repeats line 1", None),
        (lambda ls: [*ls[:1], ls[1] + "\x00", *ls[2:]], "NUL", 2),
    ],
    ids=["not-json", "a-list", "pmid-letters", "pmid-arabic", "repeated-id", "nul"],
)
def test_damaged_records_file_names_its_line(snapshot: Path, change, match, row) -> None:
    rpath = snapshot / "records.jsonl"
    lines = change(_lines(rpath))
    rpath.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = rpath.read_bytes()
    with pytest.raises(InputError, match=match) as e:
        load_snapshot(snapshot)
    assert e.value.path == str(rpath)
    if match == "repeats line 1":
        assert e.value.row == len(lines)
    else:
        assert e.value.row == row
    assert rpath.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("[]", "JSON object"),
        ("{", "not valid JSON"),
        ("", "not valid JSON"),
        ("\x00", "NUL"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_damaged_metadata_is_named(snapshot: Path, content: str, match: str) -> None:
    (snapshot / "metadata.json").write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=match) as e:
        load_snapshot(snapshot)
    assert e.value.path == str(snapshot / "metadata.json")


def test_missing_snapshot_is_an_input_error_and_still_a_file_not_found_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(InputError, match="no search snapshot") as e:
        load_snapshot(tmp_path)
    assert isinstance(e.value, FileNotFoundError)


def test_snapshot_files_that_are_folders(snapshot: Path) -> None:
    (snapshot / "metadata.json").unlink()
    (snapshot / "metadata.json").mkdir()
    with pytest.raises(InputError, match="no search snapshot"):
        load_snapshot(snapshot)


def test_crlf_records_file_still_loads(snapshot: Path) -> None:
    rpath = snapshot / "records.jsonl"
    n = len(load_snapshot(snapshot).records)
    rpath.write_bytes(rpath.read_bytes().replace(b"\n", b"\r\n"))
    assert len(load_snapshot(snapshot).records) == n


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=200))
def test_random_metadata_bytes_never_escape_the_error_tree(snapshot: Path, data: bytes) -> None:
    (snapshot / "metadata.json").write_bytes(data)
    try:
        load_snapshot(snapshot)
    except InputError as e:
        assert e.path == str(snapshot / "metadata.json")


# -- figures --------------------------------------------------------------------------------


def _fig():  # type: ignore[no-untyped-def]
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    return fig


def test_figure_where_a_folder_stands(tmp_path: Path) -> None:
    (tmp_path / "forest.pdf").mkdir()
    with pytest.raises(OutputError, match="folder stands where") as e:
        save_figure(_fig(), tmp_path / "forest", formats=("pdf",))
    assert e.value.path == str(tmp_path / "forest.pdf")
    assert (tmp_path / "forest.pdf").is_dir()


def test_figure_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "figures").write_text("a file, not a folder")
    with pytest.raises(OutputError, match="cannot create the folder"):
        save_figure(_fig(), tmp_path / "figures" / "forest", formats=("png",))
    assert (tmp_path / "figures").read_text() == "a file, not a folder"


def test_failed_write_leaves_the_old_figure_whole(tmp_path: Path, monkeypatch) -> None:
    old = save_figure(_fig(), tmp_path / "forest", formats=("svg",))[0]
    before = old.read_bytes()

    def full_disk(*a: object, **k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("review.plots.export.write_atomic", full_disk)
    with pytest.raises(OutputError, match="No space left"):
        save_figure(_fig(), tmp_path / "forest", formats=("svg",))
    assert old.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["forest.svg"]  # no temporary left


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes everywhere")
def test_figure_in_a_read_only_folder(tmp_path: Path) -> None:  # pragma: no cover - not root
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(OutputError):
            save_figure(_fig(), tmp_path / "forest", formats=("png",))
    finally:
        tmp_path.chmod(0o700)


# -- PRISMA: a study table's PMIDs ------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [("pmid", "abc"), ("pmid", "\u0664\u0664\u0669"), ("report_pmids", "123; x9"), ("pmid", "1.5")],
)
def test_study_table_pmid_that_is_not_one_is_named(column: str, value: str) -> None:
    table = pd.DataFrame({"study_id": ["S1", "S2"], "pmid": ["1", "2"], "report_pmids": ["", ""]})
    table.loc[1, column] = value
    with pytest.raises(InputError, match="not a PubMed identifier") as e:
        _extraction_rows(table)
    assert (e.value.row, e.value.column) == (1, column)


def test_study_table_pmids_read_as_floats_still_work() -> None:
    table = pd.DataFrame({"study_id": ["S1"], "pmid": [12345.0]})
    assert _extraction_rows(table) == [("S1", frozenset({"12345"}))]


def test_metadata_extra_keys_listed(snapshot: Path) -> None:
    md = json.loads((snapshot / "metadata.json").read_text())
    md["colour"] = "blue"
    (snapshot / "metadata.json").write_text(json.dumps(md))
    with pytest.raises(InputError, match="unknown metadata keys") as e:
        load_snapshot(snapshot)
    assert e.value.column == "colour"


# -- published facts (report.load_published): the same reading path ------------------------

PUBLISHED = (
    "quantity,value,unit,ci_low,ci_high,pmid,location\n"
    "pooled,6.0,%,4.8,7.4,39256908,Abstract\n"
    "patients,5517,patients,,,39256908,Results\n"
)


def test_published_facts_lines_survive_blank_lines(tmp_path: Path) -> None:
    from review.errors import ExtractionError
    from review.report import load_published

    text = PUBLISHED.replace("\npatients", "\n\n\npatients") + "x,,,,,1,here\n"
    p = tmp_path / "published.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ExtractionError, match="value is empty") as e:
        load_published(p)
    assert e.value.row == 6 == text.split("\n").index("x,,,,,1,here") + 1


@pytest.mark.parametrize(
    ("value", "match"),
    [("\u0664\u0664\u0669", "write 449"), ("1_027", "write 1027"), ("abc", "not a number")],
)
def test_published_fact_that_is_not_a_number(tmp_path: Path, value: str, match: str) -> None:
    from review.errors import ExtractionError
    from review.report import load_published

    p = tmp_path / "published.csv"
    p.write_text(PUBLISHED.replace("5517", value), encoding="utf-8")
    with pytest.raises(ExtractionError, match=match) as e:
        load_published(p)
    assert (e.value.row, e.value.column) == (3, "value")


def test_published_facts_broken_files(tmp_path: Path) -> None:
    from review.errors import ExtractionError
    from review.report import load_published

    p = tmp_path / "published.csv"
    for data, match in (
        (b"", "empty"),
        (b"quantity;value\n", "missing column"),
        (PUBLISHED.encode().replace(b"Abstract", b"Abstr\xe9ct"), "not valid utf-8"),
        (PUBLISHED.encode() + b"pooled,1,%,,,1,x\n", "appears twice"),
    ):
        p.write_bytes(data)
        with pytest.raises(ExtractionError, match=match):
            load_published(p)
    p.write_bytes(PUBLISHED.encode("utf-16"))
    assert load_published(p).loc["patients", "value"] == 5517


def test_prisma_counts_as_numpy_integers_and_absurd_counts() -> None:
    import numpy as np

    from review.errors import OptionError
    from review.prisma import prisma_counts

    decisions = pd.DataFrame(columns=["record_id", "stage", "reviewer", "decision", "reason"])
    a = prisma_counts(identified={"PubMed": np.int64(5)}, decisions=decisions, check=False)
    b = prisma_counts(identified={"PubMed": 5}, decisions=decisions, check=False)
    assert a.to_frame().equals(b.to_frame())
    for bad, match in ((10**30, "too large"), (True, "expected a count"), (-1, ">= 0")):
        with pytest.raises(OptionError, match=match):
            prisma_counts(identified={"PubMed": bad}, decisions=decisions, check=False)
