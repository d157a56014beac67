"""Benchmark: review.meta against R metafor 3.8-1 on the same k = 30 data, in one run.

Run from the project root::

    python benchmarks/bench_meta.py [--quick]

Times, per call: the REML fit (``pool_proportions(..., measure="PLO", method="REML")`` vs
``rma(measure="PLO", xi, ni, method="REML")``), leave-one-out (``leave_one_out(res)`` vs
``leave1out(res)``), the tau^2 interval (Q-profile: ``confint_tau2(res)`` vs
``confint(res)``; profile likelihood: ``confint_tau2(res, type="PL")`` vs
``confint(res, type="PL")``) and, when ``review.meta.glmm`` is importable, the GLMM fit
(``method="GLMM"`` vs ``rma.glmm(measure="PLO", xi, ni)``). Each side reports the best of
several blocks of repeated calls, timed inside its own language (R with ``proc.time``
around a loop; nothing subtracted). Without ``Rscript`` only the Python times are printed.
Goal (issue 3): every ratio metafor / review.meta >= 5.
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

from review.meta import confint_tau2, leave_one_out, pool_proportions  # noqa: E402

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
  glmm = if (args[4] == "1") best(function() suppressWarnings(
    rma.glmm(measure = "PLO", xi = xi, ni = ni, data = dat)), 5) else NA
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
    blocks, scale = (3, 0.3) if args.quick else (5, 1.0)
    ref = json.loads((ROOT / "tests/data/metafor_reference.json").read_text(encoding="utf-8"))
    d = ref["datasets"]["k30"]
    df = pd.DataFrame({"label": d["label"], "events": d["events"], "n": d["n"]})
    warnings.simplefilter("ignore")

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
    }
    have_glmm = True
    try:
        import review.meta.glmm  # noqa: F401

        py["glmm"] = _best(
            lambda: pool_proportions(df, label="label", measure="PLO", method="GLMM"),
            n(20), blocks,
        )  # fmt: skip
    except ImportError:
        have_glmm = False
    r: dict[str, float] = {}
    rscript = shutil.which("Rscript")
    if rscript:
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "k30.csv"
            pd.DataFrame({"xi": d["events"], "ni": d["n"]}).to_csv(csv, index=False)
            script = Path(tmp) / "bench.R"
            script.write_text(R_CODE, encoding="utf-8")
            cmd = [rscript, str(script), str(csv), str(blocks), str(scale)]
            out = subprocess.run(
                [*cmd, "1" if have_glmm else "0"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
        for line in out.splitlines():
            key, _, val = line.partition("=")
            if val and val != "NA":
                r[key] = float(val)
    names = {
        "fit": "REML fit (PLO)",
        "loo": "leave-one-out",
        "qp": "tau^2 CI, Q-profile",
        "pl": "tau^2 CI, profile likelihood",
        "glmm": "GLMM fit (PLO, nAGQ=7)",
    }
    print(f"k = 30 (tests/data/metafor_reference.json 'k30'); best of {blocks} blocks")
    print(
        f"{'call':<32s}{'review.meta ms':>16s}{'metafor ms':>14s}{'ratio':>9s}  goal >= {GOAL:g}x"
    )
    ok = True
    for key, label in names.items():
        if key not in py:
            print(f"{label:<32s}{'n/a':>16s}  (review.meta.glmm not importable)")
            continue
        rt = r.get(key)
        if rt is None:
            print(f"{label:<32s}{py[key]:>16.3f}{'n/a':>14s}")
            continue
        ratio = rt / py[key]
        ok &= ratio >= GOAL
        print(
            f"{label:<32s}{py[key]:>16.3f}{rt:>14.3f}{ratio:>8.1f}x  "
            f"{'met' if ratio >= GOAL else 'NOT met'}"
        )
    if not rscript:
        print("Rscript not found: metafor not timed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
