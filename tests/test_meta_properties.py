"""Property tests (hypothesis): what must hold for any data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.meta import pool_proportions, pool_rates
from review.meta._vocab import MEASURES, ipft, pft

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def proportion_studies(draw, min_k: int = 2, max_k: int = 12):
    k = draw(st.integers(min_k, max_k))
    n = draw(st.lists(st.integers(1, 400), min_size=k, max_size=k))
    x = [draw(st.integers(0, ni)) for ni in n]
    return pd.DataFrame({"events": x, "n": n})


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pool_proportions(df, **kw)


@SETTINGS
@given(
    df=proportion_studies(min_k=3),
    perm_seed=st.integers(0, 2**16),
    measure=st.sampled_from(["PR", "PLO", "PAS", "PFT"]),
    method=st.sampled_from(["FE", "DL", "REML", "PM", "HE", "SJ"]),
)
def test_permuting_studies_leaves_the_pool_unchanged(df, perm_seed, measure, method) -> None:
    try:
        a = _fit(df, measure=measure, method=method)
    except Exception as e:  # a data set the estimator refuses is refused in any order
        with pytest.raises(type(e)):
            _fit(df.sample(frac=1, random_state=perm_seed), measure=measure, method=method)
        return
    b = _fit(df.sample(frac=1, random_state=perm_seed).reset_index(drop=True),
             measure=measure, method=method)  # fmt: skip
    for f in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2", "q"):
        assert getattr(b, f) == pytest.approx(getattr(a, f), rel=1e-6, abs=1e-9), f


@SETTINGS
@given(
    df=proportion_studies(),
    measure=st.sampled_from(["PLO", "PAS", "PFT"]),
    method=st.sampled_from(["DL", "REML", "FE"]),
    test=st.sampled_from(["z", "knha"]),
)
def test_bounded_back_transforms_stay_in_unit_interval(df, measure, method, test) -> None:
    res = _fit(df, measure=measure, method=method, test=test)
    for v in (res.estimate, res.ci_low, res.ci_high, res.pi_low, res.pi_high):
        assert np.isnan(v) or 0.0 <= v <= 1.0
    assert res.ci_low <= res.estimate <= res.ci_high
    assert (res.studies["ci_low"] <= res.studies["estimate"]).all()
    assert (res.studies["estimate"] <= res.studies["ci_high"]).all()


@SETTINGS
@given(y=st.floats(-50, 50), n=st.floats(1, 1e5))
def test_back_transforms_map_any_real_into_unit_interval(y, n) -> None:
    for code in ("PLO", "PAS"):
        v = float(MEASURES[code].back_transform(np.array([y]))[0])
        assert 0.0 <= v <= 1.0
    v = float(ipft(np.array([y]), n)[0])
    assert 0.0 <= v <= 1.0


@SETTINGS
@given(p=st.floats(0, 1), n=st.integers(1, 10_000))
def test_freeman_tukey_inverse_round_trips(p, n) -> None:
    assert float(ipft(pft(p, n), n)) == pytest.approx(p, abs=1e-9)


@SETTINGS
@given(df=proportion_studies(min_k=2), method=st.sampled_from(["DL", "REML", "ML", "EB"]))
def test_heterogeneity_statistics_are_in_range(df, method) -> None:
    res = _fit(df, method=method)
    assert res.tau2 >= 0
    assert 0 <= res.i2 < 100
    assert res.h2 >= 1
    assert 0 <= res.q_pvalue <= 1
    assert res.studies["weight"].sum() == pytest.approx(100)
    lo, hi = res.tau2_ci
    # (a DL or HE point estimate need not lie inside the Q-profile interval; REML/ML
    # estimates usually do, but that is not a theorem either)
    assert 0 <= lo <= hi
    # the pooled link estimate is a weighted mean of the study outcomes
    y = res.studies["yi"]
    assert y.min() - 1e-9 <= res.link.estimate <= y.max() + 1e-9


@SETTINGS
@given(
    k=st.integers(2, 10),
    data=st.data(),
    scale=st.floats(0.1, 1000.0),
)
def test_rates_scale_with_the_time_unit(k, data, scale) -> None:
    ev = data.draw(st.lists(st.integers(0, 200), min_size=k, max_size=k))
    t = data.draw(st.lists(st.floats(1.0, 5000.0), min_size=k, max_size=k))
    df = pd.DataFrame({"events": ev, "t": t})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = pool_rates(df, time="t")
        b = pool_rates(df.assign(t=df["t"] * scale), time="t")
    # events per unit of time: changing the unit rescales the rate, not the inference
    assert b.estimate * scale == pytest.approx(a.estimate, rel=1e-8)
    assert b.tau2 == pytest.approx(a.tau2, rel=1e-6, abs=1e-12)
