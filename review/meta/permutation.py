"""Permutation tests for meta-regression and for the pooled estimate (metafor ``permutest``).

Under the null hypothesis that a moderator is unrelated to the outcomes, every
reassignment of the moderator values (the rows of the design matrix) to the studies is
equally likely; for an intercept-only model, under the null that the true pooled value
is 0, every pattern of signs of the outcomes is (Higgins & Thompson 2004; Follmann &
Proschan 1999). The p-value is the share of the reassigned data sets whose test
statistic is at least as extreme as the observed one. It keeps its level where the
Wald test is too liberal: few studies, heterogeneous effects.

The test statistics of the reassigned data sets come from complete refits (tau^2
re-estimated every time, as metafor does), computed together: all reassignments of one
batch are fitted at once, with the weighted least-squares solves batched and metafor's
tau^2 iterations run in step, with each data set leaving the iteration when its own
update is below metafor's threshold, so that every refit is the fit metafor would make.

References
----------
Higgins JPT, Thompson SG. Controlling the risk of spurious findings from
meta-regression. *Stat Med* 2004;23:1663-82.
Follmann DA, Proschan MA. Valid inference in random effects meta-analysis. *Biometrics*
1999;55:732-7.
Viechtbauer W, Lopez-Lopez JA, Sanchez-Meca J, Marin-Martinez F. A comparison of
procedures to test for moderators in mixed-effects meta-regression models. *Psychol
Methods* 2015;20:360-74.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from review._format import fmt_p, fmt_x
from review.errors import ConvergenceError, InputError, OptionError
from review.meta.results import MetaRegressionResult, PoolResult, _html_table, _rows, _sig
from review.meta.tau2 import TAU2_MAXITER, TAU2_THRESHOLD, UNIROOT_TOL, estimate_tau2

__all__ = ["PermutationResult", "permutest"]

FloatArray = NDArray[np.float64]
_EPS = float(np.finfo(float).eps)
_LOG2PI = math.log(2 * math.pi)
#: metafor ``permutest``'s ``comptol``: a permuted statistic within this of the observed
#: one counts as at least as extreme (ties are not lost to rounding).
COMPTOL = math.sqrt(_EPS)
#: Largest number of permutations an exact test will enumerate.
MAX_EXACT = 5_000_000
#: Memory budget of one batch of refits (bytes of the largest array).
_BATCH_BYTES = 40e6


@dataclass(frozen=True, slots=True, eq=False)
class PermutationResult:
    """A permutation test of the coefficients and of the omnibus test (metafor ``permutest``).

    Attributes
    ----------
    coefficients : pandas.DataFrame
        One row a coefficient: ``term, estimate, se, zval`` (t under ``knha``), ``pval``
        (the model-based p-value) and ``pval_perm`` (the permutation p-value).
    qm, qm_df : float, int
        The omnibus statistic (chi-square, or F under ``knha``) and its df; for an
        intercept-only model, the test of the intercept (``zval**2``).
    qm_pvalue, qm_pvalue_perm : float
        Model-based and permutation p-values of ``qm``.
    exact : bool
        Whether every distinct permutation was enumerated.
    iter : int
        Number of permutations the p-values are over (those whose refit failed are left
        out, as metafor does, and counted in ``notes``).
    exact_iter : int
        Number of distinct permutations (``2^k`` sign patterns, or
        ``k! / prod(m_j!)`` reassignments of the ``m_j`` identical design rows).
    seed : int or None
        Seed of the random permutations (``None`` for an exact test or an unseeded run).
    zval_perm : numpy.ndarray
        ``(iter, p)``: the test statistics of the permuted data sets (first row the
        observed data when random, as metafor).
    qm_perm : numpy.ndarray
        ``(iter,)``: the omnibus statistics of the permuted data sets.
    k : int
    measure, method, test : str
    intercept_only : bool
        Signs permuted (intercept-only model) rather than moderator values.
    notes : tuple of str
    """

    coefficients: pd.DataFrame
    qm: float
    qm_df: int
    qm_pvalue: float
    qm_pvalue_perm: float
    exact: bool
    iter: int
    exact_iter: int
    seed: int | None
    zval_perm: FloatArray
    qm_perm: FloatArray
    k: int
    measure: str
    method: str
    test: str
    intercept_only: bool
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> str:
        """Text in the layout of metafor's ``print.permutest.rma.uni``."""
        d = digits
        kind = "exact" if self.exact else "approximate"
        out = [
            f"Permutation test ({kind}, {self.iter} "
            f"{'sign patterns' if self.intercept_only else 'permutations'}; k = {self.k}; "
            f"{self.measure}, tau^2 estimator: {self.method}, test: {self.test})",
            "",
        ]
        stat = "F" if self.test == "knha" else "QM"
        what = "intercept" if self.intercept_only else "moderators"
        out.append(f"Test of {what}:")
        out.append(
            f"{stat}(df = {self.qm_df}) = {fmt_x(self.qm, d)}, p-val* = "
            f"{fmt_p(self.qm_pvalue_perm, d)} (model-based p-val = {fmt_p(self.qm_pvalue, d)})"
        )
        out.append("")
        zname = "tval" if self.test == "knha" else "zval"
        out.append(f"{'':16s}{'estimate':>10s}{'se':>10s}{zname:>10s}{'pval*':>10s}{'pval':>10s}")
        for r in _rows(self.coefficients):
            out.append(
                f"{r.term!s:<16.16s}{fmt_x(r.estimate, d):>10s}{fmt_x(r.se, d):>10s}"
                f"{fmt_x(r.zval, d):>10s}{fmt_p(r.pval_perm, d):>10s}{fmt_p(r.pval, d):>10s}"
                f" {_sig(r.pval_perm)}"
            )
        out += ["", "pval*: permutation p-value; pval: model-based (Wald) p-value."]
        if self.seed is not None:
            out.append(f"Random permutations with seed {self.seed}.")
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table plus a row for the omnibus test (``term="QM"``)."""
        qm = pd.DataFrame(
            [
                {
                    "term": "QM",
                    "estimate": float("nan"),
                    "se": float("nan"),
                    "zval": self.qm,
                    "pval": self.qm_pvalue,
                    "pval_perm": self.qm_pvalue_perm,
                }
            ]
        )
        return pd.concat([self.coefficients, qm], ignore_index=True)

    def _repr_html_(self) -> str:
        return _html_table("Permutation test", self.summary(), self.to_frame())

    def __repr__(self) -> str:
        return (
            f"PermutationResult({'exact' if self.exact else 'approximate'}, iter={self.iter}, "
            f"QM p*={fmt_p(self.qm_pvalue_perm)})"
        )


# ------------------------------------------------------------------ batched refits
def _solve_batch(A: NDArray[Any], B: NDArray[Any]) -> FloatArray:
    out: FloatArray = np.asarray(np.linalg.solve(A, B), dtype=float)
    return out


def _tau2_batch(
    Y: FloatArray, v: FloatArray, X: FloatArray, method: str
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """The tau^2 estimate of metafor 3.8-1 for each data set of a batch.

    ``Y`` is ``(B, k)``, ``X`` is ``(B, k, p)``; ``v`` is shared. The same formulas,
    starting values, updates and stopping rule as :func:`review.meta.tau2.estimate_tau2`
    (each data set stops when its own update is below the threshold). Returns the
    estimates and which converged.
    """
    nb, k = Y.shape
    p = X.shape[2]
    ok = np.ones(nb, dtype=bool)
    if method == "FE":
        return np.zeros(nb), ok
    ymc = Y - Y.mean(axis=1, keepdims=True)
    Xt = np.swapaxes(X, 1, 2)

    def pieces(t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        w = 1.0 / (v[None, :] + t[:, None])
        WX = X * w[:, :, None]
        A = Xt @ WX
        return w, WX, A

    def rss_p(w: FloatArray, WX: FloatArray, A: FloatArray, y: FloatArray) -> FloatArray:
        xwy = np.einsum("bkp,bk->bp", WX, y)
        out: FloatArray = np.einsum("bk,bk->b", w, y * y) - np.einsum(
            "bp,bp->b", xwy, _solve_batch(A, xwy[:, :, None])[:, :, 0]
        )
        return out

    if method in ("DL", "HS"):
        w, WX, A = pieces(np.zeros(nb))
        rss = rss_p(w, WX, A, ymc)
        sw = w.sum(axis=1)
        if method == "DL":
            G2 = Xt @ (WX * w[:, :, None])
            trP = sw - np.trace(_solve_batch(A, G2), axis1=1, axis2=2)
            return np.maximum(0.0, (rss - (k - p)) / trP), ok
        return np.maximum(0.0, (rss - k) / sw), ok
    if method == "SJ":
        t0 = ymc.var(axis=1, ddof=1) * (k - 1) / k
        w, WX, A = pieces(t0)
        rss = rss_p(w, WX, A, ymc)
        return np.maximum(0.0, t0 * rss / (k - p)), ok
    # HE (the start of ML, REML and EB): ordinary least squares residuals
    XX = Xt @ X
    xy = np.einsum("bkp,bk->bp", X, ymc)
    rss_o = np.einsum("bk,bk->b", ymc, ymc) - np.einsum(
        "bp,bp->b", xy, _solve_batch(XX, xy[:, :, None])[:, :, 0]
    )
    XVX = Xt @ (X * v[None, :, None])
    trPV = v.sum() - np.trace(_solve_batch(XX, XVX), axis1=1, axis2=2)
    tau2 = np.maximum(0.0, (rss_o - trPV) / (k - p))
    if method == "HE":
        return tau2, ok
    if method not in ("ML", "REML", "EB"):  # pragma: no cover - guarded by the caller
        raise ValueError(method)
    active = np.ones(nb, dtype=bool)
    it = 0
    while active.any():
        it += 1
        idx = np.flatnonzero(active)
        t = tau2[idx]
        Xa, ya = X[idx], ymc[idx]
        w = 1.0 / (v[None, :] + t[:, None])
        WX = Xa * w[:, :, None]
        Xat = np.swapaxes(Xa, 1, 2)
        A = Xat @ WX
        xwy = np.einsum("bkp,bk->bp", WX, ya)
        Py = w * ya - np.einsum("bkp,bp->bk", WX, _solve_batch(A, xwy[:, :, None])[:, :, 0])
        sw = w.sum(axis=1)
        PyPy = np.einsum("bk,bk->b", Py, Py)
        if method == "ML":
            adj = (PyPy - sw) / np.einsum("bk,bk->b", w, w)
        elif method == "REML":
            G2 = Xat @ (WX * w[:, :, None])
            G3 = Xat @ (WX * (w * w)[:, :, None])
            M2 = _solve_batch(A, G2)
            trP = sw - np.trace(M2, axis1=1, axis2=2)
            sPP = (
                np.einsum("bk,bk->b", w, w)
                - 2.0 * np.trace(_solve_batch(A, G3), axis1=1, axis2=2)
                + np.einsum("bij,bji->b", M2, M2)
            )
            adj = (PyPy - trP) / sPP
        else:  # EB
            adj = (np.einsum("bk,bk->b", ya, Py) * k / (k - p) - k) / sw
        adj = np.where(np.isnan(adj), 0.0, adj)
        neg = t + adj < 0.0
        while neg.any():
            adj = np.where(neg, adj / 2, adj)
            neg = t + adj < 0.0
        new = t + adj
        tau2[idx] = new
        done = np.abs(t - new) <= TAU2_THRESHOLD
        active[idx[done]] = False
        if it > TAU2_MAXITER:
            ok[idx[~done]] = False
            active[:] = False
    if method in ("ML", "REML"):
        reml = method == "REML"
        ll0 = _loglik_batch(np.zeros(nb), ymc, v, X, reml)
        ll = _loglik_batch(tau2, ymc, v, X, reml)
        tau2 = np.where((ll0 - ll > UNIROOT_TOL) & (tau2 > TAU2_THRESHOLD), 0.0, tau2)
    return np.maximum(tau2, 0.0), ok


def _loglik_batch(
    t: FloatArray, y: FloatArray, v: FloatArray, X: FloatArray, reml: bool
) -> FloatArray:
    """ML or REML log-likelihood (``REMLf=TRUE``) of each data set of a batch."""
    k = y.shape[1]
    p = X.shape[2]
    vt = v[None, :] + t[:, None]
    w = 1.0 / vt
    WX = X * w[:, :, None]
    Xt = np.swapaxes(X, 1, 2)
    A = Xt @ WX
    xwy = np.einsum("bkp,bk->bp", WX, y)
    beta = _solve_batch(A, xwy[:, :, None])[:, :, 0]
    r = y - np.einsum("bkp,bp->bk", X, beta)
    rss = np.einsum("bk,bk->b", w, r * r)
    slv = np.log(vt).sum(axis=1)
    if not reml:
        out: FloatArray = -0.5 * k * _LOG2PI - 0.5 * slv - 0.5 * rss
        return out
    ldxx = np.linalg.slogdet(Xt @ X)[1]
    lda = np.linalg.slogdet(A)[1]
    out = -0.5 * (k - p) * _LOG2PI + 0.5 * ldxx - 0.5 * slv - 0.5 * lda - 0.5 * rss
    return out


def _fit_batch(
    Y: FloatArray, v: FloatArray, X: FloatArray, method: str, test: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Coefficients, test statistics and QM of every data set of a batch (NaN: failed).

    ``QM`` tests the coefficients after the first, or the intercept when it is alone
    (metafor ``btt``), divided by their number under knha.
    """
    nb, k = Y.shape
    p = X.shape[2]
    if method == "PM":  # a root search each: no batched form; refit one at a time
        tau2 = np.empty(nb)
        ok = np.ones(nb, dtype=bool)
        for b in range(nb):
            try:
                tau2[b] = estimate_tau2(Y[b], v, X[b], "PM").tau2
            except ConvergenceError:
                ok[b] = False
                tau2[b] = 0.0
    else:
        tau2, ok = _tau2_batch(Y, v, X, method)
    w = 1.0 / (v[None, :] + tau2[:, None])
    WX = X * w[:, :, None]
    A = np.swapaxes(X, 1, 2) @ WX
    Ainv: FloatArray = np.asarray(np.linalg.inv(A), dtype=float)
    beta = np.einsum("bij,bj->bi", Ainv, np.einsum("bkp,bk->bp", WX, Y))
    r = Y - np.einsum("bkp,bp->bk", X, beta)
    vb = Ainv
    if test == "knha":
        rss = np.einsum("bk,bk->b", w, r * r)
        s2w = np.where(rss <= _EPS, 0.0, rss / (k - p))
        vb = Ainv * s2w[:, None, None]
    se = np.sqrt(np.diagonal(vb, axis1=1, axis2=2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = beta / se
        if p == 1:
            qm = beta[:, 0] ** 2 / vb[:, 0, 0]
        else:
            b2 = beta[:, 1:]
            qm = np.einsum("bi,bi->b", b2, _solve_batch(vb[:, 1:, 1:], b2[:, :, None])[:, :, 0])
            if test == "knha":
                qm = qm / (p - 1)
    z[~ok] = np.nan
    qm[~ok] = np.nan
    beta[~ok] = np.nan
    return beta, z, qm


# --------------------------------------------------------------- the permutations
def _n_multiset(counts: list[int]) -> int:
    n = math.factorial(sum(counts))
    for c in counts:
        n //= math.factorial(c)
    return n


def _multiset_permutations(groups: NDArray[np.intp]) -> Iterator[NDArray[np.intp]]:
    """Every distinct ordering of ``groups`` (lexicographic, "next permutation")."""
    a = sorted(groups.tolist())
    n = len(a)
    while True:
        yield np.array(a, dtype=np.intp)
        i = n - 2
        while i >= 0 and a[i] >= a[i + 1]:
            i -= 1
        if i < 0:
            return
        j = n - 1
        while a[j] <= a[i]:
            j -= 1
        a[i], a[j] = a[j], a[i]
        a[i + 1 :] = reversed(a[i + 1 :])


def _chunks(it: Iterator[NDArray[Any]], size: int) -> Iterator[NDArray[Any]]:
    buf: list[NDArray[Any]] = []
    for x in it:
        buf.append(x)
        if len(buf) == size:
            yield np.stack(buf)
            buf = []
    if buf:
        yield np.stack(buf)


def _model_of(
    res: MetaRegressionResult | PoolResult,
) -> tuple[FloatArray, FloatArray, FloatArray, list[str], FloatArray, FloatArray, float]:
    """``yi, vi, X``, term names, observed coefficients and statistics, observed QM."""
    if isinstance(res, MetaRegressionResult):
        if res.method == "GLMM":
            raise OptionError(
                "permutest works on inverse-variance fits (metafor has no permutest for "
                "rma.glmm); fit the meta-regression with e.g. method='REML'"
            )
        yi = res.studies["yi"].to_numpy(dtype=float)
        vi = res.studies["vi"].to_numpy(dtype=float)
        X = res.X.to_numpy(dtype=float)
        c = res.coefficients
        terms = c["term"].astype(str).tolist()
        b = c["estimate"].to_numpy(dtype=float)
        z = c["zval"].to_numpy(dtype=float)
        return yi, vi, X, terms, b, z, float(res.qm)
    if isinstance(res, PoolResult):
        if res.method == "GLMM":
            raise OptionError(
                "permutest works on inverse-variance fits (metafor has no permutest for "
                "rma.glmm); refit with e.g. method='REML'"
            )
        yi = res.studies["yi"].to_numpy(dtype=float)
        vi = res.studies["vi"].to_numpy(dtype=float)
        z0 = res.link.zval
        return (
            yi,
            vi,
            np.ones((yi.shape[0], 1)),
            ["intrcpt"],
            np.array([res.link.estimate]),
            np.array([z0]),
            z0 * z0,
        )
    raise OptionError(
        f"permutest takes a PoolResult or MetaRegressionResult, got {type(res).__name__}"
    )


def permutest(
    res: MetaRegressionResult | PoolResult,
    *,
    exact: bool = False,
    iter: int = 1000,
    seed: int | None = None,
    progress: bool = True,
) -> PermutationResult:
    """Permutation test of a meta-regression's coefficients (metafor ``permutest``).

    Parameters
    ----------
    res : MetaRegressionResult or PoolResult
        An inverse-variance meta-regression (the rows of its design matrix are
        permuted), or an inverse-variance pooled fit (the signs of its outcomes are
        permuted: a test that the pooled value on the model scale is 0).
    exact : bool
        Enumerate every distinct permutation. As metafor, the test is also exact when
        there are no more distinct permutations than ``iter``.
    iter : int
        Number of random permutations otherwise (>= 2); the first is the observed data,
        as metafor (so that no p-value is 0).
    seed : int, optional
        Seed of the random permutations (``numpy.random.default_rng``); a run with the
        same seed gives the same p-values.
    progress : bool
        Show a progress bar when there are many batches of refits.

    Returns
    -------
    PermutationResult
        ``pval_perm`` for each coefficient: the share of permuted data sets with
        ``|z*| >= |z| - comptol`` (t under ``knha``); ``qm_pvalue_perm``: the share with
        ``QM* >= QM - comptol`` (``comptol = sqrt(machine eps)``, metafor's). Refits that
        fail (tau^2 iterations that do not converge) are left out, as metafor; random
        ones are replaced by new draws.

    Raises
    ------
    OptionError
        A GLMM fit, ``iter < 2``, or an exact test with more than 5,000,000 distinct
        permutations.

    Notes
    -----
    Every permuted data set is refitted with the fit's own tau^2 estimator and test
    (metafor's algorithm: same start, updates and stopping rule), so exact p-values equal
    metafor's. Random permutations come from numpy's generator, not R's: the p-value is
    then an estimate of the exact one with binomial standard error
    ``sqrt(p (1 - p) / iter)``, and equals metafor's only within that error.

    References
    ----------
    Higgins JPT, Thompson SG. *Stat Med* 2004;23:1663-82. Follmann DA, Proschan MA.
    *Biometrics* 1999;55:732-7. Viechtbauer W et al. *Psychol Methods* 2015;20:360-74.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions, meta_regression, permutest
    >>> df = pd.DataFrame(
    ...     {
    ...         "events": [2, 5, 1, 8, 4, 12, 7],
    ...         "n": [40, 60, 35, 90, 50, 100, 70],
    ...         "dose": [1.0, 3, 2, 1, 2, 4, 3],
    ...     }
    ... )
    >>> m = meta_regression(pool_proportions(df, method="DL"), mods="dose")
    >>> pt = permutest(m, exact=True, progress=False)
    >>> pt.exact_iter, pt.iter  # 7! / (2! 2! 2!) distinct reassignments of the doses
    (630, 630)
    >>> # metafor 3.8-1: permutest(rma(..., mods = ~ dose, method = "DL"), exact = TRUE)
    >>> round(pt.qm_pvalue_perm, 4), round(m.qm_pvalue, 4)
    (0.0857, 0.2509)
    """
    if isinstance(iter, bool) or not isinstance(iter, int) or iter < 2:
        raise OptionError(f"Invalid iter {iter!r}; must be a whole number >= 2")
    yi, vi, X, terms, b_obs, z_obs, qm_obs = _model_of(res)
    k, p = X.shape
    if k < 2:
        raise InputError(f"a permutation test needs at least 2 studies; got k = {k}")
    intercept_only = p == 1
    method, test = res.method, res.test
    if intercept_only:
        exact_iter = 2**k
        groups = np.zeros(k, dtype=np.intp)
        uniq = X[:1]
    else:
        uniq, groups_u = np.unique(X, axis=0, return_inverse=True)
        groups = np.asarray(groups_u, dtype=np.intp).reshape(-1)
        exact_iter = _n_multiset(np.bincount(groups).tolist())
    use_exact = exact or exact_iter <= iter
    if use_exact and exact_iter > MAX_EXACT:
        raise OptionError(
            f"an exact permutation test needs {exact_iter:,} refits (more than "
            f"{MAX_EXACT:,}); use random permutations (exact=False, iter=...)"
        )
    n_total = exact_iter if use_exact else iter
    chunk = max(1, int(_BATCH_BYTES / (8.0 * k * max(p, 4) * max(p, 4))))
    chunk = min(chunk, 20_000)
    rng = None if use_exact else np.random.default_rng(seed)

    def fit_signs(S: NDArray[Any]) -> tuple[FloatArray, FloatArray, FloatArray]:
        Y = S * yi[None, :]
        return _fit_batch(Y, vi, np.broadcast_to(X, (S.shape[0], k, p)), method, test)

    def fit_rows(G: NDArray[Any]) -> tuple[FloatArray, FloatArray, FloatArray]:
        Y = np.broadcast_to(yi, (G.shape[0], k))
        return _fit_batch(Y, vi, uniq[G], method, test)

    def batches() -> Iterator[tuple[str, NDArray[Any]]]:
        if use_exact:
            if intercept_only:
                for a in range(0, exact_iter, chunk):
                    idx = np.arange(a, min(a + chunk, exact_iter), dtype=np.int64)
                    bits = (idx[:, None] >> np.arange(k, dtype=np.int64)[None, :]) & 1
                    yield "signs", 1.0 - 2.0 * bits
            else:
                for G in _chunks(_multiset_permutations(groups), chunk):
                    yield "rows", G
        else:
            assert rng is not None  # for mypy: random permutations always have a generator
            for a in range(0, iter, chunk):
                m = min(chunk, iter - a)
                if intercept_only:
                    yield "signs", rng.choice(np.array([-1.0, 1.0]), size=(m, k))
                else:
                    yield "rows", rng.permuted(np.tile(groups, (m, 1)), axis=1)

    from tqdm.auto import tqdm

    n_batches = -(-n_total // chunk)
    zs: list[FloatArray] = []
    qs: list[FloatArray] = []
    failed = 0
    bar = tqdm(total=n_total, desc="permutations", disable=not progress or n_batches < 3)
    for kind, B in batches():
        fit = fit_signs if kind == "signs" else fit_rows
        _, z, q = fit(B)
        bad = np.isnan(q)
        if bad.any() and not use_exact:
            # metafor draws again for a refit that fails
            assert rng is not None
            for _ in range(20):
                nb = int(bad.sum())
                B2 = (
                    rng.choice(np.array([-1.0, 1.0]), size=(nb, k))
                    if kind == "signs"
                    else rng.permuted(np.tile(groups, (nb, 1)), axis=1)
                )
                _, z2, q2 = fit(B2)
                z[bad], q[bad] = z2, q2
                bad = np.isnan(q)
                if not bad.any():
                    break
        failed += int(np.isnan(q).sum())
        zs.append(z)
        qs.append(q)
        bar.update(B.shape[0])
    bar.close()
    zperm = np.concatenate(zs)
    qperm = np.concatenate(qs)
    if not use_exact:  # the first random permutation is the observed data (metafor)
        zperm[0] = z_obs
        qperm[0] = qm_obs
    good = ~np.isnan(qperm)
    with np.errstate(invalid="ignore"):
        pz = np.mean(np.abs(zperm[good]) >= np.abs(z_obs)[None, :] - COMPTOL, axis=0)
        pq = float(np.mean(qperm[good] >= qm_obs - COMPTOL))
    pz = np.minimum(pz, 1.0)
    notes: list[str] = []
    if failed:
        notes.append(f"{failed} permuted refits failed (tau^2 did not converge); left out")
    if not use_exact:
        se_mc = math.sqrt(max(pq * (1 - pq), 1.0 / iter) / iter)
        notes.append(
            f"random permutations: the p-values estimate the exact ones with Monte Carlo "
            f"standard error about {se_mc:.4f} (QM)"
        )
    if isinstance(res, MetaRegressionResult):
        c = res.coefficients
        coefs = pd.DataFrame(
            {
                "term": terms,
                "estimate": c["estimate"].to_numpy(dtype=float),
                "se": c["se"].to_numpy(dtype=float),
                "zval": z_obs,
                "pval": c["pval"].to_numpy(dtype=float),
                "pval_perm": pz,
            }
        )
        qm_df, qm_p = res.qm_df, res.qm_pvalue
    else:
        L = res.link
        coefs = pd.DataFrame(
            {
                "term": terms,
                "estimate": b_obs,
                "se": [L.se],
                "zval": z_obs,
                "pval": [L.pval],
                "pval_perm": pz,
            }
        )
        qm_df, qm_p = 1, L.pval
    return PermutationResult(
        coefficients=coefs,
        qm=qm_obs,
        qm_df=qm_df,
        qm_pvalue=qm_p,
        qm_pvalue_perm=pq,
        exact=use_exact,
        iter=int(good.sum()),
        exact_iter=exact_iter,
        seed=None if use_exact else seed,
        zval_perm=zperm,
        qm_perm=qperm,
        k=k,
        measure=res.measure,
        method=method,
        test=test,
        intercept_only=intercept_only,
        notes=tuple(notes),
    )
