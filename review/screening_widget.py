"""A screener for JupyterLab: one record at a time, decisions straight into the log.

.. code-block:: python

    screener = Screener(records, log, reviewer="A", stage="title_abstract", protocol=protocol)
    screener  # a cell's last value: shows the widget
    screener.decide("exclude", reason="wrong_design")  # the same from plain Python

What it shows: progress (screened / remaining for this reviewer), the record's title, journal,
year and identifier, the whole abstract (structured sections as paragraphs), with the
protocol's inclusion terms highlighted green and exclusion terms red; Include / Exclude /
Maybe / Undo buttons, the reason picker (the protocol's codes; required for a full-text
exclusion) and a note box.

Keyboard
--------
ipywidgets has no key events of its own (``ipyevents`` is not a dependency), so the screener
has a small *shortcut box*: click into it once, then each key acts at once and the box
clears itself: ``i`` include, ``e`` exclude, ``m`` maybe, ``u`` undo, and ``1``-``9`` pick the
n-th exclusion reason (an ``e`` typed after the digit excludes with that reason, e.g. ``3e``).
Browsers' own access keys are not available on ipywidgets buttons.

Resuming
--------
Nothing is kept in the widget: what this reviewer has already decided at this stage is read
from the log, so a new ``Screener`` (after a restart, on another day) starts at the first
record still to screen. Reviewers are blinded to each other: only one's own decisions are
used. Undo appends an ``undo`` row (see :mod:`review.screening`) and brings that record back.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets as widgets
import pandas as pd

from review._widget import MessageLine
from review.errors import OptionError, ScreeningLogError
from review.screening import CONSENSUS, STAGES, Progress, ScreeningLog, _ids_of

if TYPE_CHECKING:
    from review.protocol import Protocol

__all__ = ["Screener", "highlight"]

_INCLUDE_STYLE = "background:#c8f7c5"
_EXCLUDE_STYLE = "background:#f9c0c0"


def _term_pattern(term: str) -> str:
    """A protocol term as a regex (see :func:`highlight` for the matching rules)."""
    words = [w for w in re.split(r"[-\s]+", term.strip()) if w]
    body = r"[-\s]?".join(re.escape(w).replace(r"\*", r"\w*") for w in words)
    start = r"\b" if re.match(r"\w", term.strip()) else ""
    return start + body + r"\w*"


def highlight(text: str | None, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> str:
    """HTML of ``text`` with inclusion terms marked green and exclusion terms red.

    Parameters
    ----------
    text : str or None
        Plain text (escaped for HTML here).
    include, exclude : sequence of str
        Terms; each matches case-insensitively at the start of a word and runs to the end of
        that word (``"infect"`` marks "infections"); ``*`` matches any word characters;
        words joined by a hyphen or a space match with either or none between them.
        Longer terms win where two overlap; an exclusion term wins a tie.

    Returns
    -------
    str
        Escaped HTML with ``<mark class="review-include">`` / ``review-exclude`` spans.

    Examples
    --------
    >>> out = highlight("Surgical site infections in mice & men", ["infect"], ["mice"])
    >>> out.count("review-include"), out.count("review-exclude"), "&amp;" in out
    (1, 1, True)
    """
    if not text:
        return ""
    terms = [(t, "exclude") for t in exclude if t.strip()]
    terms += [(t, "include") for t in include if t.strip()]
    if not terms:
        return html.escape(text)
    terms.sort(key=lambda tk: -len(tk[0]))  # longest first: "deep infection" before "infection"
    pattern = re.compile(
        "|".join(f"(?P<t{i}>{_term_pattern(t)})" for i, (t, _) in enumerate(terms)),
        re.IGNORECASE,
    )
    out, pos = [], 0
    for m in pattern.finditer(text):
        kind = terms[int(m.lastgroup[1:])][1] if m.lastgroup else "include"
        style = _EXCLUDE_STYLE if kind == "exclude" else _INCLUDE_STYLE
        out.append(html.escape(text[pos : m.start()]))
        out.append(f'<mark class="review-{kind}" style="{style}">{html.escape(m.group(0))}</mark>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _value(row: pd.Series, key: str) -> Any:
    if key not in row.index:
        return None
    v = row[key]
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):  # list-valued cells
        pass
    return v


class Screener(MessageLine):
    """Screen records one at a time, in JupyterLab or from plain Python.

    Parameters
    ----------
    records : pandas.DataFrame
        Records to screen at this stage (``record_id``, ``title``, ``abstract``, ``journal``,
        ``year``; missing display columns are shown as blank). For full text, pass the
        records that passed title/abstract (``log.included("title_abstract")``).
    log : ScreeningLog
        Where decisions go.
    reviewer : str
        Who is screening (not ``"consensus"``; resolve conflicts with
        :meth:`ScreeningLog.resolve`).
    stage : {"title_abstract", "full_text"}
        Screening stage.
    protocol : Protocol
        Supplies the exclusion reasons and the terms to highlight.
    order : None, sequence of str, or "relevance"
        Screening order: the records' order (default), the given record ids (records not
        listed follow in their own order), or ``"relevance"``: re-ranked after every decision
        by :func:`review.prioritise.rank_unscreened`, with the stopping test shown beside the
        progress.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole screener (displayed when the Screener is the cell's value).
    include_button, exclude_button, maybe_button, undo_button : ipywidgets.Button
        The decision buttons.
    reason : ipywidgets.Dropdown
        Exclusion reason (protocol code); required to exclude at full text.
    note : ipywidgets.Text
        Optional free-text note stored with the decision.
    keys : ipywidgets.Text
        The shortcut box (see the module notes).
    record_html, progress_html, message : ipywidgets.HTML
        The record, the progress line and the last status or error.
    progress_bar : ipywidgets.IntProgress
        Screened records out of all.
    """

    _refusals = (OptionError, ScreeningLogError)

    def __init__(
        self,
        records: pd.DataFrame,
        log: ScreeningLog,
        reviewer: str,
        stage: Literal["title_abstract", "full_text"],
        protocol: Protocol,
        order: Sequence[str] | Literal["relevance"] | None = None,
    ) -> None:
        if stage not in STAGES:
            raise OptionError(f"Invalid stage {stage!r}; must be one of {list(STAGES)}")
        if reviewer == CONSENSUS:
            raise OptionError("the screener is for reviewers; record consensus with log.resolve()")
        self.records = records.reset_index(drop=True)
        self._ids = _ids_of(self.records)
        self._row_of = {rid: i for i, rid in enumerate(self._ids)}
        self.log = log
        self.reviewer = reviewer
        self.stage = stage
        self.protocol = protocol
        if isinstance(order, str) and order != "relevance":
            raise OptionError(f"Invalid order {order!r}; must be None, 'relevance' or ids")
        self.order = order
        if order is not None and not isinstance(order, str):
            listed = [i for i in dict.fromkeys(str(x) for x in order) if i in self._row_of]
            self._base_order = listed + [i for i in self._ids if i not in set(listed)]
        else:
            self._base_order = list(self._ids)
        self._queue: list[str] = []
        self._stopping_text = ""
        self._features: Any = None
        if order == "relevance":  # fit TF-IDF once; each decision only refits the classifier
            from review.prioritise import text_features

            try:
                self._features = text_features(self.records)
            except OptionError:
                self._features = None  # no text: rank_unscreened keeps the original order
        self._build()
        self._refresh()

    # ------------------------------------------------------------------ widgets
    def _build(self) -> None:
        def button(label: str, style: str, tip: str, fn: Callable[[Any], None]) -> Any:
            b = widgets.Button(description=label, button_style=style, tooltip=tip)
            b.on_click(fn)
            return b

        self.include_button = button(
            "Include", "success", "include (key i)", lambda _: self._safe(self.decide, "include")
        )
        self.exclude_button = button(
            "Exclude", "danger", "exclude (key e)", lambda _: self._safe(self.decide, "exclude")
        )
        self.maybe_button = button(
            "Maybe", "warning", "maybe (key m)", lambda _: self._safe(self.decide, "maybe")
        )
        self.undo_button = button(
            "Undo", "", "undo my last decision (key u)", lambda _: self._safe(self.undo)
        )
        reasons = list(self.protocol.exclusion_reasons.items())
        self.reason = widgets.Dropdown(
            options=[("(reason)", None)]
            + [(f"{i}. {label} [{code}]", code) for i, (code, label) in enumerate(reasons, 1)],
            value=None,
            description="Reason",
            layout=widgets.Layout(width="60%"),
        )
        self.note = widgets.Text(placeholder="note (optional)", description="Note")
        self.keys = widgets.Text(
            placeholder="shortcuts: i e m u, 1-9 reason",
            description="Keys",
            continuous_update=True,
            layout=widgets.Layout(width="30%"),
        )
        self.keys.observe(self._on_keys, names="value")
        self.progress_bar = widgets.IntProgress(min=0, max=max(1, len(self._ids)), value=0)
        self.progress_html = widgets.HTML()
        self.record_html = widgets.HTML(layout=widgets.Layout(max_width="60em"))
        self.message = widgets.HTML()
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.progress_bar, self.progress_html]),
                self.record_html,
                widgets.HBox(
                    [self.include_button, self.exclude_button, self.maybe_button, self.undo_button]
                ),
                self.reason,
                widgets.HBox([self.note, self.keys]),
                self.message,
            ]
        )

    def __repr__(self) -> str:
        return (
            f"<Screener {self.stage} reviewer {self.reviewer}: {self.progress}; "
            f"current {self.current_id}>"
        )

    def _on_keys(self, change: dict[str, Any]) -> None:
        text = str(change["new"] or "")
        if not text:
            return
        key = text[-1].lower()
        reasons = list(self.protocol.exclusion_reasons)
        if key.isdigit() and key != "0":
            n = int(key)
            if n <= len(reasons):
                self.reason.value = reasons[n - 1]
            else:
                self._say(f"no reason number {n}", error=True)
        elif key in "iem":
            self._safe(self.decide, {"i": "include", "e": "exclude", "m": "maybe"}[key])
        elif key == "u":
            self._safe(self.undo)
        else:
            self._say(f"unknown shortcut {key!r}: i e m u or 1-9", error=True)
        self.keys.value = ""

    # ------------------------------------------------------------------ state
    @property
    def current_id(self) -> str | None:
        """Identifier of the record on screen (``None`` when all are screened)."""
        return self._queue[0] if self._queue else None

    @property
    def current_record(self) -> pd.Series | None:
        """The record on screen, as a row of ``records``."""
        rid = self.current_id
        return None if rid is None else self.records.iloc[self._row_of[rid]]

    @property
    def progress(self) -> Progress:
        """Screened / remaining for this reviewer and stage, from the log."""
        return self.log.progress(self._ids, stage=self.stage, reviewer=self.reviewer)

    def _refresh(self, front: str | None = None) -> None:
        remaining = set(self.log.remaining(self._ids, stage=self.stage, reviewer=self.reviewer))
        if self.order == "relevance":
            from review.prioritise import rank_unscreened, recall_curve, stopping_test

            ranked = rank_unscreened(
                self.records,
                self.log,
                self.stage,
                reviewer=self.reviewer,
                features=self._features,
            )["record_id"].tolist()
            queue = [i for i in ranked if i in remaining]
            curve = recall_curve(self.log, self.stage, reviewer=self.reviewer)
            known = curve[curve["record_id"].isin(self._row_of)]
            if len(known):
                st = stopping_test(len(self._ids), known["relevant"].to_numpy())
                from review._format import fmt_p

                verdict = "may stop" if st.stop else "keep screening"
                self._stopping_text = (
                    f"; stopping test (recall ≥ 95%): p = {fmt_p(st.p_value)}, {verdict}"
                )
        else:
            queue = [i for i in self._base_order if i in remaining]
        if front is not None and front in remaining:
            queue.remove(front)
            queue.insert(0, front)
        self._queue = queue
        self._render()

    def _render(self) -> None:
        pr = self.progress
        self.progress_bar.max = max(1, pr.n_total)
        self.progress_bar.value = pr.n_screened
        self.progress_html.value = html.escape(
            f"{self.stage}, reviewer {self.reviewer}: {pr.n_screened} / {pr.n_total} "
            f"screened, {pr.n_remaining} remaining"
        ) + html.escape(self._stopping_text)
        row = self.current_record
        done = row is None
        for b in (self.include_button, self.exclude_button, self.maybe_button):
            b.disabled = done
        if row is None:  # done
            self.record_html.value = "<p><b>All records screened at this stage.</b></p>"
            return
        inc, exc = self.protocol.highlight_include, self.protocol.highlight_exclude
        title = highlight(str(_value(row, "title") or "(no title)"), inc, exc)
        meta = " · ".join(
            html.escape(str(v))
            for v in (_value(row, "journal"), _value(row, "year"), self.current_id)
            if v is not None
        )
        abstract = _value(row, "abstract")
        if abstract:
            paragraphs = [p for p in re.split(r"\n\s*\n", str(abstract)) if p.strip()]
            body = "".join(
                f'<p style="margin:0.4em 0">{self._section(p, inc, exc)}</p>' for p in paragraphs
            )
        else:
            body = "<p><i>(no abstract)</i></p>"
        self.record_html.value = (
            f'<h3 style="margin-bottom:0.2em">{title}</h3>'
            f'<div style="color:#555">{meta}</div>{body}'
        )

    @staticmethod
    def _section(text: str, inc: Sequence[str], exc: Sequence[str]) -> str:
        m = re.match(r"^([A-Z][A-Z /&-]{1,40}):\s*(.*)$", text.strip(), re.DOTALL)
        if m:
            return f"<b>{html.escape(m.group(1))}:</b> {highlight(m.group(2), inc, exc)}"
        return highlight(text, inc, exc)

    # ------------------------------------------------------------------ actions
    def decide(
        self,
        decision: Literal["include", "exclude", "maybe"],
        reason: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Record a decision on the record on screen and move to the next one.

        Parameters
        ----------
        decision : {"include", "exclude", "maybe"}
            The decision.
        reason : str, optional
            Exclusion reason code; default: the reason picker's value (used only with
            ``exclude``). Required for a full-text exclusion.
        note : str, optional
            Default: the note box's text (if any).

        Returns
        -------
        dict
            The row written to the log.

        Raises
        ------
        review.errors.ScreeningLogError
            If every record is already screened.
        review.errors.OptionError
            If the log refuses the decision (e.g. a full-text exclusion without reason);
            nothing is written and the record stays on screen.
        """
        rid = self.current_id
        if rid is None:
            raise ScreeningLogError("all records are screened at this stage; nothing to decide")
        if decision == "exclude" and reason is None:
            reason = self.reason.value
        if decision != "exclude":
            reason = None
        if note is None:
            note = self.note.value.strip() or None
        row = self.log.record(
            rid,
            stage=self.stage,
            reviewer=self.reviewer,
            decision=decision,
            reason=reason,
            note=note,
        )
        self.reason.value = None
        self.note.value = ""
        self._say(f"{decision} {rid}" + (f" ({reason})" if reason else "") + f", seq {row['seq']}")
        self._refresh()
        return row

    def undo(self) -> dict[str, Any]:
        """Undo this reviewer's last standing decision at this stage; show that record again.

        Returns
        -------
        dict
            The ``undo`` row written to the log.
        """
        row = self.log.undo(stage=self.stage, reviewer=self.reviewer)
        self._say(f"undid {row['record_id']} ({row['note']})")
        self._refresh(front=row["record_id"])
        return row
