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

The measurement is repeated in ``--rounds`` interleaved rounds (Python, then R, then Python,
...), so that a slow spell of the shared machine hits both sides of a round alike; each
round's ratio is metafor's time over review.meta's, both measured in that round. Within a
round each side reports the best of several blocks of repeated calls, timed inside its own
language (R with ``proc.time`` around a loop; R's start-up is not counted; nothing
subtracted). The table prints every round's ratio and the smallest. Without ``Rscript``
only the Python times are printed.

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
blocks <- as.integer(args[2]); scale <- as.numeric(args[3])
best <- function(f, n) {
  n <- max(1L, as.integer(n * scale)); f()
  m <- Inf
  for (b in seq_len(blocks)) {
    t0 <- proc.time()[["elapsed"]]
    for (i in seq_len(n)) f()
    m <- min(m, (proc.time()[["elapsed"]] - t0) / n)
  }
  m * 1000
}
res <- rma(measure = "PLO", xi = xi, ni = ni, data = dat, method = "REML")
out <- c(
  fit = best(function() rma(measure = "PLO", xi = xi, ni = ni, data = dat, method = "REML"), 100),
  loo = best(function() leave1out(res), 5),
  qp = best(function() confint(res), 50),
  pl = best(function() confint(res, type = "PL"), 10),
  trimfill = best(function() trimfill(res), 20),
  glmm = if (args[4] == "1") best(function() suppressWarnings(
    rma.glmm(measure = "PLO", xi = xi, ni = ni, data = dat)), 5) else NA
)
cat(sprintf("%s=%.6f\n", names(out), out), sep = "")
"""

NAMES = {
    "fit": "REML fit (PLO)",
    "loo": "leave-one-out",
    "qp": "tau^2 CI, Q-profile",
    "pl": "tau^2 CI, profile likelihood",
    "trimfill": "trim-and-fill (L0)",
    "glmm": "GLMM fit (PLO, nAGQ=7)",
}


def _best(f: Callable[[], object], n: int, blocks: int) -> float:
    f()
    best = float("inf")
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1000


def _python_round(df: pd.DataFrame, blocks: int, scale: float, glmm: bool) -> dict[str, float]:
    def n(x: int) -> int:
        return max(1, int(x * scale))

    res = pool_proportions(df, label="label", measure="PLO", method="REML")
    py = {
        "fit": _best(
            lambda: pool_proportions(df, label="label", measure="PLO", method="REML"),
            n(200),
            blocks,
        ),
        "loo": _best(lambda: leave_one_out(res), n(50), blocks),
        "qp": _best(lambda: confint_tau2(res), n(200), blocks),
        "pl": _best(lambda: confint_tau2(res, type="PL"), n(200), blocks),
        "trimfill": _best(lambda: trimfill(res), n(100), blocks),
    }
    if glmm:
        py["glmm"] = _best(
            lambda: pool_proportions(df, label="label", measure="PLO", method="GLMM"),
            n(20), blocks,
        )  # fmt: skip
    return py


def _r_round(cmd: list[str]) -> dict[str, float]:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    r: dict[str, float] = {}
    for line in out.splitlines():
        key, _, val = line.partition("=")
        if val and val != "NA":
            r[key] = float(val)
    return r


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
    py_rounds: list[dict[str, float]] = []
    r_rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "k30.csv"
        pd.DataFrame({"xi": d["events"], "ni": d["n"]}).to_csv(csv, index=False)
        script = Path(tmp) / "bench.R"
        script.write_text(R_CODE, encoding="utf-8")
        cmd = [str(rscript), str(script), str(csv), str(blocks), str(scale)]
        cmd.append("1" if have_glmm else "0")
        for _ in range(rounds):
            py_rounds.append(_python_round(df, blocks, scale, have_glmm))
            if rscript:
                r_rounds.append(_r_round(cmd))
    print(
        f"k = 30 (tests/data/metafor_reference.json 'k30'); {rounds} interleaved rounds, "
        f"each the best of {blocks} blocks a side"
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
