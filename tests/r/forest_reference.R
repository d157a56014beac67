# Printed numbers of metafor's forest(), for tests/test_plots_vs_metafor.py.
#
# Run from the repository root:  Rscript tests/r/forest_reference.R
# Writes tests/data/forest_reference.json (strings exactly as forest() draws them).
#
# How: every label forest.rma() draws goes through graphics::text.default, which is traced
# to collect its `labels`. The annotation of a row reads "<weight>%   <est> [<lo>, <hi>]"
# (showweights = TRUE, digits = 4, transf = the measure's back-transform). The same data and
# options are pooled by review.meta, drawn by review.plots.forest, and the printed strings
# compared.
#
# What does not agree, and why (not compared):
# - metafor draws each study at its back-transformed yi with a Wald interval on the model
#   scale, after the 0.5 continuity correction for zero (and all-event) studies; review
#   prints events/n with the exact Clopper-Pearson (Poisson) interval, as meta's default
#   method.ci = "CP". So study intervals are compared with binom.test() / poisson.test()
#   formatted by formatC(), and study estimates only for studies without a correction.
# - The prediction interval has no printed text in metafor 3.8's forest (addpred draws it).
suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})

.lab <- character(0)
invisible(trace("text.default", quote(.lab <<- c(.lab, as.character(labels))),
                where = asNamespace("graphics"), print = FALSE))

f4 <- function(x) formatC(x, format = "f", digits = 4)

spm <- data.frame(
  label = c("Cohort A 2018", "Cohort B 2019", "Cohort C 2019", "Cohort D 2020",
            "Cohort E 2021", "Cohort F 2021", "Cohort G 2022", "Cohort H 2023"),
  events = c(0, 1, 0, 3, 2, 12, 5, 30),
  n = c(15, 22, 40, 61, 80, 350, 120, 1500))
pritz <- data.frame(label = as.character(dat.pritz1997$authors),
                    events = dat.pritz1997$xi, n = dat.pritz1997$ni)
rates <- data.frame(
  label = c("Registry 1", "Registry 2", "Registry 3", "Registry 4", "Registry 5",
            "Registry 6"),
  events = c(0, 2, 5, 1, 9, 3),
  time = c(120.5, 340, 800.2, 95, 1500, 410))

one_case <- function(name, d, measure, method, test = "z") {
  rate <- measure %in% c("IR", "IRLN")
  if (rate) {
    res <- rma(measure = measure, xi = events, ti = time, data = d, method = method,
               test = test)
  } else {
    res <- rma(measure = measure, xi = events, ni = n, data = d, method = method,
               test = test)
  }
  tr <- switch(measure, PLO = transf.ilogit, PAS = transf.iarcsin, PFT = transf.ipft.hm,
               IRLN = exp, PR = identity, IR = identity)
  targs <- if (measure == "PFT") list(ni = d$n) else NULL
  .lab <<- character(0)
  pdf(NULL)
  forest(res, transf = tr, targs = targs, showweights = TRUE, digits = 4, slab = d$label,
         header = FALSE)
  invisible(dev.off())
  ann <- grep("%", .lab, value = TRUE)
  pat <- "^\\s*([0-9.]+)%\\s+([-0-9.]+) \\[\\s*([-0-9.]+),\\s*([-0-9.]+)\\]\\s*$"
  stopifnot(all(grepl(pat, ann)))
  parts <- regmatches(ann, regexec(pat, ann))
  tab <- do.call(rbind, lapply(parts, function(p) p[2:5]))
  k <- nrow(d)
  stopifnot(nrow(tab) == k + 1)
  # forest() draws the rows from the bottom (study k) to the top (study 1), then the RE row
  st <- tab[k:1, , drop = FALSE]
  corrected <- if (rate) d$events == 0 else (d$events == 0 | d$events == d$n)
  exact <- t(sapply(seq_len(k), function(i) {
    ci <- if (rate) poisson.test(d$events[i], d$time[i])$conf.int
          else binom.test(d$events[i], d$n[i])$conf.int
    f4(as.numeric(ci))
  }))
  studies <- data.frame(label = d$label, weight = st[, 1], estimate = st[, 2],
                        ci_low = st[, 3], ci_high = st[, 4], corrected = corrected,
                        exact_ci_low = exact[, 1], exact_ci_high = exact[, 2])
  list(name = name, measure = measure, method = method, test = test,
       data = d, studies = studies,
       pooled = list(weight = tab[k + 1, 1], estimate = tab[k + 1, 2],
                     ci_low = tab[k + 1, 3], ci_high = tab[k + 1, 4]))
}

cases <- list(
  one_case("pritz1997-PLO-REML-z", pritz, "PLO", "REML"),
  one_case("pritz1997-PFT-DL-z", pritz, "PFT", "DL"),
  one_case("spm-PLO-DL-z", spm, "PLO", "DL"),
  one_case("spm-PLO-REML-knha", spm, "PLO", "REML", "knha"),
  one_case("rates-IRLN-REML-z", rates, "IRLN", "REML")
)

out <- list(
  source = list(
    script = "tests/r/forest_reference.R",
    call = "forest(rma(measure, xi, ni | ti, method, test), transf, targs, showweights = TRUE, digits = 4)",
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat"))
  ),
  cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA, dataframe = "rows"),
           "tests/data/forest_reference.json")
