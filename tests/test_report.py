"""Published estimates beside ours trace to their sources; the tables are the results."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from review.errors import ExtractionError
from review.meta import pool_proportions
from review.report import compare_estimates, load_published

from conftest import REPO

TIX = REPO / "data" / "extraction" / "tix2024.csv"


def test_tix_facts_load_with_their_sources() -> None:
    tix = load_published(TIX)
    assert tix.loc["pooled_spm", ["value", "ci_low", "ci_high"]].tolist() == [6.0, 4.8, 7.4]
    assert tix.loc["patients", "value"] == 5517
    assert (tix["pmid"] == "39256908").all()


@pytest.mark.parametrize("column", ["pmid", "location"])
def test_a_fact_without_its_source_is_refused(tmp_path: Path, column: str) -> None:
    df = pd.read_csv(TIX, dtype=str, keep_default_na=False)
    df.loc[3, column] = ""
    bad = tmp_path / "published.csv"
    df.to_csv(bad, index=False)
    with pytest.raises(ExtractionError) as info:
        load_published(bad)
    assert info.value.row == 5 and info.value.column == column
    assert str(bad) in str(info.value)


def test_comparison_rows_are_the_computed_numbers() -> None:
    df = pd.DataFrame({"events": [2, 5, 1, 8], "n": [40, 60, 35, 90], "label": list("abcd")})
    res = pool_proportions(df, measure="PLO", method="REML")
    table = compare_estimates(
        {"ours": res},
        load_published(TIX),
        published_label="Tix 2024",
        quantity="pooled_spm",
        patients="patients",
        studies=("clinical_trials", "real_world_studies"),
    )
    ours, theirs = table.iloc[0], table.iloc[1]
    assert ours["k"] == 4 and ours["patients"] == 225
    assert ours["estimate_pct"] == pytest.approx(100 * res.estimate)
    assert ours["ci_low_pct"] == pytest.approx(100 * res.ci_low)
    assert theirs["k"] == 25 and theirs["patients"] == 5517
    assert (theirs["estimate_pct"], theirs["ci_low_pct"], theirs["ci_high_pct"]) == (6.0, 4.8, 7.4)
    assert theirs["source"].startswith("PMID 39256908")


def test_pooled_table_rows_are_the_results() -> None:
    from review.report import pooled_table

    df = pd.DataFrame({"events": [2, 5, 1, 8], "n": [40, 60, 35, 90]})
    res = pool_proportions(df, measure="PLO", method="REML")
    table = pooled_table({"a": res})
    row = table.iloc[0]
    assert (row["k"], row["events"], row["total"]) == (4, 16, 225)
    assert row["estimate"] == res.estimate and row["i2"] == res.i2
    assert row["pi_method"] == res.pi_method


def test_subgroup_tests_say_why_a_test_cannot_be_made() -> None:
    from review.meta import subgroups
    from review.report import subgroup_tests

    df = pd.DataFrame(
        {
            "events": [2, 5, 1, 8, 3, 4],
            "n": [40, 60, 35, 90, 50, 70],
            "target": ["CD19", "CD19", "BCMA", "BCMA", "CD19", "BCMA"],
            "design": ["trial"] * 6,
        }
    )
    res = pool_proportions(df, measure="PLO", method="REML")
    table = subgroup_tests(res, ["target", "design"]).set_index("by")
    expected = subgroups(res, by="target")
    assert table.loc["target", "pvalue"] == expected.q_between_pvalue
    assert pd.isna(table.loc["design", "pvalue"])
    assert "at least 2 groups" in table.loc["design", "note"]
    # every group with its number of studies, tested or not
    assert table.loc["target", "k_per_group"] == "BCMA: 3; CD19: 3"  # the groups as fitted
    assert table.loc["design", "k_per_group"] == "trial: 6"


@pytest.mark.parametrize("bad", ["six", "inf"])
def test_a_published_value_that_is_not_a_finite_number_is_refused(tmp_path: Path, bad: str) -> None:
    df = pd.read_csv(TIX, dtype=str, keep_default_na=False)
    df.loc[2, "value"] = bad
    path = tmp_path / "published.csv"
    df.to_csv(path, index=False)
    with pytest.raises(ExtractionError, match="not") as info:
        load_published(path)
    assert (info.value.row, info.value.column) == (4, "value")
