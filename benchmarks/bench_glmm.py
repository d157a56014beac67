"""Benchmark: GLMM fit, leave-one-out and tau^2 interval against metafor/lme4 in one run.

Run:  python benchmarks/bench_glmm.py [--reps 5]

Data: the k = 30 simulated sets of the golden reference (binomial ``sim_k30`` and Poisson
``rates_sim_k30``, tests/data/metafor_glmm_reference.json). Python timings are the median
of ``reps`` runs with ``time.perf_counter``; R timings are measured inside R (median of
``reps`` ``system.time`` elapsed values), so R's start-up is not counted against metafor.

Compared calls
--------------
* fit: ``pool_glmm(df, family=..., tau2_ci=False)`` vs ``rma.glmm(measure="PLO"|"IRLN")``;
  also ``pool_glmm`` with the profile tau^2 interval (our default) vs the same rma.glmm.
* leave-one-out: ``leave_one_out_glmm(res)`` vs k refits of ``rma.glmm`` on k - 1 studies
  (metafor 3.8-1 has no ``leave1out`` for ``rma.glmm``; this loop is what R meta's
  ``metainf`` does).
* tau^2 interval: ``profile_tau2_ci(res)`` vs ``confint(glmer_fit, parm = "theta_",
  method = "profile")`` (metafor's ``confint`` for ``rma.glmm`` is a stub).

Goal (issue 3): every call at least 5x faster than the R reference.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from review.meta.glmm import leave_one_out_glmm, pool_glmm, profile_tau2_ci  # noqa: E402

REF = json.loads((ROOT / "tests" / "data" / "metafor_glmm_reference.json").read_text())
SETS = {"binomial": "sim_k30", "poisson": "rates_sim_k30"}

R_CODE = r"""
suppressMessages({library(metafor); library(lme4)})
args <- commandArgs(TRUE); reps <- as.integer(args[2])
d <- read.csv(args[1]); fam <- args[3]
med <- function(f) {
  tt <- replicate(reps, {
    s <- system.time(f())
    c(s[["user.self"]] + s[["sys.self"]], s[["elapsed"]])
  })
  apply(tt, 1, median)
}
fitone <- function(dd) {
  if (fam == "binomial") rma.glmm(measure = "PLO", xi = events, ni = size, data = dd)
  else rma.glmm(measure = "IRLN", xi = events, ti = size, data = dd)
}
t_fit <- med(function() fitone(d))
t_loo <- med(function() for (i in seq_len(nrow(d))) fitone(d[-i, ]))
d$study <- factor(seq_len(nrow(d)))
t_ci <- med(function() {
  g <- if (fam == "binomial") {
    glmer(cbind(events, size - events) ~ 1 + (1 | study), data = d, family = binomial, nAGQ = 7)
  } else {
    glmer(events ~ 1 + (1 | study) + offset(log(size)), data = d, family = poisson, nAGQ = 7)
  }
  suppressWarnings(suppressMessages(confint(g, parm = "theta_", method = "profile")))
})
cat(sprintf("%.6f", c(t_fit, t_loo, t_ci)), "\n")
"""


def _median_time(fn, reps: int) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(reps):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


Timing = tuple[float, float]  # (cpu seconds, wall seconds)


def bench(family: str, reps: int) -> list[tuple[str, Timing, Timing | None]]:
    ds = REF["datasets"][SETS[family]]
    col = "n" if family == "binomial" else "time"
    df = pd.DataFrame({"events": ds["events"], col: ds["size"]})
    warnings.simplefilter("ignore", UserWarning)
    res = pool_glmm(df, family=family)  # warm-up (imports, caches)
    t_fit = _median_time(lambda: pool_glmm(df, family=family, tau2_ci=False), reps)
    t_fit_ci = _median_time(lambda: pool_glmm(df, family=family), reps)
    t_loo = _median_time(lambda: leave_one_out_glmm(res), reps)
    t_ci = _median_time(lambda: profile_tau2_ci(res), reps)
    r = _r_times(ds, family, reps)
    rows = [
        ("fit (no tau2 CI)", t_fit, r[0] if r else None),
        ("fit + profile tau2 CI", t_fit_ci, r[0] if r else None),
        ("leave-one-out (k refits)", t_loo, r[1] if r else None),
        ("tau2 interval (profile)", t_ci, r[2] if r else None),
    ]
    return rows


def _r_times(ds: dict, family: str, reps: int) -> tuple[Timing, Timing, Timing] | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        pd.DataFrame({"events": ds["events"], "size": ds["size"]}).to_csv(csv, index=False)
        script = Path(tmp) / "b.R"
        script.write_text(R_CODE)
        out = subprocess.run(
            ["Rscript", str(script), str(csv), str(reps), family],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    v = [float(x) for x in out[-6:]]  # (cpu, wall) for fit, loo, ci
    return (v[0], v[1]), (v[2], v[3]), (v[4], v[5])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    print(f"GLMM benchmark, k = 30, median of {a.reps} runs (R timed inside R)")
    print(
        f"{'family':<9s}{'call':<27s}{'py cpu':>9s}{'R cpu':>9s}{'ratio':>7s}"
        f"{'py wall':>9s}{'R wall':>9s}{'ratio':>7s}"
    )
    for fam in ("binomial", "poisson"):
        for name, tp, tr in bench(fam, a.reps):
            cols = []
            for i in (0, 1):
                cols.append(f"{tp[i]:9.4f}")
                cols.append(
                    f"{tr[i]:9.4f}{tr[i] / tp[i]:7.1f}" if tr else f"{'n/a':>9s}{'n/a':>7s}"
                )
            print(f"{fam:<9s}{name:<27s}{cols[0]}{cols[1]}{cols[2]}{cols[3]}")
    print("ratio = R time / Python time (goal: >= 5). CPU time (Python process_time, R")
    print("user + sys) is the fair measure on a shared machine; wall time is shown too.")


if __name__ == "__main__":
    main()
