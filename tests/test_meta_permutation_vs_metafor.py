"""Golden tests: permutation tests against metafor 3.8-1 ``permutest``.

Reference numbers come from ``tests/r/make_reference_mv.R`` (section ``permutest`` of
``tests/data/metafor_mv_reference.json``), on metadat's ``dat.debruin2009`` (PLO).

* Exact tests (every distinct permutation enumerated) must give metafor's p-values
  exactly: the same set of permuted data sets, each refitted with metafor's own tau^2
  algorithm, compared with metafor's tolerance ``comptol``.
* Random permutations cannot be the same draws (numpy's generator is not R's), so the
  p-value is compared by its sampling distribution: each is a Monte Carlo estimate of
  the same exact p-value with standard error ``sqrt(p (1 - p) / iter)``. Our estimate
  must lie within 4.5 standard errors of metafor's exact p-value (where it is known) or
  of metafor's own random estimate (standard error of the difference ``sqrt(2) x``);
  beyond 4.5 SE a correct implementation fails with probability below 1e-5.
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review.errors import OptionError
from review.meta import (
    MetaRegressionResult,
    PermutationResult,
    PoolResult,
    meta_regression,
    permutest,
    pool_proportions,
)

pytestmark = pytest.mark.metafor

REF = json.loads((Path(__file__).parent / "data" / "metafor_mv_reference.json").read_text())
PERM = REF["permutest"]
EXACT = sorted(c for c in PERM if PERM[c]["exact"])
RANDOM = sorted(c for c in PERM if not PERM[c]["exact"])


def _model(case: str) -> MetaRegressionResult | PoolResult:
    c = PERM[case]
    d = REF["datasets"]["debruin2009"]
    df = pd.DataFrame({k: v for k, v in d.items() if k not in ("kind", "note")})
    if c["rows"]:
        df = df.iloc[[int(r) - 1 for r in c["rows"]]]
    res = pool_proportions(df, label="label", measure="PLO", method=c["method"], test=c["test"])
    return meta_regression(res, mods=c["mods"]) if c["mods"] else res


@functools.cache
def perm(case: str) -> PermutationResult:
    c = PERM[case]
    if c["exact"]:
        return permutest(_model(case), exact=True, progress=False)
    return permutest(_model(case), iter=int(c["iter"]), seed=int(c["seed"]), progress=False)


def test_reference_covers_signs_and_rows_exact_and_random() -> None:
    kinds = {(PERM[c]["mods"] is None, PERM[c]["exact"]) for c in PERM}
    assert kinds == {(True, True), (False, True), (False, False)}
    assert {PERM[c]["test"] for c in PERM} == {"z", "knha"}
    assert {PERM[c]["method"] for c in PERM} >= {"REML", "DL", "ML"}


@pytest.mark.parametrize("case", EXACT)
def test_exact_permutation_p_values_equal_metafors(case: str) -> None:
    v, pt = PERM[case]["values"], perm(case)
    assert pt.exact and pt.exact_iter == v["exact_iter"]
    assert pt.iter == v["n_perm"]  # every refit succeeded on both sides
    # p-values are counts over the same permutations: equal up to the division
    assert list(pt.coefficients["pval_perm"]) == pytest.approx(v["pval"], abs=1e-12)
    assert pt.qm_pvalue_perm == pytest.approx(v["QMp"], abs=1e-12)
    assert pt.qm == pytest.approx(v["QM"], rel=1e-8)
    np.testing.assert_allclose(pt.coefficients["zval"], v["zval"], rtol=1e-8)


@pytest.mark.parametrize("case", EXACT)
def test_exact_permutation_distribution_matches_metafors(case: str) -> None:
    v, pt = PERM[case]["values"], perm(case)
    q = pt.qm_perm[~np.isnan(pt.qm_perm)]
    got = np.quantile(q, [0.5, 0.9, 0.99], method="inverted_cdf")  # R's quantile(type = 1)
    np.testing.assert_allclose(got, v["QM_perm_quantiles"], rtol=1e-7)


def _mc_close(p: float, ref: float, n: int, n_ref: int | None) -> bool:
    """Within 4.5 Monte Carlo standard errors (of ours, plus metafor's when random)."""
    pp = min(max(ref, 1.0 / n), 1 - 1.0 / n)
    var = pp * (1 - pp) / n + (0.0 if n_ref is None else pp * (1 - pp) / n_ref)
    return abs(p - ref) <= 4.5 * math.sqrt(var) + 1.0 / n


@pytest.mark.parametrize("case", RANDOM)
def test_random_permutation_p_values_agree_with_metafors_within_monte_carlo_error(
    case: str,
) -> None:
    c, pt = PERM[case], perm(case)
    v = c["values"]
    assert not pt.exact and pt.iter == int(c["iter"]) and pt.seed == int(c["seed"])
    n = int(c["iter"])
    for ours, theirs in zip(pt.coefficients["pval_perm"], v["pval"]):
        assert _mc_close(ours, theirs, n, n), (ours, theirs)
    assert _mc_close(pt.qm_pvalue_perm, v["QMp"], n, n), (pt.qm_pvalue_perm, v["QMp"])


def test_random_sign_flips_estimate_metafors_exact_p_value() -> None:
    # metafor's exact test on all 13 studies (8192 sign patterns) against 4000 of ours
    v = PERM["int-13-REML-z-exact"]["values"]
    pt = permutest(_model("int-13-REML-z-exact"), iter=4000, seed=7, progress=False)
    assert not pt.exact and pt.exact_iter == 8192
    assert _mc_close(pt.qm_pvalue_perm, v["QMp"], 4000, None), (pt.qm_pvalue_perm, v["QMp"])
    assert pt.zval_perm.shape == (4000, 1) and pt.zval_perm[0, 0] == pt.coefficients["zval"][0]


def test_a_seed_reproduces_the_random_p_values() -> None:
    m = _model("scq-13-REML-z-random")
    a = permutest(m, iter=300, seed=11, progress=False)
    b = permutest(m, iter=300, seed=11, progress=False)
    assert a.qm_pvalue_perm == b.qm_pvalue_perm
    np.testing.assert_array_equal(a.qm_perm, b.qm_perm)


def test_few_distinct_permutations_make_the_test_exact_as_metafor() -> None:
    m = _model("select-13-REML-z")  # 1287 distinct reassignments
    pt = permutest(m, iter=2000, progress=False)
    assert pt.exact and pt.iter == 1287 and pt.seed is None


def test_summary_and_frame_name_the_kind_of_test() -> None:
    pt = perm("ethnicity-13-DL-knha")
    text = pt.summary()
    assert "Permutation test (exact, 1716 permutations; k = 13" in text
    assert "F(df = 1)" in text and "p-val*" in text and "ethnicityother" in text
    frame = pt.to_frame()
    assert list(frame["term"]) == ["intrcpt", "ethnicityother", "QM"]
    r = perm("scq-13-REML-z-random")
    assert "approximate" in r.summary() and "seed 20261126" in r.summary()
    assert any("Monte Carlo" in n for n in r.notes)
    assert "sign patterns" in perm("int-10-REML-z").summary()


def test_bad_requests_are_refused() -> None:
    m = _model("scq-13-REML-z-random")
    with pytest.raises(OptionError, match="Invalid iter"):
        permutest(m, iter=1)
    with pytest.raises(OptionError, match="exact permutation test needs"):
        permutest(m, exact=True)  # 13! / 1 distinct orderings
    d = REF["datasets"]["debruin2009"]
    df = pd.DataFrame({"events": d["events"], "n": d["n"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        glmm = pool_proportions(df, method="GLMM")
    with pytest.raises(OptionError, match="inverse-variance"):
        permutest(glmm)
