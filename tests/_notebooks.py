"""Notebooks for the runner's tests: the tagged ``parameters`` cell, then code cells."""

from __future__ import annotations

from pathlib import Path

import nbformat

#: The parameters cell of every numbered notebook (papermill injects the real values).
PARAMS = "REVIEW_DIR = None\nOUTPUT_DIR = None"


def write_notebook(
    path: Path, *cells: str, params: str = PARAMS, heading: str | None = None
) -> None:
    """Write a notebook ``review run`` executes: an optional markdown ``heading`` cell, the
    ``parameters`` cell (``params``), then one code cell per item of ``cells``."""
    nb = nbformat.v4.new_notebook()
    if heading is not None:
        nb.cells.append(nbformat.v4.new_markdown_cell(heading))
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells.append(p)
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def runner_folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Notebooks, output and review folders under ``tmp_path`` (the review holds one file)."""
    nbs, out, rev = tmp_path / "nbs", tmp_path / "out", tmp_path / "rev"
    nbs.mkdir()
    rev.mkdir()
    (rev / "input.txt").write_text("1\n")
    return nbs, out, rev
