"""Complete, resumable retrieval through search_pubmed against the stand-in server:
25,000 records past the 9,999 cap, no request over the limit, resume after a fault with no
record lost or doubled, drift reported."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from review.errors import OptionError, PubMedXMLError, ServerError
from review.search import ReviewPubMed, parse_pubmed_xml, retrieve, search_pubmed

from eutils_server import Corpus, EUtilsServer, make_template, records_of

TERM = "synthetic[all]"
ID = {"tool": "reviewtests", "email": "dev@example.org"}


@pytest.fixture(autouse=True)
def _no_ncbi_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NCBI_API_KEY", "NCBI_TOOL", "NCBI_EMAIL"):
        monkeypatch.delenv(var, raising=False)


def client(srv: EUtilsServer, **kw) -> ReviewPubMed:
    return ReviewPubMed(base_url=srv.url, **{"rate": 200, "backoff": 0.01, **ID, **kw})


@pytest.mark.slow
def test_complete_retrieval_of_25000_records(tmp_path: Path) -> None:
    corpus = Corpus.synthetic(25_000)
    # The server enforces a limit; the client is given an explicit, lower rate for speed.
    with EUtilsServer(corpus, rate_limit=150, key_rate_limit=150) as srv:
        snap = search_pubmed(
            TERM,
            live=True,
            snapshot=tmp_path / "big",
            client=client(srv, rate=100),
            progress=False,
        )
    assert srv.count(status=429) == 0
    assert srv.max_in_window(1.0) <= 100
    pmids = list(snap.records["pmid"])
    assert len(pmids) == len(set(pmids)) == 25_000
    assert set(pmids) == set(corpus.dates)
    assert snap.metadata["count_reported"] == 25_000
    assert snap.metadata["count_retrieved"] == 25_000
    assert snap.metadata["retrieval"] == "live"
    assert "drift 0" in snap.metadata["provenance"]
    assert "over the cap" not in snap.metadata["provenance"]
    for r in srv.log:
        if r.endpoint == "esearch.fcgi":
            assert int(r.params.get("retmax") or 0) <= 9999
            assert int(r.params.get("retstart") or 0) == 0
    assert srv.count("efetch.fcgi") == 50  # 500 a batch, each PMID fetched once
    assert sum(r.n_ids for r in srv.log if r.endpoint == "efetch.fcgi") == 25_000
    assert all(r.method == "POST" for r in srv.log if r.endpoint == "efetch.fcgi")
    assert not (tmp_path / "big" / ".partial").exists()  # cleaned after the save
    # the year of each record is the date the server filed it under
    r0 = snap.records.iloc[0]
    assert r0["year"] == corpus.dates[r0["pmid"]].year


@pytest.mark.slow
def test_complete_retrieval_when_25000_records_share_one_publication_day(tmp_path: Path) -> None:
    # Year-only publication dates put 25,000 records on 2021/01/01; their create dates
    # spread over the year. The day is split by create date, written into the term.
    day = dt.date(2021, 1, 1)
    corpus = Corpus.synthetic(
        25_000, start=day, end=day, created_start=day, created_end=dt.date(2021, 12, 31)
    )
    with EUtilsServer(corpus, rate_limit=150, key_rate_limit=150) as srv:
        c = client(srv, rate=100)
        snap = search_pubmed(
            TERM, live=True, snapshot=tmp_path / "oneday", client=c, progress=False
        )
    assert srv.count(status=429) == 0
    assert srv.max_in_window(1.0) <= 100
    pmids = list(snap.records["pmid"])
    assert len(pmids) == len(set(pmids)) == 25_000
    assert set(pmids) == set(corpus.dates)
    assert snap.metadata["count_reported"] == snap.metadata["count_retrieved"] == 25_000
    assert "drift 0" in snap.metadata["provenance"]
    assert "1 day over the cap, 2021/01/01, split further by crdt" in (snap.metadata["provenance"])
    split = [s for s in c.plan.slices if len(s) == 6]
    assert {(s[0], s[1], s[3]) for s in split} == {("2021/01/01", "2021/01/01", "crdt")}
    assert sum(s[2] for s in split) == 25_000 and all(s[2] <= 9999 for s in split)
    esearches = [r for r in srv.log if r.endpoint == "esearch.fcgi"]
    clause = re.compile(
        r'\(synthetic\[all\]\) AND \("\d{4}/\d\d/\d\d"\[crdt\] : "\d{4}/\d\d/\d\d"\[crdt\]\)'
    )
    split_terms = {r.params["term"] for r in esearches} - {TERM}
    assert split_terms and all(clause.fullmatch(t) for t in split_terms)
    # the day's requests keep the publication day in mindate/maxdate
    assert all(
        (r.params["mindate"], r.params["maxdate"]) == ("2021/01/01", "2021/01/01")
        for r in esearches
        if r.params["term"] in split_terms
    )
    for r in esearches:
        assert int(r.params.get("retmax") or 0) <= 9999
        assert int(r.params.get("retstart") or 0) == 0
    assert sum(r.n_ids for r in srv.log if r.endpoint == "efetch.fcgi") == 25_000


def test_split_day_slices_kept_in_the_partial_state_and_resumed(tmp_path: Path) -> None:
    # The second-date slices go to state.json (JSON lists) and survive a resume.
    day = dt.date(2015, 7, 1)
    corpus = Corpus.synthetic(10_200, start=day, end=day)
    partial = tmp_path / "partial"
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        srv.inject("ok", 3, endpoint="efetch.fcgi")
        srv.inject("503", 2, endpoint="efetch.fcgi")
        with pytest.raises(ServerError):
            retrieve(client(srv, max_tries=2), TERM, partial, batch_size=2_000, progress=False)
        state = json.loads((partial / "state.json").read_text(encoding="utf-8"))
        n_first = len(srv.log)
        records, info = retrieve(client(srv), TERM, partial, progress=False)
        again = srv.log[n_first:]
    split = [s for s in state["slices"] if len(s) == 6]
    assert split and all(s[:2] == ["2015/07/01", "2015/07/01"] and s[3] == "crdt" for s in split)
    assert sum(s[2] for s in split) == 10_200
    assert info["slices"] == state["slices"]
    assert not any(r.endpoint == "esearch.fcgi" for r in again)  # PMIDs read back
    assert [r.n_ids for r in again if r.endpoint == "efetch.fcgi"] == [2_000, 2_000, 200]
    assert len(records) == records["pmid"].nunique() == 10_200
    assert set(records["pmid"]) == set(corpus.dates)
    assert info["drift"] == 0 and info["missing"] == [] and info["duplicates"] == 0


def test_resume_after_server_fault_loses_and_doubles_nothing(tmp_path: Path) -> None:
    corpus = Corpus.synthetic(3_000)
    partial = tmp_path / "partial"
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        srv.inject("ok", 5, endpoint="efetch.fcgi")
        srv.inject("503", 2, endpoint="efetch.fcgi")  # batch 6 fails on both tries
        with pytest.raises(ServerError):
            retrieve(client(srv, max_tries=2), TERM, partial, batch_size=200, progress=False)
        first_run = list(srv.log)
        assert (partial / "pmids.txt").is_file()
        kept = sorted(p.name for p in (partial / "batches").glob("*.xml"))
        assert kept == [f"{i:06d}.xml" for i in range(5)]
        records, info = retrieve(client(srv), TERM, partial, batch_size=200, progress=False)
        second_run = srv.log[len(first_run) :]
    assert [r.endpoint for r in second_run].count("esearch.fcgi") == 0  # PMIDs reused
    fetched_again = [r.n_ids for r in second_run if r.endpoint == "efetch.fcgi"]
    assert fetched_again == [200] * 10  # only the 10 batches not yet on disk
    pmids = list(records["pmid"])
    assert len(pmids) == len(set(pmids)) == 3_000 and set(pmids) == set(corpus.dates)
    assert info["missing"] == [] and info["duplicates"] == 0 and info["drift"] == 0


def test_resume_after_unreadable_batch(tmp_path: Path) -> None:
    corpus = Corpus.synthetic(1_000)
    partial = tmp_path / "partial"
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        srv.inject("ok", 2, endpoint="efetch.fcgi")
        srv.inject("truncated", 1, endpoint="efetch.fcgi")
        srv.inject("html", 1, endpoint="efetch.fcgi")
        with pytest.raises(PubMedXMLError, match=r"batch 2 .* run again to resume") as e:
            retrieve(client(srv, max_tries=2), TERM, partial, batch_size=250, progress=False)
        assert "HTML page" in str(e.value)
        records, _ = retrieve(client(srv), TERM, partial, batch_size=250, progress=False)
    assert len(records) == records["pmid"].nunique() == 1_000


def test_bad_batch_retried_then_succeeds(tmp_path: Path) -> None:
    with EUtilsServer(Corpus.synthetic(300), rate_limit=1000) as srv:
        srv.inject("html", 1, endpoint="efetch.fcgi")
        records, _ = retrieve(client(srv, max_tries=3), TERM, tmp_path, progress=False)
    assert len(records) == 300


def test_partial_folder_of_another_search_refused(tmp_path: Path) -> None:
    with EUtilsServer(Corpus.synthetic(50), rate_limit=1000) as srv:
        retrieve(client(srv), TERM, tmp_path, progress=False)
        srv.corpus.queries["other"] = list(srv.corpus.dates)[:10]
        with pytest.raises(OptionError, match="belongs to another search"):
            retrieve(client(srv), "other", tmp_path, progress=False)


def test_drift_and_missing_pmids_reported(tmp_path: Path) -> None:
    corpus = Corpus.synthetic(100)
    # esearch lists three PMIDs that efetch does not return (withdrawn records).
    corpus.queries["drift"] = [*corpus.dates, "1", "2", "3"]
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        with pytest.warns(UserWarning, match="3 PMIDs not returned"):
            snap = search_pubmed("drift", live=True, client=client(srv), progress=False)
    assert snap.metadata["count_reported"] == 103
    assert snap.metadata["count_retrieved"] == 100
    assert "efetch did not return 3 PMIDs: 1, 2, 3" in snap.metadata["provenance"]


def test_warninglist_surfaced(tmp_path: Path) -> None:
    corpus = Corpus.synthetic(20)
    corpus.warnings[TERM] = ["of"]
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        with pytest.warns(UserWarning, match="phrasesignored: of"):
            snap = search_pubmed(TERM, live=True, client=client(srv), progress=False)
    assert "PubMed warnings: phrasesignored: of" in snap.metadata["provenance"]


def test_progress_bars_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with EUtilsServer(Corpus.synthetic(120), rate_limit=1000) as srv:
        search_pubmed(TERM, live=True, client=client(srv), progress=True)
    err = capsys.readouterr().err
    assert "efetch (records)" in err and "120/120" in err


def test_corpus_from_real_fixture_records(pubmed_fixtures: Path, tmp_path: Path) -> None:
    # The server's corpus can also be built from the real records (large ones).
    recs = []
    for name in ("biopython-pubmed4.xml", "biopython-pubmed7.xml", "metapub-pmid_28731372.xml"):
        recs += records_of((pubmed_fixtures / name).read_text(encoding="utf-8"))
    corpus = Corpus.synthetic(450, templates=[make_template(r) for r in recs])
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        snap = search_pubmed(
            TERM, live=True, snapshot=tmp_path / "real", client=client(srv), progress=False
        )
    df = snap.records
    assert len(df) == 450 and df["pmid"].nunique() == 450
    titles = set(df["title"])
    assert (
        "Leucocyte telomere length, genetic variants at the TERT gene region and risk of "
        "pancreatic cancer." in titles
    )
    # each record keeps its own PMID although the templates carry reference lists
    assert all(re.fullmatch(r"3\d{7}", p) for p in df["pmid"])
    line = (tmp_path / "real" / "records.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert json.loads(line)["source"] == "PubMed"


def test_efetch_bytes_parse_in_request_order(tmp_path: Path) -> None:
    with EUtilsServer(Corpus.synthetic(30), rate_limit=1000) as srv:
        ids = sorted(srv.corpus.dates, reverse=True)[:7]
        df = parse_pubmed_xml(client(srv).efetch(ids))
    assert list(df["pmid"]) == ids  # document order kept (pymed regroups by type, S8)


def test_search_pubmed_resumes_into_the_snapshot_folder(tmp_path: Path) -> None:
    corpus = Corpus.synthetic(1_200)
    folder = tmp_path / "search" / "pubmed"
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        srv.inject("ok", 1, endpoint="efetch.fcgi")
        srv.inject("500", 2, endpoint="efetch.fcgi")
        with pytest.raises(ServerError):
            search_pubmed(
                TERM,
                live=True,
                snapshot=folder,
                client=client(srv, max_tries=2),
                batch_size=400,
                progress=False,
            )
        assert (folder / ".partial" / "batches" / "000000.xml").is_file()
        assert not (folder / "records.jsonl").exists()  # no half snapshot
        n_before = len(srv.log)
        snap = search_pubmed(
            TERM, live=True, snapshot=folder, client=client(srv), batch_size=400, progress=False
        )
        fetched = [r.n_ids for r in srv.log[n_before:] if r.endpoint == "efetch.fcgi"]
    assert fetched == [400, 400]  # batch 0 came from disk
    assert len(snap.records) == snap.records["pmid"].nunique() == 1_200
    assert not (folder / ".partial").exists()


def test_zero_results_give_an_empty_snapshot(tmp_path: Path) -> None:
    corpus = Corpus.synthetic(5)
    corpus.queries["none"] = []
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        snap = search_pubmed(
            "none", live=True, snapshot=tmp_path / "s", client=client(srv), progress=False
        )
        assert srv.count("efetch.fcgi") == 0
    assert len(snap.records) == 0 and snap.metadata["count_reported"] == 0
    assert (tmp_path / "s" / "records.jsonl").read_text() == ""


def test_provenance_names_each_day_split_along_a_second_date() -> None:
    from review.search._retrieve import _provenance

    info = {
        "slices": [
            (None, None, 30_000),
            ("2019/01/01", "2019/12/31", 9_000),
            ("2020/01/01", "2020/01/01", 9_500, "crdt", "1700/01/01", "2020/06/30"),
            ("2020/01/01", "2020/01/01", 1_000, "crdt", "2020/07/01", "2031/12/31"),
            ("2021/01/01", "2021/01/01", 10_500, "crdt", "1700/01/01", "2031/12/31"),
        ],
        "datetype": "pdat",
        "count_reported": 30_000,
        "drift": 0,
        "count_retrieved": 30_000,
        "missing": [],
        "duplicates": 0,
        "warnings": [],
    }
    text = _provenance(info)
    assert "bisection on pdat into 4 slices" in text
    assert "(2 days over the cap, 2020/01/01, 2021/01/01, split further by crdt)" in text
    info["slices"] = info["slices"][:2]
    assert "over the cap" not in _provenance(info)
