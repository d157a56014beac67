# Helpers shared by the scripts that write golden JSON (make_reference*.R). Each script sources
# this file from its own folder, so that `Rscript tests/r/<script>.R` run from the project root
# finds it:
#
#   script_dir <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
#   source(file.path(if (length(script_dir) == 1) script_dir else "tests/r", "_helpers.R"))
#
# JSON writer: numbers with sprintf("%.17g") and NA/NaN/Inf as null, so that regenerating
# unchanged numbers gives a byte-identical file. A named list is an object, an unnamed list an
# array; a vector of length 1 is a scalar unless wrapped in I() (vec(), chr()).

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
json <- function(x, indent = 0) {
  pad <- strrep(" ", indent)
  pad2 <- strrep(" ", indent + 1)
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (!is.null(names(x)) && length(x) > 0) {
      items <- vapply(names(x), function(n)
        paste0(pad2, "\"", n, "\": ", json(x[[n]], indent + 1)), "")
      return(paste0("{\n", paste(items, collapse = ",\n"), "\n", pad, "}"))
    }
    if (length(x) == 0) return("[]")
    items <- vapply(x, function(v) paste0(pad2, json(v, indent + 1)), "")
    return(paste0("[\n", paste(items, collapse = ",\n"), "\n", pad, "]"))
  }
  if (is.character(x)) {
    esc <- gsub("\\\\", "\\\\\\\\", x)
    esc <- gsub("\"", "\\\\\"", esc)
    esc <- gsub("\n", "\\\\n", esc)
    s <- paste0("\"", esc, "\"")
  } else if (is.logical(x)) {
    s <- ifelse(is.na(x), "null", ifelse(x, "true", "false"))
  } else {
    s <- num(as.numeric(x))
  }
  if (inherits(x, "AsIs") || length(x) != 1) return(paste0("[", paste(s, collapse = ", "), "]"))
  s
}
vec <- function(x) I(as.numeric(x))     # always an array, even of length 1
chr <- function(x) I(as.character(x))   # always an array, even of length 1

# A simulated data set of tests/data/metafor_reference.json (written by make_reference.R) as a
# data frame (label, xi, ni) or (label, xi, ti), so that the other scripts use the same data.
from_main <- local({
  main <- NULL
  function(nm) {
    if (is.null(main)) {
      main <<- jsonlite::fromJSON("tests/data/metafor_reference.json",
                                  simplifyVector = TRUE)$datasets
    }
    d <- main[[nm]]
    if (d$kind == "proportion") data.frame(label = d$label, xi = d$events, ni = d$n)
    else data.frame(label = d$label, xi = d$events, ti = d$time)
  }
})
