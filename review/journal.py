"""The one durable, append-only log of the toolkit (JSON Lines), used by every decision log.

The screening log (:class:`review.screening.ScreeningLog`) and the risk-of-bias assessment
log (:class:`review.appraisal.AppraisalLog`) keep their rows through a :class:`Journal`: one
JSON object a line, nothing ever rewritten, each row numbered ``seq`` (1, 2, ...) and stamped
``timestamp`` (ISO 8601, UTC) by the journal. What a row holds, and what makes it valid, is
the owner's business (``columns`` and ``check``); how it reaches the disk and comes back is
this module's.

Writing
-------
Every append runs under two locks: a lock of this process, one per file (so threads sharing
an instance, or holding two instances of the same file, take turns), and an exclusive
:class:`filelock.FileLock` on ``<file>.lock`` shared with other processes. Both are keyed on
the *resolved* path (``os.path.realpath``): two writers reaching one file through a symlink,
or through ``..`` in a path, take the same lock and cannot hand out the same ``seq``. Under the
locks the journal reads whatever other writers appended, assigns ``seq`` = last + 1, writes
the whole line (with its newline) at the end of the file and ``fsync``'s it before returning.
A row whose append returned is on disk.

A write that fails (a full disk, ``ENOSPC``; a quota; an I/O error), in the middle of the line
or at the ``fsync``, is rolled back: the file is truncated to its previous length and
``fsync``'d, and a :class:`~review.errors.JournalError` (the owner's subclass) names the file and
the cause. Nothing partial stays behind; if even the truncation fails, the message says so and
the next access handles the remainder as a torn line (below). A value that cannot be written
as UTF-8 (a lone surrogate, half of a UTF-16 pair) or as JSON is refused before anything is
written, naming the field.

Reading, and the last line
--------------------------
Readers read without the file lock while the file ends in a newline (every line is then
complete and final; a pure reader, such as a notebook, creates no lock file). A file that ends
without a newline makes them take the lock and look again. Under the lock the unterminated
tail is one of two things:

* a *complete row* that lacks only its newline (a writer stopped between the object and its
  newline, or an editor dropped the file's final newline): it is a whole, valid row, so the
  journal terminates it (appends the newline, ``fsync``) and uses it;
* a *torn* line (a writer killed mid-write): never acknowledged, never used. With
  ``on_torn="repair"`` (the default) its bytes are appended, with line number and byte offset,
  to ``<file>.torn`` (``fsync``'d), the file is truncated back to its last complete line and a
  :class:`TornLineWarning` names file, line and sidecar; with ``on_torn="raise"`` the access
  raises instead, and :meth:`Journal.repair` does the move on request.

When the disk is full, a reader that cannot move a torn tail aside, or cannot terminate a
complete one, still returns every complete row (with a warning) and leaves the file as it is;
a writer raises. A *complete* line that does not parse or breaks the owner's rules, or a
``seq`` that does not increase, is corruption rather than a crash: it always raises, naming
the file and the line. Where no lock can be taken at all (a read-only checkout) the file is
read without one; a torn tail there raises, since nothing may be moved.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import filelock

from review.errors import JournalError, OptionError

__all__ = ["Journal", "RepairReport", "TornLineWarning"]


class TornLineWarning(UserWarning):
    """A torn last line (a writer killed mid-write) was moved aside to the sidecar file."""


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What :meth:`Journal.repair` moved aside.

    Attributes
    ----------
    path : Path
        The log.
    line : int or None
        1-based line number of the torn line (``None`` if there was none).
    offset : int
        Byte offset where the torn line started (the log's new size).
    n_bytes : int
        Number of bytes moved aside (0 if nothing was torn).
    sidecar : Path
        File the torn bytes were appended to (``<log>.torn``).
    """

    path: Path
    line: int | None
    offset: int
    n_bytes: int
    sidecar: Path

    @property
    def repaired(self) -> bool:
        """Whether anything was moved."""
        return self.n_bytes > 0


# ---------------------------------------------------------------------- process-wide locks
_REGISTRY_GUARD = threading.Lock()
_THREAD_LOCKS: dict[str, threading.RLock] = {}


def _thread_lock(real: str) -> threading.RLock:
    """The lock of this process for one resolved path (created on first use)."""
    with _REGISTRY_GUARD:
        lock = _THREAD_LOCKS.get(real)
        if lock is None:
            lock = _THREAD_LOCKS[real] = threading.RLock()
        return lock


def _reset_after_fork() -> None:  # a lock held by another thread at fork is never released
    global _REGISTRY_GUARD
    _REGISTRY_GUARD = threading.Lock()
    _THREAD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


# ---------------------------------------------------------------------- low-level helpers
def _write_all(fd: int, data: bytes) -> None:
    """Write every byte (one ``write`` call unless the kernel returns short)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def now() -> str:
    """The current time as the journal stamps it (ISO 8601, UTC, microseconds)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


_Mode = Literal["probe", "read", "write", "readonly"]


class _LockUnavailable(JournalError):
    """The lock file cannot be created (e.g. a read-only checkout)."""


_LOCK_UNAVAILABLE: dict[type[JournalError], type[_LockUnavailable]] = {}


def _lock_unavailable(error: type[JournalError]) -> type[_LockUnavailable]:
    """``_LockUnavailable`` that is also the owner's error class (callers catch that)."""
    cls = _LOCK_UNAVAILABLE.get(error)
    if cls is None:
        cls = _LOCK_UNAVAILABLE[error] = type(
            f"{error.__name__}LockUnavailable", (_LockUnavailable, error), {}
        )
    return cls


@dataclass
class _Cache:
    """Rows read so far; valid while the file keeps its identity and grows by appends."""

    key: tuple[int, int] | None = None
    offset: int = 0
    n_lines: int = 0
    last_line: bytes = b""
    rows: list[dict[str, Any]] = field(default_factory=list)


def _encode(row: Mapping[str, Any]) -> bytes:
    """One row as a line of UTF-8 JSON (without the newline); refuses what cannot be stored."""
    try:
        text = json.dumps(row, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        bad = [k for k, v in row.items() if not _jsonable(v)]
        name = f" {bad[0]!r}" if bad else ""
        raise OptionError(
            f"field{name} cannot be written as JSON ({e}); nothing was written"
        ) from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        for k, v in row.items():
            if isinstance(v, str):
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError as ee:
                    raise OptionError(
                        f"{k!r} holds a lone surrogate (U+{ord(v[ee.start]):04X} at position "
                        f"{ee.start}), which is not text and cannot be written as UTF-8; "
                        "nothing was written"
                    ) from None
        raise OptionError(
            f"a value cannot be written as UTF-8 ({e}); nothing was written"
        ) from None


def _jsonable(v: Any) -> bool:
    try:
        json.dumps(v, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


class Journal:
    """An append-only, crash-safe JSON Lines file; the storage of every decision log.

    Parameters
    ----------
    path : path-like
        The file; created, with its folders, if missing.
    columns : sequence of str
        The keys of a row, in file order; ``"seq"`` must come first and ``"timestamp"``
        last (both are filled in by :meth:`append`).
    check : callable, optional
        ``check(row) -> str | None``: the owner's rules for a parsed row (the keys are
        already checked); returns what is wrong, or None. A row read from disk that fails
        raises ``error`` naming file and line.
    error : type of JournalError, default JournalError
        The exception class raised (e.g. :class:`~review.errors.ScreeningLogError`).
    lock_timeout : float, default 10
        Seconds to wait for the locks before raising ``error``.
    on_torn : {"repair", "raise"}, default "repair"
        What to do with a torn last line (see the module notes).
    what : str, default "log"
        How messages call the file ("screening log", ...).

    Attributes
    ----------
    path : Path
        The file, as given (messages name it so).
    real_path : Path
        The file, resolved (symlinks followed): the key of the locks.
    lock_path, sidecar_path : Path
        ``<real_path>.lock`` and ``<real_path>.torn``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> j = Journal(
    ...     pathlib.Path(tempfile.mkdtemp()) / "j.jsonl", columns=("seq", "item", "timestamp")
    ... )
    >>> j.append({"item": "a"})["seq"], j.append({"item": "b"})["seq"]
    (1, 2)
    >>> [r["item"] for r in j.rows()]
    ['a', 'b']
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        columns: Sequence[str],
        check: Callable[[Mapping[str, Any]], str | None] | None = None,
        error: type[JournalError] = JournalError,
        lock_timeout: float = 10.0,
        on_torn: Literal["repair", "raise"] = "repair",
        what: str = "log",
    ) -> None:
        if on_torn not in ("repair", "raise"):
            raise OptionError(f"Invalid on_torn {on_torn!r}; must be one of ['repair', 'raise']")
        cols = tuple(columns)
        if (
            len(cols) < 2
            or cols[0] != "seq"
            or cols[-1] != "timestamp"
            or len(set(cols)) < len(cols)
        ):
            raise OptionError(
                f"columns must be unique, start with 'seq' and end with 'timestamp'; got {cols}"
            )
        self.path = Path(path)
        self.columns = cols
        self.check = check
        self.error = error
        self.lock_timeout = float(lock_timeout)
        self.on_torn: Literal["repair", "raise"] = on_torn
        self.what = what
        self._create()
        self.real_path = Path(os.path.realpath(self.path))
        self.lock_path = self.real_path.with_name(self.real_path.name + ".lock")
        self.sidecar_path = self.real_path.with_name(self.real_path.name + ".torn")
        self._lock = filelock.FileLock(str(self.lock_path), timeout=self.lock_timeout)
        self._tlock = _thread_lock(str(self.real_path))
        self._cache = _Cache()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def _error(self, message: str, line: int | None = None) -> JournalError:
        return self.error(message, path=self.path, line=line)

    # ------------------------------------------------------------------ file handling
    def _create(self) -> None:
        try:
            missing = []
            d = self.path.parent
            while not d.exists():
                missing.append(d)
                d = d.parent
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for folder in reversed(missing):  # make each new folder's entry durable
                _fsync_dir(folder.parent)
            if not self.path.exists():
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                _fsync_dir(self.path.parent)
        except OSError as e:
            raise self._error(f"the {self.what} cannot be created: {e}") from e

    @contextmanager
    def _thread_locked(self) -> Iterator[None]:
        if not self._tlock.acquire(timeout=self.lock_timeout):
            raise self._error(
                f"could not take the lock of this process on {self.real_path} within "
                f"{self.lock_timeout} s (another thread holds it)"
            )
        try:
            yield
        finally:
            self._tlock.release()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_locked():
            try:
                # poll often: a reviewer's click should not wait 50 ms behind another's write
                self._lock.acquire(poll_interval=0.005)
            except filelock.Timeout as e:
                raise self._error(
                    f"could not take the lock {self.lock_path} within {self.lock_timeout} s "
                    "(another writer holds it)"
                ) from e
            except OSError as e:
                raise _lock_unavailable(self.error)(
                    f"cannot create the lock {self.lock_path}: {e}", path=self.path
                ) from e
            try:
                yield
            finally:
                self._lock.release()

    def _cache_valid(self, fd: int, st: os.stat_result) -> bool:
        c = self._cache
        if c.key != (st.st_dev, st.st_ino) or st.st_size < c.offset:
            return False
        if c.offset == 0:
            return True
        n = len(c.last_line) + 1
        return os.pread(fd, n, c.offset - n) == c.last_line + b"\n"

    def _parse(self, raw: bytes, line: int, last_seq: int) -> dict[str, Any]:
        """Parse and validate one complete line; errors name file and line."""
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise self._error(
                f"not a JSON object ({e}); the {self.what} is corrupt here", line
            ) from e
        if not isinstance(row, dict):
            raise self._error(f"not a JSON object; the {self.what} is corrupt here", line)
        keys = set(row)
        if keys != set(self.columns):
            missing = sorted(set(self.columns) - keys)
            extra = sorted(keys - set(self.columns))
            raise self._error(
                f"keys do not match the {self.what} format (missing {missing}, extra {extra})",
                line,
            )
        seq = row["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise self._error(f"'seq' must be a positive integer, got {seq!r}", line)
        if not isinstance(row["timestamp"], str) or not row["timestamp"]:
            raise self._error(
                f"'timestamp' must be a non-empty string, got {row['timestamp']!r}", line
            )
        if self.check is not None:
            problem = self.check(row)
            if problem:
                raise self._error(problem, line)
        if seq <= last_seq:
            raise self._error(
                f"'seq' {seq} does not increase (previous {last_seq}); "
                f"the {self.what} was edited or merged by hand",
                line,
            )
        return row

    def _refresh(self, fd: int, mode: _Mode) -> list[dict[str, Any]] | None:
        """Parse the lines appended since the last call.

        ``mode`` says who reads: ``"probe"`` (no lock held: an unterminated tail makes this
        return None, and the caller looks again under the lock), ``"read"`` or ``"write"``
        (under the lock), ``"readonly"`` (no lock can be had: nothing may change). Returns
        the rows beyond the cache that can be used but not made durable (a complete last
        row that could not be terminated: at most one).
        """
        st = os.fstat(fd)
        if not self._cache_valid(fd, st):
            self._cache = _Cache(key=(st.st_dev, st.st_ino))
        c = self._cache
        if st.st_size == c.offset:
            return []
        data = os.pread(fd, st.st_size - c.offset, c.offset)
        end = data.rfind(b"\n") + 1
        lines = data[:end].split(b"\n")[:-1]
        new_rows = []
        last_seq = c.rows[-1]["seq"] if c.rows else 0
        for i, raw in enumerate(lines):
            row = self._parse(raw, c.n_lines + i + 1, last_seq)
            last_seq = row["seq"]
            new_rows.append(row)
        if lines:
            c.rows.extend(new_rows)
            c.offset += end
            c.n_lines += len(lines)
            c.last_line = lines[-1]
        tail = data[end:]
        if not tail:
            return []
        if mode == "probe":
            return None
        return self._handle_tail(fd, tail, mode)

    def _complete_row(self, tail: bytes) -> dict[str, Any] | None:
        """The tail as a row, if it is a whole, valid one (a complete line minus newline)."""
        c = self._cache
        try:
            return self._parse(tail, c.n_lines + 1, c.rows[-1]["seq"] if c.rows else 0)
        except JournalError:
            try:  # a whole JSON object that breaks the rules is corruption, not a crash
                obj = json.loads(tail.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                return None
            if isinstance(obj, dict):
                raise
            return None

    def _handle_tail(self, fd: int, tail: bytes, mode: _Mode) -> list[dict[str, Any]]:
        c = self._cache
        line = c.n_lines + 1
        row = self._complete_row(tail)
        if row is not None:
            if mode == "readonly":  # nothing may be changed here: use it as it is
                return [row]
            try:
                _write_all(fd, b"\n")
                os.fsync(fd)
            except OSError as e:
                self._truncate_quietly(fd, c.offset + len(tail))
                if mode == "write":
                    raise self._error(
                        f"the last row lacks its newline and it cannot be added: {e}", line
                    ) from e
                warnings.warn(
                    f"file {self.path}, line {line}: the last row lacks its newline, which "
                    f"cannot be added ({e}); the row is used, the file left as it is",
                    TornLineWarning,
                    stacklevel=5,
                )
                return [row]
            c.rows.append(row)
            c.offset += len(tail) + 1
            c.n_lines += 1
            c.last_line = tail
            return []
        if self.on_torn == "raise" or mode == "readonly":
            raise self._error(
                f"torn last line ({len(tail)} bytes without a newline, from a writer killed "
                f"mid-write); it was never acknowledged. Call repair() to move it aside to "
                f"{self.sidecar_path}",
                line,
            )
        try:
            self._move_aside(fd, tail, line, c.offset)
        except OSError as e:
            if mode == "write":
                raise self._error(
                    f"torn last line ({len(tail)} bytes) cannot be moved aside to "
                    f"{self.sidecar_path}: {e}; nothing was written",
                    line,
                ) from e
            warnings.warn(
                f"file {self.path}, line {line}: torn last line ({len(tail)} bytes, never "
                f"acknowledged) is not used; it could not be moved aside ({e}) and stays "
                "until the next writer",
                TornLineWarning,
                stacklevel=5,
            )
            return []
        warnings.warn(
            f"file {self.path}, line {line}: torn last line ({len(tail)} bytes, a writer was "
            f"killed mid-write, never acknowledged) moved aside to {self.sidecar_path}",
            TornLineWarning,
            stacklevel=5,
        )
        return []

    @staticmethod
    def _truncate_quietly(fd: int, size: int) -> None:
        try:
            if os.fstat(fd).st_size != size:
                os.ftruncate(fd, size)
                os.fsync(fd)
        except OSError:
            pass

    def _move_aside(self, fd: int, torn: bytes, line: int, offset: int) -> RepairReport:
        entry = {
            "log": self.real_path.name,
            "line": line,
            "offset": offset,
            "n_bytes": len(torn),
            "text": torn.decode("utf-8", errors="backslashreplace"),
            "moved_at": now(),
        }
        created = not self.sidecar_path.exists()
        sfd = os.open(self.sidecar_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            before = os.fstat(sfd).st_size
            try:
                _write_all(sfd, (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
                os.fsync(sfd)
            except OSError:
                self._truncate_quietly(sfd, before)
                raise
        finally:
            os.close(sfd)
        if created:
            _fsync_dir(self.sidecar_path.parent)
        # Only now shorten the log: if we die in between, the next access moves it again.
        os.ftruncate(fd, offset)
        os.fsync(fd)
        return RepairReport(self.path, line, offset, len(torn), self.sidecar_path)

    @contextmanager
    def _open(self, *, writing: bool) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """Lock, open read-write, bring the cache up to date (handling the last line)."""
        with self._locked():
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as e:
                raise self._error(f"the {self.what} cannot be opened: {e}") from e
            try:
                extra = self._refresh(fd, "write" if writing else "read")
                yield fd, extra or []
            finally:
                os.close(fd)

    # ------------------------------------------------------------------ public
    def rows(self) -> list[dict[str, Any]]:
        """Every complete row, in file order (a torn last line handled as the notes say).

        Returns
        -------
        list of dict
            The rows (do not modify them).

        Raises
        ------
        review.errors.JournalError
            The owner's subclass: a corrupt line, a missing file, a lock timeout, or a torn
            last line with ``on_torn="raise"`` (naming file and line).
        """
        with self._thread_locked():
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError as e:
                raise self._error(f"the {self.what} file is missing") from e
            except OSError as e:
                raise self._error(f"the {self.what} cannot be read: {e}") from e
            try:
                extra = self._refresh(fd, "probe")  # complete lines only: no lock needed
                if extra is not None:
                    return list(self._cache.rows) + extra
            finally:
                os.close(fd)
            try:
                with self._open(writing=False) as (_, extra):
                    return list(self._cache.rows) + extra
            except _LockUnavailable:
                pass
            # A read-only location (e.g. a checkout mounted read-only): no writer can be
            # active there, so read without the lock; a torn tail cannot be moved aside.
            fd = os.open(self.path, os.O_RDONLY)
            try:
                extra = self._refresh(fd, "readonly")
            finally:
                os.close(fd)
            return list(self._cache.rows) + (extra or [])

    def append(
        self,
        body: Mapping[str, Any] | Callable[[list[dict[str, Any]]], Mapping[str, Any]],
    ) -> dict[str, Any]:
        """Append one row; it is on disk (``fsync``'d) when this returns.

        Parameters
        ----------
        body : Mapping, or callable
            The row's values except ``seq`` and ``timestamp``; or a function given the
            current rows (under the lock, after other writers' rows were read) that returns
            them, for a row that depends on the log's state (an undo). Whatever it raises
            propagates, with nothing written.

        Returns
        -------
        dict
            The row as written, with its ``seq`` and ``timestamp``.

        Raises
        ------
        review.errors.OptionError
            A value that cannot be written (a lone surrogate, a value JSON cannot hold), a
            missing or an unknown key; nothing is written.
        review.errors.JournalError
            The owner's subclass: lock timeout, corrupt log, torn line in ``"raise"`` mode,
            or a failed write (full disk), after which the file is as it was.
        """
        with self._open(writing=True) as (fd, _):
            c = self._cache
            values = body(list(c.rows)) if callable(body) else body
            keys = set(values)
            wanted = set(self.columns) - {"seq", "timestamp"}
            if keys != wanted:
                raise OptionError(
                    f"a row of the {self.what} needs the keys {sorted(wanted)}; missing "
                    f"{sorted(wanted - keys)}, unknown {sorted(keys - wanted)}"
                )
            seq = (c.rows[-1]["seq"] if c.rows else 0) + 1
            full = {"seq": seq, **values, "timestamp": now()}
            row = {k: full[k] for k in self.columns}
            raw = _encode(row)
            if self.check is not None:
                problem = self.check(json.loads(raw))
                if problem:
                    raise OptionError(f"{problem}; nothing was written")
            before = c.offset
            try:
                _write_all(fd, raw + b"\n")
                os.fsync(fd)
            except OSError as e:
                self._roll_back(fd, before, e)
            c.rows.append(row)
            c.offset += len(raw) + 1
            c.n_lines += 1
            c.last_line = raw
            return dict(row)

    def _roll_back(self, fd: int, size: int, cause: OSError) -> None:
        try:
            os.ftruncate(fd, size)
            try:
                os.fsync(fd)
            except OSError:
                pass  # the truncation is in the page cache; the next access sees it
        except OSError as e:
            raise self._error(
                f"could not append to the {self.what}: {cause}; the partial line could not "
                f"be removed ({e}) and will be handled as a torn line by the next access; "
                "the row was not written"
            ) from cause
        raise self._error(
            f"could not append to the {self.what}: {cause}; nothing was written (the file "
            "is as it was)"
        ) from cause

    def repair(self) -> RepairReport:
        """Move a torn last line aside to ``<file>.torn`` and truncate the file to its last row.

        A complete last row that lacks only its newline is not torn: it is terminated and
        kept.

        Returns
        -------
        RepairReport
            ``n_bytes == 0`` when nothing was moved.

        Raises
        ------
        review.errors.JournalError
            If a complete line is corrupt (that is never repaired automatically).
        """
        with self._locked():
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
            try:
                saved, self.on_torn = self.on_torn, "raise"
                try:
                    self._refresh(fd, "write")
                    return RepairReport(self.path, None, self._cache.offset, 0, self.sidecar_path)
                except JournalError:
                    st = os.fstat(fd)
                    c = self._cache
                    if st.st_size <= c.offset or c.key != (st.st_dev, st.st_ino):
                        raise
                    torn = os.pread(fd, st.st_size - c.offset, c.offset)
                    if b"\n" in torn:  # a corrupt complete line, not a torn tail
                        raise
                    return self._move_aside(fd, torn, c.n_lines + 1, c.offset)
                finally:
                    self.on_torn = saved
            finally:
                os.close(fd)

    @property
    def n_lines(self) -> int:
        """Complete lines read so far (the next row's line is ``n_lines + 1``)."""
        return self._cache.n_lines
