#!/usr/bin/env Rscript
# Every pooled number of the worked example, recomputed with metafor from the review's own files.
#
# Run from the project root:   Rscript tests/r/make_reference_example.R
# Writes tests/data/metafor_example_reference.json (numbers with %.17g; byte-identical on re-run
# with the same R, metafor and lme4 versions).
#
# The script reads data/extraction/studies.csv, outcomes.csv and overlap.csv and builds each
# analysis's set of studies itself, from the columns the protocol names (it does not read the
# protocol or call the toolkit): an independent check of which studies enter each analysis as
# well as of the numbers. What each set is follows data/protocol.yaml (analyses, sensitivity
# exclude_sets and alternatives) and data/DECISIONS.md:
#   any_spm              spm_excl_nmsc / n_treated, rma.glmm PLO (primary)
#   any_spm_as_reported  spm_any / n_treated, rma.glmm PLO
#   any_spm_logit        spm_excl_nmsc, escalc PLO + rma REML
#   tcell                spm_tcell, strata of one study (column `study`) summed first, rma.glmm PLO
#   tcell_strata_as_studies  spm_tcell, one row a stratum, rma.glmm PLO
#   tcell_multilevel     spm_tcell, one row a stratum, escalc PLO + rma.mv REML with
#                        random = ~ 1 | study/row (a row without `study` is a study of its own)
#   myeloid              spm_myeloid, rma.glmm PLO
#   rate_any_spm         spm_excl_nmsc / (n_treated x median follow-up / 12), rma.glmm IRLN
#   any_spm exclusion sets: overlap_possible (each `possible` pair's study_id when both are in),
#   infused_only, approved_confirmed, nmsc_stated, reported_counts, mixed_products.
# The multilevel fit is rma.mv's default (nlminb on log sigma^2): a component at the boundary
# comes out near 1e-10 rather than 0. Every GLMM is metafor's default rma.glmm (lme4::glmer, nAGQ = 7); predictions back-transformed
# with transf.ilogit / exp (per person-year), as review.meta does.

suppressMessages({
  library(metafor)
  library(lme4)
})

num <- function(x) {
  if (length(x) == 1L && is.na(x)) return("null")
  if (length(x) != 1L) stop("scalar expected")
  if (is.infinite(x)) stop("infinite value")
  sprintf("%.17g", x)
}
str <- function(s) paste0("\"", gsub("\"", "\\\\\"", s), "\"")
obj <- function(lst, indent = "  ") {
  inner <- paste0(indent, "  ")
  items <- vapply(names(lst), function(nm) {
    v <- lst[[nm]]
    val <- if (is.list(v)) obj(v, inner) else if (is.character(v)) {
      if (length(v) == 1L && !isTRUE(attr(v, "ids"))) str(v)
      else paste0("[", paste(vapply(v, str, ""), collapse = ", "), "]")
    } else num(v)
    paste0(inner, str(nm), ": ", val)
  }, "")
  paste0("{\n", paste(items, collapse = ",\n"), "\n", indent, "}")
}

# ------------------------------------------------------------------ the review's files
ex <- "data/extraction"
studies <- read.csv(file.path(ex, "studies.csv"), colClasses = "character")
outcomes <- read.csv(file.path(ex, "outcomes.csv"), colClasses = "character")
overlap <- read.csv(file.path(ex, "overlap.csv"), colClasses = "character")
value <- function(field) {
  o <- outcomes[outcomes$field == field, ]
  as.numeric(o$value[match(studies$study_id, o$study_id)])
}
d <- data.frame(
  id = studies$study_id, label = studies$label, study = studies$study,
  product = studies$product, products_approved = studies$products_approved,
  nmsc = studies$nmsc, denominator = studies$denominator,
  derived = studies$derived_counts == "true",
  n = value("n_treated"), any = value("spm_any"), excl = value("spm_excl_nmsc"),
  tcell = value("spm_tcell"), myeloid = value("spm_myeloid"),
  fu = value("median_followup_months"), stringsAsFactors = FALSE
)

# ------------------------------------------------------------------ fits
idv <- function(x) structure(as.character(x), ids = TRUE)  # always a JSON array
glmm <- function(x, size, measure = "PLO", ids) {
  fit <- if (measure == "PLO") rma.glmm(measure = "PLO", xi = x, ni = size)
         else rma.glmm(measure = "IRLN", xi = x, ti = size)
  p <- predict(fit, transf = if (measure == "PLO") transf.ilogit else exp)
  list(k = fit$k, studies = idv(ids), estimate = p$pred, ci_low = p$ci.lb, ci_high = p$ci.ub,
       pi_low = p$pi.lb, pi_high = p$pi.ub, tau2 = fit$tau2, beta = as.numeric(fit$beta),
       se = fit$se)
}
iv <- function(x, size, ids) {
  es <- escalc(measure = "PLO", xi = x, ni = size)
  fit <- rma(yi, vi, data = es, method = "REML")
  p <- predict(fit, transf = transf.ilogit)
  list(k = fit$k, studies = idv(ids), estimate = p$pred, ci_low = p$ci.lb, ci_high = p$ci.ub,
       pi_low = p$pi.lb, pi_high = p$pi.ub, tau2 = fit$tau2, beta = as.numeric(fit$beta),
       se = fit$se)
}
on <- function(rows, col) rows[!is.na(rows[[col]]) & !is.na(rows$n), ]

out <- list()
a <- on(d, "excl")
out$any_spm <- glmm(a$excl, a$n, ids = a$id)
r <- on(d, "any")
out$any_spm_as_reported <- glmm(r$any, r$n, ids = r$id)
out$any_spm_logit <- iv(a$excl, a$n, ids = a$id)

t <- on(d, "tcell")
key <- ifelse(t$study == "", t$id, t$study)  # strata of one study share `study`
ts <- aggregate(cbind(tcell, n) ~ key, data = data.frame(key, tcell = t$tcell, n = t$n), FUN = sum)
out$tcell <- glmm(ts$tcell, ts$n, ids = ts$key)
out$tcell_strata_as_studies <- glmm(t$tcell, t$n, ids = t$id)
es <- escalc(measure = "PLO", xi = t$tcell, ni = t$n)
es$cluster <- key
es$row <- seq_len(nrow(es))
fit <- rma.mv(yi, vi, random = ~ 1 | cluster/row, data = es, method = "REML")
p <- predict(fit, transf = transf.ilogit)
out$tcell_multilevel <- list(
  k = fit$k, n_studies = fit$s.nlevels[1], studies = idv(t$id), estimate = p$pred,
  ci_low = p$ci.lb, ci_high = p$ci.ub, pi_low = p$pi.lb, pi_high = p$pi.ub,
  sigma2_study = fit$sigma2[1], sigma2_stratum = fit$sigma2[2], q = fit$QE,
  beta = as.numeric(fit$beta), se = fit$se
)

m <- on(d, "myeloid")
out$myeloid <- glmm(m$myeloid, m$n, ids = m$id)

pt <- a[!is.na(a$fu), ]
out$rate_any_spm <- glmm(pt$excl, pt$n * pt$fu / 12, measure = "IRLN", ids = pt$id)

# ------------------------------------------------------------------ any_spm exclusion sets
pairs <- overlap[overlap$relation == "possible" & overlap$study_id %in% a$id &
                   overlap$overlaps_with %in% a$id, ]
drop <- list(
  overlap_possible = unique(pairs$study_id),
  infused_only = a$id[a$denominator == "enrolled"],
  approved_confirmed = a$id[a$products_approved == "not_stated"],
  nmsc_stated = a$id[a$nmsc == "not_stated"],
  reported_counts = a$id[a$derived],
  mixed_products = a$id[a$product == "mixed"]
)
sets <- list()
for (nm in names(drop)) {
  keep <- a[!(a$id %in% drop[[nm]]), ]
  sets[[nm]] <- glmm(keep$excl, keep$n, ids = keep$id)
  sets[[nm]]$left_out <- idv(drop[[nm]])
}
out$any_spm_exclusion_sets <- sets

src <- list(
  r = R.version.string,
  metafor = as.character(packageVersion("metafor")),
  lme4 = as.character(packageVersion("lme4")),
  script = "tests/r/make_reference_example.R",
  data = "data/extraction/{studies,outcomes,overlap}.csv"
)
json <- obj(c(list(source = src), out), indent = "")
writeLines(json, "tests/data/metafor_example_reference.json")
cat("wrote tests/data/metafor_example_reference.json\n")
