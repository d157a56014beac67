"""Extraction tables, validated against the protocol: one number a row, each with its source.

A review's ``extraction/`` folder holds (docs/DESIGN.md, "Extraction")::

    studies.csv    one row a study or stratum: study_id, label, pmid (+ report_pmids, note),
                   then one column per covariate the protocol declares
    outcomes.csv   one row a number (long format): study_id, field, value, pmid, location,
                   note (+ source_url; + ci_low, ci_high, ci_level, se, scale, estimate_type
                   for a study that reports an estimate rather than counts)
    codebook.csv   column -> long name, unit, description (not read here)

What the columns and fields mean is the protocol's (:mod:`review.protocol`, schema version
2): its ``fields`` are the numbers, its ``outcomes`` say which fields are a numerator and a
denominator (or person-time), its ``covariates`` are the columns of ``studies.csv``. This
module knows no field, outcome or covariate of its own.

:func:`read_extraction` validates both tables and returns an :class:`Extraction`: the wide
table (one row a study, one column per field), every number with its PMID and location,
and the estimates. Failures raise :class:`~review.errors.ExtractionError` naming the file,
the row (1-based line number in the file, the header being line 1) and the column.

The checks (a number that fails them cannot be pooled honestly):

* required columns present, no column the protocol does not declare, ``study_id`` unique;
* covariate cells of their declared type (categorical values from the declared list);
* every number has a PMID (digits; a DOI for a report PubMed does not index) that is one of
  the study's reports, and a location;
* a field the protocol declares; counts whole and >= 0, person-time > 0, numbers within
  their declared bounds (a duration > 0);
* for an outcome counting patients, events not above its denominator; a subtype not above
  its parent, and exclusive subtypes not summing above it, unless a note says why;
* an outcome's event count with something to divide it by (its denominator or person-time,
  or another outcome's);
* an estimate row (``scale`` given) names a declared outcome, on a scale of its kind, with a
  CI that contains it or a positive SE.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from os import PathLike
from pathlib import Path
from typing import Any, Final, cast

import pandas as pd

from review._io import read_delimited
from review._numbers import BadNumber, check_number, is_pmid
from review.errors import ExtractionError, ProtocolError
from review.protocol import Covariate, Field, Outcome, Protocol, load_protocol

__all__ = [
    "ESTIMATE_COLUMNS",
    "ESTIMATE_TYPES",
    "OUTCOME_COLUMNS",
    "OVERLAP_COLUMNS",
    "OVERLAP_FILE",
    "STUDY_COLUMNS",
    "Extraction",
    "load_extraction",
    "parse_scale",
    "provenance",
    "read_extraction",
    "read_overlap",
    "report_study_map",
    "time_factor",
]

#: Required columns of ``studies.csv`` (``report_pmids`` and ``note`` are optional; then
#: one column per declared covariate).
STUDY_COLUMNS: Final[tuple[str, ...]] = ("study_id", "label", "pmid")

#: Required columns of ``outcomes.csv``, in order.
OUTCOME_COLUMNS: Final[tuple[str, ...]] = ("study_id", "field", "value", "pmid", "location", "note")

#: Optional columns of ``outcomes.csv`` for a reported estimate (with ``value``).
ESTIMATE_COLUMNS: Final[tuple[str, ...]] = (
    "ci_low",
    "ci_high",
    "ci_level",
    "se",
    "scale",
    "estimate_type",
)

#: Kinds of reported estimate: a crude proportion or rate, one minus a Kaplan-Meier
#: survival estimate, a cumulative incidence accounting for competing risks, or another.
ESTIMATE_TYPES: Final[tuple[str, ...]] = ("crude", "kaplan_meier", "cumulative_incidence", "other")

_OPTIONAL_OUTCOME_COLUMNS: Final[tuple[str, ...]] = ("source_url", *ESTIMATE_COLUMNS)
_ESTIMATE_FRAME_COLUMNS: Final[list[str]] = [
    "study_id", "outcome", "estimate", "ci_low", "ci_high", "se", "ci_level", "estimate_type",
    "scale", "reported", "pmid", "location", "note", "line",
]  # fmt: skip
#: A report's identifier in ``pmid``/``report_pmids``: its PMID, or for a report PubMed does
#: not index (found by other methods, e.g. on a publisher's or repository's page) its DOI.
_DOI = re.compile(r"^10\.[0-9]{4,9}/\S+$", re.ASCII)
_REPORT_ID_RULE = (
    "a PubMed identifier (1-9 ASCII digits) or, for a report without one, its DOI (10.xxxx/...)"
)
#: The overlap map: pairs of cohorts that may share patients, with the evidence.
OVERLAP_FILE = "overlap.csv"
#: Columns of ``overlap.csv``: ``study_id`` is the report left out when the pair's overlap
#: is removed (the smaller or single-centre one), ``overlaps_with`` the one kept.
OVERLAP_COLUMNS: Final[tuple[str, ...]] = (
    "study_id", "overlaps_with", "relation", "evidence", "source_url",
)  # fmt: skip
_EMPTY_OVERLAP: Final[pd.DataFrame] = pd.DataFrame(columns=[*OVERLAP_COLUMNS, "line"])


def _is_report_id(value: str) -> bool:
    """A report's identifier: a PMID (ASCII digits) or a DOI (``10.xxxx/...``)."""
    return is_pmid(value) or bool(_DOI.match(value))


_RATE_SCALE = re.compile(r"^per\s+([0-9][0-9,]*(?:\.[0-9]+)?)\s+(person-[a-z]+)$")
_TRUE = {"true", "yes"}
_FALSE = {"false", "no"}

# Lengths in days, exact: a year is 365.25 days, a month a twelfth of it.
_UNIT_DAYS: Final[Mapping[str, Fraction]] = {
    "days": Fraction(1),
    "weeks": Fraction(7),
    "months": Fraction(1461, 48),
    "years": Fraction(1461, 4),
}


def time_factor(from_unit: str, to_unit: str) -> Fraction:
    """The exact factor turning a time in ``from_unit`` into ``to_unit``.

    Units are ``days``, ``weeks``, ``months``, ``years`` or the same with ``person-``
    before them (a year is 365.25 days, a month a twelfth of a year).

    Examples
    --------
    >>> time_factor("months", "person-years")
    Fraction(1, 12)
    >>> float(time_factor("person-days", "person-years")) * 365.25
    1.0
    """

    def days(unit: str) -> Fraction:
        u = unit.removeprefix("person-")
        if u not in _UNIT_DAYS:
            raise ExtractionError(f"unknown time unit {unit!r}; must be one of {list(_UNIT_DAYS)}")
        return _UNIT_DAYS[u]

    return days(from_unit) / days(to_unit)


def parse_scale(scale: str) -> tuple[str, float]:
    """Read an estimate's scale: its kind and the factor to a proportion or a rate per year.

    Parameters
    ----------
    scale : str
        ``proportion`` (0-1), ``percent`` (0-100), or ``per <n> <person-time unit>`` (a rate,
        e.g. ``per 100 person-years``, ``per 1,000 person-months``).

    Returns
    -------
    kind : {"proportion", "rate"}
    factor : float
        Multiply a value on ``scale`` by it to get a proportion (0-1) or a rate per
        person-year.

    Raises
    ------
    review.errors.ExtractionError
        An unknown scale.

    Examples
    --------
    >>> parse_scale("percent")
    ('proportion', 0.01)
    >>> parse_scale("per 100 person-months")
    ('rate', 0.12)
    """
    s = " ".join(scale.strip().split())
    if s == "proportion":
        return "proportion", 1.0
    if s == "percent":
        return "proportion", 0.01
    m = _RATE_SCALE.match(s)
    if m and m.group(2).removeprefix("person-") in _UNIT_DAYS:
        per = float(m.group(1).replace(",", ""))
        if per > 0:
            return "rate", float(time_factor("person-years", m.group(2)) / Fraction(per))
    raise ExtractionError(
        f"scale {scale!r} is not one of 'proportion', 'percent', 'per <n> person-<unit>' "
        "(e.g. 'per 100 person-years'; units days, weeks, months, years)"
    )


# --------------------------------------------------------------------------- reading
def _read_csv(path: Path, required: tuple[str, ...], allowed: tuple[str, ...]) -> pd.DataFrame:
    """A CSV as text cells, stripped, indexed by the line each row starts on.

    Read by the toolkit's one reading path (:func:`review._io.read_delimited`): the index is
    the row's own line in the file, so blank lines and quoted line breaks never shift the
    line a number's provenance names; a semicolon- or tab-delimited file is read by its
    header; column names are stripped; a byte that does not decode names its line.
    """
    table = read_delimited(path, error=ExtractionError)
    header = list(table.header)
    rows = [list(r) for r in table.rows]
    # a trailing delimiter (spreadsheet exports) gives columns without a name: dropped when
    # they are empty, an error when they hold data
    for i in reversed(range(len(header))):
        if header[i]:
            continue
        used = next((ln for r, ln in zip(rows, table.lines) if r[i].strip()), None)
        if used is not None:
            raise ExtractionError(
                f"column {i + 1} has no name in the header but holds data",
                path=path,
                row=used,
            )
        del header[i]
        for r in rows:
            del r[i]
    missing = [c for c in required if c not in header]
    if missing:
        raise ExtractionError(
            table.missing_message(missing), path=path, row=table.header_line, column=missing[0]
        )
    unknown = [c for c in header if c not in allowed]
    if unknown:
        raise ExtractionError(
            f"column {unknown[0]!r} is not one the protocol declares; allowed: {list(allowed)} "
            "(declare a descriptive column of studies.csv as a covariate of type text)",
            path=path,
            row=table.header_line,
            column=str(unknown[0]),
        )
    df = pd.DataFrame(
        [[v.strip() for v in r] for r in rows],
        columns=header,
        index=pd.Index(list(table.lines), dtype="int64"),
        dtype=object,
    )
    return df


def _parse_number(text: str, *, path: Path, line: int, column: str, what: str) -> float:
    """The one place a cell becomes a number, or an error naming file, line and column.

    The toolkit's number check (:func:`review._numbers.check_number`): ASCII digits,
    finite; ``1_027``, ``1,027`` or ``٤٤٩`` are refused with the number as it should be written.
    """
    try:
        return check_number(text, what=what, whole=False, nonnegative=False)
    except BadNumber as e:
        raise ExtractionError(str(e), path=path, row=line, column=column) from None


def _parse_count(text: str, *, path: Path, line: int, column: str, what: str, counts: str) -> float:
    value = _parse_number(text, path=path, line=line, column=column, what=what)
    try:
        return check_number(value, what=what)  # whole, >= 0, at most 2**53
    except BadNumber as e:
        raise ExtractionError(
            f"{e} (a count is a non-negative whole number of {counts})",
            path=path,
            row=line,
            column=column,
        ) from None


def _pmids(value: str) -> list[str]:
    return [p.strip() for p in re.split(r"[;,\s]+", value) if p.strip()]


def _resolve_protocol(
    folder: str | PathLike[str], protocol: Protocol | str | PathLike[str] | None
) -> Protocol:
    if isinstance(protocol, Protocol):
        proto = protocol
    else:
        from review.paths import ReviewPaths

        where = ReviewPaths(Path(folder).parent).protocol if protocol is None else protocol
        proto = load_protocol(where)
    if proto.schema_version < 2:
        raise ProtocolError(
            f"protocol schema_version {proto.schema_version} declares nothing to extract; "
            "extraction needs schema_version 2: set it, declare the numbers of outcomes.csv "
            "under fields: (a version 1 extraction.fields list becomes entries {code, label, "
            "type: count|person_time|number}), each outcome as {code, label, kind, events, "
            "counts, denominator|time}, and the columns of studies.csv under covariates: "
            "(docs/DESIGN.md, 'Protocol')",
            path=proto.path,
            column="schema_version",
        )
    if not proto.fields:
        raise ProtocolError(
            "protocol declares no fields: list the numbers extracted into outcomes.csv under "
            "fields: (docs/DESIGN.md, 'Protocol')",
            path=proto.path,
            column="fields",
        )
    return proto


# --------------------------------------------------------------------------- studies
def _check_studies(df: pd.DataFrame, proto: Protocol, path: Path) -> dict[str, dict[str, Any]]:
    """Validate ``studies.csv``; return covariate code -> study_id -> typed value."""
    for name, cov in proto.covariates.items():
        if cov.source != "studies":
            if name in df.columns:
                raise ExtractionError(
                    f"column {name!r} is a covariate the protocol takes from the {cov.source} "
                    f"(from: {cov.source}): its values come from there, not from studies.csv; "
                    "remove the column",
                    path=path,
                    row=1,
                    column=name,
                )
            continue
        if name not in df.columns:
            raise ExtractionError(
                f"covariate column {name!r} declared in the protocol is missing",
                path=path,
                row=1,
                column=name,
            )
    seen: dict[str, int] = {}
    labels: dict[str, int] = {}
    own = {c: cov for c, cov in proto.covariates.items() if cov.source == "studies"}
    typed: dict[str, dict[str, Any]] = {c: {} for c in own}
    for label, row in df.iterrows():
        line = cast(int, label)  # _read_csv indexes rows by their line in the file
        sid = row["study_id"]
        if not sid:
            raise ExtractionError("study_id is empty", path=path, row=line, column="study_id")
        if sid in seen:
            raise ExtractionError(
                f"study_id {sid!r} repeats line {seen[sid]}", path=path, row=line, column="study_id"
            )
        seen[sid] = line
        if not row["label"]:
            raise ExtractionError("label is empty", path=path, row=line, column="label")
        if row["label"] in labels:
            raise ExtractionError(
                f"label {row['label']!r} repeats line {labels[row['label']]} (figures and tables "
                "name studies by their label)",
                path=path,
                row=line,
                column="label",
            )
        labels[row["label"]] = line
        if not _is_report_id(row["pmid"]):
            raise ExtractionError(
                f"pmid {row['pmid']!r} is not {_REPORT_ID_RULE}",
                path=path,
                row=line,
                column="pmid",
            )
        if "report_pmids" in df.columns:
            for p in _pmids(row["report_pmids"]):
                if not _is_report_id(p):
                    raise ExtractionError(
                        f"report_pmids entry {p!r} is not {_REPORT_ID_RULE}",
                        path=path,
                        row=line,
                        column="report_pmids",
                    )
        for code, cov in own.items():
            typed[code][sid] = _covariate_value(row[code], cov, path, line)
    return typed


def _covariate_value(text: str, cov: Covariate, path: Path, line: int) -> Any:
    col = cov.code
    if not text:
        if cov.required:
            raise ExtractionError(
                f"{col} is empty; the protocol marks it required", path=path, row=line, column=col
            )
        return pd.NA
    if cov.type == "categorical":
        if text not in cov.values:
            raise ExtractionError(
                f"{col} {text!r} is not one of {list(cov.values)}", path=path, row=line, column=col
            )
        return text
    if cov.type == "boolean":
        low = text.lower()
        if low not in _TRUE | _FALSE:
            raise ExtractionError(
                f"{col} {text!r} is not a boolean (true, false, yes, no)",
                path=path,
                row=line,
                column=col,
            )
        return low in _TRUE
    if cov.type in ("number", "integer"):
        v = _parse_number(text, path=path, line=line, column=col, what=col)
        if cov.type == "integer" and v != int(v):
            raise ExtractionError(
                f"{col} {text!r} is not a whole number", path=path, row=line, column=col
            )
        for bound, bad in (("minimum", cov.minimum), ("maximum", cov.maximum)):
            if bad is not None and (v < bad if bound == "minimum" else v > bad):
                raise ExtractionError(
                    f"{col} {text!r} is outside the declared {bound} {bad:g}",
                    path=path,
                    row=line,
                    column=col,
                )
        return int(v) if cov.type == "integer" else v
    return text


# --------------------------------------------------------------------------- outcomes
@dataclass(frozen=True, slots=True)
class _Number:
    value: float
    line: int
    note: str


@dataclass(frozen=True, slots=True)
class _Estimate:
    outcome: str
    estimate: float
    ci_low: float
    ci_high: float
    ci_level: float
    se: float
    scale: str
    estimate_type: str
    line: int


def _field_value(
    text: str, f: Field, path: Path, line: int, sid: str, *, denominator: bool = False
) -> float:
    what = f"{f.code} of {sid!r}"
    if f.type == "count":
        n = _parse_count(
            text, path=path, line=line, column="value", what=what, counts=f.unit or "patients"
        )
        if denominator and n == 0:
            raise ExtractionError(
                f"{f.code} of {sid!r} is 0, and it is the denominator of an outcome: a study "
                "with nobody at risk has nothing to pool (leave the study out, or correct it)",
                path=path,
                row=line,
                column="value",
            )
        return n
    v = _parse_number(text, path=path, line=line, column="value", what=what)
    if f.type == "person_time" and v <= 0:
        raise ExtractionError(
            f"{f.code} must be > 0 (person-time), got {text!r}", path=path, row=line, column="value"
        )
    if f.type == "number":
        if f.unit in _UNIT_DAYS and v <= 0:
            raise ExtractionError(
                f"{f.code} must be > 0 (a duration in {f.unit}), got {text!r}",
                path=path,
                row=line,
                column="value",
            )
        if f.minimum is not None and v < f.minimum:
            raise ExtractionError(
                f"{f.code} {text!r} is below the declared minimum {f.minimum:g}",
                path=path,
                row=line,
                column="value",
            )
        if f.maximum is not None and v > f.maximum:
            raise ExtractionError(
                f"{f.code} {text!r} is above the declared maximum {f.maximum:g}",
                path=path,
                row=line,
                column="value",
            )
    return v


def _estimate_value(
    row: pd.Series, o: Outcome, path: Path, line: int, sid: str, columns: pd.Index
) -> _Estimate:
    def cell(col: str) -> str:
        return str(row[col]) if col in columns else ""

    def num(col: str) -> float:
        text = cell(col)
        if not text:
            return math.nan
        return _parse_number(text, path=path, line=line, column=col, what=f"{col} of {sid!r}")

    try:
        kind, factor = parse_scale(cell("scale"))
    except ExtractionError as exc:
        raise ExtractionError(exc.message, path=path, row=line, column="scale") from None
    if kind != o.kind:
        raise ExtractionError(
            f"scale {cell('scale')!r} is for a {kind}; outcome {o.code!r} is a {o.kind}",
            path=path,
            row=line,
            column="scale",
        )
    etype = cell("estimate_type")
    allowed = ESTIMATE_TYPES if kind == "proportion" else ("crude", "other")
    if etype not in allowed:
        raise ExtractionError(
            f"estimate_type {etype!r} of {o.code!r} is not one of {list(allowed)}",
            path=path,
            row=line,
            column="estimate_type",
        )
    est = _parse_number(cell("value"), path=path, line=line, column="value", what="estimate")
    lo, hi, se = num("ci_low"), num("ci_high"), num("se")
    level = num("ci_level")
    if math.isnan(level):
        level = 0.95
    elif not 0 < level < 1:
        raise ExtractionError(
            f"ci_level {cell('ci_level')!r} must be in (0, 1) (write 0.95 for a 95% interval)",
            path=path,
            row=line,
            column="ci_level",
        )
    has_ci = not (math.isnan(lo) or math.isnan(hi))
    if math.isnan(lo) != math.isnan(hi):
        col = "ci_high" if math.isnan(hi) else "ci_low"
        raise ExtractionError(
            f"an interval needs both ends; {col} is empty", path=path, row=line, column=col
        )
    if not has_ci and math.isnan(se):
        raise ExtractionError(
            f"the estimate of {o.code!r} for {sid!r} needs its CI (ci_low, ci_high) or its SE",
            path=path,
            row=line,
            column="ci_low",
        )
    upper = 1.0 / factor if kind == "proportion" else math.inf
    if not 0 <= est <= upper:
        raise ExtractionError(
            f"estimate {est:g} is outside the {cell('scale')} scale (0 to {upper:g})",
            path=path,
            row=line,
            column="value",
        )
    if has_ci:
        if not lo <= est <= hi:
            raise ExtractionError(
                f"the interval [{lo:g}, {hi:g}] does not contain the estimate {est:g}",
                path=path,
                row=line,
                column="ci_low" if lo > est else "ci_high",
            )
        if lo < 0 or hi > upper:
            raise ExtractionError(
                f"the interval [{lo:g}, {hi:g}] leaves the {cell('scale')} scale",
                path=path,
                row=line,
                column="ci_low" if lo < 0 else "ci_high",
            )
    if not math.isnan(se) and se <= 0:
        raise ExtractionError(f"se must be > 0, got {se:g}", path=path, row=line, column="se")
    return _Estimate(
        outcome=str(o.code),
        estimate=est * factor,
        ci_low=lo * factor,
        ci_high=hi * factor,
        ci_level=level,
        se=se * factor,
        scale=cell("scale"),
        estimate_type=etype,
        line=line,
    )


def _check_outcome_rows(
    out: pd.DataFrame, studies: pd.DataFrame, proto: Protocol, path: Path
) -> tuple[dict[tuple[str, str], _Number], dict[tuple[str, str], _Estimate]]:
    reports: dict[str, set[str]] = {}
    for _, srow in studies.iterrows():
        pm = {srow["pmid"]}
        if "report_pmids" in studies.columns:
            pm |= set(_pmids(srow["report_pmids"]))
        reports[srow["study_id"]] = pm
    outcomes = {o.code: o for o in proto.outcomes if o.code}
    denominators = {
        str(o.denominator) for o in outcomes.values() if o.kind == "proportion" and o.denominator
    }
    has_scale = "scale" in out.columns
    numbers: dict[tuple[str, str], _Number] = {}
    estimates: dict[tuple[str, str], _Estimate] = {}
    for label, row in out.iterrows():
        line = cast(int, label)  # _read_csv indexes rows by their line in the file
        sid, code = row["study_id"], row["field"]
        if sid not in reports:
            raise ExtractionError(
                f"study_id {sid!r} is not in studies.csv", path=path, row=line, column="study_id"
            )
        is_estimate = has_scale and bool(row["scale"])
        if is_estimate:
            if code not in outcomes:
                raise ExtractionError(
                    f"{code!r} is not a declared outcome; a row with a scale is an estimate "
                    f"of one of {list(outcomes)}",
                    path=path,
                    row=line,
                    column="field",
                )
            if (sid, code) in estimates:
                raise ExtractionError(
                    f"an estimate of {code} for {sid!r} is already given on line "
                    f"{estimates[(sid, code)].line}",
                    path=path,
                    row=line,
                    column="field",
                )
        elif code not in proto.fields:
            hint = (
                f"; {code!r} is an outcome: an estimate row needs its scale (proportion, "
                "percent, per 100 person-years, ...)"
                if code in outcomes
                else ""
            )
            raise ExtractionError(
                f"field {code!r} is not one of {list(proto.fields)}{hint}",
                path=path,
                row=line,
                column="field",
            )
        elif (sid, code) in numbers:
            raise ExtractionError(
                f"{code} of {sid!r} already given on line {numbers[(sid, code)].line}",
                path=path,
                row=line,
                column="field",
            )
        if not row["pmid"]:
            raise ExtractionError(
                f"{code} of {sid!r} has no PMID: every number needs its source",
                path=path,
                row=line,
                column="pmid",
            )
        if not _is_report_id(row["pmid"]):
            raise ExtractionError(
                f"pmid {row['pmid']!r} is not {_REPORT_ID_RULE}",
                path=path,
                row=line,
                column="pmid",
            )
        if row["pmid"] not in reports[sid]:
            raise ExtractionError(
                f"pmid {row['pmid']} is not a report of study {sid!r} "
                f"(studies.csv lists {sorted(reports[sid])})",
                path=path,
                row=line,
                column="pmid",
            )
        if not row["location"]:
            raise ExtractionError(
                f"{code} of {sid!r} has no location: say where the number was found",
                path=path,
                row=line,
                column="location",
            )
        if "source_url" in out.columns and not row["source_url"]:
            raise ExtractionError(
                f"{code} of {sid!r} has no source_url", path=path, row=line, column="source_url"
            )
        if is_estimate:
            estimates[(sid, code)] = _estimate_value(
                row, outcomes[code], path, line, sid, out.columns
            )
        else:
            for col in ESTIMATE_COLUMNS:
                if col in out.columns and row[col]:
                    raise ExtractionError(
                        f"{col} is for an estimate row (one with a scale); {code} is a number",
                        path=path,
                        row=line,
                        column=col,
                    )
            value = _field_value(
                row["value"], proto.fields[code], path, line, sid, denominator=code in denominators
            )
            numbers[(sid, code)] = _Number(value, line, row["note"])
    return numbers, estimates


def _derive(
    numbers: Mapping[tuple[str, str], _Number], study_ids: list[str], proto: Protocol
) -> dict[tuple[str, str], tuple[float, str]]:
    """Values of derived fields for studies that report none: (value, label)."""
    out: dict[tuple[str, str], tuple[float, str]] = {}
    for f in proto.fields.values():
        d = f.derived
        if d is None:
            continue
        factor = time_factor(str(proto.fields[d.duration].unit), str(f.unit))
        for sid in study_ids:
            if (sid, f.code) in numbers:
                continue
            cnt, dur = numbers.get((sid, d.count)), numbers.get((sid, d.duration))
            if cnt is None or dur is None or cnt.value <= 0:
                continue
            value = cnt.value * dur.value * factor.numerator / factor.denominator
            out[(sid, f.code)] = (value, d.label)
    return out


def _check_consistency(
    numbers: Mapping[tuple[str, str], _Number],
    derived: Mapping[tuple[str, str], tuple[float, str]],
    study_ids: list[str],
    proto: Protocol,
    path: Path,
) -> None:
    outcomes = [o for o in proto.outcomes if o.code]
    by_code = {o.code: o for o in outcomes}

    def has(sid: str, code: str | None) -> bool:
        return code is not None and ((sid, code) in numbers or (sid, code) in derived)

    for sid in study_ids:
        # events above the people at risk
        for o in outcomes:
            if o.kind != "proportion" or o.counts != "patients":
                continue
            ev, den = numbers.get((sid, str(o.events))), numbers.get((sid, str(o.denominator)))
            if ev is not None and den is not None and ev.value > den.value:
                raise ExtractionError(
                    f"{o.events} = {ev.value:g} exceeds {o.denominator} = {den.value:g} for "
                    f"study {sid!r} (outcome {o.code!r} counts patients out of {o.denominator})",
                    path=path,
                    row=ev.line,
                    column="value",
                )
        # an event count nothing can divide
        used_by: dict[str, list[Outcome]] = {}
        for o in outcomes:
            used_by.setdefault(str(o.events), []).append(o)
        for ev_field, users in used_by.items():
            ev = numbers.get((sid, ev_field))
            if ev is None:
                continue
            if not any(
                has(sid, o.denominator if o.kind == "proportion" else o.time) for o in users
            ):
                wants = "; ".join(
                    f"{o.denominator if o.kind == 'proportion' else o.time} for {o.code!r}"
                    for o in users
                )
                raise ExtractionError(
                    f"{ev_field} of {sid!r} cannot be pooled: none of what it is divided by is "
                    f"given ({wants})",
                    path=path,
                    row=ev.line,
                    column="field",
                )
        # subtypes
        for o in outcomes:
            if o.subtype_of is None:
                continue
            parent = by_code[o.subtype_of]
            sub, tot = numbers.get((sid, str(o.events))), numbers.get((sid, str(parent.events)))
            if sub is None or tot is None or sub.value <= tot.value or tot.note or sub.note:
                continue
            raise ExtractionError(
                f"{o.events} = {sub.value:g} exceeds {parent.events} = {tot.value:g} for study "
                f"{sid!r} ({o.code!r} is a subtype of {parent.code!r}) and neither row has a "
                "note explaining it",
                path=path,
                row=sub.line,
                column="value",
            )
        for p in outcomes:
            if not p.subtypes_exclusive:
                continue
            tot = numbers.get((sid, str(p.events)))
            if tot is None or tot.note:
                continue
            subs = {
                str(o.events): numbers[(sid, str(o.events))].value
                for o in outcomes
                if o.subtype_of == p.code and (sid, str(o.events)) in numbers
            }
            if sum(subs.values()) > tot.value:
                raise ExtractionError(
                    f"sub-types ({', '.join(f'{k}={v:g}' for k, v in subs.items())}) sum to "
                    f"{sum(subs.values()):g}, above {p.events} = {tot.value:g} for study {sid!r}, "
                    f"and the {p.events} row has no note (the protocol declares the subtypes of "
                    f"{p.code!r} exclusive: a patient counted twice? a total leaving a type out?)",
                    path=path,
                    row=tot.line,
                    column="value",
                )


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, slots=True, eq=False)
class Extraction:
    """A review's validated extraction: studies, numbers and estimates, with the protocol.

    Attributes
    ----------
    protocol : Protocol
        The protocol the tables were validated against.
    folder : Path
        The extraction folder.
    studies : pandas.DataFrame
        One row a study, in the order of ``studies.csv``: its columns (covariates typed:
        integers ``Int64``, numbers ``Float64``, booleans ``boolean``, empty cells NA), then
        one column per field (counts ``Int64``, others ``Float64``; NA where not given), and
        for a field with a declared derivation ``<field>_source`` (``"reported"``, the
        derivation's label, or NA).
    numbers : pandas.DataFrame
        Every number read, with its source: ``study_id, field, value`` (float) ``, pmid,
        location, note`` (+ ``source_url``) and ``line`` (of ``outcomes.csv``).
    estimates : pandas.DataFrame
        Every reported estimate: ``study_id, outcome, estimate, ci_low, ci_high, se`` on the
        outcome's scale (proportion 0-1, or rate per person-year; NaN where not given)
        ``, ci_level, estimate_type, scale`` (as written) ``, reported`` (the value as
        written) ``, pmid, location, note, line``.
    overlap : pandas.DataFrame
        The overlap map (``overlap.csv``, :func:`read_overlap`; no rows when the folder has
        none): cohorts that may share patients, with the evidence for each link.
    """

    protocol: Protocol
    folder: Path
    studies: pd.DataFrame
    numbers: pd.DataFrame
    estimates: pd.DataFrame
    overlap: pd.DataFrame = field(default_factory=lambda: _EMPTY_OVERLAP.copy())

    def outcome_table(self, code: str) -> pd.DataFrame:
        """One row a study with what it gives for outcome ``code``, ready to pool.

        Parameters
        ----------
        code : str
            A declared outcome.

        Returns
        -------
        pandas.DataFrame
            The columns of :attr:`studies`, then ``events`` (float), ``n`` (proportions) or
            ``time`` (rates; person-years whatever the field's unit) and ``time_source``,
            the estimate columns ``estimate, ci_low, ci_high, se, ci_level, estimate_type``
            (NaN where none), and ``basis``: ``"counts"`` (events and denominator or time),
            ``"estimate"`` (an estimate and no complete counts), ``"events_only"`` (events
            without this outcome's denominator or time, and no estimate) or
            ``"not_reported"``.
        """
        o = self.protocol.outcome(code)
        df = self.studies.copy()
        ev = df[str(o.events)].astype("Float64")
        if o.kind == "proportion":
            size_col = "n"
            size = df[str(o.denominator)].astype("Float64")
        else:
            size_col = "time"
            tf = self.protocol.fields[str(o.time)]
            factor = time_factor(str(tf.unit), "person-years")
            size = df[str(o.time)].astype("Float64") * factor.numerator / factor.denominator
            src = f"{o.time}_source"
            df["time_source"] = (
                df[src] if src in df.columns else size.notna().map({True: "reported", False: pd.NA})
            )
        df["events"] = ev.astype(float)
        df[size_col] = size.astype(float)
        est = self.estimates[self.estimates["outcome"] == code].set_index("study_id")
        for col in ("estimate", "ci_low", "ci_high", "se", "ci_level"):
            df[col] = df["study_id"].map(est[col]).astype(float)
        df["estimate_type"] = df["study_id"].map(est["estimate_type"])
        counts = df["events"].notna() & df[size_col].notna()
        df["basis"] = "not_reported"
        df.loc[df["events"].notna(), "basis"] = "events_only"
        df.loc[df["estimate"].notna() & ~counts, "basis"] = "estimate"
        df.loc[counts, "basis"] = "counts"
        return df

    def completeness(self) -> pd.DataFrame:
        """Per outcome: how many studies give counts, only an estimate, part, or nothing.

        Returns
        -------
        pandas.DataFrame
            ``outcome, label, kind, counts, estimate_only, events_only, not_reported,
            events, total`` (``total``: people at risk, or person-years, summed over the
            count studies) and ``missing``: the labels of studies that report nothing for it.
        """
        rows = []
        for o in self.protocol.outcomes:
            t = self.outcome_table(str(o.code))
            c = t["basis"].value_counts()
            size = "n" if o.kind == "proportion" else "time"
            ok = t["basis"] == "counts"
            rows.append(
                {
                    "outcome": o.code,
                    "label": o.label,
                    "kind": o.kind,
                    "counts": int(c.get("counts", 0)),
                    "estimate_only": int(c.get("estimate", 0)),
                    "events_only": int(c.get("events_only", 0)),
                    "not_reported": int(c.get("not_reported", 0)),
                    "events": float(t.loc[ok, "events"].sum()),
                    "total": float(t.loc[ok, size].sum()),
                    "missing": "; ".join(t.loc[t["basis"] == "not_reported", "label"].astype(str)),
                }
            )
        return pd.DataFrame(rows)

    def to_frame(self) -> pd.DataFrame:
        """The wide table (a copy of :attr:`studies`)."""
        return self.studies.copy()

    def summary(self) -> str:
        """Plain text: counts of studies, numbers and estimates, and completeness per outcome."""
        lines = [
            f"Extraction ({self.folder}): {len(self.studies)} studies, {len(self.numbers)} "
            f"numbers, {len(self.estimates)} estimates",
            "",
            f"{'outcome':<20s}{'counts':>8s}{'estimate':>10s}{'events only':>13s}"
            f"{'not reported':>14s}",
        ]
        for r in self.completeness().itertuples(index=False):
            lines.append(
                f"{r.outcome!s:<20s}{r.counts:>8d}{r.estimate_only:>10d}{r.events_only:>13d}"
                f"{r.not_reported:>14d}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        comp = self.completeness().to_html(index=False, na_rep="")
        return (
            f"<div><strong>Extraction</strong> <code>{html.escape(str(self.folder))}</code>: "
            f"{len(self.studies)} studies, {len(self.numbers)} numbers, "
            f"{len(self.estimates)} estimates<p><b>Completeness per outcome</b></p>{comp}"
            f"<p><b>Studies</b></p>{self.studies.to_html(index=False, na_rep='')}</div>"
        )

    def __repr__(self) -> str:
        return (
            f"<Extraction {self.folder}: {len(self.studies)} studies, {len(self.numbers)} "
            f"numbers, {len(self.estimates)} estimates>"
        )


def read_extraction(
    folder: str | PathLike[str], protocol: Protocol | str | PathLike[str] | None = None
) -> Extraction:
    """Read ``studies.csv`` and ``outcomes.csv`` and validate them against the protocol.

    Parameters
    ----------
    folder : str or path-like
        The ``extraction/`` folder of a review.
    protocol : Protocol or path-like, optional
        The protocol (schema version 2) declaring fields, outcomes and covariates; by
        default the ``protocol.yaml`` of the review folder holding ``folder``.

    Returns
    -------
    Extraction

    Raises
    ------
    review.errors.ExtractionError
        A missing file or column, an undeclared column, field, outcome or covariate value,
        a number without PMID or location, a count that is not a whole number, a count
        above its denominator, a subtype above its parent without a note, a non-positive
        person-time, an estimate outside its interval or scale. The message names file, row
        and column.
    review.errors.ProtocolError
        The protocol is version 1 or declares no fields (the message says how to migrate).

    Examples
    --------
    >>> from review.paths import example_review_dir
    >>> ex = read_extraction(example_review_dir() / "extraction")
    >>> proportions = [o.code for o in ex.protocol.outcomes if o.kind == "proportion"]
    >>> comp = ex.completeness().set_index("outcome")
    >>> bool((comp.loc[proportions, "counts"] >= 1).all())
    True
    """
    proto = _resolve_protocol(folder, protocol)
    root = Path(folder)
    spath, opath = root / "studies.csv", root / "outcomes.csv"
    # a covariate taken from elsewhere is read so that its column gets a clear error
    elsewhere = tuple(c for c, cov in proto.covariates.items() if cov.source != "studies")
    studies = _read_csv(spath, STUDY_COLUMNS, (*proto.study_columns(), *elsewhere))
    typed = _check_studies(studies, proto, spath)
    out = _read_csv(opath, OUTCOME_COLUMNS, OUTCOME_COLUMNS + _OPTIONAL_OUTCOME_COLUMNS)
    numbers, estimates = _check_outcome_rows(out, studies, proto, opath)
    ids = list(studies["study_id"])
    derived = _derive(numbers, ids, proto)
    _check_consistency(numbers, derived, ids, proto, opath)

    wide = studies.reset_index(drop=True).copy()
    for code, cov in proto.covariates.items():
        if cov.source != "studies":
            continue  # joined by review.analysis.run_analyses (from the appraisal)
        vals = [typed[code][sid] for sid in ids]
        dtype = {"integer": "Int64", "number": "Float64", "boolean": "boolean"}.get(
            cov.type, "object"
        )
        wide[code] = pd.Series(vals, dtype=dtype)
    for code, f in proto.fields.items():
        col: list[float | None] = []
        source: list[Any] = []
        for sid in ids:
            if (sid, code) in numbers:
                col.append(numbers[(sid, code)].value)
                source.append("reported")
            elif (sid, code) in derived:
                col.append(derived[(sid, code)][0])
                source.append(derived[(sid, code)][1])
            else:
                col.append(None)
                source.append(pd.NA)
        series = pd.Series(col, dtype="Float64")
        wide[code] = series.astype("Int64") if f.type == "count" else series
        if f.derived is not None:
            wide[f"{code}_source"] = pd.Series(source, dtype=object)
    is_num = ~out["scale"].astype(bool) if "scale" in out.columns else pd.Series(True, out.index)
    prov = out.loc[is_num, [c for c in out.columns if c not in ESTIMATE_COLUMNS]].copy()
    prov["value"] = [numbers[(s, f)].value for s, f in zip(prov["study_id"], prov["field"])]
    prov.insert(len(prov.columns), "line", prov.index.astype(int))
    prov = prov.reset_index(drop=True)
    erows = []
    for (sid, code), e in estimates.items():
        src = out.loc[e.line]
        erows.append(
            {
                "study_id": sid,
                "outcome": code,
                "estimate": e.estimate,
                "ci_low": e.ci_low,
                "ci_high": e.ci_high,
                "se": e.se,
                "ci_level": e.ci_level,
                "estimate_type": e.estimate_type,
                "scale": e.scale,
                "reported": src["value"],
                "pmid": src["pmid"],
                "location": src["location"],
                "note": src["note"],
                "line": e.line,
            }
        )
    est_frame = pd.DataFrame(erows, columns=_ESTIMATE_FRAME_COLUMNS)
    wide.attrs["provenance"] = prov
    overlap = read_overlap(root / OVERLAP_FILE, ids) if (root / OVERLAP_FILE).is_file() else None
    return Extraction(
        protocol=proto,
        folder=root,
        studies=wide,
        numbers=prov,
        estimates=est_frame,
        overlap=_EMPTY_OVERLAP.copy() if overlap is None else overlap,
    )


def read_overlap(path: str | PathLike[str], study_ids: Any) -> pd.DataFrame:
    """Read and check ``overlap.csv``: cohorts that may share patients, and the evidence.

    One row a pair. ``study_id`` and ``overlaps_with`` name the two cohorts; at least one
    must be a study of ``studies.csv`` (the other may be a report outside the review,
    described in words, when the link documents why it was left out). ``relation`` is one
    of :data:`review.protocol.OVERLAP_RELATIONS`; ``evidence`` says what shows the link (or
    why it cannot be ruled out) and ``source_url`` where it was read. A sensitivity analysis
    removes overlap by leaving out each pair's ``study_id`` (``exclude_sets: overlap:``).

    Parameters
    ----------
    path : path-like
        The CSV.
    study_ids : iterable of str
        The study ids of ``studies.csv``.

    Returns
    -------
    pandas.DataFrame
        :data:`OVERLAP_COLUMNS` and ``line`` (in the file).

    Raises
    ------
    review.errors.ExtractionError
        A missing column or cell, an unknown relation, a pair naming no study of the review
        or a study twice, a repeated pair (naming file, line and column).
    """
    from review.protocol import OVERLAP_RELATIONS

    path = Path(path)
    df = _read_csv(path, OVERLAP_COLUMNS, OVERLAP_COLUMNS)
    ids = set(study_ids)
    seen: dict[frozenset[str], int] = {}
    for line, row in df.iterrows():
        ln = cast(int, line)
        for col in OVERLAP_COLUMNS:
            if not row[col]:
                raise ExtractionError(f"{col} is empty", path=path, row=ln, column=col)
        if row["relation"] not in OVERLAP_RELATIONS:
            raise ExtractionError(
                f"relation {row['relation']!r} is not one of {list(OVERLAP_RELATIONS)}",
                path=path,
                row=ln,
                column="relation",
            )
        a, b = row["study_id"], row["overlaps_with"]
        if a == b:
            raise ExtractionError(
                f"{a!r} overlaps with itself", path=path, row=ln, column="overlaps_with"
            )
        if a not in ids and b not in ids:
            raise ExtractionError(
                f"neither {a!r} nor {b!r} is a study of studies.csv",
                path=path,
                row=ln,
                column="study_id",
            )
        pair = frozenset((a, b))
        if pair in seen:
            raise ExtractionError(
                f"the pair {a!r}, {b!r} is already on line {seen[pair]}",
                path=path,
                row=ln,
                column="overlaps_with",
            )
        seen[pair] = ln
    out = df.copy()
    out["line"] = out.index.astype(int)
    return out.reset_index(drop=True)


def load_extraction(
    folder: str | PathLike[str], protocol: Protocol | str | PathLike[str] | None = None
) -> pd.DataFrame:
    """The validated wide table, one row a study (``read_extraction(...).studies``).

    Parameters
    ----------
    folder : str or path-like
        The ``extraction/`` folder of a review.
    protocol : Protocol or path-like, optional
        As :func:`read_extraction`.

    Returns
    -------
    pandas.DataFrame
        See :attr:`Extraction.studies`; ``df.attrs["provenance"]`` holds every number with
        its source (:attr:`Extraction.numbers`).

    Raises
    ------
    review.errors.ExtractionError, review.errors.ProtocolError
        As :func:`read_extraction`.
    """
    return read_extraction(folder, protocol).studies


def provenance(
    folder: str | PathLike[str], protocol: Protocol | str | PathLike[str] | None = None
) -> pd.DataFrame:
    """Every extracted number with its source: the validated long table.

    Parameters
    ----------
    folder : str or path-like
        The ``extraction/`` folder.
    protocol : Protocol or path-like, optional
        As :func:`read_extraction`.

    Returns
    -------
    pandas.DataFrame
        Columns ``study_id, field, value`` (float) ``, pmid, location, note`` and, when
        present, ``source_url``; plus ``line``, the line of ``outcomes.csv`` it came from.
    """
    return read_extraction(folder, protocol).numbers.copy()


def report_study_map(studies: pd.DataFrame) -> dict[str, str]:
    """Report -> study, for counting PRISMA's reports and studies apart.

    A study is identified by its primary report (the ``pmid`` column): every PubMed record of
    its reports (``pmid`` and ``report_pmids``) maps to the record id of that primary report.
    A report identified by its DOI (no PMID: found by other methods) is the record
    ``doi:<DOI>``.
    Strata of one study (rows sharing a primary PMID, e.g. one row a subgroup) are one study.

    Parameters
    ----------
    studies : pandas.DataFrame
        The frame from :func:`load_extraction`.

    Returns
    -------
    dict
        ``{"pubmed:<report PMID>": "pubmed:<primary PMID>"}``.

    Examples
    --------
    >>> import pandas as pd
    >>> report_study_map(pd.DataFrame({"pmid": ["1", "1"], "report_pmids": ["1;2", "1"]}))
    {'pubmed:1': 'pubmed:1', 'pubmed:2': 'pubmed:1'}
    >>> report_study_map(pd.DataFrame({"pmid": ["10.1000/x1"]}))
    {'doi:10.1000/x1': 'doi:10.1000/x1'}
    """
    mapping: dict[str, str] = {}
    reports = studies["report_pmids"] if "report_pmids" in studies.columns else None
    for i, primary in enumerate(studies["pmid"].astype(str)):
        pmids = [primary]
        if reports is not None and isinstance(reports.iloc[i], str):
            pmids += _pmids(reports.iloc[i])
        for p in pmids:
            mapping[_record_of(p)] = _record_of(primary)
    return mapping


def _record_of(report: str) -> str:
    """The record id of a report: ``pubmed:<PMID>``, or ``doi:<DOI>`` (lower case)."""
    return f"pubmed:{report}" if is_pmid(report) else f"doi:{report.lower()}"
