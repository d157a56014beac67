"""The PRISMA 2020 diagram: the drawn text shows exactly the computed numbers, no two text
boxes overlap, text stays inside its box, and vector output keeps text as text."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import matplotlib as mpl
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from test_prisma_counts import EXTRACTION, ROWS, counts, make_log

from review.errors import OptionError, PrismaInconsistency
from review.plots.prisma_diagram import prisma_diagram
from review.prisma import OtherMethodsCounts, PreviousCounts, PrismaCounts, prisma_counts

try:  # the plots helper's exporter; fall back to savefig with the style's vector settings
    from review.plots.export import save_figure
except ImportError:  # pragma: no cover - only while export.py is absent
    save_figure = None


def _databases_only() -> PrismaCounts:
    rows = [r for r in ROWS if not r[0].startswith(("cit:", "web:"))]
    return counts(
        other_methods=None,
        decisions=make_log(rows),
        included_studies=EXTRACTION[EXTRACTION["study_id"] == "S1"],
    )


TEMPLATES = {
    "new-databases": _databases_only,
    "new-other-methods": counts,
    "updated": lambda: counts(previous={"studies": 12, "reports": 15}, included_studies=None),
}


def _norm(s: str) -> str:
    """One line, plain spaces: wrapped lines, words cut with a hyphen at a line end, and
    no-break-space indents joined back."""
    s = re.sub("-\n\u00a0*", "", s)
    return re.sub(r"\s+", " ", s.replace("\u00a0", " ")).strip()


def _texts(fig: Figure) -> dict[str, str]:
    return {t.get_gid().split(":", 1)[1]: _norm(t.get_text()) for t in fig.texts if t.get_gid()}


def expected_numbers(c: PrismaCounts) -> dict[str, list[str]]:
    """What each box must say, written out from the counts independently of the drawing."""
    n = "(n = {})".format
    upd = c.previous is not None
    exp = {
        "identified": [f"Databases {n(sum(v for _, v in c.databases))}"]
        + [f"{name} {n(v)}" for name, v in c.databases]
        + [f"Registers {n(sum(v for _, v in c.registers))}"]
        + [f"{name} {n(v)}" for name, v in c.registers],
        "removed": [
            f"Duplicate records removed {n(c.duplicates_removed)}",
            f"Records marked as ineligible by automation tools {n(c.automation_excluded)}",
            f"Records removed for other reasons {n(c.other_removed)}",
        ],
        "screened": [f"Records screened {n(c.records_screened)}"],
        "excluded": [f"Records excluded {n(c.records_excluded)}"],
        "sought": [f"Reports sought for retrieval {n(c.reports_sought)}"],
        "not_retrieved": [f"Reports not retrieved {n(c.reports_not_retrieved)}"],
        "assessed": [f"Reports assessed for eligibility {n(c.reports_assessed)}"],
        "reports_excluded": [f"Reports excluded {n(c.n_reports_excluded)}"]
        + [f"{label} {n(v)}" for _, label, v in c.reports_excluded if v],
        "included": [
            f"{'New studies' if upd else 'Studies'} included in review {n(c.new_studies)}",
            f"Reports of {'new ' if upd else ''}included studies {n(c.new_reports)}",
        ],
    }
    if upd:
        exp["total"] = [
            f"Total studies included in review {n(c.total_studies)}",
            f"Reports of total included studies {n(c.total_reports)}",
        ]
        exp["previous"] = [
            f"Studies included in previous version of review {n(c.previous.studies)}",
            f"Reports of studies included in previous version of review {n(c.previous.reports)}",
        ]
    if c.other is not None:
        o = c.other
        exp["other_identified"] = [f"{name} {n(v)}" for name, v in o.sources] or [
            "Records identified (n = 0)"
        ]
        exp["other_sought"] = [f"Reports sought for retrieval {n(o.reports_sought)}"]
        exp["other_not_retrieved"] = [f"Reports not retrieved {n(o.reports_not_retrieved)}"]
        exp["other_assessed"] = [f"Reports assessed for eligibility {n(o.reports_assessed)}"]
        exp["other_reports_excluded"] = [f"Reports excluded {n(o.n_excluded)}"] + [
            f"{label} {n(v)}" for _, label, v in o.reports_excluded if v
        ]
    return exp


def assert_shows_exactly(fig: Figure, c: PrismaCounts) -> None:
    shown = _texts(fig)
    exp = expected_numbers(c)
    # every box with a number is expected, and every expected box is drawn
    with_numbers = {k for k, v in shown.items() if "(n = " in v}
    assert with_numbers == set(exp)
    for box, entries in exp.items():
        for entry in entries:
            assert entry in shown[box], (box, entry, shown[box])
        # nothing else: as many numbers drawn as expected
        assert shown[box].count("(n = ") == len(entries), (box, shown[box])


def _extents(fig: Figure):
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    texts = [(t.get_gid(), t.get_window_extent(r)) for t in fig.texts if t.get_text().strip()]
    boxes = {
        p.get_gid().split(":", 1)[1]: p.get_window_extent(r)
        for p in fig.artists
        if (p.get_gid() or "").startswith("prisma-box:")
    }
    return texts, boxes, fig.bbox


def assert_layout_clean(fig: Figure) -> None:
    texts, boxes, figbox = _extents(fig)
    assert texts
    for (ga, a), (gb, b) in itertools.combinations(texts, 2):
        # overlap by more than half a pixel (rounding of extents) would be visible
        ix = min(a.x1, b.x1) - max(a.x0, b.x0)
        iy = min(a.y1, b.y1) - max(a.y0, b.y0)
        assert ix <= 0.5 or iy <= 0.5, f"{ga} overlaps {gb}"
    for gid, ext in texts:
        box = boxes[gid.split(":", 1)[1]]
        assert box.x0 - 0.5 <= ext.x0 and ext.x1 <= box.x1 + 0.5, f"{gid} spills sideways"
        assert box.y0 - 0.5 <= ext.y0 and ext.y1 <= box.y1 + 0.5, f"{gid} spills vertically"
    for key, box in boxes.items():
        assert figbox.x0 - 0.5 <= box.x0 and box.x1 <= figbox.x1 + 0.5, f"{key} outside figure"
        assert figbox.y0 - 0.5 <= box.y0 and box.y1 <= figbox.y1 + 0.5, f"{key} outside figure"
    for (ka, a), (kb, b) in itertools.combinations(boxes.items(), 2):
        ix = min(a.x1, b.x1) - max(a.x0, b.x0)
        iy = min(a.y1, b.y1) - max(a.y0, b.y0)
        assert ix <= 0.5 or iy <= 0.5, f"box {ka} overlaps box {kb}"


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_text_shows_exactly_the_computed_numbers(template):
    c = TEMPLATES[template]()
    fig = prisma_diagram(c)
    assert_shows_exactly(fig, c)


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_no_text_overlaps_or_spills(template):
    fig = prisma_diagram(TEMPLATES[template]())
    assert_layout_clean(fig)


@pytest.mark.parametrize("dpi", [72, 150, 300])
def test_no_spill_at_screen_and_print_resolutions(dpi):
    # hinted glyph widths change with resolution: the boxes must hold the text at each
    fig = prisma_diagram(TEMPLATES["new-other-methods"]())
    fig.set_dpi(dpi)
    assert_layout_clean(fig)


def test_template_wording_and_columns():
    shown = _texts(prisma_diagram(TEMPLATES["new-databases"]()))
    assert shown["header_main"] == "Identification of studies via databases and registers"
    assert {"phase_identification", "phase_screening", "phase_included"} <= set(shown)
    assert "header_other" not in shown and "header_prev" not in shown
    shown = _texts(prisma_diagram(TEMPLATES["updated"]()))
    assert shown["header_main"] == "Identification of new studies via databases and registers"
    assert shown["header_other"] == "Identification of new studies via other methods"
    assert shown["header_prev"] == "Previous studies"
    assert shown["phase_included"] == "Included"


def test_height_grows_with_databases_and_reasons():
    small = _databases_only()
    many_db = {f"Database number {i} with a long platform name (Ovid)": 3 for i in range(12)}
    reasons = {f"r{i}": f"A long exclusion reason number {i} that needs wrapping" for i in range(9)}
    recs = pd.DataFrame(
        [(f"x{d}:{i}", name) for d, name in enumerate(many_db) for i in range(3)],
        columns=["record_id", "source"],
    )
    rows = []
    for i, rid in enumerate(recs["record_id"]):
        rows.append((rid, "title_abstract", "A", "include", None))
        rows.append(
            (
                rid,
                "full_text",
                "A",
                "exclude" if i % 4 else "include",
                f"r{i % 9}" if i % 4 else None,
            )
        )
    big = prisma_counts(identified=recs, decisions=make_log(rows), reason_labels=reasons)
    f_small, f_big = prisma_diagram(small), prisma_diagram(big)
    assert f_big.get_size_inches()[1] > f_small.get_size_inches()[1] + 1.0
    assert_shows_exactly(f_big, big)
    assert_layout_clean(f_big)


def test_zero_reasons_hidden_unless_asked():
    c = _databases_only()
    hidden = _texts(prisma_diagram(c))["reports_excluded"]
    shown = _texts(prisma_diagram(c, show_zero_reasons=True))["reports_excluded"]
    assert "Conference abstract only (n = 0)" in shown
    assert "Conference abstract only" not in hidden


@pytest.mark.parametrize(
    ("template", "width_mm"),
    [("updated", 174.0), ("new-other-methods", 120.0), ("new-databases", 85.0)],
)
def test_relayout_at_a_journal_width_keeps_numbers_and_layout(template, width_mm):
    c = TEMPLATES[template]()
    fig = prisma_diagram(c)
    fig._review_relayout(width_mm / 25.4)  # what save_figure(width_mm=...) calls
    assert fig.get_size_inches()[0] == pytest.approx(width_mm / 25.4)
    assert_shows_exactly(fig, c)
    assert_layout_clean(fig)


def test_too_narrow_a_width_is_refused():
    with pytest.raises(OptionError, match="needs at least"):
        prisma_diagram(TEMPLATES["updated"](), width=2.0)


def test_draws_into_a_given_axes():
    fig = Figure(figsize=(7, 6))
    ax = fig.add_axes((0.05, 0.05, 0.9, 0.9))
    c = TEMPLATES["new-other-methods"]()
    assert prisma_diagram(c, ax=ax) is fig
    assert not ax.axison
    assert_shows_exactly(fig, c)
    assert_layout_clean(fig)


@pytest.mark.parametrize("width_mm", [None, 92.0])
def test_worked_example_diagram(tmp_path, width_mm):
    """The example review's diagram, at its natural width and at the narrowest its four
    columns allow (with the other-methods column it no longer fits one 85 mm journal column,
    and says so)."""
    import shutil

    from review.dedup import deduplicate
    from review.extraction import load_extraction
    from review.paths import ReviewPaths, example_review_dir
    from review.protocol import load_protocol
    from review.screening import ScreeningLog
    from review.search import load_snapshot

    p = ReviewPaths(example_review_dir())
    snap = load_snapshot(p.snapshot("pubmed-2026"))
    shutil.copy(p.screening_log, tmp_path / "log.jsonl")
    c = prisma_counts(
        identified=snap,
        duplicates_removed=deduplicate(snap.records),
        decisions=ScreeningLog(tmp_path / "log.jsonl"),
        reason_labels=load_protocol(p.protocol),
        other_methods=load_snapshot(p.snapshot("other-2026")).records,
        included_studies=load_extraction(p.extraction),
    )
    fig = prisma_diagram(c, width=None if width_mm is None else width_mm / 25.4)
    assert_shows_exactly(fig, c)
    assert_layout_clean(fig)
    with pytest.raises(OptionError, match="4 columns needs at least 92 mm"):
        prisma_diagram(c, width=85.0 / 25.4)


def test_edge_cases_empty_review_big_numbers_and_markup_characters():
    empty = PrismaCounts(databases=())
    fig = prisma_diagram(empty)
    assert_shows_exactly(fig, empty)
    assert_layout_clean(fig)
    odd = PrismaCounts(
        databases=(("Embase $x$ & <Ovid>", 123456),),
        records_screened=123456,
        records_excluded=123000,
        reports_sought=456,
        reports_assessed=456,
        reports_excluded=(("a", "Costs $5 & <b>", 456),),
        other=OtherMethodsCounts((), 0, 0, 0, (), 0),
        previous=PreviousCounts(3, 4),
        total_studies=3,
        total_reports=4,
    )
    fig = prisma_diagram(odd)
    assert_shows_exactly(fig, odd)  # "$x$" stays text, not mathtext
    assert_layout_clean(fig)


def test_inconsistent_counts_are_refused_before_drawing():
    bad = PrismaCounts(databases=(("PubMed", 5),), records_screened=4)
    with pytest.raises(PrismaInconsistency):
        prisma_diagram(bad)


def test_save_figure_at_a_column_width_relays_out_the_diagram(tmp_path):
    if save_figure is None:  # pragma: no cover
        pytest.skip("review.plots.export not present")
    from matplotlib.image import imread

    c = TEMPLATES["new-databases"]()
    fig = prisma_diagram(c)
    natural_h = fig.get_size_inches()[1]
    (png,) = save_figure(fig, tmp_path / "prisma", formats=("png",), dpi=300, width_mm=85)
    h, w = imread(png).shape[:2]
    assert w == round(85 / 25.4 * 300)
    assert fig.get_size_inches()[1] > natural_h  # narrower: text wraps, boxes grow
    assert abs(h - fig.get_size_inches()[1] * 300) <= 1  # whole pixels
    assert_shows_exactly(fig, c)
    assert_layout_clean(fig)


def test_svg_keeps_text_as_text_and_shows_the_numbers(tmp_path):
    c = TEMPLATES["new-other-methods"]()
    fig = prisma_diagram(c)
    if save_figure is not None:
        paths = save_figure(fig, tmp_path / "prisma", formats=("svg", "pdf", "png"))
        svg = next(p for p in paths if p.suffix == ".svg")
        assert all(p.stat().st_size > 0 for p in paths)
    else:  # pragma: no cover
        svg = tmp_path / "prisma.svg"
        with mpl.rc_context({"svg.fonttype": "none"}):
            fig.savefig(svg)
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    words = " ".join(_norm("".join(t.itertext())) for t in root.iter(f"{ns}text"))
    assert "Records screened" in words and f"(n = {c.records_screened})" in words
    for _, label, n in c.reports_excluded:
        if n:
            assert label.split()[0] in words
    # no glyph outlines: text drawn as paths would define glyphs in <defs>
    assert not [e for e in root.iter(f"{ns}path") if (e.get("id") or "").startswith("DejaVu")]
    assert not [e for e in root.iter(f"{ns}path") if (e.get("id") or "").startswith("Liberation")]
