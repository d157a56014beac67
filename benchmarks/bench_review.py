"""Benchmark: the two speed goals of issue 13, measured in one run.

1. ``make run`` on the worked example, after install: every notebook executed (``--force``, a
   fresh output folder), goal < 60 s.
2. A new review: ``python -m review new DIR`` plus its first ``python -m review run``, goal
   < 30 s. The new review holds its protocol template only, as a reviewer has it right after
   ``review new``; the run executes 00 and stops 01-07 as "not reached".

Each command runs in its own process, as a reviewer types it (``python -m review ...``), so
the interpreter's start-up and imports are counted. Prints the time of each and its ratio to
the goal; ``--rounds N`` repeats both, interleaved, and prints every round (the machine is
shared: the median is the figure to read).

Run: ``python benchmarks/bench_review.py [--rounds 1]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_EXAMPLE = 60.0
GOAL_NEW = 30.0


def _timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return dt


def one_round(work: Path, i: int) -> tuple[float, float, float]:
    py = sys.executable
    out = work / f"example-output-{i}"
    example = _timed([py, "-m", "review", "run", "--force", "--output", str(out)], ROOT)
    review = work / f"new-review-{i}"
    new = _timed([py, "-m", "review", "new", str(review)], work)
    first = _timed([py, "-m", "review", "run", "--review", str(review)], work)
    return example, new, first


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        for i in range(args.rounds):
            example, new, first = one_round(Path(tmp), i)
            rows.append((example, new + first))
            print(
                f"round {i + 1}: make run (worked example) {example:5.1f} s; "
                f"review new {new:4.1f} s + first run {first:5.1f} s = {new + first:5.1f} s",
                flush=True,
            )
    example = statistics.median(r[0] for r in rows)
    new = statistics.median(r[1] for r in rows)
    print(
        f"make run, worked example:        {example:5.1f} s  (goal < {GOAL_EXAMPLE:.0f} s: "
        f"ratio {example / GOAL_EXAMPLE:.2f})"
    )
    print(
        f"review new + first run:          {new:5.1f} s  (goal < {GOAL_NEW:.0f} s: "
        f"ratio {new / GOAL_NEW:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
