#!/usr/bin/env Rscript
# Golden values for the multilevel model, GLMM meta-regression, predictions at new
# moderator values, influence diagnostics of meta-regression and permutation tests,
# from R metafor 3.8-1 (issue 18, part B).
#
#   Rscript tests/r/make_reference_mv.R      # from the project root; about 2 minutes
#
# Writes tests/data/metafor_mv_reference.json. Numbers are written with sprintf("%.17g")
# (NA/NaN/Inf as null) and the data sets are fixed (metadat, or built from metadat with
# the rules written below), so re-running with the same R, metafor, lme4 and metadat gives
# a byte-identical file. Random permutation tests use set.seed() through permutest's seed.
#
# Sections
#   datasets          every data set used below, row by row
#   multilevel        rma.mv(yi, vi, random = ~ 1 | study/stratum, method, test, dfs);
#                     predict(); confint() of both sigma2 (profile likelihood, with a tight
#                     uniroot tolerance, control = list(tol = 1e-10)); I^2 per level by the
#                     metafor project's recipe; weights (diagonal and row sums)
#   glmm_regression   rma.glmm(measure = "PLO" | "IRLN", mods = , model = "UM.FS", test)
#                     and predict(newmods = , transf = )
#   predict           rma(yi, vi, mods = , method, test); predict(newmods = , transf = )
#   influence         influence(rma(yi, vi, mods = , method, test))
#   permutest         permutest(rma(...), exact = TRUE) (exact p-values) and
#                     permutest(rma(...), iter = , seed = ) (random permutations)

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(lme4)
})

out_file <- "tests/data/metafor_mv_reference.json"
args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1) out_file <- args[1]

# ------------------------------------------------------------------ shared helpers
# num(), json(), vec(), chr(), from_main(): tests/r/_helpers.R, next to this script
script_dir <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(if (length(script_dir) == 1) script_dir else "tests/r", "_helpers.R"))

# ------------------------------------------------------------------ data sets
n7 <- dat.nielweise2007
n8 <- dat.nielweise2008
p97 <- dat.pritz1997
# each study's two arms as two strata of one study (treated "T", control "C")
arms7 <- data.frame(study = rep(n7$study, 2), arm = rep(c("T", "C"), each = nrow(n7)),
                    year = rep(n7$year, 2), xi = c(n7$ai, n7$ci), ni = c(n7$n1i, n7$n2i))
arms7 <- arms7[order(arms7$study, arms7$arm), ]
arms7$label <- paste0("S", arms7$study, "-", arms7$arm)
arms8 <- data.frame(study = rep(n8$study, 2), arm = rep(c("T", "C"), each = nrow(n8)),
                    year = rep(n8$year, 2), xi = c(n8$x1i, n8$x2i), ti = c(n8$t1i, n8$t2i))
arms8 <- arms8[order(arms8$study, arms8$arm), ]
arms8$label <- paste0("S", arms8$study, "-", arms8$arm)
k11 <- dat.konstantopoulos2011

ds <- list(
  konstantopoulos2011 = list(
    kind = "yivi", note = "metadat dat.konstantopoulos2011: schools (strata) within districts (studies)",
    label = chr(paste0("d", k11$district, "-s", k11$school)), study = chr(k11$district),
    yi = vec(k11$yi), vi = vec(k11$vi)),
  nielweise2007_arms = list(
    kind = "proportion", note = "metadat dat.nielweise2007: the two arms of each trial as two strata of one study",
    label = chr(arms7$label), study = chr(arms7$study), arm = chr(arms7$arm),
    year = vec(arms7$year), events = vec(arms7$xi), n = vec(arms7$ni)),
  nielweise2008_arms = list(
    kind = "rate", note = "metadat dat.nielweise2008: the two arms of each trial as two strata of one study",
    label = chr(arms8$label), study = chr(arms8$study), arm = chr(arms8$arm),
    year = vec(arms8$year), events = vec(arms8$xi), time = vec(arms8$ti)),
  pritz1997_clustered = list(
    kind = "proportion",
    note = "metadat dat.pritz1997 with synthetic clusters: studies of 3, 3, 2, 2 strata and four studies without strata",
    label = chr(p97$authors), study = chr(c(1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 6, 7, 8)),
    events = vec(p97$xi), n = vec(p97$ni)),
  one_cluster = list(
    kind = "proportion", note = "dat.pritz1997 rows 1-5, all in one study",
    label = chr(p97$authors[1:5]), study = chr(rep("1", 5)), events = vec(p97$xi[1:5]),
    n = vec(p97$ni[1:5])),
  small = list(
    kind = "proportion", note = "dat.pritz1997 rows 1-3: two strata of one study and a study without strata",
    label = chr(p97$authors[1:3]), study = chr(c(1, 1, 2)), events = vec(p97$xi[1:3]),
    n = vec(p97$ni[1:3])),
  singletons = list(
    kind = "rate", note = "dat.nielweise2008 treated arms: every study one stratum (components not identifiable)",
    label = chr(paste0("S", n8$study)), study = chr(n8$study), events = vec(n8$x1i),
    time = vec(n8$t1i)),
  debruin2009 = list(
    kind = "proportion", note = "metadat dat.debruin2009: adherence proportions with study-level moderators",
    label = chr(dat.debruin2009$author), scq = vec(dat.debruin2009$scq),
    ethnicity = chr(dat.debruin2009$ethnicity), patients = chr(dat.debruin2009$patients),
    select = chr(dat.debruin2009$select), events = vec(dat.debruin2009$xi),
    n = vec(dat.debruin2009$ni)),
  bench_k30 = list(
    kind = "proportion", note = "dat.nielweise2007 arms of the first 15 trials (k = 30), the benchmark data",
    label = chr(arms7$label[arms7$study <= 15]), study = chr(arms7$study[arms7$study <= 15]),
    arm = chr(arms7$arm[arms7$study <= 15]), year = vec(arms7$year[arms7$study <= 15]),
    events = vec(arms7$xi[arms7$study <= 15]), n = vec(arms7$ni[arms7$study <= 15]))
)
frame_of <- function(name) {
  d <- ds[[name]]
  cols <- d[setdiff(names(d), c("kind", "note"))]
  as.data.frame(lapply(cols, function(v) as.vector(v)), stringsAsFactors = FALSE)
}

btf <- function(measure, ni) {
  switch(measure,
         PR = NULL, IR = NULL,
         PLO = list(f = transf.ilogit, targs = NULL),
         PAS = list(f = transf.iarcsin, targs = NULL),
         PFT = list(f = transf.ipft.hm, targs = list(ni = ni)),
         IRLN = list(f = exp, targs = NULL))
}
escalc_of <- function(name, measure) {
  d <- frame_of(name)
  kind <- ds[[name]]$kind
  if (kind == "yivi") return(d)
  e <- if (kind == "proportion") escalc(measure = measure, xi = events, ni = n, data = d) else
    escalc(measure = measure, xi = events, ti = time, data = d)
  as.data.frame(e)
}

# ------------------------------------------------------------------ multilevel
i2_levels <- function(res) {
  # metafor project, "I^2 for multilevel and multivariate models"
  W <- diag(1 / res$vi, nrow = res$k)
  X <- model.matrix(res)
  P <- W - W %*% X %*% solve(t(X) %*% W %*% X) %*% t(X) %*% W
  100 * res$sigma2 / (sum(res$sigma2) + (res$k - res$p) / sum(diag(P)))
}
ml_cases <- list()
add_ml <- function(name, measure, method, test, dfs = "residual") {
  e <- escalc_of(name, measure)
  res <- suppressWarnings(rma.mv(yi, vi, random = ~ 1 | study / label, data = e,
                                 method = method, test = test, dfs = dfs))
  id <- paste(name, measure, method, if (dfs == "contain") "contain" else test, sep = "-")
  kind <- ds[[name]]$kind
  bt <- if (kind == "yivi") NULL else btf(measure, e$n)
  pr <- predict(res)
  prb <- if (is.null(bt)) pr else predict(res, transf = bt$f, targs = bt$targs)
  fs <- res$fit.stats  # rows ll, dev, AIC, BIC, AICc; columns ML, REML
  col <- if (method == "REML") 2 else 1
  v <- list(
    k = res$k, n_studies = res$s.nlevels[1], b = res$b[1], se = res$se, zval = res$zval,
    pval = res$pval, ci_lb = res$ci.lb, ci_ub = res$ci.ub,
    ddf = if (test == "t" || dfs == "contain") res$ddf[[1]] else NA,
    sigma2 = vec(res$sigma2), sigma2_fixed = I(as.logical(res$vc.fix$sigma2)),
    QE = res$QE, QEp = res$QEp,
    logLik = fs[1, col], deviance = fs[2, col], AIC = fs[3, col], BIC = fs[4, col],
    AICc = fs[5, col], ll_ML = fs[1, 1], ll_REML = fs[1, 2],
    pi_lb_link = pr$pi.lb, pi_ub_link = pr$pi.ub,
    pred = prb$pred, pred_ci_lb = prb$ci.lb, pred_ci_ub = prb$ci.ub,
    pred_pi_lb = prb$pi.lb, pred_pi_ub = prb$pi.ub,
    I2_levels = vec(i2_levels(res)),
    yi = vec(e$yi), vi = vec(e$vi),
    weights = vec(weights(res)), weights_rowsum = vec(weights(res, type = "rowsum"))
  )
  if (test == "z" && dfs == "residual") {
    for (j in 1:2) {
      if (res$vc.fix$sigma2[j]) next
      ci <- suppressWarnings(confint(res, sigma2 = j, control = list(tol = 1e-10)))
      v[[paste0("sigma2_", j, "_ci")]] <- vec(ci$random[1, 2:3])
    }
  }
  ml_cases[[id]] <<- list(
    data = name, measure = measure, method = method, test = test, dfs = dfs,
    call = sprintf("rma.mv(yi, vi, random = ~ 1 | study/label, data = escalc(measure = \"%s\", ...), method = \"%s\", test = \"%s\", dfs = \"%s\")",
                   measure, method, test, dfs),
    values = v)
}
for (me in c("REML", "ML")) {
  for (te in c("z", "t")) {
    add_ml("konstantopoulos2011", "SMD", me, te)
    add_ml("nielweise2007_arms", "PLO", me, te)
    add_ml("nielweise2008_arms", "IRLN", me, te)
  }
  add_ml("konstantopoulos2011", "SMD", me, "t", "contain")
  add_ml("nielweise2007_arms", "PLO", me, "t", "contain")
  add_ml("nielweise2008_arms", "IRLN", me, "t", "contain")
}
for (m in c("PFT", "PAS", "PR")) add_ml("nielweise2007_arms", m, "REML", "z")
add_ml("nielweise2008_arms", "IR", "REML", "z")
for (te in c("z", "t")) add_ml("pritz1997_clustered", "PLO", "REML", te)
add_ml("pritz1997_clustered", "PLO", "REML", "t", "contain")
add_ml("pritz1997_clustered", "PLO", "ML", "z")
add_ml("one_cluster", "PLO", "REML", "z")
add_ml("small", "PLO", "REML", "z")
add_ml("singletons", "IRLN", "REML", "z")
add_ml("bench_k30", "PLO", "REML", "z")
cat("multilevel:", length(ml_cases), "cases\n")

# ------------------------------------------------------------------ moderator helpers
mods_formula <- function(mods) as.formula(paste("~", paste(mods, collapse = " + ")))
new_frame <- function(nm) {
  as.data.frame(lapply(nm, function(v) if (is.character(v)) v else as.numeric(v)),
                stringsAsFactors = FALSE)
}
# the levels the fit saw (so that model.matrix codes newdata the same way)
with_levels <- function(newdata, data, mods) {
  for (m in mods) if (is.character(data[[m]]))
    newdata[[m]] <- factor(newdata[[m]], levels = sort(unique(data[[m]])))
  newdata
}
pred_values <- function(p) {
  list(pred = vec(p$pred), se = vec(p$se), ci_lb = vec(p$ci.lb), ci_ub = vec(p$ci.ub),
       pi_lb = vec(if (is.null(p$pi.lb)) NA else p$pi.lb),
       pi_ub = vec(if (is.null(p$pi.ub)) NA else p$pi.ub))
}
coef_values <- function(r) {
  list(term = chr(rownames(r$beta)), b = vec(r$beta), se = vec(r$se), zval = vec(r$zval),
       pval = vec(r$pval), ci_lb = vec(r$ci.lb), ci_ub = vec(r$ci.ub), QM = r$QM,
       QMp = r$QMp, QMdf = vec(r$QMdf))
}
fit_data <- function(name, measure) {
  d <- frame_of(name)
  for (m in names(d)) if (is.character(d[[m]]) && !(m %in% c("label", "study")))
    d[[m]] <- factor(d[[m]], levels = sort(unique(d[[m]])))
  d
}

# ------------------------------------------------------------------ GLMM regression
glmm_specs <- list(
  list(data = "debruin2009", measure = "PLO", mods = "scq", tests = c("z", "t"),
       new = list(scq = c(5, 15, 25))),
  list(data = "debruin2009", measure = "PLO", mods = c("scq", "ethnicity"), tests = "z",
       new = list(scq = c(5, 25), ethnicity = c("caucasian", "other"))),
  list(data = "nielweise2007_arms", measure = "PLO", mods = "arm", tests = "z",
       new = list(arm = c("C", "T"))),
  list(data = "nielweise2008_arms", measure = "IRLN", mods = "arm", tests = c("z", "t"),
       new = list(arm = c("C", "T"))),
  list(data = "nielweise2008_arms", measure = "IRLN", mods = "year", tests = "z",
       new = list(year = c(1996, 2005)))
)
glmm_cases <- list()
for (s in glmm_specs) for (te in s$tests) {
  d <- fit_data(s$data)
  f <- mods_formula(s$mods)
  r <- if (s$measure == "PLO")
    suppressWarnings(rma.glmm(measure = "PLO", xi = events, ni = n, mods = f, data = d, test = te,
                              retfit = TRUE)) else
    suppressWarnings(rma.glmm(measure = "IRLN", xi = events, ti = time, mods = f, data = d,
                              test = te, retfit = TRUE))
  r0 <- if (s$measure == "PLO")
    suppressWarnings(rma.glmm(measure = "PLO", xi = events, ni = n, data = d, test = te)) else
    suppressWarnings(rma.glmm(measure = "IRLN", xi = events, ti = time, data = d, test = te))
  nd <- with_levels(new_frame(s$new), d, s$mods)
  X <- model.matrix(f, data = nd)[, -1, drop = FALSE]
  bt <- if (s$measure == "PLO") transf.ilogit else exp
  pr <- predict(r, newmods = X)
  prb <- predict(r, newmods = X, transf = bt)
  id <- paste(s$data, s$measure, paste(s$mods, collapse = "+"), te, sep = "-")
  v <- c(coef_values(r), list(
    tau2 = r$tau2, tau2_0 = r0$tau2, QE_Wld = r$QE.Wld, QEp_Wld = r$QEp.Wld, QE_LRT = r$QE.LRT,
    QEp_LRT = r$QEp.LRT, QE_df = r$QE.df, I2 = r$I2, H2 = r$H2, vt = r$vt,
    lme4_logLik = c(logLik(r$res.ML))))
  glmm_cases[[id]] <- list(
    data = s$data, measure = s$measure, mods = chr(s$mods), test = te, newmods = s$new,
    call = sprintf("rma.glmm(measure = \"%s\", mods = %s, model = \"UM.FS\", test = \"%s\"); predict(res, newmods = , transf = )",
                   s$measure, deparse(f), te),
    values = v, predict = pred_values(pr), predict_back = pred_values(prb))
}
cat("glmm regression:", length(glmm_cases), "cases\n")

# ------------------------------------------------------------------ predict (rma.uni)
pred_specs <- list(
  list(data = "debruin2009", measure = "PLO", method = "REML", test = "z", mods = "scq",
       new = list(scq = c(5, 15, 25))),
  list(data = "debruin2009", measure = "PLO", method = "DL", test = "knha",
       mods = c("scq", "ethnicity"), new = list(scq = c(5, 25), ethnicity = c("caucasian", "other"))),
  list(data = "debruin2009", measure = "PFT", method = "REML", test = "z", mods = "scq",
       new = list(scq = c(5, 25))),
  list(data = "debruin2009", measure = "PAS", method = "ML", test = "z", mods = "select",
       new = list(select = c("no", "yes"))),
  list(data = "debruin2009", measure = "PR", method = "REML", test = "knha", mods = "scq",
       new = list(scq = c(5, 25))),
  list(data = "debruin2009", measure = "PLO", method = "FE", test = "z", mods = "scq",
       new = list(scq = c(5, 25))),
  list(data = "debruin2009", measure = "PLO", method = "REML", test = "z",
       mods = c("scq", "select"), new = NULL),
  list(data = "nielweise2008_arms", measure = "IRLN", method = "REML", test = "z", mods = "year",
       new = list(year = c(1996, 2005))),
  list(data = "nielweise2008_arms", measure = "IR", method = "DL", test = "z", mods = "arm",
       new = list(arm = c("C", "T")))
)
pred_cases <- list()
for (s in pred_specs) {
  d <- fit_data(s$data)
  f <- mods_formula(s$mods)
  e <- if (ds[[s$data]]$kind == "proportion") escalc(measure = s$measure, xi = events, ni = n, data = d) else
    escalc(measure = s$measure, xi = events, ti = time, data = d)
  r <- suppressWarnings(rma(yi, vi, mods = f, data = e, method = s$method, test = s$test))
  bt <- btf(s$measure, if (ds[[s$data]]$kind == "proportion") d$n else NULL)
  if (is.null(s$new)) {
    pr <- predict(r)
    prb <- if (is.null(bt)) pr else predict(r, transf = bt$f, targs = bt$targs)
  } else {
    nd <- with_levels(new_frame(s$new), d, s$mods)
    X <- model.matrix(f, data = nd)[, -1, drop = FALSE]
    pr <- predict(r, newmods = X)
    prb <- if (is.null(bt)) pr else predict(r, newmods = X, transf = bt$f, targs = bt$targs)
  }
  id <- paste(s$data, s$measure, s$method, s$test, paste(s$mods, collapse = "+"),
              if (is.null(s$new)) "fitted" else "new", sep = "-")
  pred_cases[[id]] <- list(
    data = s$data, measure = s$measure, method = s$method, test = s$test, mods = chr(s$mods),
    newmods = if (is.null(s$new)) NULL else s$new,
    call = sprintf("predict(rma(yi, vi, mods = %s, method = \"%s\", test = \"%s\"), newmods = , transf = , targs = list(ni = ni))",
                   deparse(f), s$method, s$test),
    values = coef_values(r), predict = pred_values(pr), predict_back = pred_values(prb))
}
cat("predict:", length(pred_cases), "cases\n")

# ------------------------------------------------------------------ influence (rma.uni)
infl_specs <- list(
  list(data = "debruin2009", rows = NULL, measure = "PLO", method = "REML", test = "z", mods = c("scq", "select")),
  list(data = "debruin2009", rows = NULL, measure = "PLO", method = "DL", test = "knha", mods = "scq"),
  list(data = "debruin2009", rows = NULL, measure = "PLO", method = "ML", test = "z", mods = "ethnicity"),
  list(data = "debruin2009", rows = 1:5, measure = "PLO", method = "REML", test = "z", mods = "select"),
  list(data = "nielweise2008_arms", rows = NULL, measure = "IRLN", method = "REML", test = "z", mods = c("arm", "year"))
)
infl_cases <- list()
for (s in infl_specs) {
  d <- fit_data(s$data)
  if (!is.null(s$rows)) d <- d[s$rows, ]
  f <- mods_formula(s$mods)
  e <- if (ds[[s$data]]$kind == "proportion") escalc(measure = s$measure, xi = events, ni = n, data = d) else
    escalc(measure = s$measure, xi = events, ti = time, data = d)
  r <- suppressWarnings(rma(yi, vi, mods = f, data = e, method = s$method, test = s$test))
  inf <- suppressWarnings(influence(r))
  iv <- inf$inf
  id <- paste(s$data, if (is.null(s$rows)) "all" else paste0("rows", min(s$rows), "-", max(s$rows)),
              s$measure, s$method, s$test, paste(s$mods, collapse = "+"), sep = "-")
  infl_cases[[id]] <- list(
    data = s$data, rows = if (is.null(s$rows)) NULL else vec(s$rows), measure = s$measure,
    method = s$method, test = s$test, mods = chr(s$mods),
    call = sprintf("influence(rma(yi, vi, mods = %s, method = \"%s\", test = \"%s\"))",
                   deparse(f), s$method, s$test),
    values = list(
      rstudent = vec(iv$rstudent), dffits = vec(iv$dffits), cook_d = vec(iv$cook.d),
      cov_r = vec(iv$cov.r), tau2_del = vec(iv$tau2.del), QE_del = vec(iv$QE.del),
      hat = vec(iv$hat), weight = vec(iv$weight), inf = I(as.logical(iv$inf == "*")),
      dfbs = lapply(unclass(inf$dfbs)[setdiff(names(inf$dfbs), c("slab", "digits"))], vec)))
}
cat("influence:", length(infl_cases), "cases\n")

# ------------------------------------------------------------------ permutest (rma.uni)
perm_specs <- list(
  list(id = "int-10-REML-z", rows = 1:10, mods = NULL, method = "REML", test = "z", exact = TRUE),
  list(id = "int-11-DL-knha", rows = 1:11, mods = NULL, method = "DL", test = "knha", exact = TRUE),
  list(id = "select-13-REML-z", rows = NULL, mods = "select", method = "REML", test = "z", exact = TRUE),
  list(id = "ethnicity-13-DL-knha", rows = NULL, mods = "ethnicity", method = "DL", test = "knha", exact = TRUE),
  list(id = "scq-7-REML-z", rows = 1:7, mods = "scq", method = "REML", test = "z", exact = TRUE),
  list(id = "scq-7-ML-knha", rows = 1:7, mods = "scq", method = "ML", test = "knha", exact = TRUE),
  list(id = "scq-13-REML-z-random", rows = NULL, mods = "scq", method = "REML", test = "z",
       exact = FALSE, iter = 5000, seed = 20261126),
  list(id = "int-13-REML-z-exact", rows = NULL, mods = NULL, method = "REML", test = "z", exact = TRUE)
)
perm_cases <- list()
for (s in perm_specs) {
  d <- fit_data("debruin2009")
  if (!is.null(s$rows)) d <- d[s$rows, ]
  e <- escalc(measure = "PLO", xi = events, ni = n, data = d)
  r <- if (is.null(s$mods)) rma(yi, vi, data = e, method = s$method, test = s$test) else
    rma(yi, vi, mods = mods_formula(s$mods), data = e, method = s$method, test = s$test)
  pt <- if (s$exact) suppressWarnings(permutest(r, exact = TRUE, progbar = FALSE)) else
    suppressWarnings(permutest(r, iter = s$iter, seed = s$seed, progbar = FALSE))
  qs <- quantile(pt$QM.perm, c(0.5, 0.9, 0.99), na.rm = TRUE, names = FALSE, type = 1)
  perm_cases[[s$id]] <- list(
    rows = if (is.null(s$rows)) NULL else vec(s$rows), measure = "PLO",
    mods = if (is.null(s$mods)) NULL else chr(s$mods), method = s$method, test = s$test,
    exact = s$exact, iter = if (s$exact) NA else s$iter, seed = if (s$exact) NA else s$seed,
    call = sprintf("permutest(rma(yi, vi%s, method = \"%s\", test = \"%s\"), %s)",
                   if (is.null(s$mods)) "" else paste0(", mods = ", deparse(mods_formula(s$mods))),
                   s$method, s$test,
                   if (s$exact) "exact = TRUE" else sprintf("iter = %d, seed = %d", s$iter, s$seed)),
    values = list(pval = vec(pt$pval), QMp = pt$QMp, QM = pt$QM, zval = vec(pt$zval),
                  exact_iter = pt$exact.iter, n_perm = sum(!is.na(pt$QM.perm)),
                  QM_perm_quantiles = vec(qs)))
}
cat("permutest:", length(perm_cases), "cases\n")

# ------------------------------------------------------------------ write
ref <- list(
  source = list(
    script = "tests/r/make_reference_mv.R",
    command = "Rscript tests/r/make_reference_mv.R",
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    lme4 = as.character(packageVersion("lme4")),
    number_format = "%.17g; null for NA/NaN/Inf"
  ),
  datasets = ds,
  multilevel = ml_cases,
  glmm_regression = glmm_cases,
  predict = pred_cases,
  influence = infl_cases,
  permutest = perm_cases
)
writeLines(json(ref), out_file, useBytes = TRUE)
cat("wrote", out_file, "\n")
