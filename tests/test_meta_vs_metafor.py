"""Golden tests: review.meta against R metafor 3.8-1.

Reference values come from ``tests/r/make_reference.R`` (committed) and its output
``tests/data/metafor_reference.json`` (committed); CI does not need R. Each case id reads
``<dataset>-<measure>-<method>-<test>``, e.g. ``pritz1997-PFT-DL-knha``; the R call is
stored with each case.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review.errors import ReviewError
from review.meta import confint_tau2, pool_proportions, pool_rates
from review.meta._vocab import METHODS

REF_PATH = Path(__file__).parent / "data" / "metafor_reference.json"
REF = json.loads(REF_PATH.read_text(encoding="utf-8"))
CASES = REF["cases"]

# Tolerances by kind of quantity (relative, with an absolute floor for values near 0).
TOL = {
    # closed forms (FE, DL, HS, SJ, HE and everything computed from a closed-form tau2):
    # same algebra as metafor, differences are floating-point rounding only
    "closed": 1e-6,
    # iterative fits (REML, ML, EB Fisher scoring; PM and Q-profile/PL root finding):
    # we replicate metafor's iteration (same start, same threshold, R's zeroin), so they
    # agree far better than this, but the contract is 1e-4 relative
    "iterative": 1e-4,
}
# absolute floor: tau2 of exactly 0 vs 1e-17, p-values below 1e-12
ABS_FLOOR = 1e-10


def _tol(method: str) -> float:
    return TOL["iterative"] if METHODS[method].iterative else TOL["closed"]


def _frame(name: str) -> pd.DataFrame:
    d = REF["datasets"][name]
    cols = {"label": d["label"], "events": d["events"]}
    if d["kind"] == "proportion":
        cols["n"] = d["n"]
    else:
        cols["time"] = d["time"]
    for extra in ("x", "g"):
        if extra in d:
            cols[extra] = d[extra]
    return pd.DataFrame(cols)


def _fit(case: dict, **kw):
    df = _frame(case["dataset"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case["kind"] == "proportion":
            return pool_proportions(
                df,
                measure=case["measure"],
                method=case["method"],
                test=case["test"],
                level=case["level"],
                label="label",
                **kw,
            )
        return pool_rates(
            df,
            time="time",
            measure=case["measure"],
            method=case["method"],
            test=case["test"],
            level=case["level"],
            label="label",
            **kw,
        )


def _close(actual: float, expected: float | None, rtol: float, what: str) -> None:
    if expected is None:
        assert actual is None or not math.isfinite(actual), f"{what}: expected NA, got {actual}"
        return
    assert actual == pytest.approx(expected, rel=rtol, abs=ABS_FLOOR), what


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_pooled_fit_matches_metafor(case: dict) -> None:
    # R: the call stored in case["call"], then predict(res, transf=..., targs=list(ni=ni))
    if "error" in case:
        with pytest.raises(ReviewError):
            _fit(case)
        return
    v = case["values"]
    res = _fit(case)
    rtol = _tol(case["method"])
    assert res.k == v["k"]
    L = res.link
    pairs = {
        "b": L.estimate,
        "se": L.se,
        "zval": L.zval,
        "pval": L.pval,
        "ci_lb": L.ci_low,
        "ci_ub": L.ci_high,
        "tau2": res.tau2,
        "I2": res.i2,
        "H2": res.h2,
        "QE": res.q,
        "QEp": res.q_pvalue,
        "pi_lb_link": L.pi_low,
        "pi_ub_link": L.pi_high,
        "pred": res.estimate,
        "pred_ci_lb": res.ci_low,
        "pred_ci_ub": res.ci_high,
        "pred_pi_lb": res.pi_low,
        "pred_pi_ub": res.pi_high,
        "logLik": res.fit_stats["logLik"],
        "deviance": res.fit_stats["deviance"],
        "AIC": res.fit_stats["AIC"],
        "BIC": res.fit_stats["BIC"],
        "AICc": res.fit_stats["AICc"],
    }
    if case["method"] != "FE":
        pairs["se_tau2"] = res.tau2_se
    else:
        # metafor's predict() gives no PI for an FE model; ours equals the CI (tau2 = 0),
        # which is what metafor's formula gives (see tests/r/README.md)
        v = dict(v)
        v["pi_lb_link"], v["pi_ub_link"] = v["ci_lb"], v["ci_ub"]
        v["pred_pi_lb"], v["pred_pi_ub"] = v["pred_ci_lb"], v["pred_ci_ub"]
    for key, got in pairs.items():
        _close(got, v[key], rtol, f"{case['id']}: {key}")
    np.testing.assert_allclose(res.studies["yi"], v["yi"], rtol=1e-12, err_msg="yi")
    np.testing.assert_allclose(res.studies["vi"], v["vi"], rtol=1e-12, err_msg="vi")
    np.testing.assert_allclose(res.studies["weight"], v["weights"], rtol=rtol, atol=1e-10)
    if "tau2_qp_lb" in v:
        # R: confint(res, type="QP")$random["tau^2", c("ci.lb", "ci.ub")]
        _close(res.tau2_ci[0], v["tau2_qp_lb"], TOL["iterative"], "tau2 QP lb")
        _close(res.tau2_ci[1], v["tau2_qp_ub"], TOL["iterative"], "tau2 QP ub")


# metafor 3.8-1 gives no prediction interval for FE models, so FE cases are not compared
RILEY_CASES = [c for c in CASES if "values" in c and c["method"] != "FE"]


@pytest.mark.parametrize("case", RILEY_CASES, ids=[c["id"] for c in RILEY_CASES])
def test_riley_prediction_interval_matches_metafor(case: dict) -> None:
    # R: predict(res, pi.type = "riley") (metafor 3.8-1: t with k - 2 df for RE models)
    v = case["values"]
    res = _fit(case, pi_method="riley")
    rtol = _tol(case["method"])
    _close(res.link.pi_low, v["riley_pi_lb_link"], rtol, "riley pi lb (link)")
    _close(res.link.pi_high, v["riley_pi_ub_link"], rtol, "riley pi ub (link)")
    _close(res.pi_low, v["riley_pred_pi_lb"], rtol, "riley pi lb")
    _close(res.pi_high, v["riley_pred_pi_ub"], rtol, "riley pi ub")


PL_CASES = [c for c in CASES if "values" in c and "tau2_pl_lb" in c["values"]]


@pytest.mark.parametrize("case", PL_CASES, ids=[c["id"] for c in PL_CASES])
def test_tau2_intervals_match_metafor(case: dict) -> None:
    # R: confint(res, type = "QP") and confint(res, type = "PL")
    v = case["values"]
    res = _fit(case)
    qp = confint_tau2(res, type="QP")
    _close(qp.tau2_low, v["tau2_qp_lb"], TOL["iterative"], "QP lb")
    _close(qp.tau2_high, v["tau2_qp_ub"], TOL["iterative"], "QP ub")
    _close(qp.i2_low, v["I2_qp_lb"], TOL["iterative"], "I2 QP lb")
    _close(qp.i2_high, v["I2_qp_ub"], TOL["iterative"], "I2 QP ub")
    pl = confint_tau2(res, type="PL")
    _close(pl.tau2_low, v["tau2_pl_lb"], TOL["iterative"], "PL lb")
    _close(pl.tau2_high, v["tau2_pl_ub"], TOL["iterative"], "PL ub")


def test_reference_covers_the_whole_grid() -> None:
    g = REF["grid"]
    expected = set()
    for _kind, sets, measures in (
        ("proportion", g["proportion_datasets"], g["proportion_measures"]),
        ("rate", g["rate_datasets"], g["rate_measures"]),
    ):
        for d in sets:
            for m in measures:
                for me in g["methods"]:
                    for t in g["tests"]:
                        expected.add(f"{d}-{m}-{me}-{t}")
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert set(ids) == expected
    # the grid is the whole vocabulary of the inverse-variance engine
    assert set(g["methods"]) == {m for m in METHODS if m != "GLMM"}
    assert set(g["proportion_measures"]) == {"PR", "PLO", "PAS", "PFT"}
    assert set(g["rate_measures"]) == {"IR", "IRLN"}
    assert set(g["tests"]) == {"z", "knha"}
    # data sets the issue asks for: published, zero-event, rare, k = 2 to 50, rates
    sizes = {len(REF["datasets"][d]["events"]) for d in REF["datasets"]}
    assert min(sizes) == 2 and max(sizes) == 50
    assert "pritz1997" in REF["datasets"]
    assert REF["source"]["metafor"] == "3.8.1"


LEVELS = REF["levels"]


@pytest.mark.parametrize("case", LEVELS, ids=[c["id"] for c in LEVELS])
def test_other_confidence_levels_match_metafor(case: dict) -> None:
    # R: rma(..., level = 90 | 99); predict(res); confint(res)
    v = case["values"]
    res = _fit(case)
    rtol = _tol(case["method"])
    _close(res.link.ci_low, v["ci_lb"], rtol, "ci lb")
    _close(res.link.ci_high, v["ci_ub"], rtol, "ci ub")
    _close(res.link.pi_low, v["pi_lb_link"], rtol, "pi lb")
    _close(res.link.pi_high, v["pi_ub_link"], rtol, "pi ub")
    _close(res.tau2_ci[0], v["tau2_qp_lb"], TOL["iterative"], "QP lb")
    _close(res.tau2_ci[1], v["tau2_qp_ub"], TOL["iterative"], "QP ub")
