"""review.certainty: GRADE judgements read and checked, what the data suggest, the SoF table."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review.appraisal import AppraisalLog, load_tool
from review.certainty import evidence_profile, load_certainty, summary_of_findings
from review.errors import CertaintyError, OptionError
from review.meta import pool_proportions, pool_rates, refit, regtest
from review.plots import save_figure, sof_table

JUDGED = textwrap.dedent(
    """\
    schema_version: 1
    outcomes:
      any_event:
        label: Any event
        risk_of_bias: {judgement: serious, reason: "Most weight from cohorts at high risk."}
        inconsistency: {judgement: not_serious, reason: "Consistent direction."}
        indirectness: {judgement: not_serious, reason: "The populations asked about."}
        imprecision: {judgement: very_serious, reason: "The CI crosses the threshold."}
        publication_bias: {judgement: undetected, reason: "Too few studies to test."}
      rare_event:
        risk_of_bias: {judgement: not_serious, reason: "r"}
        inconsistency: {judgement: not_serious, reason: "r"}
        indirectness: {judgement: not_serious, reason: "r"}
        imprecision: {judgement: not_serious, reason: "r"}
        publication_bias: {judgement: strongly_suspected, reason: "Only positive reports."}
        upgrade: {levels: 1, reason: "Large and consistent."}
    """
)

STUDIES = pd.DataFrame(
    {
        "study_id": ["s1", "s2", "s3", "s4"],
        "label": ["S1", "S2", "S3", "S4"],
        "events": [3, 10, 7, 20],
        "n": [100, 400, 150, 300],
    }
)


def _file(tmp_path: Path, text: str = JUDGED) -> Path:
    p = tmp_path / "certainty.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def res():
    return pool_proportions(STUDIES, measure="PLO", method="REML", label="label")


@pytest.fixture
def rob(tmp_path):
    log = AppraisalLog(
        tmp_path / "l.jsonl",
        tool=load_tool("jbi_prevalence"),
        studies=STUDIES,
        require_support=False,
    )
    for sid, ans in (("s1", "yes"), ("s2", "no"), ("s3", "yes"), ("s4", "no")):
        for q in log.tool.item_codes:
            log.record(sid, q, ans, reviewer="A")
    return log.judgements()


def test_load_certainty_reads_each_domain(tmp_path):
    j = load_certainty(_file(tmp_path))
    assert list(j) == ["any_event", "rare_event"]
    a = j["any_event"]
    assert a.label == "Any event" and a.domains["imprecision"].downgrade == 2
    assert j["rare_event"].domains["publication_bias"].downgrade == 1
    assert j["rare_event"].upgrade == 1


BAD = [
    (
        "judgement: serious, reason",
        "judgement: grave, reason",
        "outcomes.any_event.risk_of_bias.judgement",
        "grave",
    ),
    (
        "publication_bias: {judgement: undetected",
        "publication_bias: {judgement: serious",
        "outcomes.any_event.publication_bias.judgement",
        "serious",
    ),
    (
        '    indirectness: {judgement: not_serious, reason: "The populations asked about."}\n',
        "",
        "outcomes.any_event.indirectness",
        "indirectness",
    ),
    (
        "    label: Any event\n",
        "    label: Any event\n    imprecison: x\n",
        "outcomes.any_event.imprecison",
        "imprecison",
    ),
    ("schema_version: 1", "schema_version: 1\nschema_version: 1", "schema_version", "given twice"),
    ("upgrade: {levels: 1,", "upgrade: {levels: 3,", "outcomes.rare_event.upgrade.levels", "3"),
]


@pytest.mark.parametrize("old,new,column,message", BAD, ids=[b[2] for b in BAD])
def test_bad_certainty_file_names_line_and_field(tmp_path, old, new, column, message):
    assert old in JUDGED
    text = JUDGED.replace(old, new, 1)
    path = _file(tmp_path, text)
    with pytest.raises(CertaintyError, match=message) as ei:
        load_certainty(path)
    assert ei.value.path == str(path) and ei.value.column == column
    assert isinstance(ei.value.row, int)
    key = column.split(".")[-1]
    assert key in text.splitlines()[ei.value.row - 1] or key in ("indirectness",)


def test_profile_data_beside_the_judgements(tmp_path, res, rob):
    j = load_certainty(_file(tmp_path))
    p = evidence_profile(res, "any_event", judgements=j, rob=rob, thresholds=[0.05])
    # high risk: s2 and s4 (all "no"); their share of the weight is computed from the fit
    w = res.studies.set_index("label")["weight"]
    assert p.numbers["high_risk_studies"] == ("s2", "s4")
    assert p.numbers["share_weight_high_risk"] == pytest.approx((w["S2"] + w["S4"]) / w.sum())
    assert (
        f"{100 * p.numbers['share_weight_high_risk']:.0f}% of the weight" in p.data["risk_of_bias"]
    )
    assert p.numbers["i2"] == res.i2 and p.numbers["pi_low"] == res.pi_low
    assert p.numbers["crosses"] == (res.ci_low < 0.05 < res.ci_high,)
    assert p.numbers["events"] == 40 and p.numbers["participants"] == 950
    assert "k = 4 < 10" in p.data["publication_bias"] and math.isnan(p.numbers["funnel_test_p"])
    # start high, minus 1 (risk of bias) minus 2 (imprecision) = very low
    assert p.certainty == "very_low"
    frame = p.to_frame()
    assert frame["judgement"].tolist()[0] == "serious" and "I²" in frame["data"].tolist()[1]
    assert "Very low" in p.summary()


def test_upgrade_and_start_and_not_assessed(tmp_path, res):
    j = load_certainty(_file(tmp_path))
    p = evidence_profile(res, "rare_event", judgements=j)
    assert p.certainty == "high"  # high - 1 (publication bias) + 1 (upgrade), capped at high
    assert evidence_profile(res, "rare_event", judgements=j, start="low").certainty == "low"
    none = evidence_profile(res, "unjudged", judgements=j)
    assert none.certainty is None and "not assessed" in none.summary()
    with pytest.raises(OptionError):
        evidence_profile(res, "x", start="certain")
    with pytest.raises(OptionError):
        evidence_profile(res, "x", thresholds=[0])


def test_funnel_test_only_from_ten_studies():
    rng = np.random.default_rng(7)
    n = rng.integers(50, 500, 12)
    df = pd.DataFrame({"events": rng.binomial(n, 0.06), "n": n})
    glmm = pool_proportions(df, measure="PLO", method="GLMM")
    p = evidence_profile(glmm, "x")
    expected = regtest(refit(glmm, method="REML"), predictor="ninv").pval
    assert p.numbers["funnel_test_p"] == pytest.approx(expected)
    assert p.data["publication_bias"].startswith("Peters' test")
    nine = pool_proportions(df.iloc[:9], measure="PLO", method="REML")
    assert math.isnan(evidence_profile(nine, "x").numbers["funnel_test_p"])


def test_rates_are_per_100_person_years():
    df = pd.DataFrame({"events": [4, 9, 2], "time": [300.0, 800.0, 150.0]})
    res = pool_rates(df, events="events", time="time", measure="IRLN", method="REML")
    p = evidence_profile(res, "rate", thresholds=[0.02])
    assert "per 100 person-years" in p.data["imprecision"]
    assert p.numbers["participants"] is None
    sof = summary_of_findings([p])
    assert sof.table.loc[0, "estimate"].endswith("per 100 person-years")
    assert sof.table.loc[0, "participants"] == ""


def test_summary_of_findings_rows_footnotes_and_files(tmp_path, res, rob):
    j = load_certainty(_file(tmp_path))
    res2 = pool_proportions(STUDIES.iloc[:3], measure="PLO", method="REML", label="label")
    sof = summary_of_findings(
        [
            evidence_profile(res, "any_event", judgements=j, rob=rob, thresholds=[0.05]),
            evidence_profile(res2, "rare_event", judgements=j, label="A rarer event"),
        ]
    )
    t = sof.table
    assert t["outcome"].tolist() == ["Any event", "A rarer event"]
    assert t["studies"].tolist() == [4, 3]
    assert t.loc[0, "estimate_value"] == res.estimate and t.loc[0, "ci_low"] == res.ci_low
    assert t["certainty"].tolist() == ["⊕◯◯◯ Very low", "⊕⊕⊕⊕ High"]
    assert t["footnotes"].tolist() == ["a, b", "c, d"]
    marks = dict(sof.footnotes)
    assert marks["a"].startswith("Risk of bias: serious, rated down one level.")
    assert marks["b"].startswith("Imprecision: very serious, rated down two levels.")
    assert marks["d"].startswith("Rated up 1 level")
    csv = pd.read_csv(sof.to_csv(tmp_path / "sof.csv"))
    assert csv["outcome"].tolist() == ["Any event", "A rarer event"]
    assert csv.loc[0, "reasons"].startswith("a. Risk of bias")
    html = sof.to_html()
    assert "<sup>a, b</sup>" in html and "95% CI" in html
    fig = sof_table(sof, title="Summary of findings")
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    assert texts["sof:any_event:certainty"] == "⊕◯◯◯ Very low (a, b)"
    assert texts["sof:any_event:studies"] == "4 (950)"
    assert "d. Rated up" in texts["sof-footnotes"]
    paths = save_figure(fig, tmp_path / "sof", width_mm=174)
    assert "Very low" in paths[1].read_text(encoding="utf-8")  # text kept as text in the SVG
    with pytest.raises(OptionError, match="too narrow"):
        save_figure(sof_table(sof), tmp_path / "x", width_mm=40, formats=("png",))
    with pytest.raises(OptionError):
        summary_of_findings([])


def test_methods_sentences_and_prisma_items(tmp_path):
    from review.appraisal import appraisal_plan
    from review.certainty import methods_sentence, prisma_items
    from review.protocol import protocol_from_mapping

    proto = protocol_from_mapping(
        {
            "schema_version": 1,
            "title": "t",
            "question": "q",
            "eligibility": {"include": ["a"], "exclude": ["b"]},
            "exclusion_reasons": [{"code": "x", "label": "x"}],
            "databases": [{"name": "PubMed", "query": "q"}],
            "appraisal": {"tool": "hoy2012", "assessors": ["A", "B"], "high_risk": ["high"]},
        }
    )
    rob = appraisal_plan(proto, tmp_path).methods_sentence()
    assert "Hoy" in rob and "2 assessors (A, B)" in rob and "judged by the assessors" in rob
    cert = methods_sentence("moderate", {"any_event": [0.05, 0.1]})
    assert "starting at moderate" in cert and "any_event: 5%, 10%" in cert
    with pytest.raises(OptionError):
        methods_sentence("certain")
    items = prisma_items(
        appraisal=rob, certainty=cert, where={"18": ["figures/rob_traffic_light.pdf"]}
    )
    assert items["item"].tolist() == ["11", "15", "18", "22"]
    assert items.loc[0, "reported"] == rob
    assert items.loc[2, "where"] == "figures/rob_traffic_light.pdf" and items.loc[3, "where"] == ""


def test_evidence_profiles_in_order_and_strays_refused(tmp_path, res, rob):
    from review.certainty import evidence_profiles

    j = load_certainty(_file(tmp_path))
    res2 = pool_proportions(STUDIES.iloc[:3], measure="PLO", method="REML", label="label")
    ps = evidence_profiles(
        {"any_event": res, "rare_event": res2},
        judgements=j,
        rob=rob,
        thresholds={"any_event": [0.05]},
        labels={"rare_event": "Rare"},
    )
    assert [p.outcome for p in ps] == ["any_event", "rare_event"]
    assert ps[0].numbers["thresholds"] == (0.05,) and ps[1].numbers["thresholds"] == ()
    assert ps[1].label == "Rare" and ps[0].label == "Any event"
    with pytest.raises(OptionError, match="rare_event"):
        evidence_profiles({"any_event": res}, judgements=j)
    with pytest.raises(OptionError, match="typo_outcome"):
        evidence_profiles({"any_event": res}, thresholds={"typo_outcome": [0.1]})
