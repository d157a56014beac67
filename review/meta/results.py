"""Frozen result objects of the meta-analysis engine.

Every result keeps full precision; rounding happens only in ``summary()``,
``_repr_html_()`` and ``__repr__`` through :mod:`review._format`. Each result has
``summary()`` (plain text in metafor's print layout), ``to_frame()`` (a tidy
DataFrame) and ``_repr_html_()`` (the same content for JupyterLab).

A :class:`PoolResult` keeps the validated input frame and the options it was fitted
with (``data`` and ``options``), so that leave-one-out, cumulative, subgroup and
influence analyses refit it generically, whichever engine made it (inverse-variance
or GLMM).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from review._format import clip_proportion, fmt_p, fmt_shown, fmt_x
from review.meta._design import ModeratorDesign
from review.meta._vocab import METHODS, PI_METHODS, TESTS

__all__ = [
    "CumulativeResult",
    "FTGuardrailResult",
    "FixedEffect",
    "InfluenceResult",
    "LeaveOneOutResult",
    "LinkScale",
    "MetaRegressionResult",
    "PoolResult",
    "RegtestResult",
    "SensitivityResult",
    "SubgroupResult",
    "Tau2CI",
]


def _rows(frame: pd.DataFrame) -> Iterable[Any]:
    """``frame.itertuples()``; a printed table's columns differ in type, so its rows are ``Any``."""
    return frame.itertuples()


def _html_table(title: str, text: str, frame: pd.DataFrame | None) -> str:
    body = f"<pre>{html.escape(text)}</pre>"
    if frame is not None:
        body += frame.to_html(index=False, float_format=lambda x: fmt_shown(x, 4), na_rep="NA")
    return f"<div><strong>{html.escape(title)}</strong>{body}</div>"


def _shown_bounds(kind: str, values: tuple[float, ...]) -> tuple[tuple[float, ...], list[str]]:
    """(estimate, ci.lb, ci.ub, pi.lb, pi.ub) as shown: a proportion's bounds cut to [0, 1].

    Returns the values to print and the notes saying which interval was cut and from what.
    """
    if kind != "proportion":
        return values, []
    est, cl, ch, pl, ph = values
    cl, ch, n1 = clip_proportion(cl, ch)
    pl, ph, n2 = clip_proportion(pl, ph)
    notes = [f"{what} {n}" for what, n in (("CI", n1), ("PI", n2)) if n]
    return (est, cl, ch, pl, ph), notes


def _shown_frame(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a results frame for display: a proportion's bounds cut to [0, 1]."""
    if kind != "proportion":
        return frame
    out = frame.copy()
    for col in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="coerce").clip(lower=0.0, upper=1.0)
    return out


def _kind_of_measures(table: pd.DataFrame) -> str:
    """``"rate"`` when a table's models pool rates, else ``"proportion"``."""
    from review.meta._vocab import RATE_MEASURES

    m = table["measure"].dropna().astype(str) if "measure" in table.columns else pd.Series()
    return "rate" if len(m) and m.iloc[0] in RATE_MEASURES else "proportion"


def _pv(p: float, digits: int = 4, word: str = "p-val") -> str:
    """``p-val < .0001`` or ``p-val = .1231``, as metafor's print methods."""
    t = fmt_p(p, digits)
    return f"{word} < {t[1:]}" if t.startswith("<") else f"{word} = {t}"


def _sig(p: float) -> str:
    if p != p:  # NaN
        return ""
    for cut, s in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return s
    return ""


#: Columns of a result table that hold estimates: blank (NaN) in a row whose fit did not
#: converge, so no exported table shows a last iterate as a result.
ESTIMATE_COLUMNS = (
    "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "link_estimate", "se", "zval", "pval",
    "link_ci_low", "link_ci_high", "q", "q_pvalue", "tau2", "i2", "h2",
)  # fmt: skip


def blank_not_converged(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` with :data:`ESTIMATE_COLUMNS` NaN where ``converged`` is False."""
    out = table.copy()
    if "converged" not in out.columns or out["converged"].astype(bool).all():
        return out
    bad = ~out["converged"].astype(bool).to_numpy()
    for c in ESTIMATE_COLUMNS:
        if c in out.columns:
            out[c] = out[c].astype(float)
            out.loc[bad, c] = float("nan")
    return out


@dataclass(frozen=True, slots=True)
class LinkScale:
    """The pooled estimate on the model (link) scale, as metafor reports it.

    Attributes
    ----------
    estimate, se : float
        Pooled estimate and its standard error on the model scale (logit, arcsine, log, ...).
    zval, pval : float
        Test statistic (z, or t under ``test="knha"``) and its two-sided p-value.
    ci_low, ci_high : float
        Confidence interval on the model scale.
    pi_low, pi_high : float
        Prediction interval on the model scale (NaN for a fixed-effect model is not used:
        metafor then reports the CI, and so do we).
    df : float or None
        Degrees of freedom of the t-distribution (``k - p`` under ``knha``), ``None`` for z.
    pi_df : float or None
        Degrees of freedom used by the prediction interval, ``None`` for a normal quantile.
    pi_se : float
        ``sqrt(tau2 + se^2)``, the standard deviation used by the prediction interval.
    """

    estimate: float
    se: float
    zval: float
    pval: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    df: float | None = None
    pi_df: float | None = None
    pi_se: float = float("nan")


@dataclass(frozen=True, slots=True)
class FixedEffect:
    """The common-effect (fixed-effect, inverse-variance) companion of a random-effects fit.

    Attributes
    ----------
    estimate, ci_low, ci_high : float
        On the proportion or rate scale.
    link_estimate, link_se : float
        On the model scale.
    """

    estimate: float
    ci_low: float
    ci_high: float
    link_estimate: float
    link_se: float


@dataclass(frozen=True, slots=True)
class Tau2CI:
    """A confidence interval for tau^2 (and I^2, H^2 at its ends).

    Attributes
    ----------
    method : {"Q-profile", "profile likelihood"}
        How the interval was found (Viechtbauer 2007; Hardy & Thompson 1996).
    level : float
        Confidence level.
    tau2, tau2_low, tau2_high : float
        Estimate and interval for tau^2.
    i2, i2_low, i2_high : float
        The same on the I^2 scale (percent), computed from tau^2 as metafor ``confint``.
    h2, h2_low, h2_high : float
        The same on the H^2 scale.
    notes : tuple of str
        Bounds that could not be found (the interval is then open on that side, value 0
        or NaN as metafor reports it).
    """

    method: str
    level: float
    tau2: float
    tau2_low: float
    tau2_high: float
    i2: float
    i2_low: float
    i2_high: float
    h2: float
    h2_low: float
    h2_high: float
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """Rows tau^2, tau, I^2(%), H^2; columns estimate, ci_low, ci_high."""
        import math

        rows = [
            ("tau^2", self.tau2, self.tau2_low, self.tau2_high),
            (
                "tau",
                math.sqrt(self.tau2),
                math.sqrt(self.tau2_low) if self.tau2_low == self.tau2_low else float("nan"),
                math.sqrt(self.tau2_high) if self.tau2_high == self.tau2_high else float("nan"),
            ),
            ("I^2(%)", self.i2, self.i2_low, self.i2_high),
            ("H^2", self.h2, self.h2_low, self.h2_high),
        ]
        return pd.DataFrame(rows, columns=["parameter", "estimate", "ci_low", "ci_high"])

    def summary(self) -> str:
        """Text in the layout of metafor's ``print.confint.rma``."""
        f = self.to_frame()
        lines = [f"{self.method} confidence interval ({100 * self.level:g}%)", ""]
        lines.append(f"{'':8s}{'estimate':>10s}{'ci.lb':>10s}{'ci.ub':>10s}")
        for r in _rows(f):
            lines.append(
                f"{r.parameter:8s}{fmt_x(r.estimate):>10s}{fmt_x(r.ci_low):>10s}"
                f"{fmt_x(r.ci_high):>10s}"
            )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return _html_table("tau^2 confidence interval", self.summary(), None)

    def __repr__(self) -> str:
        return (
            f"Tau2CI({self.method}, tau2={fmt_x(self.tau2)}, "
            f"[{fmt_x(self.tau2_low)}, {fmt_x(self.tau2_high)}])"
        )


@dataclass(frozen=True, slots=True, eq=False)
class PoolResult:
    """A pooled estimate of a proportion or an incidence rate.

    Attributes
    ----------
    measure : str
        metafor's measure code (``PR``, ``PLO``, ``PAS``, ``PFT``, ``IR``, ``IRLN``).
    method : str
        tau^2 estimator code (``FE``, ``DL``, ``REML``, ..., ``GLMM``).
    test : str
        ``"z"`` or ``"knha"``.
    level : float
        Confidence level of the intervals (0.95 by default).
    k : int
        Number of studies in the fit (after dropping unusable rows).
    estimate, ci_low, ci_high : float
        Pooled value and confidence interval on the proportion (0-1) or rate scale
        (events per unit of the person-time column).
    pi_low, pi_high : float
        Prediction interval on the same scale.
    pi_method : str
        Prediction-interval code (``"metafor"`` or ``"riley"``), see ``_vocab.PI_METHODS``.
    tau2 : float
        Between-study variance on the model scale (0 for FE).
    tau2_ci : tuple of float
        Q-profile confidence interval for tau^2 ``(lo, hi)`` (NaN when not available).
    i2 : float
        I^2 in percent, as metafor's ``I2``.
    h2 : float
        H^2.
    q, q_df, q_pvalue : float, int, float
        Cochran's Q test for heterogeneity (metafor's ``QE``, ``k - 1``, ``QEp``).
    link : LinkScale
        The model-scale estimate, SE, test statistic, p-value, CI and PI.
    studies : pandas.DataFrame
        One row a study used in the fit: ``label, events, n`` (or ``time``), ``yi, vi``
        (model scale, after any correction), ``estimate, ci_low, ci_high`` (exact
        Clopper-Pearson / exact Poisson interval on the raw data), ``weight`` (percent),
        ``corrected`` (bool).
    fixed : FixedEffect or None
        The common-effect estimate (``None`` for GLMM fits or when not computed).
    notes : tuple of str
        Continuity corrections, dropped rows, convergence, back-transform caveats.
    converged : bool
        Whether every iterative step converged. ``False`` values are always explained
        in ``notes``.
    kind : {"proportion", "rate"}
        Which entry point made the fit.
    tau2_se : float
        Standard error of tau^2 (metafor's ``se.tau2``; NaN where metafor gives none).
    data : pandas.DataFrame
        The validated input, one row a study with columns ``label, events, n`` (or
        ``time``) plus any other columns of the original frame (for subgroups and
        moderators). Dropped rows are kept out of ``studies`` but recorded in
        ``data_report``.
    options : Mapping
        The keyword options of the call (measure, method, test, level, pi_method, add, to,
        ...), enough to refit on a subset of ``data``.
    data_report : pandas.DataFrame
        One row an input study: ``label, status`` (``used``, ``corrected``, ``dropped``),
        ``reason``.
    fit_stats : Mapping of str to float
        ``logLik, deviance, AIC, BIC, AICc`` as metafor's ``fitstats`` (ML/REML/GLMM), else
        empty.
    tau2_ci_method : str
        How ``tau2_ci`` was computed.
    i2_method : {"tau2", "Q"}
        How ``i2`` and ``h2`` were computed (``_vocab.I2_METHODS``): from tau^2 (metafor)
        or from Q (R meta's ``method.I2="Q"``).
    study_ci : str
        The per-study interval of ``studies`` (``_vocab.STUDY_CIS``, R meta's
        ``method.ci`` codes): ``CP`` (Clopper-Pearson), ``Poisson`` (exact), ``NAsm``, ...
    """

    measure: str
    method: str
    test: str
    level: float
    k: int
    estimate: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    pi_method: str
    tau2: float
    tau2_ci: tuple[float, float]
    i2: float
    h2: float
    q: float
    q_df: int
    q_pvalue: float
    link: LinkScale
    studies: pd.DataFrame
    fixed: FixedEffect | None
    notes: tuple[str, ...]
    converged: bool
    kind: str = "proportion"
    tau2_se: float = float("nan")
    data: pd.DataFrame = field(default_factory=pd.DataFrame)
    options: Mapping[str, Any] = field(default_factory=dict)
    data_report: pd.DataFrame = field(default_factory=pd.DataFrame)
    fit_stats: Mapping[str, float] = field(default_factory=dict)
    tau2_ci_method: str = "Q-profile"
    i2_method: str = "tau2"
    study_ci: str = ""

    # ------------------------------------------------------------------ display
    def conventions(self) -> str:
        """One line naming the conventions of the numbers shown (CI, PI, I^2, study CIs).

        Every table and figure of a result prints it, so a reader can tell a metafor-style
        report from an R meta-style one.
        """
        from review.meta._vocab import DEFAULT_STUDY_CI, STUDY_CIS

        ci = "t(k-1), Hartung-Knapp" if self.test == "knha" else "z"
        if self.method == "GLMM" and self.test == "knha":
            ci = "t(k-1) (rma.glmm test='t')"
        df = self.link.pi_df
        pi = "z" if df is None else f"t({df:g} df)"
        sci = self.study_ci or DEFAULT_STUDY_CI.get(self.kind, "CP")
        i2 = "I^2 from tau^2" if self.i2_method == "tau2" else "I^2 from Q, (Q - df)/Q"
        if self.method == "FE" and self.i2_method == "tau2":
            i2 = "I^2 from Q (common-effect model)"
        return (
            f"Conventions: CI {ci}; PI {pi} [{self.pi_method}]; {i2} [{self.i2_method}]; "
            f"study CIs {STUDY_CIS[sci].long_name} [{sci}]"
        )

    @property
    def scale_word(self) -> str:
        """``"proportion"`` or ``"rate"``."""
        return "rate" if self.kind == "rate" else "proportion"

    def methods_sentence(self) -> str:
        """One sentence describing the model, for a report's methods section."""
        from review.meta._vocab import MEASURES

        m = MEASURES[self.measure]
        meth = METHODS[self.method]
        tst = TESTS[self.test]
        pim = PI_METHODS[self.pi_method]
        return (
            f"Random-effects meta-analysis of the {m.long_name} ({self.measure}) with the "
            f"{meth.long_name} ({meth.citation}); inference: {tst.long_name}; prediction "
            f"interval {pim.long_name}; back-transform {m.back_name}."
            if self.method != "FE"
            else f"Fixed-effect (inverse-variance) meta-analysis of the {m.long_name} "
            f"({self.measure}); inference: {tst.long_name}; back-transform {m.back_name}."
        )

    def summary(self, digits: int = 4) -> str:
        """Plain text in the layout of metafor's ``print.rma.uni``."""
        d = digits
        L = self.link
        out: list[str] = []
        if self.method == "FE":
            out.append(f"Fixed-Effects Model (k = {self.k})")
        elif self.method == "GLMM":
            out.append(f"Random-Effects Model (k = {self.k}; tau^2 estimator: ML, GLMM)")
        else:
            out.append(f"Random-Effects Model (k = {self.k}; tau^2 estimator: {self.method})")
        out.append(f"Measure: {self.measure}; test: {self.test}; level: {100 * self.level:g}%")
        out.append("")
        if self.fit_stats:
            names = ["logLik", "deviance", "AIC", "BIC", "AICc"]
            out.append("  " + "".join(f"{n:>11s}" for n in names))
            out.append("  " + "".join(f"{fmt_x(self.fit_stats.get(n), d):>11s}" for n in names))
            out.append("")
        if self.method != "FE":
            import math

            tse = "" if self.tau2_se != self.tau2_se else f" (SE = {fmt_x(self.tau2_se, d)})"
            out.append(
                f"tau^2 (estimated amount of total heterogeneity): {fmt_x(self.tau2, d)}{tse}"
            )
            out.append(
                f"tau (square root of estimated tau^2 value):      "
                f"{fmt_x(math.sqrt(self.tau2) if self.tau2 == self.tau2 else self.tau2, d)}"
            )
        out.append(f"I^2 (total heterogeneity / total variability):   {self.i2:.2f}%")
        out.append(f"H^2 (total variability / sampling variability):  {self.h2:.2f}")
        if self.method != "FE" and self.tau2_ci[0] == self.tau2_ci[0]:
            out.append(
                f"tau^2 {100 * self.level:g}% CI ({self.tau2_ci_method}): "
                f"[{fmt_x(self.tau2_ci[0], d)}, {fmt_x(self.tau2_ci[1], d)}]"
            )
        out.append("")
        out.append("Test for Heterogeneity:")
        qp = _pv(self.q_pvalue, d)
        out.append(f"Q(df = {self.q_df}) = {fmt_x(self.q, d)}, {qp}")
        out.append("")
        out.append("Model Results (model scale):")
        out.append("")
        stat = "tval" if L.df is not None else "zval"
        hdr = ["estimate", "se", stat]
        if L.df is not None:
            hdr.append("df")
        hdr += ["pval", "ci.lb", "ci.ub"]
        out.append("".join(f"{h:>10s}" for h in hdr))
        row = [fmt_x(L.estimate, d), fmt_x(L.se, d), fmt_x(L.zval, d)]
        if L.df is not None:
            row.append(f"{L.df:g}")
        lcl, lch = L.ci_low, L.ci_high
        if self.measure == "PR":  # the identity link: the model scale is the proportion
            lcl, lch, _ = clip_proportion(lcl, lch)
        row += [fmt_p(L.pval, d), fmt_shown(lcl, d), fmt_shown(lch, d)]
        out.append("".join(f"{v:>10s}" for v in row) + f" {_sig(L.pval)}")
        out.append("")
        out.append("---")
        out.append("Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
        out.append("")
        out.append(f"Pooled {self.scale_word} (back-transformed):")
        out.append(f"{'pred':>10s}{'ci.lb':>10s}{'ci.ub':>10s}{'pi.lb':>10s}{'pi.ub':>10s}")
        shown, cut = _shown_bounds(
            self.kind, (self.estimate, self.ci_low, self.ci_high, self.pi_low, self.pi_high)
        )
        out.append("".join(f"{fmt_shown(v, d):>10s}" for v in shown))
        out.append(f"Prediction interval: {PI_METHODS[self.pi_method].long_name}.")
        out.append(self.conventions() + ".")
        if not self.converged:
            out.append("WARNING: the fit did not converge; see notes.")
        for n in (*cut, *self.notes):
            out.append(f"Note: {n}")
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """Per-study rows plus pooled rows, as statsmodels' ``summary_frame``.

        Columns: ``label, estimate, ci_low, ci_high, pi_low, pi_high, weight, kind,
        pi_method, study_ci, i2_method`` where ``kind`` is ``study``, ``random`` (or
        ``GLMM``) or ``fixed``; the last three name the conventions (``_vocab``).
        Study intervals are those of ``study_ci`` (default exact Clopper-Pearson /
        exact Poisson).
        """
        s = self.studies
        rows = pd.DataFrame(
            {
                "label": s["label"].astype(str) if len(s) else pd.Series(dtype=str),
                "estimate": s["estimate"] if len(s) else pd.Series(dtype=float),
                "ci_low": s["ci_low"] if len(s) else pd.Series(dtype=float),
                "ci_high": s["ci_high"] if len(s) else pd.Series(dtype=float),
                "pi_low": float("nan"),
                "pi_high": float("nan"),
                "weight": s["weight"] if len(s) else pd.Series(dtype=float),
                "kind": "study",
            }
        )
        pooled = [
            {
                "label": f"{'RE' if self.method not in ('FE', 'GLMM') else self.method} "
                f"model ({self.measure}, {self.method}, {self.test})",
                "estimate": self.estimate,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "pi_low": self.pi_low,
                "pi_high": self.pi_high,
                "weight": 100.0,
                "kind": "fixed" if self.method == "FE" else "random",
            }
        ]
        if self.fixed is not None and self.method != "FE":
            pooled.append(
                {
                    "label": f"FE model ({self.measure})",
                    "estimate": self.fixed.estimate,
                    "ci_low": self.fixed.ci_low,
                    "ci_high": self.fixed.ci_high,
                    "pi_low": float("nan"),
                    "pi_high": float("nan"),
                    "weight": float("nan"),
                    "kind": "fixed",
                }
            )
        if not self.converged:  # the last iterate is not an estimate: blank, and say so
            for row in pooled:
                row["label"] = f"{row['label']} (did not converge)"
                row.update({c: float("nan") for c in ESTIMATE_COLUMNS if c in row})
        out = pd.concat([rows, pd.DataFrame(pooled)], ignore_index=True)
        out["pi_method"] = self.pi_method
        from review.meta._vocab import DEFAULT_STUDY_CI

        out["study_ci"] = self.study_ci or DEFAULT_STUDY_CI.get(self.kind, "CP")
        out["i2_method"] = self.i2_method
        return out

    def _repr_html_(self) -> str:
        return _html_table(
            f"Pooled {self.scale_word}: {self.measure}, {self.method}, {self.test}",
            self.summary(),
            _shown_frame(self.kind, self.to_frame()),
        )

    def __repr__(self) -> str:
        return (
            f"PoolResult({self.measure}/{self.method}/{self.test}, k={self.k}, "
            f"estimate={fmt_x(self.estimate)} [{fmt_x(self.ci_low)}, {fmt_x(self.ci_high)}], "
            f"tau2={fmt_x(self.tau2)}, I2={self.i2:.1f}%"
            f"{'' if self.converged else ', NOT CONVERGED'})"
        )


@dataclass(frozen=True, slots=True, eq=False)
class SubgroupResult:
    """A subgroup analysis with tests for subgroup differences.

    Attributes
    ----------
    by : str
        The grouping column.
    groups : Mapping of str to PoolResult
        One separate fit a subgroup (separate tau^2 per subgroup, as meta's default).
    table : pandas.DataFrame
        One row a subgroup: ``group, k, estimate, ci_low, ci_high, pi_low, pi_high, tau2,
        i2, q, q_pvalue, link_estimate, link_se``.
    q_between, q_between_df, q_between_pvalue : float, int, float
        Test for subgroup differences with **separate** tau^2 per subgroup: Cochran's Q of
        the subgroup estimates with their own SEs (a fixed-effect test between groups), as
        R meta's ``Q.b.random`` (Borenstein et al. 2009, ch. 19).
    qm, qm_df, qm_pvalue : float, int, float
        Omnibus moderator test of the mixed-effects model ``mods = ~ factor(by)`` with one
        **common** tau^2, as metafor ``rma(..., mods = ~ factor(by))`` (``QM``; an F-test
        under ``knha``, see ``qm_dist``).
    qm_dist : {"chisq", "F"}
        Distribution of ``qm``.
    qm_df2 : float or None
        Denominator df of the F-test under ``knha``.
    tau2_common : float
        Residual tau^2 of the common-tau^2 model.
    overall : PoolResult
        The fit on all studies.
    notes : tuple of str
    """

    by: str
    groups: Mapping[str, PoolResult]
    table: pd.DataFrame
    q_between: float
    q_between_df: int
    q_between_pvalue: float
    qm: float
    qm_df: int
    qm_pvalue: float
    qm_dist: str
    qm_df2: float | None
    tau2_common: float
    overall: PoolResult
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> str:
        """Subgroup table and both tests for subgroup differences."""
        d = digits
        out = [
            f"Subgroup analysis by {self.by!r} ({self.overall.measure}, "
            f"{self.overall.method}, {self.overall.test}; k = {self.overall.k})",
            "",
        ]
        out.append(
            f"{'group':<20s}{'k':>4s}{'estimate':>10s}{'ci.lb':>10s}{'ci.ub':>10s}"
            f"{'tau2':>10s}{'I2(%)':>8s}"
        )
        for r in _rows(self.table):
            out.append(
                f"{r.group!s:<20.20s}{r.k:>4d}{fmt_x(r.estimate, d):>10s}"
                f"{fmt_x(r.ci_low, d):>10s}{fmt_x(r.ci_high, d):>10s}{fmt_x(r.tau2, d):>10s}"
                f"{r.i2:>8.1f}"
            )
        out.append("")
        out.append(
            "Test for subgroup differences, separate tau^2 (R meta, Q between): "
            f"Q(df = {self.q_between_df}) = {fmt_x(self.q_between, d)}, "
            f"{_pv(self.q_between_pvalue, d)}"
        )
        stat = "F" if self.qm_dist == "F" else "QM"
        dfs = (
            f"df1 = {self.qm_df}, df2 = {self.qm_df2:g}"
            if self.qm_dist == "F"
            else f"df = {self.qm_df}"
        )
        out.append(
            "Test of moderators, common tau^2 (metafor mods = ~ factor): "
            f"{stat}({dfs}) = {fmt_x(self.qm, d)}, {_pv(self.qm_pvalue, d)}"
        )
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The subgroup table (one row a subgroup)."""
        return self.table.copy()

    def _repr_html_(self) -> str:
        return _html_table(f"Subgroups by {self.by}", self.summary(), self.table)

    def __repr__(self) -> str:
        return (
            f"SubgroupResult(by={self.by!r}, groups={len(self.groups)}, "
            f"Q_between={fmt_x(self.q_between)}, p={fmt_p(self.q_between_pvalue)})"
        )


@dataclass(frozen=True, slots=True, eq=False)
class LeaveOneOutResult:
    """Leave-one-out refits (metafor ``leave1out``), generic over the fitting engine.

    Attributes
    ----------
    table : pandas.DataFrame
        One row a left-out study: ``label, estimate, ci_low, ci_high, pi_low, pi_high``
        (back scale), ``link_estimate, se, zval, pval, link_ci_low, link_ci_high`` (model
        scale), ``q, q_pvalue, tau2, i2, h2, converged``.
    base : PoolResult
        The fit on all studies.
    notes : tuple of str
    """

    table: pd.DataFrame
    base: PoolResult
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> str:
        """One line a left-out study."""
        d = digits
        out = [f"Leave-one-out ({self.base.measure}, {self.base.method}, {self.base.test})", ""]
        out.append(
            f"{'omitted':<20s}{'estimate':>10s}{'ci.lb':>10s}{'ci.ub':>10s}{'tau2':>10s}"
            f"{'I2(%)':>8s}"
        )
        for r in _rows(self.table):
            out.append(
                f"{r.label!s:<20.20s}{fmt_x(r.estimate, d):>10s}{fmt_x(r.ci_low, d):>10s}"
                f"{fmt_x(r.ci_high, d):>10s}{fmt_x(r.tau2, d):>10s}{r.i2:>8.1f}"
                f"{'' if r.converged else '  (not converged)'}"
            )
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The leave-one-out table; rows that did not converge have no numbers."""
        return blank_not_converged(self.table)

    def _repr_html_(self) -> str:
        return _html_table("Leave-one-out", self.summary(), self.table)

    def __repr__(self) -> str:
        return f"LeaveOneOutResult(k={len(self.table)}, base={self.base!r})"


@dataclass(frozen=True, slots=True, eq=False)
class InfluenceResult:
    """Case-deletion diagnostics as metafor ``influence.rma.uni``.

    Attributes
    ----------
    table : pandas.DataFrame
        One row a study: ``label, rstudent, dffits, cook_d, cov_r, tau2_del, qe_del, hat,
        weight`` (percent), ``dfbs``, ``influential`` (metafor's ``inf`` flag).
    base : PoolResult
    notes : tuple of str
    """

    table: pd.DataFrame
    base: PoolResult
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> str:
        """The diagnostics table, influential studies starred as metafor."""
        cols = [
            "rstudent",
            "dffits",
            "cook_d",
            "cov_r",
            "tau2_del",
            "qe_del",
            "hat",
            "weight",
            "dfbs",
        ]
        out = ["Influence diagnostics (metafor influence.rma.uni)", ""]
        out.append(f"{'label':<16s}" + "".join(f"{c:>10s}" for c in cols) + "  inf")
        for _, r in self.table.iterrows():
            out.append(
                f"{r['label']!s:<16.16s}"
                + "".join(f"{fmt_x(r[c], digits):>10s}" for c in cols)
                + ("    *" if r["influential"] else "")
            )
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The diagnostics table; rows that did not converge have no numbers."""
        return blank_not_converged(self.table)

    def _repr_html_(self) -> str:
        return _html_table("Influence diagnostics", self.summary(), self.table)

    def __repr__(self) -> str:
        return (
            f"InfluenceResult(k={len(self.table)}, "
            f"influential={int(self.table['influential'].sum())})"
        )


@dataclass(frozen=True, slots=True, eq=False)
class RegtestResult:
    """Regression test for funnel-plot asymmetry (metafor ``regtest``).

    Attributes
    ----------
    predictor : str
        ``"sei"`` (Egger), ``"vi"``, ``"ninv"`` (Peters), ``"sqrtninv"``.
    model : {"rma", "lm"}
        Mixed-effects meta-regression (metafor default) or weighted regression with a
        multiplicative dispersion term (classical Egger).
    zval, pval : float
        Test statistic for the predictor's coefficient (t under ``knha`` or ``lm``) and its
        p-value.
    df : float or None
        Degrees of freedom for t, ``None`` for z.
    est, ci_low, ci_high : float
        Limit estimate (the intercept: estimate as the predictor goes to 0), on the model
        scale.
    slope, slope_se : float
        The predictor's coefficient and SE.
    k : int
    notes : tuple of str
        Includes the k < 10 caution (Sterne et al. 2011).
    """

    predictor: str
    model: str
    zval: float
    pval: float
    df: float | None
    est: float
    ci_low: float
    ci_high: float
    slope: float
    slope_se: float
    k: int
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> str:
        """Text in the layout of metafor's ``print.regtest``."""
        d = digits
        stat = "t" if self.df is not None else "z"
        dfs = f", df = {self.df:g}" if self.df is not None else ""
        model = (
            "mixed-effects meta-regression model"
            if self.model == "rma"
            else "weighted regression with multiplicative dispersion"
        )
        out = [
            "Regression Test for Funnel Plot Asymmetry",
            "",
            f"Model:     {model}",
            f"Predictor: {self.predictor}",
            "",
            f"Test for Funnel Plot Asymmetry: {stat} = {fmt_x(self.zval, d)}{dfs}, "
            f"{_pv(self.pval, d, 'p')}",
            f"Limit Estimate (as predictor -> 0): b = {fmt_x(self.est, d)} "
            f"(CI: {fmt_x(self.ci_low, d)}, {fmt_x(self.ci_high, d)})",
        ]
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """One row: the test and the limit estimate."""
        return pd.DataFrame(
            [
                {
                    "predictor": self.predictor,
                    "model": self.model,
                    "stat": self.zval,
                    "df": self.df,
                    "pval": self.pval,
                    "slope": self.slope,
                    "slope_se": self.slope_se,
                    "limit_estimate": self.est,
                    "limit_ci_low": self.ci_low,
                    "limit_ci_high": self.ci_high,
                    "k": self.k,
                }
            ]
        )

    def _repr_html_(self) -> str:
        return _html_table("Regression test", self.summary(), None)

    def __repr__(self) -> str:
        return f"RegtestResult({self.predictor}, stat={fmt_x(self.zval)}, p={fmt_p(self.pval)})"


@dataclass(frozen=True, slots=True, eq=False)
class MetaRegressionResult:
    """A mixed-effects meta-regression (metafor ``rma(yi, vi, mods = ~ ...)``).

    Attributes
    ----------
    mods : tuple of str
        Moderator columns.
    coefficients : pandas.DataFrame
        One row a coefficient (``intrcpt`` first): ``term, estimate, se, zval, pval,
        ci_low, ci_high`` (``zval`` is t under ``knha``).
    qm, qm_df, qm_pvalue : float, int, float
        Omnibus test of the moderators (chi-square, or F under ``knha``).
    qm_dist : {"chisq", "F"}
    qm_df2 : float or None
    qe, qe_df, qe_pvalue : float, int, float
        Test for residual heterogeneity.
    tau2 : float
        Residual tau^2.
    i2, h2 : float
        Residual I^2 (percent) and H^2.
    r2 : float
        Percent of heterogeneity accounted for, as metafor: ``max(0, 100 (tau2_0 - tau2) /
        tau2_0)`` against the intercept-only model; NaN for FE.
    k : int
    measure, method, test : str
    level : float
    vcov : pandas.DataFrame
    converged : bool
    notes : tuple of str
    qe_lrt, qe_lrt_pvalue : float
        GLMM fits: the likelihood-ratio test for residual heterogeneity (metafor
        ``QE.LRT``); ``qe`` is then the Wald-type test (``QE.Wld``). NaN otherwise.
    fit_stats : Mapping of str to float
        ``logLik, deviance, AIC, BIC, AICc`` of the fit (metafor ``fitstats``).
    design : ModeratorDesign or None
        How the moderators were coded (numeric, or factor levels with the reference
        first), so that :func:`review.meta.predict` codes new values the same way.
    X : pandas.DataFrame
        The design matrix of the fitted studies (one column a term).
    studies : pandas.DataFrame
        One row a fitted study: ``label, yi, vi`` (model scale) and, for proportions,
        ``n`` (used by the PFT back-transform); the outcomes the fit used (the GLMM's
        plotted ``yi``/``vi``, which it does not fit).
    base : PoolResult or None
        The intercept-only fit the regression was made from (its options are reused).
    tau2_se : float
        Standard error of tau^2 (metafor ``se.tau2``; NaN where metafor gives none).
    """

    mods: tuple[str, ...]
    coefficients: pd.DataFrame
    qm: float
    qm_df: int
    qm_pvalue: float
    qm_dist: str
    qm_df2: float | None
    qe: float
    qe_df: int
    qe_pvalue: float
    tau2: float
    i2: float
    h2: float
    r2: float
    k: int
    measure: str
    method: str
    test: str
    level: float
    vcov: pd.DataFrame
    converged: bool = True
    notes: tuple[str, ...] = ()
    qe_lrt: float = float("nan")
    qe_lrt_pvalue: float = float("nan")
    fit_stats: Mapping[str, float] = field(default_factory=dict)
    design: ModeratorDesign | None = None
    X: pd.DataFrame = field(default_factory=pd.DataFrame)
    studies: pd.DataFrame = field(default_factory=pd.DataFrame)
    base: PoolResult | None = None
    tau2_se: float = float("nan")

    def summary(self, digits: int = 4) -> str:
        """Text in the layout of metafor's ``print.rma.uni`` for a model with moderators."""
        d = digits
        est = "ML, GLMM" if self.method == "GLMM" else self.method
        out = [f"Mixed-Effects Model (k = {self.k}; tau^2 estimator: {est})", ""]
        out.append(f"tau^2 (estimated amount of residual heterogeneity):     {fmt_x(self.tau2, d)}")
        out.append(f"I^2 (residual heterogeneity / unaccounted variability): {self.i2:.2f}%")
        out.append(f"H^2 (unaccounted variability / sampling variability):   {self.h2:.2f}")
        out.append(f"R^2 (amount of heterogeneity accounted for):            {self.r2:.2f}%")
        out.append("")
        if self.qe_lrt == self.qe_lrt:  # a GLMM: both of metafor's tests
            out.append("Tests for Residual Heterogeneity:")
            out.append(f"Wld(df = {self.qe_df}) = {fmt_x(self.qe, d)}, {_pv(self.qe_pvalue, d)}")
            out.append(
                f"LRT(df = {self.qe_df}) = {fmt_x(self.qe_lrt, d)}, {_pv(self.qe_lrt_pvalue, d)}"
            )
        else:
            out.append("Test for Residual Heterogeneity:")
            out.append(f"QE(df = {self.qe_df}) = {fmt_x(self.qe, d)}, {_pv(self.qe_pvalue, d)}")
        out.append("")
        coefs = ", ".join(str(i + 2) for i in range(self.qm_df))
        if self.qm_dist == "F":
            out.append(f"Test of Moderators (coefficients {coefs}):")
            out.append(
                f"F(df1 = {self.qm_df}, df2 = {self.qm_df2:g}) = {fmt_x(self.qm, d)}, "
                f"{_pv(self.qm_pvalue, d)}"
            )
        else:
            out.append(f"Test of Moderators (coefficients {coefs}):")
            out.append(f"QM(df = {self.qm_df}) = {fmt_x(self.qm, d)}, {_pv(self.qm_pvalue, d)}")
        out.append("")
        out.append("Model Results:")
        out.append("")
        stat = "tval" if self.qm_dist == "F" else "zval"
        out.append(
            f"{'':16s}{'estimate':>10s}{'se':>10s}{stat:>10s}{'pval':>10s}{'ci.lb':>10s}"
            f"{'ci.ub':>10s}"
        )
        for r in _rows(self.coefficients):
            out.append(
                f"{r.term!s:<16.16s}{fmt_x(r.estimate, d):>10s}{fmt_x(r.se, d):>10s}"
                f"{fmt_x(r.zval, d):>10s}{fmt_p(r.pval, d):>10s}{fmt_x(r.ci_low, d):>10s}"
                f"{fmt_x(r.ci_high, d):>10s} {_sig(r.pval)}"
            )
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table."""
        return self.coefficients.copy()

    def _repr_html_(self) -> str:
        return _html_table("Meta-regression", self.summary(), self.coefficients)

    def __repr__(self) -> str:
        return (
            f"MetaRegressionResult(mods={list(self.mods)}, k={self.k}, QM={fmt_x(self.qm)}, "
            f"p={fmt_p(self.qm_pvalue)}, R2={self.r2:.1f}%)"
        )


@dataclass(frozen=True, slots=True, eq=False)
class CumulativeResult:
    """Cumulative meta-analysis (metafor ``cumul``).

    Attributes
    ----------
    table : pandas.DataFrame
        One row a step: ``label`` (study added), ``k, estimate, ci_low, ci_high, pi_low,
        pi_high`` (back-transformed), ``link_estimate, se, zval, pval, link_ci_low,
        link_ci_high`` (model scale), ``q, q_pvalue, tau2, i2, h2, converged``.
    order : str or None
        The column the studies were ordered by (``None``: input order).
    base : PoolResult
    notes : tuple of str
    """

    table: pd.DataFrame
    order: str | None
    base: PoolResult
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> str:
        """One line a cumulative step."""
        d = digits
        out = [f"Cumulative meta-analysis (ordered by {self.order or 'input order'})", ""]
        out.append(f"{'added':<20s}{'k':>4s}{'estimate':>10s}{'ci.lb':>10s}{'ci.ub':>10s}")
        for r in _rows(self.table):
            out.append(
                f"{r.label!s:<20.20s}{r.k:>4d}{fmt_x(r.estimate, d):>10s}"
                f"{fmt_x(r.ci_low, d):>10s}{fmt_x(r.ci_high, d):>10s}"
            )
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The cumulative table; rows that did not converge have no numbers."""
        return blank_not_converged(self.table)

    def _repr_html_(self) -> str:
        return _html_table("Cumulative meta-analysis", self.summary(), self.table)

    def __repr__(self) -> str:
        return f"CumulativeResult(steps={len(self.table)}, order={self.order!r})"


@dataclass(frozen=True, slots=True, eq=False)
class FTGuardrailResult:
    """The pooled Freeman-Tukey value back-transformed at several sample sizes.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``harmonic mean, min, median, max`` with columns ``at, n, estimate, ci_low,
        ci_high, pi_low, pi_high``.
    ratio : float
        Largest over smallest sample size.
    warning : str or None
        Set when the back-transformed values differ materially (Schwarzer et al. 2019).
    base : PoolResult
    """

    table: pd.DataFrame
    ratio: float
    warning: str | None
    base: PoolResult

    def summary(self, digits: int = 4) -> str:
        """The table and the warning."""
        d = digits
        out = ["Freeman-Tukey back-transform guardrail (Schwarzer et al. 2019)", ""]
        out.append(f"{'at':<16s}{'n':>10s}{'estimate':>10s}{'ci.lb':>10s}{'ci.ub':>10s}")
        for r in _rows(self.table):
            out.append(
                f"{r.at:<16s}{r.n:>10.1f}{fmt_x(r.estimate, d):>10s}{fmt_x(r.ci_low, d):>10s}"
                f"{fmt_x(r.ci_high, d):>10s}"
            )
        if self.warning:
            out += ["", f"Warning: {self.warning}"]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The guardrail table."""
        return self.table.copy()

    def _repr_html_(self) -> str:
        return _html_table("Freeman-Tukey guardrail", self.summary(), self.table)

    def __repr__(self) -> str:
        return f"FTGuardrailResult(n max/min={self.ratio:.1f}, warning={self.warning is not None})"


@dataclass(frozen=True, slots=True, eq=False)
class SensitivityResult:
    """One pooled value a model: the method-sensitivity table.

    Attributes
    ----------
    table : pandas.DataFrame
        One row a model: ``model, measure, method, test, k, estimate, ci_low, ci_high,
        pi_low, pi_high, pi_method, tau2, i2, converged, status`` where ``status`` is
        ``ok`` or says plainly why there is no number.
    fits : Mapping of str to PoolResult
        The fits that succeeded.
    notes : tuple of str
    """

    table: pd.DataFrame
    fits: Mapping[str, PoolResult]
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> str:
        """One line a model."""
        d = digits
        out = ["Method sensitivity", ""]
        out.append(
            f"{'model':<22s}{'estimate':>10s}{'ci.lb':>10s}{'ci.ub':>10s}{'pi.lb':>10s}"
            f"{'pi.ub':>10s}  status"
        )
        kind = _kind_of_measures(self.table)
        cuts: list[str] = []
        for r in _rows(self.table):
            vals, cut = _shown_bounds(kind, (r.estimate, r.ci_low, r.ci_high, r.pi_low, r.pi_high))
            cuts += [f"{r.model}: {c}" for c in cut]
            out.append(
                f"{r.model:<22.22s}"
                + "".join(f"{fmt_shown(v, d):>10s}" for v in vals)
                + f"  {r.status}"
            )
        out += [f"Note: {n}" for n in (*cuts, *self.notes)]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The sensitivity table (metafor's values); rows that did not converge are blank."""
        return blank_not_converged(self.table)

    def _repr_html_(self) -> str:
        return _html_table(
            "Method sensitivity",
            self.summary(),
            _shown_frame(_kind_of_measures(self.table), self.table),
        )

    def __repr__(self) -> str:
        return f"SensitivityResult(models={len(self.table)})"
