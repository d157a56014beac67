"""Where a review stands, and the check a notebook makes before a step the review has not reached.

A review is used at every stage of its life: a protocol and nothing else; exports but no
PubMed search; half screened; screened but not extracted; fully extracted. Two things here
serve that:

* :func:`review_status` reads the whole review folder and says where it stands: records per
  source, duplicates, screening progress per stage and reviewer, open conflicts, extraction
  completeness, which analyses can run and what blocks the others. ``python -m review status``
  prints its :meth:`ReviewStatus.summary`; in a notebook it renders as a table.
* :func:`require_stage` is called by an early cell of a notebook. When the review has not
  reached the stage the notebook needs, it raises :class:`~review.errors.StageNotReached`
  saying what is missing and how to get there; the notebook runner then reports the
  notebook as "not reached" (not failed) and the run still ends with exit status 0.
  :func:`protocol_search` does the same for the PubMed search the protocol names.

This module reads every step's files, so it sits downstream of all of them (like the runner);
no step imports it.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from review.errors import NothingToDo, ReviewError, StageNotReached
from review.paths import ReviewPaths

if TYPE_CHECKING:
    import pandas as pd

    from review.dedup import DedupResult
    from review.protocol import Database, Protocol
    from review.screening import ScreeningLog
    from review.search import Snapshot

__all__ = [
    "REQUIRABLE",
    "ReviewStatus",
    "Step",
    "protocol_search",
    "reached",
    "require_stage",
    "review_status",
]

#: Stages a notebook can require, in pipeline order.
REQUIRABLE: tuple[str, ...] = (
    "records",
    "title_abstract",
    "full_text",
    "extraction",
    "appraisal",
    "certainty",
)

State = Literal["done", "in progress", "not started", "not applicable", "error"]

_PUBMED = "pubmed"
_SCREEN_HOW = (
    "screen with the screener of notebook 03 (open it in JupyterLab, set REVIEWER), and settle "
    "each conflict with a consensus decision (ScreeningLog.resolve)"
)
_RECORDS_HOW = (
    "put your databases' exports (RIS, or CSV named after the database, e.g. scopus.csv) in "
    "imports/, or run the PubMed search of the protocol (notebook 01 with LIVE_SEARCH = True)"
)
_EXTRACTION_HOW = (
    "extract the included studies into extraction/studies.csv (one row a study, one column per "
    "covariate of the protocol) and extraction/outcomes.csv (one row a number: a field of the "
    "protocol, with the PMID and the place it was read; the review's README.md shows the rows)"
)


def _as_paths(review: str | os.PathLike[str] | ReviewPaths) -> ReviewPaths:
    return review if isinstance(review, ReviewPaths) else ReviewPaths(review)


# ---------------------------------------------------------------------------------------
# the pieces, each read once
# ---------------------------------------------------------------------------------------


def _has_sources(paths: ReviewPaths) -> bool:
    snapshots = paths.search.is_dir() and any(paths.search.glob("*/metadata.json"))
    exports = paths.imports.is_dir() and any(
        f.is_file() and not f.name.startswith(".") for f in paths.imports.iterdir()
    )
    return snapshots or exports


def _dedup(paths: ReviewPaths) -> DedupResult:
    from review.dedup import deduplicate
    from review.records import load_review_records

    if not _has_sources(paths):
        raise StageNotReached(f"no records yet: {_RECORDS_HOW}", stage="records")
    return deduplicate(load_review_records(paths), overrides=paths.dedup_overrides, progress=False)


def _log(paths: ReviewPaths, protocol: Protocol | None) -> ScreeningLog | None:
    """The screening log, read-only: ``None`` when it does not exist yet (never created here)."""
    from review.screening import ScreeningLog

    if not paths.screening_log.is_file():
        return None
    return ScreeningLog(paths.screening_log, protocol=protocol, on_torn="raise")


def _final_counts(log: ScreeningLog | None, stage: str) -> dict[str, int]:
    counts = {"include": 0, "maybe": 0, "exclude": 0, "conflict": 0}
    if log is None:
        return counts
    for d in log.final(stage)["decision"]:  # type: ignore[arg-type]
        counts[str(d)] = counts.get(str(d), 0) + 1
    return counts


def _extraction_started(paths: ReviewPaths) -> bool:
    studies = paths.extraction / "studies.csv"
    if not studies.is_file():
        return False
    lines = [ln for ln in studies.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    return len(lines) > 1


def _stage_title_abstract(ids: Sequence[str], log: ScreeningLog | None) -> str | None:
    """What keeps title/abstract screening from being finished (None: finished).

    A record taken straight to full text (identified via other methods, e.g. citation
    searching, which PRISMA 2020 does not screen at title/abstract) needs no title/abstract
    decision.
    """
    final = {} if log is None else dict(zip(*_final_pairs(log, "title_abstract"), strict=True))
    ids = _title_abstract_pool(ids, log)
    undecided = [i for i in ids if i not in final]
    conflicts = [i for i in ids if final.get(i) == "conflict"]
    if not undecided and not conflicts:
        return None
    parts = [f"{len(ids) - len(undecided)} of {len(ids)} records have a decision"]
    if conflicts:
        parts.append(f"{len(conflicts)} conflict(s) open")
    return "title/abstract screening is not finished: " + ", ".join(parts)


def _straight_to_full_text(log: ScreeningLog | None) -> list[str]:
    """Records decided at full text with no title/abstract decision (other methods)."""
    if log is None:
        return []
    screened = set(_final_pairs(log, "title_abstract")[0])
    return [i for i in _final_pairs(log, "full_text")[0] if i not in screened]


def _title_abstract_pool(ids: Sequence[str], log: ScreeningLog | None) -> list[str]:
    """The records to screen at title/abstract: all but those taken straight to full text."""
    straight = set(_straight_to_full_text(log))
    return [i for i in ids if i not in straight]


def _full_text_pool(log: ScreeningLog | None) -> list[str]:
    """The reports to decide at full text: passed at title/abstract, or taken straight there."""
    if log is None:
        return []
    return [*log.included("title_abstract"), *_straight_to_full_text(log)]


def _final_pairs(log: ScreeningLog, stage: str) -> tuple[list[str], list[str]]:
    final = log.final(stage)  # type: ignore[arg-type]
    return [str(x) for x in final["record_id"]], [str(x) for x in final["decision"]]


def _stage_full_text(log: ScreeningLog | None) -> tuple[str | None, int]:
    """What keeps full-text screening from being finished, and the reports it has to cover."""
    if log is None:
        return "full-text screening has not started", 0
    sought = _full_text_pool(log)
    final = dict(zip(*_final_pairs(log, "full_text"), strict=True))
    undecided = [i for i in sought if final.get(i) not in ("include", "exclude")]
    conflicts = [i for i in sought if final.get(i) == "conflict"]
    if not sought:
        return None, 0
    if not undecided:
        return None, len(sought)
    parts = [f"{len(sought) - len(undecided)} of {len(sought)} reports have a final decision"]
    if conflicts:
        parts.append(f"{len(conflicts)} conflict(s) open")
    maybes = [i for i in sought if final.get(i) == "maybe"]
    if maybes:
        parts.append(f"{len(maybes)} still 'maybe'")
    return "full-text screening is not finished: " + ", ".join(parts), len(sought)


# ---------------------------------------------------------------------------------------
# require_stage and the protocol's search
# ---------------------------------------------------------------------------------------


def require_stage(
    review: str | os.PathLike[str] | ReviewPaths,
    stage: str,
    *,
    protocol: Protocol | None = None,
) -> None:
    """Raise :class:`~review.errors.StageNotReached` unless the review has reached ``stage``.

    Parameters
    ----------
    review : path-like or ReviewPaths
        The review folder.
    stage : {"records", "title_abstract", "full_text", "extraction", "appraisal", "certainty"}
        What the calling step needs: ``records`` (a search snapshot or an export),
        ``title_abstract`` (every de-duplicated record decided at title/abstract, no open
        conflict), ``full_text`` (every report sought decided at full text, include or
        exclude, no open conflict), ``extraction`` (at least one study extracted),
        ``appraisal`` (a study extracted and a risk-of-bias tool declared in the protocol's
        ``appraisal:`` block; without one, :class:`~review.errors.NothingToDo`),
        ``certainty`` (a study extracted, an analysis and a ``certainty:`` block declared in
        the protocol; without either, :class:`~review.errors.NothingToDo`).
    protocol : Protocol, optional
        The review's protocol, if already read (checks decisions against its codes).

    Raises
    ------
    review.errors.StageNotReached
        Saying what is missing and how to get there.
    review.errors.OptionError
        An unknown stage.

    Examples
    --------
    >>> import tempfile
    >>> require_stage(tempfile.mkdtemp(), "records")
    Traceback (most recent call last):
    ...
    review.errors.StageNotReached: no records yet: put your databases' exports ...
    """
    from review.errors import OptionError

    if stage not in REQUIRABLE:
        raise OptionError(f"Invalid stage {stage!r}; must be one of {list(REQUIRABLE)}")
    paths = _as_paths(review)
    if stage in ("extraction", "appraisal", "certainty"):
        if not _extraction_started(paths):
            raise StageNotReached(f"no study extracted yet: {_EXTRACTION_HOW}", stage=stage)
        if stage != "extraction":
            from review.protocol import load_protocol

            proto = protocol if protocol is not None else load_protocol(paths.protocol)
        if stage == "certainty":
            if proto.certainty is None:
                raise NothingToDo(
                    "the protocol declares no certainty assessment: add a 'certainty:' block "
                    "(start, thresholds per outcome; docs/DESIGN.md) and the judgements in "
                    "certainty.yaml to rate the certainty of each pooled outcome (GRADE)",
                    stage=stage,
                )
            if not proto.analyses:
                raise NothingToDo(
                    "the protocol declares no analysis, so there is no pooled outcome whose "
                    "certainty could be rated: declare the analyses ('analyses:')",
                    stage=stage,
                )
        if stage == "appraisal":
            if not proto.appraisal:
                raise NothingToDo(
                    "the protocol declares no risk-of-bias tool: add an 'appraisal:' block "
                    "(tool, assessors; docs/DESIGN.md) to assess the included studies",
                    stage=stage,
                )
        return
    dedup = _dedup(paths)  # raises StageNotReached("records") itself
    if stage == "records":
        return
    log = _log(paths, protocol)
    ids = [str(x) for x in dedup.unique["record_id"]]
    problem = _stage_title_abstract(ids, log)
    if problem:
        raise StageNotReached(f"{problem}: {_SCREEN_HOW}", stage="title_abstract")
    if stage == "full_text":
        problem, _ = _stage_full_text(log)
        if problem:
            raise StageNotReached(
                f"{problem}: decide each report at stage full_text in notebook 03's screener "
                "(an exclusion with a reason code of the protocol, 'not_retrieved' for a report "
                "that could not be obtained), and settle conflicts with a consensus decision",
                stage="full_text",
            )


def reached(
    review: str | os.PathLike[str] | ReviewPaths,
    stage: str,
    *,
    protocol: Protocol | None = None,
) -> bool:
    """Whether the review has reached ``stage`` (:func:`require_stage` without the raise).

    Examples
    --------
    >>> from review.paths import example_review_dir
    >>> reached(example_review_dir(), "extraction")
    True
    """
    try:
        require_stage(review, stage, protocol=protocol)
    except StageNotReached:
        return False
    return True


def _placeholders(value: object) -> int:
    """How many strings of a parsed protocol still hold a ``TODO`` placeholder."""
    if isinstance(value, str):
        return int("TODO" in value)
    if isinstance(value, Mapping):
        return sum(_placeholders(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(_placeholders(v) for v in value)
    return 0


def _pubmed(protocol: Protocol) -> Database:
    found = [db for db in protocol.databases if db.name.strip().lower() == _PUBMED]
    if not found:
        names = ", ".join(db.name for db in protocol.databases)
        raise NothingToDo(
            f"the protocol searches no PubMed database ({names}): nothing to search here; the "
            "records come from the exports in imports/ (notebook 02 reads them)",
            stage="search",
        )
    return found[0]


def protocol_search(
    review: str | os.PathLike[str] | ReviewPaths,
    protocol: Protocol,
    *,
    live: bool = False,
) -> Snapshot:
    """The protocol's PubMed search: its saved snapshot, or a live search into it.

    The snapshot folder is the one the protocol's PubMed database names (``snapshot:``),
    under ``search/``; nothing is typed in the notebook.

    Parameters
    ----------
    review : path-like or ReviewPaths
        The review folder.
    protocol : Protocol
        Its protocol.
    live : bool
        Run the query on PubMed and save the snapshot (needs ``NCBI_EMAIL`` and ``NCBI_TOOL``
        in the environment); else load the saved snapshot.

    Returns
    -------
    review.search.Snapshot

    Raises
    ------
    review.errors.NothingToDo
        The protocol lists no PubMed database (a review of exports only).
    review.errors.StageNotReached
        The PubMed database names no snapshot folder, or (offline) the search has not been
        run yet.
    """
    from review.search import search_pubmed

    paths = _as_paths(review)
    db = _pubmed(protocol)
    if not db.snapshot:
        raise StageNotReached(
            f"the protocol's {db.name} database names no snapshot folder: add "
            f"'snapshot: pubmed-<year>' to it in {paths.protocol.name}, then run the search "
            "(LIVE_SEARCH = True in notebook 01)",
            stage="search",
        )
    folder = paths.snapshot(db.snapshot)
    if live and _placeholders(db.query):
        raise StageNotReached(
            f"the protocol's {db.name} query is still a TODO placeholder: write the query as it "
            f"is to be run in {paths.protocol.name}, then search",
            stage="search",
        )
    if not live and not (folder / "metadata.json").is_file():
        raise StageNotReached(
            f"the PubMed search has not been run yet: search/{db.snapshot}/ holds no snapshot. "
            "Run it live: set NCBI_EMAIL and NCBI_TOOL (and NCBI_API_KEY, if you have one) in "
            "the environment, then LIVE_SEARCH = True in the parameters of notebook 01",
            stage="search",
        )
    return search_pubmed(db.query, snapshot=folder, live=live)


# ---------------------------------------------------------------------------------------
# the status
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the review and where it stands.

    Attributes
    ----------
    name : str
        The step (``protocol``, ``search``, ``records``, ``deduplication``,
        ``title_abstract``, ``full_text``, ``extraction``, ``risk_of_bias``, ``analyses``,
        ``certainty``).
    state : {"done", "in progress", "not started", "not applicable", "error"}
        Where it stands.
    detail : str
        What was found, in words.
    next : str or None
        What to do next, when something is left to do.
    """

    name: str
    state: State
    detail: str
    next: str | None = None


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


@dataclass(frozen=True, slots=True)
class ReviewStatus:
    """Where a review stands (see :func:`review_status`).

    Attributes
    ----------
    root : Path
        The review folder.
    title : str or None
        The protocol's title (``None`` if the protocol cannot be read).
    steps : tuple of Step
        Each step in pipeline order, with its state and what to do next.
    searches : pandas.DataFrame
        One row a database of the protocol: ``database, snapshot, state, records, date``.
    sources : pandas.DataFrame
        One row a source of records: ``source, identified, duplicates_removed, kept``.
    n_records, n_duplicates, n_unique : int or None
        Records identified, removed as duplicates, left to screen (``None``: no records).
    screening : pandas.DataFrame
        One row per stage and reviewer (``reviewer`` "any" counts a record once anyone
        decided): ``stage, reviewer, screened, to_screen, remaining``.
    decisions : pandas.DataFrame
        Final decisions per stage: ``stage, include, maybe, exclude, conflict``.
    conflicts : Mapping[str, int]
        Open conflicts per stage.
    n_studies : int or None
        Studies (rows) extracted; ``None`` before extraction.
    extraction : pandas.DataFrame
        One row a declared outcome: ``outcome, label, kind``, then the studies giving it as
        ``counts``, ``estimate_only``, ``events_only`` (no denominator or time), or
        ``not_reported``, of ``of`` studies.
    analyses : pandas.DataFrame
        One row a declared analysis: ``analysis, label, outcome``, ``k`` (studies it can
        use), ``can_run`` and ``blocked_by`` (why not).
    problems : tuple of str
        Files that could not be read, with the error (file, row, column).
    outdated : tuple of str
        The review's own notebooks (README, .gitignore) that are older than this toolkit's and
        unedited: ``python -m review update`` replaces them.
    """

    root: Path
    title: str | None
    steps: tuple[Step, ...]
    searches: pd.DataFrame
    sources: pd.DataFrame
    n_records: int | None
    n_duplicates: int | None
    n_unique: int | None
    screening: pd.DataFrame
    decisions: pd.DataFrame
    conflicts: Mapping[str, int]
    n_studies: int | None
    extraction: pd.DataFrame
    analyses: pd.DataFrame
    problems: tuple[str, ...] = field(default_factory=tuple)
    outdated: tuple[str, ...] = field(default_factory=tuple)

    def __repr__(self) -> str:
        return (
            f"<ReviewStatus {self.root}: "
            + ", ".join(f"{s.name} {s.state}" for s in self.steps)
            + ">"
        )

    def step(self, name: str) -> Step:
        """The step called ``name``."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_frame(self) -> pd.DataFrame:
        """One row a step: ``step, state, detail, next``."""
        import pandas as pd

        return pd.DataFrame(
            [(s.name, s.state, s.detail, s.next or "") for s in self.steps],
            columns=["step", "state", "detail", "next"],
        )

    def summary(self) -> str:
        """Plain text for the terminal (``python -m review status``)."""
        lines = [f"Review: {self.title or '(protocol not readable)'}", f"Folder: {self.root}", ""]
        width = max(len(s.name) for s in self.steps)
        for s in self.steps:
            lines.append(f"  {s.name:<{width}}  {s.state:<14} {s.detail}")
            if s.next:
                lines.append(f"  {'':<{width}}  {'':<14} next: {s.next}")
        if len(self.sources):
            lines += ["", "Records per source (identified / duplicates removed / kept):"]
            for r in self.sources.itertuples(index=False):
                lines.append(
                    f"  {r.source:<24} {r.identified:>6} {r.duplicates_removed:>6} {r.kept:>6}"
                )
        if len(self.screening):
            lines += ["", "Screening (screened / to screen, per reviewer):"]
            for r in self.screening.itertuples(index=False):
                lines.append(
                    f"  {r.stage:<15} {r.reviewer:<12} {r.screened:>6} / {r.to_screen:<6}"
                    f" {r.remaining} remaining"
                )
            lines.append(
                "  open conflicts: "
                + ", ".join(f"{stage} {n}" for stage, n in self.conflicts.items())
            )
        if len(self.extraction):
            lines += [
                "",
                f"Extraction, per outcome ({self.n_studies} studies: with counts / only an "
                "estimate / events only / nothing):",
            ]
            for r in self.extraction.itertuples(index=False):
                lines.append(
                    f"  {r.outcome:<24} {r.counts:>4} {r.estimate_only:>4} {r.events_only:>4}"
                    f" {r.not_reported:>4}  {r.label}"
                )
        if len(self.analyses):
            lines += ["", "Analyses:"]
            for r in self.analyses.itertuples(index=False):
                state = f"can run (k = {r.k})" if r.can_run else f"blocked: {r.blocked_by}"
                lines.append(f"  {r.analysis:<24} {state}")
        if self.outdated:
            lines += [
                "",
                f"{len(self.outdated)} file(s) older than this toolkit's, never edited "
                "(python -m review update replaces them): " + ", ".join(self.outdated),
            ]
        if self.problems:
            lines += ["", "Problems:"] + [f"  {p}" for p in self.problems]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {
            "done": "#1b7837",
            "in progress": "#b35806",
            "not started": "#737373",
            "not applicable": "#737373",
            "error": "#b2182b",
        }
        rows = "".join(
            f"<tr><td><b>{html.escape(s.name)}</b></td>"
            f"<td style='color:{colour[s.state]}'>{html.escape(s.state)}</td>"
            f"<td style='text-align:left'>{html.escape(s.detail)}"
            + (f"<br><i>next:</i> {html.escape(s.next)}" if s.next else "")
            + "</td></tr>"
            for s in self.steps
        )
        parts = [
            f"<div><h4>{html.escape(self.title or '(protocol not readable)')}</h4>",
            f"<table><tr><th>step</th><th>state</th><th>detail</th></tr>{rows}</table>",
        ]
        for caption, frame in (
            ("Records per source", self.sources),
            ("Screening progress", self.screening),
            ("Extraction completeness per outcome", self.extraction),
            ("Analyses", self.analyses),
        ):
            if len(frame):
                parts.append(f"<p><b>{caption}</b></p>{frame.to_html(index=False)}")
        if self.problems:
            items = "".join(f"<li>{html.escape(p)}</li>" for p in self.problems)
            parts.append(f"<p><b>Problems</b></p><ul>{items}</ul>")
        return "".join(parts) + "</div>"


def _describe(err: Exception) -> str:
    return f"{type(err).__name__}: {err}"


def review_status(review: str | os.PathLike[str] | ReviewPaths) -> ReviewStatus:
    """Where a review stands: every step, what it holds and what to do next.

    Reads the folder only (no file is created or changed, the screening log included). A
    file that cannot be read does not stop the report: its step is marked ``error`` and the
    error, naming file, row and column, is listed in ``problems``.

    Parameters
    ----------
    review : path-like or ReviewPaths
        The review folder.

    Returns
    -------
    ReviewStatus

    Examples
    --------
    >>> from review.paths import example_review_dir
    >>> st = review_status(example_review_dir())
    >>> st.step("title_abstract").state
    'done'
    """
    import pandas as pd

    from review.protocol import load_protocol

    paths = _as_paths(review)
    steps: list[Step] = []
    problems: list[str] = []
    searches = _empty(["database", "snapshot", "state", "records", "date"])
    sources = _empty(["source", "identified", "duplicates_removed", "kept"])
    screening = _empty(["stage", "reviewer", "screened", "to_screen", "remaining"])
    decisions = _empty(["stage", "include", "maybe", "exclude", "conflict"])
    extraction = _empty(["outcome", "label", "kind", "counts", "estimate_only", "events_only",
                         "not_reported", "of"])  # fmt: skip
    analyses = _empty(["analysis", "label", "outcome", "k", "can_run", "blocked_by"])
    conflicts: dict[str, int] = {}
    n_records = n_duplicates = n_unique = n_studies = None

    def finish(title: str | None) -> ReviewStatus:
        done = {s.name for s in steps}
        for name in _STEP_NAMES:
            if name not in done:
                steps.append(Step(name, "not started", "waits for the steps above"))
        steps.sort(key=lambda s: _STEP_NAMES.index(s.name))
        stale = _outdated(paths, problems)
        return ReviewStatus(
            root=paths.root,
            title=title,
            steps=tuple(steps),
            searches=searches,
            sources=sources,
            n_records=n_records,
            n_duplicates=n_duplicates,
            n_unique=n_unique,
            screening=screening,
            decisions=decisions,
            conflicts=MappingProxyType(conflicts),
            n_studies=n_studies,
            extraction=extraction,
            analyses=analyses,
            problems=tuple(problems),
            outdated=stale,
        )

    # --- protocol
    try:
        protocol = load_protocol(paths.protocol)
    except ReviewError as e:
        problems.append(_describe(e))
        steps.append(
            Step(
                "protocol",
                "error",
                str(e),
                "write protocol.yaml (python -m review new DIR gives a commented template)",
            )
        )
        return finish(None)
    import yaml

    todo = _placeholders(yaml.safe_load(paths.protocol.read_text(encoding="utf-8")))
    steps.append(
        Step(
            "protocol",
            "in progress" if todo else "done",
            f"{len(protocol.databases)} database(s), {len(protocol.exclusion_reasons)} "
            f"exclusion reasons, reviewers {', '.join(protocol.reviewers) or '(none named)'}"
            + (f"; {todo} TODO placeholder(s) left" if todo else ""),
            "replace every TODO in protocol.yaml before screening" if todo else None,
        )
    )

    # --- searches named by the protocol
    rows: list[tuple[object, ...]] = []
    for db in protocol.databases:
        if db.name.strip().lower() != _PUBMED:
            rows.append((db.name, db.snapshot or "", "export in imports/", None, None))
            continue
        if not db.snapshot:
            rows.append((db.name, "", "no snapshot named in the protocol", None, None))
            continue
        meta = paths.snapshot(db.snapshot) / "metadata.json"
        if not meta.is_file():
            rows.append((db.name, db.snapshot, "not run yet", None, None))
            continue
        try:
            from review.search import load_snapshot

            snap = load_snapshot(paths.snapshot(db.snapshot))
            rows.append(
                (
                    db.name,
                    db.snapshot,
                    str(snap.metadata.get("retrieval", "saved")),
                    snap.count_retrieved,
                    snap.metadata.get("date_of_search"),
                )
            )
        except (ReviewError, OSError, ValueError) as e:
            problems.append(_describe(e))
            rows.append((db.name, db.snapshot, "error", None, None))
    searches = pd.DataFrame(rows, columns=list(searches.columns))
    pubmed = [r for r in rows if str(r[0]).strip().lower() == _PUBMED]
    if not pubmed:
        steps.append(Step("search", "not applicable", "no PubMed database in the protocol"))
    elif any(r[2] == "error" for r in pubmed):
        steps.append(Step("search", "error", "the PubMed snapshot cannot be read"))
    elif all(r[3] is not None for r in pubmed):
        steps.append(
            Step(
                "search",
                "done",
                "; ".join(f"{r[1]}: {r[3]} records ({r[2]}, {r[4]})" for r in pubmed),
            )
        )
    else:
        steps.append(
            Step(
                "search",
                "not started",
                "; ".join(f"{r[0]}: {r[2]}" for r in pubmed),
                "run the PubMed search: NCBI_EMAIL and NCBI_TOOL in the environment, "
                "LIVE_SEARCH = True in notebook 01",
            )
        )

    # --- records and duplicates (the screening needs them; the extraction does not)
    dedup: DedupResult | None = None
    try:
        dedup = _dedup(paths)
    except StageNotReached:
        steps.append(
            Step("records", "not started", "no search snapshot and no export", _RECORDS_HOW)
        )
    except (ReviewError, OSError) as e:
        problems.append(_describe(e))
        steps.append(Step("records", "error", str(e), "fix the file named"))
    if dedup is not None:
        sources, screening, decisions = _screening_steps(
            paths, protocol, dedup, steps, problems, conflicts
        )
        n_records, n_duplicates, n_unique = dedup.n_records, dedup.n_duplicates, dedup.n_unique

    # --- extraction and analyses
    declared = list(protocol.analyses.values()) if protocol.schema_version >= 2 else []
    ex = None
    if protocol.schema_version < 2:
        steps.append(
            Step(
                "extraction",
                "not started",
                "the protocol (schema version 1) declares no fields or outcomes to extract",
                "move protocol.yaml to schema version 2: declare fields, outcomes, covariates "
                "and analyses (python -m review new writes a template)",
            )
        )
    elif not _extraction_started(paths):
        steps.append(Step("extraction", "not started", "no study extracted", _EXTRACTION_HOW))
        analyses = _analyses_frame(declared, None, "no study extracted yet")
    else:
        try:
            from review.extraction import read_extraction

            ex = read_extraction(paths.extraction, protocol)
            n_studies = len(ex.studies)
            extraction = ex.completeness()[
                ["outcome", "label", "kind", "counts", "estimate_only", "events_only",
                 "not_reported"]
            ].assign(of=n_studies)  # fmt: skip
            none = [str(r.label) for r in extraction.itertuples() if r.not_reported == n_studies]
            steps.append(
                Step(
                    "extraction",
                    "in progress" if none else "done",
                    f"{n_studies} studies extracted"
                    + (f"; no study gives {', '.join(none)} yet" if none else ""),
                    _EXTRACTION_HOW if none else None,
                )
            )
            analyses = _analyses_frame(declared, ex, None)
        except (ReviewError, OSError) as e:
            problems.append(_describe(e))
            steps.append(Step("extraction", "error", str(e), "fix the row named"))
            analyses = _analyses_frame(declared, None, "the extraction tables have errors")
    steps.append(_risk_of_bias_step(paths, protocol, ex, problems))
    if not declared:
        steps.append(Step("analyses", "not applicable", "the protocol declares no analysis"))
    else:
        ready = int(analyses["can_run"].sum())
        state: State = (
            "done" if ready == len(declared) else "in progress" if ready else "not started"
        )
        steps.append(
            Step(
                "analyses",
                state,
                f"{ready} of {len(declared)} declared analyses can run",
                None if ready == len(declared) else "see the blocked analyses below",
            )
        )
    steps.append(_certainty_step(paths, protocol, declared, problems))
    return finish(protocol.title)


def _certainty_step(
    paths: ReviewPaths, protocol: Protocol, declared: Sequence[Any], problems: list[str]
) -> Step:
    """Which pooled outcomes have the reviewers' GRADE judgements (``certainty.yaml``)."""
    if protocol.certainty is None:
        return Step("certainty", "not applicable", "the protocol declares no certainty block")
    pooled = list(dict.fromkeys(a.outcome for a in declared))
    how = (
        "read notebook 09's evidence profiles, then write each pooled outcome's GRADE "
        "judgements with their reasons in certainty.yaml"
    )
    if not paths.certainty.exists():
        return Step("certainty", "not started", "no certainty.yaml yet", how)
    from review.certainty import load_certainty

    try:
        judged = load_certainty(paths.certainty)
    except (ReviewError, OSError) as e:
        problems.append(_describe(e))
        return Step("certainty", "error", str(e), "fix the file named")
    done = [o for o in pooled if o in judged]
    left = [o for o in pooled if o not in judged]
    state: State = "done" if not left else "in progress" if done else "not started"
    found = f"{len(done)} of {len(pooled)} pooled outcomes judged (GRADE)"
    if left:
        found += f"; not yet: {', '.join(left)}"
    return Step("certainty", state, found, how if left else None)


def _screening_steps(
    paths: ReviewPaths,
    protocol: Protocol,
    dedup: DedupResult,
    steps: list[Step],
    problems: list[str],
    conflicts: dict[str, int],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Records, de-duplication and screening steps; returns (sources, screening, decisions)."""
    import pandas as pd

    sources = dedup.by_source.reset_index(drop=True)
    n_records, n_duplicates, n_unique = dedup.n_records, dedup.n_duplicates, dedup.n_unique
    screening = _empty(["stage", "reviewer", "screened", "to_screen", "remaining"])
    decisions = _empty(["stage", "include", "maybe", "exclude", "conflict"])
    steps.append(
        Step(
            "records",
            "done",
            f"{n_records} records from {len(sources)} source(s): "
            + ", ".join(f"{r.source} {r.identified}" for r in sources.itertuples()),
        )
    )
    steps.append(
        Step(
            "deduplication",
            "done",
            f"{n_duplicates} duplicate(s) removed, {n_unique} records to screen"
            + (
                f"; {len(dedup.conflicts)} proposed merge(s) blocked"
                if len(dedup.conflicts)
                else ""
            ),
        )
    )

    # --- screening
    try:
        log = _log(paths, protocol)
        ids = [str(x) for x in dedup.unique["record_id"]]
        reviewers = list(protocol.reviewers)
        if log is not None:
            from review.screening import CONSENSUS

            seen = log.current()
            for who in seen["reviewer"].drop_duplicates():
                if who not in reviewers and who != CONSENSUS:
                    reviewers.append(str(who))
        sought = _full_text_pool(log)
        progress_rows: list[tuple[object, ...]] = []
        final_rows: list[tuple[object, ...]] = []
        pools = (("title_abstract", _title_abstract_pool(ids, log)), ("full_text", sought))
        for stage, pool in pools:
            for who in [*reviewers, None]:
                if log is None:
                    done = 0
                else:
                    prog = log.progress(pool, stage=stage, reviewer=who)  # type: ignore[arg-type]
                    done = prog.n_screened
                progress_rows.append((stage, who or "any", done, len(pool), len(pool) - done))
            counts = _final_counts(log, stage)
            conflicts[stage] = counts["conflict"]
            final_rows.append((stage, *(counts[k] for k in decisions.columns[1:])))
        screening = pd.DataFrame(progress_rows, columns=list(screening.columns))
        decisions = pd.DataFrame(final_rows, columns=list(decisions.columns))
        ta_problem = _stage_title_abstract(ids, log)
        n_straight = len(_straight_to_full_text(log))
        if ta_problem is None:
            c = _final_counts(log, "title_abstract")
            steps.append(
                Step(
                    "title_abstract",
                    "done",
                    f"{c['include'] + c['maybe'] + c['exclude']} records decided: "
                    f"{c['include'] + c['maybe']} to full text, {c['exclude']} excluded"
                    + (f"; {n_straight} taken straight to full text" if n_straight else ""),
                )
            )
            ft_problem, n_sought = _stage_full_text(log)
            c = _final_counts(log, "full_text")
            if ft_problem is None:
                steps.append(
                    Step(
                        "full_text",
                        "done",
                        f"{n_sought} reports decided: {c['include']} included, "
                        f"{c['exclude']} excluded or not retrieved",
                    )
                )
            else:
                steps.append(
                    Step(
                        "full_text",
                        "not started" if not sum(c.values()) else "in progress",
                        ft_problem,
                        "decide each report at stage full_text in notebook 03's screener",
                    )
                )
        else:
            anyone = screening[(screening["stage"] == "title_abstract")]
            started = bool(anyone["screened"].sum()) if len(anyone) else False
            steps.append(
                Step(
                    "title_abstract",
                    "in progress" if started else "not started",
                    ta_problem,
                    _SCREEN_HOW,
                )
            )
    except (ReviewError, OSError) as e:
        problems.append(_describe(e))
        steps.append(Step("title_abstract", "error", str(e), "fix the file named"))
    return sources, screening, decisions


def _outdated(paths: ReviewPaths, problems: list[str]) -> tuple[str, ...]:
    from review.scaffold import outdated

    try:
        return outdated(paths.root)
    except (ReviewError, OSError) as e:
        problems.append(_describe(e))
        return ()


_STEP_NAMES = (
    "protocol",
    "search",
    "records",
    "deduplication",
    "title_abstract",
    "full_text",
    "extraction",
    "risk_of_bias",
    "analyses",
    "certainty",
)


def _risk_of_bias_step(
    paths: ReviewPaths, protocol: Protocol, ex: Any, problems: list[str]
) -> Step:
    """How far the risk-of-bias appraisal has come (read only: no log or lock is created)."""
    if not protocol.appraisal:
        return Step("risk_of_bias", "not applicable", "the protocol declares no risk-of-bias tool")
    if ex is None:
        return Step("risk_of_bias", "not started", "no study extracted yet", _EXTRACTION_HOW)
    how = "answer each study's items in notebook 06's assessor, and settle conflicts (consensus)"
    if not paths.appraisal_log.exists():
        return Step("risk_of_bias", "not started", "no study assessed yet", how)
    import warnings

    from review.appraisal import AppraisalLog, SetAsideWarning, appraisal_plan

    try:
        plan = appraisal_plan(protocol, paths.root)
        ids = [str(x) for x in ex.studies["study_id"]]
        log = AppraisalLog.for_review(paths.root, plan=plan, studies=ids)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SetAsideWarning)
            table = log.judgements(high_risk=plan.high_risk).table
            open_conflicts = len(log.conflicts())
            set_aside = log.set_aside_studies()
    except (ReviewError, OSError) as e:
        problems.append(_describe(e))
        return Step("risk_of_bias", "error", str(e), "fix the file named")
    judged = int(table["overall"].map(lambda v: isinstance(v, str)).sum())
    found = f"{judged} of {len(ids)} studies judged with {plan.tool.short_name}"
    if open_conflicts:
        found += f"; {open_conflicts} conflict(s) open"
    if set_aside:
        found += f"; answers on {len(set_aside)} study(ies) no longer extracted set aside"
    done = judged == len(ids) and not open_conflicts
    started = judged or len(log.final())
    state: State = "done" if done else "in progress" if started else "not started"
    return Step("risk_of_bias", state, found, None if done else how)


def _analyses_frame(declared: Sequence[Any], ex: Any, blocked: str | None) -> pd.DataFrame:
    """Per declared analysis: the studies it can use and whether it can run (no fit made).

    A study enters with counts (events and the outcome's denominator or person-time) or, when
    the analysis says ``estimates: include``, with an estimate; a random-effects model needs
    two studies, a common-effect model one (as the engine requires).
    """
    import pandas as pd

    rows = []
    for a in declared:
        if ex is None:
            rows.append((a.code, a.label, a.outcome, 0, False, blocked))
            continue
        basis = ex.outcome_table(a.outcome)["basis"]
        usable = basis == "counts"
        if a.estimates == "include":
            usable |= basis == "estimate"
        k = int(usable.sum())
        need = 1 if a.model.method == "FE" else 2
        why = None
        if k < need:
            label = ex.protocol.outcome(a.outcome).label
            if k == 0:
                why = f"no study gives {label!r} with its counts" + (
                    " or an estimate" if a.estimates == "include" else ""
                )
            else:
                why = f"k = {k}: a random-effects model needs at least 2 studies"
            n_est = int((basis == "estimate").sum())
            if n_est and a.estimates != "include":
                verb = "gives" if n_est == 1 else "give"
                why += f" ({n_est} {verb} only an estimate; the analysis says estimates: exclude)"
        rows.append((a.code, a.label, a.outcome, k, why is None, why))
    return pd.DataFrame(
        rows, columns=["analysis", "label", "outcome", "k", "can_run", "blocked_by"]
    )
