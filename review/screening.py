"""Screening: an append-only decision log, the state derived from it, and agreement.

The log (``data/screening/log.jsonl``, see ``docs/DESIGN.md``) holds one JSON object a line:

.. code-block:: json

    {"seq": 12, "record_id": "pubmed:38012345", "stage": "title_abstract", "reviewer": "A",
     "decision": "include", "reason": null, "note": null,
     "timestamp": "2026-11-26T02:31:07.514210+00:00"}

Nothing is ever rewritten: a changed mind, an undo and a conflict resolution are new rows, and
the current state (:meth:`ScreeningLog.current`, :meth:`ScreeningLog.final`) is derived from
the rows each time, never stored twice.

Durability
----------
The rows are kept by :class:`review.journal.Journal`, the toolkit's one durable log (read its
notes): every :meth:`ScreeningLog.record` runs under a lock of this process and an exclusive
file lock on ``log.jsonl.lock``, both keyed on the resolved path; ``seq`` is assigned under
them (last ``seq`` + 1), the whole line is written at the end of the file and ``fsync``'d
before the call returns, and a write that fails (a full disk) is rolled back, leaving the
file as it was, with a :class:`~review.errors.ScreeningLogError` naming it. A decision whose
``record`` call returned is therefore on disk; a writer killed before that leaves either no
trace or a *torn* last line.

Torn last line
--------------
A torn line was never acknowledged and is never used. With ``on_torn="repair"`` (the default)
the first access after the crash moves the torn bytes aside, to the sidecar
``log.jsonl.torn`` with their line number and byte offset, truncates the log back to its last
complete line, and a :class:`TornLineWarning` names the file, the line and the sidecar. With
``on_torn="raise"`` the access raises :class:`~review.errors.ScreeningLogError` naming the
file and line instead, and :meth:`ScreeningLog.repair` does the move on request. A complete
last decision that lacks only its newline is not torn: it is terminated and used. A
*complete* line that does not parse, or a ``seq`` that does not increase, is corruption, not
a crash: it always raises, naming the file and line.

Undo
----
:meth:`ScreeningLog.undo` appends a row with ``decision="undo"`` for the same record, stage
and reviewer. Deriving the state replays each (record, stage, reviewer) as a stack: a
decision pushes, an undo pops. So undoing a changed decision restores the one before, and
undoing a first decision leaves the record unscreened by that reviewer. Readers that count
decisions (PRISMA) must use the derived state (:meth:`~ScreeningLog.final`), not raw rows.

References
----------
Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated guideline for
reporting systematic reviews. BMJ 2021;372:n71.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from review._agreement import coefficients
from review.errors import OptionError, ScreeningLogError
from review.journal import Journal, RepairReport, TornLineWarning

if TYPE_CHECKING:  # pandas and the protocol are imported lazily: a writer process stays light
    import pandas as pd

    from review.protocol import Protocol

__all__ = [
    "CONSENSUS",
    "DECISIONS",
    "LOG_COLUMNS",
    "STAGES",
    "UNDO",
    "AgreementResult",
    "Progress",
    "RepairReport",
    "ScreeningLog",
    "TornLineWarning",
    "agreement",
]

#: Screening stages, in order.
STAGES = ("title_abstract", "full_text")
#: Decisions a reviewer can record.
DECISIONS = ("include", "exclude", "maybe")
#: The decision value of an undo row (written only by :meth:`ScreeningLog.undo`).
UNDO = "undo"
#: The reviewer name of a row that resolves a conflict.
CONSENSUS = "consensus"
#: Keys of a log row, in file order.
LOG_COLUMNS = ("seq", "record_id", "stage", "reviewer", "decision", "reason", "note", "timestamp")

_NOT_RETRIEVED = "not_retrieved"
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")

Stage = Literal["title_abstract", "full_text"]
Decision = Literal["include", "exclude", "maybe"]


def _check_row(row: Mapping[str, Any]) -> str | None:
    """What is wrong with a parsed log row (keys, ``seq`` and ``timestamp`` already checked)."""
    for key in ("record_id", "reviewer"):
        if not isinstance(row[key], str) or not row[key]:
            return f"{key!r} must be a non-empty string, got {row[key]!r}"
    if row["stage"] not in STAGES:
        return f"'stage' must be one of {list(STAGES)}, got {row['stage']!r}"
    if row["decision"] not in (*DECISIONS, UNDO):
        return f"'decision' must be one of {[*DECISIONS, UNDO]}, got {row['decision']!r}"
    for key in ("reason", "note"):
        if row[key] is not None and not isinstance(row[key], str):
            return f"{key!r} must be a string or null, got {row[key]!r}"
    return None


@dataclass(frozen=True, slots=True)
class Progress:
    """Screening progress of one stage (and reviewer) against a set of records.

    Attributes
    ----------
    stage : str
        The stage.
    reviewer : str or None
        The reviewer counted (``None``: a record counts as screened once anyone decided).
    n_total : int
        Records to screen.
    n_screened : int
        Of these, records with a current decision.
    n_remaining : int
        ``n_total - n_screened``.
    n_unknown : int
        Records decided in the log but absent from the records given.
    """

    stage: str
    reviewer: str | None
    n_total: int
    n_screened: int
    n_remaining: int
    n_unknown: int

    def __str__(self) -> str:
        who = f" by {self.reviewer}" if self.reviewer else ""
        return f"{self.n_screened} / {self.n_total} screened{who}, {self.n_remaining} remaining"


def _ids_of(records: pd.DataFrame | Iterable[str], id_column: str = "record_id") -> list[str]:
    import pandas as pd

    if isinstance(records, pd.DataFrame):
        if id_column not in records.columns:
            raise OptionError(f"records have no column {id_column!r}")
        ids = [str(x) for x in records[id_column].tolist()]
    else:
        ids = [str(x) for x in records]
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise OptionError(f"record_id {i!r} appears twice in the records given")
        seen.add(i)
    return ids


def _frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    df = pd.DataFrame(list(rows), columns=list(LOG_COLUMNS))
    df["seq"] = df["seq"].astype("int64")
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
    return df


class ScreeningLog:
    """An append-only, crash-safe screening log (JSON Lines) and the state derived from it.

    Parameters
    ----------
    path : path-like
        The log file (``data/screening/log.jsonl``); created, with its folders, if missing.
    protocol : Protocol, optional
        When given, reasons must be the protocol's codes, reviewers (if the protocol lists
        them) must be the protocol's reviewers or ``"consensus"``, and stages the protocol's
        stages. Without it, a reason only has to look like a code (``lower_snake_case``).
    lock_timeout : float, default 10
        Seconds to wait for the file lock before raising ``ScreeningLogError``.
    on_torn : {"repair", "raise"}, default "repair"
        What to do with a torn last line (see the module notes): move it aside to
        ``<log>.torn`` with a :class:`TornLineWarning`, or raise ``ScreeningLogError``.
    records : DataFrame or iterable of str, optional
        The records being screened (a frame with ``record_id``, e.g. the de-duplicated
        groups, or the ids themselves). When given, a decision on any other id is refused
        (a mistyped id would otherwise sit in the log unnoticed until the PRISMA checks),
        and :meth:`validate` reports rows already written on unknown ids.

    Notes
    -----
    The lock lives beside the log as ``<log>.lock`` (keep it out of version control).
    Decisions are made on de-duplicated groups: pass the group id as ``record_id``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = ScreeningLog(pathlib.Path(tempfile.mkdtemp()) / "log.jsonl")
    >>> log.record("pubmed:1", stage="title_abstract", reviewer="A", decision="include")["seq"]
    1
    >>> log.record("pubmed:1", stage="title_abstract", reviewer="B", decision="exclude")["seq"]
    2
    >>> log.conflicts("title_abstract")["record_id"].tolist()
    ['pubmed:1']
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        protocol: Protocol | None = None,
        lock_timeout: float = 10.0,
        on_torn: Literal["repair", "raise"] = "repair",
        records: pd.DataFrame | Iterable[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.protocol = protocol
        self.lock_timeout = float(lock_timeout)
        self.record_ids: frozenset[str] | None = (
            None if records is None else frozenset(_ids_of(records))
        )
        self._journal = Journal(
            self.path,
            columns=LOG_COLUMNS,
            check=_check_row,
            error=ScreeningLogError,
            lock_timeout=self.lock_timeout,
            on_torn=on_torn,
            what="screening log",
        )

    def __repr__(self) -> str:
        return f"ScreeningLog({str(self.path)!r})"

    # ------------------------------------------------------------------ storage
    @property
    def on_torn(self) -> Literal["repair", "raise"]:
        """What a torn last line does: ``"repair"`` (move it aside) or ``"raise"``."""
        return self._journal.on_torn

    @on_torn.setter
    def on_torn(self, value: Literal["repair", "raise"]) -> None:
        if value not in ("repair", "raise"):
            raise OptionError(f"Invalid on_torn {value!r}; must be one of ['repair', 'raise']")
        self._journal.on_torn = value

    @property
    def lock_path(self) -> Path:
        """The file lock, beside the resolved log (``<log>.lock``; keep it out of git)."""
        return self._journal.lock_path

    @property
    def sidecar_path(self) -> Path:
        """Where torn lines are moved (``<log>.torn``)."""
        return self._journal.sidecar_path

    @property
    def _lock(self) -> Any:  # the journal's file lock (tests simulate a read-only location)
        return self._journal._lock

    def repair(self) -> RepairReport:
        """Move a torn last line aside to ``<log>.torn`` and truncate the log to its last row.

        A complete last decision that lacks only its newline is terminated and kept.

        Returns
        -------
        RepairReport
            ``n_bytes == 0`` when the log was intact.

        Raises
        ------
        review.errors.ScreeningLogError
            If a complete line is corrupt (that is never repaired automatically).
        """
        return self._journal.repair()

    def _rows(self) -> list[dict[str, Any]]:
        return self._journal.rows()

    # ------------------------------------------------------------------ writing
    def _check(
        self,
        record_id: str,
        stage: str,
        reviewer: str,
        decision: str,
        reason: str | None,
        note: str | None,
    ) -> None:
        if not isinstance(record_id, str) or not record_id.strip():
            raise OptionError(f"record_id must be a non-empty string, got {record_id!r}")
        if self.record_ids is not None and record_id not in self.record_ids:
            close = difflib.get_close_matches(record_id, self.record_ids, n=1, cutoff=0.8)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise OptionError(
                f"record_id {record_id!r} is not among the {len(self.record_ids)} records "
                f"being screened{hint}"
            )
        if stage not in STAGES:
            raise OptionError(f"Invalid stage {stage!r}; must be one of {list(STAGES)}")
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise OptionError(f"reviewer must be a non-empty string, got {reviewer!r}")
        if decision not in DECISIONS:
            raise OptionError(f"Invalid decision {decision!r}; must be one of {list(DECISIONS)}")
        if note is not None and not isinstance(note, str):
            raise OptionError(f"note must be a string or None, got {note!r}")
        p = self.protocol
        if p is not None:
            if stage not in p.stages:
                raise OptionError(
                    f"Invalid stage {stage!r}; the protocol's stages are {list(p.stages)}"
                )
            if p.reviewers and reviewer not in (*p.reviewers, CONSENSUS):
                raise OptionError(
                    f"Invalid reviewer {reviewer!r}; must be one of "
                    f"{[*p.reviewers, CONSENSUS]} (the protocol's reviewers)"
                )
        valid = list(p.exclusion_reasons) if p is not None else None
        if reason is None:
            if stage == "full_text" and decision == "exclude":
                hint = f"; must be one of {valid}" if valid else ""
                raise OptionError(
                    f"a full-text exclusion of {record_id!r} needs a reason code{hint}"
                )
            return
        if decision != "exclude":
            raise OptionError(
                f"a reason is given only with decision 'exclude', not {decision!r} "
                "(use note= for free text)"
            )
        if not isinstance(reason, str) or not _CODE.match(reason):
            raise OptionError(f"Invalid reason {reason!r}; a reason is a lower_snake_case code")
        if valid is not None and reason not in valid:
            raise OptionError(f"Invalid reason {reason!r}; must be one of {valid}")
        if reason == _NOT_RETRIEVED and stage != "full_text":
            raise OptionError("reason 'not_retrieved' applies to stage 'full_text' only")

    def record(
        self,
        record_id: str,
        stage: Stage = "title_abstract",
        reviewer: str = "A",
        decision: Decision = "include",
        reason: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Append one decision; it is on disk (fsync'd) when this returns.

        Parameters
        ----------
        record_id : str
            The record (de-duplicated group id) decided on.
        stage : {"title_abstract", "full_text"}
            Screening stage.
        reviewer : str
            Who decided; ``"consensus"`` resolves a conflict.
        decision : {"include", "exclude", "maybe"}
            The decision.
        reason : str, optional
            Exclusion reason code from the protocol; required for a full-text exclusion.
            ``"not_retrieved"`` (full text only) marks a report that could not be obtained.
        note : str, optional
            Free text.

        Returns
        -------
        dict
            The row as written, with its ``seq`` and ``timestamp``.

        Raises
        ------
        review.errors.OptionError
            Invalid stage, decision, reviewer or reason (nothing is written).
        review.errors.ScreeningLogError
            Lock timeout, a corrupt log, or a failed write (e.g. a full disk; the log is
            left as it was).
        """
        self._check(record_id, stage, reviewer, decision, reason, note)
        body = {
            "record_id": record_id,
            "stage": stage,
            "reviewer": reviewer,
            "decision": decision,
            "reason": reason,
            "note": note,
        }
        return self._journal.append(body)

    def resolve(
        self,
        record_id: str,
        stage: Stage = "title_abstract",
        decision: Decision = "include",
        reason: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Record the consensus decision that resolves a conflict (``reviewer="consensus"``)."""
        return self.record(record_id, stage, CONSENSUS, decision, reason, note)

    def undo(
        self,
        record_id: str | None = None,
        *,
        stage: Stage = "title_abstract",
        reviewer: str = "A",
        note: str | None = None,
    ) -> dict[str, Any]:
        """Undo a reviewer's last standing decision, by appending an ``"undo"`` row.

        Parameters
        ----------
        record_id : str, optional
            The record whose decision to undo; default: the reviewer's most recent standing
            decision at ``stage``.
        stage : {"title_abstract", "full_text"}
            Screening stage.
        reviewer : str
            Whose decision.
        note : str, optional
            Free text; by default ``"undo of seq N"``.

        Returns
        -------
        dict
            The undo row as written.

        Raises
        ------
        review.errors.ScreeningLogError
            If the reviewer has no standing decision to undo (for that record).
        """
        if stage not in STAGES:
            raise OptionError(f"Invalid stage {stage!r}; must be one of {list(STAGES)}")
        if note is not None and not isinstance(note, str):
            raise OptionError(f"note must be a string or None, got {note!r}")

        def body(rows: list[dict[str, Any]]) -> dict[str, Any]:
            target = None
            for (rid, stg, rev), stack in _stacks(rows).items():
                if stg != stage or rev != reviewer or not stack:
                    continue
                if record_id is not None and rid != record_id:
                    continue
                if target is None or stack[-1]["seq"] > target["seq"]:
                    target = stack[-1]
            if target is None:
                what = f"record {record_id!r}" if record_id else "any record"
                raise ScreeningLogError(
                    f"reviewer {reviewer!r} has no standing decision on {what} at stage "
                    f"{stage!r} to undo",
                    path=self.path,
                )
            return {
                "record_id": target["record_id"],
                "stage": stage,
                "reviewer": reviewer,
                "decision": UNDO,
                "reason": None,
                "note": note if note is not None else f"undo of seq {target['seq']}",
            }

        return self._journal.append(body)

    def validate(self, protocol: Protocol | None = None) -> int:
        """Check every row against the protocol (the log's own, or the one given).

        Reading already checks the format; this adds the protocol's rules, for a log written
        elsewhere or before the protocol changed: reasons are protocol codes, every full-text
        exclusion has one, ``not_retrieved`` only at full text, reviewers and stages are the
        protocol's, no undo row comes without a decision to undo, and (when the log was
        given its ``records``) every row is on one of them.

        Returns
        -------
        int
            Number of rows checked.

        Raises
        ------
        review.errors.ScreeningLogError
            At the first row that breaks a rule, naming the file and line.
        """
        p = protocol if protocol is not None else self.protocol
        if p is None:
            raise OptionError("validate() needs a protocol (none was given to the log)")
        rows = self._rows()
        depth: dict[tuple[str, str, str], int] = {}
        saved = self.protocol
        self.protocol = p
        try:
            for line, r in enumerate(rows, 1):
                key = (r["record_id"], r["stage"], r["reviewer"])
                if r["decision"] == UNDO:
                    if not depth.get(key):
                        raise ScreeningLogError(
                            f"undo with no standing decision (seq {r['seq']})",
                            path=self.path,
                            line=line,
                        )
                    depth[key] -= 1
                    continue
                depth[key] = depth.get(key, 0) + 1
                try:
                    self._check(
                        r["record_id"],
                        r["stage"],
                        r["reviewer"],
                        r["decision"],
                        r["reason"],
                        r["note"],
                    )
                except OptionError as e:
                    raise ScreeningLogError(
                        f"{e} (seq {r['seq']})", path=self.path, line=line
                    ) from e
        finally:
            self.protocol = saved
        return len(rows)

    # ------------------------------------------------------------------ derived state
    def decisions(self) -> pd.DataFrame:
        """Every row ever written, in order (undo rows included).

        Returns
        -------
        pandas.DataFrame
            Columns ``seq, record_id, stage, reviewer, decision, reason, note, timestamp``
            (``timestamp`` as UTC datetimes).
        """
        return _frame(self._rows())

    def current(self, stage: Stage | None = None, *, reviewer: str | None = None) -> pd.DataFrame:
        """Each reviewer's standing decision per record (undo applied), ordered by ``seq``.

        Parameters
        ----------
        stage : {"title_abstract", "full_text"}, optional
            Restrict to one stage.
        reviewer : str, optional
            Restrict to one reviewer (``"consensus"`` included as a reviewer).

        Returns
        -------
        pandas.DataFrame
            One row per (record_id, stage, reviewer) that has a standing decision, with the
            log's columns (the row that stands).
        """
        rows = _standing(self._rows(), stage, reviewer)
        return _frame(rows)

    def final(self, stage: Stage) -> pd.DataFrame:
        """The decision per record at ``stage``, combining reviewers.

        Rules: a standing ``consensus`` row wins. Otherwise one reviewer's decision stands
        alone; several reviewers' decisions agree when they are all ``exclude`` or, at title
        and abstract, all in {include, maybe} (both send the record to full text; the result
        is ``include`` if anyone included, else ``maybe``); at full text they agree only when
        decision and reason are identical. Disagreement gives ``decision="conflict"`` until a
        consensus row resolves it (see :meth:`conflicts`).

        Returns
        -------
        pandas.DataFrame
            One row per record decided at ``stage``, in order of first decision: ``record_id,
            decision`` (include, exclude, maybe or conflict), ``reason, basis`` (consensus,
            single, agreement or conflict), ``reviewers`` (comma-separated, sorted), ``seq``
            (the latest row taken into account).
        """
        import pandas as pd

        if stage not in STAGES:
            raise OptionError(f"Invalid stage {stage!r}; must be one of {list(STAGES)}")
        out = _final_rows(self._rows(), stage)
        cols = ["record_id", "decision", "reason", "basis", "reviewers", "seq"]
        df = pd.DataFrame(out, columns=cols)
        df["seq"] = df["seq"].astype("int64")
        return df

    def conflicts(self, stage: Stage) -> pd.DataFrame:
        """Records whose reviewers disagree at ``stage`` and have no consensus row yet.

        Returns
        -------
        pandas.DataFrame
            ``record_id``, then ``decision_<reviewer>`` and ``reason_<reviewer>`` for every
            reviewer involved in a conflict (missing where that reviewer has not decided).
        """
        import pandas as pd

        rows = self._rows()
        conflicted = [r["record_id"] for r in _final_rows(rows, stage) if r["basis"] == "conflict"]
        if not conflicted:
            return pd.DataFrame({"record_id": pd.Series([], dtype=object)})
        keep = set(conflicted)
        standing = [r for r in _standing(rows, stage, None) if r["record_id"] in keep]
        reviewers = sorted({r["reviewer"] for r in standing})
        table: dict[str, dict[str, Any]] = {rid: {"record_id": rid} for rid in conflicted}
        for r in standing:
            table[r["record_id"]][f"decision_{r['reviewer']}"] = r["decision"]
            table[r["record_id"]][f"reason_{r['reviewer']}"] = r["reason"]
        cols = ["record_id"] + [f"{k}_{rev}" for rev in reviewers for k in ("decision", "reason")]
        return pd.DataFrame(list(table.values()), columns=cols)

    def included(self, stage: Stage) -> list[str]:
        """Record ids that pass ``stage``, in order of first decision.

        That is a final ``include``, or ``maybe`` at title/abstract (which sends the record
        to full text).
        """
        ok = ("include", "maybe") if stage == "title_abstract" else ("include",)
        return [r["record_id"] for r in _final_rows(self._rows(), stage) if r["decision"] in ok]

    def screened(
        self,
        records: pd.DataFrame | Iterable[str],
        *,
        stage: Stage = "title_abstract",
        reviewer: str | None = None,
        id_column: str = "record_id",
    ) -> list[str]:
        """Ids of ``records`` with a standing decision at ``stage``, in the records' order.

        A decision by ``reviewer`` counts, or by anyone when ``reviewer`` is None.
        """
        done = self._decided(stage, reviewer)
        return [i for i in _ids_of(records, id_column) if i in done]

    def remaining(
        self,
        records: pd.DataFrame | Iterable[str],
        *,
        stage: Stage = "title_abstract",
        reviewer: str | None = None,
        id_column: str = "record_id",
    ) -> list[str]:
        """Ids of ``records`` still to screen at ``stage`` (by ``reviewer``), in order."""
        done = self._decided(stage, reviewer)
        return [i for i in _ids_of(records, id_column) if i not in done]

    def progress(
        self,
        records: pd.DataFrame | Iterable[str],
        *,
        stage: Stage = "title_abstract",
        reviewer: str | None = None,
        id_column: str = "record_id",
    ) -> Progress:
        """Screened and remaining counts of ``records`` at ``stage`` (by ``reviewer``)."""
        ids = _ids_of(records, id_column)
        done = self._decided(stage, reviewer)
        n_screened = sum(1 for i in ids if i in done)
        return Progress(
            stage=stage,
            reviewer=reviewer,
            n_total=len(ids),
            n_screened=n_screened,
            n_remaining=len(ids) - n_screened,
            n_unknown=len(done - set(ids)),
        )

    def _decided(self, stage: str, reviewer: str | None) -> set[str]:
        if stage not in STAGES:
            raise OptionError(f"Invalid stage {stage!r}; must be one of {list(STAGES)}")
        return {r["record_id"] for r in _standing(self._rows(), stage, reviewer)}


# ---------------------------------------------------------------------- derivation
def _stacks(
    rows: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, str, str], list[Mapping[str, Any]]]:
    """Replay the log: per (record, stage, reviewer) a decision pushes, an undo pops."""
    stacks: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        key = (r["record_id"], r["stage"], r["reviewer"])
        stack = stacks.setdefault(key, [])
        if r["decision"] == UNDO:
            if stack:
                stack.pop()
            # An undo with nothing to undo cannot be written through the API (undo() checks
            # under the lock); a hand-written one changes nothing.
        else:
            stack.append(r)
    return stacks


def _standing(
    rows: Iterable[Mapping[str, Any]], stage: str | None, reviewer: str | None
) -> list[Mapping[str, Any]]:
    out = [
        s[-1]
        for (_, stg, rev), s in _stacks(rows).items()
        if s and (stage is None or stg == stage) and (reviewer is None or rev == reviewer)
    ]
    out.sort(key=lambda r: r["seq"])
    return out


def _final_rows(rows: Sequence[Mapping[str, Any]], stage: str) -> list[dict[str, Any]]:
    first_seq: dict[str, int] = {}
    for r in rows:
        if r["stage"] == stage:
            first_seq.setdefault(r["record_id"], r["seq"])
    by_record: dict[str, list[Mapping[str, Any]]] = {}
    for r in _standing(rows, stage, None):
        by_record.setdefault(r["record_id"], []).append(r)
    out = []
    for rid in sorted(by_record, key=lambda k: first_seq[k]):
        standing = by_record[rid]
        consensus = [r for r in standing if r["reviewer"] == CONSENSUS]
        people = [r for r in standing if r["reviewer"] != CONSENSUS]
        seq = max(r["seq"] for r in standing)
        names = ",".join(sorted(r["reviewer"] for r in standing))
        if consensus:
            c = consensus[0]
            decision, reason, basis = c["decision"], c["reason"], "consensus"
        elif len(people) == 1:
            decision, reason, basis = people[0]["decision"], people[0]["reason"], "single"
        else:
            decs = [r["decision"] for r in people]
            reasons = {r["reason"] for r in people}
            if all(d == "exclude" for d in decs) and (
                stage == "title_abstract" or len(reasons) == 1
            ):
                decision, basis = "exclude", "agreement"
                reason = next(iter(reasons)) if len(reasons) == 1 else None
            elif stage == "title_abstract" and "exclude" not in decs:
                decision = "include" if "include" in decs else "maybe"
                reason, basis = None, "agreement"
            elif stage == "full_text" and len(set(decs)) == 1 and len(reasons) == 1:
                decision, reason, basis = decs[0], next(iter(reasons)), "agreement"
            else:
                decision, reason, basis = "conflict", None, "conflict"
        out.append(
            {
                "record_id": rid,
                "decision": decision,
                "reason": reason,
                "basis": basis,
                "reviewers": names,
                "seq": seq,
            }
        )
    return out


# ---------------------------------------------------------------------- agreement
@dataclass(frozen=True, slots=True)
class AgreementResult:
    """Agreement between two reviewers at one stage.

    Attributes
    ----------
    stage : str
        The stage.
    reviewers : tuple of str
        The two reviewers (rows, columns of ``table``).
    categories : tuple of str
        Categories compared (``("include", "exclude")`` when ``maybe`` is merged into
        include).
    n_both : int
        Records with a standing decision from both reviewers: the only ones compared.
    n_only : Mapping[str, int]
        Records decided by one reviewer only, per reviewer (missing data: reported, not
        imputed).
    observed : float
        Observed proportion of agreement p_o.
    expected_kappa : float
        Chance agreement under Cohen's model, sum_k p_1k p_2k.
    kappa : float
        Cohen's kappa, (p_o - p_e) / (1 - p_e); NaN when p_e = 1.
    kappa_se : float
        Large-sample standard error of kappa (Fleiss, Cohen & Everitt 1969).
    kappa_ci_low, kappa_ci_high : float
        Wald interval kappa -/+ z * kappa_se at ``level``, truncated to [-1, 1].
    level : float
        Confidence level of the kappa interval.
    expected_ac1 : float
        Chance agreement under Gwet's model, sum_k pi_k (1 - pi_k) / (q - 1).
    ac1 : float
        Gwet's first-order agreement coefficient.
    pabak : float
        Prevalence- and bias-adjusted kappa, (q p_o - 1) / (q - 1).
    table : pandas.DataFrame
        Counts, rows = first reviewer's decision, columns = second reviewer's.
    notes : tuple of str
        Caveats (e.g. nothing to compare, undefined kappa).
    """

    stage: str
    reviewers: tuple[str, str]
    categories: tuple[str, ...]
    n_both: int
    n_only: Mapping[str, int]
    observed: float
    expected_kappa: float
    kappa: float
    kappa_se: float
    kappa_ci_low: float
    kappa_ci_high: float
    level: float
    expected_ac1: float
    ac1: float
    pabak: float
    table: pd.DataFrame
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"<AgreementResult {self.stage} {self.reviewers[0]} vs {self.reviewers[1]}: "
            f"n={self.n_both}, p_o={self.observed:.3f}, kappa={self.kappa:.3f}, "
            f"AC1={self.ac1:.3f}, PABAK={self.pabak:.3f}>"
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per statistic: ``statistic, value``."""
        import pandas as pd

        a, b = self.reviewers
        frame = pd.DataFrame(
            {
                "statistic": [
                    "n_both",
                    f"n_only_{a}",
                    f"n_only_{b}",
                    "observed",
                    "kappa",
                    "kappa_se",
                    "kappa_ci_low",
                    "kappa_ci_high",
                    "ac1",
                    "pabak",
                ],
                "value": [
                    float(self.n_both),
                    float(self.n_only.get(a, 0)),
                    float(self.n_only.get(b, 0)),
                    self.observed,
                    self.kappa,
                    self.kappa_se,
                    self.kappa_ci_low,
                    self.kappa_ci_high,
                    self.ac1,
                    self.pabak,
                ],
            }
        )
        # one reviewer: no second reviewer's row
        return frame if b else frame[frame["statistic"] != "n_only_"].reset_index(drop=True)

    def summary(self) -> str:
        """Plain-text report: counts table, agreement statistics, missing data."""
        from review._format import fmt_ci, fmt_x

        a, b = self.reviewers
        if not b:  # one reviewer: nothing compared
            return "\n".join(
                [f"Agreement at stage {self.stage}: one reviewer ({a})"]
                + [f"Note: {n}" for n in self.notes]
            )
        ci = fmt_ci(self.kappa_ci_low, self.kappa_ci_high)
        lines = [
            f"Agreement at stage {self.stage}: reviewer {a} (rows) vs {b} (columns)",
            f"Records screened by both: {self.n_both}; by {a} only: {self.n_only[a]}; "
            f"by {b} only: {self.n_only[b]} (not compared, not imputed)",
            "",
            self.table.to_string(),
            "",
            f"Observed agreement  {fmt_x(self.observed)}",
            f"Cohen's kappa       {fmt_x(self.kappa)}"
            f"   (chance agreement {fmt_x(self.expected_kappa)}; SE {fmt_x(self.kappa_se)}, "
            f"{self.level:.0%} CI {ci})",
            f"Gwet's AC1          {fmt_x(self.ac1)}"
            f"   (chance agreement {fmt_x(self.expected_ac1)})",
            f"PABAK               {fmt_x(self.pabak)}",
        ]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        from review._format import fmt_x

        a, b = self.reviewers
        notes = "".join(f"<p>Note: {html.escape(n)}</p>" for n in self.notes)
        if not b:  # one reviewer: nothing compared
            return (
                f"<div><p><b>Agreement at stage {html.escape(self.stage)}</b>: one reviewer "
                f"({html.escape(a)})</p>{notes}</div>"
            )
        stats = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{fmt_x(v)}</td></tr>"
            for k, v in (
                ("Observed agreement", self.observed),
                ("Cohen's kappa", self.kappa),
                ("Gwet's AC1", self.ac1),
                ("PABAK", self.pabak),
            )
        )
        return (
            f"<div><p><b>Agreement at stage {html.escape(self.stage)}</b>: "
            f"{html.escape(a)} (rows) vs {html.escape(b)} (columns); both: {self.n_both}, "
            f"{html.escape(a)} only: {self.n_only[a]}, {html.escape(b)} only: {self.n_only[b]}</p>"
            f"{self.table.to_html()}<table>{stats}</table>{notes}</div>"
        )


def _check_reviewers(log: ScreeningLog, rows: list[dict[str, Any]], names: Sequence[str]) -> None:
    """Refuse a reviewer who is not one (a misspelt name would give kappa = NaN, not an error).

    A name must be the protocol's (when the log has one that lists reviewers) or appear in
    the log; ``consensus`` is never a reviewer.
    """
    import difflib

    in_log = sorted({str(r["reviewer"]) for r in rows} - {CONSENSUS})
    listed = list(log.protocol.reviewers) if log.protocol and log.protocol.reviewers else []
    known = listed or in_log
    for name in names:
        if name == CONSENSUS:
            raise OptionError(
                f"Invalid reviewer {name!r}: consensus rows resolve conflicts and are not a "
                "reviewer to compare"
            )
        if name not in listed and name not in in_log:
            close = [k for k in known if k.casefold() == str(name).casefold()]
            close = close or difflib.get_close_matches(str(name), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise OptionError(
                f"Invalid reviewer {name!r}; must be one of {known}{hint}"
                + ("" if known else ": the log has no decision yet")
            )


def _single_reviewer(stage: str, names: Sequence[str], level: float, maybe: str) -> AgreementResult:
    """The agreement of a review screened by one reviewer: nothing to compare, said so."""
    import pandas as pd

    categories = ("include", "exclude") if maybe == "include" else ("include", "exclude", "maybe")
    who = names[0] if names else "(none yet)"
    nan = math.nan
    return AgreementResult(
        stage=stage,
        reviewers=(who, ""),
        categories=categories,
        n_both=0,
        n_only=MappingProxyType({}),
        observed=nan,
        expected_kappa=nan,
        kappa=nan,
        kappa_se=nan,
        kappa_ci_low=nan,
        kappa_ci_high=nan,
        level=level,
        expected_ac1=nan,
        ac1=nan,
        pabak=nan,
        table=pd.DataFrame(
            [[0] * len(categories) for _ in categories],
            index=pd.Index(categories, name=who),
            columns=pd.Index(categories, name=None),
        ),
        notes=(
            f"one reviewer ({who}) screens at {stage}: there is no second reviewer to compare "
            "with, so no agreement statistic (PRISMA 2020 item 8 asks the methods to say how "
            "many reviewers screened)",
        ),
    )


def agreement(
    log: ScreeningLog,
    stage: Stage = "title_abstract",
    reviewers: tuple[str, str] | None = None,
    *,
    maybe: Literal["include", "category"] = "include",
    level: float = 0.95,
) -> AgreementResult:
    """Inter-rater agreement of two reviewers at one stage: kappa, AC1, PABAK.

    Only records with a standing decision (undo applied) from both reviewers are compared;
    records seen by one reviewer only are counted and reported in ``n_only``, never imputed
    (with prioritised screening each reviewer may see a different subset). Consensus rows are
    not a reviewer and are ignored.

    Parameters
    ----------
    log : ScreeningLog
        The log.
    stage : {"title_abstract", "full_text"}
        Stage to compare.
    reviewers : tuple of two str, optional
        The reviewers compared; the first gives the table's rows. Each must be one of the
        protocol's reviewers or have a row in the log: a misspelt name is an
        :class:`~review.errors.OptionError` naming the closest one, not a NaN kappa.
        Default: the protocol's first two reviewers, else the first two reviewers of the
        log. A review screened by one reviewer (the protocol names one, or the log holds
        one) gets a result with no coefficients and a note saying so, not an error.
    maybe : {"include", "category"}, default "include"
        ``"include"`` counts *maybe* as *include* (both send a record on to full text; as
        Covidence counts it), giving two categories; ``"category"`` keeps three.
    level : float, default 0.95
        Confidence level of the interval for kappa.

    Returns
    -------
    AgreementResult
        With ``n_both``, ``n_only``, ``observed``, ``kappa``, ``ac1``, ``pabak``, ``table``.

    Notes
    -----
    With q categories, p_o the observed agreement, p_1k and p_2k the reviewers' marginal
    proportions and pi_k = (p_1k + p_2k) / 2:

    - Cohen's kappa = (p_o - p_e) / (1 - p_e), p_e = sum_k p_1k p_2k (Cohen 1960), with
      the large-sample standard error of Fleiss, Cohen & Everitt (1969) and a Wald interval
      (the same as statsmodels' ``cohens_kappa``, but truncated to [-1, 1]).
    - Gwet's AC1 = (p_o - p_e) / (1 - p_e), p_e = sum_k pi_k (1 - pi_k) / (q - 1)
      (Gwet 2008); it does not collapse when one category is rare, as includes are.
    - PABAK = (q p_o - 1) / (q - 1), i.e. 2 p_o - 1 for two categories (Byrt et al. 1993).

    Full-text agreement compares decisions only; reasons that differ between two
    exclusions are listed by :meth:`ScreeningLog.conflicts`, not counted here.

    References
    ----------
    Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas 1960;20:37-46.

    Gwet KL. Computing inter-rater reliability and its variance in the presence of high
    agreement. Br J Math Stat Psychol 2008;61:29-48.

    Byrt T, Bishop J, Carlin JB. Bias, prevalence and kappa. J Clin Epidemiol
    1993;46:423-9.

    Fleiss JL, Cohen J, Everitt BS. Large sample standard errors of kappa and weighted
    kappa. Psychol Bull 1969;72:323-7.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = ScreeningLog(pathlib.Path(tempfile.mkdtemp()) / "log.jsonl")
    >>> for rid, a, b in [
    ...     ("r1", "include", "include"),
    ...     ("r2", "exclude", "exclude"),
    ...     ("r3", "exclude", "include"),
    ...     ("r4", "exclude", "exclude"),
    ... ]:
    ...     _ = log.record(rid, reviewer="A", decision=a)
    ...     _ = log.record(rid, reviewer="B", decision=b)
    >>> res = agreement(log, "title_abstract")
    >>> res.n_both, res.observed, round(res.kappa, 4), res.pabak
    (4, 0.75, 0.5, 0.5)
    """
    import pandas as pd

    if stage not in STAGES:
        raise OptionError(f"Invalid stage {stage!r}; must be one of {list(STAGES)}")
    if maybe not in ("include", "category"):
        raise OptionError(f"Invalid maybe {maybe!r}; must be one of ['include', 'category']")
    if not 0 < level < 1:
        raise OptionError(f"level must lie in (0, 1), got {level!r}")
    rows = log._rows()
    if reviewers is None:
        named = list(log.protocol.reviewers) if log.protocol and log.protocol.reviewers else []
        seen = list(dict.fromkeys(str(r["reviewer"]) for r in rows if r["reviewer"] != CONSENSUS))
        names = named or seen
        if len(names) < 2:
            return _single_reviewer(stage, names, level, maybe)
        reviewers = (names[0], names[1])
    if len(reviewers) != 2 or reviewers[0] == reviewers[1]:
        raise OptionError(f"reviewers must be two different names, got {reviewers!r}")
    a, b = reviewers
    categories = ("include", "exclude") if maybe == "include" else ("include", "exclude", "maybe")

    def recode(d: str) -> str:
        return "include" if (maybe == "include" and d == "maybe") else d

    _check_reviewers(log, rows, (a, b))
    da = {r["record_id"]: recode(r["decision"]) for r in _standing(rows, stage, a)}
    db = {r["record_id"]: recode(r["decision"]) for r in _standing(rows, stage, b)}
    both = [rid for rid in da if rid in db]
    idx = {c: i for i, c in enumerate(categories)}
    counts = [[0] * len(categories) for _ in categories]
    for rid in both:
        counts[idx[da[rid]]][idx[db[rid]]] += 1
    co = coefficients(counts, level)
    notes = []
    if not both:
        notes.append(f"no record was screened by both {a} and {b} at {stage}")
    elif math.isnan(co.kappa):
        notes.append("kappa is undefined: both reviewers used a single, identical category")
    only = {a: len(set(da) - set(db)), b: len(set(db) - set(da))}
    if only[a] or only[b]:
        notes.append(f"{only[a] + only[b]} record(s) screened by one reviewer only were left out")
    table = pd.DataFrame(
        counts,
        index=pd.Index(categories, name=f"{a} \\ {b}"),
        columns=pd.Index(categories, name=None),
    )
    return AgreementResult(
        stage=stage,
        reviewers=(a, b),
        categories=categories,
        n_both=len(both),
        n_only=MappingProxyType(only),
        observed=co.observed,
        expected_kappa=co.expected_kappa,
        kappa=co.kappa,
        kappa_se=co.kappa_se,
        kappa_ci_low=co.kappa_ci_low,
        kappa_ci_high=co.kappa_ci_high,
        level=level,
        expected_ac1=co.expected_ac1,
        ac1=co.ac1,
        pabak=co.pabak,
        table=table,
        notes=tuple(notes),
    )
