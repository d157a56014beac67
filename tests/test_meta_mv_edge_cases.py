"""Edge cases of the multilevel model, the GLMM meta-regression, predict and permutest.

Small k, one study, separation in a GLMM, tiny permutation sets whose p-values follow by
hand, and properties that hold for any data (hypothesis).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.errors import ConvergenceError, InputError
from review.meta import (
    meta_regression,
    permutest,
    pool_multilevel,
    pool_proportions,
    pool_rates,
    predict,
)


def test_two_strata_of_one_study_fit_with_the_study_component_fixed() -> None:
    df = pd.DataFrame({"s": ["A", "A"], "events": [3, 9], "n": [50, 60]})
    r = pool_multilevel(df, cluster="s")
    assert r.k_text == "k = 1 study, 2 strata"
    assert r.sigma2_fixed == (True, False) and r.sigma2_study == 0.0
    assert 0 < r.estimate < 1 and r.ci_low < r.estimate < r.ci_high


def test_contain_degrees_of_freedom_count_studies() -> None:
    df = pd.DataFrame(
        {
            "s": list("AABBCCD"),
            "events": [4, 9, 20, 12, 10, 3, 8],
            "n": [120, 150, 80, 95, 210, 160, 140],
        }
    )
    r = pool_multilevel(df, cluster="s", dfs="contain", sigma2_ci=False)
    assert r.test == "t" and r.link.df == 3.0  # 4 studies - 1 (metafor dfs="contain")
    t = pool_multilevel(df, cluster="s", test="t", sigma2_ci=False)
    assert t.link.df == 6.0  # 7 strata - 1 (dfs="residual")
    assert r.link.ci_low < t.link.ci_low  # fewer df: wider


def test_sign_flips_of_two_studies_give_one_half() -> None:
    # 4 sign patterns; ++ and -- have the observed |z|, +- and -+ a smaller one
    r = pool_proportions(pd.DataFrame({"events": [3, 5], "n": [50, 60]}), method="REML")
    pt = permutest(r, progress=False)
    assert pt.exact and pt.exact_iter == 4 and pt.qm_pvalue_perm == 0.5
    assert pt.coefficients["pval_perm"].iloc[0] == 0.5


def test_three_ordered_studies_give_one_third() -> None:
    # 3! = 6 orderings of x; the observed one and its reverse have the largest |z|
    df = pd.DataFrame({"events": [3, 8, 20], "n": [100, 100, 100], "x": [1.0, 2, 3]})
    m = meta_regression(pool_proportions(df, method="DL"), "x")
    pt = permutest(m, progress=False)
    assert pt.exact_iter == 6 and pt.qm_pvalue_perm == pytest.approx(1 / 3)


def test_glmm_regression_warns_about_separation() -> None:
    df = pd.DataFrame(
        {"events": [3, 5, 2, 0, 0, 0], "n": [50, 60, 40, 30, 45, 50], "g": list("aaabbb")}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = pool_proportions(df, method="GLMM")
    with pytest.warns(UserWarning, match="separation"):
        m = meta_regression(res, mods="g")
    assert any("no finite maximum-likelihood estimate" in n for n in m.notes)


def test_glmm_regression_needs_more_studies_than_coefficients_and_some_events() -> None:
    df = pd.DataFrame({"events": [3, 5], "time": [100.0, 120.0], "x": [1.0, 2.0]})
    res = pool_rates(df, time="time", method="GLMM")
    with pytest.raises(InputError, match="needs k > 2"):
        meta_regression(res, mods="x")
    zero = pd.DataFrame({"events": [0, 0, 0], "time": [100.0, 120.0, 90.0], "x": [1.0, 2, 3]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(ConvergenceError, match="zero events"):
            pool_rates(zero, time="time", method="GLMM")


def test_predict_of_a_glmm_pooled_result_is_its_pooled_value() -> None:
    df = pd.DataFrame({"events": [0, 1, 0, 3, 2, 12], "n": [15, 22, 40, 61, 80, 350]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = pool_proportions(df, method="GLMM")
    p = predict(res)
    row = p.table.iloc[0]
    assert row["estimate"] == pytest.approx(res.estimate)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((res.ci_low, res.ci_high))
    assert (row["pi_low"], row["pi_high"]) == pytest.approx((res.pi_low, res.pi_high))


strata = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(31, 400)),
    min_size=3,
    max_size=9,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strata)
def test_any_strata_give_a_bounded_estimate_and_an_order_free_fit(rows: list) -> None:
    df = pd.DataFrame(rows, columns=["s", "events", "n"])
    df["s"] = "S" + df["s"].astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # continuity corrections
        try:
            a = pool_multilevel(df, cluster="s", sigma2_ci=False)
        except ConvergenceError:  # pragma: no cover - reported, never silent
            return
        b = pool_multilevel(df.iloc[::-1], cluster="s", sigma2_ci=False)
    for v in (a.estimate, a.ci_low, a.ci_high, a.pi_low, a.pi_high):
        assert 0.0 <= v <= 1.0
    assert a.ci_low <= a.estimate <= a.ci_high and a.pi_low <= a.ci_low
    assert a.sigma2_study >= 0 and a.sigma2_stratum >= 0 and 0 <= a.i2 <= 100
    assert math.isclose(a.i2, a.i2_study + a.i2_stratum, abs_tol=1e-9)
    assert b.estimate == pytest.approx(a.estimate, rel=1e-6, abs=1e-9)
    assert np.isclose(a.studies["weight"].sum(), 100.0)
