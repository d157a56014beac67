"""A multilevel random-effects model for several strata (or time points) of one study.

When a study reports its events separately for several strata (products, diseases, arms,
periods), the strata are not independent studies: they share the study's population,
protocol and follow-up. Pooling them as if they were gives the study too much weight and
understates the uncertainty. The three-level model (Konstantopoulos 2011; Cheung 2014)

``y_ij = mu + u_i + w_ij + e_ij``,  ``u_i ~ N(0, sigma2_study)``,
``w_ij ~ N(0, sigma2_stratum)``,  ``e_ij ~ N(0, v_ij)``,

for stratum j of study i, has one variance component between studies and one between the
strata of a study. It is metafor's ``rma.mv(yi, vi, random = ~ 1 | study/stratum)``.

:func:`pool_multilevel` is the entry point (counts and column names in, as
:func:`~review.meta.pool_proportions` and :func:`~review.meta.pool_rates`; the measure
decides whether ``n`` or ``time`` is read). It returns a :class:`MultilevelResult`.
:func:`fit_rma_mv` is the numerical core on model-scale ``yi``/``vi`` (moderators
allowed), used by the entry point and the tests.

Why a verb of its own rather than ``pool_proportions(..., cluster=)``: the model has two
variance components instead of one tau^2, only the likelihood estimators (REML, ML),
metafor's ``test="t"`` with its ``dfs`` rule instead of Hartung-Knapp, and a k that counts
two things (studies and strata); a result of another shape deserves its own name, and
``pool_proportions`` keeps one return type.

References
----------
Konstantopoulos S. Fixed effects and variance components estimation in three-level
meta-analysis. *Res Synth Methods* 2011;2:61-76. doi:10.1002/jrsm.35
Cheung MWL. Modeling dependent effect sizes with three-level meta-analyses: a structural
equation modeling approach. *Psychol Methods* 2014;19:211-29 (I^2 at each level).
Nakagawa S, Santos ESA. Methodological issues and advances in biological meta-analysis.
*Evol Ecol* 2012;26:1253-74 (I^2 of a multilevel model).
Viechtbauer W. I^2 for multilevel and multivariate models. metafor-project.org, tips
(``i2_multilevel_multivariate``): ``100 sigma2_l / (sum(sigma2) + (k - p)/tr(P))``.
Viechtbauer W. Conducting meta-analyses in R with the metafor package. *J Stat Softw*
2010;36(3):1-48 (``rma.mv``, ``confint.rma.mv``, ``predict.rma``).
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from review._format import fmt_p, fmt_x
from review.errors import ConvergenceError, InputError, OptionError
from review.meta._vocab import (
    DFS,
    MEASURES,
    METHODS,
    PROPORTION_MEASURES,
    TESTS,
    Measure,
    MVMethod,
    MVTest,
    ZeroCellTo,
    check_code,
)
from review.meta.escalc import _escalc_arrays, _exact_ci_arrays, _validate
from review.meta.results import LinkScale, _html_table, _pv, _sig
from review.meta.tau2 import (
    chi2_quantile,
    chi2_sf,
    f_sf,
    norm_crit,
    norm_sf2,
    t_crit,
    t_sf2,
    zeroin,
)
from review.meta.uni import _fit_stats

__all__ = ["MultilevelResult", "MvFit", "fit_rma_mv", "pool_multilevel"]

FloatArray = NDArray[np.float64]
_LOG2PI = math.log(2 * math.pi)
_EPS = float(np.finfo(float).eps)
#: Profile-likelihood search tolerance (absolute, on sigma^2); far below what is printed.
_CI_TOL = 1e-10


# ----------------------------------------------------------------------- the model
class _Model:
    """``V = diag(v + s2) + s1 Z Z'`` with ``Z`` the study indicator; rows sorted by study.

    Everything is evaluated in the sorted order; ``order`` maps back. ``V^-1`` is built
    from the per-study closed form (Sherman-Morrison):
    ``V_c^-1 = diag(a) - g_c a a'`` with ``a = 1/(v + s2)``, ``g_c = s1/(1 + s1 sum_c a)``.
    """

    def __init__(self, yi: FloatArray, vi: FloatArray, codes: NDArray[np.intp], X: FloatArray):
        order = np.argsort(codes, kind="stable")
        self.order = order
        self.y = yi[order]
        self.v = vi[order]
        self.X = X[order]
        self.cl = codes[order]
        self.k, self.p = self.X.shape
        self.C = int(self.cl.max()) + 1 if self.k else 0
        self.starts = np.flatnonzero(np.r_[True, self.cl[1:] != self.cl[:-1]])
        self.same = self.cl[:, None] == self.cl[None, :]
        self.logdet_xx = float(np.linalg.slogdet(self.X.T @ self.X)[1])

    def csum(self, a: FloatArray, axis: int = 0) -> FloatArray:
        """Sums over the rows of each study (along ``axis``)."""
        out: FloatArray = np.add.reduceat(a, self.starts, axis=axis)
        return out

    def parts(self, s: FloatArray, reml: bool, deriv: bool = True) -> dict[str, Any]:
        """Log-likelihood, coefficients and (with ``deriv``) score and information."""
        s1, s2 = float(s[0]), float(s[1])
        a = 1.0 / (self.v + s2)
        A = self.csum(a)
        g = s1 / (1.0 + s1 * A)
        ag = a * g[self.cl]
        Vinv = np.diag(a) - self.same * (ag[:, None] * a[None, :])
        WX = Vinv @ self.X
        XWX = self.X.T @ WX
        XWXi = np.linalg.inv(XWX)
        beta = XWXi @ (WX.T @ self.y)
        r = self.y - self.X @ beta
        u = Vinv @ r  # = P y
        rss = float(r @ u)
        logdet_v = float(np.sum(np.log(self.v + s2)) + np.sum(np.log1p(s1 * A)))
        ll_ml = -0.5 * (self.k * _LOG2PI + logdet_v + rss)
        ll_reml = -0.5 * (
            (self.k - self.p) * _LOG2PI
            - self.logdet_xx
            + logdet_v
            + float(np.linalg.slogdet(XWX)[1])
            + rss
        )
        out: dict[str, Any] = {
            "ll": ll_reml if reml else ll_ml,
            "ll_ml": ll_ml,
            "ll_reml": ll_reml,
            "beta": beta,
            "vb": XWXi,
            "Vinv": Vinv,
            "u": u,
        }
        if not deriv:
            return out
        # P (REML) or V^-1 (ML) in the traces; the quadratic forms use u = P y in both
        M = Vinv - WX @ XWXi @ WX.T if reml else Vinv
        MZ = self.csum(M, axis=1)  # k x C: M Z
        ZMZ = self.csum(MZ, axis=0)  # C x C: Z' M Z
        zu = self.csum(u)
        score = 0.5 * np.array(
            [-float(ZMZ.trace()) + float(zu @ zu), -float(np.trace(M)) + float(u @ u)]
        )
        info = 0.5 * np.array(
            [
                [float(np.sum(ZMZ * ZMZ)), float(np.sum(MZ * MZ))],
                [float(np.sum(MZ * MZ)), float(np.sum(M * M))],
            ]
        )
        # observed information: quadratic forms w_j' P w_l with w_1 = Z Z' u, w_2 = u
        # (P in both likelihoods: the coefficients are profiled out)
        P = M if reml else Vinv - WX @ XWXi @ WX.T
        w1 = zu[self.cl]
        Pw1, Pw2 = P @ w1, P @ u
        quad = np.array([[w1 @ Pw1, w1 @ Pw2], [u @ Pw1, u @ Pw2]])
        out["score"] = score
        out["info"] = info
        # d2 ll / ds_j ds_l = 0.5 tr(M G_j M G_l) - u' G_j P G_l u (dP/ds_l = -P G_l P),
        # so the observed information is quad - info
        out["obs"] = quad - info
        return out


def _start(m: _Model, fixed: FloatArray) -> FloatArray:
    """Starting values as metafor ``rma.mv``'s, split equally between the components.

    ``max(0.002, var(y - X b_FE) - 1/mean(1/vi))``: the variance of the fixed-effect
    residuals beyond the typical sampling variance.
    """
    w = 1.0 / m.v
    WX = m.X * w[:, None]
    b = np.linalg.solve(m.X.T @ WX, WX.T @ m.y)
    res = m.y - m.X @ b
    total = max(0.001 * 2, float(np.var(res, ddof=1)) - 1.0 / float(np.mean(w)))
    s = np.full(2, total / 2)
    return np.where(np.isnan(fixed), s, fixed)


def _maximise(
    m: _Model, reml: bool, fixed: FloatArray, start: FloatArray | None = None
) -> tuple[FloatArray, dict[str, Any], int, bool]:
    """Maximise the (RE)ML log-likelihood over the free components, ``s >= 0``.

    Newton's method with the observed information when it is positive definite, else
    Fisher scoring (expected information), with step halving so the likelihood never
    falls and projection onto ``s >= 0``. A component at 0 whose score is not positive
    stays there (the boundary maximum: metafor's estimate there is ~1e-10 on its log
    scale). Stops when the free components move by less than 1e-10 (relative).
    """
    free = np.isnan(fixed)
    s = _start(m, fixed) if start is None else np.where(free, start, fixed)
    cur = m.parts(s, reml)
    it = 0
    for it in range(1, 201):
        U = cur["score"]
        act = free & ~((s <= 0.0) & (U <= 0.0))
        if not act.any():
            return s, cur, it, True
        idx = np.flatnonzero(act)
        sub_obs = cur["obs"][np.ix_(idx, idx)]
        sub_info = cur["info"][np.ix_(idx, idx)]
        step = np.zeros(2)
        try:
            if np.all(np.linalg.eigvalsh(sub_obs) > 0):
                step[idx] = np.linalg.solve(sub_obs, U[idx])
            else:
                step[idx] = np.linalg.solve(sub_info, U[idx])
        except np.linalg.LinAlgError:
            step[idx] = U[idx] / np.maximum(np.diag(sub_info), 1e-12)
        t = 1.0
        new = cur
        s_new = s
        for _ in range(60):
            s_new = np.where(free, np.maximum(s + t * step, 0.0), fixed)
            new = m.parts(s_new, reml)
            if new["ll"] >= cur["ll"] - 1e-12 * abs(cur["ll"]):
                break
            t *= 0.5
        moved = np.abs(s_new - s)
        s, cur = s_new, new
        if np.all(moved <= 1e-10 * np.maximum(1.0, np.abs(s))):
            return s, cur, it, True
    return s, cur, it, False


# ------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True, eq=False)
class MvFit:
    """A fitted multilevel model on the model scale (internal building block).

    Attributes
    ----------
    k, p, n_clusters : int
        Rows (strata), coefficients, studies.
    method, test, dfs : str
    level : float
    beta, vb, se, zval, pval, ci_low, ci_high : ndarray
        Coefficients (t under ``test="t"``).
    ddf : ndarray or None
        Degrees of freedom of each coefficient's t test (``None`` for z).
    sigma2 : ndarray
        ``(sigma2_study, sigma2_stratum)``.
    sigma2_fixed : tuple of bool
        Components fixed rather than estimated (metafor fixes a single-level factor at 0).
    qe, qe_df, qe_pvalue : float, int, float
        Test for (residual) heterogeneity (metafor ``QE``).
    qm, qm_df, qm_pvalue : float, int, float
        Omnibus test of the coefficients after the first (NaN for intercept only).
    vt : float
        Typical within-study variance ``(k - p)/tr(P)`` with ``W = diag(1/vi)``.
    i2, i2_levels : float, ndarray
        Total and per-level I^2 (percent).
    weights, weights_rowsum : ndarray
        Percent weights, ``diag(V^-1)`` (metafor ``weights.rma.mv`` default) and the row
        sums of ``V^-1`` (each row's share of the intercept-only estimate); input order.
    ll_ml, ll_reml : float
    fit_stats : dict
        ``logLik, deviance, AIC, BIC, AICc`` of the method's likelihood (metafor).
    iterations : int
    converged : bool
    notes : tuple of str
    """

    k: int
    p: int
    n_clusters: int
    method: str
    test: str
    dfs: str
    level: float
    beta: FloatArray
    vb: FloatArray
    se: FloatArray
    zval: FloatArray
    pval: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    ddf: FloatArray | None
    sigma2: FloatArray
    sigma2_fixed: tuple[bool, bool]
    qe: float
    qe_df: int
    qe_pvalue: float
    qm: float
    qm_df: int
    qm_pvalue: float
    vt: float
    i2: float
    i2_levels: FloatArray
    weights: FloatArray
    weights_rowsum: FloatArray
    ll_ml: float
    ll_reml: float
    fit_stats: dict[str, float]
    iterations: int
    converged: bool
    notes: tuple[str, ...]
    _model: _Model = field(repr=False)


def _ddf(X: FloatArray, codes: NDArray[np.intp], k: int, C: int, dfs: str) -> FloatArray:
    """The t df of metafor's ``.ddf.calc``: residual ``k - p``, or the "contain" rule.

    ``contain``: a coefficient whose column is constant within every study gets
    ``n_studies - p``, else (constant within each stratum, which every column is) ``k - p``;
    floored at 1.
    """
    p = X.shape[1]
    if dfs == "residual":
        ddf = np.full(p, float(k - p))
    else:
        ddf = np.empty(p)
        for j in range(p):
            col = X[:, j]
            const_in_study = all(np.ptp(col[codes == c]) == 0.0 for c in range(C))
            ddf[j] = (min(C, k) if const_in_study else k) - p
    out: FloatArray = np.maximum(ddf, 1.0)
    return out


def fit_rma_mv(
    yi: FloatArray,
    vi: FloatArray,
    cluster: Sequence[object] | NDArray[Any],
    X: FloatArray | None = None,
    *,
    method: str = "REML",
    test: str = "z",
    dfs: str = "residual",
    level: float = 0.95,
    sigma2: tuple[float | None, float | None] = (None, None),
) -> MvFit:
    """Fit ``rma.mv(yi, vi, mods = X, random = ~ 1 | cluster/row, method, test, dfs)``.

    Parameters
    ----------
    yi, vi : ndarray
        Outcomes and sampling variances (``vi > 0``), one a stratum.
    cluster : sequence
        The study of each row (any hashable values).
    X : ndarray, optional
        Design matrix, intercept column first; intercept only when ``None``.
    method : {"REML", "ML"}
    test : {"z", "t"}
    dfs : {"residual", "contain"}
        Degrees of freedom of the t tests (metafor ``dfs``; ``"contain"`` implies
        ``test="t"``, as in metafor).
    level : float
    sigma2 : tuple
        Fix a component at a value (``None``: estimate it).

    Returns
    -------
    MvFit

    Raises
    ------
    ConvergenceError
        The likelihood maximisation did not converge.

    Notes
    -----
    The marginal covariance is ``V = diag(vi + sigma2_stratum) + sigma2_study Z Z'``
    (``Z`` the study indicator), block diagonal by study; its inverse and determinant are
    computed per study in closed form. The (restricted) likelihood is maximised by
    Newton's method with analytic score and observed information (Fisher scoring where
    that is not positive definite), with ``sigma2 >= 0`` kept by projection: a component
    is exactly 0 at a boundary maximum where metafor's optimiser, working on
    ``log(sigma2)``, stops near 1e-10. As metafor, a study factor with one level has its
    component fixed at 0, and when no study has more than one stratum the two components
    are not identifiable (only their sum is); metafor's optimiser then splits the sum
    equally, and so does this one, with a note.

    References
    ----------
    Konstantopoulos S. *Res Synth Methods* 2011;2:61-76. Viechtbauer W. *J Stat Softw*
    2010;36(3):1-48.
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.shape[0]
    codes = np.asarray(pd.factorize(pd.Series(list(cluster), dtype=object))[0], dtype=np.intp)
    if X is None:
        X = np.ones((k, 1))
    X = np.asarray(X, dtype=float)
    p = X.shape[1]
    if dfs == "contain":
        test = "t"
    reml = method == "REML"
    m = _Model(yi, vi, codes, X)
    C = m.C
    notes: list[str] = []
    fixed = np.full(2, np.nan)
    for j, val in enumerate(sigma2):
        if val is not None:
            fixed[j] = float(val)
    if C == 1 and np.isnan(fixed[0]):
        fixed[0] = 0.0
        notes.append(
            "one study only: the between-study variance is fixed at 0 (metafor: single-level "
            "factor in 'random', sigma2 fixed to 0)"
        )
    sizes = np.bincount(codes)
    split = C > 1 and int(sizes.max()) == 1 and np.isnan(fixed).all()
    if split:
        # only the sum is identifiable (Z Z' = I): maximise over the sum, split it equally
        one = _Model(yi, vi, np.arange(k, dtype=np.intp), X)
        s_tot, _, it, ok = _maximise(one, reml, np.array([0.0, np.nan]))
        s = np.array([s_tot[1] / 2, s_tot[1] / 2])
        notes.append(
            "no study has more than one stratum: only the sum of the two variance "
            "components is identifiable; it is split equally (as metafor's optimiser does)"
        )
    else:
        s, _, it, ok = _maximise(m, reml, fixed)
    if not ok:
        raise ConvergenceError(
            f"multilevel {method} fit did not converge in {it} iterations "
            "(metafor: 'Optimizer (nlminb) did not achieve convergence')"
        )
    sigma2_fixed = (bool(~np.isnan(fixed[0])), bool(~np.isnan(fixed[1])))
    final = m.parts(s, reml, deriv=False)
    beta = final["beta"]
    vb = final["vb"]
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = beta / se
    alpha = 1 - level
    ddf: FloatArray | None = None
    if test == "t":
        ddf = _ddf(X, codes, k, C, dfs)
        pval = np.array([float(t_sf2(float(z), float(d))) for z, d in zip(zval, ddf)])
        crit = np.array([t_crit(alpha, float(d)) for d in ddf])
    else:
        pval = norm_sf2(zval)
        crit = np.full(p, norm_crit(alpha))
    ci_low = beta - crit * se
    ci_high = beta + crit * se
    qm = qm_p = float("nan")
    if p > 1:
        b = beta[1:]
        qm = float(b @ np.linalg.solve(vb[1:, 1:], b))
        if ddf is not None:
            qm /= p - 1
            qm_p = f_sf(qm, p - 1, float(np.min(ddf[1:])))
        else:
            qm_p = chi2_sf(qm, p - 1)
    # heterogeneity with W = diag(1/vi), and the typical sampling variance for I^2
    w0 = 1.0 / vi
    WX0 = X * w0[:, None]
    A0i = np.linalg.inv(X.T @ WX0)
    b0 = A0i @ (WX0.T @ yi)
    r0 = yi - X @ b0
    if k > p:
        qe = max(0.0, float(np.sum(w0 * r0 * r0)))
        qe_p = chi2_sf(qe, k - p)
        tr_p = float(np.sum(w0) - np.trace(A0i @ (WX0.T @ WX0)))
        vt = (k - p) / tr_p
    else:
        qe, qe_p, vt = 0.0, 1.0, float("nan")
    tot = float(np.sum(s))
    i2_levels = 100.0 * s / (tot + vt)
    i2 = float(np.sum(i2_levels))
    # weights in input order
    Vinv = final["Vinv"]
    inv = np.empty(k, dtype=np.intp)
    inv[m.order] = np.arange(k)
    wd = np.diag(Vinv)[inv]
    wr = Vinv.sum(axis=1)[inv]
    # fit statistics (metafor rma.mv: both likelihoods at the estimates)
    n_par = p + int(np.sum(~np.array(sigma2_fixed)))
    ll_ml, ll_reml = final["ll_ml"], final["ll_reml"]
    ll_qe = -0.5 * k * _LOG2PI - 0.5 * float(np.sum(np.log(vi)))
    if reml:
        ll, n_eff, dev = ll_reml, k - p, -2.0 * ll_reml
    else:
        ll, n_eff, dev = ll_ml, k, -2.0 * (ll_ml - ll_qe)
    fit_stats = _fit_stats(ll, dev, n_par, n_eff)
    return MvFit(
        k=k,
        p=p,
        n_clusters=C,
        method=method,
        test=test,
        dfs=dfs,
        level=level,
        beta=beta,
        vb=vb,
        se=se,
        zval=zval,
        pval=pval,
        ci_low=ci_low,
        ci_high=ci_high,
        ddf=ddf,
        sigma2=s,
        sigma2_fixed=sigma2_fixed,
        qe=qe,
        qe_df=k - p,
        qe_pvalue=qe_p,
        qm=qm,
        qm_df=p - 1,
        qm_pvalue=qm_p,
        vt=vt,
        i2=i2,
        i2_levels=i2_levels,
        weights=100.0 * wd / float(np.sum(wd)),
        weights_rowsum=100.0 * wr / float(np.sum(wr)),
        ll_ml=ll_ml,
        ll_reml=ll_reml,
        fit_stats=fit_stats,
        iterations=it,
        converged=ok,
        notes=tuple(notes),
        _model=m,
    )


def profile_ci_sigma2(fit: MvFit, j: int, level: float | None = None) -> tuple[float, float, str]:
    """Profile-likelihood interval for one variance component (metafor ``confint.rma.mv``).

    The bounds solve ``-2 (ll_p(sigma2_j) - ll_max) = chi2_{1; level}``, where the other
    component (and the coefficients) are re-maximised at each value, on ``[0, est]`` and
    ``[est, max(10, 100 est)]`` (metafor's ``vc.min``/``vc.max``); a bound not reached is
    the end of the search range and the returned note says so.

    Returns
    -------
    low, high, note
        ``note`` is empty, or says which bound is the search limit.

    References
    ----------
    Hardy RJ, Thompson SG. *Stat Med* 1996;15:619-29. Viechtbauer W. metafor 3.8-1,
    ``confint.rma.mv`` (type "PL").
    """
    lev = fit.level if level is None else level
    m = fit._model
    reml = fit.method == "REML"
    est = float(fit.sigma2[j])
    ll_max = fit.ll_reml if reml else fit.ll_ml
    crit = chi2_quantile(lev, 1)
    other = 1 - j
    base = np.full(2, np.nan)
    if fit.sigma2_fixed[other]:
        base[other] = fit.sigma2[other]
    warm = {"s": fit.sigma2.copy()}

    def f(val: float) -> float:
        fixed = base.copy()
        fixed[j] = val
        s, cur, _, ok = _maximise(m, reml, fixed, start=warm["s"])
        if not ok:
            raise ConvergenceError("profile likelihood: refit did not converge")
        warm["s"] = s
        return -2.0 * (float(cur["ll"]) - ll_max) - crit

    note = ""
    lo_end = 0.0
    f_lo = f(lo_end)
    if f_lo < 0:
        lo = lo_end
    else:
        warm["s"] = fit.sigma2.copy()
        lo, _, ok = zeroin(f, lo_end, est, f_lo, -crit, tol=_CI_TOL)
        if not ok:
            raise ConvergenceError("lower profile-likelihood bound: root search did not converge")
    hi_end = 10.0 if est <= math.sqrt(_EPS) else max(10.0, 100.0 * est)
    warm["s"] = fit.sigma2.copy()
    f_hi = f(hi_end)
    if f_hi < 0:
        hi = hi_end
        note = f"upper bound > {hi_end:g} (end of the search range)"
    else:
        warm["s"] = fit.sigma2.copy()
        hi, _, ok = zeroin(f, est, hi_end, -crit, f_hi, tol=_CI_TOL)
        if not ok:
            raise ConvergenceError("upper profile-likelihood bound: root search did not converge")
    return float(lo), float(hi), note


@dataclass(frozen=True, slots=True, eq=False)
class MultilevelResult:
    """A pooled proportion or rate from the multilevel model (metafor ``rma.mv``).

    Attributes
    ----------
    measure : str
        metafor's measure code (``PLO``, ``IRLN``, ...).
    method : {"REML", "ML"}
    test : {"z", "t"}
        Wald z, or metafor's ``test="t"`` (t-distribution, no variance adjustment).
    dfs : {"residual", "contain"}
        How the t degrees of freedom are counted (see ``_vocab.DFS_INFO``).
    level : float
    k : int
        Number of strata (rows, estimates) in the fit.
    n_studies : int
        Number of studies (clusters).
    estimate, ci_low, ci_high : float
        Pooled value and confidence interval on the proportion (0-1) or rate scale.
    pi_low, pi_high : float
        Prediction interval for a new stratum of a new study (``sqrt(se^2 + sigma2_study +
        sigma2_stratum)``, as metafor ``predict.rma``), on the same scale.
    sigma2_study, sigma2_stratum : float
        Variance between studies and between the strata of a study (model scale).
    sigma2_study_ci, sigma2_stratum_ci : tuple of float
        Profile-likelihood intervals (metafor ``confint.rma.mv``); NaN when not computed
        or for a component that is fixed.
    sigma2_fixed : tuple of bool
        ``(study, stratum)``: components fixed at 0 rather than estimated.
    i2, i2_study, i2_stratum : float
        Total I^2 and its split between the levels, in percent:
        ``100 sigma2_l / (sigma2_study + sigma2_stratum + vt)`` with the typical sampling
        variance ``vt = (k - 1)/tr(P)`` (Nakagawa & Santos 2012; Cheung 2014; metafor
        project's recipe).
    q, q_df, q_pvalue : float, int, float
        Cochran's Q test for heterogeneity (metafor ``QE``).
    link : LinkScale
        Model-scale estimate, SE, test, CI and PI (``df``/``pi_df`` the t df under
        ``test="t"``).
    studies : pandas.DataFrame
        One row a stratum: ``study, label, events, n`` (or ``time``), ``yi, vi`` (model
        scale, after any correction), ``estimate, ci_low, ci_high`` (exact
        Clopper-Pearson / exact Poisson), ``weight`` (percent, ``diag(V^-1)``, metafor's
        ``weights()``), ``weight_rowsum`` (percent, row sums of ``V^-1``: each
        stratum's share of the pooled estimate), ``corrected``.
    notes : tuple of str
    converged : bool
    kind : {"proportion", "rate"}
    cluster : str
        The column that names the study of each stratum.
    vt : float
        Typical sampling variance used by the I^2 values.
    fit_stats : Mapping of str to float
        ``logLik, deviance, AIC, BIC, AICc`` (metafor ``fitstats``).
    data : pandas.DataFrame
        The validated input (one row a stratum).
    options : Mapping
        The keyword options of the call.
    data_report : pandas.DataFrame
        ``label, status, reason`` for every input row.
    """

    measure: str
    method: str
    test: str
    dfs: str
    level: float
    k: int
    n_studies: int
    estimate: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    sigma2_study: float
    sigma2_stratum: float
    sigma2_study_ci: tuple[float, float]
    sigma2_stratum_ci: tuple[float, float]
    sigma2_fixed: tuple[bool, bool]
    i2: float
    i2_study: float
    i2_stratum: float
    q: float
    q_df: int
    q_pvalue: float
    link: LinkScale
    studies: pd.DataFrame
    notes: tuple[str, ...]
    converged: bool
    kind: str = "proportion"
    cluster: str = "study"
    vt: float = float("nan")
    fit_stats: Mapping[str, float] = field(default_factory=dict)
    data: pd.DataFrame = field(default_factory=pd.DataFrame)
    options: Mapping[str, Any] = field(default_factory=dict)
    data_report: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def scale_word(self) -> str:
        """``"proportion"`` or ``"rate"``."""
        return "rate" if self.kind == "rate" else "proportion"

    @property
    def k_text(self) -> str:
        """``"k = 4 studies, 8 strata"``."""
        st = "study" if self.n_studies == 1 else "studies"
        sr = "stratum" if self.k == 1 else "strata"
        return f"k = {self.n_studies} {st}, {self.k} {sr}"

    def methods_sentence(self) -> str:
        """One sentence describing the model, for a report's methods section."""
        m = MEASURES[self.measure]
        meth = METHODS[self.method]
        tst = TESTS[self.test]
        dfs = f" ({self.dfs} degrees of freedom)" if self.test == "t" else ""
        return (
            f"Multilevel random-effects meta-analysis of the {m.long_name} ({self.measure}) "
            "with random effects for studies and for strata within studies (metafor "
            f"rma.mv, random = ~ 1 | study/stratum; Konstantopoulos 2011), "
            f"{meth.long_name}; inference: {tst.long_name}{dfs}; prediction interval with "
            f"both variance components; back-transform {m.back_name}."
        )

    def summary(self, digits: int = 4) -> str:
        """Plain text in the layout of metafor's ``print.rma.mv``."""
        d = digits
        L = self.link
        out = [f"Multilevel Random-Effects Model ({self.k_text}; method: {self.method})"]
        dfs = f"; dfs: {self.dfs}" if self.test == "t" else ""
        out.append(f"Measure: {self.measure}; test: {self.test}{dfs}; level: {100 * self.level:g}%")
        out.append("")
        if self.fit_stats:
            names = ["logLik", "deviance", "AIC", "BIC", "AICc"]
            out.append("  " + "".join(f"{n:>11s}" for n in names))
            out.append("  " + "".join(f"{fmt_x(self.fit_stats.get(n), d):>11s}" for n in names))
            out.append("")
        out.append("Variance Components:")
        out.append("")
        out.append(
            f"{'':12s}{'estim':>9s}{'sqrt':>9s}{'ci.lb':>9s}{'ci.ub':>9s}{'I2(%)':>8s}"
            f"{'nlvls':>7s}{'fixed':>7s}  factor"
        )
        comps = (
            ("sigma^2.1", self.sigma2_study, self.sigma2_study_ci, self.i2_study,
             self.n_studies, self.sigma2_fixed[0], self.cluster),
            ("sigma^2.2", self.sigma2_stratum, self.sigma2_stratum_ci, self.i2_stratum,
             self.k, self.sigma2_fixed[1], f"{self.cluster}/stratum"),
        )  # fmt: skip
        for name, est, ci, i2, nl, fx, fac in comps:
            out.append(
                f"{name:12s}{fmt_x(est, d):>9s}{fmt_x(math.sqrt(est), d):>9s}"
                f"{fmt_x(ci[0], d):>9s}{fmt_x(ci[1], d):>9s}{i2:>8.2f}{nl:>7d}"
                f"{'yes' if fx else 'no':>7s}  {fac}"
            )
        out.append("")
        out.append(
            f"I^2 (total heterogeneity / total variability): {self.i2:.2f}% "
            f"(study {self.i2_study:.2f}%, stratum {self.i2_stratum:.2f}%)"
        )
        out.append("")
        out.append("Test for Heterogeneity:")
        out.append(f"Q(df = {self.q_df}) = {fmt_x(self.q, d)}, {_pv(self.q_pvalue, d)}")
        out.append("")
        out.append("Model Results (model scale):")
        out.append("")
        stat = "tval" if L.df is not None else "zval"
        hdr = ["estimate", "se", stat] + (["df"] if L.df is not None else [])
        hdr += ["pval", "ci.lb", "ci.ub"]
        out.append("".join(f"{h:>10s}" for h in hdr))
        row = [fmt_x(L.estimate, d), fmt_x(L.se, d), fmt_x(L.zval, d)]
        if L.df is not None:
            row.append(f"{L.df:g}")
        row += [fmt_p(L.pval, d), fmt_x(L.ci_low, d), fmt_x(L.ci_high, d)]
        out.append("".join(f"{v:>10s}" for v in row) + f" {_sig(L.pval)}")
        out.append("")
        out.append("---")
        out.append("Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
        out.append("")
        out.append(f"Pooled {self.scale_word} (back-transformed):")
        out.append(f"{'pred':>10s}{'ci.lb':>10s}{'ci.ub':>10s}{'pi.lb':>10s}{'pi.ub':>10s}")
        out.append(
            "".join(
                f"{fmt_x(v, d):>10s}"
                for v in (self.estimate, self.ci_low, self.ci_high, self.pi_low, self.pi_high)
            )
        )
        out.append(
            "Prediction interval: a new stratum of a new study, sqrt(se^2 + sigma^2.1 + "
            "sigma^2.2), as metafor predict()."
        )
        if not self.converged:
            out.append("WARNING: the fit did not converge; see notes.")
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """Per-stratum rows plus the pooled row.

        Columns ``study, label, estimate, ci_low, ci_high, pi_low, pi_high, weight,
        kind`` where ``kind`` is ``stratum`` or ``pooled``.
        """
        s = self.studies
        rows = pd.DataFrame(
            {
                "study": s["study"].astype(str),
                "label": s["label"].astype(str),
                "estimate": s["estimate"],
                "ci_low": s["ci_low"],
                "ci_high": s["ci_high"],
                "pi_low": float("nan"),
                "pi_high": float("nan"),
                "weight": s["weight"],
                "kind": "stratum",
            }
        )
        pooled = pd.DataFrame(
            [
                {
                    "study": "",
                    "label": f"Multilevel model ({self.measure}, {self.method}, "
                    f"{self.test}; {self.k_text})",
                    "estimate": self.estimate,
                    "ci_low": self.ci_low,
                    "ci_high": self.ci_high,
                    "pi_low": self.pi_low,
                    "pi_high": self.pi_high,
                    "weight": 100.0,
                    "kind": "pooled",
                }
            ]
        )
        return pd.concat([rows, pooled], ignore_index=True)

    def _repr_html_(self) -> str:
        return _html_table(
            f"Pooled {self.scale_word}, multilevel model: {self.measure}, {self.method}, "
            f"{self.test} ({html.escape(self.k_text)})",
            self.summary(),
            self.to_frame(),
        )

    def __repr__(self) -> str:
        return (
            f"MultilevelResult({self.measure}/{self.method}/{self.test}, {self.k_text}, "
            f"estimate={fmt_x(self.estimate)} [{fmt_x(self.ci_low)}, {fmt_x(self.ci_high)}], "
            f"sigma2=({fmt_x(self.sigma2_study)}, {fmt_x(self.sigma2_stratum)}), "
            f"I2={self.i2:.1f}%{'' if self.converged else ', NOT CONVERGED'})"
        )


def _check_level(level: object) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise OptionError(f"Invalid level {level!r}; must be a number in (0, 1), e.g. 0.95")
    return float(level)


def pool_multilevel(
    df: pd.DataFrame,
    *,
    cluster: str,
    events: str = "events",
    n: str = "n",
    time: str = "person_years",
    measure: Measure = "PLO",
    method: MVMethod = "REML",
    test: MVTest = "z",
    dfs: DFS = "residual",
    level: float = 0.95,
    label: str | None = None,
    add: float | None = None,
    to: ZeroCellTo = "only0",
    sigma2_ci: bool = True,
) -> MultilevelResult:
    """Pool strata nested in studies, as metafor ``rma.mv(yi, vi, random = ~ 1 | study/stratum)``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row a stratum (or time point); a study without strata is one row.
    cluster : str
        Column naming the study each row belongs to.
    events : str
        Column with the event counts.
    n, time : str
        Column with the sample sizes (read for a proportion measure) or the person-time
        (read for a rate measure).
    measure : {"PR", "PLO", "PAS", "PFT", "IR", "IRLN"}
        The outcome measure (escalc); it decides whether ``n`` or ``time`` is read.
    method : {"REML", "ML"}
        Restricted or full maximum likelihood.
    test : {"z", "t"}
        Wald z, or t-tests and intervals (metafor ``test="t"``).
    dfs : {"residual", "contain"}
        t degrees of freedom: ``k - 1`` strata, or (``"contain"``) studies - 1, as metafor;
        ``"contain"`` implies ``test="t"``.
    level : float
        Confidence level in (0, 1).
    label : str, optional
        Column with a unique label for each stratum (``Study 1, ...`` when ``None``).
    add, to : float, str
        Continuity correction, as :func:`review.meta.pool_proportions`.
    sigma2_ci : bool
        Compute the profile-likelihood intervals of both variance components.

    Returns
    -------
    MultilevelResult
        Estimates back on the proportion or rate scale, both variance components with
        their intervals, I^2 at each level, the prediction interval.

    Raises
    ------
    InputError
        Bad data (names row and column), a missing study value, fewer than 2 strata.
    OptionError
        An unknown code or a level outside (0, 1).
    ConvergenceError
        The likelihood maximisation did not converge.

    Notes
    -----
    With one study, the between-study variance is fixed at 0 (metafor does the same); when
    no study has more than one stratum, only the sum of the components is identifiable and
    it is split equally (a note says so; :func:`~review.meta.pool_proportions` is then the
    model to use). The prediction interval is for a new stratum of a new study.

    References
    ----------
    Konstantopoulos S. *Res Synth Methods* 2011;2:61-76. Cheung MWL. *Psychol Methods*
    2014;19:211-29. Nakagawa S, Santos ESA. *Evol Ecol* 2012;26:1253-74. Viechtbauer W.
    *J Stat Softw* 2010;36(3):1-48.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame(
    ...     {
    ...         "study": ["A", "A", "B", "B", "C", "D", "D", "E", "E"],
    ...         "events": [4, 9, 20, 12, 10, 3, 8, 30, 18],
    ...         "n": [120, 150, 80, 95, 210, 160, 140, 300, 310],
    ...     }
    ... )
    >>> res = pool_multilevel(df, cluster="study", measure="PLO")
    >>> res.k_text
    'k = 5 studies, 9 strata'
    >>> # metafor 3.8-1: rma.mv(yi, vi, random = ~ 1 | study/row) on escalc("PLO"), then
    >>> # predict(res, transf = transf.ilogit): sigma^2 0.3618 and 0.1660, pred 0.0693
    >>> round(res.sigma2_study, 4), round(res.sigma2_stratum, 4), round(res.estimate, 4)
    (0.3618, 0.166, 0.0693)
    >>> round(res.pi_low, 4), round(res.pi_high, 4)
    (0.0154, 0.2616)
    """
    check_code("measure", measure)
    check_code("method", method, ("REML", "ML"))
    check_code("test", test, ("z", "t"))
    check_code("dfs", dfs)
    check_code("to", to)
    lev = _check_level(level)
    if dfs == "contain":
        test = "t"
    kind = "proportion" if measure in PROPORTION_MEASURES else "rate"
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if cluster not in df.columns:
        raise InputError(
            f"study (cluster) column {cluster!r} not found; columns are "
            f"{list(map(str, df.columns))}",
            column=cluster,
        )
    for idx, v in df[cluster].items():
        if pd.isna(v):
            raise InputError("missing study value", row=cast("int | str", idx), column=cluster)
    data, ev, size, labels = _validate(
        df,
        kind=kind,
        events=events,
        n=n if kind == "proportion" else None,
        time=time if kind == "rate" else None,
        label=label,
        min_k=2,
    )
    clusters = df[cluster].astype(str).to_numpy()
    add_v = MEASURES[measure].default_add if add is None else float(add)
    if not math.isfinite(add_v) or add_v < 0:
        raise OptionError(f"Invalid add {add!r}; must be a number >= 0")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        es = _escalc_arrays(
            measure,
            ev,
            size,
            cast("NDArray[Any]", labels),
            add=add_v,
            to=to,
            warn=True,
            unit=("stratum", "strata"),
        )
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=2)
    u = es.used
    k = int(u.sum())
    if k < 2:
        raise InputError(
            f"a multilevel model needs at least 2 usable strata; got k = {k}", column=events
        )
    cl_u = clusters[u]
    fit = fit_rma_mv(es.yi, es.vi, cl_u, method=method, test=test, dfs=dfs, level=lev)
    notes = list(es.notes) + list(fit.notes)
    est, se = float(fit.beta[0]), float(fit.se[0])
    df_t = None if fit.ddf is None else float(fit.ddf[0])
    crit = norm_crit(1 - lev) if df_t is None else t_crit(1 - lev, df_t)
    pi_se = math.sqrt(se * se + float(np.sum(fit.sigma2)))
    pi_lo, pi_hi = est - crit * pi_se, est + crit * pi_se
    link = LinkScale(
        estimate=est,
        se=se,
        zval=float(fit.zval[0]),
        pval=float(fit.pval[0]),
        ci_low=float(fit.ci_low[0]),
        ci_high=float(fit.ci_high[0]),
        pi_low=pi_lo,
        pi_high=pi_hi,
        df=df_t,
        pi_df=df_t,
        pi_se=pi_se,
    )
    size_u = size[u]
    n_bt = size_u if measure == "PFT" else None
    bt = MEASURES[measure].back_transform(
        np.array([est, link.ci_low, link.ci_high, pi_lo, pi_hi]), n_bt
    )
    ci_s: list[tuple[float, float]] = []
    for j, name in enumerate(("study", "stratum")):
        if not sigma2_ci or fit.sigma2_fixed[j]:
            ci_s.append((float("nan"), float("nan")))
            continue
        try:
            lo, hi, note = profile_ci_sigma2(fit, j)
        except ConvergenceError as e:
            notes.append(f"profile-likelihood CI for sigma^2 ({name}) not found: {e}")
            ci_s.append((float("nan"), float("nan")))
            continue
        if note:
            notes.append(f"profile-likelihood CI for sigma^2 ({name}): {note}")
        ci_s.append((lo, hi))
    pe, plo, phi = _exact_ci_arrays(kind, ev[u], size_u, lev)
    lab_u = np.asarray(labels, dtype=object)[u]
    studies = pd.DataFrame(
        {
            "study": cl_u,
            "label": lab_u.astype(str),
            "events": ev[u],
            ("n" if kind == "proportion" else "time"): size_u,
            "yi": es.yi,
            "vi": es.vi,
            "estimate": pe,
            "ci_low": plo,
            "ci_high": phi,
            "weight": fit.weights,
            "weight_rowsum": fit.weights_rowsum,
            "corrected": es.corrected[u],
        }
    )
    if measure == "PFT":
        notes.append(
            "PFT back-transformed at the harmonic mean of the sample sizes "
            f"(n = {1 / np.mean(1 / size_u):.1f}, transf.ipft.hm, Miller 1978)"
        )
    options: dict[str, Any] = {
        "kind": kind,
        "measure": measure,
        "method": method,
        "test": test,
        "dfs": dfs,
        "level": lev,
        "add": add,
        "to": to,
        "cluster": cluster,
    }
    return MultilevelResult(
        measure=measure,
        method=method,
        test=test,
        dfs=dfs,
        level=lev,
        k=k,
        n_studies=fit.n_clusters,
        estimate=float(bt[0]),
        ci_low=float(bt[1]),
        ci_high=float(bt[2]),
        pi_low=float(bt[3]),
        pi_high=float(bt[4]),
        sigma2_study=float(fit.sigma2[0]),
        sigma2_stratum=float(fit.sigma2[1]),
        sigma2_study_ci=ci_s[0],
        sigma2_stratum_ci=ci_s[1],
        sigma2_fixed=fit.sigma2_fixed,
        i2=fit.i2,
        i2_study=float(fit.i2_levels[0]),
        i2_stratum=float(fit.i2_levels[1]),
        q=fit.qe,
        q_df=fit.qe_df,
        q_pvalue=fit.qe_pvalue,
        link=link,
        studies=studies,
        notes=tuple(notes),
        converged=fit.converged,
        kind=kind,
        cluster=cluster,
        vt=fit.vt,
        fit_stats=fit.fit_stats,
        data=data,
        options=options,
        data_report=es.report,
    )
