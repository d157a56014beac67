"""The pip route (pyproject.toml) and the conda route (environment.yml) install the same things."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import REPO


def _norm(spec: str) -> tuple[str, str]:
    spec = spec.replace(" ", "")
    m = re.match(r"^([A-Za-z0-9_.\-]+)(.*)$", spec)
    assert m, spec
    return m.group(1).lower().replace("_", "-"), m.group(2)


def _pip_specs() -> set[tuple[str, str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    return {_norm(s) for s in specs}


def _conda_specs() -> set[tuple[str, str]]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    out: set[tuple[str, str]] = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            out |= {_norm(s) for s in dep["pip"] if not s.startswith("-e")}
        elif not dep.startswith(("python", "pip")) or dep.startswith("python-"):
            out.add(_norm(dep))
    return out


def test_pip_and_conda_list_the_same_packages_and_versions() -> None:
    pip, conda = _pip_specs(), _conda_specs()
    assert pip - conda == set(), f"in pyproject.toml only: {sorted(pip - conda)}"
    assert conda - pip == set(), f"in environment.yml only: {sorted(conda - pip)}"


def test_conda_installs_the_package_itself() -> None:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section


def test_agreement_check_detects_a_mismatch() -> None:
    # The comparison itself must be able to fail: a changed specifier is a difference.
    assert _norm("pandas>=2.2") != _norm("pandas>=2.1")
    assert _norm("scikit_learn>=1.4") == _norm("scikit-learn>=1.4")
