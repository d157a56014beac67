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
    from review.certainty import methods_sentence
    from review.prisma import prisma_items, save_prisma_items
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
    rate = methods_sentence("high", {"r": [0.02]}, labels={"r": "Events"}, kinds={"r": "rate"})
    assert rate.endswith("Events: 2 per 100 person-years.")
    with pytest.raises(OptionError):
        methods_sentence("certain")
    out = tmp_path / "output"
    fig = out / "figures" / "rob_traffic_light.pdf"
    fig.parent.mkdir(parents=True)
    fig.write_bytes(b"%PDF")
    items = prisma_items(
        {"11": ["notebook 06-risk-of-bias"], "18": [fig]}, reported={"11": rob}, root=out
    )
    assert items["item"].tolist() == ["11", "18"]
    assert items.loc[0, "reported"] == rob and items.loc[0, "where"] == "notebook 06-risk-of-bias"
    assert items.loc[1, "where"] == "figures/rob_traffic_light.pdf"  # relative to the output
    assert items.loc[1, "reported"].startswith("Judgements per study")
    with pytest.raises(OptionError, match="needs its text"):
        prisma_items({"15": []})  # a methods item needs its methods sentence
    with pytest.raises(OptionError, match="does not exist"):
        prisma_items({"18": [out / "figures" / "missing.pdf"]}, root=out)
    with pytest.raises(OptionError, match=r"\['7'\]"):
        prisma_items({"7": ["x"]})
    # each notebook writes its own items into one file; the others' rows are kept
    table = out / "tables" / "prisma_items.csv"
    save_prisma_items(items, table)
    later = prisma_items({"22": ["tables/summary_of_findings.csv"]}, reported={"15": cert})
    merged = save_prisma_items(later, table)
    assert merged["item"].tolist() == ["11", "15", "18", "22"]
    again = save_prisma_items(prisma_items({"11": ["elsewhere"]}, reported={"11": "new"}), table)
    back = pd.read_csv(table, dtype=str, keep_default_na=False)
    assert back.equals(again) and len(back) == 4
    assert back.set_index("item").loc["11", "reported"] == "new"
    assert back.set_index("item").loc["15", "reported"] == cert


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


STROKE_JUDGED = textwrap.dedent(
    """\
    schema_version: 1
    outcomes:
      stroke:
        risk_of_bias: {judgement: not_serious, reason: "Randomised trials."}
        inconsistency: {judgement: not_serious, reason: "Consistent."}
        indirectness: {judgement: serious, reason: "Older trials."}
        imprecision: {judgement: not_serious, reason: "Narrow."}
        publication_bias: {judgement: undetected, reason: "Too few studies to test."}
    """
)


def _stroke(tmp_path: Path, certainty: str | None = None, extra: str = "") -> Path:
    """The second test review (protocol + extraction) with a certainty block."""
    import shutil

    from stroke_review import REVIEW as STROKE

    root = tmp_path / "stroke"
    shutil.copytree(STROKE / "extraction", root / "extraction")
    block = "certainty:\n  start: moderate\n  thresholds: {stroke: [0.05]}\n" + extra
    (root / "protocol.yaml").write_text(
        (STROKE / "protocol.yaml").read_text(encoding="utf-8") + block, encoding="utf-8"
    )
    if certainty is not None:
        (root / "certainty.yaml").write_text(certainty, encoding="utf-8")
    return root


def _analyses(root: Path):
    from review.analysis import run_analyses
    from review.extraction import read_extraction
    from review.protocol import load_protocol

    protocol = load_protocol(root / "protocol.yaml")
    return run_analyses(protocol, read_extraction(root / "extraction", protocol))


def test_assess_certainty_of_a_review(tmp_path):
    from review.certainty import assess_certainty

    root = _stroke(tmp_path, STROKE_JUDGED)
    analyses = _analyses(root)
    a = assess_certainty(analyses, root)
    # every pooled outcome, in the protocol's order of outcomes (not of analyses)
    assert [p.outcome for p in a.profiles] == ["stroke", "stroke_rate"]
    assert a.analyses.set_index("outcome")["analysis"].to_dict() == {
        "stroke": "stroke_risk",
        "stroke_rate": "stroke_rate",
    }
    stroke = a.profile("stroke")
    pooled = analyses["stroke_risk"].pooled
    assert stroke.result is pooled and stroke.start == "moderate"
    assert stroke.certainty == "low"  # moderate, rated down once for indirectness
    assert stroke.numbers["thresholds"] == (0.05,)
    assert stroke.numbers["events"] == pooled.studies["events"].sum()
    assert a.profile("stroke_rate").certainty is None
    with pytest.raises(KeyError):
        a.profile("nothing")
    # the Summary of Findings holds the graded outcome; the other is named in the notes
    assert a.sof.table["code"].tolist() == ["stroke"]
    assert a.sof.table.loc[0, "estimate_value"] == pooled.estimate
    assert a.analyses["in_summary"].tolist() == [True, False]
    assert any("not in the Summary of Findings: stroke_rate" in n for n in a.notes)
    assert any("no risk-of-bias tool" in n for n in a.notes)
    assert stroke.data["risk_of_bias"] == "no risk-of-bias assessment was given"
    assert "starting at moderate" in a.methods
    assert a.methods.endswith(f"protocol: {analyses['stroke_risk'].outcome.label}: 5%.")
    frame = a.to_frame()
    assert len(frame) == 10 and set(frame["outcome"]) == {"stroke", "stroke_rate"}
    files = a.save_tables(tmp_path / "tables")
    assert [f.name for f in files] == [
        "certainty_profiles.csv",
        "summary_of_findings.csv",
        "summary_of_findings.html",
    ]
    page = files[2].read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page and "⊕⊕◯◯ Low" in page
    assert pd.read_csv(files[0])["domain"].tolist()[:2] == ["Risk of bias", "Inconsistency"]
    assert "Indirectness: serious" in a.summary() and "<p>" in a._repr_html_()


def test_assess_certainty_before_any_judgement_and_bad_judgements(tmp_path):
    from review.certainty import assess_certainty
    from review.errors import ProtocolError

    root = _stroke(tmp_path)
    a = assess_certainty(_analyses(root), root)
    assert all(p.certainty is None for p in a.profiles)
    assert a.sof.table["certainty"].tolist() == ["not assessed", "not assessed"]
    assert any("no judgements yet" in n for n in a.notes)
    # a judged outcome the protocol does not declare: the file and the field are named
    bad = STROKE_JUDGED.replace("  stroke:", "  strok:")
    (root / "certainty.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(CertaintyError, match="'strok', which is not an outcome") as info:
        assess_certainty(_analyses(root), root)
    assert info.value.column == "outcomes.strok" and "certainty.yaml" in str(info.value)
    # thresholds for an outcome the protocol does not declare are refused when it is read
    from review.protocol import load_protocol

    typo = _stroke(tmp_path / "b")
    text = (typo / "protocol.yaml").read_text(encoding="utf-8")
    (typo / "protocol.yaml").write_text(
        text.replace("thresholds: {stroke:", "thresholds: {strok:"), encoding="utf-8"
    )
    with pytest.raises(ProtocolError, match="'strok', which is not a declared outcome") as info:
        load_protocol(typo / "protocol.yaml")
    assert info.value.column == "certainty.thresholds.strok" and info.value.row is not None


def test_strata_pooled_into_one_study_take_their_common_judgement(rob):
    from types import SimpleNamespace

    from review.certainty import _strata_rob

    studies = STUDIES.assign(study=["AB", "AB", "", "CD"])
    r = SimpleNamespace(analysis=SimpleNamespace(code="a", strata="study"))
    out, note = _strata_rob(rob, r, studies)  # s1 and s2 differ: AB is not judged
    overall = out.overall()
    assert pd.isna(overall["AB"]) and overall["CD"] == overall["s4"]
    assert note == (
        "a: strata of AB are judged differently or not all judged; the pooled study counts "
        "as not judged"
    )
    same = STUDIES.assign(study=["", "", "", ""])
    assert _strata_rob(rob, r, same) == (rob, "")
    r2 = SimpleNamespace(analysis=SimpleNamespace(code="a", strata=None))
    assert _strata_rob(rob, r2, studies) == (rob, "")
    agree = STUDIES.assign(study=["AC", "", "AC", ""])  # s1 and s3 answered alike
    out, note = _strata_rob(rob, r, agree)
    assert out.overall()["AC"] == out.overall()["s1"] and note == ""
