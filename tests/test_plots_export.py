"""save_figure: one call writes PDF, SVG and a 300 dpi PNG at a width in millimetres,
with text kept as text in the vector files."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from review.errors import OptionError
from review.meta import pool_proportions
from review.plots import COLUMN_MM, PAGE_MM, forest, funnel, save_figure


@pytest.fixture(scope="module")
def res():
    rng = np.random.default_rng(3)
    n = rng.integers(30, 300, 12)
    ev = rng.binomial(n, 0.06)
    labels = [f"Cohort {i} & Co <{2015 + i}>" for i in range(12)]  # XML-special characters
    return pool_proportions(
        pd.DataFrame({"label": labels, "events": ev, "n": n}), events="events", n="n", label="label"
    )


# the engine warns (as it should) about the continuity corrections in these data sets
pytestmark = pytest.mark.filterwarnings("ignore:continuity correction:UserWarning")


def _pdf_streams(data: bytes) -> list[bytes]:
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        raw = m.group(1)
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            out.append(raw)
    return out


def test_writes_three_formats(tmp_path, res):
    paths = save_figure(forest(res), tmp_path / "sub" / "forest_spm")
    assert [p.name for p in paths] == ["forest_spm.pdf", "forest_spm.svg", "forest_spm.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


@pytest.mark.parametrize("width_mm", [PAGE_MM, 120.0])
def test_png_is_300_dpi_at_requested_width(tmp_path, res, width_mm):
    (png,) = save_figure(forest(res), tmp_path / "f", formats=("png",), width_mm=width_mm)
    with Image.open(png) as im:
        assert im.size[0] == round(width_mm / 25.4 * 300)
        dpi = im.info["dpi"]
        assert dpi[0] == pytest.approx(300, abs=0.01) and dpi[1] == pytest.approx(300, abs=0.01)


def test_funnel_at_column_width(tmp_path, res):
    (png,) = save_figure(
        funnel(res, test="egger"), tmp_path / "funnel", formats=("png",), width_mm=COLUMN_MM
    )
    with Image.open(png) as im:
        assert im.size[0] == round(COLUMN_MM / 25.4 * 300)


def test_text_stays_text(tmp_path, res):
    fig = forest(res)
    pdf, svg = save_figure(fig, tmp_path / "f", formats=("pdf", "svg"))
    s = svg.read_text(encoding="utf-8")
    texts = re.findall(r"<text\b[^>]*>(.*?)</text>", s, re.S)
    assert texts, "no <text> elements: labels were converted to paths"
    joined = " ".join(texts)
    for lbl in res.studies["label"].astype(str):
        escaped = lbl.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert escaped in joined or lbl in joined, lbl
    assert "<image" not in s
    data = pdf.read_bytes()
    assert b"/Subtype /Image" not in data and b"/Subtype/Image" not in data
    assert b"/FontFile2" in data  # TrueType embedded (pdf.fonttype 42), not Type 3 glyphs
    assert b"/Type3" not in data.replace(b" ", b"")
    content = b" ".join(_pdf_streams(data))
    assert b"Tj" in content or b"TJ" in content  # text-showing operators


def test_bad_arguments(tmp_path, res):
    fig = forest(res)
    with pytest.raises(OptionError, match="Invalid format"):
        save_figure(fig, tmp_path / "f", formats=("pdf", "jpg"))
    with pytest.raises(OptionError, match="width_mm"):
        save_figure(fig, tmp_path / "f", width_mm=0)
    with pytest.raises(OptionError, match="too narrow"):
        save_figure(fig, tmp_path / "f", width_mm=40)


def test_stem_with_extension_is_replaced(tmp_path, res):
    paths = save_figure(funnel(res), tmp_path / "fig.png", formats=("svg",))
    assert paths == [tmp_path / "fig.svg"]
