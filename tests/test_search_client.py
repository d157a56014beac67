"""Transport and search planning of ReviewPubMed (audit T1-T9, S1-S6) against the stand-in
E-utilities server (tests/eutils_server.py) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import resource
import threading
import time
import traceback
from pathlib import Path

import pymed
import pymed.api
import pytest
import requests

from review.errors import OptionError, QueryError, RateLimited, SearchError, ServerError, Timeout
from review.search import ESEARCH_CAP, ReviewPubMed, redact, search_pubmed
from review.search._client import MARGIN, _parse_esearch, date_range_term, second_datetype

from eutils_server import Corpus, EUtilsServer

TERM = "synthetic[all]"
ID = {"tool": "reviewtests", "email": "dev@example.org"}
KEY = "S3CRETKEY0123456789abcdef"


@pytest.fixture
def no_ncbi_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NCBI_API_KEY", "NCBI_TOOL", "NCBI_EMAIL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server(no_ncbi_env: None):
    # Generous limits: these tests are about behaviour, not about the limiter.
    with EUtilsServer(Corpus.synthetic(600), rate_limit=1000, key_rate_limit=1000) as srv:
        yield srv


def client(srv: EUtilsServer, **kw) -> ReviewPubMed:
    opts = {"rate": 200, "backoff": 0.01, "timeout": 2.0, **ID, **kw}
    return ReviewPubMed(base_url=srv.url, **opts)


# -- T1 / T2: identity and API key -------------------------------------------------------


def test_t2_placeholders_and_missing_identity_refused(no_ncbi_env: None) -> None:
    with pytest.raises(OptionError, match="tool"):
        ReviewPubMed()
    with pytest.raises(OptionError, match="my_tool"):
        ReviewPubMed("my_tool", "dev@example.org")
    with pytest.raises(OptionError, match="email"):
        ReviewPubMed("reviewtests", "my_email@example.com")
    with pytest.raises(OptionError, match="tool"):
        ReviewPubMed("two words", "dev@example.org")


def test_t2_identity_from_environment(monkeypatch: pytest.MonkeyPatch, server) -> None:
    monkeypatch.setenv("NCBI_TOOL", "envtool")
    monkeypatch.setenv("NCBI_EMAIL", "env@example.org")
    c = ReviewPubMed(base_url=server.url, rate=100)
    c.esearch(TERM)
    assert server.log[-1].params["tool"] == "envtool"
    assert server.log[-1].params["email"] == "env@example.org"


def test_t2_tool_and_email_sent_on_every_request(server) -> None:
    c = client(server)
    c.esearch(TERM, retmax=10)
    c.efetch([str(30_000_000 + i) for i in range(250)])  # POST
    assert len(server.log) == 2
    for r in server.log:
        assert (r.params["tool"], r.params["email"]) == ("reviewtests", "dev@example.org")


def test_t1_api_key_from_environment_is_sent(monkeypatch: pytest.MonkeyPatch, server) -> None:
    monkeypatch.setenv("NCBI_API_KEY", KEY)
    c = client(server)
    assert c.has_api_key
    c.esearch(TERM)
    assert server.seen_keys == {KEY} and server.log[-1].has_key


def test_rate_above_ncbi_limits_refused_for_ncbi(no_ncbi_env: None) -> None:
    with pytest.raises(OptionError, match="rate"):
        ReviewPubMed(**ID, rate=4)
    with pytest.raises(OptionError, match="rate"):
        ReviewPubMed(**ID, api_key=KEY, rate=11)
    assert "rate=10/s" in repr(ReviewPubMed(**ID, api_key=KEY))
    assert "rate=3/s" in repr(ReviewPubMed(**ID))


# -- T3 / T4 / T5: the rate limiter, checked by the server's own count --------------------


def test_server_catches_a_client_over_the_limit(no_ncbi_env: None) -> None:
    # The check below can fail: a burst like pymed's (4 in a second) gets 429.
    with EUtilsServer(Corpus.synthetic(10), rate_limit=3) as srv:
        url = f"{srv.url}/esearch.fcgi"
        codes = [requests.get(url, params={"term": TERM}, timeout=5).status_code for _ in "12345"]
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
    assert srv.max_in_window(1.0) >= 4


@pytest.mark.slow
def test_t3_default_limiter_never_exceeds_3_per_second(no_ncbi_env: None) -> None:
    with EUtilsServer(Corpus.synthetic(50), rate_limit=3) as srv:
        c = ReviewPubMed(base_url=srv.url, backoff=0.01, max_tries=1, **ID)  # default rate
        t0 = time.monotonic()
        for _ in range(10):
            c.esearch(TERM)
        elapsed = time.monotonic() - t0
    assert srv.count(status=429) == 0
    assert srv.count() == 10
    assert srv.max_in_window(1.0) <= 3
    assert elapsed >= 9 / 3  # ten requests need at least three seconds at 3/s


@pytest.mark.slow
def test_t3_key_limiter_never_exceeds_10_per_second(no_ncbi_env: None) -> None:
    with EUtilsServer(Corpus.synthetic(50), rate_limit=3, key_rate_limit=10) as srv:
        c = ReviewPubMed(base_url=srv.url, api_key=KEY, max_tries=1, **ID)  # default: 10/s
        for _ in range(25):
            c.esearch(TERM)
    assert srv.count(status=429) == 0
    assert srv.max_in_window(1.0, key=True) <= 10
    assert srv.max_in_window(1.0, key=True) >= 8  # and it does use the higher limit


def test_t5_limiter_is_process_wide(no_ncbi_env: None) -> None:
    # Two clients in two threads share one limit (pymed's is per instance).
    with EUtilsServer(Corpus.synthetic(50), rate_limit=5) as srv:
        clients = [client(srv, rate=5, max_tries=1) for _ in range(2)]

        def work(c: ReviewPubMed) -> None:
            for _ in range(5):
                c.esearch(TERM)

        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert srv.count() == 10 and srv.count(status=429) == 0
    assert srv.max_in_window(1.0) <= 5


def test_t4_limiter_sleeps_instead_of_spinning(server) -> None:
    c = client(server, rate=4)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    for _ in range(6):
        c.esearch(TERM)
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    assert wall >= 5 * MARGIN / 4 - 0.05
    assert cpu < 0.5 * wall  # pymed's busy wait burns the whole wall time


def test_t5_failed_requests_count_against_the_limit(server) -> None:
    server.inject("503", 3)
    c = client(server, rate=4, max_tries=4)
    t0 = time.monotonic()
    c.esearch(TERM)
    assert time.monotonic() - t0 >= 3 * MARGIN / 4 - 0.05  # four sends, spaced, failures included
    assert server.count() == 4


# -- T6 / T7: timeouts and retries -------------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "502", "503", "reset"])
def test_t7_transient_errors_retried(server, fault: str) -> None:
    server.inject(fault, 2)
    r = client(server, max_tries=3).esearch(TERM, retmax=5)
    assert r.count == 600 and len(r.ids) == 5
    assert server.count("esearch.fcgi") == 3


def test_t7_429_honours_retry_after(server) -> None:
    server.inject("429", 1, retry_after=1)
    t0 = time.monotonic()
    client(server, max_tries=2, backoff=0.01).esearch(TERM)
    assert time.monotonic() - t0 >= 1.0
    assert [r.status for r in server.log] == [429, 200]


def test_t6_timeout_retried(server) -> None:
    server.timeout_delay = 1.0
    server.inject("timeout", 1)
    r = client(server, timeout=0.3, max_tries=2).esearch(TERM)
    assert r.count == 600


@pytest.mark.parametrize(
    ("fault", "error"), [("500", ServerError), ("429", RateLimited), ("timeout", Timeout)]
)
def test_t7_gives_up_with_a_typed_error(server, fault: str, error: type) -> None:
    server.timeout_delay = 0.6
    server.inject(fault, 3)
    with pytest.raises(error, match="after 3 attempts"):
        client(server, timeout=0.2, max_tries=3).esearch(TERM)
    assert server.count() == 3


def test_t7_other_4xx_not_retried(server) -> None:
    c = client(server, max_tries=4)
    with pytest.raises(SearchError, match="HTTP 404"):
        c._request("nosuch.fcgi", {"db": "pubmed"})
    assert server.count() == 1


# -- T8: POST above 200 IDs --------------------------------------------------------------


def test_t8_post_above_200_ids_get_below(server) -> None:
    c = client(server)
    ids = [str(30_000_000 + i) for i in range(201)]
    c.efetch(ids[:200])
    c.efetch(ids)
    methods = [(r.method, r.n_ids) for r in server.log]
    assert methods == [("GET", 200), ("POST", 201)]
    assert all(len(r.params["id"].split(",")) == r.n_ids for r in server.log)  # a comma list


# -- S1-S6: searching --------------------------------------------------------------------


def test_s1_query_returns_everything_not_100(server) -> None:
    arts = client(server).query(TERM)
    assert len(arts) == 600
    assert len({a.pubmed_id for a in arts}) == 600


def test_s3_max_results_minus_one_means_all_and_a_cap_is_reported(server, caplog) -> None:
    c = client(server)
    assert c.getTotalResultsCount(TERM) == 600
    assert len(c._getArticleIds(TERM, -1)) == 600
    with caplog.at_level(logging.WARNING, logger="review.search"):
        assert len(c._getArticleIds(TERM, 10)) == 10
    assert "returning 10 of 600 PMIDs" in caplog.text  # an explicit cap is never silent


def test_pymed_subclass_surface(server) -> None:
    c = client(server)
    assert isinstance(c, pymed.PubMed)
    arts = c.query(TERM, max_results=3)
    assert len(arts) == 3
    from pymed.article import PubMedArticle

    assert all(isinstance(a, PubMedArticle) for a in arts)
    assert all("\n" not in a.pubmed_id for a in arts)


def test_s4_pymed_itself_crashes_past_9999(no_ncbi_env: None, monkeypatch) -> None:
    # The regression this module exists for: pymed pages to retstart=9999 and dies.
    with EUtilsServer(Corpus.synthetic(10_050), rate_limit=1000) as srv:
        monkeypatch.setattr(pymed.api, "BASE_URL", srv.url.removesuffix("/entrez/eutils"))
        with pytest.raises((TypeError, ValueError, requests.HTTPError)):
            list(pymed.PubMed(**ID).query(TERM, max_results=10_000))
        assert any(r.params.get("retstart") == "9999" for r in srv.log)  # what killed pymed
        n_pymed = len(srv.log)
        ids, first = client(srv).search_ids(TERM)
    assert first.count == 10_050 and len(ids) == len(set(ids)) == 10_050
    ours = srv.log[n_pymed:]
    assert all(int(r.params.get("retstart") or 0) <= 9998 for r in ours)


def test_s6_bisection_never_asks_past_the_cap(no_ncbi_env: None) -> None:
    with EUtilsServer(Corpus.synthetic(12_000), rate_limit=1000) as srv:
        c = client(srv)
        ids, _ = c.search_ids(TERM)
        esearches = [r for r in srv.log if r.endpoint == "esearch.fcgi"]
    assert len(ids) == len(set(ids)) == 12_000
    for r in esearches:
        assert int(r.params.get("retmax") or 0) <= ESEARCH_CAP
        assert int(r.params.get("retstart") or 0) == 0
    sliced = [s for s in c.plan.slices if s[0] is not None]
    assert sum(s[2] for s in sliced) == 12_000  # the slices partition the result
    assert all(s[2] <= ESEARCH_CAP for s in sliced)


def _tiles(slices: list[tuple], lo: str, hi: str) -> bool:
    """Whether the second-date ranges of ``slices`` tile ``lo``..``hi`` without gap or overlap."""
    ranges = sorted((s[4], s[5]) for s in slices)
    if not ranges or ranges[0][0] != lo or ranges[-1][1] != hi:
        return False
    day = dt.timedelta(days=1)
    return all(
        dt.datetime.strptime(b[0], "%Y/%m/%d") - dt.datetime.strptime(a[1], "%Y/%m/%d") == day
        for a, b in itertools.pairwise(ranges)
    )


WHOLE = ("1700/01/01", f"{dt.date.today().year + 5}/12/31")
CLAUSE = re.compile(
    r'^\(synthetic\[all\]\) AND \("(\d{4}/\d\d/\d\d)"\[(\w+)\] : "(\d{4}/\d\d/\d\d)"\[\2\]\)$'
)


def test_single_day_over_cap_is_split_by_create_date(no_ncbi_env: None) -> None:
    # 10,001 records share one publication day (a year-only date); their create dates
    # spread over 120 days. The day is split along [crdt], written into the term.
    day = dt.date(2020, 2, 2)
    corpus = Corpus.synthetic(10_001, start=day, end=day)
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        c = client(srv)
        ids, first = c.search_ids(TERM, mindate=dt.date(2020, 1, 1), maxdate=dt.date(2020, 3, 1))
        esearches = [r for r in srv.log if r.endpoint == "esearch.fcgi"]
    assert first.count == 10_001
    assert ids == sorted(corpus.dates, key=int)  # every PMID once, ascending
    split = [s for s in c.plan.slices if len(s) == 6]
    assert split and all(s[:2] == ("2020/02/02", "2020/02/02") and s[3] == "crdt" for s in split)
    assert sum(s[2] for s in split) == 10_001 and all(s[2] <= ESEARCH_CAP for s in split)
    assert _tiles(split, *WHOLE)
    plain = [s for s in c.plan.slices if len(s) == 3 and s[0] is not None]
    assert sum(s[2] for s in plain) == 0  # the other days of the range are empty
    sub = [r for r in esearches if r.params["term"] != TERM]
    assert len(sub) >= len(split)
    for r in sub:
        m = CLAUSE.match(r.params["term"])
        assert m is not None and m[2] == "crdt", r.params["term"]
        assert (r.params["mindate"], r.params["maxdate"]) == ("2020/02/02", "2020/02/02")
        assert r.params["datetype"] == "pdat"
        assert int(r.params["retmax"]) <= ESEARCH_CAP and "retstart" not in r.params


def test_single_create_day_over_cap_is_split_by_publication_date(no_ncbi_env: None) -> None:
    # datetype="crdt": a bulk load (one create day) is split along the publication date.
    day = dt.date(2021, 6, 1)
    corpus = Corpus.synthetic(
        10_500,
        start=dt.date(1990, 1, 1),
        end=dt.date(1999, 12, 31),
        created_start=day,
        created_end=day,
    )
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        c = client(srv)
        ids, _ = c.search_ids(TERM, datetype="crdt")
        terms = {r.params["term"] for r in srv.log} - {TERM}
    assert ids == sorted(corpus.dates, key=int)
    split = [s for s in c.plan.slices if len(s) == 6]
    assert {s[3] for s in split} == {"pdat"} and sum(s[2] for s in split) == 10_500
    assert terms and all(CLAUSE.match(t)[2] == "dp" for t in terms)


def test_split_day_stays_under_the_server_rate_limit(no_ncbi_env: None) -> None:
    # The extra esearches of the second date go through the same limiter: a server that
    # allows 20 a second sees no burst (max_tries=1: a 429 would raise).
    day = dt.date(2020, 2, 2)
    corpus = Corpus.synthetic(12_000, start=day, end=day)
    with EUtilsServer(corpus, rate_limit=20) as srv:
        c = client(srv, rate=20, max_tries=1)
        ids, _ = c.search_ids(TERM, mindate=dt.date(2019, 1, 1), maxdate=dt.date(2020, 12, 31))
    assert ids == sorted(corpus.dates, key=int)
    assert srv.count(status=429) == 0 and srv.max_in_window(1.0) <= 20
    assert srv.count() == c.plan.requests > 20  # more than one window's worth was sent


def test_over_cap_in_both_dates_fails_loudly(no_ncbi_env: None) -> None:
    day, created = dt.date(2020, 2, 2), dt.date(2020, 1, 15)
    corpus = Corpus.synthetic(
        10_001, start=day, end=day, created_start=created, created_end=created
    )
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        c = client(srv)
        with pytest.raises(SearchError) as e:
            c.search_ids(TERM, mindate=dt.date(2020, 1, 1), maxdate=dt.date(2020, 3, 1))
    msg = str(e.value)
    assert msg.startswith("10001 records of the query 'synthetic[all]'")
    assert "single day 2020/02/02 (pdat)" in msg and "single day 2020/01/15 (crdt)" in msg
    # 10,000 left on that create day: still too many; 9,999: they fit, none lost
    corpus.created[str(30_000_000)] = dt.date(2020, 1, 16)
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        with pytest.raises(SearchError, match=r"^10000 records"):
            client(srv).search_ids(TERM, mindate=day, maxdate=day)
    for pmid in list(corpus.dates)[:2]:
        corpus.created[pmid] = dt.date(2020, 1, 16)
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        ids, _ = client(srv).search_ids(TERM, mindate=day, maxdate=day)
    assert ids == sorted(corpus.dates, key=int)


def test_records_outside_the_second_date_range_are_reported(no_ncbi_env: None, caplog) -> None:
    day = dt.date(2020, 2, 2)
    corpus = Corpus.synthetic(10_003, start=day, end=day)
    lost = list(corpus.dates)[:3]
    for pmid in lost:
        corpus.created[pmid] = dt.date(2999, 1, 1)  # beyond any range the planner asks for
    with EUtilsServer(corpus, rate_limit=1000) as srv:
        with caplog.at_level(logging.WARNING, logger="review.search"):
            ids, first = client(srv).search_ids(TERM, mindate=day, maxdate=day)
    assert first.count == 10_003 and len(ids) == 10_000 and not set(lost) & set(ids)
    assert "PubMed counted 10003 records on that day, its crdt slices 10000" in caplog.text


def test_date_range_term() -> None:
    t = date_range_term("a OR b", "crdt", dt.date(2019, 1, 1), dt.date(2019, 6, 30))
    assert t == '(a OR b) AND ("2019/01/01"[crdt] : "2019/06/30"[crdt])'
    assert date_range_term("x", "pdat", dt.date(1999, 12, 31), dt.date(2000, 1, 1)) == (
        '(x) AND ("1999/12/31"[dp] : "2000/01/01"[dp])'
    )
    with pytest.raises(OptionError, match="datetype 'nope'"):
        date_range_term("x", "nope", dt.date(2000, 1, 1), dt.date(2000, 1, 1))
    assert second_datetype("pdat") == "crdt"
    assert second_datetype("crdt") == "pdat" and second_datetype("edat") == "pdat"


def test_stand_in_understands_date_ranges_in_the_term() -> None:
    # The server the split tests rely on filters by the date the clause names.
    corpus = Corpus.synthetic(500, start=dt.date(2010, 1, 1), end=dt.date(2012, 12, 31))
    lo, hi = dt.date(2011, 3, 1), dt.date(2011, 8, 31)
    by_crdt = corpus.search(date_range_term(TERM, "crdt", lo, hi))
    by_dp = corpus.search(date_range_term(TERM, "pdat", lo, hi))
    assert by_crdt == [i for i in corpus.dates if lo <= corpus.created[i] <= hi]
    assert by_dp == [i for i in corpus.dates if lo <= corpus.dates[i] <= hi]
    assert by_crdt and by_dp and by_crdt != by_dp  # the two dates differ
    both = corpus.search(date_range_term(date_range_term(TERM, "pdat", lo, hi), "crdt", lo, hi))
    assert both == [i for i in by_dp if i in by_crdt]
    assert corpus.search('(synthetic[all]) AND ("2011"[zz] : "2012"[zz])') is None
    assert corpus.search(date_range_term("nosuch", "crdt", lo, hi)) is None


def test_s5_phrase_not_found_is_a_query_error(server) -> None:
    with pytest.raises(QueryError, match="phrasesnotfound: abcXYZ"):
        client(server).esearch("abcXYZ")


def test_s5_in_band_error_is_a_query_error(server) -> None:
    server.corpus.queries["bad((query"] = "Unmatched parenthesis"
    with pytest.raises(QueryError, match="Unmatched parenthesis"):
        client(server).esearch("bad((query")


def test_s4_retstart_error_with_raw_newline_is_read(server) -> None:
    # NCBI's answer to retstart > 9998 is not valid JSON (raw newline); it must still
    # become a QueryError, not a JSONDecodeError.
    c = client(server)
    params = {**c.parameters, "term": TERM, "retstart": 9999, "retmode": "json"}
    resp = c._request("esearch.fcgi", params)
    with pytest.raises(QueryError, match="cannot be larger than 9998"):
        _parse_esearch(resp.text)


def test_esearch_fixtures(pubmed_fixtures: Path) -> None:
    r = _parse_esearch((pubmed_fixtures / "biopython-esearch2.xml").read_text())
    assert r.count == 42249 and len(r.ids) == 100 and r.ids[0] == "41297076"
    assert r.query_translation.startswith('("cancer s"[All Fields]')
    with pytest.raises(QueryError, match="PhraseNotFound: abcXYZ"):
        _parse_esearch((pubmed_fixtures / "biopython-esearch8.xml").read_text())


# -- the API key never leaks -------------------------------------------------------------


def _closed_port_url() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/entrez/eutils"


def test_api_key_never_leaks(monkeypatch, tmp_path: Path, caplog, server) -> None:
    monkeypatch.setenv("NCBI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    c = client(server, max_tries=2)
    assert KEY not in repr(c) and KEY not in str(c.parameters)
    # errors after retries, GET (key in the URL) and POST
    seen = []
    server.inject("500", 2)
    with pytest.raises(ServerError) as e1:
        c.esearch(TERM)
    seen.append(e1)
    dead = ReviewPubMed(base_url=_closed_port_url(), rate=200, backoff=0.01, max_tries=2, **ID)
    with pytest.raises(SearchError) as e2:
        dead.esearch(TERM)  # requests' own message would carry the URL with the key
    seen.append(e2)
    with pytest.raises(SearchError) as e3:
        dead.efetch([str(i) for i in range(1, 301)])  # PMIDs start at 1
    seen.append(e3)
    for info in seen:
        text = "".join(traceback.format_exception(info.value))
        assert KEY not in text
        assert KEY not in repr(info.value)
    assert "REDACTED" in str(e2.value) or "connection" in str(e2.value)
    assert KEY not in caplog.text
    # snapshot files and metadata
    snap = search_pubmed(TERM, live=True, snapshot=tmp_path / "s", client=c, progress=False)
    for f in (tmp_path / "s").rglob("*"):
        if f.is_file():
            assert KEY not in f.read_text(encoding="utf-8")
    assert KEY not in str(dict(snap.metadata)) and KEY not in repr(snap)
    assert server.seen_keys == {KEY}  # it was sent, to the server only


def test_redact() -> None:
    url = f"http://x/esearch.fcgi?db=pubmed&api_key={KEY}&term=a"
    assert redact(url) == "http://x/esearch.fcgi?db=pubmed&api_key=REDACTED&term=a"
    assert KEY not in redact(f"boom {KEY}", KEY)
