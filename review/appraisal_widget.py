"""An assessor for JupyterLab: one study at a time, item by item, answers straight into the log.

.. code-block:: python

    log = AppraisalLog.for_review(REVIEW_DIR)  # the protocol's tool and assessors
    assessor = Assessor(log, reviewer="A")
    assessor  # a cell's last value: shows the widget
    assessor.answer("yes", quote="...", location="Abstract")  # the same from plain Python

What it shows: progress (this assessor's answered items out of all, and the study's), the
study (label, and the extraction's design, PMID and note when the log was given the
extraction frame), the item's question as the tool words it with its guidance prompts, one
button per answer option, and the *quote*, *location* and *note* fields. An answer is written
to the assessment log (:class:`review.appraisal.AppraisalLog`) the moment its button is
pressed, with the three fields, and the assessor moves on to the next item the assessor has
not answered. The log refuses an answer without support (a quote with its location, or a
note saying why there is none, when the protocol requires it); the refusal shows in the
message line and nothing is written.

Keyboard
--------
As in the screener (:mod:`review.screening_widget`), ipywidgets has no key events of its own,
so there is a *shortcut box*: click into it once, then each key acts at once and the box
clears itself. The tool's answer keys (``y``, ``n``, ``u``, ``x`` for the JBI checklist) or
``1``-``9`` (the n-th answer) answer the item on screen with the text in the quote,
location and note fields; ``j`` goes to the next item, ``k`` to the previous one, ``s`` to the
next study.

Resuming and blinding
---------------------
Nothing is kept in the widget: what this assessor has answered is read from the log, so a new
``Assessor`` starts at the first study and item still to answer. Only the assessor's own
answers are shown (the other assessor's are not), and going back to an answered item shows
the assessor's standing answer and its fields, to be revised by answering again (a new row).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from review._widget import MessageLine
from review.appraisal import CONSENSUS, AppraisalLog
from review.errors import AppraisalError, AppraisalLogError, OptionError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Assessor"]

_NAV_KEYS = {"j": "next item", "k": "previous item", "s": "next study"}


class Assessor(MessageLine):
    """Assess risk of bias one study and one item at a time, in JupyterLab or plain Python.

    Parameters
    ----------
    log : AppraisalLog
        Where answers go; its tool gives the items and options, its studies the order (a
        log without studies needs ``studies``).
    reviewer : str
        Who is assessing (an assessor of the protocol, not ``"consensus"``: resolve
        disagreements with :meth:`AppraisalLog.resolve`).
    studies : DataFrame or sequence of str, optional
        The studies to assess, in order (``study_id`` and, for display, ``label``,
        ``design``, ``pmid``, ``note``); default: the log's studies.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole assessor.
    answer_buttons : dict of str to ipywidgets.Button
        One button per answer option of the item on screen.
    quote, location, note : ipywidgets.Textarea, ipywidgets.Text, ipywidgets.Text
        The support written with the next answer.
    keys : ipywidgets.Text
        The shortcut box (see the module notes).
    previous_button, next_button, next_study_button : ipywidgets.Button
        Navigation.
    study_html, item_html, progress_html, message : ipywidgets.HTML

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from review.appraisal import load_tool
    >>> log = AppraisalLog(
    ...     pathlib.Path(tempfile.mkdtemp()) / "l.jsonl",
    ...     tool=load_tool("jbi_prevalence"),
    ...     studies=["s1", "s2"],
    ... )
    >>> a = Assessor(log, reviewer="A")
    >>> a.current
    ('s1', 'q1')
    >>> a.answer("yes", quote="all patients treated at the centre", location="Methods")["item"]
    'q1'
    >>> a.current
    ('s1', 'q2')
    """

    _refusals = (OptionError, AppraisalError, AppraisalLogError)

    def __init__(
        self,
        log: AppraisalLog,
        reviewer: str,
        studies: pd.DataFrame | Sequence[str] | None = None,
    ) -> None:
        import pandas as pd

        if reviewer == CONSENSUS:
            raise OptionError("the assessor is for assessors; record consensus with log.resolve()")
        if log.assessors and reviewer not in log.assessors:
            raise OptionError(
                f"reviewer {reviewer!r} is not an assessor of the protocol; must be one of "
                f"{list(log.assessors)}"
            )
        self.log = log
        self.reviewer = reviewer
        self.tool = log.tool
        self.units = self.tool.units()
        if studies is None and log.studies_frame is not None:
            studies = log.studies_frame
        if studies is None:
            if log.study_ids is None:
                raise OptionError("give the studies to assess (the log was given none)")
            self.studies = pd.DataFrame(
                {
                    "study_id": list(log.study_ids),
                    "label": [log.labels.get(s, s) for s in log.study_ids],
                }
            )
        elif isinstance(studies, pd.DataFrame):
            if "study_id" not in studies.columns:
                raise OptionError("studies have no column 'study_id'")
            self.studies = studies.reset_index(drop=True)
        else:
            self.studies = pd.DataFrame({"study_id": [str(s) for s in studies]})
        self.study_ids = [str(s) for s in self.studies["study_id"]]
        if len(set(self.study_ids)) != len(self.study_ids):
            raise OptionError("a study appears twice in the studies given")
        self._study = 0
        self._unit = 0
        self._build()
        self._start()

    # ------------------------------------------------------------------ widgets
    def _build(self) -> None:
        def button(label: str, tip: str, fn: Callable[[Any], None], style: str = "") -> Any:
            b = widgets.Button(description=label, tooltip=tip, button_style=style)
            b.on_click(fn)
            return b

        self.progress_bar = widgets.IntProgress(
            min=0, max=max(1, len(self.study_ids) * len(self.units)), value=0
        )
        self.progress_html = widgets.HTML()
        self.study_html = widgets.HTML(layout=widgets.Layout(max_width="60em"))
        self.item_html = widgets.HTML(layout=widgets.Layout(max_width="60em"))
        self.answer_box = widgets.HBox()
        self.answer_buttons: dict[str, Any] = {}
        self.quote = widgets.Textarea(
            placeholder="supporting quote, as written in the report",
            description="Quote",
            layout=widgets.Layout(width="60em", height="4.5em"),
        )
        self.location = widgets.Text(
            placeholder="where: page, table, paragraph, URL",
            description="Location",
            layout=widgets.Layout(width="60em"),
        )
        self.note = widgets.Text(
            placeholder="note: why there is no quote, or a reason",
            description="Note",
            layout=widgets.Layout(width="60em"),
        )
        keys = [a.key for a in self.tool.answers if a.key]
        self.keys = widgets.Text(
            placeholder="shortcuts: " + " ".join(keys) + " 1-9, j k s",
            description="Keys",
            continuous_update=True,
            layout=widgets.Layout(width="30em"),
        )
        self.keys.observe(self._on_keys, names="value")
        self.previous_button = button("◀ Previous", "previous item (key k)", self._nav(-1))
        self.next_button = button("Next ▶", "next item (key j)", self._nav(1))
        self.next_study_button = button(
            "Next study ▶▶", "next study (key s)", lambda _: self._safe(self.next_study)
        )
        self.message = widgets.HTML()
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.progress_bar, self.progress_html]),
                self.study_html,
                self.item_html,
                self.answer_box,
                self.quote,
                self.location,
                self.note,
                widgets.HBox(
                    [self.previous_button, self.next_button, self.next_study_button, self.keys]
                ),
                self.message,
            ]
        )

    def _nav(self, step: int) -> Callable[[Any], None]:
        return lambda _: self._safe(self.next_item if step > 0 else self.previous_item)

    def __repr__(self) -> str:
        s, u = self.current
        return f"<Assessor {self.tool.code} reviewer {self.reviewer}: at {s} {u}>"

    def _on_keys(self, change: dict[str, Any]) -> None:
        text = str(change["new"] or "")
        if not text:
            return
        key = text[-1].lower()
        options = self.tool.options(self.units[self._unit])
        by_key = {a.key: a.code for a in self.tool.answers if a.key}
        if key in _NAV_KEYS:
            fn = {"j": self.next_item, "k": self.previous_item, "s": self.next_study}[key]
            self._safe(fn)
        elif key.isdigit() and key != "0":
            n = int(key)
            if n <= len(options):
                self._safe(self.answer, options[n - 1])
            else:
                self._say(f"no answer number {n} (this item has {len(options)})", error=True)
        elif key in by_key and by_key[key] in options:
            self._safe(self.answer, by_key[key])
        else:
            hint = " ".join(k for k in by_key if by_key[k] in options)
            self._say(f"unknown shortcut {key!r}: {hint} 1-9 answer, j k s move", error=True)
        self.keys.value = ""

    # ------------------------------------------------------------------ state
    @property
    def current(self) -> tuple[str, str]:
        """(study_id, item) on screen."""
        return self.study_ids[self._study], self.units[self._unit]

    def _mine(self) -> dict[tuple[str, str], Mapping[str, Any]]:
        return {
            (r["study_id"], r["item"]): r
            for (s, i, rev), r in self.log._standing(self.log._rows()).items()
            if rev == self.reviewer
        }

    def _start(self) -> None:
        mine = self._mine()
        for si, sid in enumerate(self.study_ids):
            for ui, unit in enumerate(self.units):
                if (sid, unit) not in mine:
                    self._study, self._unit = si, ui
                    self._render(mine)
                    return
        self._study, self._unit = len(self.study_ids) - 1, len(self.units) - 1
        self._render(mine)
        self._say("Every item of every study has an answer from you.")

    def _render(self, mine: dict[tuple[str, str], Mapping[str, Any]] | None = None) -> None:
        mine = self._mine() if mine is None else mine
        sid, unit = self.current
        done = sum(1 for s in self.study_ids for u in self.units if (s, u) in mine)
        here = sum(1 for u in self.units if (sid, u) in mine)
        self.progress_bar.value = done
        self.progress_html.value = html.escape(
            f"{self.tool.short_name}, assessor {self.reviewer}: {done} / "
            f"{len(self.study_ids) * len(self.units)} answered; study {self._study + 1} of "
            f"{len(self.study_ids)} ({here} / {len(self.units)}), item {self._unit + 1} of "
            f"{len(self.units)}"
        )
        row = self.studies.iloc[self._study]
        label = str(row["label"]) if "label" in row.index else sid
        facts = " · ".join(
            html.escape(f"{k} {row[k]}")
            for k in ("design", "pmid", "year")
            if k in row.index and str(row[k]) not in ("", "nan", "None")
        )
        note = (
            f'<div style="color:#555;font-size:90%">{html.escape(str(row["note"]))}</div>'
            if "note" in row.index and str(row["note"]) not in ("", "nan", "None")
            else ""
        )
        self.study_html.value = (
            f'<h3 style="margin-bottom:0.1em">{html.escape(label)}</h3>'
            f'<div style="color:#555">{html.escape(sid)}{" · " + facts if facts else ""}</div>'
            f"{note}"
        )
        guidance = "".join(f"<li>{html.escape(g)}</li>" for g in self.tool.guidance(unit))
        standing = mine.get((sid, unit))
        was = ""
        if standing is not None:
            label_of = {a.code: a.label for a in self.tool.answers}
            was = (
                '<p style="color:#1b5e20">Your answer: <b>'
                f"{html.escape(label_of.get(standing['answer'], standing['answer']))}</b>"
                " (answer again to change it)</p>"
            )
        self.item_html.value = (
            f'<p style="margin:0.6em 0 0.2em 0"><b>{html.escape(unit.upper())}.</b> '
            f"{html.escape(self.tool.text(unit))}</p>"
            + (f'<ul style="margin:0;color:#444">{guidance}</ul>' if guidance else "")
            + was
        )
        options = self.tool.options(unit)
        labels = {a.code: (a.label, a.key) for a in self.tool.answers}
        labels.update({lv.code: (lv.label, None) for lv in self.tool.judgements})
        buttons = {}
        for n, code in enumerate(options, 1):
            text, key = labels[code]
            b = widgets.Button(
                description=text,
                tooltip=f"{text} (key {key or n})",
                button_style="info" if standing and standing["answer"] == code else "",
                layout=widgets.Layout(width="auto"),
            )
            b.on_click(lambda _, c=code: self._safe(self.answer, c))
            buttons[code] = b
        self.answer_buttons = buttons
        self.answer_box.children = tuple(buttons.values())
        if standing is not None:
            self.quote.value = standing["quote"] or ""
            self.location.value = standing["location"] or ""
            self.note.value = standing["note"] or ""
        else:
            self.quote.value = self.location.value = self.note.value = ""

    # ------------------------------------------------------------------ actions
    def answer(
        self,
        code: str,
        quote: str | None = None,
        location: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Answer the item on screen and move to the next item still to answer.

        Parameters
        ----------
        code : str
            An answer option of the item (a level, for a judged domain or the overall).
        quote, location, note : str, optional
            Default: the fields' text.

        Returns
        -------
        dict
            The row written to the log.

        Raises
        ------
        review.errors.AppraisalError
            If the log refuses it (an unknown option, an answer without support); nothing
            is written and the item stays on screen.
        """
        sid, unit = self.current
        row = self.log.record(
            sid,
            unit,
            code,
            reviewer=self.reviewer,
            quote=self.quote.value if quote is None else quote,
            location=self.location.value if location is None else location,
            note=self.note.value if note is None else note,
        )
        self._say(f"{sid} {unit}: {code}, seq {row['seq']}")
        self._advance()
        return row

    def _advance(self) -> None:
        """To the next item of this study without an answer, else the next study's first."""
        mine = self._mine()
        order = [(si, ui) for si in range(len(self.study_ids)) for ui in range(len(self.units))]
        here = self._study * len(self.units) + self._unit
        for si, ui in order[here + 1 :] + order[: here + 1]:
            if (self.study_ids[si], self.units[ui]) not in mine:
                self._study, self._unit = si, ui
                self._render(mine)
                return
        self._render(mine)
        self.message.value += " — every item of every study has an answer from you."

    def next_item(self) -> None:
        """Show the next item (into the next study after the last)."""
        if self._unit + 1 < len(self.units):
            self._unit += 1
        elif self._study + 1 < len(self.study_ids):
            self._study, self._unit = self._study + 1, 0
        self._render()

    def previous_item(self) -> None:
        """Show the previous item (into the previous study before the first)."""
        if self._unit > 0:
            self._unit -= 1
        elif self._study > 0:
            self._study, self._unit = self._study - 1, len(self.units) - 1
        self._render()

    def next_study(self) -> None:
        """Show the next study, at its first item."""
        if self._study + 1 < len(self.study_ids):
            self._study, self._unit = self._study + 1, 0
        self._render()

    def go(self, study_id: str, item: str | None = None) -> None:
        """Show a given study (and item)."""
        if study_id not in self.study_ids:
            raise OptionError(f"study {study_id!r} is not among the studies being assessed")
        if item is not None and item not in self.units:
            raise OptionError(f"Invalid item {item!r}; must be one of {self.units}")
        self._study = self.study_ids.index(study_id)
        self._unit = 0 if item is None else self.units.index(item)
        self._render()
