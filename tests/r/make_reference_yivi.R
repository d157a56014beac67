#!/usr/bin/env Rscript
# Golden values for review.meta.estimates (pool_estimates, estimate_yi_vi, study_yi_vi) from
# R metafor 3.8-1: studies reported as an estimate with its CI or SE, alone or beside studies
# with counts, pooled with rma(yi, vi).
#
#   Rscript tests/r/make_reference_yivi.R      # writes tests/data/metafor_yivi_reference.json
#
# The conversion of an estimate to yi/vi is written out here independently of the Python code:
# yi = transform(estimate); with a CI, sei = (t(ci.ub) - t(ci.lb)) / (2 qnorm(1 - (1-level)/2))
# (the CI symmetric on the model scale: Cochrane Handbook v6.4 ch. 6); when one bound maps to
# -Inf (0 on the logit or log scale) the other half-width, |t(bound) - yi| / z; with only an SE,
# the delta method sei = se * |t'(estimate)|. Count studies go through escalc() with its
# defaults (add = 1/2 to zero cells for PR, PLO, IR, IRLN; none for PAS). Numbers are written
# with sprintf("%.17g"), NA/NaN/Inf as null, so re-running gives a byte-identical file.

suppressPackageStartupMessages(library(metafor))

out_file <- "tests/data/metafor_yivi_reference.json"
args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1) out_file <- args[1]

# ------------------------------------------------------------------ shared helpers
# num(), json(), vec(), chr(), from_main(): tests/r/_helpers.R, next to this script
script_dir <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(if (length(script_dir) == 1) script_dir else "tests/r", "_helpers.R"))

# ------------------------------------------------------------------ data sets
# est, lo, hi, se on the proportion (0-1) or rate (per person-time unit) scale; NA where not
# given; lev the level of each CI. Count studies have xi and ni (or ti) and NA estimates.
datasets <- list(
  # cumulative incidences (Kaplan-Meier or competing risks) only; one with a lower bound of 0,
  # one with only an SE, one with a 90% interval
  km7 = list(
    kind = "proportion",
    label = c("A", "B", "C", "D", "E", "F", "G"),
    xi = rep(NA, 7), ni = rep(NA, 7),
    est = c(0.042, 0.081, 0.150, 0.027, 0.063, 0.110, 0.010),
    lo = c(0.031, 0.060, 0.120, 0.015, NA, 0.088, 0.000),
    hi = c(0.056, 0.108, 0.186, 0.047, NA, 0.137, 0.035),
    se = c(NA, NA, NA, NA, 0.014, NA, NA),
    lev = c(0.95, 0.95, 0.95, 0.95, 0.95, 0.90, 0.95)
  ),
  # counts (one with zero events) beside estimates
  mixed8 = list(
    kind = "proportion",
    label = c("C1", "C2", "C3", "C4", "C5", "E1", "E2", "E3"),
    xi = c(4, 0, 12, 7, 30, NA, NA, NA),
    ni = c(120, 45, 210, 95, 480, NA, NA, NA),
    est = c(NA, NA, NA, NA, NA, 0.072, 0.035, 0.051),
    lo = c(NA, NA, NA, NA, NA, 0.050, 0.020, NA),
    hi = c(NA, NA, NA, NA, NA, 0.101, 0.061, NA),
    se = c(NA, NA, NA, NA, NA, NA, NA, 0.012),
    lev = rep(0.95, 8)
  ),
  # rates per person-year: counts over person-time beside reported rates
  rates7 = list(
    kind = "rate",
    label = c("R1", "R2", "R3", "R4", "Q1", "Q2", "Q3"),
    xi = c(3, 0, 11, 25, NA, NA, NA),
    ti = c(150.5, 80, 610.2, 1240, NA, NA, NA),
    est = c(NA, NA, NA, NA, 0.021, 0.034, 0.012),
    lo = c(NA, NA, NA, NA, 0.014, 0.022, NA),
    hi = c(NA, NA, NA, NA, 0.031, 0.052, NA),
    se = c(NA, NA, NA, NA, NA, NA, 0.004),
    lev = rep(0.95, 7)
  )
)

tr <- function(measure, x) switch(measure,
  PR = x, IR = x, PLO = qlogis(x), PAS = asin(sqrt(x)), IRLN = log(x))
dtr <- function(measure, x) switch(measure,
  PR = 1, IR = 1, PLO = 1 / (x * (1 - x)), PAS = 1 / (2 * sqrt(x * (1 - x))), IRLN = 1 / x)
btf <- function(measure) switch(measure,
  PR = NULL, IR = NULL, PLO = transf.ilogit, PAS = transf.iarcsin, IRLN = exp)

yi_vi <- function(d, measure) {
  k <- length(d$label)
  yi <- rep(NA_real_, k); vi <- rep(NA_real_, k)
  cnt <- !is.na(d$xi)
  if (any(cnt)) {
    es <- if (d$kind == "proportion")
      escalc(measure = measure, xi = d$xi[cnt], ni = d$ni[cnt]) else
      escalc(measure = measure, xi = d$xi[cnt], ti = d$ti[cnt])
    yi[cnt] <- es$yi; vi[cnt] <- es$vi
  }
  for (i in which(!cnt)) {
    y <- tr(measure, d$est[i])
    z <- qnorm(1 - (1 - d$lev[i]) / 2)
    tl <- if (is.na(d$lo[i])) NA else tr(measure, d$lo[i])
    th <- if (is.na(d$hi[i])) NA else tr(measure, d$hi[i])
    if (!is.na(tl) && !is.na(th) && is.finite(tl) && is.finite(th)) {
      sei <- (th - tl) / (2 * z)
    } else if (!is.na(th) && is.finite(th) && !is.na(d$lo[i])) {
      sei <- (th - y) / z
    } else if (!is.na(tl) && is.finite(tl) && !is.na(d$hi[i])) {
      sei <- (y - tl) / z
    } else {
      sei <- d$se[i] * abs(dtr(measure, d$est[i]))
    }
    yi[i] <- y; vi[i] <- sei^2
  }
  list(yi = yi, vi = vi)
}

methods <- c("FE", "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB")
tests <- c("z", "knha")
grid <- list(km7 = c("PLO", "PAS", "PR"), mixed8 = c("PLO", "PAS", "PR"), rates7 = c("IRLN", "IR"))

values_of <- function(res, measure) {
  bt <- btf(measure)
  pr <- if (is.null(bt)) predict(res) else predict(res, transf = bt)
  prl <- predict(res)
  pri <- predict(res, pi.type = "riley")
  prib <- if (is.null(bt)) pri else predict(res, pi.type = "riley", transf = bt)
  v <- list(
    k = res$k, b = res$b[1], se = res$se, zval = res$zval, pval = res$pval,
    ci_lb = res$ci.lb, ci_ub = res$ci.ub,
    tau2 = res$tau2, se_tau2 = res$se.tau2, I2 = res$I2, H2 = res$H2,
    QE = res$QE, QEp = res$QEp,
    pi_lb_link = prl$pi.lb, pi_ub_link = prl$pi.ub,
    pred = pr$pred, pred_ci_lb = pr$ci.lb, pred_ci_ub = pr$ci.ub,
    pred_pi_lb = pr$pi.lb, pred_pi_ub = pr$pi.ub,
    riley_pred_pi_lb = prib$pi.lb, riley_pred_pi_ub = prib$pi.ub,
    logLik = as.numeric(logLik(res)), AIC = AIC(res),
    weights = vec(weights(res))
  )
  if (res$method != "FE") {
    ci <- try(suppressWarnings(confint(res, type = "QP")), silent = TRUE)
    if (!inherits(ci, "try-error")) {
      v$tau2_qp_lb <- ci$random[1, 2]; v$tau2_qp_ub <- ci$random[1, 3]
    }
  }
  v
}

cases <- list()
conversions <- list()
for (dn in names(grid)) for (m in grid[[dn]]) {
  d <- datasets[[dn]]
  yv <- yi_vi(d, m)
  conversions[[length(conversions) + 1]] <- list(
    id = paste(dn, m, sep = "-"), dataset = dn, measure = m, yi = vec(yv$yi), vi = vec(yv$vi))
  for (me in methods) for (te in tests) {
    res <- suppressWarnings(rma(yi = yv$yi, vi = yv$vi, method = me, test = te))
    cases[[length(cases) + 1]] <- list(
      id = paste(dn, m, me, te, sep = "-"), dataset = dn, kind = d$kind, measure = m,
      method = me, test = te, level = 0.95,
      call = sprintf("rma(yi, vi, method=\"%s\", test=\"%s\"); predict(res, transf=)", me, te),
      values = values_of(res, m))
  }
}
# other confidence levels of the pooled fit
for (lev in c(90, 99)) for (me in c("DL", "REML")) {
  d <- datasets[["mixed8"]]
  yv <- yi_vi(d, "PLO")
  res <- rma(yi = yv$yi, vi = yv$vi, method = me, test = "z", level = lev)
  cases[[length(cases) + 1]] <- list(
    id = paste("mixed8", "PLO", me, "z", lev, sep = "-"), dataset = "mixed8", kind = "proportion",
    measure = "PLO", method = me, test = "z", level = lev / 100,
    call = sprintf("rma(yi, vi, method=\"%s\", level=%d); predict(res, transf=transf.ilogit)", me, lev),
    values = values_of(res, "PLO"))
}

out_sets <- lapply(datasets, function(d) {
  e <- list(kind = d$kind, label = I(d$label), events = vec(d$xi))
  if (d$kind == "proportion") e$n <- vec(d$ni) else e$time <- vec(d$ti)
  c(e, list(estimate = vec(d$est), ci_low = vec(d$lo), ci_high = vec(d$hi), se = vec(d$se),
            ci_level = vec(d$lev)))
})

ref <- list(
  source = list(
    script = "tests/r/make_reference_yivi.R",
    command = "Rscript tests/r/make_reference_yivi.R",
    call = "escalc(measure=, xi=, ni=|ti=) for count studies; estimates converted as in the header; rma(yi, vi, method=, test=); predict(res, transf=); predict(res, pi.type=\"riley\"); confint(res, type=\"QP\")",
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    number_format = "%.17g; null for NA/NaN/Inf"
  ),
  grid = list(datasets = lapply(grid, I), methods = I(methods), tests = I(tests)),
  datasets = out_sets,
  conversions = conversions,
  cases = cases
)
writeLines(json(ref), out_file, useBytes = TRUE)
cat(sprintf("wrote %s: %d cases\n", out_file, length(cases)))
