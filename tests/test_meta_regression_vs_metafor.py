"""Golden tests: meta-regression beyond the fit, against metafor 3.8-1.

* GLMM meta-regression: ``rma.glmm(measure="PLO" | "IRLN", mods = ~ ..., model="UM.FS")``
  (section ``glmm_regression``);
* predictions at new moderator values: ``predict(res, newmods = , transf = )`` for
  ``rma.uni`` and ``rma.glmm`` fits (sections ``predict`` and ``glmm_regression``);
* influence diagnostics of a meta-regression: ``influence.rma.uni`` (section
  ``influence``),

all from ``tests/r/make_reference_mv.R`` (``tests/data/metafor_mv_reference.json``). Ids
read ``<data>-<measure>-<method>-<test>-<mods>[-new|-fitted]``.
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from review.errors import InputError, OptionError
from review.meta import (
    MetaRegressionResult,
    PoolResult,
    PredictionResult,
    RegressionInfluenceResult,
    _aghq,
    influence,
    meta_regression,
    pool_proportions,
    pool_rates,
    predict,
)

pytestmark = pytest.mark.metafor

REF = json.loads((Path(__file__).parent / "data" / "metafor_mv_reference.json").read_text())

TOL = {
    # closed forms given tau^2 (rma.uni with metafor's own tau^2 algorithm): rounding only
    "closed": 1e-9,
    # GLMM: lme4 stops its derivative-free optimisers short of the maximum (our
    # log-likelihood is higher by 2e-10 to 6e-9, checked below); on flat likelihoods
    # that moves the coefficients by up to 1.7e-4 relative (nielweise2008 ~ year)
    "glmm": 5e-4,
    # the GLMM heterogeneity tests: closed forms of the saturated/common-effect GLMs
    "glmm_closed": 1e-8,
    # p-values far in the tail: compared on the log scale
    "logp": 1e-3,
    # case-deletion diagnostics: closed forms of metafor's refits, but dffits, cook_d and
    # dfbetas are differences b - b(-i) of nearly equal coefficients; with a calendar-year
    # moderator (values ~2000, X'WX condition number ~1e7) the cancellation leaves 3e-7
    # relative (6e-9 absolute) between two correct computations
    "influence": 1e-6,
    "influence_abs": 1e-8,
}


def _frame(name: str, rows: list[float] | None = None) -> pd.DataFrame:
    d = REF["datasets"][name]
    df = pd.DataFrame({k: v for k, v in d.items() if k not in ("kind", "note")})
    if rows:
        df = df.iloc[[int(r) - 1 for r in rows]]
    return df


def _pool(name: str, measure: str, method: str, test: str, rows: Any = None) -> PoolResult:
    df = _frame(name, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # corrections of zero cells, noted
        if REF["datasets"][name]["kind"] == "proportion":
            return pool_proportions(df, label="label", measure=measure, method=method, test=test)  # type: ignore[arg-type]
        return pool_rates(df, label="label", time="time", measure=measure, method=method, test=test)  # type: ignore[arg-type]


def close(a: float, b: float | None, tol: float, abs_floor: float = 0.0) -> bool:
    if b is None:
        return math.isnan(a)
    return abs(a - b) <= max(tol * abs(b), abs_floor)


def allclose(a: Any, b: Any, tol: float, abs_floor: float = 0.0) -> bool:
    return all(close(float(x), y, tol, abs_floor) for x, y in zip(np.asarray(a), b, strict=True))


def log_close(p: float, q: float, tol: float) -> bool:
    return abs(math.log(p) - math.log(q)) <= tol * max(1.0, abs(math.log(q)))


# --------------------------------------------------------------- GLMM meta-regression
GLMM = REF["glmm_regression"]


@functools.cache
def glmm_fit(case: str) -> MetaRegressionResult:
    c = GLMM[case]
    res = _pool(c["data"], c["measure"], "GLMM", "knha" if c["test"] == "t" else "z")
    return meta_regression(res, mods=c["mods"])


def test_glmm_reference_covers_both_families_tests_and_moderator_kinds() -> None:
    cases = GLMM.values()
    assert {c["measure"] for c in cases} == {"PLO", "IRLN"}
    assert {c["test"] for c in cases} == {"z", "t"}
    kinds = {REF["datasets"][c["data"]]["kind"] for c in cases}
    assert kinds == {"proportion", "rate"}
    assert any(len(c["mods"]) == 2 for c in cases)  # a numeric and a factor together


@pytest.mark.parametrize("case", sorted(GLMM))
def test_glmm_coefficients_and_moderator_test_match(case: str) -> None:
    v, m = GLMM[case]["values"], glmm_fit(case)
    co = m.coefficients
    assert m.method == "GLMM" and m.converged
    assert list(co["term"]) == v["term"]
    scale = np.abs(v["b"]) + np.asarray(v["se"])
    for key, col in (("b", "estimate"), ("se", "se"), ("ci_lb", "ci_low"), ("ci_ub", "ci_high")):
        for a, b, s in zip(co[col], v[key], scale):
            assert close(a, b, TOL["glmm"], TOL["glmm"] * s), (key, a, b)
    for a, b in zip(co["pval"], v["pval"]):
        assert log_close(a, b, TOL["logp"]), (a, b)
    assert close(m.qm, v["QM"], TOL["glmm"])
    assert log_close(m.qm_pvalue, v["QMp"], TOL["logp"])
    assert m.qm_df == v["QMdf"][0]
    if GLMM[case]["test"] == "t":
        assert m.qm_dist == "F" and m.qm_df2 == v["QMdf"][1]


@pytest.mark.parametrize("case", sorted(GLMM))
def test_glmm_residual_heterogeneity_matches(case: str) -> None:
    v, m = GLMM[case]["values"], glmm_fit(case)
    assert close(m.tau2, v["tau2"], TOL["glmm"])
    assert close(m.i2, v["I2"], TOL["glmm"]) and close(m.h2, v["H2"], TOL["glmm"])
    assert m.qe_df == v["QE_df"]
    assert close(m.qe, v["QE_Wld"], TOL["glmm_closed"])
    assert close(m.qe_lrt, v["QE_LRT"], TOL["glmm_closed"])
    assert close(m.qe_pvalue, v["QEp_Wld"], TOL["glmm_closed"], 1e-300)
    assert close(m.qe_lrt_pvalue, v["QEp_LRT"], TOL["glmm_closed"], 1e-300)
    # R^2: metafor gives none for rma.glmm; the rma.uni formula on metafor's two tau^2
    want = max(0.0, 100 * (v["tau2_0"] - v["tau2"]) / v["tau2_0"])
    assert close(m.r2, want, 1e-2, 1e-3)


@pytest.mark.parametrize("case", sorted(GLMM))
def test_glmm_fit_reaches_at_least_lme4s_likelihood(case: str) -> None:
    # lme4's logLik() is the marginal log-likelihood minus that of the saturated GLM
    c, m = GLMM[case], glmm_fit(case)
    d = REF["datasets"][c["data"]]
    family = "binomial" if d["kind"] == "proportion" else "poisson"
    size = d["n"] if family == "binomial" else d["time"]
    data = _aghq.make_data(family, np.array(d["events"]), np.array(size), m.X.to_numpy())
    gap = m.fit_stats["logLik"] - _aghq.saturated_glm(data).ll - c["values"]["lme4_logLik"]
    assert -1e-9 <= gap < 1e-6, gap


@pytest.mark.parametrize("case", sorted(GLMM))
def test_glmm_predictions_at_new_moderator_values_match(case: str) -> None:
    c, m = GLMM[case], glmm_fit(case)
    p = predict(m, c["newmods"])
    t, pr, pb = p.table, c["predict"], c["predict_back"]
    scale = np.abs(pr["pred"]) + np.asarray(pr["se"])
    for col, key in (
        ("link_estimate", "pred"), ("se", "se"), ("link_ci_low", "ci_lb"),
        ("link_ci_high", "ci_ub"), ("link_pi_low", "pi_lb"), ("link_pi_high", "pi_ub"),
    ):  # fmt: skip
        for a, b, s in zip(t[col], pr[key], scale):
            assert close(a, b, TOL["glmm"], TOL["glmm"] * s), (col, a, b)
    for col, key in (("estimate", "pred"), ("ci_low", "ci_lb"), ("ci_high", "ci_ub"),
                     ("pi_low", "pi_lb"), ("pi_high", "pi_ub")):  # fmt: skip
        assert allclose(t[col], pb[key], TOL["glmm"]), (col, list(t[col]), pb[key])


# ------------------------------------------------------------------------- predict
PRED = REF["predict"]


@functools.cache
def pred_fit(case: str) -> tuple[MetaRegressionResult, PredictionResult]:
    c = PRED[case]
    m = meta_regression(_pool(c["data"], c["measure"], c["method"], c["test"]), mods=c["mods"])
    return m, predict(m, c["newmods"])


def test_predict_reference_covers_measures_methods_tests_and_fitted_values() -> None:
    cases = PRED.values()
    assert {c["measure"] for c in cases} >= {"PLO", "PFT", "PAS", "PR", "IRLN", "IR"}
    assert {c["test"] for c in cases} == {"z", "knha"}
    assert {c["method"] for c in cases} >= {"REML", "DL", "ML", "FE"}
    assert any(c["newmods"] is None for c in cases)


@pytest.mark.parametrize("case", sorted(PRED))
def test_predictions_on_the_model_scale_match(case: str) -> None:
    m, p = pred_fit(case)
    t, pr = p.table, PRED[case]["predict"]
    assert allclose(m.coefficients["estimate"], PRED[case]["values"]["b"], TOL["closed"], 1e-14)
    for col, key in (("link_estimate", "pred"), ("se", "se"), ("link_ci_low", "ci_lb"),
                     ("link_ci_high", "ci_ub")):  # fmt: skip
        assert allclose(t[col], pr[key], TOL["closed"], 1e-14), (col, list(t[col]), pr[key])
    if PRED[case]["method"] == "FE":  # metafor: no PI for FE; ours is the CI (tau^2 = 0)
        assert pr["pi_lb"] == [None] and np.allclose(t["link_pi_low"], t["link_ci_low"])
        return
    for col, key in (("link_pi_low", "pi_lb"), ("link_pi_high", "pi_ub")):
        assert allclose(t[col], pr[key], TOL["closed"], 1e-14), (col, list(t[col]), pr[key])


@pytest.mark.parametrize("case", sorted(PRED))
def test_predictions_back_transformed_match(case: str) -> None:
    _, p = pred_fit(case)
    t, pb = p.table, PRED[case]["predict_back"]
    cols = [("estimate", "pred"), ("ci_low", "ci_lb"), ("ci_high", "ci_ub")]
    if PRED[case]["method"] != "FE":
        cols += [("pi_low", "pi_lb"), ("pi_high", "pi_ub")]
    for col, key in cols:
        assert allclose(t[col], pb[key], TOL["closed"], 1e-14), (col, list(t[col]), pb[key])


def test_predictions_carry_their_moderator_values_or_labels() -> None:
    _, p = pred_fit("debruin2009-PLO-DL-knha-scq+ethnicity-new")
    assert list(p.table["ethnicity"]) == ["caucasian", "other"]
    assert p.df == 10.0  # t(k - p) under knha
    _, f = pred_fit("debruin2009-PLO-REML-z-scq+select-fitted")
    assert list(f.table["label"]) == REF["datasets"]["debruin2009"]["label"]
    assert "Back-transformed (transf.ilogit)" in p.summary()


def test_predict_codes_new_values_as_the_fit_and_refuses_what_it_cannot() -> None:
    m, _ = pred_fit("debruin2009-PLO-DL-knha-scq+ethnicity-new")
    one = predict(m, {"scq": 5.0, "ethnicity": "caucasian"})  # a mapping of scalars: one row
    assert len(one.table) == 1
    with pytest.raises(InputError, match="not one the fit saw"):
        predict(m, {"scq": [5.0], "ethnicity": ["asian"]})
    with pytest.raises(InputError, match="no value for moderator 'ethnicity'"):
        predict(m, {"scq": [5.0]})
    with pytest.raises(InputError, match="not a number") as e:
        predict(m, pd.DataFrame({"scq": ["high"], "ethnicity": ["other"]}))
    assert e.value.column == "scq"
    res = _pool("debruin2009", "PLO", "REML", "z")
    with pytest.raises(OptionError, match="without moderators"):
        predict(res, {"scq": [5.0]})
    pooled = predict(res)  # the pooled value itself
    assert pooled.table["estimate"].iloc[0] == pytest.approx(res.estimate)
    assert pooled.table["pi_high"].iloc[0] == pytest.approx(res.pi_high)


# ----------------------------------------------------------------------- influence
INFL = REF["influence"]


@functools.cache
def infl_fit(case: str) -> RegressionInfluenceResult:
    c = INFL[case]
    res = _pool(c["data"], c["measure"], c["method"], c["test"], c.get("rows"))
    return influence(meta_regression(res, mods=c["mods"]))


@pytest.mark.parametrize("case", sorted(INFL))
def test_influence_diagnostics_of_a_meta_regression_match(case: str) -> None:
    v, inf = INFL[case]["values"], infl_fit(case)
    t = inf.table
    for col, key in (("rstudent", "rstudent"), ("dffits", "dffits"), ("cook_d", "cook_d"),
                     ("cov_r", "cov_r"), ("tau2_del", "tau2_del"), ("qe_del", "QE_del"),
                     ("hat", "hat"), ("weight", "weight")):  # fmt: skip
        ok = allclose(t[col], v[key], TOL["influence"], TOL["influence_abs"])
        assert ok, (col, list(t[col]), v[key])
    assert list(t["influential"]) == v["inf"]
    assert list(inf.dfbetas.columns[1:]) == list(v["dfbs"])
    for term, want in v["dfbs"].items():
        ok = allclose(inf.dfbetas[term], want, TOL["influence"], TOL["influence_abs"])
        assert ok, (term, list(inf.dfbetas[term]), want)


def test_a_deletion_that_leaves_a_coefficient_inestimable_is_a_nan_row() -> None:
    inf = infl_fit("debruin2009-rows1-5-PLO-REML-z-select")
    row = inf.table.iloc[1]  # the only study with select = "yes"
    assert math.isnan(row["rstudent"]) and not row["influential"]
    assert any("not estimable" in n for n in inf.notes)


def test_influence_summary_lists_every_study_and_every_coefficient() -> None:
    inf = infl_fit("debruin2009-all-PLO-REML-z-scq+select")
    text = inf.summary()
    assert "DFBETAS:" in text and "selectyes" in text and "scq" in text
    assert all(lab[:16] in text for lab in inf.table["label"])
    frame = inf.to_frame()
    assert {"dfbs_intrcpt", "dfbs_scq", "dfbs_selectyes"} <= set(frame.columns)
    assert "RegressionInfluenceResult(k=13" in repr(inf)


def test_influence_of_a_glmm_regression_is_refused_as_metafor_has_none() -> None:
    m = glmm_fit("debruin2009-PLO-scq-z")
    with pytest.raises(OptionError, match=r"rma\.glmm"):
        influence(m)


def test_glmm_regression_summary_prints_both_heterogeneity_tests() -> None:
    text = glmm_fit("nielweise2008_arms-IRLN-arm-t").summary()
    assert "tau^2 estimator: ML, GLMM" in text
    assert "Tests for Residual Heterogeneity:" in text and "Wld(df = 16)" in text
    assert "LRT(df = 16)" in text and "F(df1 = 1, df2 = 16)" in text
