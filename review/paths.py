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
    notebooks/                 the review's own copies of the numbered notebooks (optional;
                               written by ``python -m review new``)
    output/                    executed notebooks, figures and tables of a review of one's own
                               (git-ignored; never read back as an input)

Outputs (executed notebooks, figures, tables) go to an output folder: ``output/`` at the
repository root for the worked example (``data/`` is never written), ``output/`` inside the
review folder for any other review, unless ``$REVIEW_OUTPUT_DIR`` or ``--output`` says otherwise.

The numbered notebooks of the toolkit live in ``notebooks/`` at the repository root; a wheel
carries the same files as ``review/_notebooks/`` (pyproject.toml maps the one folder onto the
other), so :func:`toolkit_notebooks_dir` finds them from a checkout and from an installed wheel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PACKAGE_DIR",
    "REPO_ROOT",
    "ReviewPaths",
    "default_output_dir",
    "example_review_dir",
    "in_checkout",
    "lock_file",
    "toolkit_notebooks_dir",
]

#: The installed package (``review/``).
PACKAGE_DIR = Path(__file__).resolve().parent

#: The repository root when the package is used from a checkout (in an installed wheel, the
#: folder holding the package: see :func:`in_checkout`).
REPO_ROOT = PACKAGE_DIR.parent

_NOTEBOOKS = "notebooks"
_PACKAGED_NOTEBOOKS = "_notebooks"
_OUTPUT = "output"


def in_checkout() -> bool:
    """Whether the package runs from a checkout of the repository (not an installed wheel)."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / _NOTEBOOKS).is_dir()


def example_review_dir() -> Path:
    """Folder of the bundled worked example (``data/`` of the repository).

    Only a checkout has it: a wheel carries the toolkit, not the example.
    """
    return REPO_ROOT / "data"


def lock_file() -> Path:
    """The committed lock of the environment: ``requirements.lock`` at the repository root."""
    return REPO_ROOT / "requirements.lock"


def toolkit_notebooks_dir() -> Path:
    """The toolkit's numbered notebooks: the wheel's copy, else ``notebooks/`` of the checkout.

    Examples
    --------
    >>> sorted(p.name for p in toolkit_notebooks_dir().glob("0*.ipynb"))[0]
    '00-index.ipynb'
    """
    packaged = PACKAGE_DIR / _PACKAGED_NOTEBOOKS
    if any(packaged.glob("[0-9][0-9]-*.ipynb")):
        return packaged
    return REPO_ROOT / _NOTEBOOKS


def default_output_dir(review: str | os.PathLike[str] | None = None) -> Path:
    """Output folder of a run.

    ``$REVIEW_OUTPUT_DIR`` if set; else ``output/`` at the repository root for the worked
    example (or when no review is given); else ``output/`` inside the review folder.
    """
    env = os.environ.get("REVIEW_OUTPUT_DIR")
    if env:
        return Path(env).resolve()
    if review is None or Path(review).resolve() == example_review_dir().resolve():
        return REPO_ROOT / _OUTPUT
    return ReviewPaths(review).output


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
    def notebooks(self) -> Path:
        """The review's own copies of the numbered notebooks (``python -m review new``)."""
        return self.root / _NOTEBOOKS

    @property
    def output(self) -> Path:
        """Default output folder of a review of one's own (git-ignored, never an input)."""
        return self.root / _OUTPUT

    @property
    def readme(self) -> Path:
        """The review's README (how to run it)."""
        return self.root / "README.md"

    @property
    def template_manifest(self) -> Path:
        """What ``python -m review new`` wrote (file -> hash), read by ``review update``."""
        return self.root / ".review-template.json"

    def step_folders(self) -> tuple[Path, ...]:
        """The folders a review's steps write into, in pipeline order."""
        return (
            self.search,
            self.imports,
            self.dedup_overrides.parent,
            self.screening_log.parent,
            self.extraction,
            self.appraisal_log.parent,
        )

    @property
    def appraisal_log(self) -> Path:
        """The append-only risk-of-bias assessment log."""
        return self.root / "appraisal" / "log.jsonl"

    @property
    def certainty(self) -> Path:
        """The reviewers' certainty-of-evidence (GRADE) judgements."""
        return self.root / "certainty.yaml"
