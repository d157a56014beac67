"""Every number a figure prints is the number the result holds.

The drawn text is read back from the figure's artists (by their ``gid``) and compared with
the result object twice: as the string the same ``review._format`` helper gives, and parsed
back as a number that must lie within half a unit of the last printed decimal of the
computed value (so a wrong field or a wrong scale cannot pass by formatting alike).
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import matplotlib.text
import numpy as np
import pandas as pd
import pytest

from review._format import fmt_p, fmt_x
from review.errors import OptionError
from review.meta import (
    cumulative,
    leave_one_out,
    method_sensitivity,
    pool_proportions,
    pool_rates,
    regtest,
    subgroups,
)
from review.meta._vocab import MEASURES, METHODS, TESTS
from review.plots import _layout as L
from review.plots import (
    forest,
    forest_cumulative,
    forest_leave_one_out,
    funnel,
    method_sensitivity_plot,
)

# the engine warns (as it should) about the continuity corrections in these data sets
pytestmark = pytest.mark.filterwarnings("ignore:continuity correction:UserWarning")


def study_frame(k: int, seed: int = 7, long_label: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.integers(20, 400, k)
    p = 1 / (1 + np.exp(-rng.normal(-2.8, 0.6, k)))
    ev = rng.binomial(n, p)
    ev[min(2, k - 1)] = 0  # one zero-event study
    labels = [f"Study {chr(65 + i % 26)}{i // 26 or ''} {2012 + (i * 7) % 13}" for i in range(k)]
    if long_label:
        labels[1] = (
            "ZUMA-1 long-term follow-up of axicabtagene ciloleucel in refractory "
            "large B-cell lymphoma (Neelapu et al.) 2019"
        )
    return pd.DataFrame(
        {
            "label": labels,
            "events": ev,
            "n": n,
            "person_years": np.round(n * rng.uniform(1.0, 3.0, k), 1),
            "target": np.where(np.arange(k) % 3 == 0, "BCMA", "CD19"),
        }
    )


def texts(fig) -> dict[str, str]:
    out = {}
    for t in fig.findobj(matplotlib.text.Text):
        gid = t.get_gid()
        if gid:
            out[gid] = t.get_text()
    return out


def num(s: str) -> float:
    return float(s.replace("%", ""))


def interval(s: str) -> tuple[float, float]:
    m = re.fullmatch(r"\[(-?[\d.]+), (-?[\d.]+)\]§?", s)
    assert m, s
    return float(m.group(1)), float(m.group(2))


def close(printed: float, value: float, digits: int, mult: float = 1.0) -> bool:
    return abs(printed - value * mult) <= 0.5 * 10.0**-digits + 1e-9


@pytest.fixture(scope="module")
def res():
    return pool_proportions(
        study_frame(12), events="events", n="n", measure="PLO", method="REML", label="label"
    )


def test_study_rows_print_the_result(res):
    fig = forest(res)
    tx = texts(fig)
    st = res.studies.reset_index(drop=True)
    assert len(st) == res.k == 12
    for i, r in st.iterrows():
        # the label, wrapped (lines may break after a hyphen), with † if corrected
        squeeze = "".join(tx[f"label:study:{i}"].split())
        assert squeeze in ("".join(str(r["label"]).split()), "".join(str(r["label"]).split()) + "†")
        assert squeeze.endswith("†") == bool(r["corrected"])
        assert tx[f"events:study:{i}"] == fmt_x(float(r["events"]), 0)
        assert int(tx[f"events:study:{i}"]) == r["events"]
        assert int(tx[f"n:study:{i}"]) == r["n"]
        est = tx[f"est:study:{i}"]
        assert est == fmt_x(100 * r["estimate"], 1)
        assert close(num(est), r["estimate"], 1, 100)
        lo, hi = interval(tx[f"ci:study:{i}"])
        assert close(lo, r["ci_low"], 1, 100) and close(hi, r["ci_high"], 1, 100)
        w = tx[f"weight:study:{i}"]
        assert w == fmt_x(r["weight"], 1) + "%"
        assert close(num(w), r["weight"], 1)


def test_study_ci_is_exact_clopper_pearson(res):
    from statsmodels.stats.proportion import proportion_confint

    tx = texts(forest(res, digits=2))
    st = res.studies.reset_index(drop=True)
    lo, hi = proportion_confint(st["events"], st["n"], alpha=0.05, method="beta")
    for i in range(len(st)):
        plo, phi = interval(tx[f"ci:study:{i}"])
        assert close(plo, float(lo[i]), 2, 100) and close(phi, float(hi[i]), 2, 100)


def test_pooled_rows_heterogeneity_and_prediction_interval(res):
    tx = texts(forest(res, common=True))
    assert tx["label:pooled:random"] == "Random-effects model"
    assert tx["est:pooled:random"] == fmt_x(100 * res.estimate, 1)
    lo, hi = interval(tx["ci:pooled:random"])
    assert close(lo, res.ci_low, 1, 100) and close(hi, res.ci_high, 1, 100)
    assert tx["weight:pooled:random"] == "100.0%"
    assert int(tx["events:pooled:random"]) == int(res.studies["events"].sum())
    assert int(tx["n:pooled:random"]) == int(res.studies["n"].sum())
    # common effect
    assert res.fixed is not None
    assert tx["est:pooled:common"] == fmt_x(100 * res.fixed.estimate, 1)
    lo, hi = interval(tx["ci:pooled:common"])
    assert close(lo, res.fixed.ci_low, 1, 100) and close(hi, res.fixed.ci_high, 1, 100)
    # prediction interval
    lo, hi = interval(tx["ci:pi"])
    assert close(lo, res.pi_low, 1, 100) and close(hi, res.pi_high, 1, 100)
    # heterogeneity line, read back number by number
    het = " ".join(tx["text:het"].replace("\u00a0", " ").split())
    m = re.fullmatch(
        r"Heterogeneity: I² = ([\d.]+)%, τ² = ([\d.]+), Q = ([\d.]+) "
        r"\(df = (\d+)\), p (=|<) (\.\d+)",
        het,
    )
    assert m, het
    assert m.group(1) == fmt_x(res.i2, 1) and close(float(m.group(1)), res.i2, 1)
    assert m.group(2) == fmt_x(res.tau2, 4) and close(float(m.group(2)), res.tau2, 4)
    assert m.group(3) == fmt_x(res.q, 2) and close(float(m.group(3)), res.q, 2)
    assert int(m.group(4)) == res.q_df == res.k - 1
    p = fmt_p(res.q_pvalue)
    assert (m.group(5) + m.group(6)) in (p, "=" + p)


def test_footnote_names_measure_method_test_and_pi_method(res):
    foot = " ".join(texts(forest(res))["footnote"].replace("\u00a0", " ").split())
    for name in (
        MEASURES[res.measure].long_name,
        METHODS[res.method].long_name,
        TESTS[res.test].long_name,
    ):
        assert " ".join(name.split()) in foot, name
    assert "95% PI: z (as metafor predict())" in foot
    assert "Clopper-Pearson" in foot


def test_pi_method_t_distribution_named(res):
    knha = pool_proportions(
        study_frame(12),
        events="events",
        n="n",
        measure="PLO",
        method="REML",
        test="knha",
        pi_method="riley",
        label="label",
    )
    foot = " ".join(texts(forest(knha))["footnote"].split())
    assert knha.link.pi_df is not None
    lost = round(knha.k - knha.link.pi_df)
    assert f"95% PI: t(k−{lost}), df = {knha.link.pi_df:g}" in foot
    assert "Riley" in foot
    lo, hi = interval(texts(forest(knha))["ci:pi"])
    assert close(lo, knha.pi_low, 1, 100) and close(hi, knha.pi_high, 1, 100)


@pytest.mark.parametrize(
    "sort,key",
    [
        ("estimate", lambda st: st["estimate"].to_numpy()),
        ("precision", lambda st: np.sqrt(st["vi"].to_numpy())),
    ],
)
def test_sorting(res, sort, key):
    tx = texts(forest(res, sort=sort))
    st = res.studies
    order = [tx[f"est:study:{i}"] for i in range(res.k)]
    expected = st.iloc[np.argsort(key(st), kind="stable")]
    assert order == [fmt_x(100 * v, 1) for v in expected["estimate"]]


def test_sort_by_year_from_labels(res):
    tx = texts(forest(res, sort="year"))
    years = [
        int(re.findall(r"(?:19|20)\d\d", " ".join(tx[f"label:study:{i}"].split()))[-1])
        for i in range(res.k)
    ]
    assert years == sorted(years)


def test_rates_print_per_100_person_years():
    df = study_frame(8)
    r = pool_rates(df, events="events", time="person_years", method="REML", label="label")
    tx = texts(forest(r))
    st = r.studies.reset_index(drop=True)
    assert tx["header:n"] == "Person-years"
    for i, row in st.iterrows():
        assert close(num(tx[f"n:study:{i}"]), row["time"], 1)
        assert tx[f"est:study:{i}"] == fmt_x(100 * row["estimate"], 2)
        lo, hi = interval(tx[f"ci:study:{i}"])
        assert close(lo, row["ci_low"], 2, 100) and close(hi, row["ci_high"], 2, 100)
    assert tx["est:pooled:random"] == fmt_x(100 * r.estimate, 2)
    assert "exact Poisson" in tx["footnote"]
    with pytest.raises(OptionError, match="scale 'percent'"):
        forest(r, scale="percent")


def test_subgroup_blocks_and_test_for_differences(res):
    sg = subgroups(res, by="target")
    tx = texts(forest(sg))
    for gi, (name, g) in enumerate(sg.groups.items()):
        # each group named with its number of studies
        assert tx[f"label:group:{gi}"] == f"{name} ({g.k} studies)"
        assert tx[f"est:g{gi}:pooled:random"] == fmt_x(100 * g.estimate, 1)
        lo, hi = interval(tx[f"ci:g{gi}:pooled:random"])
        assert close(lo, g.ci_low, 1, 100) and close(hi, g.ci_high, 1, 100)
        assert fmt_x(g.i2, 1) in tx[f"text:g{gi}:het"]
        n_rows = sum(1 for k in tx if k.startswith(f"est:g{gi}:study:"))
        assert n_rows == g.k
    assert tx["est:pooled:random"] == fmt_x(100 * sg.overall.estimate, 1)
    test = " ".join(tx["text:subgroup-test"].replace("\u00a0", " ").split())
    m = re.fullmatch(
        r"Test for subgroup differences: Q = ([\d.]+), df = (\d+), p (=|<) (\.\d+)", test
    )
    assert m, test
    assert close(float(m.group(1)), sg.q_between, 2) and int(m.group(2)) == sg.q_between_df
    # weights shown are the overall fit's, and the group rows sum them
    w = {str(lbl): wt for lbl, wt in zip(sg.overall.studies["label"], sg.overall.studies["weight"])}
    for gi, (_, g) in enumerate(sg.groups.items()):
        total = sum(w[str(lbl)] for lbl in g.studies["label"])
        assert close(num(tx[f"weight:g{gi}:pooled:random"]), total, 1)
    tx_qm = texts(forest(sg, subgroup_test="qm"))
    assert fmt_x(sg.qm, 2) in tx_qm["text:subgroup-test"]


def test_leave_one_out_rows(res):
    loo = leave_one_out(res)
    tx = texts(forest_leave_one_out(loo))
    for i, r in enumerate(loo.table.itertuples()):
        assert " ".join(tx[f"label:step:{i}"].split()).startswith(f"Omitting {r.label}"[:20])
        assert tx[f"est:step:{i}"] == fmt_x(100 * r.estimate, 1)
        lo, hi = interval(tx[f"ci:step:{i}"])
        assert close(lo, r.ci_low, 1, 100) and close(hi, r.ci_high, 1, 100)
        assert tx[f"tau2:step:{i}"] == fmt_x(r.tau2, 4)
        assert tx[f"i2:step:{i}"] == fmt_x(r.i2, 1) + "%"
    assert tx["est:pooled:random"] == fmt_x(100 * res.estimate, 1)


def test_cumulative_rows(res):
    cum = cumulative(res)
    tx = texts(forest_cumulative(cum))
    for i, r in enumerate(cum.table.itertuples()):
        assert f"(k = {r.k})" in tx[f"label:step:{i}"].replace("\n", " ")
        assert tx[f"est:step:{i}"] == fmt_x(100 * r.estimate, 1)
        lo, hi = interval(tx[f"ci:step:{i}"])
        assert close(lo, r.ci_low, 1, 100) and close(hi, r.ci_high, 1, 100)
    last = cum.table.iloc[-1]
    assert close(last["estimate"], res.estimate, 8)


@pytest.mark.parametrize("k,exploratory", [(8, True), (12, False)])
def test_funnel_prints_regtest(k, exploratory):
    r = pool_proportions(
        study_frame(k), events="events", n="n", measure="PLO", method="REML", label="label"
    )
    for test, pred in (("egger", "sei"), ("peters", "ninv")):
        rt = regtest(r, predictor=pred)
        txt = " ".join(texts(funnel(r, test=test))["funnel-test"].replace("\u00a0", " ").split())
        m = re.search(r"([zt])(?: \(df = [\d.]+\))? = (-?[\d.]+), p (=|<) (\.\d+)", txt)
        assert m, txt
        assert close(float(m.group(2)), rt.zval, 2)
        assert m.group(4) == fmt_p(rt.pval).lstrip("<")
        assert ("Egger's test" if test == "egger" else "Peters' test") in txt
        assert ("Exploratory: k = " in txt) is exploratory


def test_logit_axis_arrows_for_zero_event_study(res):
    fig = forest(res, xscale="logit")
    gids = {a.get_gid() for a in fig.findobj() if a.get_gid()}
    assert "arrow-left" in gids  # the zero-event study's interval reaches 0
    st = res.studies.reset_index(drop=True)
    zero = int(np.flatnonzero(st["events"].to_numpy() == 0)[0])
    assert f"square:study:{zero}" not in gids  # estimate 0 cannot sit on a logit axis
    assert f"square:study:{(zero + 1) % res.k}" in gids


def test_xlim_gives_arrows(res):
    fig = forest(res, xlim=(0, 5))
    gids = [a.get_gid() for a in fig.findobj() if a.get_gid()]
    beyond = int((res.studies["ci_high"] > 0.05).sum())
    assert gids.count("arrow-right") >= beyond > 0


def test_square_area_proportional_to_weight(res):
    fig = forest(res)
    sizes = {}
    for c in fig.findobj(lambda a: (a.get_gid() or "").startswith("square:study:")):
        sizes[int(c.get_gid().rsplit(":", 1)[1])] = float(c.get_sizes()[0])
    st = res.studies.reset_index(drop=True)
    big = [i for i in sizes if np.sqrt(sizes[i]) > 2.3]  # above the minimum side
    wmax = st["weight"].max()
    smax = max(sizes.values())
    for i in big:
        assert sizes[i] / smax == pytest.approx(st["weight"][i] / wmax, rel=1e-6)


def test_bad_options(res):
    with pytest.raises(OptionError, match="Invalid scale"):
        forest(res, scale="permille")
    with pytest.raises(OptionError, match="Invalid sort"):
        forest(res, sort="size")
    with pytest.raises(OptionError, match="Invalid xscale"):
        forest(res, xscale="sqrt")
    with pytest.raises(OptionError, match="PoolResult"):
        forest(res.studies)
    import dataclasses

    with pytest.raises(OptionError, match="common-effect"):
        forest(dataclasses.replace(res, fixed=None), common=True)
    with pytest.raises(OptionError, match="too narrow"):
        forest(res, width=2.0)


def test_wrap_keeps_every_word_and_width():
    s = (
        "ZUMA-1 long-term follow-up of axicabtagene ciloleucel (Neelapu et al.) "
        "Supercalifragilisticexpialidociousstudyname 2019"
    )
    lines = L.wrap(s, 1.2)
    assert all(L.text_width(line) <= 1.2 + 1e-9 for line in lines)
    assert "".join("".join(lines).split()) == "".join(s.split())


def test_method_sensitivity_rows():
    sens = method_sensitivity(study_frame(12), events="events", n="n", label="label")
    tx = texts(method_sensitivity_plot(sens))
    table = sens.table.reset_index(drop=True)
    drawn = truncated = 0
    for i, r in table.iterrows():
        if r["status"] != "ok":
            assert (
                str(r["status"]) in tx["footnote"].replace("\n", " ")
                or "‡" in tx[f"label:model:{i}"]
            )
            continue
        assert tx[f"label:model:{i}"].replace("\n", " ") == r["model"]
        assert int(tx[f"k:model:{i}"]) == r["k"]
        assert tx[f"est:model:{i}"] == fmt_x(100 * r["estimate"], 1)
        lo, hi = interval(tx[f"ci:model:{i}"])
        assert close(lo, r["ci_low"], 1, 100) and close(hi, r["ci_high"], 1, 100)
        lo, hi = interval(tx[f"pi:model:{i}"])
        # a proportion's bounds are shown within [0, 1], marked and footnoted when cut
        assert close(lo, max(r["pi_low"], 0), 1, 100) and close(hi, min(r["pi_high"], 1), 1, 100)
        if r["pi_low"] < 0:
            truncated += 1
            assert tx[f"pi:model:{i}"].endswith("§")
        assert tx[f"tau2:model:{i}"] == fmt_x(r["tau2"], 4)
        drawn += 1
    assert drawn >= 4
    assert truncated >= 1  # the raw-proportion (PR) model's PI reaches below 0 here
    assert "§ Interval truncated at 0" in tx["footnote"].replace("\n", " ")


def test_figure_displays_in_jupyter_without_pyplot(res):
    png = forest(res)._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert funnel(res)._repr_png_()[:4] == b"\x89PNG"


def test_one_study_subgroup_has_no_pooled_row():
    df = study_frame(9)
    df["grp"] = ["a"] * 4 + ["b"] * 4 + ["c"]
    r = pool_proportions(df, events="events", n="n", label="label")
    sg = subgroups(r, by="grp")
    tx = texts(forest(sg))
    assert "est:g2:study:0" in tx and "est:g2:pooled:random" not in tx
    assert "est:g0:pooled:random" in tx and "est:g1:pooled:random" in tx
    assert "one study has no pooled row" in tx["footnote"].replace("\n", " ")


def test_funnel_of_a_glmm_tests_the_inverse_variance_refit():
    g = pool_proportions(study_frame(12), events="events", n="n", method="GLMM", label="label")
    iv = pool_proportions(study_frame(12), events="events", n="n", method="REML", label="label")
    rt = regtest(iv, predictor="ninv")
    txt = " ".join(texts(funnel(g, test="peters"))["funnel-test"].replace("\u00a0", " ").split())
    assert "A GLMM has no regression test" in txt
    m = re.search(r"z = (-?[\d.]+), p (=|<) (\.\d+)", txt)
    assert m and close(float(m.group(1)), rt.zval, 2)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # engine, NaN CI
def test_missing_interval_prints_na_and_draws_no_line():
    knha = pool_proportions(study_frame(6), events="events", n="n", label="label", test="knha")
    cum = cumulative(knha)
    first = cum.table.iloc[0]
    # step 1 (k = 1) has a z interval, as metafor ("Setting argument test='z' since k=1")
    assert first["k"] == 1 and np.isfinite(first["ci_low"])
    # a step without an interval (as a refit that failed leaves it) prints NA, no line
    table = cum.table.copy()
    table.loc[0, ["ci_low", "ci_high"]] = np.nan
    cum = dataclasses.replace(cum, table=table)
    fig = forest_cumulative(cum)
    assert texts(fig)["ci:step:0"] == "[NA, NA]"
    gids = [a.get_gid() for a in fig.findobj() if a.get_gid()]
    assert "arrow-left" not in gids and "arrow-right" not in gids


def test_wrap_leaves_no_orphan_word():
    from review.plots._style import style

    with style():
        label = "Ghilardi 2024 (Penn, commercial CAR T)"
        width = L.text_width("Ghilardi 2024 (Penn, commercial CAR") + 0.01
        assert L.wrap(label, width) == ["Ghilardi 2024 (Penn, commercial", "CAR T)"]
        # when the moved word would not fit, the greedy lines stay
        narrow = L.text_width("Ghilardi 2024") + 0.01
        lines = L.wrap(label, narrow)
        assert all(L.text_width(x) <= narrow + 1e-9 for x in lines)
        assert " ".join(lines) == label
        # a break after a hyphen is not a space: its word is not moved with a space added
        w = L.text_width("aaaa bbbb cc-") + 0.01
        assert L.wrap("aaaa bbbb cc-dd", w) == ["aaaa bbbb cc-", "dd"]
        # each paragraph on its own; one-line paragraphs untouched
        assert L.wrap("x\nlonger text line", 10.0) == ["x", "longer text line"]


def test_wrap_breaks_after_hyphens_only_before_lower_case():
    from review.plots._style import style

    with style():
        w = L.text_width("xxxx long-") + 0.01
        assert L.wrap("xxxx long-term", w) == ["xxxx long-", "term"]
        # acronyms and trial names stay whole; the word moves to the next line instead
        w = L.text_width("xxxx CART-") + 0.01
        assert L.wrap("xxxx CART-SIE", w) == ["xxxx", "CART-SIE"]
        assert L.wrap("xxxx ZUMA-1", L.text_width("xxxx ZUMA-") + 0.01) == ["xxxx", "ZUMA-1"]
        # a hyphen before a space keeps the space ("pre- and post-treatment")
        assert L.wrap("pre- and post-treatment", 10.0) == ["pre- and post-treatment"]
        narrow = L.wrap("pre- and post-treatment", L.text_width("pre- and") + 0.01)
        assert narrow[0] == "pre- and" and "".join(narrow[1:]) == "post-treatment"


def test_wrap_keeps_statistics_and_citations_together():
    from review.plots._style import style

    with style():
        note = (
            "Exploratory: k = 6 < 10 studies; asymmetry tests have low power (Sterne et al. 2011)."
        )
        for width in (1.6, 2.0, 2.5, 3.0, 3.5):
            lines = L.wrap(note, width)
            assert " ".join(lines) == note
            assert any("k = 6 < 10" in x for x in lines)
            assert any("(Sterne et al. 2011)." in x for x in lines)
        # "z = 3.36," moves whole to the next line rather than leaving "z =" behind
        width = L.text_width("Peters test: z = 3") + 0.01
        lines = L.wrap("Peters test: z = 3.36, p = .0008", width)
        assert lines[0] == "Peters test:" and lines[1].startswith("z = 3.36,")
        # a unit wider than the line is broken at its spaces, nothing lost or cut
        assert L.wrap("k = 6 < 10", L.text_width("k = 6") + 0.01) == ["k = 6", "< 10"]


def test_wrap_property_with_relations_and_citations():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from review.plots._style import style

    words = st.sampled_from(
        [
            "k",
            "=",
            "<",
            "6",
            "p",
            ".0008",
            "et",
            "al.",
            "2011).",
            "(Sterne",
            "long-term",
            "CART-SIE",
            "T)",
            "x",
            "Immunotherapy",
        ]
    )

    @settings(max_examples=200, deadline=None)
    @given(st.lists(words, min_size=1, max_size=30), st.floats(0.2, 3.0))
    def check(ws, width):
        s = " ".join(ws)
        with style():
            lines = L.wrap(s, width)
            assert all(L.text_width(x) <= width + 1e-9 or len(x) == 1 for x in lines)
        assert "".join("".join(lines).split()) == "".join(s.split())

    check()


def test_a_floored_freeman_tukey_estimate_is_explained():
    """Rare events: the FT back-transform floors at 0; the plot says it is not a zero incidence."""
    df = pd.DataFrame(
        {"events": [0, 1, 0, 0, 2], "n": [100, 2000, 150, 300, 3000], "label": list("abcde")}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sens = method_sensitivity(df, events="events", n="n", label="label")
    assert sens.table.set_index("model").loc["PFT", "estimate"] == 0
    foot = texts(method_sensitivity_plot(sens))["footnote"].replace("\n", " ")
    assert "PFT: the back-transformed estimate is exactly 0" in foot
    assert "not a zero incidence" in foot
