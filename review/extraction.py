"""Extraction tables: one number a row, each with its source, validated into one row a study.

A review's ``extraction/`` folder holds (docs/DESIGN.md, "Extraction")::

    studies.csv    one row a study or stratum: study_id, label, pmid, trial, design,
                   product, target, disease, year, note (+ optional report_pmids and
                   other descriptive columns)
    outcomes.csv   one row a number (long format): study_id, field, value, pmid,
                   location, note (+ optional source_url)
    codebook.csv   column -> long name, unit, description (not read here)

:func:`load_extraction` reads both tables, validates them and returns a wide DataFrame,
one row a study, with one column per :data:`FIELDS` entry. The long table it was built
from, with every number's PMID, location and source, is kept in ``df.attrs["provenance"]``
and is also returned by :func:`provenance`. Validation failures raise
:class:`~review.errors.ExtractionError` naming the file, the row (1-based line number in
the file, the header being line 1) and the column.

The checks (a number that fails them cannot be pooled honestly):

* required columns present, ``study_id`` unique, codes from the allowed sets;
* every number has a PMID (digits) and a location (where in the report it was read);
  the PMID must be one of the study's reports (``pmid`` or ``report_pmids``);
* counts are non-negative integers, follow-up and person-years positive;
* every study has ``n_treated``; no count exceeds it;
* sub-types (T-cell, myeloid, solid, non-melanoma skin) summing above ``spm_any``, or a
  single sub-type above ``spm_any``, need a ``note`` on the ``spm_any`` row explaining
  why (for example a total that excludes non-melanoma skin cancer).
"""

from __future__ import annotations

import math
import re
from os import PathLike
from pathlib import Path
from typing import Final, cast

import pandas as pd

from review.errors import ExtractionError

__all__ = [
    "COUNT_FIELDS",
    "DESIGNS",
    "FIELDS",
    "OUTCOME_COLUMNS",
    "PRODUCTS",
    "STUDY_COLUMNS",
    "SUBTYPE_FIELDS",
    "TARGETS",
    "load_extraction",
    "person_time",
    "provenance",
    "report_study_map",
]

#: Required columns of ``studies.csv``, in order.
STUDY_COLUMNS: Final[tuple[str, ...]] = (
    "study_id",
    "label",
    "pmid",
    "trial",
    "design",
    "product",
    "target",
    "disease",
    "year",
    "note",
)

#: Required columns of ``outcomes.csv``, in order.
OUTCOME_COLUMNS: Final[tuple[str, ...]] = ("study_id", "field", "value", "pmid", "location", "note")

#: Fields of ``outcomes.csv`` that hold patient counts.
COUNT_FIELDS: Final[tuple[str, ...]] = (
    "n_treated",
    "spm_any",
    "spm_tcell",
    "spm_myeloid",
    "spm_solid",
    "spm_nmsc",
)

#: Sub-types of ``spm_any``.
SUBTYPE_FIELDS: Final[tuple[str, ...]] = ("spm_tcell", "spm_myeloid", "spm_solid", "spm_nmsc")

#: Every allowed ``field``, in the order of the wide table's columns.
FIELDS: Final[tuple[str, ...]] = (*COUNT_FIELDS, "median_followup_months", "person_years")

#: Allowed study designs.
DESIGNS: Final[frozenset[str]] = frozenset({"trial", "real_world"})

#: Allowed targets; ``mixed`` is a cohort treated with CD19 and BCMA products not split.
TARGETS: Final[frozenset[str]] = frozenset({"CD19", "BCMA", "mixed"})

#: Allowed products; ``mixed`` is a cohort of several products not split by product.
PRODUCTS: Final[frozenset[str]] = frozenset(
    {"axi-cel", "tisa-cel", "liso-cel", "brexu-cel", "ide-cel", "cilta-cel", "mixed"}
)

_PMID = re.compile(r"^\d{1,9}$")


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise ExtractionError("file not found", path=path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ExtractionError(f"cannot be read as CSV ({exc})", path=path) from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ExtractionError(
            f"required column(s) missing: {', '.join(missing)}", path=path, column=missing[0]
        )
    df = df.apply(lambda s: s.str.strip())
    df.index = range(2, len(df) + 2)  # line numbers in the file (header is line 1)
    return cast(pd.DataFrame, df)  # pandas-stubs type DataFrame.apply as Any


def _pmids(value: str) -> list[str]:
    return [p.strip() for p in re.split(r"[;,\s]+", value) if p.strip()]


def _check_studies(df: pd.DataFrame, path: Path) -> None:
    seen: dict[str, int] = {}
    for label, row in df.iterrows():
        line = cast(int, label)  # _read_csv indexes rows by their line in the file
        sid = row["study_id"]
        if not sid:
            raise ExtractionError("study_id is empty", path=path, row=line, column="study_id")
        if sid in seen:
            raise ExtractionError(
                f"study_id {sid!r} repeats line {seen[sid]}", path=path, row=line, column="study_id"
            )
        seen[sid] = int(line)
        if not _PMID.match(row["pmid"]):
            raise ExtractionError(
                f"pmid {row['pmid']!r} is not a PubMed identifier (digits only)",
                path=path,
                row=line,
                column="pmid",
            )
        if "report_pmids" in df.columns:
            for p in _pmids(row["report_pmids"]):
                if not _PMID.match(p):
                    raise ExtractionError(
                        f"report_pmids entry {p!r} is not a PubMed identifier",
                        path=path,
                        row=line,
                        column="report_pmids",
                    )
        for column, allowed in (("design", DESIGNS), ("target", TARGETS), ("product", PRODUCTS)):
            if row[column] not in allowed:
                raise ExtractionError(
                    f"{column} {row[column]!r} is not one of {sorted(allowed)}",
                    path=path,
                    row=line,
                    column=column,
                )
        if not row["label"]:
            raise ExtractionError("label is empty", path=path, row=line, column="label")
        if not row["disease"]:
            raise ExtractionError("disease is empty", path=path, row=line, column="disease")
        if not re.fullmatch(r"(19|20)\d\d", row["year"]):
            raise ExtractionError(
                f"year {row['year']!r} is not a four-digit year", path=path, row=line, column="year"
            )


def _number(text: str, field: str, path: Path, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ExtractionError(
            f"value {text!r} of field {field!r} is not a number",
            path=path,
            row=line,
            column="value",
        ) from None
    if not math.isfinite(value):
        raise ExtractionError(
            f"value {text!r} of field {field!r} is not finite", path=path, row=line, column="value"
        )
    if field in COUNT_FIELDS:
        if value < 0 or value != int(value):
            raise ExtractionError(
                f"{field} must be a non-negative whole number of patients, got {text!r}",
                path=path,
                row=line,
                column="value",
            )
    elif value <= 0:
        raise ExtractionError(
            f"{field} must be > 0, got {text!r}", path=path, row=line, column="value"
        )
    return value


def _check_outcomes(
    out: pd.DataFrame, studies: pd.DataFrame, path: Path
) -> dict[tuple[str, str], tuple[float, int]]:
    reports: dict[str, set[str]] = {}
    for _, srow in studies.iterrows():
        pm = {srow["pmid"]}
        if "report_pmids" in studies.columns:
            pm |= set(_pmids(srow["report_pmids"]))
        reports[srow["study_id"]] = pm
    values: dict[tuple[str, str], tuple[float, int]] = {}
    for label, row in out.iterrows():
        line = cast(int, label)  # _read_csv indexes rows by their line in the file
        sid, field = row["study_id"], row["field"]
        if sid not in reports:
            raise ExtractionError(
                f"study_id {sid!r} is not in studies.csv", path=path, row=line, column="study_id"
            )
        if field not in FIELDS:
            raise ExtractionError(
                f"field {field!r} is not one of {list(FIELDS)}", path=path, row=line, column="field"
            )
        if (sid, field) in values:
            raise ExtractionError(
                f"{field} of {sid!r} already given on line {values[(sid, field)][1]}",
                path=path,
                row=line,
                column="field",
            )
        if not row["pmid"]:
            raise ExtractionError(
                f"{field} of {sid!r} has no PMID: every number needs its source",
                path=path,
                row=line,
                column="pmid",
            )
        if not _PMID.match(row["pmid"]):
            raise ExtractionError(
                f"pmid {row['pmid']!r} is not a PubMed identifier",
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
                f"{field} of {sid!r} has no location: say where the number was found",
                path=path,
                row=line,
                column="location",
            )
        if "source_url" in out.columns and not row["source_url"]:
            raise ExtractionError(
                f"{field} of {sid!r} has no source_url", path=path, row=line, column="source_url"
            )
        values[(sid, field)] = (_number(row["value"], field, path, int(line)), int(line))
    return values


def _check_consistency(
    values: dict[tuple[str, str], tuple[float, int]],
    out: pd.DataFrame,
    studies: pd.DataFrame,
    path: Path,
) -> None:
    for sid in studies["study_id"]:
        if (sid, "n_treated") not in values:
            raise ExtractionError(
                f"study {sid!r} has no n_treated row", path=path, row=sid, column="n_treated"
            )
        n, _ = values[(sid, "n_treated")]
        for field in COUNT_FIELDS[1:]:
            if (sid, field) in values and values[(sid, field)][0] > n:
                v, line = values[(sid, field)]
                raise ExtractionError(
                    f"{field} = {v:g} exceeds n_treated = {n:g} for study {sid!r}",
                    path=path,
                    row=line,
                    column="value",
                )
        if (sid, "spm_any") not in values:
            continue
        total, any_line = values[(sid, "spm_any")]
        note = out.loc[any_line, "note"]
        subs = {f: values[(sid, f)][0] for f in SUBTYPE_FIELDS if (sid, f) in values}
        if note:
            continue
        for f, v in subs.items():
            if v > total:
                raise ExtractionError(
                    f"{f} = {v:g} exceeds spm_any = {total:g} for study {sid!r} "
                    "and the spm_any row has no note explaining it",
                    path=path,
                    row=values[(sid, f)][1],
                    column="value",
                )
        if sum(subs.values()) > total:
            raise ExtractionError(
                f"sub-types ({', '.join(f'{k}={v:g}' for k, v in subs.items())}) sum to "
                f"{sum(subs.values()):g}, above spm_any = {total:g} for study {sid!r}, and the "
                "spm_any row has no note (patients with two sub-types? a total excluding NMSC?)",
                path=path,
                row=any_line,
                column="value",
            )


def _tables(folder: str | PathLike[str]) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    root = Path(folder)
    studies = _read_csv(root / "studies.csv", STUDY_COLUMNS)
    _check_studies(studies, root / "studies.csv")
    out = _read_csv(root / "outcomes.csv", OUTCOME_COLUMNS)
    return studies, out, root


def provenance(folder: str | PathLike[str]) -> pd.DataFrame:
    """Every extracted number with its source: the validated long table.

    Parameters
    ----------
    folder : str or path-like
        The ``extraction/`` folder.

    Returns
    -------
    pandas.DataFrame
        Columns ``study_id, field, value`` (float) ``, pmid, location, note`` and, when
        present, ``source_url``; plus ``line``, the line of ``outcomes.csv`` it came from.
    """
    prov: pd.DataFrame = load_extraction(folder).attrs["provenance"]  # attrs values are Any
    return prov.copy()


def person_time(
    studies: pd.DataFrame,
    *,
    n: str = "n_treated",
    followup: str = "median_followup_months",
    reported: str = "person_years",
) -> pd.DataFrame:
    """Person-years per study: as reported, else approximated as N x median follow-up.

    The approximation treats every patient as followed for the median time, which
    overstates person-time when patients die or are censored early, so rates computed from it
    are lower bounds of a sort and belong in a sensitivity analysis, not the primary one. Each
    row says which it used.

    Parameters
    ----------
    studies : pandas.DataFrame
        The frame from :func:`load_extraction`.
    n, followup, reported : str
        Columns of patients treated, median follow-up in months, and reported person-years.

    Returns
    -------
    pandas.DataFrame
        ``studies`` with ``person_years_used`` (float) and ``person_time_source``
        (``"reported"``, ``"N x median follow-up"`` or ``"not available"``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame(
    ...     {
    ...         "n_treated": [100, 50],
    ...         "median_followup_months": [12.0, None],
    ...         "person_years": [None, 80.0],
    ...     }
    ... )
    >>> person_time(df)[["person_years_used", "person_time_source"]].to_dict("list")
    {'person_years_used': [100.0, 80.0], 'person_time_source': ['N x median follow-up', 'reported']}
    """
    out = studies.copy()
    rep = pd.to_numeric(out[reported], errors="coerce").astype(float)
    approx = (
        pd.to_numeric(out[n], errors="coerce").astype(float)
        * pd.to_numeric(out[followup], errors="coerce").astype(float)
        / 12.0
    )
    out["person_years_used"] = rep.where(rep.notna(), approx)
    out["person_time_source"] = [
        "reported" if pd.notna(r) else ("N x median follow-up" if pd.notna(a) else "not available")
        for r, a in zip(rep, approx)
    ]
    return out


def report_study_map(studies: pd.DataFrame) -> dict[str, str]:
    """Report -> study, for counting PRISMA's reports and studies apart.

    A study is identified by its primary report (the ``pmid`` column): every PubMed record of
    its reports (``pmid`` and ``report_pmids``) maps to the record id of that primary report.
    Strata of one study (rows sharing a primary PMID, e.g. one row a product) are one study.

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
    """
    mapping: dict[str, str] = {}
    reports = studies["report_pmids"] if "report_pmids" in studies.columns else None
    for i, primary in enumerate(studies["pmid"].astype(str)):
        pmids = [primary]
        if reports is not None and isinstance(reports.iloc[i], str):
            pmids += _pmids(reports.iloc[i])
        for p in pmids:
            mapping[f"pubmed:{p}"] = f"pubmed:{primary}"
    return mapping


def load_extraction(folder: str | PathLike[str]) -> pd.DataFrame:
    """Read and validate ``studies.csv`` and ``outcomes.csv``; one row a study.

    Parameters
    ----------
    folder : str or path-like
        The ``extraction/`` folder of a review.

    Returns
    -------
    pandas.DataFrame
        The columns of ``studies.csv`` (``year`` as ``Int64``) followed by one column per
        entry of :data:`FIELDS`: counts as ``Int64``, ``median_followup_months`` and
        ``person_years`` as ``Float64``, missing where not reported. Indexed 0..k-1 in the
        order of ``studies.csv``. ``df.attrs["provenance"]`` holds the long table (see
        :func:`provenance`).

    Raises
    ------
    review.errors.ExtractionError
        On a missing file or column, an unknown code, a number without PMID or location,
        a count above ``n_treated``, sub-types above the total without a note, or a
        non-positive follow-up or person-time. The message names file, row and column.

    Examples
    --------
    >>> from review.paths import example_review_dir
    >>> df = load_extraction(example_review_dir() / "extraction")
    >>> bool((df["spm_any"].dropna() <= df.loc[df["spm_any"].notna(), "n_treated"]).all())
    True
    """
    studies, out, root = _tables(folder)
    values = _check_outcomes(out, studies, root / "outcomes.csv")
    _check_consistency(values, out, studies, root / "outcomes.csv")

    wide = studies.reset_index(drop=True).copy()
    wide["year"] = pd.to_numeric(wide["year"]).astype("Int64")
    for field in FIELDS:
        col = [values.get((sid, field), (None, 0))[0] for sid in wide["study_id"]]
        series = pd.Series(col, dtype="Float64")
        wide[field] = series.astype("Int64") if field in COUNT_FIELDS else series
    prov = out.copy()
    prov["value"] = pd.to_numeric(prov["value"]).astype(float)
    prov.insert(len(prov.columns), "line", prov.index.astype(int))
    prov = prov.reset_index(drop=True)
    wide.attrs["provenance"] = prov
    return wide
