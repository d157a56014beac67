"""Other databases' exports (RIS and CSV) read into the shared record schema.

PubMed records come from :mod:`review.search`; every other database arrives as an export
file that a reviewer downloaded: RIS from Embase, Scopus, Web of Science and Cochrane
CENTRAL (plus Web of Science's own tagged "plain text" format), or CSV. The functions here
turn such a file into a records DataFrame with exactly :data:`RECORD_COLUMNS` first (see
``docs/DESIGN.md``), one row per record, each row remembering the database it came from.

The count matters: it is the "records identified" box of the PRISMA 2020 flow diagram
(Page et al. 2021). So the file is checked line by line before rispy reads it, and anything
that would change the count is an error that names the file, the line, the record and the
field, never a silent guess. Two known failure modes of other readers are tested here: a
continuation line that merely *starts* with "ER" (synthesisr counted 730 records for 729,
synthesisr #16) and a last record without its ``ER`` end tag (rispy drops it silently).

Tag conventions (synthetic fixtures in ``tests/data/imports/`` follow them):

========== ================================ ==========================================
source     title / authors / abstract       journal / year / PMID / database id
========== ================================ ==========================================
Embase     ``T1`` / ``A1`` / ``N2``         ``JF`` / ``Y1`` / ``C5`` (*) / ``U2``
Scopus     ``TI`` / ``AU`` / ``AB``         ``T2`` / ``PY`` / ``C2`` / EID in ``UR``
WoS (RIS)  ``TI`` / ``AU`` / ``AB``         ``T2`` / ``PY`` / (none) / ``AN`` (WOS:...)
WoS (txt)  ``TI`` / ``AU`` / ``AB``         ``SO`` / ``PY`` / ``PM`` / ``UT``
CENTRAL    ``TI`` / ``AU`` / ``AB``         ``JO`` / ``PY`` / ``AN`` "PUBMED n" / ``ID``
PubMed RIS ``TI`` / ``AU`` / ``AB``         ``JO``/``T2`` / ``PY`` / ``AN`` / (PMID)
========== ================================ ==========================================

(*) read as a PMID only when it is 1-8 digits. These conventions were taken from exports
seen in the wild, not from vendor documentation; ``AN``, ``N1``, ``M1`` or ``ID`` lines of
the form ``PMID: n`` / ``PUBMED n`` are read in every source. A wrong PMID would merge
records, so a PMID that is not digits is an error, never a guess.

Any RIS file is read with the generic fallbacks (``TI``/``T1``, ``AU``/``A1``, ``AB``/``N2``,
``JF``/``JO``/``T2``/``JA``/``J2``, ``PY``/``Y1``/``DA``, ``DO``), so an export from another
database works once its ``source`` is named.

References
----------
Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated guideline
for reporting systematic reviews. *BMJ* 2021;372:n71.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import rispy
from rispy.config import TYPE_OF_REFERENCE_MAPPING

from review._schema import RECORD_COLUMNS, clean_doi, normalise_records
from review.errors import CSVImportError, InputError, OptionError, RISError

__all__ = [
    "RECORD_COLUMNS",
    "SOURCES",
    "combine_records",
    "load_review_records",
    "normalise_author",
    "read_csv_export",
    "read_ris",
]

#: Known databases: slug used in ``record_id`` -> name kept in the ``source`` column.
SOURCES: Mapping[str, str] = {
    "pubmed": "PubMed",
    "embase": "Embase",
    "scopus": "Scopus",
    "wos": "Web of Science",
    "central": "Cochrane CENTRAL",
    "medline": "MEDLINE",
}

_ALIASES = {
    "pubmed": "pubmed",
    "embase": "embase",
    "scopus": "scopus",
    "wos": "wos",
    "web of science": "wos",
    "webofscience": "wos",
    "web of science core collection": "wos",
    "central": "central",
    "cochrane": "central",
    "cochrane central": "central",
    "cochrane library": "central",
    "medline": "medline",
}

#: Extra columns an import adds after the schema's.
EXTRA_COLUMNS: tuple[str, ...] = ("article_type", "volume", "issue", "pages", "accession")

# ---------------------------------------------------------------------------------------
# small normalisers
# ---------------------------------------------------------------------------------------

_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_DOI_IN_TEXT = re.compile(r"(10\.\d{4,9}/[^\s\"<>]+)")
_INITIALS = re.compile(r"^(?:[A-Z]\.?-?){1,4}$")
_LANGUAGES = {
    "english": "eng", "french": "fre", "german": "ger", "spanish": "spa", "italian": "ita",
    "chinese": "chi", "japanese": "jpn", "portuguese": "por", "russian": "rus", "dutch": "dut",
    "korean": "kor", "polish": "pol", "turkish": "tur", "swedish": "swe", "danish": "dan",
    "norwegian": "nor", "czech": "cze", "hungarian": "hun", "greek": "gre", "arabic": "ara",
    "hebrew": "heb", "persian": "per", "finnish": "fin",
}  # fmt: skip


def normalise_author(name: str) -> str | None:
    """An author name in the schema's ``Last Initials`` form; collective names kept as given.

    ``"Smith, John A."``, ``"Smith, J.A."`` and ``"Smith J.A."`` all become ``"Smith JA"``;
    a name without a comma whose last word is not initials (``"Hip Arthroplasty Study Group"``) is a
    collective name and is kept.

    Examples
    --------
    >>> normalise_author("van der Berg, Anna-Maria")
    'van der Berg AM'
    >>> normalise_author("Smith J.A.")
    'Smith JA'
    >>> normalise_author("Nordic Lymphoma Group")
    'Nordic Lymphoma Group'
    """
    s = " ".join(str(name).split()).strip(" ;,")
    if not s:
        return None
    if "," in s:
        last, given = (p.strip() for p in s.split(",", 1))
        if not last:
            return given or None
        initials = "".join(
            # "AB" (Web of Science) is two initials; "Anna" gives one
            p if (p.isupper() and p.isalpha() and len(p) <= 3) else p[0].upper()
            for p in re.split(r"[\s.\-]+", given)
            if p[:1].isalpha()
        )
        return f"{last} {initials}" if initials else last
    tokens = s.split(" ")
    if len(tokens) >= 2 and _INITIALS.match(tokens[-1]):
        initials = "".join(ch for ch in tokens[-1] if ch.isalpha())
        return f"{' '.join(tokens[:-1])} {initials}"
    return s


def _year(value: str | None) -> int | None:
    if not value:
        return None
    m = _YEAR.search(value)
    return int(m.group(1)) if m else None


def _ris_date(value: str | None) -> str | None:
    """``2020/05/03/`` -> ``2020-05-03``; ``2020//`` -> ``2020``; other forms kept as given."""
    if not value:
        return None
    v = value.strip()
    if re.fullmatch(r"\d{4}(/\d{0,2}){0,3}/?[^/]*", v) and "/" in v:
        parts = [p for p in v.split("/")[:3] if p.strip().isdigit()]
        return "-".join([parts[0]] + [p.zfill(2) for p in parts[1:]]) if parts else None
    return v or None


def _language(value: str | None) -> str | None:
    if not value:
        return None
    first = re.split(r"[;,]", value)[0].strip()
    low = first.lower()
    if low in _LANGUAGES:
        return _LANGUAGES[low]
    return low or None


def _source_slug(source: str) -> tuple[str, str]:
    """(slug for record ids, name for the ``source`` column) of a database name."""
    key = " ".join(str(source).lower().replace("_", " ").split())
    if key in _ALIASES:
        slug = _ALIASES[key]
        return slug, SOURCES[slug]
    slug = re.sub(r"[^a-z0-9]+", "_", key).strip("_")
    if not slug:
        raise OptionError(f"Invalid source {source!r}; give the database's name, e.g. 'Embase'")
    return slug, str(source).strip()


def _source_from_filename(path: Path) -> str | None:
    stem = path.stem.lower()
    for needle, slug in (
        ("embase", "embase"), ("scopus", "scopus"), ("wos", "wos"),
        ("webofscience", "wos"), ("web_of_science", "wos"), ("savedrecs", "wos"),
        ("central", "central"), ("cochrane", "central"), ("medline", "medline"),
    ):  # fmt: skip
        if needle in stem:
            return slug
    return None


def _read_text(path: Path, encoding: str, error: type[InputError]) -> str:
    """The file's text, decoded strictly; a bad byte is an error naming its line."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise error(f"cannot read the file: {e.strerror or e}", path=path) from e
    try:
        text = data.decode(
            "utf-8-sig" if encoding.lower().replace("_", "-") == "utf-8" else encoding
        )
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        bad = data[e.start : e.start + 1].hex()
        head = data[: e.start].decode(encoding, errors="replace").splitlines()
        n_records = sum(1 for ln in head if ln.startswith(("TY  -", "PT ")))
        rec = f" (record {n_records})" if n_records and error is RISError else ""
        err = error(
            f"byte 0x{bad} is not valid {encoding}{rec}; re-export the file as UTF-8 or "
            f"pass encoding= (e.g. 'latin-1')",
            path=path,
            row=line,
        )
        err.record = n_records or None  # type: ignore[attr-defined]
        raise err from e
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------------------------------
# RIS
# ---------------------------------------------------------------------------------------

_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_RIS_BAD = re.compile(r"^([A-Za-z][A-Za-z0-9])(?:\s{1,4}-|  -\S)")
_WOS_TAG = re.compile(r"^([A-Z][A-Z0-9])(?: (.*))?$")


@dataclass
class _Rec:
    ordinal: int
    line: int
    tag_lines: dict[str, int] = field(default_factory=dict)


def _risk(path: Path, line: int, ordinal: int | None, tag: str | None, msg: str) -> RISError:
    where = f"record {ordinal}: " if ordinal else ""
    err = RISError(where + msg, path=path, row=line, column=tag)
    err.record = ordinal  # type: ignore[attr-defined]
    return err


def _scan_ris(path: Path, lines: list[str]) -> tuple[list[_Rec], str]:
    """Check a RIS file's structure line by line; return its records and the cleaned text."""
    recs: list[_Rec] = []
    keep: list[str] = []
    cur: _Rec | None = None
    last_tag: str | None = None
    for i, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        m = _RIS_TAG.match(line)
        if m is None:
            b = _RIS_BAD.match(line)
            if b is not None:
                raise _risk(
                    path, i, cur.ordinal if cur else None, b.group(1),
                    f"tag line in bad form {line[:20]!r}: a RIS tag line is two capitals, "
                    "two spaces, a hyphen and a space ('TI  - ')",
                )  # fmt: skip
            if cur is None:
                raise _risk(
                    path, i, None, None, f"text outside a record {line[:30]!r} (expected 'TY  - ')"
                )
            if last_tag == "TY":
                raise _risk(
                    path, i, cur.ordinal, "TY", f"continuation line after TY: {line[:30]!r}"
                )
            keep.append(line)
            continue
        tag = m.group(1)
        if tag == "TY":
            if cur is not None:
                raise _risk(
                    path, cur.line, cur.ordinal, "ER",
                    f"no 'ER  - ' end tag before the next record starts at line {i}",
                )  # fmt: skip
            cur = _Rec(ordinal=len(recs) + 1, line=i)
        elif cur is None:
            raise _risk(path, i, None, tag, f"tag {tag} outside a record (expected 'TY  - ' first)")
        elif tag == "ER":
            recs.append(cur)
            cur = None
        else:
            cur.tag_lines.setdefault(tag, i)
        last_tag = tag
        keep.append(line)
    if cur is not None:
        raise _risk(
            path, cur.line, cur.ordinal, "ER",
            "the file ends inside this record: no 'ER  - ' end tag (truncated export?)",
        )  # fmt: skip
    return recs, "\n".join(keep)


def _scan_wos(path: Path, lines: list[str]) -> tuple[list[_Rec], str]:
    """Check a Web of Science tagged ("plain text") export; records run from PT to ER."""
    recs: list[_Rec] = []
    keep: list[str] = []
    cur: _Rec | None = None
    for i, raw in enumerate(lines, 1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.startswith("   ") and cur is not None:
            keep.append(line)
            continue
        m = _WOS_TAG.match(line)
        if m is None:
            raise _risk(
                path, i, cur.ordinal if cur else None, None,
                f"line in bad form {line[:20]!r}: expected a two-letter tag and a space, "
                "or a continuation line indented by three spaces",
            )  # fmt: skip
        tag = m.group(1)
        if tag in ("FN", "VR", "EF") and cur is None:
            keep.append(line)
            continue
        if tag == "PT":
            if cur is not None:
                raise _risk(
                    path, cur.line, cur.ordinal, "ER", f"no ER before the next record at line {i}"
                )
            cur = _Rec(ordinal=len(recs) + 1, line=i)
        elif cur is None:
            raise _risk(path, i, None, tag, f"tag {tag} outside a record (expected 'PT ' first)")
        elif tag == "ER":
            recs.append(cur)
            cur = None
        else:
            cur.tag_lines.setdefault(tag, i)
        keep.append(line)
    if cur is not None:
        raise _risk(path, cur.line, cur.ordinal, "ER", "the file ends inside this record: no ER")
    return recs, "\n".join(keep)


def _first(rec: Mapping[str, Any], *tags: str) -> str | None:
    for t in tags:
        v = rec.get(t)
        if v:
            s = " ".join(" ".join(v).split()) if isinstance(v, list) else " ".join(str(v).split())
            if s:
                return s
    return None


def _all(rec: Mapping[str, Any], *tags: str, split: str | None = None) -> list[str]:
    out: list[str] = []
    for t in tags:
        v = rec.get(t) or []
        for item in v if isinstance(v, list) else [v]:
            parts = item.split(split) if split else [item]
            out.extend(p.strip() for p in parts if p.strip())
    return out


def _detect_source(rec: Mapping[str, Any], wos_tagged: bool) -> str | None:
    if wos_tagged:
        return "wos"
    db = (_first(rec, "DB", "DP") or "").lower()
    if "embase" in db:
        return "embase"
    if "scopus" in db:
        return "scopus"
    if "web of science" in db or "wos" in db:
        return "wos"
    if "cochrane" in db or "central" in db:
        return "central"
    if "medline" in db:
        return "medline"
    if "pubmed" in db:
        return "pubmed"
    urls = " ".join(_all(rec, "UR", "L2", "US")).lower()
    ids = " ".join(_all(rec, "AN", "ID", "U2")).upper()
    if "scopus.com" in urls:
        return "scopus"
    if "embase.com" in urls:
        return "embase"
    if "cochranelibrary.com" in urls or re.search(r"\bCN-\d+", ids):
        return "central"
    if "WOS:" in ids or "webofscience" in urls or "webofknowledge" in urls:
        return "wos"
    return None


def _pmid_candidates(
    rec: Mapping[str, Any], slug: str, wos_tagged: bool
) -> list[tuple[str, str, bool]]:
    """(tag, raw value, strict) triples that hold this record's PubMed ID.

    ``strict`` candidates must be digits (an error otherwise); lenient ones are used only
    when they look like a PMID (1-8 digits): Embase's ``C5`` is read that way because its
    content is not documented to us with certainty, and a wrong PMID would merge records.
    """
    found: list[tuple[str, str, bool]] = []
    if wos_tagged:
        found += [("PM", v, True) for v in _all(rec, "PM")]
    elif slug == "scopus":
        found += [("C2", v, True) for v in _all(rec, "C2")]
    elif slug == "embase":
        found += [("C5", v, False) for v in _all(rec, "C5")]
    # "PMID: 123" / "PUBMED 123" accession lines (Cochrane CENTRAL, Ovid) in any source
    for t in ("AN", "N1", "M1", "ID"):
        for v in _all(rec, t):
            m = re.fullmatch(r"(?:PMID|PUBMED)[:\s]+(\S+)", v.strip(), flags=re.IGNORECASE)
            if m:
                found.append((t, m.group(1), True))
    if slug in ("medline", "pubmed") and not found:  # PubMed's and Ovid MEDLINE's RIS: AN
        found += [("AN", v, True) for v in _all(rec, "AN")]
    return found


def _ris_row(
    rec: Mapping[str, Any], meta: _Rec, slug: str, name: str, path: Path, wos_tagged: bool
) -> dict[str, Any]:
    def fail(tag: str, msg: str) -> RISError:
        return _risk(path, meta.tag_lines.get(tag, meta.line), meta.ordinal, tag, msg)

    pmids: list[str] = []
    for tag, value, strict in _pmid_candidates(rec, slug, wos_tagged):
        v = value.strip()
        if not strict and not re.fullmatch(r"\d{1,8}", v):
            continue
        if not v.isdigit():
            raise fail(tag, f"PubMed ID {value!r} is not digits only")
        if v not in pmids:
            if pmids:
                raise fail(tag, f"a second PubMed ID {v} (after {pmids[0]}); a record has one")
            pmids.append(v)

    doi = _first(rec, "DI" if wos_tagged else "DO")
    if doi is None:
        for u in _all(rec, "UR", "L2", "L3"):
            if "doi" in u.lower():
                m = _DOI_IN_TEXT.search(u)
                if m:
                    doi = m.group(1)
                    break
    if doi is not None:
        doi = clean_doi(doi)
        if doi is not None and not doi.startswith("10."):
            raise fail("DI" if wos_tagged else "DO", f"DOI {doi!r} does not start with '10.'")

    if wos_tagged:
        title = _first(rec, "TI")
        authors = _all(rec, "AU") + _all(rec, "CA")
        journal = _first(rec, "SO")
        year_raw = _first(rec, "PY")
        pd_raw = _first(rec, "PD")
        pub_date = " ".join(x for x in (year_raw, pd_raw.title() if pd_raw else None) if x) or None
        abstract = _first(rec, "AB")
        keywords = _all(rec, "DE", split=";")
        language = _first(rec, "LA")
        article_type = _first(rec, "DT")
        pages = "-".join(x for x in (_first(rec, "BP"), _first(rec, "EP")) if x) or _first(
            rec, "AR"
        )
        accession = _first(rec, "UT")
    else:
        title = _first(rec, "TI", "T1", "CT")
        authors = _all(rec, "AU") or _all(rec, "A1")
        journal = _first(rec, "JF", "JO", "T2", "JA", "J2")
        year_raw = _first(rec, "PY", "Y1", "DA")
        pub_date = _ris_date(_first(rec, "DA", "Y1", "PY"))
        abstract = _first(rec, "AB", "N2")
        keywords = _all(rec, "KW")
        language = _first(rec, "LA")
        ty = _first(rec, "TY")
        article_type = _first(rec, "M3") or TYPE_OF_REFERENCE_MAPPING.get(ty or "", ty)
        pages = "-".join(x for x in (_first(rec, "SP"), _first(rec, "EP")) if x) or None
        accession = None
        if slug == "scopus":
            m = re.search(r"eid=([\w.-]+)", " ".join(_all(rec, "UR")))
            accession = m.group(1) if m else None
        accession = accession or _first(rec, "U2" if slug == "embase" else "AN", "ID", "AN")
    year = _year(year_raw)
    return {
        "record_id": f"{slug}:{meta.ordinal}",
        "source": name,
        "pmid": pmids[0] if pmids else None,
        "doi": doi,
        "title": title or "",
        "abstract": abstract,
        "authors": [a for a in (normalise_author(x) for x in authors) if a],
        "journal": journal,
        "year": year,
        "pub_date": pub_date,
        "publication_types": [],
        "mesh_terms": [],
        "keywords": keywords,
        "language": _language(language),
        "article_type": article_type,
        "volume": _first(rec, "VL"),
        "issue": _first(rec, "IS"),
        "pages": pages,
        "accession": accession,
        "_year_raw": year_raw,
    }


def _finish(
    rows: list[dict[str, Any]], path: Path, ordinal_lines: list[int], kind: str
) -> pd.DataFrame:
    """Warn once about records with no title or an unreadable year; build the frame."""
    no_title = [(r["record_id"], ln) for r, ln in zip(rows, ordinal_lines) if not r["title"]]
    bad_year = [
        (r["record_id"], r["_year_raw"]) for r in rows if r["_year_raw"] and r["year"] is None
    ]
    notes = []
    if no_title:
        notes.append(
            f"{len(no_title)} {kind} without a title (kept, title left empty): "
            + ", ".join(f"{rid} (line {ln})" for rid, ln in no_title[:5])
            + (" ..." if len(no_title) > 5 else "")
        )
    if bad_year:
        notes.append(
            f"{len(bad_year)} {kind} with no readable year (year left empty): "
            + ", ".join(f"{rid} ({raw!r})" for rid, raw in bad_year[:5])
        )
    for note in notes:
        warnings.warn(f"{path}: {note}", stacklevel=3)
    for r in rows:
        del r["_year_raw"]
    if rows:
        df = normalise_records(pd.DataFrame.from_records(rows))
    else:
        df = normalise_records(pd.DataFrame(columns=[*RECORD_COLUMNS, *EXTRA_COLUMNS]))
    df.attrs["path"] = str(path)
    df.attrs["notes"] = tuple(notes)
    return df


def read_ris(
    path: str | os.PathLike[str],
    *,
    source: str | None = None,
    id_prefix: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a RIS export (or a Web of Science tagged export) into the record schema.

    Parameters
    ----------
    path : path-like
        The export, as downloaded. RIS (``TY  - `` ... ``ER  - ``) from Embase, Scopus,
        Web of Science or Cochrane CENTRAL, or Web of Science's tagged "plain text" format
        (``FN``/``PT`` ... ``ER``/``EF``), recognised by its first line.
    source : str, optional
        The database, e.g. ``"Embase"``, ``"Scopus"``, ``"Web of Science"``,
        ``"Cochrane CENTRAL"``, or any other name. When omitted it is inferred per record
        (``DB`` tag, URLs, accession numbers), falling back to the file name
        (``embase.ris``, ``scopus_2026.ris``, ``savedrecs.txt`` ...).
    id_prefix : str, optional
        Prefix of the record ids (default: the source's slug, ``embase``, ``wos`` ...).
        Give a distinct one (``"scopus2"``) when two exports of the same database are read.
    encoding : str
        The file's encoding; bytes that do not decode are an error (no silent replacement).

    Returns
    -------
    pandas.DataFrame
        One row per record, in file order: :data:`RECORD_COLUMNS`, then ``article_type``
        (the database's document type, e.g. ``Conference Abstract``), ``volume``, ``issue``,
        ``pages`` and ``accession`` (the database's own id). ``record_id`` is
        ``<prefix>:<n>``, ``n`` the record's ordinal in the file (1-based).
        ``publication_types`` and ``mesh_terms`` are empty (PubMed vocabularies);
        the database's index terms go to ``keywords``.

    Raises
    ------
    review.errors.RISError
        The file cannot be read, a byte does not decode, a record has no ``ER`` end tag,
        a tag line is in bad form (``TI - x``, ``TI  -x``, ``ti  - x``), text stands outside
        a record, a PubMed ID is not digits or a DOI not a DOI, or the source cannot be
        inferred. ``row`` is the 1-based line, ``column`` the tag, ``record`` the ordinal.

    Warns
    -----
    UserWarning
        Records without a title or with an unreadable year (kept; listed in ``df.attrs``).

    Notes
    -----
    A continuation line is any line that is not a tag line; only ``ER  - `` ends a record,
    so an abstract line starting with "ER stress" is text (synthesisr #16 counted such a
    line as an end tag). rispy does the reading; the count is checked against the
    structure pass and a difference is an error.

    Examples
    --------
    >>> from review.paths import REPO_ROOT
    >>> df = read_ris(REPO_ROOT / "tests/data/imports/scopus.ris")
    >>> df["source"].unique().tolist()
    ['Scopus']
    """
    p = Path(path)
    text = _read_text(p, encoding, RISError)
    lines = text.split("\n")
    first = next((ln for ln in lines if ln.strip()), "")
    wos_tagged = first.startswith(("FN ", "PT ")) and not _RIS_TAG.match(first)
    if wos_tagged:
        recs, clean = _scan_wos(p, lines)
        impl: type[rispy.RisParser] = rispy.WokParser
    else:
        recs, clean = _scan_ris(p, lines)
        impl = rispy.RisParser
    tags = sorted({t for r in recs for t in r.tag_lines} | {"TY", "PT", "ER"})
    parsed = rispy.loads(
        clean,
        implementation=impl,
        mapping={**{t: t for t in tags}, "UK": "UK"},
        list_tags=[t for t in tags if t not in ("TY", "PT", "ER")],
        delimiter_tags_mapping={},
        ignore=["FN", "VR", "EF"] if wos_tagged else [],
    )
    if len(parsed) != len(recs):
        raise RISError(
            f"rispy read {len(parsed)} records where the file has {len(recs)} "
            "(TY ... ER blocks); refusing a count that would change PRISMA's 'identified' box",
            path=p,
        )
    given = _source_slug(source) if source is not None else None
    fallback = _source_from_filename(p)
    rows = []
    for rec, meta in zip(parsed, recs):
        if given is not None:
            slug, name = given
        else:
            detected = _detect_source(rec, wos_tagged) or fallback
            if detected is None:
                raise _risk(
                    p, meta.line, meta.ordinal, "DB",
                    "cannot tell which database this record came from (no DB tag, no known "
                    "URL, file name not a database's); pass source=",
                )  # fmt: skip
            slug, name = detected, SOURCES[detected]
        row = _ris_row(rec, meta, slug, name, p, wos_tagged)
        if id_prefix is not None:
            row["record_id"] = f"{id_prefix}:{meta.ordinal}"
        elif slug == "pubmed":
            # PubMed's own RIS: ids as for parse_pubmed_xml (pubmed:<PMID>), so the two agree
            row["record_id"] = (
                f"pubmed:{row['pmid']}" if row["pmid"] else f"pubmed_ris:{meta.ordinal}"
            )
        rows.append(row)
    return _finish(rows, p, [m.line for m in recs], "records")


# ---------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------

#: Column names recognised (case-insensitive) in CSV exports, per schema field, in order.
CSV_ALIASES: Mapping[str, tuple[str, ...]] = {
    "title": ("title", "article title", "document title", "ti"),
    "authors": ("authors", "author", "author names", "au"),
    "abstract": ("abstract", "ab"),
    "doi": ("doi", "di"),
    "pmid": ("pubmed id", "pmid", "pm", "pubmed"),
    "journal": ("source title", "journal", "journal title", "publication title", "so"),
    "year": ("year", "publication year", "py", "pub year"),
    "pub_date": ("publication date", "date"),
    "keywords": ("author keywords", "keywords", "de"),
    "language": ("language of original document", "language", "la"),
    "article_type": ("document type", "dt", "article type"),
    "volume": ("volume", "vl"),
    "issue": ("issue", "is"),
    "pages": ("pages", "page range"),
    "accession": ("eid", "ut (unique wos id)", "ut", "accession number", "an"),
}
_LIST_FIELDS = ("authors", "keywords")
_CSV_AUTHORS_COMMA = re.compile(r"[^,;]+ (?:[A-Z]\.-?)+(?:, [^,;]+ (?:[A-Z]\.-?)+)+")


def _split_authors(value: str) -> list[str]:
    if ";" in value:
        parts = value.split(";")
    elif _CSV_AUTHORS_COMMA.fullmatch(value.strip()):  # old Scopus: "Smith J., Doe A.B."
        parts = value.split(", ")
    else:
        parts = [value]
    return [a for a in (normalise_author(p) for p in parts) if a]


def read_csv_export(
    path: str | os.PathLike[str],
    *,
    source: str,
    mapping: Mapping[str, str] | None = None,
    id_prefix: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a CSV (or tab-delimited) export into the record schema.

    Parameters
    ----------
    path : path-like
        The export. The delimiter (comma, semicolon or tab) is taken from the header line.
    source : str
        The database, e.g. ``"Scopus"`` (a CSV export does not say where it came from).
    mapping : mapping of str to str, optional
        Schema field -> column name, for columns the defaults (:data:`CSV_ALIASES`, e.g.
        Scopus' ``Title``, ``Source title``, ``PubMed ID``, ``EID``; Web of Science's
        ``TI``, ``SO``, ``PM``) do not find. Fields: the schema's text fields, ``authors``,
        ``keywords``, ``year`` and the extras ``article_type``, ``volume``, ``issue``,
        ``pages``, ``accession``.
    id_prefix : str, optional
        Prefix of the record ids (default: the source's slug).
    encoding : str
        The file's encoding (strict).

    Returns
    -------
    pandas.DataFrame
        As :func:`read_ris`: one row per data row, ``record_id`` ``<prefix>:<n>``.
        Authors and keywords are split on ``;``.

    Raises
    ------
    review.errors.CSVImportError
        No title column; a mapped column missing; a row with more fields than the header;
        a byte that does not decode; a PubMed ID that is not digits. ``row`` is the 1-based
        line in the file, ``column`` the column's name.
    review.errors.OptionError
        ``mapping`` names a field the schema does not have.
    """
    p = Path(path)
    name_slug, name = _source_slug(source)
    slug = id_prefix or name_slug
    text = _read_text(p, encoding, CSVImportError)
    header_line = text.split("\n", 1)[0]
    if not header_line.strip():
        raise CSVImportError("the first line (header) is empty", path=p, row=1)
    delim = (
        "\t"
        if "\t" in header_line
        else (";" if header_line.count(";") > header_line.count(",") else ",")
    )
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error) as e:
        raise CSVImportError(f"no readable header: {e}", path=p, row=1) from e
    lower = {h.lower(): i for i, h in reversed(list(enumerate(header)))}
    cols: dict[str, int] = {}
    mapping = dict(mapping or {})
    for fld in mapping:
        if fld not in CSV_ALIASES:
            raise OptionError(
                f"Invalid mapping field {fld!r}; must be one of {sorted(CSV_ALIASES)}"
            )
    for fld, aliases in CSV_ALIASES.items():
        if fld in mapping:
            col = mapping[fld]
            if col.lower() not in lower:
                raise CSVImportError(
                    f"mapped column {col!r} (for {fld}) is not in the header {header}",
                    path=p, row=1, column=col,
                )  # fmt: skip
            cols[fld] = lower[col.lower()]
            continue
        for a in aliases:
            if a in lower:
                cols[fld] = lower[a]
                break
    if "title" not in cols:
        raise CSVImportError(
            f"no title column (looked for {list(CSV_ALIASES['title'])}); header is {header}; "
            "pass mapping={'title': '<column>'}",
            path=p, row=1, column="title",
        )  # fmt: skip
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    n = 0
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
                raise CSVImportError(
                    f"{len(values)} fields where the header has {len(header)} "
                    "(an unquoted delimiter inside a field?)",
                    path=p, row=line,
                )  # fmt: skip
            n += 1
            get = {
                f: (values[i].strip() if i < len(values) else "") or None for f, i in cols.items()
            }
            pmid = get.get("pmid")
            if pmid is not None and not pmid.isdigit():
                raise CSVImportError(
                    f"PubMed ID {pmid!r} is not digits only", path=p, row=line,
                    column=header[cols["pmid"]],
                )  # fmt: skip
            doi = clean_doi(get.get("doi"))
            if doi is not None and not doi.startswith("10."):
                raise CSVImportError(
                    f"DOI {doi!r} does not start with '10.'", path=p, row=line,
                    column=header[cols["doi"]],
                )  # fmt: skip
            year_raw = get.get("year")
            authors = get.get("authors")
            rows.append(
                {
                    "record_id": f"{slug}:{n}",
                    "source": name,
                    "pmid": pmid,
                    "doi": doi,
                    "title": " ".join((get.get("title") or "").split()),
                    "abstract": get.get("abstract"),
                    "authors": _split_authors(authors) if authors else [],
                    "journal": get.get("journal"),
                    "year": _year(year_raw),
                    "pub_date": get.get("pub_date") or year_raw,
                    "publication_types": [],
                    "mesh_terms": [],
                    "keywords": [
                        k.strip() for k in (get.get("keywords") or "").split(";") if k.strip()
                    ],
                    "language": _language(get.get("language")),
                    "article_type": get.get("article_type"),
                    "volume": get.get("volume"),
                    "issue": get.get("issue"),
                    "pages": get.get("pages"),
                    "accession": get.get("accession"),
                    "_year_raw": year_raw,
                }
            )
            lines.append(line)
    except csv.Error as e:
        raise CSVImportError(f"malformed CSV: {e}", path=p, row=reader.line_num) from e
    return _finish(rows, p, lines, "rows")


# ---------------------------------------------------------------------------------------
# combining sources
# ---------------------------------------------------------------------------------------


def combine_records(*frames: pd.DataFrame | Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack records from several sources into one frame with unique ``record_id``.

    Parameters
    ----------
    *frames : pandas.DataFrame
        Records frames (PubMed's, :func:`read_ris`'s, :func:`read_csv_export`'s), or one
        iterable of them.

    Returns
    -------
    pandas.DataFrame
        The rows of every frame, in order, in the record schema (extra columns kept; a
        column one frame lacks is empty in its rows).

    Raises
    ------
    review.errors.InputError
        A frame lacks ``record_id`` or ``source``, a ``record_id`` is empty, or the same
        ``record_id`` occurs twice (e.g. two Scopus exports both numbered ``scopus:1``:
        read the second with ``id_prefix="scopus2"``).
    """
    if len(frames) == 1 and not isinstance(frames[0], pd.DataFrame):
        frames = tuple(frames[0])
    parts = []
    for k, df in enumerate(frames, 1):
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"argument {k} is a {type(df).__name__}, not a DataFrame")
        for col in ("record_id", "source"):
            if col not in df.columns:
                raise InputError(f"frame {k} has no {col!r} column", column=col)
        parts.append(df)
    if not parts:
        return normalise_records(pd.DataFrame(columns=list(RECORD_COLUMNS)))
    out = normalise_records(pd.concat(parts, ignore_index=True, sort=False))
    empty = out.index[out["record_id"].isna()]
    if len(empty):
        raise InputError("empty record_id", row=int(empty[0]), column="record_id")
    dup = out["record_id"][out["record_id"].duplicated(keep=False)]
    if len(dup):
        shown = sorted(set(dup))[:5]
        raise InputError(
            f"{dup.nunique()} record_id value(s) occur more than once, e.g. {shown}; give one "
            "of the exports its own id_prefix= when reading it",
            row=int(dup.index[0]), column="record_id",
        )  # fmt: skip
    return out


def load_review_records(paths: Any) -> pd.DataFrame:
    """Every record a review identified, from every source, before de-duplication.

    Stacks the records of each search snapshot under ``search/`` (a folder with a
    ``metadata.json``) and of each export in ``imports/`` (``.ris``, ``.txt`` as RIS or
    Web of Science, ``.csv`` with its database named by the file name, e.g.
    ``scopus.csv``), in name order, with unique record ids.

    Parameters
    ----------
    paths : review.paths.ReviewPaths or path-like
        The review folder.

    Returns
    -------
    pandas.DataFrame
        Records in the shared schema (:func:`combine_records`).

    Raises
    ------
    review.errors.InputError
        A review with no source at all, or an export that cannot be read (the subclass
        names the file and record).
    """
    from review.paths import ReviewPaths
    from review.search import load_snapshot

    if not isinstance(paths, ReviewPaths):
        paths = ReviewPaths(paths)
    frames: list[pd.DataFrame] = []
    if paths.search.is_dir():
        for folder in sorted(p.parent for p in paths.search.glob("*/metadata.json")):
            frames.append(load_snapshot(folder).records)
    if paths.imports.is_dir():
        for f in sorted(paths.imports.iterdir()):
            suffix = f.suffix.lower()
            if suffix in (".ris", ".txt"):
                frames.append(read_ris(f))
            elif suffix == ".csv":
                frames.append(read_csv_export(f, source=SOURCES.get(f.stem.lower(), f.stem)))
    if not frames:
        raise InputError(
            "no search snapshot under search/ and no export under imports/", path=paths.root
        )
    return combine_records(*frames)
