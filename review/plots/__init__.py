"""Publication figures: forest and funnel plots, the PRISMA diagram, risk of bias, export.

Every figure uses the one style of :mod:`review.plots._style` (a sans-serif font, sizes that
survive a journal's column width, the Okabe-Ito palette) and is written in one call by
:func:`save_figure` as vector PDF and SVG (text kept as text) and a 300 dpi PNG.
:func:`save_analysis_figures` and :func:`save_sensitivity_figures` draw and save the figures
of every analysis a protocol declares.
"""

from __future__ import annotations

from review.plots.analyses import FigureSet, save_analysis_figures, save_sensitivity_figures
from review.plots.export import COLUMN_MM, PAGE_MM, save_figure
from review.plots.forest import (
    forest,
    forest_cumulative,
    forest_leave_one_out,
    method_sensitivity_plot,
    robustness_plot,
)
from review.plots.funnel import funnel
from review.plots.prisma_diagram import prisma_diagram
from review.plots.risk_of_bias import rob_summary, traffic_light
from review.plots.summary_of_findings import sof_table

__all__ = [
    "COLUMN_MM",
    "PAGE_MM",
    "FigureSet",
    "forest",
    "forest_cumulative",
    "forest_leave_one_out",
    "funnel",
    "method_sensitivity_plot",
    "prisma_diagram",
    "rob_summary",
    "robustness_plot",
    "save_analysis_figures",
    "save_figure",
    "save_sensitivity_figures",
    "sof_table",
    "traffic_light",
]
