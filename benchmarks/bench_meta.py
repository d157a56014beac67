"""Benchmark: review.meta against R metafor 3.8-1 on the same k = 30 data, in one run.

Run from the project root::

    python benchmarks/bench_meta.py [--quick] [--rounds N]

Times, per call: the REML fit (``pool_proportions(..., measure="PLO", method="REML")`` vs
``rma(measure="PLO", xi, ni, method="REML")``), leave-one-out (``leave_one_out(res)`` vs
``leave1out(res)``), the tau^2 interval (Q-profile: ``confint_tau2(res)`` vs
``confint(res)``; profile likelihood: ``confint_tau2(res, type="PL")`` vs
``confint(res, type="PL")``), trim-and-fill (``trimfill(res)`` vs ``trimfill(res)``) and,
when ``review.meta.glmm`` is importable, the GLMM fit (``method="GLMM"`` vs
``rma.glmm(measure="PLO", xi, ni)``).

The measurement is repeated in ``--rounds`` rounds. In a round each call is timed in
pairs of blocks, a Python block and then, back to back, an R block in one R process kept
open for the whole run (so R's start-up is not counted and a slow spell of the shared
machine hits both sides of a pair alike); each side keeps its best block of the round, and
the round's ratio is metafor's time over review.meta's. Each side is timed inside its own
language (R with ``proc.time`` around a loop; nothing subtracted). The table prints every
round's ratio and the smallest. Without ``Rscript`` only the Python times are printed.

Goals: every ratio metafor / review.meta >= 5 (issue 3); the REML fit in *every* round and
trim-and-fill at least 5x (issue 18).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from review.meta import (  # noqa: E402
    confint_tau2,
    leave_one_out,
    pool_proportions,
    trimfill,
)

GOAL = 5.0

R_CODE = r"""
suppressMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1])
res <- rma(measure = "PLO", xi = xi, ni = ni, data = dat, method = "REML")
calls <- list(
  fit = function() rma(measure = "PLO", xi = xi, ni = ni, data = dat, method = "REML"),
  loo = function() leave1out(res),
  qp = function() confint(res),
  pl = function() confint(res, type = "PL"),
  trimfill = function() trimfill(res),
  glmm = function() suppressWarnings(rma.glmm(measure = "PLO", xi = xi, ni = ni, data = dat))
)
for (f in calls) f()  # warm up
con <- file("stdin", open = "r")
cat("ready\n"); flush(stdout())
# one line a block: "<call> <n>" -> the time of one call in ms, averaged over n calls
while (length(line <- readLines(con, n = 1)) > 0) {
  w <- strsplit(line, " ")[[1]]
  f <- calls[[w[1]]]; n <- as.integer(w[2])
  t0 <- proc.time()[["elapsed"]]
  for (i in seq_len(n)) f()
  cat(sprintf("%.6f\n", (proc.time()[["elapsed"]] - t0) / n * 1000)); flush(stdout())
}
"""

NAMES = {
    "fit": "REML fit (PLO)",
    "loo": "leave-one-out",
    "qp": "tau^2 CI, Q-profile",
    "pl": "tau^2 CI, profile likelihood",
    "trimfill": "trim-and-fill (L0)",
    "glmm": "GLMM fit (PLO, nAGQ=7)",
}


def _py_block(f: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n * 1000


class _R:
    """One R process for the whole run, timing one block a request (R's start-up not counted)."""

    def __init__(self, rscript: str, script: Path, csv: Path) -> None:
        self.p = subprocess.Popen(
            [rscript, str(script), str(csv)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.p.stdout is not None and self.p.stdout.readline().strip() == "ready"

    def block(self, key: str, n: int) -> float:
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(f"{key} {n}\n")
        self.p.stdin.flush()
        return float(self.p.stdout.readline())

    def close(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.close()
        self.p.wait(timeout=60)


def main() -> int:
    """Run the benchmark and print the table of times and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = ap.parse_args()
    blocks, scale = (3, 0.3) if args.quick else (5, 1.0)
    rounds = max(1, args.rounds)
    ref = json.loads((ROOT / "tests/data/metafor_reference.json").read_text(encoding="utf-8"))
    d = ref["datasets"]["k30"]
    df = pd.DataFrame({"label": d["label"], "events": d["events"], "n": d["n"]})
    warnings.simplefilter("ignore")
    try:
        import review.meta.glmm  # noqa: F401

        have_glmm = True
    except ImportError:
        have_glmm = False
    rscript = shutil.which("Rscript")
    res = pool_proportions(df, label="label", measure="PLO", method="REML")
    py_calls: dict[str, Callable[[], object]] = {
        "fit": lambda: pool_proportions(df, label="label", measure="PLO", method="REML"),
        "loo": lambda: leave_one_out(res),
        "qp": lambda: confint_tau2(res),
        "pl": lambda: confint_tau2(res, type="PL"),
        "trimfill": lambda: trimfill(res),
    }
    if have_glmm:
        py_calls["glmm"] = lambda: pool_proportions(df, label="label", measure="PLO", method="GLMM")
    # calls a block: Python side, R side (R is 5-50x slower a call)
    n_py = {"fit": 200, "loo": 20, "qp": 200, "pl": 200, "trimfill": 100, "glmm": 20}
    n_r = {"fit": 50, "loo": 2, "qp": 20, "pl": 3, "trimfill": 10, "glmm": 3}
    py_rounds: list[dict[str, float]] = [{} for _ in range(rounds)]
    r_rounds: list[dict[str, float]] = [{} for _ in range(rounds)]
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "k30.csv"
        pd.DataFrame({"xi": d["events"], "ni": d["n"]}).to_csv(csv, index=False)
        script = Path(tmp) / "bench.R"
        script.write_text(R_CODE, encoding="utf-8")
        r = _R(rscript, script, csv) if rscript else None
        try:
            for f in py_calls.values():
                f()  # warm up
            # each round: for each call, `blocks` pairs of blocks, Python then R, back to
            # back, so a slow spell of the shared machine hits both sides of a pair alike;
            # the round keeps each side's best block
            for i in range(rounds):
                for key, f in py_calls.items():
                    pys, rs = [], []
                    for _ in range(blocks):
                        pys.append(_py_block(f, max(1, int(n_py[key] * scale))))
                        if r is not None:
                            rs.append(r.block(key, max(1, int(n_r[key] * scale))))
                    py_rounds[i][key] = min(pys)
                    if rs:
                        r_rounds[i][key] = min(rs)
        finally:
            if r is not None:
                r.close()
    if not rscript:
        r_rounds = []
    print(
        f"k = 30 (tests/data/metafor_reference.json 'k30'); {rounds} rounds, each the best "
        f"of {blocks} Python/R block pairs timed back to back"
    )
    print(
        f"{'call':<30s}{'review.meta ms':>15s}{'metafor ms':>12s}{'min ratio':>10s}  "
        f"ratio in each round (goal >= {GOAL:g}x)"
    )
    ok = True
    for key, label in NAMES.items():
        if key not in py_rounds[0]:
            print(f"{label:<30s}{'n/a':>15s}  (review.meta.glmm not importable)")
            continue
        py_best = min(p[key] for p in py_rounds)
        if not r_rounds or key not in r_rounds[0]:
            print(f"{label:<30s}{py_best:>15.3f}{'n/a':>12s}")
            continue
        ratios = [r[key] / p[key] for p, r in zip(py_rounds, r_rounds)]
        r_best = min(r[key] for r in r_rounds)
        worst = min(ratios)
        met = worst >= GOAL
        ok &= met
        each = ", ".join(f"{x:.1f}" for x in ratios)
        print(
            f"{label:<30s}{py_best:>15.3f}{r_best:>12.3f}{worst:>9.1f}x  {each}  "
            f"{'met' if met else 'NOT met'}"
        )
    if not rscript:
        print("Rscript not found: metafor not timed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
