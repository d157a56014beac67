"""review.appraisal: declared tools and rules, the assessment log, judgements, agreement."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.metrics import cohen_kappa_score

from review.appraisal import (
    TEMPLATES,
    TOOL_SCHEMA,
    AppraisalLog,
    SetAsideWarning,
    agreement,
    appraisal_plan,
    import_assessments,
    load_tool,
    tool_from_mapping,
)
from review.errors import (
    AppraisalError,
    AppraisalLogError,
    OptionError,
    ProtocolError,
    ToolError,
)
from review.protocol import load_protocol

MINIMAL_PROTOCOL = Path(__file__).parent / "data" / "protocol_minimal.yaml"

# A review's own domain-based tool: two domains, signalling questions, a count rule for one
# domain, the worst domain overall.
OWN_TOOL = textwrap.dedent(
    """\
    schema_version: 1
    code: own_tool
    name: A review's own tool
    judgements:
      - {code: low, label: Low}
      - {code: some_concerns, label: Some concerns}
      - {code: high, label: High}
    answers:
      - {code: y, label: "Yes", judgement: low, key: "a"}
      - {code: py, label: Probably yes, judgement: low}
      - {code: pn, label: Probably no, judgement: some_concerns}
      - {code: n, label: "No", judgement: high}
      - {code: ni, label: No information, judgement: some_concerns}
      - {code: na, label: Not applicable, judgement: null}
    domains:
      - code: selection
        label: Selection of the cohort
        items: [s1, s2]
      - code: outcome
        label: Ascertainment of the outcome
        items: [o1, o2, o3]
        rule:
          method: count
          values: [n, pn]
          bands:
            - {max: 0, judgement: low}
            - {max: 1, judgement: some_concerns}
            - {judgement: high}
    items:
      - {code: s1, text: "Consecutive patients?", guidance: ["Were all treated patients included?"]}
      - {code: s2, text: "Same period for all?"}
      - {code: o1, text: "Outcome defined?"}
      - {code: o2, text: "Same follow-up for all?"}
      - {code: o3, text: "Losses reported?"}
    rule:
      domains: worst
      overall: {method: worst}
    """
)


def _tool_file(tmp_path: Path, text: str = OWN_TOOL, name: str = "tool.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


# ------------------------------------------------------------------ templates
@pytest.mark.parametrize("code", sorted(TEMPLATES))
def test_templates_load_and_match_the_schema(code):
    import jsonschema

    data = yaml.safe_load(TEMPLATES[code].read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(TOOL_SCHEMA).validate(data)
    tool = load_tool(code)
    assert tool.code == code and tool.citation
    assert all(it.text.endswith("?") for it in tool.items)  # short factual questions


def test_jbi_template_has_the_nine_published_items():
    tool = load_tool("jbi_prevalence")
    assert len(tool.items) == 9
    assert (
        tool.items[0].text == "Was the sample frame appropriate to address the target population?"
    )
    assert tool.items[8].text.startswith("Was the response rate adequate")
    assert tool.answer_codes == ["yes", "no", "unclear", "not_applicable"]
    assert "Munn" in tool.citation and "2015" in tool.citation
    assert tool.domains == ()


def test_hoy_template_has_ten_items_two_domains_and_a_judged_summary():
    tool = load_tool("hoy2012")
    assert len(tool.items) == 10 and [d.code for d in tool.domains] == ["external", "internal"]
    assert tool.domains[0].items == ("i1", "i2", "i3", "i4")
    assert tool.overall.method == "judged" and tool.units()[-1] == "overall"
    assert [a.code for a in tool.answers] == ["low", "high"]
    assert "Hoy" in tool.citation and "2012" in tool.citation


def test_jbi_rule_share_of_yes_bands():
    tool = load_tool("jbi_prevalence")
    yes = dict.fromkeys(tool.item_codes, "yes")
    assert tool.judge(yes)["overall"] == "low"
    assert tool.judge({**yes, "q1": "no", "q2": "unclear"})["overall"] == "low"  # 7/9
    assert tool.judge({**yes, "q1": "no", "q2": "no", "q3": "no"})["overall"] == "moderate"
    five_no = {**yes, **dict.fromkeys(["q1", "q2", "q3", "q4", "q5"], "no")}
    assert tool.judge(five_no)["overall"] == "high"  # 4/9 < 0.5
    # not applicable is left out of the share: 6 yes of 7 applicable
    na = {**yes, "q1": "not_applicable", "q2": "not_applicable", "q3": "no"}
    assert tool.judge(na)["overall"] == "low"
    assert tool.judge({k: v for k, v in yes.items() if k != "q9"})["overall"] is None


def test_own_domain_tool_rules(tmp_path):
    tool = load_tool(_tool_file(tmp_path))
    base = {"s1": "y", "s2": "py", "o1": "y", "o2": "y", "o3": "y"}
    assert tool.judge(base) == {"selection": "low", "outcome": "low", "overall": "low"}
    assert tool.judge({**base, "o2": "pn"})["outcome"] == "some_concerns"
    j = tool.judge({**base, "o2": "pn", "o3": "n"})
    assert j["outcome"] == "high" and j["overall"] == "high"
    j = tool.judge({**base, "s1": "ni"})
    assert j["selection"] == "some_concerns" and j["overall"] == "some_concerns"
    assert tool.judge({**base, "s1": "na", "s2": "na"})["selection"] is None  # nothing applies
    assert tool.judge({k: v for k, v in base.items() if k != "o3"})["outcome"] is None
    assert tool.guidance("s1") == ("Were all treated patients included?",)


# ------------------------------------------------------------------ hostile tool files
BAD_TOOLS = [
    (
        "undefined rule method",
        "  overall: {method: worst}",
        "  overall: {method: median}",
        "rule.overall.method",
        "a rule is one of",
    ),
    (
        "last band with a bound (undefined above it)",
        "- {judgement: high}",
        "- {max: 2, judgement: high}",
        "domains[1].rule.bands[2]",
        "last band",
    ),
    (
        "band in the middle without a bound",
        "- {max: 1, judgement: some_concerns}",
        "- {judgement: some_concerns}",
        "domains[1].rule.bands[1]",
        "exactly one of",
    ),
    (
        "count of a value that is not an answer",
        "values: [n, pn]",
        "values: [n, maybe]",
        "domains[1].rule.values[1]",
        "not a answer",
    ),
    (
        "band judgement that is not a level",
        "- {max: 0, judgement: low}",
        "- {max: 0, judgement: fine}",
        "domains[1].rule.bands[0].judgement",
        "not a level",
    ),
    (
        "answer mapped to an unknown level",
        "{code: ni, label: No information, judgement: some_concerns}",
        "{code: ni, label: No information, judgement: unknown}",
        "answers[4].judgement",
        "not a level",
    ),
    (
        "item in no domain",
        "items: [o1, o2, o3]",
        "items: [o1, o2]",
        "items[4].code",
        "in no domain",
    ),
    (
        "item in two domains",
        "items: [s1, s2]",
        "items: [s1, s2, o1]",
        "domains[1].items[0]",
        "already in domain",
    ),
    (
        "domain listing an unknown item",
        "items: [s1, s2]",
        "items: [s1, s2, s9]",
        "domains[0].items[2]",
        "not an item",
    ),
    (
        "duplicate item code",
        '{code: s2, text: "Same period for all?"}',
        '{code: s1, text: "Same period for all?"}',
        "items[1].code",
        "used twice",
    ),
    (
        "item coded 'overall'",
        '{code: o3, text: "Losses reported?"}',
        '{code: overall, text: "Losses reported?"}',
        "items[4].code",
        "reserved",
    ),
    ("unknown key", "name: A review's own tool", "nmae: x\nname: y", "nmae", "Additional"),
    ("wrong schema version", "schema_version: 1", "schema_version: 2", "schema_version", "1 was"),
    ("duplicate key", "name: A review's own tool", "name: a\nname: b", "name", "given twice"),
    (
        "shared keyboard key",
        "{code: py, label: Probably yes, judgement: low}",
        '{code: py, label: Probably yes, judgement: low, key: "a"}',
        "answers[1].key",
        "taken",
    ),
]


@pytest.mark.parametrize("why,old,new,column,message", BAD_TOOLS, ids=[b[0] for b in BAD_TOOLS])
def test_bad_tool_file_names_file_line_and_field(tmp_path, why, old, new, column, message):
    text = _replace(OWN_TOOL, old, new)
    path = _tool_file(tmp_path, text)
    with pytest.raises(ToolError, match=message) as ei:
        load_tool(path)
    err = ei.value
    assert err.path == str(path)
    assert err.column == column
    assert isinstance(err.row, int)
    # the line named is where the field is (or its nearest parent) in the file
    lines = text.splitlines()
    key = column.split(".")[-1].split("[")[0]
    assert key in lines[err.row - 1] or "- " in lines[err.row - 1], (err.row, lines[err.row - 1])


def test_unquoted_yes_no_gets_a_hint(tmp_path):
    path = _tool_file(tmp_path, _replace(OWN_TOOL, 'label: "No"', "label: No"))
    with pytest.raises(ToolError, match="put it in quotes") as ei:
        load_tool(path)
    assert ei.value.column == "answers[3].label" and ei.value.row == 12


def test_not_yaml_and_missing_file(tmp_path):
    path = _tool_file(tmp_path, "code: [unclosed\n")
    with pytest.raises(ToolError, match="not valid YAML") as ei:
        load_tool(path)
    assert ei.value.row == 2
    with pytest.raises(ToolError, match="file not found"):
        load_tool(tmp_path / "nope.yaml")
    with pytest.raises(
        ToolError, match=r"unknown tool 'jbi_prevalance'.*did you mean 'jbi_prevalence'"
    ):
        load_tool("jbi_prevalance")


def test_count_rule_of_domains_needs_domains():
    data = yaml.safe_load(TEMPLATES["jbi_prevalence"].read_text())
    data["rule"]["overall"]["of"] = "domains"
    with pytest.raises(ToolError, match="no domains") as ei:
        tool_from_mapping(data)
    assert ei.value.column == "rule.overall.of"


# ------------------------------------------------------------------ protocol block
def _protocol(tmp_path: Path, block: str) -> Path:
    text = MINIMAL_PROTOCOL.read_text(encoding="utf-8") + "\n" + textwrap.dedent(block)
    p = tmp_path / "protocol.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_protocol_names_a_template_or_the_reviews_own_tool(tmp_path):
    p = _protocol(tmp_path, "appraisal:\n  tool: jbi_prevalence\n  assessors: [A, B]\n")
    plan = appraisal_plan(load_protocol(p))
    assert plan.tool.code == "jbi_prevalence" and plan.assessors == ("A", "B")
    assert plan.high_risk == ("high",) and plan.require_support
    (tmp_path / "tools").mkdir()
    _tool_file(tmp_path / "tools", name="own.yaml")
    p = _protocol(
        tmp_path,
        "appraisal:\n  tool: tools/own.yaml\n  assessors: [A, B]\n"
        "  high_risk: [high, some_concerns]\n",
    )
    plan = appraisal_plan(load_protocol(p))
    assert plan.tool.code == "own_tool" and plan.high_risk == ("high", "some_concerns")


def test_assessors_default_to_the_screening_reviewers(tmp_path):
    p = _protocol(tmp_path, "appraisal:\n  tool: hoy2012\n")
    proto = load_protocol(p)
    assert proto.reviewers and appraisal_plan(proto).assessors == proto.reviewers


def test_protocol_rule_replaces_the_tools_and_is_validated_there(tmp_path):
    block = """\
    appraisal:
      tool: jbi_prevalence
      rule:
        overall:
          method: count
          values: ["no"]
          bands:
            - {max: 0, judgement: low}
            - {max: 2, judgement: moderate}
            - {judgement: high}
    """
    plan = appraisal_plan(load_protocol(_protocol(tmp_path, block)))
    assert plan.tool.overall.values == ("no",)
    yes = dict.fromkeys(plan.tool.item_codes, "yes")
    assert plan.tool.judge({**yes, "q1": "no"})["overall"] == "moderate"
    bad = block.replace('values: ["no"]', 'values: ["nope"]')
    path = _protocol(tmp_path, bad)
    with pytest.raises(ToolError, match="'nope' is not a answer") as ei:
        appraisal_plan(load_protocol(path))
    assert ei.value.path == str(path)
    assert ei.value.column == "appraisal.rule.overall.values[0]"
    assert "values" in path.read_text().splitlines()[ei.value.row - 1]
    undefined = block.replace("method: count", "method: vote")
    path = _protocol(tmp_path, undefined)
    with pytest.raises(ToolError, match="a rule is one of") as ei:
        appraisal_plan(load_protocol(path))
    assert ei.value.path == str(path) and ei.value.row is not None


def test_protocol_errors_name_the_protocol_line(tmp_path):
    path = _protocol(tmp_path, "appraisal:\n  tool: jbi_prevalance\n")
    with pytest.raises(ToolError, match="unknown tool") as ei:
        appraisal_plan(load_protocol(path))
    assert ei.value.path == str(path) and ei.value.column == "appraisal.tool"
    assert "jbi_prevalance" in path.read_text().splitlines()[ei.value.row - 1]
    path = _protocol(tmp_path, "appraisal:\n  tool: hoy2012\n  high_risk: [serious]\n")
    with pytest.raises(ProtocolError, match="'serious' is not a judgement") as ei:
        appraisal_plan(load_protocol(path))
    assert ei.value.column == "appraisal.high_risk[0]"
    path = _protocol(tmp_path, "appraisal:\n  tool: hoy2012\n  assessors: [A, consensus]\n")
    with pytest.raises(ProtocolError) as ei:
        load_protocol(path)
    assert ei.value.column == "appraisal.assessors"
    with pytest.raises(ProtocolError, match="no 'appraisal' block"):
        appraisal_plan(load_protocol(MINIMAL_PROTOCOL))


# ------------------------------------------------------------------ the log
@pytest.fixture
def tool(tmp_path):
    return load_tool(_tool_file(tmp_path))


@pytest.fixture
def log(tmp_path, tool):
    return AppraisalLog(
        tmp_path / "appraisal" / "log.jsonl",
        tool=tool,
        assessors=["A", "B"],
        studies=["smith2020", "jones2021", "lee2022"],
    )


def _answer_all(log, study, answer, reviewer, **over):
    for unit in log.tool.units():
        log.record(study, unit, over.get(unit, answer), reviewer=reviewer, note="test")


def test_record_writes_the_design_format(log):
    row = log.record(
        "smith2020", "s1", "y", reviewer="A", quote="all consecutive patients", location="Methods"
    )
    (obj,) = [json.loads(x) for x in log.path.read_text().splitlines()]
    assert list(obj) == [
        "seq",
        "study_id",
        "tool",
        "item",
        "reviewer",
        "answer",
        "quote",
        "location",
        "note",
        "timestamp",
    ]
    assert obj == row and obj["tool"] == "own_tool" and obj["seq"] == 1


BAD_ANSWERS = [
    ({"answer": "maybe"}, "answer", "not an option of item 's1'"),
    ({"study_id": "smith2021"}, "study_id", "not in the extraction.*did you mean 'smith2020'"),
    ({"reviewer": "C"}, "reviewer", "not an assessor of the protocol"),
    ({"item": "s9"}, "item", "not one of"),
    ({"item": "selection"}, "item", "derived by the tool's rule"),
    ({"item": "overall", "answer": "low"}, "item", "derived"),
    ({"quote": None, "note": None}, "quote", "needs its support"),
    ({"location": None, "note": None}, "location", "needs its location"),
    ({"quote": 12}, "quote", "must be text"),
]


@pytest.mark.parametrize(
    "change,column,message", BAD_ANSWERS, ids=[b[1] + "-" + b[2][:12] for b in BAD_ANSWERS]
)
def test_bad_answers_name_the_file_and_field_and_write_nothing(log, change, column, message):
    log.record("smith2020", "s1", "y", reviewer="A", note="first")
    before = log.path.read_bytes()
    kwargs = {
        "study_id": "smith2020",
        "item": "s1",
        "answer": "y",
        "reviewer": "B",
        "quote": "q",
        "location": "p. 2",
        "note": None,
    }
    kwargs.update(change)
    with pytest.raises(AppraisalError, match=message) as ei:
        log.record(kwargs.pop("study_id"), kwargs.pop("item"), kwargs.pop("answer"), **kwargs)
    assert ei.value.path == str(log.path) and ei.value.column == column
    assert "nothing was written" in str(ei.value)
    assert log.path.read_bytes() == before


def test_lone_surrogate_in_a_quote_is_refused(log):
    with pytest.raises(AppraisalError, match="lone surrogate"):
        log.record("smith2020", "s1", "y", reviewer="A", quote="x\ud800", location="p")
    assert log.path.read_bytes() == b""


def test_hand_edited_rows_are_refused_on_read_naming_line_and_field(log, tool):
    log.record("smith2020", "s1", "y", reviewer="A", note="n")
    good = json.loads(log.path.read_text())
    for change, field in (
        ({"answer": "maybe"}, "'answer'"),
        ({"item": "zz"}, "'item'"),
        ({"tool": "jbi_prevalence"}, "'tool'"),
        ({"quote": 3}, "'quote'"),
    ):
        bad = {**good, "seq": 2, **change}
        text = json.dumps(good) + "\n" + json.dumps(bad) + "\n"
        log.path.write_text(text)
        with pytest.raises(AppraisalLogError, match=rf"line 2: field {field}") as ei:
            AppraisalLog(log.path, tool=tool).answers()
        assert ei.value.path == str(log.path) and ei.value.line == 2


def test_validate_checks_studies_and_assessors_of_rows_written_elsewhere(tmp_path, tool):
    p = tmp_path / "log.jsonl"
    loose = AppraisalLog(p, tool=tool)  # no studies, no assessors given
    loose.record("smith2020", "s1", "y", reviewer="A", note="n")
    loose.record("ghost2019", "s1", "y", reviewer="Z", note="n")
    strict = AppraisalLog(p, tool=tool, assessors=["A", "B"], studies=["smith2020"])
    # the row's study is not in the extraction (set aside), but its reviewer is still checked
    with (
        pytest.warns(SetAsideWarning, match="study 'ghost2019' \\(line 2\\)"),
        pytest.raises(AppraisalLogError, match=r"line 2: field 'reviewer': reviewer 'Z'"),
    ):
        strict.validate()
    assert AppraisalLog(p, tool=tool).validate() == 2


def test_final_consensus_agreement_single_conflict(log):
    log.record("smith2020", "s1", "y", reviewer="A", note="n")
    log.record("smith2020", "s1", "y", reviewer="B", note="n")
    log.record("smith2020", "s2", "n", reviewer="A", note="n")
    log.record("smith2020", "s2", "py", reviewer="B", note="n")
    log.record("smith2020", "o1", "ni", reviewer="A", note="not reported")
    log.record("jones2021", "s1", "n", reviewer="A", note="n")
    log.record("jones2021", "s1", "y", reviewer="A", note="changed my mind")  # last word
    final = log.final().set_index(["study_id", "item"])
    assert final.loc[("smith2020", "s1"), "basis"] == "agreement"
    assert final.loc[("smith2020", "s2"), "basis"] == "conflict"
    assert pd.isna(final.loc[("smith2020", "s2"), "answer"])
    assert final.loc[("smith2020", "o1"), "basis"] == "single"
    assert final.loc[("jones2021", "s1"), "answer"] == "y"
    conflicts = log.conflicts()
    assert conflicts[["study_id", "item", "answer_A", "answer_B"]].values.tolist() == [
        ["smith2020", "s2", "n", "py"]
    ]
    log.resolve("smith2020", "s2", "pn", quote="most but not all", location="Table 1")
    final = log.final().set_index(["study_id", "item"])
    assert final.loc[("smith2020", "s2"), ["answer", "basis"]].tolist() == ["pn", "consensus"]
    assert final.loc[("smith2020", "s2"), "quote"] == "most but not all"
    assert log.conflicts().empty


def test_judgements_follow_the_rule_and_leave_gaps_missing(log):
    _answer_all(log, "smith2020", "y", "A")
    _answer_all(log, "jones2021", "y", "A", o2="n", o3="pn")
    _answer_all(log, "lee2022", "y", "A")
    log.record("lee2022", "s1", "n", reviewer="B", note="disagree")  # conflict on s1
    rob = log.judgements()
    t = rob.table.set_index("study_id")
    assert t.loc["smith2020", ["selection", "outcome", "overall"]].tolist() == ["low"] * 3
    assert t.loc["jones2021", "outcome"] == "high" and t.loc["jones2021", "overall"] == "high"
    assert pd.isna(t.loc["lee2022", "selection"]) and pd.isna(t.loc["lee2022", "overall"])
    assert rob.n_conflicts == 1
    assert rob.high_risk_studies() == ["jones2021"]
    overall = rob.overall()
    assert overall[["smith2020", "jones2021"]].tolist() == ["low", "high"]
    assert pd.isna(overall["lee2022"])
    counts = rob.counts().set_index(["column", "level"])["share"]
    assert counts[("overall", "low")] == pytest.approx(1 / 3)
    assert counts[("overall", "missing")] == pytest.approx(1 / 3)
    weighted = rob.counts({"smith2020": 3.0, "jones2021": 1.0}).set_index(["column", "level"])
    assert weighted.loc[("overall", "low"), "share"] == pytest.approx(0.75)
    assert "High risk (high): jones2021" in rob.summary()
    assert "<table" in rob._repr_html_()


def test_judged_overall_is_answered_with_a_level(tmp_path):
    log = AppraisalLog(tmp_path / "l.jsonl", tool=load_tool("hoy2012"), assessors=["A"])
    for it in log.tool.item_codes:
        log.record("s", it, "low", reviewer="A", note="n")
    assert pd.isna(log.judgements().table.loc[0, "overall"])  # not judged yet
    with pytest.raises(AppraisalError, match="not an option of item 'overall'"):
        log.record("s", "overall", "yes", reviewer="A", note="n")
    log.record("s", "overall", "moderate", reviewer="A", note="registry, one country")
    t = log.judgements().table
    assert t.loc[0, ["external", "internal", "overall"]].tolist() == ["low", "low", "moderate"]


# ------------------------------------------------------------------ agreement
def test_item_agreement_matches_sklearn_and_ac1_by_hand(tmp_path, tool):
    studies = [f"s{i}" for i in range(8)]
    log = AppraisalLog(tmp_path / "l.jsonl", tool=tool, assessors=["A", "B"], studies=studies)
    a = ["y", "y", "n", "y", "ni", "y", "n", "y"]
    b = ["y", "n", "n", "y", "y", "y", "n", "ni"]
    for s, x, y in zip(studies, a, b):
        log.record(s, "s1", x, reviewer="A", note="n")
        log.record(s, "s1", y, reviewer="B", note="n")
    log.record("s0", "s2", "y", reviewer="A", note="only A")
    res = agreement(log)
    row = res.table.set_index("item").loc["s1"]
    assert row["n_both"] == 8
    assert row["observed"] == pytest.approx(5 / 8)
    assert row["kappa"] == pytest.approx(cohen_kappa_score(a, b))
    # Gwet's AC1 by hand: pi_k = mean of the two raters' marginals over the item's 6 options
    cats = tool.answer_codes
    pi = [(a.count(c) + b.count(c)) / 16 for c in cats]
    pe = sum(p * (1 - p) for p in pi) / (len(cats) - 1)
    assert row["ac1"] == pytest.approx((5 / 8 - pe) / (1 - pe))
    assert res.table.set_index("item").loc["s2", "n_both"] == 0
    assert res.table.iloc[-1]["item"] == "all"
    with pytest.raises(OptionError, match="not an assessor"):
        agreement(log, ("A", "C"))


# ------------------------------------------------------------------ import from a spreadsheet
def test_import_is_all_or_nothing_and_names_csv_line_and_column(log, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(
        "study_id,item,reviewer,answer,quote,location,note\n"
        'smith2020,s1,A,y,"all consecutive, 2016-2022",Methods,\n'
        "smith2020,s2,A,ni,,,not reported\n",
        encoding="utf-8",
    )
    assert import_assessments(log, good) == 2
    assert log.final()["answer"].tolist() == ["y", "ni"]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "study_id,item,reviewer,answer,quote,location,note\n"
        "jones2021,s1,A,y,,,n\n"
        'jones2021,s2,A,"multi\nline",,,n\n'
        "jones2021,s2,A,maybe,,,n\n",
        encoding="utf-8",
    )
    before = log.path.read_bytes()
    with pytest.raises(AppraisalError, match="nothing was imported") as ei:
        import_assessments(log, bad)
    assert ei.value.path == str(bad) and ei.value.row == 4 and ei.value.column == "answer"
    assert log.path.read_bytes() == before
    header = tmp_path / "header.csv"
    header.write_text("study,item,reviewer,answer\n", encoding="utf-8")
    with pytest.raises(AppraisalError, match="required column") as ei:
        import_assessments(log, header)
    assert ei.value.row == 1 and ei.value.column == "study_id"


# ------------------------------------------------------------------ hostile files
@pytest.mark.parametrize(
    "text,message",
    [
        ("", "the file is empty"),
        ("   \n# only a comment\n", "the file is empty"),
        ("- a\n- b\n", "holds a list, not a mapping"),
        ("just text\n", "holds a str, not a mapping"),
        ("a: [" * 3000 + "]" * 3000, "nested too deeply|not valid YAML"),
        ("code: \x00\x01\n", "not valid YAML"),
    ],
    ids=["empty", "comment-only", "list", "scalar", "deep", "control-chars"],
)
def test_hostile_tool_files_are_refused_with_the_file_named(tmp_path, text, message):
    path = _tool_file(tmp_path, text)
    with pytest.raises(ToolError, match=message) as ei:
        load_tool(path)
    assert ei.value.path == str(path)


def test_tool_file_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(OWN_TOOL.replace("A review's own tool", "Outil évalué").encode("latin-1"))
    with pytest.raises(ToolError, match="cannot be read") as ei:
        load_tool(path)
    assert ei.value.path == str(path)


def test_semicolon_csv_gets_a_hint(log, tmp_path):
    p = tmp_path / "semi.csv"
    p.write_text("study_id;item;reviewer;answer;quote;location;note\n", encoding="utf-8")
    with pytest.raises(AppraisalError, match="another delimiter"):
        import_assessments(log, p)


def test_studies_removed_from_the_extraction_later_do_not_break_reading(tmp_path, tool):
    p = tmp_path / "l.jsonl"
    old = AppraisalLog(p, tool=tool, studies=["s1", "s2"], require_support=False)
    for it in tool.units():
        old.record("s1", it, "y", reviewer="A")
        old.record("s2", it, "y", reviewer="A")
    new = AppraisalLog(p, tool=tool, studies=["s2", "s3"], require_support=False)
    with pytest.warns(SetAsideWarning, match="study 's1'"):
        rob = new.judgements()
    assert rob.table["study_id"].tolist() == ["s2", "s3"]
    assert rob.unjudged() == ["s3"] and "Not yet judged: s3" in rob.summary()
    assert new.validate() == 2 * len(tool.units())


# ------------------------------------------------------------------ studies excluded later
def _two_pass_log(path, tool, studies):
    log = AppraisalLog(path, tool=tool, assessors=["A", "B"], studies=studies)
    for sid in studies:
        for it in tool.item_codes:
            log.record(sid, it, "y", reviewer="A", note="pass A")
            # the passes differ on s1 of the study that will be excluded only
            ans = "n" if (sid == "gone2019" and it == "s1") else "y"
            log.record(sid, it, ans, reviewer="B", note="pass B")
    return log


def test_answers_on_a_study_excluded_later_are_kept_and_set_aside_with_a_warning(tmp_path, tool):
    p = tmp_path / "log.jsonl"
    _two_pass_log(p, tool, ["smith2020", "gone2019", "jones2021"])
    before = p.read_bytes()
    n_rows = len(before.splitlines())
    # the amended extraction no longer has gone2019
    log = AppraisalLog(p, tool=tool, assessors=["A", "B"], studies=["smith2020", "jones2021"])
    with pytest.warns(SetAsideWarning) as caught:
        assert log.validate() == n_rows  # every row still checked, none refused
    (w,) = [x for x in caught if issubclass(x.category, SetAsideWarning)]
    message = str(w.message)
    # names the file, the study, its lines, and why
    assert str(p) in message and "'gone2019'" in message and "not in the extraction" in message
    gone_lines = [
        i for i, line in enumerate(before.decode().splitlines(), 1) if '"gone2019"' in line
    ]
    assert len(gone_lines) == 10
    assert f"lines {gone_lines[0]}-{gone_lines[-1]}" in message
    # listed, line by line
    aside = log.set_aside()
    assert aside["line"].tolist() == gone_lines
    assert set(aside["study_id"]) == {"gone2019"} and set(aside["reason"]) == {
        "not in the extraction"
    }
    assert log.set_aside_studies() == ["gone2019"]
    # left out of what follows from the log: no conflict, agreement on the kept studies only
    assert "gone2019" not in set(log.final()["study_id"])
    assert log.conflicts().empty  # the disagreement was on gone2019
    assert "gone2019" not in set(log.current()["study_id"])
    assert log.progress()["study_id"].tolist() == ["smith2020", "jones2021"]
    assert agreement(log).table.set_index("item").loc["all", "n_both"] == 2 * 5
    rob = log.judgements()
    assert rob.table["study_id"].tolist() == ["smith2020", "jones2021"]
    assert any("gone2019" in n for n in rob.notes) and "gone2019" in rob.summary()
    # ... but never lost: the raw log still has every row, and the file is untouched
    assert len(log.answers()) == n_rows
    assert p.read_bytes() == before
    # the warning is said once per log, not at every read
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SetAsideWarning)
        log.final()
        log.judgements()
    # back in the extraction, its answers count again (nothing was rewritten)
    back = AppraisalLog(p, tool=tool, studies=["smith2020", "gone2019", "jones2021"])
    assert back.set_aside().empty
    assert back.conflicts()[["study_id", "item"]].values.tolist() == [["gone2019", "s1"]]


def test_a_new_answer_on_a_study_not_in_the_extraction_is_refused_naming_file_line_field(
    tmp_path, tool
):
    p = tmp_path / "log.jsonl"
    _two_pass_log(p, tool, ["smith2020", "gone2019"])
    before = p.read_bytes()
    log = AppraisalLog(p, tool=tool, assessors=["A", "B"], studies=["smith2020"])
    n = len(before.splitlines())
    for reviewer in ("A", "consensus"):
        with pytest.raises(AppraisalError, match="'gone2019' is not in the extraction") as ei:
            log.record("gone2019", "s1", "y", reviewer=reviewer, note="late answer")
        assert ei.value.path == str(p) and ei.value.column == "study_id"
        assert ei.value.row == n + 1 and "nothing was written" in str(ei.value)
        assert p.read_bytes() == before
    # and through an import: the CSV's line, nothing imported
    csv_path = tmp_path / "more.csv"
    csv_path.write_text(
        "study_id,item,reviewer,answer,quote,location,note\n"
        "smith2020,s1,A,y,,,fine\n"
        "gone2019,s2,A,y,,,late\n",
        encoding="utf-8",
    )
    with pytest.raises(AppraisalError, match="not in the extraction") as ei:
        import_assessments(log, csv_path)
    assert ei.value.path == str(csv_path) and ei.value.row == 3
    assert ei.value.column == "study_id"
    assert p.read_bytes() == before


def test_a_log_without_studies_sets_nothing_aside(tmp_path, tool):
    p = tmp_path / "log.jsonl"
    _two_pass_log(p, tool, ["smith2020", "gone2019"])
    loose = AppraisalLog(p, tool=tool)
    assert loose.set_aside().empty and loose.set_aside_studies() == []
    assert set(loose.final()["study_id"]) == {"smith2020", "gone2019"}
