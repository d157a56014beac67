"""PRISMA 2020 flow counts computed from the search, the de-duplication and the screening log.

Every box of the PRISMA 2020 flow diagram (Page et al. 2021) is computed here from its own
source, and the arithmetic that links the boxes is then checked, so a count that does not
add up fails loudly (:class:`review.errors.PrismaInconsistency`) instead of silently
producing a wrong diagram, the failure PRISMA2020 issue #77 describes for typed counts.

Sources of each box:

=============================  =======================================================
box                            computed from
=============================  =======================================================
records identified             the search snapshots (one count per database/register)
duplicates removed             the de-duplication links (``duplicate_of`` set)
automation / other removed     record ids (or counts) given by the caller
records screened / excluded    title/abstract decisions of the screening log
reports sought                 records with a full-text row in the log
reports not retrieved          full-text exclusions with the reserved reason
                               ``not_retrieved``
reports assessed / excluded    the other full-text decisions, exclusions by reason
studies / reports included     full-text includes, grouped into studies by a
                               report -> study mapping (one study a report by default)
=============================  =======================================================

PRISMA 2020 keeps **records** (titles and abstracts from a search), **reports** (documents:
articles, theses, registry entries) and **studies** (an investigation, possibly described by
several reports) apart; so does :class:`PrismaCounts`. Every box is traceable to the record
ids behind it with :meth:`PrismaCounts.records_in`.
"""

from __future__ import annotations

import html
import os
import re
import textwrap
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

import numpy as np
import pandas as pd

from review._numbers import MAX_COUNT, is_pmid
from review.errors import InputError, OptionError, PrismaInconsistency

__all__ = [
    "NOT_RETRIEVED",
    "REPORTING_ITEMS",
    "OtherMethodsCounts",
    "PreviousCounts",
    "PrismaCounts",
    "final_decisions",
    "prisma_counts",
    "prisma_items",
    "records_by_kind",
    "save_prisma_items",
]

#: Reserved full-text reason code: the report could not be retrieved (DESIGN.md).
NOT_RETRIEVED = "not_retrieved"

STAGES = ("title_abstract", "full_text")
DECISIONS = ("include", "exclude", "maybe")
CONSENSUS = "consensus"
UNDO = "undo"

_PUBMED_ID = re.compile(r"^pubmed:(\d+)$")
_MAX_IDS_SHOWN = 8

#: Box names of :meth:`PrismaCounts.to_frame` and :meth:`PrismaCounts.records_in`, in
#: diagram order, with the PRISMA 2020 template wording.
BOX_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "databases": "Records identified from databases",
        "registers": "Records identified from registers",
        "duplicates_removed": "Duplicate records removed",
        "automation_excluded": "Records marked as ineligible by automation tools",
        "other_removed": "Records removed for other reasons",
        "records_screened": "Records screened",
        "records_excluded": "Records excluded",
        "reports_sought": "Reports sought for retrieval",
        "reports_not_retrieved": "Reports not retrieved",
        "reports_assessed": "Reports assessed for eligibility",
        "reports_excluded": "Reports excluded",
        "reports_included": "Reports included (databases and registers)",
        "other_identified": "Records identified from other methods",
        "other_reports_sought": "Reports sought for retrieval (other methods)",
        "other_reports_not_retrieved": "Reports not retrieved (other methods)",
        "other_reports_assessed": "Reports assessed for eligibility (other methods)",
        "other_reports_excluded": "Reports excluded (other methods)",
        "other_reports_included": "Reports included (other methods)",
        "previous_studies": "Studies included in previous version of review",
        "previous_reports": "Reports of studies included in previous version of review",
        "new_studies": "New studies included in review",
        "new_reports": "Reports of new included studies",
        "total_studies": "Total studies included in review",
        "total_reports": "Reports of total included studies",
    }
)

Pairs = tuple[tuple[str, int], ...]
Reasons = tuple[tuple[str, str, int], ...]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class OtherMethodsCounts:
    """The "identification of studies via other methods" column of PRISMA 2020.

    Attributes
    ----------
    sources : tuple of (str, int)
        Records identified per other method (websites, organisations, citation
        searching, ...), in the order given.
    reports_sought, reports_not_retrieved, reports_assessed : int
        As in the databases column; other-method records go straight to retrieval.
    reports_excluded : tuple of (code, label, count)
        Full-text exclusions of other-method reports by reason, in protocol order.
    reports_included : int
        Other-method reports included.
    """

    sources: Pairs
    reports_sought: int
    reports_not_retrieved: int
    reports_assessed: int
    reports_excluded: Reasons
    reports_included: int

    @property
    def identified(self) -> int:
        """Records identified by all other methods together."""
        return sum(n for _, n in self.sources)

    @property
    def n_excluded(self) -> int:
        """Reports excluded, all reasons together."""
        return sum(n for _, _, n in self.reports_excluded)


@dataclass(frozen=True, slots=True)
class PreviousCounts:
    """The "previous studies" column of an updated review.

    Attributes
    ----------
    studies : int
        Studies included in the previous version of the review.
    reports : int
        Reports of studies included in the previous version of the review.
    """

    studies: int
    reports: int


@dataclass(frozen=True, slots=True)
class PrismaCounts:
    """Counts of every box of the PRISMA 2020 flow diagram (Page et al. 2021).

    Built by :func:`prisma_counts` from the review's files; it can also be built directly
    from typed numbers, then :meth:`check` validates them.

    Attributes
    ----------
    databases : tuple of (str, int)
        Records identified per database, in the order given.
    registers : tuple of (str, int)
        Records identified per register (trial registries), in the order given.
    duplicates_removed : int
        Duplicate records removed before screening.
    automation_excluded : int
        Records marked as ineligible by automation tools before screening.
    other_removed : int
        Records removed before screening for other reasons.
    records_screened : int
        Records (titles and abstracts) screened.
    records_excluded : int
        Records excluded at title/abstract screening.
    reports_sought : int
        Reports sought for retrieval (records that passed title/abstract screening).
    reports_not_retrieved : int
        Reports not retrieved (full-text rows with the reserved reason ``not_retrieved``).
    reports_assessed : int
        Reports assessed for eligibility at full text.
    reports_excluded : tuple of (code, label, count)
        Reports excluded at full text, one entry a reason, in protocol order (zero counts
        kept, so the table lists every reason of the protocol).
    reports_included : int
        Reports from databases and registers included.
    new_studies : int
        Studies included in this review (this version, all columns together).
    new_reports : int
        Reports of those studies (all columns together).
    total_studies, total_reports : int
        With the previous version's studies and reports (equal to ``new_*`` for a new
        review). A report of a study already in the previous version adds a report but
        no study.
    other : OtherMethodsCounts or None
        The "other methods" column, when used.
    previous : PreviousCounts or None
        The "previous studies" column of an updated review.
    problems : tuple of str
        Inconsistencies found in the inputs (record sets that do not match); the
        arithmetic checks are added by :meth:`check`.
    notes : tuple of str
        What was assumed or could not be checked.
    """

    databases: Pairs
    registers: Pairs = ()
    duplicates_removed: int = 0
    automation_excluded: int = 0
    other_removed: int = 0
    records_screened: int = 0
    records_excluded: int = 0
    reports_sought: int = 0
    reports_not_retrieved: int = 0
    reports_assessed: int = 0
    reports_excluded: Reasons = ()
    reports_included: int = 0
    new_studies: int = 0
    new_reports: int = 0
    total_studies: int = 0
    total_reports: int = 0
    other: OtherMethodsCounts | None = None
    previous: PreviousCounts | None = None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    _ids: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )
    _study_ids: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )
    _report_study: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )
    _report_pmid: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    # ---- derived totals
    @property
    def identified(self) -> int:
        """Records identified from databases and registers together."""
        return sum(n for _, n in self.databases) + sum(n for _, n in self.registers)

    @property
    def removed(self) -> int:
        """Records removed before screening (duplicates, automation, other reasons)."""
        return self.duplicates_removed + self.automation_excluded + self.other_removed

    @property
    def n_reports_excluded(self) -> int:
        """Reports excluded at full text, all reasons together."""
        return sum(n for _, _, n in self.reports_excluded)

    # ---- checks
    def inconsistencies(self) -> tuple[str, ...]:
        """Every problem found: the stored record-set problems plus the arithmetic."""
        return self.problems + tuple(_arithmetic_problems(self))

    def check(self) -> PrismaCounts:
        """Raise :class:`PrismaInconsistency` listing everything that does not add up.

        Returns
        -------
        PrismaCounts
            ``self``, when consistent (so calls can be chained).

        Raises
        ------
        PrismaInconsistency
            With one line a problem; the list is also in the exception's ``problems``.
        """
        problems = self.inconsistencies()
        if problems:
            err = PrismaInconsistency(
                f"PRISMA counts do not add up ({len(problems)} problem"
                f"{'s' if len(problems) != 1 else ''}):\n- " + "\n- ".join(problems)
            )
            err.problems = problems  # type: ignore[attr-defined]
            raise err
        return self

    # ---- traceability
    def records_in(self, box: str, detail: str | None = None) -> frozenset[str]:
        """The record ids behind a box.

        Parameters
        ----------
        box : str
            A box name of :meth:`to_frame` (``"records_screened"``, ``"reports_excluded"``,
            ...), or ``"identified"`` for databases and registers together.
        detail : str, optional
            A database, register or other-method name, or an exclusion reason (its code
            or its label), for boxes that list several; ``None`` means the whole box.
            For ``*_studies`` boxes the ids are those of the studies' reports.

        Raises
        ------
        OptionError
            An unknown box or detail, or a box that was given as a number only.
        """
        if box == "identified":
            return self.records_in("databases") | self.records_in("registers")
        if box not in BOX_LABELS:
            raise OptionError(f"Invalid box {box!r}; must be one of {['identified', *BOX_LABELS]}")
        if detail is None:
            key = box
        else:
            key = f"{box}:{detail}"
            if key not in self._ids and box in ("reports_excluded", "other_reports_excluded"):
                reasons = (
                    self.reports_excluded
                    if box == "reports_excluded"
                    else (self.other.reports_excluded if self.other else ())
                )
                for code, label, _ in reasons:
                    if detail == label:
                        key = f"{box}:{code}"
        if key not in self._ids:
            known = sorted(k.split(":", 1)[1] for k in self._ids if k.startswith(box + ":"))
            if detail is not None and known:
                raise OptionError(
                    f"Invalid detail {detail!r} for box {box!r}; must be one of {known}"
                )
            raise OptionError(
                f"Box {box!r}{'' if detail is None else f' ({detail})'} was given as a number; "
                "no record ids are behind it"
            )
        return self._ids[key]

    def study_ids(self, box: str = "total_studies") -> frozenset[str]:
        """Study ids behind ``"new_studies"``, ``"previous_studies"`` or ``"total_studies"``."""
        if box not in self._study_ids:
            raise OptionError(
                f"No study ids for box {box!r}; known: {sorted(self._study_ids)} "
                "(boxes given as numbers have none)"
            )
        return self._study_ids[box]

    # ---- display
    def to_frame(self) -> pd.DataFrame:
        """The counts as a tidy table, one row a number of the diagram.

        Returns
        -------
        pandas.DataFrame
            ========  ====================================================================
            column    meaning
            ========  ====================================================================
            box       box name (keys of ``BOX_LABELS``; usable with :meth:`records_in`)
            count     the number (int)
            detail    database, register or other method, or exclusion reason label;
                      empty for single-number boxes
            ========  ====================================================================

            Per-database and per-reason rows are the parts of their box: sum them by
            ``box`` for the box total.
        """
        rows: list[tuple[str, int, str | None]] = []
        rows += [("databases", n, name) for name, n in self.databases]
        rows += [("registers", n, name) for name, n in self.registers]
        for box in (
            "duplicates_removed",
            "automation_excluded",
            "other_removed",
            "records_screened",
            "records_excluded",
            "reports_sought",
            "reports_not_retrieved",
            "reports_assessed",
        ):
            rows.append((box, getattr(self, box), None))
        rows += [("reports_excluded", n, label) for _, label, n in self.reports_excluded]
        rows.append(("reports_included", self.reports_included, None))
        if self.other is not None:
            o = self.other
            rows += [("other_identified", n, name) for name, n in o.sources]
            rows += [
                ("other_reports_sought", o.reports_sought, None),
                ("other_reports_not_retrieved", o.reports_not_retrieved, None),
                ("other_reports_assessed", o.reports_assessed, None),
            ]
            rows += [("other_reports_excluded", n, label) for _, label, n in o.reports_excluded]
            rows.append(("other_reports_included", o.reports_included, None))
        if self.previous is not None:
            rows += [
                ("previous_studies", self.previous.studies, None),
                ("previous_reports", self.previous.reports, None),
            ]
        rows += [
            ("new_studies", self.new_studies, None),
            ("new_reports", self.new_reports, None),
            ("total_studies", self.total_studies, None),
            ("total_reports", self.total_reports, None),
        ]
        frame = pd.DataFrame(rows, columns=["box", "count", "detail"])
        frame["count"] = frame["count"].astype("int64")
        return frame

    def summary(self) -> str:
        """Plain-text flow, box by box, in the order of the PRISMA 2020 diagram."""
        w = max(len(v) for v in BOX_LABELS.values()) + 2
        out = ["PRISMA 2020 flow (Page et al. 2021, BMJ 372:n71)", ""]

        def line(label: str, n: int, indent: int = 0) -> None:
            # a label longer than the column wraps, the count stays on its last line
            parts = textwrap.wrap(label, w - indent - 1) or [""]
            out.extend(" " * (indent + 2 * (i > 0)) + p for i, p in enumerate(parts[:-1]))
            pad = " " * (indent + 2 * (len(parts) > 1))
            out.append(f"{pad}{parts[-1]:<{w - len(pad)}} n = {n}")

        if self.previous is not None:
            out.append("Previous studies")
            line(BOX_LABELS["previous_studies"], self.previous.studies, 2)
            line(BOX_LABELS["previous_reports"], self.previous.reports, 2)
            out.append("")
        out.append("Identification (databases and registers)")
        line("Records identified", self.identified, 2)
        for name, n in self.databases:
            line(name, n, 4)
        for name, n in self.registers:
            line(f"{name} (register)", n, 4)
        line("Records removed before screening", self.removed, 2)
        for box in ("duplicates_removed", "automation_excluded", "other_removed"):
            line(BOX_LABELS[box], getattr(self, box), 4)
        out.append("Screening")
        for box in (
            "records_screened",
            "records_excluded",
            "reports_sought",
            "reports_not_retrieved",
            "reports_assessed",
        ):
            line(BOX_LABELS[box], getattr(self, box), 2)
        line(BOX_LABELS["reports_excluded"], self.n_reports_excluded, 2)
        for _, label, n in self.reports_excluded:
            line(label, n, 4)
        if self.other is not None:
            o = self.other
            out.append("Other methods")
            line("Records identified", o.identified, 2)
            for name, n in o.sources:
                line(name, n, 4)
            line(BOX_LABELS["reports_sought"], o.reports_sought, 2)
            line(BOX_LABELS["reports_not_retrieved"], o.reports_not_retrieved, 2)
            line(BOX_LABELS["reports_assessed"], o.reports_assessed, 2)
            line(BOX_LABELS["reports_excluded"], o.n_excluded, 2)
            for _, label, n in o.reports_excluded:
                line(label, n, 4)
        out.append("Included")
        if self.previous is None:
            line("Studies included in review", self.new_studies, 2)
            line("Reports of included studies", self.new_reports, 2)
        else:
            for box in ("new_studies", "new_reports", "total_studies", "total_reports"):
                line(BOX_LABELS[box], getattr(self, box), 2)
        problems = self.inconsistencies()
        out.append("")
        out.append(
            "Consistent: every box adds up."
            if not problems
            else "INCONSISTENT:\n- " + "\n- ".join(problems)
        )
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        problems = self.inconsistencies()
        frame = self.to_frame().assign(box=lambda d: d["box"].map(BOX_LABELS))
        frame["detail"] = frame["detail"].fillna("")
        status = (
            "<p>Consistent: every box adds up.</p>"
            if not problems
            else "<p><b>Inconsistent:</b></p><ul>"
            + "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            + "</ul>"
        )
        notes = "".join(f"<p><i>Note:</i> {html.escape(n)}</p>" for n in self.notes)
        return (
            "<div><p><b>PRISMA 2020 flow counts</b> (Page et al. 2021)</p>"
            + frame.to_html(index=False, escape=True)
            + status
            + notes
            + "</div>"
        )

    def __repr__(self) -> str:
        extra = ""
        if self.other is not None:
            extra += f", other methods {self.other.identified}"
        if self.previous is not None:
            extra += f", previous studies {self.previous.studies}"
        return (
            f"<PrismaCounts: identified {self.identified}, screened {self.records_screened}, "
            f"assessed {self.reports_assessed}, studies {self.total_studies} "
            f"(reports {self.total_reports}){extra}>"
        )


# --------------------------------------------------------------------------- checks


def _show(ids: Iterable[str]) -> str:
    ids = sorted(ids)
    shown = ", ".join(ids[:_MAX_IDS_SHOWN])
    more = len(ids) - _MAX_IDS_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _arithmetic_problems(c: PrismaCounts) -> list[str]:
    """The PRISMA arithmetic, one message a failed identity."""
    out = []

    def eq(lhs: int, rhs: int, text: str) -> None:
        if lhs != rhs:
            out.append(f"{text}: {lhs} != {rhs} (difference {lhs - rhs})")

    eq(
        c.identified - c.removed,
        c.records_screened,
        f"records identified ({c.identified}) - removed before screening ({c.removed}) "
        f"should equal records screened",
    )
    eq(
        c.records_screened - c.records_excluded,
        c.reports_sought,
        f"records screened ({c.records_screened}) - records excluded ({c.records_excluded}) "
        "should equal reports sought for retrieval",
    )
    eq(
        c.reports_sought - c.reports_not_retrieved,
        c.reports_assessed,
        f"reports sought ({c.reports_sought}) - not retrieved ({c.reports_not_retrieved}) "
        "should equal reports assessed for eligibility",
    )
    eq(
        c.reports_assessed - c.n_reports_excluded,
        c.reports_included,
        f"reports assessed ({c.reports_assessed}) - excluded ({c.n_reports_excluded}) "
        "should equal reports included",
    )
    other_included = 0
    if c.other is not None:
        o = c.other
        other_included = o.reports_included
        eq(
            o.reports_sought - o.reports_not_retrieved,
            o.reports_assessed,
            f"other methods: reports sought ({o.reports_sought}) - not retrieved "
            f"({o.reports_not_retrieved}) should equal reports assessed",
        )
        eq(
            o.reports_assessed - o.n_excluded,
            o.reports_included,
            f"other methods: reports assessed ({o.reports_assessed}) - excluded "
            f"({o.n_excluded}) should equal reports included",
        )
    eq(
        c.reports_included + other_included,
        c.new_reports,
        "reports included from databases/registers"
        + (" and other methods" if c.other is not None else "")
        + " should equal reports of (new) included studies",
    )
    if c.new_studies > c.new_reports:
        out.append(
            f"more studies ({c.new_studies}) than reports ({c.new_reports}) included: "
            "every study needs at least one report"
        )
    if c.new_reports > 0 and c.new_studies == 0:
        out.append(f"{c.new_reports} reports included but no study")
    prev_s = c.previous.studies if c.previous is not None else 0
    prev_r = c.previous.reports if c.previous is not None else 0
    if "total_studies" not in c._study_ids:
        eq(
            c.total_studies,
            prev_s + c.new_studies,
            "total studies should equal previous studies + new studies",
        )
    elif not (max(prev_s, c.new_studies) <= c.total_studies <= prev_s + c.new_studies):
        out.append(
            f"total studies ({c.total_studies}) outside [max(previous, new), previous + new] "
            f"= [{max(prev_s, c.new_studies)}, {prev_s + c.new_studies}]"
        )
    eq(
        c.total_reports,
        prev_r + c.new_reports,
        "total reports should equal previous reports + new reports",
    )
    for name, value in (
        ("duplicates_removed", c.duplicates_removed),
        ("automation_excluded", c.automation_excluded),
        ("other_removed", c.other_removed),
        ("records_screened", c.records_screened),
        ("records_excluded", c.records_excluded),
        ("reports_not_retrieved", c.reports_not_retrieved),
    ):
        if value < 0:
            out.append(f"{name} is negative ({value})")
    for name, n in c.databases + c.registers:
        if n < 0:
            out.append(f"records identified from {name} is negative ({n})")
    for _, label, n in c.reports_excluded:
        if n < 0:
            out.append(f"reports excluded for {label!r} is negative ({n})")
    return out


# --------------------------------------------------------------------------- inputs


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def _as_frame(obj: Any, what: str) -> pd.DataFrame:
    """A records-like DataFrame out of a frame, a snapshot or a sequence of them."""
    if isinstance(obj, pd.DataFrame):
        return obj
    records = getattr(obj, "records", None)
    if isinstance(records, pd.DataFrame):
        return records
    raise OptionError(f"{what}: expected a DataFrame or a snapshot with .records, got {type(obj)}")


def _source_records(
    obj: Any, what: str
) -> tuple[Pairs, dict[str, frozenset[str]] | None, dict[str, str]]:
    """Per-source counts, ids per source (None when only counts are known) and PMIDs.

    Accepts a records DataFrame (``record_id``, ``source``), a snapshot (``.records``), a
    sequence of those, or a mapping name -> int | record ids | DataFrame.
    """
    if obj is None:
        return (), {}, {}
    pmids: dict[str, str] = {}
    if isinstance(obj, Mapping):
        pairs: list[tuple[str, int]] = []
        ids: dict[str, frozenset[str]] | None = {}
        for name, value in obj.items():
            value = _count_or_value(value, f"{what}[{name!r}]")
            if isinstance(value, bool) or not (
                isinstance(value, int | pd.DataFrame)
                or hasattr(value, "records")
                or (isinstance(value, Iterable) and not isinstance(value, str))
            ):
                raise OptionError(
                    f"{what}[{name!r}]: expected a count, record ids or a records frame, "
                    f"got {value!r}"
                )
            if isinstance(value, int):
                if value < 0:
                    raise OptionError(f"{what}[{name!r}]: a count must be >= 0, got {value}")
                pairs.append((str(name), int(value)))
                ids = None
                continue
            if isinstance(value, pd.DataFrame) or hasattr(value, "records"):
                frame = _as_frame(value, f"{what}[{name!r}]")
                got = _frame_ids(frame, f"{what}[{name!r}]")
                pmids.update(_frame_pmids(frame))
            else:
                got = [str(v) for v in value]
            _no_repeats(got, f"{what}[{name!r}]")
            pairs.append((str(name), len(got)))
            if ids is not None:
                ids[str(name)] = frozenset(got)
        return tuple(pairs), ids, pmids
    if isinstance(obj, pd.DataFrame) or hasattr(obj, "records"):
        frames = [_as_frame(obj, what)]
    elif isinstance(obj, Sequence) and not isinstance(obj, str):
        frames = [_as_frame(o, f"{what}[{i}]") for i, o in enumerate(obj)]
    else:
        raise OptionError(
            f"{what}: expected a records DataFrame, snapshot(s) or a mapping name -> count, "
            f"got {type(obj).__name__}"
        )
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    for col in ("record_id", "source"):
        if col not in frame.columns:
            raise InputError(f"{what}: records frame has no {col!r} column", column=col)
    all_ids = _frame_ids(frame, what)
    _no_repeats(all_ids, what)
    by_source: dict[str, list[str]] = {}
    for i, (rid, src) in enumerate(zip(all_ids, frame["source"])):
        if _is_missing(src) or not str(src).strip():
            raise InputError(f"{what}: record {rid} has no source", row=i, column="source")
        by_source.setdefault(str(src), []).append(rid)
    pmids.update(_frame_pmids(frame))
    pairs_t = tuple((s, len(v)) for s, v in by_source.items())
    return pairs_t, {s: frozenset(v) for s, v in by_source.items()}, pmids


def _frame_ids(frame: pd.DataFrame, what: str) -> list[str]:
    if "record_id" not in frame.columns:
        raise InputError(f"{what}: records frame has no 'record_id' column", column="record_id")
    out = []
    for i, rid in enumerate(frame["record_id"]):
        if _is_missing(rid) or not str(rid).strip():
            raise InputError(f"{what}: empty record_id", row=i, column="record_id")
        out.append(str(rid))
    return out


def _frame_pmids(frame: pd.DataFrame) -> dict[str, str]:
    """Record id -> the report's identifier: its PMID, or its DOI when it has no PMID."""
    if "record_id" not in frame.columns:
        return {}
    n = len(frame)
    pm = frame["pmid"] if "pmid" in frame.columns else [None] * n
    doi = frame["doi"] if "doi" in frame.columns else [None] * n
    out = {}
    for r, p, d in zip(frame["record_id"], pm, doi):
        if not _is_missing(p):
            out[str(r)] = str(p)
        elif not _is_missing(d) and str(d).strip():
            out[str(r)] = str(d).strip().lower()
    return out


def _no_repeats(ids: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    dup = {i for i in ids if i in seen or seen.add(i)}  # type: ignore[func-returns-value]
    if dup:
        raise InputError(f"{what}: record ids repeated: {_show(dup)}", column="record_id")


def _count_or_value(value: Any, what: str) -> Any:
    """A count given as a numpy integer becomes an int; a count above 2**53 is refused.

    Anything else is returned as given (record ids, frames; the caller refuses the rest).
    """
    if isinstance(value, np.integer) and not isinstance(value, np.bool_):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_COUNT:
        raise OptionError(f"{what}: {value} is too large to be a count (above 2**53)")
    return value


def _removed(obj: Any, what: str) -> tuple[int, frozenset[str] | None, dict[str, str], list[str]]:
    """Count, ids, removed -> kept map and problems for a 'removed before screening' input."""
    if obj is None:
        return 0, frozenset(), {}, []
    if isinstance(obj, bool):
        raise OptionError(f"{what}: expected a count or record ids, got {obj!r}")
    obj = _count_or_value(obj, what)
    if isinstance(obj, int):
        if obj < 0:
            raise OptionError(f"{what}: a count must be >= 0, got {obj}")
        # zero removed is known exactly: an empty set of records
        return int(obj), (frozenset() if obj == 0 else None), {}, []
    problems: list[str] = []
    links = getattr(obj, "links", None)
    if isinstance(links, pd.DataFrame):
        frame = links
    elif isinstance(obj, pd.DataFrame):
        frame = obj
    else:
        frame = None
    if frame is not None:
        for col in ("record_id", "duplicate_of"):
            if col not in frame.columns:
                raise InputError(f"{what}: links have no {col!r} column", column=col)
        kept_of: dict[str, str] = {}
        for rid, dup_of in zip(frame["record_id"], frame["duplicate_of"]):
            if _is_missing(dup_of):
                continue
            if str(rid) in kept_of and kept_of[str(rid)] != str(dup_of):
                problems.append(
                    f"record {rid} linked as a duplicate of both {kept_of[str(rid)]} and {dup_of}"
                )
            kept_of[str(rid)] = str(dup_of)
        ids = frozenset(kept_of)
        n_dup = getattr(obj, "n_duplicates", None)
        if isinstance(n_dup, int) and n_dup != len(ids):
            problems.append(
                f"de-duplication reports n_duplicates = {n_dup} but links remove {len(ids)} records"
            )
        return len(ids), ids, kept_of, problems
    if isinstance(obj, Iterable) and not isinstance(obj, str):
        got = [str(v) for v in obj]
        _no_repeats(got, what)
        return len(got), frozenset(got), {}, []
    raise OptionError(f"{what}: expected a count, record ids or de-duplication links, got {obj!r}")


def _reason_labels(obj: Any) -> dict[str, str] | None:
    if obj is None:
        return None
    labels = getattr(obj, "exclusion_reasons", obj)
    if not isinstance(labels, Mapping):
        raise OptionError(
            "reason_labels: expected a mapping code -> label or a Protocol, "
            f"got {type(obj).__name__}"
        )
    return {str(k): str(v) for k, v in labels.items()}


# --------------------------------------------------------------------------- decisions


def final_decisions(decisions: Any) -> pd.DataFrame:
    """The final decision per record and stage, from screening-log rows.

    Parameters
    ----------
    decisions : DataFrame or ScreeningLog
        Log rows (``record_id, stage, reviewer, decision, reason``; ``seq`` orders them,
        else the frame order does), or a :class:`~review.screening.ScreeningLog` (its
        ``decisions()``), or already-final decisions without a ``reviewer`` column (one
        row per record and stage).

    Returns
    -------
    pandas.DataFrame
        One row per record and stage: ``record_id, stage, decision, reason, resolved_by,
        conflict``. ``decision`` is ``None`` for an unresolved conflict. ``resolved_by`` is
        ``"consensus"``, ``"single"`` (one reviewer), ``"agreement"`` (every reviewer's
        standing decision agrees), ``"conflict"`` or ``"final"`` (already-final input).

    Notes
    -----
    The state is the standing word of each reviewer on a record at a stage (DESIGN.md;
    an ``"undo"`` row withdraws that reviewer's latest standing decision, as
    :meth:`~review.screening.ScreeningLog.undo` writes it); a
    ``reviewer="consensus"`` row settles the record at that stage whatever the reviewers
    said. Without consensus, reviewers agree at title/abstract when all exclude or all
    pass the record on (``include`` or ``maybe``: an uncertain record goes to full text);
    at full text when all include, or all exclude for the same reason. Anything else is an
    unresolved conflict. A full-text ``maybe`` stays ``maybe`` (not yet decided).
    """
    final_method = getattr(decisions, "final", None)
    if callable(final_method) and callable(getattr(decisions, "decisions", None)):
        # A ScreeningLog: take its own derivation of the state (undo rows applied), so the
        # PRISMA counts and the screener can never disagree.
        out = []
        for stage in STAGES:
            for row in final_method(stage).itertuples(index=False):
                conflict = row.decision == "conflict"
                reason = None if _is_missing(row.reason) else str(row.reason)
                out.append(
                    (
                        str(row.record_id),
                        stage,
                        None if conflict else row.decision,
                        reason,
                        row.basis,
                        conflict,
                    )
                )
        return _final_frame(out)
    if not isinstance(decisions, pd.DataFrame):
        raise OptionError(
            "decisions: expected a DataFrame of screening-log rows or a ScreeningLog, "
            f"got {type(decisions).__name__}"
        )
    for col in ("record_id", "stage", "decision"):
        if col not in decisions.columns:
            raise InputError(f"decisions: no {col!r} column", column=col)
    log = decisions.copy()
    if "reason" not in log.columns:
        log["reason"] = None
    if "seq" in log.columns:
        log = log.sort_values("seq", kind="stable")
    final_input = "reviewer" not in log.columns
    allowed = DECISIONS if final_input else (*DECISIONS, UNDO)
    for idx, row in log.iterrows():
        # the seq number or the caller's index label, as given (pandas types these as Hashable)
        where = cast("int | str", row["seq"] if "seq" in log.columns else idx)
        if row["stage"] not in STAGES:
            raise InputError(
                f"Invalid stage {row['stage']!r}; must be one of {list(STAGES)}",
                row=where,
                column="stage",
            )
        if row["decision"] not in allowed:
            raise InputError(
                f"Invalid decision {row['decision']!r}; must be one of {list(allowed)}",
                row=where,
                column="decision",
            )
        if _is_missing(row["record_id"]):
            raise InputError("empty record_id", row=where, column="record_id")
    out = []
    for key, grp in log.groupby(["record_id", "stage"], sort=False):
        rid, stage = cast("tuple[Hashable, str]", key)  # stage was checked against STAGES
        reason_of = [None if _is_missing(r) else str(r) for r in grp["reason"]]
        if final_input:
            if len(grp) > 1:
                raise InputError(
                    f"final decisions: {len(grp)} rows for record {rid} at stage {stage}; "
                    "give log rows with a 'reviewer' column instead",
                    row=str(rid),
                    column="stage",
                )
            out.append((str(rid), stage, grp["decision"].iloc[0], reason_of[0], "final", False))
            continue
        # Replay each reviewer's rows as a stack: a decision pushes, an undo pops.
        stacks: dict[str, list[tuple[str, str | None]]] = {}
        for reviewer, dec, reason in zip(grp["reviewer"], grp["decision"], reason_of):
            stack = stacks.setdefault(str(reviewer), [])
            if dec == UNDO:
                if stack:
                    stack.pop()
            else:
                stack.append((dec, reason))
        last = {who: st[-1] for who, st in stacks.items() if st}
        if not last:
            continue  # every decision undone: not screened at this stage
        if CONSENSUS in last:
            dec, reason = last[CONSENSUS]
            out.append((str(rid), stage, dec, reason, "consensus", False))
            continue
        basis = "single" if len(last) == 1 else "agreement"
        words = set(last.values())
        decs = {d for d, _ in words}
        if stage == "title_abstract":
            if decs == {"exclude"}:
                out.append((str(rid), stage, "exclude", None, basis, False))
            elif decs <= {"include", "maybe"}:
                dec = "include" if "include" in decs else "maybe"
                out.append((str(rid), stage, dec, None, basis, False))
            else:
                out.append((str(rid), stage, None, None, "conflict", True))
        elif len(words) == 1:
            dec, reason = next(iter(words))
            out.append((str(rid), stage, dec, reason, basis, False))
        else:
            out.append((str(rid), stage, None, None, "conflict", True))
    return _final_frame(out)


def _final_frame(out: list[tuple[Any, ...]]) -> pd.DataFrame:
    # object dtype keeps None as None (a str column would turn it into NaN)
    frame = pd.DataFrame(
        out,
        columns=["record_id", "stage", "decision", "reason", "resolved_by", "conflict"],
        dtype=object,
    )
    frame["conflict"] = frame["conflict"].astype(bool)
    return frame


# --------------------------------------------------------------------------- main


def _pmid_of(rid: str, pmids: Mapping[str, str]) -> str | None:
    if rid in pmids:
        return pmids[rid]
    m = _PUBMED_ID.match(rid)
    return m.group(1) if m else None


def records_by_kind(records: pd.DataFrame, protocol: Any) -> dict[str, pd.DataFrame]:
    """Split identified records into PRISMA 2020's identification boxes.

    Each record's ``source`` is looked up among the protocol's ``databases`` (by ``name``):
    its ``kind`` says whether the source is a database, a register, or another method
    (websites, organisations, citation searching: the "other methods" column). Sources the
    protocol does not list (a database export in ``imports/``) count as databases.

    Parameters
    ----------
    records : pandas.DataFrame
        Records with ``record_id`` and ``source`` (``review.records.load_review_records``).
    protocol : Protocol
        The review's protocol (its ``databases``).

    Returns
    -------
    dict
        ``{"database": ..., "register": ..., "other": ...}``: frames of records, for
        ``prisma_counts(identified=..., registers=..., other_methods=...)``. ``"database"`` is
        always there; a kind without records is absent (``.get`` gives ``None``: no such box).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> proto = NS(databases=(NS(name="PubMed", kind="database"), NS(name="Web", kind="other")))
    >>> recs = pd.DataFrame({"record_id": ["pubmed:1", "doi:10.1/x"], "source": ["PubMed", "Web"]})
    >>> {k: list(v["record_id"]) for k, v in records_by_kind(recs, proto).items()}
    {'database': ['pubmed:1'], 'other': ['doi:10.1/x']}
    """
    kinds = {str(d.name): str(getattr(d, "kind", "database")) for d in protocol.databases}
    kind = records["source"].map(lambda s: kinds.get(str(s), "database"))
    out = {k: records[kind == k].reset_index(drop=True) for k in ("database", "register", "other")}
    return {k: v for k, v in out.items() if k == "database" or len(v)}


def prisma_counts(
    *,
    identified: Any,
    registers: Any = None,
    duplicates_removed: Any = 0,
    automation_excluded: Any = 0,
    other_removed: Any = 0,
    decisions: Any,
    reason_labels: Any = None,
    other_methods: Any = None,
    previous: Any = None,
    report_study: Mapping[str, str] | None = None,
    included_studies: pd.DataFrame | None = None,
    check: bool = True,
) -> PrismaCounts:
    """Compute every box of the PRISMA 2020 flow diagram and check that they add up.

    Parameters
    ----------
    identified : DataFrame, snapshot(s) or Mapping
        Records identified from databases: a records frame (``record_id``, ``source``;
        one row a record as retrieved, before de-duplication), a snapshot with
        ``.records`` or a list of them, or a mapping database -> count | record ids |
        records frame. Counts alone make the diagram but not the record-level checks.
    registers : same forms as ``identified``, optional
        Records identified from registers (trial registries).
    duplicates_removed : int, record ids, links DataFrame or DedupResult
        Duplicates removed before screening. Links (``record_id, duplicate_of``) or a
        :class:`~review.dedup.DedupResult` (its ``links``) remove every record with a
        ``duplicate_of``; the kept record's id is the group id decisions are made on.
    automation_excluded, other_removed : int or record ids
        Records marked ineligible by automation tools, or removed for other reasons,
        before screening.
    decisions : DataFrame or ScreeningLog
        Screening-log rows (see :func:`final_decisions`) covering title/abstract and full
        text for database/register records and full text for other-method records.
    reason_labels : Mapping[str, str] or Protocol, optional
        Full-text exclusion reason code -> label (the protocol's ``exclusion_reasons``,
        whose order is the diagram's). ``None`` shows codes as labels.
    other_methods : DataFrame or Mapping, optional
        Records identified via other methods (websites, organisations, citation
        searching): a frame (``record_id``, ``source``) or a mapping method -> record ids
        (or a count, which draws the box but leaves the column's later boxes empty).
        These records skip title/abstract screening, as in the template.
    previous : Mapping, DataFrame or PrismaCounts, optional
        The previous version of an updated review: ``{"studies": n | ids, "reports": n |
        ids}``, a frame of its included reports (``record_id`` and ``study_id``), or the
        earlier version's :class:`PrismaCounts` (its total included studies and reports),
        computed from the earlier snapshot. Log rows on the previous version's records
        (those it identified, or its reports) are left out of this version's boxes, so
        one log can serve every version; ``identified`` is then this version's new
        records only (e.g. :func:`review.search.new_since`).
    report_study : Mapping[str, str], optional
        Report (record id) -> study id, for studies with several reports. Reports not in
        the mapping are studies of their own (study id = record id).
    included_studies : DataFrame, optional
        The extraction table (``study_id`` and ``pmid``, one row a study or stratum). Every
        included study must appear in it (by study id, or a report's PMID, or the DOI of a
        report that has no PMID) and every row of it must belong to an included study.
    check : bool
        Raise :class:`PrismaInconsistency` when anything does not add up (default). With
        ``False`` the problems are kept in ``counts.problems`` and
        :meth:`PrismaCounts.check` raises later, for a review in progress.

    Returns
    -------
    PrismaCounts
        Every box, traceable to record ids with :meth:`PrismaCounts.records_in`.

    Raises
    ------
    PrismaInconsistency
        Counts that do not add up, records screened that were never identified or were
        removed as duplicates, identified records never screened, full-text decisions on
        records that did not pass title/abstract screening, unresolved conflicts, and
        included studies missing from the extraction table or the other way round.
    InputError
        Malformed log rows (unknown stage or decision, a full-text exclusion without a
        reason code or with an unknown one).
    OptionError
        An input of the wrong kind.

    Notes
    -----
    The checked identities follow the PRISMA 2020 template (Page et al. 2021, Fig. 1):
    identified - removed = screened; screened - excluded = sought; sought - not retrieved =
    assessed; assessed - excluded = included reports; and the same for the other-methods
    column. A decision on a record applies to its de-duplication group, so a decision on
    a removed duplicate is refused.

    References
    ----------
    .. [1] Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated
       guideline for reporting systematic reviews. BMJ 2021;372:n71.
    .. [2] Haddaway NR, Page MJ, Pritchard CC, McGuinness LA. PRISMA2020: an R package and
       Shiny app for producing PRISMA 2020-compliant flow diagrams. Campbell Syst Rev
       2022;18:e1230.

    Examples
    --------
    >>> import pandas as pd
    >>> records = pd.DataFrame(
    ...     {
    ...         "record_id": ["pubmed:1", "pubmed:2", "embase:1"],
    ...         "source": ["PubMed", "PubMed", "Embase"],
    ...     }
    ... )
    >>> links = pd.DataFrame({"record_id": ["embase:1"], "duplicate_of": ["pubmed:1"]})
    >>> log = pd.DataFrame(
    ...     {
    ...         "seq": [1, 2, 3],
    ...         "record_id": ["pubmed:1", "pubmed:2", "pubmed:1"],
    ...         "stage": ["title_abstract", "title_abstract", "full_text"],
    ...         "reviewer": ["A", "A", "A"],
    ...         "decision": ["include", "exclude", "include"],
    ...         "reason": [None, None, None],
    ...     }
    ... )
    >>> c = prisma_counts(identified=records, duplicates_removed=links, decisions=log)
    >>> c.records_screened, c.records_excluded, c.new_studies
    (2, 1, 1)
    >>> sorted(c.records_in("duplicates_removed"))
    ['embase:1']
    """
    problems: list[str] = []
    notes: list[str] = []
    ids: dict[str, frozenset[str]] = {}
    study_sets: dict[str, frozenset[str]] = {}

    # ---- identification
    databases, db_ids, pmids = _source_records(identified, "identified")
    regs, reg_ids, reg_pmids = _source_records(registers, "registers")
    pmids.update(reg_pmids)
    known_ids = db_ids is not None and reg_ids is not None
    if db_ids is not None:
        ids["databases"] = frozenset().union(*db_ids.values()) if db_ids else frozenset()
        ids.update({f"databases:{k}": v for k, v in db_ids.items()})
    if reg_ids is not None:
        ids["registers"] = frozenset().union(*reg_ids.values()) if reg_ids else frozenset()
        ids.update({f"registers:{k}": v for k, v in reg_ids.items()})
    if known_ids:
        overlap = ids["databases"] & ids["registers"]
        if overlap:
            problems.append(
                f"records identified both from a database and a register: {_show(overlap)}"
            )
    all_identified = (ids["databases"] | ids["registers"]) if known_ids else None

    # ---- removed before screening
    n_dup, dup_ids, kept_of, dup_problems = _removed(duplicates_removed, "duplicates_removed")
    problems += dup_problems
    n_auto, auto_ids, _, _ = _removed(automation_excluded, "automation_excluded")
    n_oth, oth_ids, _, _ = _removed(other_removed, "other_removed")
    removed_ids: frozenset[str] | None = None
    for box, got in (
        ("duplicates_removed", dup_ids),
        ("automation_excluded", auto_ids),
        ("other_removed", oth_ids),
    ):
        if got is not None:
            ids[box] = got
    if dup_ids is not None and auto_ids is not None and oth_ids is not None:
        removed_ids = dup_ids | auto_ids | oth_ids
        for (a, sa), (b, sb) in (
            (("duplicates", dup_ids), ("automation", auto_ids)),
            (("duplicates", dup_ids), ("other reasons", oth_ids)),
            (("automation", auto_ids), ("other reasons", oth_ids)),
        ):
            if sa & sb:
                problems.append(f"records removed both as {a} and for {b}: {_show(sa & sb)}")
        if all_identified is not None:
            stray = removed_ids - all_identified
            if stray:
                problems.append(
                    f"records removed before screening but never identified: {_show(stray)}"
                )
            gone_kept = {k for k in dup_ids if kept_of.get(k) in removed_ids}
            if gone_kept:
                problems.append(
                    "duplicates kept in favour of a record that was itself removed: "
                    f"{_show(gone_kept)}"
                )

    # ---- other methods
    other_sources: Pairs = ()
    other_all: frozenset[str] | None = None
    if other_methods is not None:
        other_sources, oids, opmids = _source_records(other_methods, "other_methods")
        pmids.update(opmids)
        if oids is not None:
            other_all = frozenset().union(*oids.values()) if oids else frozenset()
            ids["other_identified"] = other_all
            ids.update({f"other_identified:{k}": v for k, v in oids.items()})
            if all_identified is not None and other_all & all_identified:
                problems.append(
                    "records identified both from databases/registers and by other methods: "
                    f"{_show(other_all & all_identified)}"
                )
        else:
            notes.append(
                "other methods given as counts: their reports are not told apart in the log"
            )
    other_set = other_all or frozenset()

    # ---- decisions
    labels = _reason_labels(reason_labels)
    if labels is None:
        notes.append("no reason labels given: exclusion reasons shown by their codes")
    final = final_decisions(decisions)
    earlier = _previous_universe(previous)
    if earlier:
        # One log serves every version of a living review: rows on the previous version's
        # records belong to its flow (the "previous studies" box), not to this one's.
        old = final["record_id"].isin(earlier)
        if old.any():
            n_old = final.loc[old, "record_id"].nunique()
            notes.append(
                f"decisions on {n_old} records of the previous version were left out "
                "(they are counted in the previous-studies column)"
            )
            final = final[~old]
    final_rows: Iterable[Any] = final.itertuples(index=False)  # columns differ in type
    for row in final_rows:
        if row.stage != "full_text" or row.decision != "exclude":
            if row.reason == NOT_RETRIEVED and row.decision not in ("exclude", None):
                raise InputError(
                    f"record {row.record_id}: reason {NOT_RETRIEVED!r} with decision "
                    f"{row.decision!r}; a report not retrieved is recorded as an exclusion",
                    row=row.record_id,
                    column="reason",
                )
            continue
        if row.reason is None:
            raise InputError(
                f"record {row.record_id}: full-text exclusion without a reason code",
                row=row.record_id,
                column="reason",
            )
        if labels is not None and row.reason not in labels and row.reason != NOT_RETRIEVED:
            raise InputError(
                f"record {row.record_id}: Invalid exclusion reason {row.reason!r}; "
                f"must be one of {list(labels)}",
                row=row.record_id,
                column="reason",
            )
    conflicts = final[final["conflict"]]
    for stage in STAGES:
        c_ids = set(conflicts.loc[conflicts["stage"] == stage, "record_id"])
        if c_ids:
            problems.append(
                f"unresolved conflicts at {stage} (record a 'consensus' decision): {_show(c_ids)}"
            )

    ta = final[final["stage"] == "title_abstract"].set_index("record_id")
    ft = final[final["stage"] == "full_text"].set_index("record_id")
    ta_ids = set(ta.index)
    ft_ids = set(ft.index)
    ta_other = ta_ids & other_set
    if ta_other:
        notes.append(
            f"{len(ta_other)} other-method records have title/abstract decisions; the "
            "other-methods column has no screening box, so they are not counted there"
        )
    screened_ids = ta_ids - other_set
    excluded_ids = {r for r in screened_ids if ta.at[r, "decision"] == "exclude"}
    passed_ids = {r for r in screened_ids if ta.at[r, "decision"] in ("include", "maybe")}

    # records universe checks
    if all_identified is not None:
        universe = all_identified | other_set
        decided = ta_ids | ft_ids
        if removed_ids is not None:
            expected_screened = all_identified - removed_ids
            on_removed = decided & removed_ids
            for rid in sorted(on_removed):
                if rid in kept_of:
                    problems.append(
                        f"decision on record {rid}, removed as a duplicate of {kept_of[rid]}: "
                        "decisions are made on the kept record (the group id)"
                    )
                else:
                    problems.append(f"decision on record {rid}, removed before screening")
            not_screened = expected_screened - screened_ids
            if not_screened:
                problems.append(
                    f"{len(not_screened)} de-duplicated records never screened at "
                    f"title/abstract: {_show(not_screened)}"
                )
        unknown = decided - universe
        if unknown:
            problems.append(
                f"decisions on records not in the de-duplicated set (never identified): "
                f"{_show(unknown)}"
            )
    else:
        notes.append(
            "records identified given as counts: decisions could not be matched to records"
        )

    ft_main = ft_ids - other_set
    ft_without_ta = ft_main - passed_ids
    if ft_without_ta:
        problems.append(
            f"records screened at full text without a title/abstract include: "
            f"{_show(ft_without_ta)}"
        )
    ft_other = ft_ids & other_set

    def full_text_boxes(rids: set[str], prefix: str) -> tuple[int, int, int, Reasons, set[str]]:
        nr = {
            r
            for r in rids
            if ft.at[r, "decision"] == "exclude" and ft.at[r, "reason"] == NOT_RETRIEVED
        }
        assessed = rids - nr
        inc = {r for r in assessed if ft.at[r, "decision"] == "include"}
        excl: dict[str, set[str]] = {}
        for r in assessed:
            if ft.at[r, "decision"] == "exclude":
                excl.setdefault(str(ft.at[r, "reason"]), set()).add(r)
        pending = {r for r in assessed if ft.at[r, "decision"] == "maybe"}
        if pending:
            problems.append(
                f"{prefix}reports assessed, still undecided (full-text 'maybe'): {_show(pending)}"
            )
        order = [c for c in (labels or {}) if c != NOT_RETRIEVED]
        order += sorted(c for c in excl if c not in order)
        reasons = tuple((c, (labels or {}).get(c, c), len(excl.get(c, ()))) for c in order)
        box = "other_reports" if prefix else "reports"
        ids[f"{box}_sought"] = frozenset(rids)
        ids[f"{box}_not_retrieved"] = frozenset(nr)
        ids[f"{box}_assessed"] = frozenset(assessed)
        ids[f"{box}_excluded"] = frozenset().union(*excl.values()) if excl else frozenset()
        for c in order:
            ids[f"{box}_excluded:{c}"] = frozenset(excl.get(c, ()))
        ids[f"{box}_included"] = frozenset(inc)
        return len(rids), len(nr), len(assessed), reasons, inc

    ids["records_screened"] = frozenset(screened_ids)
    ids["records_excluded"] = frozenset(excluded_ids)
    sought, not_retrieved, assessed, reasons, inc_main = full_text_boxes(ft_main, "")
    not_sought = passed_ids - ft_main
    if not_sought:
        problems.append(
            f"{len(not_sought)} records passed title/abstract screening but have no full-text "
            f"decision (not sought, not retrieved, nor assessed): {_show(not_sought)}"
        )

    other_counts = None
    inc_other: set[str] = set()
    if other_methods is not None:
        o_sought, o_nr, o_assessed, o_reasons, inc_other = full_text_boxes(
            ft_other, "other methods: "
        )
        other_counts = OtherMethodsCounts(
            sources=other_sources,
            reports_sought=o_sought,
            reports_not_retrieved=o_nr,
            reports_assessed=o_assessed,
            reports_excluded=o_reasons,
            reports_included=len(inc_other),
        )
        if other_all is not None and len(other_all) > o_sought:
            notes.append(
                f"{len(other_all) - o_sought} records identified by other methods were not "
                "sought for retrieval"
            )

    # ---- included: reports and studies
    new_reports = inc_main | inc_other
    if report_study is None and included_studies is not None:
        # Several reports of one study: take the grouping the extraction table records
        # (report_pmids; strata of one cohort sharing a PMID are one study).
        rs = _study_map_from_extraction(_extraction_rows(included_studies), new_reports, pmids)
        if len(set(rs.values())) < len(rs):
            notes.append("reports grouped into studies by the extraction table's PMIDs")
    else:
        rs = dict(report_study or {})
    new_study_ids = {rs.get(r, r) for r in new_reports}
    ids["new_reports"] = frozenset(new_reports)
    ids["new_studies"] = frozenset(new_reports)
    study_sets["new_studies"] = frozenset(new_study_ids)

    prev_counts = None
    prev_reports: frozenset[str] | None = None
    prev_studies: frozenset[str] | None = None
    if previous is not None:
        prev_counts, prev_reports, prev_studies = _previous(previous, rs)
        if isinstance(previous, PrismaCounts):
            for r, p in previous._report_pmid.items():
                pmids.setdefault(r, p)
        if prev_reports is not None:
            ids["previous_reports"] = prev_reports
            ids["previous_studies"] = prev_reports
            again = prev_reports & new_reports
            if again:
                problems.append(
                    f"reports included again, already in the previous version: {_show(again)}"
                )
        if prev_studies is not None:
            study_sets["previous_studies"] = prev_studies
    n_prev_s = prev_counts.studies if prev_counts else 0
    n_prev_r = prev_counts.reports if prev_counts else 0
    if prev_counts is None or prev_studies is not None:
        total_study_ids = new_study_ids | (prev_studies or frozenset())
        study_sets["total_studies"] = frozenset(total_study_ids)
        total_studies = len(total_study_ids)
        if prev_studies is not None:
            # A new report of a study already in the previous version adds no study.
            new_study_ids = new_study_ids - prev_studies
            study_sets["new_studies"] = frozenset(new_study_ids)
            ids["new_studies"] = frozenset(r for r in new_reports if rs.get(r, r) in new_study_ids)
    else:
        total_studies = n_prev_s + len(new_study_ids)
    if prev_counts is None or prev_reports is not None:
        ids["total_reports"] = frozenset(new_reports | (prev_reports or frozenset()))
        ids["total_studies"] = ids["total_reports"]

    # ---- extraction table
    if included_studies is not None:
        problems += _extraction_problems(
            included_studies,
            included_reports=new_reports | (prev_reports or frozenset()),
            report_study=rs,
            pmids=pmids,
            previous_count_only=prev_counts is not None and prev_studies is None,
            n_previous=n_prev_s,
            notes=notes,
        )

    counts = PrismaCounts(
        databases=databases,
        registers=regs,
        duplicates_removed=n_dup,
        automation_excluded=n_auto,
        other_removed=n_oth,
        records_screened=len(screened_ids),
        records_excluded=len(excluded_ids),
        reports_sought=sought,
        reports_not_retrieved=not_retrieved,
        reports_assessed=assessed,
        reports_excluded=reasons,
        reports_included=len(inc_main),
        new_studies=len(new_study_ids),
        new_reports=len(new_reports),
        total_studies=total_studies,
        total_reports=n_prev_r + len(new_reports),
        other=other_counts,
        previous=prev_counts,
        problems=tuple(problems),
        notes=tuple(notes),
        _ids=MappingProxyType(ids),
        _study_ids=MappingProxyType(study_sets),
        _report_study=MappingProxyType(rs),
        _report_pmid=MappingProxyType(
            {r: pm for r in ids.get("total_reports", new_reports) if (pm := _pmid_of(r, pmids))}
        ),
    )
    if check:
        counts.check()
    return counts


def _previous_universe(obj: Any) -> frozenset[str]:
    """Record ids that belong to the previous version of an updated review."""
    if isinstance(obj, PrismaCounts):
        keys = ("databases", "registers", "other_identified", "total_reports")
        return frozenset().union(*(obj._ids.get(k, frozenset()) for k in keys))
    if isinstance(obj, pd.DataFrame) and "record_id" in obj.columns:
        return frozenset(str(r) for r in obj["record_id"])
    if isinstance(obj, Mapping):
        reports = obj.get("reports")
        if isinstance(reports, Iterable) and not isinstance(reports, str | bytes):
            return frozenset(str(r) for r in reports)
    return frozenset()


def _previous(
    obj: Any, rs: dict[str, str]
) -> tuple[PreviousCounts, frozenset[str] | None, frozenset[str] | None]:
    """Previous version's counts, report ids and study ids (ids None when only counted)."""
    if isinstance(obj, PrismaCounts):
        reports = obj._ids.get("total_reports")
        studies = obj._study_ids.get("total_studies")
        for r, s in obj._report_study.items():
            rs.setdefault(r, s)
        return PreviousCounts(obj.total_studies, obj.total_reports), reports, studies
    if isinstance(obj, pd.DataFrame):
        if "record_id" not in obj.columns:
            raise InputError("previous: no 'record_id' column", column="record_id")
        reports = frozenset(str(r) for r in obj["record_id"])
        if "study_id" in obj.columns:
            studies = frozenset(str(s) for s in obj["study_id"])
            for r, s in zip(obj["record_id"], obj["study_id"]):
                rs.setdefault(str(r), str(s))
        else:
            studies = frozenset(rs.get(r, r) for r in reports)
        return PreviousCounts(len(studies), len(reports)), reports, studies
    if isinstance(obj, Mapping):
        unknown = set(obj) - {"studies", "reports"}
        if unknown or "studies" not in obj or "reports" not in obj:
            raise OptionError(
                "previous: expected keys {'studies', 'reports'} (counts or ids), "
                f"got {sorted(map(str, obj))}"
            )
        out: list[tuple[int, frozenset[str] | None]] = []
        for key in ("studies", "reports"):
            v = _count_or_value(obj[key], f"previous[{key!r}]")
            if isinstance(v, int) and not isinstance(v, bool):
                if v < 0:
                    raise OptionError(f"previous[{key!r}] must be >= 0, got {v}")
                out.append((v, None))
            elif isinstance(v, Iterable) and not isinstance(v, str):
                id_set = frozenset(str(x) for x in v)
                out.append((len(id_set), id_set))
            else:
                raise OptionError(f"previous[{key!r}]: expected a count or ids, got {v!r}")
        (n_s, s_ids), (n_r, r_ids) = out
        return PreviousCounts(n_s, n_r), r_ids, s_ids
    raise OptionError(
        f"previous: expected a mapping, a DataFrame or a PrismaCounts, got {type(obj).__name__}"
    )


_PMID_SPLIT = re.compile(r"[;,\s|]+")


def _clean_pmid(x: Any, row: int, column: str) -> str | None:
    if _is_missing(x):
        return None
    p = str(x).strip()
    if p.endswith(".0") and is_pmid(p[:-2]):
        p = p[:-2]  # a PMID read as a float
    if p.startswith("10."):
        p = p.lower()  # a DOI (a report without a PMID): records keep DOIs in lower case
    if p and not is_pmid(p) and not p.startswith("10."):
        # a PMID that is not one would match no record and drop a study from the count
        raise InputError(
            f"included_studies: {p[:30]!r} is not a PubMed identifier (1-9 ASCII digits), "
            "nor a DOI (10.xxxx/...)",
            row=row,
            column=column,
        )
    return p or None


def _extraction_rows(table: Any) -> list[tuple[str, frozenset[str]]]:
    """(study_id, PMIDs of its reports) per row of an extraction table.

    The PMIDs are ``pmid`` and every PMID of ``report_pmids`` (separated by ``;``, ``,``,
    ``|`` or spaces) when the table has them.
    """
    if not isinstance(table, pd.DataFrame):
        raise OptionError(f"included_studies: expected a DataFrame, got {type(table).__name__}")
    if "study_id" not in table.columns and table.index.name == "study_id":
        table = table.reset_index()
    if "study_id" not in table.columns:
        raise InputError("included_studies: no 'study_id' column", column="study_id")
    n = len(table)
    pm = table["pmid"] if "pmid" in table.columns else [None] * n
    rp = table["report_pmids"] if "report_pmids" in table.columns else [None] * n
    rows = []
    for i, (sid, p, reps) in enumerate(zip(table["study_id"], pm, rp)):
        if _is_missing(sid) or not str(sid).strip():
            raise InputError("included_studies: empty study_id", row=i, column="study_id")
        got = {_clean_pmid(p, i, "pmid")}
        if not _is_missing(reps):
            got |= {_clean_pmid(x, i, "report_pmids") for x in _PMID_SPLIT.split(str(reps))}
        rows.append((str(sid), frozenset(g for g in got if g)))
    return rows


def _study_map_from_extraction(
    rows: list[tuple[str, frozenset[str]]], reports: Iterable[str], pmids: Mapping[str, str]
) -> dict[str, str]:
    """Report -> study, from the extraction table.

    Reports whose PMIDs share a row (or a chain of rows, as strata of one cohort share
    their PMID) are one study, named by the common prefix of its rows' study ids
    (``dulery2025_axicel``, ``dulery2025_idecel`` -> ``dulery2025``).
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _, ps in rows:
        ps_l = sorted(ps)
        for a in ps_l[1:]:
            parent[find(a)] = find(ps_l[0])
    names: dict[str, list[str]] = {}
    for sid, ps in rows:
        if ps:
            names.setdefault(find(min(ps)), []).append(sid)
    label = {}
    for root, sids in names.items():
        # character-wise common prefix of the ids (they are names, not paths)
        prefix = os.path.commonprefix(sids).rstrip("_-. ")  # noqa: RUF071
        label[root] = prefix if len(sids) > 1 and len(prefix) >= 3 else sids[0]
    out = {}
    for r in reports:
        p = _pmid_of(r, pmids)
        if p is not None and p in parent:
            out[r] = label.get(find(p), r)
    return out


def _extraction_problems(
    table: pd.DataFrame,
    *,
    included_reports: frozenset[str] | set[str],
    report_study: Mapping[str, str],
    pmids: Mapping[str, str],
    previous_count_only: bool,
    n_previous: int,
    notes: list[str],
) -> list[str]:
    ext_rows = _extraction_rows(table)
    ext_ids = {s for s, _ in ext_rows}
    ext_pmids = frozenset().union(*(ps for _, ps in ext_rows)) if ext_rows else frozenset()

    studies: dict[str, set[str]] = {}
    for r in included_reports:
        studies.setdefault(report_study.get(r, r), set()).add(r)
    included_pmids = {_pmid_of(r, pmids) for r in included_reports} - {None}
    out = []
    missing = []
    for sid, reps in sorted(studies.items()):
        rep_pmids = cast("set[str]", {_pmid_of(r, pmids) for r in reps} - {None})
        if sid not in ext_ids and not (rep_pmids & ext_pmids):
            missing.append(f"{sid} (PMID {', '.join(sorted(rep_pmids))})" if rep_pmids else sid)
    if missing:
        out.append(
            f"{len(missing)} included studies missing from the extraction table: {_show(missing)}"
        )
    stray = sorted({s for s, ps in ext_rows if s not in studies and not (ps & included_pmids)})
    if stray and previous_count_only:
        if len(stray) <= n_previous:
            notes.append(
                f"{len(stray)} extraction rows not among the new inclusions were taken to be "
                "studies of the previous version (given as a count, so not checked by id)"
            )
            stray = []
        else:
            out.append(
                f"{len(stray)} extraction studies are not among the new inclusions, more than "
                f"the {n_previous} studies of the previous version: {_show(stray)}"
            )
            stray = []
    if stray:
        out.append(
            f"{len(stray)} extraction studies not among the included studies: {_show(stray)}"
        )
    return out


# ---------------------------------------------------------------------- checklist items
#: PRISMA 2020 checklist items the notebooks answer beside the flow diagram: item number ->
#: (topic, what the output reports; ``None`` where the methods text is the caller's).
REPORTING_ITEMS: Mapping[str, tuple[str, str | None]] = MappingProxyType(
    {
        "11": ("Study risk of bias assessment (methods)", None),
        "15": ("Certainty assessment (methods)", None),
        "18": (
            "Risk of bias in studies (results)",
            "Judgements per study, domain and item, each answer with its quote and location; "
            "traffic-light and summary plots",
        ),
        "22": (
            "Certainty of evidence (results)",
            "Evidence profile per pooled outcome and the Summary of Findings table: certainty "
            "per outcome with its reasons",
        ),
    }
)
_ITEM_COLUMNS = ["item", "topic", "reported", "where"]


def _item_key(item: str) -> tuple[int, str]:
    digits = re.match(r"\d+", item)
    return (int(digits.group()) if digits else 10**6, item)


def prisma_items(
    where: Mapping[str, Sequence[str | os.PathLike[str]]],
    *,
    reported: Mapping[str, str] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Where a review's output answers PRISMA 2020 checklist items (11, 15, 18, 22).

    Parameters
    ----------
    where : Mapping[str, sequence of str or path-like]
        Item number -> where the output reports it. A path is a file the notebook wrote: it
        must exist, and is written relative to ``root``; a string is written as given (a
        notebook's name, say).
    reported : Mapping[str, str], optional
        Item number -> what is reported, in words. Required for the methods items 11 and 15
        (the methods sentence: :meth:`review.appraisal.AppraisalPlan.methods_sentence`,
        :func:`review.certainty.methods_sentence`); the results items have a default.
    root : path-like, optional
        The output folder the paths are given relative to (default: as given).

    Returns
    -------
    pandas.DataFrame
        ``item, topic, reported, where`` (``where`` joined by ``"; "``), in item order.

    Raises
    ------
    review.errors.OptionError
        An item the toolkit does not report, a methods item without its text, or a file
        that does not exist.

    References
    ----------
    Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated guideline
    for reporting systematic reviews. BMJ 2021;372:n71.

    Examples
    --------
    >>> prisma_items({"22": ["notebook 09-certainty"]}).loc[0, "topic"]
    'Certainty of evidence (results)'
    """
    from pathlib import Path

    reported = dict(reported or {})
    stray = [i for i in (*where, *reported) if i not in REPORTING_ITEMS]
    if stray:
        raise OptionError(
            f"PRISMA 2020 item(s) {stray} are not ones the toolkit reports; must be one of "
            f"{list(REPORTING_ITEMS)}"
        )
    base = Path(root) if root is not None else None
    rows = []
    for item in sorted({*where, *reported}, key=_item_key):
        topic, default = REPORTING_ITEMS[item]
        text = reported.get(item, default)
        if not text:
            raise OptionError(f"PRISMA 2020 item {item} ({topic}) needs its text in reported")
        shown = []
        for w in where.get(item, ()):
            if isinstance(w, str):
                shown.append(w)
                continue
            f = Path(w)
            if not f.is_file():
                raise OptionError(f"PRISMA 2020 item {item}: {f} does not exist")
            if base is not None:
                try:
                    f = f.resolve().relative_to(base.resolve())
                except ValueError:
                    raise OptionError(
                        f"PRISMA 2020 item {item}: {f} is not inside the output folder {base}"
                    ) from None
            shown.append(f.as_posix())
        rows.append({"item": item, "topic": topic, "reported": text, "where": "; ".join(shown)})
    return pd.DataFrame(rows, columns=_ITEM_COLUMNS)


def save_prisma_items(items: pd.DataFrame, path: str | os.PathLike[str]) -> pd.DataFrame:
    """Write checklist items into ``path``, keeping the rows of the other items already there.

    Each notebook writes the items it answers (06 items 11 and 18, 09 items 15 and 22) into
    the one file; a row of the same item is replaced, the others are kept, in item order.

    Parameters
    ----------
    items : pandas.DataFrame
        From :func:`prisma_items`.
    path : path-like
        The CSV file (written atomically).

    Returns
    -------
    pandas.DataFrame
        The file's rows after the write.
    """
    from pathlib import Path

    from review._io import write_atomic

    p = Path(path)
    missing = [c for c in _ITEM_COLUMNS if c not in items.columns]
    if missing:
        raise OptionError(f"items lack the column(s) {missing}; make them with prisma_items")
    new = items[_ITEM_COLUMNS].astype(str)
    if p.is_file():
        old = pd.read_csv(p, dtype=str, keep_default_na=False)
        if list(old.columns) != _ITEM_COLUMNS:
            raise InputError(f"not a PRISMA items table (columns {_ITEM_COLUMNS})", path=p, row=1)
        new = pd.concat([old[~old["item"].isin(new["item"])], new], ignore_index=True)
    new = new.sort_values("item", key=lambda s: s.map(_item_key)).reset_index(drop=True)
    write_atomic(p, new.to_csv(index=False, lineterminator="\n"))
    return new
