"""Complete, resumable PubMed retrieval and the notebook entry point ``search_pubmed``."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from review._io import read_text, write_atomic
from review._numbers import is_pmid
from review._schema import empty_records
from review.errors import InputError, OptionError, PubMedXMLError, SearchError

from ._client import ReviewPubMed
from ._parse import parse_pubmed_xml
from ._snapshot import Snapshot, load_snapshot, save_snapshot, tool_versions

__all__ = ["retrieve", "search_pubmed"]

log = logging.getLogger("review.search")

PARTIAL_DIR = ".partial"
_STATE = "state.json"
_PMIDS = "pmids.txt"
_BATCHES = "batches"


def _check_batch(df: pd.DataFrame, batch: list[str], where: str) -> None:
    extra = set(df["pmid"]) - set(batch)
    if extra:
        raise PubMedXMLError(
            f"efetch returned PMIDs that were not asked for: {sorted(extra)[:5]}", path=where
        )


def _read_state(path: Path, partial: Path) -> dict[str, Any]:
    """The saved state of an interrupted retrieval, or an error saying how to start afresh."""
    text = read_text(path, error=InputError).text
    try:
        state = json.loads(text)
    except RecursionError as e:
        raise InputError(
            f"the saved state of an interrupted retrieval is nested too deeply to be real; "
            f"delete the folder {partial} to start the retrieval afresh",
            path=path,
        ) from e
    except json.JSONDecodeError as e:
        raise InputError(
            f"the saved state of an interrupted retrieval is not valid JSON ({e.msg}); delete "
            f"the folder {partial} to start the retrieval afresh",
            path=path,
            row=e.lineno,
        ) from e
    needed = ("query", "count_reported", "date_of_search")
    if not isinstance(state, dict) or any(k not in state for k in needed):
        raise InputError(
            f"the saved state of an interrupted retrieval lacks {list(needed)}; delete the "
            f"folder {partial} to start the retrieval afresh",
            path=path,
        )
    bs = state.get("batch_size", 500)
    if isinstance(bs, bool) or not isinstance(bs, int) or not 1 <= bs <= 10000:
        raise InputError(
            f"batch_size {bs!r} is not a whole number in [1, 10000]; delete the folder "
            f"{partial} to start the retrieval afresh",
            path=path,
            column="batch_size",
        )
    return state


def _read_pmids(path: Path, partial: Path) -> list[str]:
    """The saved PMID list; a line that is not a PMID names itself."""
    ids = []
    for i, line in enumerate(read_text(path, error=InputError).text.split("\n"), 1):
        v = line.strip()
        if not v:
            continue
        if not is_pmid(v):
            raise InputError(
                f"{v[:30]!r} is not a PMID; the saved PMID list of an interrupted retrieval "
                f"is damaged: delete the folder {partial} to start afresh",
                path=path,
                row=i,
            )
        ids.append(v)
    return ids


def retrieve(
    client: ReviewPubMed,
    query: str,
    partial: str | os.PathLike[str],
    *,
    batch_size: int = 500,
    datetype: str = "pdat",
    mindate: dt.date | None = None,
    maxdate: dt.date | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Retrieve every record of ``query``, resumably, into ``partial``.

    Progress is written to ``partial`` as it is made: ``state.json`` (the search, the count
    PubMed reported, the planner's slices and warnings), ``pmids.txt`` (the complete PMID
    list, written once esearch has finished) and ``batches/NNNNNN.xml`` (the raw efetch
    answer of batch N, written whole or not at all). Running again with the same
    ``partial`` resumes: finished steps are read back, never fetched twice, so no record
    is lost or doubled.

    Returns
    -------
    (records, info)
        Records in the shared schema (one per PMID, ascending PMID) and a dict with
        ``count_reported``, ``count_retrieved``, ``query_translation``, ``missing``
        (PMIDs efetch did not return), ``duplicates``, ``drift`` (reported minus unique
        PMIDs found), ``slices``, ``warnings``, ``requests``, ``date_of_search``.
    """
    if not 1 <= batch_size <= 10000:
        raise OptionError(f"Invalid batch_size {batch_size}; must be in [1, 10000]")
    partial = Path(partial)
    partial.mkdir(parents=True, exist_ok=True)
    state_path, pmids_path = partial / _STATE, partial / _PMIDS
    wanted = {
        "query": query,
        "datetype": datetype,
        "mindate": mindate.isoformat() if mindate else None,
        "maxdate": maxdate.isoformat() if maxdate else None,
    }
    state: dict[str, Any] = {}
    if state_path.exists():
        state = _read_state(state_path, partial)
        if {k: state.get(k) for k in wanted} != wanted:
            raise OptionError(
                f"the partial retrieval in {partial} belongs to another search "
                f"({state.get('query')!r}); delete the folder to start afresh"
            )
        batch_size = int(state.get("batch_size", batch_size))
    if not pmids_path.is_file():
        client.plan.slices.clear()
        client.plan.warnings.clear()
        bar = tqdm(total=None, desc="esearch (PMIDs)", unit="id", disable=not progress)
        kwargs: dict[str, Any] = {"datetype": datetype}
        if mindate:
            kwargs["mindate"] = mindate
        if maxdate:
            kwargs["maxdate"] = maxdate
        try:
            ids, first = client.search_ids(query, on_slice=bar.update, **kwargs)
        finally:
            bar.close()
        state = {
            **wanted,
            "batch_size": batch_size,
            "date_of_search": dt.datetime.now(dt.UTC).date().isoformat(),
            "count_reported": first.count,
            "query_translation": first.query_translation,
            "slices": client.plan.slices[:],
            "warnings": client.plan.warnings[:],
        }
        write_atomic(state_path, json.dumps(state, indent=1, sort_keys=True))
        write_atomic(pmids_path, "".join(f"{i}\n" for i in ids))
    ids = _read_pmids(pmids_path, partial)
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    frames: list[pd.DataFrame] = []
    bar = tqdm(total=len(ids), desc="efetch (records)", unit="rec", disable=not progress)
    try:
        for n, batch in enumerate(batches):
            path = partial / _BATCHES / f"{n:06d}.xml"
            if path.is_file():
                df = parse_pubmed_xml(path)
                _check_batch(df, batch, str(path))
            else:
                df = None
                for attempt in range(1, client.max_tries + 1):
                    data = client.efetch(batch)
                    try:
                        df = parse_pubmed_xml(data)
                        _check_batch(df, batch, f"efetch batch {n}")
                        break
                    except PubMedXMLError as e:
                        log.warning("efetch batch %d unreadable (%s), attempt %d", n, e, attempt)
                        if attempt == client.max_tries:
                            raise PubMedXMLError(
                                f"efetch batch {n} (PMIDs {batch[0]}..{batch[-1]}) unreadable "
                                f"after {attempt} attempts: {e.message}; the {n} batches "
                                f"before it are kept in {partial}: run again to resume",
                                path=e.path,
                                row=e.row,
                            ) from e
                write_atomic(path, data)
            assert df is not None  # the loop either set it or raised
            frames.append(df)
            bar.update(len(batch))
    finally:
        bar.close()
    frames = [f for f in frames if len(f)]
    records = pd.concat(frames, ignore_index=True) if frames else empty_records()
    n_before = len(records)
    records = records.drop_duplicates("pmid", keep="first")
    duplicates = n_before - len(records)
    records = records.iloc[records["pmid"].astype("int64").argsort(kind="stable")]
    records = records.reset_index(drop=True)
    missing = sorted(set(ids) - set(records["pmid"]), key=int)
    info = {
        "count_reported": state["count_reported"],
        "count_retrieved": len(records),
        "query_translation": state.get("query_translation"),
        "missing": missing,
        "duplicates": duplicates,
        "drift": state["count_reported"] - len(ids),
        "slices": state.get("slices", []),
        "warnings": state.get("warnings", []),
        "requests": client.plan.requests,
        "date_of_search": state["date_of_search"],
        "datetype": datetype,
    }
    return records, info


def _provenance(info: Mapping[str, Any]) -> str:
    n_slices = sum(1 for s in info["slices"] if s[0] is not None)
    plan = (
        f"date-range bisection on {info['datetype']} into {n_slices} slices"
        if n_slices
        else "a single esearch page"
    )
    # A day over the cap split along a second date: (day, day, count, other, lo, hi).
    split = sorted({(s[0], s[3]) for s in info["slices"] if len(s) == 6})
    if split:
        days = ", ".join(day for day, _ in split)
        others = " and ".join(sorted({other for _, other in split}))
        n_days = f"{len(split)} day{'s' if len(split) > 1 else ''}"
        plan += f" ({n_days} over the cap, {days}, split further by {others})"
    parts = [
        "Live E-utilities retrieval by review.search (pymed 0.8.9, subclassed)",
        f"PMIDs by {plan}",
        f"PubMed reported {info['count_reported']}, found {info['count_reported'] - info['drift']} "
        f"PMIDs (drift {info['drift']}), retrieved {info['count_retrieved']} records",
    ]
    if info["missing"]:
        shown = ", ".join(info["missing"][:20])
        parts.append(f"efetch did not return {len(info['missing'])} PMIDs: {shown}")
    if info["duplicates"]:
        parts.append(f"{info['duplicates']} duplicate records dropped")
    if info["warnings"]:
        parts.append("PubMed warnings: " + "; ".join(info["warnings"]))
    return ". ".join(parts) + "."


def search_pubmed(
    query: str | None = None,
    *,
    snapshot: str | os.PathLike[str] | None = None,
    live: bool = False,
    tool: str | None = None,
    email: str | None = None,
    api_key: str | None = None,
    datetype: str = "pdat",
    mindate: dt.date | None = None,
    maxdate: dt.date | None = None,
    batch_size: int = 500,
    partial: str | os.PathLike[str] | None = None,
    progress: bool = True,
    client: ReviewPubMed | None = None,
    **client_options: Any,
) -> Snapshot:
    """Search PubMed, or load the saved search: offline by default, live only when asked.

    Parameters
    ----------
    query : str, optional
        The query string from the protocol. With ``live=False`` it is checked against the
        snapshot's query (a mismatch is an error: the snapshot is stale).
    snapshot : path-like, optional
        The snapshot folder (``ReviewPaths(root).snapshot(name)``).
    live : bool
        ``False`` (default): load ``snapshot`` from disk, no network. ``True``: run the
        search against E-utilities, retrieve every record and (if ``snapshot`` is given)
        save it there, replacing what was there.
    tool, email, api_key
        NCBI identity and key (see :class:`ReviewPubMed`; environment variables
        ``NCBI_TOOL``, ``NCBI_EMAIL``, ``NCBI_API_KEY`` are used when not given).
    datetype, mindate, maxdate
        Date field and range used to split a result above PubMed's 9,999 cap; a single
        day still above it is split along a second date (see
        :meth:`ReviewPubMed.search_ids`), and the provenance names such days.
    batch_size : int
        PMIDs per efetch request (POST above 200).
    partial : path-like, optional
        Folder for resumable progress; default ``<snapshot>/.partial`` (a temporary folder
        when there is no snapshot). Removed after a successful save.
    progress : bool
        Show tqdm progress bars.
    client : ReviewPubMed, optional
        A ready client (its own identity and options are used).
    **client_options
        Passed to :class:`ReviewPubMed` (``base_url``, ``rate``, ``timeout``,
        ``max_tries``, ``backoff``).

    Returns
    -------
    Snapshot
        Records (shared schema) and metadata (query, translation, date, counts reported
        and retrieved, tool versions, ``retrieval="live"``).

    Raises
    ------
    FileNotFoundError
        ``live=False`` and no snapshot in ``snapshot``.
    review.errors.OptionError
        Nothing to load (no ``snapshot`` and ``live=False``) or a stale snapshot.
    review.errors.QueryError, review.errors.SearchError, review.errors.PubMedXMLError
        The search could not be completed; progress so far stays in ``partial``.

    Examples
    --------
    In a notebook::

        snap = search_pubmed(QUERY, snapshot=paths.snapshot("pubmed"), live=LIVE_SEARCH)
    """
    if not live:
        if snapshot is None:
            raise OptionError(
                "Nothing to load: pass snapshot=<folder> to load a saved search, or "
                "live=True to search PubMed now"
            )
        snap = load_snapshot(snapshot)
        if query is not None and snap.query is not None and query.strip() != snap.query.strip():
            raise OptionError(
                f"The snapshot in {snapshot} is for the query {snap.query!r}, not {query!r}: "
                "run with live=True to search again"
            )
        return snap
    if not query or not query.strip():
        raise OptionError("Invalid query; a live search needs a query string")
    if client is None:
        client = ReviewPubMed(tool, email, api_key=api_key, **client_options)
    elif client_options or tool or email or api_key:
        raise OptionError("Pass either client= or the client's options, not both")
    tmp = None
    if partial is None:
        if snapshot is not None:
            partial = Path(snapshot) / PARTIAL_DIR
        else:
            tmp = tempfile.mkdtemp(prefix="review-pubmed-")
            partial = tmp
    records, info = retrieve(
        client,
        query,
        partial,
        batch_size=batch_size,
        datetype=datetype,
        mindate=mindate,
        maxdate=maxdate,
        progress=progress,
    )
    for w in info["warnings"]:
        warnings.warn(f"PubMed: {w}", stacklevel=2)
    if info["drift"] or info["missing"]:
        warnings.warn(
            f"PubMed reported {info['count_reported']} records; {info['count_retrieved']} "
            f"retrieved (drift {info['drift']}, {len(info['missing'])} PMIDs not returned)",
            stacklevel=2,
        )
    metadata = {
        "schema_version": 1,
        "database": "PubMed",
        "query": query,
        "query_translation": info["query_translation"],
        "date_of_search": info["date_of_search"],
        "count_reported": info["count_reported"],
        "count_retrieved": info["count_retrieved"],
        "retrieval": "live",
        "provenance": _provenance(info),
        "tool_versions": tool_versions(),
    }
    if snapshot is not None:
        snap = save_snapshot(records, snapshot, metadata)
        shutil.rmtree(partial, ignore_errors=True)
    else:
        snap = Snapshot(
            records.sort_values("record_id").reset_index(drop=True), MappingProxyType(metadata)
        )
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    if client.has_api_key:  # belt and braces: the key must never reach the metadata
        key = client._api_key or ""
        if key and key in json.dumps(metadata):
            raise SearchError("internal error: API key in metadata")
    return snap
