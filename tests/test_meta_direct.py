"""The engine's numbers recomputed by plain algebra (after metafor's
``test_misc_rma_vs_direct_computation.r``), on Pritz 1997 (logit proportions)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from review.meta import confint_tau2, pool_proportions, pool_rates
from review.meta._vocab import harmonic_mean, ipft, pft

XI = np.array([16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6], dtype=float)
NI = np.array([17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10], dtype=float)
DF = pd.DataFrame({"events": XI, "n": NI})


def _pool(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pool_proportions(DF, **kw)


def _logit_yv():
    x, n = XI.copy(), NI.copy()
    zero = (x == 0) | (x == n)
    x = x + 0.5 * zero
    m = n - XI + 0.5 * zero
    return np.log(x / m), 1 / x + 1 / m


def test_dersimonian_laird_by_hand() -> None:
    yi, vi = _logit_yv()
    k = len(yi)
    w = 1 / vi
    fe = np.sum(w * yi) / np.sum(w)
    q = np.sum(w * (yi - fe) ** 2)
    c = np.sum(w) - np.sum(w**2) / np.sum(w)
    tau2 = max(0.0, (q - (k - 1)) / c)
    ws = 1 / (vi + tau2)
    mu = np.sum(ws * yi) / np.sum(ws)
    se = math.sqrt(1 / np.sum(ws))
    z = stats.norm.ppf(0.975)
    res = _pool(method="DL")
    assert res.q == pytest.approx(q, rel=1e-12)
    assert res.tau2 == pytest.approx(tau2, rel=1e-12)
    assert res.link.estimate == pytest.approx(mu, rel=1e-12)
    assert res.link.se == pytest.approx(se, rel=1e-12)
    assert res.link.ci_low == pytest.approx(mu - z * se, rel=1e-12)
    assert res.estimate == pytest.approx(1 / (1 + math.exp(-mu)), rel=1e-12)
    # I^2 from the typical within-study variance (Higgins & Thompson 2002; metafor)
    vt = (k - 1) / c
    assert res.i2 == pytest.approx(100 * tau2 / (vt + tau2), rel=1e-12)
    assert res.h2 == pytest.approx(tau2 / vt + 1, rel=1e-12)
    # weights in percent
    np.testing.assert_allclose(res.studies["weight"], 100 * ws / ws.sum(), rtol=1e-12)
    assert res.studies["weight"].sum() == pytest.approx(100)
    # the common-effect companion
    assert res.fixed.link_estimate == pytest.approx(fe, rel=1e-12)
    assert res.fixed.link_se == pytest.approx(math.sqrt(1 / w.sum()), rel=1e-12)


def test_fixed_effect_i2_from_q() -> None:
    yi, vi = _logit_yv()
    w = 1 / vi
    fe = np.sum(w * yi) / np.sum(w)
    q = np.sum(w * (yi - fe) ** 2)
    res = _pool(method="FE")
    assert res.tau2 == 0
    assert res.i2 == pytest.approx(max(0, 100 * (q - 13) / q), rel=1e-12)
    assert res.h2 == pytest.approx(q / 13, rel=1e-12)
    assert res.pi_low == res.ci_low and res.pi_high == res.ci_high


def test_hartung_knapp_by_hand() -> None:
    yi, vi = _logit_yv()
    res = _pool(method="REML", test="knha")
    tau2 = res.tau2
    w = 1 / (vi + tau2)
    mu = np.sum(w * yi) / np.sum(w)
    k = len(yi)
    s2w = np.sum(w * (yi - mu) ** 2) / (k - 1)
    se = math.sqrt(s2w / np.sum(w))
    t = stats.t.ppf(0.975, k - 1)
    assert res.link.se == pytest.approx(se, rel=1e-12)
    assert res.link.df == k - 1
    assert res.link.ci_high == pytest.approx(mu + t * se, rel=1e-12)
    assert res.link.pval == pytest.approx(2 * stats.t.sf(abs(mu / se), k - 1), rel=1e-10)
    # metafor 3.8 PI under knha: t(k - 1), sqrt(tau2 + se^2)
    assert res.link.pi_low == pytest.approx(mu - t * math.sqrt(tau2 + se**2), rel=1e-12)


def test_riley_prediction_interval_by_hand() -> None:
    res = _pool(method="REML", pi_method="riley")
    k = res.k
    t = stats.t.ppf(0.975, k - 2)
    sd = math.sqrt(res.tau2 + res.link.se**2)
    assert res.link.pi_low == pytest.approx(res.link.estimate - t * sd, rel=1e-12)
    assert res.link.pi_df == k - 2
    assert res.to_frame()["pi_method"].eq("riley").all()


def test_reml_estimate_solves_the_reml_equation() -> None:
    # the REML tau2 is a root of the REML score (Viechtbauer 2005, eq. 10)
    yi, vi = _logit_yv()
    res = _pool(method="REML")
    w = 1 / (vi + res.tau2)
    mu = np.sum(w * yi) / np.sum(w)
    score = np.sum(w**2 * ((yi - mu) ** 2 - vi)) / np.sum(w**2) + 1 / np.sum(w) - res.tau2
    assert abs(score) < 1e-6


def test_paule_mandel_estimate_sets_generalised_q_to_df() -> None:
    yi, vi = _logit_yv()
    res = _pool(method="PM")
    w = 1 / (vi + res.tau2)
    mu = np.sum(w * yi) / np.sum(w)
    assert np.sum(w * (yi - mu) ** 2) == pytest.approx(len(yi) - 1, abs=1e-3)


def test_q_profile_bounds_solve_the_chi2_equations() -> None:
    yi, vi = _logit_yv()
    res = _pool(method="REML")
    ci = confint_tau2(res)

    def q(t):
        w = 1 / (vi + t)
        mu = np.sum(w * yi) / np.sum(w)
        return np.sum(w * (yi - mu) ** 2)

    assert q(ci.tau2_low) == pytest.approx(stats.chi2.ppf(0.975, 13), abs=1e-3)
    assert q(ci.tau2_high) == pytest.approx(stats.chi2.ppf(0.025, 13), abs=1e-3)
    assert ci.tau2_low < res.tau2 < ci.tau2_high


def test_profile_likelihood_bounds_are_a_chi2_1_drop() -> None:
    yi, vi = _logit_yv()
    res = _pool(method="ML")

    def ll(t):
        w = 1 / (vi + t)
        mu = np.sum(w * yi) / np.sum(w)
        return -0.5 * np.sum(np.log(2 * np.pi * (vi + t))) - 0.5 * np.sum(w * (yi - mu) ** 2)

    ci = confint_tau2(res, type="PL")
    crit = stats.chi2.ppf(0.95, 1)
    # the bounds are found to R uniroot's tolerance on tau2 (eps^0.25 = 1.2e-4), as
    # metafor's, so the statistic at the bound is within a few 1e-3 of the critical value
    assert 2 * (ll(res.tau2) - ll(ci.tau2_high)) == pytest.approx(crit, abs=5e-3)
    if ci.tau2_low > 0:
        assert 2 * (ll(res.tau2) - ll(ci.tau2_low)) == pytest.approx(crit, abs=5e-3)


def test_freeman_tukey_round_trip_and_harmonic_mean() -> None:
    p = np.linspace(0.0, 1.0, 21)
    for n in (5.0, 17.0, 250.0):
        np.testing.assert_allclose(ipft(pft(p, n), n), p, atol=1e-10)
    assert harmonic_mean(NI) == pytest.approx(len(NI) / np.sum(1 / NI))
    res = _pool(measure="PFT", method="DL")
    assert res.estimate == pytest.approx(float(ipft(res.link.estimate, harmonic_mean(NI))))


def test_exact_study_intervals() -> None:
    res = _pool()
    lo, hi = proportion_confint(XI, NI, alpha=0.05, method="beta")
    np.testing.assert_allclose(res.studies["ci_low"], lo, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(res.studies["ci_high"], hi, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(res.studies["estimate"], XI / NI)
    # exact Poisson (Garwood 1936) for rates
    ev = np.array([0, 3, 12.0])
    t = np.array([100.0, 250.0, 400.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = pool_rates(pd.DataFrame({"events": ev, "py": t}), time="py")
    lo = np.where(ev > 0, stats.chi2.ppf(0.025, 2 * np.maximum(ev, 1)) / 2, 0) / t
    hi = stats.chi2.ppf(0.975, 2 * ev + 2) / 2 / t
    np.testing.assert_allclose(r.studies["ci_low"], lo, rtol=1e-10)
    np.testing.assert_allclose(r.studies["ci_high"], hi, rtol=1e-10)


def test_weighted_least_squares_agrees_with_statsmodels_wls() -> None:
    # fit_rma writes WLS out (speed, see its comment); statsmodels' WLS with a fixed scale
    # gives the same coefficients and (X'WX)^-1, and with the default scale the classical
    # Egger test of regtest(model="lm") (which uses statsmodels)
    from statsmodels.regression.linear_model import WLS

    from review.meta import regtest
    from review.meta.uni import fit_rma

    res = _pool(method="REML")
    yi = res.studies["yi"].to_numpy()
    vi = res.studies["vi"].to_numpy()
    X = np.column_stack([np.ones(len(yi)), NI])
    fit = fit_rma(yi, vi, X, method="REML")
    ref = WLS(yi, X, weights=1 / (vi + fit.tau2)).fit(cov_type="fixed scale")
    np.testing.assert_allclose(fit.beta, ref.params, rtol=1e-10)
    np.testing.assert_allclose(fit.se, ref.bse, rtol=1e-10)
    r = regtest(res, predictor="sei", model="lm")
    ols = WLS(yi, np.column_stack([np.ones(len(yi)), np.sqrt(vi)]), weights=1 / vi).fit()
    assert r.zval == pytest.approx(ols.tvalues[1], rel=1e-12)
    assert r.df == ols.df_resid


def test_wilson_and_agresti_coull_agree_with_statsmodels() -> None:
    # the R meta study intervals "WS" and "AC" are statsmodels' "wilson" and
    # "agresti_coull" (meta clips AC at 0 and 1, as does statsmodels)
    from review.meta.escalc import study_intervals

    for code, sm in (("WS", "wilson"), ("AC", "agresti_coull")):
        _, lo, hi = study_intervals("proportion", XI, NI, 0.95, code)
        slo, shi = proportion_confint(XI, NI, alpha=0.05, method=sm)
        np.testing.assert_allclose(lo, slo, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(hi, shi, rtol=1e-12, atol=1e-15)
