"""Golden tests: review.meta.glmm against metafor 3.8-1 ``rma.glmm`` (lme4 glmer, nAGQ = 7).

Reference numbers come from ``tests/r/make_reference_glmm.R`` (committed JSON, so CI needs
no R). Each case is one data set x test x level; ids read ``<data>-<test>-<level>``
(metafor's ``test="t"`` is our ``test="knha"`` for a GLMM).
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review.meta import _aghq
from review.meta.glmm import GLMMResult, pool_glmm

REF_PATH = Path(__file__).parent / "data" / "metafor_glmm_reference.json"
REF = json.loads(REF_PATH.read_text())

# One tolerance a kind of quantity (relative unless said otherwise), with the reason.
TOL = {
    # iterative ML fit: lme4 stops its derivative-free optimisers at ~1e-6..1e-5 relative;
    # we maximise the same AGHQ likelihood with an analytic gradient (issue: 1e-4 for GLMM)
    "fit": 1e-4,
    # tau^2 at the boundary: lme4 may stop at theta ~ 1e-8 instead of exactly 0
    "tau2_abs": 1e-8,
    # heterogeneity tests: closed forms of the saturated / common-effect GLMs, which we fit
    # with R's own IRLS rules, so they agree to rounding
    "closed": 1e-6,
    # p-values far in the tail: compare on the log scale
    "logp": 1e-4,
    # lme4's profile(): spline interpolation of the profiled deviance, ~1e-3 relative at
    # interior limits and up to ~5e-3 when tau^2 sits at the boundary
    "profile": 6e-3,
}

# the grid the reference must cover (data sets x tests x levels)
DATASETS = sorted(REF["datasets"])
GRID = [(d, "z", 95) for d in DATASETS] + [(d, "z", 90) for d in DATASETS]
GRID += [(d, "t", 95) for d in DATASETS]
CASES = sorted(REF["fits"])


def _frame(name: str) -> tuple[pd.DataFrame, str]:
    ds = REF["datasets"][name]
    col = "n" if ds["family"] == "binomial" else "time"
    return pd.DataFrame({"events": ds["events"], col: ds["size"]}), ds["family"]


@functools.cache
def fitted(case: str) -> GLMMResult:
    ref = REF["fits"][case]
    df, family = _frame(ref["data"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # plotted-yi corrections
        return pool_glmm(
            df,
            family=family,
            test="knha" if ref["test"] == "t" else "z",
            level=ref["level"],
            tau2_ci=ref["test"] == "z" and ref["level"] == 0.95,
        )


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def close(a: float, b: float, tol: float, abs_floor: float = 0.0) -> bool:
    return abs(a - b) <= max(tol * abs(b), abs_floor)


def test_reference_covers_the_whole_grid() -> None:
    have = {(f["data"], f["test"], round(100 * f["level"])) for f in REF["fits"].values()}
    assert set(GRID) <= have, sorted(set(GRID) - have)
    # both families, published data, zero-event, rare, k = 2, k >= 30, boundary sets
    fams = {REF["datasets"][d]["family"] for d in DATASETS}
    assert fams == {"binomial", "poisson"}
    sizes = [len(REF["datasets"][d]["events"]) for d in DATASETS]
    assert min(sizes) == 2 and max(sizes) >= 50
    assert any(0 in REF["datasets"][d]["events"] for d in DATASETS)
    assert sum(REF["fits"][c]["tau2"] == 0 for c in CASES) >= 4
    assert {"pritz1997", "nielweise2007_ctrl", "nielweise2008_ctrl"} <= set(DATASETS)
    src = REF["source"]
    assert src["metafor"] == "3.8.1" and "lme4" in src and "rma.glmm" in src["call"]


@pytest.mark.parametrize("case", CASES)
def test_model_scale_estimates(case: str) -> None:
    ref, res = REF["fits"][case], fitted(case)
    L = res.link
    assert res.k == ref["k"]
    assert res.converged
    for ours, key in [(L.estimate, "estimate"), (L.se, "se"), (L.zval, "zval")]:
        assert close(ours, ref[key], TOL["fit"]), (key, ours, ref[key])
    if ref["pval"] < 1e-300:  # underflow in R: ours must be as small
        assert L.pval < 1e-290
    else:
        lp = math.log(ref["pval"])
        assert abs(math.log(L.pval) - lp) <= TOL["logp"] * max(1.0, abs(lp)), L.pval
    for ours, key in [
        (L.ci_low, "ci_low"),
        (L.ci_high, "ci_high"),
        (L.pi_low, "pi_low"),
        (L.pi_high, "pi_high"),
    ]:
        # CI/PI limits can be near 0 on the logit scale: relative to the half-width too
        assert abs(ours - ref[key]) <= TOL["fit"] * max(abs(ref[key]), L.pi_se), (key, ours)


@pytest.mark.parametrize("case", CASES)
def test_back_transformed(case: str) -> None:
    ref, res = REF["fits"][case], fitted(case)
    back = (lambda x: 1 / (1 + math.exp(-x))) if res.family == "binomial" else math.exp
    for ours, key in [
        (res.estimate, "estimate"),
        (res.ci_low, "ci_low"),
        (res.ci_high, "ci_high"),
        (res.pi_low, "pi_low"),
        (res.pi_high, "pi_high"),
    ]:
        assert close(ours, back(ref[key]), TOL["fit"]), (key, ours, back(ref[key]))


@pytest.mark.parametrize("case", CASES)
def test_heterogeneity(case: str) -> None:
    ref, res = REF["fits"][case], fitted(case)
    if ref["tau2"] < TOL["tau2_abs"]:
        assert res.tau2 <= TOL["tau2_abs"], res.tau2
        assert res.i2 <= 1e-5 and abs(res.h2 - 1) <= 1e-7
    else:
        assert close(res.tau2, ref["tau2"], TOL["fit"]), (res.tau2, ref["tau2"])
        assert close(res.i2, ref["I2"], TOL["fit"]) and close(res.h2, ref["H2"], TOL["fit"])
    assert close(res.vt, ref["vt"], TOL["closed"])
    assert res.q_df == ref["QE_df"]
    assert close(res.q, ref["QE_Wld"], TOL["closed"], 1e-9), (res.q, ref["QE_Wld"])
    assert close(res.q_lrt, ref["QE_LRT"], TOL["closed"], 1e-9)
    assert close(res.q_pvalue, ref["QEp_Wld"], TOL["closed"], 1e-12)
    assert close(res.q_lrt_pvalue, ref["QEp_LRT"], TOL["closed"], 1e-12)


@pytest.mark.parametrize("case", CASES)
def test_log_likelihood(case: str) -> None:
    # lme4's logLik() of this glmer fit is the marginal log-likelihood minus that of the
    # saturated GLM; ours keeps the binomial/Poisson constants (as R's glm logLik)
    ref, res = REF["fits"][case], fitted(case)
    d, _ = res._core
    sat = _aghq.saturated_glm(d)
    assert close(res.fit_stats["logLik"] - sat.ll, ref["lme4_logLik"], TOL["fit"], 1e-7)


@pytest.mark.parametrize("case", [c for c in CASES if "profile_tau2" in REF["fits"][c]])
def test_profile_likelihood_ci_vs_lme4(case: str) -> None:
    ref, res = REF["fits"][case]["profile_tau2"], fitted(case)
    assert res.tau2_ci_method == "profile likelihood"
    lo, hi = res.tau2_ci
    if ref["tau2_low"] == 0:
        assert lo == 0
    else:
        assert close(lo, ref["tau2_low"], TOL["profile"]), (lo, ref["tau2_low"])
    assert close(hi, ref["tau2_high"], TOL["profile"]), (hi, ref["tau2_high"])


@pytest.mark.parametrize("case", [c for c in CASES if "profile_tau2" in REF["fits"][c]])
def test_profile_limits_solve_the_likelihood_ratio_equation(case: str) -> None:
    # self-check, exact: at each non-zero limit 2 (l_max - l_p(tau)) equals chi2_1(0.95)
    res = fitted(case)
    d, fit = res._core
    crit = 3.841458820694124
    for t2 in res.tau2_ci:
        if t2 > 0:
            ll, _, _, _ = _aghq.profile_ll(d, math.sqrt(t2), fit.beta, fit.modes)
            assert 2 * (fit.ll - ll) == pytest.approx(crit, abs=1e-7)
    assert res.tau2_ci[0] <= res.tau2 <= res.tau2_ci[1]


def test_glm_fits_match_closed_forms() -> None:
    # common-effect GLM of an intercept-only binomial model: pooled logit of sum x / sum n
    ds = REF["datasets"]["pritz1997"]
    x, n = np.asarray(ds["events"], float), np.asarray(ds["size"], float)
    d = _aghq.make_data("binomial", x, n)
    beta, _, v = _aghq.fit_glm(d)
    p = x.sum() / n.sum()
    assert beta[0] == pytest.approx(math.log(p / (1 - p)), rel=1e-12)
    assert v[0, 0] == pytest.approx(1 / (n.sum() * p * (1 - p)), rel=1e-10)
