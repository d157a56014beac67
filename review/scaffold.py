"""A new review folder, laid out and ready to run (``python -m review new DIR``), and its update.

:func:`new_review` writes what a reviewer starts from: a commented ``protocol.yaml`` that the
schema accepts as it stands (its ``TODO`` placeholders are the reviewer's to replace), the
step folders (``search/``, ``imports/``, ``dedup/``, ``screening/``, ``extraction/`` with the
header rows of its tables), the numbered notebooks pointed at the folder, a README saying how
to run it and a ``.gitignore``. The notebooks come from the toolkit itself
(:func:`review.paths.toolkit_notebooks_dir`), so a toolkit installed from a wheel scaffolds
the same review as a checkout.

:func:`update_review` brings a later toolkit's notebooks, README and ``.gitignore`` into an
existing review without touching what the reviewer changed: ``.review-template.json`` records
the hash of every file as written; a file still as written is replaced, a file the reviewer
edited keeps its content and the new version is written beside it as ``<name>.new``. The
protocol and the data are never rewritten.

Why not copier or cookiecutter: the template has no questions worth a templating language
(two values are filled in), the notebooks are JSON that Jinja would have to be kept out of,
and copier's ``update`` replays template versions from a git repository, which a toolkit
installed from a wheel is not. The hash manifest gives the part of ``update`` a reviewer
needs (take in new notebooks, never lose an edit) without a dependency.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from string import Template

from review._io import write_atomic
from review.errors import OptionError, ReviewError
from review.paths import PACKAGE_DIR, ReviewPaths, toolkit_notebooks_dir

__all__ = ["ScaffoldReport", "new_review", "outdated", "update_review"]

_TEMPLATE = PACKAGE_DIR / "_template"
_MANIFEST_VERSION = 1
#: The parameters a review's own notebooks start with: the review is their parent folder.
_NOTEBOOK_PARAMETERS = {"REVIEW_DIR": "..", "OUTPUT_DIR": "../output"}


@dataclass(frozen=True, slots=True)
class ScaffoldReport:
    """What :func:`new_review` or :func:`update_review` did.

    Attributes
    ----------
    root : Path
        The review folder.
    written : tuple of str
        Files written (relative paths): created, or replaced because unedited.
    kept : tuple of str
        Files the reviewer had edited, left as they were (the new version is ``<name>.new``).
    unchanged : tuple of str
        Files already as the toolkit would write them.
    """

    root: Path
    written: tuple[str, ...]
    kept: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line per file touched, for the terminal."""
        lines = [f"review folder: {self.root}"]
        lines += [f"  wrote     {f}" for f in self.written]
        lines += [f"  kept      {f} (edited; the toolkit's version is {f}.new)" for f in self.kept]
        if self.unchanged:
            lines.append(f"  {len(self.unchanged)} file(s) already up to date")
        return "\n".join(lines)


def _toolkit_version() -> str:
    from review import __version__

    return __version__


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _csv_header(columns: tuple[str, ...]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(columns)
    return buf.getvalue().encode()


def _notebook_for_review(src: Path) -> bytes:
    """The toolkit's notebook with its parameters pointed at the review (its parent folder)."""
    import nbformat

    nb = nbformat.read(src, as_version=4)  # type: ignore[no-untyped-call]
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = "\n".join(_point_at_review(line) for line in cell.source.split("\n"))
    text = str(nbformat.writes(nb))  # type: ignore[no-untyped-call]
    return (text if text.endswith("\n") else text + "\n").encode()


def _point_at_review(line: str) -> str:
    """``REVIEW_DIR = "../data"  # comment`` -> ``REVIEW_DIR = ".."  # comment``."""
    for name, value in _NOTEBOOK_PARAMETERS.items():
        m = re.match(rf"^{name}\s*=\s*[^#]*?(\s*#.*)?$", line)
        if m:
            return f"{name} = {json.dumps(value)}{m.group(1) or ''}"
    return line


def _managed_files(paths: ReviewPaths, name: str) -> dict[str, bytes]:
    """Files the toolkit keeps up to date (notebooks, README, .gitignore): path -> content."""
    files = {
        ".gitignore": (_TEMPLATE / "gitignore").read_bytes(),
        "README.md": Template((_TEMPLATE / "README.md").read_text(encoding="utf-8"))
        .safe_substitute(name=name, version=_toolkit_version())
        .encode(),
    }
    nb_dir = toolkit_notebooks_dir()
    notebooks = sorted(nb_dir.glob("[0-9][0-9]-*.ipynb"))
    if not notebooks:
        raise ReviewError(f"the toolkit's numbered notebooks are missing from {nb_dir}")
    for src in notebooks:
        rel = paths.notebooks.relative_to(paths.root) / src.name
        files[rel.as_posix()] = _notebook_for_review(src)
    return files


def _seed_files(paths: ReviewPaths) -> dict[str, bytes]:
    """Files written once, then the reviewer's: protocol, empty tables, folder keepers.

    The extraction tables get the header the template protocol asks for: ``studies.csv`` its
    identifying columns and one column per declared covariate, ``outcomes.csv`` the columns
    of a number and of a reported estimate.
    """
    import yaml

    from review.dedup import OVERRIDE_COLUMNS
    from review.extraction import ESTIMATE_COLUMNS, OUTCOME_COLUMNS, STUDY_COLUMNS
    from review.protocol import protocol_from_mapping

    year = str(datetime.now(UTC).year)
    text = Template((_TEMPLATE / "protocol.yaml").read_text(encoding="utf-8")).safe_substitute(
        year=year
    )
    template = protocol_from_mapping(yaml.safe_load(text), _source=text)
    study_columns = (
        *STUDY_COLUMNS,
        "report_pmids",
        "note",
        *(c for c, cov in template.covariates.items() if cov.source == "studies"),
    )

    def rel(p: Path) -> str:
        return p.relative_to(paths.root).as_posix()

    return {
        rel(paths.protocol): text.encode(),
        rel(paths.search / ".gitkeep"): b"",
        rel(paths.imports / ".gitkeep"): b"",
        rel(paths.dedup_overrides): _csv_header(tuple(OVERRIDE_COLUMNS)),
        rel(paths.screening_log.parent / ".gitkeep"): b"",
        rel(paths.extraction / "studies.csv"): _csv_header(study_columns),
        rel(paths.extraction / "outcomes.csv"): _csv_header((*OUTCOME_COLUMNS, *ESTIMATE_COLUMNS)),
    }


def _write_manifest(paths: ReviewPaths, hashes: dict[str, str]) -> None:
    body = {
        "manifest_version": _MANIFEST_VERSION,
        "toolkit_version": _toolkit_version(),
        "note": "written by python -m review new/update: the hash of each file as the toolkit "
        "wrote it, so that an update replaces only files nobody edited",
        "files": dict(sorted(hashes.items())),
    }
    write_atomic(paths.template_manifest, json.dumps(body, indent=2) + "\n")


def new_review(
    folder: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> ScaffoldReport:
    """Lay out a new review folder: protocol template, step folders, notebooks, README.

    Parameters
    ----------
    folder : path-like
        The review folder to create. It must not exist, or be empty.
    title : str, optional
        The review's title, written into the protocol instead of its placeholder.

    Returns
    -------
    ScaffoldReport
        The files written.

    Raises
    ------
    review.errors.OptionError
        If ``folder`` is a file, or a folder that is not empty (nothing is written).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from review.protocol import load_protocol
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "my-review"
    >>> report = new_review(root, title="Stroke after atrial fibrillation")
    >>> load_protocol(root / "protocol.yaml").title
    'Stroke after atrial fibrillation'
    >>> sorted(p.name for p in (root / "notebooks").glob("*.ipynb"))[:2]
    ['00-index.ipynb', '01-query.ipynb']
    """
    root = Path(folder)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise OptionError(
            f"{root} already exists and is not an empty folder: choose a new name "
            "(python -m review update brings an existing review's notebooks up to date)"
        )
    paths = ReviewPaths(root)
    managed = _managed_files(paths, root.resolve().name)
    seeds = _seed_files(paths)
    if title is not None:
        if not title.strip() or "\n" in title:
            raise OptionError(f"title must be one non-empty line, got {title!r}")
        protocol = seeds["protocol.yaml"].decode()
        seeds["protocol.yaml"] = protocol.replace(
            'title: "TODO: the review\'s title"', f"title: {json.dumps(title)}", 1
        ).encode()
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in {**seeds, **managed}.items():
        write_atomic(root / rel, data)
    _write_manifest(paths, {rel: _sha(data) for rel, data in managed.items()})
    return ScaffoldReport(root=root, written=tuple(sorted({**seeds, **managed})))


def _recorded(paths: ReviewPaths) -> dict[str, str]:
    if not paths.template_manifest.is_file():
        return {}
    try:
        return dict(json.loads(paths.template_manifest.read_text())["files"])
    except (ValueError, KeyError, TypeError) as e:
        raise ReviewError(f"{paths.template_manifest} cannot be read: {e}") from e


def outdated(folder: str | os.PathLike[str]) -> tuple[str, ...]:
    """Files of a review that :func:`update_review` would replace: unedited and out of date.

    Empty for a review without ``.review-template.json`` (not made by ``review new``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "r"
    >>> _ = new_review(root)
    >>> outdated(root)
    ()
    """
    paths = ReviewPaths(folder)
    recorded = _recorded(paths)
    if not recorded:
        return ()
    out = []
    for rel, data in _managed_files(paths, paths.root.resolve().name).items():
        target = paths.root / rel
        current = _sha(target.read_bytes()) if target.is_file() else None
        if current is None or (current == recorded.get(rel) and current != _sha(data)):
            out.append(rel)
    return tuple(out)


def update_review(folder: str | os.PathLike[str]) -> ScaffoldReport:
    """Bring the toolkit's current notebooks, README and ``.gitignore`` into a review.

    A file still as the toolkit wrote it (its hash in ``.review-template.json``) is replaced
    by the current version; a missing one is written; a file the reviewer edited is kept, and
    the current version is written beside it as ``<name>.new`` to compare and merge by hand.
    ``protocol.yaml`` and the data folders are never touched.

    Parameters
    ----------
    folder : path-like
        A review folder (it must hold ``protocol.yaml``).

    Returns
    -------
    ScaffoldReport

    Raises
    ------
    review.errors.OptionError
        If the folder holds no ``protocol.yaml``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp()) / "r"
    >>> _ = new_review(root)
    >>> update_review(root).written
    ()
    """
    paths = ReviewPaths(folder)
    if not paths.protocol.is_file():
        raise OptionError(
            f"{paths.root} holds no protocol.yaml: not a review folder "
            "(python -m review new DIR creates one)"
        )
    recorded = _recorded(paths)
    managed = _managed_files(paths, paths.root.resolve().name)
    written, kept, unchanged = [], [], []
    hashes = dict(recorded)
    for rel, data in managed.items():
        target = paths.root / rel
        new = _sha(data)
        if target.is_file():
            current = _sha(target.read_bytes())
            if current == new:
                unchanged.append(rel)
                hashes[rel] = new
                continue
            if recorded.get(rel) != current:  # edited by the reviewer (or never recorded)
                write_atomic(target.with_name(target.name + ".new"), data)
                kept.append(rel)
                continue
        write_atomic(target, data)
        hashes[rel] = new
        written.append(rel)
    _write_manifest(paths, hashes)
    return ScaffoldReport(
        root=paths.root, written=tuple(written), kept=tuple(kept), unchanged=tuple(unchanged)
    )
