"""PubMed search through pymed (subclassed and repaired), and search snapshots.

Public entry points::

    from review.search import search_pubmed, parse_pubmed_xml, load_snapshot

pymed 0.8.9 stays the named dependency; :class:`ReviewPubMed`, :class:`ReviewArticle` and
:class:`ReviewBookArticle` subclass its client and article classes to repair the defects of
``../shared/notes/pymed-audit.md`` (transport T1-T9, searching S1-S8, parsing P1-P12).

A notebook loads the saved search offline and searches live only when asked::

    snap = search_pubmed(QUERY, snapshot=paths.snapshot("pubmed"), live=LIVE_SEARCH)
    snap.records  # DataFrame in the shared record schema
    new_since(old_snap, snap)  # living-review update
"""

from __future__ import annotations

from ._articles import ReviewArticle, ReviewBookArticle
from ._client import ESEARCH_CAP, EsearchResult, ReviewPubMed, redact
from ._parse import iter_pubmed_records, parse_pubmed_xml
from ._retrieve import retrieve, search_pubmed
from ._snapshot import Snapshot, load_snapshot, new_since, save_snapshot

__all__ = [
    "ESEARCH_CAP",
    "EsearchResult",
    "ReviewArticle",
    "ReviewBookArticle",
    "ReviewPubMed",
    "Snapshot",
    "iter_pubmed_records",
    "load_snapshot",
    "new_since",
    "parse_pubmed_xml",
    "redact",
    "retrieve",
    "save_snapshot",
    "search_pubmed",
]
