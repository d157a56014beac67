"""Golden tests: pooling estimates (yi/vi) against R metafor 3.8-1.

Reference values come from ``tests/r/make_reference_yivi.R`` (committed) and its output
``tests/data/metafor_yivi_reference.json``. Each case pools a data set of studies given as an
estimate with its CI or SE (``km7``), counts beside estimates (``mixed8``) or rates beside
reported rates (``rates7``): the script converts the estimates and runs ``escalc`` on the
counts itself, then ``rma(yi, vi, method=, test=)``. Ids read
``<dataset>-<measure>-<method>-<test>[-<level>]``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review.errors import InputError, OptionError
from review.meta import (
    estimate_yi_vi,
    leave_one_out,
    meta_regression,
    pool_estimates,
    pool_proportions,
    refit,
    study_yi_vi,
    subgroups,
)
from review.meta._vocab import METHODS

REF = json.loads(
    (Path(__file__).parent / "data" / "metafor_yivi_reference.json").read_text(encoding="utf-8")
)
CASES = REF["cases"]
# closed forms: floating-point rounding only; iterative fits: the contract of issue 3
TOL = {"closed": 1e-6, "iterative": 1e-4}
ABS_FLOOR = 1e-10


def _tol(method: str) -> float:
    return TOL["iterative"] if METHODS[method].iterative else TOL["closed"]


def _table(name: str) -> pd.DataFrame:
    d = REF["datasets"][name]
    cols = {k: d[k] for k in ("label", "events", "estimate", "ci_low", "ci_high", "se", "ci_level")}
    cols["n" if d["kind"] == "proportion" else "time"] = d[
        "n" if d["kind"] == "proportion" else "time"
    ]
    return pd.DataFrame(cols).astype({c: float for c in cols if c != "label"})


def _fit(case: dict, **kw) -> tuple:
    d = REF["datasets"][case["dataset"]]
    table = _table(case["dataset"])
    yv = study_yi_vi(table, kind=d["kind"], measure=case["measure"])
    frame = table.join(yv)
    size = "n" if d["kind"] == "proportion" else "time"
    res = pool_estimates(
        frame,
        measure=case["measure"],
        method=case["method"],
        test=case["test"],
        level=case["level"],
        label="label",
        events="events",
        **{size: size},
        **kw,
    )
    return res, yv


def _close(actual: float, expected: float | None, rtol: float, what: str) -> None:
    if expected is None:
        assert actual is None or not math.isfinite(actual), f"{what}: expected NA, got {actual}"
        return
    assert actual == pytest.approx(expected, rel=rtol, abs=ABS_FLOOR), what


CONVERSIONS = REF["conversions"]


@pytest.mark.parametrize("conv", CONVERSIONS, ids=[c["id"] for c in CONVERSIONS])
def test_conversion_to_the_model_scale_matches_the_r_script(conv: dict) -> None:
    # R: yi_vi(d, measure) in make_reference_yivi.R (escalc for counts, the CI-to-SE rule)
    d = REF["datasets"][conv["dataset"]]
    yv = study_yi_vi(_table(conv["dataset"]), kind=d["kind"], measure=conv["measure"])
    np.testing.assert_allclose(yv["yi"], conv["yi"], rtol=1e-12)
    np.testing.assert_allclose(yv["vi"], conv["vi"], rtol=1e-12)
    est = yv["source"] == "estimate"
    assert est.sum() == sum(1 for x in d["events"] if x is None)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_pooled_estimates_match_metafor(case: dict) -> None:
    # R: the call stored in case["call"]
    v = case["values"]
    res, _ = _fit(case)
    rtol = _tol(case["method"])
    assert res.k == v["k"] and res.kind == case["kind"]
    L = res.link
    pairs = {
        "b": L.estimate, "se": L.se, "zval": L.zval, "pval": L.pval, "ci_lb": L.ci_low,
        "ci_ub": L.ci_high, "tau2": res.tau2, "I2": res.i2, "H2": res.h2, "QE": res.q,
        "QEp": res.q_pvalue, "pred": res.estimate, "pred_ci_lb": res.ci_low,
        "pred_ci_ub": res.ci_high, "logLik": res.fit_stats["logLik"], "AIC": res.fit_stats["AIC"],
    }  # fmt: skip
    if case["method"] != "FE":
        pairs |= {
            "se_tau2": res.tau2_se,
            "pi_lb_link": L.pi_low,
            "pi_ub_link": L.pi_high,
            "pred_pi_lb": res.pi_low,
            "pred_pi_ub": res.pi_high,
        }
    for key, got in pairs.items():
        _close(got, v[key], rtol, f"{case['id']}: {key}")
    np.testing.assert_allclose(res.studies["weight"], v["weights"], rtol=rtol, atol=1e-10)
    if "tau2_qp_lb" in v:
        # R: confint(res, type="QP")
        _close(res.tau2_ci[0], v["tau2_qp_lb"], TOL["iterative"], "tau2 QP lb")
        _close(res.tau2_ci[1], v["tau2_qp_ub"], TOL["iterative"], "tau2 QP ub")


RILEY = [c for c in CASES if c["method"] != "FE"]


@pytest.mark.parametrize("case", RILEY, ids=[c["id"] for c in RILEY])
def test_riley_prediction_interval_matches_metafor(case: dict) -> None:
    # R: predict(res, pi.type = "riley", transf = ...)
    v = case["values"]
    res, _ = _fit(case, pi_method="riley")
    rtol = _tol(case["method"])
    _close(res.pi_low, v["riley_pred_pi_lb"], rtol, "riley pi lb")
    _close(res.pi_high, v["riley_pred_pi_ub"], rtol, "riley pi ub")


def test_reference_covers_the_grid() -> None:
    g = REF["grid"]
    expected = {
        f"{d}-{m}-{me}-{t}"
        for d, measures in g["datasets"].items()
        for m in measures
        for me in g["methods"]
        for t in g["tests"]
    }
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    assert expected <= set(ids) and len(set(ids) - expected) == 4  # the level 90/99 cases
    assert set(g["methods"]) == {m for m in METHODS if m != "GLMM"}
    assert set(g["tests"]) == {"z", "knha"}
    assert {m for ms in g["datasets"].values() for m in ms} == {"PR", "PLO", "PAS", "IR", "IRLN"}
    assert REF["source"]["metafor"] == "3.8.1"


def test_count_studies_alone_give_what_pool_proportions_gives() -> None:
    # yi/vi from escalc, pooled by pool_estimates == pool_proportions on the counts
    t = _table("mixed8").iloc[:5]
    yv = study_yi_vi(t, kind="proportion", measure="PLO")
    a = pool_estimates(
        t.join(yv), measure="PLO", method="REML", label="label", events="events", n="n"
    )
    with pytest.warns(UserWarning, match="continuity correction"):
        b = pool_proportions(t, events="events", n="n", measure="PLO", method="REML", label="label")
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    assert a.tau2 == pytest.approx(b.tau2, rel=1e-12)
    # count studies keep their exact intervals
    np.testing.assert_allclose(a.studies["ci_low"], b.studies["ci_low"], rtol=1e-12)


def test_results_from_yi_vi_refit_subgroup_regress_and_leave_one_out() -> None:
    t = _table("mixed8")
    t["group"] = ["a", "b", "a", "b", "a", "b", "a", "b"]
    t["x"] = [1.0, 2, 3, 4, 5, 6, 7, 8]
    frame = t.join(study_yi_vi(t, kind="proportion", measure="PLO"))
    res = pool_estimates(frame, measure="PLO", method="REML", label="label", events="events", n="n")
    assert res.options["input"] == "yi_vi"
    fe = refit(res, method="FE")
    assert fe.method == "FE" and fe.k == 8
    sub = subgroups(res, by="group")
    assert set(sub.groups) == {"a", "b"} and math.isfinite(sub.qm)
    # the common-tau2 test is rma(yi, vi, mods = ~ factor(group)): here done by hand
    mr = meta_regression(res, mods="group")
    assert mr.qm == pytest.approx(sub.qm, rel=1e-10)
    loo = leave_one_out(res)
    assert len(loo.table) == 8 and loo.table["converged"].all()
    sub_fit = refit(res, res.data.iloc[:7])
    assert loo.table["estimate"].iloc[7] == pytest.approx(sub_fit.estimate, rel=1e-10)


def test_refusals_are_clear() -> None:
    df = pd.DataFrame({"yi": [-2.0, -3.0], "vi": [0.1, 0.2]})
    with pytest.raises(OptionError, match="GLMM needs counts"):
        pool_estimates(df, measure="PLO", method="GLMM")
    with pytest.raises(OptionError, match="PFT"):
        pool_estimates(df, measure="PFT")
    with pytest.raises(InputError, match="not positive") as info:
        pool_estimates(df.assign(vi=[0.1, 0.0]), measure="PLO")
    assert info.value.row == 1 and info.value.column == "vi"
    with pytest.raises(InputError, match="at least 2"):
        pool_estimates(df.iloc[:1], measure="PLO")
    with pytest.raises(InputError, match="PLO scale"):
        estimate_yi_vi([0.0], measure="PLO", ci_low=[0.0], ci_high=[0.01])
    with pytest.raises(InputError, match="interval or its standard error"):
        estimate_yi_vi([0.1], measure="PLO")
    with pytest.raises(OptionError, match="PFT"):
        estimate_yi_vi([0.1], measure="PFT", se=[0.01])


def test_peters_test_needs_sample_sizes() -> None:
    from review.meta import regtest

    t = _table("km7")
    res = pool_estimates(t.join(study_yi_vi(t, kind="proportion", measure="PLO")), measure="PLO")
    with pytest.raises(InputError, match="Egger"):
        regtest(res, predictor="ninv")
    assert math.isfinite(regtest(res, predictor="sei").pval)


def test_percent_and_rate_multipliers() -> None:
    a = estimate_yi_vi([4.2], measure="PLO", ci_low=[3.1], ci_high=[5.6], per=100)
    b = estimate_yi_vi([0.042], measure="PLO", ci_low=[0.031], ci_high=[0.056])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-14)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-12)
