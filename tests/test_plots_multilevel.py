"""The forest plot of a multilevel model: strata grouped under their study."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib.text
import pandas as pd
import pytest
from test_plots_layout import assert_no_overlap

from review.meta import pool_multilevel
from review.plots import PAGE_MM, forest

REF = json.loads((Path(__file__).parent / "data" / "metafor_mv_reference.json").read_text())


def _frame(name: str) -> pd.DataFrame:
    d = REF["datasets"][name]
    df = pd.DataFrame({k: v for k, v in d.items() if k not in ("kind", "note")})
    df["study"] = ["Trial " + str(s) for s in df["study"]]
    return df


@pytest.fixture(scope="module")
def res():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # two studies with events = n
        return pool_multilevel(_frame("pritz1997_clustered"), cluster="study", label="label")


def texts(fig) -> dict[str, str]:
    return {t.get_gid(): t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_gid()}


def test_strata_sit_under_their_study_and_studies_without_strata_stand_alone(res) -> None:
    tx = texts(forest(res))
    groups = [tx[g] for g in sorted(g for g in tx if g.startswith("label:cluster:"))]
    assert groups == ["Trial 1", "Trial 2", "Trial 3", "Trial 4"]  # the studies with strata
    labels = {g: v for g, v in tx.items() if g.startswith("label:c") and ":study:" in g}
    assert len(labels) == res.k  # every stratum has its row
    indented = [v for v in labels.values() if v.startswith("\u00a0")]
    assert len(indented) == 10  # 3 + 3 + 2 + 2 strata under a study heading
    assert {" ".join(v.split()) for v in labels.values() if not v.startswith("\u00a0")} == {
        "Rosenstein et al.", "Levy et al.", "Shimoda et al.", "Solomon et al.",
    }  # fmt: skip


def test_pooled_row_heterogeneity_and_footnote_come_from_the_result(res) -> None:
    tx = texts(forest(res))
    assert "k = 8 studies, 14 strata" in " ".join(tx["label:pooled:random"].split())
    assert tx["est:pooled:random"] == f"{100 * res.estimate:.1f}"
    het = " ".join(tx["text:het"].replace("\u00a0", " ").split())
    assert f"σ²(study) = {res.sigma2_study:.4f}" in het
    assert f"σ²(stratum) = {res.sigma2_stratum:.4f}" in het
    assert f"I² = {res.i2:.1f}% (study {res.i2_study:.1f}%" in het
    foot = " ".join(tx["footnote"].split())
    assert "rma.mv" in foot and "study/stratum" in foot and "new stratum of a new study" in foot
    assert "† zero-cell" in foot


def test_multilevel_forest_has_no_overlap_at_page_width(res) -> None:
    fig = forest(res, sort="estimate", width=PAGE_MM / 25.4, title="Strata within studies")
    assert_no_overlap(fig)
    rates = pool_multilevel(
        _frame("nielweise2008_arms"), cluster="study", label="label", time="time",
        measure="IRLN", sigma2_ci=False,
    )  # fmt: skip
    tx = texts(forest(rates, xscale="log"))
    assert tx["header:n"] == "Person-years"
    assert_no_overlap(forest(rates, xscale="log"))
