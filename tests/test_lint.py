"""The code is ruff clean: lint rules and formatting (pyproject.toml [tool.ruff]), checked here.

The style guide asks for it and nothing else enforced it: `make lint` was not part of `make
test`, and drift from several branches went unseen. Uses the locked ruff (requirements.lock),
so the verdict does not change with a new ruff release.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS = ["review", "tests", "benchmarks"]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ruff_check_is_clean() -> None:
    out = _ruff("check", "--no-cache", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_leaves_every_file_unchanged() -> None:
    out = _ruff("format", "--check", "--no-cache", *TARGETS)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nx=1\n")
    assert _ruff("check", "--no-cache", "--isolated", str(bad)).returncode != 0
    assert _ruff("format", "--check", "--no-cache", "--isolated", str(bad)).returncode != 0
