"""Declared choices of an analysis, on a review that is not the worked example.

A small review of delirium after hip-fracture surgery: strata of one study pooled into one
row (k counts studies), groups that mix the others left out of subgroup tests, an overlap
map and the exclusion set it drives, person-time exclusion, alternative analyses, and the
robustness table and figure that show every choice. Each number is checked against the
engine's own call on the studies it should use.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import matplotlib.text
import pandas as pd
import pytest
import yaml

from review.analysis import AnalysisSet, SensitivitySet, run_analyses, run_sensitivity
from review.errors import ExtractionError, ProtocolError
from review.extraction import read_extraction, read_overlap
from review.meta import pool_proportions
from review.plots import robustness_plot
from review.plots.analyses import sensitivity_figures
from review.protocol import protocol_from_mapping

PROTOCOL: dict[str, Any] = {
    "schema_version": 2,
    "title": "Delirium after hip-fracture surgery",
    "question": "What proportion of older adults develop delirium after hip-fracture surgery?",
    "eligibility": {"include": ["Cohorts of hip-fracture surgery"], "exclude": ["Elective"]},
    "exclusion_reasons": [{"code": "elective", "label": "Elective surgery"}],
    "databases": [{"name": "PubMed", "query": "hip fracture AND delirium"}],
    "extraction": {"folder": "extraction"},
    "fields": [
        {"code": "n_pat", "label": "Patients", "type": "count"},
        {"code": "delirium", "label": "Patients with delirium", "type": "count"},
        {"code": "delirium_any", "label": "Patients with delirium or subsyndromal delirium",
         "type": "count"},
        {"code": "fu_days", "label": "Follow-up", "type": "number", "unit": "days"},
        {"code": "person_years", "label": "Person-years", "type": "person_time",
         "unit": "person-years",
         "derived": {"rule": "count_times_duration", "count": "n_pat", "duration": "fu_days",
                     "label": "N x follow-up"}},
    ],
    "outcomes": [
        {"code": "del", "label": "Delirium", "kind": "proportion", "events": "delirium",
         "counts": "patients", "denominator": "n_pat", "primary": True},
        {"code": "del_any", "label": "Delirium, wide definition", "kind": "proportion",
         "events": "delirium_any", "counts": "patients", "denominator": "n_pat"},
        {"code": "del_rate", "label": "Delirium per person-time", "kind": "rate",
         "events": "delirium", "counts": "patients", "time": "person_years"},
    ],
    "covariates": [
        {"code": "study", "label": "Study of a stratum", "type": "text"},
        {"code": "anaesthesia", "label": "Anaesthesia", "type": "categorical", "required": True,
         "values": ["general", "spinal",
                    {"code": "both", "label": "General and spinal (not split)",
                     "compare": False}]},
    ],
    "analyses": [
        {"code": "main", "label": "Delirium (GLMM)", "outcome": "del", "strata": "study",
         "model": {"measure": "PLO", "method": "GLMM"}, "subgroups": ["anaesthesia"],
         "sensitivity": {
             "alternatives": ["wide", "strata_rows"],
             "exclude_sets": [
                 {"code": "no_overlap", "label": "Possible overlaps removed",
                  "overlap": ["possible"]},
                 {"code": "spinal_out", "label": "Without spinal",
                  "where": {"column": "anaesthesia", "in": ["spinal"]}},
             ]}},
        {"code": "wide", "label": "Delirium, wide definition (GLMM)", "outcome": "del_any",
         "strata": "study", "model": {"measure": "PLO", "method": "GLMM"}},
        {"code": "strata_rows", "label": "Strata as studies", "outcome": "del",
         "model": {"measure": "PLO", "method": "GLMM"}},
        {"code": "rate", "label": "Delirium per person-year", "outcome": "del_rate",
         "model": {"measure": "IRLN", "method": "REML"},
         "sensitivity": {"exclude_sets": [
             {"code": "reported", "label": "Reported person-time only",
              "where": {"column": "time_source", "in": ["N x follow-up"]}}]}},
    ],
}  # fmt: skip

STUDIES = """study_id,label,pmid,study,anaesthesia
a,Ames 2015,101,,general
b,Baker 2016,102,,spinal
c,Cole 2017,103,,both
d,Diaz 2018,104,,general
r_gen,Reg 2020 (general),105,Reg 2020,general
r_spi,Reg 2020 (spinal),105,Reg 2020,spinal
p_one,Part 2021 (one),106,Part 2021,general
p_two,Part 2021 (two),106,Part 2021,spinal
"""

# study, n, delirium, delirium_any, follow-up days (None: not given)
ROWS = [
    ("a", 120, 20, 30, 30), ("b", 300, 45, 60, 30), ("c", 90, 12, 15, None),
    ("d", 210, 38, 50, 30), ("r_gen", 400, 60, 70, 30), ("r_spi", 250, 30, 41, 30),
    ("p_one", 80, 9, 12, None), ("p_two", 70, None, None, None),
]  # fmt: skip

OVERLAP = """study_id,overlaps_with,relation,evidence,source_url
a,r_gen,possible,"Ames's centre may be a registry centre, not listed",https://example.org/a
Old 2010 (not in the review),d,same_cohort,Earlier report of Diaz's cohort,https://example.org/d
"""


def _outcomes() -> str:
    lines = ["study_id,field,value,pmid,location,note"]
    pmid = dict(zip("a b c d r_gen r_spi p_one p_two".split(), [101, 102, 103, 104, 105, 105,
                                                                106, 106]))  # fmt: skip
    for sid, n, x, y, fu in ROWS:
        for field, v in (("n_pat", n), ("delirium", x), ("delirium_any", y), ("fu_days", fu)):
            if v is not None:
                lines.append(f"{sid},{field},{v},{pmid[sid]},Table 1,")
    lines.append("b,person_years,26.5,102,Table 2,")
    return "\n".join(lines) + "\n"


def _write(root: Path, protocol: dict[str, Any] = PROTOCOL, overlap: str = OVERLAP) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "protocol.yaml").write_text(yaml.safe_dump(protocol, sort_keys=False), "utf-8")
    ex = root / "extraction"
    ex.mkdir(exist_ok=True)
    (ex / "studies.csv").write_text(STUDIES, encoding="utf-8")
    (ex / "outcomes.csv").write_text(_outcomes(), encoding="utf-8")
    if overlap:
        (ex / "overlap.csv").write_text(overlap, encoding="utf-8")
    return ex


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> AnalysisSet:
    ex = read_extraction(_write(tmp_path_factory.mktemp("delirium")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_analyses(ex.protocol, ex)


@pytest.fixture(scope="module")
def sens(results: AnalysisSet) -> SensitivitySet:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_sensitivity(results)


def _glmm(rows: list[tuple[str, int, int]]) -> Any:
    df = pd.DataFrame(rows, columns=["label", "n", "events"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pool_proportions(df, events="events", n="n", measure="PLO", method="GLMM",
                                label="label")  # fmt: skip


MAIN = [("Ames 2015", 120, 20), ("Baker 2016", 300, 45), ("Cole 2017", 90, 12),
        ("Diaz 2018", 210, 38), ("Reg 2020", 650, 90)]  # fmt: skip


def test_strata_of_one_study_are_one_row_and_k_counts_studies(results: AnalysisSet) -> None:
    r = results["main"]
    data = r.pooled.data.set_index("label")
    assert r.pooled.k == 5  # 4 studies + the registry; the 2-stratum study reports only one
    assert (data.loc["Reg 2020", "events"], data.loc["Reg 2020", "n"]) == (90, 650)
    # strata differing in a covariate: the study has no value for it
    assert pd.isna(data.loc["Reg 2020", "anaesthesia"])
    want = _glmm(MAIN)
    assert r.pooled.estimate == want.estimate and r.pooled.tau2 == want.tau2
    notes = " ".join(r.notes)
    assert "Reg 2020: 2 strata" in notes and "(90 / 650)" in notes
    assert "Part 2021: left out, only some of its strata report" in notes
    studies = r.studies.set_index("label")
    assert studies.loc["Part 2021", "reason"] == "left out: only some of its strata report it"
    # without strata: each stratum a row
    assert results["strata_rows"].pooled.k == 7


def test_a_mixed_group_is_named_not_compared_and_k_per_group_shown(results: AnalysisSet) -> None:
    t = results["main"].subgroup_tests.set_index("by").loc["anaesthesia"]
    assert t["groups"] == 2 and t["k_per_group"] == "general: 2; spinal: 1"
    assert "one study only in spinal" in t["note"]
    notes = " ".join(results["main"].notes)
    assert "General and spinal (not split) (1 study: Cole 2017) not compared" in notes
    assert "left out, no value: Reg 2020" in notes
    sub = results["main"].subgroups["anaesthesia"]
    assert set(sub.groups) == {"general", "spinal"}


def test_overlap_exclusion_drops_the_named_study_of_each_linked_pair(sens: SensitivitySet) -> None:
    ex = sens["main"].exclusions.set_index("set")
    assert ex.loc["no_overlap", "excluded"] == "Ames 2015" and ex.loc["no_overlap", "k"] == 4
    want = _glmm([m for m in MAIN if m[0] != "Ames 2015"])
    assert ex.loc["no_overlap", "estimate"] == pytest.approx(want.estimate, rel=1e-10)


def test_overlap_links_within_an_analysis_are_noted(results: AnalysisSet) -> None:
    notes = " ".join(results["main"].notes)
    assert "a and Reg 2020 may share patients" in notes
    # a link to a report outside the review documents, and changes nothing
    assert "Old 2010" not in notes


def test_reported_person_time_only_may_leave_nothing_to_pool(sens: SensitivitySet) -> None:
    row = sens["rate"].exclusions.iloc[0]
    assert row["k"] == 1 and "Baker 2016" not in row["excluded"]
    assert "not fitted" in row["note"]


def test_robustness_table_has_every_declared_choice(sens: SensitivitySet) -> None:
    rob = sens["main"].robustness.set_index("choice")
    assert list(rob.index) == ["main", "no_overlap", "spinal_out", "wide", "strata_rows"]
    assert rob.loc["main", "k"] == 5 and rob.loc["main", "left_out"] == ""
    assert rob.loc["spinal_out", "left_out"] == "Baker 2016"
    assert rob.loc["wide", "estimate"] == sens.analyses["wide"].pooled.estimate
    assert rob.loc["strata_rows", "left_out"] == "Reg 2020"
    added = "Reg 2020 (general), Reg 2020 (spinal), Part 2021 (one)"
    assert rob.loc["strata_rows", "added"] == added
    table = sens.robustness_table()
    assert len(table) == len(rob) + len(sens["rate"].robustness)
    assert set(table["analysis"]) == {"main", "rate"}


def test_robustness_plot_rows_name_what_they_leave_out(sens: SensitivitySet) -> None:
    fig = robustness_plot(sens["main"], title="Delirium: each choice")
    texts = {t.get_gid(): t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_gid()}
    assert texts["k:choice:0"] == "5"
    assert "left out: Ames 2015" in texts["label:choice:1"].replace("\n", " ")
    assert texts["est:choice:0"] == f"{100 * sens['main'].result.pooled.estimate:.1f}"
    drawn, _ = sensitivity_figures(sens)
    assert "robustness_main" in drawn and "robustness_rate" in drawn


def test_bad_declarations_name_their_field(tmp_path: Path) -> None:
    bad = copy.deepcopy(PROTOCOL)
    bad["analyses"][0]["strata"] = "nope"
    with pytest.raises(ProtocolError) as ei:
        protocol_from_mapping(bad)
    assert ei.value.column == "analyses[0].strata"
    bad = copy.deepcopy(PROTOCOL)
    bad["analyses"][0]["sensitivity"]["alternatives"] = ["main"]
    with pytest.raises(ProtocolError, match="not another declared analysis"):
        protocol_from_mapping(bad)
    bad = copy.deepcopy(PROTOCOL)
    bad["analyses"][0]["sensitivity"]["alternatives"] = ["rate"]
    with pytest.raises(ProtocolError, match="not comparable"):
        protocol_from_mapping(bad)
    bad = copy.deepcopy(PROTOCOL)
    bad["analyses"][0]["sensitivity"]["exclude_sets"][0]["overlap"] = ["maybe"]
    with pytest.raises(ProtocolError):
        protocol_from_mapping(bad)
    bad = copy.deepcopy(PROTOCOL)
    bad["analyses"][0]["sensitivity"]["exclude_sets"][1]["where"]["column"] = "time_source"
    with pytest.raises(ProtocolError, match="for rate analyses"):
        protocol_from_mapping(bad)


@pytest.mark.parametrize(
    ("line", "column", "words"),
    [
        ("a,r_gen,likely,x,https://e.org", "relation", "not one of"),
        ("a,r_gen,possible,,https://e.org", "evidence", "empty"),
        ("x,y,possible,e,https://e.org", "study_id", "neither"),
        ("a,a,possible,e,https://e.org", "overlaps_with", "itself"),
    ],
)
def test_bad_overlap_rows_name_file_row_column(
    tmp_path: Path, line: str, column: str, words: str
) -> None:
    p = tmp_path / "overlap.csv"
    p.write_text("study_id,overlaps_with,relation,evidence,source_url\n" + line + "\n", "utf-8")
    with pytest.raises(ExtractionError) as ei:
        read_overlap(p, ["a", "r_gen"])
    assert (ei.value.row, ei.value.column) == (2, column) and words in str(ei.value)
    p.write_text(OVERLAP + "r_gen,a,possible,again,https://e.org\n", "utf-8")
    with pytest.raises(ExtractionError, match="already on line 2"):
        read_overlap(p, ["a", "r_gen", "d"])


def test_without_an_overlap_file_the_map_is_empty(tmp_path: Path) -> None:
    ex = read_extraction(_write(tmp_path / "r", overlap=""))
    assert ex.overlap.empty and list(ex.overlap.columns)[:3] == [
        "study_id", "overlaps_with", "relation"]  # fmt: skip
