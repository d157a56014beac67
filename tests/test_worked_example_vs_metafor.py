"""Every pooled number of the worked example against metafor.

``tests/r/make_reference_example.R`` reads ``data/extraction/`` itself, builds each analysis's
set of studies from the columns the protocol names and fits it with metafor (``rma.glmm`` and
``rma``, and ``rma.mv`` for the multilevel alternative); its output is
``tests/data/metafor_example_reference.json``. Here the toolkit runs the protocol's declared
analyses and sensitivity analyses on the same files: the studies of each analysis and every
pooled number must agree.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from review.analysis import run_analyses, run_sensitivity
from review.extraction import read_extraction
from review.paths import example_review_dir

REF = json.loads(
    (Path(__file__).parent / "data" / "metafor_example_reference.json").read_text("utf-8")
)
#: lme4 stops its derivative-free optimisers at ~1e-6..1e-5 relative (tests/r/README.md);
#: the inverse-variance fit agrees far tighter, the same bound is used for all.
FIT = 1e-4
#: tau^2 at the boundary: lme4 may stop at theta ~ 1e-8 instead of exactly 0.
TAU2_ABS = 1e-8
#: The multilevel fit: metafor's nlminb on log(sigma^2) stops at ~1e-10 where the optimum is
#: on the boundary (the engine gives 0); every other number is a closed form of the variance
#: components, so it agrees to the optimiser's precision.
MV = 1e-7
ANALYSES = [k for k in REF if k not in ("source", "any_spm_exclusion_sets")]
MULTILEVEL = [k for k in ANALYSES if "sigma2_study" in REF[k]]
UNIVARIATE = [k for k in ANALYSES if k not in MULTILEVEL]


@pytest.fixture(scope="module")
def runs():  # type: ignore[no-untyped-def]
    ex = read_extraction(example_review_dir() / "extraction")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = run_analyses(ex.protocol, ex)
        return results, run_sensitivity(results)


def _check(got: dict[str, float], ref: dict[str, float]) -> None:
    for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
        assert got[key] == pytest.approx(ref[key], rel=FIT), key
    if ref["tau2"] < TAU2_ABS:
        assert got["tau2"] <= TAU2_ABS
    else:
        assert got["tau2"] == pytest.approx(ref["tau2"], rel=FIT)


def test_every_declared_analysis_is_referenced(runs) -> None:  # type: ignore[no-untyped-def]
    results, _ = runs
    assert sorted(ANALYSES) == sorted(r.analysis.code for r in results)


@pytest.mark.parametrize("code", UNIVARIATE)
def test_pooled_analysis_matches_metafor(runs, code: str) -> None:  # type: ignore[no-untyped-def]
    results, _ = runs
    res = results[code].pooled
    ref = REF[code]
    assert res is not None
    assert res.k == ref["k"]
    assert sorted(res.data["study_id"]) == sorted(ref["studies"])  # the same studies
    _check(
        {
            k: getattr(res, k)
            for k in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2")
        },
        ref,
    )
    assert res.link.estimate == pytest.approx(ref["beta"], rel=FIT)
    assert res.link.se == pytest.approx(ref["se"], rel=FIT)


@pytest.mark.parametrize("code", MULTILEVEL)
def test_multilevel_analysis_matches_metafor_rma_mv(runs, code: str) -> None:  # type: ignore[no-untyped-def]
    results, _ = runs
    res = results[code].pooled
    ref = REF[code]
    assert type(res).__name__ == "MultilevelResult"
    assert (res.k, res.n_studies) == (ref["k"], ref["n_studies"])
    assert list(res.data["study_id"]) == ref["studies"]  # the same strata, in file order
    for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
        assert getattr(res, key) == pytest.approx(ref[key], rel=MV), key
    for key in ("sigma2_study", "sigma2_stratum"):
        if ref[key] < TAU2_ABS:
            assert 0 <= getattr(res, key) <= TAU2_ABS, key
        else:
            assert getattr(res, key) == pytest.approx(ref[key], rel=FIT), key
    assert res.q == pytest.approx(ref["q"], rel=1e-12)
    assert res.link.estimate == pytest.approx(ref["beta"], rel=MV)
    assert res.link.se == pytest.approx(ref["se"], rel=MV)
    # the pooled table: k counts strata, studies the studies; no single tau^2
    row = results.pooled_table().set_index("analysis").loc[results[code].analysis.label]
    assert (row["structure"], row["k"], row["studies"]) == (
        "multilevel",
        ref["k"],
        ref["n_studies"],
    )
    assert row["estimate"] == pytest.approx(ref["estimate"], rel=MV) and pd.isna(row["tau2"])


@pytest.mark.parametrize("code", sorted(REF["any_spm_exclusion_sets"]))
def test_exclusion_set_matches_metafor(runs, code: str) -> None:  # type: ignore[no-untyped-def]
    results, sens = runs
    ref = REF["any_spm_exclusion_sets"][code]
    row = sens["any_spm"].exclusions.set_index("set").loc[code]
    assert row["k"] == ref["k"]
    labels = dict(zip(results.extraction.studies["study_id"], results.extraction.studies["label"]))
    assert row["excluded"] == ", ".join(labels[s] for s in ref["left_out"])
    _check(row.to_dict(), ref)


def test_the_robustness_table_carries_the_same_numbers(runs) -> None:  # type: ignore[no-untyped-def]
    _, sens = runs
    rob = sens["any_spm"].robustness.set_index("choice")
    assert rob.loc["any_spm", "estimate"] == pytest.approx(REF["any_spm"]["estimate"], rel=FIT)
    alt = REF["any_spm_as_reported"]
    assert rob.loc["any_spm_as_reported", "estimate"] == pytest.approx(alt["estimate"], rel=FIT)
    for code, ref in REF["any_spm_exclusion_sets"].items():
        assert rob.loc[code, "k"] == ref["k"]
        assert rob.loc[code, "ci_high"] == pytest.approx(ref["ci_high"], rel=FIT)


def test_the_tcell_robustness_table_shows_the_multilevel_alternative(runs) -> None:  # type: ignore[no-untyped-def]
    _, sens = runs
    rob = sens["tcell"].robustness.set_index("choice")
    ref = REF["tcell_multilevel"]
    row = rob.loc["tcell_multilevel"]
    # k counts studies; the same studies as the declared analysis (strata kept, not added)
    assert row["k"] == ref["n_studies"] == REF["tcell"]["k"]
    assert (row["left_out"], row["added"]) == ("", "")
    assert f"k = {ref['n_studies']} studies, {ref['k']} strata" in row["note"]
    for key in ("estimate", "ci_low", "ci_high"):
        assert row[key] == pytest.approx(ref[key], rel=MV), key
