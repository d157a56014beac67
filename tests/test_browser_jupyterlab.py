"""The reviewer's experience in a real JupyterLab, driven in headless Chromium.

JupyterLab is started on 127.0.0.1 with a token over a copy of the repository's notebooks and
data; Playwright drives Debian's ``/usr/bin/chromium`` (no browser download). Each numbered
notebook is opened and run with Run > Run All Cells; the saved notebook must hold no error and
the expected figures must appear. Then the screener is clicked and typed at, and its decisions
must be in the screening log on disk. Screenshots go to ``test-artifacts/``.

Skipped with a message on a machine without Chromium; ``REVIEW_REQUIRE_BROWSER=1`` (set by
``.ci/run`` when it installed Chromium) turns the skip into a failure.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest

from review.runner import find_notebooks

from _jupyterlab import (
    ACTIVE,
    browser,
    chromium_available,
    jupyterlab,
    open_notebook,
    run_all_cells,
    save,
)
from conftest import REPO, require_or_skip

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = REPO / "test-artifacts"
NOTEBOOKS = [p.name for p in find_notebooks(REPO / "notebooks")]
#: Images each notebook must show in the browser (at least this many <img> outputs).
MIN_IMAGES = {
    "04-full-text-and-prisma.ipynb": 1,
    "06-risk-of-bias.ipynb": 2,
    "07-meta-analysis.ipynb": 3,
    "08-sensitivity.ipynb": 2,
    "09-certainty.ipynb": 1,
}
SCREENSHOTS = {
    "04-full-text-and-prisma.ipynb": "prisma",
    "06-risk-of-bias.ipynb": "rob",
    "07-meta-analysis.ipynb": "forest",
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    require_or_skip(
        chromium_available(),
        "REVIEW_REQUIRE_BROWSER",
        "Chromium (/usr/bin/chromium) or Playwright for Python not found",
    )
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "data", root / "data", ignore=shutil.ignore_patterns("*.lock"))
    ARTIFACTS.mkdir(exist_ok=True)
    with jupyterlab(root, ARTIFACTS / "jupyterlab.log") as server, browser() as b:
        yield server, b


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab_without_error(lab, name: str) -> None:
    server, b = lab
    page = b.new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_notebook(page, server, f"notebooks/{name}")
        run_all_cells(page)
        save(page)
        saved = nbformat.read(server.root / "notebooks" / name, as_version=4)
        errors = [
            (i, o.get("ename"), o.get("evalue"))
            for i, c in enumerate(saved.cells, 1)
            if c.cell_type == "code"
            for o in c.outputs
            if o.output_type == "error"
        ]
        assert not errors, f"{name}: cells with errors {errors}"
        assert all(c.execution_count for c in saved.cells if c.cell_type == "code"), name
        saved_images = sum(
            "image/png" in o.get("data", {})
            for c in saved.cells
            if c.cell_type == "code"
            for o in c.outputs
        )
        images = page.locator(f"{ACTIVE} .jp-OutputArea-output img").count()
        assert saved_images >= MIN_IMAGES.get(name, 0), f"{name}: {saved_images} figures made"
        assert images >= MIN_IMAGES.get(name, 0), f"{name}: {images} figures shown"
        if name in SCREENSHOTS:
            page.locator(f"{ACTIVE} .jp-OutputArea-output img").first.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / f"{SCREENSHOTS[name]}.png"), full_page=False)
    finally:
        page.close()


def _write_cells(path: Path, cells: list[str]) -> None:
    """A notebook of ``cells`` (code) on the ipykernel kernel, as JupyterLab saves one."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, path)


def _log_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _wait_rows(page: Any, path: Path, n: int) -> list[dict]:
    """The log's rows once it has at least ``n`` (the widget writes from the kernel)."""
    for _ in range(100):
        got = _log_rows(path)
        if len(got) >= n:
            return got
        page.wait_for_timeout(100)
    raise AssertionError(f"expected {n} log rows, found {len(_log_rows(path))}")


SCREENER_CELLS = [
    """from review.paths import ReviewPaths
from review.protocol import load_protocol
from review.records import load_review_records
from review.screening import ScreeningLog
from review.screening_widget import Screener
paths = ReviewPaths("../review")
protocol = load_protocol(paths.protocol)
log = ScreeningLog(paths.screening_log, protocol=protocol)
records = load_review_records(paths)""",
    """screener = Screener(records, log, reviewer="A", stage="title_abstract", protocol=protocol)
screener""",
]


def test_screener_clicks_and_keys_land_in_the_log(lab) -> None:
    server, b = lab
    review = server.root / "review"
    review.mkdir()
    shutil.copy(REPO / "data" / "protocol.yaml", review / "protocol.yaml")
    shutil.copytree(REPO / "data" / "search", review / "search")
    _write_cells(server.root / "notebooks" / "screener.ipynb", SCREENER_CELLS)

    page = b.new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_notebook(page, server, "notebooks/screener.ipynb")
        run_all_cells(page)
        include = page.locator("button:has-text('Include')")
        include.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "screener.png"))
        log_path = review / "screening" / "log.jsonl"

        def wait_rows(n: int) -> list[dict]:
            return _wait_rows(page, log_path, n)

        include.click()
        got = wait_rows(1)
        first_id = got[0]["record_id"]
        # an exclusion with a reason picked from the protocol's list
        page.locator(".widget-dropdown select").select_option(index=1)
        page.locator("button:has-text('Exclude')").click()
        got = wait_rows(2)
        # keyboard shortcuts typed in the key box: m (maybe), then u (undo)
        keys = page.locator("input[placeholder^='shortcuts']")
        keys.click()
        keys.type("m")
        got = wait_rows(3)
        keys.type("u")
        got = wait_rows(4)
        page.screenshot(path=str(ARTIFACTS / "screener-after.png"))
    finally:
        page.close()

    decisions = [(r["decision"], r["reviewer"], r["stage"]) for r in got]
    assert decisions == [
        ("include", "A", "title_abstract"),
        ("exclude", "A", "title_abstract"),
        ("maybe", "A", "title_abstract"),
        ("undo", "A", "title_abstract"),
    ]
    assert got[0]["record_id"] == first_id
    assert got[1]["record_id"] != first_id  # the screener moved on to the next record
    assert got[1]["reason"] is not None  # the reason picked in the dropdown was recorded
    assert got[3]["record_id"] == got[2]["record_id"]  # undo takes back the maybe
    assert [r["seq"] for r in got] == [1, 2, 3, 4]


ASSESSOR_CELLS = [
    """from review.appraisal import AppraisalLog
from review.appraisal_widget import Assessor
log = AppraisalLog.for_review("../rob-review")
assessor = Assessor(log, reviewer="A")""",
    "assessor",
]


def test_assessor_clicks_fields_and_keys_land_in_the_log(lab) -> None:
    server, b = lab
    review = server.root / "rob-review"
    review.mkdir()
    shutil.copy(REPO / "data" / "protocol.yaml", review / "protocol.yaml")
    shutil.copytree(REPO / "data" / "extraction", review / "extraction")
    _write_cells(server.root / "notebooks" / "assessor.ipynb", ASSESSOR_CELLS)
    log_path = review / "appraisal" / "log.jsonl"

    page = b.new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_notebook(page, server, "notebooks/assessor.ipynb")
        run_all_cells(page)
        yes = page.locator("button.widget-button:text-is('Yes')")
        yes.wait_for(timeout=60_000)

        def wait_rows(n: int) -> list[dict]:
            return _wait_rows(page, log_path, n)

        # an answer with its quote and location typed into the fields
        page.locator("textarea[placeholder^='supporting quote']").fill(
            "we analyzed 449 patients treated at the University of Pennsylvania"
        )
        page.locator("input[placeholder^='where']").fill("Abstract, Methods")
        yes.click()
        got = wait_rows(1)
        # an answer without support is refused on screen, and nothing is written
        yes.click()
        page.locator("text=needs its support").wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "assessor.png"))
        # keyboard: a note, then 'u' (unclear) in the key box; 'j' skips an item; '2' = No
        page.wait_for_timeout(300)
        page.locator("input[placeholder^='note']").fill("not reported in the abstract")
        keys = page.locator("input[placeholder^='shortcuts']")
        keys.click()
        keys.type("u")
        got = wait_rows(2)
        keys.type("j")
        page.locator("text=Were the study subjects and the setting described").wait_for(
            timeout=30_000
        )
        page.wait_for_timeout(300)  # the kernel's cleared fields arrive before we type
        page.locator("input[placeholder^='note']").fill("no sample size reasoning given")
        keys.click()
        keys.type("2")
        got = wait_rows(3)
        page.screenshot(path=str(ARTIFACTS / "assessor-after.png"))
    finally:
        page.close()

    assert [(r["study_id"], r["item"], r["reviewer"], r["answer"]) for r in got] == [
        ("ghilardi2024", "q1", "A", "yes"),
        ("ghilardi2024", "q2", "A", "unclear"),
        ("ghilardi2024", "q4", "A", "no"),  # 'j' skipped q3
    ]
    assert got[0]["quote"].startswith("we analyzed 449 patients")
    assert got[0]["location"] == "Abstract, Methods"
    assert got[1]["note"] == "not reported in the abstract" and got[1]["quote"] is None
    assert got[2]["note"] == "no sample size reasoning given"
    assert [r["seq"] for r in got] == [1, 2, 3]
    assert all(r["tool"] == "jbi_prevalence" for r in got)
