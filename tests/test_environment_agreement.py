"""pyproject.toml, requirements.lock and environment.yml agree.

The lock pins every dependency (and test extra) of pyproject.toml within its bounds, on
every platform and Python it was resolved for, with hashes; environment.yml (the conda
route) lists the same packages, each pinned to its locked version.
"""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml
from packaging.requirements import Requirement

from review._environment import conda_pins, conda_versions, lock_entries, lock_versions, normalize

from conftest import REPO

LOCK = REPO / "requirements.lock"

#: Marker variables of some environments the universal lock must serve besides this one.
ENVIRONMENTS = {
    "this interpreter": {},
    "Python 3.11.0": {"python_version": "3.11", "python_full_version": "3.11.0"},
    "Python 3.13": {"python_version": "3.13", "python_full_version": "3.13.1"},
    "Windows": {"sys_platform": "win32", "os_name": "nt", "platform_system": "Windows"},
    "macOS": {"sys_platform": "darwin", "platform_system": "Darwin"},
}


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _requirements(pyproject: dict) -> list[Requirement]:
    project = pyproject["project"]
    specs = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    return [Requirement(s) for s in specs]


def lock_problems(requirements: list[Requirement], locked: dict[str, str]) -> list[str]:
    """What the lock's pins leave unmet of the requirements (empty when all are met)."""
    out = []
    for req in requirements:
        version = locked.get(normalize(req.name))
        if version is None:
            out.append(f"{req.name} is not in the lock")
        elif not req.specifier.contains(version, prereleases=True):
            out.append(f"{req.name}=={version} does not satisfy '{req}'")
    return out


def _conda() -> tuple[dict[str, str], str, list[str]]:
    """environment.yml: {name: specifier} of every package, the python entry, the pip list."""
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    specs: dict[str, str] = {}
    python, pip = "", []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip = list(dep["pip"])
            items = [s for s in pip if not s.startswith("-")]
        elif re.match(r"^python\b", dep) and not dep.startswith("python-"):
            python = dep
            continue
        elif dep == "pip":
            continue
        else:
            items = [dep]
        for item in items:
            m = re.match(r"^([A-Za-z0-9_.\-]+)(.*)$", item.replace(" ", ""))
            assert m, item
            specs[normalize(m.group(1))] = m.group(2)
    return specs, python, pip


def _lock_python() -> str:
    m = re.search(r"^LOCK_PYTHON\s*:=\s*(\S+)", (REPO / "Makefile").read_text(), re.M)
    assert m, "Makefile has no LOCK_PYTHON"
    return m.group(1)


@pytest.mark.parametrize("where", list(ENVIRONMENTS))
def test_lock_pins_every_dependency_within_pyprojects_bounds(where: str) -> None:
    locked = lock_versions(LOCK.read_text(), ENVIRONMENTS[where])
    problems = lock_problems(_requirements(_pyproject()), locked)
    assert problems == [], f"{where}: {problems}; run `make lock`"


def test_lock_holds_what_make_setup_installs_the_package_with() -> None:
    # make setup installs the package with --no-build-isolation: its build requirements (and
    # pip itself) come from the lock, so nothing unpinned is fetched to build it.
    build = [Requirement(s) for s in _pyproject()["build-system"]["requires"]]
    locked = lock_versions(LOCK.read_text())
    assert lock_problems([*build, Requirement("pip")], locked) == []


def test_every_pin_of_the_lock_has_hashes() -> None:
    text = LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])  # after the header
    pins = [b for b in blocks if "==" in b.split("\n", 1)[0]]
    assert len(pins) == len(lock_entries(text)) > 100
    unhashed = [b.split()[0] for b in pins if not re.search(r"--hash=sha256:[0-9a-f]{64}", b)]
    assert unhashed == []


def test_conda_lists_the_same_packages_as_pyproject() -> None:
    pip = {normalize(r.name) for r in _requirements(_pyproject())}
    conda = set(_conda()[0])
    assert pip - conda == set(), f"in pyproject.toml only: {sorted(pip - conda)}"
    assert conda - pip == set(), f"in environment.yml only: {sorted(conda - pip)}"


def test_conda_pins_the_locked_versions() -> None:
    specs, python, _ = _conda()
    locked = conda_versions(LOCK.read_text(), _lock_python())
    wrong = {n: s for n, s in specs.items() if s != f"=={locked.get(n)}"}
    assert wrong == {}, f"environment.yml differs from the lock: {wrong}; run `make lock`"
    assert python == f"python={_lock_python()}"  # the Python the lock was resolved for


def test_make_lock_writes_the_committed_conda_pins() -> None:
    text = (REPO / "environment.yml").read_text()
    locked = conda_versions(LOCK.read_text(), _lock_python())
    assert conda_pins(text, locked) == text  # the committed file is what make lock writes
    unpinned = re.sub(r"(?m)^(\s*- [\w.-]+)==\S+$", r"\1>=0", text)
    assert unpinned != text and conda_pins(unpinned, locked) == text


def test_conda_installs_the_package_itself() -> None:
    assert "-e ." in _conda()[2]


def test_the_checks_can_fail() -> None:
    locked = lock_versions(LOCK.read_text())
    reqs = _requirements(_pyproject())
    numpy = locked["numpy"]
    raised = [Requirement(f"numpy>{numpy}") if r.name == "numpy" else r for r in reqs]
    assert lock_problems(raised, locked) == [f"numpy=={numpy} does not satisfy 'numpy>{numpy}'"]
    assert lock_problems([*reqs, Requirement("brand-new>=1")], locked) == [
        "brand-new is not in the lock"
    ]
    stale = (REPO / "environment.yml").read_text().replace(f"numpy=={numpy}", "numpy==1.0")
    assert conda_pins(stale, conda_versions(LOCK.read_text(), "3.11")) != stale


def test_make_setup_installs_from_the_lock_and_again_when_it_changes(tmp_path) -> None:
    # A dry run (make -n) in a copy: what `make setup` would do, fresh, up to date, and
    # after the lock changed.
    import os
    import shutil
    import subprocess
    import time

    if shutil.which("make") is None:
        pytest.skip("make not found")
    for name in ("Makefile", "pyproject.toml", "requirements.lock"):
        shutil.copy2(REPO / name, tmp_path / name)

    def dry_run() -> str:
        out = subprocess.run(
            ["make", "-n", "setup"], cwd=tmp_path, capture_output=True, text=True, check=True
        )
        return out.stdout

    fresh = dry_run()
    assert "--require-hashes" in fresh and "-r requirements.lock" in fresh
    assert "--no-deps" in fresh and "-e ." in fresh  # the package, nothing more
    assert "venv --clear" in fresh  # nothing left over from an earlier environment
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / ".installed").touch()
    assert "pip install" not in dry_run()  # up to date: nothing to do
    later = time.time() + 5
    os.utime(tmp_path / "requirements.lock", (later, later))
    assert dry_run() == fresh  # the lock changed: rebuilt from it
