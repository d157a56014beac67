"""The notebook runner that `make run`, `make test` and `python -m review run` share."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from review.runner import NotebookError, find_notebooks, run_notebooks

PARAMS = "REVIEW_DIR = None\nOUTPUT_DIR = None"


def _notebook(path: Path, *cells: str, params: str = PARAMS) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# test notebook"))
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells.append(p)
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python"
    }
    nbformat.write(nb, path)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    nbs, out, rev = tmp_path / "nbs", tmp_path / "out", tmp_path / "rev"
    nbs.mkdir()
    rev.mkdir()
    (rev / "input.txt").write_text("1\n")
    return nbs, out, rev


def test_notebooks_run_in_order_with_injected_parameters(folders) -> None:
    nbs, out, rev = folders
    _notebook(nbs / "01-first.ipynb",
              "import pathlib\npathlib.Path(OUTPUT_DIR, 'first.txt').write_text(REVIEW_DIR)")
    _notebook(nbs / "02-second.ipynb",
              "import pathlib\ntext = pathlib.Path(OUTPUT_DIR, 'first.txt').read_text()\n"
              "pathlib.Path(OUTPUT_DIR, 'second.txt').write_text(text + '!')")
    (nbs / "scratch.ipynb").write_text("not a numbered notebook, never run")
    report = run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert [r.name for r in report.runs] == ["01-first.ipynb", "02-second.ipynb"]
    assert (out / "second.txt").read_text() == str(rev.resolve()) + "!"
    executed = nbformat.read(out / "notebooks" / "01-first.ipynb", as_version=4)
    assert "injected-parameters" in executed.cells[2].metadata["tags"]
    # the source notebook is never written over
    source = nbformat.read(nbs / "01-first.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in source.cells if c.cell_type == "code")


def test_failure_names_notebook_and_source_cell(folders) -> None:
    nbs, out, rev = folders
    _notebook(nbs / "01-ok.ipynb", "x = 1")
    _notebook(nbs / "02-broken.ipynb", "y = 2", "raise ValueError('bad extraction row')")
    with pytest.raises(NotebookError) as info:
        run_notebooks(nbs, out, review_dir=rev, progress=False)
    err = info.value
    assert err.notebook == "02-broken.ipynb"
    # cells: 1 markdown, 2 parameters, 3 "y = 2", 4 the raise (the injected cell is not counted)
    assert err.cell == 4
    assert "notebook 02-broken.ipynb, cell 4" in str(err)
    assert "ValueError: bad extraction row" in str(err)
    assert (out / "notebooks" / "02-broken.ipynb").exists()  # partial copy kept for reading


def test_unchanged_notebooks_are_skipped_and_changes_rerun_downstream(folders) -> None:
    nbs, out, rev = folders
    _notebook(nbs / "01-a.ipynb", "a = 1")
    _notebook(nbs / "02-b.ipynb", "b = 2")
    run_notebooks(nbs, out, review_dir=rev, progress=False)
    second = run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert [r.status for r in second.runs] == ["skipped (unchanged)"] * 2
    (rev / "input.txt").write_text("2\n")  # an input changed: everything re-runs
    third = run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert [r.status for r in third.runs] == ["executed"] * 2
    _notebook(nbs / "01-a.ipynb", "a = 3")  # first notebook changed: the second re-runs too
    fourth = run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert [r.status for r in fourth.runs] == ["executed", "executed"]
    manifest = json.loads((out / "run-manifest.json").read_text())
    assert set(manifest["notebooks"]) == {"01-a.ipynb", "02-b.ipynb"}
    assert "pandas" in manifest["versions"]


def test_empty_folder_is_an_error(folders) -> None:
    nbs, out, rev = folders
    with pytest.raises(NotebookError, match="no numbered notebooks"):
        run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert find_notebooks(nbs) == []


def test_command_line_reports_failure_with_exit_code(folders, capsys) -> None:
    from review.__main__ import main

    nbs, out, rev = folders
    _notebook(nbs / "01-broken.ipynb", "1/0")
    code = main(["run", "--notebooks", str(nbs), "--output", str(out), "--review", str(rev)])
    assert code == 1
    assert "notebook 01-broken.ipynb, cell 3: ZeroDivisionError" in capsys.readouterr().err
