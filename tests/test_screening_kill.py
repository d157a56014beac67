"""Kill test: a writer killed with SIGKILL at random moments never loses an acknowledged
decision, and the log always loads (after the documented torn-line handling: a torn last
line is moved aside to ``<log>.torn`` with a TornLineWarning). Two processes writing at once
lose nothing and never share a ``seq``.

Children are forked from the test process (``os.fork``), so each starts in microseconds and
200 kills fit in a few seconds. Half of them write each line in two ``write`` calls with a
pause in between (patched in the child only), so that a kill often lands mid-line and the
torn-line path is exercised for real rather than only by hand-made files.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

import review.journal as journal
from review.screening import ScreeningLog, TornLineWarning

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

N_KILLS = 200
ROWS_PER_CHILD = 12


def _child(path: Path, start: int, ack_fd: int, tear: bool) -> None:
    """Body of a forked writer: record decisions, acknowledge each after record() returns."""
    try:
        if tear:
            real = journal._write_all

            def slow_write(fd: int, data: bytes) -> None:
                half = max(1, len(data) // 2)
                real(fd, data[:half])
                time.sleep(0.0005)
                real(fd, data[half:])

            journal._write_all = slow_write  # the journal keeps every log's rows
        warnings.simplefilter("ignore", TornLineWarning)
        log = ScreeningLog(path, lock_timeout=30)
        for i in range(ROWS_PER_CHILD):
            rid = f"k{start + i}"
            decision = ("include", "exclude", "maybe")[i % 3]
            row = log.record(rid, stage="title_abstract", reviewer="A", decision=decision)
            os.write(ack_fd, f"{row['seq']} {rid} {decision}\n".encode())
        os._exit(0)
    except BaseException:  # never fall back into pytest inside the child
        os._exit(3)


def _spawn(path: Path, start: int, tear: bool) -> tuple[int, int]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        _child(path, start, w, tear)
    os.close(w)
    return pid, r


class _Acks:
    """Acknowledgements read from a child's pipe, line by line."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""
        self.lines: list[tuple[int, str, str]] = []
        self.eof = False

    def _read_once(self) -> None:
        chunk = os.read(self.fd, 65536)
        if not chunk:
            self.eof = True
            return
        self.buf += chunk
        *complete, self.buf = self.buf.split(b"\n")
        for line in complete:
            seq, rid, decision = line.decode().split()
            self.lines.append((int(seq), rid, decision))

    def wait_for(self, n: int) -> None:
        """Block until ``n`` acknowledgements arrived (or the child is gone)."""
        while len(self.lines) < n and not self.eof:
            self._read_once()

    def drain(self) -> list[tuple[int, str, str]]:
        while not self.eof:
            self._read_once()
        os.close(self.fd)
        # a pipe write of one short line is atomic: a leftover partial line cannot happen
        assert self.buf == b""
        return self.lines


def _read_acks(fd: int) -> list[tuple[int, str, str]]:
    return _Acks(fd).drain()


def _load(path: Path):
    """Open the log as a reviewer would after a crash; return rows and torn warnings seen."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = ScreeningLog(path).decisions()
    torn = [w for w in caught if issubclass(w.category, TornLineWarning)]
    return df, len(torn)


def _check(path: Path, acked: dict[int, tuple[str, str]]) -> int:
    df, n_torn = _load(path)
    seqs = df["seq"].tolist()
    assert seqs == sorted(set(seqs)), "seq not unique and increasing"
    by_seq = {int(s): (r, d) for s, r, d in zip(df["seq"], df["record_id"], df["decision"])}
    lost = {s: v for s, v in acked.items() if by_seq.get(s) != v}
    assert not lost, f"acknowledged decisions lost or changed: {lost}"
    raw = path.read_bytes()
    assert raw == b"" or raw.endswith(b"\n"), "log left with a torn tail after loading"
    return n_torn


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_acknowledged_decision(tmp_path):
    rng = random.Random(20261126)
    path = tmp_path / "screening" / "log.jsonl"
    ScreeningLog(path)
    acked: dict[int, tuple[str, str]] = {}
    n_killed_mid_run = 0
    n_torn_seen = 0
    t0 = time.perf_counter()
    for k in range(N_KILLS):
        tear = k % 2 == 1
        pid, ack_fd = _spawn(path, start=k * ROWS_PER_CHILD, tear=tear)
        # The kill moment is random relative to the child's progress (after a random
        # number of acknowledgements, then a random pause of up to ~2 writes), so it does
        # not depend on how loaded the machine is.
        acks = _Acks(ack_fd)
        acks.wait_for(rng.randrange(ROWS_PER_CHILD))
        time.sleep(rng.uniform(0, 0.002))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            n_killed_mid_run += 1
        else:
            assert os.WEXITSTATUS(status) == 0, "child failed before being killed"
        for seq, rid, decision in acks.drain():
            assert seq not in acked, f"seq {seq} acknowledged twice"
            acked[seq] = (rid, decision)
        # Every other round the parent loads the log (a reader after a crash); otherwise
        # the next child is the first to meet a torn tail (a writer after a crash).
        if rng.random() < 0.5:
            n_torn_seen += _check(path, acked)
    n_torn_seen += _check(path, acked)
    elapsed = time.perf_counter() - t0

    assert n_killed_mid_run >= N_KILLS // 2, "kills did not land while children were writing"
    assert len(acked) > N_KILLS  # plenty of acknowledged decisions were at stake
    # Torn lines really happened, and every one of them is accounted for in the sidecar.
    sidecar = path.with_name(path.name + ".torn")
    moved = [json.loads(x) for x in sidecar.read_text().splitlines()] if sidecar.exists() else []
    assert moved, "no kill landed mid-line; the torn-line path was not exercised"
    assert n_torn_seen <= len(moved)
    for entry in moved:
        assert entry["n_bytes"] > 0 and "\n" not in entry["text"]
    print(f"killed mid-run {n_killed_mid_run}, acked {len(acked)}, torn moved {len(moved)}")
    assert elapsed < 60


def _writer_script(path: Path, reviewer: str, n: int, go: Path) -> str:
    ready = go.with_name(f"ready-{reviewer}")
    return textwrap.dedent(
        f"""
        import os, sys, time
        from review.screening import ScreeningLog
        log = ScreeningLog({str(path)!r}, lock_timeout=30)
        open({str(ready)!r}, "w").close()
        while not os.path.exists({str(go)!r}):
            time.sleep(0.001)
        print("start", time.monotonic(), flush=True)
        for i in range({n}):
            row = log.record(f"rec{{i}}", stage="title_abstract", reviewer={reviewer!r},
                             decision="include" if i % 4 else "exclude")
            print(row["seq"], flush=True)
        print("end", time.monotonic(), flush=True)
        """
    )


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "log.jsonl"
    go = tmp_path / "go"
    n = 300
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _writer_script(path, rev, n, go)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for rev in ("A", "B")
    ]
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"ready-{r}").exists() for r in "AB"):  # both at the start line
        assert time.monotonic() < deadline, "writers did not start"
        time.sleep(0.005)
    go.touch()
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    lines = [out.split("\n") for out in outs]
    starts = [float(ln[0].split()[1]) for ln in lines]
    ends = [float(next(x for x in ln if x.startswith("end")).split()[1]) for ln in lines]
    acked = [sorted(int(x) for x in ln if x.strip().isdigit()) for ln in lines]
    assert len(acked[0]) == len(acked[1]) == n
    assert not set(acked[0]) & set(acked[1]), "two writers were given the same seq"

    df = ScreeningLog(path).decisions()
    assert len(df) == 2 * n
    assert df["seq"].tolist() == list(range(1, 2 * n + 1))
    for rev, seqs in zip(("A", "B"), acked):
        mine = df[df["reviewer"] == rev]
        assert sorted(mine["seq"]) == seqs
        assert sorted(mine["record_id"]) == sorted(f"rec{i}" for i in range(n))
    # The writers really ran at the same time: each started before the other finished, so
    # one of them waited on the lock while the other wrote.
    assert max(starts) < min(ends)


def test_two_forked_writers_with_one_killed(tmp_path):
    """A writer killed while another keeps writing: the survivor's rows all land."""
    path = tmp_path / "log.jsonl"
    ScreeningLog(path)
    survivor, s_fd = _spawn(path, start=0, tear=False)
    victim, v_fd = _spawn(path, start=10_000, tear=True)
    time.sleep(0.003)
    os.kill(victim, signal.SIGKILL)
    os.waitpid(victim, 0)
    _, status = os.waitpid(survivor, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    acked = {s: (r, d) for s, r, d in _read_acks(s_fd) + _read_acks(v_fd)}
    assert sum(1 for r, _ in acked.values() if int(r[1:]) < 10_000) == ROWS_PER_CHILD
    _check(path, acked)
