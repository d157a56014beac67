"""Hostile runs of the notebook runner and the command line (issue 15).

Deleted or edited outputs, damaged manifests and notebooks, output paths that are files,
Ctrl-C in the middle of a run, an unexpected fault: each ends in the right re-run or a
one-line message naming the path, never a raw traceback; what was there before is kept.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _notebooks import runner_folders, write_notebook

from review.__main__ import main
from review.errors import ReviewError
from review.runner import NotebookError, run_notebooks

from conftest import REPO

_notebook = write_notebook


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    return runner_folders(tmp_path)


def _statuses(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.status for r in report.runs]


WRITE_TABLE = (
    "import pathlib\n"
    "t = pathlib.Path(OUTPUT_DIR, 'tables'); t.mkdir(exist_ok=True)\n"
    "(t / 'pooled.csv').write_text('estimate\\n0.1\\n')"
)
WRITE_FIGURE = (
    "import pathlib\n"
    "v = pathlib.Path(OUTPUT_DIR, 'tables', 'pooled.csv').read_text()\n"
    "f = pathlib.Path(OUTPUT_DIR, 'figures'); f.mkdir(exist_ok=True)\n"
    "(f / 'forest.pdf').write_text(v)"
)


def test_deleted_or_edited_outputs_are_made_again(folders) -> None:
    # issue 15: deleting tables/pooled.csv and a forest PDF, then `review run`, skipped
    # every notebook as unchanged and left them missing
    nbs, out, rev = folders
    _notebook(nbs / "01-pool.ipynb", WRITE_TABLE)
    _notebook(nbs / "02-plot.ipynb", WRITE_FIGURE)
    run_notebooks(nbs, out, review_dir=rev, progress=False)
    manifest = json.loads((out / "run-manifest.json").read_text())
    assert set(manifest["notebooks"]["01-pool.ipynb"]["outputs"]) == {"tables/pooled.csv"}
    assert set(manifest["notebooks"]["02-plot.ipynb"]["outputs"]) == {"figures/forest.pdf"}
    assert (
        _statuses(run_notebooks(nbs, out, review_dir=rev, progress=False))
        == ["skipped (unchanged)"] * 2
    )

    (out / "figures" / "forest.pdf").unlink()
    report = run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert _statuses(report) == ["skipped (unchanged)", "executed"]
    assert (out / "figures" / "forest.pdf").is_file()

    (out / "tables" / "pooled.csv").unlink()
    (out / "figures" / "forest.pdf").unlink()
    assert _statuses(run_notebooks(nbs, out, review_dir=rev, progress=False)) == ["executed"] * 2
    assert (out / "tables" / "pooled.csv").is_file() and (out / "figures" / "forest.pdf").is_file()

    (out / "tables" / "pooled.csv").write_text("estimate\n99\n")  # edited by hand
    assert _statuses(run_notebooks(nbs, out, review_dir=rev, progress=False)) == ["executed"] * 2
    assert (out / "tables" / "pooled.csv").read_text() == "estimate\n0.1\n"


DAMAGED_MANIFESTS = [
    "{not json",
    '{"notebooks": []}',
    '{"notebooks": {"01-a.ipynb": "x"}}',
    '{"notebooks": {"01-a.ipynb": {"key": 1, "outputs": []}}}',
]


def test_damaged_manifest_means_a_rerun_never_a_traceback(folders) -> None:
    nbs, out, rev = folders
    _notebook(nbs / "01-a.ipynb", "a = 1")
    run_notebooks(nbs, out, review_dir=rev, progress=False)
    for damage in DAMAGED_MANIFESTS:  # one kernel each: a loop, not parameters
        (out / "run-manifest.json").write_text(damage)
        if damage.startswith('{"notebooks": {"01-a.ipynb": {'):
            report = run_notebooks(nbs, out, review_dir=rev, progress=False)  # stale key
        else:
            with pytest.warns(UserWarning, match="run manifest .* unreadable"):
                report = run_notebooks(nbs, out, review_dir=rev, progress=False)
        assert _statuses(report) == ["executed"], damage
        saved = json.loads((out / "run-manifest.json").read_text())
        assert isinstance(saved["notebooks"]["01-a.ipynb"]["outputs"], dict)


@pytest.mark.parametrize(
    "content",
    [b"not json at all", b"", b'{"cells": "nope"}', b"\xff\xfe\x00garbage", b"[1, 2, 3]"],
    ids=["text", "empty", "bad-cells", "binary", "a-list"],
)
def test_notebook_that_is_not_a_notebook_is_named(folders, content: bytes) -> None:
    nbs, out, rev = folders
    (nbs / "01-bad.ipynb").write_bytes(content)
    with pytest.raises(NotebookError, match="not a readable notebook") as e:
        run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert e.value.notebook == "01-bad.ipynb"
    assert (nbs / "01-bad.ipynb").read_bytes() == content  # the source is left as it was


def test_notebooks_before_a_broken_one_are_kept(folders) -> None:
    nbs, out, rev = folders
    _notebook(nbs / "01-ok.ipynb", "a = 1")
    (nbs / "02-bad.ipynb").write_text("{")
    with pytest.raises(NotebookError, match=r"02-bad\.ipynb"):
        run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert (out / "notebooks" / "01-ok.ipynb").is_file()
    manifest = json.loads((out / "run-manifest.json").read_text())
    assert list(manifest["notebooks"]) == ["01-ok.ipynb"]


def test_folder_named_like_a_notebook_is_named(folders) -> None:
    nbs, out, rev = folders
    (nbs / "01-folder.ipynb").mkdir()
    with pytest.raises(NotebookError, match=r"01-folder\.ipynb"):
        run_notebooks(nbs, out, review_dir=rev, progress=False)


def test_output_path_that_is_a_file(folders, capsys) -> None:
    nbs, out, rev = folders
    _notebook(nbs / "01-a.ipynb", "a = 1")
    out.write_text("I am a file\n")
    with pytest.raises(NotebookError, match="output path is a file"):
        run_notebooks(nbs, out, review_dir=rev, progress=False)
    assert out.read_text() == "I am a file\n"
    code = main(["run", "--notebooks", str(nbs), "--output", str(out), "--review", str(rev)])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("FAILED: ") and "Traceback" not in err
    assert err.count("\n") == 1 and str(out) in err


def test_output_notebooks_path_that_is_a_file(folders) -> None:
    nbs, out, rev = folders
    _notebook(nbs / "01-a.ipynb", "a = 1")
    out.mkdir()
    (out / "notebooks").write_text("x")
    with pytest.raises(NotebookError, match="output path is a file"):
        run_notebooks(nbs, out, review_dir=rev, progress=False)


def test_missing_review_folder_is_named(folders) -> None:
    nbs, out, rev = folders
    _notebook(nbs / "01-a.ipynb", "a = 1")
    with pytest.raises(NotebookError, match="review folder does not exist"):
        run_notebooks(nbs, out, review_dir=rev / "absent", progress=False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file regardless of mode")
def test_unreadable_input_is_named(folders) -> None:  # pragma: no cover - not as root
    nbs, out, rev = folders
    _notebook(nbs / "01-a.ipynb", "a = 1")
    (rev / "input.txt").chmod(0)
    with pytest.raises(NotebookError, match="cannot read"):
        run_notebooks(nbs, out, review_dir=rev, progress=False)


def test_unexpected_fault_is_one_line_and_a_traceback_file(folders, capsys, monkeypatch) -> None:
    nbs, out, rev = folders
    out.mkdir()

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("something the toolkit did not foresee\nsecond line")

    monkeypatch.setattr("review.runner.run_notebooks", boom)
    code = main(["run", "--notebooks", str(nbs), "--output", str(out), "--review", str(rev)])
    err = capsys.readouterr().err
    assert code == 2
    assert "RuntimeError: something the toolkit did not foresee second line" in err
    assert "Traceback" not in err
    written = next(out.glob("review-traceback-*.txt"))
    assert str(written) in err
    assert "Traceback (most recent call last)" in written.read_text()


def test_review_error_is_one_line(folders, capsys, monkeypatch) -> None:
    nbs, out, rev = folders

    def refuse(*a: object, **k: object) -> None:
        raise ReviewError("file x.csv, row 3: bad\nrow")

    monkeypatch.setattr("review.runner.run_notebooks", refuse)
    code = main(["run", "--notebooks", str(nbs), "--output", str(out), "--review", str(rev)])
    assert code == 1
    assert capsys.readouterr().err == "FAILED: file x.csv, row 3: bad row\n"


def _run_and_interrupt(nbs: Path, out: Path, rev: Path, after: float) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "review", "run", "--notebooks", str(nbs), "--output", str(out),
         "--review", str(rev)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,  # the signal goes to this run only, as a terminal's Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    # wait until the slow notebook has started, then press Ctrl-C
    while not (out / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(after)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def test_ctrl_c_mid_run_is_a_clean_interrupt_with_exit_code_130(folders) -> None:
    # issue 15: Ctrl-C mid-run printed an AssertionError traceback
    nbs, out, rev = folders
    _notebook(nbs / "01-fast.ipynb", "a = 1")
    _notebook(
        nbs / "02-slow.ipynb",
        "import pathlib, time\npathlib.Path(OUTPUT_DIR, 'started').write_text('1')",
        "time.sleep(120)",
    )
    t0 = time.monotonic()
    code, err = _run_and_interrupt(nbs, out, rev, 0.5)
    assert time.monotonic() - t0 < 100  # the 120 s cell was stopped, not waited for
    assert code == 130
    assert "Traceback" not in err and "AssertionError" not in err
    assert err.strip().startswith("interrupted (Ctrl-C): 1 notebook(s) had finished")
    manifest = json.loads((out / "run-manifest.json").read_text())
    assert list(manifest["notebooks"]) == ["01-fast.ipynb"]  # the interrupted one re-runs


def test_cli_on_the_example_with_a_file_as_output_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "review", "run", "--output", str(out)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith("FAILED: ") and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "damage",
    [b"", b"[]", b"\x00", b"\xff\xfe{", b'{"notebooks": 3}', b'"text"', b"[" * 100_000],
    ids=["empty", "list", "nul", "bad-utf8", "notebooks-number", "string", "deep"],
)
def test_read_manifest_never_raises_on_damage(tmp_path: Path, damage: bytes) -> None:
    from review.runner import _read_manifest

    p = tmp_path / "run-manifest.json"
    p.write_bytes(damage)
    with pytest.warns(UserWarning, match="unreadable"):
        assert _read_manifest(p, progress=False) == {"notebooks": {}}
    assert p.read_bytes() == damage
