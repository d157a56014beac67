"""The numbered notebooks: committed stripped, thin, self-describing, and they run.

Execution goes through :func:`review.runner.run_notebooks`, the runner ``make run`` and
``python -m review run`` use, so CI and reviewers take one path.
"""

from __future__ import annotations

import ast
import json
import re
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
    "09-certainty",
]
FORMATS = ("pdf", "svg", "png")
#: Notebooks every review runs through the same code: they may name nothing of the example.
GENERIC = (
    "05-extraction",
    "06-risk-of-bias",
    "07-meta-analysis",
    "08-sensitivity",
    "09-certainty",
)
EXAMPLE_WORDS = re.compile(
    r"spm_|CD19|BCMA|CAR[ -]?T\b|axi-cel|tisa-cel|liso-cel|brexu-cel|ide-cel|cilta-cel|Tix|tix20"
)


def expected_figures(review: Path) -> dict[str, list[str]]:
    """Figures a run must write (by the notebook that writes them), from the protocol."""
    from review.protocol import load_protocol

    p = load_protocol(review / "protocol.yaml")
    analyses = list(p.analyses.values())
    return {
        "04": ["prisma"],
        "06": ["rob_traffic_light", "rob_summary"] if p.appraisal else [],
        "07": [f"forest_{a.code}" for a in analyses],
        "08": [f"method_sensitivity_{a.code}" for a in analyses if a.sensitivity.methods]
        + [f"forest_leave_one_out_{a.code}" for a in analyses if a.sensitivity.leave_one_out]
        + [f"funnel_{a.code}" for a in analyses if a.sensitivity.funnel],
        "09": ["summary_of_findings"] if p.certainty is not None else [],
    }


def test_the_numbered_notebooks_are_the_designed_pipeline() -> None:
    assert [p.stem for p in NOTEBOOKS] == EXPECTED_ORDER


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_cell_ids_are_unique(path: Path) -> None:
    # nbformat "corrects" a repeated id with a warning at every read; two merges that each
    # inserted cells left 06 with two cells "19" and "20"
    ids = [c.get("id") for c in json.loads(path.read_text())["cells"]]
    assert len(ids) == len(set(ids)), f"{path.name}: repeated cell ids"


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


@pytest.mark.parametrize("name", GENERIC)
def test_analysis_notebooks_name_nothing_of_the_worked_example(name: str) -> None:
    """Outcomes, analyses and comparisons come from the protocol, not from notebook code."""
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    for i, cell in enumerate(nb.cells, 1):
        found = EXAMPLE_WORDS.findall(cell.source)
        assert not found, f"{name} cell {i} names {found}"


def test_example_word_check_can_fail() -> None:
    assert EXAMPLE_WORDS.search('pool(df, events="spm_any")')
    assert not EXAMPLE_WORDS.search("results = run_analyses(protocol, extraction)")


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
    expected = expected_figures(REPO / "data")
    assert "forest_any_spm" in expected["07"] and "funnel_any_spm" in expected["08"]
    # a subgroup forest plot (the example's target has three groups)
    expected["07"].append("forest_any_spm_by_target")
    for stems in expected.values():
        for stem in stems:
            for fmt in FORMATS:
                f = tmp_path / "figures" / f"{stem}.{fmt}"
                assert f.exists() and f.stat().st_size > 1000, f
    # one row of the pooled table per declared analysis, labelled from the protocol
    import pandas as pd

    from review.protocol import load_protocol

    pooled = pd.read_csv(tmp_path / "tables" / "pooled.csv")
    labels = [a.label for a in load_protocol(REPO / "data" / "protocol.yaml").analyses.values()]
    assert pooled["analysis"].tolist() == labels and (pooled["status"] == "ok").all()
    # the Summary of Findings opens with the primary outcome; PRISMA 2020 items 11, 15, 18
    # and 22 point at files the run wrote (06 and 09 each write their own rows)
    protocol = load_protocol(REPO / "data" / "protocol.yaml")
    sof = pd.read_csv(tmp_path / "tables" / "summary_of_findings.csv")
    assert sof.loc[0, "code"] == next(o.code for o in protocol.outcomes if o.primary)
    assert (sof["certainty_level"] != "not_assessed").all()
    items = pd.read_csv(tmp_path / "tables" / "prisma_items.csv", dtype=str)
    assert items["item"].tolist() == ["11", "15", "18", "22"]
    for where in items["where"]:
        files = [w for w in where.split("; ") if not w.startswith("notebook ")]
        assert files and all((tmp_path / f).is_file() for f in files), where
    assert items.loc[0, "reported"].startswith("Risk of bias was assessed with the")
    assert items.loc[1, "reported"].startswith("The certainty of each pooled estimate")
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
