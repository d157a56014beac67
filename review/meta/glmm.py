"""Random-intercept GLMMs for pooled proportions and incidence rates (metafor ``rma.glmm``).

Two models, fitted by maximum likelihood with 7-point adaptive Gauss-Hermite quadrature
(as metafor's ``rma.glmm``, which calls ``lme4::glmer(..., nAGQ = 7)``):

* ``family="binomial"``: the binomial-normal (random-intercept logistic) model for single
  proportions, metafor ``rma.glmm(measure="PLO")``;
* ``family="poisson"``: the Poisson-normal model for incidence rates with a log
  person-time offset, metafor ``rma.glmm(measure="IRLN")``.

Public functions
----------------
:func:`pool_glmm`
    Fit and return a :class:`GLMMResult` (a :class:`~review.meta.results.PoolResult`
    with the likelihood-ratio heterogeneity test and the fit's internals added).
:func:`profile_tau2_ci`
    Profile-likelihood confidence interval for tau^2 (metafor has none for GLMMs).
:func:`leave_one_out_glmm`, :func:`influence_glmm`
    Case-deletion refits (warm-started) and influence diagnostics for GLMM fits
    (metafor 3.8-1 has no ``leave1out``/``influence`` for ``rma.glmm``).

How meta-core calls this module
-------------------------------
``pool_proportions(df, method="GLMM", ...)`` and ``pool_rates(df, method="GLMM", ...)``
call ``pool_glmm(frame, family="binomial"|"poisson", label="label", test=, level=,
pi_method=, add=, to=)`` on the canonical frame from
:func:`review.meta.escalc.validate_counts` (columns ``label, events, n`` or
``label, events, time``). The result's ``options`` hold ``measure, method, test, level,
pi_method, add, to`` (no ``family``: the measure implies it), so a generic refit
``pool_proportions(res.data, label="label", **res.options)`` reproduces the fit; for
speed the generic ``leave_one_out``/``influence`` should dispatch to
:func:`leave_one_out_glmm`/:func:`influence_glmm` when ``res.method == "GLMM"``.

Tests
-----
``test="z"`` gives Wald z inference. ``test="knha"`` gives metafor ``rma.glmm``'s
``test="t"``: the same standard error with a t-distribution on ``k - 1`` degrees of
freedom. For a GLMM there is no Hartung-Knapp variance adjustment (metafor's
documentation says ``test="t"`` is not ``knha``), and a note says so.

References
----------
Stijnen T, Hamza TH, Ozdemir P. Random effects meta-analysis of event outcome in the
framework of the generalized linear mixed model with applications in sparse data.
*Stat Med* 2010;29:3046-67. doi:10.1002/sim.4040
Bates D, Maechler M, Bolker B, Walker S. Fitting linear mixed-effects models using lme4.
*J Stat Softw* 2015;67(1):1-48 (``glmer``, ``nAGQ``).
Pinheiro JC, Bates DM. Approximations to the log-likelihood function in the nonlinear
mixed-effects model. *J Comput Graph Stat* 1995;4:12-35 (adaptive Gauss-Hermite).
Hardy RJ, Thompson SG. A likelihood approach to meta-analysis with random effects.
*Stat Med* 1996;15:619-29 (profile-likelihood interval for tau^2).
Viechtbauer W. Conducting meta-analyses in R with the metafor package. *J Stat Softw*
2010;36(3):1-48 (``rma.glmm``, I^2 and H^2 from the typical within-study variance).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, cast

import numpy as np
import pandas as pd
from scipy import special, stats

from review._format import fmt_p, fmt_x
from review.errors import ConvergenceError, OptionError
from review.meta import _aghq
from review.meta._vocab import check_code
from review.meta.escalc import EscalcData, escalc, exact_ci, validate_counts
from review.meta.results import (
    FixedEffect,
    InfluenceResult,
    LeaveOneOutResult,
    LinkScale,
    PoolResult,
    Tau2CI,
)
from review.meta.uni import _fit_stats

__all__ = [
    "GLMMResult",
    "influence_glmm",
    "leave_one_out_glmm",
    "pool_glmm",
    "profile_tau2_ci",
]

Family = Literal["binomial", "poisson"]
_MEASURE = {"binomial": "PLO", "poisson": "IRLN"}
_KIND = {"binomial": "proportion", "poisson": "rate"}
_PROFILE = "profile likelihood"


@dataclass(frozen=True, slots=True, eq=False)
class GLMMResult(PoolResult):
    """A GLMM fit: every :class:`~review.meta.results.PoolResult` field, plus those below.

    The inherited fields are filled as metafor ``rma.glmm`` reports them: ``q``,
    ``q_df``, ``q_pvalue`` are the Wald-type test (``QE.Wld``); ``tau2_ci`` is the
    profile-likelihood interval (``tau2_ci_method="profile likelihood"``; NaN when not
    requested); ``fixed`` is the common-effect GLM (metafor's ``res.FE``); ``tau2_se``
    is NaN (lme4 gives none); study ``weight`` is the approximate inverse-variance
    weight ``1/(vi + tau2)`` of the plotted ``yi`` (a GLMM has no study weights), in
    percent; ``fit_stats`` holds the marginal (AGHQ) log-likelihood with the binomial or
    Poisson constants, ``deviance = -2 (logLik - logLik_saturated)`` and AIC, BIC, AICc
    with ``p + 1`` parameters. (metafor 3.8-1 prints ``logLik_saturated -
    deviance(glmer)/2`` instead, and lme4's ``deviance()`` of a GLMM is the *conditional*
    deviance at the modes, so metafor's printed fit statistics are not the marginal
    likelihood; lme4's ``logLik()`` equals ours minus ``logLik_saturated``, which the
    golden tests check.)

    Attributes
    ----------
    family : {"binomial", "poisson"}
        The GLMM family (logit link, or log link with log person-time offset).
    q_lrt, q_lrt_pvalue : float
        Likelihood-ratio test for heterogeneity (metafor ``QE.LRT``, ``QEp.LRT``): the
        common-effect GLM against the saturated GLM, on ``k - 1`` df.
    vt : float
        The "typical" within-study variance of the escalc ``yi`` used for I^2 and H^2
        (metafor ``vt``): ``(k - 1) / tr(P)`` with ``P = W - W 1 1' W / sum(W)``.
    tau2_interval : Tau2CI or None
        The full profile-likelihood interval (with I^2 and H^2 at its ends).
    theta : tuple of float
        ``(beta_0, tau)`` at the optimum (tau >= 0), the warm start for refits.
    modes : tuple of float
        Per-study conditional modes of the standardised random effects.
    iterations : int
        Newton iterations of the outer optimisation.
    _core : object
        Internal (the numerical data and fit, for refits and the profile interval); not
        part of the public API.
    """

    family: str = "binomial"
    q_lrt: float = float("nan")
    q_lrt_pvalue: float = float("nan")
    vt: float = float("nan")
    tau2_interval: Tau2CI | None = None
    theta: tuple[float, ...] = ()
    modes: tuple[float, ...] = ()
    iterations: int = 0
    _core: object = field(default=None, repr=False)

    def summary(self, digits: int = 4) -> str:
        """Text in the layout of metafor's ``print.rma.glmm`` (both heterogeneity tests)."""
        text = PoolResult.summary(self, digits)
        lines = text.split("\n")
        out: list[str] = []
        for line in lines:
            if line == "Test for Heterogeneity:":
                out.append("Tests for Heterogeneity:")
            elif line.startswith("Q(df = "):
                out.append(f"Wld(df = {self.q_df}) = {fmt_x(self.q, digits)}, {_pv(self.q_pvalue)}")
                out.append(
                    f"LRT(df = {self.q_df}) = {fmt_x(self.q_lrt, digits)}, {_pv(self.q_lrt_pvalue)}"
                )
            else:
                out.append(line)
        return "\n".join(out)

    def __repr__(self) -> str:
        return "GLMM" + PoolResult.__repr__(self)


def _pv(p: float) -> str:
    s = fmt_p(p)
    return f"p-val {s}" if s.startswith("<") else f"p-val = {s}"


# --------------------------------------------------------------------------- checks
def _check_options(family: object, test: object, level: object, pi_method: object) -> None:
    if family not in ("binomial", "poisson"):
        raise OptionError(f"Invalid family {family!r}; must be one of ['binomial', 'poisson']")
    check_code("test", test)
    check_code("pi_method", pi_method)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not (0 < float(level) < 1):
        raise OptionError(f"Invalid level {level!r}; must be a number in (0, 1), e.g. 0.95")


def _refuse_degenerate(frame: pd.DataFrame, family: str) -> None:
    x = frame["events"].to_numpy(dtype=float)
    if np.all(x == 0):
        raise ConvergenceError(
            "GLMM: every study has zero events, so the maximum-likelihood estimate of the "
            "pooled logit/log rate is minus infinity (metafor rma.glmm: 'Cannot fit ML "
            "model'). Report the zero counts, or use an inverse-variance method with a "
            "continuity correction (pool_proportions(method='REML'))."
        )
    if family == "binomial" and np.all(x == frame["n"].to_numpy(dtype=float)):
        raise ConvergenceError(
            "GLMM: every study has events = n, so the maximum-likelihood estimate of the "
            "pooled logit is plus infinity (metafor rma.glmm: 'Cannot fit ML model')."
        )


# ---------------------------------------------------------------------- main entry
def pool_glmm(
    data: pd.DataFrame,
    *,
    family: Family,
    events: str = "events",
    n: str | None = "n",
    time: str | None = "time",
    label: str | None = None,
    test: Literal["z", "knha"] = "z",
    level: float = 0.95,
    pi_method: Literal["metafor", "riley", "V", "HTS"] = "metafor",
    add: float = 0.5,
    to: Literal["only0", "all", "if0all", "none"] = "only0",
    tau2_ci: bool = True,
    start: tuple[float, float] | None = None,
    warn: bool = True,
) -> GLMMResult:
    """Pool proportions (binomial-normal) or rates (Poisson-normal) with a GLMM.

    Parameters
    ----------
    data : pandas.DataFrame
        One row a study.
    family : {"binomial", "poisson"}
        ``"binomial"``: events out of ``n`` (metafor ``measure="PLO"``). ``"poisson"``:
        events in person-time ``time`` (metafor ``measure="IRLN"``).
    events, n, time, label : str
        Column names (``n`` for binomial, ``time`` for Poisson). ``label=None`` uses a
        column named ``label`` if there is one (the canonical frame of
        :func:`~review.meta.escalc.validate_counts`), else numbers the studies
        ``Study 1, ...`` as metafor does.
    test : {"z", "knha"}
        ``"z"``: Wald z. ``"knha"``: metafor's ``rma.glmm(test="t")``, a t-distribution
        with ``k - 1`` df for the test, the CI and the prediction interval (no
        Hartung-Knapp variance adjustment exists for a GLMM).
    level : float
        Confidence level, in (0, 1).
    pi_method : {"metafor", "riley", "V", "HTS"}
        ``"metafor"``: ``beta +- q sqrt(se^2 + tau2)`` with the normal quantile (t with
        ``k - 1`` df under ``test="knha"``), as ``predict.rma``. ``"riley"`` and R meta's
        ``"HTS"``: t with ``k - 2`` df (Higgins et al. 2009; Riley et al. 2011); R meta's
        ``"V"``: t with ``k - 1`` df (Veroniki et al. 2019; meta >= 8).
    add, to : float, str
        Continuity correction of the *plotted* ``yi``/``vi`` only (escalc defaults,
        metafor's ``rma.glmm(add=1/2, to="only0")``). They also enter I^2 and H^2 through
        the typical within-study variance, as in metafor. The GLMM itself always uses the
        raw counts.
    tau2_ci : bool
        Compute the profile-likelihood interval for tau^2 (a few milliseconds; see
        :func:`profile_tau2_ci`).
    start : tuple of float, optional
        Starting values ``(beta_0, tau)`` (warm start for refits).
    warn : bool
        Emit ``UserWarning`` for non-convergence and corrections of the plotted ``yi``.

    Returns
    -------
    GLMMResult
        ``estimate, ci_low, ci_high, pi_low, pi_high`` back-transformed with ``expit``
        (binomial) or ``exp`` (Poisson; events per unit of ``time``); ``link`` holds the
        model-scale values; see :class:`GLMMResult` for the rest.

    Raises
    ------
    InputError
        Bad data (missing, negative or non-integer counts, events > n, person-time not
        positive, k < 2), naming the row and the column.
    OptionError
        Unknown ``family``, ``test``, ``pi_method`` or a level outside (0, 1).
    ConvergenceError
        No finite maximum-likelihood estimate exists (every study has zero events, or
        every study has events = n), as metafor's "Cannot fit ML model".

    Notes
    -----
    The marginal likelihood ``prod_i int f(x_i | beta + tau u) phi(u) du`` is
    approximated by 7-point adaptive Gauss-Hermite quadrature centred at each study's
    conditional mode (lme4 ``nAGQ = 7``) and maximised over ``(beta, tau)`` by Newton's
    method with an analytic gradient; ``tau2 = 0`` is returned exactly when the
    likelihood is maximal on that boundary (lme4's ``theta = 0``). The standard error
    is from the inverse observed information of ``(beta, tau)`` (lme4's Hessian-based
    ``vcov``). Heterogeneity tests are metafor's: ``QE.Wld`` (Wald test of the study
    effects in the saturated logistic/Poisson GLM) and ``QE.LRT`` (likelihood ratio,
    common-effect against saturated GLM), both on ``k - 1`` df. ``I2 = 100 tau2 /
    (vt + tau2)``, ``H2 = tau2 / vt + 1``. A fit that does not converge is returned
    with ``converged=False``, a note and a warning; it is never silent.

    References
    ----------
    Stijnen T, Hamza TH, Ozdemir P. *Stat Med* 2010;29:3046-67. Bates D et al.
    *J Stat Softw* 2015;67(1). Viechtbauer W. *J Stat Softw* 2010;36(3):1-48.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta.glmm import pool_glmm
    >>> df = pd.DataFrame(
    ...     {"events": [0, 1, 0, 3, 2, 12, 5, 30], "n": [15, 22, 40, 61, 80, 350, 120, 1500]}
    ... )
    >>> res = pool_glmm(df, family="binomial", warn=False)
    >>> round(res.estimate, 4), round(res.tau2, 4)
    (0.0254, 0.021)
    """
    _check_options(family, test, level, pi_method)
    kind = _KIND[family]
    if label is None and isinstance(data, pd.DataFrame) and "label" in data.columns:
        label = "label"  # a canonical frame (validate_counts) keeps its labels
    frame = validate_counts(
        data,
        kind=kind,
        events=events,
        n=n if family == "binomial" else None,
        time=time if family == "poisson" else None,
        label=label,
        min_k=2,
    )
    return _fit_frame(
        frame,
        family=family,
        test=test,
        level=float(level),
        pi_method=pi_method,
        add=add,
        to=to,
        tau2_ci=tau2_ci,
        start=start,
        warn=warn,
    )


def _fit_frame(
    frame: pd.DataFrame,
    *,
    family: str,
    test: str,
    level: float,
    pi_method: str,
    add: float,
    to: str,
    tau2_ci: bool,
    start: tuple[float, float] | _aghq.FloatArray | None = None,
    u0: _aghq.FloatArray | None = None,
    H0: _aghq.FloatArray | None = None,
    vi_given: _aghq.FloatArray | None = None,
    warn: bool = True,
    light: bool = False,
) -> GLMMResult:
    _refuse_degenerate(frame, family)
    measure = _MEASURE[family]
    kind = _KIND[family]
    k = len(frame)
    size_col = "n" if family == "binomial" else "time"
    x = frame["events"].to_numpy(dtype=float)
    size = frame[size_col].to_numpy(dtype=float)
    d = _aghq.make_data(family, x, size)
    fit = _aghq.fit_ml(d, start=None if start is None else np.asarray(start, float), u0=u0, H0=H0)
    p = d.p
    notes: list[str] = []
    converged = fit.converged
    if not converged:
        msg = (
            f"GLMM did not converge ({fit.message or 'Newton iterations exhausted'}); the "
            "numbers below are the last iterate and should not be reported"
        )
        notes.append(msg)
        if warn:
            warnings.warn(msg, UserWarning, stacklevel=3)
    beta = float(fit.beta[0])
    tau2 = fit.tau**2
    se = math.sqrt(fit.vcov[0, 0]) if np.isfinite(fit.vcov[0, 0]) else float("nan")
    if fit.boundary:
        notes.append("tau^2 estimated at the boundary 0 (lme4 theta = 0); the GLMM is the GLM")

    # ---- inference on beta (metafor rma.glmm / predict.rma)
    alpha = 1.0 - level
    df_t: float | None = float(k - p) if test == "knha" else None
    zval = beta / se
    if df_t is None:
        crit = float(-special.ndtri(alpha / 2))
        pval = float(2 * special.ndtr(-abs(zval)))
    else:
        crit = float(special.stdtrit(df_t, 1 - alpha / 2))
        pval = float(2 * special.stdtr(df_t, -abs(zval)))
        if not light:
            notes.append(
                f"test='knha' for a GLMM is metafor's rma.glmm(test='t'): t-distribution with "
                f"k - 1 = {k - p} df, without a Hartung-Knapp variance adjustment"
            )
    ci = (beta - crit * se, beta + crit * se)
    pi_se = math.sqrt(se * se + tau2)
    if pi_method == "metafor":
        pi_df = df_t
        pcrit = crit
    else:  # riley and R meta's HTS: t(k - 2); R meta's V: t(k - 1) (= rma.glmm test="t")
        lost = 1 if pi_method == "V" else 2
        pi_df = float(k - lost)
        pcrit = float(special.stdtrit(pi_df, 1 - alpha / 2)) if k > lost else float("nan")
        if k <= lost and not light:
            notes.append(
                f"{pi_method} prediction interval needs k >= {lost + 1} (t with k - {lost} df): "
                "not given"
            )
    pi = (beta - pcrit * pi_se, beta + pcrit * pi_se)
    back = _expit if family == "binomial" else math.exp

    # ---- heterogeneity tests (saturated and common-effect GLMs, as metafor)
    if fit.glm is None:  # fit_ml always records it; unpacking None would raise TypeError
        raise TypeError("the GLMM fit carries no common-effect GLM")
    bglm, ll_fe, vglm = fit.glm
    q_wld, q_lrt, sat = _aghq.heterogeneity(d, ll_fe)
    sat_ok = sat.converged
    q_df = k - p
    q_p = float(special.chdtrc(q_df, q_wld)) if q_df > 0 else 1.0
    q_lrt_p = float(special.chdtrc(q_df, q_lrt)) if q_df > 0 else 1.0
    if not sat_ok and not light:
        notes.append(
            "the saturated GLM (for QE.Wld/QE.LRT) reached R's 25-iteration cap, as glm() "
            "does for studies with zero events; the tests are computed as metafor does"
        )

    # ---- escalc yi/vi (plotting, I^2/H^2 through vt; never the fit)
    if light and vi_given is not None and to != "if0all":
        # a refit: each study's vi does not depend on the others (except with if0all)
        esc = None
        vi_used = vi_given[np.isfinite(vi_given)]
    else:
        esc = escalc(frame, measure, add=add, to=to, warn=False)
        vi_used = esc.vi
    if esc is not None and esc.corrected.any() and not light:
        notes.append(
            esc.notes[0] + " -- for the plotted yi/vi and I^2/H^2 only; the GLMM uses the raw "
            "counts (no continuity correction in the fit)"
        )
        if warn:
            warnings.warn(notes[-1], UserWarning, stacklevel=3)
    w = 1.0 / vi_used
    kyi = w.shape[0]
    if kyi > p:
        tr_p = float(w.sum() - (w * w).sum() / w.sum())
        vt = (kyi - p) / tr_p
    else:
        vt = float("nan")
    i2 = 100.0 * tau2 / (vt + tau2)
    h2 = tau2 / vt + 1.0

    # ---- profile-likelihood CI for tau^2
    t2ci: Tau2CI | None = None
    if tau2_ci and converged:
        t2ci = _profile_ci(d, fit, level, vt)
    tau2_pair = (t2ci.tau2_low, t2ci.tau2_high) if t2ci is not None else (math.nan, math.nan)

    link = LinkScale(
        estimate=beta,
        se=se,
        zval=zval,
        pval=pval,
        ci_low=ci[0],
        ci_high=ci[1],
        pi_low=pi[0],
        pi_high=pi[1],
        df=df_t,
        pi_df=pi_df,
        pi_se=pi_se,
    )
    if light:
        studies = pd.DataFrame()
        report = pd.DataFrame()
        fixed = None
        fit_stats: dict[str, float] = {}
    else:
        assert esc is not None  # for mypy: escalc is skipped on light refits only
        studies, report = _study_rows(frame, family, esc, tau2, level)
        fse = math.sqrt(vglm[0, 0])
        zc = float(-special.ndtri(alpha / 2))
        b0 = float(bglm[0])
        fixed = FixedEffect(
            estimate=back(b0),
            ci_low=back(b0 - zc * fse),
            ci_high=back(b0 + zc * fse),
            link_estimate=b0,
            link_se=fse,
        )
        fit_stats = _fit_stats(fit.ll, -2.0 * (fit.ll - sat.ll), p + 1, k)
    options = {
        "measure": measure,
        "method": "GLMM",
        "test": test,
        "level": level,
        "pi_method": pi_method,
        "add": add,
        "to": to,
    }
    return GLMMResult(
        measure=measure,
        method="GLMM",
        test=test,
        level=level,
        k=k,
        estimate=back(beta),
        ci_low=back(ci[0]),
        ci_high=back(ci[1]),
        pi_low=_safe_back(back, pi[0]),
        pi_high=_safe_back(back, pi[1]),
        pi_method=pi_method,
        tau2=tau2,
        tau2_ci=tau2_pair,
        i2=i2,
        h2=h2,
        q=q_wld,
        q_df=q_df,
        q_pvalue=q_p,
        link=link,
        studies=studies,
        fixed=fixed,
        notes=tuple(notes),
        converged=bool(converged),
        kind=kind,
        tau2_se=float("nan"),
        data=frame,
        options=options,
        data_report=report,
        fit_stats=fit_stats,
        tau2_ci_method=_PROFILE if t2ci is not None else "not computed",
        family=family,
        q_lrt=q_lrt,
        q_lrt_pvalue=q_lrt_p,
        vt=vt,
        tau2_interval=t2ci,
        theta=(*map(float, fit.beta), float(fit.tau)),
        modes=tuple(map(float, fit.modes)),
        iterations=fit.iterations,
        _core=(d, fit),
    )


def _expit(x: float) -> float:
    return float(np.exp(-np.logaddexp(0.0, -x)))


def _safe_back(back: Callable[[float], float], v: float) -> float:
    return float("nan") if v != v else back(v)


def _study_rows(
    frame: pd.DataFrame, family: str, esc: EscalcData, tau2: float, level: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    kind = _KIND[family]
    est, lo, hi = exact_ci(frame, kind, level)
    k = len(frame)
    yi = np.full(k, np.nan)
    vi = np.full(k, np.nan)
    yi[esc.used] = esc.yi
    vi[esc.used] = esc.vi
    w = 1.0 / (vi + tau2)
    weight = 100.0 * w / np.nansum(w)
    size_col = "n" if family == "binomial" else "time"
    studies = pd.DataFrame(
        {
            "label": frame["label"].astype(str).to_numpy(),
            "events": frame["events"].to_numpy(dtype=float),
            size_col: frame[size_col].to_numpy(dtype=float),
            "yi": yi,
            "vi": vi,
            "estimate": est,
            "ci_low": lo,
            "ci_high": hi,
            "weight": weight,
            "corrected": np.asarray(esc.corrected, dtype=bool),
        }
    )
    status_in = esc.report["status"].to_numpy()
    reason_in = esc.report["reason"].to_numpy()
    status, reason = [], []
    for st, why in zip(status_in.tolist(), reason_in.tolist()):
        if st == "corrected":
            status.append("corrected")
            reason.append("raw counts enter the GLMM; yi/vi shown with " + why)
        elif st == "dropped":
            status.append("used")
            reason.append("raw counts enter the GLMM; no plotted yi (zero cell, no correction)")
        else:
            status.append("used")
            reason.append("")
    rep = pd.DataFrame({"label": studies["label"].to_numpy(), "status": status, "reason": reason})
    return studies, rep


# ------------------------------------------------------------ profile likelihood
def _profile_ci(d: _aghq.Data, fit: _aghq.Fit, level: float, vt: float) -> Tau2CI:
    """Profile-likelihood interval for tau: {tau: 2 (ll_max - ll_p(tau)) <= chi2_1(level)}."""
    crit = float(stats.chi2.ppf(level, 1))
    llmax = fit.ll
    tau_hat = fit.tau
    notes: list[str] = []
    state = {"beta": fit.beta.copy(), "u": fit.modes.copy()}

    def f(tau: float) -> tuple[float, float]:
        ll, g, b, u = _aghq.profile_ll(d, tau, state["beta"], state["u"], fit.hessian)
        state["beta"], state["u"] = b, u
        return 2.0 * (llmax - ll) - crit, -2.0 * g

    vtt = float(fit.vcov[-1, -1])
    width = math.sqrt(crit * vtt) if np.isfinite(vtt) and vtt > 0 else 0.5
    # lower limit: 0 when the common-effect GLM is within the bound
    ll0 = fit.glm[1] if fit.glm is not None else _aghq.fit_glm(d)[1]
    lo, hi = 0.0, float("nan")
    if tau_hat > 0.0 and 2.0 * (llmax - ll0) - crit > 0.0:
        lo, ok = _aghq.profile_limit(d, fit, crit, -1)
        if not ok:  # fall back on Newton along the profile itself, kept in its bracket
            x0 = max(tau_hat - width, 0.5 * tau_hat)
            lo, ok = _aghq.solve_bracketed(f, x0, tau_hat, 0.0, -1.0)
        if not ok:
            notes.append("lower profile-likelihood limit for tau^2 not found")
            lo = float("nan")
    # upper limit
    hi, ok = _aghq.profile_limit(d, fit, crit, +1) if tau_hat > 0 else (float("nan"), False)
    if not ok:
        state["beta"], state["u"] = fit.beta.copy(), fit.modes.copy()
        x0 = tau_hat + (width if tau_hat > 0 else 0.5)
        hi, ok = _aghq.solve_bracketed(f, x0, tau_hat, float("inf"), -1.0)
    if not ok:
        notes.append("upper profile-likelihood limit for tau^2 not found")
        hi = float("nan")
    lo2, hi2 = lo * lo, hi * hi
    tau2 = tau_hat**2

    def i2(t2: float) -> float:
        return 100.0 * t2 / (vt + t2)

    def h2(t2: float) -> float:
        return t2 / vt + 1.0

    if lo == 0.0 and tau_hat > 0:
        notes.append("lower limit 0: the profile likelihood at tau^2 = 0 is within the bound")
    return Tau2CI(
        method=_PROFILE,
        level=level,
        tau2=tau2,
        tau2_low=lo2,
        tau2_high=hi2,
        i2=i2(tau2),
        i2_low=i2(lo2),
        i2_high=i2(hi2),
        h2=h2(tau2),
        h2_low=h2(lo2),
        h2_high=h2(hi2),
        notes=tuple(notes),
    )


def profile_tau2_ci(res: GLMMResult, level: float | None = None) -> Tau2CI:
    """Profile-likelihood confidence interval for tau^2 of a GLMM fit.

    The interval is ``{tau^2 : 2 (l_max - l_p(tau^2)) <= chi2_{1, level}}``, where
    ``l_p`` is the AGHQ log-likelihood maximised over the pooled logit/log rate at fixed
    ``tau^2``; the lower limit is 0 when the profile at ``tau^2 = 0`` is within the
    bound. This is what ``lme4::confint(glmer_fit, method = "profile")`` gives (squared);
    metafor 3.8-1 has no ``confint`` for ``rma.glmm``.

    Parameters
    ----------
    res : GLMMResult
        A converged fit from :func:`pool_glmm`.
    level : float, optional
        Confidence level; defaults to ``res.level``.

    Returns
    -------
    Tau2CI
        ``method="profile likelihood"``, with I^2 and H^2 at the limits (from ``res.vt``).

    Raises
    ------
    ConvergenceError
        The fit did not converge.

    References
    ----------
    Hardy RJ, Thompson SG. *Stat Med* 1996;15:619-29.
    """
    if not isinstance(res, GLMMResult):
        raise OptionError("profile_tau2_ci needs a GLMM fit (pool_glmm / method='GLMM')")
    if not res.converged:
        raise ConvergenceError("the GLMM fit did not converge; no profile-likelihood interval")
    lev = res.level if level is None else level
    _check_options(res.family, res.test, lev, res.pi_method)
    d, fit = cast("tuple[_aghq.Data, _aghq.Fit]", res._core)  # set by pool_glmm as (d, fit)
    return _profile_ci(d, fit, float(lev), res.vt)


# ----------------------------------------------------------------- case deletion
def _loo_fits(res: GLMMResult) -> list[GLMMResult | None]:
    frame = res.data
    theta = np.asarray(res.theta)
    modes = np.asarray(res.modes)
    out: list[GLMMResult | None] = []
    opts = res.options
    _, base_fit = cast("tuple[_aghq.Data, _aghq.Fit]", res._core)  # set by pool_glmm
    H0 = None
    if base_fit.hessian is not None and not base_fit.boundary:
        H0 = base_fit.hessian * (res.k - 1) / res.k  # one study fewer: ~(k-1)/k information
    vi_all = res.studies["vi"].to_numpy(dtype=float)
    for i in range(res.k):
        keep = np.ones(res.k, dtype=bool)
        keep[i] = False
        sub = frame.iloc[keep]
        try:
            r = _fit_frame(
                sub,
                family=res.family,
                test=opts["test"],
                level=opts["level"],
                pi_method=opts["pi_method"],
                add=opts["add"],
                to=opts["to"],
                tau2_ci=False,
                start=theta,
                u0=modes[keep],
                H0=H0,
                vi_given=vi_all[keep],
                warn=False,
                light=True,
            )
        except ConvergenceError:
            r = None
        out.append(r)
    return out


def leave_one_out_glmm(res: GLMMResult) -> LeaveOneOutResult:
    """Leave-one-out refits of a GLMM fit (beyond metafor 3.8-1, which has none).

    Each refit is the same GLMM on ``k - 1`` studies, warm-started at the full fit's
    parameters and conditional modes.

    Parameters
    ----------
    res : GLMMResult

    Returns
    -------
    LeaveOneOutResult
        ``table`` columns: ``label, estimate, ci_low, ci_high, pi_low, pi_high,
        link_estimate, se, zval, pval, link_ci_low, link_ci_high, q, q_pvalue, tau2, i2,
        h2, converged`` (``q`` is ``QE.Wld``). A refit without a finite estimate (all
        remaining studies with zero events) is a row of NaN with ``converged=False`` and
        a note.

    References
    ----------
    Viechtbauer W, Cheung MWL. Outlier and influence diagnostics for meta-analysis.
    *Res Synth Methods* 2010;1:112-25.
    """
    if not isinstance(res, GLMMResult):
        raise OptionError("leave_one_out_glmm needs a GLMM fit (pool_glmm / method='GLMM')")
    fits = _loo_fits(res)
    rows = []
    notes = []
    for lab, r in zip(res.data["label"].astype(str), fits):
        if r is None:
            notes.append(f"without {lab}: no finite GLMM estimate (all remaining events zero)")
            rows.append({"label": lab, "converged": False})
            continue
        L = r.link
        rows.append(
            {
                "label": lab,
                "estimate": r.estimate,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "pi_low": r.pi_low,
                "pi_high": r.pi_high,
                "link_estimate": L.estimate,
                "se": L.se,
                "zval": L.zval,
                "pval": L.pval,
                "link_ci_low": L.ci_low,
                "link_ci_high": L.ci_high,
                "q": r.q,
                "q_pvalue": r.q_pvalue,
                "tau2": r.tau2,
                "i2": r.i2,
                "h2": r.h2,
                "converged": r.converged,
            }
        )
        if not r.converged:
            notes.append(f"without {lab}: the GLMM did not converge")
    cols = [
        "label", "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "link_estimate",
        "se", "zval", "pval", "link_ci_low", "link_ci_high", "q", "q_pvalue", "tau2", "i2",
        "h2", "converged",
    ]  # fmt: skip
    table = pd.DataFrame(rows).reindex(columns=cols)
    table["converged"] = table["converged"].astype(bool)
    return LeaveOneOutResult(table=table, base=res, notes=tuple(notes))


def influence_glmm(res: GLMMResult) -> InfluenceResult:
    """Case-deletion influence diagnostics for a GLMM fit (beyond metafor 3.8-1).

    Computed from the leave-one-out refits, after metafor's ``influence.rma.uni``:

    * ``dfbs`` = ``(b - b(-i)) / se(-i)`` (DFBETAS); ``cook_d`` =
      ``(b - b(-i))^2 / se^2``; ``cov_r`` = ``se(-i)^2 / se^2``;
      ``tau2_del`` = ``tau2(-i)``; ``qe_del`` = ``QE.Wld(-i)`` -- exact GLMM refits.
    * ``rstudent`` = ``(yi - b(-i)) / sqrt(vi + tau2(-i) + se(-i)^2)``, ``hat`` =
      ``w_i / sum(w)`` with ``w = 1/(vi + tau2)``, ``dffits`` =
      ``(b - b(-i)) / sqrt(hat (tau2(-i) + vi))`` -- these use the escalc ``yi``/``vi`` of
      the plotted outcomes as an approximation, since a GLMM has no closed-form hat
      values; a note says so.

    ``influential`` follows metafor: ``|dffits| > 3 sqrt(p/(k-p))``, or
    ``pchisq(cook_d, p) > 0.5``, or ``hat > 3p/k``, or ``|dfbs| > 1``.

    Parameters
    ----------
    res : GLMMResult

    Returns
    -------
    InfluenceResult

    References
    ----------
    Viechtbauer W, Cheung MWL. *Res Synth Methods* 2010;1:112-25.
    """
    if not isinstance(res, GLMMResult):
        raise OptionError("influence_glmm needs a GLMM fit (pool_glmm / method='GLMM')")
    fits = _loo_fits(res)
    b = res.link.estimate
    se = res.link.se
    k, p = res.k, 1
    yi = res.studies["yi"].to_numpy(dtype=float)
    vi = res.studies["vi"].to_numpy(dtype=float)
    w = 1.0 / (vi + res.tau2)
    hat = w / np.nansum(w)
    rows = []
    notes = [
        "rstudent, hat and dffits use the escalc yi/vi of the plotted outcomes (a GLMM has "
        "no closed-form hat values); dfbs, cook_d, cov_r, tau2_del and qe_del are exact "
        "GLMM case-deletion refits"
    ]
    for i, (lab, r) in enumerate(zip(res.data["label"].astype(str), fits)):
        if r is None or not r.converged:
            notes.append(f"without {lab}: no converged GLMM refit; diagnostics NaN")
            rows.append({"label": lab, "weight": 100 * hat[i], "hat": hat[i]})
            continue
        bi, sei = r.link.estimate, r.link.se
        dfbs = (b - bi) / sei
        rstud = (yi[i] - bi) / math.sqrt(vi[i] + r.tau2 + sei * sei)
        dffits = (b - bi) / math.sqrt(hat[i] * (r.tau2 + vi[i]))
        rows.append(
            {
                "label": lab,
                "rstudent": rstud,
                "dffits": dffits,
                "cook_d": (b - bi) ** 2 / (se * se),
                "cov_r": (sei * sei) / (se * se),
                "tau2_del": r.tau2,
                "qe_del": r.q,
                "hat": hat[i],
                "weight": 100 * hat[i],
                "dfbs": dfbs,
            }
        )
    cols = [
        "label", "rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat",
        "weight", "dfbs",
    ]  # fmt: skip
    table = pd.DataFrame(rows).reindex(columns=cols)
    with np.errstate(invalid="ignore"):
        infl = (
            (np.abs(table["dffits"]) > 3 * math.sqrt(p / (k - p)))
            | (stats.chi2.cdf(table["cook_d"].fillna(0), p) > 0.5)
            | (table["hat"] > 3 * p / k)
            | (np.abs(table["dfbs"]) > 1)
        )
    table["influential"] = infl.fillna(False).astype(bool)
    return InfluenceResult(table=table, base=res, notes=tuple(notes))
