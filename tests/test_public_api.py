"""The public surface: what ``review`` and its step modules export is what exists."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import review

MODULES = [
    "review.errors",
    "review.paths",
    "review.protocol",
    "review.search",
    "review.records",
    "review.dedup",
    "review.screening",
    "review.screening_widget",
    "review.prioritise",
    "review.prisma",
    "review.extraction",
    "review.meta",
    "review.report",
    "review.analysis",
    "review.plots",
    "review.runner",
    "review.status",
    "review.scaffold",
    "review.journal",
    "review.appraisal",
    "review.appraisal_widget",
    "review.certainty",
]


@pytest.mark.parametrize("name", review.__all__)
def test_every_exported_name_resolves_to_its_module_object(name: str) -> None:
    value = getattr(review, name)
    if name != "__version__":
        module = importlib.import_module(review._EXPORTS[name])
        assert value is getattr(module, name)
        assert not isinstance(value, type(sys)), f"{name} resolved to a module"


@pytest.mark.parametrize("module", MODULES)
def test_step_modules_declare_all_and_export_what_exists(module: str) -> None:
    mod = importlib.import_module(module)
    assert hasattr(mod, "__all__"), module
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing, f"{module}.__all__ names missing attributes: {missing}"


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError):
        review.not_a_function  # noqa: B018


def test_import_review_is_light() -> None:
    code = (
        "import sys, review; "
        "print(any(m.startswith(('matplotlib', 'sklearn')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
