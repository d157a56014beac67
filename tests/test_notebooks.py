"""The numbered notebooks: committed stripped, thin, self-describing, and they run.

Execution goes through :func:`review.runner.run_notebooks`, the runner ``make run`` and
``python -m review run`` use, so CI and reviewers take one path.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from review.runner import find_notebooks, run_notebooks

from conftest import REPO

NOTEBOOKS = find_notebooks(REPO / "notebooks")
IDS = [p.stem for p in NOTEBOOKS]
EXPECTED_ORDER = [
    "00-index",
    "01-query",
    "02-deduplication",
    "03-title-abstract-screening",
    "04-full-text-and-prisma",
    "05-extraction",
    "06-risk-of-bias",
    "07-meta-analysis",
    "08-sensitivity",
]
#: Figures the run must write (stem -> formats), by the notebook that writes them.
EXPECTED_FIGURES = {
    "04": ["prisma"],
    "06": ["rob_traffic_light", "rob_summary"],
    "07": ["forest_any_spm", "forest_subgroups_target", "forest_tcell", "forest_myeloid"],
    "08": ["funnel", "forest_leave_one_out"],
}
FORMATS = ("pdf", "svg", "png")


def test_the_numbered_notebooks_are_the_designed_pipeline() -> None:
    assert [p.stem for p in NOTEBOOKS] == EXPECTED_ORDER


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells, 1):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


def test_nbstripout_agrees() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--verify", *map(str, NOTEBOOKS)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_starts_by_saying_what_it_does_reads_and_writes(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith(f"# {path.stem[:2]} ·")
    if path.stem != "00-index":
        for word in ("**Does:**", "**Reads:**", "**Writes:**"):
            assert word in first.source, f"{path.name}: first cell lacks {word}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_has_one_parameters_cell_of_constants(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    tree = ast.parse(tagged[0].source)
    for node in tree.body:
        assert isinstance(node, ast.Assign), ast.dump(node)
        for target in node.targets:
            assert isinstance(target, ast.Name) and target.id.isupper()
    names = {t.id for n in tree.body for t in n.targets}
    assert {"REVIEW_DIR", "OUTPUT_DIR"} <= names


def _thin_violations(source: str) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            problems.append(f"defines {type(node).__name__}")
        if isinstance(node, ast.For | ast.While | ast.With | ast.Try):
            if node.end_lineno != node.lineno:
                problems.append(f"multi-line {type(node).__name__} at line {node.lineno}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_thin(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells, 1):
        if cell.cell_type == "code":
            problems = _thin_violations(cell.source)
            assert not problems, f"{path.name} cell {i}: {problems} (move logic into review/)"


def test_thinness_check_can_fail() -> None:
    assert _thin_violations("def f():\n    return 1")
    assert _thin_violations("for x in y:\n    print(x)")
    assert not _thin_violations("[print(x) for x in y]")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_secret_in_notebook(path: Path) -> None:
    text = path.read_text()
    assert "api_key=" not in text.replace(" ", "")
    assert "NCBI_API_KEY=" not in text


@pytest.mark.notebooks
@pytest.mark.slow
def test_every_notebook_runs_offline_and_writes_every_figure(tmp_path: Path) -> None:
    report = run_notebooks(REPO / "notebooks", tmp_path, progress=False, force=True)
    assert [r.name for r in report.runs] == [p.name for p in NOTEBOOKS]
    assert all(r.status == "executed" for r in report.runs)
    for stems in EXPECTED_FIGURES.values():
        for stem in stems:
            for fmt in FORMATS:
                f = tmp_path / "figures" / f"{stem}.{fmt}"
                assert f.exists() and f.stat().st_size > 1000, f
    for executed in (tmp_path / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(executed, as_version=4)
        errors = [
            o
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.outputs
            if o.output_type == "error"
        ]
        assert not errors, executed.name
    # the review folder is read, never written: no lock or temp files appear in data/
    assert not list((REPO / "data").rglob("*.lock"))
