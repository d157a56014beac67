"""A wheel built from the repository works outside it: `review new` and `review run` in a venv.

The wheel is built from a copy of the repository's files with the test environment's own
setuptools (``--no-build-isolation``: nothing is downloaded, tests never touch the network),
installed with ``--no-deps --no-index`` into a new virtual environment outside the repository,
and that environment borrows the already installed dependencies through a ``.pth`` file (the
wheel's own ``review`` comes first on ``sys.path``, which the test checks). The kernel the
runner starts is that environment's Python, given its own kernel spec; no ``PYTHONPATH``, no
user kernel spec and no checkout are in reach.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "output",
    "build",
    "dist",
    "*.egg-info",
    "test-artifacts",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "*.lock",
)


def _copy_sources(dest: Path) -> None:
    """The repository's files (tracked or new, not ignored), as a fresh clone would have them."""
    try:
        listed = (
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(REPO),
                    "ls-files",
                    "-z",
                    "--cached",
                    "--others",
                    "--exclude-standard",
                ],
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .split("\0")
        )
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(REPO, dest, ignore=_IGNORE)
        return
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _setuptools_ok() -> bool:
    code = "import setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) < 77)"
    return subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_a_wheel_installs_outside_the_repository_and_runs_a_new_review(tmp_path: Path) -> None:
    if not _setuptools_ok():
        pytest.skip("setuptools >= 77 is not installed (a test extra: pip install -e '.[test]')")
    src, dist, venv, work = (tmp_path / n for n in ("src", "dist", "venv", "work"))
    _copy_sources(src)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "-w",
            str(dist),
            str(src),
        ]
    )
    (wheel,) = dist.glob("review-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    notebooks = sorted(n for n in names if n.startswith("review/_notebooks/"))
    assert [n.rsplit("/", 1)[1] for n in notebooks] == sorted(
        p.name for p in (REPO / "notebooks").glob("[0-9][0-9]-*.ipynb")
    )
    assert "review/_template/protocol.yaml" in names and "review/py.typed" in names
    assert not [n for n in names if n.startswith(("data/", "tests/", "notebooks/"))]

    # a fresh venv outside the repository; the dependencies borrowed, the wheel installed
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "JUPYTER", "REVIEW_OUTPUT"))
    }
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-user")  # no user kernel spec in reach
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], env=env)
    py = venv / "bin" / "python"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            str(wheel),
        ],
        env=env,
    )
    (venv_site,) = (venv / "lib").glob("python3*/site-packages")
    borrowed = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (venv_site / "_borrowed_dependencies.pth").write_text("\n".join(borrowed) + "\n")
    _run([str(py), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], env=env)
    work.mkdir()

    where = _run([str(py), "-c", "import review; print(review.__file__)"], cwd=work, env=env)
    assert where.stdout.strip().startswith(str(venv_site)), where.stdout

    new = _run([str(venv / "bin" / "review"), "new", "my-review"], cwd=work, env=env)
    assert "wrote     notebooks/00-index.ipynb" in new.stdout
    run = _run([str(py), "-m", "review", "run", "--review", "my-review"], cwd=work, env=env)
    assert "00-index.ipynb                           executed" in run.stdout, run.stdout
    assert "01-query.ipynb: not reached: the PubMed search has not been run yet" in run.stdout
    assert "notebook(s) stopped at a step this review has not reached yet" in run.stdout
    out = work / "my-review" / "output"
    assert (out / "notebooks" / "00-index.ipynb").is_file()
    assert json.loads((out / "run-manifest.json").read_text())["notebooks"]["00-index.ipynb"]

    # the notebooks' kernel imports the wheel's review, not a checkout's
    probe = work / "probe"
    probe.mkdir()
    import nbformat

    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("REVIEW_DIR = None\nOUTPUT_DIR = None")
    p.metadata["tags"] = ["parameters"]
    probe_code = (
        "import pathlib, review\npathlib.Path(OUTPUT_DIR, 'where.txt').write_text(review.__file__)"
    )
    nb.cells = [p, nbformat.v4.new_code_cell(probe_code)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, probe / "01-probe.ipynb")
    _run(
        [
            str(py),
            "-m",
            "review",
            "run",
            "--review",
            "my-review",
            "--notebooks",
            str(probe),
            "--output",
            str(work / "probe-out"),
        ],
        cwd=work,
        env=env,
    )
    assert (work / "probe-out" / "where.txt").read_text().startswith(str(venv_site))

    # status from inside the review folder (no --review: the current folder is the review)
    status = subprocess.run(
        [str(py), "-m", "review", "status"],
        cwd=work / "my-review",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert status.returncode == 0, status.stderr
    assert "TODO placeholder(s) left" in status.stdout
    # outside a review folder and outside a checkout there is no default review
    lost = subprocess.run(
        [str(py), "-m", "review", "status"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert lost.returncode == 1 and "no review folder: pass --review DIR" in lost.stderr
