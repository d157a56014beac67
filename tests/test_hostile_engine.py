"""Hostile numbers into the pooling engine, and results that are not results (issue 15).

Every value that enters ``pool_proportions``/``pool_rates``/``pool_glmm`` passes one check
(``review._numbers``): it is pooled as the number it is, or refused with an InputError naming
the row and the column, and the caller's frame is left as it was. A fit that did not converge
is never drawn or tabulated as an estimate.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings

import matplotlib.text
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review._numbers import BadNumber, check_number, is_pmid, parse_number
from review.errors import ConvergenceError, InputError, OptionError
from review.meta import _aghq, leave_one_out, pool_proportions, pool_rates
from review.meta import glmm as glmm_mod
from review.meta.glmm import pool_glmm
from review.plots import forest, forest_leave_one_out, funnel
from review.report import pooled_table

GOOD = pd.DataFrame({"events": [2, 5, 1, 8], "n": [40, 60, 35, 90]})
PRITZ = pd.DataFrame(
    {
        "events": [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6],
        "n": [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10],
    }
)


def _with(col: str, row: int, value: object, base: pd.DataFrame = GOOD) -> pd.DataFrame:
    df = base.copy()
    df[col] = df[col].astype(object)
    df.loc[row, col] = value
    return df


# -- the examples ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("col", "value", "match"),
    [
        ("events", 1e19, "too large to be a count"),
        ("n", 1e19, "too large to be a count"),
        ("n", 10**19, "too large to be a count"),
        ("n", 0, "not positive"),
        ("events", True, "boolean"),
        ("n", np.bool_(True), "boolean"),
        ("events", "1_027", "digit separator '_'; write 1027"),
        ("n", "٤٤٩", "not written in ASCII digits; write 449"),
        ("n", "４４９", "not written in ASCII digits; write 449"),
        ("n", "1,027", "thousands separator; write 1027"),
        ("events", "2,5", "decimal comma; write 2.5"),
        ("events", "inf", "not finite"),
        ("n", "nan", "not finite"),
        ("events", "", "empty"),
        ("events", "five", "not a number"),
        ("n", complex(3, 0), "complex"),
        ("n", pd.Timestamp("2020-01-01"), "date"),
        ("events", [1], "not a number"),
    ],
)
def test_hostile_counts_are_refused_naming_row_and_column(col, value, match) -> None:
    df = _with(col, 2, value)
    before = df.copy()
    with pytest.raises(InputError, match=match) as e:
        pool_proportions(df, method="DL")
    assert (e.value.row, e.value.column) == (2, col)
    pd.testing.assert_frame_equal(df, before)  # the caller's frame is left as it was


def test_boolean_columns_are_not_counts() -> None:
    df = pd.DataFrame({"events": [True, False, True], "n": [10, 12, 14]})
    with pytest.raises(InputError, match="boolean") as e:
        pool_proportions(df, method="DL")
    assert (e.value.row, e.value.column) == (0, "events")
    df = pd.DataFrame({"events": [1, 0, 1], "n": pd.array([True, True, True], dtype="boolean")})
    with pytest.raises(InputError, match="boolean"):
        pool_proportions(df, method="DL")


def test_timedelta_person_time_is_refused_not_pooled_as_nanoseconds() -> None:
    df = pd.DataFrame({"events": [3, 5, 2], "time": pd.to_timedelta([100, 200, 150], unit="D")})
    with pytest.raises(InputError, match="time span") as e:
        pool_rates(df, time="time", method="DL")
    assert (e.value.row, e.value.column) == (0, "time")
    obj = _with(
        "time", 1, dt.timedelta(days=3), pd.DataFrame({"events": [3, 5], "time": [1.0, 2.0]})
    )
    with pytest.raises(InputError, match="time span"):
        pool_rates(obj, time="time", method="FE")


def test_numbers_as_ascii_text_are_pooled_like_numbers() -> None:
    as_text = pd.DataFrame({"events": ["2", " 5", "1.0", "8e0"], "n": ["40", "60", "35", "90"]})
    a = pool_proportions(as_text, method="DL")
    b = pool_proportions(GOOD, method="DL")
    assert a.estimate == b.estimate and a.tau2 == b.tau2


def test_extension_and_nullable_dtypes() -> None:
    df = GOOD.astype({"events": "Int64", "n": "Float64"})
    assert (
        pool_proportions(df, method="DL").estimate == pool_proportions(GOOD, method="DL").estimate
    )
    df.loc[1, "events"] = pd.NA
    with pytest.raises(InputError, match="missing value") as e:
        pool_proportions(df, method="DL")
    assert (e.value.row, e.value.column) == (1, "events")


def test_uint64_beyond_2_53_is_refused() -> None:
    df = pd.DataFrame(
        {"events": np.array([1, 2], dtype=np.uint64), "n": np.array([10, 2**63], dtype=np.uint64)}
    )
    with pytest.raises(InputError, match="too large") as e:
        pool_proportions(df, method="FE")
    assert e.value.row == 1


def test_duplicate_column_names_are_refused() -> None:
    df = pd.DataFrame([[1, 10, 3], [2, 20, 4]], columns=["events", "n", "events"])
    with pytest.raises(InputError, match="more than once"):
        pool_proportions(df, method="FE")


def test_person_time_may_be_fractional_but_not_zero_or_negative() -> None:
    base = pd.DataFrame({"events": [3, 5, 2], "time": [10.5, 20.25, 7.0]})
    assert pool_rates(base, time="time", method="DL").k == 3
    for bad, match in ((0.0, "not positive"), (-1.0, "not positive"), ("1e400", "finite")):
        with pytest.raises(InputError, match=match):
            pool_rates(_with("time", 0, bad, base), time="time", method="DL")


def test_non_dataframe_and_options_are_errors_of_the_tree() -> None:
    with pytest.raises(InputError, match="DataFrame"):
        pool_proportions([[1, 2]])  # type: ignore[arg-type]
    with pytest.raises(OptionError):
        pool_proportions(GOOD, method="dl")  # type: ignore[arg-type]


# -- the number check itself, on generated text -------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_parse_number_reads_only_ascii_numbers(text: str) -> None:
    try:
        x = parse_number(text)
    except BadNumber as e:
        assert str(e)  # a reason, in words
        return
    s = text.strip()
    assert s.isascii() and "_" not in s
    assert x == float(s)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["arabic", "fullwidth", "deva"]))
def test_other_digit_systems_are_refused_with_the_ascii_form(value: int, system: str) -> None:
    base = {"arabic": 0x660, "fullwidth": 0xFF10, "deva": 0x966}[system]
    text = "".join(chr(base + int(c)) for c in str(value))
    with pytest.raises(BadNumber, match=f"write {value}$"):
        parse_number(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_is_pmid_is_ascii_digits_only(text: str) -> None:
    assert is_pmid(text) == (
        text.isascii() and text.isdigit() and 1 <= len(text) <= 9 and int(text) > 0
    )


HOSTILE_VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
    st.sampled_from(["1_027", "٤٤٩", "４４９", "1,027", "12", " 7 ", "3.0", "1e3", pd.NA, pd.NaT]),
    st.timedeltas(max_value=dt.timedelta(days=10**4)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(HOSTILE_VALUES, HOSTILE_VALUES), min_size=1, max_size=6))
def test_generated_study_tables_pool_correctly_or_name_row_and_column(rows) -> None:
    df = pd.DataFrame({"events": [r[0] for r in rows], "n": [r[1] for r in rows]}, dtype=object)
    before = df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = pool_proportions(df, method="FE")
        except InputError as e:
            assert e.column in ("events", "n") and e.row in range(len(rows))
            pd.testing.assert_frame_equal(df, before)
            return
    # accepted: every value was a whole ASCII number within range, events <= n, n > 0
    ev = [check_number(v, what="e") for v in df["events"]]
    nn = [check_number(v, what="n", positive=True) for v in df["n"]]
    assert all(0 <= e <= n for e, n in zip(ev, nn))
    assert res.k <= len(rows) and 0 <= res.estimate <= 1
    pd.testing.assert_frame_equal(df, before)


# -- results that are not results ---------------------------------------------------------


@pytest.fixture
def not_converged(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    real = _aghq.fit_ml
    monkeypatch.setattr(glmm_mod._aghq, "fit_ml", lambda d, **kw: real(d, maxit=1, **kw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pool_glmm(PRITZ, family="binomial")
    assert res.converged is False
    return res


def _texts(fig) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def _gids(fig) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.get_gid() for a in fig.findobj() if a.get_gid()]


def test_forest_never_draws_a_fit_that_did_not_converge(not_converged) -> None:
    # issue 15: a GLMM that did not converge was drawn as 0.0% [0.0, 98.3] with no mark
    fig = forest(not_converged)
    texts = " | ".join(_texts(fig))
    assert "not converged" in texts and "‡" in texts
    assert "did not converge" in texts  # the footnote says why there is no estimate
    assert not [g for g in _gids(fig) if g.startswith(("diamond:", "pi-bar:"))]
    pooled = f"{100 * not_converged.estimate:.1f}"
    assert f"{pooled} [" not in texts
    assert len([g for g in _gids(fig) if g.startswith("square:")]) == len(PRITZ)


def test_converged_fit_still_drawn_with_its_diamond() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pool_glmm(PRITZ, family="binomial")
    fig = forest(res)
    assert any(g.startswith("diamond:") for g in _gids(fig))
    assert "not converged" not in " ".join(_texts(fig))


def test_tables_blank_a_fit_that_did_not_converge(not_converged) -> None:
    frame = not_converged.to_frame()
    pooled = frame[frame["kind"] != "study"]
    assert pooled[["estimate", "ci_low", "ci_high"]].isna().all().all()
    assert pooled["label"].str.contains("did not converge").all()
    study = frame[frame["kind"] == "study"]
    assert study["estimate"].notna().all()  # the studies' own numbers are still data
    table = pooled_table({"all": not_converged})
    assert not table.loc[0, "converged"]
    assert table[["estimate", "ci_low", "ci_high", "tau2", "i2"]].isna().all(axis=None)


def test_funnel_of_a_fit_that_did_not_converge_is_refused(not_converged) -> None:
    with pytest.raises(ConvergenceError, match="did not converge"):
        funnel(not_converged, test="egger")


def test_leave_one_out_refits_that_did_not_converge_have_no_point(monkeypatch) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = pool_proportions(GOOD.assign(label=list("abcd")), label="label", method="REML")
        loo = leave_one_out(base)
    table = loo.table.copy()
    table.loc[1, "converged"] = False
    bad = type(loo)(table=table, base=loo.base, notes=loo.notes)
    fig = forest_leave_one_out(bad)
    points = [g for g in _gids(fig) if g.startswith("point:")]
    assert len(points) == len(table) - 1
    assert "not converged" in " ".join(_texts(fig))
    frame = bad.to_frame()
    assert math.isnan(frame.loc[1, "estimate"]) and not math.isnan(frame.loc[0, "estimate"])


# -- moderators: the same number check ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "match"),
    [(np.inf, "not a finite number"), (-np.inf, "not a finite number"), (np.nan, "missing")],
)
def test_numeric_moderator_that_is_not_a_number_names_row(value: float, match: str) -> None:
    from review.meta import meta_regression

    df = pd.DataFrame(
        {"events": [2, 5, 1, 8, 4, 9], "n": [40, 60, 35, 90, 50, 200], "fu": [1.0, 2, 3, 4, 5, 6]}
    )
    df.loc[3, "fu"] = value
    res = pool_proportions(df, method="REML")
    with pytest.raises(InputError, match=match) as e:
        meta_regression(res, mods="fu")
    assert (e.value.row, e.value.column) == (3, "fu")


def test_time_span_moderator_is_refused() -> None:
    from review.meta import meta_regression

    df = pd.DataFrame(
        {
            "events": [2, 5, 1, 8, 4, 9],
            "n": [40, 60, 35, 90, 50, 200],
            "fu": pd.to_timedelta([100, 200, 300, 400, 500, 600], unit="D"),
        }
    )
    res = pool_proportions(df, method="REML")
    with pytest.raises(InputError, match="time span") as e:
        meta_regression(res, mods="fu")
    assert e.value.column == "fu"
