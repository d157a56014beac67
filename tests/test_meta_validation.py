"""Bad input is refused at the door with errors that name the row and the column; unknown
codes are refused with the list of valid ones (STYLE points 1, 4, 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from review.errors import InputError, OptionError
from review.meta import (
    confint_tau2,
    meta_regression,
    pool_proportions,
    pool_rates,
    regtest,
    subgroups,
)
from review.meta._vocab import check_code

GOOD = pd.DataFrame({"events": [2, 5, 1, 8], "n": [40, 60, 35, 90], "id": list("abcd")})


def _with(col: str, i: int, value) -> pd.DataFrame:
    df = GOOD.copy()
    df[col] = df[col].astype(object)
    df.loc[i, col] = value
    return df


@pytest.mark.parametrize(
    "col,row,value,match",
    [
        ("events", 2, 50, "greater than n"),
        ("events", 1, -1, "negative"),
        ("events", 3, 2.5, "not a whole number"),
        ("events", 0, None, "missing value"),
        ("events", 0, np.nan, "missing value"),
        ("events", 1, "five", "not a number"),
        ("n", 2, 0, "not positive"),
        ("n", 1, 40.5, "not a whole number"),
        ("n", 3, None, "missing value"),
        ("events", 2, np.inf, "not a finite number"),
    ],
)
def test_bad_counts_name_row_and_column(col, row, value, match) -> None:
    with pytest.raises(InputError, match=match) as e:
        pool_proportions(_with(col, row, value), label="id")
    assert e.value.row == row
    assert e.value.column == col
    assert f"row {row}" in str(e.value) and repr(col) in str(e.value)


def test_index_labels_are_reported_as_rows() -> None:
    df = GOOD.set_index(pd.Index([10, 11, 12, 13]))
    df.loc[12, "events"] = 99
    with pytest.raises(InputError) as e:
        pool_proportions(df)
    assert e.value.row == 12


def test_missing_columns_and_labels() -> None:
    with pytest.raises(InputError, match="not found") as e:
        pool_proportions(GOOD, events="cases")
    assert e.value.column == "cases"
    with pytest.raises(InputError, match="label column"):
        pool_proportions(GOOD, label="study")
    with pytest.raises(InputError, match="duplicate study label") as e:
        pool_proportions(GOOD.assign(id=["a", "b", "a", "d"]), label="id")
    assert e.value.row == 2
    with pytest.raises(InputError, match="missing study label"):
        pool_proportions(GOOD.assign(id=["a", None, "c", "d"]), label="id")
    with pytest.raises(InputError, match="DataFrame"):
        pool_proportions([[1, 2]])  # type: ignore[arg-type]


def test_rates_validation() -> None:
    df = pd.DataFrame({"events": [1, 2], "person_years": [10.0, -1.0]})
    with pytest.raises(InputError, match="person-time") as e:
        pool_rates(df)
    assert e.value.row == 1 and e.value.column == "person_years"
    with pytest.raises(InputError, match="not found"):
        pool_rates(df, time="py")


def test_too_few_studies_for_random_effects() -> None:
    with pytest.raises(InputError, match="at least 2"):
        pool_proportions(GOOD.iloc[:1])
    assert pool_proportions(GOOD.iloc[:1], method="FE").k == 1


@pytest.mark.parametrize(
    "kwargs,word",
    [
        ({"measure": "PLN"}, "measure"),
        ({"measure": "plo"}, "measure"),
        ({"measure": "IRLN"}, "measure"),
        ({"method": "dl"}, "method"),
        ({"method": "REML "}, "method"),
        ({"test": "hksj"}, "test"),
        ({"test": "t"}, "test"),
        ({"pi_method": "higgins"}, "pi_method"),
        ({"to": "some"}, "to"),
    ],
)
def test_unknown_codes_list_the_valid_ones(kwargs, word) -> None:
    with pytest.raises(OptionError, match=rf"Invalid {word} .*; must be one of \[") as e:
        pool_proportions(GOOD, **kwargs)
    assert "'" in str(e.value)


def test_level_and_add_ranges() -> None:
    for level in (0, 1, 95, -0.5, "0.95"):
        with pytest.raises(OptionError, match="level"):
            pool_proportions(GOOD, level=level)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="add"):
        pool_proportions(GOOD.assign(events=[0, 5, 1, 8]), add=-1)


def test_rate_measures_only_for_rates() -> None:
    df = pd.DataFrame({"events": [1, 2], "person_years": [10.0, 20.0]})
    with pytest.raises(OptionError, match="must be one of \\['IR', 'IRLN', 'IRS', 'IRFT'\\]"):
        pool_rates(df, measure="PLO")  # type: ignore[arg-type]


def test_check_code_exact_spelling() -> None:
    assert check_code("method", "REML") == "REML"
    with pytest.raises(OptionError, match="'FE', 'DL', 'REML'"):
        check_code("method", "reml")


def test_options_of_result_consumers() -> None:
    res = pool_proportions(GOOD, label="id")
    with pytest.raises(OptionError, match="type"):
        confint_tau2(res, type="Wald")
    with pytest.raises(OptionError, match="PL"):
        confint_tau2(pool_proportions(GOOD, method="DL"), type="PL")
    with pytest.raises(OptionError, match="fixed-effect"):
        confint_tau2(pool_proportions(GOOD, method="FE"))
    with pytest.raises(OptionError, match="predictor"):
        regtest(res, predictor="n")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="not found") as e:
        subgroups(res, by="target")
    assert e.value.column == "target"
    with pytest.raises(InputError, match="moderator column"):
        meta_regression(res, mods=["followup"])
    df = GOOD.assign(fu=[1.0, None, 3.0, 4.0])
    with pytest.raises(InputError, match="missing moderator value") as e:
        meta_regression(pool_proportions(df, label="id"), mods="fu")
    assert e.value.row == 1 and e.value.column == "fu"
