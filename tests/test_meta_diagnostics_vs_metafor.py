"""Diagnostics and meta-regression against metafor 3.8-1.

R calls (``tests/r/make_reference.R``, sections "diagnostics" and "moderators"):
``leave1out(res)``, ``influence(res)``, ``cumul(res)``,
``regtest(res, model=, predictor=)`` and ``rma(yi, vi, mods = ~ ..., method=, test=)``.
Tolerances as in ``test_meta_vs_metafor.py``: closed-form estimators 1e-6, iterative 1e-4
(relative).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review.meta import meta_regression, pool_proportions, pool_rates
from review.meta._vocab import METHODS
from review.meta.diagnostics import cumulative, influence, leave_one_out, regtest

REF = json.loads(
    (Path(__file__).parent / "data" / "metafor_reference.json").read_text(encoding="utf-8")
)
DIAG = REF["diagnostics"]
MODS = REF["moderators"]


def _tol(method: str) -> float:
    return 1e-4 if METHODS[method].iterative else 1e-6


def _fit(spec: dict):
    d = REF["datasets"][spec["dataset"]]
    cols = {"label": d["label"], "events": d["events"]}
    cols["n" if d["kind"] == "proportion" else "time"] = d[
        "n" if d["kind"] == "proportion" else "time"
    ]
    for extra in ("x", "g"):
        if extra in d:
            cols[extra] = d[extra]
    df = pd.DataFrame(cols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if d["kind"] == "proportion":
            return pool_proportions(
                df, measure=spec["measure"], method=spec["method"], test=spec["test"], label="label"
            )
        return pool_rates(
            df,
            time="time",
            measure=spec["measure"],
            method=spec["method"],
            test=spec["test"],
            label="label",
        )


def _arr(x) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in x], dtype=float)


@pytest.mark.parametrize("spec", DIAG, ids=[s["id"] for s in DIAG])
def test_leave_one_out_matches_leave1out(spec: dict) -> None:
    # R: leave1out(res)
    res = _fit(spec)
    ref = spec["leave1out"]
    t = leave_one_out(res).table
    rtol = _tol(spec["method"])
    for ours, theirs in [
        ("link_estimate", "estimate"), ("se", "se"), ("zval", "zval"), ("pval", "pval"),
        ("link_ci_low", "ci_lb"), ("link_ci_high", "ci_ub"), ("q", "Q"), ("q_pvalue", "Qp"),
        ("tau2", "tau2"), ("i2", "I2"), ("h2", "H2"),
    ]:  # fmt: skip
        np.testing.assert_allclose(t[ours], _arr(ref[theirs]), rtol=rtol, atol=1e-10, err_msg=ours)


@pytest.mark.parametrize("spec", DIAG, ids=[s["id"] for s in DIAG])
def test_influence_matches_influence_rma_uni(spec: dict) -> None:
    # R: influence(res)$inf and influence(res)$dfbs
    res = _fit(spec)
    ref = spec["influence"]
    t = influence(res).table
    rtol = _tol(spec["method"])
    for ours, theirs in [
        ("rstudent", "rstudent"), ("dffits", "dffits"), ("cook_d", "cook_d"),
        ("cov_r", "cov_r"), ("tau2_del", "tau2_del"), ("qe_del", "QE_del"), ("hat", "hat"),
        ("weight", "weight"), ("dfbs", "dfbs"),
    ]:  # fmt: skip
        np.testing.assert_allclose(t[ours], _arr(ref[theirs]), rtol=rtol, atol=1e-9, err_msg=ours)
    assert t["influential"].tolist() == ref["inf"]


@pytest.mark.parametrize("spec", DIAG, ids=[s["id"] for s in DIAG])
def test_cumulative_matches_cumul(spec: dict) -> None:
    # R: cumul(res)  (input order)
    res = _fit(spec)
    ref = spec["cumul"]
    t = cumulative(res).table
    rtol = _tol(spec["method"])
    for ours, theirs in [
        ("link_estimate", "estimate"), ("tau2", "tau2"), ("i2", "I2"), ("q", "Q"),
    ]:  # fmt: skip
        np.testing.assert_allclose(t[ours], _arr(ref[theirs]), rtol=rtol, atol=1e-10, err_msg=ours)
    # every step, the first (k = 1) included: under knha metafor 3.8-1 falls back to z
    # there ("Setting argument test='z' since k=1") and gives a CI, and so does the engine
    for ours, theirs in [("se", "se"), ("link_ci_low", "ci_lb"), ("link_ci_high", "ci_ub")]:
        np.testing.assert_allclose(
            t[ours].to_numpy(), _arr(ref[theirs]), rtol=rtol, atol=1e-10, err_msg=ours
        )
    assert np.isfinite(t["link_ci_low"].to_numpy()[0]), "step 1 must have a CI"
    if spec["test"] == "knha":
        assert any("since k=1" in n for n in cumulative(res).notes)


REG = [(s, key) for s in DIAG for key in s["regtest"]]


@pytest.mark.parametrize("spec,key", REG, ids=[f"{s['id']}-{k}" for s, k in REG])
def test_regtest_matches_metafor(spec: dict, key: str) -> None:
    # R: regtest(res, model = <model>, predictor = <predictor>)
    res = _fit(spec)
    ref = spec["regtest"][key]
    r = regtest(res, predictor=ref["predictor"], model=ref["model"])
    rtol = _tol(spec["method"]) if ref["model"] == "rma" else 1e-6
    assert r.zval == pytest.approx(ref["zval"], rel=rtol)
    assert r.pval == pytest.approx(ref["pval"], rel=rtol, abs=1e-12)
    assert r.est == pytest.approx(ref["est"], rel=rtol, abs=1e-12)
    assert r.ci_low == pytest.approx(ref["ci_lb"], rel=rtol, abs=1e-12)
    assert r.ci_high == pytest.approx(ref["ci_ub"], rel=rtol, abs=1e-12)
    if ref["dfs"] is None:
        assert r.df is None
    else:
        assert r.df == ref["dfs"]


@pytest.mark.parametrize("spec", MODS, ids=[s["id"] for s in MODS])
def test_meta_regression_matches_rma_mods(spec: dict) -> None:
    # R: the call stored in spec["call"]
    res = _fit(spec)
    v = spec["values"]
    m = meta_regression(res, mods=spec["mods"])
    rtol = _tol(spec["method"])
    c = m.coefficients
    for ours, theirs in [
        ("estimate", "b"), ("se", "se"), ("zval", "zval"), ("pval", "pval"),
        ("ci_low", "ci_lb"), ("ci_high", "ci_ub"),
    ]:  # fmt: skip
        np.testing.assert_allclose(c[ours], _arr(v[theirs]), rtol=rtol, atol=1e-12, err_msg=ours)
    assert m.qm == pytest.approx(v["QM"], rel=rtol)
    assert m.qm_pvalue == pytest.approx(v["QMp"], rel=rtol, abs=1e-12)
    assert m.qm_df == v["QMdf"][0]
    assert m.qe == pytest.approx(v["QE"], rel=1e-6)
    assert m.tau2 == pytest.approx(v["tau2"], rel=rtol, abs=1e-12)
    assert m.i2 == pytest.approx(v["I2"], rel=rtol, abs=1e-10)
    assert m.r2 == pytest.approx(v["R2"], rel=rtol, abs=1e-8)


SUBG = REF["subgroups"]


@pytest.mark.parametrize("spec", SUBG, ids=[s["id"] for s in SUBG])
def test_subgroups_separate_tau2_match_metafor(spec: dict) -> None:
    # R: per group rma(yi, vi, subset = g == gg, method=, test=), then
    #    rma(b, sei = se, method = "FE") -> QE, QEp (the test for subgroup differences
    #    with a separate tau^2 in each subgroup)
    from review.meta import subgroups

    res = _fit(spec)
    v = spec["values"]
    sub = subgroups(res, by="g")
    rtol = _tol(spec["method"])
    assert list(sub.table["group"]) == spec["groups"]
    np.testing.assert_allclose(sub.table["link_estimate"], v["b"], rtol=rtol)
    np.testing.assert_allclose(sub.table["link_se"], v["se"], rtol=rtol)
    np.testing.assert_allclose(sub.table["tau2"], v["tau2"], rtol=rtol, atol=1e-12)
    assert sub.q_between == pytest.approx(v["Q_between"], rel=rtol)
    assert sub.q_between_pvalue == pytest.approx(v["Q_between_p"], rel=rtol)
