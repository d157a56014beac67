"""Result objects: frozen, complete, displayed in metafor's layout; subgroup, regression
and sensitivity analyses that take a result."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from review.errors import OptionError
from review.meta import (
    PoolResult,
    confint_tau2,
    cumulative,
    ft_guardrail,
    influence,
    leave_one_out,
    meta_regression,
    method_sensitivity,
    pool_proportions,
    pool_rates,
    refit,
    regtest,
    subgroups,
)

REF = json.loads(
    (Path(__file__).parent / "data" / "metafor_reference.json").read_text(encoding="utf-8")
)


def _k30() -> pd.DataFrame:
    d = REF["datasets"]["k30"]
    return pd.DataFrame(
        {"label": d["label"], "events": d["events"], "n": d["n"], "x": d["x"], "g": d["g"]}
    )


@pytest.fixture(scope="module")
def res() -> PoolResult:
    return pool_proportions(_k30(), label="label", method="REML", test="knha")


def test_pool_result_is_frozen_and_keeps_its_inputs(res: PoolResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.estimate = 0.5  # type: ignore[misc]
    assert {"measure", "method", "test", "level", "pi_method", "add", "to"} <= set(res.options)
    assert list(res.data.columns[:3]) == ["label", "events", "n"]
    assert {"x", "g"} <= set(res.data.columns)
    assert list(res.studies.columns) == [
        "label", "events", "n", "yi", "vi", "estimate", "ci_low", "ci_high", "weight",
        "corrected",
    ]  # fmt: skip
    # DESIGN.md field names
    for f in (
        "measure", "method", "test", "level", "k", "estimate", "ci_low", "ci_high", "pi_low",
        "pi_high", "pi_method", "tau2", "tau2_ci", "i2", "h2", "q", "q_df", "q_pvalue",
        "link", "studies", "fixed", "notes", "converged",
    ):  # fmt: skip
        assert hasattr(res, f), f
    for f in ("estimate", "se", "zval", "pval", "ci_low", "ci_high", "pi_low", "pi_high"):
        assert hasattr(res.link, f), f


def test_refit_reproduces_the_fit(res: PoolResult) -> None:
    again = refit(res)
    assert again.estimate == res.estimate and again.tau2 == res.tau2
    other = refit(res, method="DL")
    assert other.method == "DL" and other.tau2 != res.tau2


def test_summary_has_metafor_layout(res: PoolResult) -> None:
    text = res.summary()
    assert text.startswith("Random-Effects Model (k = 30; tau^2 estimator: REML)")
    for piece in (
        "tau^2 (estimated amount of total heterogeneity): 0.1207 (SE = 0.0476)",
        "I^2 (total heterogeneity / total variability):   72.27%",
        "H^2 (total variability / sampling variability):  3.61",
        "Q(df = 29) = 109.4665, p-val < .0001",
        "tval",
        "Signif. codes",
        "Prediction interval: as metafor 3.8 predict()",
        "tau^2 95% CI (Q-profile)",
    ):
        assert piece in text, piece
    r = repr(res)
    assert "\n" not in r and r.startswith("PoolResult(PLO/REML/knha, k=30")


def test_to_frame_and_html(res: PoolResult) -> None:
    f = res.to_frame()
    assert list(f.columns) == [
        "label", "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "weight", "kind",
        "pi_method", "study_ci", "i2_method",
    ]  # fmt: skip
    assert (f["study_ci"] == "CP").all() and (f["i2_method"] == "tau2").all()
    assert (f["kind"] == "study").sum() == 30
    pooled = f[f["kind"] == "random"].iloc[0]
    assert pooled["estimate"] == res.estimate and pooled["pi_high"] == res.pi_high
    assert (f["pi_method"] == "metafor").all()
    html = res._repr_html_()
    assert html.startswith("<div>") and "<table" in html and "Q(df = 29)" in html


def test_every_result_displays(res: PoolResult) -> None:
    objs = [
        subgroups(res, by="g"),
        meta_regression(res, mods=["x", "g"]),
        leave_one_out(res),
        influence(res),
        regtest(res),
        cumulative(res),
        confint_tau2(res),
        ft_guardrail(res, warn=False),
        method_sensitivity(_k30(), label="label"),
    ]
    for o in objs:
        assert isinstance(o.summary(), str) and len(o.summary()) > 40
        assert isinstance(o.to_frame(), pd.DataFrame) and len(o.to_frame()) > 0
        assert "<div>" in o._repr_html_()
        assert "\n" not in repr(o)


def test_subgroups_qm_equals_metafor_factor_moderator(res: PoolResult) -> None:
    # R: rma(yi, vi, mods = ~ factor(g), data = es, method = "REML", test = "knha")
    ref = next(m for m in REF["moderators"] if m["id"] == "k30-PLO-DL-knha-g")
    sub = subgroups(refit(res, method="DL"), by="g")
    v = ref["values"]
    assert sub.qm == pytest.approx(v["QM"], rel=1e-6)
    assert sub.qm_pvalue == pytest.approx(v["QMp"], rel=1e-6)
    assert sub.qm_dist == "F" and sub.qm_df == v["QMdf"][0] and sub.qm_df2 == v["QMdf"][1]
    assert sub.tau2_common == pytest.approx(v["tau2"], rel=1e-6)


def test_subgroups_separate_tau2_between_test(res: PoolResult) -> None:
    sub = subgroups(res, by="g")
    t = sub.table
    assert t["k"].sum() == res.k and list(t["group"]) == ["A", "B", "C"]
    # Q between = sum w_g (theta_g - theta_bar)^2 with w_g = 1/se_g^2 (meta's Q.b.random)
    th = t["link_estimate"].to_numpy()
    w = 1 / t["link_se"].to_numpy() ** 2
    qb = np.sum(w * (th - np.sum(w * th) / np.sum(w)) ** 2)
    assert sub.q_between == pytest.approx(qb)
    assert sub.q_between_df == 2
    for g, fit in sub.groups.items():
        assert fit.k == (res.data["g"] == g).sum()
    assert "separate tau^2" in sub.summary() and "common tau^2" in sub.summary()


def test_subgroup_with_one_study_is_fixed_effect() -> None:
    df = pd.DataFrame({"events": [2, 5, 1, 8], "n": [40, 60, 35, 90], "g": list("aabb")})
    df.loc[3, "g"] = "c"
    sub = subgroups(pool_proportions(df), by="g")
    assert sub.groups["c"].method == "FE" and any("one study" in n for n in sub.notes)


def test_meta_regression_r2_and_knha() -> None:
    res = pool_proportions(_k30(), label="label")
    m = meta_regression(res, mods="x")
    assert m.qm_dist == "chisq" and m.qm_df2 is None
    assert 0 <= m.r2 <= 100
    assert list(m.coefficients["term"]) == ["intrcpt", "x"]


def test_sensitivity_table_rows_and_glmm_row() -> None:
    s = method_sensitivity(_k30(), label="label")
    assert list(s.table["model"]) == ["GLMM (binomial-normal)", "PLO", "PAS", "PFT", "PR"]
    assert (s.table["status"] == "ok").all()
    assert s.table["pi_method"].eq("metafor").all()
    glmm = s.fits["GLMM (binomial-normal)"]
    assert glmm.method == "GLMM" and glmm.measure == "PLO"
    plo = s.fits["PLO"]
    assert plo.estimate == pool_proportions(_k30(), label="label").estimate


def test_sensitivity_states_unavailable_glmm_plainly(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake(name, *a, **k):
        if name == "review.meta.glmm":
            raise ImportError("simulated: GLMM module missing")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    s = method_sensitivity(_k30(), label="label")
    row = s.table.iloc[0]
    assert row["status"].startswith("not available") and np.isnan(row["estimate"])
    assert not row["converged"]


def test_sensitivity_for_rates() -> None:
    d = REF["datasets"]["rates30"]
    df = pd.DataFrame({"events": d["events"], "t": d["time"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = method_sensitivity(df, time="t")
    assert list(s.table["model"]) == ["GLMM (Poisson-normal)", "IRLN", "IR"]
    assert s.fits["IRLN"].kind == "rate"


def test_glmm_results_flow_through_the_generic_tools() -> None:
    df = pd.DataFrame(
        {"events": [0, 1, 0, 3, 2, 12, 5, 30], "n": [15, 22, 40, 61, 80, 350, 120, 1500]}
    )
    with pytest.warns(UserWarning, match="plotted yi/vi"):  # the warning points at this line
        res = pool_proportions(df, method="GLMM")
    # anchors.md A1, metafor 3.8-1 rma.glmm: 0.0254 (0.0170, 0.0378), PI (0.0156, 0.0411)
    got = (res.estimate, res.ci_low, res.ci_high, res.pi_low, res.pi_high)
    assert tuple(round(x, 4) for x in got) == (0.0254, 0.0170, 0.0378, 0.0156, 0.0411)
    assert res.options["method"] == "GLMM" and len(res.data) == 8
    loo = leave_one_out(res)
    assert len(loo.table) == 8
    assert refit(res, res.data.iloc[1:]).k == 7
    # a GLMM result is regressed with the GLMM (issue 18; it was refused before)
    m = meta_regression(res, mods="n")
    assert m.method == "GLMM" and m.k == 8 and list(m.coefficients["term"]) == ["intrcpt", "n"]
    with pytest.raises(OptionError, match="inverse-variance meta-regression"):
        meta_regression(res, mods="n", method="REML")
    with pytest.raises(OptionError, match="GLMM"):
        pool_proportions(df, method="GLMM", measure="PFT")


def test_ft_guardrail_refits_other_measures() -> None:
    res = pool_proportions(_k30(), label="label", measure="PLO")
    g = ft_guardrail(res, warn=False)
    assert g.base.measure == "PFT"
    assert list(g.table["at"]) == ["harmonic mean", "min", "median", "max"]
    with pytest.raises(OptionError):
        ft_guardrail(pool_rates(pd.DataFrame({"events": [1, 2], "person_years": [9.0, 8.0]})))


def test_a_proportions_bounds_are_never_shown_outside_0_1():
    """The raw-proportion model's symmetric interval can reach below 0 (metafor reports it
    so): results keep it, what is shown is cut at 0 with a note; no estimate shows as 0."""
    df = pd.DataFrame(
        {"events": [0, 1, 0, 0, 2], "n": [100, 2000, 150, 300, 3000], "label": list("abcde")}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pool_proportions(df, events="events", n="n", measure="PR", method="REML")
        sens = method_sensitivity(df, events="events", n="n", label="label")
    assert res.ci_low < 0  # kept as metafor gives it
    text = res.summary()
    pooled_line = text.splitlines()[
        text.splitlines().index("      pred     ci.lb     ci.ub     pi.lb     pi.ub") + 1
    ].split()
    assert all(float(v) >= 0 for v in pooled_line)
    assert "Note: CI truncated at 0 for display: the model's interval (-0.000028 to" in text
    assert "-0.0000" not in text.split("Note:")[0]
    assert "<td>-" not in res._repr_html_()
    stext = sens.summary()
    assert "Note: PR: CI truncated at 0" in stext
    pr = next(ln for ln in stext.splitlines() if ln.startswith("PR ")).split()
    assert all(float(v) >= 0 for v in pr[1:6])
    assert sens.table.set_index("model").loc["PR", "ci_low"] < 0  # the table keeps it
