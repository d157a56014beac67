"""GLMM behaviour at the edges: zero and all-event studies, tau^2 = 0, k = 1 and 2, bad
input and options, non-convergence, refits (leave-one-out, influence), display."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from review.errors import ConvergenceError, InputError, OptionError
from review.meta import _aghq
from review.meta import glmm as glmm_mod
from review.meta.glmm import (
    GLMMResult,
    influence_glmm,
    leave_one_out_glmm,
    pool_glmm,
    profile_tau2_ci,
)

A1 = pd.DataFrame(
    {
        "study": [f"S{i}" for i in range(1, 9)],
        "events": [0, 1, 0, 3, 2, 12, 5, 30],
        "n": [15, 22, 40, 61, 80, 350, 120, 1500],
    }
)
RATES = pd.DataFrame(
    {"events": [0, 2, 1, 0, 5, 3, 0, 9], "py": [120.5, 300, 80, 45.2, 900, 410, 60, 1500]}
)
PRITZ = pd.DataFrame(
    {
        "events": [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6],
        "n": [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10],
    }
)


def fit(df, **kw) -> GLMMResult:
    kw.setdefault("family", "binomial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pool_glmm(df, **kw)


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_all_zero_events_has_no_finite_estimate(family: str) -> None:
    df = pd.DataFrame({"events": [0, 0, 0], "n": [10, 20, 30], "time": [5.0, 8.0, 9.0]})
    with pytest.raises(ConvergenceError, match="every study has zero events"):
        pool_glmm(df, family=family)


def test_all_events_equal_n_has_no_finite_estimate() -> None:
    df = pd.DataFrame({"events": [10, 20, 30], "n": [10, 20, 30]})
    with pytest.raises(ConvergenceError, match="events = n"):
        pool_glmm(df, family="binomial")


def test_k1_refused_naming_row_and_column() -> None:
    with pytest.raises(InputError, match="at least 2 studies") as e:
        pool_glmm(pd.DataFrame({"events": [3], "n": [10]}), family="binomial")
    assert e.value.column == "events" and e.value.row == 0


def test_bad_counts_name_row_and_column() -> None:
    df = pd.DataFrame({"events": [3, 12], "n": [10, 11]}, index=["a", "b"])
    with pytest.raises(InputError) as e:
        pool_glmm(df, family="binomial")
    assert (e.value.row, e.value.column) == ("b", "events")
    df = pd.DataFrame({"events": [3, 2], "py": [10.0, -1.0]})
    with pytest.raises(InputError) as e:
        pool_glmm(df, family="poisson", time="py")
    assert (e.value.row, e.value.column) == (1, "py")


@pytest.mark.parametrize(
    "kw, word",
    [
        ({"family": "logit"}, "family"),
        ({"test": "t"}, "test"),
        ({"test": "hksj"}, "test"),
        ({"pi_method": "hts"}, "pi_method"),
        ({"level": 95}, "level"),
        ({"level": True}, "level"),
    ],
)
def test_unknown_options_list_the_valid_ones(kw, word) -> None:
    kw = {"family": "binomial", **kw}
    with pytest.raises(OptionError, match=word) as e:
        pool_glmm(A1, **kw)
    if word in ("family", "test"):
        assert "must be one of" in str(e.value)


# ----------------------------------------------------------- zero-event studies
def test_zero_event_studies_enter_uncorrected() -> None:
    res = fit(A1, label="study")
    # the likelihood uses raw counts: adding 0.5 to the zero cells changes the fit
    d_raw = _aghq.make_data("binomial", A1["events"], A1["n"])
    assert res.fit_stats["logLik"] == pytest.approx(_aghq.fit_ml(d_raw).ll, rel=1e-10)
    s = res.studies
    assert list(s["corrected"]) == [True, False, True, False, False, False, False, False]
    assert s.loc[0, "yi"] == pytest.approx(math.log(0.5 / 15.5))  # plotted yi only
    assert s.loc[0, "estimate"] == 0.0 and s.loc[0, "ci_low"] == 0.0
    assert any("GLMM uses the raw counts" in n for n in res.notes)
    assert set(res.data_report["status"]) == {"used", "corrected"}


def test_correction_is_warned() -> None:
    with pytest.warns(UserWarning, match="raw counts"):
        pool_glmm(A1, family="binomial", tau2_ci=False)


def test_all_event_study_is_kept() -> None:
    res = fit(PRITZ)
    assert res.k == 14
    assert res.studies.loc[4, "estimate"] == 1.0 and res.studies.loc[4, "ci_high"] == 1.0


def test_exact_study_intervals() -> None:
    res = fit(RATES, family="poisson", time="py")
    s = res.studies
    # exact Poisson (Garwood) for 2 events in 300 person-years
    lo = stats.chi2.ppf(0.025, 4) / 2 / 300
    hi = stats.chi2.ppf(0.975, 6) / 2 / 300
    assert s.loc[1, "ci_low"] == pytest.approx(lo) and s.loc[1, "ci_high"] == pytest.approx(hi)
    assert list(s.columns[:3]) == ["label", "events", "time"]


# --------------------------------------------------------------- tau^2 boundary
def test_tau2_zero_boundary_is_exactly_the_glm() -> None:
    df = pd.DataFrame({"events": [5, 11, 14, 20], "n": [100, 200, 300, 400]})
    res = fit(df)
    assert res.tau2 == 0.0 and res.i2 == 0.0 and res.h2 == 1.0
    p = df["events"].sum() / df["n"].sum()
    assert res.link.estimate == pytest.approx(math.log(p / (1 - p)), rel=1e-12)
    assert res.link.se == pytest.approx(1 / math.sqrt(df["n"].sum() * p * (1 - p)), rel=1e-7)
    assert any("boundary" in n for n in res.notes)
    assert res.tau2_ci[0] == 0.0 and res.tau2_ci[1] > 0
    # prediction interval = confidence interval when tau2 = 0
    assert res.pi_low == pytest.approx(res.ci_low) and res.pi_high == pytest.approx(res.ci_high)


def test_k2_fits() -> None:
    res = fit(pd.DataFrame({"events": [3, 10], "n": [40, 60]}))
    assert res.k == 2 and res.q_df == 1 and res.converged


# ------------------------------------------------------------------- inference
def test_knha_is_metafor_test_t() -> None:
    z = fit(PRITZ, tau2_ci=False)
    t = fit(PRITZ, test="knha", tau2_ci=False)
    assert t.link.se == z.link.se and t.link.df == 13
    q = stats.t.isf(0.025, 13)
    assert t.link.ci_high - t.link.estimate == pytest.approx(q * t.link.se)
    assert t.link.pi_high - t.link.estimate == pytest.approx(q * t.link.pi_se)
    assert any("rma.glmm(test='t')" in n for n in t.notes)


def test_riley_prediction_interval() -> None:
    res = fit(PRITZ, pi_method="riley", tau2_ci=False)
    q = stats.t.isf(0.025, 12)
    assert res.link.pi_df == 12
    assert res.link.pi_high == pytest.approx(res.link.estimate + q * res.link.pi_se)
    assert res.pi_high == pytest.approx(1 / (1 + math.exp(-res.link.pi_high)))
    k2 = fit(pd.DataFrame({"events": [3, 10], "n": [40, 60]}), pi_method="riley")
    assert math.isnan(k2.pi_low) and any("k >= 3" in n for n in k2.notes)


# ---------------------------------------------------------------- convergence
@pytest.mark.filterwarnings("ignore:continuity correction")
def test_non_convergence_is_flagged_never_silent(monkeypatch) -> None:
    real = _aghq.fit_ml
    monkeypatch.setattr(glmm_mod._aghq, "fit_ml", lambda d, **kw: real(d, maxit=1, **kw))
    with pytest.warns(UserWarning, match="did not converge"):
        res = pool_glmm(PRITZ, family="binomial")
    assert res.converged is False
    assert any("did not converge" in n for n in res.notes)
    assert "NOT CONVERGED" in repr(res) and "did not converge" in res.summary()
    assert math.isnan(res.tau2_ci[0])  # no profile interval around a non-optimum
    with pytest.raises(ConvergenceError):
        profile_tau2_ci(res)


def test_converged_fit_has_zero_gradient() -> None:
    res = fit(PRITZ, tau2_ci=False)
    d, f = res._core
    g = _aghq.evaluate(d, np.append(f.beta, f.tau)).grad
    assert np.max(np.abs(g)) < 1e-6


def test_analytic_gradient_matches_finite_differences() -> None:
    d = _aghq.make_data("poisson", RATES["events"], RATES["py"])
    th = np.array([-4.0, 0.7])
    g = _aghq.evaluate(d, th).grad
    h = 1e-6
    num = [
        (_aghq.evaluate(d, th + e * h).ll - _aghq.evaluate(d, th - e * h).ll) / (2 * h)
        for e in np.eye(2)
    ]
    assert g == pytest.approx(num, rel=1e-6)


def test_quadrature_is_exact_for_a_gaussian_integrand() -> None:
    # 7-point AGHQ with tau -> 0 reduces to the GLM likelihood exactly
    d = _aghq.make_data("binomial", A1["events"], A1["n"])
    b, ll, _ = _aghq.fit_glm(d)
    assert _aghq.evaluate(d, np.append(b, 1e-9)).ll == pytest.approx(ll, abs=1e-9)


# ------------------------------------------------------------------ invariance
@settings(max_examples=15, deadline=None)
@given(st.permutations(list(range(14))))
def test_permuting_studies_leaves_the_fit_unchanged(perm) -> None:
    base = fit(PRITZ, tau2_ci=False)
    res = fit(PRITZ.iloc[list(perm)].reset_index(drop=True), tau2_ci=False)
    assert res.link.estimate == pytest.approx(base.link.estimate, rel=1e-8)
    assert res.tau2 == pytest.approx(base.tau2, rel=1e-7)
    assert res.q == pytest.approx(base.q, rel=1e-9)


def test_canonical_frame_refit_keeps_labels_and_numbers() -> None:
    res = fit(A1, label="study")
    again = fit(res.data, tau2_ci=False)  # canonical frame: 'label' column is used
    assert list(again.studies["label"]) == list(A1["study"])
    assert again.link.estimate == pytest.approx(res.link.estimate, rel=1e-10)
    assert res.options == {
        "measure": "PLO",
        "method": "GLMM",
        "test": "z",
        "level": 0.95,
        "pi_method": "metafor",
        "add": 0.5,
        "to": "only0",
    }


# ------------------------------------------------------ leave-one-out, influence
def test_leave_one_out_equals_cold_refits() -> None:
    res = fit(PRITZ, tau2_ci=False)
    loo = leave_one_out_glmm(res)
    assert len(loo.table) == 14 and loo.table["converged"].all()
    for i in (0, 4, 13):
        cold = fit(PRITZ.drop(index=i).reset_index(drop=True), tau2_ci=False)
        row = loo.table.iloc[i]
        assert row["link_estimate"] == pytest.approx(cold.link.estimate, rel=1e-7)
        assert row["tau2"] == pytest.approx(cold.tau2, rel=1e-6, abs=1e-12)
        assert row["se"] == pytest.approx(cold.link.se, rel=1e-6)
        assert row["q"] == pytest.approx(cold.q, rel=1e-9)
    assert "Leave-one-out" in loo.summary()


def test_leave_one_out_when_a_refit_has_no_estimate() -> None:
    df = pd.DataFrame({"events": [0, 0, 4], "n": [10, 20, 30]})
    loo = leave_one_out_glmm(fit(df, tau2_ci=False))
    assert list(loo.table["converged"]) == [True, True, False]
    assert math.isnan(loo.table.loc[2, "estimate"])
    assert any("no finite GLMM estimate" in n for n in loo.notes)


def test_influence_from_refits() -> None:
    res = fit(PRITZ, tau2_ci=False)
    inf = influence_glmm(res)
    loo = leave_one_out_glmm(res)
    t = inf.table
    dfbs = (res.link.estimate - loo.table["link_estimate"]) / loo.table["se"]
    assert t["dfbs"].to_numpy() == pytest.approx(dfbs.to_numpy(), rel=1e-9)
    assert t["tau2_del"].to_numpy() == pytest.approx(loo.table["tau2"].to_numpy(), rel=1e-9)
    assert t["hat"].sum() == pytest.approx(1.0)
    assert t["influential"].dtype == bool
    assert "Influence" in inf.summary()


# ---------------------------------------------------------------------- display
def test_summary_repr_html_and_frame() -> None:
    res = fit(PRITZ)
    text = res.summary()
    assert "Wld(df = 13) = 25.0979" in text and "LRT(df = 13) = 42.2324" in text
    assert "profile likelihood" in text and "tau^2 estimator: ML, GLMM" in text
    assert res._repr_html_().startswith("<div>")
    assert repr(res).startswith("GLMMPoolResult(PLO/GLMM/z, k=14")
    frame = res.to_frame()
    assert len(frame) == 16 and set(frame["kind"]) == {"study", "random", "fixed"}
    ci = profile_tau2_ci(res, level=0.9)
    assert ci.method == "profile likelihood" and ci.tau2_low > res.tau2_ci[0]


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["binomial", "poisson"]),
    st.integers(2, 30),
    st.floats(-6, 0),
    st.floats(0, 2),
    st.integers(0, 2**31 - 1),
)
def test_random_data_sets_converge_to_a_stationary_point(family, k, mu, tau, seed) -> None:
    rng = np.random.default_rng(seed)
    size = rng.integers(5, 2000, k).astype(float)
    rate = np.exp(mu + tau * rng.normal(size=k))
    if family == "binomial":
        x = rng.binomial(size.astype(int), rate / (1 + rate)).astype(float)
        df = pd.DataFrame({"events": x, "n": size})
    else:
        x = rng.poisson(size * rate).astype(float)
        df = pd.DataFrame({"events": x, "time": size})
    try:
        res = fit(df, family=family)
    except ConvergenceError:  # only when no finite MLE exists
        assert (x == 0).all() or (family == "binomial" and (x == size).all())
        return
    assert res.converged, res.notes
    d, f = res._core
    if f.tau > 0:
        g = _aghq.evaluate(d, np.append(f.beta, f.tau)).grad
        assert np.max(np.abs(g)) < 1e-5 * max(1.0, abs(f.ll))
    assert np.isfinite(res.link.se) and res.link.se > 0
    lo, hi = res.tau2_ci
    assert lo <= res.tau2 <= hi


def test_profile_interval_fallback_gives_the_same_limits(monkeypatch) -> None:
    res = fit(PRITZ)
    monkeypatch.setattr(glmm_mod._aghq, "profile_limit", lambda *a, **k: (float("nan"), False))
    ci = profile_tau2_ci(res)
    assert ci.tau2_low == pytest.approx(res.tau2_ci[0], rel=1e-8)
    assert ci.tau2_high == pytest.approx(res.tau2_ci[1], rel=1e-8)
    assert ci.notes == ()


def test_mode_search_from_a_cold_start_with_huge_counts() -> None:
    # a study with 4.8 million events and tau ~ 2.6: Newton from u = 0 overshoots into
    # exp() overflow and would then creep down the exponential; the bracketed (rtsafe)
    # search must still land on the mode found along the warm-started path
    x = [1350, 517, 713, 224, 4808163, 96, 23, 82, 2, 230, 40, 13, 12917]
    t = [1447.8, 1127.3, 842.1, 3288.8, 3959.7, 986.3, 4951.8, 2746.6, 3026.8]
    t += [4667.4, 4314.5, 2786.3, 4118.0]
    d = _aghq.make_data("poisson", x, t)
    f = _aghq.fit_ml(d)
    eta0 = d.X @ f.beta + d.offset
    with np.errstate(over="ignore"):
        cold = _aghq._modes(d, eta0, f.tau, None)
    assert cold == pytest.approx(f.modes, abs=1e-9)


def test_meta_core_entry_points_use_this_engine() -> None:
    # the contract with review.meta: pool_proportions / pool_rates(method="GLMM") return
    # this engine's result with its numbers, labels kept; generic LOO dispatches here
    from review.meta import leave_one_out, pool_proportions, pool_rates

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = pool_proportions(A1, events="events", n="n", label="study", method="GLMM")
        rate = pool_rates(RATES, events="events", time="py", method="GLMM", measure="IRLN")
    ours = fit(A1, label="study")
    assert isinstance(res, GLMMResult)
    assert res.link.estimate == pytest.approx(ours.link.estimate, rel=1e-12)
    assert res.tau2_ci == pytest.approx(ours.tau2_ci, rel=1e-10)
    assert list(res.studies["label"]) == list(A1["study"])
    assert rate.family == "poisson" and rate.measure == "IRLN"
    loo = leave_one_out(res)
    assert loo.table["link_estimate"].to_numpy() == pytest.approx(
        leave_one_out_glmm(ours).table["link_estimate"].to_numpy(), rel=1e-12
    )
