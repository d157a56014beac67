"""Benchmark: the multilevel fit and a permutation test against R metafor 3.8-1, in one run.

Run from the project root::

    python benchmarks/bench_meta_mv.py [--quick]

Data: ``bench_k30`` of tests/data/metafor_mv_reference.json (the two arms of the first 15
trials of metadat's dat.nielweise2007 as 30 strata of 15 studies; moderator: the year).

Times, per call:

* multilevel fit: ``pool_multilevel(df, cluster="study", measure="PLO", method="REML",
  sigma2_ci=False)`` (from the counts, as a user calls it) vs ``rma.mv(yi, vi, random = ~ 1 |
  study/label, data = escalc(measure = "PLO", ...))`` (metafor computes no interval by
  default either);
* permutation test: ``permutest(meta_regression(res, mods="year"), iter=1000, seed=1)`` vs
  ``permutest(rma(measure = "PLO", ..., mods = ~ year, method = "REML"), iter = 1000)``:
  1,000 refits with tau^2 re-estimated each time on both sides.

Each side reports the best of several blocks of repeated calls, timed inside its own
language (R with ``proc.time`` around a loop, as benchmarks/bench_meta.py). Goals (issue
18): the multilevel fit at least 5x and the permutation test at least 20x faster.
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

from review.meta import meta_regression, permutest, pool_multilevel, pool_proportions  # noqa: E402

GOALS = {"mv": 5.0, "perm": 20.0}

R_CODE = r"""
suppressMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
dat <- read.csv(args[1], stringsAsFactors = FALSE)
blocks <- as.integer(args[2]); scale <- as.numeric(args[3]); perm_blocks <- as.integer(args[4])
best <- function(f, n, b = blocks) {
  n <- max(1L, as.integer(n * scale)); f()
  m <- Inf
  for (i in seq_len(b)) {
    t0 <- proc.time()[["elapsed"]]
    for (j in seq_len(n)) f()
    m <- min(m, (proc.time()[["elapsed"]] - t0) / n)
  }
  m * 1000
}
mv <- function() {
  e <- escalc(measure = "PLO", xi = events, ni = n, data = dat)
  rma.mv(yi, vi, random = ~ 1 | study / label, data = e, method = "REML")
}
reg <- rma(measure = "PLO", xi = events, ni = n, mods = ~ year, data = dat, method = "REML")
out <- c(
  mv = best(mv, 20),
  perm = best(function() permutest(reg, iter = 1000, progbar = FALSE), 1, perm_blocks)
)
cat(sprintf("%s=%.6f\n", names(out), out), sep = "")
"""


def _best(f: Callable[[], object], n: int, blocks: int) -> float:
    f()
    best = float("inf")
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1000


def main() -> int:
    """Run the benchmark and print the table of times and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    blocks, scale, perm_blocks = (3, 0.3, 1) if args.quick else (5, 1.0, 3)
    ref = json.loads((ROOT / "tests/data/metafor_mv_reference.json").read_text(encoding="utf-8"))
    d = ref["datasets"]["bench_k30"]
    df = pd.DataFrame(
        {
            "label": d["label"],
            "study": d["study"],
            "events": d["events"],
            "n": d["n"],
            "year": d["year"],
        }
    )
    warnings.simplefilter("ignore")  # zero-cell corrections (noted in the results)

    def n(x: int) -> int:
        return max(1, int(x * scale))

    reg = meta_regression(
        pool_proportions(df, label="label", measure="PLO", method="REML"), mods="year"
    )
    py = {
        "mv": _best(
            lambda: pool_multilevel(
                df, cluster="study", label="label", measure="PLO", method="REML", sigma2_ci=False
            ),
            n(100),
            blocks,
        ),
        "perm": _best(lambda: permutest(reg, iter=1000, seed=1, progress=False), n(10), blocks),
    }
    r: dict[str, float] = {}
    rscript = shutil.which("Rscript")
    if rscript:
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "k30.csv"
            df.to_csv(csv, index=False)
            script = Path(tmp) / "bench.R"
            script.write_text(R_CODE, encoding="utf-8")
            cmd = [rscript, str(script), str(csv), str(blocks), str(scale), str(perm_blocks)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            key, _, val = line.partition("=")
            if val and val != "NA":
                r[key] = float(val)
    names = {
        "mv": "multilevel fit (PLO, REML)",
        "perm": "permutest, 1000 permutations",
    }
    print(
        "k = 30 strata in 15 studies (tests/data/metafor_mv_reference.json 'bench_k30'); "
        f"best of {blocks} blocks"
    )
    print(f"{'call':<32s}{'review.meta ms':>16s}{'metafor ms':>14s}{'ratio':>9s}  goal")
    ok = True
    for key, label in names.items():
        rt = r.get(key)
        if rt is None:
            print(f"{label:<32s}{py[key]:>16.3f}{'n/a':>14s}")
            continue
        ratio = rt / py[key]
        ok &= ratio >= GOALS[key]
        print(
            f"{label:<32s}{py[key]:>16.3f}{rt:>14.3f}{ratio:>8.1f}x  >= {GOALS[key]:g}x "
            f"{'met' if ratio >= GOALS[key] else 'NOT met'}"
        )
    if not rscript:
        print("Rscript not found: metafor not timed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
