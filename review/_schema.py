"""The record schema shared by every source (docs/DESIGN.md, "Record schema").

A records DataFrame has exactly :data:`RECORD_COLUMNS`, in order; extra columns are allowed
after them. :func:`empty_records` gives a typed frame with no rows and
:func:`normalise_records` brings any frame with (a subset of) these columns into shape:
missing columns are added, list columns hold lists, ``year`` is ``Int64``, text columns hold
``str`` or ``None``, PMIDs are digits only and DOIs lower case without a resolver prefix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from review._numbers import is_pmid

__all__ = [
    "LIST_COLUMNS",
    "RECORD_COLUMNS",
    "TEXT_COLUMNS",
    "clean_doi",
    "empty_records",
    "normalise_records",
    "records_from_dicts",
]

#: The schema's columns, in order.
RECORD_COLUMNS: tuple[str, ...] = (
    "record_id",
    "source",
    "pmid",
    "doi",
    "title",
    "abstract",
    "authors",
    "journal",
    "year",
    "pub_date",
    "publication_types",
    "mesh_terms",
    "keywords",
    "language",
)

#: Columns holding ``list[str]`` (never NaN: an empty list when nothing is known).
LIST_COLUMNS: tuple[str, ...] = ("authors", "publication_types", "mesh_terms", "keywords")

#: Columns holding ``str`` or ``None``.
TEXT_COLUMNS: tuple[str, ...] = tuple(
    c for c in RECORD_COLUMNS if c not in LIST_COLUMNS and c != "year"
)

_DOI_PREFIX = re.compile(r"^\s*(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)


def clean_doi(value: Any) -> str | None:
    """A DOI lower-cased, stripped of ``https://doi.org/`` or ``doi:``; ``None`` if empty."""
    if _missing(value):
        return None
    s = _DOI_PREFIX.sub("", str(value)).strip().lower()
    return s or None


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return False


def _as_text(value: Any) -> str | None:
    if _missing(value):
        return None
    s = str(value)
    return s if s.strip() else None


def _as_list(value: Any) -> list[str]:
    if _missing(value):
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, Iterable):
        return [str(v) for v in value if not _missing(v) and str(v).strip()]
    return [str(value)]


def _as_pmid(value: Any) -> str | None:
    s = _as_text(value)
    if s is None:
        return None
    s = s.strip()
    if s.endswith(".0") and s[:-2].isdigit():  # a PMID that went through a float column
        s = s[:-2]
    return s if is_pmid(s) else None


def empty_records() -> pd.DataFrame:
    """A records DataFrame with the schema's columns and dtypes and no rows."""
    df = pd.DataFrame({c: pd.Series([], dtype=object) for c in RECORD_COLUMNS})
    df["year"] = df["year"].astype("Int64")
    return df


def normalise_records(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` in the shared record schema.

    Schema columns come first, in order (missing ones are added empty); extra columns are
    kept after them. Values are coerced: lists in list columns, ``Int64`` years, ``str`` or
    ``None`` in text columns, PMIDs digits only (anything else becomes ``None``) and DOIs
    cleaned with :func:`clean_doi`. The index is reset.
    """
    out = df.reset_index(drop=True).copy()
    n = len(out)
    for c in RECORD_COLUMNS:
        if c not in out.columns:
            out[c] = pd.Series([None] * n, dtype=object)
    for c in LIST_COLUMNS:
        out[c] = pd.Series([_as_list(v) for v in out[c]], dtype=object)
    for c in TEXT_COLUMNS:
        if c == "pmid":
            vals = [_as_pmid(v) for v in out[c]]
        elif c == "doi":
            vals = [clean_doi(v) for v in out[c]]
        else:
            vals = [_as_text(v) for v in out[c]]
        out[c] = pd.Series(vals, dtype=object)
    out["year"] = pd.to_numeric(out["year"], errors="coerce").astype("Int64")
    extra = [c for c in out.columns if c not in RECORD_COLUMNS]
    return out[list(RECORD_COLUMNS) + extra]


def records_from_dicts(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build a normalised records DataFrame from an iterable of dicts."""
    rows = list(rows)
    if not rows:
        return empty_records()
    return normalise_records(pd.DataFrame.from_records(rows))
