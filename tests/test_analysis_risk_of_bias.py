"""Risk of bias as a covariate of the protocol-driven analyses (``from: appraisal``).

A small review of its own (its own three-level tool, its own codes) is written here: the
protocol declares a covariate whose values are each study's overall judgement from the
appraisal log; the analyses join it, and the ordinary mechanisms (subgroups, exclusion sets,
strata) use it. The worked example's tables show the new rows.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from review.analysis import appraisal_covariates, run_analyses, run_sensitivity
from review.appraisal import AppraisalLog, load_tool
from review.errors import ExtractionError, ProtocolError, StageNotReached
from review.extraction import read_extraction
from review.meta import pool_proportions, refit, subgroups
from review.protocol import load_protocol

TOOL = textwrap.dedent(
    """\
    schema_version: 1
    code: mini
    name: A two-item tool
    judgements:
      - {code: fine, label: Fine}
      - {code: doubtful, label: Doubtful}
      - {code: poor, label: Poor}
    answers:
      - {code: ok, label: OK, judgement: fine}
      - {code: maybe, label: Maybe, judgement: doubtful}
      - {code: bad, label: Bad, judgement: poor}
    items:
      - {code: i1, text: "Sample?"}
      - {code: i2, text: "Outcome?"}
    rule:
      overall: worst
    """
)

COVARIATE: dict[str, Any] = {
    "code": "rob",
    "label": "Risk of bias",
    "type": "categorical",
    "from": "appraisal",
    "values": [
        {"code": "fine", "label": "Fine"},
        {"code": "doubtful", "label": "Doubtful"},
        {"code": "poor", "label": "Poor"},
    ],
}

PROTOCOL: dict[str, Any] = {
    "schema_version": 2,
    "title": "Falls after discharge",
    "question": "What proportion of patients fall within a year of discharge?",
    "eligibility": {"include": ["Cohorts"], "exclude": ["Reviews"]},
    "exclusion_reasons": [{"code": "wrong_design", "label": "Not a cohort"}],
    "databases": [{"name": "PubMed", "query": "falls AND discharge"}],
    "extraction": {"folder": "extraction"},
    "appraisal": {"tool": "tools/mini.yaml", "assessors": ["A", "B"], "high_risk": ["poor"]},
    "fields": [
        {"code": "n_seen", "label": "Patients", "type": "count"},
        {"code": "falls", "label": "Patients who fell", "type": "count"},
    ],
    "outcomes": [
        {"code": "fall", "label": "Fall", "kind": "proportion", "events": "falls",
         "counts": "patients", "denominator": "n_seen", "primary": True},
    ],
    "covariates": [
        {"code": "centre", "label": "Study of a stratum", "type": "text"},
        COVARIATE,
    ],
    "analyses": [
        {
            "code": "main",
            "label": "Falls (REML)",
            "outcome": "fall",
            "model": {"measure": "PLO", "method": "REML"},
            "subgroups": ["rob"],
            "sensitivity": {
                "exclude_sets": [
                    {"code": "no_poor", "label": "Without poor studies",
                     "where": {"column": "rob", "in": ["poor"]}},
                ],
            },
        },
        {
            "code": "by_study",
            "label": "Falls, strata pooled (REML)",
            "outcome": "fall",
            "strata": "centre",
            "model": {"measure": "PLO", "method": "REML"},
            "sensitivity": {
                "exclude_sets": [
                    {"code": "no_poor", "label": "Without poor studies",
                     "where": {"column": "rob", "in": ["poor"]}},
                ],
            },
        },
    ],
}  # fmt: skip

STUDIES = """study_id,label,pmid,centre
s1,Abel 2010,201,
s2,Bond 2011,202,
s3,Cruz 2012,203,
s4,Dunn 2013,204,
s5a,Eno 2014 (ward A),205,Eno 2014
s5b,Eno 2014 (ward B),205,Eno 2014
s6,Ford 2015,206,
s7,Gale 2016,207,
"""
COUNTS = {
    "s1": (200, 20), "s2": (150, 12), "s3": (90, 18), "s4": (300, 24),
    "s5a": (80, 6), "s5b": (70, 9), "s6": (120, 10), "s7": (110, 14),
}  # fmt: skip

#: study -> (A's answers, B's answers), consensus where they differ unless named in CONFLICT
ANSWERS = {
    "s1": (("ok", "ok"), ("ok", "ok")),  # fine
    "s2": (("ok", "ok"), ("ok", "maybe")),  # consensus ok -> fine
    "s3": (("bad", "ok"), ("bad", "ok")),  # poor
    "s4": (("maybe", "ok"), ("maybe", "ok")),  # doubtful
    "s5a": (("ok", "ok"), ("ok", "ok")),  # fine
    "s5b": (("bad", "ok"), ("bad", "ok")),  # poor: the study Eno 2014 takes the worst
    "s7": (("ok", "bad"), ("ok", "ok")),  # conflict on i2, no consensus
}  # s6 is not assessed
CONFLICT = {("s7", "i2")}


def _write_review(root: Path, protocol: dict[str, Any] = PROTOCOL, log: bool = True) -> Path:
    (root / "tools").mkdir(parents=True, exist_ok=True)
    (root / "tools" / "mini.yaml").write_text(TOOL, encoding="utf-8")
    (root / "protocol.yaml").write_text(yaml.safe_dump(protocol, sort_keys=False), encoding="utf-8")
    ex = root / "extraction"
    ex.mkdir(exist_ok=True)
    (ex / "studies.csv").write_text(STUDIES, encoding="utf-8")
    lines = ["study_id,field,value,pmid,location,note"]
    for sid, (n, x) in COUNTS.items():
        pmid = STUDIES.split(sid + ",", 1)[1].split(",")[1]
        lines += [f"{sid},n_seen,{n},{pmid},Table 1,", f"{sid},falls,{x},{pmid},Table 2,"]
    (ex / "outcomes.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if log:
        tool = load_tool(root / "tools" / "mini.yaml")
        alog = AppraisalLog(
            root / "appraisal" / "log.jsonl",
            tool=tool,
            assessors=["A", "B"],
            studies=list(COUNTS),
            require_support=False,
        )
        for sid, (a, b) in ANSWERS.items():
            for item, x, y in zip(("i1", "i2"), a, b):
                alog.record(sid, item, x, reviewer="A")
                alog.record(sid, item, y, reviewer="B")
                if x != y and (sid, item) not in CONFLICT:
                    alog.resolve(sid, item, x)
    return root


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_review(tmp_path_factory.mktemp("falls-review"))


@pytest.fixture(scope="module")
def results(review: Path) -> Any:
    ex = read_extraction(review / "extraction")
    return run_analyses(ex.protocol, ex)


# ------------------------------------------------------------------ the join
def test_the_join_gives_each_study_its_overall_judgement_or_says_why_not(review: Path) -> None:
    ex = read_extraction(review / "extraction")
    assert "rob" not in ex.studies.columns  # not a column of studies.csv
    before = (review / "appraisal" / "log.jsonl").read_bytes()
    got = appraisal_covariates(ex.protocol, ex).set_index("study_id")
    assert list(got.index) == list(COUNTS)
    expected = {"s1": "fine", "s2": "fine", "s3": "poor", "s4": "doubtful", "s5a": "fine",
                "s5b": "poor"}  # fmt: skip
    assert got["rob"].dropna().to_dict() == expected
    assert got.loc["s6", "why_missing"] == "not assessed"
    assert got.loc["s7", "why_missing"] == "conflict on i2 (no consensus yet)"
    assert got.loc[list(expected), "why_missing"].isna().all()
    # the log is read, never written
    assert (review / "appraisal" / "log.jsonl").read_bytes() == before


def test_an_incompletely_answered_study_says_how_far_it_got(tmp_path: Path) -> None:
    root = _write_review(tmp_path)
    tool = load_tool(root / "tools" / "mini.yaml")
    AppraisalLog(
        root / "appraisal" / "log.jsonl", tool=tool, studies=list(COUNTS), require_support=False
    ).record("s6", "i1", "ok", reviewer="A")
    ex = read_extraction(root / "extraction")
    got = appraisal_covariates(ex.protocol, ex).set_index("study_id")
    assert got.loc["s6", "why_missing"] == "incomplete: 1 of 2 items answered"


def test_without_a_log_no_study_is_judged_and_no_file_is_created(tmp_path: Path) -> None:
    root = _write_review(tmp_path, log=False)
    ex = read_extraction(root / "extraction")
    got = appraisal_covariates(ex.protocol, ex)
    assert got["rob"].isna().all()
    assert set(got["why_missing"]) == {"not assessed (no appraisal log yet)"}
    res = run_analyses(ex.protocol, ex)["main"]
    assert any("no overall judgement for Abel 2010 (not assessed" in n for n in res.notes)
    assert not (root / "appraisal").exists()


# ------------------------------------------------------------------ the analyses
def test_subgroups_by_the_judgement_match_the_engine_and_name_the_unjudged(results: Any) -> None:
    r = results["main"]
    row = r.subgroup_tests.set_index("by").loc["rob"]
    assert row["k_per_group"] == "Doubtful: 1; Fine: 3; Poor: 2"
    # the engine's own subgroup analysis on the judged studies gives the same test
    data = r.pooled.data
    judged = data[data["rob"].notna()].copy()
    judged["rob"] = judged["rob"].map({"fine": "Fine", "doubtful": "Doubtful", "poor": "Poor"})
    direct = subgroups(refit(r.pooled, judged), by="rob")
    assert row["q_between"] == pytest.approx(direct.q_between, rel=1e-10)
    # the studies without a judgement are named, with why
    (note,) = [n for n in r.notes if n.startswith("rob (from the appraisal)")]
    assert "Ford 2015 (not assessed)" in note
    assert "Gale 2016 (conflict on i2 (no consensus yet))" in note


def test_the_exclusion_set_leaves_out_the_high_risk_studies_and_keeps_the_unjudged(
    results: Any,
) -> None:
    sens = run_sensitivity(results)
    t = sens.exclusion_table().set_index(["analysis", "set"])
    row = t.loc[("main", "no_poor")]
    assert row["excluded"] == "Cruz 2012, Eno 2014 (ward B)"
    assert row["k"] == len(COUNTS) - 2
    assert "kept, no value of rob: Ford 2015, Gale 2016" in row["note"]
    kept = [s for s in COUNTS if s not in ("s3", "s5b")]
    direct = pool_proportions(
        pd.DataFrame({"x": [COUNTS[s][1] for s in kept], "n": [COUNTS[s][0] for s in kept]}),
        events="x",
        n="n",
        measure="PLO",
        method="REML",
    )
    assert row["estimate"] == pytest.approx(direct.estimate, rel=1e-8)


def test_strata_of_one_study_take_the_worst_judgement(results: Any) -> None:
    r = results["by_study"]
    data = r.pooled.data.set_index("label")
    assert data.loc["Eno 2014", "rob"] == "poor"
    assert any(
        "Eno 2014: rob differs between its strata" in n and "takes the worst, poor" in n
        for n in r.notes
    )
    sens = run_sensitivity(results)
    row = sens.exclusion_table().set_index(["analysis", "set"]).loc[("by_study", "no_poor")]
    assert row["excluded"] == "Cruz 2012, Eno 2014"


def test_a_judgement_already_joined_is_used_as_given(review: Path) -> None:
    ex = read_extraction(review / "extraction")
    studies = ex.studies.copy()
    studies["rob"] = "fine"
    import dataclasses

    res = run_analyses(ex.protocol, dataclasses.replace(ex, studies=studies))["main"]
    assert res.subgroup_tests.set_index("by").loc["rob", "k_per_group"] == "Fine: 8"


# ------------------------------------------------------------------ errors
def _protocol_with(**cov: Any) -> dict[str, Any]:
    p = copy.deepcopy(PROTOCOL)
    p["covariates"][1] = {**COVARIATE, **cov}
    return p


def test_values_that_are_not_the_tools_levels_name_the_protocol_line(tmp_path: Path) -> None:
    values = [{"code": "fine", "label": "Fine"}, {"code": "poor", "label": "Poor"},
              {"code": "doubtful", "label": "Doubtful"}]  # fmt: skip
    root = _write_review(tmp_path, _protocol_with(values=values))
    ex = read_extraction(root / "extraction")
    with pytest.raises(ProtocolError, match=r"levels of tool 'mini'.*\['fine', 'doubtful'") as ei:
        run_analyses(ex.protocol, ex)
    err = ei.value
    assert err.path == str(root / "protocol.yaml") and err.column == "covariates[1].values"
    text = (root / "protocol.yaml").read_text(encoding="utf-8").splitlines()
    # the line named is the values list (its key, or its first entry)
    assert "values" in text[err.row - 1] or "values" in text[err.row - 2]


@pytest.mark.parametrize(
    "change,column,message",
    [
        ({"type": "text", "values": None}, "covariates[1].type", "its type is categorical"),
        ({"from": "elsewhere"}, "covariates[1].from", "elsewhere"),
    ],
)
def test_bad_declarations_are_refused_on_load(tmp_path, change, column, message) -> None:
    cov = {k: v for k, v in {**COVARIATE, **change}.items() if v is not None}
    p = copy.deepcopy(PROTOCOL)
    p["covariates"][1] = cov
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(p, sort_keys=False), encoding="utf-8")
    with pytest.raises(ProtocolError, match=message) as ei:
        load_protocol(path)
    assert ei.value.column == column and ei.value.row is not None


def test_a_covariate_from_the_appraisal_needs_an_appraisal_block(tmp_path: Path) -> None:
    p = copy.deepcopy(PROTOCOL)
    del p["appraisal"]
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(p, sort_keys=False), encoding="utf-8")
    with pytest.raises(ProtocolError, match="no 'appraisal' block") as ei:
        load_protocol(path)
    assert ei.value.column == "covariates[1].from"


def test_a_studies_column_for_a_covariate_from_the_appraisal_is_refused(tmp_path: Path) -> None:
    root = _write_review(tmp_path)
    path = root / "extraction" / "studies.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join([lines[0] + ",rob", *(x + ",fine" for x in lines[1:])]) + "\n", encoding="utf-8"
    )
    with pytest.raises(ExtractionError, match="from the appraisal") as ei:
        read_extraction(root / "extraction")
    assert ei.value.column == "rob" and ei.value.row == 1


def test_a_required_judgement_stops_the_analyses_naming_the_studies(tmp_path: Path) -> None:
    root = _write_review(tmp_path, _protocol_with(required=True))
    ex = read_extraction(root / "extraction")
    with pytest.raises(StageNotReached, match="Ford 2015 \\(not assessed\\)") as ei:
        run_analyses(ex.protocol, ex)
    assert "Gale 2016 (conflict on i2" in str(ei.value) and ei.value.stage == "appraisal"


def test_the_appraisal_never_imports_the_analyses() -> None:
    import review.appraisal

    source = Path(review.appraisal.__file__).read_text(encoding="utf-8")
    assert "review.analysis" not in source and "review.meta" not in source


# ------------------------------------------------------------------ the worked example
def test_the_worked_example_pools_by_risk_of_bias_and_without_high_risk() -> None:
    from review.paths import ReviewPaths, example_review_dir

    paths = ReviewPaths(example_review_dir())
    ex = read_extraction(paths.extraction)
    results = run_analyses(ex.protocol, ex)
    tests = results.subgroup_table()
    row = tests[(tests["by"] == "risk_of_bias") & (tests["analysis"] == "any_spm")]
    assert len(row) == 1 and row["groups"].iloc[0] == 2
    rob = appraisal_covariates(ex.protocol, ex).set_index("study_id")["risk_of_bias"]
    used = results["any_spm"].pooled.data["study_id"]
    high = [s for s in used if rob[s] == "high"]
    assert len(high) >= 1
    sens = run_sensitivity(results)
    t = sens.exclusion_table()
    row = t[(t["analysis"] == "any_spm") & (t["set"] == "without_high_risk")].iloc[0]
    labels = dict(zip(ex.studies["study_id"], ex.studies["label"]))
    assert row["excluded"] == ", ".join(labels[s] for s in used if s in high)
    assert row["k"] == len(used) - len(high)
    robust = sens.robustness_table()
    assert "without_high_risk" in set(robust["choice"])
