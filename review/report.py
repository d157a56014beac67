"""Our pooled estimates beside a published meta-analysis's, from its sourced facts.

The published figures are data like any other: a CSV with one row a quantity, each with its
PMID and the place it was read (``data/extraction/tix2024.csv`` in the worked example), so the
comparison table, like every other number the review shows, traces back to a source.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from review.errors import ExtractionError
from review.meta.results import PoolResult

__all__ = ["PUBLISHED_COLUMNS", "compare_estimates", "load_published"]

#: Columns of a published-facts file.
PUBLISHED_COLUMNS = ("quantity", "value", "unit", "ci_low", "ci_high", "pmid", "location")


def load_published(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a file of facts from a published paper; every fact needs a PMID and a location.

    Parameters
    ----------
    path : path-like
        CSV with columns :data:`PUBLISHED_COLUMNS` (more are kept).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``quantity``.

    Raises
    ------
    review.errors.ExtractionError
        A missing column, a repeated quantity, a value that is not a number, or a fact without
        its PMID or location (naming file, line and column).
    """
    path = Path(path)
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in PUBLISHED_COLUMNS:
        if col not in df.columns:
            raise ExtractionError(f"missing column {col!r}", path=path, column=col)
    for i, row in df.iterrows():
        line = int(str(i)) + 2  # header is line 1
        for col in ("quantity", "value", "pmid", "location"):
            if not row[col].strip():
                raise ExtractionError(f"{col} is empty", path=path, row=line, column=col)
        for col in ("value", "ci_low", "ci_high"):
            if row[col].strip():
                try:
                    float(row[col])
                except ValueError:
                    raise ExtractionError(
                        f"{row[col]!r} is not a number", path=path, row=line, column=col
                    ) from None
    if df["quantity"].duplicated().any():
        dup = df.loc[df["quantity"].duplicated(), "quantity"].iloc[0]
        raise ExtractionError(f"quantity {dup!r} appears twice", path=path, column="quantity")
    for col in ("value", "ci_low", "ci_high"):
        df[col] = pd.to_numeric(df[col].replace("", None))
    return df.set_index("quantity")


def compare_estimates(
    ours: Mapping[str, PoolResult],
    published: pd.DataFrame,
    *,
    published_label: str,
    quantity: str = "pooled_spm",
    patients: str | None = "patients",
    studies: tuple[str, ...] = ("clinical_trials", "real_world_studies"),
) -> pd.DataFrame:
    """One row per estimate: ours (several analyses) and the published one, in percent.

    Parameters
    ----------
    ours : mapping of str to PoolResult
        Label -> pooled proportion (e.g. ``{"GLMM (primary)": res}``).
    published : pandas.DataFrame
        From :func:`load_published`.
    published_label : str
        How to name the published row (e.g. ``"Tix et al. 2024"``).
    quantity : str
        The published pooled estimate's quantity (value and interval in percent).
    patients : str, optional
        Quantity holding the published number of patients.
    studies : tuple of str
        Quantities whose values add up to the published number of studies.

    Returns
    -------
    pandas.DataFrame
        Columns ``analysis, k, patients, estimate_pct, ci_low_pct, ci_high_pct, method,
        source``.
    """
    rows = []
    for label, res in ours.items():
        n = res.data["n"].sum()  # the engine keeps its canonical columns: events, n
        rows.append({
            "analysis": label,
            "k": res.k,
            "patients": int(n),
            "estimate_pct": 100 * res.estimate,
            "ci_low_pct": 100 * res.ci_low,
            "ci_high_pct": 100 * res.ci_high,
            "method": f"{res.measure}, {res.method}, {res.test}",
            "source": "this review",
        })
    pub = published.loc[quantity]
    rows.append({
        "analysis": published_label,
        "k": int(sum(published.loc[s, "value"] for s in studies)) if studies else pd.NA,
        "patients": int(published.loc[patients, "value"]) if patients else pd.NA,
        "estimate_pct": float(pub["value"]),
        "ci_low_pct": float(pub["ci_low"]),
        "ci_high_pct": float(pub["ci_high"]),
        "method": "random effects (as published)",
        "source": f"PMID {pub['pmid']}: {pub['location']}",
    })
    return pd.DataFrame(rows)
