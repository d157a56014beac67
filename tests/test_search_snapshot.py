"""Search snapshots: the DESIGN.md format, offline loading by default, living-review
updates, validation errors that name the file and line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
import requests

from review._schema import RECORD_COLUMNS, empty_records, normalise_records
from review.errors import InputError, OptionError
from review.paths import ReviewPaths
from review.search import (
    ReviewPubMed,
    Snapshot,
    load_snapshot,
    new_since,
    parse_pubmed_xml,
    save_snapshot,
    search_pubmed,
)

from eutils_server import Corpus, EUtilsServer

DATA = Path(__file__).parent / "data" / "pubmed"
TERM = "synthetic[all]"
ID = {"tool": "reviewtests", "email": "dev@example.org"}
META = {"query": "q", "date_of_search": "2026-11-26", "retrieval": "live", "count_reported": 3}
DESIGN_KEYS = {
    "schema_version",
    "database",
    "query",
    "query_translation",
    "date_of_search",
    "count_reported",
    "count_retrieved",
    "retrieval",
    "provenance",
    "tool_versions",
}


@pytest.fixture(autouse=True)
def _no_ncbi_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NCBI_API_KEY", "NCBI_TOOL", "NCBI_EMAIL"):
        monkeypatch.delenv(var, raising=False)


def records() -> pd.DataFrame:
    return parse_pubmed_xml(DATA / "reference-doi.xml")


def test_format_is_design_md(tmp_path: Path) -> None:
    df = records().iloc[::-1]  # unsorted on purpose
    save_snapshot(df, tmp_path, META)
    lines = (tmp_path / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    ids = [json.loads(x)["record_id"] for x in lines]
    assert ids == sorted(ids)  # sorted by record_id
    for line in lines:
        rec = json.loads(line)
        assert list(rec) == sorted(RECORD_COLUMNS)  # schema keys only, sort_keys
        assert line == json.dumps(rec, ensure_ascii=False, sort_keys=True)
    md = json.loads((tmp_path / "metadata.json").read_text(encoding="utf-8"))
    assert set(md) == DESIGN_KEYS
    assert md["schema_version"] == 1 and md["database"] == "PubMed"
    assert md["count_retrieved"] == 3 and md["retrieval"] == "live"
    assert md["tool_versions"]["pymed"] == "0.8.9"


def test_non_ascii_kept_verbatim(tmp_path: Path) -> None:
    df = records()
    df.loc[0, "title"] = "Épidémiologie — naïve"
    save_snapshot(df, tmp_path, META)
    assert "Épidémiologie — naïve" in (tmp_path / "records.jsonl").read_text(encoding="utf-8")


def test_round_trip(tmp_path: Path) -> None:
    df = records()
    saved = save_snapshot(df, tmp_path, META)
    snap = load_snapshot(tmp_path)
    assert isinstance(snap, Snapshot) and snap.folder == tmp_path
    expected = normalise_records(df[list(RECORD_COLUMNS)]).sort_values("record_id")
    pd.testing.assert_frame_equal(snap.records, expected.reset_index(drop=True))
    pd.testing.assert_frame_equal(snap.records, saved.records)
    assert dict(snap.metadata) == dict(saved.metadata)
    # saving what was loaded gives the same bytes: diffable
    before = (tmp_path / "records.jsonl").read_bytes()
    save_snapshot(snap.records, tmp_path, snap.metadata)
    assert (tmp_path / "records.jsonl").read_bytes() == before


def test_snapshot_is_frozen_and_displays(tmp_path: Path) -> None:
    snap = save_snapshot(records(), tmp_path, META)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.records = empty_records()  # type: ignore[misc]
    with pytest.raises(TypeError):
        snap.metadata["query"] = "other"  # type: ignore[index]
    html = snap._repr_html_()
    assert "<table" in html and "pubmed:92000001" in html and "2026-11-26" in html
    assert "3 records of 3 reported" in repr(snap)
    assert "Query:             q" in snap.summary()


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({**META, "retrieval": "guessed"}, "retrieval 'guessed'"),
        ({**META, "schema_version": 2}, "schema_version 2"),
        ({**META, "count_retrieved": 7}, "count_retrieved is 7"),
        ({**META, "secret": 1}, "unknown metadata keys"),
        ({k: v for k, v in META.items() if k != "date_of_search"}, "date_of_search"),
    ],
)
def test_metadata_validated(tmp_path: Path, meta: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        save_snapshot(records(), tmp_path, meta)


def test_torn_line_named_by_file_and_line(tmp_path: Path) -> None:
    save_snapshot(records(), tmp_path, META)
    path = tmp_path / "records.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0], lines[1][:40], lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_snapshot(tmp_path)
    assert info.value.path == str(path) and info.value.row == 2


def test_wrong_keys_refused(tmp_path: Path) -> None:
    save_snapshot(records(), tmp_path, META)
    path = tmp_path / "records.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    rec = json.loads(lines[2])
    del rec["doi"]
    lines[2] = json.dumps(rec)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="record schema") as info:
        load_snapshot(tmp_path)
    assert info.value.row == 3


def test_api_key_never_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCBI_API_KEY", "K3YK3YK3YK3Y")
    with pytest.raises(OptionError, match="API key"):
        save_snapshot(records(), tmp_path, {**META, "provenance": "api_key=K3YK3YK3YK3Y"})
    assert not (tmp_path / "metadata.json").exists()


# -- notebook use: offline by default, live only when asked --------------------------------


def _no_http(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("offline load made an HTTP request")

    monkeypatch.setattr(requests.Session, "request", refuse)


def test_search_pubmed_offline_by_default(tmp_path: Path, monkeypatch) -> None:
    folder = ReviewPaths(tmp_path).snapshot("pubmed")
    save_snapshot(records(), folder, {**META, "query": TERM})
    _no_http(monkeypatch)
    snap = search_pubmed(TERM, snapshot=folder)  # live defaults to False
    assert len(snap.records) == 3 and snap.query == TERM
    with pytest.raises(OptionError, match="live=True"):
        search_pubmed("another query", snapshot=folder)
    with pytest.raises(FileNotFoundError, match="no search snapshot"):
        search_pubmed(TERM, snapshot=tmp_path / "missing")
    with pytest.raises(OptionError, match="Nothing to load"):
        search_pubmed(TERM)


def test_live_search_saves_then_loads_offline(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "search" / "pubmed"
    with EUtilsServer(Corpus.synthetic(240), rate_limit=1000) as srv:
        c = ReviewPubMed(base_url=srv.url, rate=200, **ID)
        live = search_pubmed(TERM, snapshot=folder, live=True, client=c, progress=False)
    assert live.metadata["retrieval"] == "live"
    assert live.metadata["query_translation"] == TERM
    assert live.metadata["date_of_search"] == pd.Timestamp.now("UTC").strftime("%Y-%m-%d")
    _no_http(monkeypatch)
    again = search_pubmed(TERM, snapshot=folder)
    pd.testing.assert_frame_equal(again.records, live.records)


def test_new_since_lists_only_new_records(tmp_path: Path) -> None:
    corpus = Corpus.synthetic(200)
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        c = ReviewPubMed(base_url=srv.url, rate=200, **ID)
        corpus.queries["q"] = list(corpus.dates)[:150]
        old = search_pubmed("q", snapshot=tmp_path / "old", live=True, client=c, progress=False)
        corpus.queries["q"] = list(corpus.dates)  # 50 records published since
        new = search_pubmed("q", snapshot=tmp_path / "new", live=True, client=c, progress=False)
    fresh = new_since(old, new)
    assert len(fresh) == 50
    assert set(fresh["pmid"]) == set(list(corpus.dates)[150:])
    assert len(new_since(new, old)) == 0


def test_new_since_matches_on_pmid_and_doi() -> None:
    old = normalise_records(
        pd.DataFrame(
            {
                "record_id": ["embase:1", "scopus:7"],
                "pmid": ["111", None],
                "doi": [None, "10.1/ABC"],
            }
        )
    )
    new = normalise_records(
        pd.DataFrame(
            {
                "record_id": ["pubmed:111", "pubmed:222", "pubmed:333"],
                "pmid": ["111", "222", "333"],
                "doi": [None, "https://doi.org/10.1/abc", None],
            }
        )
    )
    assert list(new_since(old, new)["record_id"]) == ["pubmed:333"]


def test_schema_helpers() -> None:
    from review._schema import clean_doi, records_from_dicts

    assert clean_doi("https://doi.org/10.1/ABC ") == "10.1/abc"
    assert clean_doi("doi: 10.1/x") == "10.1/x" and clean_doi(float("nan")) is None
    df = records_from_dicts(
        [
            {"record_id": "embase:1", "pmid": 12345.0, "year": "2019", "authors": "Smith J"},
            {"record_id": "embase:2", "pmid": "PMC99", "doi": "", "keywords": None},
        ]
    )
    assert tuple(df.columns) == RECORD_COLUMNS
    assert df.loc[0, "pmid"] == "12345" and df.loc[1, "pmid"] is None  # digits only
    assert df.loc[0, "authors"] == ["Smith J"] and df.loc[1, "keywords"] == []
    assert str(df["year"].dtype) == "Int64" and df.loc[0, "year"] == 2019
    assert df.loc[1, "doi"] is None and df.loc[1, "title"] is None
    empty = empty_records()
    assert len(empty) == 0 and tuple(empty.columns) == RECORD_COLUMNS
