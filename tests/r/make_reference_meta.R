#!/usr/bin/env Rscript
# Golden values of R meta (Schwarzer), the reference for the engine's R meta conventions
# (pi_method "V"/"HTS", i2_method "Q", study_ci codes) and for pool_as_r_meta().
#
# NEEDS R meta, which is not a Debian package (and CRAN may be out of reach): install it from
# its source into a private library, one library per meta version, e.g.
#   R CMD INSTALL -l /tmp/rlib-meta8 meta-8.2-1     (needs CompQuadForm; meta 8.3 and later
#                                                     also need metabook)
# then, from the project root, once per library:
#   R_LIBS=/tmp/rlib-meta8 Rscript tests/r/make_reference_meta.R
# which writes tests/data/meta_reference_<meta version>.json (the version is read from the
# installed package). `make reference META_LIBS="/tmp/rlib-meta8 /tmp/rlib-meta7"` does both.
# Data sets: metadat (dat.pritz1997, dat.debruin2009, dat.hart1999 arms) and the simulated
# sets of tests/data/metafor_reference.json. Numbers written with sprintf("%.17g").

suppressPackageStartupMessages({
  library(meta)
  library(metadat)
  library(jsonlite)
})
ver <- packageDescription("meta")$Version
out_file <- sprintf("tests/data/meta_reference_%s.json", ver)
args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1) out_file <- args[1]
settings.meta("reset")

# ------------------------------------------------------------------ shared helpers
# num(), json(), vec(), chr(), from_main(): tests/r/_helpers.R, next to this script
script_dir <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(if (length(script_dir) == 1) script_dir else "tests/r", "_helpers.R"))

p <- dat.pritz1997; db <- dat.debruin2009; h <- dat.hart1999
prop_sets <- list(
  pritz1997 = data.frame(label = p$authors, xi = p$xi, ni = p$ni),
  debruin2009 = data.frame(label = db$author, xi = db$xi, ni = db$ni),
  rare = from_main("rare"), zeros = from_main("zeros"), k2 = from_main("k2"),
  k30 = from_main("k30"))
rate_sets <- list(
  hart1999_warfarin = data.frame(label = h$study, xi = h$x1i, ti = h$t1i),
  hart1999_control = data.frame(label = h$study, xi = h$x2i, ti = h$t2i),
  rates8 = from_main("rates8"), rates30 = from_main("rates30"))

g1 <- function(x) if (is.null(x) || length(x) == 0) NA else x[1]
pooled <- function(m) list(
  method = m$method, method_tau = m$method.tau, method_predict = g1(m$method.predict),
  method_I2 = m$method.I2, method_ci = m$method.ci, method_random_ci = g1(m$method.random.ci),
  method_tau_ci = g1(m$method.tau.ci),
  sm = m$sm, k = m$k,
  TE_random = g1(m$TE.random), seTE_random = g1(m$seTE.random),
  lower_random = g1(m$lower.random), upper_random = g1(m$upper.random),
  pval_random = g1(m$pval.random),
  TE_common = g1(m$TE.common), seTE_common = g1(m$seTE.common),
  lower_common = g1(m$lower.common), upper_common = g1(m$upper.common),
  lower_predict = g1(m$lower.predict), upper_predict = g1(m$upper.predict),
  df_predict = g1(m$df.predict), seTE_predict = g1(m$seTE.predict),
  tau2 = g1(m$tau2), lower_tau2 = g1(m$lower.tau2), upper_tau2 = g1(m$upper.tau2),
  Q = g1(m$Q), df_Q = g1(m$df.Q), pval_Q = g1(m$pval.Q), I2 = m$I2, H = m$H,
  TE = vec(m$TE), seTE = vec(m$seTE), lower = vec(m$lower), upper = vec(m$upper),
  # the study rows back-transformed (plogis / exp), so that -Inf and Inf (0 and 1) survive
  TE_bt = vec(bt(m$TE, m$sm)), lower_bt = vec(bt(m$lower, m$sm)),
  upper_bt = vec(bt(m$upper, m$sm)))
bt <- function(x, sm) switch(sm, PLOGIT = plogis(x), IRLN = exp(x), stop("sm ", sm))

cases <- list()
add <- function(id, dataset, kind, call, m, opts = list()) {
  cases[[length(cases) + 1]] <<- list(id = id, dataset = dataset, kind = kind, call = call,
                                      options = opts, values = pooled(m))
}
for (dn in names(prop_sets)) {
  d <- prop_sets[[dn]]
  add(paste(dn, "metaprop-defaults", sep = "-"), dn, "proportion",
      "metaprop(xi, ni, studlab = label, data = d)",
      metaprop(xi, ni, studlab = label, data = d))
  add(paste(dn, "metaprop-Inverse-REML-HK-HTS", sep = "-"), dn, "proportion",
      "metaprop(xi, ni, data = d, method = \"Inverse\", method.tau = \"REML\", method.random.ci = \"HK\", method.predict = \"HTS\")",
      metaprop(xi, ni, studlab = label, data = d, method = "Inverse", method.tau = "REML",
               method.random.ci = "HK", method.predict = "HTS"),
      list(method = "REML", test = "knha", pi_method = "HTS", i2_method = "Q"))
  if (!startsWith(ver, "7.")) add(paste(dn, "metaprop-Inverse-DL-HK-V", sep = "-"), dn, "proportion",
      "metaprop(xi, ni, data = d, method = \"Inverse\", method.tau = \"DL\", method.random.ci = \"HK\", method.predict = \"V\")",
      metaprop(xi, ni, studlab = label, data = d, method = "Inverse", method.tau = "DL",
               method.random.ci = "HK", method.predict = "V"),
      list(method = "DL", test = "knha", pi_method = "V", i2_method = "Q"))
}
for (dn in c("pritz1997", "zeros", "rare")) for (ci in c("CP", "WS", "WSCC", "AC", "SA", "SACC", "NAsm")) {
  d <- prop_sets[[dn]]
  add(paste(dn, "metaprop-Inverse-ci", ci, sep = "-"), dn, "proportion",
      sprintf("metaprop(xi, ni, data = d, method = \"Inverse\", method.ci = \"%s\")", ci),
      metaprop(xi, ni, studlab = label, data = d, method = "Inverse", method.ci = ci),
      list(method = "REML", i2_method = "Q", study_ci = ci))
}
for (dn in names(rate_sets)) {
  d <- rate_sets[[dn]]
  add(paste(dn, "metarate-defaults", sep = "-"), dn, "rate",
      "metarate(xi, ti, studlab = label, data = d)",
      metarate(xi, ti, studlab = label, data = d))
  add(paste(dn, "metarate-Poisson", sep = "-"), dn, "rate",
      "metarate(xi, ti, data = d, method.ci = \"Poisson\")",
      metarate(xi, ti, studlab = label, data = d, method.ci = "Poisson"),
      list(study_ci = "Poisson"))
  add(paste(dn, "metarate-DL-HK-HTS", sep = "-"), dn, "rate",
      "metarate(xi, ti, data = d, method.tau = \"DL\", method.random.ci = \"HK\", method.predict = \"HTS\")",
      metarate(xi, ti, studlab = label, data = d, method.tau = "DL", method.random.ci = "HK",
               method.predict = "HTS"),
      list(method = "DL", test = "knha", pi_method = "HTS", i2_method = "Q"))
}

datasets <- list()
for (dn in names(prop_sets)) {
  d <- prop_sets[[dn]]
  datasets[[dn]] <- list(kind = "proportion", label = I(as.character(d$label)),
                         events = vec(d$xi), n = vec(d$ni))
}
for (dn in names(rate_sets)) {
  d <- rate_sets[[dn]]
  datasets[[dn]] <- list(kind = "rate", label = I(as.character(d$label)),
                         events = vec(d$xi), time = vec(d$ti))
}
ref <- list(
  source = list(script = "tests/r/make_reference_meta.R",
                command = "R_LIBS=<library with R meta> Rscript tests/r/make_reference_meta.R",
                R = R.version.string, meta = ver,
                metafor = as.character(packageVersion("metafor")),
                lme4 = as.character(packageVersion("lme4")),
                number_format = "%.17g; null for NA/NaN/Inf"),
  datasets = datasets,
  cases = cases)
writeLines(json(ref), out_file, useBytes = TRUE)
cat("wrote", out_file, "with", length(cases), "cases (meta", ver, ")\n")
