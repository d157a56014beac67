"""Edge cases and displayed text of trim-and-fill, the rank test and R meta's conventions.

Golden comparisons are in ``test_meta_bias_vs_metafor.py`` and ``test_meta_vs_r_meta.py``;
this file checks what they cannot: refusals (k = 2, GLMM fits, bad options), the caveats
printed beside the numbers, the conventions named by every table and figure, and the funnel
plot with filled studies.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from review.errors import InputError, OptionError
from review.meta import (
    pool_as_r_meta,
    pool_proportions,
    pool_rates,
    ranktest,
    refit,
    trimfill,
)


def _text(fig, gid: str) -> str:
    import matplotlib.text

    # the figure wraps its text: compare unwrapped
    found = (t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_gid() == gid)
    return next(found).replace("\n", " ")


@pytest.fixture(scope="module")
def res11():
    df = pd.DataFrame(
        {
            "events": [2, 5, 1, 8, 4, 12, 3, 9, 15, 22, 30],
            "n": [40, 60, 35, 90, 50, 100, 20, 45, 70, 80, 60],
        }
    )
    return pool_proportions(df, method="DL")


def test_two_studies_are_refused_with_a_reason() -> None:
    df = pd.DataFrame({"events": [4, 9], "n": [30, 55]})
    res = pool_proportions(df)
    with pytest.raises(InputError, match="at least 3 studies; got k = 2"):
        trimfill(res)
    with pytest.raises(InputError, match="at least 3 studies; got k = 2"):
        ranktest(res)


def test_glmm_fits_are_refused_with_the_way_out() -> None:
    df = pd.DataFrame({"events": [4, 9, 3, 7], "n": [30, 55, 40, 61]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = pool_proportions(df, method="GLMM")
    for f in (trimfill, ranktest):
        with pytest.raises(OptionError, match="inverse-variance fit"):
            f(g)


def test_bad_trimfill_options_list_the_valid_ones(res11) -> None:
    with pytest.raises(OptionError, match=r"must be one of \['L0', 'R0'\]"):
        trimfill(res11, estimator="Q0")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match=r"must be one of \['left', 'right'\]"):
        trimfill(res11, side="up")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="ilim"):
        trimfill(res11, ilim=(0.0, math.inf))


def test_trimfill_summary_prints_the_caveats(res11) -> None:
    tf = trimfill(res11)
    assert tf.k0 == 2 and tf.side == "right" and len(tf.filled) == 2
    text = tf.summary()
    assert "Estimated number of missing studies on the right side: 2" in text
    for cite in ("Duval & Tweedie 2000", "Terrin et al. 2003", "Peters et al. 2007",
                 "Sterne et al. 2011", "Hunter et al. 2014"):  # fmt: skip
        assert cite in text, cite
    assert "k = 11 < 10" not in text  # the small-k caveat only when k < 10
    f = tf.to_frame()
    assert list(f["model"]) == ["observed", "observed + filled"]
    assert f["k"].tolist() == [11, 13] and (f["k0"] == 2).all()
    assert "<table" in tf._repr_html_() and "\n" not in repr(tf)
    # the imputed studies are mirror images about the trimmed estimate: never observed
    assert tf.filled["label"].tolist() == ["Filled 1", "Filled 2"]
    assert set(tf.filled["mirrors"]) <= set(res11.studies["label"])


def test_trimfill_with_nothing_missing_returns_the_observed_fit() -> None:
    df = pd.DataFrame({"events": [10, 10, 10, 10], "n": [100, 100, 100, 100]})
    res = pool_proportions(df, method="DL")
    # equal variances: no slope on sqrt(vi) to choose the side by (metafor stops too)
    with pytest.raises(InputError, match="give side="):
        trimfill(res)
    tf = trimfill(res, side="left")
    assert tf.k0 == 0 and tf.k == 4 and tf.filled.empty
    assert tf.estimate == pytest.approx(res.estimate, rel=1e-12)
    assert "no study estimated to be missing" in tf.summary()
    assert "k = 4 < 10" in tf.summary()


def test_ranktest_summary_and_small_k_caveat() -> None:
    df = pd.DataFrame({"events": [2, 5, 1, 8, 4, 12], "n": [40, 60, 35, 90, 50, 100]})
    r = ranktest(pool_proportions(df))
    text = r.summary()
    # R: ranktest(rma(measure = "PLO", xi = ..., ni = ...)) -> tau = -1.0000, p = 0.0028
    assert "Kendall's tau = -1.0000, p = .0028 (exact; k = 6)" in text
    assert "k = 6 < 10" in text and "Begg & Mazumdar 1994" in text
    assert r.to_frame().columns.tolist() == ["tau", "pval", "exact", "k"]


def test_ranktest_with_tied_variances_uses_the_normal_approximation() -> None:
    # PAS: vi = 1/(4n), so equal n give tied variances (R's cor.test then cannot be exact)
    df = pd.DataFrame({"events": [2, 5, 1, 8, 4, 12], "n": [40, 40, 35, 90, 50, 100]})
    r = ranktest(pool_proportions(df, measure="PAS"))
    assert not r.exact and "ties" in r.summary()


def test_all_zero_events_irs_and_trimfill() -> None:
    # IRS/IRFT need no correction: every yi is sqrt(0) = 0 (IRS) and the fit still runs
    df = pd.DataFrame({"events": [0, 0, 0, 0], "person_years": [100.0, 250, 80, 400]})
    res = pool_rates(df, measure="IRS", method="REML")
    assert res.estimate == 0.0 and res.ci_low == 0.0 and res.tau2 == 0.0
    ft = pool_rates(df, measure="IRFT", method="REML")
    assert ft.estimate >= 0 and "harmonic mean of the person-times" in " ".join(ft.notes)
    r = ranktest(res)
    assert math.isnan(r.tau) and "undefined" in r.summary()


def test_conventions_are_named_in_summary_frame_and_forest() -> None:
    pytest.importorskip("matplotlib")
    from review.plots import forest

    df = pd.DataFrame({"events": [3, 0, 7, 12, 2], "person_years": [150.5, 80, 420, 610.2, 95]})
    res = pool_as_r_meta(df, kind="rate")
    conv = res.conventions()
    assert conv == (
        "Conventions: CI z; PI t(4 df) [V]; I^2 from Q, (Q - df)/Q [Q]; study CIs Wald on "
        "the model scale of the measure (yi +- z sqrt(vi)), back-transformed [NAsm]"
    )
    assert conv in res.summary()
    f = res.to_frame()
    assert (f["study_ci"] == "NAsm").all() and (f["i2_method"] == "Q").all()
    fig = forest(res)
    foot = _text(fig, "footnote")
    assert "[NAsm]" in foot and "method.predict 'V'" in foot and "method.I2 'Q'" in foot
    assert "Wald interval of the corrected estimate" in foot
    plain = pool_rates(df)
    fig = forest(plain)
    foot = _text(fig, "footnote")
    assert "exact Poisson (Garwood) [Poisson]" in foot and "I² from τ²" in foot


def test_prediction_intervals_in_meta_s_words_at_small_k() -> None:
    df = pd.DataFrame({"events": [4, 9], "n": [30, 55]})
    v = pool_proportions(df, pi_method="V")
    assert v.link.pi_df == 1 and math.isfinite(v.pi_low)
    hts = pool_proportions(df, pi_method="HTS")
    assert math.isnan(hts.pi_low) and any("k >= 3" in n for n in hts.notes)
    # under knha, V uses the unadjusted SE (as meta), metafor's PI the adjusted one
    df3 = pd.DataFrame({"events": [4, 9, 20, 3], "n": [30, 55, 60, 70]})
    kv = pool_proportions(df3, test="knha", pi_method="V")
    km = pool_proportions(df3, test="knha")
    se0 = math.sqrt(1 / np.sum(1 / (kv.studies["vi"] + kv.tau2)))
    assert kv.link.pi_se == pytest.approx(math.sqrt(se0**2 + kv.tau2), rel=1e-12)
    assert km.link.pi_se == pytest.approx(math.sqrt(km.link.se**2 + km.tau2), rel=1e-12)


def test_study_ci_codes_are_checked_by_kind() -> None:
    df = pd.DataFrame({"events": [4, 9, 3], "n": [30, 55, 40]})
    with pytest.raises(OptionError, match=r"Invalid study_ci 'Poisson'; must be one of"):
        pool_proportions(df, study_ci="Poisson")
    with pytest.raises(OptionError, match=r"Invalid i2_method 'I2'"):
        pool_proportions(df, i2_method="I2")  # type: ignore[arg-type]
    with pytest.raises(OptionError, match=r"Invalid version '9.9-9'"):
        pool_as_r_meta(df, kind="proportion", version="9.9-9")
    ws = pool_proportions(df, study_ci="WS", i2_method="Q")
    again = refit(ws, method="DL")
    assert again.study_ci == "WS" and again.i2_method == "Q"


def test_funnel_draws_the_filled_studies(res11) -> None:
    pytest.importorskip("matplotlib")
    from review.plots.funnel import funnel

    tf = trimfill(res11)
    for test in ("egger", "peters"):
        fig = funnel(res11, test=test, trimfill=tf)
        pts = [c for c in fig.findobj() if c.get_gid() == "funnel-filled"]
        assert len(pts) == 1 and len(pts[0].get_offsets()) == tf.k0
        assert any(c.get_gid() == "funnel-adj" for c in fig.findobj())
        text = _text(fig, "funnel-test")
        assert "Trim-and-fill (L0): 2 studies imputed on the right side" in text
    other = trimfill(refit(res11, method="REML"))
    with pytest.raises(OptionError, match="trimfill= takes"):
        funnel(res11, trimfill=other)
