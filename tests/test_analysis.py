"""The analysis layer on a review that is not the worked example.

A small review of surgical-site infection after hip replacement is written here (protocol,
studies, outcomes, a published estimate): every declared analysis runs, each number equals
the engine's own call on the same studies, titles and labels come from the protocol.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from review.analysis import (
    AnalysisSet,
    compare_published,
    run_analyses,
    run_sensitivity,
)
from review.extraction import read_extraction
from review.meta import (
    meta_regression,
    pool_estimates,
    pool_proportions,
    pool_rates,
    refit,
    study_yi_vi,
    subgroups,
)

PROTOCOL: dict[str, Any] = {
    "schema_version": 2,
    "title": "Surgical-site infection after total hip arthroplasty",
    "question": "What proportion of patients develop a surgical-site infection within a year?",
    "eligibility": {"include": ["Primary THA cohorts"], "exclude": ["Revisions"]},
    "exclusion_reasons": [{"code": "wrong_population", "label": "Not primary THA"}],
    "databases": [{"name": "PubMed", "query": "hip arthroplasty AND infection"}],
    "extraction": {"folder": "extraction"},
    "fields": [
        {"code": "n_operated", "label": "Patients operated", "type": "count"},
        {"code": "n_ssi", "label": "Patients with an SSI", "type": "count"},
        {"code": "n_deep", "label": "Patients with a deep SSI", "type": "count"},
        {"code": "episodes", "label": "SSI episodes", "type": "count", "unit": "episodes"},
        {"code": "fu_months", "label": "Median follow-up", "type": "number", "unit": "months"},
        {
            "code": "person_years",
            "label": "Person-years",
            "type": "person_time",
            "unit": "person-years",
            "derived": {
                "rule": "count_times_duration",
                "count": "n_operated",
                "duration": "fu_months",
                "label": "N x median follow-up",
            },
        },
    ],
    "outcomes": [
        {"code": "ssi", "label": "Surgical-site infection", "kind": "proportion",
         "events": "n_ssi", "counts": "patients", "denominator": "n_operated", "primary": True},
        {"code": "deep", "label": "Deep SSI", "kind": "proportion", "events": "n_deep",
         "counts": "patients", "denominator": "n_operated", "subtype_of": "ssi"},
        {"code": "ssi_rate", "label": "SSI episodes per person-time", "kind": "rate",
         "events": "episodes", "counts": "events", "time": "person_years"},
    ],
    "covariates": [
        {"code": "design", "label": "Study design", "type": "categorical", "required": True,
         "values": [{"code": "rct", "label": "Trial arm"}, {"code": "cohort", "label": "Cohort"}]},
        {"code": "year", "label": "Year", "type": "integer", "required": True},
        {"code": "high_rob", "label": "High risk of bias", "type": "boolean"},
    ],
    "analyses": [
        {
            "code": "ssi_glmm",
            "label": "SSI (GLMM)",
            "description": "Primary: binomial-normal model of the counts.",
            "outcome": "ssi",
            "model": {"measure": "PLO", "method": "GLMM"},
            "subgroups": ["design"],
            "moderators": ["year"],
            "sensitivity": {
                "leave_one_out": True,
                "methods": True,
                "funnel": "peters",
                "exclude_sets": [
                    {"code": "low_rob", "label": "Without high risk of bias",
                     "where": {"column": "high_rob", "in": [True]}},
                    {"code": "nothing", "label": "Without year 1990",
                     "where": {"column": "year", "in": [1990]}},
                ],
            },
            "display": {"title": "Surgical-site infection within a year", "sort": "estimate"},
        },
        {
            "code": "ssi_est",
            "label": "SSI, counts and Kaplan-Meier estimates",
            "outcome": "ssi",
            "model": {"measure": "PLO", "method": "REML", "test": "knha"},
            "estimates": "include",
            "subgroups": ["design", "high_rob"],
            "sensitivity": {"methods": True, "funnel": "peters", "leave_one_out": True},
        },
        {
            "code": "rate",
            "label": "SSI episodes per 100 person-years",
            "outcome": "ssi_rate",
            "model": {"measure": "IRLN", "method": "REML"},
            "display": {"scale": "per100py"},
        },
        {
            "code": "deep",
            "label": "Deep SSI (REML)",
            "outcome": "deep",
            "model": {"measure": "PLO", "method": "REML"},
            "sensitivity": {"leave_one_out": True},
        },
    ],
    "comparisons": [
        {"code": "smith", "label": "Beside Smith 2020", "file": "extraction/smith2020.csv",
         "quantity": "pooled_ssi", "analyses": ["ssi_glmm", "ssi_est"],
         "published_label": "Smith et al. 2020", "patients": "patients",
         "columns": ["label", "design"]},
    ],
}  # fmt: skip

STUDIES = """study_id,label,pmid,design,year,high_rob
a,Ames 2015,101,rct,2015,no
b,Baker 2016,102,cohort,2016,yes
c,Cole 2017,103,cohort,2017,no
d,Diaz 2018,104,rct,2018,no
e,Egan 2019,105,cohort,2019,yes
f,Fox 2020,106,cohort,2020,no
g,Gray 2021,107,cohort,2021,no
k1,Kim 2022,108,cohort,2022,
k2,Lee 2023,109,rct,2023,no
"""

ROWS = [
    ("a", 120, 6, 2, 7, 12), ("b", 340, 25, None, 30, 24), ("c", 85, 3, None, None, 6),
    ("d", 210, 8, None, 9, 12), ("e", 450, 41, None, 50, None), ("f", 60, 1, None, None, 12),
    ("g", 150, 9, None, 11, 18),
]  # fmt: skip


def _outcomes() -> str:
    lines = [
        "study_id,field,value,pmid,location,note,ci_low,ci_high,ci_level,se,scale,estimate_type"
    ]
    pmid = {s: 101 + i for i, s in enumerate("abcdefg")}
    for sid, n, x, deep, ep, fu in ROWS:
        for field, v in (("n_operated", n), ("n_ssi", x), ("n_deep", deep), ("episodes", ep),
                         ("fu_months", fu)):  # fmt: skip
            if v is not None:
                lines.append(f"{sid},{field},{v},{pmid[sid]},Table 1,,,,,,,")
    lines.append("e,person_years,610,105,Table 2,,,,,,,")
    lines.append("k1,ssi,6.1,108,Figure 2 (1-year Kaplan-Meier),,4.2,8.8,,,percent,kaplan_meier")
    lines.append("k2,ssi,3.5,109,Results,,,,,0.9,percent,cumulative_incidence")
    return "\n".join(lines) + "\n"


PUBLISHED = """quantity,value,unit,ci_low,ci_high,pmid,location
pooled_ssi,5.5,percent,4.1,7.2,999,Abstract
patients,4000,patients,,,999,Abstract
"""


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hip-review")
    (root / "protocol.yaml").write_text(yaml.safe_dump(PROTOCOL, sort_keys=False), encoding="utf-8")
    ex = root / "extraction"
    ex.mkdir()
    (ex / "studies.csv").write_text(STUDIES, encoding="utf-8")
    (ex / "outcomes.csv").write_text(_outcomes(), encoding="utf-8")
    (ex / "smith2020.csv").write_text(PUBLISHED, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def results(review: Path) -> AnalysisSet:
    ex = read_extraction(review / "extraction")
    return run_analyses(ex.protocol, ex)


def _direct_counts(results: AnalysisSet) -> pd.DataFrame:
    t = results.extraction.outcome_table("ssi")
    return t[t["basis"] == "counts"]


def test_one_pooled_row_per_declared_analysis(results: AnalysisSet) -> None:
    table = results.pooled_table()
    assert table["analysis"].tolist() == [a["label"] for a in PROTOCOL["analyses"]]
    assert table["status"].tolist()[:3] == ["ok", "ok", "ok"]
    # an analysis that cannot run says why, and has no numbers
    deep = table.iloc[3]
    assert "at least 2" in deep["status"] and math.isnan(deep["estimate"])
    assert results["deep"].pooled is None and not results["deep"].ok


def test_counts_analysis_is_the_engine_call(results: AnalysisSet) -> None:
    direct = _direct_counts(results)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = pool_proportions(direct, events="events", n="n", measure="PLO", method="GLMM",
                                label="label")  # fmt: skip
    got = results["ssi_glmm"].pooled
    assert got.k == 7 and got.estimate == want.estimate and got.tau2 == want.tau2
    # the two estimate-only studies are left out of a GLMM analysis, and named
    note = " ".join(results["ssi_glmm"].notes)
    assert "Kim 2022" in note and "estimates: exclude" in note
    studies = results["ssi_glmm"].studies.set_index("label")
    assert not studies.loc["Kim 2022", "used"] and studies.loc["Ames 2015", "used"]


def test_estimates_join_an_inverse_variance_analysis(results: AnalysisSet) -> None:
    t = results.extraction.outcome_table("ssi")
    t = t[t["basis"].isin(["counts", "estimate"])]
    yv = study_yi_vi(t, kind="proportion", measure="PLO")
    want = pool_estimates(t.join(yv), measure="PLO", method="REML", test="knha", label="label",
                          events="events", n="n")  # fmt: skip
    got = results["ssi_est"].pooled
    assert got.k == 9 and got.estimate == pytest.approx(want.estimate, rel=1e-14)
    assert got.options["input"] == "yi_vi"
    reasons = results["ssi_est"].studies.set_index("label")["reason"]
    assert reasons["Kim 2022"].startswith("estimate (kaplan_meier): CI, symmetric")
    assert "SE, delta method" in reasons["Lee 2023"]


def test_subgroups_use_the_covariate_labels(results: AnalysisSet) -> None:
    r = results["ssi_glmm"]
    sub = r.subgroups["design"]
    assert set(sub.groups) == {"Trial arm", "Cohort"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = subgroups(r.pooled, by="design")
    assert sub.q_between == pytest.approx(direct.q_between, rel=1e-12)
    row = r.subgroup_tests.iloc[0]
    assert row["by"] == "design" and row["pvalue"] == pytest.approx(direct.q_between_pvalue)
    # with estimates: the subgroup fits and the common-tau^2 test run on yi/vi
    s2 = results["ssi_est"].subgroups["design"]
    assert math.isfinite(s2.qm) and sum(g.k for g in s2.groups.values()) == 9
    # a study without a value is left out of that subgroup analysis, and named
    s3 = results["ssi_est"].subgroups["high_rob"]
    assert set(s3.groups) == {"True", "False"} and s3.overall.k == 8
    assert any("high_rob" in n and "Kim 2022" in n for n in results["ssi_est"].notes)


def test_moderators_use_an_inverse_variance_refit(results: AnalysisSet) -> None:
    r = results["ssi_glmm"]
    m = r.moderators["year"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = meta_regression(refit(r.pooled, method="REML"), mods=["year"])
    assert m.coefficients["estimate"].tolist() == pytest.approx(
        direct.coefficients["estimate"].tolist()
    )
    assert "REML" in r.moderator_notes["year"]
    table = results.moderator_table()
    assert table["term"].tolist() == ["intrcpt", "year"]


def test_rates_use_reported_or_derived_person_time_and_say_which(results: AnalysisSet) -> None:
    r = results["rate"]
    t = results.extraction.outcome_table("ssi_rate")
    used = t[t["basis"] == "counts"]
    # Egan reports 610 person-years; Ames' is 120 x 12 months = 120 person-years
    assert dict(zip(used["label"], used["time"]))["Egan 2019"] == 610
    assert dict(zip(used["label"], used["time"]))["Ames 2015"] == pytest.approx(120.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = pool_rates(used, events="events", time="time", measure="IRLN", method="REML",
                          label="label")  # fmt: skip
    assert r.pooled.estimate == want.estimate
    assert any("derived (N x median follow-up)" in n and "Egan" not in n for n in r.notes)


def test_sensitivity_analyses(results: AnalysisSet) -> None:
    sens = run_sensitivity(results)
    assert set(sens.results) == {"ssi_glmm", "ssi_est"}
    assert any("deep" in n and "not pooled" in n for n in sens.notes)
    s = sens["ssi_glmm"]
    assert s.methods.table["model"].tolist()[0].startswith("GLMM")
    assert len(s.methods.table) == 5 and s.guardrail is not None
    assert len(s.leave_one_out.table) == 7 and s.influence is not None
    assert s.small_study.predictor == "ninv" and s.funnel_fit.method == "REML"
    ex = s.exclusions.set_index("set")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keep = s.result.pooled.data[~s.result.pooled.data["high_rob"].fillna(False).astype(bool)]
        want = refit(s.result.pooled, keep)
    assert ex.loc["low_rob", "excluded"] == "Baker 2016, Egan 2019"
    assert ex.loc["low_rob", "estimate"] == pytest.approx(want.estimate, rel=1e-10)
    assert "no study" in ex.loc["nothing", "note"]
    # with estimates: GLMM on counts only, PFT left out, Egger's test instead of Peters'
    e = sens["ssi_est"]
    assert e.methods.table["model"].tolist() == ["GLMM (binomial-normal)", "PLO", "PAS", "PR"]
    assert e.methods.table["k"].tolist() == [7, 9, 9, 9]
    assert e.methods.table.loc[1, "estimate"] == pytest.approx(results["ssi_est"].pooled.estimate)
    assert e.small_study.predictor == "sei" and any("Egger" in n for n in e.notes)
    assert "analysis" in sens.exclusion_table().columns
    assert "SSI (GLMM) [ssi_glmm]" in sens.summary() and "<table" in sens._repr_html_()


def test_comparison_reads_the_published_file(results: AnalysisSet, review: Path) -> None:
    comp = compare_published(results, review)["smith"]
    assert comp.table["analysis"].tolist() == [
        "This review: SSI (GLMM)",
        "This review: SSI, counts and Kaplan-Meier estimates",
        "Smith et al. 2020",
    ]
    assert comp.table["estimate_pct"].iloc[2] == 5.5
    assert list(comp.studies.columns) == ["label", "design"]


def test_tables_and_figures_are_written_with_the_codes(
    results: AnalysisSet, tmp_path: Path
) -> None:
    from review.plots import save_analysis_figures, save_sensitivity_figures

    paths = results.save_tables(tmp_path / "tables")
    assert [p.name for p in paths] == [
        "pooled.csv", "subgroup_tests.csv", "meta_regression.csv", "analysis_studies.csv",
    ]  # fmt: skip
    figs = save_analysis_figures(results, tmp_path / "figures", formats=("png",))
    assert list(figs.figures) == [
        "forest_ssi_glmm", "forest_ssi_glmm_by_design", "forest_ssi_est",
        "forest_ssi_est_by_design", "forest_ssi_est_by_high_rob", "forest_rate",
    ]  # fmt: skip
    assert any("forest_deep" in n for n in figs.notes)
    texts = {
        t.get_text() for t in figs.figures["forest_ssi_glmm"].findobj() if hasattr(t, "get_text")
    }
    assert "Surgical-site infection within a year" in texts
    texts = {
        t.get_text()
        for t in figs.figures["forest_ssi_glmm_by_design"].findobj()
        if hasattr(t, "get_text")
    }
    assert "Surgical-site infection within a year by Study design" in texts
    assert {"Trial arm (2 studies)", "Cohort (5 studies)"} <= texts
    assert (tmp_path / "figures" / "forest_rate.png").stat().st_size > 1000
    sens = save_sensitivity_figures(
        run_sensitivity(results), tmp_path / "figures", formats=("png",)
    )
    assert set(sens.figures) == {
        "method_sensitivity_ssi_glmm", "forest_leave_one_out_ssi_glmm", "funnel_ssi_glmm",
        "method_sensitivity_ssi_est", "forest_leave_one_out_ssi_est", "funnel_ssi_est",
        "robustness_ssi_glmm",  # its exclusion sets, beside the analysis as declared
    }  # fmt: skip
    assert "<img" in figs._repr_html_() and "forest_rate" in figs.summary()


def test_displays_name_the_analyses(results: AnalysisSet) -> None:
    assert "SSI (GLMM)" in results.summary() and "Not run" in results.summary()
    html = results._repr_html_()
    assert "Primary: binomial-normal model" in html and "<code>ssi_glmm</code>" in html
    assert repr(results) == "<AnalysisSet: 4 analyses, 3 pooled>"
    assert results["ssi_glmm"].to_frame()["analysis"].tolist() == ["SSI (GLMM)"]


def test_a_protocol_without_analyses_runs_to_an_empty_set(review: Path) -> None:
    data = {k: v for k, v in PROTOCOL.items() if k not in ("analyses", "comparisons")}
    from review.protocol import protocol_from_mapping

    proto = protocol_from_mapping(data)
    ex = read_extraction(review / "extraction", proto)
    res = run_analyses(proto, ex)
    assert len(res) == 0 and len(res.pooled_table()) == 0
    assert "no analyses" in res.summary()
    assert len(run_sensitivity(res)) == 0


def test_figure_set_shows_each_figure_as_its_own_png(
    results: AnalysisSet, tmp_path: Path, capsys
) -> None:
    from review.plots import save_analysis_figures

    figs = save_analysis_figures(results, tmp_path, formats=("png",))
    shown: list[Any] = []
    import IPython.display as ipd

    original = ipd.display
    ipd.display = lambda obj: shown.append(obj)  # type: ignore[assignment]
    try:
        figs._ipython_display_()
    finally:
        ipd.display = original
    images = [o for o in shown if isinstance(o, ipd.Image)]
    assert len(images) == len(figs.figures) == 6
    # the PNG shown is the file written, not a second drawing
    assert images[0].data == (tmp_path / "forest_ssi_glmm.png").read_bytes()
