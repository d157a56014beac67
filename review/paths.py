"""Where a review keeps its files: the one place that knows folder names.

A review is a folder (the worked example is ``data/`` of this repository). Inside it::

    protocol.yaml              question, eligibility, exclusion reasons, databases and queries
    search/<name>/             one search snapshot: records.jsonl + metadata.json
    imports/                   other databases' exports, as given (RIS, CSV)
    dedup/overrides.csv        a reviewer's decisions on proposed merges
    screening/log.jsonl        the append-only screening log
    extraction/                studies.csv + outcomes.csv (+ codebook.csv)
    appraisal/log.jsonl        the append-only risk-of-bias assessment log
    certainty.yaml             the reviewers' GRADE judgements per outcome

Outputs (executed notebooks, figures, tables) go to an output folder, ``output/`` at the
repository root by default, never into the review folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["REPO_ROOT", "ReviewPaths", "default_output_dir", "example_review_dir"]

#: The repository root when the package is used from a checkout.
REPO_ROOT = Path(__file__).resolve().parent.parent


def example_review_dir() -> Path:
    """Folder of the bundled worked example (``data/`` of the repository)."""
    return REPO_ROOT / "data"


def default_output_dir() -> Path:
    """Output folder: ``$REVIEW_OUTPUT_DIR`` if set, else ``output/`` at the repository root."""
    env = os.environ.get("REVIEW_OUTPUT_DIR")
    return Path(env).resolve() if env else REPO_ROOT / "output"


@dataclass(frozen=True, slots=True)
class ReviewPaths:
    """The files of one review folder.

    Parameters
    ----------
    root : path-like
        The review folder.

    Examples
    --------
    >>> p = ReviewPaths(example_review_dir())
    >>> p.protocol.name
    'protocol.yaml'
    """

    root: Path

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def protocol(self) -> Path:
        """The protocol file."""
        return self.root / "protocol.yaml"

    @property
    def search(self) -> Path:
        """Folder of search snapshots, one sub-folder each."""
        return self.root / "search"

    def snapshot(self, name: str) -> Path:
        """Folder of the snapshot called ``name``."""
        return self.search / name

    @property
    def imports(self) -> Path:
        """Folder of other databases' exports, kept as given."""
        return self.root / "imports"

    @property
    def dedup_overrides(self) -> Path:
        """A reviewer's overrides of proposed merges."""
        return self.root / "dedup" / "overrides.csv"

    @property
    def screening_log(self) -> Path:
        """The append-only screening log."""
        return self.root / "screening" / "log.jsonl"

    @property
    def extraction(self) -> Path:
        """Folder of the extraction tables."""
        return self.root / "extraction"

    @property
    def appraisal_log(self) -> Path:
        """The append-only risk-of-bias assessment log."""
        return self.root / "appraisal" / "log.jsonl"

    @property
    def certainty(self) -> Path:
        """The reviewers' certainty-of-evidence (GRADE) judgements."""
        return self.root / "certainty.yaml"
