"""Forest plots of pooled proportions and incidence rates, laid out like a journal's.

:func:`forest` draws a :class:`~review.meta.results.PoolResult` (or a
:class:`~review.meta.results.SubgroupResult`) as R ``meta::forest`` does: one row a study
with its label, events and sample size (or person-time), the estimate with its exact
confidence interval as text and its weight; squares sized by weight; a diamond for the
pooled random-effects estimate (and the common-effect one when asked); the prediction
interval as a bar; the heterogeneity line; subgroup blocks with their own diamonds and the
test for subgroup differences; and a footnote naming the measure, the tau^2 estimator, the
test and the prediction-interval method from the result itself.
:func:`forest_leave_one_out` and :func:`forest_cumulative` draw the sensitivity analyses.

The figure is laid out in inches before anything is drawn (see :mod:`review.plots._layout`):
every column is as wide as its widest text, long labels wrap, and the height is the sum of
the rows, so nothing overlaps at 5 or at 60 studies and nothing is cut off. Every printed
number is formatted by :mod:`review._format` from the result's own fields.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from review._display import SCALES, Scale, ScaleInfo, Sort, XScale
from review._format import clip_proportion, fmt_p, fmt_shown, fmt_x
from review.errors import OptionError
from review.plots import _layout as L
from review.plots._style import OKABE_ITO, RC, ReviewFigure, style

__all__ = [
    "SCALES",
    "ReviewFigure",
    "forest",
    "forest_cumulative",
    "forest_leave_one_out",
    "method_sensitivity_plot",
    "robustness_plot",
]

_ScaleInfo = ScaleInfo  # the display vocabulary is declared once, in review._display


# colours and sizes of the glyphs (Okabe-Ito; greys for the study squares as meta draws)
_C_SQUARE = "#595959"
_C_LINE = OKABE_ITO["black"]
_C_RANDOM = OKABE_ITO["blue"]
_C_COMMON = "#FFFFFF"
_C_PI = OKABE_ITO["vermillion"]
_C_REF = "#9A9A9A"
_GAP = 0.13  # inches between columns
_MARGIN = 0.06  # inches around the figure
_MIN_PLOT = 1.0  # narrowest plot panel (inches)
_MIN_LABEL = 0.8  # narrowest label column (inches)
_FOOT_SIZE = 6.5  # points


# ------------------------------------------------------------------------ table model
@dataclass
class _Col:
    key: str
    header: str
    align: str = "right"  # "left" or "right"
    span_with_next: bool = False  # header drawn over this column and the next, right-aligned


@dataclass
class _Row:
    kind: str  # header-less row kinds: study, group, pooled, pi, text, spacer
    gid: str
    cells: dict[str, str] = field(default_factory=dict)
    bold: bool = False
    italic: bool = False
    glyph: tuple[Any, ...] | None = None
    span_text: str | None = None  # text across the left block (heterogeneity, tests)
    lines: list[str] = field(default_factory=list)  # wrapped label or span text
    height: float = 0.0
    y: float = 0.0  # centre, inches from the top


@dataclass
class _Table:
    left: list[_Col]
    right: list[_Col]
    rows: list[_Row]
    axis_label: str
    mult: float
    xscale: str
    xlim: tuple[float, float] | None
    refline: float | None  # dotted vertical line (pooled estimate), raw units
    nullline: float | None
    footnote: list[str]
    label_width: float
    plot_width: float
    title: str | None = None
    kind: str = "proportion"


# ------------------------------------------------------------------------ formatting
def _fmt_count(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "\u2013"  # not reported (a study given as an estimate with its CI)
    v = float(v)
    return fmt_x(v, 0) if v.is_integer() else fmt_x(v, 1)


def _fmt_est(v: float, s: _ScaleInfo, digits: int) -> str:
    # a small estimate is never printed as 0.00 (fmt_shown adds the digits it needs)
    return fmt_shown(v * s.mult, digits)


#: Mark beside a proportion's interval cut to [0, 1] for display (explained in a footnote).
_TRUNC_MARK = "§"
_TRUNC_FOOT = (
    "§ Interval truncated at 0 (or 1): the model's own interval reaches outside [0, 1], "
    "where a proportion cannot lie (the raw-proportion model's symmetric interval); the "
    "tables keep the model's value."
)


def _fmt_ci(lo: float, hi: float, s: _ScaleInfo, digits: int) -> str:
    # same helper pair as fmt_ci, with an en dash-free comma separator as metafor prints;
    # a proportion's bounds are never shown outside [0, 1]
    mark = ""
    if s.kind == "proportion":
        lo, hi, note = clip_proportion(lo, hi)
        mark = _TRUNC_MARK if note else ""
    return f"[{fmt_shown(lo * s.mult, digits)}, {fmt_shown(hi * s.mult, digits)}]{mark}"


def _clip_glyphs(t: _Table) -> list[str]:
    """A proportion table's glyphs cut to [0, 1]; the footnote when a cell was truncated."""
    if t.kind != "proportion":
        return []
    for r in t.rows:
        if r.glyph is not None:
            g = list(r.glyph)
            for i in (1, 2, 3):
                if i < len(g) and isinstance(g[i], float | int) and not isinstance(g[i], bool):
                    g[i] = min(max(float(g[i]), 0.0), 1.0)
            r.glyph = tuple(g)
    marked = any(_TRUNC_MARK in v for r in t.rows for v in r.cells.values())
    return [_TRUNC_FOOT] if marked and _TRUNC_FOOT not in t.footnote else []


def _fmt_p_eq(p: float) -> str:
    """``p = .0521`` or ``p < .0001`` from :func:`review._format.fmt_p`."""
    s = fmt_p(p)
    return f"p < {s[1:]}" if s.startswith("<") else f"p = {s}"


def het_text(res: Any, *, label: str = "Heterogeneity") -> str:
    """The heterogeneity line printed under a pooled estimate.

    ``Heterogeneity: I² = 45.2%, τ² = 0.1234, Q = 16.42 (df = 9), p = .0521``; τ² is
    left out for a common-effect fit.
    """
    parts = [f"I² = {fmt_x(res.i2, 1)}%"]
    if res.method != "FE":
        parts.append(f"τ² = {fmt_x(res.tau2, 4)}")
    parts.append(f"Q = {fmt_x(res.q, 2)} (df = {int(res.q_df)})")
    parts.append(_fmt_p_eq(res.q_pvalue))
    return f"{label}: " + ", ".join(_nbsp(p) for p in parts)


def _nbsp(s: str) -> str:
    # keep "p = .0521" on one line when the text wraps
    return s.replace(" ", "\u00a0")


def pi_method_text(res: Any) -> str:
    """Short name of the prediction-interval method: ``z`` or ``t(k−1)``, ``t(k−2)``."""
    df = getattr(res.link, "pi_df", None)
    if df is None or (isinstance(df, float) and math.isnan(df)):
        short = "z"
    else:
        lost = round(res.k - float(df))
        short = f"t(k−{lost}), df = {float(df):g}"
    who = {
        "metafor": "as metafor predict()",
        "riley": "Higgins et al. 2009; Riley et al. 2011",
        "V": "R meta method.predict 'V', Veroniki et al. 2019",
        "HTS": "R meta method.predict 'HTS', Higgins et al. 2009",
    }.get(res.pi_method, res.pi_method)
    return f"{_pct(res.level)} PI: {short} ({who})"


def _pct(level: float) -> str:
    return f"{100 * level:g}%"


def _model_text(res: Any) -> str:
    from review.meta._vocab import MEASURES, METHODS, TESTS

    m = MEASURES[res.measure]
    if res.method == "FE":
        head = f"Common-effect (inverse-variance) model of the {m.long_name} ({res.measure})"
    elif res.method == "GLMM":
        head = f"Random-effects {METHODS['GLMM'].long_name}, {m.long_name} ({res.measure})"
    else:
        head = (
            f"Random-effects model of the {m.long_name} ({res.measure}), τ²: "
            f"{METHODS[res.method].long_name} ({res.method})"
        )
    return f"{head}; {TESTS[res.test].long_name}; back-transform {m.back_name}."


#: What a forest plot shows in place of an estimate from a fit that did not converge.
NOT_CONVERGED = "not converged"
NOT_CONVERGED_MARK = "‡"
_NOT_CONVERGED_NOTE = (
    f"{NOT_CONVERGED_MARK} the fit did not converge: no estimate is shown, the last "
    "iterate is not a result (see the result's notes)."
)


def _not_converged_note(rows: Sequence[_Row]) -> list[str]:
    shown = any(r.cells.get("est") == NOT_CONVERGED for r in rows)
    return [_NOT_CONVERGED_NOTE] if shown else []


def _footnote(res: Any, *, prediction: bool, extra: Sequence[str] = ()) -> list[str]:
    from review.meta._vocab import DEFAULT_STUDY_CI, STUDY_CIS

    lines = [_model_text(res)]
    code = getattr(res, "study_ci", "") or DEFAULT_STUDY_CI[_kind(res)]
    second = f"Study {_pct(res.level)} CIs: {STUDY_CIS[code].long_name} [{code}]."
    if prediction and res.method != "FE":
        second += f" {pi_method_text(res)}."
    i2m = getattr(res, "i2_method", "tau2")
    if i2m == "Q":
        second += " I² = (Q − df)/Q (R meta method.I2 'Q')."
    elif res.method != "FE":
        second += " I² from τ² (metafor)."
    if res.method == "GLMM":
        second += (
            " Weights: approximate inverse-variance 1/(vi + τ²) of each study's "
            "model-scale estimate (a GLMM has no study weights)."
        )
    lines.append(second)
    lines.extend(extra)
    return lines


def _kind(res: Any) -> str:
    k = getattr(res, "kind", None)
    if k in ("proportion", "rate"):
        return str(k)
    from review.meta._vocab import RATE_MEASURES

    return "rate" if res.measure in RATE_MEASURES else "proportion"


def _scale(res: Any, scale: str | None) -> _ScaleInfo:
    kind = _kind(res)
    if scale is None:
        scale = "percent" if kind == "proportion" else "per100py"
    if scale not in SCALES:
        raise OptionError(f"Invalid scale {scale!r}; must be one of {list(SCALES)}")
    info = SCALES[scale]
    if info.kind != kind:
        valid = [k for k, v in SCALES.items() if v.kind == kind]
        raise OptionError(f"Invalid scale {scale!r} for a pooled {kind}; must be one of {valid}")
    return info


# ------------------------------------------------------------------------ row builders
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


def _order(studies: pd.DataFrame, sort: str | None) -> pd.DataFrame:
    if sort is None:
        return studies
    if sort == "estimate":
        return studies.sort_values("estimate", kind="stable")
    if sort == "precision":
        se = np.sqrt(studies["vi"].astype(float))
        return studies.assign(_se=se).sort_values("_se", kind="stable").drop(columns="_se")
    if sort == "year":
        if "year" in studies.columns:
            years = pd.to_numeric(studies["year"], errors="coerce")
        else:  # the last four-digit year in the label ("TRIAL-1 (Smith) 2019")
            found = [(_YEAR.findall(str(lbl)) or [None])[-1] for lbl in studies["label"]]
            years = pd.to_numeric(pd.Series(found, index=studies.index), errors="coerce")
        if years.isna().any():
            bad = studies["label"][years.isna()].astype(str).tolist()
            raise OptionError(
                "sort='year' needs a 'year' column in the result's studies or a four-digit "
                f"year in every label; none found for {bad}"
            )
        return (
            studies.assign(_y=years.to_numpy()).sort_values("_y", kind="stable").drop(columns="_y")
        )
    raise OptionError(
        f"Invalid sort {sort!r}; must be one of [None, 'estimate', 'year', 'precision']"
    )


def _study_rows(
    studies: pd.DataFrame,
    s: _ScaleInfo,
    digits: int,
    rate: bool,
    weights: Sequence[float] | None,
    gid_prefix: str,
    mark_corrected: bool,
    wd: int = 1,
) -> list[_Row]:
    rows = []
    for i, (_, r) in enumerate(studies.iterrows()):
        w = float(r["weight"]) if weights is None else float(weights[i])
        label = str(r["label"])
        if mark_corrected and bool(r.get("corrected", False)):
            label += " †"
        cells = {
            "label": label,
            "events": _fmt_count(r["events"]),
            "n": _fmt_count(r["time"] if rate else r["n"]),
            "est": _fmt_est(float(r["estimate"]), s, digits),
            "ci": _fmt_ci(float(r["ci_low"]), float(r["ci_high"]), s, digits),
            "weight": f"{fmt_x(w, wd)}%",
        }
        rows.append(
            _Row(
                "study",
                f"{gid_prefix}study:{i}",
                cells,
                glyph=("square", float(r["estimate"]), float(r["ci_low"]), float(r["ci_high"]), w),
            )
        )
    return rows


def _pooled_rows(
    res: Any,
    s: _ScaleInfo,
    digits: int,
    rate: bool,
    *,
    common: bool,
    prediction: bool,
    gid_prefix: str,
    weight_total: float | None,
    label_random: str,
    label_common: str,
    het_label: str,
    wd: int = 1,
) -> list[_Row]:
    st = res.studies
    den = st["time"] if rate else st["n"]
    if st["events"].isna().any() or den.isna().any():
        # a study given as an estimate lacks a count: totals over the others would mix rows
        ev = nn = ""
    else:
        ev = _fmt_count(float(st["events"].sum()))
        nn = _fmt_count(float(den.sum()))
    wt = f"{fmt_x(100.0 if weight_total is None else weight_total, wd)}%"
    rows: list[_Row] = []
    if common and res.method != "FE":
        if res.fixed is None:
            raise OptionError(
                f"common=True, but this {res.method} fit has no common-effect estimate "
                "(result.fixed is None)"
            )
        f = res.fixed
        rows.append(
            _Row(
                "pooled",
                f"{gid_prefix}pooled:common",
                {
                    "label": label_common,
                    "events": ev,
                    "n": nn,
                    "est": _fmt_est(f.estimate, s, digits),
                    "ci": _fmt_ci(f.ci_low, f.ci_high, s, digits),
                },
                bold=True,
                glyph=("diamond", f.estimate, f.ci_low, f.ci_high, "common"),
            )
        )
    name = label_common if res.method == "FE" else label_random
    if not bool(getattr(res, "converged", True)):
        # the last iterate of a fit that did not converge is not an estimate: no diamond,
        # no numbers, no prediction interval, no heterogeneity (issue 15: a GLMM drawn as
        # 0.0% [0.0, 98.3] with no mark)
        rows.append(
            _Row(
                "pooled",
                f"{gid_prefix}pooled:random",
                {
                    "label": f"{name} {NOT_CONVERGED_MARK}",
                    "events": ev,
                    "n": nn,
                    "est": NOT_CONVERGED,
                    "ci": "",
                    "weight": wt,
                },
                bold=True,
            )
        )
        rows.append(
            _Row(
                "text",
                f"{gid_prefix}het",
                span_text=f"{het_label}: not estimated (the fit did not converge)",
            )
        )
        return rows
    rows.append(
        _Row(
            "pooled",
            f"{gid_prefix}pooled:random",
            {
                "label": name,
                "events": ev,
                "n": nn,
                "est": _fmt_est(res.estimate, s, digits),
                "ci": _fmt_ci(res.ci_low, res.ci_high, s, digits),
                "weight": wt,
            },
            bold=True,
            glyph=(
                "diamond",
                res.estimate,
                res.ci_low,
                res.ci_high,
                "common" if res.method == "FE" else "random",
            ),
        )
    )
    if prediction and res.method != "FE" and np.isfinite([res.pi_low, res.pi_high]).all():
        rows.append(
            _Row(
                "pi",
                f"{gid_prefix}pi",
                {
                    "label": "Prediction interval",
                    "ci": _fmt_ci(res.pi_low, res.pi_high, s, digits),
                },
                glyph=("pi", res.pi_low, res.pi_high),
            )
        )
    rows.append(_Row("text", f"{gid_prefix}het", span_text=het_text(res, label=het_label)))
    return rows


def _build_forest(
    res: Any,
    *,
    sort: str | None,
    s: _ScaleInfo,
    digits: int,
    common: bool,
    prediction: bool,
    prediction_subgroups: bool,
    subgroup_test: str,
    wd: int = 1,
) -> tuple[list[_Row], Any, list[str]]:
    from review.meta.multilevel import MultilevelResult
    from review.meta.results import SubgroupResult

    extra: list[str] = []
    if isinstance(res, MultilevelResult):
        return _multilevel_rows(res, sort=sort, s=s, digits=digits, prediction=prediction, wd=wd)
    if isinstance(res, SubgroupResult):
        overall = res.overall
        rate = _kind(overall) == "rate"
        mark = overall.method != "GLMM" and bool(
            overall.studies.get("corrected", pd.Series()).any()
        )
        w_all = _overall_weights(res)
        single = False
        rows: list[_Row] = []
        for gi, (name, g) in enumerate(res.groups.items()):
            k_text = f"{g.k} stud{'y' if g.k == 1 else 'ies'}"
            rows.append(_Row("group", f"group:{gi}", {"label": f"{name} ({k_text})"}, bold=True))
            st = _order(g.studies, sort)
            ws = None if w_all is None else [w_all[lbl] for lbl in st["label"].astype(str)]
            rows += _study_rows(st, s, digits, rate, ws, f"g{gi}:", mark, wd)
            wsum = None if ws is None else float(np.sum(ws))
            if g.k < 2:  # a one-study subgroup has nothing to pool (meta issue #43)
                single = True
                rows.append(_Row("spacer", f"g{gi}:spacer"))
                continue
            rows += _pooled_rows(
                g,
                s,
                digits,
                rate,
                common=common,
                prediction=prediction_subgroups,
                gid_prefix=f"g{gi}:",
                weight_total=wsum,
                label_random="Random-effects model",
                label_common="Common-effect model",
                het_label="Heterogeneity",
                wd=wd,
            )
            rows.append(_Row("spacer", f"g{gi}:spacer"))
        rows += _pooled_rows(
            overall,
            s,
            digits,
            rate,
            common=common,
            prediction=prediction,
            gid_prefix="",
            weight_total=None,
            label_random="Random-effects model, all studies",
            label_common="Common-effect model, all studies",
            het_label="Heterogeneity",
            wd=wd,
        )
        rows.append(_Row("text", "subgroup-test", span_text=subgroup_test_text(res, subgroup_test)))
        if w_all is None:
            extra.append("Weights are within each subgroup (study labels are not unique).")
        if single:
            extra.append("A subgroup of one study has no pooled row.")
        if subgroup_test == "between":
            extra.append(
                "Test for subgroup differences: Q between subgroup estimates, "
                "separate τ² per subgroup (as R meta)."
            )
        else:
            extra.append(
                "Test for subgroup differences: moderator test of the mixed-effects "
                "model with a common τ² (as metafor mods = ~ factor)."
            )
        if mark:
            extra.append("† zero-cell continuity correction of the model-scale estimate.")
        return rows, overall, extra
    rate = _kind(res) == "rate"
    mark = res.method != "GLMM" and bool(res.studies.get("corrected", pd.Series()).any())
    st = _order(res.studies, sort)
    rows = _study_rows(st, s, digits, rate, None, "", mark, wd)
    rows.append(_Row("spacer", "spacer"))
    rows += _pooled_rows(
        res,
        s,
        digits,
        rate,
        common=common,
        prediction=prediction,
        gid_prefix="",
        weight_total=None,
        label_random="Random-effects model",
        label_common="Common-effect model",
        het_label="Heterogeneity",
        wd=wd,
    )
    if mark:
        nasm = getattr(res, "study_ci", "") == "NAsm"
        extra.append(
            "† zero-cell continuity correction of the model-scale estimate "
            + (
                "(the plotted interval is the Wald interval of the corrected estimate)."
                if nasm
                else "(the plotted interval is uncorrected)."
            )
        )
    return rows, res, extra


_INDENT = "\u00a0" * 3  # strata sit under their study (no-break spaces survive wrapping)


def _multilevel_rows(
    res: Any, *, sort: str | None, s: _ScaleInfo, digits: int, prediction: bool, wd: int
) -> tuple[list[_Row], Any, list[str]]:
    """Strata grouped under their study, then the multilevel model's pooled rows."""
    rate = _kind(res) == "rate"
    st = _order(res.studies, sort)
    mark = bool(st.get("corrected", pd.Series(dtype=bool)).any())
    studies = list(dict.fromkeys(st["study"].astype(str)))  # in (sorted) order of appearance
    rows: list[_Row] = []
    for ci, name in enumerate(studies):
        sub = st[st["study"].astype(str) == name]
        if len(sub) > 1:
            rows.append(_Row("group", f"cluster:{ci}", {"label": name}, bold=True))
            sub = sub.assign(label=[_INDENT + str(lab) for lab in sub["label"]])
        rows += _study_rows(sub, s, digits, rate, None, f"c{ci}:", mark, wd)
    rows.append(_Row("spacer", "spacer"))
    ev = _fmt_count(float(st["events"].sum()))
    nn = _fmt_count(float((st["time"] if rate else st["n"]).sum()))
    rows.append(
        _Row(
            "pooled",
            "pooled:random",
            {
                "label": f"Multilevel random-effects model ({res.k_text})",
                "events": ev,
                "n": nn,
                "est": _fmt_est(res.estimate, s, digits),
                "ci": _fmt_ci(res.ci_low, res.ci_high, s, digits),
                "weight": f"{fmt_x(100.0, wd)}%",
            },
            bold=True,
            glyph=("diamond", res.estimate, res.ci_low, res.ci_high, "random"),
        )
    )
    if prediction and np.isfinite([res.pi_low, res.pi_high]).all():
        rows.append(
            _Row(
                "pi",
                "pi",
                {"label": "Prediction interval", "ci": _fmt_ci(res.pi_low, res.pi_high, s, digits)},
                glyph=("pi", res.pi_low, res.pi_high),
            )
        )
    rows.append(_Row("text", "het", span_text=multilevel_het_text(res)))
    extra = []
    if mark:
        extra.append(
            "† zero-cell continuity correction of the model-scale estimate "
            "(the plotted interval is exact and uncorrected)."
        )
    return rows, res, extra


def multilevel_het_text(res: Any) -> str:
    """``Heterogeneity: σ²(study) = …, σ²(stratum) = …, I² = …% (study …%, stratum …%), Q = …``."""
    parts = [
        f"σ²(study) = {fmt_x(res.sigma2_study, 4)}",
        f"σ²(stratum) = {fmt_x(res.sigma2_stratum, 4)}",
        f"I² = {fmt_x(res.i2, 1)}% (study {fmt_x(res.i2_study, 1)}%, "
        f"stratum {fmt_x(res.i2_stratum, 1)}%)",
        f"Q = {fmt_x(res.q, 2)} (df = {int(res.q_df)})",
        _fmt_p_eq(res.q_pvalue),
    ]
    return "Heterogeneity: " + ", ".join(_nbsp(p) for p in parts)


def _multilevel_footnote(res: Any, *, prediction: bool, extra: Sequence[str]) -> list[str]:
    from review.meta._vocab import MEASURES, METHODS, TESTS

    m = MEASURES[res.measure]
    dfs = f" ({res.dfs} df)" if res.test == "t" else ""
    lines = [
        f"Multilevel random-effects model of the {m.long_name} ({res.measure}) with random "
        f"effects for studies and for strata within studies (metafor rma.mv, random = ~ 1 | "
        f"study/stratum), {METHODS[res.method].long_name} ({res.method}); "
        f"{TESTS[res.test].long_name}{dfs}; back-transform {m.back_name}."
    ]
    ci = "exact Poisson" if _kind(res) == "rate" else "exact Clopper-Pearson"
    second = f"Study {_pct(res.level)} CIs: {ci}."
    if prediction:
        second += (
            f" {_pct(res.level)} PI: a new stratum of a new study, √(SE² + σ²(study) + "
            "σ²(stratum)) (as metafor predict())."
        )
    second += " Weights: diagonal of the inverse marginal covariance (metafor weights.rma.mv)."
    lines.append(second)
    lines.extend(extra)
    return lines


def _overall_weights(res: Any) -> dict[str, float] | None:
    st = res.overall.studies
    labels = st["label"].astype(str)
    if labels.duplicated().any():
        return None
    return dict(zip(labels, st["weight"].astype(float)))


def subgroup_test_text(res: Any, which: str = "between") -> str:
    """``Test for subgroup differences: Q = 3.21, df = 1, p = .0731`` from a SubgroupResult."""
    if which == "between":
        q, df, p = res.q_between, res.q_between_df, res.q_between_pvalue
        parts = [f"Q = {fmt_x(q, 2)}", f"df = {int(df)}", _fmt_p_eq(p)]
        return "Test for subgroup differences: " + ", ".join(_nbsp(x) for x in parts)
    if which == "qm":
        if res.qm_dist == "F":
            parts = [
                f"F = {fmt_x(res.qm, 2)}",
                f"df = ({int(res.qm_df)}, {res.qm_df2:g})",
                _fmt_p_eq(res.qm_pvalue),
            ]
        else:
            parts = [f"QM = {fmt_x(res.qm, 2)}", f"df = {int(res.qm_df)}", _fmt_p_eq(res.qm_pvalue)]
        return "Test for subgroup differences: " + ", ".join(_nbsp(x) for x in parts)
    raise OptionError(f"Invalid subgroup_test {which!r}; must be one of ['between', 'qm']")


# ------------------------------------------------------------------------ layout
def _lh(size: float | None = None) -> float:
    return L.line_height(size, 1.18)


def _measure_columns(t: _Table) -> dict[str, float]:
    w: dict[str, float] = {}
    for c in t.left + t.right:
        vals = []
        for r in t.rows:
            v = r.cells.get(c.key)
            if v:
                vals.append(L.text_width(v, weight="bold" if r.bold else "normal"))
        hw = 0.0 if c.span_with_next else L.text_width(c.header, weight="bold")
        w[c.key] = max([*vals, hw])
    # spanning headers: widen the first column of the span when the header is wider
    cols = t.left + t.right
    for i, c in enumerate(cols):
        if c.span_with_next and i + 1 < len(cols):
            need = L.text_width(c.header, weight="bold")
            have = w[c.key] + _GAP * 0.6 + w[cols[i + 1].key]
            if need > have:
                w[c.key] += need - have
    return w


def _layout(t: _Table, width: float | None) -> dict[str, Any]:
    """Column positions and row heights for a total width (``None``: natural width)."""
    w = _measure_columns(t)
    label_key = t.left[0].key
    natural_label = w[label_key]
    other_left = sum(w[c.key] + _GAP for c in t.left[1:])
    right_total = 0.0
    cols_r = t.right
    for i, c in enumerate(cols_r):
        gap = _GAP * 0.6 if (i > 0 and cols_r[i - 1].span_with_next) else _GAP
        right_total += gap + w[c.key]
    fixed = 2 * _MARGIN + other_left + _GAP + right_total
    if width is None:
        label_w = min(natural_label, t.label_width)
        plot_w = t.plot_width
    else:
        avail = width - fixed
        cap = min(natural_label, t.label_width)
        # the label column keeps its width while the plot panel can shrink to _MIN_PLOT;
        # below that both give way, the label down to _MIN_LABEL
        label_w = max(min(cap, avail - _MIN_PLOT), min(cap, _MIN_LABEL))
        plot_w = avail - label_w
        if plot_w < _MIN_PLOT - 1e-9:
            need = fixed + _MIN_LABEL + _MIN_PLOT
            raise OptionError(
                f"A width of {width * 25.4:.0f} mm is too narrow for this forest plot at "
                f"{RC['font.size']:g} pt; it needs at least {need * 25.4:.0f} mm (use "
                "PAGE_MM = 174, fewer columns, or a smaller label_width)"
            )
    x: dict[str, float] = {}
    cur = _MARGIN
    x["label_l"] = cur
    cur += label_w
    x["label_r"] = cur
    for c in t.left[1:]:
        cur += _GAP + w[c.key]
        x[c.key] = cur  # right edge (right-aligned) or left edge below
        if c.align == "left":
            x[c.key] = cur - w[c.key]
    x["left_block_r"] = cur
    cur += _GAP
    x["plot_l"] = cur
    cur += plot_w
    x["plot_r"] = cur
    for i, c in enumerate(cols_r):
        gap = _GAP * 0.6 if (i > 0 and cols_r[i - 1].span_with_next) else _GAP
        cur += gap + w[c.key]
        x[c.key] = cur if c.align == "right" else cur - w[c.key]
    total_w = cur + _MARGIN
    if width is not None:
        total_w = width
    # rows
    lh = _lh()
    pad = 0.55 * lh * 0.5
    left_block = x["left_block_r"] - x["label_l"]
    for r in t.rows:
        if r.span_text is not None:
            # the row is its own: nothing else is drawn on it, so it may run under the plot
            r.lines = L.wrap(r.span_text, max(left_block, total_w - 2 * _MARGIN))
            r.height = len(r.lines) * lh + 2 * pad
        elif r.kind == "spacer":
            r.lines = []
            r.height = 0.5 * lh
        else:
            lab = r.cells.get(label_key, "")
            r.lines = L.wrap(lab, label_w, weight="bold" if r.bold else "normal") if lab else []
            r.height = max(1, len(r.lines)) * lh + 2 * pad
    # vertical stack
    y = _MARGIN
    title_h = 0.0
    if t.title:
        title_h = (
            _lh(RC["axes.titlesize"])
            * len(L.wrap(t.title, total_w - 2 * _MARGIN, RC["axes.titlesize"], "bold"))
            + 0.08
        )
    y += title_h
    header_lines = max(len(c.header.split("\n")) for c in t.left + t.right)
    header_h = header_lines * lh + 2 * pad
    header_top = y
    y += header_h
    rule_y = y
    y += 0.4 * pad
    rows_top = y
    for r in t.rows:
        r.y = y + r.height / 2
        y += r.height
    rows_bottom = y + 0.4 * pad
    tick_fs = float(RC["xtick.labelsize"])
    axis_h = 0.035 + 0.03 + _lh(tick_fs) + 0.04 + _lh(RC["axes.labelsize"])
    y = rows_bottom + axis_h + 0.06
    foot_lines: list[str] = []
    for para in t.footnote:
        foot_lines += L.wrap(para, total_w - 2 * _MARGIN, _FOOT_SIZE)
    foot_top = y
    y += len(foot_lines) * _lh(_FOOT_SIZE)
    total_h = y + _MARGIN
    return {
        "w": w,
        "x": x,
        "label_w": label_w,
        "plot_w": plot_w,
        "total_w": total_w,
        "total_h": total_h,
        "header_top": header_top,
        "header_h": header_h,
        "rule_y": rule_y,
        "rows_top": rows_top,
        "rows_bottom": rows_bottom,
        "foot_top": foot_top,
        "foot_lines": foot_lines,
        "title_h": title_h,
    }


# ------------------------------------------------------------------------ x axis
def _finite(vals: Sequence[float]) -> np.ndarray:
    a = np.asarray([v for v in vals if v is not None], dtype=float)
    finite: np.ndarray = a[np.isfinite(a)]  # numpy stubs: boolean-mask indexing is Any
    return finite


def _xlimits(t: _Table) -> tuple[float, float]:
    if t.xlim is not None:
        lo, hi = (float(v) / t.mult for v in t.xlim)
        if not lo < hi:
            raise OptionError(f"xlim must be increasing, got {t.xlim}")
        if t.xscale in ("log", "logit") and lo <= 0:
            raise OptionError(f"xlim must be positive on a {t.xscale} axis, got {t.xlim}")
        if t.xscale == "logit" and hi * 1 >= 1:
            raise OptionError(f"xlim must stay below 100% on a logit axis, got {t.xlim}")
        return lo, hi
    vals: list[float] = []
    for r in t.rows:
        if r.glyph is None:
            continue
        if r.glyph[0] == "pi":
            vals += [r.glyph[1], r.glyph[2]]
        else:
            vals += [r.glyph[1], r.glyph[2], r.glyph[3]]
    a = _finite(vals)
    if t.xscale == "linear":
        lo = min(0.0, float(a.min())) if a.size else 0.0
        hi = float(a.max()) if a.size else 1.0
        if hi <= lo:
            hi = lo + 1.0 / t.mult
        # tick_values returns an ndarray (matplotlib's stub says Sequence[float])
        ticks = cast(
            np.ndarray,
            MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo * t.mult, hi * t.mult),
        )
        return lo, float(ticks[ticks >= hi * t.mult - 1e-12][0]) / t.mult
    pos = a[a > 0]
    if t.xscale == "logit":
        pos = pos[pos < 1]
    if not pos.size:
        raise OptionError(f"No positive values to draw on a {t.xscale} axis; use xscale='linear'")
    return _nice_nonlinear(t, float(pos.min()), float(pos.max()))


# Tick sets for log and logit axes, coarsest first, in display units (percent, per 100 PY)
_LOGIT_LEVELS = (
    (0.1, 1, 10, 50, 90, 99, 99.9),
    (0.1, 0.5, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9),
    (
        0.01,
        0.02,
        0.05,
        0.1,
        0.2,
        0.5,
        1,
        2,
        5,
        10,
        20,
        30,
        50,
        70,
        80,
        90,
        95,
        98,
        99,
        99.5,
        99.8,
        99.9,
        99.95,
        99.98,
        99.99,
    ),
)


def _log_levels() -> tuple[tuple[float, ...], ...]:
    dec = range(-8, 7)
    return (
        tuple(10.0**d for d in dec if d % 2 == 0),
        tuple(10.0**d for d in dec),
        tuple(m * 10.0**d for d in dec for m in (1, 3)),
        tuple(m * 10.0**d for d in dec for m in (1, 2, 5)),
    )


def _nice_nonlinear(t: _Table, vmin: float, vmax: float) -> tuple[float, float]:
    """Axis limits: the nearest values of the finest tick set around the data."""
    levels = _log_levels() if t.xscale == "log" else _LOGIT_LEVELS
    div = t.mult if t.xscale == "log" else 100.0  # logit ticks are percentages
    c = np.asarray(levels[-1], dtype=float) / div
    below, above = c[c <= vmin * (1 + 1e-9)], c[c >= vmax * (1 - 1e-9)]
    lo = float(below.max()) if below.size else vmin
    hi = float(above.min()) if above.size else vmax
    return lo, hi


def _ticks(t: _Table, lo: float, hi: float) -> np.ndarray:
    if t.xscale == "linear":
        # tick_values returns an ndarray (matplotlib's stub says Sequence[float])
        tv = cast(
            np.ndarray,
            MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo * t.mult, hi * t.mult),
        )
        tv = tv[(tv >= lo * t.mult - 1e-9) & (tv <= hi * t.mult + 1e-9)]
        return tv / t.mult
    levels = _log_levels() if t.xscale == "log" else _LOGIT_LEVELS
    div = t.mult if t.xscale == "log" else 100.0
    best = np.asarray([lo, hi])
    for level in levels:  # coarse to fine: the finest set with 3 to 7 ticks in view
        c = np.asarray(level, dtype=float) / div
        c = c[(c >= lo * (1 - 1e-9)) & (c <= hi * (1 + 1e-9))]
        if len(c) > 7:
            break
        if len(c) >= 2:
            best = c
    return best


def _tick_label(v: float) -> str:
    # 0.05, 2.5, 10, 99.9: as many digits as the tick has, never rounded into a neighbour
    return f"{round(v, 10):.6g}"


# ------------------------------------------------------------------------ drawing
def _render(fig: Figure, t: _Table, width: float | None, box: Axes | None = None) -> None:
    lay = _layout(t, width)
    W: float
    H: float
    W, H = lay["total_w"], lay["total_h"]
    if box is None:
        fig.clear()
        fig.set_size_inches(W, H, forward=True)
        canvas = fig.add_axes((0, 0, 1, 1))
        bx0, by0, bw, bh = 0.0, 0.0, 1.0, 1.0
    else:
        canvas = box
        pos = box.get_position()
        bx0, by0, bw, bh = pos.x0, pos.y0, pos.width, pos.height
        avail_h = bh * fig.get_size_inches()[1]
        if H > avail_h + 1e-6:
            warnings.warn(
                f"The forest plot needs {H:.2f} in of height; the axes has {avail_h:.2f} in. "
                "Rows overlap; call forest(res) without ax= to size the figure to its rows.",
                stacklevel=3,
            )
        H = max(H, avail_h)
    canvas.set_axis_off()
    canvas.set_xlim(0, W)
    canvas.set_ylim(H, 0)
    x = lay["x"]
    fs = float(RC["font.size"])

    def put(
        px: float,
        py: float,
        s: str,
        gid: str,
        ha: str = "left",
        bold: bool = False,
        size: float | None = None,
        italic: bool = False,
        va: str = "center",
    ) -> None:
        # explicit font properties: the text renders in the measured face, inside or
        # outside a ``with style():`` block (Jupyter display, a later savefig)
        canvas.text(
            px,
            py,
            s,
            ha=ha,
            va=va,
            gid=gid,
            linespacing=1.18,
            clip_on=False,
            fontproperties=L.font(
                size or fs, "bold" if bold else "normal", "italic" if italic else "normal"
            ),
        )

    if t.title:
        lines = L.wrap(t.title, W - 2 * _MARGIN, RC["axes.titlesize"], "bold")
        put(
            x["label_l"],
            _MARGIN,
            "\n".join(lines),
            "title",
            bold=True,
            size=RC["axes.titlesize"],
            va="top",
        )
    # header
    # headers sit on a common baseline just above the rule (two-line headers grow upwards)
    hy = lay["rule_y"] - 0.55 * _lh() * 0.5
    cols = t.left + t.right
    for i, c in enumerate(cols):
        if not c.header:
            continue
        if i == 0:
            put(x["label_l"], hy, c.header, f"header:{c.key}", bold=True, va="bottom")
            continue
        if c.span_with_next and i + 1 < len(cols):
            put(
                x[cols[i + 1].key],
                hy,
                c.header,
                f"header:{c.key}",
                ha="right",
                bold=True,
                va="bottom",
            )
            continue
        ha = "right" if c.align == "right" else "left"
        put(x[c.key], hy, c.header, f"header:{c.key}", ha=ha, bold=True, va="bottom")
    canvas.plot(
        [x["label_l"], W - _MARGIN],
        [lay["rule_y"]] * 2,
        color="black",
        lw=0.6,
        solid_capstyle="butt",
    )
    # rows: text
    for r in t.rows:
        if r.kind == "spacer":
            continue
        if r.span_text is not None:
            put(x["label_l"], r.y, "\n".join(r.lines), f"text:{r.gid}", italic=False, size=fs)
            continue
        if r.lines:
            put(
                x["label_l"],
                r.y,
                "\n".join(r.lines),
                f"label:{r.gid}",
                bold=r.bold,
                italic=r.italic,
            )
        for c in cols[1:]:
            v = r.cells.get(c.key)
            if v:
                ha = "right" if c.align == "right" else "left"
                put(x[c.key], r.y, v, f"{c.key}:{r.gid}", ha=ha, bold=r.bold)
    # footnote
    fy = lay["foot_top"]
    if lay["foot_lines"]:
        put(x["label_l"], fy, "\n".join(lay["foot_lines"]), "footnote", size=_FOOT_SIZE, va="top")
    # plot panel
    top, bottom = lay["rows_top"], lay["rows_bottom"]

    def fx(v: float) -> float:
        return bx0 + bw * v / W

    def fy_(v: float) -> float:
        return by0 + bh * (1 - v / H)

    pax = fig.add_axes(
        (fx(x["plot_l"]), fy_(bottom), fx(x["plot_r"]) - fx(x["plot_l"]), fy_(top) - fy_(bottom))
    )
    pax.set_gid("forest-panel")
    pax.patch.set_alpha(0)
    lo, hi = _xlimits(t)
    if t.xscale != "linear":
        pax.set_xscale(t.xscale)
    pax.set_xlim(lo, hi)
    pax.set_ylim(bottom, top)
    for sp in ("left", "right", "top"):
        pax.spines[sp].set_visible(False)
    pax.yaxis.set_major_locator(NullLocator())
    pax.xaxis.set_major_locator(FixedLocator(list(_ticks(t, lo, hi))))
    pax.xaxis.set_minor_locator(NullLocator())
    pax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _tick_label(v * t.mult)))
    pax.tick_params(
        axis="x",
        length=3,
        pad=2,
        labelsize=RC["xtick.labelsize"],
        labelfontfamily=RC["font.sans-serif"][0],
        width=0.6,
    )
    pax.spines["bottom"].set_linewidth(0.6)
    pax.set_xlabel(t.axis_label, fontproperties=L.font(RC["axes.labelsize"]), labelpad=3)
    _draw_glyphs(pax, t, lo, hi, lay)
    fig._review_relayout = lambda w: _render(fig, t, w)  # type: ignore[attr-defined]
    fig._review_table = t  # type: ignore[attr-defined]


def _draw_glyphs(pax: Axes, t: _Table, lo: float, hi: float, lay: dict[str, Any]) -> None:
    lh = _lh()
    weights = [r.glyph[4] for r in t.rows if r.glyph and r.glyph[0] == "square"]
    wmax = max([w for w in weights if np.isfinite(w)] + [1e-12])
    max_side = min(9.0, 0.9 * lh * 72)
    min_side = 2.2
    study_ys = [r.y for r in t.rows if r.kind in ("study", "pooled", "pi")]
    if t.refline is not None and np.isfinite(t.refline) and lo <= t.refline <= hi and study_ys:
        pax.plot(
            [t.refline] * 2,
            [lay["rows_top"], max(study_ys)],
            color=_C_REF,
            lw=0.6,
            ls=(0, (1.5, 1.5)),
            zorder=1,
        )
    if t.nullline is not None and lo <= t.nullline <= hi:
        pax.plot(
            [t.nullline] * 2,
            [lay["rows_top"], lay["rows_bottom"]],
            color="black",
            lw=0.6,
            zorder=1,
            gid="null-line",
        )

    def seg(a: float, b: float, y: float, color: str = _C_LINE, lw: float = 0.8) -> None:
        if np.isnan(a) or np.isnan(b):  # no interval (NA is printed), so no line or arrow
            return
        a_c, b_c = max(a, lo) if np.isfinite(a) else lo, min(b, hi) if np.isfinite(b) else hi
        if t.xscale != "linear" and not a > 0:
            a_c = lo
        if b_c > a_c:
            pax.plot([a_c, b_c], [y, y], color=color, lw=lw, solid_capstyle="butt", zorder=2)
        if not a >= lo:
            pax.plot(
                [lo],
                [y],
                marker=(3, 0, 90),
                ms=3.6,
                color=color,
                zorder=3,
                clip_on=False,
                gid="arrow-left",
            )
        if not b <= hi:
            pax.plot(
                [hi],
                [y],
                marker=(3, 0, -90),
                ms=3.6,
                color=color,
                zorder=3,
                clip_on=False,
                gid="arrow-right",
            )

    for r in t.rows:
        g = r.glyph
        if g is None:
            continue
        if g[0] in ("square", "point"):
            _, est, a, b = g[:4]
            seg(a, b, r.y)
            visible = lo <= est <= hi and (t.xscale == "linear" or est > 0)
            if visible:
                if g[0] == "square":
                    w = g[4] if np.isfinite(g[4]) else 0.0
                    side = max(min_side, max_side * math.sqrt(max(w, 0.0) / wmax))
                    pax.scatter(
                        [est],
                        [r.y],
                        s=side**2,
                        marker="s",
                        color=_C_SQUARE,
                        edgecolors="none",
                        zorder=3,
                        gid=f"square:{r.gid}",
                        clip_on=False,
                    )
                else:
                    pax.plot(
                        [est],
                        [r.y],
                        marker="o",
                        ms=3.2,
                        color=_C_SQUARE,
                        zorder=3,
                        gid=f"point:{r.gid}",
                    )
        elif g[0] == "diamond":
            _, est, a, b, kind = g
            h = 0.36 * r.height
            a_c, b_c = max(a, lo), min(b, hi)
            e_c = min(max(est, lo), hi)
            fc = _C_RANDOM if kind == "random" else _C_COMMON
            pax.add_patch(
                Polygon(
                    [(a_c, r.y), (e_c, r.y - h), (b_c, r.y), (e_c, r.y + h)],
                    closed=True,
                    facecolor=fc,
                    edgecolor="black",
                    lw=0.6,
                    zorder=3,
                    gid=f"diamond:{r.gid}",
                )
            )
            if a < lo:
                seg(a, a_c, r.y)
            if b > hi:
                seg(b_c, b, r.y)
        elif g[0] == "pi":
            _, a, b = g
            a_c, b_c = max(a, lo), min(b, hi)
            if t.xscale != "linear" and not a > 0:
                a_c = lo
            h = 0.22 * r.height
            pax.add_patch(
                Rectangle(
                    (a_c, r.y - h),
                    b_c - a_c,
                    2 * h,
                    facecolor=_C_PI,
                    edgecolor="none",
                    zorder=2,
                    gid=f"pi-bar:{r.gid}",
                )
            )
            if a < lo or (t.xscale != "linear" and not a > 0):
                seg(a, a_c, r.y, _C_PI)
            if b > hi:
                seg(b_c, b, r.y, _C_PI)


# ------------------------------------------------------------------------ public API
def _new_figure(t: _Table, ax: Axes | None, width: float | None) -> Figure:
    t.footnote = [*t.footnote, *_clip_glyphs(t)]
    with style():
        if ax is None:
            fig = ReviewFigure()
            _render(fig, t, width)
        else:
            fig = ax.get_figure()  # type: ignore[assignment]
            pos = ax.get_position()
            _render(fig, t, pos.width * fig.get_size_inches()[0], box=ax)
    return fig


def forest(
    res: Any,
    *,
    ax: Axes | None = None,
    sort: Sort | None = None,
    scale: Scale | None = None,
    xscale: XScale = "linear",
    xlim: tuple[float, float] | None = None,
    common: bool = False,
    prediction: bool = True,
    prediction_subgroups: bool = False,
    subgroup_test: Literal["between", "qm"] = "between",
    digits: int | None = None,
    weight_digits: int = 1,
    label_width: float = 2.0,
    plot_width: float = 2.0,
    width: float | None = None,
    study_header: str = "Study",
    time_header: str = "Person-years",
    refline: bool = True,
    counts: bool = True,
    weights: bool = True,
    null: float | None = None,
    title: str | None = None,
    notes: Sequence[str] = (),
) -> Figure:
    """Forest plot of a pooled proportion or incidence rate.

    Parameters
    ----------
    res : PoolResult, SubgroupResult or MultilevelResult
        From :func:`review.meta.pool_proportions`, :func:`review.meta.pool_rates`,
        :func:`review.meta.subgroups` or :func:`review.meta.pool_multilevel`. A
        ``SubgroupResult`` draws one block a subgroup with its own diamond and
        heterogeneity line, then the overall estimate and the test for subgroup
        differences. A ``MultilevelResult`` draws each study's strata under the study's
        name (a study without strata is one row), then the pooled estimate with both
        variance components and I^2 at each level.
    ax : matplotlib.axes.Axes, optional
        Draw inside this axes' box (its figure keeps its size; a warning says when the
        rows need more height). By default a new figure is sized to its rows.
    sort : {None, "estimate", "year", "precision"}
        Row order: as in the result; by estimate; by year (a ``year`` column in
        ``res.studies`` or a four-digit year in each label); by precision (smallest
        standard error of the model-scale estimate first). Subgroups sort within blocks.
    scale : {"percent", "proportion", "per1000", "per100py", "per1000py", "perpy"}
        Units of the axis and of the printed numbers; default ``"percent"`` for
        proportions and ``"per100py"`` for rates (the result's rates are per unit of the
        person-time column, assumed person-years).
    xscale : {"linear", "log", "logit"}
        Axis transform. ``"logit"`` is for proportions; zero-event studies and intervals
        reaching 0 are drawn with an arrow at the axis' lower end.
    xlim : tuple of float, optional
        Axis limits in display units (for example percent). Intervals beyond them end in
        an arrow.
    common : bool
        Also draw the common-effect (fixed-effect) diamond (needs ``res.fixed``).
    prediction : bool
        Draw the prediction interval of the overall estimate as a bar; its method is
        named in the footnote (``res.pi_method`` and ``res.link.pi_df``).
    prediction_subgroups : bool
        Also draw each subgroup's prediction interval.
    subgroup_test : {"between", "qm"}
        Which test for subgroup differences to print: Q between subgroups with separate
        tau^2 (R meta) or the moderator test with a common tau^2 (metafor).
    digits : int, optional
        Decimals of the printed estimates (default by scale: 1 for percent, 3 for a
        proportion, 2 per 100 person-years).
    weight_digits : int
        Decimals of the printed weights (percent).
    label_width : float
        Widest label column in inches; longer labels wrap.
    plot_width : float
        Width of the plot panel in inches at the natural width.
    width : float, optional
        Total figure width in inches (the plot panel absorbs the difference, labels
        wrap); :func:`review.plots.save_figure` sets it from ``width_mm``.
    study_header, time_header : str
        Column headings of the label column and of the person-time column.
    refline : bool
        Dotted vertical line at the pooled estimate.
    counts, weights : bool
        Show the events / total (person-years) columns and the weight column. Without
        them a forest fits one journal column (``save_figure(..., width_mm=85)``).
    null : float, optional
        A solid vertical reference line at this value, in display units (for example a
        background incidence of 2 (%)).
    title : str, optional
        A bold title above the table.
    notes : sequence of str
        Further footnote lines (for example which studies a subgroup analysis left out).

    Returns
    -------
    matplotlib.figure.Figure
        Height from the number of rows. Text artists carry ``gid`` values
        (``label:study:3``, ``est:pooled:random``, ``text:het``, ``footnote``) for tests
        and post-processing.

    Raises
    ------
    OptionError
        An unknown option, a scale that does not fit the result's kind, ``common=True``
        without a common-effect estimate, or a width too narrow for the columns.

    Notes
    -----
    Study intervals are those in ``res.studies``, of the result's ``study_ci``
    convention (default Clopper-Pearson for proportions, as meta's ``method.ci = "CP"``,
    exact Poisson for rates; R meta's codes otherwise); the pooled intervals are the
    model's, back-transformed. Weights are the random-effects weights in percent; squares
    have an area proportional to the weight. The footnote names every convention: the
    study intervals, the prediction-interval method (metafor 3.8, meta >= 8 and meta <= 7
    compute it differently; IntHout et al. 2016) and how I² was computed.

    References
    ----------
    Lewis S, Clarke M. Forest plots: trying to see the wood and the trees. *BMJ*
    2001;322:1479-80. IntHout J, Ioannidis JPA, Rovers MM, Goeman JJ. Plea for routinely
    presenting prediction intervals in meta-analysis. *BMJ Open* 2016;6:e010247.
    Schwarzer G, Carpenter JR, Rücker G. *Meta-Analysis with R*. Springer; 2015 (forest.meta).

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions
    >>> df = pd.DataFrame(
    ...     {
    ...         "label": ["A 2019", "B 2020", "C 2021", "D 2022"],
    ...         "events": [2, 5, 1, 8],
    ...         "n": [40, 60, 35, 90],
    ...     }
    ... )
    >>> res = pool_proportions(df, measure="PLO", method="DL", label="label")
    >>> fig = forest(res, sort="year")
    >>> cells = {t.get_gid(): t.get_text() for t in fig.findobj() if hasattr(t, "get_text")}
    >>> # metafor 3.8-1: transf.ilogit of rma(measure="PLO", method="DL") b, ci.lb, ci.ub
    >>> cells["est:pooled:random"], cells["ci:pooled:random"]  # percent, 1 decimal
    ('7.5', '[4.7, 11.9]')
    """
    from review.meta.multilevel import MultilevelResult
    from review.meta.results import PoolResult, SubgroupResult

    if not isinstance(res, PoolResult | SubgroupResult | MultilevelResult):
        raise OptionError(
            "forest() takes a PoolResult, SubgroupResult or MultilevelResult, got "
            f"{type(res).__name__}"
        )
    base = res.overall if isinstance(res, SubgroupResult) else res
    if xscale not in ("linear", "log", "logit"):
        raise OptionError(f"Invalid xscale {xscale!r}; must be one of ['linear', 'log', 'logit']")
    s = _scale(base, scale)
    if xscale == "logit" and s.kind != "proportion":
        raise OptionError("xscale='logit' is for proportions; use 'log' for rates")
    d = s.digits if digits is None else int(digits)
    rows, base, extra = _build_forest(
        res,
        sort=sort,
        s=s,
        digits=d,
        common=common,
        prediction=prediction,
        prediction_subgroups=prediction_subgroups,
        subgroup_test=subgroup_test,
        wd=int(weight_digits),
    )
    rate = s.kind == "rate"
    left = [_Col("label", study_header, "left")]
    if counts:
        left += [_Col("events", "Events"), _Col("n", time_header if rate else "Total")]
    right = [
        _Col("est", f"{s.header}\n[{_pct(base.level)} CI]", span_with_next=True),
        _Col("ci", ""),
    ]
    if weights:
        right.append(_Col("weight", "Weight"))
    t = _Table(
        left,
        right,
        rows,
        s.axis_label,
        s.mult,
        xscale,
        xlim,
        base.estimate if refline and base.converged else None,
        None if null is None else null / s.mult,
        (
            _multilevel_footnote(
                base, prediction=prediction, extra=[*extra, *notes, *_not_converged_note(rows)]
            )
            if isinstance(base, MultilevelResult)
            else _footnote(
                base, prediction=prediction, extra=[*extra, *notes, *_not_converged_note(rows)]
            )
        ),
        label_width,
        plot_width,
        title,
        s.kind,
    )
    return _new_figure(t, ax, width)


def _sens_rows(
    table: pd.DataFrame,
    s: _ScaleInfo,
    d: int,
    label: Callable[[Any], str],
    extra_cols: Sequence[tuple[str, Callable[[Any], str]]],
) -> list[_Row]:
    rows = []
    # a sensitivity table's columns differ in type, so its rows are Any
    records: Iterable[Any] = table.itertuples(index=False)
    for i, r in enumerate(records):
        cells = {
            "label": label(r),
            "est": _fmt_est(float(r.estimate), s, d),
            "ci": _fmt_ci(float(r.ci_low), float(r.ci_high), s, d),
        }
        for key, f in extra_cols:
            cells[key] = f(r)
        conv = bool(getattr(r, "converged", True))
        glyph: tuple[Any, ...] | None = (
            "point",
            float(r.estimate),
            float(r.ci_low),
            float(r.ci_high),
        )
        if not conv:  # a refit that did not converge: no point, no numbers
            cells["label"] += f" {NOT_CONVERGED_MARK}"
            cells["est"], cells["ci"] = NOT_CONVERGED, ""
            for key, _ in extra_cols:
                cells[key] = ""
            glyph = None
        rows.append(_Row("study", f"step:{i}", cells, glyph=glyph))
    return rows


def _sensitivity_figure(
    result: Any,
    *,
    title: str | None,
    label: Callable[[Any], str],
    header: str,
    ax: Axes | None,
    scale: str | None,
    xscale: str,
    xlim: tuple[float, float] | None,
    digits: int | None,
    label_width: float,
    plot_width: float,
    width: float | None,
    extra_note: str,
    show_tau2: bool = True,
) -> Figure:
    base = result.base
    s = _scale(base, scale)
    if xscale not in ("linear", "log", "logit"):
        raise OptionError(f"Invalid xscale {xscale!r}; must be one of ['linear', 'log', 'logit']")
    d = s.digits if digits is None else int(digits)
    extra_cols: list[tuple[str, Callable[[Any], str]]] = []
    right = [
        _Col("est", f"{s.header}\n[{_pct(base.level)} CI]", span_with_next=True),
        _Col("ci", ""),
    ]
    if show_tau2 and base.method != "FE":
        extra_cols.append(("tau2", lambda r: fmt_x(float(r.tau2), 4)))
        right.append(_Col("tau2", "τ²"))
    extra_cols.append(("i2", lambda r: f"{fmt_x(float(r.i2), 1)}%"))
    right.append(_Col("i2", "I²"))
    rows = _sens_rows(result.table, s, d, label, extra_cols)
    rows.append(_Row("spacer", "spacer"))
    rows += [
        r
        for r in _pooled_rows(
            base,
            s,
            d,
            _kind(base) == "rate",
            common=False,
            prediction=False,
            gid_prefix="",
            weight_total=None,
            label_random="All studies",
            label_common="All studies",
            het_label="Heterogeneity",
        )
        if r.kind == "pooled"
    ]
    rows[-1].cells.pop("events", None)
    rows[-1].cells.pop("n", None)
    rows[-1].cells.pop("weight", None)
    if show_tau2 and base.method != "FE":
        rows[-1].cells["tau2"] = fmt_x(base.tau2, 4) if base.converged else ""
    rows[-1].cells["i2"] = f"{fmt_x(base.i2, 1)}%" if base.converged else ""
    foot = _footnote(base, prediction=False)
    foot[1] = f"Pooled {_pct(base.level)} CIs from each refit. {extra_note}"
    if not bool(result.table.get("converged", pd.Series([True])).all()) or not base.converged:
        foot.append(
            f"{NOT_CONVERGED_MARK} the fit did not converge: no estimate is shown, the last "
            "iterate is not a result."
        )
    left = [_Col("label", header, "left")]
    t = _Table(
        left,
        right,
        rows,
        s.axis_label,
        s.mult,
        xscale,
        xlim,
        base.estimate if base.converged else None,
        None,
        foot,
        label_width,
        plot_width,
        title,
        s.kind,
    )
    return _new_figure(t, ax, width)


def forest_leave_one_out(
    loo: Any,
    *,
    ax: Axes | None = None,
    scale: Scale | None = None,
    xscale: XScale = "linear",
    xlim: tuple[float, float] | None = None,
    digits: int | None = None,
    label_width: float = 2.0,
    plot_width: float = 2.0,
    width: float | None = None,
    title: str | None = None,
) -> Figure:
    """Leave-one-out forest plot: the pooled estimate with each study omitted in turn.

    Parameters
    ----------
    loo : LeaveOneOutResult
        From :func:`review.meta.leave_one_out`.
    ax, scale, xscale, xlim, digits, label_width, plot_width, width, title
        As :func:`forest`.

    Returns
    -------
    matplotlib.figure.Figure
        One row a left-out study (``Omitting <label>``) with the refitted estimate, its
        confidence interval, tau^2 and I^2, then the fit on all studies as a diamond; the
        dotted line marks the full estimate.

    References
    ----------
    Viechtbauer W, Cheung MWL. Outlier and influence diagnostics for meta-analysis.
    *Res Synth Methods* 2010;1:112-25.
    """
    from review.meta.results import LeaveOneOutResult

    if not isinstance(loo, LeaveOneOutResult):
        raise OptionError(
            f"forest_leave_one_out() takes a LeaveOneOutResult, got {type(loo).__name__}"
        )
    return _sensitivity_figure(
        loo,
        title=title,
        label=lambda r: f"Omitting {r.label}",
        header="Study omitted",
        ax=ax,
        scale=scale,
        xscale=xscale,
        xlim=xlim,
        digits=digits,
        label_width=label_width,
        plot_width=plot_width,
        width=width,
        extra_note="Each row refits the model without the named study.",
    )


def forest_cumulative(
    cum: Any,
    *,
    ax: Axes | None = None,
    scale: Scale | None = None,
    xscale: XScale = "linear",
    xlim: tuple[float, float] | None = None,
    digits: int | None = None,
    label_width: float = 2.0,
    plot_width: float = 2.0,
    width: float | None = None,
    title: str | None = None,
) -> Figure:
    """Cumulative forest plot: the pooled estimate as studies are added in order.

    Parameters
    ----------
    cum : CumulativeResult
        From :func:`review.meta.cumulative`.
    ax, scale, xscale, xlim, digits, label_width, plot_width, width, title
        As :func:`forest`.

    Returns
    -------
    matplotlib.figure.Figure
        One row a step (``+ <label> (k = 3)``) with the pooled estimate of the studies so
        far, its confidence interval, tau^2 and I^2.

    References
    ----------
    Lau J, Schmid CH, Chalmers TC. Cumulative meta-analysis of clinical trials builds
    evidence for exemplary medical care. *J Clin Epidemiol* 1995;48:45-57.
    """
    from review.meta.results import CumulativeResult

    if not isinstance(cum, CumulativeResult):
        raise OptionError(f"forest_cumulative() takes a CumulativeResult, got {type(cum).__name__}")
    order = cum.order or "input order"
    return _sensitivity_figure(
        cum,
        title=title,
        label=lambda r: f"+ {r.label} (k = {int(r.k)})",
        header="Study added",
        ax=ax,
        scale=scale,
        xscale=xscale,
        xlim=xlim,
        digits=digits,
        label_width=label_width,
        plot_width=plot_width,
        width=width,
        extra_note=f"Studies added in order of {order}.",
    )


def method_sensitivity_plot(
    sens: Any,
    *,
    ax: Axes | None = None,
    scale: Scale | None = None,
    xscale: XScale = "linear",
    xlim: tuple[float, float] | None = None,
    digits: int | None = None,
    label_width: float = 2.0,
    plot_width: float = 2.0,
    width: float | None = None,
    title: str | None = None,
) -> Figure:
    """One row a model: the same studies pooled by GLMM, logit, arcsine, Freeman-Tukey, raw.

    Parameters
    ----------
    sens : SensitivityResult
        From :func:`review.meta.method_sensitivity`.
    ax, scale, xscale, xlim, digits, label_width, plot_width, width, title
        As :func:`forest`.

    Returns
    -------
    matplotlib.figure.Figure
        One row a model with k, the pooled estimate and CI, the prediction interval as
        text, tau^2 and I^2 (each on its own model scale). A model without a number shows
        its ``status`` in the footnote instead of a made-up value.

    References
    ----------
    Lin L, Xu C, Chu H. Empirical comparisons of 12 meta-analysis methods for synthesizing
    proportions of binary outcomes. *J Gen Intern Med* 2022;37:308-17.
    """
    from review.meta._vocab import METHODS, RATE_MEASURES
    from review.meta.results import SensitivityResult

    if not isinstance(sens, SensitivityResult):
        raise OptionError(
            f"method_sensitivity_plot() takes a SensitivityResult, got {type(sens).__name__}"
        )
    table = sens.table.reset_index(drop=True)
    if table.empty:
        raise OptionError("The sensitivity table has no rows to draw")
    kind = "rate" if str(table["measure"].iloc[0]) in RATE_MEASURES else "proportion"

    s = _scale(SimpleNamespace(kind=kind, measure=str(table["measure"].iloc[0])), scale)
    if xscale not in ("linear", "log", "logit"):
        raise OptionError(f"Invalid xscale {xscale!r}; must be one of ['linear', 'log', 'logit']")
    d = s.digits if digits is None else int(digits)
    level = float(next(iter(sens.fits.values())).level) if sens.fits else 0.95
    rows: list[_Row] = []
    foot_status: list[str] = []
    for i, r in table.iterrows():
        ok = str(r.get("status", "ok")) == "ok" and np.isfinite(float(r["estimate"]))
        cells = {"label": str(r["model"]), "k": _fmt_count(r["k"])}
        if ok:
            cells["est"] = _fmt_est(float(r["estimate"]), s, d)
            cells["ci"] = _fmt_ci(float(r["ci_low"]), float(r["ci_high"]), s, d)
            if np.isfinite([float(r["pi_low"]), float(r["pi_high"])]).all():
                cells["pi"] = _fmt_ci(float(r["pi_low"]), float(r["pi_high"]), s, d)
            cells["tau2"] = fmt_x(float(r["tau2"]), 4)
            cells["i2"] = f"{fmt_x(float(r['i2']), 1)}%"
            glyph: tuple[Any, ...] | None = (
                "point",
                float(r["estimate"]),
                float(r["ci_low"]),
                float(r["ci_high"]),
            )
        else:
            cells["label"] += " ‡"
            foot_status.append(f"‡ {r['model']}: {r['status']}")
            glyph = None
        rows.append(_Row("study", f"model:{i}", cells, glyph=glyph))
    method = str(table["method"].iloc[-1])
    meth = METHODS[method].long_name if method in METHODS else method
    floored = table[(table["measure"] == "PFT") & (table["estimate"] == 0)]
    if len(floored):  # not a zero incidence: the back-transform's floor
        foot_status.append(
            "PFT: the back-transformed estimate is exactly 0 at the harmonic-mean sample size "
            "(the Freeman-Tukey back-transform floors at 0 when the pooled value is small; "
            "Schwarzer et al. 2019), not a zero incidence."
        )
    foot = [
        f"Each row pools the same studies with another model; inverse-variance rows use "
        f"the {meth} ({method}) for τ². τ² is on each model's own scale.",
        f"{_pct(level)} PI: {table['pi_method'].iloc[0]} method "
        "(see review.meta._vocab.PI_METHODS).",
        *foot_status,
    ]
    left = [_Col("label", "Model", "left"), _Col("k", "k")]
    right = [
        _Col("est", f"{s.header}\n[{_pct(level)} CI]", span_with_next=True),
        _Col("ci", ""),
        _Col("pi", f"{_pct(level)} PI"),
        _Col("tau2", "τ²"),
        _Col("i2", "I²"),
    ]
    t = _Table(
        left,
        right,
        rows,
        s.axis_label,
        s.mult,
        xscale,
        xlim,
        None,
        None,
        foot,
        label_width,
        plot_width,
        title,
        s.kind,
    )
    return _new_figure(t, ax, width)


def robustness_plot(
    sens: Any,
    *,
    ax: Axes | None = None,
    scale: Scale | None = None,
    xscale: XScale = "linear",
    xlim: tuple[float, float] | None = None,
    digits: int | None = None,
    label_width: float = 3.2,
    plot_width: float = 2.0,
    width: float | None = None,
    title: str | None = None,
) -> Figure:
    """The pooled estimate under each declared choice, each row naming what it changes.

    One row the analysis as declared (its estimate is the dotted reference line), then one
    row each exclusion set and alternative analysis the protocol declares
    (``sensitivity: exclude_sets, alternatives``), with the studies it leaves out or adds.

    Parameters
    ----------
    sens : SensitivityAnalyses
        From :func:`review.analysis.run_sensitivity` (its ``robustness`` table).
    ax, scale, xscale, xlim, digits, label_width, plot_width, width, title
        As :func:`forest`.

    Returns
    -------
    matplotlib.figure.Figure
        A row without an estimate (nothing left to pool) shows why in the footnote.

    References
    ----------
    Higgins JPT et al., eds. *Cochrane Handbook for Systematic Reviews of Interventions*,
    version 6.4, 2023, section 10.14 (sensitivity analyses).
    """
    table = getattr(sens, "robustness", None)
    res = getattr(getattr(sens, "result", None), "pooled", None)
    if not isinstance(table, pd.DataFrame) or res is None:
        raise OptionError(
            f"robustness_plot() takes a SensitivityAnalyses, got {type(sens).__name__}"
        )
    if table.empty:
        raise OptionError("The robustness table has no rows to draw")
    s = _scale(res, scale)
    if xscale not in ("linear", "log", "logit"):
        raise OptionError(f"Invalid xscale {xscale!r}; must be one of ['linear', 'log', 'logit']")
    d = s.digits if digits is None else int(digits)
    rows: list[_Row] = []
    foot_status: list[str] = []
    for i, r in table.reset_index(drop=True).iterrows():
        label = str(r["label"])
        if str(r["left_out"]):
            label += f" (left out: {r['left_out']})"
        if str(r["added"]):
            label += f" (added: {r['added']})"
        ok = np.isfinite(float(r["estimate"]))
        cells = {"label": label, "k": _fmt_count(r["k"]) if ok else "0"}
        glyph: tuple[Any, ...] | None = None
        if ok:
            cells["est"] = _fmt_est(float(r["estimate"]), s, d)
            cells["ci"] = _fmt_ci(float(r["ci_low"]), float(r["ci_high"]), s, d)
            glyph = ("point", float(r["estimate"]), float(r["ci_low"]), float(r["ci_high"]))
        else:
            cells["label"] += " ‡"
            foot_status.append(f"‡ {r['label']}: {r['note'] or 'not pooled'}")
        rows.append(_Row("study", f"choice:{i}", cells, bold=i == 0, glyph=glyph))
    foot = [
        f"Each row pools the analysis's studies under one declared choice; k counts studies. "
        f"Model: {res.measure}, {res.method}; {_pct(res.level)} CIs. Dotted line: the "
        "analysis as declared.",
        *foot_status,
    ]
    left = [_Col("label", "Choice", "left"), _Col("k", "k")]
    right = [
        _Col("est", f"{s.header}\n[{_pct(res.level)} CI]", span_with_next=True),
        _Col("ci", ""),
    ]
    t = _Table(
        left,
        right,
        rows,
        s.axis_label,
        s.mult,
        xscale,
        xlim,
        float(table["estimate"].iloc[0]),
        None,
        foot,
        label_width,
        plot_width,
        title,
        s.kind,
    )
    return _new_figure(t, ax, width)
