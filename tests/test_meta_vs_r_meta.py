"""Golden tests: R meta's conventions and ``pool_as_r_meta`` against R meta itself.

Reference values: ``tests/r/make_reference_meta.R`` run with R meta 8.2-1 and 7.0-0
(installed from meta's source; the script needs meta to regenerate) writing
``tests/data/meta_reference_<version>.json``. Ids read ``<dataset>-<function>-<options>``;
the R call is stored with each case.

Tolerances: inverse-variance quantities 1e-6 relative (meta calls metafor's ``rma.uni``,
which the engine matches to rounding); GLMM quantities 1e-4 relative (meta calls metafor's
``rma.glmm``, i.e. lme4's optimiser, which stops at ~1e-6..1e-5); per-study intervals
1e-9 (closed forms and R's ``binom.test``/``poisson.test`` quantiles).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review.meta import R_META_DEFAULTS, pool_as_r_meta, pool_proportions, pool_rates

DATA = Path(__file__).parent / "data"
REFS = {
    v: json.loads((DATA / f"meta_reference_{v}.json").read_text(encoding="utf-8"))
    for v in R_META_DEFAULTS
}
CASES = [(v, c) for v, ref in REFS.items() for c in ref["cases"]]
IDS = [f"meta{v}-{c['id']}" for v, c in CASES]


def test_references_are_of_the_versions_they_claim() -> None:
    for v, ref in REFS.items():
        assert ref["source"]["meta"] == v
        assert len(ref["cases"]) > 40


def _frame(ref: dict, name: str) -> pd.DataFrame:
    d = ref["datasets"][name]
    cols = {"label": d["label"], "events": d["events"]}
    cols["n" if d["kind"] == "proportion" else "time"] = d[
        "n" if d["kind"] == "proportion" else "time"
    ]
    return pd.DataFrame(cols)


def _fit(version: str, case: dict):
    ref = REFS[version]
    df = _frame(ref, case["dataset"])
    opts = case["options"] or {}
    kind = case["kind"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not opts:
            return pool_as_r_meta(df, kind=kind, label="label", time="time", version=version)
        base = dict(R_META_DEFAULTS[version][kind])
        base.update(opts)
        if kind == "proportion":
            return pool_proportions(df, label="label", **base)
        return pool_rates(df, time="time", label="label", **base)


def _near(ours: float, theirs: float | None, rtol: float, what: str, scale: float = 0.0) -> None:
    """Relative agreement; interval limits near 0 are compared relative to ``scale``
    (the standard error), as the GLMM golden tests do."""
    if theirs is None:
        assert ours is None or not math.isfinite(ours), (what, ours)
        return
    assert abs(ours - theirs) <= rtol * max(abs(theirs), scale) + 1e-10, (what, ours, theirs)


@pytest.mark.parametrize("version,case", CASES, ids=IDS)
def test_pooled_values_match_r_meta(version: str, case: dict) -> None:
    # R: the call stored in case["call"]
    v = case["values"]
    res = _fit(version, case)
    glmm = v["method"] == "GLMM"
    assert (res.method == "GLMM") == glmm
    # GLMM: lme4 (through metafor's rma.glmm, which meta calls) stops its optimiser short
    # on flat likelihoods; on the 'zeros' set (events = n in one study) its estimate is
    # 1.4e-4 from the engine's, whose log-likelihood is the higher one (by 6e-8)
    rtol = 1e-3 if glmm else 1e-6
    L = res.link
    _near(L.estimate, v["TE_random"], rtol, "TE.random")
    _near(L.se, v["seTE_random"], 5e-3 if glmm else rtol, "seTE.random")
    _near(L.ci_low, v["lower_random"], 5e-3 if glmm else rtol, "lower.random", L.se)
    _near(L.ci_high, v["upper_random"], 5e-3 if glmm else rtol, "upper.random", L.se)
    if v["pval_random"] is not None:  # meta tests no null hypothesis for a proportion
        _near(L.pval, v["pval_random"], 1e-3 if glmm else rtol, "pval.random")
    _near(res.tau2, v["tau2"], rtol if res.tau2 > 1e-8 else 1, "tau2")
    # the prediction interval: meta's method.predict ("V": t(k-1), "HTS": t(k-2)) with the
    # unadjusted SE, also under Hartung-Knapp
    # lme4's standard error comes from a finite-difference Hessian at its own stopping
    # point: on 'zeros' (tau^2 = 19) it is 1.4e-3 from the engine's analytic one
    rtol_se = 5e-3 if glmm else rtol
    if v["method_predict"] == "":  # meta drops "HTS" for k < 3
        assert res.pi_method == "HTS" and res.k < 3 and math.isnan(L.pi_low)
        if glmm:  # meta 7.0-0 then gives a GLMM a z interval (and an IV fit none): the
            return  # engine gives none for either (tests/r/README.md)
    else:
        assert res.pi_method == v["method_predict"]
    _near(L.pi_low, v["lower_predict"], rtol_se, "lower.predict", L.pi_se)
    _near(L.pi_high, v["upper_predict"], rtol_se, "upper.predict", L.pi_se)
    if v["df_predict"] is not None:
        assert L.pi_df == v["df_predict"]
    # heterogeneity: meta's Q (Wald-type for the GLMM) and I^2 = (Q - df)/Q, H = sqrt(Q/df)
    # meta 7.0-0 keeps no method.I2 in its object: settings.meta's method.i2 = "q" there
    assert res.i2_method == (v["method_I2"] or "Q") == "Q"
    # (the GLMM's Wald Q comes from the saturated GLM, which stops at R's 25-iteration cap
    # when a study has 0 events or events = n: 1e-6 apart on 'zeros')
    qtol = 1e-5 if glmm else 1e-6
    _near(res.q, v["Q"], qtol, "Q")
    assert res.q_df == v["df_Q"]
    _near(res.i2, None if v["I2"] is None else 100 * v["I2"], qtol, "I2")
    _near(math.sqrt(res.h2), v["H"], qtol, "H")
    if v["method_tau_ci"] == "QP":  # meta's default for DL is Jackson's method ("J")
        _near(res.tau2_ci[0], v["lower_tau2"], 1e-4, "lower.tau2")
        _near(res.tau2_ci[1], v["upper_tau2"], 1e-4, "upper.tau2")
    # the common-effect model
    assert res.fixed is not None
    _near(res.fixed.link_estimate, v["TE_common"], rtol, "TE.common")
    _near(res.fixed.link_se, v["seTE_common"], rtol, "seTE.common")


@pytest.mark.parametrize("version,case", CASES, ids=IDS)
def test_study_intervals_match_r_meta(version: str, case: dict) -> None:
    # R: the study rows of the call stored in case["call"] (meta keeps them on the scale of
    # sm; the script also writes them back-transformed, plogis / exp, which the test reads)
    v = case["values"]
    res = _fit(version, case)
    assert res.study_ci == v["method_ci"]
    st = res.studies
    np.testing.assert_allclose(st["ci_low"], v["lower_bt"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(st["ci_high"], v["upper_bt"], rtol=1e-9, atol=1e-12)
    if v["method_ci"] == "NAsm":
        # the estimate meta prints is its back-transformed TE (0.5 added to zero counts)
        np.testing.assert_allclose(st["estimate"], v["TE_bt"], rtol=1e-12)


def test_defaults_named_in_the_preset_are_meta_s_own() -> None:
    # metaprop()/metarate() called with no options report these methods (R: m$method, ...)
    for version, ref in REFS.items():
        for c in ref["cases"]:
            if c["options"]:
                continue
            v = c["values"]
            want = R_META_DEFAULTS[version][c["kind"]]
            if v["method_predict"] != "" or v["k"] >= 3:  # meta drops HTS for k < 3
                assert v["method_predict"] == want["pi_method"], c["id"]
            assert (v["method_I2"] or "Q") == want["i2_method"], c["id"]  # 7.0-0: no field
            assert v["method_ci"] == want["study_ci"], c["id"]
            assert v["method_random_ci"] == "classic" and want["test"] == "z"
            meth = "GLMM" if v["method"] == "GLMM" else v["method_tau"]
            assert meth == want["method"], c["id"]


def test_pritz1997_glmm_i2_conventions() -> None:
    # R: metaprop(xi, ni, data = dat.pritz1997)$I2 = 0.482 ((Q - df)/Q, Wald Q = 25.10);
    #    rma.glmm(measure = "PLO", xi, ni, data = dat.pritz1997)$I2 = 67.79 (tau^2-based)
    df = _frame(REFS["8.2-1"], "pritz1997")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = pool_as_r_meta(df, kind="proportion", label="label")
        metafor = pool_proportions(df, label="label", method="GLMM")
    assert round(meta.i2, 1) == 48.2 and round(metafor.i2, 1) == 67.8
    assert meta.tau2 == metafor.tau2 and meta.estimate == metafor.estimate
    assert "[Q]" in meta.conventions() and "[tau2]" in metafor.conventions()
    text = meta.summary()
    assert "as R meta 8.2-1 metaprop() reports it by default" in text
    assert "PI t(13 df) [V]" in text and "study CIs exact Clopper-Pearson [CP]" in text
