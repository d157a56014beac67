"""The second test review's analyses, as its protocol declares them, against R metafor.

``tests/data/review_stroke`` is stroke in the control arms of the warfarin trials of Hart et al.
1999 (metadat ``dat.hart1999``); ``tests/r/make_reference_review2.R`` fits every analysis of its
protocol with metafor 3.8-1 (one study, SPINAF, given as a rate with its 95% CI) and writes
``tests/data/review_stroke_reference.json``. Here the toolkit runs the same protocol on the same
folder, through the layer notebooks 06 and 07 call (``run_analyses``, ``run_sensitivity``), and
every number is compared. The notebooks' own run of this folder is ``test_review_stages.py``.
"""

from __future__ import annotations

import json
import math

import pytest

from review.analysis import run_analyses, run_sensitivity
from review.extraction import read_extraction

from conftest import REPO
from stroke_review import REVIEW

pytestmark = pytest.mark.metafor

REF = json.loads((REPO / "tests" / "data" / "review_stroke_reference.json").read_text())
#: Inverse-variance fits repeat metafor's algorithm (agreement seen: ~1e-12); the GLMM is
#: maximised more tightly than lme4's optimiser stops (tests/r/README.md).
TOL = {"iv": 1e-6, "glmm": 2e-3}


def close(ours: float, ref: float | None, rel: float, floor: float = 1e-12) -> bool:
    if ref is None:
        return math.isnan(ours)
    return abs(ours - ref) <= rel * max(abs(ref), floor)


@pytest.fixture(scope="module")
def results():
    ex = read_extraction(REVIEW / "extraction")
    analyses = run_analyses(ex.protocol, ex)
    return analyses, run_sensitivity(analyses)


@pytest.mark.parametrize("code", ["stroke_rate", "stroke_risk"])
def test_studies_and_pooled_estimate(results, code: str) -> None:
    analyses, _ = results
    ref = REF["analyses"][code]
    r = analyses[code]
    assert r.status == "ok", r.status
    p = r.pooled
    assert list(p.studies["label"]) == ref["studies"]["label"]
    for ours, theirs in zip(p.studies["yi"], ref["studies"]["yi"]):
        assert close(ours, theirs, TOL["iv"])
    for ours, theirs in zip(p.studies["vi"], ref["studies"]["vi"]):
        assert close(ours, theirs, TOL["iv"])
    pr = ref["pooled"]
    assert p.k == pr["k"]
    pairs = {
        "estimate": p.estimate, "ci_low": p.ci_low, "ci_high": p.ci_high, "pi_low": p.pi_low,
        "pi_high": p.pi_high, "tau2": p.tau2, "I2": p.i2, "H2": p.h2, "QE": p.q, "QEp": p.q_pvalue,
        "b": p.link.estimate, "se": p.link.se, "zval": p.link.zval, "ci_lb": p.link.ci_low,
        "ci_ub": p.link.ci_high,
    }  # fmt: skip
    for key, ours in pairs.items():
        assert close(ours, pr[key], TOL["iv"]), (code, key, ours, pr[key])
    assert abs(math.log(p.link.pval) - math.log(pr["pval"])) < 1e-6


def test_the_estimate_study_enters_on_the_log_scale(results) -> None:
    analyses, _ = results
    r = analyses["stroke_rate"]
    spinaf = r.studies.set_index("label").loc["SPINAF 1992"]
    assert spinaf["basis"] == "estimate" and bool(spinaf["used"])
    assert "CI, symmetric on the IRLN scale" in spinaf["reason"]
    # the proportion analysis uses SPINAF's counts
    risk = analyses["stroke_risk"].studies.set_index("label")
    assert risk.loc["SPINAF 1992", "basis"] == "counts"


@pytest.mark.parametrize(
    ("code", "by"), [("stroke_rate", "prevention"), ("stroke_risk", "comparator")]
)
def test_subgroups(results, code: str, by: str) -> None:
    analyses, _ = results
    ref = REF["analyses"][code]["subgroups"][by]
    protocol = analyses.protocol
    labels = dict(protocol.covariates[by].values)  # code -> label, as the figures name groups
    sg = analyses[code].subgroups[by]
    table = sg.table.set_index("group")
    for i, group in enumerate(ref["groups"]):
        row = table.loc[labels[group]]
        assert row["k"] == ref["k"][i]
        for ours, key in ((row["link_estimate"], "b"), (row["link_se"], "se"),
                          (row["tau2"], "tau2"), (row["estimate"], "estimate"),
                          (row["ci_low"], "ci_low"), (row["ci_high"], "ci_high")):  # fmt: skip
            assert close(float(ours), ref[key][i], TOL["iv"], floor=1e-9), (group, key, ours)
    assert close(sg.q_between, ref["Q_between"], TOL["iv"])
    assert close(sg.q_between_pvalue, ref["Q_between_p"], TOL["iv"])
    test = analyses[code].subgroup_tests.set_index("by").loc[by]
    assert close(float(test["q_between"]), ref["Q_between"], TOL["iv"])


def test_meta_regression_on_year(results) -> None:
    analyses, _ = results
    ref = REF["analyses"]["stroke_rate"]["moderators"]["year"]
    m = analyses["stroke_rate"].moderators["year"]
    coef = m.coefficients.set_index("term")
    for i, term in enumerate(ref["coef"]):
        for col, key in (("estimate", "b"), ("se", "se"), ("zval", "zval"), ("pval", "pval"),
                         ("ci_low", "ci_lb"), ("ci_high", "ci_ub")):  # fmt: skip
            assert close(float(coef.loc[term, col]), ref[key][i], 1e-5), (term, col)
    assert m.k == ref["k"]
    for ours, key in ((m.tau2, "tau2"), (m.qm, "QM"), (m.qm_pvalue, "QMp"), (m.qe, "QE"),
                      (m.qe_pvalue, "QEp"), (m.r2, "R2")):  # fmt: skip
        assert close(ours, ref[key], 1e-5), (key, ours, ref[key])


@pytest.mark.parametrize("code", ["stroke_rate", "stroke_risk"])
def test_leave_one_out(results, code: str) -> None:
    _, sens = results
    ref = REF["analyses"][code]["leave1out"]
    loo = sens[code].leave_one_out.to_frame()
    assert list(loo["label"]) == ref["left_out"]
    for col, key in (("estimate", "estimate"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
                     ("tau2", "tau2"), ("i2", "I2"), ("q", "Q")):  # fmt: skip
        for ours, theirs in zip(loo[col], ref[key]):
            assert close(float(ours), theirs, TOL["iv"], floor=1e-9), (code, col, ours, theirs)


def test_egger_test(results) -> None:
    _, sens = results
    ref = REF["analyses"]["stroke_rate"]["egger"]
    t = sens["stroke_rate"].small_study
    assert t.predictor == "sei"
    assert close(t.zval, ref["zval"], TOL["iv"]) and close(t.pval, ref["pval"], TOL["iv"])
    assert close(t.est, ref["limit_estimate"], TOL["iv"])


def test_method_sensitivity(results) -> None:
    _, sens = results
    ref = REF["analyses"]["stroke_risk"]["methods"]
    table = sens["stroke_risk"].methods.table
    assert len(table) == len(ref) and (table["status"] == "ok").all()
    for measure, theirs in ref.items():
        measure_, method = ("PLO", "GLMM") if measure == "GLMM" else (measure, "REML")
        (i,) = table.index[(table["measure"] == measure_) & (table["method"] == method)]
        row = table.loc[i]
        tol = TOL["glmm"] if measure == "GLMM" else TOL["iv"]
        assert row["k"] == theirs["k"]
        for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "I2"):
            ours = float(row["i2" if key == "I2" else key])
            assert close(ours, theirs[key], tol), (measure, key, ours, theirs[key])


def test_exclusion_set(results) -> None:
    _, sens = results
    ref = REF["analyses"]["stroke_risk"]["exclude_sets"]["primary_only"]
    row = sens["stroke_risk"].exclusions.set_index("set").loc["primary_only"]
    assert row["excluded"] == "; ".join(ref["left_out"]) and row["k"] == ref["k"]
    for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2"):
        assert close(float(row[key]), ref[key], TOL["iv"]), (key, row[key], ref[key])
    assert close(float(row["i2"]), ref["I2"], TOL["iv"])
