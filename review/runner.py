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
import platform
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from review._io import write_atomic
from review.errors import ReviewError
from review.paths import REPO_ROOT, default_output_dir, example_review_dir

__all__ = [
    "NotebookError",
    "NotebookRun",
    "RunInterrupted",
    "RunReport",
    "find_notebooks",
    "run_notebooks",
]

_MANIFEST = "run-manifest.json"
_TRACKED_PACKAGES = (
    "review",
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "statsmodels",
    "pymed",
    "nbclient",
)


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
            try:
                h.update(f.read_bytes())
            except OSError as e:
                raise NotebookError(
                    str(f), None, f"cannot read this input of the notebooks: {e.strerror or e}"
                ) from e
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


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
    """
    nb_dir = Path(notebooks_dir) if notebooks_dir else REPO_ROOT / "notebooks"
    out = Path(output_dir) if output_dir else default_output_dir()
    rev = Path(review_dir) if review_dir else example_review_dir()
    if not rev.is_dir():
        raise NotebookError(str(rev), None, "the review folder does not exist or is not a folder")
    _make_output_folder(out)
    manifest_path = out / _MANIFEST
    manifest = _read_manifest(manifest_path, progress)

    notebooks = find_notebooks(nb_dir)
    if only:
        notebooks = [p for p in notebooks if p.name.startswith(tuple(only))]
    if not notebooks:
        raise NotebookError(str(nb_dir), None, "no numbered notebooks (NN-*.ipynb) found")

    versions = _versions()
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
            try:
                src_bytes = src.read_bytes()
            except OSError as e:
                raise NotebookError(src.name, None, f"cannot be read: {e.strerror or e}") from e
            key = hashlib.sha256(
                src_bytes + inputs_digest.encode() + json.dumps(versions).encode()
            ).hexdigest()
            previous = manifest["notebooks"].get(src.name, {})
            unchanged = (
                previous.get("key") == key
                and target.exists()
                and _outputs_intact(out, previous.get("outputs"))
            )
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
            before = _output_files(out)
            _execute(src, target, params, timeout)
            dt = time.perf_counter() - t0
            written = _written_since(out, before)
            for other in manifest["notebooks"].values():  # a file belongs to its last writer
                for rel in written:
                    other.get("outputs", {}).pop(rel, None)
            manifest["notebooks"][src.name] = {
                "key": key,
                "seconds": round(dt, 2),
                "outputs": written,
            }
            manifest["versions"] = versions
            write_atomic(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            runs.append(NotebookRun(src.name, "executed", dt, target))
            if progress:
                print(f"[{i}/{len(notebooks)}] {src.name}: done in {dt:.1f} s", flush=True)
    except BaseException as e:
        if _interrupted(e):  # Ctrl-C, or an error raised while the event loop was interrupted
            raise RunInterrupted(runs) from None
        raise
    finally:
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return RunReport(out, tuple(runs))


def _execute(src: Path, target: Path, params: dict[str, object], timeout: int) -> None:
    try:
        nb = nbformat.read(src, as_version=4)  # type: ignore[no-untyped-call]
    except Exception as e:  # nbformat raises NotJSONError, ValidationError, KeyError ...
        raise NotebookError(
            src.name, None, f"not a readable notebook ({type(e).__name__}: {_first_line(e)})"
        ) from e
    injected_at = _inject_parameters(nb, params)
    ctrl_c = _CtrlC()
    failure: list[BaseException] = []

    def work() -> None:
        # IPC transport: the kernel talks over local sockets in a private folder, not TCP.
        try:
            with tempfile.TemporaryDirectory(prefix="review-kernel-") as runtime:
                km = KernelManager(
                    kernel_name="python3",
                    transport="ipc",
                    connection_file=str(Path(runtime, "k.json")),
                )
                ctrl_c.km = km
                client = NotebookClient(
                    nb, km=km, timeout=timeout, resources={"metadata": {"path": str(src.parent)}}
                )
                client.on_notebook_start = ctrl_c.check
                client.on_cell_start = ctrl_c.check
                try:
                    log = Path(runtime, "kernel.log")
                    _run_client(client, nb, src, target, injected_at, ctrl_c, log)
                except BaseException:
                    _shutdown(km, now=True)  # interrupted or failed: do not wait on it
                    raise
                _shutdown(km, now=False)
        except BaseException as e:
            failure.append(e)

    # The notebook runs in a worker thread so that Ctrl-C reaches this (main) thread as a
    # plain KeyboardInterrupt: nbclient installs its own SIGINT handler only in the main
    # thread, and that one let a running cell go on (a 20 s cell finished before the run
    # stopped) or left the client without its kernel (an AssertionError traceback).
    worker = threading.Thread(target=work, name=f"review-run {src.name}", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        ctrl_c.interrupt()
        try:
            while worker.is_alive():
                worker.join(0.2)
        except KeyboardInterrupt:  # a second Ctrl-C: the kernel does not answer, kill it
            ctrl_c.interrupt(kill=True)
            worker.join(30)
        raise KeyboardInterrupt from None
    if failure:
        raise failure[0]


def _shutdown(km: KernelManager, *, now: bool) -> None:
    """Shut the kernel down (a kernel manager passed to nbclient is ours to shut down).

    A kernel already gone (killed, or its loop broken by Ctrl-C) is not an error here: the
    error that matters is the one being raised, if any.
    """
    try:
        if km.has_kernel:
            km.shutdown_kernel(now=now)
    except Exception:  # nothing left to clean up; the caller reports what matters
        pass


def _run_client(
    client: NotebookClient,
    nb: nbformat.NotebookNode,
    src: Path,
    target: Path,
    injected_at: int,
    ctrl_c: _CtrlC | None = None,
    kernel_log: Path | None = None,
) -> None:
    def pressed() -> bool:
        return ctrl_c is not None and ctrl_c.pressed

    try:
        if kernel_log is None:
            client.execute()
        else:
            # the kernel's own log (not the cells' output) goes to a file, not the terminal
            with open(kernel_log, "ab") as log:
                client.execute(stderr=log)
    except (CellExecutionError, CellTimeoutError) as exc:
        nbformat.write(nb, target)  # type: ignore[no-untyped-call]
        if pressed() or getattr(exc, "ename", "") == "KeyboardInterrupt":
            raise KeyboardInterrupt from None
        failing = _failing_cell(nb)
        # report the cell number of the source notebook, not counting the injected cell
        src_cell = None if failing is None else failing + (0 if failing < injected_at else -1) + 1
        detail = _short(exc)
        raise NotebookError(src.name, src_cell, detail) from exc
    except Exception as exc:
        if pressed():  # e.g. the kernel killed by a second Ctrl-C: DeadKernelError
            raise KeyboardInterrupt from None
        if isinstance(exc, DeadKernelError):
            _write_partial(nb, target)
            last = _last_line(kernel_log)
            raise NotebookError(
                src.name,
                None,
                "the kernel died while running it (out of memory, or a crash in compiled "
                f"code?){': ' + last if last else ''}",
            ) from exc
        raise
    nbformat.write(nb, target)  # type: ignore[no-untyped-call]


def _write_partial(nb: nbformat.NotebookNode, target: Path) -> None:
    try:
        nbformat.write(nb, target)  # type: ignore[no-untyped-call]
    except OSError:
        pass


def _last_line(log: Path | None) -> str:
    try:
        lines = (
            [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()] if log else []
        )
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


# -- faults around a run: output folder, manifest, outputs, interruption ---------------------


class _CtrlC:
    """Ctrl-C while a notebook runs: interrupt the kernel, as JupyterLab's stop button does.

    The running cell stops with KeyboardInterrupt; a notebook still starting its kernel
    stops before its first cell; a kernel that does not answer is killed on a second Ctrl-C.
    """

    def __init__(self) -> None:
        self.km: KernelManager | None = None
        self.pressed = False

    async def check(self, **_: object) -> None:
        """Hook for nbclient: stop before the next cell once Ctrl-C was pressed."""
        if self.pressed:
            raise KeyboardInterrupt

    def interrupt(self, *, kill: bool = False) -> None:
        self.pressed = True
        provisioner = getattr(self.km, "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        if isinstance(pid, int):
            try:
                os.kill(pid, signal.SIGKILL if kill else signal.SIGINT)
            except OSError:
                pass


class RunInterrupted(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C); ``runs`` holds the notebooks that finished."""

    def __init__(self, runs: Sequence[NotebookRun]) -> None:
        self.runs = tuple(runs)
        super().__init__(f"interrupted after {len(self.runs)} notebook(s)")


def _interrupted(e: BaseException | None) -> bool:
    """Whether ``e`` is, or was raised while handling, a KeyboardInterrupt."""
    seen = 0
    while e is not None and seen < 50:
        if isinstance(e, KeyboardInterrupt):
            return True
        e = e.__cause__ or e.__context__
        seen += 1
    return False


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def _make_output_folder(out: Path) -> None:
    for folder in (out, out / "notebooks"):
        if folder.exists() and not folder.is_dir():
            raise NotebookError(
                str(folder), None, "the output path is a file, not a folder; give another --output"
            )
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise NotebookError(
                str(folder), None, f"cannot create the output folder: {e.strerror or e}"
            ) from e
    if not os.access(out, os.W_OK | os.X_OK):
        raise NotebookError(str(out), None, "the output folder is not writable")


def _read_manifest(path: Path, progress: bool) -> dict[str, Any]:
    """The run manifest, or a fresh one when it is missing or unreadable.

    The manifest only says what is up to date; when it cannot be read (cut short, edited by
    hand, not JSON) every notebook runs again and it is rewritten: nothing is lost.
    """
    if not path.exists():
        return {"notebooks": {}}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("notebooks", {}), dict):
            raise ValueError("not a JSON object with a 'notebooks' object")
        if not all(isinstance(v, dict) for v in manifest.get("notebooks", {}).values()):
            raise ValueError("a notebook entry is not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        msg = f"run manifest {path} unreadable ({_first_line(e)}); every notebook runs again"
        warnings.warn(msg, stacklevel=3)
        if progress:
            print(msg, flush=True)
        return {"notebooks": {}}
    manifest.setdefault("notebooks", {})
    return manifest


def _output_files(out: Path) -> dict[str, tuple[int, int]]:
    """``relative path -> (size, mtime_ns)`` of the output folder's files.

    The executed copies of the notebooks and the manifest are not outputs.
    """
    found: dict[str, tuple[int, int]] = {}
    for root, dirs, files in os.walk(out):
        rel_root = Path(root).relative_to(out)
        if rel_root.parts[:1] == ("notebooks",):
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or (not rel_root.parts and name == _MANIFEST):
                continue
            try:
                st = (Path(root) / name).stat()
            except OSError:
                continue
            found[(rel_root / name).as_posix()] = (st.st_size, st.st_mtime_ns)
    return found


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _written_since(out: Path, before: dict[str, tuple[int, int]]) -> dict[str, str]:
    """Files a notebook created or changed, with their digests, sorted."""
    after = _output_files(out)
    changed = sorted(rel for rel, sig in after.items() if before.get(rel) != sig)
    return {rel: d for rel in changed if (d := _file_digest(out / rel)) is not None}


def _outputs_intact(out: Path, outputs: Any) -> bool:
    """Whether every file a notebook wrote is still there, unchanged.

    A manifest entry without its outputs (written before they were recorded, or damaged)
    is not intact: the notebook runs once more and records them.
    """
    if not isinstance(outputs, dict):
        return False
    return all(_file_digest(out / rel) == digest for rel, digest in outputs.items())


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
