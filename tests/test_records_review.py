"""load_review_records: every source of a review folder stacked before de-duplication."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from review.errors import InputError
from review.records import load_review_records, read_ris
from review.search import load_snapshot

from conftest import REPO


def test_snapshots_and_exports_are_stacked_with_their_sources(tmp_path: Path) -> None:
    shutil.copytree(REPO / "data" / "search", tmp_path / "search")
    (tmp_path / "imports").mkdir()
    shutil.copy(REPO / "tests" / "data" / "imports" / "embase.ris", tmp_path / "imports")
    shutil.copy(REPO / "tests" / "data" / "imports" / "scopus.csv", tmp_path / "imports")
    records = load_review_records(tmp_path)
    n_pubmed = len(load_snapshot(tmp_path / "search" / "pubmed-2026").records)
    other = load_snapshot(tmp_path / "search" / "other-2026").records  # other methods
    n_embase = len(read_ris(tmp_path / "imports" / "embase.ris"))
    counts = records["source"].value_counts()
    assert counts["PubMed"] == n_pubmed
    assert counts[other["source"].iloc[0]] == len(other)
    assert counts["Embase"] == n_embase
    assert counts["Scopus"] > 0
    assert records["record_id"].is_unique
    assert len(records) == n_pubmed + len(other) + n_embase + counts["Scopus"]


def test_a_review_without_sources_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no search snapshot"):
        load_review_records(tmp_path)
