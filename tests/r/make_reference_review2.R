#!/usr/bin/env Rscript
# Golden values for the second test review, tests/data/review_stroke (stroke in the control arms
# of the warfarin trials of Hart et al. 1999, metadat's dat.hart1999), from R metafor 3.8-1.
#
#   Rscript tests/r/make_reference_review2.R     # from the project root; a few seconds
#
# Writes tests/data/review_stroke_reference.json. The numbers are read from the review's own
# extraction tables (tests/data/review_stroke/extraction/outcomes.csv and studies.csv), after
# checking that every count and patient-year there is dat.hart1999's control arm (x2i, n2i, t2i)
# and every covariate its prevtype, compgrp, year and trinr: the review's data are the published
# data set. One study, SPINAF, gives its stroke rate as an estimate with a 95% CI (rounded to two
# decimals) instead of patient-years; it enters the rate analysis as
#   yi = log(rate), vi = ((log(ci_high) - log(ci_low)) / (2 * qnorm(0.975)))^2
# (the interval taken as symmetric on the log scale, Cochrane Handbook ch. 6), the other five as
# escalc(measure = "IRLN"). Every analysis follows the review's protocol.yaml:
#
#   stroke_rate: rma(yi, vi, method = "REML") on the log rate; subgroups by prevention (each
#                group fitted on its own, compared with rma(b, sei = se, method = "FE"));
#                meta-regression on year; leave1out; regtest (Egger, predictor sei).
#   stroke_risk: escalc(measure = "PLO") and rma(method = "REML"); subgroups by comparator;
#                leave1out; the method sensitivity (rma.glmm ML, PLO, PAS, PFT back-transformed
#                at the harmonic mean n, PR, each REML); refit without secondary prevention.
#
# Numbers are written with sprintf("%.17g") (NA/NaN/Inf as null); re-running gives a
# byte-identical file.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(lme4)
})

review_dir <- "tests/data/review_stroke"
out_file <- "tests/data/review_stroke_reference.json"

# ------------------------------------------------------------------ shared helpers
# num(), json(), vec(), chr(), from_main(): tests/r/_helpers.R, next to this script
script_dir <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(if (length(script_dir) == 1) script_dir else "tests/r", "_helpers.R"))

# ------------------------------------------------------------------ the review's data
studies <- read.csv(file.path(review_dir, "extraction", "studies.csv"), stringsAsFactors = FALSE,
                    colClasses = c(pmid = "character", report_pmids = "character"))
outcomes <- read.csv(file.path(review_dir, "extraction", "outcomes.csv"),
                     stringsAsFactors = FALSE, colClasses = c(pmid = "character"))
value_of <- function(sid, field) {
  v <- outcomes$value[outcomes$study_id == sid & outcomes$field == field]
  if (length(v) == 0) NA_real_ else as.numeric(v)
}
d <- data.frame(
  study_id = studies$study_id, label = studies$label, year = studies$year,
  prevention = studies$prevention, comparator = studies$comparator,
  n = sapply(studies$study_id, value_of, field = "n_patients"),
  x = sapply(studies$study_id, value_of, field = "n_stroke"),
  t = sapply(studies$study_id, value_of, field = "patient_years"),
  stringsAsFactors = FALSE
)

# the review's numbers are dat.hart1999's control arms, study by study
h <- dat.hart1999
key <- tolower(paste0(h$study, h$year))
m <- match(d$study_id, key)
stopifnot(!anyNA(m), all(d$x == h$x2i[m]), all(d$n == h$n2i[m]), all(d$year == h$year[m]),
          all(d$prevention == h$prevtype[m]), all(d$comparator == h$compgrp[m]),
          all(studies$inr_target == h$trinr[m]),
          all(is.na(d$t) | d$t == h$t2i[m]))

est <- outcomes[outcomes$field == "stroke_rate" & nzchar(outcomes$scale), ]
stopifnot(nrow(est) == 1, est$scale == "per 100 person-years", est$ci_level == 0.95)
z <- qnorm(0.975)

# ------------------------------------------------------------------ helpers
pooled <- function(res, transf) {
  p <- predict(res, transf = transf)
  list(k = res$k, b = c(res$b), se = res$se, zval = res$zval, pval = res$pval,
       ci_lb = res$ci.lb, ci_ub = res$ci.ub, tau2 = res$tau2, I2 = res$I2, H2 = res$H2,
       QE = res$QE, QEp = res$QEp,
       estimate = p$pred, ci_low = p$ci.lb, ci_high = p$ci.ub, pi_low = p$pi.lb,
       pi_high = p$pi.ub)
}
subgroups <- function(es, by, transf) {
  grp <- sort(unique(es[[by]]))
  fits <- lapply(grp, function(g) rma(yi, vi, data = es[es[[by]] == g, ], method = "REML"))
  b <- sapply(fits, function(f) c(f$b)); se <- sapply(fits, function(f) f$se)
  comp <- rma(b, sei = se, method = "FE")
  list(call = "per group: rma(yi, vi, method = \"REML\"); then rma(b, sei = se, method = \"FE\")",
       groups = chr(grp), k = vec(sapply(fits, function(f) f$k)), b = vec(b), se = vec(se),
       tau2 = vec(sapply(fits, function(f) f$tau2)),
       estimate = vec(transf(b)), ci_low = vec(transf(b - z * se)),
       ci_high = vec(transf(b + z * se)), Q_between = comp$QE, Q_between_p = comp$QEp)
}
loo <- function(res, labels, transf) {
  l <- leave1out(res, transf = transf)
  list(left_out = chr(labels), estimate = vec(l$estimate), ci_low = vec(l$ci.lb),
       ci_high = vec(l$ci.ub), tau2 = vec(l$tau2), I2 = vec(l$I2), Q = vec(l$Q))
}

# ------------------------------------------------------------------ stroke_rate
has_t <- !is.na(d$t)
rate <- escalc(measure = "IRLN", xi = x, ti = t, data = d[has_t, ])
spinaf <- d[d$study_id == est$study_id, ]
spinaf$yi <- log(est$value / 100)
spinaf$vi <- ((log(est$ci_high / 100) - log(est$ci_low / 100)) / (2 * z))^2
rate_all <- rbind(as.data.frame(rate)[, c(names(d), "yi", "vi")], spinaf[, c(names(d), "yi", "vi")])
rate_all <- rate_all[match(d$study_id, rate_all$study_id), ]  # the order of studies.csv
res_rate <- rma(yi, vi, data = rate_all, method = "REML", test = "z")
mod_year <- rma(yi, vi, mods = ~ year, data = rate_all, method = "REML", test = "z")
egger <- regtest(res_rate, predictor = "sei")

stroke_rate <- list(
  call = paste("escalc(measure = \"IRLN\", xi, ti) for counts; SPINAF yi = log(rate),",
               "vi = ((log(hi) - log(lo)) / (2 qnorm(.975)))^2; rma(yi, vi, method = \"REML\")"),
  studies = list(label = chr(rate_all$label), yi = vec(rate_all$yi), vi = vec(rate_all$vi)),
  pooled = pooled(res_rate, exp),
  subgroups = list(prevention = subgroups(rate_all, "prevention", exp)),
  moderators = list(year = list(
    call = "rma(yi, vi, mods = ~ year, method = \"REML\")",
    coef = chr(rownames(mod_year$b)), b = vec(mod_year$b), se = vec(mod_year$se),
    zval = vec(mod_year$zval), pval = vec(mod_year$pval), ci_lb = vec(mod_year$ci.lb),
    ci_ub = vec(mod_year$ci.ub), tau2 = mod_year$tau2, QM = mod_year$QM, QMp = mod_year$QMp,
    QE = mod_year$QE, QEp = mod_year$QEp, R2 = mod_year$R2, k = mod_year$k)),
  leave1out = loo(res_rate, rate_all$label, exp),
  egger = list(call = "regtest(res, predictor = \"sei\")", zval = egger$zval, pval = egger$pval,
               limit_estimate = egger$est)
)

# ------------------------------------------------------------------ stroke_risk
risk <- escalc(measure = "PLO", xi = x, ni = n, data = d)
res_risk <- rma(yi, vi, data = risk, method = "REML", test = "z")
sens_row <- function(res, transf, targs = NULL) {
  p <- if (is.null(targs)) predict(res, transf = transf) else predict(res, transf = transf, targs = targs)
  list(k = res$k, estimate = p$pred, ci_low = p$ci.lb, ci_high = p$ci.ub, pi_low = p$pi.lb,
       pi_high = p$pi.ub, tau2 = res$tau2, I2 = res$I2)
}
glmm <- rma.glmm(measure = "PLO", xi = x, ni = n, data = d, method = "ML")
pas <- rma(measure = "PAS", xi = x, ni = n, data = d, method = "REML")
pft <- rma(measure = "PFT", xi = x, ni = n, data = d, method = "REML")
pr <- rma(measure = "PR", xi = x, ni = n, data = d, method = "REML")
primary <- rma(yi, vi, data = risk[risk$prevention != "secondary", ], method = "REML")

stroke_risk <- list(
  call = "escalc(measure = \"PLO\", xi, ni); rma(yi, vi, method = \"REML\")",
  studies = list(label = chr(risk$label), yi = vec(risk$yi), vi = vec(risk$vi)),
  pooled = pooled(res_risk, transf.ilogit),
  subgroups = list(comparator = subgroups(risk, "comparator", transf.ilogit)),
  leave1out = loo(res_risk, risk$label, transf.ilogit),
  methods = list(
    GLMM = c(list(call = "rma.glmm(measure = \"PLO\", method = \"ML\")"),
             sens_row(glmm, transf.ilogit)),
    PLO = sens_row(res_risk, transf.ilogit),
    PAS = sens_row(pas, transf.iarcsin),
    PFT = c(list(call = "predict(transf = transf.ipft.hm, targs = list(ni = n))"),
            sens_row(pft, transf.ipft.hm, list(ni = d$n))),
    PR = sens_row(pr, NULL)
  ),
  exclude_sets = list(primary_only = c(
    list(call = "rma(yi, vi, subset = prevention != \"secondary\", method = \"REML\")",
         left_out = chr(risk$label[risk$prevention == "secondary"])),
    pooled(primary, transf.ilogit)))
)

ref <- list(
  source = list(
    R = R.version.string, metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")), lme4 = as.character(packageVersion("lme4")),
    data = "metadat dat.hart1999, control arms (x2i, n2i, t2i, prevtype, compgrp, year, trinr)",
    review = review_dir
  ),
  analyses = list(stroke_rate = stroke_rate, stroke_risk = stroke_risk)
)
writeLines(json(ref), out_file, useBytes = TRUE)
cat("wrote", out_file, "\n")
