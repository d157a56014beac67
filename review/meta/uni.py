"""The inverse-variance random-effects fit (metafor ``rma.uni``) and the public entry points.

:func:`pool_proportions` and :func:`pool_rates` validate the frame, compute the
outcomes (:mod:`review.meta.escalc`), fit the model (:func:`fit_rma`, or the GLMM in
:mod:`review.meta.glmm` for ``method="GLMM"``) and return a
:class:`~review.meta.results.PoolResult` on the proportion or rate scale.
:func:`meta_regression` and :func:`subgroups` take a result and reuse its options;
:func:`confint_tau2` gives the Q-profile or profile-likelihood interval; :func:`refit`
refits a result on another frame (used by leave-one-out and cumulative analyses).

References
----------
Viechtbauer W. Conducting meta-analyses in R with the metafor package. *J Stat Softw*
2010;36(3):1-48.
DerSimonian R, Laird N. Meta-analysis in clinical trials. *Control Clin Trials*
1986;7:177-88.
Hartung J, Knapp G. A refined method for the meta-analysis of controlled clinical trials
with binary outcome. *Stat Med* 2001;20:3875-89.
Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. *Stat Med*
2002;21:1539-58 (I^2, H^2).
Higgins JPT, Thompson SG, Spiegelhalter DJ. A re-evaluation of random-effects
meta-analysis. *J R Stat Soc A* 2009;172:137-59 (prediction interval).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from review.errors import ConvergenceError, InputError, OptionError
from review.meta._design import design_matrix
from review.meta._vocab import (
    DEFAULT_STUDY_CI,
    MEASURES,
    PROPORTION_MEASURES,
    RATE_MEASURES,
    I2Method,
    Method,
    PIMethod,
    ProportionMeasure,
    RateMeasure,
    StudyCI,
    Test,
    ZeroCellTo,
    check_code,
    check_study_ci,
)
from review.meta.escalc import (
    _escalc_arrays,
    _validate,
    frame_from_columns,
    study_intervals,
)
from review.meta.results import (
    FixedEffect,
    LinkScale,
    MetaRegressionResult,
    PoolResult,
    SubgroupResult,
    Tau2CI,
)
from review.meta.tau2 import (
    chi2_sf,
    estimate_tau2,
    f_sf,
    norm_crit,
    norm_sf2,
    profile_ci,
    qprofile_ci,
    t_crit,
    t_sf2,
)

__all__ = [
    "K1_NOTE",
    "RmaFit",
    "confint_tau2",
    "fit_rma",
    "i2_from_q",
    "meta_regression",
    "pool_proportions",
    "pool_rates",
    "refit",
    "subgroups",
]

FloatArray = NDArray[np.float64]

#: The note (and warning) when a one-study fit falls back from knha to z, in metafor's words.
K1_NOTE = (
    "Setting argument test='z' since k=1 (as metafor rma.uni): a t-distribution with "
    "k - 1 = 0 degrees of freedom does not exist"
)


# ------------------------------------------------------------------------------ core
@dataclass(frozen=True, slots=True, eq=False)
class RmaFit:
    """A fitted ``rma.uni`` model on the model scale (internal building block).

    Attributes
    ----------
    beta, se, zval, pval, ci_low, ci_high : ndarray
        Coefficients and their tests (t under knha).
    vb : ndarray
        Covariance of ``beta`` (scaled by ``s2w`` under knha).
    ddf : int or None
        ``k - p`` under knha, else ``None``.
    tau2, tau2_se : float
    qe, qe_pvalue : float
        Test for (residual) heterogeneity.
    i2, h2, vt : float
        I^2 (percent), H^2 and metafor's typical within-study variance ``vt``.
    qm, qm_pvalue : float
        Omnibus test of the coefficients other than the intercept (NaN if none).
    wi : ndarray
        ``1/(vi + tau2)``.
    ll_ml, ll_reml : float
        Log-likelihoods (``REMLf=TRUE``).
    fit_stats : dict
        ``logLik, deviance, AIC, BIC, AICc`` of the likelihood metafor reports (REML for
        REML fits, else ML).
    """

    k: int
    p: int
    method: str
    test: str
    level: float
    beta: FloatArray
    vb: FloatArray
    se: FloatArray
    zval: FloatArray
    pval: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    ddf: int | None
    tau2: float
    tau2_se: float
    qe: float
    qe_pvalue: float
    i2: float
    h2: float
    vt: float
    qm: float
    qm_pvalue: float
    s2w: float
    wi: FloatArray
    ll_ml: float
    ll_reml: float
    fit_stats: dict[str, float]
    notes: tuple[str, ...]


def _fit_stats(ll: float, deviance: float, n_par: int, n_eff: int) -> dict[str, float]:
    """The fit statistics of metafor's ``fitstats``: logLik, deviance, AIC, BIC and AICc.

    ``n_par`` parameters, ``n_eff`` observations (``k``, or ``k - p`` for REML); BIC is NaN
    for ``n_eff = 0``; AICc uses ``max(n_eff, n_par + 2)`` as metafor does.

    References
    ----------
    Viechtbauer W. Conducting meta-analyses in R with the metafor package. *J Stat Softw*
    2010;36(3):1-48.
    """
    aicc_n = max(n_eff, n_par + 2)
    return {
        "logLik": ll,
        "deviance": deviance,
        "AIC": -2 * ll + 2 * n_par,
        "BIC": -2 * ll + n_par * math.log(n_eff) if n_eff > 0 else float("nan"),
        "AICc": -2 * ll + 2 * n_par * aicc_n / (aicc_n - n_par - 1),
    }


def fit_rma(
    yi: FloatArray,
    vi: FloatArray,
    X: FloatArray | None = None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    tau2: float | None = None,
) -> RmaFit:
    """Fit metafor's ``rma.uni(yi, vi, mods = X, method, test, level)``.

    Parameters
    ----------
    yi, vi : ndarray
        Outcomes and sampling variances (``vi > 0``).
    X : ndarray, optional
        Design matrix with the intercept column first; intercept only when ``None``.
    method : {"FE", "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB"}
    test : {"z", "knha"}
    level : float
        Confidence level in (0, 1).
    tau2 : float, optional
        Fix tau^2 at this value instead of estimating it.

    Returns
    -------
    RmaFit

    Raises
    ------
    ConvergenceError
        The tau^2 estimator did not converge.

    Notes
    -----
    With one study, ``test="knha"`` falls back to ``"z"`` with a note (:data:`K1_NOTE`),
    as metafor does; the returned ``test`` is the one used.
    Weights ``w = 1/(vi + tau2)``; ``beta = (X'WX)^-1 X'Wy``, ``Var(beta) = (X'WX)^-1``,
    multiplied under knha by ``s2w = sum w (y - X beta)^2 / (k - p)`` (0 if that sum is
    below machine epsilon, as metafor) with t(k - p) quantiles (Hartung & Knapp 2001).
    Q uses the fixed-effect weights ``1/vi``; ``vt = (k - p)/tr(P)``;
    ``I2 = 100 tau2/(vt + tau2)``, ``H2 = tau2/vt + 1``; for FE, ``I2 = 100 (Q - df)/Q``
    (floored at 0) and ``H2 = Q/df`` (Higgins & Thompson 2002).

    References
    ----------
    Viechtbauer W. *J Stat Softw* 2010;36(3):1-48; Hartung & Knapp 2001.
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.shape[0]
    k1: list[str] = []
    if k == 1 and test != "z":  # metafor rma.uni: 'Setting argument test="z" since k=1.'
        test = "z"
        k1.append(K1_NOTE)
    if X is None:
        fit = _fit_rma_int(yi, vi, method=method, test=test, level=level, tau2=tau2)
        return dataclasses.replace(fit, notes=(*k1, *fit.notes)) if k1 else fit
    p = X.shape[1]
    notes: list[str] = list(k1)
    if method == "FE":
        t2, t2se = 0.0, float("nan")
    elif tau2 is not None:
        t2, t2se = float(tau2), float("nan")
    else:
        est = estimate_tau2(yi, vi, X, method)
        t2, t2se = est.tau2, est.se
        notes += est.notes
    w = 1.0 / (vi + t2)
    # Weighted least squares written out rather than statsmodels' WLS(...).fit(cov_type=
    # "fixed scale"), which gives the same beta and (X'WX)^-1 (tests/test_meta_direct.py
    # checks it): the solve runs in every fit and refit, and costs 8.5 us here against
    # 86.5 us for the WLS object on k = 30 (best of 5 x 2,000 calls); metafor's knha
    # factor, QM and fit statistics are then built on the same matrices.
    WX = X * w[:, None]
    A = X.T @ WX
    vb = cast(FloatArray, np.linalg.inv(A))  # float64 in, float64 out (numpy stubs say floating)
    beta = vb @ (WX.T @ yi)
    r = yi - X @ beta
    rss = float(np.sum(w * r * r))
    s2w = 1.0
    ddf: int | None = None
    if test == "knha":
        if method == "FE":
            notes.append("Knapp & Hartung method is not meant to be used with FE models")
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - p)
        ddf = k - p
    vb = s2w * vb
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
    alpha = 1 - level
    if ddf is not None:
        pval = t_sf2(zval, ddf) if ddf > 0 else np.full(p, np.nan)
        crit = t_crit(alpha, ddf) if ddf > 0 else float("nan")
    else:
        pval = norm_sf2(zval)
        crit = norm_crit(alpha)
    ci_low = beta - crit * se
    ci_high = beta + crit * se
    # moderators' omnibus test (coefficients 2..p)
    qm = qm_p = float("nan")
    if p > 1:
        b = beta[1:]
        try:
            qm = float(b @ np.linalg.solve(vb[1:, 1:], b))
        except np.linalg.LinAlgError:
            qm = float("nan")
        m = p - 1
        if ddf is not None:
            qm = qm / m
            qm_p = f_sf(qm, m, k - p) if k - p > 0 else float("nan")
        else:
            qm_p = chi2_sf(qm, m)
    # heterogeneity with fixed-effect weights
    if k > p:
        w0 = 1.0 / vi
        WX0 = X * w0[:, None]
        A0 = X.T @ WX0
        A0inv = np.linalg.inv(A0)
        b0 = A0inv @ (WX0.T @ yi)
        r0 = yi - X @ b0
        qe = max(0.0, float(np.sum(w0 * r0 * r0)))
        qe_p = chi2_sf(qe, k - p)
        trP = float(np.sum(w0) - np.trace(A0inv @ (WX0.T @ WX0)))
        vt = (k - p) / trP
        if method == "FE":
            i2 = max(0.0, 100 * (qe - (k - p)) / qe) if qe > 0 else 0.0
            h2 = qe / (k - p)
        else:
            i2 = 100 * t2 / (vt + t2)
            h2 = t2 / vt + 1
    else:
        qe, qe_p, i2, h2, vt = 0.0, 1.0, 0.0, 1.0, 0.0
    # log-likelihoods and fit statistics (metafor: REMLf = TRUE)
    sum_log = float(np.sum(np.log(vi + t2)))
    ll_ml = -0.5 * k * math.log(2 * math.pi) - 0.5 * sum_log - 0.5 * rss
    ll_reml = (
        -0.5 * (k - p) * math.log(2 * math.pi)
        + 0.5 * float(np.linalg.slogdet(X.T @ X)[1])
        - 0.5 * sum_log
        - 0.5 * float(np.linalg.slogdet(A)[1])
        - 0.5 * rss
    )
    parms = p + (0 if (method == "FE" or tau2 is not None) else 1)
    if method == "REML":
        ll, n_eff = ll_reml, k - p
        dev = -2 * ll_reml
    else:
        ll, n_eff = ll_ml, k
        dev = -2 * (ll_ml + 0.5 * float(np.log(2 * math.pi * vi).sum())) if k > p else 0.0
    fit_stats = _fit_stats(ll, dev, parms, n_eff)
    return RmaFit(
        k=k,
        p=p,
        method=method,
        test=test,
        level=level,
        beta=beta,
        vb=vb,
        se=se,
        zval=zval,
        pval=pval,
        ci_low=ci_low,
        ci_high=ci_high,
        ddf=ddf,
        tau2=t2,
        tau2_se=t2se,
        qe=qe,
        qe_pvalue=qe_p,
        i2=i2,
        h2=h2,
        vt=vt,
        qm=qm,
        qm_pvalue=qm_p,
        s2w=s2w,
        wi=w,
        ll_ml=ll_ml,
        ll_reml=ll_reml,
        fit_stats=fit_stats,
        notes=tuple(notes),
    )


def _fit_rma_int(
    yi: FloatArray, vi: FloatArray, *, method: str, test: str, level: float, tau2: float | None
) -> RmaFit:
    """:func:`fit_rma` for an intercept-only model, in sums instead of matrices."""
    k = yi.shape[0]
    notes: list[str] = []
    if method == "FE":
        t2, t2se = 0.0, float("nan")
    elif tau2 is not None:
        t2, t2se = float(tau2), float("nan")
    else:
        est = estimate_tau2(yi, vi, None, method)
        t2, t2se = est.tau2, est.se
        notes += est.notes
    vt2 = vi + t2
    w = 1.0 / vt2
    sw = float(w.sum())
    b = float(w @ yi) / sw
    r = yi - b
    rss = float(w @ (r * r))
    s2w = 1.0
    ddf: int | None = None
    if test == "knha":
        if method == "FE":
            notes.append("Knapp & Hartung method is not meant to be used with FE models")
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - 1)  # k > 1: see fit_rma
        ddf = k - 1
    vb = s2w / sw
    se = math.sqrt(vb)
    zval = b / se if se > 0 else (math.copysign(math.inf, b) if b != 0 else float("nan"))
    alpha = 1 - level
    if ddf is not None:
        pval = float(t_sf2(zval, ddf)) if ddf > 0 else float("nan")
        crit = t_crit(alpha, ddf) if ddf > 0 else float("nan")
    else:
        pval = float(norm_sf2(zval))
        crit = norm_crit(alpha)
    if k > 1:
        w0 = 1.0 / vi
        sw0 = float(w0.sum())
        r0 = yi - float(w0 @ yi) / sw0
        qe = max(0.0, float(w0 @ (r0 * r0)))
        qe_p = chi2_sf(qe, k - 1)
        trP = sw0 - float(w0 @ w0) / sw0
        vt = (k - 1) / trP
        if method == "FE":
            i2 = max(0.0, 100 * (qe - (k - 1)) / qe) if qe > 0 else 0.0
            h2 = qe / (k - 1)
        else:
            i2 = 100 * t2 / (vt + t2)
            h2 = t2 / vt + 1
    else:
        qe, qe_p, i2, h2, vt = 0.0, 1.0, 0.0, 1.0, 0.0
    sum_log = float(np.log(vt2).sum())
    lg2p = math.log(2 * math.pi)
    ll_ml = -0.5 * k * lg2p - 0.5 * sum_log - 0.5 * rss
    ll_reml = (
        -0.5 * (k - 1) * lg2p + 0.5 * math.log(k) - 0.5 * sum_log - 0.5 * math.log(sw) - 0.5 * rss
    )
    parms = 1 + (0 if (method == "FE" or tau2 is not None) else 1)
    if method == "REML":
        ll, n_eff = ll_reml, k - 1
        dev = -2 * ll_reml
    else:
        ll, n_eff = ll_ml, k
        dev = -2 * (ll_ml + 0.5 * float(np.log(vi).sum()) + 0.5 * k * lg2p) if k > 1 else 0.0
    fit_stats = _fit_stats(ll, dev, parms, n_eff)
    one = np.ones(1)
    return RmaFit(
        k=k,
        p=1,
        method=method,
        test=test,
        level=level,
        beta=b * one,
        vb=np.array([[vb]]),
        se=se * one,
        zval=zval * one,
        pval=pval * one,
        ci_low=(b - crit * se) * one,
        ci_high=(b + crit * se) * one,
        ddf=ddf,
        tau2=t2,
        tau2_se=t2se,
        qe=qe,
        qe_pvalue=qe_p,
        i2=i2,
        h2=h2,
        vt=vt,
        qm=float("nan"),
        qm_pvalue=float("nan"),
        s2w=s2w,
        wi=w,
        ll_ml=ll_ml,
        ll_reml=ll_reml,
        fit_stats=fit_stats,
        notes=tuple(notes),
    )


def prediction_interval(
    estimate: float,
    se: float,
    tau2: float,
    k: int,
    level: float,
    test: str,
    pi_method: str,
    fixed: bool = False,
    se_classic: float | None = None,
) -> tuple[float, float, float | None]:
    """Prediction interval on the model scale.

    ``"metafor"``: as metafor 3.8-1 ``predict.rma``, ``estimate +- crit sqrt(se^2 + tau2)``
    with ``crit`` the normal quantile, or t(k - 1) under knha. ``"riley"``: t(k - 2)
    (Higgins, Thompson & Spiegelhalter 2009; Riley et al. 2011), df floored at 1 for
    k = 2 as metafor's ``predict(pi.type="riley")``. ``"V"`` and ``"HTS"``: R meta's
    ``method.predict`` (t(k - 1), Veroniki et al. 2019, meta >= 8; t(k - 2), Higgins et
    al. 2009, meta <= 7) with the unadjusted standard error ``se_classic`` (meta uses it
    also when the CI is Hartung-Knapp), and no interval when k < 2 (V) or k < 3 (HTS).

    Parameters
    ----------
    test : str
        The test actually used by the fit (``"z"`` after metafor's k = 1 fallback).
    se_classic : float, optional
        ``sqrt(1/sum w)`` without the Hartung-Knapp factor; ``se`` when ``None``.

    Returns
    -------
    low, high, df
    """
    alpha = 1 - level
    df: float | None
    if pi_method in ("V", "HTS"):
        s0 = se if se_classic is None else se_classic
        sd = math.sqrt(s0 * s0 + tau2)
        df = k - (1 if pi_method == "V" else 2)
        if df < 1:
            return float("nan"), float("nan"), df
        crit = t_crit(alpha, df)
        return estimate - crit * sd, estimate + crit * sd, df
    sd = math.sqrt(se * se + tau2)
    if pi_method == "riley":
        # metafor's predict(pi.type="riley"): df = k - parms (k - 2 for a random-effects
        # model, k - 1 for FE), floored at 1
        df = max(k - (1 if fixed else 2), 1)
        crit = t_crit(alpha, df)
    elif test == "knha":
        df = k - 1
        crit = t_crit(alpha, df) if df > 0 else float("nan")
    else:
        df = None
        crit = norm_crit(alpha)
    return estimate - crit * sd, estimate + crit * sd, df


# ------------------------------------------------------------------------- pooling
def _check_level(level: float) -> float:
    if not isinstance(level, (int, float)) or not 0 < float(level) < 1:
        raise OptionError(f"Invalid level {level!r}; must be a number in (0, 1), e.g. 0.95")
    return float(level)


def _back(measure: str, y: Any, n_used: FloatArray | None) -> FloatArray:
    return MEASURES[measure].back_transform(np.asarray(y, dtype=float), n_used)


def _link_scale(fit: RmaFit, pi: tuple[float, float, float | None], pi_se: float) -> LinkScale:
    """The link-scale summary of an intercept-only fit and its prediction interval ``pi``."""
    pi_lo, pi_hi, pi_df = pi
    return LinkScale(
        estimate=float(fit.beta[0]),
        se=float(fit.se[0]),
        zval=float(fit.zval[0]),
        pval=float(fit.pval[0]),
        ci_low=float(fit.ci_low[0]),
        ci_high=float(fit.ci_high[0]),
        pi_low=pi_lo,
        pi_high=pi_hi,
        df=None if fit.ddf is None else float(fit.ddf),
        pi_df=None if pi_df is None else float(pi_df),
        pi_se=pi_se,
    )


def _common_effect(
    measure: str, yi: FloatArray, vi: FloatArray, level: float, n_bt: FloatArray | None
) -> FixedEffect:
    """The common-effect (inverse-variance, z) companion of a random-effects fit."""
    w0 = 1.0 / vi
    fe = float(np.sum(w0 * yi) / np.sum(w0))
    fse = math.sqrt(1.0 / float(np.sum(w0)))
    z = norm_crit(1 - level)
    fb = _back(measure, [fe, fe - z * fse, fe + z * fse], n_bt)
    return FixedEffect(float(fb[0]), float(fb[1]), float(fb[2]), fe, fse)


def _tau2_qprofile(
    yi: FloatArray, vi: FloatArray, tau2: float, level: float, notes: list[str]
) -> tuple[float, float]:
    """The Q-profile interval of tau^2 (NaN, NaN and a note when not found); notes appended."""
    try:
        ci = qprofile_ci(yi, vi, None, tau2, level)
    except ConvergenceError as e:
        notes.append(f"Q-profile CI for tau^2 not found: {e}")
        return float("nan"), float("nan")
    notes += list(ci.notes)
    return ci.low, ci.high


def _unbounded_note(measure: str, bt: FloatArray, alternative: str) -> str | None:
    """A note when a PR or IR interval (``bt[1:5]``: CI, PI) leaves the possible range."""
    low_bt = min(bt[1], bt[3]) if not math.isnan(bt[3]) else bt[1]
    high_bt = max(bt[2], bt[4]) if not math.isnan(bt[4]) else bt[2]
    if measure in ("PR", "IR") and (low_bt < 0 or (measure == "PR" and high_bt > 1)):
        return (
            f"{measure} is not bounded: the confidence or prediction interval extends outside "
            f"the possible range (metafor reports it so; consider {alternative})"
        )
    return None


def _iv_result(fit: RmaFit, bt: FloatArray, **fields: Any) -> PoolResult:
    """A :class:`PoolResult` of an inverse-variance fit.

    ``bt`` is its back-transformed estimate, CI and PI; ``fields`` the rest (``notes`` a list).
    """
    fields["notes"] = tuple(fields["notes"])
    return PoolResult(
        estimate=float(bt[0]),
        ci_low=float(bt[1]),
        ci_high=float(bt[2]),
        pi_low=float(bt[3]),
        pi_high=float(bt[4]),
        tau2=fit.tau2,
        tau2_se=fit.tau2_se,
        q=fit.qe,
        q_df=fields["k"] - 1,
        q_pvalue=fit.qe_pvalue,
        converged=True,
        fit_stats=fit.fit_stats,
        tau2_ci_method="Q-profile",
        **fields,
    )


def _pool(
    data: pd.DataFrame,
    *,
    kind: str,
    measure: str,
    method: str,
    test: str,
    level: float,
    pi_method: str,
    add: float | None,
    to: str,
    warn: bool = True,
    arrays: tuple[Any, Any, Any] | None = None,
    i2_method: str = "tau2",
    study_ci: str | None = None,
) -> PoolResult:
    """Fit a validated canonical frame; shared by the entry points and :func:`refit`.

    ``arrays`` = ``(events, n|time, labels)`` of ``data`` when the caller has them.
    """
    study_ci = DEFAULT_STUDY_CI[kind] if study_ci is None else study_ci
    options: dict[str, Any] = {
        "kind": kind,
        "measure": measure,
        "method": method,
        "test": test,
        "level": level,
        "pi_method": pi_method,
        "add": add,
        "to": to,
        "i2_method": i2_method,
        "study_ci": study_ci,
    }
    if method == "GLMM":
        options["warn"] = warn
        res = _pool_glmm(data, options)
        return dataclasses.replace(
            res, options={k: v for k, v in res.options.items() if k != "warn"}
        )
    if arrays is None:
        xi_all = data["events"].to_numpy(dtype=float)
        size_all = data["n" if kind == "proportion" else "time"].to_numpy(dtype=float)
        lab_all = data["label"].array  # an extension array: no string inference downstream
    else:
        xi_all, size_all, lab_all = arrays
    add_v = MEASURES[measure].default_add if add is None else float(add)
    if not math.isfinite(add_v) or add_v < 0:
        raise OptionError(f"Invalid add {add!r}; must be a number >= 0")
    es = _escalc_arrays(measure, xi_all, size_all, lab_all, add=add_v, to=to, warn=warn)
    k = int(es.used.sum())
    if method != "FE" and k < 2:
        raise InputError(
            f"a random-effects model needs at least 2 usable studies; got k = {k} after "
            "dropping studies without a usable outcome",
            column="events",
        )
    if k < 1:
        raise InputError("no usable study", column="events")
    fit = fit_rma(es.yi, es.vi, method=method, test=test, level=level)
    u = es.used
    all_used = bool(u.all())
    size = size_all if all_used else size_all[u]
    xi_u = xi_all if all_used else xi_all[u]
    n_bt = size if measure in ("PFT", "IRFT") else None
    est, se = float(fit.beta[0]), float(fit.se[0])
    se0 = math.sqrt(1.0 / float(fit.wi.sum()))  # without the knha factor (meta's seTE.classic)
    pi_lo, pi_hi, pi_df = prediction_interval(
        est, se, fit.tau2, k, level, fit.test, pi_method, fixed=method == "FE", se_classic=se0
    )
    pi_se = math.sqrt((se0 if pi_method in ("V", "HTS") else se) ** 2 + fit.tau2)
    link = _link_scale(fit, (pi_lo, pi_hi, pi_df), pi_se)
    bt = _back(measure, [est, link.ci_low, link.ci_high, pi_lo, pi_hi], n_bt)
    fixed = None if method == "FE" else _common_effect(measure, es.yi, es.vi, level, n_bt)
    # tau^2 interval (Q-profile)
    notes = list(es.notes) + list(fit.notes)
    if warn and K1_NOTE in fit.notes:
        warnings.warn(K1_NOTE, UserWarning, stacklevel=4)
    if pi_method in ("V", "HTS") and math.isnan(pi_lo) and method != "FE":
        notes.append(
            f"no prediction interval: method.predict={pi_method!r} needs k >= "
            f"{2 if pi_method == 'V' else 3} (as R meta)"
        )
    i2, h2 = fit.i2, fit.h2
    if i2_method == "Q":
        i2, h2 = i2_from_q(fit.qe, k - 1)
    tau2_ci = (float("nan"), float("nan"))
    if method != "FE" and k > 1:
        tau2_ci = _tau2_qprofile(es.yi, es.vi, fit.tau2, level, notes)
    # per-study table
    pe, plo, phi = study_intervals(
        kind, xi_u, size, level, study_ci, measure=measure, yi=es.yi, vi=es.vi
    )
    wts = 100 * fit.wi / float(np.sum(fit.wi))
    studies = frame_from_columns(
        {
            "label": lab_all if all_used else lab_all[u],
            "events": xi_u,
            ("n" if kind == "proportion" else "time"): size,
            "yi": es.yi,
            "vi": es.vi,
            "estimate": pe,
            "ci_low": plo,
            "ci_high": phi,
            "weight": wts,
            "corrected": es.corrected[es.used],
        }
    )
    unbounded = _unbounded_note(measure, bt, "PLO or GLMM")
    if unbounded:
        notes.append(unbounded)
    if measure == "PFT":
        notes.append(
            "PFT back-transformed at the harmonic mean of the sample sizes "
            f"(n = {1 / np.mean(1 / size):.1f}, transf.ipft.hm, Miller 1978); see ft_guardrail()"
        )
    if measure == "IRFT":
        notes.append(
            "IRFT back-transformed at the harmonic mean of the person-times "
            f"(t = {1 / np.mean(1 / size):.4g}, transf.iirft), which can mislead when "
            "person-times differ widely (as for PFT: Schwarzer et al. 2019)"
        )
    return _iv_result(
        fit,
        bt,
        measure=measure,
        method=method,
        test=fit.test,  # "z" when metafor's k = 1 fallback applied (options keep the request)
        level=level,
        k=k,
        pi_method=pi_method,
        tau2_ci=tau2_ci,
        i2=i2,
        h2=h2,
        link=link,
        studies=studies,
        fixed=fixed,
        notes=notes,
        kind=kind,
        data=data,
        options=options,
        data_report=es.report,
        i2_method=i2_method,
        study_ci=study_ci,
    )


def i2_from_q(q: float, df: int) -> tuple[float, float]:
    """I^2 (percent) and H^2 from Cochran's Q, as R meta ``method.I2 = "Q"``.

    ``H = max(sqrt(Q/df), 1)``, ``I^2 = (H^2 - 1)/H^2`` (meta's ``calcH`` and
    ``isquared``); NaN for ``df < 1``.

    References
    ----------
    Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. *Stat Med*
    2002;21:1539-58.
    """
    if df < 1 or not math.isfinite(q):
        return float("nan"), float("nan")
    h2 = max(q / df, 1.0)
    return 100.0 * (h2 - 1.0) / h2, h2


def _pool_glmm(data: pd.DataFrame, options: dict[str, Any]) -> PoolResult:
    kind = options["kind"]
    want = "PLO" if kind == "proportion" else "IRLN"
    if options["measure"] != want:
        raise OptionError(
            f"Invalid measure {options['measure']!r} for method='GLMM'; must be one of [{want!r}]"
            " (the GLMM models the logit of a proportion or the log of a rate)"
        )
    try:
        from review.meta.glmm import pool_glmm
    except ImportError as e:  # the GLMM module is another part of the project
        raise OptionError(
            "method='GLMM' needs review.meta.glmm, which could not be imported: " + str(e)
        ) from e
    if options["add"] is None:  # escalc's default for the plotted yi/vi (PLO, IRLN)
        options = {**options, "add": MEASURES[want].default_add}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pool_glmm(
            data,
            family="binomial" if kind == "proportion" else "poisson",
            label="label",
            test=options["test"],
            level=options["level"],
            pi_method=options["pi_method"],
            add=options["add"],
            to=options["to"],
            warn=options.get("warn", True),
        )
    for w in caught:  # re-issue at the caller's line (user -> pool_* -> _pool -> here)
        warnings.warn(w.message, w.category, stacklevel=4)
    report = pd.DataFrame(
        {
            "label": data["label"].astype(str).to_numpy(),
            "status": "used",
            "reason": "exact binomial/Poisson likelihood, no correction",
        }
    )
    extra: dict[str, Any] = {}
    if options.get("i2_method", "tau2") == "Q":
        i2, h2 = i2_from_q(res.q, res.q_df)  # the Wald-type Q (QE.Wld), as R meta
        extra.update(i2=i2, h2=h2)
    sci = options.get("study_ci") or DEFAULT_STUDY_CI[kind]
    if sci != DEFAULT_STUDY_CI[kind] and len(res.studies):
        st = res.studies.copy()
        size_col = "n" if kind == "proportion" else "time"
        pe, lo, hi = study_intervals(
            kind,
            st["events"].to_numpy(dtype=float),
            st[size_col].to_numpy(dtype=float),
            res.level,
            sci,
            measure=want,
            yi=st["yi"].to_numpy(dtype=float),
            vi=st["vi"].to_numpy(dtype=float),
        )
        st["estimate"], st["ci_low"], st["ci_high"] = pe, lo, hi
        extra["studies"] = st
    return dataclasses.replace(
        res,
        data=data,
        options=options,
        data_report=res.data_report if len(res.data_report) else report,
        i2_method=options.get("i2_method", "tau2"),
        study_ci=sci,
        **extra,
    )


def pool_proportions(
    df: pd.DataFrame,
    *,
    events: str = "events",
    n: str = "n",
    measure: ProportionMeasure = "PLO",
    method: Method = "REML",
    test: Test = "z",
    level: float = 0.95,
    label: str | None = None,
    pi_method: PIMethod = "metafor",
    add: float | None = None,
    to: ZeroCellTo = "only0",
    i2_method: I2Method = "tau2",
    study_ci: StudyCI = "CP",
) -> PoolResult:
    """Pool single proportions (events out of n), as metafor ``rma(measure=..., xi, ni)``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row a study.
    events, n : str
        Columns with the event counts and the sample sizes (whole numbers, 0 <= events
        <= n, n > 0).
    measure : {"PR", "PLO", "PAS", "PFT"}
        Raw, logit, arcsine or Freeman-Tukey double arcsine proportion (see
        ``_vocab.MEASURES``). With ``method="GLMM"`` only ``"PLO"``.
    method : {"FE", "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB", "GLMM"}
        tau^2 estimator, or the binomial-normal GLMM (Stijnen et al. 2010).
    test : {"z", "knha"}
        Wald z, or Hartung-Knapp with t(k - 1).
    level : float
        Confidence level in (0, 1).
    label : str, optional
        Column with study labels (``Study 1, ...`` when ``None``).
    pi_method : {"metafor", "riley", "V", "HTS"}
        Prediction interval as metafor 3.8 ``predict()`` (z, or t(k - 1) under knha),
        Higgins et al. / Riley t(k - 2) as ``predict(pi.type="riley")``, or R meta's
        ``method.predict``: ``"V"`` t(k - 1) (meta >= 8 default), ``"HTS"`` t(k - 2)
        (meta <= 7 default), both with the unadjusted SE.
    add : float, optional
        Continuity correction; default 0.5 for PR and PLO, 0 for PAS and PFT (escalc).
    to : {"only0", "all", "if0all", "none"}
        Which studies get the correction (escalc; default: those with 0 events or
        0 non-events).
    i2_method : {"tau2", "Q"}
        I^2 and H^2 from tau^2 (metafor) or from Cochran's Q, ``(Q - df)/Q`` (R meta's
        ``method.I2="Q"``; the Wald-type Q for a GLMM). See ``_vocab.I2_METHODS``.
    study_ci : {"CP", "WS", "WSCC", "AC", "SA", "SACC", "NAsm"}
        The per-study intervals of ``studies`` and the forest plot, in R meta's
        ``method.ci`` words: Clopper-Pearson (default, as metaprop), Wilson score (with
        continuity correction), Agresti-Coull, simple asymptotic (with correction), or
        ``NAsm``, the Wald interval of the model-scale ``yi`` back-transformed.

    Returns
    -------
    PoolResult
        ``estimate, ci_low, ci_high, pi_low, pi_high`` on the proportion scale (0-1);
        ``tau2`` on the model scale; ``i2`` in percent; ``link`` on the model scale.

    Raises
    ------
    InputError
        Bad data (names row and column), or fewer than 2 studies for a random-effects
        model.
    OptionError
        Unknown code or level outside (0, 1).
    ConvergenceError
        An iterative tau^2 estimator or the GLMM did not converge.

    Notes
    -----
    Zero cells are corrected as escalc does by default; each correction is warned about
    and listed in ``notes`` and ``data_report``. PFT is back-transformed with
    ``transf.ipft.hm`` at the harmonic mean of the sample sizes (Miller 1978), which can
    mislead when sample sizes differ widely (Schwarzer et al. 2019): see
    :func:`review.meta.ft_guardrail`.

    References
    ----------
    Viechtbauer W. *J Stat Softw* 2010;36(3):1-48. DerSimonian R, Laird N. *Control Clin
    Trials* 1986;7:177-88. Hartung J, Knapp G. *Stat Med* 2001;20:3875-89. Miller JJ.
    *Am Stat* 1978;32:138. Stijnen T, Hamza TH, Ozdemir P. *Stat Med* 2010;29:3046-67.
    Schwarzer G et al. *Res Synth Methods* 2019;10:476-83.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"events": [2, 5, 1, 8], "n": [40, 60, 35, 90]})
    >>> res = pool_proportions(df, measure="PLO", method="DL")
    >>> round(res.estimate, 4), res.k  # metafor 3.8-1: transf.ilogit(rma(...)$b) = 0.0753
    (0.0753, 4)
    """
    check_code("measure", measure, PROPORTION_MEASURES)
    check_code("method", method)
    check_code("test", test)
    check_code("pi_method", pi_method)
    check_code("to", to)
    check_code("i2_method", i2_method)
    check_study_ci("proportion", study_ci)
    level = _check_level(level)
    data, *arrays = _validate(
        df, kind="proportion", events=events, n=n, label=label, min_k=1 if method == "FE" else 2
    )
    return _pool(
        data,
        arrays=tuple(arrays),  # type: ignore[arg-type]
        kind="proportion",
        measure=measure,
        method=method,
        test=test,
        level=level,
        pi_method=pi_method,
        add=add,
        to=to,
        i2_method=i2_method,
        study_ci=study_ci,
    )


def pool_rates(
    df: pd.DataFrame,
    *,
    events: str = "events",
    time: str = "person_years",
    measure: RateMeasure = "IRLN",
    method: Method = "REML",
    test: Test = "z",
    level: float = 0.95,
    label: str | None = None,
    pi_method: PIMethod = "metafor",
    add: float | None = None,
    to: ZeroCellTo = "only0",
    i2_method: I2Method = "tau2",
    study_ci: StudyCI = "Poisson",
) -> PoolResult:
    """Pool incidence rates (events over person-time), as metafor ``rma(measure=..., xi, ti)``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row a study.
    events, time : str
        Columns with event counts (whole numbers >= 0) and person-time (> 0).
    measure : {"IR", "IRLN", "IRS", "IRFT"}
        Raw, log, square-root or Freeman-Tukey incidence rate (metafor escalc). With
        ``method="GLMM"`` only ``"IRLN"`` (Poisson-normal). IRFT is back-transformed with
        ``transf.iirft`` at the harmonic mean of the person-times.
    method, test, level, label, pi_method, add, to, i2_method
        As :func:`pool_proportions` (``add`` default 0.5 added to zero counts for IR and
        IRLN, 0 for IRS and IRFT).
    study_ci : {"Poisson", "NAsm"}
        Per-study intervals: exact Poisson (Garwood; default) or R meta's ``NAsm`` (Wald
        on the model scale, back-transformed: metarate's default).

    Returns
    -------
    PoolResult
        Rates in events per unit of ``time``.

    Raises
    ------
    InputError, OptionError, ConvergenceError
        As :func:`pool_proportions`.

    References
    ----------
    Viechtbauer W. *J Stat Softw* 2010;36(3):1-48. Stijnen T et al. *Stat Med*
    2010;29:3046-67.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"events": [3, 7, 2], "person_years": [120.0, 300.5, 80.0]})
    >>> res = pool_rates(df, method="DL")
    >>> round(res.estimate, 4)
    0.024
    """
    check_code("measure", measure, RATE_MEASURES)
    check_code("method", method)
    check_code("test", test)
    check_code("pi_method", pi_method)
    check_code("to", to)
    check_code("i2_method", i2_method)
    check_study_ci("rate", study_ci)
    level = _check_level(level)
    data, *arrays = _validate(
        df,
        kind="rate",
        events=events,
        n=None,
        time=time,
        label=label,
        min_k=1 if method == "FE" else 2,
    )
    return _pool(
        data,
        arrays=tuple(arrays),  # type: ignore[arg-type]
        kind="rate",
        measure=measure,
        method=method,
        test=test,
        level=level,
        pi_method=pi_method,
        add=add,
        to=to,
        i2_method=i2_method,
        study_ci=study_ci,
    )


def refit(res: PoolResult, data: pd.DataFrame | None = None, **changes: Any) -> PoolResult:
    """Refit a result on another canonical frame (a subset of ``res.data``) or options.

    Parameters
    ----------
    res : PoolResult
        The fit whose options are reused.
    data : pandas.DataFrame, optional
        Canonical frame (columns ``label, events, n|time``); ``res.data`` when ``None``.
    **changes
        Options to change (``method=``, ``measure=``, ``test=``, ...).

    Returns
    -------
    PoolResult
    """
    if res.options.get("input") == "yi_vi":  # pooled from yi/vi (review.meta.estimates)
        from review.meta.estimates import _refit_yi_vi

        return _refit_yi_vi(res, data, changes)
    opts = dict(res.options)
    if not opts:
        raise OptionError("this result keeps no options to refit with")
    opts.update(changes)
    d = res.data if data is None else data
    kind = opts.pop("kind")
    opts.setdefault("warn", False)
    for key in ("measure", "method", "test", "pi_method", "to", "i2_method"):
        if key in opts:
            check_code(key, opts[key])
    if opts.get("study_ci") is not None:
        check_study_ci(kind, opts["study_ci"])
    if opts["method"] != "FE" and len(d) < 2:
        raise InputError(f"a random-effects model needs at least 2 studies; got k = {len(d)}")
    return _pool(d, kind=kind, **opts)


# ----------------------------------------------------------------------- tau^2 interval
def confint_tau2(res: PoolResult, *, type: str = "QP", level: float | None = None) -> Tau2CI:
    """Confidence interval for tau^2, I^2 and H^2, as metafor ``confint.rma.uni``.

    Parameters
    ----------
    res : PoolResult
        An inverse-variance random-effects fit.
    type : {"QP", "PL"}
        Q-profile (any estimator; Viechtbauer 2007) or profile likelihood (ML and REML
        fits only; Hardy & Thompson 1996; metafor's ``type="PL"``).
    level : float, optional
        Defaults to the fit's level.

    Returns
    -------
    Tau2CI

    Raises
    ------
    OptionError
        FE or GLMM fits, PL for a non-likelihood estimator, unknown type.

    References
    ----------
    Viechtbauer W. *Stat Med* 2007;26:37-52. Hardy RJ, Thompson SG. *Stat Med*
    1996;15:619-29.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions, confint_tau2
    >>> df = pd.DataFrame(
    ...     {
    ...         "events": [2, 5, 1, 8, 4, 12],
    ...         "n": [40, 60, 35, 90, 50, 100],
    ...         "setting": ["urban", "rural"] * 3,
    ...         "fu": [12.0, 24, 18, 36, 6, 30],
    ...     }
    ... )
    >>> res = pool_proportions(df, method="REML")
    >>> ci = confint_tau2(res, type="PL")
    >>> round(ci.tau2_low, 4), round(ci.tau2_high, 4)
    (0.0, 0.6118)
    """
    if type not in ("QP", "PL"):
        raise OptionError(f"Invalid type {type!r}; must be one of ['QP', 'PL']")
    if res.method == "FE":
        raise OptionError("a fixed-effect model has no tau^2 to give an interval for")
    if res.method == "GLMM":
        raise OptionError(
            "confint_tau2 works on inverse-variance fits; for GLMM fits use the interval the "
            "GLMM result reports"
        )
    if type == "PL" and res.method not in ("ML", "REML"):
        raise OptionError(
            f"Invalid type 'PL' for method {res.method!r}; the profile likelihood needs a "
            "likelihood fit: method one of ['ML', 'REML']"
        )
    lev = res.level if level is None else _check_level(level)
    yi = res.studies["yi"].to_numpy(dtype=float)
    vi = res.studies["vi"].to_numpy(dtype=float)
    k = yi.shape[0]
    if type == "QP":
        ci = qprofile_ci(yi, vi, None, res.tau2, lev)
        method = "Q-profile"
    else:
        ci = profile_ci(yi, vi, None, res.tau2, lev, res.method)
        method = "profile likelihood"
    w0 = 1.0 / vi
    vt = (k - 1) / (float(np.sum(w0)) - float(np.sum(w0 * w0)) / float(np.sum(w0)))

    def i2(t: float) -> float:
        return 100 * t / (vt + t)

    return Tau2CI(
        method=method,
        level=lev,
        tau2=res.tau2,
        tau2_low=ci.low,
        tau2_high=ci.high,
        i2=i2(res.tau2),
        i2_low=i2(ci.low),
        i2_high=i2(ci.high),
        h2=res.tau2 / vt + 1,
        h2_low=ci.low / vt + 1,
        h2_high=ci.high / vt + 1,
        notes=ci.notes,
    )


# ---------------------------------------------------------------------- moderators
def _design(data: pd.DataFrame, mods: Sequence[str]) -> tuple[FloatArray, list[str]]:
    X, names, _ = design_matrix(data, mods)
    return X, names


def _model_scale(res: PoolResult) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """The fit's yi, vi and used rows of ``res.data`` (counts through escalc, or given)."""
    from review.meta.estimates import model_scale

    return model_scale(res)


def _iv_only(res: PoolResult, what: str) -> None:
    if res.method == "GLMM":
        raise OptionError(
            f"{what} needs an inverse-variance fit; this result is a GLMM. Refit with e.g. "
            "method='REML' (measure 'PLO' or 'IRLN') for this analysis"
        )


def meta_regression(
    res: PoolResult, mods: Sequence[str] | str, *, method: str | None = None
) -> MetaRegressionResult:
    """Mixed-effects meta-regression, as metafor ``rma(yi, vi, mods = ~ m1 + m2, ...)``.

    Parameters
    ----------
    res : PoolResult
        An inverse-variance fit; its measure, method, test and level are reused.
    mods : str or sequence of str
        Moderator columns of ``res.data`` (numeric as is; text or categories coded as
        treatment dummies with the first sorted level as reference, as R's ``factor``).
    method : str, optional
        Override the tau^2 estimator.

    Returns
    -------
    MetaRegressionResult
        Coefficients, QM (chi-square, or F(m, k - p) under knha), QE, residual tau^2,
        I^2, H^2 and R^2 (percent; ``max(0, 100 (tau2_0 - tau2)/tau2_0)``, 0 when the
        intercept-only tau^2 is 0, as metafor); the design, so that :func:`predict`,
        :func:`influence` and :func:`permutest` can work on it.

    Raises
    ------
    InputError
        Missing moderator column or value, rank-deficient design, k <= p.
    OptionError
        A GLMM result with another ``method``.

    Notes
    -----
    A GLMM result (``method="GLMM"``) is regressed with the GLMM itself: metafor
    ``rma.glmm(measure="PLO" | "IRLN", mods = ~ ..., model="UM.FS")``, see
    :func:`review.meta.regression.meta_regression_glmm`.

    References
    ----------
    Thompson SG, Higgins JPT. How should meta-regression analyses be undertaken and
    interpreted? *Stat Med* 2002;21:1559-73. Raudenbush SW 2009 (R^2).

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions, meta_regression
    >>> df = pd.DataFrame(
    ...     {
    ...         "events": [2, 5, 1, 8, 4, 12],
    ...         "n": [40, 60, 35, 90, 50, 100],
    ...         "setting": ["urban", "rural"] * 3,
    ...         "fu": [12.0, 24, 18, 36, 6, 30],
    ...     }
    ... )
    >>> res = pool_proportions(df, method="REML")
    >>> m = meta_regression(res, mods="fu")
    >>> m.coefficients["estimate"].round(4).tolist(), round(m.qm_pvalue, 4)
    ([-2.7621, 0.0174], 0.3561)
    """
    if isinstance(mods, str):
        mods = [mods]
    mods = list(mods)
    if res.method == "GLMM":
        if method not in (None, "GLMM"):
            raise OptionError(
                f"Invalid method {method!r} for a GLMM result; a GLMM is regressed with the "
                "GLMM (method=None). Refit with e.g. method='REML' for an inverse-variance "
                "meta-regression"
            )
        from review.meta.regression import meta_regression_glmm

        return meta_regression_glmm(res, mods)
    meth = res.method if method is None else check_code("method", method)
    if meth == "GLMM":
        raise OptionError(
            "method='GLMM' needs a GLMM result: pool_proportions(..., method='GLMM') first"
        )
    yi, vi, used = _model_scale(res)
    data = res.data[used]
    X, names, design = design_matrix(data, mods)
    k, p = X.shape
    if k <= p:
        raise InputError(f"meta-regression with {p} coefficients needs k > {p}; got k = {k}")
    fit = fit_rma(yi, vi, X, method=meth, test=res.test, level=res.level)
    notes = list(fit.notes)
    if meth == "FE":
        r2 = float("nan")
        notes.append("R^2 not computed for a fixed-effect model")
    else:
        fit0 = fit_rma(yi, vi, None, method=meth, test=res.test, level=res.level)
        r2 = 0.0 if fit0.tau2 == 0 else max(0.0, 100 * (fit0.tau2 - fit.tau2) / fit0.tau2)
    coefs = pd.DataFrame(
        {
            "term": names,
            "estimate": fit.beta,
            "se": fit.se,
            "zval": fit.zval,
            "pval": fit.pval,
            "ci_low": fit.ci_low,
            "ci_high": fit.ci_high,
        }
    )
    return MetaRegressionResult(
        mods=tuple(mods),
        coefficients=coefs,
        qm=fit.qm,
        qm_df=p - 1,
        qm_pvalue=fit.qm_pvalue,
        qm_dist="F" if res.test == "knha" else "chisq",
        qm_df2=float(k - p) if res.test == "knha" else None,
        qe=fit.qe,
        qe_df=k - p,
        qe_pvalue=fit.qe_pvalue,
        tau2=fit.tau2,
        i2=fit.i2,
        h2=fit.h2,
        r2=r2,
        k=k,
        measure=res.measure,
        method=meth,
        test=res.test,
        level=res.level,
        vcov=pd.DataFrame(fit.vb, index=names, columns=names),
        converged=True,
        notes=tuple(notes),
        fit_stats=fit.fit_stats,
        design=design,
        X=pd.DataFrame(X, columns=names),
        studies=_regression_studies(data, yi, vi, res.kind),
        base=res,
        tau2_se=fit.tau2_se,
    )


def _regression_studies(
    data: pd.DataFrame, yi: FloatArray, vi: FloatArray, kind: str
) -> pd.DataFrame:
    cols: dict[str, Any] = {"label": data["label"].astype(str).to_numpy(), "yi": yi, "vi": vi}
    if kind == "proportion" and "n" in data.columns:
        cols["n"] = data["n"].to_numpy(dtype=float)
    return pd.DataFrame(cols)


def subgroups(res: PoolResult, by: str) -> SubgroupResult:
    """Subgroup analysis with two tests for subgroup differences.

    Parameters
    ----------
    res : PoolResult
        The overall fit; its options are reused for every subgroup.
    by : str
        Grouping column of ``res.data``.

    Returns
    -------
    SubgroupResult
        Separate fits per subgroup (own tau^2), and

        * ``q_between``: Cochran's Q between the subgroup estimates with their own SEs,
          df = G - 1, as R meta's test for subgroup differences under a random-effects
          model with separate tau^2 (Borenstein et al. 2009, ch. 19);
        * ``qm``: metafor's omnibus test of ``mods = ~ factor(by)`` in a mixed-effects
          model with one common tau^2 (inverse-variance fits only; NaN for GLMM).

    Raises
    ------
    InputError
        Missing column or group value, fewer than 2 subgroups.

    Notes
    -----
    A subgroup with a single study is fitted as a fixed-effect model (tau^2 = 0) and
    noted; under ``test="knha"`` its CI is then a z interval, as metafor's ``rma`` gives
    for k = 1 ("Setting argument test='z' since k=1"), with a note and a warning.

    References
    ----------
    Borenstein M, Hedges LV, Higgins JPT, Rothstein HR. *Introduction to Meta-Analysis*.
    Wiley; 2009, ch. 19. Viechtbauer W. *J Stat Softw* 2010;36(3):1-48.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions, subgroups
    >>> df = pd.DataFrame(
    ...     {
    ...         "events": [2, 5, 1, 8, 4, 12],
    ...         "n": [40, 60, 35, 90, 50, 100],
    ...         "setting": ["urban", "rural"] * 3,
    ...         "fu": [12.0, 24, 18, 36, 6, 30],
    ...     }
    ... )
    >>> res = pool_proportions(df, method="REML")
    >>> s = subgroups(res, by="setting")
    >>> round(s.q_between, 4), s.q_between_df, s.table["estimate"].round(4).tolist()
    (1.6165, 1, [0.1012, 0.0602])
    """
    data = res.data
    if by not in data.columns:
        raise InputError(
            f"grouping column {by!r} not found; columns are {list(map(str, data.columns))}",
            column=by,
        )
    for idx, v in data[by].items():
        if pd.isna(v):
            # the caller's index label, as given (pandas types labels as Hashable)
            raise InputError("missing subgroup value", row=cast("int | str", idx), column=by)
    keys = data[by].astype(str)
    levels = sorted(keys.unique())
    if len(levels) < 2:
        raise InputError(f"subgroups need at least 2 groups in {by!r}; found {levels}", column=by)
    groups: dict[str, PoolResult] = {}
    notes: list[str] = []
    rows = []
    for g in levels:
        sub = data[keys == g]
        if len(sub) == 1 and res.method != "FE":
            fit = refit(res, sub, method="FE")
            notes.append(f"subgroup {g!r} has one study: fitted with tau^2 = 0 (FE)")
        else:
            fit = refit(res, sub)
        if K1_NOTE in fit.notes:
            notes.append(f"subgroup {g!r}: {K1_NOTE}")
            warnings.warn(f"subgroup {g!r}: {K1_NOTE}", UserWarning, stacklevel=2)
        groups[g] = fit
        rows.append(
            {
                "group": g,
                "k": fit.k,
                "estimate": fit.estimate,
                "ci_low": fit.ci_low,
                "ci_high": fit.ci_high,
                "pi_low": fit.pi_low,
                "pi_high": fit.pi_high,
                "tau2": fit.tau2,
                "i2": fit.i2,
                "q": fit.q,
                "q_pvalue": fit.q_pvalue,
                "link_estimate": fit.link.estimate,
                "link_se": fit.link.se,
            }
        )
    table = pd.DataFrame(rows)
    th = table["link_estimate"].to_numpy(dtype=float)
    wg = 1.0 / table["link_se"].to_numpy(dtype=float) ** 2
    qb = float(np.sum(wg * (th - np.sum(wg * th) / np.sum(wg)) ** 2))
    qb_df = len(levels) - 1
    qb_p = chi2_sf(qb, qb_df)
    qm = qm_p = tau2c = float("nan")
    qm_df2: float | None = None
    if res.method != "GLMM":
        yi, vi, used = _model_scale(res)
        d = data[used].copy()
        d["__group__"] = keys[used]
        X, _ = _design(d, ["__group__"])
        if X.shape[0] > X.shape[1]:
            fitm = fit_rma(yi, vi, X, method=res.method, test=res.test, level=res.level)
            qm, qm_p, tau2c = fitm.qm, fitm.qm_pvalue, fitm.tau2
            if res.test == "knha":
                qm_df2 = float(X.shape[0] - X.shape[1])
    else:
        notes.append("common-tau^2 moderator test (QM) not available for GLMM fits")
    return SubgroupResult(
        by=by,
        groups=groups,
        table=table,
        q_between=qb,
        q_between_df=qb_df,
        q_between_pvalue=qb_p,
        qm=qm,
        qm_df=qb_df,
        qm_pvalue=qm_p,
        qm_dist="F" if res.test == "knha" else "chisq",
        qm_df2=qm_df2,
        tau2_common=tau2c,
        overall=res,
        notes=tuple(notes),
    )
