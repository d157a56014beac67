"""pymed's article classes, repaired by subclassing (defects P1-P12 of the pymed audit).

Every ``_extract*`` method pymed calls from ``_initializeFromXML`` is overridden with a
path scoped to the record (never ``.//`` into the ReferenceList), text taken with
``itertext()`` (inline markup and MathML kept as text), and nothing printed. New fields are
added as ``__slots__``. :meth:`ReviewArticle.to_record` maps an article onto the shared record
schema (:data:`review._schema.RECORD_COLUMNS`).

The classes work on ``lxml`` and ``xml.etree`` elements alike.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree
from pymed.article import PubMedArticle
from pymed.book import PubMedBookArticle

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
#: CommentsCorrections types kept on an article: retractions, errata, concerns, updates.
NOTICE_TYPES = frozenset(
    {
        "RetractionIn",
        "PartialRetractionIn",
        "ErratumIn",
        "ExpressionOfConcernIn",
        "UpdateIn",
        "RepublishedIn",
        "RetractionOf",
        "ErratumFor",
    }
)
_LxmlElement = etree._Element
_STRING = etree.XPath("string()", smart_strings=False)
_YEAR = re.compile(r"\b(1[5-9]\d\d|2\d\d\d)\b")


def _index(el: Any) -> dict[str, list[Any]]:
    """Children of ``el`` by tag: one pass instead of a path search per field."""
    d: dict[str, list[Any]] = {}
    if el is None:
        return d
    for c in el:
        tag = c.tag
        if isinstance(tag, str):  # lxml yields comments and PIs too
            d.setdefault(tag, []).append(c)
    return d


def _one(d: dict[str, list[Any]], tag: str) -> Any:
    v = d.get(tag)
    return v[0] if v else None


def text_of(el: Any) -> str | None:
    """Whole text of an element (markup kept as text), whitespace collapsed; None if empty."""
    if el is None:
        return None
    if len(el) == 0:
        t = el.text
        if not t:
            return None
    elif isinstance(el, _LxmlElement):
        t = _STRING(el)  # XPath string(): libxml2 joins the text nodes, no Python loop
    else:
        t = "".join(el.itertext())
    s = fold(t)
    return s or None


def fold(t: str) -> str:
    """``" ".join(t.split())``: whitespace runs to one space, none at the ends.

    Most ASCII text is already folded; it is returned as is after a few C-level scans
    instead of being split into words and joined again. The characters checked are every
    ASCII character ``str.split`` treats as whitespace.
    """
    if t.isascii() and not (
        t[:1] == " "
        or t[-1:] == " "
        or "  " in t
        or "\n" in t
        or "\t" in t
        or "\r" in t
        or "\x0b" in t
        or "\x0c" in t
        or "\x1c" in t
        or "\x1d" in t
        or "\x1e" in t
        or "\x1f" in t
    ):
        return t
    return " ".join(t.split())


def _leaf(el: Any) -> str | None:
    if el is None:
        return None
    t = el.text
    if len(el) or not t:
        return text_of(el)
    return t.strip() or None


def _texts(els: Any) -> list[str]:
    out = []
    for el in els or ():
        t = text_of(el)
        if t:
            out.append(t)
    return out


def _month_number(value: str | None) -> int | None:
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        n = int(v)
        return n if 1 <= n <= 12 else None
    return _MONTHS.get(v[:3].lower())


def partial_date(el: Any) -> tuple[str | None, int | None]:
    """A PubDate/ArticleDate element as ``(date string, year)``, never inventing a part.

    ``Year`` + ``Month`` + ``Day`` gives ``YYYY-MM-DD``, fewer parts give ``YYYY-MM`` or
    ``YYYY``; a ``Season`` gives ``YYYY Season``; a ``MedlineDate`` is kept as written
    (``1998 Dec-1999 Jan``) and its first year is the year.
    """
    if el is None:
        return None, None
    medline_el = year_el = season_el = month_el = day_el = None
    for c in el:  # the first child of each kind, in one pass
        tag = c.tag
        if tag == "Year":
            if year_el is None:
                year_el = c
        elif tag == "Month":
            if month_el is None:
                month_el = c
        elif tag == "Day":
            if day_el is None:
                day_el = c
        elif tag == "MedlineDate":
            if medline_el is None:
                medline_el = c
        elif tag == "Season":
            if season_el is None:
                season_el = c
    medline = _leaf(medline_el)
    if medline:
        m = _YEAR.search(medline)
        return medline, (int(m.group(1)) if m else None)
    year = _leaf(year_el) or ""
    if not year.isdigit():
        return None, None
    season = _leaf(season_el)
    if season:
        return f"{year} {season}", int(year)
    month = _month_number(_leaf(month_el))
    if month is None:
        return year, int(year)
    day = _leaf(day_el) or ""
    if day.isdigit() and 1 <= int(day) <= 31:
        return f"{year}-{month:02d}-{int(day):02d}", int(year)
    return f"{year}-{month:02d}", int(year)


def abstract_sections(abstract_el: Any) -> list[dict[str, str | None]]:
    """The ``AbstractText`` children of one ``Abstract`` (never ``OtherAbstract``)."""
    if abstract_el is None:
        return []
    out = []
    for a in abstract_el:
        if a.tag != "AbstractText":
            continue
        t = text_of(a)
        if t is None:
            continue
        out.append({"label": a.get("Label"), "category": a.get("NlmCategory"), "text": t})
    return out


def join_sections(sections: list[dict[str, str | None]]) -> str | None:
    """Sections as ``LABEL: text`` joined by blank lines (unlabelled sections as text)."""
    if not sections:
        return None
    parts = [f"{s['label']}: {s['text']}" if s["label"] else str(s["text"]) for s in sections]
    return "\n\n".join(parts)


def _section(sections: list[dict[str, str | None]], category: str) -> str | None:
    # NlmCategory first (it normalises "PATIENTS AND METHODS" to METHODS), then the label.
    hits = [s["text"] for s in sections if (s["category"] or "").upper() == category]
    if not hits:
        stem = category.rstrip("S")
        hits = [s["text"] for s in sections if stem in (s["label"] or "").upper()]
    return "\n\n".join(str(h) for h in hits) if hits else None


def _author(a: Any) -> dict[str, Any]:
    # One pass over the children: the parser's hot loop (records list many authors).
    last = fore = initials = collective = orcid = None
    affs: list[str] = []
    for c in a:
        tag = c.tag
        if tag == "LastName":
            last = c.text.strip() if len(c) == 0 and c.text else text_of(c)
        elif tag == "ForeName":
            fore = c.text.strip() if len(c) == 0 and c.text else text_of(c)
        elif tag == "Initials":
            initials = c.text.strip() if c.text else None
        elif tag == "AffiliationInfo":
            for x in c:
                if x.tag == "Affiliation":
                    t = text_of(x)
                    if t:
                        affs.append(t)
        elif tag == "CollectiveName":
            collective = text_of(c)
        elif tag == "Identifier" and c.get("Source") == "ORCID":
            orcid = _leaf(c)
    return {
        "lastname": last or None,
        "firstname": fore or None,
        "initials": initials or None,
        "collective": collective,
        "affiliation": affs or None,
        "orcid": orcid,
    }


def author_label(a: dict[str, Any]) -> str | None:
    """``Last Initials`` (or the collective name) as the record schema wants it."""
    if a.get("collective"):
        return str(a["collective"])
    last = a.get("lastname")
    if not last:
        return None
    initials = a.get("initials")
    if not initials and a.get("firstname"):
        initials = "".join(p[0] for p in str(a["firstname"]).replace("-", " ").split())
    return f"{last} {initials}" if initials else str(last)


def _mesh(mesh_list: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if mesh_list is None:
        return out
    for h in mesh_list:
        desc = None
        quals = []
        for c in h:
            if c.tag == "DescriptorName":
                desc = c
            elif c.tag == "QualifierName":
                quals.append(
                    {"name": _leaf(c), "ui": c.get("UI"), "major": c.get("MajorTopicYN") == "Y"}
                )
        if desc is None:
            continue
        out.append(
            {
                "descriptor": _leaf(desc),
                "ui": desc.get("UI"),
                "major": desc.get("MajorTopicYN") == "Y" or any(q["major"] for q in quals),
                "qualifiers": quals,
            }
        )
    return out


def _doi_from(id_list: Any, elocations: Any) -> str | None:
    if id_list is not None:
        for a in id_list:
            if a.get("IdType") == "doi" and a.text and a.text.strip():
                doi: str = a.text.strip().lower()  # lxml is untyped: its text is Any
                return doi
    for e in elocations or ():
        if e.get("EIdType") == "doi" and e.get("ValidYN", "Y") == "Y" and e.text:
            edoi: str = e.text.strip().lower()
            return edoi
    return None


class ReviewArticle(PubMedArticle):  # type: ignore[misc]  # pymed is untyped
    """A ``PubmedArticle`` read whole: pymed's fields repaired, missing fields added.

    Attributes added to pymed's: ``abstract_sections`` (list of ``{label, category, text}``),
    ``publication_types``, ``mesh`` (``{descriptor, ui, major, qualifiers}``), ``language``,
    ``volume``, ``issue``, ``pages``, ``pmcid``, ``article_date``, ``year``,
    ``comments_corrections`` (``{type, pmid}`` of retraction, erratum, concern and update
    notices, :data:`NOTICE_TYPES`).
    ``publication_date`` is the journal issue date as a partial-date string (never the
    PubMed entry date).
    """

    __slots__ = (
        "_art",
        "_issue",
        "_mc",
        "_pdata",
        "abstract_sections",
        "article_date",
        "comments_corrections",
        "issue",
        "language",
        "mesh",
        "pages",
        "pmcid",
        "publication_types",
        "volume",
        "year",
    )

    def _initializeFromXML(self, xml_element: Any) -> None:
        # Children indexed once per level; every extractor reads the record's own parts
        # (MedlineCitation, its Article, PubmedData), never the ReferenceList.
        top = _index(xml_element)
        mc = _index(_one(top, "MedlineCitation"))
        art = _index(_one(mc, "Article"))
        pdata = _index(_one(top, "PubmedData"))
        journal = _index(_one(art, "Journal"))
        issue = _index(_one(journal, "JournalIssue"))
        self._mc, self._art, self._pdata, self._issue = mc, art, pdata, issue
        self._art["_Journal"] = [journal]
        self.abstract_sections = abstract_sections(_one(art, "Abstract"))
        super()._initializeFromXML(xml_element)
        self.publication_types = _texts(
            [c for lst in art.get("PublicationTypeList", ()) for c in lst]
        )
        self.mesh = _mesh(_one(mc, "MeshHeadingList"))
        self.language = _leaf(_one(art, "Language"))
        self.volume = _leaf(_one(issue, "Volume"))
        self.issue = _leaf(_one(issue, "Issue"))
        self.pages = _leaf(_one(_index(_one(art, "Pagination")), "MedlinePgn"))
        self.pmcid = None
        for a in _one(pdata, "ArticleIdList") if pdata.get("ArticleIdList") else ():
            if a.get("IdType") == "pmc":
                self.pmcid = _leaf(a)
        self.article_date = partial_date(_one(art, "ArticleDate"))[0]
        # Only the notices that matter for screening; a record may cite dozens of others.
        self.comments_corrections = [
            {"type": c.get("RefType"), "pmid": _leaf(_one(_index(c), "PMID"))}
            for lst in mc.get("CommentsCorrectionsList", ())
            for c in lst
            if c.get("RefType") in NOTICE_TYPES
        ]
        del self._mc, self._art, self._pdata, self._issue

    # pymed calls these from _initializeFromXML; each is scoped to this record.
    def _extractPubMedId(self, xml_element: Any) -> str | None:
        pmid = _leaf(_one(self._mc, "PMID"))
        if not pmid:
            for a in _one(self._pdata, "ArticleIdList") if self._pdata.get("ArticleIdList") else ():
                if a.get("IdType") == "pubmed":
                    pmid = _leaf(a)
                    break
        return pmid

    def _extractTitle(self, xml_element: Any) -> str | None:
        return text_of(_one(self._art, "ArticleTitle")) or text_of(
            _one(self._art, "VernacularTitle")
        )

    def _extractKeywords(self, xml_element: Any) -> list[str]:
        return _texts([k for lst in self._mc.get("KeywordList", ()) for k in lst])

    def _extractJournal(self, xml_element: Any) -> str | None:
        return text_of(_one(_one(self._art, "_Journal"), "Title"))

    def _extractAbstract(self, xml_element: Any) -> str | None:
        return join_sections(self.abstract_sections)

    def _extractConclusions(self, xml_element: Any) -> str | None:
        return _section(self.abstract_sections, "CONCLUSIONS")

    def _extractMethods(self, xml_element: Any) -> str | None:
        return _section(self.abstract_sections, "METHODS")

    def _extractResults(self, xml_element: Any) -> str | None:
        return _section(self.abstract_sections, "RESULTS")

    def _extractCopyrights(self, xml_element: Any) -> str | None:
        return text_of(_one(_index(_one(self._art, "Abstract")), "CopyrightInformation"))

    def _extractDoi(self, xml_element: Any) -> str | None:
        return _doi_from(_one(self._pdata, "ArticleIdList"), self._art.get("ELocationID"))

    def _extractPublicationDate(self, xml_element: Any) -> str | None:
        date, year = partial_date(_one(self._issue, "PubDate"))
        if year is None:  # no issue date at all: fall back to the electronic date
            date, year = partial_date(_one(self._art, "ArticleDate"))
        self.year = year
        return date

    def _extractAuthors(self, xml_element: Any) -> list[dict[str, Any]]:
        return [
            _author(a) for lst in self._art.get("AuthorList", ()) for a in lst if a.tag == "Author"
        ]

    def to_record(self) -> dict[str, Any]:
        """The article as one row of the shared record schema (plus extra columns)."""
        return {
            "record_id": f"pubmed:{self.pubmed_id}",
            "source": "PubMed",
            "pmid": self.pubmed_id,
            "doi": self.doi,
            "title": self.title,
            "abstract": self.abstract,
            "authors": [x for x in (author_label(a) for a in self.authors) if x],
            "journal": self.journal,
            "year": self.year,
            "pub_date": self.publication_date,
            "publication_types": self.publication_types,
            "mesh_terms": [m["descriptor"] + ("*" if m["major"] else "") for m in self.mesh],
            "keywords": self.keywords,
            "language": self.language,
            "article_type": "journal-article",
            "book_title": None,
            "volume": self.volume,
            "issue": self.issue,
            "pages": self.pages,
            "pmcid": self.pmcid,
            "article_date": self.article_date,
        }


class ReviewBookArticle(PubMedBookArticle):  # type: ignore[misc]  # pymed is untyped
    """A ``PubmedBookArticle`` (e.g. a GeneReviews chapter) read whole.

    ``title`` is the chapter title (``BookDocument/ArticleTitle``) when there is one, and
    ``book_title`` the book's; ``authors`` are the chapter's authors and ``editors`` the
    book's editors; ``keywords`` and the abstract's labelled sections are kept.
    """

    __slots__ = (
        "_bd",
        "_bookdata",
        "abstract_sections",
        "book_title",
        "editors",
        "keywords",
        "publication_types",
        "xml",
        "year",
    )

    def _initializeFromXML(self, xml_element: Any) -> None:
        bd = xml_element.find("BookDocument")
        self._bd = bd
        self._bookdata = xml_element.find("PubmedBookData")
        self.abstract_sections = abstract_sections(bd.find("Abstract") if bd is not None else None)
        self.book_title = text_of(bd.find("Book/BookTitle")) if bd is not None else None
        super()._initializeFromXML(xml_element)
        self.keywords = _texts(bd.findall("KeywordList/Keyword")) if bd is not None else []
        self.publication_types = _texts(bd.findall("PublicationType")) if bd is not None else []
        self.editors = (
            [_author(a) for a in bd.findall("Book/AuthorList[@Type='editors']/Author")]
            if bd is not None
            else []
        )
        self.xml = xml_element
        del self._bd, self._bookdata

    def _extractPubMedId(self, xml_element: Any) -> str | None:
        pmid = self._bd.findtext("PMID") if self._bd is not None else None
        if not pmid and self._bookdata is not None:
            pmid = self._bookdata.findtext("ArticleIdList/ArticleId[@IdType='pubmed']")
        return pmid.strip() if pmid else None

    def _extractTitle(self, xml_element: Any) -> str | None:
        if self._bd is None:
            return None
        return text_of(self._bd.find("ArticleTitle")) or self.book_title

    def _extractAbstract(self, xml_element: Any) -> str | None:
        return join_sections(self.abstract_sections)

    def _extractCopyrights(self, xml_element: Any) -> str | None:
        return (
            text_of(self._bd.find("Abstract/CopyrightInformation"))
            if self._bd is not None
            else None
        )

    def _extractDoi(self, xml_element: Any) -> str | None:
        if self._bd is None:
            return None
        doi = _doi_from(self._bd.find("ArticleIdList"), self._bd.findall("ELocationID"))
        if doi is None and self._bookdata is not None:
            doi = _doi_from(self._bookdata.find("ArticleIdList"), [])
        return doi

    def _extractIsbn(self, xml_element: Any) -> str | None:
        return self._bd.findtext("Book/Isbn") if self._bd is not None else None

    def _extractLanguage(self, xml_element: Any) -> str | None:
        return self._bd.findtext("Language") if self._bd is not None else None

    def _extractPublicationType(self, xml_element: Any) -> str | None:
        return text_of(self._bd.find("PublicationType")) if self._bd is not None else None

    def _extractPublicationDate(self, xml_element: Any) -> str | None:
        date, year = partial_date(self._bd.find("Book/PubDate") if self._bd is not None else None)
        self.year = year
        return date

    def _extractPublisher(self, xml_element: Any) -> str | None:
        return (
            text_of(self._bd.find("Book/Publisher/PublisherName")) if self._bd is not None else None
        )

    def _extractPublisherLocation(self, xml_element: Any) -> str | None:
        if self._bd is None:
            return None
        return text_of(self._bd.find("Book/Publisher/PublisherLocation"))

    def _extractAuthors(self, xml_element: Any) -> list[dict[str, Any]]:
        if self._bd is None:
            return []
        chapter = self._bd.findall("AuthorList[@Type='authors']/Author")
        if not chapter:
            chapter = [
                a
                for lst in self._bd.findall("AuthorList")
                if lst.get("Type") in (None, "authors")
                for a in lst.findall("Author")
            ]
        if not chapter:
            chapter = self._bd.findall("Book/AuthorList[@Type='authors']/Author")
        return [_author(a) for a in chapter]

    def _extractSections(self, xml_element: Any) -> list[dict[str, Any]]:
        if self._bd is None:
            return []
        return [
            {"title": text_of(s.find("SectionTitle")), "chapter": text_of(s.find("LocationLabel"))}
            for s in self._bd.findall("Sections/Section")
        ]

    def to_record(self) -> dict[str, Any]:
        """The book article as one row of the shared record schema (plus extra columns)."""
        return {
            "record_id": f"pubmed:{self.pubmed_id}",
            "source": "PubMed",
            "pmid": self.pubmed_id,
            "doi": self.doi,
            "title": self.title,
            "abstract": self.abstract,
            "authors": [x for x in (author_label(a) for a in self.authors) if x],
            "journal": self.book_title,
            "year": self.year,
            "pub_date": self.publication_date,
            "publication_types": self.publication_types,
            "mesh_terms": [],
            "keywords": self.keywords,
            "language": self.language,
            "article_type": "book-article",
            "book_title": self.book_title,
            "volume": None,
            "issue": None,
            "pages": None,
            "pmcid": None,
            "article_date": None,
        }


class _Unusual(Exception):
    """A record shape the one-pass readers leave to the classes (which read it)."""


def _author_label_of(a: Any) -> str | None:
    """:func:`author_label` of an ``Author`` element, in one pass (no affiliations)."""
    last = fore = initials = collective = None
    for c in a:
        tag = c.tag
        if tag == "LastName":
            t = c.text
            last = t.strip() if t and not len(c) else text_of(c)
        elif tag == "ForeName":
            t = c.text
            fore = t.strip() if t and not len(c) else text_of(c)
        elif tag == "Initials":
            t = c.text
            initials = t.strip() if t else None
        elif tag == "CollectiveName":
            collective = text_of(c)
    if collective:
        return collective
    if not last:
        return None
    if not initials and fore:
        initials = "".join(p[0] for p in fore.replace("-", " ").split())
    return f"{last} {initials}" if initials else last


def article_record(elem: Any) -> dict[str, Any]:
    """``ReviewArticle(xml_element=elem).to_record()``, read in one pass over the record.

    The parser's hot path: the same helpers and the same record, without building the
    fields the record does not show (affiliations, ORCIDs, abstract parts, notices) or the
    pymed object. Tested equal to the class path on every fixture record.
    """
    mc = pdata = None
    for c in elem:
        tag = c.tag
        if tag == "MedlineCitation":
            if mc is None:
                mc = c
        elif tag == "PubmedData":
            if pdata is None:
                pdata = c
    pmid = art = mesh_list = None
    keywords: list[str] = []
    if mc is not None:
        for c in mc:
            tag = c.tag
            if tag == "Article":
                if art is None:
                    art = c
            elif tag == "PMID":
                if pmid is None:
                    pmid = c
            elif tag == "MeshHeadingList":
                if mesh_list is None:
                    mesh_list = c
            elif tag == "KeywordList":
                for k in c:
                    t = text_of(k)
                    if t:
                        keywords.append(t)
    title = vernacular = journal_el = abstract_el = language = pagination = None
    article_date = None
    elocations = []
    authors: list[str] = []
    ptypes: list[str] = []
    if art is not None:
        for c in art:
            tag = c.tag
            if tag == "Journal":
                if journal_el is None:
                    journal_el = c
            elif tag == "ArticleTitle":
                if title is None:
                    title = c
            elif tag == "AuthorList":
                for a in c:
                    if a.tag == "Author":
                        x = _author_label_of(a)
                        if x:
                            authors.append(x)
            elif tag == "Abstract":
                if abstract_el is None:
                    abstract_el = c
            elif tag == "ELocationID":
                elocations.append(c)
            elif tag == "PublicationTypeList":
                for p in c:
                    t = text_of(p)
                    if t:
                        ptypes.append(t)
            elif tag == "Language":
                if language is None:
                    language = c
            elif tag == "Pagination":
                if pagination is None:
                    pagination = c
            elif tag == "ArticleDate":
                if article_date is None:
                    article_date = c
            elif tag == "VernacularTitle":
                if vernacular is None:
                    vernacular = c
    journal_title = issue_el = None
    if journal_el is not None:
        for c in journal_el:
            tag = c.tag
            if tag == "Title":
                if journal_title is None:
                    journal_title = c
            elif tag == "JournalIssue":
                if issue_el is None:
                    issue_el = c
    volume = issue = pub_date = None
    if issue_el is not None:
        for c in issue_el:
            tag = c.tag
            if tag == "Volume":
                if volume is None:
                    volume = c
            elif tag == "Issue":
                if issue is None:
                    issue = c
            elif tag == "PubDate":
                if pub_date is None:
                    pub_date = c
    id_list = None
    if pdata is not None:
        for c in pdata:
            if c.tag == "ArticleIdList":
                id_list = c
                break
    pmid_s = _leaf(pmid)
    pmcid = None
    fallback = not pmid_s  # the first pubmed ArticleId, as ReviewArticle reads it
    if id_list is not None:
        for a in id_list:
            t = a.get("IdType")
            if t == "pmc":
                pmcid = _leaf(a)
            elif t == "pubmed" and fallback:
                pmid_s = _leaf(a)
                fallback = False
    date, year = partial_date(pub_date)
    electronic = partial_date(article_date)[0] if article_date is not None else None
    if year is None:
        date, year = partial_date(article_date)
    pages = None
    if pagination is not None:
        for c in pagination:
            if c.tag == "MedlinePgn":
                pages = _leaf(c)
                break
    mesh_terms = []
    if mesh_list is not None:
        for h in mesh_list:  # _mesh(), keeping only what mesh_terms shows
            desc = None
            major = False
            for c in h:
                tag = c.tag
                if tag == "DescriptorName":
                    desc = c
                elif tag == "QualifierName" and c.get("MajorTopicYN") == "Y":
                    major = True
            if desc is None:
                continue
            d = _leaf(desc)
            if d is None:
                raise _Unusual  # the class path raises its own error
            mesh_terms.append(d + "*" if major or desc.get("MajorTopicYN") == "Y" else d)
    abstract = None
    if abstract_el is not None:  # join_sections(abstract_sections(...)), without the dicts
        parts = []
        for a in abstract_el:
            if a.tag != "AbstractText":
                continue
            t = text_of(a)
            if t is None:
                continue
            label = a.get("Label")
            parts.append(f"{label}: {t}" if label else t)
        abstract = "\n\n".join(parts) or None
    return {
        "record_id": f"pubmed:{pmid_s}",
        "source": "PubMed",
        "pmid": pmid_s,
        "doi": _doi_from(id_list, elocations),
        "title": text_of(title) or text_of(vernacular),
        "abstract": abstract,
        "authors": authors,
        "journal": text_of(journal_title),
        "year": year,
        "pub_date": date,
        "publication_types": ptypes,
        "mesh_terms": mesh_terms,
        "keywords": keywords,
        "language": _leaf(language),
        "article_type": "journal-article",
        "book_title": None,
        "volume": _leaf(volume),
        "issue": _leaf(issue),
        "pages": pages,
        "pmcid": pmcid,
        "article_date": electronic,
    }


def book_record(elem: Any) -> dict[str, Any]:
    """``ReviewBookArticle(xml_element=elem).to_record()``, read in one pass.

    Raises ``_Unusual`` for a record without exactly one ``BookDocument/Book`` (the class
    path reads those).
    """
    bd = bookdata = None
    for c in elem:
        tag = c.tag
        if tag == "BookDocument":
            if bd is None:
                bd = c
        elif tag == "PubmedBookData":
            if bookdata is None:
                bookdata = c
    if bd is None:
        raise _Unusual
    pmid = title = abstract_el = language = id_list = book = None
    elocations = []
    ptypes: list[str] = []
    keywords: list[str] = []
    typed: list[Any] = []  # Author elements of AuthorList Type="authors"
    untyped: list[Any] = []  # ... of an AuthorList without Type
    for c in bd:
        tag = c.tag
        if tag == "PMID":
            if pmid is None:
                pmid = c
        elif tag == "ArticleTitle":
            if title is None:
                title = c
        elif tag == "Book":
            if book is not None:
                raise _Unusual
            book = c
        elif tag == "AuthorList":
            t = c.get("Type")
            if t == "authors":
                typed.extend(a for a in c if a.tag == "Author")
            elif t is None:
                untyped.extend(a for a in c if a.tag == "Author")
        elif tag == "Abstract":
            if abstract_el is None:
                abstract_el = c
        elif tag == "ELocationID":
            elocations.append(c)
        elif tag == "ArticleIdList":
            if id_list is None:
                id_list = c
        elif tag == "Language":
            if language is None:
                language = c
        elif tag == "PublicationType":
            t = text_of(c)
            if t:
                ptypes.append(t)
        elif tag == "KeywordList":
            for k in c:
                if k.tag == "Keyword":
                    t = text_of(k)
                    if t:
                        keywords.append(t)
    if book is None:
        raise _Unusual
    book_title_el = pub_date = None
    book_authors: list[Any] = []
    for c in book:
        tag = c.tag
        if tag == "BookTitle":
            if book_title_el is None:
                book_title_el = c
        elif tag == "PubDate":
            if pub_date is None:
                pub_date = c
        elif tag == "AuthorList" and c.get("Type") == "authors":
            book_authors.extend(a for a in c if a.tag == "Author")
    book_title = text_of(book_title_el)
    pmid_s = pmid.text if pmid is not None else None
    if not pmid_s and bookdata is not None:
        pmid_s = bookdata.findtext("ArticleIdList/ArticleId[@IdType='pubmed']")
    pmid_s = pmid_s.strip() if pmid_s else None
    doi = _doi_from(id_list, elocations)
    if doi is None and bookdata is not None:
        doi = _doi_from(bookdata.find("ArticleIdList"), [])
    date, year = partial_date(pub_date)
    authors = []
    for a in typed or untyped or book_authors:
        x = _author_label_of(a)
        if x:
            authors.append(x)
    return {
        "record_id": f"pubmed:{pmid_s}",
        "source": "PubMed",
        "pmid": pmid_s,
        "doi": doi,
        "title": text_of(title) or book_title,
        "abstract": join_sections(abstract_sections(abstract_el)),
        "authors": authors,
        "journal": book_title,
        "year": year,
        "pub_date": date,
        "publication_types": ptypes,
        "mesh_terms": [],
        "keywords": keywords,
        "language": (language.text or "") if language is not None else None,
        "article_type": "book-article",
        "book_title": book_title,
        "volume": None,
        "issue": None,
        "pages": None,
        "pmcid": None,
        "article_date": None,
    }
