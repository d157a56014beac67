"""Risk-of-bias figures: the traffic-light plot and the weighted summary bar plot.

The two figures reviewers know from robvis (McGuinness & Higgins 2021): a grid of studies by
domains (or by items, for a checklist without domains) with the overall judgement in the last
column, and one stacked bar per domain giving the share of studies (or of the analysis weight)
at each level of concern. Drawn in the toolkit's style: colours from the Okabe-Ito palette
(:func:`review.plots._style.risk_of_bias_colours`, never a red/green pair) and always a second
cue (a symbol in every traffic light, a hatch in every bar segment), so that no judgement is
read from colour alone. Study labels are written horizontally and wrapped, however many
studies; a judgement not yet reached (an unanswered item, a disagreement without consensus) is
an empty circle, never a guess. Both figures re-lay themselves out at the width
:func:`review.plots.save_figure` is given.

References
----------
McGuinness LA, Higgins JPT. Risk-of-bias VISualization (robvis): an R package and Shiny web
app for visualizing risk-of-bias assessments. Res Synth Methods 2021;12:55-61.

Okabe M, Ito K. Color Universal Design (CUD): how to make figures and presentations that are
friendly to colorblind people. 2008.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import matplotlib.colors as mcolors
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from review.errors import OptionError
from review.plots import _layout as L
from review.plots._style import RC, ReviewFigure, risk_of_bias_colours, style

if TYPE_CHECKING:
    from review.appraisal import RiskOfBias

__all__ = ["rob_summary", "traffic_light"]

_GREY = "#BBBBBB"
_EDGE = "#555555"
_HATCHES = ["", "////", "xxxx", "\\\\\\\\", "oo"]  # by rank: none for the least concern
_NA_HATCH = "...."
_SIZE = 7.5  # label font size (points)


def _text_colour(fill: str) -> str:
    r, g, b = mcolors.to_rgb(fill)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > 0.45 else "white"


@dataclass(frozen=True)
class _Cell:
    fill: str | None  # None: not yet judged (empty circle)
    symbol: str
    text: str  # for the SVG gid / tests: level or answer code


@dataclass(frozen=True)
class _Key:
    fill: str | None
    symbol: str
    hatch: str
    label: str
    heading: bool = False  # a group's name, drawn bold without a marker, starting a row


def _cells(rob: RiskOfBias, columns: list[str]) -> tuple[list[list[_Cell]], list[_Key]]:
    tool = rob.tool
    colours = risk_of_bias_colours(len(tool.judgements))
    by_level = {lv.code: (colours[lv.rank], lv.symbol) for lv in tool.judgements}
    grid = []
    for _, row in rob.table.iterrows():
        cells = []
        for col in columns:
            v = row[col]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                cells.append(_Cell(None, "", "missing"))
            elif col in tool.item_codes:
                a = tool.answer(str(v))
                if a.judgement is None:
                    cells.append(_Cell(_GREY, a.symbol, a.code))
                else:
                    cells.append(_Cell(by_level[a.judgement][0], a.symbol, a.code))
            else:
                fill, sym = by_level[str(v)]
                cells.append(_Cell(fill, sym, str(v)))
        grid.append(cells)
    keys = [
        _Key(colours[lv.rank], lv.symbol, _HATCHES[lv.rank], lv.label) for lv in tool.judgements
    ]
    if any(c in tool.item_codes for c in columns):
        answers = [
            _Key(_GREY if a.judgement is None else by_level[a.judgement][0], a.symbol, "", a.label)
            for a in tool.answers
        ]
        keys = [
            _Key(None, "", "", "Items:", heading=True),
            *answers,
            _Key(None, "", "", "Judgements:", heading=True),
            *keys,
        ]
    keys.append(_Key(None, "", "", "Not yet judged (unanswered, or no consensus yet)"))
    return grid, keys


def _headers(rob: RiskOfBias, columns: list[str]) -> list[tuple[str, str]]:
    """(short header, key text) per column."""
    out = []
    for i, col in enumerate(columns, 1):
        if col in rob.tool.item_codes:
            out.append((col.upper(), rob.tool.text(col)))
        else:
            out.append((f"D{i}", rob.column_label(col)))
    return out


def _columns(rob: RiskOfBias, show: str) -> list[str]:
    if show not in ("auto", "domains", "items"):
        raise OptionError(f"Invalid columns {show!r}; must be one of ['auto', 'domains', 'items']")
    if show == "items" or (show == "auto" and not rob.tool.domains):
        return rob.tool.item_codes
    if not rob.tool.domains:
        raise OptionError(f"tool {rob.tool.code!r} has no domains; use columns='items'")
    return [d.code for d in rob.tool.domains]


# ---------------------------------------------------------------------- traffic light
@dataclass(frozen=True)
class _TrafficData:
    labels: list[str]
    headers: list[tuple[str, str]]
    grid: list[list[_Cell]]
    keys: list[_Key]
    study_ids: list[str]
    columns: list[str]
    title: str | None
    note: str | None


def traffic_light(
    rob: RiskOfBias,
    *,
    columns: Literal["auto", "domains", "items"] = "auto",
    overall: bool = True,
    width: float | None = None,
    title: str | None = None,
) -> Figure:
    """Traffic-light plot: studies by domains (or items), and the overall judgement.

    Parameters
    ----------
    rob : RiskOfBias
        From :meth:`review.appraisal.AppraisalLog.judgements`.
    columns : {"auto", "domains", "items"}, default "auto"
        The tool's domains, or its items (the default for a checklist without domains).
    overall : bool, default True
        Draw the overall judgement as the last column.
    width : float, optional
        Width in inches (default: as wide as the grid and its labels need, at least one
        journal column); :func:`review.plots.save_figure` can change it later.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Each circle carries the SVG id ``rob-cell:<study_id>:<column>``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from review.appraisal import AppraisalLog, load_tool
    >>> log = AppraisalLog(
    ...     pathlib.Path(tempfile.mkdtemp()) / "l.jsonl",
    ...     tool=load_tool("jbi_prevalence"),
    ...     require_support=False,
    ... )
    >>> for q in log.tool.item_codes:
    ...     _ = log.record("s1", q, "yes", reviewer="A")
    >>> fig = traffic_light(log.judgements())
    >>> sorted(a.get_gid() for a in fig.axes[0].patches if a.get_gid())[:2]
    ['rob-cell:s1:overall', 'rob-cell:s1:q1']
    """
    from review.appraisal import OVERALL

    cols = _columns(rob, columns)
    grid, keys = _cells(rob, [*cols, OVERALL] if overall else cols)
    headers = _headers(rob, cols) + ([("Overall", "")] if overall else [])
    note = None
    if rob.n_conflicts:
        note = f"{rob.n_conflicts} item(s) still in conflict between the assessors."
    d = _TrafficData(
        labels=[str(x) for x in rob.table["label"]],
        headers=headers,
        grid=grid,
        keys=keys,
        study_ids=[str(x) for x in rob.table["study_id"]],
        columns=[*cols, OVERALL] if overall else cols,
        title=title,
        note=note,
    )
    with style():
        fig = ReviewFigure()
        natural = _traffic_natural_width(d)
        _draw_traffic(fig, d, width if width is not None else natural)
        fig._review_relayout = lambda w: _draw_traffic(fig, d, w)  # type: ignore[attr-defined]
    return fig


_CELL = 0.22  # inches per column and per row (at least)
_R = 0.088  # circle radius
_PAD = 0.08
_GAP = 0.06  # between the domain columns and the overall column


def _col_widths(d: _TrafficData) -> list[float]:
    return [max(_CELL, L.text_width(h, _SIZE, "bold") + 0.06) for h, _ in d.headers]


def _traffic_natural_width(d: _TrafficData) -> float:
    label_w = min(max(L.widest(d.labels, _SIZE), 0.8), 2.6)
    grid_w = sum(_col_widths(d)) + _GAP
    return max(3.35, 2 * _PAD + label_w + 0.1 + grid_w)


def _draw_traffic(fig: Figure, d: _TrafficData, width: float) -> None:
    fig.clear()
    n_cols = len(d.headers)
    widths = _col_widths(d)
    has_overall = bool(d.headers) and d.headers[-1][0] == "Overall"
    grid_w = sum(widths) + (_GAP if has_overall else 0.0)
    label_w = width - 2 * _PAD - 0.1 - grid_w
    if label_w < 0.6:
        raise OptionError(
            f"A width of {width * 25.4:.0f} mm is too narrow for this traffic-light plot "
            f"({n_cols} columns); give at least {(grid_w + 0.7 + 2 * _PAD) * 25.4:.0f} mm"
        )
    lh = L.line_height(_SIZE, 1.15)
    wrapped = [L.wrap(lbl, label_w, _SIZE) for lbl in d.labels]
    row_h = [max(_CELL, len(w) * lh + 0.06) for w in wrapped]
    title_h = 0.28 if d.title else 0.0
    header_h = 0.26
    foot = 6.5
    flh = L.line_height(foot, 1.18)
    if any(h.startswith("D") and h[1:].isdigit() for h, _ in d.headers):
        key_text = "; ".join(f"{h}: {k}" for h, k in d.headers if k)
        key_lines = L.wrap(key_text, width - 2 * _PAD, foot) if key_text else []
    else:  # item questions: one a line
        key_lines = [
            x for h, k in d.headers if k for x in L.wrap(f"{h}: {k}", width - 2 * _PAD, foot)
        ]
    legend_rows = _legend_rows(d.keys, width - 2 * _PAD, foot)
    note_lines = L.wrap(d.note, width - 2 * _PAD, foot) if d.note else []
    foot_h = (
        0.1 + len(legend_rows) * max(flh, 0.17) + 0.05 + (len(key_lines) + len(note_lines)) * flh
    )
    H = _PAD + title_h + header_h + sum(row_h) + foot_h + _PAD
    ax, y = L.inch_canvas(fig, width, H, d.title, title_h, _PAD)
    x0 = _PAD + label_w + 0.1
    xs = []
    for j, (h, _) in enumerate(d.headers):
        gap = _GAP if (has_overall and j == n_cols - 1) else 0.0
        cx = x0 + sum(widths[:j]) + widths[j] / 2 + gap
        xs.append(cx)
        ax.text(
            cx,
            y + header_h - 0.06,
            h,
            fontproperties=L.font(_SIZE, "bold"),
            ha="center",
            va="bottom",
            gid=f"rob-header:{h}",
        )
    ax.text(
        _PAD,
        y + header_h - 0.06,
        "Study",
        fontproperties=L.font(_SIZE, "bold"),
        ha="left",
        va="bottom",
    )
    y += header_h
    ax.plot([_PAD, width - _PAD], [y, y], color="black", lw=0.6)
    for i, (lines, rh) in enumerate(zip(wrapped, row_h)):
        cy = y + rh / 2
        if i % 2 == 1:
            ax.add_patch(
                Rectangle((_PAD, y), width - 2 * _PAD, rh, facecolor="#F2F2F2", lw=0, zorder=0)
            )
        ax.text(
            _PAD,
            cy,
            "\n".join(lines),
            fontproperties=L.font(_SIZE),
            ha="left",
            va="center",
            linespacing=1.15,
            gid=f"rob-label:{d.study_ids[i]}",
        )
        for j, cell in enumerate(d.grid[i]):
            gid = f"rob-cell:{d.study_ids[i]}:{d.columns[j]}"
            if cell.fill is None:
                ax.add_patch(
                    Circle(
                        (xs[j], cy),
                        _R,
                        facecolor="white",
                        edgecolor=_EDGE,
                        lw=0.6,
                        linestyle=(0, (1.5, 1.2)),
                        zorder=2,
                        gid=gid,
                    )
                )
                continue
            ax.add_patch(
                Circle(
                    (xs[j], cy), _R, facecolor=cell.fill, edgecolor=_EDGE, lw=0.4, zorder=2, gid=gid
                )
            )
            ax.text(
                xs[j],
                cy,
                cell.symbol,
                fontproperties=L.font(7.5, "bold"),
                ha="center",
                va="center_baseline",
                color=_text_colour(cell.fill),
                zorder=3,
                gid=f"rob-symbol:{d.study_ids[i]}:{d.columns[j]}",
            )
        y += rh
    ax.plot([_PAD, width - _PAD], [y, y], color="black", lw=0.6)
    y += 0.1
    y = _draw_legend(ax, legend_rows, _PAD, y, foot)
    y += 0.05
    if key_lines or note_lines:
        ax.text(
            _PAD,
            y,
            "\n".join(key_lines + note_lines),
            fontproperties=L.font(foot),
            ha="left",
            va="top",
            linespacing=1.18,
            gid="rob-key",
        )


def _key_width(k: _Key, size: float) -> float:
    if k.heading:
        return L.text_width(k.label, size, "bold") + 0.1
    return 0.2 + L.text_width(k.label, size) + 0.15


def _legend_rows(keys: list[_Key], width: float, size: float) -> list[list[_Key]]:
    rows: list[list[_Key]] = [[]]
    used = 0.0
    for k in keys:
        w = _key_width(k, size)
        if rows[-1] and (used + w > width or k.heading):
            rows.append([])
            used = 0.0
        rows[-1].append(k)
        used += w
    return rows


def _draw_legend(ax: Any, rows: list[list[_Key]], x0: float, y: float, size: float) -> float:
    r = 0.065
    for row in rows:
        x = x0
        cy = y + 0.085
        for k in row:
            if k.heading:
                ax.text(
                    x,
                    cy,
                    k.label,
                    fontproperties=L.font(size, "bold"),
                    ha="left",
                    va="center_baseline",
                )
                x += _key_width(k, size)
                continue
            if k.fill is None:
                ax.add_patch(
                    Circle(
                        (x + r, cy),
                        r,
                        facecolor="white",
                        edgecolor=_EDGE,
                        lw=0.6,
                        linestyle=(0, (1.5, 1.2)),
                    )
                )
            else:
                ax.add_patch(Circle((x + r, cy), r, facecolor=k.fill, edgecolor=_EDGE, lw=0.4))
                ax.text(
                    x + r,
                    cy,
                    k.symbol,
                    fontproperties=L.font(6, "bold"),
                    ha="center",
                    va="center_baseline",
                    color=_text_colour(k.fill),
                )
            ax.text(
                x + 2 * r + 0.05,
                cy,
                k.label,
                fontproperties=L.font(size),
                ha="left",
                va="center_baseline",
                gid="rob-legend",
            )
            x += _key_width(k, size)
        y += 0.17
    return y


# ---------------------------------------------------------------------- summary bars
@dataclass(frozen=True)
class _SummaryData:
    labels: list[str]
    shares: list[list[float]]  # per row, per segment
    segments: list[_Key]
    bold_last: bool
    xlabel: str
    title: str | None
    note: str | None


def _weights(rob: RiskOfBias, weights: Any) -> tuple[dict[str, float] | None, str | None]:
    """Study id -> weight from a mapping, a Series or a pooled result (matched by label)."""
    if weights is None:
        return None, None
    studies = getattr(weights, "studies", None)
    if studies is not None and "weight" in getattr(studies, "columns", ()):
        by_label = dict(zip(rob.table["label"], rob.table["study_id"]))
        out: dict[str, float] = {}
        unknown = []
        for lbl, w in zip(studies["label"], studies["weight"]):
            sid = by_label.get(lbl)
            if sid is None:
                unknown.append(str(lbl))
            else:
                out[str(sid)] = float(w)
        if unknown:
            raise OptionError(
                f"studies of the pooled result not among the assessed ones (matched by label): "
                f"{unknown}"
            )
        left = [s for s in rob.table["study_id"] if s not in out]
        note = (
            f"Weighted by the analysis weights; {len(left)} assessed stud"
            f"{'y' if len(left) == 1 else 'ies'} not in the analysis left out."
            if left
            else "Weighted by the analysis weights."
        )
        return out, note
    if isinstance(weights, Mapping) or hasattr(weights, "items"):
        out = {str(k): float(v) for k, v in weights.items()}
        bad = [k for k, v in out.items() if not (v >= 0 and math.isfinite(v))]
        if bad:
            raise OptionError(f"weights must be finite and >= 0; not for {bad}")
        return out, "Weighted by the weights given."
    raise OptionError("weights must be a mapping study_id -> weight, or a pooled result")


def rob_summary(
    rob: RiskOfBias,
    *,
    weights: Any = None,
    columns: Literal["auto", "domains", "items"] = "auto",
    overall: bool = True,
    width: float = 3.35 * 174 / 85,
    title: str | None = None,
) -> Figure:
    """Summary bar plot: per domain (or item), the share of studies at each level of concern.

    Parameters
    ----------
    rob : RiskOfBias
        From :meth:`review.appraisal.AppraisalLog.judgements`.
    weights : Mapping[str, float] or PoolResult, optional
        Weight per study id, or a pooled result whose study weights are used (its studies
        are matched to the assessed ones by ``label``; assessed studies not in it are left
        out, as robvis does with weights). Default: every study counts once.
    columns : {"auto", "domains", "items"}, default "auto"
    overall : bool, default True
        Add a bar for the overall judgement (in bold, last).
    width : float, default 174 mm
        Width in inches.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Each bar segment carries the SVG id ``rob-bar:<column>:<level>``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from review.appraisal import AppraisalLog, load_tool
    >>> log = AppraisalLog(
    ...     pathlib.Path(tempfile.mkdtemp()) / "l.jsonl",
    ...     tool=load_tool("jbi_prevalence"),
    ...     require_support=False,
    ... )
    >>> for s, a in (("s1", "yes"), ("s2", "no")):
    ...     for q in log.tool.item_codes:
    ...         _ = log.record(s, q, a, reviewer="A")
    >>> fig = rob_summary(log.judgements())
    >>> [float(x) for x in fig.axes[0].get_xlim()]
    [0.0, 100.0]
    """
    from review.appraisal import OVERALL

    cols = _columns(rob, columns)
    if overall:
        cols = [*cols, OVERALL]
    w, note = _weights(rob, weights)
    counts = rob.counts(w)
    tool = rob.tool
    colours = risk_of_bias_colours(len(tool.judgements))
    items_shown = any(c in tool.item_codes for c in cols)

    def seg_label(level: str, label: str) -> str:
        # item bars are drawn by the level their answers stand for: say which answers
        answers = [a.label for a in tool.answers if a.judgement == level]
        return f"{label} (items: {', '.join(answers)})" if items_shown and answers else label

    segs = [
        _Key(colours[lv.rank], lv.symbol, _HATCHES[lv.rank], seg_label(lv.code, lv.label))
        for lv in tool.judgements
    ]
    codes = [lv.code for lv in tool.judgements]
    segs.append(_Key(_GREY, "/", _NA_HATCH, "Not applicable"))
    segs.append(_Key(None, "", "", "Not yet judged"))
    codes += ["not_applicable", "missing"]
    shares = []
    labels = []
    heads = dict(_headers(rob, [c for c in cols if c != OVERALL]))
    for i, col in enumerate(cols):
        sub = counts[counts["column"] == col].set_index("level")["share"]
        shares.append([float(sub.get(c, 0.0)) * 100 for c in codes])
        if col == OVERALL:
            labels.append("Overall risk of bias")
        else:
            short = list(heads)[i]
            labels.append(f"{short}: {heads[short]}" if col in tool.item_codes else heads[short])
    used = [j for j in range(len(codes)) if any(row[j] > 0 for row in shares)]
    d = _SummaryData(
        labels=labels,
        shares=[[row[j] for j in used] for row in shares],
        segments=[segs[j] for j in used],
        bold_last=overall,
        xlabel="Share of the analysis weight (%)" if w is not None else "Studies (%)",
        title=title,
        note=note,
    )
    d_codes = [codes[j] for j in used]
    with style():
        fig = ReviewFigure()
        _draw_summary(fig, d, d_codes, cols, width)
        fig._review_relayout = lambda wd: _draw_summary(fig, d, d_codes, cols, wd)  # type: ignore[attr-defined]
    return fig


def _draw_summary(
    fig: Figure, d: _SummaryData, codes: list[str], cols: list[str], width: float
) -> None:
    fig.clear()
    label_w = min(max(L.widest(d.labels, _SIZE), 1.0), width * 0.42)
    bar_w = width - 2 * _PAD - label_w - 0.15 - 0.1  # room for the "100" tick label
    if bar_w < 1.2:
        raise OptionError(f"A width of {width * 25.4:.0f} mm is too narrow for a summary plot")
    lh = L.line_height(_SIZE, 1.15)
    wrapped = [
        L.wrap(
            lbl, label_w, _SIZE, "bold" if (d.bold_last and i == len(d.labels) - 1) else "normal"
        )
        for i, lbl in enumerate(d.labels)
    ]
    row_h = [max(0.26, len(w) * lh + 0.08) for w in wrapped]
    title_h = 0.28 if d.title else 0.0
    foot = 6.5
    legend_rows = _legend_rows(d.segments, width - 2 * _PAD, foot)
    axis_h = 0.42
    note_lines = L.wrap(d.note, width - 2 * _PAD, foot) if d.note else []
    foot_h = len(legend_rows) * 0.19 + 0.05 + len(note_lines) * L.line_height(foot, 1.18)
    plot_h = sum(row_h)
    H = _PAD + title_h + plot_h + axis_h + foot_h + _PAD
    fig.set_size_inches(width, H, forward=True)
    left = _PAD + label_w + 0.15
    bottom = _PAD + foot_h + axis_h
    ax = fig.add_axes((left / width, bottom / H, bar_w / width, plot_h / H))
    ax.set_xlim(0, 100)
    ax.set_ylim(plot_h, 0)
    y = 0.0
    for i, (row, h) in enumerate(zip(d.shares, row_h)):
        x = 0.0
        bh = min(0.2, h - 0.06)
        for j, share in enumerate(row):
            seg = d.segments[j]
            if share <= 0:
                continue
            ax.add_patch(
                Rectangle(
                    (x, y + (h - bh) / 2),
                    share,
                    bh,
                    facecolor="white" if seg.fill is None else seg.fill,
                    edgecolor=_EDGE,
                    hatch=seg.hatch or None,
                    lw=0.4,
                    gid=f"rob-bar:{cols[i]}:{codes[j]}",
                )
            )
            if share / 100 * bar_w > 0.32:
                colour = "black" if seg.fill is None or seg.hatch else _text_colour(seg.fill)
                ax.text(
                    x + share / 2,
                    y + h / 2,
                    f"{share:.0f}%",
                    fontproperties=L.font(6.5),
                    ha="center",
                    va="center_baseline",
                    color=colour,
                    bbox=(
                        {"boxstyle": "square,pad=0.1", "fc": "white", "lw": 0}
                        if seg.hatch
                        else None
                    ),
                )
            x += share
        bold = d.bold_last and i == len(d.labels) - 1
        fig.text(
            _PAD / width,
            (bottom + plot_h - y - h / 2) / H,
            "\n".join(wrapped[i]),
            fontproperties=L.font(_SIZE, "bold" if bold else "normal"),
            ha="left",
            va="center",
            linespacing=1.15,
            gid=f"rob-row:{cols[i]}",
        )
        y += h
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_yticks([])
    for side in ("left", "top", "right"):  # set here: a re-layout may run outside style()
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_linewidth(0.6)
    if d.title:
        fig.text(
            _PAD / width,
            1 - _PAD / H,
            d.title,
            fontproperties=L.font(RC["axes.titlesize"], "bold"),
            va="top",
            ha="left",
            gid="title",
        )
    ax.set_xlabel(d.xlabel, fontproperties=L.font(RC["axes.labelsize"]))
    ax.tick_params(labelsize=RC["xtick.labelsize"], length=3, width=0.6)
    key_ax = fig.add_axes((0, 0, 1, (foot_h + _PAD) / H))
    key_ax.set_xlim(0, width)
    key_ax.set_ylim(foot_h + _PAD, 0)
    key_ax.set_axis_off()
    yy = 0.0
    for row_keys in legend_rows:
        x = _PAD
        for k in row_keys:
            key_ax.add_patch(
                Rectangle(
                    (x, yy + 0.04),
                    0.16,
                    0.11,
                    facecolor="white" if k.fill is None else k.fill,
                    edgecolor=_EDGE,
                    hatch=k.hatch or None,
                    lw=0.4,
                )
            )
            key_ax.text(
                x + 0.21,
                yy + 0.095,
                k.label,
                fontproperties=L.font(foot),
                ha="left",
                va="center_baseline",
                gid="rob-legend",
            )
            x += 0.2 + L.text_width(k.label, foot) + 0.15
        yy += 0.19
    if note_lines:
        key_ax.text(
            _PAD,
            yy + 0.03,
            "\n".join(note_lines),
            fontproperties=L.font(foot),
            ha="left",
            va="top",
            linespacing=1.18,
            gid="rob-note",
        )
