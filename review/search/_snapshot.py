"""Search snapshots: ``records.jsonl`` + ``metadata.json`` in ``<review>/search/<name>/``."""

from __future__ import annotations

import html
import json
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from review._io import read_text, write_atomic
from review._numbers import is_pmid
from review._schema import RECORD_COLUMNS, clean_doi, normalise_records, records_from_dicts
from review.errors import InputError, OptionError

__all__ = ["Snapshot", "load_snapshot", "new_since", "save_snapshot", "tool_versions"]

SCHEMA_VERSION = 1
RECORDS_FILE = "records.jsonl"
METADATA_FILE = "metadata.json"
METADATA_KEYS = (
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
)


def tool_versions() -> dict[str, str]:
    """Versions of the software that ran a search (for ``metadata.json``)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("review", "pymed", "requests", "lxml", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            if pkg == "review":
                import review

                out[pkg] = review.__version__
    return out


def _jsonable(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and v != v:  # NaN
        return None
    if hasattr(v, "item"):  # numpy / pandas scalars
        return v.item()
    return v


def _secret() -> str | None:
    key = os.environ.get("NCBI_API_KEY")
    return key.strip() if key and key.strip() else None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A saved search: its records and what was searched, when and how.

    Attributes
    ----------
    records : pandas.DataFrame
        One row per record, the shared record schema, sorted by ``record_id``.
    metadata : Mapping
        ``metadata.json`` (read-only): ``schema_version, database, query,
        query_translation, date_of_search, count_reported, count_retrieved, retrieval
        ("live" | "assembled"), provenance, tool_versions``.
    folder : pathlib.Path or None
        Where the snapshot lives (``None`` before it is saved).
    """

    records: pd.DataFrame
    metadata: Mapping[str, Any]
    folder: Path | None = None

    @property
    def query(self) -> str | None:
        """The query string as searched."""
        return self.metadata.get("query")

    @property
    def count_reported(self) -> int | None:
        """The count PubMed reported."""
        return self.metadata.get("count_reported")

    @property
    def count_retrieved(self) -> int:
        """The number of records retrieved (rows of ``records``)."""
        return int(self.metadata.get("count_retrieved", len(self.records)))

    def __repr__(self) -> str:
        m = self.metadata
        return (
            f"Snapshot({m.get('database')!r}, {m.get('date_of_search')}, "
            f"{self.count_retrieved} records of {m.get('count_reported')} reported, "
            f"{m.get('retrieval')})"
        )

    def summary(self) -> str:
        """Plain-text account of the search, for a methods section."""
        m = self.metadata
        lines = [
            f"Database:          {m.get('database')}",
            f"Query:             {m.get('query')}",
            f"Query translation: {m.get('query_translation')}",
            f"Date of search:    {m.get('date_of_search')}",
            f"Count reported:    {m.get('count_reported')}",
            f"Count retrieved:   {m.get('count_retrieved')}",
            f"Retrieval:         {m.get('retrieval')}",
            f"Provenance:        {m.get('provenance')}",
        ]
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The records (a copy)."""
        return self.records.copy()

    def _repr_html_(self) -> str:
        m = self.metadata
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(str(m.get(k)))}</td></tr>"
            for k in METADATA_KEYS
            if k not in ("schema_version", "tool_versions")
        )
        cols = ["record_id", "year", "title", "journal"]
        head = self.records[cols].head(5).to_html(index=False, escape=True, na_rep="")
        return (
            f"<div><strong>Search snapshot</strong> ({self.count_retrieved} records)"
            f"<table>{rows}</table>{head}</div>"
        )


def _check_metadata(md: Mapping[str, Any], n: int, path: Path | None) -> dict[str, Any]:
    out = {k: md.get(k) for k in METADATA_KEYS}
    out["schema_version"] = md.get("schema_version", SCHEMA_VERSION)
    out["database"] = md.get("database", "PubMed")
    out["count_retrieved"] = md.get("count_retrieved", n)
    out["tool_versions"] = dict(md.get("tool_versions") or tool_versions())
    out["provenance"] = md.get("provenance") or ""
    extra = sorted(set(md) - set(METADATA_KEYS))
    if extra:
        raise InputError(f"unknown metadata keys {extra}", path=path, column=extra[0])
    if out["schema_version"] != SCHEMA_VERSION:
        raise InputError(
            f"schema_version {out['schema_version']!r}; this version reads {SCHEMA_VERSION}",
            path=path,
            column="schema_version",
        )
    if out["retrieval"] not in ("live", "assembled"):
        raise InputError(
            f"retrieval {out['retrieval']!r}; must be one of ['live', 'assembled']",
            path=path,
            column="retrieval",
        )
    if not out["date_of_search"]:
        raise InputError("date_of_search is missing", path=path, column="date_of_search")
    if out["count_retrieved"] != n:
        raise InputError(
            f"count_retrieved is {out['count_retrieved']} but there are {n} records",
            path=path,
            column="count_retrieved",
        )
    return out


def save_snapshot(
    records: pd.DataFrame, folder: str | os.PathLike[str], metadata: Mapping[str, Any]
) -> Snapshot:
    """Write a snapshot: ``records.jsonl`` (sorted, diffable) and ``metadata.json``.

    Parameters
    ----------
    records : pandas.DataFrame
        Records in the shared schema (extra columns are not written).
    folder : path-like
        The snapshot folder, e.g. ``ReviewPaths(root).snapshot("pubmed")``.
    metadata : Mapping
        At least ``query``, ``date_of_search`` (``YYYY-MM-DD``) and ``retrieval``;
        ``schema_version``, ``database``, ``count_retrieved``, ``tool_versions`` are
        filled in when missing. Unknown keys are refused.

    Returns
    -------
    Snapshot

    Raises
    ------
    review.errors.InputError
        Metadata that fails validation, duplicate ``record_id``s.
    review.errors.OptionError
        Metadata or records holding the NCBI API key (it is never written).
    """
    folder = Path(folder)
    df = normalise_records(records)[list(RECORD_COLUMNS)]
    dup = df["record_id"][df["record_id"].duplicated()]
    if len(dup):
        raise InputError(f"duplicate record_id {dup.iloc[0]!r}", column="record_id")
    if df["record_id"].isna().any():
        raise InputError("a record has no record_id", column="record_id")
    df = df.sort_values("record_id", kind="stable").reset_index(drop=True)
    md = _check_metadata(metadata, len(df), None)
    lines = []
    for row in df.itertuples(index=False, name=None):
        rec = {c: _jsonable(v) for c, v in zip(RECORD_COLUMNS, row)}
        lines.append(json.dumps(rec, ensure_ascii=False, sort_keys=True))
    records_text = "".join(line + "\n" for line in lines)
    meta_text = json.dumps(md, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    key = _secret()
    if key and (key in records_text or key in meta_text):
        raise OptionError("refusing to write the NCBI API key into a snapshot")
    write_atomic(folder / RECORDS_FILE, records_text)
    write_atomic(folder / METADATA_FILE, meta_text)
    return Snapshot(df, MappingProxyType(md), folder)


class _NoSnapshot(InputError, FileNotFoundError):
    """A folder without a snapshot (an InputError, and a FileNotFoundError as it always was)."""


def load_snapshot(folder: str | os.PathLike[str]) -> Snapshot:
    """Read a snapshot written by :func:`save_snapshot` (offline, no network).

    Raises
    ------
    FileNotFoundError
        No snapshot in ``folder``.
    review.errors.InputError
        A torn or invalid line (named by line number) or metadata that fails validation.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> folder = tempfile.mkdtemp()
    >>> recs = pd.DataFrame(
    ...     {"record_id": ["pubmed:1"], "source": ["PubMed"], "pmid": ["1"], "title": ["A title"]}
    ... )
    >>> _ = save_snapshot(
    ...     recs,
    ...     folder,
    ...     {
    ...         "query": "x",
    ...         "date_of_search": "2026-11-26",
    ...         "retrieval": "live",
    ...         "count_reported": 1,
    ...     },
    ... )
    >>> load_snapshot(folder).records.loc[0, "pmid"]
    '1'
    """
    folder = Path(folder)
    rpath, mpath = folder / RECORDS_FILE, folder / METADATA_FILE
    if not rpath.is_file() or not mpath.is_file():
        raise _NoSnapshot(
            f"no search snapshot in {folder} (need {RECORDS_FILE} and {METADATA_FILE})",
            path=folder,
        )
    try:
        md = json.loads(read_text(mpath).text)
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON: {e.msg}", path=mpath, row=e.lineno) from e
    except RecursionError as e:
        raise InputError("JSON nested too deeply", path=mpath) from e
    if not isinstance(md, dict):
        raise InputError(f"expected a JSON object, got a {type(md).__name__}", path=mpath)
    rows = []
    seen: dict[str, int] = {}
    for i, line in enumerate(read_text(rpath).text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"not valid JSON: {e.msg}", path=rpath, row=i) from e
        except RecursionError as e:
            raise InputError("JSON nested too deeply", path=rpath, row=i) from e
        if not isinstance(rec, dict) or set(rec) != set(RECORD_COLUMNS):
            got = sorted(rec) if isinstance(rec, dict) else type(rec).__name__
            raise InputError(
                f"keys must be the record schema {list(RECORD_COLUMNS)}; got {got}",
                path=rpath,
                row=i,
            )
        pmid = rec.get("pmid")
        if pmid is not None and not is_pmid(str(pmid)):
            raise InputError(
                f"pmid {pmid!r} is not a PubMed identifier (1-9 ASCII digits)",
                path=rpath,
                row=i,
                column="pmid",
            )
        rid = rec.get("record_id")
        if not isinstance(rid, str) or not rid.strip():
            raise InputError(
                "record_id is empty or not text", path=rpath, row=i, column="record_id"
            )
        if rid in seen:
            raise InputError(
                f"record_id {rid!r} repeats line {seen[rid]}", path=rpath, row=i, column="record_id"
            )
        seen[rid] = i
        rows.append(rec)
    df = records_from_dicts(rows)
    md = _check_metadata(md, len(df), mpath)
    return Snapshot(
        df.sort_values("record_id").reset_index(drop=True), MappingProxyType(md), folder
    )


def _as_records(x: Snapshot | pd.DataFrame) -> pd.DataFrame:
    if isinstance(x, Snapshot):
        return x.records
    if isinstance(x, pd.DataFrame):
        return normalise_records(x)
    raise OptionError(f"Invalid records {type(x).__name__}; must be a Snapshot or DataFrame")


def new_since(
    snapshot_old: Snapshot | pd.DataFrame, records_new: Snapshot | pd.DataFrame
) -> pd.DataFrame:
    """Records of ``records_new`` that were not in ``snapshot_old`` (living-review update).

    A record counts as known when its ``record_id``, its PMID or its DOI was in the old
    snapshot, so a record that only gained a DOI is not reported as new.

    Returns
    -------
    pandas.DataFrame
        The new records, in the order of ``records_new``.
    """
    old, new = _as_records(snapshot_old), _as_records(records_new)
    known_ids = set(old["record_id"].dropna())
    known_pmids = set(old["pmid"].dropna())
    known_dois = {clean_doi(d) for d in old["doi"].dropna()}
    keep = [
        not (
            r in known_ids
            or (p is not None and p in known_pmids)
            or (d is not None and d in known_dois)
        )
        for r, p, d in zip(new["record_id"], new["pmid"], new["doi"])
    ]
    return new[keep].reset_index(drop=True)
