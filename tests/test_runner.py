"""The notebook runner that `make run`, `make test` and `python -m review run` share."""

from __future__ import annotations

import json
import shutil
from functools import partial
from pathlib import Path

import nbformat
import pytest
from _notebooks import runner_folders, write_notebook

from review.runner import NotebookError, find_notebooks, run_notebooks

from conftest import REPO

_notebook = partial(write_notebook, heading="# test notebook")


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    return runner_folders(tmp_path)


def test_notebooks_run_in_order_with_injected_parameters(folders) -> None:
    nbs, out, rev = folders
    _notebook(
        nbs / "01-first.ipynb",
        "import pathlib\npathlib.Path(OUTPUT_DIR, 'first.txt').write_text(REVIEW_DIR)",
    )
    _notebook(
        nbs / "02-second.ipynb",
        "import pathlib\ntext = pathlib.Path(OUTPUT_DIR, 'first.txt').read_text()\n"
        "pathlib.Path(OUTPUT_DIR, 'second.txt').write_text(text + '!')",
    )
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


def _live_children() -> list[str]:
    """Command lines of this process's live child processes (Linux /proc)."""
    import os

    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            out.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return out


def test_no_kernel_is_left_behind_by_a_failure(folders) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc")
    nbs, out, rev = folders
    # the kernel of 02 is started while 01 runs; 01 fails: that kernel must be stopped too
    _notebook(nbs / "01-broken.ipynb", "import time\ntime.sleep(1)\nraise ValueError('x')")
    _notebook(nbs / "02-never.ipynb", "y = 2")
    with pytest.raises(NotebookError, match="01-broken"):
        run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert not [c for c in _live_children() if "ipykernel" in c]


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


# ---------------------------------------------------------------- a review not there yet


def test_a_step_not_reached_is_reported_and_the_run_goes_on(folders, capsys) -> None:
    from review.__main__ import main

    nbs, out, rev = folders
    _notebook(nbs / "01-early.ipynb", "early = 1")
    _notebook(
        nbs / "02-later.ipynb",
        "from review.errors import StageNotReached",
        "raise StageNotReached('no records yet: put exports in imports/')",
        "never = 1",
    )
    _notebook(
        nbs / "03-other.ipynb",
        "from review.errors import NothingToDo",
        "raise NothingToDo('the protocol searches no PubMed database')",
    )
    last = "import pathlib\npathlib.Path(OUTPUT_DIR, 'last.txt').write_text('ran')"
    _notebook(nbs / "04-last.ipynb", last)
    code = main(["run", "--notebooks", str(nbs), "--output", str(out), "--review", str(rev)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "02-later.ipynb: not reached: no records yet: put exports in imports/" in printed
    assert "03-other.ipynb: nothing to do: the protocol searches no PubMed database" in printed
    assert (out / "last.txt").read_text() == "ran"  # the notebooks after it still ran

    report = run_notebooks(nbs, out, review_dir=rev, progress=False)
    statuses = {r.name: (r.status, r.cell, r.detail) for r in report.runs}
    # the notebooks that ran are skipped as unchanged; the stopped ones run again
    assert statuses["01-early.ipynb"][0] == "skipped (unchanged)"
    assert statuses["02-later.ipynb"] == (
        "not reached",
        4,
        "no records yet: put exports in imports/",
    )
    assert statuses["03-other.ipynb"][:2] == ("nothing to do", 4)
    assert [r.name for r in report.not_reached] == ["02-later.ipynb", "03-other.ipynb"]
    # the executed copy shows the message alone (IPython's _render_traceback_), no traceback
    executed = nbformat.read(out / "notebooks" / "02-later.ipynb", as_version=4)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert len(errors) == 1
    assert errors[0].traceback == ["Not reached yet: no records yet: put exports in imports/"]
    assert "never" not in json.dumps([c.get("outputs") for c in executed.cells])


def test_a_real_error_after_a_step_not_reached_still_fails(folders) -> None:
    nbs, out, rev = folders
    _notebook(
        nbs / "01-stop.ipynb",
        "from review.errors import StageNotReached\nraise StageNotReached('not yet')",
    )
    _notebook(nbs / "02-bad.ipynb", "raise KeyError('spm_any')")
    with pytest.raises(NotebookError) as info:
        run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert info.value.notebook == "02-bad.ipynb" and info.value.cell == 3
    assert "KeyError" in str(info.value)


def test_a_required_stage_not_reached_is_checked_before_a_kernel_starts(folders) -> None:
    nbs, out, rev = folders  # rev holds no protocol, no search, no import: no records
    _notebook(
        nbs / "01-needs-records.ipynb",
        "import pathlib\npathlib.Path(OUTPUT_DIR, 'setup-ran.txt').write_text('x')",
        'require_stage(REVIEW_DIR, "records")  # the entry requirement',
        "records = 1",
    )
    report = run_notebooks(nbs, out, review_dir=rev, progress=False)
    (run,) = report.runs
    assert (run.status, run.cell) == ("not reached", 4)
    assert run.detail.startswith("no records yet: put your databases' exports")
    assert not (out / "setup-ran.txt").exists()  # no cell was executed
    copy = nbformat.read(out / "notebooks" / "01-needs-records.ipynb", as_version=4)
    assert copy.cells[0].metadata["tags"] == ["not-reached"]
    assert "Not reached yet" in copy.cells[0].source and run.detail in copy.cells[0].source
    assert all(c.execution_count is None for c in copy.cells if c.cell_type == "code")

    # once the review has records the same notebook runs (its own cell checks again)
    (rev / "imports").mkdir()
    shutil.copy(REPO / "tests" / "data" / "imports" / "embase.ris", rev / "imports")
    _notebook(
        nbs / "01-needs-records.ipynb",
        "from review.status import require_stage",
        'require_stage(REVIEW_DIR, "records")',
        "import pathlib\npathlib.Path(OUTPUT_DIR, 'ran.txt').write_text('x')",
    )
    report = run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert [r.status for r in report.runs] == ["executed"]
    assert (out / "ran.txt").exists()


def test_default_review_and_notebooks(tmp_path, monkeypatch) -> None:
    from review.paths import example_review_dir, toolkit_notebooks_dir
    from review.runner import default_review_dir, notebooks_for

    monkeypatch.chdir(tmp_path)
    assert default_review_dir() == example_review_dir()  # a checkout falls back on data/
    (tmp_path / "protocol.yaml").write_text("schema_version: 1\n")
    assert default_review_dir() == tmp_path  # a review folder as the current folder
    assert notebooks_for(tmp_path) == toolkit_notebooks_dir()
    (tmp_path / "notebooks").mkdir()
    _notebook(tmp_path / "notebooks" / "00-own.ipynb")
    assert notebooks_for(tmp_path) == tmp_path / "notebooks"  # the review's own copies win
