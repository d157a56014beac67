"""Funnel plots with a regression test for small-study effects printed on the figure.

For a proportion the standard error of a logit (or arcsine) estimate depends on the
proportion itself, so Egger's test on the SE is distorted (Hunter et al. 2014); the funnel
is then better drawn against ``1/sqrt(n)`` with Peters' test (predictor ``1/n``), and read
as exploratory. Both layouts are offered; the pseudo-confidence region is centred on the
pooled model-scale estimate, and the test result (from :func:`review.meta.regtest`) is
printed under the axes with the caution of Sterne et al. (2011) when k < 10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats

from review._format import fmt_p, fmt_x
from review.errors import ConvergenceError, OptionError
from review.plots import _layout as L
from review.plots._style import OKABE_ITO, RC, ReviewFigure, style

__all__ = ["funnel", "regtest_text"]

_SHADES = ("#EDEDED", "#D9D9D9", "#C4C4C4")  # in the order of `levels`; drawn widest first
_TEST_NAMES = {
    "sei": "Egger's test",
    "ninv": "Peters' test",
    "vi": "Regression test (vi)",
    "sqrtninv": "Regression test (1/√n)",
    "ni": "Regression test (n)",
    "sqrtni": "Regression test (√n)",
}
_PREDICTOR = {
    "sei": "SE",
    "ninv": "1/n",
    "vi": "variance",
    "sqrtninv": "1/√n",
    "ni": "n",
    "sqrtni": "√n",
}


def regtest_text(rt: Any) -> str:
    """``Peters' test (predictor 1/n; mixed-effects meta-regression): z = -1.23, p = .2180``."""
    name = _TEST_NAMES.get(rt.predictor, f"Regression test ({rt.predictor})")
    model = (
        "mixed-effects meta-regression"
        if rt.model == "rma"
        else "weighted regression, multiplicative dispersion"
    )
    stat = "t" if rt.df is not None else "z"
    dfs = f" (df = {rt.df:g})" if rt.df is not None else ""
    p = fmt_p(rt.pval)
    p = f"p < {p[1:]}" if p.startswith("<") else f"p = {p}"
    pred = _PREDICTOR.get(rt.predictor, rt.predictor)
    nb = "\u00a0"  # no-break spaces keep "t (df = 10) = -0.09" and "p = .93" whole
    value = f"{stat}{dfs} = {fmt_x(rt.zval, 2)}".replace(" ", nb)
    return f"{name} (predictor {pred}; {model}): {value}, {p.replace(' ', nb)}"


def _n_scale_factor(res: Any) -> float:
    """``c`` with ``SE(yi) ≈ c / sqrt(n)`` at the pooled proportion (delta method)."""
    p = float(res.estimate)
    p = min(max(p, 1e-9), 1 - 1e-9)
    m = res.measure
    if m == "PLO":
        return 1.0 / math.sqrt(p * (1 - p))
    if m in ("PAS", "PFT"):
        return 0.5
    if m == "PR":
        return math.sqrt(p * (1 - p))
    raise OptionError(f"A 1/sqrt(n) funnel needs a proportion measure, not {m!r}")


def funnel(
    res: Any,
    *,
    test: Literal["egger", "peters"] | None = None,
    regtest: Any | None = None,
    trimfill: Any | None = None,
    ax: Axes | None = None,
    levels: tuple[float, ...] = (0.90, 0.95, 0.99),
    width: float = 3.35,
    height: float = 2.8,
    title: str | None = None,
) -> Figure:
    """Funnel plot of a pooled result, with a regression test for asymmetry printed.

    Parameters
    ----------
    res : PoolResult
        From :func:`review.meta.pool_proportions` or :func:`review.meta.pool_rates`.
    test : {"egger", "peters"}, optional
        ``"egger"``: model-scale estimate against its standard error, Egger's test
        (``regtest`` predictor ``"sei"``). ``"peters"`` (proportions only): estimate
        against ``1/sqrt(n)``, Peters' test (predictor ``"ninv"``). Default: ``"peters"``
        for proportions, as the methods guidance recommends, ``"egger"`` for rates.
    regtest : RegtestResult, optional
        A test already computed; by default :func:`review.meta.regtest` is called with the
        predictor that matches ``test`` (for a GLMM fit, on its inverse-variance REML
        refit, as metafor has no ``regtest`` for ``rma.glmm``; the figure says so).
    trimfill : TrimfillResult, optional
        A :func:`review.meta.trimfill` result of ``res``: its imputed studies are drawn
        as filled blue points and its adjusted estimate as a dashed line, with the
        caveat that they are imputed, not observed (Duval & Tweedie 2000; Sterne et al.
        2011).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (the test is then printed as its title block).
    levels : tuple of float
        Pseudo-confidence regions drawn around the pooled estimate, lightest widest.
    width, height : float
        Size of a new figure in inches (default: one journal column, 85 mm) before the
        text lines under the axes are added.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    OptionError
        An unknown ``test``, ``"peters"`` for a rate, or a regtest result whose predictor
        does not match the test.
    ConvergenceError
        The fit did not converge (there is no pooled estimate to draw the funnel around).

    Notes
    -----
    The pseudo-confidence region for ``test="peters"`` uses the delta-method standard
    error of the model-scale estimate at the pooled proportion ``p``: ``1/sqrt(n p (1-p))``
    for PLO, ``1/(2 sqrt(n))`` for PAS and PFT, ``sqrt(p (1-p) / n)`` for PR.
    Studies with a continuity correction are drawn as open triangles.

    References
    ----------
    Egger M, Davey Smith G, Schneider M, Minder C. Bias in meta-analysis detected by a
    simple, graphical test. *BMJ* 1997;315:629-34. Peters JL, Sutton AJ, Jones DR, Abrams
    KR, Rushton L. Comparison of two methods to detect publication bias in meta-analysis.
    *JAMA* 2006;295:676-80. Sterne JAC et al. Recommendations for examining and
    interpreting funnel plot asymmetry in meta-analyses of randomised controlled trials.
    *BMJ* 2011;343:d4002. Hunter JP et al. In meta-analyses of proportion studies, funnel
    plots were found to be an inaccurate method of assessing publication bias. *J Clin
    Epidemiol* 2014;67:897-903.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions
    >>> df = pd.DataFrame({"events": [2, 5, 1, 8, 4, 9], "n": [40, 60, 35, 90, 50, 200]})
    >>> res = pool_proportions(df, measure="PLO", method="REML")
    >>> fig = funnel(res, test="egger")
    >>> text = [t.get_text() for t in fig.texts if t.get_gid() == "funnel-test"][0]
    >>> text.startswith("Egger's test (predictor SE")
    True
    """
    from review.meta._vocab import MEASURES
    from review.meta.results import PoolResult

    if not isinstance(res, PoolResult):
        raise OptionError(f"funnel() takes a PoolResult, got {type(res).__name__}")
    rate = getattr(res, "kind", "proportion") == "rate"
    if not res.converged:
        raise ConvergenceError(
            "the fit did not converge: a funnel plot is drawn around the pooled estimate, "
            "and the last iterate is not one; refit (e.g. another method) first"
        )
    if test is None:
        test = "egger" if rate else "peters"
    if test not in ("egger", "peters"):
        raise OptionError(f"Invalid test {test!r}; must be one of ['egger', 'peters']")
    if test == "peters" and rate:
        raise OptionError("test='peters' needs sample sizes (proportions); use 'egger' for rates")
    predictor: Literal["sei", "ninv"] = "sei" if test == "egger" else "ninv"
    note_refit = None
    if regtest is None:
        from review.meta import refit
        from review.meta import regtest as _regtest

        target = res
        if res.method == "GLMM":
            # metafor has no regtest for rma.glmm: test the inverse-variance REML fit of the
            # same measure (the studies' plotted yi and vi), and say so on the figure
            target = refit(res, method="REML")
            note_refit = (
                "A GLMM has no regression test: the test is on the inverse-variance "
                f"{res.measure} fit (REML) of the same studies."
            )
        regtest = _regtest(target, predictor=predictor)
    if regtest.predictor != predictor:
        raise OptionError(
            f"test={test!r} draws against the predictor {predictor!r}, but the "
            f"regtest result used {regtest.predictor!r}"
        )

    st = res.studies
    yi = st["yi"].to_numpy(float)
    if test == "egger":
        yv = np.sqrt(st["vi"].to_numpy(float))
        ylabel = "Standard error"
        c = 1.0
    else:
        yv = 1.0 / np.sqrt(st["n"].to_numpy(float))
        ylabel = "1/√n"
        c = _n_scale_factor(res)
    mu = float(res.link.estimate)
    corrected = st["corrected"].to_numpy(bool) if "corrected" in st else np.zeros(len(st), bool)
    fill_y = fill_v = np.zeros(0)
    mu_adj: float | None = None
    if trimfill is not None:
        from review.meta.bias import TrimfillResult

        if not isinstance(trimfill, TrimfillResult) or trimfill.base is not res:
            raise OptionError("trimfill= takes the review.meta.trimfill() result of this res")
        f = trimfill.filled
        fill_y = f["yi"].to_numpy(float)
        if test == "egger":
            fill_v = np.sqrt(f["vi"].to_numpy(float))
        else:
            fill_v = 1.0 / np.sqrt(f["n"].to_numpy(float))
        mu_adj = float(trimfill.link_estimate)

    lines = [regtest_text(regtest)]
    if note_refit:
        lines.append(note_refit)
    if regtest.k < 10:
        lines.append(
            f"Exploratory: k = {regtest.k} < 10 studies; asymmetry tests have low power "
            "(Sterne et al. 2011)."
        )
    shades = ", ".join(f"{100 * lv:g}%" for lv in sorted(levels))
    legend = (
        f"Shaded: pseudo-confidence regions ({shades}, darker = wider) around the pooled "
        "estimate (vertical line)."
    )
    if corrected.any():
        legend += " Triangles: studies with a zero-cell continuity correction."
    lines.append(legend)
    if trimfill is not None:
        side = trimfill.side
        lines.append(
            f"Trim-and-fill ({trimfill.estimator}): {trimfill.k0} "
            f"stud{'y' if trimfill.k0 == 1 else 'ies'} imputed on the {side} side (filled "
            "blue points), adjusted estimate dashed. Imputed, not observed; a sensitivity "
            "analysis, unreliable with heterogeneity (Terrin et al. 2003; Peters et al. 2007; "
            "Sterne et al. 2011)."
        )
    if not rate:
        lines.append(
            "For proportions the funnel shape depends on p; read as exploratory "
            "(Hunter et al. 2014)."
        )
    m = MEASURES[res.measure]
    xlabel = f"{m.long_name[0].upper()}{m.long_name[1:]} ({res.measure})"

    args = _FunnelData(
        yi,
        yv,
        corrected,
        mu,
        c,
        lines,
        xlabel,
        ylabel,
        tuple(levels),
        title,
        height,
        fill_y,
        fill_v,
        mu_adj,
    )
    with style():
        if ax is None:
            fig = ReviewFigure()
            _draw(fig, None, args, width)
            fig._review_relayout = lambda w: _draw(fig, None, args, w)  # type: ignore[attr-defined]
        else:
            fig = ax.get_figure()  # type: ignore[assignment]
            _draw(fig, ax, args, width)
    return fig


@dataclass(frozen=True)
class _FunnelData:
    yi: np.ndarray
    yv: np.ndarray
    corrected: np.ndarray
    mu: float
    c: float
    lines: list[str]
    xlabel: str
    ylabel: str
    levels: tuple[float, ...]
    title: str | None
    height: float
    fill_y: np.ndarray
    fill_v: np.ndarray
    mu_adj: float | None


def _draw(fig: Figure, ax: Axes | None, d: _FunnelData, width: float) -> None:
    yi, yv, corrected, mu, c, levels = d.yi, d.yv, d.corrected, d.mu, d.c, d.levels
    foot_size = 6.5
    lh = L.line_height(foot_size, 1.18)
    own_figure = ax is None
    if ax is None:
        fig.clear()
        wrapped = [w for ln in d.lines for w in L.wrap(ln, width - 0.12, foot_size)]
        text_h = len(wrapped) * lh + 0.08
        title_h = 0.25 if d.title else 0.0
        H = d.height + text_h + title_h
        fig.set_size_inches(width, H, forward=True)
        left, right, top, bottom = 0.5, 0.1, 0.1 + title_h, 0.42 + text_h
        if width - left - right < 1.0:
            raise OptionError(f"A width of {width * 25.4:.0f} mm is too narrow for a funnel plot")
        ax = fig.add_axes(
            (left / width, bottom / H, (width - left - right) / width, (H - top - bottom) / H)
        )
        fig.text(
            0.06 / width,
            (text_h - 0.02) / H,
            "\n".join(wrapped),
            fontproperties=L.font(foot_size),
            va="top",
            ha="left",
            gid="funnel-test",
            linespacing=1.18,
        )
        if d.title:
            fig.text(
                0.06 / width,
                1 - 0.06 / H,
                d.title,
                fontproperties=L.font(RC["axes.titlesize"], "bold"),
                va="top",
                ha="left",
                gid="title",
            )
    else:
        ax.set_title(
            "\n".join(d.lines), fontproperties=L.font(foot_size), loc="left", gid="funnel-test"
        )
    allv = np.concatenate([yv, d.fill_v])
    ymax = float(np.nanmax(allv)) * 1.08 if len(allv) else 1.0
    ygrid = np.linspace(0, ymax, 100)
    for lev, shade in sorted(zip(levels, _SHADES[: len(levels)]), reverse=True):
        z = stats.norm.ppf(0.5 + lev / 2)
        ax.fill_betweenx(ygrid, mu - z * c * ygrid, mu + z * c * ygrid, color=shade, lw=0, zorder=0)
    ax.axvline(mu, color="black", lw=0.6, zorder=1)
    ax.scatter(
        yi[~corrected],
        yv[~corrected],
        s=14,
        facecolors="white",
        edgecolors="black",
        linewidths=0.7,
        zorder=3,
        gid="funnel-points",
    )
    if corrected.any():
        ax.scatter(
            yi[corrected],
            yv[corrected],
            s=16,
            marker="^",
            facecolors="white",
            edgecolors=OKABE_ITO["vermillion"],
            linewidths=0.7,
            zorder=3,
            gid="funnel-corrected",
        )
    if len(d.fill_y):
        ax.scatter(
            d.fill_y,
            d.fill_v,
            s=14,
            facecolors=OKABE_ITO["blue"],
            edgecolors=OKABE_ITO["blue"],
            linewidths=0.7,
            zorder=3,
            gid="funnel-filled",
        )
    if d.mu_adj is not None:
        ax.axvline(d.mu_adj, color=OKABE_ITO["blue"], lw=0.8, ls="--", zorder=2, gid="funnel-adj")
    ally = np.concatenate([yi, d.fill_y])
    ax.set_ylim(ymax, 0)
    span = (
        max(
            np.nanmax(np.abs(ally - mu)) if len(ally) else 1.0,
            stats.norm.ppf(0.5 + max(levels) / 2) * c * ymax,
        )
        * 1.05
    )
    ax.set_xlim(mu - span, mu + span)
    ax.set_xlabel(d.xlabel, fontproperties=L.font(RC["axes.labelsize"]))
    ax.set_ylabel(d.ylabel, fontproperties=L.font(RC["axes.labelsize"]))
    ax.tick_params(
        labelsize=RC["xtick.labelsize"],
        labelfontfamily=RC["font.sans-serif"][0],
        length=3,
        width=0.6,
    )
    for sp in ("top", "right"):
        ax.spines[sp].set_visible(False)
    for sp in ("left", "bottom"):
        ax.spines[sp].set_linewidth(0.6)
    if own_figure:
        _fit_axes(fig, ax)


def _fit_axes(fig: Figure, ax: Axes, pad: float = 0.04) -> None:
    """Shrink the axes so that its tick labels and axis labels stay inside the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()  # type: ignore[no-untyped-call]
    for _ in range(3):  # narrower axes can bring new ticks; settle in a few passes
        tight = ax.get_tightbbox(renderer)
        if tight is None:  # only an invisible axes has none (tight.x0 would raise AttributeError)
            raise AttributeError("the funnel axes has no tight bounding box")
        fb = fig.bbox
        p = pad * fig.dpi
        over_l = max(0.0, fb.x0 + p - tight.x0)
        over_r = max(0.0, tight.x1 - (fb.x1 - p))
        over_t = max(0.0, tight.y1 - (fb.y1 - p))
        if over_l == over_r == over_t == 0.0:
            break
        pos = ax.get_position()
        ax.set_position(
            (
                pos.x0 + over_l / fb.width,
                pos.y0,
                pos.width - (over_l + over_r) / fb.width,
                pos.height - over_t / fb.height,
            )
        )
