"""Hostile inputs and faults for the one durable log (review.journal), through its two users.

Each test asserts one of: the correct result, or an error of the project's tree that names the
file (and line or field) and leaves what was there before intact. The faults are those of
issue 15's "Screening log" kind: a full disk mid-write or at fsync (simulated by making
``os.write``/``os.fsync`` raise ``ENOSPC`` on the log only), a complete last row without its
newline, writers reaching one file through a symlink from two processes, one log shared by
threads, text that is not text (lone surrogates), and kills (see also test_screening_kill.py).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import review.journal as journal
from review.errors import JournalError, OptionError, ScreeningLogError
from review.journal import Journal, TornLineWarning
from review.screening import ScreeningLog

REPO = Path(__file__).resolve().parent.parent
ENOSPC = OSError(errno.ENOSPC, "No space left on device")


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------------ full disk
def test_enospc_mid_line_leaves_nothing_partial_and_names_the_file(tmp_path, monkeypatch):
    p = tmp_path / "log.jsonl"
    log = ScreeningLog(p)
    log.record("r1")
    before = p.read_bytes()
    real = journal._write_all

    def half_then_full(fd: int, data: bytes) -> None:
        real(fd, data[: len(data) // 2])  # part of the line reaches the file
        raise ENOSPC

    monkeypatch.setattr(journal, "_write_all", half_then_full)
    with pytest.raises(ScreeningLogError, match="No space left on device") as ei:
        log.record("r2", note="x" * 500)
    assert ei.value.path == str(p) and str(p) in str(ei.value)
    assert "nothing was written" in str(ei.value)
    assert isinstance(ei.value.__cause__, OSError)
    assert p.read_bytes() == before  # rolled back to the previous length
    monkeypatch.setattr(journal, "_write_all", real)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torn line was left behind
        assert log.record("r2")["seq"] == 2
        assert ScreeningLog(p).decisions()["record_id"].tolist() == ["r1", "r2"]


def test_enospc_at_fsync_rolls_back_too(tmp_path, monkeypatch):
    p = tmp_path / "log.jsonl"
    log = ScreeningLog(p)
    log.record("r1")
    before = p.read_bytes()
    real = os.fsync

    def fsync(fd: int) -> None:
        if _fd_path(fd) == str(p):
            raise ENOSPC
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(ScreeningLogError, match=r"file .*log\.jsonl: could not append"):
        log.record("r2")
    monkeypatch.setattr(os, "fsync", real)
    assert p.read_bytes() == before
    assert log.decisions()["record_id"].tolist() == ["r1"]  # the cache did not take it


def test_enospc_when_even_the_rollback_fails_leaves_a_torn_line_handled_later(
    tmp_path, monkeypatch
):
    p = tmp_path / "log.jsonl"
    log = ScreeningLog(p)
    log.record("r1")
    real_write, real_truncate = journal._write_all, os.ftruncate

    def half_then_full(fd: int, data: bytes) -> None:
        real_write(fd, data[:10])
        raise ENOSPC

    def no_truncate(fd: int, size: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(journal, "_write_all", half_then_full)
    monkeypatch.setattr(os, "ftruncate", no_truncate)
    with pytest.raises(ScreeningLogError, match="will be handled as a torn line"):
        log.record("r2")
    monkeypatch.setattr(journal, "_write_all", real_write)
    monkeypatch.setattr(os, "ftruncate", real_truncate)
    with pytest.warns(TornLineWarning, match="line 2"):
        assert ScreeningLog(p).decisions()["record_id"].tolist() == ["r1"]
    assert p.read_bytes().endswith(b"\n")


def test_reader_on_a_full_disk_still_reads_and_writer_names_the_file(tmp_path, monkeypatch):
    p = tmp_path / "log.jsonl"
    ScreeningLog(p).record("r1")
    with open(p, "ab") as f:
        f.write(b'{"seq": 2, "record_id": "to')  # torn by a crash
    before = p.read_bytes()
    real = journal._write_all

    def full(fd: int, data: bytes) -> None:
        raise ENOSPC  # the sidecar cannot be written either

    monkeypatch.setattr(journal, "_write_all", full)
    reader = ScreeningLog(p)
    with pytest.warns(TornLineWarning, match="could not be moved aside"):
        assert reader.decisions()["record_id"].tolist() == ["r1"]
    assert p.read_bytes() == before  # nothing touched
    with pytest.raises(ScreeningLogError, match=r"line 2: torn last line .* cannot be moved"):
        reader.record("r2")
    assert p.read_bytes() == before
    monkeypatch.setattr(journal, "_write_all", real)
    with pytest.warns(TornLineWarning, match="moved aside"):
        assert reader.record("r2")["seq"] == 2


def test_complete_last_row_on_a_full_disk_is_used_by_readers(tmp_path, monkeypatch):
    p = tmp_path / "log.jsonl"
    ScreeningLog(p).record("r1")
    row = _lines(p)[0] | {"seq": 2, "record_id": "r2"}
    with open(p, "ab") as f:
        f.write(json.dumps(row).encode())
    before = p.read_bytes()
    monkeypatch.setattr(journal, "_write_all", lambda fd, data: (_ for _ in ()).throw(ENOSPC))
    log = ScreeningLog(p)
    with pytest.warns(TornLineWarning, match="lacks its newline"):
        assert log.decisions()["record_id"].tolist() == ["r1", "r2"]
    assert p.read_bytes() == before
    with pytest.raises(ScreeningLogError, match="lacks its newline"):
        log.record("r3")
    assert p.read_bytes() == before


def test_creating_a_log_on_a_full_disk_names_the_file(tmp_path, monkeypatch):
    real = os.open

    def full_open(path, flags, *args):
        if str(path).endswith("new.jsonl") and flags & os.O_CREAT:
            raise ENOSPC
        return real(path, flags, *args)

    monkeypatch.setattr(os, "open", full_open)
    with pytest.raises(ScreeningLogError, match=r"new\.jsonl: the screening log cannot be created"):
        ScreeningLog(tmp_path / "new.jsonl")


# ------------------------------------------------------------------ symlinks and processes
def test_lock_is_keyed_on_the_resolved_path(tmp_path):
    real = tmp_path / "real" / "log.jsonl"
    ScreeningLog(real)
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "link.jsonl").symlink_to(real)
    paths = [
        real,
        tmp_path / "alias" / "log.jsonl",
        tmp_path / "link.jsonl",
        tmp_path / "real" / ".." / "real" / "log.jsonl",
    ]
    locks = {ScreeningLog(x).lock_path for x in paths}
    assert locks == {real.with_name("log.jsonl.lock")}


_WRITER = """
import os, sys, time
import review.journal as journal
from review.screening import ScreeningLog
path, who, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
real = journal._write_all
def slow_disk(fd, data):  # widen the window between reading the last seq and writing
    time.sleep(0.002)
    real(fd, data)
journal._write_all = slow_disk
log = ScreeningLog(path, lock_timeout=60)
open(go + "." + who, "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
for i in range(n):
    print(log.record(f"{who}{i}", reviewer=who)["seq"], flush=True)
"""


def test_two_processes_through_a_symlink_share_one_lock(tmp_path):
    real = tmp_path / "real" / "log.jsonl"
    ScreeningLog(real)
    (tmp_path / "other").mkdir()
    link = tmp_path / "other" / "log.jsonl"  # a file symlink in another folder
    link.symlink_to(real)
    go = tmp_path / "go"
    n = 100
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), who, str(n), str(go)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for path, who in ((real, "A"), (link, "B"))
    ]
    for _ in range(3000):
        if all(Path(f"{go}.{w}").exists() for w in "AB"):
            break
        threading.Event().wait(0.01)
    go.touch()
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    acked = [int(x) for out in outs for x in out.split()]
    assert sorted(acked) == list(range(1, 2 * n + 1))  # no seq given twice
    df = ScreeningLog(real).decisions()
    assert df["seq"].tolist() == list(range(1, 2 * n + 1))
    assert sorted(df["record_id"]) == sorted(
        [f"A{i}" for i in range(n)] + [f"B{i}" for i in range(n)]
    )


# ------------------------------------------------------------------ threads
def test_one_log_shared_by_threads_loses_nothing_and_raises_nothing(tmp_path):
    p = tmp_path / "log.jsonl"
    shared = ScreeningLog(p)
    errors: list[BaseException] = []
    n_threads, n_each = 8, 40

    def write(k: int) -> None:
        try:
            for i in range(n_each):
                shared.record(f"t{k}-{i}", reviewer="A" if k % 2 else "B")
                if i % 5 == 0:
                    shared.decisions()  # readers in between writers
        except BaseException as e:  # collected: the assertion below names it
            errors.append(e)

    def read() -> None:
        try:
            for _ in range(60):
                shared.final("title_abstract")
                ScreeningLog(p).current()  # another instance on the same file
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(n_threads)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    rows = _lines(p)
    assert [r["seq"] for r in rows] == list(range(1, n_threads * n_each + 1))
    assert len({r["record_id"] for r in rows}) == n_threads * n_each
    assert shared.decisions()["seq"].tolist() == [r["seq"] for r in rows]


def test_two_instances_in_threads_take_turns(tmp_path):
    p = tmp_path / "log.jsonl"
    logs = [ScreeningLog(p), ScreeningLog(tmp_path / "." / "log.jsonl")]
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            for i in range(50):
                logs[k % 2].record(f"x{k}-{i}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert [r["seq"] for r in _lines(p)] == list(range(1, 201))


# ------------------------------------------------------------------ text that is not text
@pytest.mark.parametrize("field", ["note", "record_id", "reviewer"])
def test_lone_surrogate_is_refused_at_the_door(tmp_path, field):
    p = tmp_path / "log.jsonl"
    log = ScreeningLog(p)
    log.record("r1")
    before = p.read_bytes()
    kwargs = {"record_id": "r2", "reviewer": "A", "note": "ok"}
    kwargs[field] = "bad \ud83d text"
    with pytest.raises(OptionError, match=rf"'{field}' holds a lone surrogate \(U\+D83D"):
        log.record(**kwargs)
    assert p.read_bytes() == before
    assert log.record("r2", note="a real emoji \U0001f600 is fine")["seq"] == 2
    assert ScreeningLog(p).decisions()["note"].iloc[-1].endswith("\U0001f600 is fine")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(note=st.text(alphabet=st.characters(codec=None), max_size=40))
def test_any_note_round_trips_or_is_refused_whole(tmp_path_factory, note):
    p = tmp_path_factory.mktemp("j") / "log.jsonl"
    log = ScreeningLog(p)
    try:
        note.encode("utf-8")
        encodable = True
    except UnicodeEncodeError:
        encodable = False
    if encodable:
        log.record("r1", note=note)
        assert ScreeningLog(p).decisions()["note"].tolist() == [note]
    else:
        with pytest.raises(OptionError, match="lone surrogate"):
            log.record("r1", note=note)
        assert p.read_bytes() == b""


def test_journal_refuses_values_json_cannot_hold_and_wrong_keys(tmp_path):
    j = Journal(tmp_path / "j.jsonl", columns=("seq", "item", "timestamp"))
    with pytest.raises(OptionError, match="cannot be written as JSON"):
        j.append({"item": float("nan")})
    with pytest.raises(OptionError, match="cannot be written as JSON"):
        j.append({"item": object()})
    with pytest.raises(OptionError, match="unknown"):
        j.append({"item": 1, "other": 2})
    with pytest.raises(OptionError, match="missing"):
        j.append({})
    assert (tmp_path / "j.jsonl").read_bytes() == b""
    with pytest.raises(OptionError):
        Journal(tmp_path / "k.jsonl", columns=("item", "seq", "timestamp"))


def test_journal_error_is_the_owners_class_and_carries_path_and_line(tmp_path):
    p = tmp_path / "j.jsonl"
    p.write_text('{"seq": 1, "item": 1, "timestamp": "t"}\n{"seq": 2}\n')
    with pytest.raises(ScreeningLogError) as ei:
        Journal(p, columns=("seq", "item", "timestamp"), error=ScreeningLogError).rows()
    assert isinstance(ei.value, JournalError)
    assert ei.value.path == str(p) and ei.value.line == 2
    assert "missing ['item', 'timestamp']" in str(ei.value)


def test_row_check_callback_refuses_writing_and_reading(tmp_path):
    def check(row):
        return (
            None
            if isinstance(row["item"], int)
            else f"'item' must be an integer, got {row['item']!r}"
        )

    p = tmp_path / "j.jsonl"
    j = Journal(p, columns=("seq", "item", "timestamp"), check=check)
    with pytest.raises(OptionError, match="'item' must be an integer"):
        j.append({"item": "x"})
    assert p.read_bytes() == b""
    j.append({"item": 3})
    with open(p, "a") as f:
        f.write('{"seq": 2, "item": "y", "timestamp": "t"}\n')
    with pytest.raises(JournalError, match=r"line 2: 'item' must be an integer"):
        Journal(p, columns=("seq", "item", "timestamp"), check=check).rows()


def test_undo_body_error_writes_nothing(tmp_path):
    p = tmp_path / "log.jsonl"
    log = ScreeningLog(p)
    with pytest.raises(ScreeningLogError, match="no standing decision"):
        log.undo(reviewer="A")
    with pytest.raises(OptionError, match="lone surrogate"):
        log.record("r1")
        log.undo("r1", reviewer="A", note="\udc80")
    assert [r["decision"] for r in _lines(p)] == ["include"]


def test_sigkill_of_a_writer_through_a_symlink(tmp_path):
    """A writer killed mid-run through a symlinked path: every acknowledged row stays."""
    real = tmp_path / "real" / "log.jsonl"
    ScreeningLog(real)
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    script = textwrap.dedent(
        """
        import sys
        from review.screening import ScreeningLog
        log = ScreeningLog(sys.argv[1])
        for i in range(100000):
            print(log.record(f"k{i}")["seq"], flush=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "alias" / "log.jsonl")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    acked = []
    assert proc.stdout is not None
    for line in proc.stdout:
        acked.append(int(line))
        if len(acked) >= 200:
            break
    proc.kill()
    proc.wait(30)
    acked += [int(x) for x in proc.stdout.read().split()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TornLineWarning)
        df = ScreeningLog(real).decisions()
    assert set(acked) <= set(df["seq"])
    assert df["seq"].tolist() == list(range(1, len(df) + 1))
    assert real.read_bytes().endswith(b"\n")
