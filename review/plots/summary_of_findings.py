"""The GRADE Summary of Findings table as a publication figure.

One row per outcome, as GRADEpro lays it out: the outcome, the pooled estimate with its
confidence interval, the number of studies and participants, and the certainty of the evidence
(GRADE symbols and word) with the footnote marks that give the reasons; the footnotes and the
explanation of the columns under the table. Text is kept as text in the vector files and the
table re-lays itself out (wrapping the outcome names) at the width
:func:`review.plots.save_figure` is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from review.errors import OptionError
from review.plots import _layout as L
from review.plots._style import ReviewFigure, style

if TYPE_CHECKING:
    from review.certainty import SummaryOfFindings

__all__ = ["sof_table"]

_SIZE = 7.5
_FOOT = 6.5
_PAD = 0.08


@dataclass(frozen=True)
class _Table:
    heads: list[str]
    cells: list[list[str]]  # per row, per column
    codes: list[str]
    foot: list[str]
    title: str | None


def sof_table(
    sof: SummaryOfFindings, *, width: float = 174 / 25.4, title: str | None = None
) -> Figure:
    """Draw a Summary of Findings table.

    Parameters
    ----------
    sof : SummaryOfFindings
        From :func:`review.certainty.summary_of_findings`.
    width : float, default 174 mm
        Width in inches.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Each row's texts carry SVG ids ``sof:<outcome code>:<column>``.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.certainty import evidence_profile, summary_of_findings
    >>> from review.meta import pool_proportions
    >>> res = pool_proportions(
    ...     pd.DataFrame({"events": [3, 10, 7], "n": [100, 400, 150]}), method="REML"
    ... )
    >>> fig = sof_table(summary_of_findings([evidence_profile(res, "any_event")]))
    >>> [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "sof:any_event:studies"]
    ['3 (650)']
    """
    lvl = f"{100 * sof.level:.0f}%"
    heads = ["Outcome", f"Estimate ({lvl} CI)", "Studies (participants)", "Certainty"]
    cells = []
    for _, r in sof.table.iterrows():
        parts = f" ({r['participants']})" if r["participants"] else ""
        marks = f" ({r['footnotes']})" if r["footnotes"] else ""
        cells.append(
            [
                str(r["outcome"]),
                f"{r['estimate']} ({r['ci']})",
                f"{r['studies']}{parts}",
                f"{r['certainty']}{marks}",
            ]
        )
    foot = [f"{m}. {t}" for m, t in sof.footnotes] + list(sof.notes)
    t = _Table(heads, cells, [str(c) for c in sof.table["code"]], foot, title)
    with style():
        fig = ReviewFigure()
        _draw(fig, t, width)
        fig._review_relayout = lambda w: _draw(fig, t, w)  # type: ignore[attr-defined]
    return fig


def _draw(fig: Figure, t: _Table, width: float) -> None:
    fig.clear()
    inner = width - 2 * _PAD
    gap = 0.12
    fixed = [
        max(L.widest([r[j] for r in t.cells], _SIZE), L.text_width(t.heads[j], _SIZE, "bold"))
        for j in (1, 2, 3)
    ]
    outcome_w = inner - sum(fixed) - 3 * gap
    if outcome_w < 0.9:
        raise OptionError(
            f"A width of {width * 25.4:.0f} mm is too narrow for this Summary of Findings table"
        )
    widths = [outcome_w, *fixed]
    lh = L.line_height(_SIZE, 1.15)
    flh = L.line_height(_FOOT, 1.18)
    wrapped = [[L.wrap(c, widths[j], _SIZE) for j, c in enumerate(row)] for row in t.cells]
    row_h = [max(len(x) for x in row) * lh + 0.1 for row in wrapped]
    head_w = [L.wrap(h, widths[j], _SIZE, "bold") for j, h in enumerate(t.heads)]
    head_h = max(len(h) for h in head_w) * lh + 0.1
    foot_lines = [x for f in t.foot for x in L.wrap(f, inner, _FOOT)]
    title_h = 0.28 if t.title else 0.0
    H = _PAD + title_h + head_h + sum(row_h) + 0.08 + len(foot_lines) * flh + _PAD
    ax, y = L.inch_canvas(fig, width, H, t.title, title_h, _PAD)
    xs = [_PAD]
    for w in widths[:-1]:
        xs.append(xs[-1] + w + gap)
    ax.plot([_PAD, width - _PAD], [y, y], color="black", lw=0.8)
    for j, lines in enumerate(head_w):
        ax.text(
            xs[j],
            y + 0.05,
            "\n".join(lines),
            fontproperties=L.font(_SIZE, "bold"),
            va="top",
            ha="left",
            linespacing=1.15,
        )
    y += head_h
    ax.plot([_PAD, width - _PAD], [y, y], color="black", lw=0.5)
    columns = ("outcome", "estimate", "studies", "certainty")
    for i, row in enumerate(wrapped):
        for j, lines in enumerate(row):
            ax.text(
                xs[j],
                y + 0.05,
                "\n".join(lines),
                fontproperties=L.font(_SIZE),
                va="top",
                ha="left",
                linespacing=1.15,
                gid=f"sof:{t.codes[i]}:{columns[j]}",
            )
        y += row_h[i]
        if i < len(wrapped) - 1:
            ax.plot([_PAD, width - _PAD], [y, y], color="#BBBBBB", lw=0.4)
    ax.plot([_PAD, width - _PAD], [y, y], color="black", lw=0.8)
    y += 0.08
    if foot_lines:
        ax.text(
            _PAD,
            y,
            "\n".join(foot_lines),
            fontproperties=L.font(_FOOT),
            va="top",
            ha="left",
            linespacing=1.18,
            gid="sof-footnotes",
        )
