"""Numerical core of the random-intercept GLMMs: adaptive Gauss-Hermite quadrature.

Private module behind :mod:`review.meta.glmm`. Everything here is vectorised over the
studies (numpy arrays of length k) and knows nothing about data frames or results.

Model (Stijnen et al. 2010): for study i with design row ``X[i]`` and random intercept
``tau * u_i``, ``u_i ~ N(0, 1)``,

* binomial-normal: ``x_i ~ Binomial(n_i, expit(eta_i))``;
* Poisson-normal:  ``x_i ~ Poisson(exp(eta_i))`` with ``eta_i`` including ``log(t_i)``,

``eta_i = X[i] @ beta + offset_i + tau * u_i``. The marginal likelihood of each study is a
one-dimensional integral over ``u_i``, approximated as lme4 does for ``nAGQ = 7``: find the
mode of the integrand by Newton's method, centre and scale a 7-point Gauss-Hermite rule at
the mode with the curvature there (adaptive Gauss-Hermite quadrature; Liu & Pierce 1994;
Pinheiro & Bates 1995). The gradient of that approximation with respect to
``(beta, tau)`` is analytic (including the dependence of the mode and of the curvature on
the parameters, by implicit differentiation), so the outer Newton iterations converge to
the maximum of exactly the function lme4 maximises, and more tightly than lme4's
derivative-free optimisers.

The saturated and common-effect ``glm`` fits that metafor uses for the Wald-type and
likelihood-ratio heterogeneity tests are reproduced with R's own IRLS algorithm
(``glm.fit``: same starting values, same convergence rule, same 25-iteration cap, same
clamping of the inverse link), so that studies with zero events, whose saturated-model
coefficient diverges, contribute what they contribute in R.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, cast, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit as _expit
from scipy.special import gammaln

FloatArray = NDArray[np.float64]

_EPS = float(np.finfo(float).eps)
_NQ = 7
_Z, _W = np.polynomial.hermite_e.hermegauss(_NQ)
_LOGW = np.log(_W / np.sqrt(2.0 * np.pi))  # standard-normal weights, summing to 1


# ------------------------------------------------------------------------- families
@dataclass(frozen=True)
class Data:
    """One data set: events ``x``, size ``n`` (binomial) or person-time ``t`` (Poisson)."""

    family: str  # "binomial" | "poisson"
    x: FloatArray
    size: FloatArray  # n for binomial, t (person-time) for Poisson
    X: FloatArray  # design matrix k x p
    offset: FloatArray  # log(t) for Poisson, 0 for binomial
    const: FloatArray  # log C(n, x) or -log(x!)

    @property
    def k(self) -> int:
        return int(self.x.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])


def make_data(family: str, x: ArrayLike, size: ArrayLike, X: ArrayLike | None = None) -> Data:
    x = np.asarray(x, dtype=float)
    size = np.asarray(size, dtype=float)
    k = x.shape[0]
    X = np.ones((k, 1)) if X is None else np.asarray(X, dtype=float).reshape(k, -1)
    if family == "binomial":
        const = gammaln(size + 1) - gammaln(x + 1) - gammaln(size - x + 1)
        offset = np.zeros(k)
    elif family == "poisson":
        const = -gammaln(x + 1)
        offset = np.log(size)
    else:  # pragma: no cover - guarded by the caller
        raise ValueError(family)
    return Data(family, x, size, X, offset, const)


@overload
def _cond(
    d: Data,
    eta: FloatArray,
    x: FloatArray,
    size: FloatArray,
    order: Literal[1, 2],
    l0: Literal[False],
) -> tuple[None, FloatArray, FloatArray, None]: ...
@overload
def _cond(
    d: Data,
    eta: FloatArray,
    x: FloatArray,
    size: FloatArray,
    order: Literal[3] = ...,
    *,
    l0: Literal[False],
) -> tuple[None, FloatArray, FloatArray, FloatArray]: ...
@overload
def _cond(
    d: Data,
    eta: FloatArray,
    x: FloatArray,
    size: FloatArray,
    order: Literal[1, 2],
    l0: Literal[True] = ...,
) -> tuple[FloatArray, FloatArray, FloatArray, None]: ...
def _cond(
    d: Data, eta: FloatArray, x: FloatArray, size: FloatArray, order: int = 3, l0: bool = True
) -> tuple[FloatArray | None, FloatArray, FloatArray, FloatArray | None]:
    """Conditional log-likelihood (without constant) and its derivatives in eta.

    ``l0=False`` skips the log-likelihood itself (the mode search needs derivatives only).
    """
    v0: FloatArray | None
    l3: FloatArray | None
    if d.family == "binomial":
        if l0:
            sp = np.logaddexp(0.0, eta)  # log(1 + e^eta)
            p = np.exp(eta - sp)
            q = np.exp(-sp)  # 1 - p, without cancellation
            v0 = x * eta - size * sp
        else:
            p = _expit(eta)
            q = _expit(-eta)
            v0 = None
        l1 = x - size * p
        l2 = -size * p * q
        l3 = l2 * (q - p) if order >= 3 else None
    else:
        mu = np.exp(eta)
        v0 = x * eta - mu if l0 else None
        l1 = x - mu
        l2 = -mu
        l3 = -mu if order >= 3 else None
    return v0, l1, l2, l3


# ------------------------------------------------------------------------ AGHQ core
@dataclass
class Eval:
    """Log-likelihood, gradient and the per-study modes at one parameter point."""

    ll: float
    grad: FloatArray
    modes: FloatArray
    ll_i: FloatArray


def _modes(d: Data, eta0: FloatArray, tau: float, u0: FloatArray | None) -> FloatArray:
    """Per-study mode of ``g(u) = l(eta0 + tau u) - u^2/2`` by bracketed Newton.

    ``g'`` is strictly decreasing with slope ``g'' <= -1``, so the root lies between ``u``
    and ``u + g'(u)``; Newton steps that leave the bracket are replaced by bisection,
    which makes the iteration globally convergent (and quadratic near the mode).
    """
    x, s = d.x, d.size
    if tau == 0.0:
        return np.zeros_like(eta0)
    u = np.zeros_like(eta0) if u0 is None else u0.copy()
    _, l1, l2, _ = _cond(d, eta0 + tau * u, x, s, order=2, l0=False)
    g1 = tau * l1 - u
    lo = np.where(g1 > 0, u, u + g1)
    hi = np.where(g1 > 0, u + g1, u)
    dxold = np.full_like(u, np.inf)  # no step-halving test on the first Newton step
    for _ in range(200):
        g2 = tau * tau * l2 - 1.0
        with np.errstate(invalid="ignore"):
            un = u - g1 / g2
            # Numerical Recipes' rtsafe rule: bisect when Newton leaves the bracket or
            # would not halve the previous step (e.g. creeping down an exponential)
            # (never for a study already at its mode: bisecting would undo it)
            slow = ~(np.abs(2.0 * g1) <= np.abs(dxold * g2)) & (np.abs(un - u) > 1e-8)
            out = ~((un >= lo) & (un <= hi)) | slow
        if out.any():
            un = np.where(out, 0.5 * (lo + hi), un)
        dxold = np.abs(un - u)
        done = np.max(dxold) < 1e-11
        u = un
        if done:
            break
        _, l1, l2, _ = _cond(d, eta0 + tau * u, x, s, order=2, l0=False)
        g1 = tau * l1 - u
        pos = g1 > 0
        lo = np.where(pos, np.maximum(lo, u), lo)
        hi = np.where(pos, hi, np.minimum(hi, u))
    return u


def evaluate(d: Data, theta: FloatArray, u0: FloatArray | None = None, grad: bool = True) -> Eval:
    """AGHQ (7 nodes) log-likelihood of ``theta = (beta_1..beta_p, tau)`` and its gradient.

    The log-likelihood includes the constants (``log choose(n, x)``, ``-log x!``), as
    R's ``logLik``. ``tau`` may be negative (the likelihood is even in ``tau``).
    """
    p = d.p
    beta, tau = theta[:p], float(theta[p])
    X, x, s = d.X, d.x, d.size
    eta0 = X @ beta + d.offset
    uh = _modes(d, eta0, tau, u0)
    _, l1h, l2h, l3h = _cond(d, eta0 + tau * uh, x, s, l0=False)
    g2h = tau * tau * l2h - 1.0
    sig = 1.0 / np.sqrt(-g2h)
    uq = uh[:, None] + sig[:, None] * _Z[None, :]  # k x Q
    etaq = eta0[:, None] + tau * uq
    l0q, l1q, _, _ = _cond(d, etaq, x[:, None], s[:, None], order=1)
    Gq = l0q - 0.5 * uq * uq + 0.5 * _Z[None, :] ** 2 + _LOGW[None, :]
    m = Gq.max(axis=1)
    e = np.exp(Gq - m[:, None])
    se = e.sum(axis=1)
    ll_i = np.log(sig) + m + np.log(se) + d.const
    ll = float(ll_i.sum())
    if not grad:
        return Eval(ll, np.empty(0), uh, ll_i)
    pi_q = e / se[:, None]
    # derivatives of the mode and of log(sigma) (implicit differentiation)
    # d uh / d beta_j = -tau l2 X_ij / g2 ;  d uh / d tau = -(l1 + tau uh l2) / g2
    duh_b = (-(tau * l2h) / g2h)[:, None] * X  # k x p
    duh_t = -(l1h + tau * uh * l2h) / g2h  # k
    g3h = tau**3 * l3h
    dg2_b = (tau * tau * l3h)[:, None] * X + g3h[:, None] * duh_b
    dg2_t = 2 * tau * l2h + tau * tau * uh * l3h + g3h * duh_t
    dls_b = -0.5 * dg2_b / g2h[:, None]  # d log sigma / d beta
    dls_t = -0.5 * dg2_t / g2h
    g1q = tau * l1q - uq  # g'(u_q)
    zs = _Z[None, :] * sig[:, None]
    # dG_q/dbeta_j = l1(eta_q) X_ij + g'(u_q) (duh_b + z_q sigma dls_b)
    a = (pi_q * l1q).sum(axis=1)
    b1 = (pi_q * g1q).sum(axis=1)
    b2 = (pi_q * g1q * zs).sum(axis=1)
    dGb = a[:, None] * X + b1[:, None] * duh_b + b2[:, None] * dls_b
    dGt = (pi_q * l1q * uq).sum(axis=1) + b1 * duh_t + b2 * dls_t
    gb = (dls_b + dGb).sum(axis=0)
    gt = float((dls_t + dGt).sum())
    return Eval(ll, np.append(gb, gt), uh, ll_i)


def hessian(
    d: Data, theta: FloatArray, u0: FloatArray | None, which: Sequence[int] | None = None
) -> FloatArray:
    """Hessian of the AGHQ log-likelihood by central differences of the analytic gradient.

    ``which`` restricts to a subset of parameter indices (rows and columns).
    """
    idx = range(theta.shape[0]) if which is None else which
    idx = list(idx)
    H = np.empty((len(idx), len(idx)))
    for a, j in enumerate(idx):
        h = 1e-5 * max(1.0, abs(theta[j]))
        tp = theta.copy()
        tp[j] += h
        tm = theta.copy()
        tm[j] -= h
        gp = evaluate(d, tp, u0).grad[idx]
        gm = evaluate(d, tm, u0).grad[idx]
        H[:, a] = (gp - gm) / (2 * h)
    return 0.5 * (H + H.T)


@dataclass
class Fit:
    """Maximum-likelihood fit of the random-intercept model."""

    beta: FloatArray
    tau: float
    ll: float
    vcov: FloatArray  # (p+1) x (p+1) inverse observed information in (beta, tau)
    converged: bool
    iterations: int
    modes: FloatArray
    message: str
    boundary: bool
    hessian: FloatArray | None = None  # observed Hessian of the log-likelihood at the optimum
    glm: tuple[FloatArray, float, FloatArray] | None = None  # common-effect GLM (beta, ll, vcov)


def _newton(
    d: Data,
    theta: FloatArray,
    u0: FloatArray | None,
    fixed_tau: bool = False,
    maxit: int = 100,
    H0: FloatArray | None = None,
) -> tuple[FloatArray, Eval, bool | np.bool_, int, str]:  # ok may be a numpy bool
    """Damped Newton ascent on the AGHQ log-likelihood; returns (theta, eval, ok, it, msg).

    The Hessian (central differences of the analytic gradient, 2 gradient calls a
    parameter) is refreshed while steps are large and reused once the Newton decrement is
    small (a chord iteration, 1 gradient call, converging linearly at a rate set by the
    Hessian's change). ``H0`` seeds it (warm starts: the full fit's Hessian for a refit).
    """
    p = d.p
    free = list(range(p)) if fixed_tau else list(range(p + 1))
    ev = evaluate(d, theta, u0)
    u0 = ev.modes
    msg = ""
    H = None if H0 is None else np.asarray(H0)[np.ix_(free, free)]
    refresh = H is None
    prev_dec = np.inf

    def newton_step(
        H: FloatArray, g: FloatArray
    ) -> tuple[FloatArray | None, float, float, FloatArray]:
        w, V = np.linalg.eigh(H)
        if not np.all(np.isfinite(w)):
            return None, np.inf, np.inf, w
        # make the Newton matrix negative definite if it is not (far from the optimum)
        wmod = np.minimum(w, -1e-8 * max(1.0, np.max(np.abs(w))))
        step = -(V @ ((V.T @ g) / wmod))
        # trust region: far from the optimum a Newton step can be huge (and overflow the
        # Poisson mean); the likelihood's scale is about one unit in beta and tau
        big = np.max(np.abs(step))
        if big > 2.0:
            step = step * (2.0 / big)
        return step, float(g @ step), big, w  # Newton decrement (>= 0 for an ascent step)

    for it in range(1, maxit + 1):
        g = ev.grad[free]
        fresh = False
        if not refresh and H is not None:
            step, dec, big, w = newton_step(H, g)
            # a stale Hessian is kept only while it keeps the decrement falling fast
            refresh = step is None or not (dec < 0.1 * prev_dec or dec < 1e-14)
        if refresh or H is None:
            H = hessian(d, theta, u0, which=free)
            fresh = True
            step, dec, big, w = newton_step(H, g)
            if step is None:
                return theta, ev, False, it, "non-finite Hessian"
        # for mypy: a None step above set ``refresh``, and the fresh one was checked
        assert step is not None
        if dec < 1e-14 and np.max(np.abs(g)) < 1e-6:
            return theta, ev, True, it, msg
        t = 1.0
        accepted = False
        for _ in range(50):
            tn = theta.copy()
            tn[free] = theta[free] + t * step
            evn = evaluate(d, tn, u0)
            if np.isfinite(evn.ll) and evn.ll >= ev.ll - 1e-12 * abs(ev.ll):
                accepted = True
                break
            t *= 0.5
        if not accepted:
            if not fresh:  # a stale Hessian: refresh and try again from here
                refresh = True
                continue
            ok = np.max(np.abs(g)) < 1e-4
            return theta, ev, ok, it, "line search failed"
        small = np.max(np.abs(t * step)) < 1e-10
        # BFGS update of -H with the step and the change in gradient (both already
        # known), so the kept Hessian improves between refreshes (superlinear steps)
        sv = t * step
        yb = -(evn.grad[free] - g)
        ys = float(yb @ sv)
        B = -H
        Bs = B @ sv
        sBs = float(sv @ Bs)
        if ys > 1e-12 * max(1.0, sBs) and sBs > 0:
            H = -(B - np.outer(Bs, Bs) / sBs + np.outer(yb, yb) / ys)
        theta, ev, u0 = tn, evn, evn.modes
        if small:
            return theta, ev, True, it, msg
        prev_dec = dec
        refresh = t < 1.0 or big > 2.0 or not np.all(w < 0)
    return theta, ev, False, maxit, f"no convergence in {maxit} Newton iterations"


def fit_glm(d: Data) -> tuple[FloatArray, float, FloatArray]:
    """Common-effect GLM (tau = 0) by Newton-Raphson with step halving: (beta, ll, vcov)."""
    beta = _glm_start(d)

    def ll_at(b: FloatArray) -> float:
        return float(_cond(d, d.X @ b + d.offset, d.x, d.size, order=1)[0].sum())

    ll = ll_at(beta)
    for _ in range(200):
        eta = d.X @ beta + d.offset
        _, l1, l2, _ = _cond(d, eta, d.x, d.size, order=2)
        g = d.X.T @ l1
        H = (d.X * l2[:, None]).T @ d.X
        try:
            step = np.linalg.solve(H, -g)
        except np.linalg.LinAlgError:
            step = g / max(float(np.abs(np.diag(H)).max()), 1.0)
        big = float(np.max(np.abs(step)))
        if big > 5.0:
            step *= 5.0 / big
        t = 1.0
        for _ in range(60):
            bn = beta + t * step
            lln = ll_at(bn)
            if np.isfinite(lln) and lln >= ll - 1e-12 * abs(ll):
                break
            t *= 0.5
        beta, ll = bn, lln
        if np.max(np.abs(t * step)) < 1e-12:
            break
    eta = d.X @ beta + d.offset
    l0, _, l2, _ = _cond(d, eta, d.x, d.size, order=2)
    H = (d.X * l2[:, None]).T @ d.X
    vcov = cast(FloatArray, np.linalg.inv(-H))  # float64 in, float64 out
    return beta, float((l0 + d.const).sum()), vcov


def _glm_start(d: Data) -> FloatArray:
    # weighted least squares on the empirical logits / log rates (+0.5), which is exact for
    # the pooled proportion / rate of an intercept-only model up to the 0.5
    if d.family == "binomial":
        y = np.log((d.x + 0.5) / (d.size - d.x + 0.5))
        w = 1.0 / (1 / (d.x + 0.5) + 1 / (d.size - d.x + 0.5))
    else:
        y = np.log((d.x + 0.5) / d.size)
        w = d.x + 0.5
    Xw = d.X * w[:, None]
    # float64 in, float64 out (numpy stubs type the solution as floating[Any])
    return cast(FloatArray, np.linalg.lstsq(Xw.T @ d.X, Xw.T @ y, rcond=None)[0])


def _approx_hessian(d: Data, theta: FloatArray) -> FloatArray:
    """Normal-approximation Hessian of the log-likelihood at ``theta`` (a Newton seed).

    With study variances ``v_i`` of the linear predictor at the GLM fit and
    ``w_i = 1/(v_i + tau^2)``: ``H_bb = -X'WX``, ``H_tt = -2 tau^2 sum w_i^2``,
    ``H_bt = 0``. Only a starting matrix: the Newton iteration refreshes it with
    differences of the exact gradient whenever it does not make fast progress.
    """
    p = d.p
    tau = float(theta[p])
    eta = d.X @ theta[:p] + d.offset
    _, _, l2, _ = _cond(d, eta, d.x, d.size, order=2, l0=False)
    v = 1.0 / np.maximum(-l2, 1e-8)
    w = 1.0 / (v + tau * tau)
    H = np.zeros((p + 1, p + 1))
    H[:p, :p] = -(d.X * w[:, None]).T @ d.X
    H[p, p] = -2.0 * tau * tau * float(np.sum(w * w)) - 1e-3
    return H


def _tau_start(d: Data) -> float:
    """DerSimonian-Laird tau on the empirical logits / log rates (+0.5), floored at 0.1."""
    if d.family == "binomial":
        y = np.log((d.x + 0.5) / (d.size - d.x + 0.5))
        v = 1 / (d.x + 0.5) + 1 / (d.size - d.x + 0.5)
    else:
        y = np.log((d.x + 0.5) / d.size)
        v = 1 / (d.x + 0.5)
    w = 1 / v
    if d.k <= d.p:
        return 0.1
    Xw = d.X * w[:, None]
    b = np.linalg.lstsq(Xw.T @ d.X, Xw.T @ y, rcond=None)[0]
    q = float(np.sum(w * (y - d.X @ b) ** 2))
    P_tr = float(w.sum() - np.trace(np.linalg.pinv(Xw.T @ d.X) @ (Xw.T @ Xw)))
    t2 = (q - (d.k - d.p)) / P_tr if P_tr > 0 else 0.0
    return float(max(np.sqrt(max(t2, 0.0)), 0.1))


def fit_ml(
    d: Data,
    start: FloatArray | None = None,
    u0: FloatArray | None = None,
    maxit: int = 100,
    H0: FloatArray | None = None,
) -> Fit:
    """ML fit of ``(beta, tau)`` with 7-point AGHQ; tau^2 = 0 boundary handled exactly."""
    p = d.p
    bglm, llglm, vglm = fit_glm(d)
    if start is None:
        theta0 = np.append(bglm, _tau_start(d))
        if H0 is None:
            H0 = _approx_hessian(d, theta0)
    else:
        theta0 = np.asarray(start, dtype=float).copy()
        if abs(theta0[p]) < 1e-3:
            theta0[p] = 0.1
    theta, ev, ok, it, msg = _newton(d, theta0, u0, maxit=maxit, H0=H0)
    tau = abs(float(theta[p]))
    beta = theta[:p].copy()
    boundary = False
    if tau < 1e-4 or llglm >= ev.ll - 1e-10:
        # tau = 0 is a stationary point (the likelihood is even in tau); take it when it is
        # at least as good: this is lme4's theta = 0 (metafor reports tau2 = 0)
        if llglm >= ev.ll - 1e-9:
            boundary = True
            beta, tau = bglm, 0.0
            ok = True
    th = np.append(beta, tau)
    if boundary:
        H = hessian(d, th, None)
    else:
        H = hessian(d, th, ev.modes)
    try:
        V = cast(FloatArray, np.linalg.inv(-H))  # float64 in, float64 out
        if not np.all(np.isfinite(V)) or np.any(np.diag(V)[:p] <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        V = np.full((p + 1, p + 1), np.nan)
        if boundary:
            V[:p, :p] = vglm
        else:
            ok = False
            msg = (msg + "; " if msg else "") + "Hessian not negative definite at the optimum"
    ll = llglm if boundary else ev.ll
    modes = np.zeros(d.k) if boundary else ev.modes
    return Fit(beta, tau, ll, V, bool(ok), it, modes, msg, boundary, H, (bglm, llglm, vglm))


def profile_ll(
    d: Data,
    tau: float,
    beta0: FloatArray,
    u0: FloatArray | None = None,
    H0: FloatArray | None = None,
) -> tuple[float, float, FloatArray, FloatArray]:
    """Profile log-likelihood at fixed ``tau`` (beta maximised).

    Returns ``(ll, dll/dtau, beta, modes)``; by the envelope theorem the derivative of the
    profile is the partial derivative in ``tau`` at the maximising ``beta``.
    """
    theta = np.append(beta0, tau)
    theta, ev, _, _, _ = _newton(d, theta, u0, fixed_tau=True, H0=H0)
    return ev.ll, float(ev.grad[d.p]), theta[: d.p], ev.modes


def profile_limit(d: Data, fit: Fit, crit: float, side: int, maxit: int = 40) -> tuple[float, bool]:
    """One limit of the profile-likelihood interval for tau by a joint Newton iteration.

    Solves ``dl/dbeta = 0`` and ``2 (l_max - l(beta, tau)) = crit`` together in
    ``(beta, tau)``: at the solution ``beta`` maximises the likelihood at that ``tau``, so
    ``tau`` is a root of the profile equation. The Jacobian's first ``p`` rows (the
    Hessian rows of ``beta``) start from the fit's Hessian and are updated by Broyden's
    rank-one formula; its last row is ``-2 * gradient``, exact. ``side`` is ``-1``
    (lower) or ``+1`` (upper). Returns ``(tau, ok)``; ``ok=False`` when the iteration
    leaves the bracket or stalls (the caller then falls back to a bracketed search on the
    profile itself).
    """
    p = d.p
    H = fit.hessian
    if H is None or not np.all(np.isfinite(H)):
        return float("nan"), False
    tau_hat = fit.tau
    vtt = float(fit.vcov[p, p])
    width = np.sqrt(crit * vtt) if np.isfinite(vtt) and vtt > 0 else 0.5
    tau0 = tau_hat + side * width
    if side < 0:
        tau0 = max(tau0, 0.5 * tau_hat)
    # start on the quadratic approximation of the profile path beta(tau)
    try:
        slope = -np.linalg.solve(H[:p, :p], H[:p, p])
    except np.linalg.LinAlgError:
        return float("nan"), False
    theta = np.append(fit.beta + slope * (tau0 - tau_hat), tau0)
    u = fit.modes
    # rows of dl/dbeta's Jacobian: the fit's Hessian, then Broyden rank-one updates from
    # the gradients already computed (one likelihood call an iteration)
    top = np.array(H[:p, :], dtype=float)
    prev = None
    for _ in range(maxit):
        ev = evaluate(d, theta, u)
        if not np.isfinite(ev.ll):
            return float("nan"), False
        u = ev.modes
        F = np.append(ev.grad[:p], 2.0 * (fit.ll - ev.ll) - crit)
        # |F_tau| < 1e-8 on the deviance scale puts tau within ~1e-9 of the limit
        if abs(F[p]) < 1e-8 and np.max(np.abs(F[:p])) < 1e-7 and theta[p] > 0:
            return float(theta[p]), True
        if prev is not None:
            s_, y_ = theta - prev[0], ev.grad[:p] - prev[1]
            ss = float(s_ @ s_)
            if ss > 0:
                top += np.outer(y_ - top @ s_, s_) / ss
        J = np.vstack([top, -2.0 * ev.grad[None, :]])
        try:
            step = np.linalg.solve(J, -F)
        except np.linalg.LinAlgError:
            return float("nan"), False
        big = np.max(np.abs(step))
        if big > 1.0:
            step *= 1.0 / big
        prev = (theta.copy(), ev.grad[:p].copy())
        theta = theta + step
        t = theta[p]
        if (side > 0 and t <= tau_hat) or (side < 0 and not (0.0 < t < tau_hat)):
            return float("nan"), False
    return float("nan"), False


def solve_bracketed(
    fun: Callable[[float], tuple[float, float]],
    x0: float,
    a: float,
    b: float,
    fa_sign: float,
    tol: float = 1e-10,
) -> tuple[float, bool]:
    """Root of ``fun`` (returning value and derivative) by Newton's method kept in a bracket.

    ``[a, b]`` brackets the root with ``sign(fun(a)) == fa_sign``; ``b`` may be ``inf``
    (the bracket is then widened until the sign changes). Returns ``(root, ok)``.
    """
    x = x0
    for _ in range(100):
        fx, dfx = fun(x)
        if not np.isfinite(fx):
            return x, False
        if np.sign(fx) == fa_sign:
            a = x
        else:
            b = x
        if abs(fx) < 1e-11:
            return x, True
        xn = x - fx / dfx if dfx != 0 and np.isfinite(dfx) else np.nan
        if not (np.isfinite(xn) and min(a, b) < xn < max(a, b)):
            if np.isfinite(b):
                xn = 0.5 * (a + b)
            else:
                xn = a + 2.0 * (a - (x0 if x0 != a else a - 1.0)) if x == a else 2 * x - a
                xn = max(xn, a + 1e-3)
        if abs(xn - x) < tol * (1.0 + abs(x)):
            return xn, True
        x = xn
    return x, False


# --------------------------------------------------------------- R's glm.fit (IRLS)
_THRESH = 30.0


def _linkinv(family: str, eta: FloatArray) -> FloatArray:
    if family == "binomial":
        t = np.where(eta < -_THRESH, _EPS, np.where(eta > _THRESH, 1 / _EPS, np.exp(eta)))
        mu: FloatArray = t / (1 + t)  # numpy stubs: Any for a scalar/array mix
        return mu
    return np.maximum(np.exp(eta), _EPS)


def _mu_eta(family: str, eta: FloatArray) -> FloatArray:
    if family == "binomial":
        o = 1 + np.exp(eta)
        out: FloatArray = np.where(  # numpy stubs: Any for a scalar/array mix
            (eta > _THRESH) | (eta < -_THRESH), _EPS, np.exp(eta) / (o * o)
        )
        return out
    return np.maximum(np.exp(eta), _EPS)


def _dev_resids(family: str, y: FloatArray, mu: FloatArray, wt: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if family == "binomial":
            a = np.where(y > 0, y * np.log(y / mu), 0.0)
            b = np.where(y < 1, (1 - y) * np.log((1 - y) / (1 - mu)), 0.0)
            dev: FloatArray = 2 * wt * (a + b)  # numpy stubs: Any for a scalar/array mix
            return dev
        r = mu * wt
        r = np.where(y > 0, wt * (y * np.log(y / mu) - (y - mu)), r)
        return 2 * r


@dataclass
class Saturated:
    """R's ``glm`` saturated fit, reduced to what the heterogeneity tests need."""

    eta: FloatArray  # fitted linear predictors (including offset)
    w: FloatArray  # IRLS weights of the last WLS step (what vcov() uses)
    ll: float
    converged: bool


def saturated_glm(d: Data, epsilon: float = 1e-8, maxit: int = 25) -> Saturated:
    """R ``glm(y ~ -1 + X + study)``: one free linear predictor a study.

    For a saturated design the IRLS update is the working response itself, so the fit
    runs per study with R's joint convergence rule on the total deviance.
    """
    fam = d.family
    if fam == "binomial":
        n = d.size
        y = np.where(n == 0, 0.0, d.x / n)
        wts = n
        mu = (n * y + 0.5) / (n + 1)
        eta = np.log(mu / (1 - mu))
    else:
        y = d.x
        wts = np.ones_like(y)
        mu = y + 0.1
        eta = np.log(mu)
    devold = float(_dev_resids(fam, y, mu, wts).sum())
    conv = False
    w: FloatArray | None = None
    for _ in range(maxit):
        var = mu * (1 - mu) if fam == "binomial" else mu
        me = _mu_eta(fam, eta)
        z = eta - d.offset + (y - mu) / me
        w = np.sqrt(wts * me * me / var)
        eta = z + d.offset
        mu = _linkinv(fam, eta)
        dev = float(_dev_resids(fam, y, mu, wts).sum())
        if abs(dev - devold) / (abs(dev) + 0.1) < epsilon:
            conv = True
            break
        devold = dev
    ll = _loglik_at(d, mu)
    if w is None:  # maxit < 1: no IRLS step, no weights (``w * w`` would raise TypeError)
        raise TypeError(f"saturated_glm needs maxit >= 1, got {maxit}")
    return Saturated(eta, w * w, ll, conv)


def _loglik_at(d: Data, mu: FloatArray) -> float:
    """R's logLik for a glm with fitted means ``mu`` (probabilities or counts)."""
    if d.family == "binomial":
        with np.errstate(divide="ignore"):
            lp = np.where(d.x > 0, d.x * np.log(mu), 0.0) + np.where(
                d.size - d.x > 0, (d.size - d.x) * np.log1p(-mu), 0.0
            )
        return float((lp + d.const).sum())
    with np.errstate(divide="ignore"):
        lp = np.where(d.x > 0, d.x * np.log(mu), 0.0) - mu
    return float((lp + d.const).sum())


def heterogeneity(d: Data, ll_fe: float) -> tuple[float, float, Saturated]:
    """metafor's ``QE.Wld`` and ``QE.LRT`` from the saturated and common-effect fits.

    ``QE.Wld`` is the Wald test of the study effects beyond ``X`` in the saturated
    model, which equals the weighted residual sum of squares of the saturated linear
    predictors with the saturated IRLS weights: ``eta' (W - W X (X'WX)^-1 X'W) eta``.
    """
    sat = saturated_glm(d)
    eta = sat.eta - d.offset
    W = sat.w
    XtW = d.X.T * W
    A = XtW @ d.X
    bhat = np.linalg.solve(A, XtW @ eta)
    r = eta - d.X @ bhat
    qw = float(np.sum(W * r * r))
    qlrt = -2.0 * (ll_fe - sat.ll)
    return max(qw, 0.0), max(qlrt, 0.0), sat
