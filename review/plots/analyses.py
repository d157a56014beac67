"""The figures of every declared analysis, drawn and saved in one call.

:func:`save_analysis_figures` draws one forest plot an analysis (``forest_<code>``) and one
a subgroup analysis (``forest_<code>_by_<covariate>``); :func:`save_sensitivity_figures`
the method-sensitivity plot (``method_sensitivity_<code>``), the leave-one-out forest
(``forest_leave_one_out_<code>``), the robustness plot (``robustness_<code>``: the estimate
under each declared exclusion set and alternative analysis) and the funnel plot
(``funnel_<code>``) of the analyses that declare them. Titles come from the protocol's
labels (``display.title``, else the analysis label; the covariate's label for subgroups);
the other ``display`` options are passed to :func:`review.plots.forest`. Each figure is
written by
:func:`review.plots.save_figure` (PDF, SVG, 300 dpi PNG).
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd
from matplotlib.figure import Figure

from review.analysis import AnalysisResult, AnalysisSet, SensitivitySet
from review.plots.export import PAGE_MM, save_figure
from review.plots.forest import (
    forest,
    forest_leave_one_out,
    method_sensitivity_plot,
    robustness_plot,
)
from review.plots.funnel import funnel

__all__ = [
    "FigureSet",
    "analysis_figures",
    "save_analysis_figures",
    "save_sensitivity_figures",
    "sensitivity_figures",
]


@dataclass(frozen=True, slots=True, eq=False)
class FigureSet:
    """Figures drawn from the declared analyses, and where they were written.

    Attributes
    ----------
    figures : Mapping[str, Figure]
        File stem -> figure, in drawing order.
    paths : Mapping[str, tuple of Path]
        File stem -> the files written (empty before saving).
    notes : tuple of str
        Figures that could not be drawn, and why.
    """

    figures: Mapping[str, Figure]
    paths: Mapping[str, tuple[Path, ...]]
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.figures)

    def to_frame(self) -> pd.DataFrame:
        """One row a figure: ``name, files``."""
        return pd.DataFrame(
            {
                "name": list(self.figures),
                "files": [", ".join(p.name for p in self.paths.get(n, ())) for n in self.figures],
            }
        )

    def summary(self) -> str:
        """The figures and their files."""
        lines = [f"{len(self.figures)} figure(s)"]
        lines += [
            f"  {n}: {', '.join(str(p) for p in self.paths.get(n, ()))}" for n in self.figures
        ]
        return "\n".join(lines + [f"Note: {n}" for n in self.notes])

    def _repr_html_(self) -> str:
        out = []
        for name, fig in self.figures.items():
            data, width = _png(fig, self.paths.get(name, ()))
            png = base64.b64encode(data).decode("ascii")
            out.append(
                f"<p><b>{html.escape(name)}</b></p>"
                f"<img src='data:image/png;base64,{png}' width='{width}' "
                f"alt='{html.escape(name)}'/>"
            )
        out += [f"<p>{html.escape(n)}</p>" for n in self.notes]
        return "<div>" + "".join(out) + "</div>" if out else "<p>No figures.</p>"

    def _ipython_display_(self) -> None:
        """In Jupyter: each figure as its own PNG output (the PNG already written), named."""
        import importlib

        ipd: Any = importlib.import_module("IPython.display")  # untyped; Jupyter only

        for name, fig in self.figures.items():
            data, width = _png(fig, self.paths.get(name, ()))
            ipd.display(ipd.HTML(f"<p><b>{html.escape(name)}</b></p>"))
            ipd.display(ipd.Image(data=data, format="png", width=width))
        for note in self.notes:
            ipd.display(ipd.HTML(f"<p>{html.escape(note)}</p>"))
        if not self.figures and not self.notes:
            ipd.display(ipd.HTML("<p>No figures.</p>"))

    def __repr__(self) -> str:
        return f"<FigureSet: {', '.join(self.figures) or 'none'}>"


def _png(fig: Figure, paths: Sequence[Path]) -> tuple[bytes, int]:
    """PNG bytes to show and the width to show them at (as the figure's own 120 dpi repr).

    The PNG already written is reused (drawing a figure again costs as much as saving it).
    """
    for p in paths:
        if p.suffix == ".png" and p.is_file():
            return p.read_bytes(), round(fig.get_size_inches()[0] * 120)
    data = fig._repr_png_()  # type: ignore[attr-defined]  # ReviewFigure
    return data, round(fig.get_size_inches()[0] * 120)


def _forest_options(r: AnalysisResult) -> dict[str, Any]:
    opts = {k: v for k, v in r.analysis.display.items() if k != "title"}
    if "xlim" in opts:
        opts["xlim"] = tuple(opts["xlim"])
    return opts


def analysis_figures(results: AnalysisSet) -> tuple[dict[str, tuple[Figure, float]], list[str]]:
    """Draw the forest plots of every analysis and subgroup analysis (not saved).

    Returns
    -------
    figures : dict
        File stem -> (figure, width in mm).
    notes : list of str
        Analyses without a figure, and why.
    """
    out: dict[str, tuple[Figure, float]] = {}
    notes: list[str] = []
    for r in results:
        code = r.analysis.code
        if r.pooled is None:
            notes.append(f"forest_{code}: not drawn (not pooled: {r.status})")
            continue
        opts = _forest_options(r)
        out[f"forest_{code}"] = (forest(r.pooled, title=r.analysis.title, **opts), PAGE_MM)
        for cov, sub in r.subgroups.items():
            label = results.protocol.covariates[cov].label
            prefix = f"subgroups by {cov}: "
            left = [n.removeprefix(prefix) for n in r.notes if n.startswith(prefix)]
            fig = forest(
                sub,
                title=f"{r.analysis.title} by {label}",
                notes=[f"Not in the subgroups: {'; '.join(left)}."] if left else (),
                **opts,
            )
            out[f"forest_{code}_by_{cov}"] = (fig, PAGE_MM)
    return out, notes


def sensitivity_figures(
    sensitivity: SensitivitySet,
) -> tuple[dict[str, tuple[Figure, float]], list[str]]:
    """Draw the method-sensitivity, leave-one-out and funnel plots declared (not saved).

    Returns
    -------
    figures : dict
        File stem -> (figure, width in mm).
    notes : list of str
    """
    out: dict[str, tuple[Figure, float]] = {}
    notes: list[str] = []
    for code, s in sensitivity.results.items():
        a = s.result.analysis
        scale = a.display.get("scale")
        xscale = a.display.get("xscale", "linear")
        if s.methods is not None:
            fig = method_sensitivity_plot(
                s.methods, title=f"{a.title}: pooled estimate by method", scale=scale, xscale=xscale
            )
            out[f"method_sensitivity_{code}"] = (fig, PAGE_MM)
        if s.leave_one_out is not None:
            fig = forest_leave_one_out(
                s.leave_one_out,
                title=f"{a.title}: leaving out one study at a time",
                scale=scale,
                xscale=xscale,
            )
            out[f"forest_leave_one_out_{code}"] = (fig, PAGE_MM)
        if len(s.robustness) > 1:
            fig = robustness_plot(
                s, title=f"{a.title}: each declared choice", scale=scale, xscale=xscale
            )
            out[f"robustness_{code}"] = (fig, PAGE_MM)
        if s.small_study is not None and s.funnel_fit is not None:
            test: Literal["egger", "peters"] = (
                "peters" if s.small_study.predictor == "ninv" else "egger"
            )
            fig = funnel(s.funnel_fit, test=test, regtest=s.small_study)
            out[f"funnel_{code}"] = (fig, PAGE_MM / 2)
    return out, notes


def _save(
    drawn: dict[str, tuple[Figure, float]],
    notes: list[str],
    folder: str | os.PathLike[str],
    formats: Sequence[str],
) -> FigureSet:
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    paths = {
        name: tuple(save_figure(fig, root / name, formats=formats, width_mm=width))
        for name, (fig, width) in drawn.items()
    }
    return FigureSet(
        figures=MappingProxyType({n: f for n, (f, _) in drawn.items()}),
        paths=MappingProxyType(paths),
        notes=tuple(notes),
    )


def save_analysis_figures(
    results: AnalysisSet,
    folder: str | os.PathLike[str],
    *,
    formats: Sequence[str] = ("pdf", "svg", "png"),
) -> FigureSet:
    """Draw and save the forest plots of every declared analysis and subgroup analysis.

    Parameters
    ----------
    results : AnalysisSet
        From :func:`review.analysis.run_analyses`.
    folder : path-like
        Where the files go (``forest_<code>.pdf`` ...).
    formats : sequence of str
        As :func:`review.plots.save_figure`.

    Returns
    -------
    FigureSet
    """
    drawn, notes = analysis_figures(results)
    return _save(drawn, notes, folder, formats)


def save_sensitivity_figures(
    sensitivity: SensitivitySet,
    folder: str | os.PathLike[str],
    *,
    formats: Sequence[str] = ("pdf", "svg", "png"),
) -> FigureSet:
    """Draw and save the method-sensitivity, leave-one-out and funnel plots declared.

    Parameters
    ----------
    sensitivity : SensitivitySet
        From :func:`review.analysis.run_sensitivity`.
    folder : path-like
    formats : sequence of str

    Returns
    -------
    FigureSet
    """
    drawn, notes = sensitivity_figures(sensitivity)
    return _save(drawn, notes, folder, formats)
