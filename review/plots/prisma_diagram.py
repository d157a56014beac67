"""The PRISMA 2020 flow diagram, drawn with matplotlib in the template's layout.

Three templates of Page et al. (2021, Fig. 1 and the templates at prisma-statement.org) are
drawn from one :class:`~review.prisma.PrismaCounts`, chosen by what the counts hold:

* a new review searching databases and registers (one column and its side boxes);
* the same plus the "Identification of studies via other methods" column (websites,
  organisations, citation searching), when ``counts.other`` is set;
* an updated review, with the "Previous studies" column on the left and "New" / "Total"
  included boxes, when ``counts.previous`` is set.

The layout is measured, not guessed: every box's text is measured with the renderer's font
metrics, long lines (database names, exclusion reasons) are wrapped to the column width,
each box grows to hold its text, rows take the height of their tallest box, and the figure
height follows the number of databases and reasons. Side labels (Identification,
Screening, Included) run along the left in bars as in the template.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch, Rectangle
from matplotlib.text import Text
from matplotlib.transforms import Affine2D, Transform

from review.errors import OptionError
from review.plots._style import OKABE_ITO, RC, ReviewFigure, style
from review.prisma import PrismaCounts

__all__ = ["prisma_diagram"]

# Physical layout constants, in inches: why each has its value.
_PAD = 0.06  # inner padding of a box: keeps text off the border line at any zoom
_GAP_X = 0.32  # between columns: room for a visible horizontal arrow
_GAP_X_TIGHT = 0.2  # the same at a width too narrow for the natural layout
_GAP_Y = 0.2  # between rows: room for a visible vertical arrow
_MARGIN = 0.05  # around the whole diagram: the border lines are not clipped
_BAR = 0.24  # width of the phase bars and height added to header bars
#: Default wrap widths of box text per column (inches). A page is 174 mm = 6.85 in; the
#: databases-only diagram fits it at these widths.
_BUDGET = {"prev": 1.45, "main": 1.6, "side": 1.95, "other": 1.6, "oside": 1.95}
_MIN_BUDGET = 0.5  # narrower than this a column can no longer hold "(n = 12345)"

_HEADER_FILL = (OKABE_ITO["yellow"], 0.45)
_SIDE_HEADER_FILL = (OKABE_ITO["grey"], 0.25)
_PHASE_FILL = (OKABE_ITO["sky_blue"], 0.45)
_EDGE = OKABE_ITO["black"]

_TOKEN = re.compile(r"\(n = [0-9,]+\):?|\S+")

Line = tuple[str, int]  # (text, indent level)


@dataclass
class _Box:
    key: str
    col: str
    row: int
    lines: list[Line]
    align: Literal["left", "center"] = "center"
    kind: Literal["box", "header", "phase"] = "box"
    text: str = ""
    text_w: float = 0.0
    text_h: float = 0.0
    x: float = 0.0  # left, inches from the diagram's left
    y: float = 0.0  # top, inches from the diagram's top
    w: float = 0.0
    h: float = 0.0
    span: tuple[int, int] = (0, 0)
    artist: Text | None = field(default=None, repr=False)


def _n(n: int) -> str:
    return f"(n = {n})"


def _boxes(c: PrismaCounts, show_zero_reasons: bool) -> list[_Box]:
    """Box contents of the template that ``c`` calls for, in PRISMA 2020 wording."""
    updated = c.previous is not None
    new = "new " if updated else ""
    out: list[_Box] = []
    ident: list[Line] = [("Records identified from:", 0)]
    ident.append((f"Databases {_n(sum(n for _, n in c.databases))}", 1))
    ident += [(f"{name} {_n(n)}", 2) for name, n in c.databases]
    ident.append((f"Registers {_n(sum(n for _, n in c.registers))}", 1))
    ident += [(f"{name} {_n(n)}", 2) for name, n in c.registers]
    out.append(_Box("identified", "main", 0, ident, align="left"))
    out.append(
        _Box(
            "removed",
            "side",
            0,
            [
                ("Records removed before screening:", 0),
                (f"Duplicate records removed {_n(c.duplicates_removed)}", 1),
                (
                    f"Records marked as ineligible by automation tools {_n(c.automation_excluded)}",
                    1,
                ),
                (f"Records removed for other reasons {_n(c.other_removed)}", 1),
            ],
            align="left",
        )
    )
    out.append(_Box("screened", "main", 1, [("Records screened", 0), (_n(c.records_screened), 0)]))
    out.append(_Box("excluded", "side", 1, [("Records excluded", 0), (_n(c.records_excluded), 0)]))

    def retrieval(
        prefix: str,
        col: str,
        side: str,
        sought: int,
        nr: int,
        assessed: int,
        reasons: tuple[tuple[str, str, int], ...],
    ) -> None:
        out.append(
            _Box(prefix + "sought", col, 2, [("Reports sought for retrieval", 0), (_n(sought), 0)])
        )
        out.append(
            _Box(prefix + "not_retrieved", side, 2, [("Reports not retrieved", 0), (_n(nr), 0)])
        )
        out.append(
            _Box(
                prefix + "assessed",
                col,
                3,
                [("Reports assessed for eligibility", 0), (_n(assessed), 0)],
            )
        )
        total = sum(n for _, _, n in reasons)
        shown = [(label, n) for _, label, n in reasons if n or show_zero_reasons]
        lines: list[Line] = [(f"Reports excluded {_n(total)}" + (":" if shown else ""), 0)]
        lines += [(f"{label} {_n(n)}", 1) for label, n in shown]
        out.append(
            _Box(prefix + "reports_excluded", side, 3, lines, align="left" if shown else "center")
        )

    retrieval(
        "",
        "main",
        "side",
        c.reports_sought,
        c.reports_not_retrieved,
        c.reports_assessed,
        c.reports_excluded,
    )
    out.append(
        _Box(
            "included",
            "main",
            4,
            [
                (f"{'New s' if updated else 'S'}tudies included in review {_n(c.new_studies)}", 0),
                (f"Reports of {new}included studies {_n(c.new_reports)}", 0),
            ],
        )
    )
    if updated:
        assert c.previous is not None
        out.append(
            _Box(
                "total",
                "main",
                5,
                [
                    (f"Total studies included in review {_n(c.total_studies)}", 0),
                    (f"Reports of total included studies {_n(c.total_reports)}", 0),
                ],
            )
        )
        out.append(
            _Box(
                "previous",
                "prev",
                0,
                [
                    (
                        f"Studies included in previous version of review {_n(c.previous.studies)}",
                        0,
                    ),
                    (
                        "Reports of studies included in previous version of review "
                        f"{_n(c.previous.reports)}",
                        0,
                    ),
                ],
            )
        )
        out.append(_Box("header_prev", "prev", -1, [("Previous studies", 0)], kind="header"))
    if c.other is not None:
        o = c.other
        lines = [("Records identified from:", 0)]
        lines += [(f"{name} {_n(n)}", 1) for name, n in o.sources]
        if not o.sources:
            lines = [(f"Records identified {_n(0)}", 0)]
        out.append(_Box("other_identified", "other", 0, lines, align="left"))
        retrieval(
            "other_",
            "other",
            "oside",
            o.reports_sought,
            o.reports_not_retrieved,
            o.reports_assessed,
            o.reports_excluded,
        )
        out.append(
            _Box(
                "header_other",
                "other",
                -1,
                [(f"Identification of {new}studies via other methods", 0)],
                kind="header",
            )
        )
    out.append(
        _Box(
            "header_main",
            "main",
            -1,
            [(f"Identification of {new}studies via databases and registers", 0)],
            kind="header",
        )
    )
    last = 5 if updated else 4
    out.append(
        _Box("phase_identification", "phase", 0, [("Identification", 0)], kind="phase", span=(0, 0))
    )
    out.append(_Box("phase_screening", "phase", 1, [("Screening", 0)], kind="phase", span=(1, 3)))
    out.append(_Box("phase_included", "phase", 4, [("Included", 0)], kind="phase", span=(4, last)))
    return out


def _font(size: float, bold: bool = False) -> FontProperties:
    """The toolkit's sans-serif font (as the forest plot resolves it) at ``size`` points."""
    return FontProperties(
        family=RC["font.sans-serif"], size=size, weight="bold" if bold else "normal"
    )


#: Resolutions the text is measured at. Hinted glyph advances differ by a few percent
#: between resolutions, so a box is made wide enough for the widest of the usual screen
#: and print resolutions, and a small slack covers the rest.
_MEASURE_DPI = (72.0, 100.0, 150.0, 300.0)
_SLACK = 1.01


@lru_cache(maxsize=1024)
def _renderer(dpi: float) -> RendererAgg:
    return RendererAgg(10, 10, dpi)  # type: ignore[no-untyped-call]


@lru_cache(maxsize=50000)
def _width(s: str, size: float, bold: bool, dpis: tuple[float, ...]) -> float:
    # Widest advance of the one-line s over dpis, in inches; cached because layout and
    # re-layout measure the same strings many times.
    prop = _font(size, bold)
    widest: float = max(  # matplotlib's Agg renderer is unannotated (returns Any)
        _renderer(d).get_text_width_height_descent(s, prop, ismath=False)[0] / d  # type: ignore[no-untyped-call]
        for d in dpis
    )
    return _SLACK * widest


class _Measure:
    """Text extents in inches with the renderer's own font metrics (widest over dpis)."""

    def __init__(self, fontsize: float, dpi: float) -> None:
        self.renderers = [_renderer(d) for d in sorted({*_MEASURE_DPI, dpi})]
        self.figures = [Figure(dpi=r.dpi) for r in self.renderers]
        self.prop = _font(fontsize)
        self.bold = _font(fontsize, bold=True)
        self.fontsize = fontsize
        self.dpis = tuple(r.dpi for r in self.renderers)

    def width(self, s: str, bold: bool = False) -> float:
        if not s:
            return 0.0
        return _width(s, self.fontsize, bold, self.dpis)

    def extent(
        self, text: str, bold: bool, rotation: float, align: Literal["left", "center"]
    ) -> tuple[float, float]:
        """Width and height in inches of a (multi-line) text as a ``Text`` lays it out."""
        w = h = 0.0
        for r, f in zip(self.renderers, self.figures):
            t = Text(
                0,
                0,
                text,
                fontproperties=self.bold if bold else self.prop,
                rotation=rotation,
                parse_math=False,
                multialignment=align,
                linespacing=1.2,
            )
            t.set_figure(f)
            ext = t.get_window_extent(renderer=r)
            w, h = max(w, ext.width / r.dpi), max(h, ext.height / r.dpi)
        return _SLACK * w, _SLACK * h

    def indent(self, level: int) -> str:
        # no-break spaces: an SVG viewer collapses leading plain spaces, not these
        return "\u00a0" * (3 * level)

    def wrap(
        self, text: str, level: int, budget: float, bold: bool = False, hang: bool = True
    ) -> list[str]:
        """Wrap one entry to ``budget`` inches; continuation lines hang one level deeper.

        Centred text (``hang=False``) does not indent its continuation lines. A count
        ``(n = 12)`` is never split from itself; a word wider than the budget is
        cut between characters, with a hyphen, so that no line overflows.
        """
        cont = self.indent(level + 1) if hang else self.indent(level)
        out: list[str] = []
        line, has_words = self.indent(level), False
        for tok in _TOKEN.findall(text):
            trial = line + (" " if has_words else "") + tok
            if self.width(trial, bold) <= budget:
                line, has_words = trial, True
                continue
            if has_words:
                out.append(line)
                line = cont
            while self.width(line + tok, bold) > budget and len(tok) > 1:
                # a word wider than the column is cut with a hyphen where it stops fitting
                cut = len(tok) - 1
                while cut > 1 and self.width(line + tok[:cut] + "-", bold) > budget:
                    cut -= 1
                out.append(line + tok[:cut] + "-")
                tok, line = tok[cut:], cont
            line, has_words = line + tok, True
        out.append(line)
        return out


def _layout(
    c: PrismaCounts,
    fontsize: float,
    dpi: float,
    width: float | None,
    show_zero_reasons: bool,
) -> tuple[list[_Box], float, float, dict[str, float], list[float]]:
    """Place every box; return boxes, diagram width and height, column x and row tops."""
    m = _Measure(fontsize, dpi)
    boxes = _boxes(c, show_zero_reasons)
    cols = ["phase"]
    if c.previous is not None:
        cols.append("prev")
    cols += ["main", "side"]
    if c.other is not None:
        cols += ["other", "oside"]
    content_cols = [k for k in cols if k != "phase"]

    # natural width of each column's text (unwrapped), capped by the default budget
    def natural(col: str) -> float:
        return max(
            m.width(m.indent(lvl) + t)
            for b in boxes
            if b.col == col and b.kind == "box"
            for t, lvl in b.lines
        )

    budget = {k: min(_BUDGET[k], natural(k)) for k in content_cols}
    n_gaps = len(content_cols)  # phase|first, and between content columns
    gap = _GAP_X
    fixed = 2 * _MARGIN + _BAR + len(content_cols) * 2 * _PAD + n_gaps * gap
    total = sum(budget.values())
    if width is not None and width - fixed < total:
        gap = _GAP_X_TIGHT
        fixed = 2 * _MARGIN + _BAR + len(content_cols) * 2 * _PAD + n_gaps * gap
    if width is not None:
        avail = width - fixed
        if avail < _MIN_BUDGET * len(content_cols):
            raise OptionError(
                f"A PRISMA diagram with {len(content_cols)} columns needs at least "
                f"{(fixed + _MIN_BUDGET * len(content_cols)) * 25.4:.0f} mm; got "
                f"{width * 25.4:.0f} mm"
            )
        # scale every column to the width; narrower columns wrap more
        budget = {k: v * avail / total for k, v in budget.items()}

    def wrap_box(b: _Box, bud: float) -> None:
        lines: list[str] = []
        for t, lvl in b.lines:
            lines += m.wrap(t, lvl, bud, bold=b.kind == "header", hang=b.align == "left")
        b.text = "\n".join(lines)

    for b in boxes:
        if b.kind == "box":
            wrap_box(b, budget[b.col])

    # measure the wrapped text with a real Text artist (multi-line extents)
    def measure(b: _Box, rotation: float = 0.0) -> None:
        b.text_w, b.text_h = m.extent(b.text, b.kind == "header", rotation, b.align)

    for b in boxes:
        if b.kind == "box":
            measure(b)
    colw = {
        k: max(b.text_w for b in boxes if b.col == k and b.kind == "box") + 2 * _PAD
        for k in content_cols
    }
    if width is not None:
        # stretch columns to fill the requested width exactly
        extra = width - (2 * _MARGIN + _BAR + n_gaps * gap + sum(colw.values()))
        if extra > 0:
            tot = sum(colw.values())
            colw = {k: v + extra * v / tot for k, v in colw.items()}

    # headers span their column (with the side column for main and other)
    span_w = {
        "prev": colw.get("prev", 0.0),
        "main": colw["main"] + gap + colw["side"],
        "other": colw.get("other", 0.0) + gap + colw.get("oside", 0.0),
    }
    for b in boxes:
        if b.kind == "header":
            wrap_box(b, span_w[b.col] - 2 * _PAD)
            measure(b)
        elif b.kind == "phase":
            b.text = b.lines[0][0]
            measure(b, rotation=90)

    # x positions
    x = _MARGIN
    colx: dict[str, float] = {"phase": x}
    x += _BAR + gap
    for k in content_cols:
        colx[k] = x
        x += colw[k] + gap
    total_w = x - gap + _MARGIN

    # rows: each row as tall as its tallest box; phase spans tall enough for their label
    n_rows = 6 if c.previous is not None else 5
    rowh = [0.0] * n_rows
    for b in boxes:
        if b.kind == "box":
            b.h = b.text_h + 2 * _PAD
            rowh[b.row] = max(rowh[b.row], b.h)
    for b in boxes:
        if b.kind == "phase":
            lo, hi = b.span
            have = sum(rowh[lo : hi + 1]) + (hi - lo) * _GAP_Y
            need = b.text_h + 2 * _PAD
            if need > have:
                for r in range(lo, hi + 1):
                    rowh[r] += (need - have) / (hi - lo + 1)
    header_h = max(b.text_h for b in boxes if b.kind == "header") + 2 * _PAD
    y = _MARGIN
    header_top = y
    y += header_h + _GAP_Y
    rowtop = []
    for h in rowh:
        rowtop.append(y)
        y += h + _GAP_Y
    total_h = y - _GAP_Y + _MARGIN

    for b in boxes:
        if b.kind == "box":
            b.w = colw[b.col]
            b.x = colx[b.col]
            b.y = rowtop[b.row] + (rowh[b.row] - b.h) / 2
        elif b.kind == "header":
            b.x, b.y, b.w, b.h = colx[b.col], header_top, span_w[b.col], header_h
        else:
            lo, hi = b.span
            b.x, b.w = colx["phase"], _BAR
            b.y = rowtop[lo]
            b.h = rowtop[hi] + rowh[hi] - rowtop[lo]
    return boxes, total_w, total_h, colx, rowtop


def _draw(
    fig: Figure,
    c: PrismaCounts,
    *,
    width: float | None,
    origin: tuple[float, float] | None,
    show_zero_reasons: bool,
    fontsize: float,
) -> None:
    """Lay out and draw the diagram on ``fig`` (replacing an earlier drawing)."""
    for a in getattr(fig, "_review_prisma_artists", []):
        a.remove()
    artists: list[Any] = []
    boxes, W, H, _, _ = _layout(c, fontsize, fig.dpi, width, show_zero_reasons)
    if origin is None:
        fig.set_size_inches(W, H, forward=True)
        ox, oy = 0.0, 0.0
    else:
        ox, oy = origin  # top-left of the diagram, inches from the figure's bottom-left
        oy -= H
    T: Transform = Affine2D().translate(ox, oy) + fig.dpi_scale_trans

    def Y(ytop: float) -> float:
        return H - ytop

    by = {b.key: b for b in boxes}
    for b in boxes:
        patch: Patch
        if b.kind == "box":
            patch = Rectangle(
                (b.x, Y(b.y + b.h)),
                b.w,
                b.h,
                transform=T,
                facecolor="white",
                edgecolor=_EDGE,
                lw=0.7,
                zorder=2,
            )
        else:
            fill = (
                _PHASE_FILL
                if b.kind == "phase"
                else (_HEADER_FILL if b.col == "main" else _SIDE_HEADER_FILL)
            )
            patch = FancyBboxPatch(
                (b.x, Y(b.y + b.h)),
                b.w,
                b.h,
                boxstyle="round,pad=0,rounding_size=0.05",
                transform=T,
                facecolor=fill,
                edgecolor="none",
                zorder=1,
            )
        patch.set_gid(f"prisma-box:{b.key}")
        fig.add_artist(patch)
        artists.append(patch)
        cx, cy = b.x + b.w / 2, Y(b.y + b.h / 2)
        if b.kind == "phase":
            t = fig.text(
                cx,
                cy,
                b.text,
                transform=T,
                rotation=90,
                ha="center",
                va="center",
                fontproperties=_font(fontsize),
                parse_math=False,
                zorder=3,
            )
        elif b.align == "left":
            t = fig.text(
                b.x + _PAD,
                Y(b.y + _PAD),
                b.text,
                transform=T,
                ha="left",
                va="top",
                multialignment="left",
                fontproperties=_font(fontsize),
                linespacing=1.2,
                parse_math=False,
                zorder=3,
            )
        else:
            t = fig.text(
                cx,
                cy,
                b.text,
                transform=T,
                ha="center",
                va="center",
                multialignment="center",
                fontproperties=_font(fontsize, bold=b.kind == "header"),
                linespacing=1.2,
                parse_math=False,
                zorder=3,
            )
        t.set_gid(f"prisma-text:{b.key}")
        b.artist = t
        artists.append(t)

    def arrow(p: tuple[float, float], q: tuple[float, float]) -> None:
        a = FancyArrowPatch(
            (p[0], Y(p[1])),
            (q[0], Y(q[1])),
            transform=T,
            arrowstyle="-|>",
            mutation_scale=7,
            lw=0.7,
            color=_EDGE,
            shrinkA=0,
            shrinkB=0,
            zorder=2,
        )
        fig.add_artist(a)
        artists.append(a)

    def segment(p: tuple[float, float], q: tuple[float, float]) -> None:
        ln = Line2D([p[0], q[0]], [Y(p[1]), Y(q[1])], transform=T, lw=0.7, color=_EDGE, zorder=2)
        fig.add_artist(ln)
        artists.append(ln)

    def down(a: _Box, b: _Box) -> None:
        arrow((a.x + a.w / 2, a.y + a.h), (b.x + b.w / 2, b.y))

    def right(a: _Box, b: _Box) -> None:
        yy = a.y + a.h / 2 if a.h <= b.h else b.y + b.h / 2
        arrow((a.x + a.w, yy), (b.x, yy))

    down(by["identified"], by["screened"])
    down(by["screened"], by["sought"])
    down(by["sought"], by["assessed"])
    down(by["assessed"], by["included"])
    right(by["identified"], by["removed"])
    right(by["screened"], by["excluded"])
    right(by["sought"], by["not_retrieved"])
    right(by["assessed"], by["reports_excluded"])
    if "total" in by:
        down(by["included"], by["total"])
        p, tot = by["previous"], by["total"]
        yy = tot.y + tot.h / 2
        segment((p.x + p.w / 2, p.y + p.h), (p.x + p.w / 2, yy))
        arrow((p.x + p.w / 2, yy), (tot.x, yy))
    if "other_identified" in by:
        down(by["other_identified"], by["other_sought"])
        down(by["other_sought"], by["other_assessed"])
        right(by["other_sought"], by["other_not_retrieved"])
        right(by["other_assessed"], by["other_reports_excluded"])
        oa, inc = by["other_assessed"], by["included"]
        yy = inc.y + inc.h / 2
        segment((oa.x + oa.w / 2, oa.y + oa.h), (oa.x + oa.w / 2, yy))
        arrow((oa.x + oa.w / 2, yy), (inc.x + inc.w, yy))
    fig._review_prisma_artists = artists  # type: ignore[attr-defined]
    fig._review_prisma_boxes = {b.key: b for b in boxes}  # type: ignore[attr-defined]


def prisma_diagram(
    counts: PrismaCounts,
    *,
    ax: Axes | None = None,
    width: float | None = None,
    show_zero_reasons: bool = False,
    check: bool = True,
) -> Figure:
    """Draw the PRISMA 2020 flow diagram of ``counts``.

    Parameters
    ----------
    counts : PrismaCounts
        From :func:`review.prisma.prisma_counts`. The template follows the counts: an
        "other methods" column when ``counts.other`` is set, a "previous studies" column
        with new and total included boxes when ``counts.previous`` is set.
    ax : matplotlib.axes.Axes, optional
        Draw in the area of this axes (which is switched off) on its figure, at the axes'
        width; fonts shrink if the diagram would be taller than the axes. By default a new
        figure is made, sized to the diagram.
    width : float, optional
        Width of the new figure in inches; text is wrapped (or columns widened) to fit.
        ``None`` gives the natural width. :func:`review.plots.save_figure` with
        ``width_mm`` lays the diagram out again at that width.
    show_zero_reasons : bool
        List exclusion reasons with a count of 0 too (default: only reasons used; the
        box's total is always shown).
    check : bool
        Refuse counts that do not add up (:meth:`PrismaCounts.check`) before drawing.

    Returns
    -------
    matplotlib.figure.Figure
        Each box's text is one ``Text`` of ``fig.texts`` (gid ``prisma-text:<box>``), each
        box one patch (gid ``prisma-box:<box>``).

    Raises
    ------
    PrismaInconsistency
        When ``check`` and the counts do not add up.
    OptionError
        A width too narrow for the diagram's columns.

    References
    ----------
    .. [1] Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated
       guideline for reporting systematic reviews. BMJ 2021;372:n71 (Fig. 1, flow diagram
       templates).

    Examples
    --------
    >>> from review.prisma import PrismaCounts
    >>> c = PrismaCounts(
    ...     databases=(("PubMed", 10),),
    ...     records_screened=10,
    ...     records_excluded=6,
    ...     reports_sought=4,
    ...     reports_assessed=4,
    ...     reports_excluded=(("x", "No outcome data", 1),),
    ...     reports_included=3,
    ...     new_studies=3,
    ...     new_reports=3,
    ...     total_studies=3,
    ...     total_reports=3,
    ... )
    >>> fig = prisma_diagram(c)
    >>> [t.get_text().splitlines() for t in fig.texts if t.get_gid() == "prisma-text:screened"]
    [['Records screened', '(n = 10)']]
    """
    if not isinstance(counts, PrismaCounts):
        raise OptionError(f"counts: expected PrismaCounts, got {type(counts).__name__}")
    if check:
        counts.check()
    if width is not None and not width > 0:
        raise OptionError(f"width must be positive, got {width}")
    with style():
        fontsize = float(RC["font.size"])
        if ax is None:
            fig = ReviewFigure()
            draw: Callable[[float | None], None] = lambda w: _draw(  # noqa: E731
                fig,
                counts,
                width=w,
                origin=None,
                show_zero_reasons=show_zero_reasons,
                fontsize=fontsize,
            )
            draw(width)
            fig._review_relayout = draw  # type: ignore[attr-defined]
            return fig
        fig = ax.get_figure()  # type: ignore[assignment]
        ax.set_axis_off()
        fw, fh = fig.get_size_inches()
        pos = ax.get_position()
        aw, ah = pos.width * fw, pos.height * fh
        origin = (pos.x0 * fw, pos.y1 * fh)
        size = fontsize
        for _ in range(6):
            _draw(
                fig,
                counts,
                width=aw,
                origin=origin,
                show_zero_reasons=show_zero_reasons,
                fontsize=size,
            )
            H = _layout(counts, size, fig.dpi, aw, show_zero_reasons)[2]
            if H <= ah * 1.0001:
                break
            size *= max(0.5, ah / H)
        return fig
