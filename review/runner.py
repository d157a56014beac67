"""Execute the numbered notebooks in order, headless, into an output folder.

This is the one path both reviewers and the test suite take (``python -m review run``,
``make run``, ``make test``): each ``NN-*.ipynb`` in the notebooks folder is executed with
nbclient, with its ``parameters`` cell followed by an injected cell that points it at the
review folder and the output folder (the papermill convention), and the executed copy is
written to ``<output>/notebooks/`` — never over the source. A notebook whose source, inputs
and toolkit version are unchanged since its last successful run is skipped unless ``force``.
A failure names the notebook and the cell.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from review._environment import LockMismatchWarning, describe, mismatch_message
from review._io import write_atomic
from review.errors import ReviewError
from review.paths import REPO_ROOT, default_output_dir, example_review_dir, lock_file

__all__ = ["NotebookError", "NotebookRun", "RunReport", "find_notebooks", "run_notebooks"]

_MANIFEST = "run-manifest.json"


class NotebookError(ReviewError):
    """A notebook failed; the message names the notebook and the cell.

    Attributes
    ----------
    notebook : str
        File name of the notebook.
    cell : int or None
        1-based index of the failing cell among all cells of the source notebook.
    """

    def __init__(self, notebook: str, cell: int | None, detail: str) -> None:
        self.notebook = notebook
        self.cell = cell
        where = f"notebook {notebook}" + (f", cell {cell}" if cell is not None else "")
        super().__init__(f"{where}: {detail}")


@dataclass(frozen=True, slots=True)
class NotebookRun:
    """What happened to one notebook."""

    name: str
    status: str  # "executed" | "skipped (unchanged)"
    seconds: float
    output: Path


@dataclass(frozen=True, slots=True)
class RunReport:
    """The runs of one ``run_notebooks`` call, in order."""

    output_dir: Path
    runs: tuple[NotebookRun, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """One line per notebook."""
        lines = [f"output folder: {self.output_dir}"]
        lines += [f"  {r.name:<40} {r.status:<20} {r.seconds:6.1f} s" for r in self.runs]
        return "\n".join(lines)


def find_notebooks(folder: str | os.PathLike[str]) -> list[Path]:
    """The numbered notebooks (``NN-name.ipynb``) of a folder, in order."""
    found = sorted(Path(folder).glob("[0-9][0-9]-*.ipynb"))
    return [p for p in found if ".ipynb_checkpoints" not in p.parts]


def _digest_tree(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for root in paths:
        files = (
            [root]
            if root.is_file()
            else sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        )
        for f in files:
            h.update(str(f.relative_to(root.parent)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _environment() -> tuple[dict[str, str], dict[str, Any] | None]:
    """(versions, lock): Python, platform and every installed distribution; the lock check.

    Differences from the committed lock are warned about (:class:`LockMismatchWarning`).
    """
    env = describe(lock_file())
    versions = {"python": env["python"], "platform": env["platform"], **env["distributions"]}
    lock = env.get("lock")
    if lock and (lock["differences"] or "error" in lock):
        msg = mismatch_message(lock_file(), lock["differences"])
        if "error" in lock:
            msg = f"{lock['file']} {lock['error']}: the environment is not checked against it"
        warnings.warn(msg, LockMismatchWarning, stacklevel=3)
    return versions, lock


def _inject_parameters(nb: nbformat.NotebookNode, params: dict[str, object]) -> int:
    """Insert a cell setting ``params`` after the ``parameters`` cell; return its index."""
    lines = ["# Parameters injected by review.runner"]
    lines += [f"{k} = {v!r}" for k, v in params.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines))  # type: ignore[no-untyped-call]
    cell.metadata["tags"] = ["injected-parameters"]
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    at = tagged[0] + 1 if tagged else 0
    nb.cells.insert(at, cell)
    return at


def run_notebooks(
    notebooks_dir: str | os.PathLike[str] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    *,
    review_dir: str | os.PathLike[str] | None = None,
    only: Sequence[str] | None = None,
    force: bool = False,
    timeout: int = 900,
    progress: bool = True,
) -> RunReport:
    """Execute the numbered notebooks in order.

    Parameters
    ----------
    notebooks_dir : path-like, optional
        Folder of ``NN-*.ipynb`` notebooks; ``notebooks/`` of the repository by default.
    output_dir : path-like, optional
        Where executed copies (``notebooks/``), figures and tables go; ``output/`` by default.
    review_dir : path-like, optional
        The review folder the notebooks read (``data/`` of the repository by default),
        passed to them as ``REVIEW_DIR``.
    only : sequence of str, optional
        Run only notebooks whose name starts with one of these prefixes (e.g. ``["06"]``).
    force : bool
        Execute even when nothing changed since the last successful run.
    timeout : int
        Seconds allowed per cell.
    progress : bool
        Print one line per notebook as it starts and ends.

    Returns
    -------
    RunReport

    Raises
    ------
    NotebookError
        When a cell fails or times out; names the notebook and the cell. The partially
        executed copy is still written, so the traceback can be read in JupyterLab.

    Warns
    -----
    LockMismatchWarning
        When the installed distributions differ from the committed ``requirements.lock``
        (naming each one). ``run-manifest.json`` records Python, the platform and every
        installed distribution (``versions``) and the differences (``lock``).
    """
    nb_dir = Path(notebooks_dir) if notebooks_dir else REPO_ROOT / "notebooks"
    out = Path(output_dir) if output_dir else default_output_dir()
    rev = Path(review_dir) if review_dir else example_review_dir()
    out.mkdir(parents=True, exist_ok=True)
    (out / "notebooks").mkdir(exist_ok=True)
    manifest_path = out / _MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest.setdefault("notebooks", {})

    notebooks = find_notebooks(nb_dir)
    if only:
        notebooks = [p for p in notebooks if p.name.startswith(tuple(only))]
    if not notebooks:
        raise NotebookError(str(nb_dir), None, "no numbered notebooks (NN-*.ipynb) found")

    versions, lock = _environment()
    sources = [rev] + ([REPO_ROOT / "review"] if (REPO_ROOT / "review").is_dir() else [])
    inputs_digest = _digest_tree(sources)
    params = {
        "REVIEW_DIR": str(rev.resolve()),
        "OUTPUT_DIR": str(out.resolve()),
        "LIVE_SEARCH": False,
    }
    env_backup = {k: os.environ.get(k) for k in ("REVIEW_OFFLINE", "MPLBACKEND")}
    os.environ["REVIEW_OFFLINE"] = "1"
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    runs: list[NotebookRun] = []
    upstream_changed = False
    try:
        for i, src in enumerate(notebooks, 1):
            target = out / "notebooks" / src.name
            key = hashlib.sha256(
                src.read_bytes() + inputs_digest.encode() + json.dumps(versions).encode()
            ).hexdigest()
            previous = manifest["notebooks"].get(src.name, {})
            unchanged = previous.get("key") == key and target.exists()
            if not force and not upstream_changed and unchanged:
                runs.append(NotebookRun(src.name, "skipped (unchanged)", 0.0, target))
                if progress:
                    print(f"[{i}/{len(notebooks)}] {src.name}: unchanged, skipped", flush=True)
                continue
            # a notebook downstream of one that ran must run too: it reads what that one wrote
            upstream_changed = True
            if progress:
                print(f"[{i}/{len(notebooks)}] {src.name}: running ...", flush=True)
            t0 = time.perf_counter()
            _execute(src, target, params, timeout)
            dt = time.perf_counter() - t0
            manifest["notebooks"][src.name] = {"key": key, "seconds": round(dt, 2)}
            manifest["versions"] = versions
            manifest["lock"] = lock
            write_atomic(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            runs.append(NotebookRun(src.name, "executed", dt, target))
            if progress:
                print(f"[{i}/{len(notebooks)}] {src.name}: done in {dt:.1f} s", flush=True)
    finally:
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return RunReport(out, tuple(runs))


def _execute(src: Path, target: Path, params: dict[str, object], timeout: int) -> None:
    nb = nbformat.read(src, as_version=4)  # type: ignore[no-untyped-call]
    injected_at = _inject_parameters(nb, params)
    # IPC transport: the kernel talks over local sockets in a private folder, not over TCP.
    with tempfile.TemporaryDirectory(prefix="review-kernel-") as runtime:
        km = KernelManager(
            kernel_name="python3", transport="ipc", connection_file=str(Path(runtime, "k.json"))
        )
        client = NotebookClient(
            nb, km=km, timeout=timeout, resources={"metadata": {"path": str(src.parent)}}
        )
        try:
            _run_client(client, nb, src, target, injected_at)
        finally:
            if km.has_kernel:  # a kernel manager passed in is ours to shut down
                km.shutdown_kernel(now=False)


def _run_client(
    client: NotebookClient,
    nb: nbformat.NotebookNode,
    src: Path,
    target: Path,
    injected_at: int,
) -> None:
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as exc:
        nbformat.write(nb, target)  # type: ignore[no-untyped-call]
        failing = _failing_cell(nb)
        # report the cell number of the source notebook, not counting the injected cell
        src_cell = None if failing is None else failing + (0 if failing < injected_at else -1) + 1
        detail = _short(exc)
        raise NotebookError(src.name, src_cell, detail) from exc
    nbformat.write(nb, target)  # type: ignore[no-untyped-call]


def _failing_cell(nb: nbformat.NotebookNode) -> int | None:
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return i
    return None


def _short(exc: Exception) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc).splitlines()[-1] if str(exc) else "")
    return f"{ename}: {evalue}"


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - thin CLI
    """Entry point for ``python -m review run``."""
    from review.__main__ import main as cli

    return cli(argv if argv is not None else sys.argv[1:])
