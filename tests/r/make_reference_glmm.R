#!/usr/bin/env Rscript
# Golden values for review.meta.glmm: metafor rma.glmm (measure = "PLO" and "IRLN").
#
# Run from the project root:   Rscript tests/r/make_reference_glmm.R
# Writes tests/data/metafor_glmm_reference.json. Numbers are written with %.17g and the
# data sets are fixed (set.seed for the simulated ones), so re-running with the same R,
# metafor and lme4 versions gives a byte-identical file.
#
# Every fit is metafor's default GLMM: rma.glmm(measure=, xi=, ni= | ti=, test=), i.e.
# lme4::glmer(..., nAGQ = 7) with metafor's default control settings. The beyond-metafor
# check for the profile-likelihood CI of tau^2 uses lme4's own profile() on the same
# glmer fit (confint(fit, parm = "theta_", method = "profile"), squared).
#
# What does not agree, and why (see tests/test_meta_glmm_vs_metafor.py for tolerances):
# * lme4 maximises the AGHQ likelihood with derivative-free optimisers (bobyqa, then
#   Nelder-Mead) and stops at about 1e-6 to 1e-5 relative in the parameters; we maximise
#   the same function with analytic gradients to 1e-10. Differences therefore come from
#   lme4's stopping point, not from the model; they stay well below 1e-4 relative except
#   where tau^2 is tiny (then compared in absolute terms).
# * lme4's standard errors come from a finite-difference Hessian (deriv12, step 1e-4);
#   ours from central differences of an analytic gradient. Agreement ~1e-6 relative.
# * lme4's profile() interpolates the profile with splines; its tau^2 limits are good to
#   ~1e-3 relative, so that check uses 2e-3.

suppressMessages({
  library(metafor)
  library(lme4)
  library(metadat)
})

num <- function(x) {
  if (length(x) == 1L && is.na(x)) return("null")
  if (length(x) != 1L) stop("scalar expected")
  if (is.infinite(x)) stop("infinite value")
  sprintf("%.17g", x)
}
vec <- function(x) paste0("[", paste(vapply(x, num, ""), collapse = ", "), "]")
str <- function(s) paste0("\"", gsub("\"", "\\\\\"", s), "\"")
obj <- function(lst, indent = "  ") {
  inner <- paste0(indent, "  ")
  items <- vapply(names(lst), function(nm) {
    v <- lst[[nm]]
    val <- if (is.list(v)) obj(v, inner) else if (is.character(v)) {
      if (length(v) == 1L) str(v) else paste0("[", paste(vapply(v, str, ""), collapse = ", "), "]")
    } else if (is.logical(v)) {
      tolower(as.character(v))
    } else if (length(v) == 1L && !isTRUE(attr(v, "vector"))) num(v) else vec(v)
    paste0(inner, str(nm), ": ", val)
  }, "")
  paste0("{\n", paste(items, collapse = ",\n"), "\n", indent, "}")
}
asvec <- function(x) structure(as.numeric(x), vector = TRUE)

# ------------------------------------------------------------------ data sets
sets <- list()
add_prop <- function(name, xi, ni, note) {
  sets[[name]] <<- list(family = "binomial", measure = "PLO", events = as.numeric(xi),
                        size = as.numeric(ni), note = note)
}
add_rate <- function(name, xi, ti, note) {
  sets[[name]] <<- list(family = "poisson", measure = "IRLN", events = as.numeric(xi),
                        size = as.numeric(ti), note = note)
}

add_prop("pritz1997", dat.pritz1997$xi, dat.pritz1997$ni,
         "metadat dat.pritz1997 (k = 14; one study with events = n)")
add_prop("rare_a1", c(0, 1, 0, 3, 2, 12, 5, 30), c(15, 22, 40, 61, 80, 350, 120, 1500),
         "anchors.md appendix A1 synthetic rare-event data (not real data)")
add_prop("zeros", c(0, 0, 2, 0, 1, 5, 0, 3), c(20, 35, 50, 18, 40, 120, 60, 80),
         "synthetic, four zero-event studies")
add_prop("zero_last", c(4, 2, 7, 1, 0), c(50, 30, 90, 25, 45),
         "synthetic, the last study (R's reference level of the saturated fit) has no events")
add_prop("k2", c(3, 10), c(40, 60), "synthetic, k = 2")
add_prop("homogeneous", c(5, 11, 14, 20), c(100, 200, 300, 400),
         "synthetic, nearly identical proportions: tau^2 = 0 boundary")
add_prop("all_events", c(10, 12, 20, 7, 30), c(10, 14, 20, 9, 33),
         "synthetic, two studies with events = n")
add_prop("nielweise2007_ctrl", dat.nielweise2007$ci, dat.nielweise2007$n2i,
         "metadat dat.nielweise2007 control arms (Stijnen et al. 2010, Table II)")
add_prop("nielweise2007_trt", dat.nielweise2007$ai, dat.nielweise2007$n1i,
         "metadat dat.nielweise2007 treated arms (Stijnen et al. 2010, Table II)")
set.seed(20261126)
n30 <- sample(20:500, 30, replace = TRUE)
x30 <- rbinom(30, n30, plogis(rnorm(30, -2.5, 0.6)))
add_prop("sim_k30", x30, n30, "simulated, set.seed(20261126): k = 30, logit-normal(-2.5, 0.6)")
n50 <- sample(10:300, 50, replace = TRUE)
x50 <- rbinom(50, n50, plogis(rnorm(50, -4, 0.8)))
add_prop("sim_k50_rare", x50, n50, "simulated, same seed stream: k = 50, rare (logit mean -4)")

add_rate("nielweise2008_ctrl", dat.nielweise2008$x2i, dat.nielweise2008$t2i,
         "metadat dat.nielweise2008 control arms (Stijnen et al. 2010, Table VII)")
add_rate("nielweise2008_trt", dat.nielweise2008$x1i, dat.nielweise2008$t1i,
         "metadat dat.nielweise2008 treated arms (Stijnen et al. 2010, Table VII)")
add_rate("rates_rare", c(0, 2, 1, 0, 5, 3, 0, 9), c(120.5, 300, 80, 45.2, 900, 410, 60, 1500),
         "synthetic person-years, three zero-event studies")
t30 <- round(runif(30, 50, 2000), 1)
r30 <- rpois(30, t30 * exp(rnorm(30, log(0.01), 0.5)))
add_rate("rates_sim_k30", r30, t30, "simulated, same seed stream: k = 30, log-normal rates")
n20 <- sample(20:400, 20, replace = TRUE)
x20 <- rbinom(20, n20, plogis(rnorm(20, -1.5, 1.5)))
add_prop("sim_k20_hetero", x20, n20,
         "simulated, same seed stream: k = 20, large heterogeneity (logit sd 1.5)")
add_rate("rates_homogeneous", c(2, 4, 7, 8), c(100, 200, 300, 400),
         "synthetic, nearly identical rates: tau^2 = 0 boundary")

# --------------------------------------------------------------------- fits
fits <- list()
for (nm in names(sets)) {
  s <- sets[[nm]]
  for (test in c("z", "t")) {
    for (level in c(95, 90)) {
      if (level == 90 && test == "t") next
      id <- paste(nm, test, level, sep = "-")
      if (s$family == "binomial") {
        res <- rma.glmm(measure = "PLO", xi = s$events, ni = s$size, test = test,
                        level = level, retfit = TRUE)
        call <- sprintf("rma.glmm(measure=\"PLO\", xi=xi, ni=ni, test=\"%s\", level=%d)", test, level)
      } else {
        res <- rma.glmm(measure = "IRLN", xi = s$events, ti = s$size, test = test,
                        level = level, retfit = TRUE)
        call <- sprintf("rma.glmm(measure=\"IRLN\", xi=xi, ti=ti, test=\"%s\", level=%d)", test, level)
      }
      pr <- predict(res)
      prof <- NA
      if (test == "z" && level == 95) {
        # metafor's stored glmer call cannot be re-evaluated by profile(), so the same
        # model is refitted directly with glmer (identical formula, family and nAGQ)
        pd <- data.frame(xi = s$events, si = s$size, study = factor(seq_along(s$events)))
        ci <- tryCatch(suppressWarnings(suppressMessages({
          g <- if (s$family == "binomial") {
            glmer(cbind(xi, si - xi) ~ 1 + (1 | study), data = pd, family = binomial, nAGQ = 7)
          } else {
            glmer(xi ~ 1 + (1 | study) + offset(log(si)), data = pd, family = poisson, nAGQ = 7)
          }
          confint(g, parm = "theta_", method = "profile", level = 0.95)
        })), error = function(e) NULL)
        if (!is.null(ci)) prof <- list(tau2_low = ci[1, 1]^2, tau2_high = ci[1, 2]^2)
      }
      out <- list(
        data = nm, measure = s$measure, test = test, level = level / 100, call = call,
        k = res$k, estimate = c(res$beta), se = res$se, zval = res$zval, pval = res$pval,
        ci_low = res$ci.lb, ci_high = res$ci.ub, pi_low = pr$pi.lb, pi_high = pr$pi.ub,
        tau2 = res$tau2, QE_Wld = res$QE.Wld, QEp_Wld = res$QEp.Wld, QE_LRT = res$QE.LRT,
        QEp_LRT = res$QEp.LRT, QE_df = res$QE.df, I2 = res$I2, H2 = res$H2, vt = res$vt,
        logLik = res$fit.stats["ll", "ML"], deviance = res$fit.stats["dev", "ML"],
        AIC = res$fit.stats["AIC", "ML"], BIC = res$fit.stats["BIC", "ML"],
        AICc = res$fit.stats["AICc", "ML"],
        # the marginal (AGHQ) log-likelihood; metafor 3.8-1's fit.stats instead use lme4's
        # deviance(), which for a GLMM is the conditional deviance at the modes
        lme4_logLik = c(logLik(res$res.ML))
      )
      if (is.list(prof)) out$profile_tau2 <- prof
      fits[[id]] <- out
    }
  }
}

data_out <- lapply(sets, function(s) list(family = s$family, measure = s$measure,
                                          events = asvec(s$events), size = asvec(s$size),
                                          note = s$note))
source_block <- list(
  script = "tests/r/make_reference_glmm.R",
  call = "rma.glmm(measure = 'PLO' | 'IRLN', xi, ni | ti, test, level) with metafor defaults (lme4::glmer, nAGQ = 7); predict() for pi; confint(glmer fit, parm = 'theta_', method = 'profile') for profile_tau2",
  R = R.version.string,
  metafor = as.character(packageVersion("metafor")),
  lme4 = as.character(packageVersion("lme4")),
  metadat = as.character(packageVersion("metadat"))
)
json <- obj(list(source = source_block, datasets = data_out, fits = fits), "")
writeLines(json, "tests/data/metafor_glmm_reference.json")
cat("wrote", length(fits), "fits\n")
