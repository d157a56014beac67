"""Text measuring and wrapping for figures laid out in physical units (inches).

The forest and funnel plots are laid out before anything is drawn: every cell's text is
measured with the Agg renderer's font metrics (the widest of 100, 300 and 720 dpi), columns
get the width of their widest cell, long labels are wrapped to a width in inches, and the
figure's height is the sum of its rows. The same metrics are used when the figure is
rendered, so measured and drawn extents agree. :func:`inch_canvas` gives the table-like
figures (risk of bias, summary of findings) their one axes in inches, title drawn.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from review.plots._style import RC

POINTS_PER_INCH = 72.0
# Widths are measured at the resolutions a figure is drawn at and the largest is kept:
# 720 dpi gives the unhinted advance widths that the vector backends (PDF, SVG) use, while
# hinting makes small text up to ~4% wider on a 100 dpi screen (Jupyter) and ~1% at 300 dpi.
_MEASURE_DPIS = (100.0, 300.0, 720.0)

FontStyle = Literal["normal", "italic", "oblique"]  # what FontProperties accepts


@lru_cache(maxsize=4)
def _renderer(dpi: float) -> RendererAgg:
    return RendererAgg(10, 10, dpi)  # type: ignore[no-untyped-call]


@lru_cache(maxsize=64)
def font(
    size: float | None = None, weight: str = "normal", style: FontStyle = "normal"
) -> FontProperties:
    """The toolkit's sans-serif font at ``size`` points (default: the style's font size)."""
    return FontProperties(
        family=RC["font.sans-serif"],
        size=float(size if size is not None else RC["font.size"]),
        weight=weight,
        style=style,
    )


@lru_cache(maxsize=20000)
def _measure(s: str, size: float, weight: str, style: FontStyle) -> tuple[float, float, float]:
    fp = font(size, weight, style)
    best = (0.0, 0.0, 0.0)
    for dpi in _MEASURE_DPIS:
        w, h, d = _renderer(dpi).get_text_width_height_descent(s, fp, ismath=False)  # type: ignore[no-untyped-call]
        best = max(best, (w / dpi, h / dpi, d / dpi))
    return best


def text_width(
    s: str, size: float | None = None, weight: str = "normal", style: FontStyle = "normal"
) -> float:
    """Width of the one-line string ``s`` in inches (0 for an empty string)."""
    if not s:
        return 0.0
    size = float(size if size is not None else RC["font.size"])
    return max(_measure(line, size, weight, style)[0] for line in s.split("\n"))


def line_height(size: float | None = None, spacing: float = 1.2) -> float:
    """Baseline-to-baseline distance in inches for text at ``size`` points."""
    size = float(size if size is not None else RC["font.size"])
    return spacing * size / POINTS_PER_INCH


def wrap(
    s: str,
    width_in: float,
    size: float | None = None,
    weight: str = "normal",
    style: FontStyle = "normal",
) -> list[str]:
    """Break ``s`` into lines no wider than ``width_in`` inches.

    Breaks at plain spaces (not at no-break spaces) and after a hyphen or slash between a
    letter and a lower-case letter ("long-|term", "and/|or"; "SARS-CoV-2", "COVID-19" and
    "-0.5" stay whole). A statistic and its value ("p = .0008", "k = 6 < 10") and a
    citation ("Sterne et al. 2011") stay on one line unless they alone are wider than
    it. A single word wider than the width is cut between characters so that no line
    ever overflows. Explicit newlines are kept. A paragraph does not end on an orphan (a last
    line of one short word, such as the "B)" of "... hepatitis B)"): the previous line's last
    word moves down to it when both still fit.
    """
    out: list[str] = []
    for para in str(s).split("\n"):
        # (separator before the token, token): " " between units, "" after a hyphen break
        tokens: list[tuple[str, str]] = []
        for unit in _units(para):
            parts = [unit] if " " in unit else _HYPHEN_BREAK.split(unit)
            tokens.append((" ", parts[0]))
            tokens.extend(("", part) for part in parts[1:])
        tokens.reverse()  # a stack: a unit too wide for a line goes back as its words
        lines: list[str] = []
        at_space = False  # whether the paragraph's last line began after a space
        line, last_at = "", 0  # the line so far, and where its last unit starts
        while tokens:
            sep, tok = tokens.pop()
            trial = line + sep + tok if line else tok
            if text_width(trial, size, weight, style) <= width_in:
                if sep == " " or not line:
                    last_at = len(line) + len(sep) if line else 0
                line = trial
                continue
            if " " in tok and text_width(tok, size, weight, style) > width_in:
                words = tok.split(" ")  # a kept-together unit wider than a whole line
                tokens.extend((" ", w) for w in reversed(words[1:]))
                tokens.append((sep, words[0]))
                continue
            if line:
                lines.append(line)
            at_space = bool(line) and sep == " "
            prev_at = last_at
            # a token wider than the column is cut where it no longer fits
            while text_width(tok, size, weight, style) > width_in and len(tok) > 1:
                cut = len(tok) - 1
                while cut > 1 and text_width(tok[:cut], size, weight, style) > width_in:
                    cut -= 1
                lines.append(tok[:cut])
                tok = tok[cut:]
                at_space = False
            line, last_at = tok, 0
        lines.append(line)
        if len(lines) >= 2 and at_space:
            lines[-2:] = _no_orphan(lines[-2], prev_at, line, width_in, size, weight, style)
        out.extend(lines)
    return out


#: Where a word may break after a hyphen or slash (the next character is lower case).
_HYPHEN_BREAK = re.compile(r"(?<=[A-Za-z][-/])(?=[a-z])")
_RELATIONS = frozenset({"=", "<", ">", "≤", "≥", "≈", "<=", ">="})
_YEAR = re.compile(r"\(?\d{4}[a-z]?\b")


def _units(para: str) -> list[str]:
    """Words of ``para`` (split at plain spaces); "x = y" and "Name et al. 2011" joined."""
    words = [w for w in para.split(" ") if w]
    units: list[str] = []
    i = 0
    while i < len(words):
        j = i + 1
        # a chain of relations: "k = 6 < 10"
        while j + 1 < len(words) and words[j] in _RELATIONS:
            j += 2
        # a citation: "(Sterne et al. 2011)."
        if j == i + 1 and words[i + 1 : i + 3] == ["et", "al."] and i + 3 < len(words):
            if _YEAR.match(words[i + 3]):
                j = i + 4
        units.append(" ".join(words[i:j]))
        i = j
    return units


def _no_orphan(
    prev: str,
    prev_at: int,
    last: str,
    width_in: float,
    size: float | None,
    weight: str,
    style: FontStyle,
) -> list[str]:
    """``[prev, last]``, or with ``prev``'s last unit moved down when ``last`` is an orphan.

    ``last`` follows ``prev`` after a space; ``prev``'s last unit (word, or words kept
    together) starts at ``prev_at``. An orphan is a single word of at most three
    characters; the unit moves only when ``prev`` keeps something and the new last line
    fits ``width_in``.
    """
    if " " in last or len(last) > 3 or prev_at <= 0:
        return [prev, last]
    head, unit = prev[:prev_at].rstrip(" "), prev[prev_at:]
    moved = f"{unit} {last}"
    if head and text_width(moved, size, weight, style) <= width_in:
        return [head, moved]
    return [prev, last]


def widest(strings: list[str], size: float | None = None, weight: str = "normal") -> float:
    """Width in inches of the widest of ``strings`` (0 for none)."""
    return max((text_width(s, size, weight) for s in strings), default=0.0)


def inch_canvas(
    fig: Figure, width: float, height: float, title: str | None, title_h: float, pad: float
) -> tuple[Axes, float]:
    """Size ``fig`` to ``width`` x ``height`` inches and cover it with one axes in inches.

    The axes runs from 0 to ``width`` and from 0 at the top to ``height`` at the bottom, with
    no frame. ``title`` (when given) is drawn bold at (``pad``, ``pad``). Returns the axes and
    the y below the title: ``pad + title_h``, or ``pad`` without a title.
    """
    fig.set_size_inches(width, height, forward=True)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    y = pad
    if title:
        ax.text(
            pad,
            y,
            title,
            fontproperties=font(RC["axes.titlesize"], "bold"),
            va="top",
            ha="left",
            gid="title",
        )
        y += title_h
    return ax, y
