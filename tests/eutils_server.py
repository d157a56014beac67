"""A stand-in NCBI E-utilities server for tests (127.0.0.1, ephemeral port, own thread).

It serves ``esearch.fcgi`` (JSON or XML, as asked) and ``efetch.fcgi`` (GET or POST) from a
synthetic corpus built from real efetch records (or a synthetic template), and behaves as
NCBI documents or was observed to:

* retmax is clamped to 9,999 and ``retstart > 9998`` gets NCBI's in-band JSON ``ERROR``
  with a raw newline (invalid JSON) at HTTP 200;
* more than ``rate_limit`` requests (``key_rate_limit`` with an ``api_key``) in any
  ``window`` seconds get HTTP 429 ``{"error":"API rate limit exceeded","count":"N"}``;
  every arrival counts, as NCBI counts them;
* every record has two dates, a publication date (``pdat``, search tag ``[dp]``) and a
  create date (``crdt``, also answering for ``edat``); ``mindate``/``maxdate`` filter on
  the one ``datetype`` names, and a term may end in date ranges written as PubMed writes
  them, ``(<term>) AND ("2019/01/01"[crdt] : "2019/06/30"[crdt])`` (nested for more);
* unknown search terms get ``errorlist.phrasesnotfound`` and a warning; a term mapped to
  an ``ERROR`` gets the in-band error;
* faults are injected on demand, in order (``"ok"`` lets a request through, to place a
  fault later): ``"500"``, ``"502"``, ``"503"``, ``"429"``,
  ``"timeout"`` (answer late), ``"reset"`` (close without answer), ``"reset-body"``
  (a chunked answer whose connection is reset half-way through the body), ``"html"`` (an
  HTML error page at HTTP 200), ``"truncated"`` (XML cut short).

Every request is logged (arrival time, endpoint, method, parameters with the API key
replaced by ``"<key>"``, status), so tests can count requests per window themselves.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

__all__ = ["Corpus", "EUtilsServer", "RequestLog", "make_template"]

HERE = Path(__file__).resolve().parent
SYNTHETIC_TEMPLATE = HERE / "data" / "pubmed" / "synthetic-template.xml"

_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>NCBI - WWW Error 500 Diagnostic</title></head>\n"
    b"<body><h1>Error</h1><p>An error has occurred while processing your request.<br>"
    b"This could be a transient problem, please try the query again.</p></body></html>\n"
)


def _reset_mid_body(h: BaseHTTPRequestHandler, status: int, ctype: str, body: bytes) -> None:
    """Start a chunked answer, send half the body, then reset the connection (TCP RST)."""
    try:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        half = body[: max(1, len(body) // 2)]
        h.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n")
        h.wfile.flush()
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.close_connection = True
        h.connection.close()
    except OSError:
        pass


def make_template(record_xml: str) -> str:
    """Turn one real ``<PubmedArticle>`` into a template with ``{pmid}`` and date slots.

    The record's own PMID (wherever it appears as the record's id, not in references)
    becomes ``{pmid}``, and the journal ``PubDate`` becomes ``{year}/{month}/{day}``.
    """
    m = re.search(r"<PMID[^>]*>(\d+)</PMID>", record_xml)
    if not m:
        raise ValueError("record has no PMID")
    own = m.group(1)
    t = record_xml.replace("{", "{{").replace("}", "}}")
    t = t.replace(f">{own}</PMID>", ">{pmid}</PMID>", 1)
    t = t.replace(
        f'<ArticleId IdType="pubmed">{own}</ArticleId>',
        '<ArticleId IdType="pubmed">{pmid}</ArticleId>',
    )
    t = t.replace(f"synthetic.{own}", "synthetic.{pmid}")  # the synthetic DOIs stay unique
    t = re.sub(
        r"<PubDate>.*?</PubDate>",
        "<PubDate><Year>{year}</Year><Month>{month:02d}</Month><Day>{day:02d}</Day></PubDate>",
        t,
        count=1,
        flags=re.DOTALL,
    )
    return t


def records_of(xml_text: str) -> list[str]:
    """The ``<PubmedArticle>`` elements of an efetch document, as text."""
    return re.findall(r"<PubmedArticle>.*?</PubmedArticle>", xml_text, flags=re.DOTALL)


#: Date fields the server knows, by ``datetype`` and by search tag.
_PUBLICATION = {"pdat", "dp"}
_CREATE = {"crdt", "edat"}
#: ``(<term>) AND ("lo"[tag] : "hi"[tag])``, the date range PubMed's search builder writes.
_RANGE_CLAUSE = re.compile(
    r'^\((?P<base>.*)\) AND \("(?P<lo>\d{4}(?:/\d{1,2}){0,2})"\[(?P<tag>[a-z]+)\] : '
    r'"(?P<hi>\d{4}(?:/\d{1,2}){0,2})"\[(?P=tag)\]\)$',
    re.IGNORECASE | re.DOTALL,
)


@dataclass
class Corpus:
    """Records the server knows: PMID -> (publication date, create date, XML text).

    ``created`` holds each record's create date (``crdt``/``edat``); a PMID missing from
    it was created on its publication date.
    """

    dates: dict[str, dt.date]
    templates: list[str]
    queries: dict[str, list[str] | str] = field(default_factory=dict)
    #: term -> warninglist output messages the server adds (e.g. phrases ignored)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    created: dict[str, dt.date] = field(default_factory=dict)
    _cache: dict[str, bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def synthetic(
        cls,
        n: int,
        *,
        templates: Iterable[str] | None = None,
        first_pmid: int = 30_000_000,
        start: dt.date = dt.date(2000, 1, 1),
        end: dt.date = dt.date(2024, 12, 31),
        query: str = "synthetic[all]",
        created_start: dt.date | None = None,
        created_end: dt.date | None = None,
    ) -> Corpus:
        """``n`` records with consecutive PMIDs and dates spread evenly over a range.

        Publication dates are spread over ``start``..``end``. Create dates are spread over
        ``created_start``..``created_end`` when given, else each falls 0-119 days after
        its record's publication date.
        """
        if templates is None:
            templates = [make_template(r) for r in records_of(SYNTHETIC_TEMPLATE.read_text())]
        templates = list(templates)
        span = (end - start).days
        dates = {
            str(first_pmid + i): start + dt.timedelta(days=(i * 7919) % (span + 1))
            for i in range(n)
        }
        if created_start is None and created_end is None:
            created = {
                pmid: d + dt.timedelta(days=(i * 37) % 120)
                for i, (pmid, d) in enumerate(dates.items())
            }
        else:
            c0 = created_start or created_end or start
            c1 = created_end or c0
            cspan = (c1 - c0).days
            created = {
                pmid: c0 + dt.timedelta(days=(i * 6007) % (cspan + 1))
                for i, pmid in enumerate(dates)
            }
        return cls(dates, templates, {query: list(dates)}, created=created)

    def date(self, pmid: str, datetype: str) -> dt.date:
        """The ``datetype`` date of ``pmid`` (publication or create date)."""
        if datetype.lower() in _CREATE:
            return self.created.get(pmid, self.dates[pmid])
        return self.dates[pmid]

    def xml(self, pmid: str) -> bytes:
        """The record of ``pmid`` as efetch would give it."""
        b = self._cache.get(pmid)
        if b is None:
            d = self.dates[pmid]
            t = self.templates[int(pmid) % len(self.templates)]
            b = t.format(pmid=pmid, year=d.year, month=d.month, day=d.day).encode("utf-8")
            self._cache[pmid] = b
        return b

    def search(self, term: str) -> list[str] | str | None:
        """PMIDs of ``term``; a ``str`` is an in-band ERROR; ``None``: phrase not found.

        Date ranges at the end of ``term`` (see the module docstring) filter the PMIDs of
        the term they wrap; a range on a field the server does not know is not found.
        """
        m = _RANGE_CLAUSE.match(term)
        if m is None:
            return self.queries.get(term)
        tag = m["tag"].lower()
        if tag not in _PUBLICATION | _CREATE:
            return None
        found = self.search(m["base"])
        if not isinstance(found, list):
            return found
        lo, hi = _parse_date(m["lo"], end=False), _parse_date(m["hi"], end=True)
        return [i for i in found if lo <= self.date(i, tag) <= hi]


@dataclass(frozen=True)
class RequestLog:
    """One request as the server saw it."""

    t: float
    endpoint: str
    method: str
    params: Mapping[str, str]
    has_key: bool
    status: int
    n_ids: int = 0


def _parse_date(s: str, end: bool) -> dt.date:
    parts = [int(p) for p in s.split("/")]
    if len(parts) == 1:
        return dt.date(parts[0], 12 if end else 1, 31 if end else 1)
    if len(parts) == 2:
        y, m = parts
        if not end:
            return dt.date(y, m, 1)
        nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
        return nxt - dt.timedelta(days=1)
    return dt.date(*parts)


class EUtilsServer:
    """The stand-in server; use as a context manager.

    Parameters
    ----------
    corpus : Corpus
    rate_limit, key_rate_limit : int
        Requests allowed per ``window`` seconds without and with an ``api_key``.
    window : float
        Length of the rate window in seconds.
    timeout_delay : float
        How late an injected ``"timeout"`` answers.
    """

    def __init__(
        self,
        corpus: Corpus,
        *,
        rate_limit: int = 3,
        key_rate_limit: int = 10,
        window: float = 1.0,
        timeout_delay: float = 1.5,
    ) -> None:
        self.corpus = corpus
        self.rate_limit = rate_limit
        self.key_rate_limit = key_rate_limit
        self.window = window
        self.timeout_delay = timeout_delay
        self.log: list[RequestLog] = []
        self._arrivals: dict[bool, deque[float]] = {False: deque(), True: deque()}
        self._faults: list[tuple[str, str | None, float | None]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.seen_keys: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> EUtilsServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                t = time.monotonic()
                q = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
                server._handle(self, "GET", q, t)

            def do_POST(self) -> None:
                t = time.monotonic()  # arrival: before the body is read
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8")
                q = parse_qs(body, keep_blank_values=True)
                for k, v in parse_qs(urlsplit(self.path).query).items():
                    q.setdefault(k, v)
                server._handle(self, "POST", q, t)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> EUtilsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to give the client (``.../entrez/eutils``)."""
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/entrez/eutils"

    # -- faults and statistics ------------------------------------------------------------
    def inject(
        self,
        fault: str,
        times: int = 1,
        *,
        endpoint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` requests (to ``endpoint``, if given) with ``fault``."""
        with self._lock:
            self._faults.extend([(fault, endpoint, retry_after)] * times)

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def max_in_window(self, window: float | None = None, *, key: bool | None = None) -> int:
        """Most requests that arrived within any ``window`` seconds (default the server's)."""
        w = self.window if window is None else window
        times = sorted(r.t for r in self.log if key is None or r.has_key == key)
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - w:
                j += 1
            best = max(best, i - j + 1)
        return best

    def count(self, endpoint: str | None = None, status: int | None = None) -> int:
        return sum(
            1
            for r in self.log
            if (endpoint is None or r.endpoint == endpoint)
            and (status is None or r.status == status)
        )

    # -- request handling -----------------------------------------------------------------
    def _take_fault(self, endpoint: str) -> tuple[str, float | None] | None:
        for i, (fault, ep, ra) in enumerate(self._faults):
            if ep is None or ep == endpoint:
                del self._faults[i]
                return fault, ra
        return None

    def _handle(
        self, h: BaseHTTPRequestHandler, method: str, q: dict[str, list[str]], now: float
    ) -> None:
        endpoint = urlsplit(h.path).path.rstrip("/").rsplit("/", 1)[-1]
        flat = {k: ",".join(v) for k, v in q.items()}
        key = flat.pop("api_key", None)
        ids = [i for v in q.get("id", []) for i in v.split(",") if i.strip()]
        with self._lock:
            if key:
                self.seen_keys.add(key)
            arrivals = self._arrivals[bool(key)]
            arrivals.append(now)
            while arrivals and arrivals[0] <= now - self.window:
                arrivals.popleft()
            limit = self.key_rate_limit if key else self.rate_limit
            over = len(arrivals) > limit
            fault = None if over else self._take_fault(endpoint)
            shown = dict(flat)
            if key:
                shown["api_key"] = "<key>"
        status, ctype, body, headers = 200, "application/json", b"", {}
        recorded = False
        if over:
            status = 429
            body = json.dumps(
                {"error": "API rate limit exceeded", "count": str(len(arrivals))}
            ).encode()
        elif fault is not None:
            kind, ra = fault
            if kind in ("500", "502", "503"):
                status, ctype, body = int(kind), "text/html", _HTML_PAGE
            elif kind == "429":
                status = 429
                body = b'{"error":"API rate limit exceeded","count":"4"}'
                if ra is not None:
                    headers["Retry-After"] = str(int(ra))
            elif kind == "reset":
                self._record(now, endpoint, method, shown, key, 0, len(ids))
                h.close_connection = True
                try:
                    h.connection.shutdown(2)
                except OSError:
                    pass
                return
            elif kind == "timeout":
                status, ctype, body = self._answer(endpoint, flat, ids)
                self._record(now, endpoint, method, shown, key, status, len(ids))
                recorded = True  # logged on arrival: the client may give up before the answer
                time.sleep(self.timeout_delay)
            elif kind == "ok":  # a placeholder: lets requests through before later faults
                status, ctype, body = self._answer(endpoint, flat, ids)
            elif kind == "html":
                status, ctype, body = 200, "text/html", _HTML_PAGE
            elif kind == "truncated":
                status, ctype, body = self._answer(endpoint, flat, ids)
                body = body[: max(1, len(body) * 2 // 3)]
            elif kind == "reset-body":
                status, ctype, body = self._answer(endpoint, flat, ids)
                self._record(now, endpoint, method, shown, key, status, len(ids))
                _reset_mid_body(h, status, ctype, body)
                return
            else:
                raise ValueError(f"unknown fault {kind!r}")
        else:
            status, ctype, body = self._answer(endpoint, flat, ids)
        if not recorded:
            self._record(now, endpoint, method, shown, key, status, len(ids))
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
        except OSError:  # the client gave up (timeout): nothing to do
            pass

    def _record(
        self,
        t: float,
        endpoint: str,
        method: str,
        params: dict[str, str],
        key: str | None,
        status: int,
        n_ids: int,
    ) -> None:
        with self._lock:
            self.log.append(RequestLog(t, endpoint, method, params, bool(key), status, n_ids))

    def _answer(self, endpoint: str, p: dict[str, str], ids: list[str]) -> tuple[int, str, bytes]:
        if endpoint == "esearch.fcgi":
            return self._esearch(p)
        if endpoint == "efetch.fcgi":
            return self._efetch(ids)
        return 404, "text/html", b"<html><body>Not found</body></html>"

    def _esearch(self, p: dict[str, str]) -> tuple[int, str, bytes]:
        term = p.get("term", "")
        retmode = p.get("retmode", "xml")
        retmax = int(p.get("retmax") or 20)
        retstart = int(p.get("retstart") or 0)
        if retstart > 9998:
            # NCBI's answer, raw newline included (not valid JSON for a strict parser).
            msg = (
                "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. "
                "For PubMed, ESearch can only retrieve the first 9,999 records matching "
                "the query. To obtain more than 9,999 PubMed records, consider using "
                "EDirect that contains additional logic to batch PubMed search results "
                "automatically so that an arbitrary number can be retrieved. For details "
                "see https://www.ncbi.nlm.nih.gov/books/NBK25499/"
            )
            head = '{"header":{"type":"esearch","version":"0.3"},"esearchresult":'
            body = head + '{"ERROR":"' + msg + '"}}'
            return 200, "application/json", body.encode()
        found = self.corpus.search(term)
        errors: dict[str, list[str]] = {}
        warnings: dict[str, list[str]] = {}
        if isinstance(found, str):
            body = json.dumps({"esearchresult": {"ERROR": found}})
            return 200, "application/json", body.encode()
        if found is None:
            ids: list[str] = []
            errors = {"phrasesnotfound": [term], "fieldsnotfound": []}
            warnings = {
                "phrasesignored": [],
                "quotedphrasesnotfound": [],
                "outputmessages": ["No items found."],
            }
        else:
            ids = found
            if term in self.corpus.warnings:
                warnings = {"phrasesignored": self.corpus.warnings[term]}
            if p.get("mindate") or p.get("maxdate"):
                lo = _parse_date(p.get("mindate") or "1000", end=False)
                hi = _parse_date(p.get("maxdate") or "3000", end=True)
                datetype = p.get("datetype") or "pdat"
                ids = [i for i in ids if lo <= self.corpus.date(i, datetype) <= hi]
        ids = sorted(ids, key=int, reverse=True)
        count = len(ids)
        retmax = min(retmax, 9999)
        page = ids[retstart : retstart + retmax]
        if retmode == "json":
            r: dict[str, object] = {
                "count": str(count),
                "retmax": str(len(page)),
                "retstart": str(retstart),
                "idlist": page,
                "translationset": [],
                "querytranslation": term,
            }
            if errors:
                r["errorlist"] = errors
            if warnings:
                r["warninglist"] = warnings
            out = {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": r}
            return 200, "application/json", json.dumps(out).encode()
        xml = (
            f'<?xml version="1.0" encoding="UTF-8" ?>\n<eSearchResult><Count>{count}</Count>'
            f"<RetMax>{len(page)}</RetMax><RetStart>{retstart}</RetStart><IdList>"
            + "".join(f"<Id>{i}</Id>" for i in page)
            + f"</IdList><QueryTranslation>{term}</QueryTranslation>"
        )
        if errors:
            xml += (
                "<ErrorList>"
                + "".join(
                    f"<PhraseNotFound>{t}</PhraseNotFound>" for t in errors["phrasesnotfound"]
                )
                + "</ErrorList>"
            )
        xml += "</eSearchResult>"
        return 200, "text/xml", xml.encode()

    def _efetch(self, ids: list[str]) -> tuple[int, str, bytes]:
        if not ids:
            return (
                200,
                "text/xml",
                (
                    b'<?xml version="1.0" ?>\n<eFetchResult>'
                    b"<ERROR>Empty id list - nothing todo</ERROR></eFetchResult>"
                ),
            )
        parts = [
            b'<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD '
            b'PubMedArticle, 1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/'
            b'out/pubmed_250101.dtd">\n<PubmedArticleSet>\n'
        ]
        for i in ids:
            if i in self.corpus.dates:
                parts.append(self.corpus.xml(i))
                parts.append(b"\n")
        parts.append(b"</PubmedArticleSet>\n")
        return 200, "text/xml", b"".join(parts)
