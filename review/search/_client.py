"""pymed's ``PubMed`` client, repaired by subclassing (audit T1-T9 and S1-S8).

Transport: one ``requests.Session``, a sleeping process-wide rate limiter (monotonic clock,
counted at send time, failed requests included), ``tool``/``email`` required (pymed's
placeholders refused), an API key from the environment that never appears in a log, a
repr, an exception or a file, a timeout on every call, retries with exponential backoff and
``Retry-After`` on 429/5xx/timeouts/connection errors, and POST above 200 IDs (and for
every request when an API key is set, so that the key never sits in a URL).

Search planning: the count first; one esearch page when the result fits under PubMed's
9,999 cap, otherwise date-range bisection (``mindate``/``maxdate``/``datetype``) until every
slice fits. A single day that still holds more than 9,999 records (year-only publication
dates, bulk loads) is split along a second date: the create date ``[crdt]`` when the first
is the publication date, the publication date ``[dp]`` otherwise, written into the query
term as a date range and bisected the same way. Only a day that is one day in both dates
and still over the cap raises :class:`~review.errors.SearchError`. Every slice is recorded
in :attr:`ReviewPubMed.plan`; the union is reconciled with the count PubMed reported.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from pymed import PubMed

from review._numbers import is_pmid
from review.errors import OptionError, QueryError, RateLimited, SearchError, ServerError, Timeout

from ._articles import ReviewArticle, ReviewBookArticle

__all__ = [
    "ESEARCH_CAP",
    "EsearchResult",
    "RateLimiter",
    "ReviewPubMed",
    "date_range_term",
    "redact",
    "second_datetype",
]

log = logging.getLogger("review.search")

#: NCBI's E-utilities root.
BASE_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
#: PubMed's esearch serves at most this many IDs of one result (retstart <= 9998).
ESEARCH_CAP = 9999
#: NCBI asks for POST above about 200 IDs.
POST_ABOVE = 200
#: pymed's placeholder identity, refused.
_PLACEHOLDERS = {"my_tool", "my_email@example.com"}
_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s\"'#]+", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def redact(text: object, key: str | None = None) -> str:
    """``text`` with any ``api_key=...`` value (and the literal key, if given) replaced."""
    s = _KEY_IN_TEXT.sub(r"\1REDACTED", str(text))
    if key:
        s = s.replace(key, "REDACTED")
    return s


class _RedactedCause(Exception):
    """The original transport error, its text redacted (kept as ``__cause__``)."""


#: Spacing factor of the limiter (see :class:`RateLimiter`).
MARGIN = 1.15


class RateLimiter:
    """Sleeping, process-wide spacing of requests on a monotonic clock.

    A request may be sent only ``1.15 / rate`` seconds after the previous one, so any
    ``rate + 1`` requests span at least 1.15 s: no one-second window at the server holds
    more than ``rate`` of them even when arrivals jitter by up to 0.15 s (Biopython spaces
    requests 0.37 s apart for the same reason). The wait sleeps (no busy loop) and the send
    time is recorded before the request goes out, failures included.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = -float("inf")
        self.sent: int = 0

    def wait(self, rate: float) -> None:
        """Block until a request may be sent at ``rate`` requests a second, then record it."""
        interval = MARGIN / rate
        with self._lock:
            now = time.monotonic()
            delay = self._last + interval - now
            if delay > 0:
                time.sleep(delay)
                now = time.monotonic()
            self._last = now
            self.sent += 1


#: The one limiter of this process: every client shares it.
LIMITER = RateLimiter()


@dataclass(frozen=True, slots=True)
class EsearchResult:
    """One esearch answer: count, IDs, translation and in-band warnings."""

    count: int
    ids: tuple[str, ...]
    query_translation: str | None
    warnings: tuple[str, ...] = ()


#: One slice of a search: ``(mindate, maxdate, count)`` of the first date (``None, None``
#: for the unrestricted count), or, for a day split along the second date,
#: ``(day, day, count, other_datetype, other_min, other_max)``. Dates are ``YYYY/MM/DD``.
Slice = tuple[str | None, str | None, int] | tuple[str, str, int, str, str, str]


@dataclass
class PlanLog:
    """What the search planner did (for the methods section).

    ``slices`` lists every esearch answer whose IDs were taken (see :data:`Slice`): the
    unrestricted count first, then the slices that partition the result.
    """

    slices: list[Slice] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    requests: int = 0


def _parse_esearch(body: str) -> EsearchResult:
    """Parse an esearch body (JSON or XML), raising :class:`QueryError` on in-band errors."""
    text = body.lstrip()
    if text.startswith("{"):
        try:
            # strict=False: NCBI's ERROR text carries a raw newline (invalid JSON).
            data = json.loads(text, strict=False)
        except (json.JSONDecodeError, RecursionError) as e:
            raise SearchError(f"esearch answer is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise SearchError(f"esearch answer is not a JSON object: {text[:80]!r}")
        if "error" in data and "esearchresult" not in data:
            raise QueryError(f"esearch refused the request: {data['error']}")
        r = data.get("esearchresult", {})
        if r.get("ERROR"):
            raise QueryError(f"PubMed refused the query: {' '.join(str(r['ERROR']).split())}")
        errs = r.get("errorlist") or {}
        warns = r.get("warninglist") or {}
        count_s, ids = r.get("count"), list(r.get("idlist") or [])
        translation = r.get("querytranslation")
        error_items = [f"{k}: {v}" for k, vals in errs.items() for v in (vals or []) if v]
        warning_items = [f"{k}: {v}" for k, vals in warns.items() for v in (vals or []) if v]
    elif text.startswith("<"):
        from lxml import etree

        try:
            root = etree.fromstring(text.encode("utf-8"), etree.XMLParser(no_network=True))
        except etree.XMLSyntaxError as e:
            raise SearchError(f"esearch answer is not valid XML: {e}") from None
        if root.tag != "eSearchResult":
            raise SearchError(f"esearch answer is <{root.tag}>, not <eSearchResult>")
        if root.findtext("ERROR"):
            raise QueryError(f"PubMed refused the query: {root.findtext('ERROR')}")
        count_s = root.findtext("Count")
        ids = [i.text for i in root.findall("IdList/Id") if i.text]
        translation = root.findtext("QueryTranslation")
        el, wl = root.find("ErrorList"), root.find("WarningList")
        error_items = [f"{c.tag}: {c.text}" for c in (el if el is not None else []) if c.text]
        warning_items = [f"{c.tag}: {c.text}" for c in (wl if wl is not None else []) if c.text]
    else:
        raise SearchError(f"esearch answer is neither JSON nor XML: {text[:80]!r}")
    if error_items:
        raise QueryError("PubMed could not use part of the query: " + "; ".join(error_items))
    if count_s is None:
        raise SearchError("esearch answer has no count")
    return EsearchResult(
        int(count_s), tuple(str(i) for i in ids), translation, tuple(warning_items)
    )


def _fmt_date(d: dt.date) -> str:
    return d.strftime("%Y/%m/%d")


#: The earliest date a search range starts from (before any record PubMed holds).
FIRST_DAY = dt.date(1700, 1, 1)


def _last_day() -> dt.date:
    """The latest date a search range reaches: the end of the year five years from now."""
    return dt.date(dt.date.today().year + 5, 12, 31)


def _halves(
    lo: dt.date, hi: dt.date, ask: Callable[[dt.date, dt.date], EsearchResult]
) -> Iterator[tuple[dt.date, dt.date, EsearchResult]]:
    """Date ranges of ``lo``..``hi`` with ``ask``'s answer, halved while over the cap.

    Yields, earliest first, each range whose answer fits PubMed's cap and each single day
    whose answer still does not (the caller splits it another way or gives up).
    """
    stack = [(lo, hi)]
    while stack:
        lo, hi = stack.pop()
        r = ask(lo, hi)
        if r.count > ESEARCH_CAP and lo < hi:
            mid = lo + (hi - lo) // 2
            stack.append((mid + dt.timedelta(days=1), hi))
            stack.append((lo, mid))
            continue
        yield lo, hi, r


#: Search tags of the ``datetype`` values, for a date range written into a query term.
_DATE_TAGS = {"pdat": "dp", "crdt": "crdt", "edat": "edat"}


def second_datetype(datetype: str) -> str:
    """The date a day of ``datetype`` is split along when it alone exceeds the cap.

    The create date (``crdt``) for the publication date, the publication date (``pdat``)
    for any other. Not the Entrez date for the publication date: NLM sets EDAT equal to
    the publication date when a record enters PubMed more than twelve months after it was
    published [1]_, so the records of a bulk load of old citations would share both dates;
    their create dates (when the record was added) do differ from their publication dates.

    References
    ----------
    .. [1] NLM Technical Bulletin 2008 Nov-Dec, "Create Date - New Field Indicates When
       Record Added to PubMed",
       https://www.nlm.nih.gov/pubs/techbull/nd08/nd08_pm_new_date_field.html; the rule
       is also stated for ``PubStatus="entrez"`` in the PubMed DTD documentation,
       https://dtd.nlm.nih.gov/ncbi/pubmed/doc/out/190101/att-PubStatus.html
    """
    return "crdt" if datetype == "pdat" else "pdat"


def date_range_term(term: str, datetype: str, lo: dt.date, hi: dt.date) -> str:
    """``term`` restricted to ``lo``..``hi`` (inclusive) of ``datetype``, in the term itself.

    Gives ``(<term>) AND ("2019/01/01"[crdt] : "2019/06/30"[crdt])``. That a date field
    is "searchable and rangeable" with its search tag and a colon between the two ends is
    NLM's (Technical Bulletin,
    https://www.nlm.nih.gov/pubs/techbull/nd08/nd08_pm_new_date_field.html, example
    ``2007:2009 [crdt]``); the quoted, tagged full date at each end is the form PubMed's
    Advanced Search builder writes, as code that queries E-utilities uses it (not quoted
    from NCBI's text). Date searching in the PubMed User Guide:
    https://pubmed.ncbi.nlm.nih.gov/help/#searching-by-date
    """
    tag = _DATE_TAGS.get(datetype)
    if tag is None:
        raise OptionError(f"Invalid datetype {datetype!r}; must be one of {sorted(_DATE_TAGS)}")
    return f'({term}) AND ("{_fmt_date(lo)}"[{tag}] : "{_fmt_date(hi)}"[{tag}])'


class ReviewPubMed(PubMed):  # type: ignore[misc]  # pymed is untyped
    """pymed's :class:`pymed.PubMed` with a safe transport and complete searches.

    Parameters
    ----------
    tool, email : str, optional
        Sent with every request, as NCBI requires; read from ``NCBI_TOOL``/``NCBI_EMAIL``
        when not given. pymed's placeholders (``my_tool``, ``my_email@example.com``) are
        refused.
    api_key : str, optional
        NCBI API key; read from ``NCBI_API_KEY`` when not given. Raises the limit from 3
        to 10 requests a second. Never shown in a repr, a log, an error or a file: it is
        sent in the body of a POST, never in a URL.
    base_url : str
        E-utilities root (a stand-in server in tests).
    rate : float, optional
        Requests a second; default 3, or 10 with an API key. Values above NCBI's limit are
        refused unless ``base_url`` is a loopback address (tests).
    timeout : float or (connect, read)
        Seconds, on every request.
    max_tries : int
        Attempts per request for 429, 5xx, timeouts and connection errors.
    backoff : float
        First backoff in seconds; doubled each retry, with jitter, at most 60 s; a
        ``Retry-After`` header takes precedence.
    session : requests.Session, optional
        The session to use (one is made otherwise).
    """

    def __init__(
        self,
        tool: str | None = None,
        email: str | None = None,
        *,
        api_key: str | None = None,
        base_url: str = BASE_URL,
        rate: float | None = None,
        timeout: float | tuple[float, float] = (10.0, 60.0),
        max_tries: int = 4,
        backoff: float = 1.0,
        session: requests.Session | None = None,
    ) -> None:
        tool = tool or os.environ.get("NCBI_TOOL")
        email = email or os.environ.get("NCBI_EMAIL")
        if not tool or tool in _PLACEHOLDERS or re.search(r"\s", tool):
            raise OptionError(
                f"Invalid tool {tool!r}; NCBI needs your software's registered name without "
                "spaces: pass tool=... or set NCBI_TOOL (pymed's 'my_tool' is refused)"
            )
        if not email or email in _PLACEHOLDERS or not _EMAIL.match(email):
            raise OptionError(
                f"Invalid email {email!r}; NCBI needs the developer's real address: pass "
                "email=... or set NCBI_EMAIL (pymed's placeholder is refused)"
            )
        super().__init__(tool=tool, email=email)
        key = api_key if api_key is not None else os.environ.get("NCBI_API_KEY")
        self._api_key = key.strip() if key and key.strip() else None
        limit = 10.0 if self._api_key else 3.0
        loopback = bool(re.match(r"https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])[:/]", base_url))
        if rate is None:
            rate = limit
        if rate <= 0 or (rate > limit and not loopback):
            raise OptionError(f"Invalid rate {rate}; must be in (0, {limit:g}] for NCBI")
        self._rateLimit = rate
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_tries = max(1, int(max_tries))
        self.backoff = backoff
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", f"{tool} (review toolkit; {email})")
        self.plan = PlanLog()

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return (
            f"ReviewPubMed(tool={self.tool!r}, email={self.email!r}, api_key={key}, "
            f"rate={self._rateLimit:g}/s, base_url={self.base_url!r})"
        )

    @property
    def has_api_key(self) -> bool:
        """Whether an API key is sent (the key itself is never exposed)."""
        return self._api_key is not None

    # -- transport ---------------------------------------------------------------------

    def _exceededRateLimit(self) -> bool:
        # pymed's busy-wait check; the shared sleeping limiter replaces it.
        return False

    def _request(self, endpoint: str, params: dict[str, Any]) -> requests.Response:
        """Send one E-utilities request with limiter, timeout and retries."""
        params = {k: v for k, v in params.items() if v is not None}
        ids = params.get("id")
        if isinstance(ids, (list, tuple)):
            params["id"] = ",".join(str(i) for i in ids)
        n_ids = len(ids) if isinstance(ids, (list, tuple)) else 0
        long_term = len(str(params.get("term", ""))) > 1000
        # With an API key every request is a POST: the key then travels in the body and
        # never sits in a URL, where urllib3's debug log and requests' errors would show it.
        method = "POST" if n_ids > POST_ABOVE or long_term or self._api_key else "GET"
        if self._api_key:
            params["api_key"] = self._api_key
        url = f"{self.base_url}/{endpoint}"
        shown = f"{method} {endpoint}"
        last: str = ""
        kind: type[SearchError]  # the error raised once every attempt failed
        for attempt in range(1, self.max_tries + 1):
            LIMITER.wait(self._rateLimit)
            self.plan.requests += 1
            retry_after: float | None = None
            try:
                if method == "POST":
                    resp = self.session.post(url, data=params, timeout=self.timeout)
                else:
                    resp = self.session.get(url, params=params, timeout=self.timeout)
            except requests.Timeout as e:
                last, kind = f"timeout ({redact(e, self._api_key)})", Timeout
            except requests.ConnectionError as e:
                last, kind = f"connection error ({redact(e, self._api_key)})", ServerError
            except (
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as e:
                # the connection broke in the middle of the answer's body: as transient as a
                # refused connection, so retried the same way
                last = f"connection broken mid-answer ({redact(e, self._api_key)})"
                kind = ServerError
            except requests.RequestException as e:  # a bad URL, too many redirects: not transient
                raise SearchError(
                    f"{shown}: request failed: {redact(e, self._api_key)}"
                ) from _RedactedCause(type(e).__name__)
            else:
                if resp.status_code < 400:
                    return resp
                if resp.status_code == 429:
                    kind = RateLimited
                elif resp.status_code >= 500:
                    kind = ServerError
                else:
                    body = redact(resp.text[:300], self._api_key)
                    raise SearchError(f"{shown}: HTTP {resp.status_code}: {body}")
                last = f"HTTP {resp.status_code}"
                ra = resp.headers.get("Retry-After")
                if ra and ra.strip().isdigit():
                    retry_after = float(ra.strip())
            log.warning("%s failed (%s), attempt %d of %d", shown, last, attempt, self.max_tries)
            if attempt == self.max_tries:
                break
            delay = min(60.0, self.backoff * 2 ** (attempt - 1)) * (1 + random.random() / 4)
            time.sleep(retry_after if retry_after is not None else delay)
        raise kind(f"{shown}: {last} after {self.max_tries} attempts") from _RedactedCause(last)

    def _get(self, url: str, parameters: dict[str, Any], output: str = "json") -> Any:
        """pymed's transport hook, routed through :meth:`_request`."""
        endpoint = url.rstrip("/").rsplit("/", 1)[-1]
        params = dict(parameters)
        params["retmode"] = output
        resp = self._request(endpoint, params)
        if output == "json":
            return json.loads(resp.text, strict=False)
        return resp.text

    # -- searching ---------------------------------------------------------------------

    def esearch(
        self,
        term: str,
        *,
        retmax: int = 0,
        retstart: int = 0,
        mindate: str | None = None,
        maxdate: str | None = None,
        datetype: str = "pdat",
    ) -> EsearchResult:
        """One esearch call (JSON); in-band errors raise :class:`QueryError`."""
        if retmax > ESEARCH_CAP or retstart + retmax > ESEARCH_CAP:
            raise OptionError(f"Invalid retstart/retmax; PubMed serves at most {ESEARCH_CAP}")
        params = dict(self.parameters)
        params.update(
            term=term,
            retmax=retmax,
            retstart=retstart or None,
            retmode="json",
        )
        if mindate or maxdate:
            params.update(mindate=mindate, maxdate=maxdate, datetype=datetype)
        resp = self._request("esearch.fcgi", params)
        result = _parse_esearch(resp.text)
        for w in result.warnings:
            if w not in self.plan.warnings:
                self.plan.warnings.append(w)
        return result

    def getTotalResultsCount(self, query: str) -> int:
        """Count PubMed reports for ``query`` (in-band errors raise)."""
        return self.esearch(query).count

    def search_ids(
        self,
        term: str,
        *,
        datetype: str = "pdat",
        mindate: dt.date = FIRST_DAY,
        maxdate: dt.date | None = None,
        on_slice: Callable[[int], None] | None = None,
    ) -> tuple[list[str], EsearchResult]:
        """Every PMID of ``term``: one page under the cap, date bisection above it.

        Above PubMed's 9,999 cap the range ``mindate``..``maxdate`` of ``datetype`` is
        halved until each slice fits. A single day that still does not fit is split along
        :func:`second_datetype` (a date range in the term, see :func:`date_range_term`),
        halved the same way. Each slice is appended to ``self.plan.slices``.

        Returns the PMIDs (unique, ascending) and the unrestricted esearch answer (its
        ``count`` is what PubMed reported).

        Raises
        ------
        review.errors.SearchError
            One day of ``datetype`` and one day of the second date together hold more
            than 9,999 records: no date split can serve them.
        """
        if maxdate is None:
            maxdate = _last_day()
        first = self.esearch(term, retmax=ESEARCH_CAP)
        self.plan.slices.append((None, None, first.count))
        if first.count <= ESEARCH_CAP:
            ids = sorted(set(first.ids), key=int)
            if on_slice:
                on_slice(len(ids))
            return ids, first
        found: set[str] = set()

        def ask(lo: dt.date, hi: dt.date) -> EsearchResult:
            return self.esearch(
                term,
                retmax=ESEARCH_CAP,
                mindate=_fmt_date(lo),
                maxdate=_fmt_date(hi),
                datetype=datetype,
            )

        for lo, hi, r in _halves(mindate, maxdate, ask):
            if r.count <= ESEARCH_CAP:
                self.plan.slices.append((_fmt_date(lo), _fmt_date(hi), r.count))
                self._take(r.ids, found, on_slice)
            else:
                self._split_day(term, datetype, lo, r.count, found, on_slice)
        return sorted(found, key=int), first

    @staticmethod
    def _take(ids: Iterable[str], found: set[str], on_slice: Callable[[int], None] | None) -> None:
        new = set(ids) - found
        found.update(new)
        if on_slice and new:
            on_slice(len(new))

    def _split_day(
        self,
        term: str,
        datetype: str,
        day: dt.date,
        count: int,
        found: set[str],
        on_slice: Callable[[int], None] | None,
    ) -> None:
        """The PMIDs of one over-cap ``day`` of ``datetype``, bisected by the second date."""
        other = second_datetype(datetype)
        day_s = _fmt_date(day)
        log.info("%d records on %s (%s): splitting that day by %s", count, day_s, datetype, other)

        def ask(lo: dt.date, hi: dt.date) -> EsearchResult:
            return self.esearch(
                date_range_term(term, other, lo, hi),
                retmax=ESEARCH_CAP,
                mindate=day_s,
                maxdate=day_s,
                datetype=datetype,
            )

        served = 0
        for lo, hi, r in _halves(FIRST_DAY, _last_day(), ask):
            if r.count > ESEARCH_CAP:
                raise SearchError(
                    f"{r.count} records of the query {term!r} on the single day {day_s} "
                    f"({datetype}) and the single day {_fmt_date(lo)} ({other}): more than "
                    f"PubMed's esearch serves ({ESEARCH_CAP}) and no date splits them "
                    "further; narrow the query (e.g. by journal or publication type) and "
                    "run the parts separately"
                )
            self.plan.slices.append((day_s, day_s, r.count, other, _fmt_date(lo), _fmt_date(hi)))
            served += r.count
            self._take(r.ids, found, on_slice)
        if served != count:
            # The slices cover every date of the second field the planner asks for: a
            # shortfall means records dated outside them, or a database that changed while
            # it was searched.
            log.warning(
                "%s (%s): PubMed counted %d records on that day, its %s slices %d",
                day_s,
                datetype,
                count,
                other,
                served,
            )

    def efetch(self, ids: Iterable[str]) -> bytes:
        """Raw efetch XML of ``ids`` (POST above 200 IDs); each must be a PMID (OptionError)."""
        ids = [str(i).strip() for i in ids]
        bad = next((i for i in ids if not is_pmid(i)), None)
        if bad is not None:
            raise OptionError(f"Invalid PMID {bad!r}; a PMID is 1-9 ASCII digits")
        params = dict(self.parameters)
        params.update(id=ids, retmode="xml")
        return self._request("efetch.fcgi", params).content

    # pymed's hooks, repaired: complete, eager, in document order, typed articles.
    def _getArticleIds(self, query: str, max_results: int | None = None) -> list[str]:
        ids, _ = self.search_ids(query)
        if max_results is not None and max_results >= 0 and max_results < len(ids):
            log.warning("returning %d of %d PMIDs (max_results)", max_results, len(ids))
            ids = ids[:max_results]
        return ids

    def _getArticles(self, article_ids: list[str]) -> Iterator[Any]:
        from ._parse import _articles_in

        yield from _articles_in(self.efetch(article_ids))

    def query(self, query: str, max_results: int | None = None) -> list[Any]:
        """pymed's ``query``: every record by default (``max_results=None``), as a list."""
        ids = self._getArticleIds(query, max_results)
        out: list[ReviewArticle | ReviewBookArticle] = []
        for i in range(0, len(ids), 500):
            out.extend(self._getArticles(ids[i : i + 500]))
        return out
