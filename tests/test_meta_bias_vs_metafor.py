"""Golden tests: ranktest, trimfill, the IRS/IRFT measures and one-study fits vs metafor 3.8-1.

Reference values: ``tests/r/make_reference_bias.R`` (committed) and its output
``tests/data/metafor_bias_reference.json``. Ids read ``<dataset>-<measure>-<method>-<test>``
(rate measures), ``<dataset>-<measure>-<method>-<estimator>-<side>`` (trim-and-fill) and
``<dataset>-<measure>`` (rank test); the R call is stored with each case. Tolerances as
``test_meta_vs_metafor.py``: closed forms 1e-6, iterative fits 1e-4 relative (the engine
repeats metafor's iterations, so the observed agreement is far tighter).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review.errors import InputError
from review.meta import pool_proportions, pool_rates, ranktest, subgroups, trimfill
from review.meta._vocab import METHODS, RATE_MEASURES

REF = json.loads(
    (Path(__file__).parent / "data" / "metafor_bias_reference.json").read_text(encoding="utf-8")
)
ABS = 1e-10  # absolute floor: p-values and tau^2 near 0


def _tol(method: str) -> float:
    return 1e-4 if METHODS[method].iterative else 1e-6


def _frame(name: str) -> pd.DataFrame:
    d = REF["datasets"][name]
    cols = {"label": d["label"], "events": d["events"]}
    cols["n" if d["kind"] == "proportion" else "time"] = d[
        "n" if d["kind"] == "proportion" else "time"
    ]
    if "g" in d:
        cols["g"] = d["g"]
    return pd.DataFrame(cols)


def _fit(name: str, **kw):
    df = _frame(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if REF["datasets"][name]["kind"] == "proportion":
            return pool_proportions(df, label="label", **kw)
        return pool_rates(df, time="time", label="label", **kw)


def _close(ours: float, theirs: float | None, rtol: float, what: str) -> None:
    if theirs is None:
        assert ours is None or np.isnan(ours), what
        return
    assert ours == pytest.approx(theirs, rel=rtol, abs=ABS), what


# ------------------------------------------------------------------ IRS and IRFT
RATE = REF["rate_measures"]


def test_reference_covers_the_rate_measure_grid() -> None:
    g = REF["grid"]
    ids = {c["id"] for c in RATE}
    want = {
        f"{d}-{m}-{me}-{t}"
        for d in g["rate_datasets"]
        for m in g["rate_measures"]
        for me in g["methods"]
        for t in g["tests"]
    }
    assert ids == want
    assert {"IRS", "IRFT"} <= set(RATE_MEASURES)


@pytest.mark.parametrize("case", RATE, ids=[c["id"] for c in RATE])
def test_irs_irft_match_metafor(case: dict) -> None:
    # R: the call stored in case["call"]
    assert "error" not in case, case.get("error")
    v = case["values"]
    res = _fit(case["dataset"], measure=case["measure"], method=case["method"], test=case["test"])
    rtol = _tol(case["method"])
    L = res.link
    np.testing.assert_allclose(res.studies["yi"], v["yi"], rtol=1e-12)
    np.testing.assert_allclose(res.studies["vi"], v["vi"], rtol=1e-12)
    for ours, theirs in [
        (L.estimate, "b"), (L.se, "se"), (L.zval, "zval"), (L.pval, "pval"),
        (L.ci_low, "ci_lb"), (L.ci_high, "ci_ub"), (res.tau2, "tau2"), (res.i2, "I2"),
        (res.h2, "H2"), (res.q, "QE"), (res.q_pvalue, "QEp"),
        (res.estimate, "pred"), (res.ci_low, "pred_ci_lb"), (res.ci_high, "pred_ci_ub"),
    ]:  # fmt: skip
        _close(ours, v[theirs], rtol, theirs)
    if case["method"] != "FE":
        for ours, theirs in [
            (L.pi_low, "pi_lb_link"), (L.pi_high, "pi_ub_link"),
            (res.pi_low, "pred_pi_lb"), (res.pi_high, "pred_pi_ub"),
        ]:  # fmt: skip
            _close(ours, v[theirs], rtol, theirs)


def test_irft_back_transform_is_metafor_transf_iirft() -> None:
    # R: transf.iirft(c(0, 0.05, 0.1, 0.3), ti = 200)
    # -> 0, 0, 0.0074875..., 0.0875...; hand-check of the formula's pieces
    from review.meta._vocab import iirft, irft

    t = 200.0
    y = np.array([0.0, 0.02, 0.1, 0.3])
    z = iirft(y, t)
    assert z[0] == 0.0 and z[1] == 0.0  # below irft(0, t) = sqrt(1/t)/2 = 0.0354: 0
    for r in (0.001, 0.02, 0.5):
        assert iirft(irft(r, t), t) == pytest.approx(r, rel=1e-12)


# ------------------------------------------------------------------ one study (k = 1)
K1 = REF["k1"]


@pytest.mark.parametrize("case", K1, ids=[c["id"] for c in K1])
def test_one_study_under_knha_falls_back_to_z_as_metafor(case: dict) -> None:
    # R: the call stored in case["call"]; metafor warns "Setting argument test="z" since k=1."
    assert case["warning"] == 'Setting argument test="z" since k=1.'
    v = case["values"]
    assert v["test"] == "z"
    size = "n" if case["kind"] == "proportion" else "time"
    df = pd.DataFrame({"label": [case["label"]], "events": [case["events"]], size: [case["size"]]})
    pool = pool_proportions if case["kind"] == "proportion" else pool_rates
    kw = {} if case["kind"] == "proportion" else {"time": "time"}
    if case["method"] != "FE":
        # a random-effects method with k = 1 is refused (tests/r/README.md); metafor fits
        # tau^2 = 0, i.e. the common-effect numbers compared below
        with pytest.raises(InputError, match="at least 2"):
            pool(df, label="label", measure=case["measure"], method=case["method"], **kw)
    with pytest.warns(UserWarning, match="since k=1"):
        res = pool(df, label="label", measure=case["measure"], method="FE", test="knha", **kw)
    assert res.test == "z" and res.options["test"] == "knha"
    assert any("since k=1" in n for n in res.notes)
    L = res.link
    assert L.df is None
    for ours, theirs in [
        (L.estimate, "b"), (L.se, "se"), (L.zval, "zval"), (L.pval, "pval"),
        (L.ci_low, "ci_lb"), (L.ci_high, "ci_ub"), (res.estimate, "pred"),
        (res.ci_low, "pred_ci_lb"), (res.ci_high, "pred_ci_ub"),
        (L.pi_low, "pi_lb_link"), (L.pi_high, "pi_ub_link"),
    ]:  # fmt: skip
        _close(ours, v[theirs], 1e-10, theirs)


HART = REF["hart1999_subgroups"]


@pytest.mark.parametrize("case", HART, ids=[c["id"] for c in HART])
def test_hart1999_subgroup_with_one_study(case: dict) -> None:
    # R: per group rma(yi, vi, subset = g == gg, method=, test=) (the one-study group: FE),
    #    rma(b, sei = se, method = "FE")$QE, and rma(yi, vi, mods = ~ factor(g))$QM
    v = case["values"]
    res = _fit("hart1999_warfarin", measure="IRLN", method=case["method"], test=case["test"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = subgroups(res, by="g")
    assert list(s.table["group"]) == case["groups"] == ["primary", "secondary"]
    rtol = _tol(case["method"])
    np.testing.assert_allclose(s.table["link_estimate"], v["b"], rtol=rtol)
    np.testing.assert_allclose(s.table["link_se"], v["se"], rtol=rtol)
    lo = [s.groups[g].link.ci_low for g in case["groups"]]
    hi = [s.groups[g].link.ci_high for g in case["groups"]]
    np.testing.assert_allclose(lo, v["ci_lb"], rtol=rtol)
    np.testing.assert_allclose(hi, v["ci_ub"], rtol=rtol)
    assert [s.groups[g].test for g in case["groups"]] == v["test_used"]
    assert s.q_between == pytest.approx(v["Q_between"], rel=rtol)
    assert s.q_between_pvalue == pytest.approx(v["Q_between_p"], rel=rtol)
    assert s.qm == pytest.approx(v["QM"], rel=rtol)
    # the one-study subgroup: metafor's se 0.2236 and CI [0.02545, 0.06114] on the rate scale
    sec = s.groups["secondary"]
    assert sec.link.se == pytest.approx(0.2236068, rel=1e-6)
    assert (round(sec.ci_low, 5), round(sec.ci_high, 5)) == (0.02545, 0.06114)
    if case["test"] == "knha":
        assert any("since k=1" in n for n in s.notes)
        assert any("since k=1" in str(w.message) for w in caught)


def test_glmm_with_two_studies_under_t_and_one_study() -> None:
    # R: rma.glmm(measure = "PLO", xi = c(4, 9), ni = c(30, 55), test = "t"); predict(res)
    g = REF["glmm_small"]
    v = g["k2_t"]["values"]
    df = pd.DataFrame({"events": g["k2_t"]["events"], "n": g["k2_t"]["n"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pool_proportions(df, method="GLMM", test="knha")
    L = res.link
    assert L.df == v["ddf"] == 1
    for ours, theirs in [
        (L.estimate, "b"), (L.se, "se"), (L.zval, "zval"), (L.pval, "pval"),
        (L.ci_low, "ci_lb"), (L.ci_high, "ci_ub"), (L.pi_low, "pi_lb_link"),
        (L.pi_high, "pi_ub_link"),
    ]:  # fmt: skip
        assert ours == pytest.approx(v[theirs], rel=1e-4, abs=1e-8), theirs
    # R: rma.glmm(measure = "PLO", xi = 5, ni = 20, test = "t") -> error (k = 1)
    assert "larger than the number of observations" in g["k1_t"]["error"]
    with pytest.raises(InputError, match="at least 2"):
        pool_proportions(df.iloc[:1], method="GLMM", test="knha")


# ------------------------------------------------------------------ rank test
RANK = REF["ranktest"]


@pytest.mark.parametrize("case", RANK, ids=[c["id"] for c in RANK])
def test_ranktest_matches_metafor(case: dict) -> None:
    # R: ranktest(rma(measure=, xi=, ni= | ti=, method = "REML"))
    res = _fit(case["dataset"], measure=case["measure"], method="REML")
    v = case["values"]
    r = ranktest(res)
    # a constant variable (all outcomes or all variances equal) has no tau: NA in R
    _close(r.tau, v["tau"], 1e-10, "tau")
    # exact p-values: the same null distribution of Kendall's statistic as R's ckendall;
    # with ties both use the normal approximation with the ties-corrected variance
    _close(r.pval, v["pval"], 1e-8, "pval")
    if v["ties"]:
        assert not r.exact


# ------------------------------------------------------------------ trim and fill
TF = REF["trimfill"]


@pytest.mark.parametrize("case", TF, ids=[c["id"] for c in TF])
def test_trimfill_matches_metafor(case: dict) -> None:
    # R: the call stored in case["call"]
    assert "error" not in case, case.get("error")
    v = case["values"]
    res = _fit(case["dataset"], measure=case["measure"], method=case["method"])
    side = None if case["side"] == "auto" else case["side"]
    tf = trimfill(res, estimator=case["estimator"], side=side)
    rtol = _tol(case["method"])
    assert tf.k0 == v["k0"]
    assert tf.side == v["side_used"]
    assert tf.se_k0 == pytest.approx(v["se_k0"], rel=1e-6)
    if case["estimator"] == "R0":
        assert tf.p_k0 == pytest.approx(v["p_k0"], rel=1e-12)
    else:
        assert v["p_k0"] is None and np.isnan(tf.p_k0)
    assert tf.k == v["k"]
    # filled studies: metafor appends them after the observed ones
    filled = np.asarray(v["yi"][res.k :], dtype=float)
    np.testing.assert_allclose(tf.filled["yi"], filled, rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(tf.filled["vi"], v["vi"][res.k :], rtol=1e-12)
    for ours, theirs in [
        (tf.link_estimate, "b"), (tf.se, "se"), (tf.zval, "zval"), (tf.pval, "pval"),
        (tf.link_ci_low, "ci_lb"), (tf.link_ci_high, "ci_ub"), (tf.tau2, "tau2"),
        (tf.i2, "I2"), (tf.h2, "H2"), (tf.q, "QE"), (tf.q_pvalue, "QEp"),
        (tf.estimate, "pred"), (tf.ci_low, "pred_ci_lb"), (tf.ci_high, "pred_ci_ub"),
    ]:  # fmt: skip
        _close(ours, v[theirs], rtol, theirs)
    if case["method"] != "FE":
        _close(tf.link_pi_low, v["pi_lb_link"], rtol, "pi_lb_link")
        _close(tf.pi_high, v["pred_pi_ub"], rtol, "pred_pi_ub")


KNHA = [c for c in TF if c["side"] == "auto" and c["estimator"] == "L0"]


@pytest.mark.parametrize("case", KNHA, ids=[c["id"] + "-knha" for c in KNHA])
def test_trimfill_refit_keeps_knha(case: dict) -> None:
    # R: tf <- trimfill(res); rma(tf$yi, tf$vi, method =, test = "knha") -- metafor itself
    # refits the filled data with test = "z"; the engine keeps the base's test
    v = case["values"]
    res = _fit(case["dataset"], measure=case["measure"], method=case["method"], test="knha")
    tf = trimfill(res)
    rtol = _tol(case["method"])
    assert tf.k0 == v["k0"] and tf.test == "knha"
    _close(tf.link_estimate, v["knha_b"], rtol, "b")
    _close(tf.se, v["knha_se"], rtol, "se")
    _close(tf.link_ci_low, v["knha_ci_lb"], rtol, "ci_lb")
    _close(tf.link_ci_high, v["knha_ci_ub"], rtol, "ci_ub")
