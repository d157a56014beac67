"""Edge cases: zero events, events = n, k = 1 and 2, no heterogeneity, failures reported
plainly (after metafor's ``test_misc_handling_of_edge_cases_due_to_zeros.r``)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from review.errors import ConvergenceError, InputError
from review.meta import (
    confint_tau2,
    cumulative,
    influence,
    leave_one_out,
    pool_proportions,
    pool_rates,
    regtest,
)


def _q(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **k)


def test_zero_events_are_corrected_and_reported() -> None:
    df = pd.DataFrame({"events": [0, 2, 0, 5], "n": [20, 40, 25, 50], "id": list("abcd")})
    with pytest.warns(UserWarning, match="continuity correction"):
        res = pool_proportions(df, label="id")
    assert res.studies["corrected"].tolist() == [True, False, True, False]
    assert res.data_report["status"].tolist() == ["corrected", "used", "corrected", "used"]
    assert any("a, c" in n for n in res.notes)
    # the corrected logit uses (0 + 0.5) / (20 + 1)
    assert res.studies["yi"].iloc[0] == pytest.approx(math.log(0.5 / 20.5))
    # exact CI on the raw data: lower bound 0
    assert res.studies["ci_low"].iloc[0] == 0.0


def test_events_equal_n_corrected_for_plo_not_for_pft() -> None:
    df = pd.DataFrame({"events": [10, 7, 12], "n": [10, 9, 15]})
    res = _q(pool_proportions, df, measure="PLO")
    assert res.studies["corrected"].tolist() == [True, False, False]
    res = _q(pool_proportions, df, measure="PFT")
    assert not res.studies["corrected"].any()  # escalc: add = 0 for PFT
    assert 0 <= res.estimate <= 1 and res.ci_high <= 1


def test_to_none_drops_the_unusable_studies_and_says_so() -> None:
    df = pd.DataFrame({"events": [0, 2, 3, 5], "n": [20, 40, 25, 50]})
    with pytest.warns(UserWarning, match="dropped"):
        res = pool_proportions(df, to="none")
    assert res.k == 3
    assert res.data_report["status"].tolist() == ["dropped", "used", "used", "used"]


def test_all_zero_but_one() -> None:
    df = pd.DataFrame({"events": [0, 0, 0, 0, 3], "n": [25, 30, 40, 22, 60]})
    for measure in ("PR", "PLO", "PAS", "PFT"):
        res = _q(pool_proportions, df, measure=measure, method="REML")
        assert res.k == 5
        assert math.isfinite(res.estimate)


def test_k1_fixed_effect_allowed_random_effects_refused() -> None:
    df = pd.DataFrame({"events": [3], "n": [30]})
    res = pool_proportions(df, method="FE")
    assert res.k == 1 and res.q == 0 and res.i2 == 0
    with pytest.raises(InputError, match="at least 2 studies") as e:
        pool_proportions(df, method="REML")
    assert e.value.column == "events" and e.value.row == 0


def test_k2_works_and_knha_has_one_df() -> None:
    df = pd.DataFrame({"events": [4, 9], "n": [30, 55]})
    res = pool_proportions(df, test="knha")
    assert res.k == 2 and res.link.df == 1
    loo = leave_one_out(res)
    assert len(loo.table) == 2 and loo.table["tau2"].eq(0).all()


def test_identical_studies_give_tau2_zero_and_no_negative_weights() -> None:
    df = pd.DataFrame({"events": [10] * 5, "n": [100] * 5})
    for method in ("DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB"):
        res = pool_proportions(df, method=method)
        assert res.tau2 == 0 and res.i2 == 0
        assert (res.studies["weight"] > 0).all()
    # Q-profile: the whole interval is below 0 -> [0, 0] with a note
    res = pool_proportions(df, method="DL")
    ci = confint_tau2(res)
    assert ci.tau2_low == 0 and ci.tau2_high == 0 and ci.notes


def test_knha_with_zero_residual_sum_of_squares_matches_metafor() -> None:
    # metafor: s2w = 0 when the weighted RSS is below machine epsilon (zero-width CI)
    df = pd.DataFrame({"events": [10] * 3, "n": [100] * 3})
    res = pool_proportions(df, test="knha")
    assert res.link.se == 0 and res.ci_low == res.ci_high


def test_non_convergence_is_an_error_not_a_number(monkeypatch) -> None:
    import review.meta.tau2 as t2

    monkeypatch.setattr(t2, "TAU2_MAXITER", 0)
    df = pd.DataFrame({"events": [2, 15, 4, 30, 9], "n": [50, 60, 45, 80, 70]})
    with pytest.raises(ConvergenceError, match="did not converge"):
        pool_proportions(df, method="REML")


def test_leave_one_out_records_failed_refits(monkeypatch) -> None:
    df = pd.DataFrame({"events": [2, 15, 4, 30, 9], "n": [50, 60, 45, 80, 70]})
    res = pool_proportions(df, method="REML")
    import review.meta.tau2 as t2

    monkeypatch.setattr(t2, "TAU2_MAXITER", 0)
    loo = leave_one_out(res)
    assert not loo.table["converged"].any()
    assert loo.table["estimate"].isna().all()
    assert len(loo.notes) == 5


def test_rates_with_a_zero_count() -> None:
    df = pd.DataFrame({"events": [0, 4, 9], "py": [120.0, 300.0, 410.5]})
    with pytest.warns(UserWarning, match="0.5 added to the events"):
        res = pool_rates(df, time="py")
    assert res.studies["corrected"].tolist() == [True, False, False]
    assert res.studies["yi"].iloc[0] == pytest.approx(math.log(0.5 / 120))
    assert res.kind == "rate" and "time" in res.studies.columns


def test_regtest_small_k_note_and_minimum() -> None:
    df = pd.DataFrame({"events": [2, 15, 4, 30, 9], "n": [50, 60, 45, 80, 70]})
    res = pool_proportions(df)
    r = regtest(res)
    assert any("< 10" in n for n in r.notes)
    with pytest.raises(InputError):
        regtest(pool_proportions(df.iloc[:2]))


def test_influence_and_cumulative_on_k3() -> None:
    df = pd.DataFrame({"events": [2, 15, 4], "n": [50, 60, 45]})
    res = pool_proportions(df)
    inf = influence(res)
    assert len(inf.table) == 3
    assert inf.table["weight"].sum() == pytest.approx(100)
    cu = cumulative(res)
    assert cu.table["k"].tolist() == [1, 2, 3]
    assert cu.table["tau2"].iloc[0] == 0
    assert cu.table["link_estimate"].iloc[-1] == pytest.approx(res.link.estimate)


def test_cumulative_order_by_column() -> None:
    df = pd.DataFrame(
        {"events": [2, 15, 4], "n": [50, 60, 45], "year": [2005, 1999, 2001], "id": list("abc")}
    )
    res = pool_proportions(df, label="id")
    cu = cumulative(res, order="year")
    assert cu.table["label"].tolist() == ["b", "c", "a"]
    assert cu.order == "year"


def test_pr_interval_outside_unit_interval_is_noted() -> None:
    df = pd.DataFrame({"events": [1, 0, 2], "n": [10, 8, 12]})
    res = _q(pool_proportions, df, measure="PR")
    if res.ci_low < 0 or res.pi_low < 0:
        assert any("not bounded" in n for n in res.notes)
    assert np.isfinite(res.estimate)
