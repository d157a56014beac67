"""Published and documented cases, kept by hand (independent of the generated grid).

Sources:

* Zhou X-H, Brizendine EJ, Pritz MB. Methods for combining rates from several studies.
  *Stat Med* 1999;18:557-66, Table IV "weighted average" of the 14 hyperdynamic-therapy
  studies (Pritz 1997), as reproduced in metadat's ``help(dat.pritz1997)`` example.
* metadat 1.2-0 ``help(dat.pritz1997)``: random-effects models with raw and logit
  proportions, values as metafor 3.8-1 prints them (4 decimals).
* ``../shared/notes/anchors.md`` appendix A1: a synthetic rare-event data set with
  very different n, metafor 3.8-1 values printed to 4 decimals.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from review.meta import escalc, ft_guardrail, pool_proportions, validate_counts

# metadat::dat.pritz1997 (Pritz 1997; Zhou et al. 1999, Table I)
PRITZ = pd.DataFrame(
    {
        "authors": [
            "Giannotta et al.", "Haraguchi and Ebina", "Swift and Solomon", "Kassell et al.",
            "Tanabe et al.", "Awad et al.", "Finn et al.", "Hadeishi et al.", "Otsubo et al.",
            "Muizelaar and Becker", "Rosenstein et al.", "Levy et al.", "Shimoda et al.",
            "Solomon et al.",
        ],
        "xi": [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6],
        "ni": [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10],
    }
)  # fmt: skip

RARE = pd.DataFrame(
    {"events": [0, 1, 0, 3, 2, 12, 5, 30], "n": [15, 22, 40, 61, 80, 350, 120, 1500]}
)


def _quiet(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **k)


def test_zhou1999_table_iv_weighted_average() -> None:
    # Zhou et al. 1999, Table IV; R (metadat help page):
    #   dat <- escalc(measure="PR", xi=xi, ni=ni, data=dat, add=0)
    #   theta.hat <- sum(dat$ni * dat$yi) / sum(dat$ni)
    #   se.theta.hat <- sqrt(sum(dat$ni^2 * dat$vi) / sum(dat$ni)^2)
    #   -> estimate 0.7546, se 0.0224, ci.lb 0.7106, ci.ub 0.7986
    # escalc PR with add=0 gives vi = 0 for the two studies with events = n; the engine
    # drops those from a fit (see tests/r/README.md), so this weighted average is formed
    # from the escalc formulas yi = x/n, vi = yi (1 - yi) / n directly
    data = validate_counts(PRITZ, kind="proportion", events="xi", n="ni", label="authors")
    xi, ni = data["events"].to_numpy(), data["n"].to_numpy()
    yi = xi / ni
    vi = yi * (1 - yi) / ni
    theta = np.sum(ni * yi) / ni.sum()
    se = np.sqrt(np.sum(ni**2 * vi) / ni.sum() ** 2)
    es = escalc(data, "PR", add=0, warn=False)
    assert (es.report["status"] == "dropped").sum() == 2
    np.testing.assert_allclose(es.yi, yi[es.used])
    assert round(theta, 4) == 0.7546
    assert round(se, 4) == 0.0224
    assert round(theta - 1.96 * se, 4) == 0.7106
    assert round(theta + 1.96 * se, 4) == 0.7986


def test_pritz_random_effects_raw_proportions() -> None:
    # R: dat <- escalc(measure="PR", xi=xi, ni=ni, data=dat); res <- rma(yi, vi, data=dat)
    #   tau^2 0.0166 (SE = 0.0095), I^2 75.28%, H^2 4.04, Q(df = 13) = 48.3453
    #   predict(res): pred 0.7968 se 0.0423 ci 0.7138 0.8797 pi 0.5306 1.0629
    res = _quiet(pool_proportions, PRITZ, events="xi", n="ni", measure="PR", label="authors")
    assert round(res.tau2, 4) == 0.0166
    assert round(res.tau2_se, 4) == 0.0095
    assert round(res.i2, 2) == 75.28
    assert round(res.h2, 2) == 4.04
    assert res.q_df == 13 and round(res.q, 4) == 48.3453
    assert round(res.link.zval, 4) == 18.8191
    got = [res.estimate, res.link.se, res.ci_low, res.ci_high, res.pi_low, res.pi_high]
    assert [round(x, 4) for x in got] == [0.7968, 0.0423, 0.7138, 0.8797, 0.5306, 1.0629]
    # a raw proportion's PI runs past 1, as metafor prints it; the result says so
    assert any("not bounded" in n for n in res.notes)


def test_pritz_random_effects_logit_proportions() -> None:
    # R: dat <- escalc(measure="PLO", ...); res <- rma(yi, vi, data=dat)
    #   predict(res, transf=transf.ilogit): 0.7575 0.6605 0.8337 0.4661 0.9179
    res = _quiet(pool_proportions, PRITZ, events="xi", n="ni", label="authors")
    got = [res.estimate, res.ci_low, res.ci_high, res.pi_low, res.pi_high]
    assert [round(x, 4) for x in got] == [0.7575, 0.6605, 0.8337, 0.4661, 0.9179]
    # two studies with events = n were corrected (0.5 added), and the report names them
    rep = res.data_report.set_index("label")
    assert set(rep.index[rep["status"] == "corrected"]) == {"Tanabe et al.", "Hadeishi et al."}


@pytest.mark.parametrize(
    "measure,method,test,expected",
    [
        # anchors.md A1 (metafor 3.8-1): pooled, 95% CI, 95% PI
        ("PLO", "REML", "z", (0.0287, 0.0198, 0.0415, 0.0156, 0.0524)),
        ("PAS", "REML", "z", (0.0249, 0.0161, 0.0356, 0.0118, 0.0427)),
        ("PFT", "REML", "z", (0.0194, 0.0095, 0.0318, 0.0044, 0.0415)),
        ("PFT", "REML", "knha", (0.0194, 0.0093, 0.0322, 0.0029, 0.0453)),
    ],
)
def test_anchors_a1_rare_events(measure, method, test, expected) -> None:
    res = _quiet(pool_proportions, RARE, measure=measure, method=method, test=test)
    got = (res.estimate, res.ci_low, res.ci_high, res.pi_low, res.pi_high)
    assert tuple(round(x, 4) for x in got) == expected


def test_anchors_a1_ft_back_transform_at_several_n() -> None:
    # anchors.md A1: the same pooled PFT value back-transformed at n = 15, 45 (harmonic
    # mean), 1500 gives 0.0063, 0.0194, 0.0286 (Schwarzer et al. 2019's point)
    res = _quiet(pool_proportions, RARE, measure="PFT")
    g = ft_guardrail(res, warn=False)
    t = g.table.set_index("at")
    assert round(t.loc["min", "estimate"], 4) == 0.0063
    assert round(t.loc["harmonic mean", "estimate"], 4) == 0.0194
    assert round(t.loc["max", "estimate"], 4) == 0.0286
    assert round(t.loc["harmonic mean", "n"]) == 45
    assert g.warning is not None and "Schwarzer" in g.warning


def test_anchors_a2_dl_tau2_floored_where_statsmodels_is_not() -> None:
    # anchors.md A2: yi = (0.10, 0.11, 0.09, 0.10, 0.105), vi = (0.01, 0.02, 0.015, 0.01,
    # 0.02); statsmodels 0.14.4 combine_effects(method_re="dl") gives tau2 = -0.0139;
    # metafor rma(method="DL"): tau2 = 0, estimate 0.1002, CI (-0.002, 0.203), knha
    # (0.092, 0.108). We test our fit_rma on the same yi/vi.
    from review.meta.uni import fit_rma

    yi = np.array([0.10, 0.11, 0.09, 0.10, 0.105])
    vi = np.array([0.01, 0.02, 0.015, 0.01, 0.02])
    f = fit_rma(yi, vi, method="DL")
    assert f.tau2 == 0.0
    assert f.i2 == 0.0
    assert (f.wi > 0).all()
    assert round(float(f.beta[0]), 4) == 0.1002
    assert round(float(f.ci_low[0]), 3) == -0.002 and round(float(f.ci_high[0]), 3) == 0.203
    k = fit_rma(yi, vi, method="DL", test="knha")
    assert round(float(k.ci_low[0]), 3) == 0.092 and round(float(k.ci_high[0]), 3) == 0.108
