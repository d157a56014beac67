#!/usr/bin/env Rscript
# Golden values for review.meta from R metafor 3.8-1 (inverse-variance part; the GLMM
# reference is made by make_reference_glmm.R).
#
#   Rscript tests/r/make_reference.R            # writes tests/data/metafor_reference.json
#
# Numbers are written with sprintf("%.17g") by the JSON writer of _helpers.R, so that
# regenerating unchanged numbers gives a byte-identical file. NaN/NA/Inf are written as null.
# A combination metafor refuses is recorded as {"error": "<metafor's message>"}, so the
# Python tests check that the engine refuses it too.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
})

out_file <- "tests/data/metafor_reference.json"
args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1) out_file <- args[1]

# ------------------------------------------------------------------ shared helpers
# num(), json(), vec(), chr(), from_main(): tests/r/_helpers.R, next to this script
script_dir <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(if (length(script_dir) == 1) script_dir else "tests/r", "_helpers.R"))

# ------------------------------------------------------------------ data sets
set.seed(20261126)
sim_prop <- function(k) {
  ni <- sample(20:500, k, replace = TRUE)
  pi <- plogis(rnorm(k, -2.5, 0.6))
  xi <- rbinom(k, ni, pi)
  data.frame(label = sprintf("S%02d", seq_len(k)), xi = xi, ni = ni,
             x = round(runif(k, 6, 60), 1), g = sample(c("A", "B", "C"), k, replace = TRUE))
}
sim_rate <- function(k) {
  ti <- round(runif(k, 50, 2000), 1)
  lam <- exp(rnorm(k, log(0.02), 0.5))
  xi <- rpois(k, lam * ti)
  data.frame(label = sprintf("R%02d", seq_len(k)), xi = xi, ti = ti,
             x = round(runif(k, 6, 60), 1), g = sample(c("A", "B"), k, replace = TRUE))
}
p <- dat.pritz1997
prop_sets <- list(
  pritz1997 = data.frame(label = p$authors, xi = p$xi, ni = p$ni),
  # zero-event studies and one study with events = n
  zeros = data.frame(label = paste("Z", 1:7), xi = c(0, 0, 2, 1, 0, 4, 18),
                     ni = c(20, 35, 50, 18, 40, 60, 18)),
  # rare events, very different n (anchors.md appendix A1; synthetic)
  rare = data.frame(label = paste("Rare", 1:8), xi = c(0, 1, 0, 3, 2, 12, 5, 30),
                    ni = c(15, 22, 40, 61, 80, 350, 120, 1500)),
  allzero1 = data.frame(label = paste("A", 1:5), xi = c(0, 0, 0, 0, 3),
                        ni = c(25, 30, 40, 22, 60)),
  k2 = data.frame(label = c("First", "Second"), xi = c(4, 9), ni = c(30, 55)),
  k5 = data.frame(label = paste("K", 1:5), xi = c(12, 7, 20, 3, 15), ni = c(80, 45, 150, 40, 90)),
  k30 = sim_prop(30),
  k50 = sim_prop(50)
)
rate_sets <- list(
  rates8 = data.frame(label = paste("P", 1:8), xi = c(3, 0, 7, 12, 2, 5, 1, 9),
                      ti = c(150.5, 80, 420, 610.2, 95, 300, 60, 510)),
  rates30 = sim_rate(30)
)

prop_measures <- c("PR", "PLO", "PAS", "PFT")
rate_measures <- c("IR", "IRLN")
methods <- c("FE", "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB")
tests <- c("z", "knha")

btf <- function(measure, ni) {
  switch(measure,
         PR = NULL, IR = NULL,
         PLO = list(f = transf.ilogit, targs = NULL),
         PAS = list(f = transf.iarcsin, targs = NULL),
         PFT = list(f = transf.ipft.hm, targs = list(ni = ni)),
         IRLN = list(f = exp, targs = NULL))
}

fit_case <- function(d, kind, measure, method, test) {
  if (kind == "proportion") {
    call <- sprintf("rma(measure=\"%s\", xi=xi, ni=ni, data=d, method=\"%s\", test=\"%s\")",
                    measure, method, test)
    res <- try(suppressWarnings(rma(measure = measure, xi = xi, ni = ni, data = d,
                                    method = method, test = test)), silent = TRUE)
  } else {
    call <- sprintf("rma(measure=\"%s\", xi=xi, ti=ti, data=d, method=\"%s\", test=\"%s\")",
                    measure, method, test)
    res <- try(suppressWarnings(rma(measure = measure, xi = xi, ti = ti, data = d,
                                    method = method, test = test)), silent = TRUE)
  }
  list(call = call, res = res)
}

values_of <- function(res, d, kind, measure) {
  bt <- btf(measure, if (kind == "proportion") d$ni else NULL)
  pr <- if (is.null(bt)) predict(res) else predict(res, transf = bt$f, targs = bt$targs)
  prl <- predict(res)
  pri <- predict(res, pi.type = "riley")
  prib <- if (is.null(bt)) pri else predict(res, pi.type = "riley", transf = bt$f, targs = bt$targs)
  v <- list(
    k = res$k, b = res$b[1], se = res$se, zval = res$zval, pval = res$pval,
    ci_lb = res$ci.lb, ci_ub = res$ci.ub,
    tau2 = res$tau2, se_tau2 = res$se.tau2, I2 = res$I2, H2 = res$H2,
    QE = res$QE, QEp = res$QEp,
    pi_lb_link = prl$pi.lb, pi_ub_link = prl$pi.ub,
    pred = pr$pred, pred_ci_lb = pr$ci.lb, pred_ci_ub = pr$ci.ub,
    pred_pi_lb = pr$pi.lb, pred_pi_ub = pr$pi.ub,
    riley_pi_lb_link = pri$pi.lb, riley_pi_ub_link = pri$pi.ub,
    riley_pred_pi_lb = prib$pi.lb, riley_pred_pi_ub = prib$pi.ub,
    logLik = as.numeric(logLik(res)), deviance = deviance(res), AIC = AIC(res),
    BIC = BIC(res), AICc = fitstats(res)[5, 1],
    yi = vec(res$yi), vi = vec(res$vi), weights = vec(weights(res))
  )
  if (res$method != "FE") {
    ci <- try(suppressWarnings(confint(res, type = "QP")), silent = TRUE)
    if (!inherits(ci, "try-error")) {
      v$tau2_qp_lb <- ci$random[1, 2]; v$tau2_qp_ub <- ci$random[1, 3]
      v$I2_qp_lb <- ci$random[3, 2]; v$I2_qp_ub <- ci$random[3, 3]
    }
    if (res$method %in% c("ML", "REML")) {
      ci <- try(suppressWarnings(confint(res, type = "PL")), silent = TRUE)
      if (!inherits(ci, "try-error")) {
        v$tau2_pl_lb <- ci$random[1, 2]; v$tau2_pl_ub <- ci$random[1, 3]
      }
    }
  }
  v
}

cases <- list()
add_grid <- function(sets, kind, measures) {
  for (dn in names(sets)) for (m in measures) for (me in methods) for (te in tests) {
    d <- sets[[dn]]
    f <- fit_case(d, kind, m, me, te)
    id <- paste(dn, m, me, te, sep = "-")
    case <- list(id = id, dataset = dn, kind = kind, measure = m, method = me, test = te,
                 level = 0.95, call = f$call)
    if (inherits(f$res, "try-error")) {
      case$error <- trimws(sub("^Error[^:]*: ", "", as.character(f$res)))
    } else {
      case$values <- values_of(f$res, d, kind, m)
    }
    cases[[length(cases) + 1]] <<- case
  }
}
add_grid(prop_sets, "proportion", prop_measures)
add_grid(rate_sets, "rate", rate_measures)

# ------------------------------------------------------------------ diagnostics
diag_specs <- list(
  list(dataset = "pritz1997", kind = "proportion", measure = "PLO", method = "REML", test = "z"),
  list(dataset = "k30", kind = "proportion", measure = "PLO", method = "DL", test = "knha"),
  list(dataset = "k30", kind = "proportion", measure = "PFT", method = "REML", test = "z"),
  list(dataset = "rare", kind = "proportion", measure = "PLO", method = "PM", test = "z"),
  list(dataset = "rates30", kind = "rate", measure = "IRLN", method = "REML", test = "z"),
  list(dataset = "k50", kind = "proportion", measure = "PAS", method = "ML", test = "knha")
)
diagnostics <- list()
for (s in diag_specs) {
  d <- if (s$kind == "proportion") prop_sets[[s$dataset]] else rate_sets[[s$dataset]]
  res <- fit_case(d, s$kind, s$measure, s$method, s$test)$res
  l1 <- leave1out(res)
  inf <- influence(res)
  infv <- inf$inf
  cu <- cumul(res)
  rg <- list()
  for (pred in c("sei", "vi", "ninv", "sqrtninv")) {
    for (model in c("rma", "lm")) {
      r <- try(suppressWarnings(regtest(res, model = model, predictor = pred)), silent = TRUE)
      if (inherits(r, "try-error")) next
      rg[[paste(pred, model, sep = "-")]] <- list(
        predictor = pred, model = model, zval = r$zval, pval = r$pval,
        dfs = if (is.null(r$dfs)) NA else r$dfs, est = r$est, ci_lb = r$ci.lb, ci_ub = r$ci.ub)
    }
  }
  entry <- list(
    id = paste(s$dataset, s$measure, s$method, s$test, sep = "-"),
    dataset = s$dataset, kind = s$kind, measure = s$measure, method = s$method, test = s$test,
    call = "leave1out(res); influence(res); cumul(res); regtest(res, model=, predictor=)",
    leave1out = list(estimate = vec(l1$estimate), se = vec(l1$se),
                     zval = vec(if (is.null(l1$zval)) l1$tval else l1$zval),  # tval under knha
                     pval = vec(l1$pval), ci_lb = vec(l1$ci.lb), ci_ub = vec(l1$ci.ub),
                     Q = vec(l1$Q), Qp = vec(l1$Qp), tau2 = vec(l1$tau2), I2 = vec(l1$I2),
                     H2 = vec(l1$H2)),
    influence = list(rstudent = vec(infv$rstudent), dffits = vec(infv$dffits),
                     cook_d = vec(infv$cook.d), cov_r = vec(infv$cov.r),
                     tau2_del = vec(infv$tau2.del), QE_del = vec(infv$QE.del),
                     hat = vec(infv$hat), weight = vec(infv$weight),
                     dfbs = vec(inf$dfbs$intrcpt), inf = I(as.logical(infv$inf == "*"))),
    cumul = list(estimate = vec(cu$estimate), se = vec(cu$se), ci_lb = vec(cu$ci.lb),
                 ci_ub = vec(cu$ci.ub), tau2 = vec(cu$tau2), I2 = vec(cu$I2), Q = vec(cu$Q)),
    regtest = rg
  )
  diagnostics[[length(diagnostics) + 1]] <- entry
}

# ------------------------------------------------------------------ moderators
mod_specs <- list(
  list(dataset = "k30", kind = "proportion", measure = "PLO", method = "REML", test = "z"),
  list(dataset = "k30", kind = "proportion", measure = "PLO", method = "DL", test = "knha"),
  list(dataset = "k50", kind = "proportion", measure = "PFT", method = "ML", test = "z"),
  list(dataset = "rates30", kind = "rate", measure = "IRLN", method = "REML", test = "knha")
)
moderators <- list()
for (s in mod_specs) {
  d <- if (s$kind == "proportion") prop_sets[[s$dataset]] else rate_sets[[s$dataset]]
  es <- if (s$kind == "proportion") escalc(measure = s$measure, xi = xi, ni = ni, data = d) else
    escalc(measure = s$measure, xi = xi, ti = ti, data = d)
  for (mods in list("x", "g", c("x", "g"))) {
    f <- as.formula(paste("~", paste(ifelse(mods == "g", "factor(g)", mods), collapse = " + ")))
    r <- suppressWarnings(rma(yi, vi, mods = f, data = es, method = s$method, test = s$test))
    moderators[[length(moderators) + 1]] <- list(
      id = paste(s$dataset, s$measure, s$method, s$test, paste(mods, collapse = "+"), sep = "-"),
      dataset = s$dataset, kind = s$kind, measure = s$measure, method = s$method,
      test = s$test, mods = I(mods),
      call = sprintf("rma(yi, vi, mods = %s, data = es, method = \"%s\", test = \"%s\")",
                     deparse(f), s$method, s$test),
      values = list(b = vec(r$b), se = vec(r$se), zval = vec(r$zval), pval = vec(r$pval),
                    ci_lb = vec(r$ci.lb), ci_ub = vec(r$ci.ub), QM = r$QM, QMp = r$QMp,
                    QMdf = vec(r$QMdf), QE = r$QE, QEp = r$QEp, tau2 = r$tau2, I2 = r$I2,
                    H2 = r$H2, R2 = if (is.null(r$R2)) NA else r$R2)
    )
  }
}

# ------------------------------------------------------------------ subgroups, separate tau^2
# Each subgroup fitted on its own; the subgroup estimates compared with an FE model
# (metafor's documented way to test subgroup differences without assuming one tau^2).
subgroup_cases <- list()
for (s in list(list(dataset = "k30", kind = "proportion", measure = "PLO", method = "REML", test = "z"),
               list(dataset = "k50", kind = "proportion", measure = "PFT", method = "DL", test = "knha"),
               list(dataset = "rates30", kind = "rate", measure = "IRLN", method = "REML", test = "z"))) {
  d <- if (s$kind == "proportion") prop_sets[[s$dataset]] else rate_sets[[s$dataset]]
  es <- if (s$kind == "proportion") escalc(measure = s$measure, xi = xi, ni = ni, data = d) else
    escalc(measure = s$measure, xi = xi, ti = ti, data = d)
  grp <- sort(unique(d$g))
  fits <- lapply(grp, function(gg) rma(yi, vi, data = es, subset = g == gg,
                                       method = s$method, test = s$test))
  b <- sapply(fits, function(f) c(f$b)); se <- sapply(fits, function(f) f$se)
  comp <- rma(b, sei = se, method = "FE")
  subgroup_cases[[length(subgroup_cases) + 1]] <- list(
    id = paste(s$dataset, s$measure, s$method, s$test, "g", sep = "-"), dataset = s$dataset,
    kind = s$kind, measure = s$measure, method = s$method, test = s$test, groups = I(grp),
    call = "per group: rma(yi, vi, subset = g == gg, method=, test=); then rma(b, sei = se, method = \"FE\")",
    values = list(b = vec(b), se = vec(se), tau2 = vec(sapply(fits, function(f) f$tau2)),
                  Q_between = comp$QE, Q_between_p = comp$QEp))
}

# ------------------------------------------------------------------ other levels
levels_cases <- list()
for (s in list(list(dataset = "pritz1997", kind = "proportion", measure = "PLO"),
               list(dataset = "rates8", kind = "rate", measure = "IRLN"))) {
  d <- if (s$kind == "proportion") prop_sets[[s$dataset]] else rate_sets[[s$dataset]]
  for (me in c("DL", "REML")) for (te in tests) for (lev in c(90, 99)) {
    res <- if (s$kind == "proportion")
      rma(measure = s$measure, xi = xi, ni = ni, data = d, method = me, test = te, level = lev) else
      rma(measure = s$measure, xi = xi, ti = ti, data = d, method = me, test = te, level = lev)
    pr <- predict(res)
    ci <- confint(res)
    levels_cases[[length(levels_cases) + 1]] <- list(
      id = paste(s$dataset, s$measure, me, te, lev, sep = "-"), dataset = s$dataset,
      kind = s$kind, measure = s$measure, method = me, test = te, level = lev / 100,
      call = sprintf("rma(measure=\"%s\", ..., method=\"%s\", test=\"%s\", level=%d); predict(res); confint(res)",
                     s$measure, me, te, lev),
      values = list(ci_lb = res$ci.lb, ci_ub = res$ci.ub, pi_lb_link = pr$pi.lb,
                    pi_ub_link = pr$pi.ub, tau2_qp_lb = ci$random[1, 2],
                    tau2_qp_ub = ci$random[1, 3]))
  }
}

datasets <- list()
for (dn in names(prop_sets)) {
  d <- prop_sets[[dn]]
  e <- list(kind = "proportion", label = I(as.character(d$label)), events = vec(d$xi),
            n = vec(d$ni))
  if ("x" %in% names(d)) { e$x <- vec(d[["x"]]); e$g <- I(as.character(d[["g"]])) }
  datasets[[dn]] <- e
}
for (dn in names(rate_sets)) {
  d <- rate_sets[[dn]]
  e <- list(kind = "rate", label = I(as.character(d$label)), events = vec(d$xi),
            time = vec(d$ti))
  if ("x" %in% names(d)) { e$x <- vec(d[["x"]]); e$g <- I(as.character(d[["g"]])) }
  datasets[[dn]] <- e
}

ref <- list(
  source = list(
    script = "tests/r/make_reference.R",
    command = "Rscript tests/r/make_reference.R",
    call = "rma(measure=, xi=, ni= | ti=, method=, test=); predict(res, transf=, targs=list(ni=ni)); predict(res, pi.type=\"riley\"); confint(res, type=\"QP\"|\"PL\")",
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    seed = 20261126,
    number_format = "%.17g; null for NA/NaN/Inf"
  ),
  grid = list(
    proportion_datasets = I(names(prop_sets)), rate_datasets = I(names(rate_sets)),
    proportion_measures = I(prop_measures), rate_measures = I(rate_measures),
    methods = I(methods), tests = I(tests)
  ),
  datasets = datasets,
  cases = cases,
  diagnostics = diagnostics,
  moderators = moderators,
  levels = levels_cases,
  subgroups = subgroup_cases
)
writeLines(json(ref), out_file, useBytes = TRUE)
cat("wrote", out_file, "with", length(cases), "cases\n")
