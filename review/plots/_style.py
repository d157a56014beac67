"""The one figure style of the toolkit (forest, funnel, PRISMA diagram).

Sans-serif text that stays readable at a journal's column width, the Okabe-Ito palette
(safe for the common colour-vision deficiencies), and vector output with text kept as
text (``svg.fonttype = 'none'``, TrueType ``pdf.fonttype = 42``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.rcsetup import cycler

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = ["OKABE_ITO", "RC", "ReviewFigure", "risk_of_bias_colours", "style"]

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#7F7F7F",
}


def risk_of_bias_colours(n: int) -> list[str]:
    """Colours of ``n`` ordered levels of concern, least first (Okabe-Ito, never red/green).

    Bluish green for the least concern, vermillion for the most, yellow and orange between,
    reddish purple for a fifth level. The plots always add a symbol per level as a second
    cue, so no judgement rests on colour alone.
    """
    ramps = {
        1: ["green"],
        2: ["green", "vermillion"],
        3: ["green", "orange", "vermillion"],
        4: ["green", "yellow", "orange", "vermillion"],
        5: ["green", "yellow", "orange", "vermillion", "purple"],
    }
    if n not in ramps:
        from review.errors import OptionError

        raise OptionError(f"risk-of-bias plots draw 1 to 5 levels of concern, not {n}")
    return [OKABE_ITO[c] for c in ramps[n]]


#: Preferred sans-serif faces, journal fonts first (Liberation Sans has Arial's metrics).
SANS_SERIF = ["Arial", "Helvetica", "Liberation Sans", "DejaVu Sans"]


def _installed(families: list[str]) -> list[str]:
    # Only fonts that exist: matplotlib logs a "findfont" warning for every missing family
    # in the list each time text is drawn. DejaVu Sans ships with matplotlib, so the list is
    # never empty.
    from matplotlib import font_manager

    have = {f.name for f in font_manager.fontManager.ttflist}
    found = [f for f in families if f in have]
    return found or ["DejaVu Sans"]


RC: dict[RcKeyType, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": _installed(SANS_SERIF),
    "font.size": 8.0,
    "axes.titlesize": 9.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(
        color=[
            OKABE_ITO[c] for c in ("blue", "vermillion", "green", "orange", "purple", "sky_blue")
        ]
    ),
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "savefig.dpi": 300,
    "figure.dpi": 100,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
}


@contextmanager
def style() -> Iterator[None]:
    """Apply the toolkit's style inside a ``with`` block."""
    with mpl.rc_context(RC):
        yield


class ReviewFigure(Figure):
    """A matplotlib figure that shows itself in Jupyter without pyplot.

    The figures of :mod:`review.plots` are made without pyplot (no global state, no
    figure left open), so they display through ``_repr_png_`` at their own size.
    """

    def _repr_png_(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=120, bbox_inches=None, facecolor="white")
        return buf.getvalue()
