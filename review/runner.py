"""Execute the numbered notebooks in order, headless, into an output folder.

This is the one path both reviewers and the test suite take (``python -m review run``,
``make run``, ``make test``): each ``NN-*.ipynb`` in the notebooks folder is executed with
nbclient, with its ``parameters`` cell followed by an injected cell that points it at the
review folder and the output folder (the papermill convention), and the executed copy is
written to ``<output>/notebooks/`` — never over the source. A notebook whose source, inputs
and toolkit version are unchanged since its last successful run is skipped unless ``force``.
A failure names the notebook and the cell.

A notebook that stops on :class:`~review.errors.StageNotReached` (a step the review has not
reached yet: no records, screening not finished, nothing extracted) is not a failure: it is
reported as "not reached" with the exception's message (what is missing, how to get there),
the run goes on with the next notebook, and ends successfully. Any other error fails the run.

Which notebooks: those of ``notebooks_dir`` if given; else the review folder's own copies
(``<review>/notebooks/``, written by ``python -m review new``); else the toolkit's
(:func:`review.paths.toolkit_notebooks_dir`, from a checkout or an installed wheel).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from review._environment import LockMismatchWarning, describe, mismatch_message
from review._io import write_atomic
from review.errors import ReviewError
from review.paths import (
    PACKAGE_DIR,
    ReviewPaths,
    default_output_dir,
    example_review_dir,
    in_checkout,
    lock_file,
    toolkit_notebooks_dir,
)

__all__ = [
    "NOT_REACHED",
    "NotebookError",
    "NotebookRun",
    "RunInterrupted",
    "RunReport",
    "default_review_dir",
    "find_notebooks",
    "notebooks_for",
    "run_notebooks",
]

#: Exception names a notebook stops on when the review has not reached its step -> status.
NOT_REACHED = {"StageNotReached": "not reached", "NothingToDo": "nothing to do"}

# A notebook's first ``require_stage(paths, "<stage>")`` call: checked before a kernel starts.
_REQUIRE = re.compile(r"""^require_stage\(\s*\w+\s*,\s*["'](\w+)["']""", re.MULTILINE)

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
    """What happened to one notebook.

    Attributes
    ----------
    name : str
        File name.
    status : str
        ``"executed"``, ``"skipped (unchanged)"``, ``"not reached"`` or ``"nothing to do"``.
    seconds : float
        Time taken.
    output : Path
        The executed copy.
    detail : str
        For a notebook not reached: what is missing and how to get there.
    cell : int or None
        For a notebook not reached: the source cell it stopped at (1-based).
    """

    name: str
    status: str
    seconds: float
    output: Path
    detail: str = ""
    cell: int | None = None


@dataclass(frozen=True, slots=True)
class RunReport:
    """The runs of one ``run_notebooks`` call, in order."""

    output_dir: Path
    runs: tuple[NotebookRun, ...] = field(default_factory=tuple)

    @property
    def not_reached(self) -> tuple[NotebookRun, ...]:
        """The notebooks that stopped at a step the review has not reached."""
        return tuple(r for r in self.runs if r.status in NOT_REACHED.values())

    def summary(self) -> str:
        """One line per notebook (and, for one not reached, why)."""
        lines = [f"output folder: {self.output_dir}"]
        previous = ""
        for r in self.runs:
            lines.append(f"  {r.name:<40} {r.status:<20} {r.seconds:6.1f} s")
            if r.detail:
                lines.append("      (as above)" if r.detail == previous else f"      {r.detail}")
            previous = r.detail
        return "\n".join(lines)


def find_notebooks(folder: str | os.PathLike[str]) -> list[Path]:
    """The numbered notebooks (``NN-name.ipynb``) of a folder, in order."""
    found = sorted(Path(folder).glob("[0-9][0-9]-*.ipynb"))
    return [p for p in found if ".ipynb_checkpoints" not in p.parts]


def default_review_dir() -> Path:
    """The review a run reads when none is named.

    The current folder when it holds a ``protocol.yaml``; else, in a checkout of the
    repository, the worked example (``data/``).

    Raises
    ------
    review.errors.ReviewError
        Outside a review folder, with an installed toolkit (no worked example to fall back on).
    """
    here = Path.cwd()
    if ReviewPaths(here).protocol.is_file():
        return here
    if in_checkout():
        return example_review_dir()
    raise ReviewError(
        "no review folder: pass --review DIR, or run from a folder holding protocol.yaml "
        "(python -m review new DIR creates one)"
    )


def notebooks_for(review: str | os.PathLike[str]) -> Path:
    """The notebooks a review runs: its own copies if it has them, else the toolkit's."""
    own = ReviewPaths(review).notebooks
    return own if find_notebooks(own) else toolkit_notebooks_dir()


def _digest_tree(paths: Sequence[Path], skip: Sequence[Path] = ()) -> str:
    """Hash of every file under ``paths``; hidden files, locks, caches and ``skip`` left out."""
    h = hashlib.sha256()
    skipped = {p.resolve() for p in skip}
    for root in paths:
        if root.is_file():
            files = [root]
        else:
            files = []
            for dirpath, dirnames, filenames in os.walk(root):
                d = Path(dirpath)
                dirnames[:] = sorted(
                    n
                    for n in dirnames
                    if not n.startswith(".")
                    and n != "__pycache__"
                    and (d / n).resolve() not in skipped
                )
                files += [
                    d / n for n in sorted(filenames) if not n.startswith(".") and n[-5:] != ".lock"
                ]
        for f in files:
            h.update(str(f.relative_to(root.parent)).encode())
            try:
                h.update(f.read_bytes())
            except OSError as e:
                raise NotebookError(
                    str(f), None, f"cannot read this input of the notebooks: {e.strerror or e}"
                ) from e
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
        Folder of ``NN-*.ipynb`` notebooks; by default the review's own copies
        (``<review>/notebooks/``) if it has them, else the toolkit's (:func:`notebooks_for`).
    output_dir : path-like, optional
        Where executed copies (``notebooks/``), figures and tables go; by default
        :func:`review.paths.default_output_dir` of the review (``output/`` of the repository
        for the worked example, ``<review>/output/`` for any other).
    review_dir : path-like, optional
        The review folder the notebooks read (:func:`default_review_dir` by default),
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
        One entry a notebook; those stopped at a step the review has not reached are in
        ``report.not_reached``, with the reason.

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
    rev = Path(review_dir) if review_dir else default_review_dir()
    if not rev.is_dir():
        raise NotebookError(str(rev), None, "the review folder does not exist or is not a folder")
    nb_dir = Path(notebooks_dir) if notebooks_dir else notebooks_for(rev)
    out = Path(output_dir) if output_dir else default_output_dir(rev)
    _make_output_folder(out)
    manifest_path = out / _MANIFEST
    manifest = _read_manifest(manifest_path, progress)

    notebooks = find_notebooks(nb_dir)
    if only:
        notebooks = [p for p in notebooks if p.name.startswith(tuple(only))]
    if not notebooks:
        raise NotebookError(str(nb_dir), None, "no numbered notebooks (NN-*.ipynb) found")

    versions, lock = _environment()
    # what the notebooks read: the review folder (not its outputs or notebook copies, which
    # are keyed one by one) and the toolkit's source
    inputs_digest = _digest_tree([rev, PACKAGE_DIR], skip=[out, ReviewPaths(rev).notebooks])
    params = {
        "REVIEW_DIR": str(rev.resolve()),
        "OUTPUT_DIR": str(out.resolve()),
        "LIVE_SEARCH": False,
    }
    env_backup = {k: os.environ.get(k) for k in ("REVIEW_OFFLINE", "MPLBACKEND")}
    os.environ["REVIEW_OFFLINE"] = "1"
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    runs: list[NotebookRun] = []
    prechecked: _StageMemo = {}
    upstream_changed = False
    ahead: _Kernel | None = None  # the kernel started for the notebook after the one running
    kernel: _Kernel | None = None
    try:
        for i, src in enumerate(notebooks, 1):
            kernel, ahead = ahead, None
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
            stopped = _precheck(src, target, params, rev, prechecked)
            if stopped is None:
                # the next notebook runs too, unless its entry stage is not reached: start its
                # kernel now, so that its start-up overlaps this notebook's work
                if i < len(notebooks) and _entry_reached(notebooks[i], rev, prechecked):
                    ahead = _Kernel(notebooks[i].parent)
                stopped = _execute(src, target, params, timeout, kernel)
            elif kernel is not None:
                kernel.shutdown()
            dt = time.perf_counter() - t0
            if stopped is not None:
                # not reached: run again next time (the review may have moved on)
                manifest["notebooks"].pop(src.name, None)
                write_atomic(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
                status, cell, detail = stopped
                runs.append(NotebookRun(src.name, status, dt, target, detail, cell))
                if progress:
                    print(f"[{i}/{len(notebooks)}] {src.name}: {status}: {detail}", flush=True)
                continue
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
            manifest["lock"] = lock
            write_atomic(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            runs.append(NotebookRun(src.name, "executed", dt, target))
            if progress:
                print(f"[{i}/{len(notebooks)}] {src.name}: done in {dt:.1f} s", flush=True)
    except BaseException as e:
        if _interrupted(e):  # Ctrl-C, or an error raised while the event loop was interrupted
            raise RunInterrupted(runs) from None
        raise
    finally:
        for left in (kernel, ahead):  # a failure or the end: no kernel is left behind
            if left is not None:
                left.shutdown()
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return RunReport(out, tuple(runs))


def _entry_stage(src: Path) -> tuple[int, str] | None:
    """The notebook's first ``require_stage(paths, "<stage>")`` call: (1-based cell, stage).

    A notebook that cannot be read has none here: executing it reports why.
    """
    try:
        nb = nbformat.read(src, as_version=4)  # type: ignore[no-untyped-call]
    except Exception:  # NotJSONError, ValidationError, OSError ...: named by _execute
        return None
    for i, cell in enumerate(nb.cells, 1):
        found = _REQUIRE.search(cell.source) if cell.cell_type == "code" else None
        if found is not None:
            return i, found.group(1)
    return None


#: Why a stage is not reached, per stage, checked once a run: (status, message), None if reached.
_StageMemo = dict[str, tuple[str, str] | None]


def _stage_stop(stage: str, review: Path, memo: _StageMemo) -> tuple[str, str] | None:
    """``(status, message)`` when the review has not reached ``stage`` (None: reached).

    ``status`` is ``"not reached"`` or ``"nothing to do"`` (:data:`NOT_REACHED`).
    """
    from review.errors import StageNotReached
    from review.status import require_stage

    if stage not in memo:
        try:
            require_stage(review, stage)
            memo[stage] = None
        except StageNotReached as e:
            memo[stage] = (NOT_REACHED.get(type(e).__name__, "not reached"), str(e))
    return memo[stage]


def _entry_reached(src: Path, review: Path, memo: _StageMemo) -> bool:
    entry = _entry_stage(src)
    return entry is None or _stage_stop(entry[1], review, memo) is None


def _precheck(
    src: Path,
    target: Path,
    params: dict[str, object],
    review: Path,
    memo: _StageMemo,
) -> tuple[str, int | None, str] | None:
    """The notebook's entry requirement, checked here: a kernel is started only if it is met.

    A notebook whose first ``require_stage(paths, "<stage>")`` would stop it is not executed:
    its copy gets a first cell saying why, and it is reported as not reached, as if it had
    stopped at that cell (the same check, made once per stage and run instead of per kernel).
    """
    entry = _entry_stage(src)
    if entry is None:
        return None
    i, stage = entry
    stop = _stage_stop(stage, review, memo)
    if stop is None:
        return None
    status, message = stop
    nb = nbformat.read(src, as_version=4)  # type: ignore[no-untyped-call]
    _inject_parameters(nb, params)
    note = nbformat.v4.new_markdown_cell(  # type: ignore[no-untyped-call]
        f"**{'Nothing to do' if status == NOT_REACHED['NothingToDo'] else 'Not reached yet'}: "
        f"this notebook was not executed.** Cell {i} requires the stage `{stage}`: {message}"
    )
    note.metadata["tags"] = ["not-reached"]
    nb.cells.insert(0, note)
    nbformat.write(nb, target)  # type: ignore[no-untyped-call]
    return status, i, message


class _Kernel:
    """A python3 kernel on IPC sockets in a private folder, started ahead of its notebook.

    The next notebook's kernel is started while the current one runs, so its start-up (the
    interpreter and ipykernel importing) overlaps the current notebook's work. The kernel's
    own log (not the cells' output) goes to ``log`` in that folder, not to the terminal.
    """

    def __init__(self, cwd: Path) -> None:
        self._runtime = tempfile.TemporaryDirectory(prefix="review-kernel-")
        self.cwd = cwd
        self.log = Path(self._runtime.name, "kernel.log")
        self.km = KernelManager(
            kernel_name="python3",
            transport="ipc",
            connection_file=str(Path(self._runtime.name, "k.json")),
        )
        with open(self.log, "ab") as log:
            self.km.start_kernel(cwd=str(cwd), stderr=log)

    def shutdown(self, *, now: bool = False) -> None:
        """Stop the kernel (if still running) and remove its folder; safe to call twice."""
        try:
            _shutdown(self.km, now=now)
        finally:
            self._runtime.cleanup()


def _execute(
    src: Path,
    target: Path,
    params: dict[str, object],
    timeout: int,
    kernel: _Kernel | None = None,
) -> tuple[str, int | None, str] | None:
    """Run one notebook; ``(status, cell, message)`` if it stopped at a step not reached.

    ``kernel``, started ahead for this notebook, is used and shut down; without one a kernel
    is started here. Either way the kernel is this notebook's alone.
    """
    try:
        nb = nbformat.read(src, as_version=4)  # type: ignore[no-untyped-call]
    except Exception as e:  # nbformat raises NotJSONError, ValidationError, KeyError ...
        if kernel is not None:
            kernel.shutdown(now=True)
        raise NotebookError(
            src.name, None, f"not a readable notebook ({type(e).__name__}: {_first_line(e)})"
        ) from e
    injected_at = _inject_parameters(nb, params)
    if kernel is None or kernel.cwd != src.parent:
        if kernel is not None:
            kernel.shutdown(now=True)
        kernel = _Kernel(src.parent)
    running: _Kernel = kernel
    ctrl_c = _CtrlC()
    ctrl_c.km = running.km
    failure: list[BaseException] = []
    result: list[tuple[str, int | None, str] | None] = []

    def work() -> None:
        try:
            client = NotebookClient(
                nb,
                km=running.km,
                timeout=timeout,
                resources={"metadata": {"path": str(src.parent)}},
            )
            client.on_notebook_start = ctrl_c.check
            client.on_cell_start = ctrl_c.check
            try:
                result.append(
                    _run_client(client, nb, src, target, injected_at, ctrl_c, running.log)
                )
            except BaseException:
                running.shutdown(now=True)  # interrupted or failed: do not wait on it
                raise
            running.shutdown(now=False)
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
    return result[0] if result else None


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
) -> tuple[str, int | None, str] | None:
    def pressed() -> bool:
        return ctrl_c is not None and ctrl_c.pressed

    try:
        client.execute()  # the kernel was started with its log going to kernel_log
    except (CellExecutionError, CellTimeoutError) as exc:
        nbformat.write(nb, target)  # type: ignore[no-untyped-call]
        if pressed() or getattr(exc, "ename", "") == "KeyboardInterrupt":
            raise KeyboardInterrupt from None
        failing = _failing_cell(nb)
        # report the cell number of the source notebook, not counting the injected cell
        src_cell = None if failing is None else failing + (0 if failing < injected_at else -1) + 1
        ename = getattr(exc, "ename", "")
        if ename in NOT_REACHED:
            return NOT_REACHED[ename], src_cell, str(getattr(exc, "evalue", ""))
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
    return None


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
