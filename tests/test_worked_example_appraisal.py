"""The worked example's risk-of-bias appraisal and GRADE judgements hold together.

They read only committed files (``data/appraisal/log.jsonl``, ``data/certainty.yaml``,
``data/protocol.yaml``, the extraction) and never touch the network.
"""

from __future__ import annotations

import csv
import json
import math
import re

import pytest

from review.appraisal import CONSENSUS, AppraisalLog, SetAsideWarning, agreement
from review.certainty import DOMAINS, load_certainty
from review.paths import ReviewPaths, example_review_dir
from review.protocol import load_protocol

PATHS = ReviewPaths(example_review_dir())

pytestmark = pytest.mark.skipif(
    not PATHS.appraisal_log.exists(), reason="worked example appraisal not present"
)


@pytest.fixture(scope="module")
def log():
    with pytest.warns(SetAsideWarning, match="hamilton2024"):
        out = AppraisalLog.for_review(PATHS.root, on_torn="raise")
        out.validate()
    return out


def _all_rows():
    return [json.loads(x) for x in PATHS.appraisal_log.read_text(encoding="utf-8").splitlines()]


def _rows():
    """The rows on studies of the extraction (Hamilton 2024's are set aside)."""
    ids = {r["study_id"] for r in csv.DictReader(open(PATHS.extraction / "studies.csv"))}
    return [r for r in _all_rows() if r["study_id"] in ids]


def test_log_validates_against_protocol_and_extraction(log):
    assert log.tool.code == load_protocol(PATHS.protocol).appraisal["tool"]
    assert log.validate() == len(_all_rows()) > len(_rows()) > 0


def test_hamiltons_answers_stay_in_the_log_and_are_set_aside(log):
    # excluded after it was appraised (data/DECISIONS.md D1): its rows are kept, not counted
    aside = log.set_aside()
    assert set(aside["study_id"]) == {"hamilton2024"} and len(aside) == 18
    assert aside["line"].tolist() == [*range(10, 19), *range(118, 127)]
    assert "hamilton2024" not in set(log.final()["study_id"])
    assert "hamilton2024" not in set(log.judgements().table["study_id"])
    assert len(log.answers()) == len(_all_rows())


def test_britto_is_appraised_in_two_passes_on_its_stored_page(log):
    rows = [r for r in _rows() if r["study_id"] == "britto2025"]
    assert {r["reviewer"] for r in rows} == {"A", "B", CONSENSUS}
    for r in rows:
        if r["quote"]:
            assert "experts.mcmaster.ca/scholarly-works/3779083" in r["location"]
    rob = log.judgements().table.set_index("study_id")
    assert rob.loc["britto2025", "q3"] == "no"  # 87 patients, below the ~203 of item 3
    assert rob.loc["britto2025", "overall"] == "high"


def test_every_study_row_has_both_passes_on_every_item_and_no_open_conflict(log):
    rows = _rows()
    for reviewer in ("A", "B"):
        got = {(r["study_id"], r["item"]) for r in rows if r["reviewer"] == reviewer}
        assert got == {(s, q) for s in log.study_ids for q in log.tool.item_codes}, reviewer
    assert log.conflicts().empty
    final = log.final()
    assert final["answer"].notna().all() and len(final) == len(log.study_ids) * 9


def test_consensus_rows_are_exactly_where_the_passes_differ(log):
    rows = _rows()
    a = {(r["study_id"], r["item"]): r["answer"] for r in rows if r["reviewer"] == "A"}
    b = {(r["study_id"], r["item"]): r["answer"] for r in rows if r["reviewer"] == "B"}
    differ = {k for k in a if a[k] != b[k]}
    consensus = {(r["study_id"], r["item"]) for r in rows if r["reviewer"] == CONSENSUS}
    assert consensus == differ and differ
    res = agreement(log)
    overall = res.table.set_index("item").loc["all"]
    assert overall["n_both"] == len(a)
    assert overall["observed"] == pytest.approx(1 - len(differ) / len(a))


def test_every_answer_is_supported_and_sourced(log):
    sources = {row["url"] for row in csv.DictReader(open(PATHS.extraction / "sources.csv"))}
    readme = (PATHS.root / "appraisal" / "README.md").read_text(encoding="utf-8")
    for r in _all_rows():
        if r["answer"] == "unclear":
            assert r["note"], r  # the reason why not
            continue
        assert r["quote"] and r["location"], r
        urls = re.findall(r"https?://\S+", r["location"])
        assert urls, r
        for url in urls:
            assert url in sources or url in readme, url


def test_judgements_follow_the_tool_rule(log):
    rob = log.judgements()
    for _, row in rob.table.iterrows():
        answers = [row[q] for q in log.tool.item_codes]
        applicable = [x for x in answers if x != "not_applicable"]
        share = sum(x == "yes" for x in applicable) / len(applicable)
        expected = "low" if share >= 0.7 else "moderate" if share >= 0.5 else "high"
        assert row["overall"] == expected, row["study_id"]
    # the five strata of one registry report carry the same judgement
    dulery = rob.table[rob.table["study_id"].str.startswith("dulery2025_")]
    assert dulery["overall"].nunique() == 1


def test_certainty_judgements_cover_the_protocols_outcomes():
    judged = load_certainty(PATHS.certainty)
    thresholds = load_protocol(PATHS.protocol).certainty["thresholds"]
    assert set(judged) == set(thresholds)
    for j in judged.values():
        assert set(j.domains) == set(DOMAINS)
        assert all(d.reason for d in j.domains.values())


def test_certainty_reasons_agree_with_the_pooled_results():
    """What the reasons of certainty.yaml say about the thresholds, checked on the numbers.

    The reasons give no numbers; where they say a confidence or prediction interval includes
    or excludes a decision threshold, or that half or more of the weight is at high risk of
    bias, this recomputes it. A change of the included studies that makes a reason untrue
    fails here, so the judgement is made again.
    """
    from review.analysis import run_analyses
    from review.certainty import assess_certainty
    from review.extraction import read_extraction

    protocol = load_protocol(PATHS.protocol)
    a = assess_certainty(
        run_analyses(protocol, read_extraction(PATHS.extraction, protocol)), PATHS.root
    )
    primary = next(o.code for o in protocol.outcomes if o.primary)
    assert a.sof.table["code"].tolist()[0] == primary == "spm_excl_nmsc"
    assert set(a.sof.table["code"]) == set(load_certainty(PATHS.certainty))
    # CI against (lower, upper) threshold: True = includes it
    ci = {"spm_excl_nmsc": (True, False), "spm_any": (True, False),
          "spm_tcell": (True, False), "spm_myeloid": (False, True)}  # fmt: skip
    for code, crosses in ci.items():
        assert a.profile(code).numbers["crosses"] == crosses, code

    def spans(code: str) -> tuple[bool, ...]:
        n = a.profile(code).numbers
        return tuple(bool(n["pi_low"] < t < n["pi_high"]) for t in n["thresholds"])

    assert spans("spm_excl_nmsc") == (True, False)
    assert spans("spm_any") == (True, True)
    assert spans("spm_myeloid") == (False, True)
    for code in ("spm_excl_nmsc", "spm_any"):  # "half or more of the weight ... high risk"
        assert a.profile(code).numbers["share_weight_high_risk"] >= 0.5, code
    for code in ("spm_excl_nmsc", "spm_any", "spm_myeloid"):  # "differ beyond chance"
        assert a.profile(code).result.q_pvalue < 0.05, code
    assert a.profile("spm_tcell").result.q_pvalue >= 0.05  # "agree"
    for code in ci:  # "too few studies for a funnel-asymmetry test"
        assert a.profile(code).result.k < 10 and math.isnan(
            a.profile(code).numbers["funnel_test_p"]
        )
    for code in ci:  # "none is at low risk" / "no study is at low risk of bias"
        judgements = a.profile(code).data["risk_of_bias"].split("overall judgements: ")[1]
        assert not re.search(r"\blow \d", judgements), (code, judgements)
