"""PubMed search through pymed (subclassed and repaired), and search snapshots.

Public entry points::

    from review.search import search_pubmed, parse_pubmed_xml, load_snapshot

pymed 0.8.9 stays the named dependency; :class:`ReviewPubMed`, :class:`ReviewArticle` and
:class:`ReviewBookArticle` subclass its client and article classes to repair the defects of
``../shared/notes/pymed-audit.md`` (transport T1-T9, searching S1-S8, parsing P1-P12).
"""

from __future__ import annotations

from ._articles import ReviewArticle, ReviewBookArticle
from ._parse import parse_pubmed_xml

__all__ = [
    "ReviewArticle",
    "ReviewBookArticle",
    "parse_pubmed_xml",
]
