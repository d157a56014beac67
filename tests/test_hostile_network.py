"""Hostile network and retrieval state (issue 15): nothing lost or doubled, no raw traceback.

Faults are played by the stand-in E-utilities server (tests/eutils_server.py); the saved
state of an interrupted retrieval is damaged by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from review.errors import InputError, OptionError, ReviewError, SearchError, ServerError
from review.search import ReviewPubMed
from review.search._retrieve import retrieve

from eutils_server import Corpus, EUtilsServer

TERM = "synthetic[all]"
ID = {"tool": "review-tests", "email": "tests@example.org"}


@pytest.fixture(autouse=True)
def no_ncbi_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NCBI_API_KEY", "NCBI_TOOL", "NCBI_EMAIL"):
        monkeypatch.delenv(var, raising=False)


def client(srv: EUtilsServer, **kw: object) -> ReviewPubMed:
    opts: dict[str, object] = {"rate": 200, "backoff": 0.01, "timeout": 2.0, **ID, **kw}
    return ReviewPubMed(base_url=srv.url, **opts)  # type: ignore[arg-type]


def test_stand_in_reset_mid_body_is_what_requests_calls_chunked_encoding_error() -> None:
    # the fault itself, seen without the client's retries: the body is cut by a TCP reset
    with EUtilsServer(Corpus.synthetic(50), rate_limit=1000) as srv:
        srv.inject("reset-body", 1, endpoint="efetch.fcgi")
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.post(f"{srv.url}/efetch.fcgi", data={"db": "pubmed", "id": "1"}, timeout=5)


def test_connection_reset_mid_efetch_body_is_retried_and_nothing_lost(tmp_path: Path) -> None:
    # issue 15: ChunkedEncodingError escaped raw instead of being retried
    corpus = Corpus.synthetic(600)
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        srv.inject("ok", 1, endpoint="efetch.fcgi")
        srv.inject("reset-body", 2, endpoint="efetch.fcgi")
        records, info = retrieve(
            client(srv, max_tries=4), TERM, tmp_path / "p", batch_size=200, progress=False
        )
        statuses = [r.status for r in srv.log if r.endpoint == "efetch.fcgi"]
    assert len(records) == records["pmid"].nunique() == 600
    assert set(records["pmid"]) == set(corpus.dates)
    assert info["missing"] == [] and info["duplicates"] == 0
    assert len(statuses) == 3 + 2  # three batches, two of them answered twice more


def test_reset_mid_body_on_every_try_is_a_server_error_naming_the_request() -> None:
    with EUtilsServer(Corpus.synthetic(20), rate_limit=1000) as srv:
        srv.inject("reset-body", 3, endpoint="efetch.fcgi")
        with pytest.raises(ServerError, match=r"efetch.*broken mid-answer.*after 3 attempts"):
            client(srv, max_tries=3).efetch(["1", "2"])


def test_reset_mid_body_of_esearch_is_retried() -> None:
    with EUtilsServer(Corpus.synthetic(100), rate_limit=1000) as srv:
        srv.inject("reset-body", 1, endpoint="esearch.fcgi")
        r = client(srv, max_tries=2).esearch(TERM, retmax=5)
    assert r.count == 100 and len(r.ids) == 5


def test_a_bad_base_url_is_a_search_error_not_a_raw_requests_error() -> None:
    bad = ReviewPubMed(base_url="notaurl://x", rate=3, backoff=0.01, **ID)
    with pytest.raises(SearchError, match="request failed"):
        bad.esearch(TERM)


# -- the saved state of an interrupted retrieval -----------------------------------------


def _interrupted(tmp_path: Path, srv: EUtilsServer) -> Path:
    partial = tmp_path / "partial"
    srv.inject("ok", 1, endpoint="efetch.fcgi")
    srv.inject("500", 5, endpoint="efetch.fcgi")
    with pytest.raises(ServerError):
        retrieve(client(srv, max_tries=2), TERM, partial, batch_size=100, progress=False)
    srv._faults.clear()
    assert (partial / "state.json").is_file() and (partial / "pmids.txt").is_file()
    return partial


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "lacks"),
        ('{"query": 1}', "lacks"),
        ("\x00\x00", "NUL"),
        ("[" * 100_000, "nested too deeply"),
    ],
    ids=["not-json", "empty", "a-list", "missing-keys", "nul", "deep"],
)
def test_corrupt_state_file_is_an_error_naming_it(tmp_path: Path, damage: str, match: str) -> None:
    with EUtilsServer(Corpus.synthetic(300), rate_limit=1000) as srv:
        partial = _interrupted(tmp_path, srv)
        state = partial / "state.json"
        state.write_text(damage, encoding="utf-8")
        with pytest.raises(InputError, match=match) as e:
            retrieve(client(srv), TERM, partial, batch_size=100, progress=False)
    assert e.value.path == str(state)
    assert state.read_text(encoding="utf-8") == damage  # left as it was, for inspection
    if match != "NUL":
        assert "delete the folder" in str(e.value)


def test_state_file_with_a_bad_batch_size_is_refused(tmp_path: Path) -> None:
    with EUtilsServer(Corpus.synthetic(300), rate_limit=1000) as srv:
        partial = _interrupted(tmp_path, srv)
        state = json.loads((partial / "state.json").read_text())
        state["batch_size"] = "many"
        (partial / "state.json").write_text(json.dumps(state))
        with pytest.raises(InputError, match="batch_size") as e:
            retrieve(client(srv), TERM, partial, batch_size=100, progress=False)
    assert e.value.column == "batch_size"


def test_damaged_pmid_list_names_its_line(tmp_path: Path) -> None:
    with EUtilsServer(Corpus.synthetic(300), rate_limit=1000) as srv:
        partial = _interrupted(tmp_path, srv)
        ids = (partial / "pmids.txt").read_text().split()
        ids[7] = "12ab"
        (partial / "pmids.txt").write_text("\n".join(ids) + "\n")
        with pytest.raises(InputError, match="'12ab' is not a PMID") as e:
            retrieve(client(srv), TERM, partial, batch_size=100, progress=False)
    assert e.value.row == 8


def test_state_file_that_is_a_folder_is_an_error(tmp_path: Path) -> None:
    with EUtilsServer(Corpus.synthetic(300), rate_limit=1000) as srv:
        partial = _interrupted(tmp_path, srv)
        (partial / "state.json").unlink()
        (partial / "state.json").mkdir()
        with pytest.raises(ReviewError, match="folder"):
            retrieve(client(srv), TERM, partial, batch_size=100, progress=False)


def test_intact_state_still_resumes_after_the_faults(tmp_path: Path) -> None:
    with EUtilsServer(Corpus.synthetic(300), rate_limit=1000) as srv:
        partial = _interrupted(tmp_path, srv)
        records, info = retrieve(client(srv), TERM, partial, batch_size=100, progress=False)
    assert len(records) == records["pmid"].nunique() == 300 and info["missing"] == []


@pytest.mark.parametrize("bad", ["abc", "\u0664\u0664\u0669", "0", "", "12 34", "1234567890"])
def test_efetch_refuses_ids_that_are_not_pmids_before_any_request(bad: str) -> None:
    with EUtilsServer(Corpus.synthetic(5), rate_limit=1000) as srv:
        with pytest.raises(OptionError, match="Invalid PMID"):
            client(srv).efetch(["1", bad])
        assert srv.count() == 0
