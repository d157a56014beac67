"""A multilevel analysis declared in the protocol, on a review that is not the worked example.

The delirium review of ``test_analysis_choices`` with one more analysis: the strata of each
study kept and modelled with random effects for studies and for strata within studies
(``model.structure: multilevel``, metafor ``rma.mv``). Each number is checked against
:func:`review.meta.pool_multilevel` called on the rows the analysis should use (the engine
itself is checked against metafor in ``test_meta_multilevel_vs_metafor``, and the worked
example's multilevel analysis in ``test_worked_example_vs_metafor``); every refused
declaration names its field and line.
"""

from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path
from typing import Any

import matplotlib.text
import pandas as pd
import pytest
import yaml
from test_analysis_choices import OVERLAP, PROTOCOL, _write

from review.analysis import AnalysisSet, SensitivitySet, run_analyses, run_sensitivity
from review.errors import ProtocolError
from review.extraction import read_extraction
from review.meta import pool_multilevel
from review.plots.analyses import analysis_figures, sensitivity_figures
from review.protocol import load_protocol, protocol_from_mapping

ML: dict[str, Any] = {
    "code": "ml",
    "label": "Delirium, strata kept (multilevel)",
    "outcome": "del",
    "strata": "study",
    "model": {"measure": "PLO", "method": "REML", "structure": "multilevel"},
    "sensitivity": {
        "alternatives": ["main"],
        "exclude_sets": [
            {"code": "no_overlap", "label": "Possible overlaps removed", "overlap": ["possible"]},
            {"code": "spinal_out", "label": "Without spinal",
             "where": {"column": "anaesthesia", "in": ["spinal"]}},
        ],
    },
    "display": {"title": "Delirium, strata kept", "sort": "estimate"},
}  # fmt: skip
ML_T: dict[str, Any] = {
    "code": "ml_t",
    "label": "Delirium, multilevel, t tests (contain)",
    "outcome": "del",
    "strata": "study",
    "model": {"measure": "PLO", "method": "ML", "structure": "multilevel", "test": "t",
              "dfs": "contain", "level": 0.9},
}  # fmt: skip
ML_RATE: dict[str, Any] = {
    "code": "ml_rate",
    "label": "Delirium per person-year, multilevel",
    "outcome": "del_rate",
    "strata": "study",
    "model": {"measure": "IRLN", "method": "REML", "structure": "multilevel"},
}


def _protocol() -> dict[str, Any]:
    p = copy.deepcopy(PROTOCOL)
    p["analyses"] += [copy.deepcopy(ML), copy.deepcopy(ML_T), copy.deepcopy(ML_RATE)]
    p["analyses"][0]["sensitivity"]["alternatives"].append("ml")
    return p


# a second link, naming a stratum: leaving it out leaves out its whole study
OVERLAP_ML = OVERLAP + "r_spi,b,possible,Baker's centre may be a registry centre,https://e.org\n"

#: The rows the multilevel analyses use: every stratum that reports, a row without `study`
#: a study of its own (named by its label); Part 2021's second stratum reports nothing.
#: Counts more heterogeneous than test_analysis_choices's, so both variance components
#: are estimated away from 0.
ROWS = pd.DataFrame(
    [("a", "Ames 2015", "Ames 2015", 120, 40, 30, "general"),
     ("b", "Baker 2016", "Baker 2016", 300, 24, 30, "spinal"),
     ("c", "Cole 2017", "Cole 2017", 90, 12, None, "both"),
     ("d", "Diaz 2018", "Diaz 2018", 210, 61, 30, "general"),
     ("r_gen", "Reg 2020 (general)", "Reg 2020", 400, 96, 30, "general"),
     ("r_spi", "Reg 2020 (spinal)", "Reg 2020", 250, 22, 30, "spinal"),
     ("p_one", "Part 2021 (one)", "Part 2021", 80, 9, None, "general")],
    columns=["study_id", "label", "study", "n", "events", "fu_days", "anaesthesia"],
)  # fmt: skip


def _outcomes() -> str:
    lines = ["study_id,field,value,pmid,location,note"]
    for r in ROWS.itertuples(index=False):
        pmid = {"a": 101, "b": 102, "c": 103, "d": 104, "r": 105, "p": 106}[r.study_id[0]]
        values = {"n_pat": r.n, "delirium": r.events, "delirium_any": r.events + 5,
                  "fu_days": r.fu_days}  # fmt: skip
        for field, v in values.items():
            if v is not None and not pd.isna(v):
                lines.append(f"{r.study_id},{field},{v:g},{pmid},Table 1,")
    lines.append("p_two,n_pat,70,106,Table 1,")
    lines.append("b,person_years,26.5,102,Table 2,")
    return "\n".join(lines) + "\n"


def _direct(rows: pd.DataFrame, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pool_multilevel(rows, cluster="study", events="events", n="n", label="label", **kw)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> AnalysisSet:
    root = tmp_path_factory.mktemp("delirium_ml")
    folder = _write(root, _protocol(), OVERLAP_ML)
    (folder / "outcomes.csv").write_text(_outcomes(), encoding="utf-8")
    ex = read_extraction(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_analyses(ex.protocol, ex)


@pytest.fixture(scope="module")
def sens(results: AnalysisSet) -> SensitivitySet:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_sensitivity(results)


def test_strata_are_kept_and_pooled_by_the_multilevel_model(results: AnalysisSet) -> None:
    r = results["ml"]
    res = r.pooled
    want = _direct(ROWS)
    assert type(res).__name__ == "MultilevelResult"
    assert (res.k, res.n_studies) == (7, 6)
    assert list(res.studies["study"]) == list(ROWS["study"])
    for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "sigma2_study",
                "sigma2_stratum", "i2", "q"):  # fmt: skip
        assert getattr(res, key) == pytest.approx(getattr(want, key), rel=1e-12, abs=1e-15), key
    assert res.sigma2_study > 0 or res.sigma2_stratum > 0  # a real two-component fit
    notes = " ".join(r.notes)
    assert "Reg 2020: 2 strata kept as strata of one study (multilevel model)" in notes
    assert "Part 2021: 1 stratum kept" in notes
    assert "not reporting this outcome: Part 2021 (two)" in notes
    studies = r.studies.set_index("label")
    assert studies.loc["Reg 2020 (spinal)", "reason"] == "counts: stratum of Reg 2020"
    assert studies.loc["Ames 2015", "reason"] == "counts"
    assert not studies.loc["Part 2021 (two)", "used"]
    # the univariate analysis of the same declaration still sums the strata
    assert results["main"].pooled.k == 5


def test_t_tests_contain_dfs_and_level_are_passed_on(results: AnalysisSet) -> None:
    res = results["ml_t"].pooled
    want = _direct(ROWS, method="ML", test="t", dfs="contain", level=0.9)
    assert (res.test, res.dfs, res.level, res.method) == ("t", "contain", 0.9, "ML")
    assert res.link.df == want.link.df == 5  # studies - 1 (metafor's "contain")
    assert res.ci_low == pytest.approx(want.ci_low, rel=1e-12)
    assert res.pi_high == pytest.approx(want.pi_high, rel=1e-12)


def test_a_rate_analysis_reads_person_time(results: AnalysisSet) -> None:
    res = results["ml_rate"].pooled
    # person-time: Baker's reported 26.5, else N x follow-up (days / 365.25); Cole and Part
    # have no follow-up and no person-time, so they are left out
    assert res.kind == "rate" and res.measure == "IRLN"
    assert set(res.studies["study"]) == {"Ames 2015", "Baker 2016", "Diaz 2018", "Reg 2020"}
    data = res.data.set_index("label")
    rows = data.reset_index()[["label", "events", "time", "study"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = pool_multilevel(rows, cluster="study", events="events", time="time",
                               label="label", measure="IRLN")  # fmt: skip
    assert res.estimate == pytest.approx(want.estimate, rel=1e-12)
    assert data.loc["Baker 2016", "time"] == 26.5


def test_pooled_table_row_k_counts_strata_studies_the_studies(results: AnalysisSet) -> None:
    table = results.pooled_table().set_index("analysis")
    row = table.loc["Delirium, strata kept (multilevel)"]
    res = results["ml"].pooled
    assert (row["structure"], row["k"], row["studies"]) == ("multilevel", 7, 6)
    assert (row["events"], row["total"]) == (ROWS["events"].sum(), ROWS["n"].sum())
    assert pd.isna(row["tau2"]) and row["sigma2_study"] == res.sigma2_study
    assert row["sigma2_stratum"] == res.sigma2_stratum and row["status"] == "ok"
    assert row["estimate"] == res.estimate and row["pi_method"] == "metafor"
    main = table.loc["Delirium (GLMM)"]
    assert (main["structure"], main["k"], main["studies"]) == ("univariate", 5, 5)
    assert pd.isna(main["sigma2_study"])
    cols = list(table.reset_index().columns)
    assert cols.index("structure") < cols.index("k") < cols.index("studies")
    assert cols.index("tau2") < cols.index("sigma2_study") < cols.index("i2")


def test_exclusion_sets_refit_the_multilevel_model(sens: SensitivitySet) -> None:
    ex = sens["ml"].exclusions.set_index("set")
    # Ames (a) is linked to a stratum of Reg 2020; r_spi (a stratum) to Baker (b): each link
    # drops its study_id's whole study, so Ames and both strata of Reg 2020 go
    row = ex.loc["no_overlap"]
    assert row["excluded"] == "Ames 2015, Reg 2020 (general), Reg 2020 (spinal)"
    keep = ROWS[~ROWS["study"].isin(["Ames 2015", "Reg 2020"])]
    want = _direct(keep)
    assert row["k"] == 4 and row["estimate"] == pytest.approx(want.estimate, rel=1e-12)
    assert "multilevel model, k = 4 studies, 4 strata" in row["note"] and pd.isna(row["tau2"])
    # a `where` set works row by row: a spinal stratum goes, its study stays
    row = ex.loc["spinal_out"]
    assert row["excluded"] == "Baker 2016, Reg 2020 (spinal)" and row["k"] == 5
    want = _direct(ROWS[ROWS["anaesthesia"] != "spinal"])
    assert row["ci_high"] == pytest.approx(want.ci_high, rel=1e-12)
    note = " ".join(sens["ml"].notes)
    assert "leave-one-out" in note and "not run" in note


def test_robustness_compares_studies_not_strata(sens: SensitivitySet) -> None:
    rob = sens["main"].robustness.set_index("choice")
    row = rob.loc["ml"]
    ml = sens.analyses["ml"].pooled
    # k counts studies, as the figure says; the multilevel fit adds Part 2021 (its reporting
    # stratum), which the summed analysis leaves out; Reg 2020 is in both
    assert row["k"] == 6 and row["left_out"] == "" and row["added"] == "Part 2021"
    assert row["estimate"] == ml.estimate
    assert "multilevel model (k = 6 studies, 7 strata)" in row["note"]
    own = sens["ml"].robustness.set_index("choice")
    assert own.loc["ml", "k"] == 6 and own.loc["main", "left_out"] == "Part 2021"
    drawn, _ = sensitivity_figures(sens)
    assert "robustness_ml" in drawn


def test_forest_plot_draws_strata_under_their_study(results: AnalysisSet) -> None:
    drawn, notes = analysis_figures(results)
    assert not notes
    fig, _ = drawn["forest_ml"]
    text = " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))
    assert "Multilevel random-effects model" in text and "k = 6 studies, 7 strata" in text
    assert "rma.mv" in text and "σ²(study)" in text
    assert "Delirium, strata kept" in text


def test_displays_show_the_multilevel_fit(results: AnalysisSet) -> None:
    r = results["ml"]
    assert "Multilevel Random-Effects Model" in r.summary()
    assert "Multilevel" in r._repr_html_() and "k = 6 studies, 7 strata" in repr(r)
    assert r.to_frame()["structure"].tolist() == ["multilevel"]


# ----------------------------------------------------------------------- refused declarations
@pytest.mark.parametrize(
    ("change", "column", "words"),
    [
        ({"model": {"method": "GLMM"}}, "model.method", "must be one of ['REML', 'ML']"),
        ({"model": {"method": "DL"}}, "model.method", "fitted by likelihood"),
        ({"strata": None}, "model.structure", "needs strata"),
        ({"model": {"test": "knha"}}, "model.test", "for structure: multilevel"),
        ({"model": {"pi_method": "riley"}}, "model.pi_method", "not available"),
        ({"model": {"structure": "nested"}}, "model.structure", "Invalid structure"),
        ({"model": {"dfs": "contain"}}, "model.dfs", "needs test: t"),
        ({"model": {"test": "t", "dfs": "every"}}, "model.dfs", "Invalid dfs"),
        ({"estimates": "include"}, "estimates", "not available"),
        ({"subgroups": ["anaesthesia"]}, "subgroups", "one estimate a study"),
        ({"moderators": ["fu_days"]}, "moderators", "not available"),
        ({"sensitivity": {"leave_one_out": True}}, "sensitivity.leave_one_out", "not implemented"),
        ({"sensitivity": {"methods": True}}, "sensitivity.methods", "not available"),
        ({"sensitivity": {"funnel": "egger"}}, "sensitivity.funnel", "regtest"),
        ({"strata": "nope"}, "strata", "not a column"),
    ],
)
def test_a_multilevel_declaration_that_cannot_run_is_refused(
    tmp_path: Path, change: dict[str, Any], column: str, words: str
) -> None:
    p = _protocol()
    a = p["analyses"][4]
    for key, value in change.items():
        if isinstance(value, dict) and key in a:
            a[key] = {**a[key], **value}
        elif value is None:
            del a[key]
        else:
            a[key] = value
    with pytest.raises(ProtocolError) as ei:
        protocol_from_mapping(p)
    assert ei.value.column == f"analyses[4].{column}"
    assert words in str(ei.value)
    # from the file: the error names the file and the line of the field
    path = tmp_path / "protocol.yaml"
    text = yaml.safe_dump(p, sort_keys=False)
    path.write_text(text, "utf-8")
    with pytest.raises(ProtocolError) as ei:
        load_protocol(path)
    assert ei.value.row is not None and str(path) in str(ei.value)
    # the line of the field's value: the key's own line, or a block list's first item
    lines = text.splitlines()[ei.value.row - 2 : ei.value.row]
    assert any(x.strip().startswith(column.split(".")[-1] + ":") for x in lines), lines


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ({"test": "t"}, "'t' is for structure: multilevel"),
        ({"dfs": "residual"}, "dfs (t degrees of freedom) is for structure: multilevel"),
    ],
)
def test_multilevel_options_on_a_univariate_analysis_are_refused(
    model: dict[str, Any], words: str
) -> None:
    p = _protocol()
    p["analyses"][0]["model"].update(model)
    with pytest.raises(ProtocolError) as ei:
        protocol_from_mapping(p)
    assert words in str(ei.value) and ei.value.column.startswith("analyses[0].model.")


def test_the_declared_model_keeps_structure_and_dfs() -> None:
    proto = protocol_from_mapping(_protocol())
    m = proto.analyses["ml_t"].model
    assert (m.structure, m.multilevel, m.test, m.dfs) == ("multilevel", True, "t", "contain")
    assert proto.analyses["main"].model.structure == "univariate"
    assert not proto.analyses["main"].model.multilevel
    assert math.isclose(m.level, 0.9)
