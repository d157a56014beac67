"""Benchmark: the two speed goals of issue 13, measured in one run.

1. ``make run`` on the worked example, after install: every notebook executed (``--force``, a
   fresh output folder), goal < 60 s.
2. A new review: ``python -m review new DIR`` plus its first ``python -m review run``, goal
   < 30 s. The new review holds its protocol template only, as a reviewer has it right after
   ``review new``; the run executes 00 and stops 01-07 as "not reached".

Each command runs in its own process, as a reviewer types it (``python -m review ...``), so
the interpreter's start-up and imports are counted. Prints the wall-clock time of each, its
ratio to the goal, and the CPU time of the command and every process it started (kernels
included), which a busy shared machine changes far less than the wall-clock time: on two idle
cores the wall-clock time is about the CPU time, less what the kernel started ahead overlaps.
``--rounds N`` repeats both, interleaved, and prints every round (the median is the figure).

Run: ``python benchmarks/bench_review.py [--rounds 1]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_EXAMPLE = 60.0
GOAL_NEW = 30.0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)  # every reaped descendant: the kernels too
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of a command and every process it started."""
    c0, t0 = _cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    dt, dc = time.perf_counter() - t0, _cpu() - c0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return dt, dc


def one_round(work: Path, i: int) -> tuple[tuple[float, float], tuple[float, float]]:
    py = sys.executable
    out = work / f"example-output-{i}"
    example = _timed([py, "-m", "review", "run", "--force", "--output", str(out)], ROOT)
    review = work / f"new-review-{i}"
    new = _timed([py, "-m", "review", "new", str(review)], work)
    first = _timed([py, "-m", "review", "run", "--review", str(review)], work)
    return example, (new[0] + first[0], new[1] + first[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        for i in range(args.rounds):
            example, new = one_round(Path(tmp), i)
            rows.append((example, new))
            print(
                f"round {i + 1}: make run (worked example) {example[0]:5.1f} s "
                f"(CPU {example[1]:5.1f} s); review new + first run {new[0]:5.1f} s "
                f"(CPU {new[1]:5.1f} s)",
                flush=True,
            )
    for what, j, goal in (("make run, worked example", 0, GOAL_EXAMPLE),
                          ("review new + first run", 1, GOAL_NEW)):  # fmt: skip
        wall = statistics.median(r[j][0] for r in rows)
        cpu = statistics.median(r[j][1] for r in rows)
        print(
            f"{what + ':':<32} {wall:5.1f} s  (goal < {goal:.0f} s: ratio {wall / goal:.2f}); "
            f"CPU {cpu:5.1f} s, load average {os.getloadavg()[0]:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
