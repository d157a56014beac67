"""The one figure style of the toolkit (forest, funnel, PRISMA diagram).

Sans-serif text that stays readable at a journal's column width, the Okabe-Ito palette
(safe for the common colour-vision deficiencies), and vector output with text kept as
text (``svg.fonttype = 'none'``, TrueType ``pdf.fonttype = 42``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl

__all__ = ["OKABE_ITO", "RC", "style"]

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


RC: dict[str, Any] = {
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
    "axes.prop_cycle": mpl.cycler(
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
