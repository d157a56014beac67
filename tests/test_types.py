"""The package type-checks: ``python -m mypy`` (strict, set in pyproject.toml) finds no error."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from review._environment import installed_versions, lock_differences, lock_versions

from conftest import require_or_skip

ROOT = Path(__file__).resolve().parents[1]

#: What decides mypy's verdict besides the code: the checker and the type information it
#: reads (inline types, stubs) of what review imports with types. mypy --strict is kept
#: clean with their versions in requirements.lock; older numpy, matplotlib or pandas-stubs
#: type the same calls differently (``make check-bounds`` installs such versions).
TYPED = ("mypy", "numpy", "pandas-stubs", "matplotlib", "requests", "packaging")


def _typed_off_lock() -> list[str]:
    locked = lock_versions((ROOT / "requirements.lock").read_text(encoding="utf-8"))
    installed = installed_versions()
    return lock_differences(
        {n: locked[n] for n in TYPED if n in locked},
        {n: installed[n] for n in TYPED if n in installed},
    )


@pytest.mark.slow
def test_mypy_reports_no_errors() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it belongs in the test extras, with pandas-stubs)")
    off = _typed_off_lock()
    require_or_skip(
        not off,
        "REVIEW_REQUIRE_LOCK",
        "mypy and the types it reads are not at their locked versions: " + "; ".join(off),
    )
    proc = subprocess.run(
        # the config named explicitly: a mypy.ini or .mypy.ini would otherwise take precedence
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"mypy found errors:\n{proc.stdout}{proc.stderr}"
    assert "Success: no issues found" in proc.stdout, proc.stdout


def test_a_checker_off_the_lock_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    locked = lock_versions((ROOT / "requirements.lock").read_text(encoding="utf-8"))
    fake = {n: locked[n] for n in TYPED} | {"mypy": "1.10.0"}
    monkeypatch.setitem(globals(), "installed_versions", lambda: fake)
    assert _typed_off_lock() == [f"mypy 1.10.0 (locked: {locked['mypy']})"]
    fake.pop("numpy")
    assert f"numpy not installed (locked: {locked['numpy']})" in _typed_off_lock()


def test_mypy_config_is_strict() -> None:
    # the run above checks what pyproject.toml configures: that must stay strict
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config.get("strict") is True, config
