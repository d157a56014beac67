"""Risk-of-bias figures: what is drawn is the judgements, with a second cue, in the house style."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import matplotlib.colors as mcolors
import pandas as pd
import pytest
from matplotlib.patches import Circle, Rectangle

from review.appraisal import AppraisalLog, load_tool
from review.errors import OptionError
from review.plots import rob_summary, save_figure, traffic_light
from review.plots._style import OKABE_ITO, risk_of_bias_colours

STUDIES = pd.DataFrame(
    {
        "study_id": ["a2020", "b2021", "c2022", "d2023"],
        "label": [
            "Alpha 2020",
            "Beta 2021 (a registry with a long name)",
            "Gamma 2022",
            "Delta 2023",
        ],
    }
)


def _log(tmp_path: Path, code: str) -> AppraisalLog:
    return AppraisalLog(
        tmp_path / f"{code}.jsonl", tool=load_tool(code), studies=STUDIES, require_support=False
    )


@pytest.fixture
def jbi(tmp_path):
    log = _log(tmp_path, "jbi_prevalence")
    answers = {
        "a2020": ["yes"] * 9,
        "b2021": ["yes"] * 5 + ["no", "unclear", "no", "not_applicable"],
        "c2022": ["no"] * 6 + ["yes"] * 3,
        "d2023": ["yes"] * 8,  # q9 unanswered: no overall judgement
    }
    for sid, ans in answers.items():
        for q, a in zip(log.tool.item_codes, ans):
            log.record(sid, q, a, reviewer="A")
    return log.judgements()


@pytest.fixture
def hoy(tmp_path):
    log = _log(tmp_path, "hoy2012")
    for i, sid in enumerate(STUDIES["study_id"]):
        for j, it in enumerate(log.tool.item_codes):
            log.record(sid, it, "high" if (i + j) % 3 == 0 else "low", reviewer="A")
        log.record(sid, "overall", ["low", "moderate", "high", "moderate"][i], reviewer="A")
    return log.judgements()


def _cells(fig):
    ax = fig.axes[0]
    circles = {p.get_gid(): p for p in ax.patches if isinstance(p, Circle) and p.get_gid()}
    symbols = {
        t.get_gid(): t.get_text() for t in ax.texts if (t.get_gid() or "").startswith("rob-symbol")
    }
    return circles, symbols


def test_traffic_light_draws_every_judgement_with_colour_and_symbol(jbi):
    fig = traffic_light(jbi)
    circles, symbols = _cells(fig)
    assert len(circles) == 4 * 10  # 9 items + overall per study
    colours = risk_of_bias_colours(3)
    low, moderate, high = (mcolors.to_hex(c) for c in colours)
    grey = "#bbbbbb"
    expect = {
        ("a2020", "q1"): (low, "+"),
        ("b2021", "q6"): (high, "×"),
        ("b2021", "q7"): (moderate, "?"),
        ("b2021", "q9"): (grey, "/"),
        ("a2020", "overall"): (low, "+"),
        # b2021: 5 yes of 8 applicable items = 0.625 -> moderate (bands at 0.7 and 0.5)
        ("b2021", "overall"): (moderate, "−"),
        ("c2022", "overall"): (high, "×"),
    }
    for (sid, col), (fill, sym) in expect.items():
        c = circles[f"rob-cell:{sid}:{col}"]
        assert mcolors.to_hex(c.get_facecolor()) == fill, (sid, col)
        assert symbols[f"rob-symbol:{sid}:{col}"] == sym, (sid, col)
    # d2023 has no overall: an empty circle and no symbol (never a guess)
    empty = circles["rob-cell:d2023:overall"]
    assert mcolors.to_hex(empty.get_facecolor()) == "#ffffff"
    assert "rob-symbol:d2023:overall" not in symbols
    assert "rob-symbol:d2023:q9" not in symbols


def _deuteranope(hex_colour: str) -> tuple[float, float, float]:
    """The colour as a deuteranope sees it (Machado, Oliveira & Fernandes 2009, severity 1)."""
    m = (
        (0.367322, 0.860646, -0.227968),
        (0.280085, 0.672501, 0.047413),
        (-0.01182, 0.04294, 0.968881),
    )

    def lin(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    rgb = [lin(c) for c in mcolors.to_rgb(hex_colour)]
    return tuple(min(max(sum(m[i][j] * rgb[j] for j in range(3)), 0.0), 1.0) for i in range(3))


def _distance(a: str, b: str) -> float:
    return sum((x - y) ** 2 for x, y in zip(_deuteranope(a), _deuteranope(b))) ** 0.5


def test_colours_are_okabe_ito_and_stay_apart_for_a_deuteranope():
    for n in range(1, 6):
        assert set(risk_of_bias_colours(n)) <= set(OKABE_ITO.values())
    for n in range(2, 6):  # neighbouring levels stay apart in a deuteranope's simulated view
        cols = risk_of_bias_colours(n)
        assert min(_distance(a, b) for a, b in itertools.pairwise(cols)) > 0.15, n
    with pytest.raises(OptionError):
        risk_of_bias_colours(6)


def test_traffic_light_domains_and_items_of_a_domain_tool(hoy):
    fig = traffic_light(hoy)
    circles, _ = _cells(fig)
    assert {k.split(":")[2] for k in circles} == {"external", "internal", "overall"}
    headers = [
        t.get_text() for t in fig.axes[0].texts if (t.get_gid() or "").startswith("rob-header")
    ]
    assert headers == ["D1", "D2", "Overall"]
    key = next(t.get_text() for t in fig.axes[0].texts if t.get_gid() == "rob-key")
    assert "D1: External validity" in key and "D2: Internal validity" in key
    items = traffic_light(hoy, columns="items", overall=False)
    circles, _ = _cells(items)
    assert len(circles) == 4 * 10 and not any(k.endswith(":overall") for k in circles)


def test_labels_are_horizontal_and_wrapped_not_cut(jbi):
    fig = traffic_light(jbi, width=85 / 25.4)
    labels = [t for t in fig.axes[0].texts if (t.get_gid() or "").startswith("rob-label")]
    assert len(labels) == 4 and all(t.get_rotation() == 0 for t in labels)
    long = next(t for t in labels if t.get_gid() == "rob-label:b2021")
    assert "\n" in long.get_text()  # wrapped at a column's width
    assert long.get_text().replace("\n", " ") == STUDIES.loc[1, "label"]


def test_summary_bars_are_the_shares(jbi, hoy):
    fig = rob_summary(jbi)
    bars = {
        p.get_gid(): p.get_width()
        for p in fig.axes[0].patches
        if isinstance(p, Rectangle) and p.get_gid()
    }
    # overall: a2020 low, b2021 moderate, c2022 high, d2023 not judged -> 25% each
    for level in ("low", "moderate", "high", "missing"):
        assert bars[f"rob-bar:overall:{level}"] == pytest.approx(25.0)
    # q9: yes, not applicable, yes, missing
    assert bars["rob-bar:q9:low"] == pytest.approx(50.0)
    assert bars["rob-bar:q9:not_applicable"] == pytest.approx(25.0)
    for col in [*jbi.tool.item_codes, "overall"]:
        total = sum(w for k, w in bars.items() if k.startswith(f"rob-bar:{col}:"))
        assert total == pytest.approx(100.0), col
    # every segment has its hatch (a second cue) except the least concern
    hatches = {p.get_gid().split(":")[2]: p.get_hatch() for p in fig.axes[0].patches if p.get_gid()}
    assert not hatches["low"] and hatches["moderate"] and hatches["high"]
    assert fig.axes[0].get_xlabel() == "Studies (%)"


def test_summary_weighted_by_analysis_weights(jbi):
    class FakeResult:  # the shape of a PoolResult's studies frame
        studies = pd.DataFrame({"label": ["Alpha 2020", "Gamma 2022"], "weight": [75.0, 25.0]})

    fig = rob_summary(jbi, weights=FakeResult())
    bars = {p.get_gid(): p.get_width() for p in fig.axes[0].patches if p.get_gid()}
    assert bars["rob-bar:overall:low"] == pytest.approx(75.0)
    assert bars["rob-bar:overall:high"] == pytest.approx(25.0)
    assert "rob-bar:overall:moderate" not in bars
    assert fig.axes[0].get_xlabel() == "Share of the analysis weight (%)"
    note = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "rob-note"]
    assert "2 assessed studies not in the analysis left out" in note[0]

    class Stranger:
        studies = pd.DataFrame({"label": ["Nobody 1999"], "weight": [1.0]})

    with pytest.raises(OptionError, match="Nobody 1999"):
        rob_summary(jbi, weights=Stranger())
    with pytest.raises(OptionError, match="finite"):
        rob_summary(jbi, weights={"a2020": float("nan")})


def test_exported_like_every_figure_and_relaid_out(jbi, tmp_path):
    fig = traffic_light(jbi)
    paths = save_figure(fig, tmp_path / "rob_traffic_light", width_mm=174)
    assert [p.suffix for p in paths] == [".pdf", ".svg", ".png"]
    svg = paths[1].read_text()
    assert re.search(r"<text[^>]*>.*Overall", svg, re.S)  # text kept as text
    assert "rob-cell:a2020:q1" in svg
    from PIL import Image

    with Image.open(paths[2]) as im:
        assert im.size[0] == round(174 / 25.4 * 300)
    summary = rob_summary(jbi)
    save_figure(summary, tmp_path / "rob_summary", width_mm=85, formats=("png",))
    with pytest.raises(OptionError, match="too narrow"):
        save_figure(traffic_light(jbi), tmp_path / "x", width_mm=30, formats=("png",))


def test_bad_column_choice(jbi):
    with pytest.raises(OptionError, match="no domains"):
        traffic_light(jbi, columns="domains")
    with pytest.raises(OptionError, match="Invalid columns"):
        rob_summary(jbi, columns="studies")  # type: ignore[arg-type]
