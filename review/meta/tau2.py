"""Between-study variance: the tau^2 estimators of metafor's ``rma.uni`` and its intervals.

The estimators follow metafor 3.8-1 ``rma.uni`` step for step (same starting values,
same Fisher-scoring updates, same convergence threshold ``1e-5`` and iteration cap
100, same truncation at 0, same ``uniroot`` search), so that the numbers agree with
metafor to rounding error rather than to the tolerance of the search. Root finding
uses :func:`zeroin`, a transcription of R's ``R_zeroin2`` (Brent 1973) that R's
``uniroot`` calls; with the same tolerance it visits the same points as R.

All functions take the model-scale outcomes ``yi``, sampling variances ``vi`` and a
design matrix ``X`` (a column of ones for an intercept-only model).

References
----------
DerSimonian R, Laird N. Meta-analysis in clinical trials. *Control Clin Trials*
1986;7:177-88.
Viechtbauer W. Bias and efficiency of meta-analytic variance estimators in the
random-effects model. *J Educ Behav Stat* 2005;30:261-93.
Viechtbauer W. Confidence intervals for the amount of heterogeneity in meta-analysis.
*Stat Med* 2007;26:37-52 (Q-profile).
Hardy RJ, Thompson SG. A likelihood approach to meta-analysis with random effects.
*Stat Med* 1996;15:619-29 (profile likelihood).
Brent RP. *Algorithms for Minimization without Derivatives*. Prentice-Hall; 1973.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import overload

import numpy as np
from numpy.typing import NDArray
from scipy import special

from review.errors import ConvergenceError

__all__ = [
    "TAU2_MAXITER",
    "TAU2_THRESHOLD",
    "Tau2Estimate",
    "estimate_tau2",
    "profile_ci",
    "qe_func",
    "qprofile_ci",
    "uniroot",
    "zeroin",
]

FloatArray = NDArray[np.float64]

#: metafor ``control``: Fisher scoring stops when tau^2 changes by less than this.
TAU2_THRESHOLD = 1e-5
#: metafor ``control``: iteration cap of Fisher scoring / uniroot in ``rma.uni``.
TAU2_MAXITER = 100
#: R's ``uniroot`` default tolerance, ``.Machine$double.eps^0.25``.
UNIROOT_TOL = float(np.finfo(float).eps) ** 0.25
_EPS = float(np.finfo(float).eps)
_LOG2PI = math.log(2 * math.pi)


# ------------------------------------------------------------- distribution shortcuts
# scipy.special ufuncs: the same numerics as scipy.stats' frozen distributions without
# their per-call overhead (tens of microseconds each, which dominated small fits).
@overload
def norm_sf2(z: float) -> float: ...
@overload
def norm_sf2(z: FloatArray) -> FloatArray: ...
def norm_sf2(z: float | FloatArray) -> float | FloatArray:
    """Two-sided normal p-value ``2 P(Z > |z|)``."""
    p: float | FloatArray = 2.0 * special.ndtr(-np.abs(z))  # scipy is untyped
    return p


def norm_crit(alpha: float) -> float:
    """``qnorm(1 - alpha/2)``."""
    return float(-special.ndtri(alpha / 2))


@overload
def t_sf2(t: float, df: float) -> float: ...
@overload
def t_sf2(t: FloatArray, df: float) -> FloatArray: ...
def t_sf2(t: float | FloatArray, df: float) -> float | FloatArray:
    """Two-sided t p-value ``2 P(T_df > |t|)``."""
    p: float | FloatArray = 2.0 * special.stdtr(df, -np.abs(t))  # scipy is untyped
    return p


def t_crit(alpha: float, df: float) -> float:
    """``qt(1 - alpha/2, df)``."""
    return float(special.stdtrit(df, 1 - alpha / 2))


def chi2_sf(x: float, df: float) -> float:
    """``pchisq(x, df, lower.tail = FALSE)``."""
    return float(special.chdtrc(df, x))


def chi2_quantile(q: float, df: float) -> float:
    """``qchisq(q, df)``."""
    return float(special.chdtri(df, 1 - q))


def f_sf(x: float, df1: float, df2: float) -> float:
    """``pf(x, df1, df2, lower.tail = FALSE)``."""
    return float(special.fdtrc(df1, df2, x))


# ------------------------------------------------------------------------- root finding
def zeroin(
    f: Callable[[float], float],
    ax: float,
    bx: float,
    fa: float,
    fb: float,
    tol: float = UNIROOT_TOL,
    maxiter: int = 1000,
) -> tuple[float, int, bool]:
    """Brent's root finder, transcribed from R's ``R_zeroin2`` (``stats/src/zeroin.c``).

    Parameters
    ----------
    f : callable
        Function of one float.
    ax, bx : float
        Interval ends, with ``fa = f(ax)`` and ``fb = f(bx)`` of opposite signs.
    tol : float
        Absolute tolerance (R's ``uniroot(tol=)``).
    maxiter : int
        Iteration cap.

    Returns
    -------
    root, iterations, converged

    References
    ----------
    Brent RP. *Algorithms for Minimization without Derivatives*. Prentice-Hall; 1973, ch. 4.
    """
    a, b = ax, bx
    c, fc = a, fa
    if fa == 0.0:
        return a, 0, True
    if fb == 0.0:
        return b, 0, True
    it = maxiter + 1
    used = 0
    while it > 0:
        it -= 1
        used += 1
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b, used, True
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b, used, False


def uniroot(
    f: Callable[[float], float],
    lower: float,
    upper: float,
    tol: float = UNIROOT_TOL,
    maxiter: int = 1000,
) -> float:
    """R's ``uniroot(f, c(lower, upper), tol=, maxiter=)$root``.

    Raises
    ------
    ConvergenceError
        When the ends have the same sign or the search does not converge (R raises an
        error or warns in these cases).
    """
    flo, fup = f(lower), f(upper)
    if not (math.isfinite(flo) and math.isfinite(fup)):
        raise ConvergenceError("root search: function not finite at an end of the interval")
    if flo * fup > 0:
        raise ConvergenceError("root search: no sign change over the interval")
    root, _, ok = zeroin(f, lower, upper, flo, fup, tol, maxiter)
    if not ok:
        raise ConvergenceError(f"root search did not converge in {maxiter} iterations")
    return root


def _root(f: Callable[[float], float], lower: float, upper: float, flo: float, fup: float) -> float:
    """:func:`uniroot` when ``f(lower)`` and ``f(upper)`` are already known (same points)."""
    if not (math.isfinite(flo) and math.isfinite(fup)):
        raise ConvergenceError("root search: function not finite at an end of the interval")
    if flo * fup > 0:
        raise ConvergenceError("root search: no sign change over the interval")
    root, _, ok = zeroin(f, lower, upper, flo, fup, UNIROOT_TOL, 1000)
    if not ok:
        raise ConvergenceError("root search did not converge in 1000 iterations")
    return root


# --------------------------------------------------------------------------- algebra
def _pmat(w: FloatArray, X: FloatArray) -> FloatArray:
    """``P = W - W X (X'WX)^-1 X'W`` (metafor's P matrix)."""
    WX = X * w[:, None]
    A = X.T @ WX
    return np.diag(w) - WX @ np.linalg.solve(A, WX.T)


def _pmat_ols(X: FloatArray) -> FloatArray:
    k = X.shape[0]
    return np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)


def qe_func(tau2: float, yi: FloatArray, vi: FloatArray, X: FloatArray | None) -> float:
    """Generalised Q statistic ``y' P(tau2) y`` (metafor ``.QE.func`` without objective)."""
    w = 1.0 / (vi + tau2)
    if X is None:  # intercept only: sum w y^2 - (sum w y)^2 / sum w (y centred by callers)
        swy = w @ yi
        return float(w @ (yi * yi) - swy * swy / w.sum())
    WX = X * w[:, None]
    beta = np.linalg.solve(X.T @ WX, WX.T @ yi)
    r = yi - X @ beta
    return float(np.sum(w * r * r))


def _mad(x: FloatArray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _loglik(tau2: float, yi: FloatArray, vi: FloatArray, X: FloatArray | None, reml: bool) -> float:
    """ML or REML log-likelihood as metafor's ``ll.ML`` / ``ll.REML`` (``REMLf=TRUE``)."""
    if X is None:
        k: int = yi.shape[0]
        vt = vi + tau2
        w = 1.0 / vt
        sw = w.sum()
        r = yi - (w @ yi) / sw
        rss = float(w @ (r * r))
        slv = float(np.log(vt).sum())
        if not reml:
            return -0.5 * k * _LOG2PI - 0.5 * slv - 0.5 * rss
        return (
            -0.5 * (k - 1) * _LOG2PI
            + 0.5 * math.log(k)
            - 0.5 * slv
            - 0.5 * math.log(sw)
            - 0.5 * rss
        )
    p: int
    k, p = X.shape
    w = 1.0 / (vi + tau2)
    WX = X * w[:, None]
    A = X.T @ WX
    beta = np.linalg.solve(A, WX.T @ yi)
    r = yi - X @ beta
    rss = float(np.sum(w * r * r))
    if not reml:
        return -0.5 * k * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(vi + tau2))) - 0.5 * rss
    return (
        -0.5 * (k - p) * math.log(2 * math.pi)
        + 0.5 * float(np.linalg.slogdet(X.T @ X)[1])
        - 0.5 * float(np.sum(np.log(vi + tau2)))
        - 0.5 * float(np.linalg.slogdet(A)[1])
        - 0.5 * rss
    )


# ------------------------------------------------------------------------- estimators
@dataclass(frozen=True, slots=True)
class Tau2Estimate:
    """A tau^2 estimate with metafor's standard error and the search's outcome.

    Attributes
    ----------
    tau2 : float
        Estimate (truncated at 0, as metafor's ``tau2.min = 0``).
    se : float
        metafor's ``se.tau2``.
    iterations : int
        Fisher-scoring iterations (0 for closed forms).
    converged : bool
    notes : tuple of str
    """

    tau2: float
    se: float
    iterations: int
    converged: bool
    notes: tuple[str, ...] = ()


def estimate_tau2(
    yi: FloatArray,
    vi: FloatArray,
    X: FloatArray | None = None,
    method: str = "REML",
) -> Tau2Estimate:
    """Estimate tau^2 as metafor 3.8-1 ``rma.uni(method=...)``.

    Parameters
    ----------
    yi, vi : ndarray
        Outcomes and sampling variances on the model scale (all ``vi > 0``).
    X : ndarray, optional
        Design matrix ``(k, p)``; an intercept column when ``None``.
    method : {"FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM"}
        The estimator.

    Returns
    -------
    Tau2Estimate

    Raises
    ------
    ConvergenceError
        Fisher scoring (ML, REML, EB) did not converge in 100 iterations, or the
        Paule-Mandel search failed (metafor stops with an error in both cases).

    Notes
    -----
    * DL, HE, HS, SJ: closed forms on the centred outcomes, truncated at 0.
    * ML, REML, EB: Fisher scoring from the HE estimate (truncated at 0), step halving
      to stay >= 0, stop when the change < 1e-5; for ML/REML, a check against the
      likelihood at tau^2 = 0 (metafor's ``ll0check``) sets tau^2 = 0 when that is
      higher.
    * PM: root of ``Q(tau^2) = k - p`` by Brent's method on ``[0, max(100, 10 mad(y)^2)]``.

    References
    ----------
    DerSimonian & Laird 1986 (DL); Hedges 1983 (HE); Hunter & Schmidt 2004 (HS);
    Sidik & Jonkman 2005 (SJ); Hardy & Thompson 1996 (ML); Raudenbush 2009 (REML);
    Morris 1983 (EB); Paule & Mandel 1982 (PM); Viechtbauer 2005.
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.shape[0]
    if X is None and method not in ("SJ", "FE") and k > 1:
        return _estimate_tau2_int(yi, vi, method)
    if X is None:
        X = np.ones((k, 1))
    p = X.shape[1]
    ymc = yi - yi.mean()
    if method == "FE":
        return Tau2Estimate(0.0, float("nan"), 0, True)
    if k == 1:
        return Tau2Estimate(0.0, float("nan"), 0, True, ("k = 1: tau^2 set to 0",))
    if method == "DL":
        w = 1.0 / vi
        P = _pmat(w, X)
        rss = float(ymc @ P @ ymc)
        trP = float(np.trace(P))
        tau2 = max(0.0, (rss - (k - p)) / trP)
        t = max(tau2, 0.0)
        se = math.sqrt(1 / trP**2 * (2 * (k - p) + 4 * t * trP + 2 * t * t * float(np.sum(P * P))))
        return Tau2Estimate(tau2, se, 0, True)
    if method == "HS":
        w = 1.0 / vi
        P = _pmat(w, X)
        rss = float(ymc @ P @ ymc)
        tau2 = max(0.0, (rss - k) / float(np.sum(w)))
        t = tau2
        se = math.sqrt(
            1
            / float(np.sum(w)) ** 2
            * (2 * (k - p) + 4 * t * float(np.trace(P)) + 2 * t * t * float(np.sum(P * P)))
        )
        return Tau2Estimate(tau2, se, 0, True)
    if method in ("HE", "ML", "REML", "EB"):
        Po = _pmat_ols(X)
        rss = float(ymc @ Po @ ymc)
        PV = Po * vi[None, :]
        trPV = float(np.trace(PV))
        tau2_he = (rss - trPV) / (k - p)
        if method == "HE":
            tau2 = max(0.0, tau2_he)
            t = tau2
            se = math.sqrt(
                1
                / (k - p) ** 2
                * (2 * float(np.sum(PV * PV.T)) + 4 * t * trPV + 2 * t * t * (k - p))
            )
            return Tau2Estimate(tau2, se, 0, True)
        return _fisher_scoring(yi, ymc, vi, X, method, max(0.0, tau2_he))
    if method == "SJ":
        tau2_0 = float(np.var(ymc, ddof=1) * (k - 1) / k)
        w = 1.0 / (vi + tau2_0)
        P = _pmat(w, X)
        rss = float(ymc @ P @ ymc)
        tau2 = max(0.0, tau2_0 * rss / (k - p))
        PV = P * vi[None, :]
        t = tau2
        se = math.sqrt(
            tau2_0**2
            / (k - p) ** 2
            * (
                2 * float(np.sum(PV * PV.T))
                + 4 * t * float(np.sum(PV * P))
                + 2 * t * t * float(np.sum(P * P))
            )
        )
        return Tau2Estimate(tau2, se, 0, True)
    if method == "PM":
        return _paule_mandel(yi, ymc, vi, X, p)
    raise ValueError(f"unknown tau^2 method {method!r}")  # guarded by check_code upstream


def _paule_mandel(
    yi: FloatArray, ymc: FloatArray, vi: FloatArray, X: FloatArray | None, p: int
) -> Tau2Estimate:
    """Paule-Mandel: the tau^2 at which the generalised Q equals k - p (metafor's search).

    ``X`` is the model matrix, or ``None`` for the intercept-only model (``p = 1``), which
    :func:`qe_func` then evaluates in closed sums.
    """
    k = yi.shape[0]
    target = float(k - p)
    tau2_max = max(100.0, 10 * _mad(yi) ** 2)
    if qe_func(0.0, ymc, vi, X) < target:
        tau2 = 0.0
    elif qe_func(tau2_max, ymc, vi, X) > target:
        raise ConvergenceError(
            f"Paule-Mandel: Q(tau^2) still above k - p at tau^2 = {tau2_max:g} "
            "(metafor: \"Value of 'tau2.max' too low\")"
        )
    else:
        tau2 = uniroot(
            lambda t: qe_func(t, ymc, vi, X) - target, 0.0, tau2_max, maxiter=TAU2_MAXITER
        )
    tau2 = max(0.0, tau2)
    sw = float(np.sum(1.0 / (vi + tau2)))
    return Tau2Estimate(tau2, math.sqrt(2 * k**2 / (k - p) / sw**2), 0, True)


def _estimate_tau2_int(yi: FloatArray, vi: FloatArray, method: str) -> Tau2Estimate:
    """Intercept-only estimators in closed sums (no k x k matrices); same formulas."""
    k = yi.shape[0]
    ymc = yi - yi.mean()
    if method in ("DL", "HS"):
        w = 1.0 / vi
        sw = w.sum()
        sw2 = float(w @ w)
        r = ymc - (w @ ymc) / sw
        rss = float(w @ (r * r))
        trP = sw - sw2 / sw
        sPP = sw2 - 2 * float(w @ (w * w)) / sw + (sw2 / sw) ** 2
        if method == "DL":
            t = max(0.0, (rss - (k - 1)) / trP)
            se = math.sqrt(1 / trP**2 * (2 * (k - 1) + 4 * t * trP + 2 * t * t * sPP))
        else:
            t = max(0.0, (rss - k) / sw)
            se = math.sqrt(1 / sw**2 * (2 * (k - 1) + 4 * t * trP + 2 * t * t * sPP))
        return Tau2Estimate(t, se, 0, True)
    if method == "PM":
        return _paule_mandel(yi, ymc, vi, None, 1)
    # HE (also the start of ML, REML, EB): OLS residual sum of squares
    rss = float(ymc @ ymc)
    sv, sv2 = float(vi.sum()), float(vi @ vi)
    trPV = sv * (1 - 1 / k)
    tau2_he = (rss - trPV) / (k - 1)
    if method == "HE":
        t = max(0.0, tau2_he)
        sPVPV = (1 - 1 / k) ** 2 * sv2 + (sv * sv - sv2) / k**2
        se = math.sqrt(1 / (k - 1) ** 2 * (2 * sPVPV + 4 * t * trPV + 2 * t * t * (k - 1)))
        return Tau2Estimate(t, se, 0, True)
    tau2 = max(0.0, tau2_he)
    change = TAU2_THRESHOLD + 1
    it = 0
    while change > TAU2_THRESHOLD:
        it += 1
        old = tau2
        w = 1.0 / (vi + tau2)
        sw = w.sum()
        r = ymc - (w @ ymc) / sw
        wr = w * r
        if method == "ML":
            adj = (float(wr @ wr) - sw) / float(w @ w)
        elif method == "REML":
            sw2 = float(w @ w)
            trP = sw - sw2 / sw
            trPP = sw2 - 2 * float(w @ (w * w)) / sw + (sw2 / sw) ** 2
            adj = (float(wr @ wr) - trP) / trPP
        else:  # EB
            adj = (float(wr @ r) * k / (k - 1) - k) / sw
        if math.isnan(adj):
            adj = 0.0
        while tau2 + adj < 0.0:
            adj /= 2
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if it > TAU2_MAXITER:
            raise ConvergenceError(
                f"{method}: Fisher scoring did not converge in {TAU2_MAXITER} iterations "
                "(metafor: 'Fisher scoring algorithm did not converge')"
            )
    notes: list[str] = []
    if method in ("ML", "REML"):
        reml = method == "REML"
        if (
            _loglik(0.0, ymc, vi, None, reml) - _loglik(tau2, ymc, vi, None, reml) > (UNIROOT_TOL)
            and tau2 > TAU2_THRESHOLD
        ):
            notes.append(
                "Fisher scoring may have stopped at a local maximum; tau^2 set to 0 "
                "(as metafor's ll0check)"
            )
            tau2 = 0.0
    tau2 = max(0.0, tau2)
    w = 1.0 / (vi + tau2)
    sw = float(w.sum())
    sw2 = float(w @ w)
    if method == "ML":
        se = math.sqrt(2 / sw2)
    elif method == "REML":
        se = math.sqrt(2 / (sw2 - 2 * float(w @ (w * w)) / sw + (sw2 / sw) ** 2))
    else:
        se = math.sqrt(2 * k**2 / (k - 1) / sw**2)
    return Tau2Estimate(tau2, se, it, True, tuple(notes))


def _fisher_scoring(
    yi: FloatArray, ymc: FloatArray, vi: FloatArray, X: FloatArray, method: str, tau2: float
) -> Tau2Estimate:
    k, p = X.shape
    change = TAU2_THRESHOLD + 1
    it = 0
    converged = True
    while change > TAU2_THRESHOLD:
        it += 1
        old = tau2
        w = 1.0 / (vi + tau2)
        P = _pmat(w, X)
        Py = P @ ymc
        if method == "ML":
            adj = (float(Py @ Py) - float(np.sum(w))) / float(np.sum(w * w))
        elif method == "REML":
            adj = (float(Py @ Py) - float(np.trace(P))) / float(np.sum(P * P))
        else:  # EB
            adj = (float(ymc @ Py) * k / (k - p) - k) / float(np.sum(w))
        if math.isnan(adj):
            adj = 0.0
        while tau2 + adj < 0.0:
            adj /= 2
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if it > TAU2_MAXITER:
            converged = False
            break
    if not converged:
        raise ConvergenceError(
            f"{method}: Fisher scoring did not converge in {TAU2_MAXITER} iterations "
            "(metafor: 'Fisher scoring algorithm did not converge')"
        )
    notes: list[str] = []
    if method in ("ML", "REML"):
        reml = method == "REML"
        ll0 = _loglik(0.0, ymc, vi, X, reml)
        ll = _loglik(tau2, ymc, vi, X, reml)
        if ll0 - ll > UNIROOT_TOL and tau2 > TAU2_THRESHOLD:
            notes.append(
                "Fisher scoring may have stopped at a local maximum; tau^2 set to 0 "
                "(as metafor's ll0check)"
            )
            tau2 = 0.0
    tau2 = max(0.0, tau2)
    w = 1.0 / (vi + tau2)
    if method == "ML":
        se = math.sqrt(2 / float(np.sum(w * w)))
    elif method == "REML":
        P = _pmat(w, X)
        se = math.sqrt(2 / float(np.sum(P * P)))
    else:
        se = math.sqrt(2 * k**2 / (k - p) / float(np.sum(w)) ** 2)
    return Tau2Estimate(tau2, se, it, True, tuple(notes))


# -------------------------------------------------------------------------- intervals
@dataclass(frozen=True, slots=True)
class _CI:
    low: float
    high: float
    notes: tuple[str, ...]


def qprofile_ci(
    yi: FloatArray, vi: FloatArray, X: FloatArray | None, tau2: float, level: float
) -> _CI:
    """Q-profile confidence interval for tau^2 as metafor ``confint.rma.uni(type="QP")``.

    The bounds solve ``Q(tau^2) = chi2_{k-p; 1-a/2}`` (lower) and ``chi2_{k-p; a/2}``
    (upper) on ``[0, max(100, 10 tau2)]``; a bound that is not reached is set to 0 (the
    interval is then "< 0", metafor's ``ci.null``) or to the search limit.

    References
    ----------
    Viechtbauer W. Confidence intervals for the amount of heterogeneity in meta-analysis.
    *Stat Med* 2007;26:37-52.
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = yi.shape[0]
    p = 1 if X is None else X.shape[1]
    if k - p < 1:
        return _CI(float("nan"), float("nan"), ("Q-profile CI needs k > p",))
    alpha = 1 - level
    yi = yi - yi.mean()  # Q is invariant to a shift; centring keeps the sums well conditioned
    lo_t, hi_t = 0.0, max(100.0, tau2 * 10)
    if X is None:  # the same sums as qe_func: sum w, sum w y, sum w y^2 in one product
        M = np.vstack([np.ones_like(yi), yi, yi * yi])

        def q_of(t: float) -> float:
            sw, swy, swy2 = (M @ (1.0 / (vi + t))).tolist()
            return float(swy2 - swy * swy / sw)
    else:

        def q_of(t: float) -> float:
            return qe_func(t, yi, vi, X)

    crit_u = chi2_quantile(1 - alpha / 2, k - p)
    crit_l = chi2_quantile(alpha / 2, k - p)
    q_max = q_of(hi_t)
    q_min = q_of(lo_t)
    notes: list[str] = []
    lb = ub = float("nan")
    if q_min < crit_l:
        lb = ub = lo_t
        notes.append("Q-profile CI for tau^2 is the null set (both bounds < 0); reported as [0, 0]")
    else:
        if q_max > crit_l:
            ub = hi_t
            notes.append(f"upper Q-profile bound for tau^2 > {hi_t:g} (search limit)")
        else:  # R's uniroot on [lo_t, hi_t]; the ends' values are known already
            ub = _root(lambda t: q_of(t) - crit_l, lo_t, hi_t, q_min - crit_l, q_max - crit_l)
    if q_max > crit_u:
        lb = ub = hi_t
        notes.append(f"Q-profile CI for tau^2 lies above the search limit {hi_t:g}")
    elif q_min < crit_u:
        lb = lo_t
    else:
        lb = _root(lambda t: q_of(t) - crit_u, lo_t, hi_t, q_min - crit_u, q_max - crit_u)
    return _CI(lb, ub, tuple(notes))


def profile_ci(
    yi: FloatArray,
    vi: FloatArray,
    X: FloatArray | None,
    tau2: float,
    level: float,
    method: str,
) -> _CI:
    """Profile-likelihood CI for tau^2 (ML or REML), as metafor ``confint(type="PL")``.

    The bounds solve ``-2 (ll(tau2) - ll(tau2_hat)) = chi2_{1; level}`` on
    ``[0, tau2_hat]`` and ``[tau2_hat, max(100, 10 tau2_hat)]``; a lower bound is 0 when
    the statistic at 0 is below the critical value.

    References
    ----------
    Hardy RJ, Thompson SG. A likelihood approach to meta-analysis with random effects.
    *Stat Med* 1996;15:619-29.
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    reml = method == "REML"
    ll_hat = _loglik(tau2, yi, vi, X, reml)
    obj = chi2_quantile(level, 1)

    def f(t: float) -> float:
        return -2 * (_loglik(t, yi, vi, X, reml) - ll_hat) - obj

    hi_t = max(100.0, 10 * tau2)
    notes: list[str] = []
    if f(0.0) < 0:
        lb = 0.0
    else:
        lb = uniroot(f, 0.0, tau2)
    if f(hi_t) < 0:
        ub = hi_t
        notes.append(f"upper profile-likelihood bound for tau^2 > {hi_t:g} (search limit)")
    else:
        ub = uniroot(f, tau2, hi_t)
    return _CI(lb, ub, tuple(notes))
