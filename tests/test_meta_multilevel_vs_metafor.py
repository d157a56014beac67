"""Golden tests: the multilevel model against metafor 3.8-1 ``rma.mv``.

Reference numbers come from ``tests/r/make_reference_mv.R`` (section ``multilevel`` of
``tests/data/metafor_mv_reference.json``): ``rma.mv(yi, vi, random = ~ 1 | study/label,
method, test, dfs)``, ``predict()``, ``confint(res, sigma2 = j)`` and I^2 per level by the
metafor project's recipe. Ids read ``<data>-<measure>-<method>-<test|contain>``.
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
from review.meta.multilevel import (
    MultilevelResult,
    fit_rma_mv,
    pool_multilevel,
    profile_ci_sigma2,
)

pytestmark = pytest.mark.metafor

REF = json.loads((Path(__file__).parent / "data" / "metafor_mv_reference.json").read_text())
CASES = REF["multilevel"]

# One tolerance a kind of quantity (relative unless said otherwise), with the reason.
TOL = {
    # iterative fit: metafor maximises over log(sigma2) with nlminb, which stops about 1e-8
    # (relative) short of the optimum; we solve the score equations to 1e-10. Largest
    # difference seen over the grid: 3e-7 relative (a standard error)
    "fit": 1e-5,
    # a variance component at the boundary: metafor's optimiser works on log(sigma2) and
    # stops anywhere below about exp(-15) = 3e-7 (seen: 1.8e-7) where ours gives exactly 0
    "sigma2_abs": 1e-6,
    # I^2 (percent) of a component at the boundary, for the same reason
    "i2_abs": 1e-3,
    # closed forms of the data (yi, vi, Q): the same arithmetic
    "closed": 1e-10,
    # p-values far in the tail: compared on the log scale
    "logp": 1e-4,
    # profile-likelihood bounds: both sides search to 1e-10 (R: control = list(tol =
    # 1e-10)); each point re-fits the other component, to the fit's precision
    "profile": 1e-5,
}

# what the reference must hold: data set -> (measure, [(method, test, dfs), ...])
FULL = [(m, t, d) for m in ("REML", "ML") for t, d in (("z", "residual"), ("t", "residual"),
                                                       ("t", "contain"))]  # fmt: skip
GRID = {
    "konstantopoulos2011": [("SMD", *x) for x in FULL],
    "nielweise2007_arms": [("PLO", *x) for x in FULL]
    + [(m, "REML", "z", "residual") for m in ("PFT", "PAS", "PR")],
    "nielweise2008_arms": [("IRLN", *x) for x in FULL] + [("IR", "REML", "z", "residual")],
    "pritz1997_clustered": [("PLO", "REML", t, d) for _, t, d in FULL[:3]]
    + [("PLO", "ML", "z", "residual")],
    "one_cluster": [("PLO", "REML", "z", "residual")],
    "small": [("PLO", "REML", "z", "residual")],
    "singletons": [("IRLN", "REML", "z", "residual")],
}


def _frame(name: str) -> pd.DataFrame:
    d = REF["datasets"][name]
    return pd.DataFrame({k: v for k, v in d.items() if k not in ("kind", "note")})


@functools.cache
def fitted(case: str) -> Any:
    c = CASES[case]
    d = REF["datasets"][c["data"]]
    if d["kind"] == "yivi":
        return fit_rma_mv(
            np.array(d["yi"]),
            np.array(d["vi"]),
            d["study"],
            method=c["method"],
            test=c["test"],
            dfs=c["dfs"],
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # continuity corrections, noted
        return pool_multilevel(
            _frame(c["data"]),
            cluster="study",
            label="label",
            time="time",
            measure=c["measure"],
            method=c["method"],
            test=c["test"],
            dfs=c["dfs"],
        )


def close(a: float, b: float | None, tol: float, abs_floor: float = 0.0) -> bool:
    if b is None:
        return math.isnan(a)
    return abs(a - b) <= max(tol * abs(b), abs_floor)


def case_id(c: str) -> str:
    return c


def test_reference_covers_the_whole_grid() -> None:
    have = {(c["data"], c["measure"], c["method"], c["test"], c["dfs"]) for c in CASES.values()}
    want = {(d, *x) for d, xs in GRID.items() for x in xs}
    assert want <= have, sorted(want - have)
    assert REF["source"]["metafor"] == "3.8.1"


def _link(case: str) -> dict[str, float]:
    r = fitted(case)
    if isinstance(r, MultilevelResult):
        L = r.link
        return {
            "b": L.estimate, "se": L.se, "zval": L.zval, "pval": L.pval, "ci_lb": L.ci_low,
            "ci_ub": L.ci_high, "pi_lb_link": L.pi_low, "pi_ub_link": L.pi_high,
            "ddf": float("nan") if L.df is None else L.df, "QE": r.q, "QEp": r.q_pvalue,
        }  # fmt: skip
    return {
        "b": r.beta[0], "se": r.se[0], "zval": r.zval[0], "pval": r.pval[0],
        "ci_lb": r.ci_low[0], "ci_ub": r.ci_high[0],
        "ddf": float("nan") if r.ddf is None else r.ddf[0], "QE": r.qe, "QEp": r.qe_pvalue,
    }  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES), ids=case_id)
def test_coefficient_tests_and_intervals_match(case: str) -> None:
    v = CASES[case]["values"]
    got = _link(case)
    scale = abs(v["b"]) + v["se"]  # interval bounds near 0 are compared on this scale
    for key in ("b", "se", "zval", "ci_lb", "ci_ub", "pi_lb_link", "pi_ub_link"):
        if key in got:
            assert close(got[key], v[key], TOL["fit"], TOL["fit"] * scale), (key, got[key], v[key])
    assert abs(math.log(got["pval"]) - math.log(v["pval"])) < TOL["logp"]
    if v["ddf"] is None:
        assert math.isnan(got["ddf"])
    else:
        assert got["ddf"] == v["ddf"]  # a count: exact
    assert close(got["QE"], v["QE"], TOL["closed"])
    assert close(got["QEp"], v["QEp"], TOL["closed"], 1e-300)


@pytest.mark.parametrize("case", sorted(CASES), ids=case_id)
def test_variance_components_and_i2_per_level_match(case: str) -> None:
    v = CASES[case]["values"]
    r = fitted(case)
    if isinstance(r, MultilevelResult):
        s2 = [r.sigma2_study, r.sigma2_stratum]
        i2 = [r.i2_study, r.i2_stratum]
        fixed = list(r.sigma2_fixed)
        assert r.k == v["k"] and r.n_studies == v["n_studies"]
    else:
        s2, i2, fixed = list(r.sigma2), list(r.i2_levels), list(r.sigma2_fixed)
        assert r.k == v["k"] and r.n_clusters == v["n_studies"]
    for a, b in zip(s2, v["sigma2"]):
        assert close(a, b, TOL["fit"], TOL["sigma2_abs"]), (s2, v["sigma2"])
    for a, b in zip(i2, v["I2_levels"]):
        assert close(a, b, TOL["fit"], TOL["i2_abs"]), (i2, v["I2_levels"])
    assert fixed == v["sigma2_fixed"]


@pytest.mark.parametrize("case", sorted(CASES), ids=case_id)
def test_fit_statistics_and_weights_match(case: str) -> None:
    v = CASES[case]["values"]
    r = fitted(case)
    fs = r.fit_stats
    for key in ("logLik", "deviance", "AIC", "BIC", "AICc"):
        assert close(fs[key], v[key], TOL["fit"], 1e-8), (key, fs[key], v[key])
    if isinstance(r, MultilevelResult):
        w = r.studies["weight"].to_numpy()
        wr = r.studies["weight_rowsum"].to_numpy()
        np.testing.assert_allclose(r.studies["yi"], v["yi"], rtol=TOL["closed"])
        np.testing.assert_allclose(r.studies["vi"], v["vi"], rtol=TOL["closed"])
    else:
        w, wr = r.weights, r.weights_rowsum
    np.testing.assert_allclose(w, v["weights"], rtol=TOL["fit"])
    np.testing.assert_allclose(wr, v["weights_rowsum"], rtol=TOL["fit"])


@pytest.mark.parametrize(
    "case",
    sorted(c for c in CASES if REF["datasets"][CASES[c]["data"]]["kind"] != "yivi"),
    ids=case_id,
)
def test_back_transformed_estimate_and_intervals_match(case: str) -> None:
    v = CASES[case]["values"]
    r = fitted(case)
    got = [r.estimate, r.ci_low, r.ci_high, r.pi_low, r.pi_high]
    want = [v["pred"], v["pred_ci_lb"], v["pred_ci_ub"], v["pred_pi_lb"], v["pred_pi_ub"]]
    for a, b in zip(got, want):
        assert close(a, b, TOL["fit"], 1e-12), (got, want)


@pytest.mark.parametrize(
    "case", sorted(c for c in CASES if "sigma2_2_ci" in CASES[c]["values"]), ids=case_id
)
def test_profile_likelihood_intervals_of_both_components_match(case: str) -> None:
    v = CASES[case]["values"]
    r = fitted(case)
    for j in (0, 1):
        want = v.get(f"sigma2_{j + 1}_ci")
        if isinstance(r, MultilevelResult):
            got = (r.sigma2_study_ci, r.sigma2_stratum_ci)[j]
        else:
            got = profile_ci_sigma2(r, j)[:2]
        if want is None:  # a fixed component: metafor gives no interval
            assert all(math.isnan(x) for x in got)
            continue
        for a, b in zip(got, want):
            assert close(a, b, TOL["profile"], 1e-10), (j, got, want)


# ---------------------------------------------------------------- edge cases and text
def test_one_study_fixes_the_between_study_variance_at_zero_with_a_note() -> None:
    r = fitted("one_cluster-PLO-REML-z")
    assert r.sigma2_fixed == (True, False) and r.sigma2_study == 0.0
    assert r.n_studies == 1 and "k = 1 study, 5 strata" in r.summary()
    assert any("one study only" in n for n in r.notes)
    assert math.isnan(r.sigma2_study_ci[0])


def test_no_study_with_strata_splits_the_sum_equally_and_says_so() -> None:
    r = fitted("singletons-IRLN-REML-z")
    assert r.sigma2_study == pytest.approx(r.sigma2_stratum, rel=1e-12)
    assert any("only the sum" in n for n in r.notes)
    from review.meta import pool_rates

    d = _frame("singletons")
    uni = pool_rates(d, time="time", label="label", measure="IRLN", method="REML")
    # the sum is the one-level tau^2, and the pooled estimate the one-level one (to the
    # precision of metafor's rma.uni Fisher scoring, which stops when tau^2 moves < 1e-5)
    assert r.sigma2_study + r.sigma2_stratum == pytest.approx(uni.tau2, rel=1e-5)
    assert r.estimate == pytest.approx(uni.estimate, rel=1e-6)


def test_a_study_without_strata_and_few_strata_fit() -> None:
    r = fitted("small-PLO-REML-z")
    assert (r.k, r.n_studies) == (3, 2)
    assert r.summary().startswith("Multilevel Random-Effects Model (k = 2 studies, 3 strata;")
    assert any("search range" in n for n in r.notes)  # the upper bound is the search limit


def test_summary_states_both_counts_the_components_and_the_intervals() -> None:
    r = fitted("nielweise2007_arms-PLO-REML-t")
    text = r.summary()
    assert "(k = 18 studies, 36 strata; method: REML)" in text
    assert "Measure: PLO; test: t; dfs: residual; level: 95%" in text
    assert "sigma^2.1" in text and "sigma^2.2" in text and "study/stratum" in text
    assert "tval" in text and "df" in text
    assert "Pooled proportion (back-transformed):" in text
    assert "k = 18 studies, 36 strata" in repr(r)
    html = r._repr_html_()
    assert "18 studies, 36 strata" in html and "<table" in html
    frame = r.to_frame()
    assert list(frame["kind"]).count("stratum") == 36 and frame["kind"].iloc[-1] == "pooled"
    assert "rma.mv" in r.methods_sentence() and "Konstantopoulos" in r.methods_sentence()


def test_row_order_does_not_change_the_fit() -> None:
    d = _frame("pritz1997_clustered")
    with pytest.warns(UserWarning, match="continuity correction"):
        a = pool_multilevel(d, cluster="study", label="label", sigma2_ci=False)
    with pytest.warns(UserWarning, match="continuity correction"):
        b = pool_multilevel(d.iloc[::-1], cluster="study", label="label", sigma2_ci=False)
    assert b.estimate == pytest.approx(a.estimate, rel=1e-10)
    assert b.sigma2_stratum == pytest.approx(a.sigma2_stratum, rel=1e-8)


def test_rates_read_the_person_time_column() -> None:
    d = _frame("nielweise2008_arms").rename(columns={"time": "py"})
    r = pool_multilevel(d, cluster="study", time="py", measure="IRLN", sigma2_ci=False)
    assert r.kind == "rate" and "time" in r.studies.columns
    assert r.estimate == pytest.approx(fitted("nielweise2008_arms-IRLN-REML-z").estimate)


def test_bad_input_is_refused_with_its_location() -> None:
    d = _frame("small")
    with pytest.raises(InputError, match="not found"):
        pool_multilevel(d, cluster="trial")
    d2 = d.copy()
    d2.loc[1, "study"] = None
    with pytest.raises(InputError, match="missing study value") as e:
        pool_multilevel(d2, cluster="study")
    assert e.value.row == 1 and e.value.column == "study"
    with pytest.raises(OptionError, match=r"Invalid method 'DL'; must be one of \['REML', 'ML'\]"):
        pool_multilevel(d, cluster="study", method="DL")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="Invalid test 'knha'"):
        pool_multilevel(d, cluster="study", test="knha")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="Invalid dfs"):
        pool_multilevel(d, cluster="study", dfs="between")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="at least 2"):
        pool_multilevel(d.iloc[:1], cluster="study")
