"""Rendering checks: at 5, 20 and 60 studies no two text boxes overlap and none is cut off.

Extents are the renderer's window extents of every visible text artist (table cells, headers,
tick labels, axis label, footnote), taken after a real Agg draw.
"""

from __future__ import annotations

import matplotlib.text
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from review.errors import OptionError
from review.meta import leave_one_out, pool_proportions, pool_rates, subgroups
from review.plots import PAGE_MM, forest, forest_leave_one_out, funnel
from review.plots import _layout as L
from review.plots.export import resize_figure

# the engine warns (as it should) about the continuity corrections in these data sets
pytestmark = pytest.mark.filterwarnings("ignore:continuity correction:UserWarning")


def study_frame(k: int, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.integers(12, 900, k)
    ev = rng.binomial(n, 1 / (1 + np.exp(-rng.normal(-2.5, 0.8, k))))
    ev[0] = 0
    labels = [f"Author{i} et al. {2010 + i % 15}" for i in range(k)]
    for i in range(1, k, 7):  # long labels that must wrap
        labels[i] = (
            f"Long-term follow-up of the multicentre CAR-T registry cohort number {i} "
            f"(second primary malignancies) {2010 + i % 15}"
        )
    return pd.DataFrame(
        {
            "label": labels,
            "events": ev,
            "n": n,
            "time": np.round(n * rng.uniform(0.5, 4, k), 1),
            "target": np.where(np.arange(k) % 2 == 0, "CD19", "BCMA"),
        }
    )


def text_boxes(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    # tick labels of ticks outside the view limits exist as artists but are never drawn
    undrawn = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            eps = 1e-9 * max(1.0, abs(hi - lo))
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - eps <= tick.get_loc() <= hi + eps:
                    undrawn |= {id(tick.label1), id(tick.label2)}
    out = []
    for t in fig.findobj(matplotlib.text.Text):
        if not t.get_visible() or not t.get_text().strip() or id(t) in undrawn:
            continue
        bb = t.get_window_extent(r)
        out.append((t.get_text(), bb))
    return out, fig.bbox


def assert_no_overlap(fig, tol: float = 0.5):
    boxes, figbox = text_boxes(fig)
    assert len(boxes) > 10
    a = np.array([[b.x0, b.y0, b.x1, b.y1] for _, b in boxes])
    ox = np.minimum(a[:, None, 2], a[None, :, 2]) - np.maximum(a[:, None, 0], a[None, :, 0])
    oy = np.minimum(a[:, None, 3], a[None, :, 3]) - np.maximum(a[:, None, 1], a[None, :, 1])
    hit = (ox > tol) & (oy > tol)
    np.fill_diagonal(hit, False)
    pairs = [(boxes[i][0], boxes[j][0]) for i, j in zip(*np.nonzero(hit)) if i < j]
    assert not pairs, f"{len(pairs)} overlapping text pairs, e.g. {pairs[:3]}"
    # nothing cut off at the figure's edges
    inside = (
        (a[:, 0] >= figbox.x0 - tol)
        & (a[:, 1] >= figbox.y0 - tol)
        & (a[:, 2] <= figbox.x1 + tol)
        & (a[:, 3] <= figbox.y1 + tol)
    )
    outside = [boxes[i][0] for i in np.flatnonzero(~inside)]
    assert not outside, f"text outside the figure: {outside[:3]}"
    return boxes


@pytest.fixture(scope="module")
def fits():
    return {
        k: pool_proportions(
            study_frame(k), events="events", n="n", measure="PLO", method="REML", label="label"
        )
        for k in (5, 20, 60)
    }


@pytest.mark.parametrize("k", [5, 20, 60])
def test_forest_no_overlap(fits, k):
    fig = forest(
        fits[k],
        common=True,
        null=2.0,
        title="Second primary malignancies after CAR-T cell therapy: any cancer, "
        "all studies, a title long enough to wrap over two lines or more",
    )
    assert any(a.get_gid() == "null-line" for a in fig.findobj())
    boxes = assert_no_overlap(fig)
    assert sum(1 for s, _ in boxes if s.endswith("%") and s != "100.0%") >= k


@pytest.mark.parametrize("k", [5, 20, 60])
def test_forest_no_overlap_at_page_width_logit_sorted(fits, k):
    fig = forest(fits[k], xscale="logit", sort="estimate", width=PAGE_MM / 25.4)
    assert fig.get_size_inches()[0] == pytest.approx(PAGE_MM / 25.4)
    assert_no_overlap(fig)


@pytest.mark.parametrize("k", [5, 20, 60])
def test_subgroup_forest_no_overlap(fits, k):
    sg = subgroups(fits[k], by="target")
    assert_no_overlap(forest(sg, common=True, prediction_subgroups=True))


def test_height_follows_rows(fits):
    h = {k: forest(fits[k]).get_size_inches()[1] for k in (5, 20, 60)}
    assert h[5] < h[20] < h[60]
    per_row = (h[60] - h[20]) / 40
    assert 0.15 < per_row < 0.4  # a row is a line of text plus padding, in inches
    w = {k: forest(fits[k]).get_size_inches()[0] for k in (5, 20, 60)}
    assert max(w.values()) <= PAGE_MM / 25.4 + 1e-6  # the natural width fits a page


def test_rates_and_leave_one_out_no_overlap():
    r = pool_rates(study_frame(20), events="events", time="time", method="DL", label="label")
    assert_no_overlap(forest(r, xscale="log"))
    assert_no_overlap(forest_leave_one_out(leave_one_out(r)))


def test_relayout_to_a_new_width(fits):
    fig = forest(fits[20])
    resize_figure(fig, 6.0)
    assert fig.get_size_inches()[0] == pytest.approx(6.0)
    assert_no_overlap(fig)
    with pytest.raises(OptionError, match="too narrow"):
        resize_figure(fig, 85 / 25.4)


def test_measured_width_matches_rendered(fits):
    import matplotlib as mpl
    from matplotlib.ft2font import FT2Font

    fig = forest(fits[5])
    fig.set_dpi(300)  # the PNG's resolution
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    r = canvas.get_renderer()
    cells = fig.findobj(
        lambda a: (getattr(a, "get_gid", lambda: None)() or "").startswith(
            ("ci:study:", "label:study:")
        )
    )
    assert len(cells) == 10
    for t in cells:
        measured = L.text_width(t.get_text())
        drawn = t.get_window_extent(r).width / fig.dpi
        assert drawn <= measured + 1e-9  # the layout never under-measures what is drawn
        # ...and is the vector width (unhinted advances, as PDF and SVG place glyphs)
        f = FT2Font(mpl.font_manager.findfont(t.get_fontproperties()))
        f.set_size(t.get_fontsize(), 72)
        # LoadFlags since matplotlib 3.10; the LOAD_* constants before (and deprecated since)
        flags = getattr(mpl.ft2font, "LoadFlags", None)
        no_hinting = flags.NO_HINTING if flags else mpl.ft2font.LOAD_NO_HINTING
        widths = []
        for line in t.get_text().split("\n"):
            f.set_text(line, 0.0, flags=no_hinting)
            widths.append(f.get_width_height()[0] / 64 / 72)
        assert measured == pytest.approx(max(widths), rel=0.05)


def test_funnel_no_overlap(fits):
    assert_no_overlap(funnel(fits[20], test="peters"))
    assert_no_overlap(funnel(fits[5], test="egger"))


def test_draw_into_a_given_axes(fits):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 6.0))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    assert forest(fits[5], ax=ax) is fig
    assert_no_overlap(fig)
    small = Figure(figsize=(7.0, 2.0))
    with pytest.warns(UserWarning, match="needs .* of height"):
        forest(fits[20], ax=small.add_axes((0.0, 0.0, 1.0, 1.0)))


@pytest.mark.parametrize("k", [5, 60])
def test_forest_fits_one_column_without_counts_and_weights(fits, k):
    from review.plots import COLUMN_MM

    fig = forest(fits[k], counts=False, weights=False, width=COLUMN_MM / 25.4)
    assert fig.get_size_inches()[0] == pytest.approx(COLUMN_MM / 25.4)
    gids = {t.get_gid() for t in fig.findobj(matplotlib.text.Text)}
    assert "events:study:0" not in gids and "weight:study:0" not in gids
    assert "est:study:0" in gids
    assert_no_overlap(fig)


def test_wrap_property():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    words = st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-/()0123456789.,", min_size=1, max_size=30
    )

    @settings(max_examples=150, deadline=None)
    @given(st.lists(words, min_size=1, max_size=25), st.floats(0.3, 3.0))
    def check(ws, width):
        s = " ".join(ws)
        lines = L.wrap(s, width)
        # no line overflows (a single character is never cut further)
        assert all(L.text_width(x) <= width + 1e-9 or len(x) == 1 for x in lines)
        # nothing is lost or reordered
        assert "".join("".join(lines).split()) == "".join(s.split())

    check()
