#!/usr/bin/env Rscript
# Golden values for review.meta.bias (ranktest, trimfill), the IRS and IRFT rate measures and
# the one-study (k = 1) paths, from R metafor 3.8-1 and metadat.
#
#   Rscript tests/r/make_reference_bias.R      # writes tests/data/metafor_bias_reference.json
#
# Reads the simulated data sets of tests/data/metafor_reference.json (make_reference.R), so
# both files use the same data. Numbers are written with sprintf("%.17g") (byte-stable); a
# combination metafor refuses carries {"error": "<metafor's message>"}.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

out_file <- "tests/data/metafor_bias_reference.json"
args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1) out_file <- args[1]

# ------------------------------------------------------------------ shared helpers
# num(), json(), vec(), chr(), from_main(): tests/r/_helpers.R, next to this script
script_dir <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(if (length(script_dir) == 1) script_dir else "tests/r", "_helpers.R"))

err_of <- function(e) trimws(sub("^Error[^:]*: ", "", as.character(e)))
hm <- function(x) 1 / mean(1 / x)

# ------------------------------------------------------------------ data sets
p <- dat.pritz1997; db <- dat.debruin2009; h <- dat.hart1999
prop_sets <- list(
  pritz1997 = data.frame(label = p$authors, xi = p$xi, ni = p$ni),
  debruin2009 = data.frame(label = db$author, xi = db$xi, ni = db$ni),
  rare = from_main("rare"),
  k30 = from_main("k30"),
  allzero = data.frame(label = paste("Z", 1:5), xi = rep(0, 5), ni = c(25, 30, 40, 22, 60))
)
rate_sets <- list(
  hart1999_warfarin = data.frame(label = h$study, xi = h$x1i, ti = h$t1i,
                                 g = as.character(h$prevtype)),
  hart1999_control = data.frame(label = h$study, xi = h$x2i, ti = h$t2i,
                                g = as.character(h$prevtype)),
  rates8 = from_main("rates8"),
  rates30 = from_main("rates30"),
  allzero_rate = data.frame(label = paste("T", 1:4), xi = rep(0, 4), ti = c(100, 250, 80, 400))
)
methods <- c("FE", "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB")
tests <- c("z", "knha")

fit <- function(d, measure, ...) {
  if ("ni" %in% names(d)) rma(measure = measure, xi = xi, ni = ni, data = d, ...)
  else rma(measure = measure, xi = xi, ti = ti, data = d, ...)
}
btf <- function(measure, size) {
  switch(measure,
         PR = NULL, IR = NULL,
         PLO = list(f = transf.ilogit, targs = NULL),
         PAS = list(f = transf.iarcsin, targs = NULL),
         PFT = list(f = transf.ipft.hm, targs = list(ni = size)),
         IRLN = list(f = exp, targs = NULL),
         IRS = list(f = transf.isqrt, targs = NULL),
         # metafor 3.8-1 has no transf.iirft.hm: the inverse at the harmonic mean of ti
         IRFT = list(f = function(x, targs) transf.iirft(x, ti = targs$ti),
                     targs = list(ti = hm(size))))
}
pred_of <- function(res, measure, size) {
  bt <- btf(measure, size)
  pr <- if (is.null(bt)) predict(res) else predict(res, transf = bt$f, targs = bt$targs)
  prl <- predict(res)
  list(pred = pr$pred, pred_ci_lb = pr$ci.lb, pred_ci_ub = pr$ci.ub,
       pred_pi_lb = if (is.null(pr$pi.lb)) pr$ci.lb else pr$pi.lb,
       pred_pi_ub = if (is.null(pr$pi.ub)) pr$ci.ub else pr$pi.ub,
       pi_lb_link = if (is.null(prl$pi.lb)) prl$ci.lb else prl$pi.lb,
       pi_ub_link = if (is.null(prl$pi.ub)) prl$ci.ub else prl$pi.ub)
}
core <- function(res) list(
  k = res$k, b = res$b[1], se = res$se, zval = res$zval, pval = res$pval,
  ci_lb = res$ci.lb, ci_ub = res$ci.ub, tau2 = res$tau2, I2 = res$I2, H2 = res$H2,
  QE = res$QE, QEp = res$QEp, test = res$test)

# ------------------------------------------------------------------ IRS and IRFT
rate_cases <- list()
for (dn in names(rate_sets)) for (m in c("IRS", "IRFT")) for (me in methods) for (te in tests) {
  d <- rate_sets[[dn]]
  res <- try(suppressWarnings(fit(d, m, method = me, test = te)), silent = TRUE)
  case <- list(id = paste(dn, m, me, te, sep = "-"), dataset = dn, measure = m, method = me,
               test = te,
               call = sprintf("rma(measure=\"%s\", xi=xi, ti=ti, method=\"%s\", test=\"%s\"); predict(res, transf=%s)",
                              m, me, te, if (m == "IRS") "transf.isqrt" else "transf.iirft, targs=list(ti=1/mean(1/ti))"))
  if (inherits(res, "try-error")) case$error <- err_of(res) else {
    pri <- predict(res, pi.type = "riley")
    case$values <- c(core(res), pred_of(res, m, d$ti),
                     list(se_tau2 = res$se.tau2, riley_pi_lb_link = pri$pi.lb,
                          riley_pi_ub_link = pri$pi.ub, yi = vec(res$yi), vi = vec(res$vi)))
  }
  rate_cases[[length(rate_cases) + 1]] <- case
}

# ------------------------------------------------------------------ one study (k = 1)
k1_cases <- list()
one <- list(
  list(id = "pritz1997-1-PLO", d = prop_sets$pritz1997[1, ], m = "PLO"),
  list(id = "pritz1997-1-PFT", d = prop_sets$pritz1997[1, ], m = "PFT"),
  list(id = "hart1999_warfarin-6-IRLN", d = rate_sets$hart1999_warfarin[6, ], m = "IRLN"),
  list(id = "hart1999_warfarin-6-IRFT", d = rate_sets$hart1999_warfarin[6, ], m = "IRFT"))
for (o in one) for (me in c("FE", "REML")) {
  w <- NULL
  res <- withCallingHandlers(fit(o$d, o$m, method = me, test = "knha"),
                             warning = function(x) { w <<- conditionMessage(x); invokeRestart("muffleWarning") })
  size <- if ("ni" %in% names(o$d)) o$d$ni else o$d$ti
  k1_cases[[length(k1_cases) + 1]] <- list(
    id = paste(o$id, me, "knha", sep = "-"), measure = o$m, method = me, test = "knha",
    label = o$d$label, events = o$d$xi, size = size,
    kind = if ("ni" %in% names(o$d)) "proportion" else "rate",
    call = sprintf("rma(measure=\"%s\", <one study>, method=\"%s\", test=\"knha\")", o$m, me),
    warning = if (is.null(w)) NA else w, values = c(core(res), pred_of(res, o$m, size)))
}
# subgroups of dat.hart1999 (warfarin arms, IRLN) by prevention type: 'secondary' has one study
hart_sub <- list()
es <- escalc(measure = "IRLN", xi = xi, ti = ti, data = rate_sets$hart1999_warfarin)
for (me in c("REML", "DL")) for (te in tests) {
  grp <- sort(unique(es$g))
  fits <- lapply(grp, function(gg) suppressWarnings(rma(yi, vi, data = es, subset = g == gg,
                                                        method = if (sum(es$g == gg) == 1) "FE" else me,
                                                        test = te)))
  b <- sapply(fits, function(f) c(f$b)); se <- sapply(fits, function(f) f$se)
  comp <- rma(b, sei = se, method = "FE")
  qm <- rma(yi, vi, mods = ~ factor(g), data = es, method = me, test = te)
  hart_sub[[length(hart_sub) + 1]] <- list(
    id = paste("hart1999_warfarin-IRLN", me, te, "prevtype", sep = "-"), method = me, test = te,
    groups = I(grp),
    call = "per group: rma(yi, vi, subset = g == gg, method=, test=) (one study: FE); rma(b, sei = se, method = \"FE\"); rma(yi, vi, mods = ~ factor(g))",
    values = list(b = vec(b), se = vec(se), ci_lb = vec(sapply(fits, function(f) f$ci.lb)),
                  ci_ub = vec(sapply(fits, function(f) f$ci.ub)),
                  tau2 = vec(sapply(fits, function(f) f$tau2)),
                  test_used = I(sapply(fits, function(f) f$test)),
                  Q_between = comp$QE, Q_between_p = comp$QEp, QM = qm$QM, QMp = qm$QMp))
}
# GLMM: k = 2 with test = "t" (t with 1 df) and k = 1 (refused)
g2 <- rma.glmm(measure = "PLO", xi = c(4, 9), ni = c(30, 55), test = "t")
pg2 <- predict(g2)
g1 <- try(rma.glmm(measure = "PLO", xi = 5, ni = 20, test = "t"), silent = TRUE)
glmm_small <- list(
  k2_t = list(call = "rma.glmm(measure=\"PLO\", xi=c(4, 9), ni=c(30, 55), test=\"t\"); predict(res)",
              events = vec(c(4, 9)), n = vec(c(30, 55)),
              values = list(b = c(g2$beta), se = g2$se, zval = g2$zval, pval = g2$pval,
                            ci_lb = g2$ci.lb, ci_ub = g2$ci.ub, ddf = g2$ddf,
                            pi_lb_link = pg2$pi.lb, pi_ub_link = pg2$pi.ub, tau2 = g2$tau2)),
  k1_t = list(call = "rma.glmm(measure=\"PLO\", xi=5, ni=20, test=\"t\")", error = err_of(g1)))

# ------------------------------------------------------------------ rank correlation test
rank_cases <- list()
for (dn in names(prop_sets)) for (m in c("PLO", "PAS", "PFT")) {
  d <- prop_sets[[dn]]
  res <- suppressWarnings(fit(d, m, method = "REML"))
  rt <- suppressWarnings(ranktest(res))
  es <- escalc(measure = m, xi = xi, ni = ni, data = d)
  rank_cases[[length(rank_cases) + 1]] <- list(
    id = paste(dn, m, sep = "-"), dataset = dn, kind = "proportion", measure = m,
    call = "ranktest(rma(measure=, xi=, ni=, method=\"REML\"))",
    values = list(tau = c(rt$tau), pval = rt$pval, ties = any(duplicated(res$vi))))
}
for (dn in names(rate_sets)) for (m in c("IRLN", "IRS", "IRFT")) {
  d <- rate_sets[[dn]]
  res <- suppressWarnings(fit(d, m, method = "REML"))
  rt <- try(suppressWarnings(ranktest(res)), silent = TRUE)
  case <- list(id = paste(dn, m, sep = "-"), dataset = dn, kind = "rate", measure = m,
               call = "ranktest(rma(measure=, xi=, ti=, method=\"REML\"))")
  if (inherits(rt, "try-error")) case$error <- err_of(rt) else
    case$values <- list(tau = c(rt$tau), pval = rt$pval, ties = any(duplicated(res$vi)))
  rank_cases[[length(rank_cases) + 1]] <- case
}

# ------------------------------------------------------------------ trim and fill
tf_specs <- list(
  list("pritz1997", "PLO"), list("pritz1997", "PFT"), list("debruin2009", "PLO"),
  list("debruin2009", "PAS"), list("k30", "PLO"), list("k30", "PFT"), list("rare", "PLO"),
  list("allzero", "PLO"), list("hart1999_control", "IRLN"), list("hart1999_warfarin", "IRFT"),
  list("rates30", "IRLN"), list("rates30", "IRFT"), list("rates8", "IRLN"))
tf_cases <- list()
for (s in tf_specs) for (me in c("FE", "DL", "REML")) for (est in c("L0", "R0")) for (sd in c("auto", "left", "right")) {
  if (sd != "auto" && !(me == "REML" && est == "L0")) next
  dn <- s[[1]]; m <- s[[2]]
  d <- if (dn %in% names(prop_sets)) prop_sets[[dn]] else rate_sets[[dn]]
  size <- if ("ni" %in% names(d)) d$ni else d$ti
  res <- suppressWarnings(fit(d, m, method = me))
  tf <- try(suppressWarnings(if (sd == "auto") trimfill(res, estimator = est) else
    trimfill(res, estimator = est, side = sd)), silent = TRUE)
  case <- list(id = paste(dn, m, me, est, sd, sep = "-"), dataset = dn,
               kind = if ("ni" %in% names(d)) "proportion" else "rate", measure = m, method = me,
               estimator = est, side = sd,
               call = sprintf("trimfill(rma(measure=\"%s\", ..., method=\"%s\"), estimator=\"%s\"%s)",
                              m, me, est, if (sd == "auto") "" else sprintf(", side=\"%s\"", sd)))
  if (inherits(tf, "try-error")) case$error <- err_of(tf) else {
    size_all <- c(size, if (tf$k0 > 0) size[match(tf$vi[(res$k + 1):tf$k], res$vi)] else NULL)
    kn <- if (tf$k0 > 0) rma(tf$yi, tf$vi, method = me, test = "knha") else
      suppressWarnings(fit(d, m, method = me, test = "knha"))
    case$values <- c(core(tf), pred_of(tf, m, size_all),
                     list(k0 = tf$k0, se_k0 = tf$se.k0, side_used = tf$side,
                          p_k0 = tf$p.k0, yi = vec(tf$yi), vi = vec(tf$vi),
                          fill = I(as.logical(tf$fill)),
                          knha_b = c(kn$b), knha_se = kn$se, knha_ci_lb = kn$ci.lb,
                          knha_ci_ub = kn$ci.ub))
  }
  tf_cases[[length(tf_cases) + 1]] <- case
}

datasets <- list()
for (dn in names(prop_sets)) {
  d <- prop_sets[[dn]]
  datasets[[dn]] <- list(kind = "proportion", label = I(as.character(d$label)),
                         events = vec(d$xi), n = vec(d$ni))
}
for (dn in names(rate_sets)) {
  d <- rate_sets[[dn]]
  e <- list(kind = "rate", label = I(as.character(d$label)), events = vec(d$xi),
            time = vec(d$ti))
  if ("g" %in% names(d)) e$g <- I(as.character(d$g))
  datasets[[dn]] <- e
}

ref <- list(
  source = list(
    script = "tests/r/make_reference_bias.R",
    command = "Rscript tests/r/make_reference_bias.R",
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    number_format = "%.17g; null for NA/NaN/Inf"
  ),
  grid = list(rate_datasets = I(names(rate_sets)), rate_measures = I(c("IRS", "IRFT")),
              methods = I(methods), tests = I(tests)),
  datasets = datasets,
  rate_measures = rate_cases,
  k1 = k1_cases,
  hart1999_subgroups = hart_sub,
  glmm_small = glmm_small,
  ranktest = rank_cases,
  trimfill = tf_cases
)
writeLines(json(ref), out_file, useBytes = TRUE)
cat("wrote", out_file, ":", length(rate_cases), "rate cases,", length(rank_cases), "rank tests,",
    length(tf_cases), "trim-and-fill cases\n")
