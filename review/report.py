"""Tables a review reports: pooled estimates, subgroup tests, a published comparison.

These take the engine's results (:mod:`review.meta`) and lay them out for the manuscript; they
compute nothing new. Published figures are data like any other: a CSV with one row a quantity,
each with its PMID and the place it was read (a file of the review folder that the protocol's
``comparisons`` name), so the comparison table, like every other number the review shows,
traces back to a source.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import cast

import pandas as pd

from review._io import read_delimited
from review._numbers import BadNumber, check_number
from review.errors import ExtractionError, InputError, ReviewError
from review.meta import subgroups
from review.meta.multilevel import MultilevelResult
from review.meta.results import PoolResult, SubgroupResult, blank_not_converged

__all__ = [
    "POOLED_COLUMNS",
    "PUBLISHED_COLUMNS",
    "compare_estimates",
    "load_published",
    "pooled_table",
    "subgroup_test_row",
    "subgroup_tests",
]

#: Columns of :func:`pooled_table`, in order.
POOLED_COLUMNS = (
    "analysis", "kind", "measure", "method", "test", "k", "events", "total", "estimate",
    "ci_low", "ci_high", "pi_low", "pi_high", "pi_method", "tau2", "i2", "q", "q_df",
    "q_pvalue", "converged",
)  # fmt: skip

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
    table = read_delimited(path, error=ExtractionError)  # lines as in the file
    missing = [c for c in PUBLISHED_COLUMNS if c not in table.header]
    if missing:
        raise ExtractionError(
            table.missing_message(missing), path=path, row=table.header_line, column=missing[0]
        )
    seen: dict[str, int] = {}
    numbers: dict[str, list[float]] = {c: [] for c in ("value", "ci_low", "ci_high")}
    for values, line in zip(table.rows, table.lines):
        row = dict(zip(table.header, (v.strip() for v in values)))
        for col in ("quantity", "value", "pmid", "location"):
            if not row[col]:
                raise ExtractionError(f"{col} is empty", path=path, row=line, column=col)
        q = row["quantity"]
        if q in seen:
            raise ExtractionError(
                f"quantity {q!r} appears twice (first on line {seen[q]})",
                path=path,
                row=line,
                column="quantity",
            )
        seen[row["quantity"]] = line
        for col in numbers:
            try:
                numbers[col].append(
                    check_number(row[col], what=col, whole=False, nonnegative=False)
                    if row[col]
                    else float("nan")
                )
            except BadNumber as e:
                raise ExtractionError(str(e), path=path, row=line, column=col) from None
    df = pd.DataFrame(
        [[v.strip() for v in r] for r in table.rows], columns=list(table.header), dtype=object
    )
    for col, vals in numbers.items():
        df[col] = pd.Series(vals, dtype=float)
    df["line"] = list(table.lines)
    return df.set_index("quantity")


def compare_estimates(
    ours: Mapping[str, PoolResult | MultilevelResult],
    published: pd.DataFrame,
    *,
    published_label: str,
    quantity: str,
    patients: str | None = None,
    studies: tuple[str, ...] = (),
) -> pd.DataFrame:
    """One row per estimate: ours (several analyses) and the published one, in percent.

    Parameters
    ----------
    ours : mapping of str to PoolResult or MultilevelResult
        Label -> pooled proportion (e.g. ``{"GLMM (primary)": res}``); a multilevel fit's
        ``k`` is its number of studies (its strata are in ``method``).
    published : pandas.DataFrame
        From :func:`load_published`.
    published_label : str
        How to name the published row (e.g. ``"Smith et al. 2024"``).
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
        rows.append(
            {
                "analysis": label,
                "k": res.n_studies if isinstance(res, MultilevelResult) else res.k,
                "patients": int(n),
                "estimate_pct": 100 * res.estimate,
                "ci_low_pct": 100 * res.ci_low,
                "ci_high_pct": 100 * res.ci_high,
                "method": f"{res.measure}, {res.method}, {res.test}"
                + (f", multilevel ({res.k_text})" if isinstance(res, MultilevelResult) else ""),
                "source": "this review",
            }
        )
    # load_published: quantities are unique (the index) and values are numbers
    pub = cast(pd.Series, published.loc[quantity])

    def value(q: str) -> float:
        return cast(float, published.loc[q, "value"])

    rows.append(
        {
            "analysis": published_label,
            "k": int(sum(value(s) for s in studies)) if studies else pd.NA,
            "patients": int(value(patients)) if patients else pd.NA,
            "estimate_pct": float(pub["value"]),
            "ci_low_pct": float(pub["ci_low"]),
            "ci_high_pct": float(pub["ci_high"]),
            "method": "random effects (as published)",
            "source": f"PMID {pub['pmid']}: {pub['location']}",
        }
    )
    return pd.DataFrame(rows)


def pooled_table(results: Mapping[str, PoolResult]) -> pd.DataFrame:
    """One row a pooled analysis, with the method and the prediction-interval method named.

    Parameters
    ----------
    results : mapping of str to PoolResult
        Analysis label -> result.

    Returns
    -------
    pandas.DataFrame
        ``analysis, kind, measure, method, test, k, events, total, estimate, ci_low, ci_high,
        pi_low, pi_high, pi_method, tau2, i2, q, q_df, q_pvalue, converged`` (full precision;
        ``total`` is patients for proportions and person-time for rates).
    """
    rows = []
    for label, res in results.items():
        size = "n" if res.kind == "proportion" else "time"
        rows.append(
            {
                "analysis": label,
                "kind": res.kind,
                "measure": res.measure,
                "method": res.method,
                "test": res.test,
                "k": res.k,
                "events": float(res.data["events"].sum()),
                "total": float(res.data[size].sum()),
                "estimate": res.estimate,
                "ci_low": res.ci_low,
                "ci_high": res.ci_high,
                "pi_low": res.pi_low,
                "pi_high": res.pi_high,
                "pi_method": res.pi_method,
                "tau2": res.tau2,
                "i2": res.i2,
                "q": res.q,
                "q_df": res.q_df,
                "q_pvalue": res.q_pvalue,
                "converged": res.converged,
            }
        )
    # a fit that did not converge has no estimate to report (its numbers are NaN here)
    return blank_not_converged(pd.DataFrame(rows, columns=list(POOLED_COLUMNS)))


def subgroup_tests(res: PoolResult, by: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """The test for subgroup differences for each grouping, or why it cannot be made.

    Parameters
    ----------
    res : PoolResult
        The overall pooled result.
    by : sequence of str
        Columns of the result's data to group by, one test each (:func:`review.meta.subgroups`).

    Returns
    -------
    pandas.DataFrame
        ``by, groups, k_per_group, q_between, df, pvalue, note``; a grouping with fewer than
        two groups (or
        otherwise refused by the engine) has NaN statistics and the engine's reason in
        ``note``.
    """
    rows = []
    for col in by:
        try:
            sub: SubgroupResult | InputError = subgroups(res, by=col)
        except InputError as exc:
            sub = exc
        rows.append(subgroup_test_row(col, res.data[col] if col in res.data else None, sub))
    return pd.DataFrame(rows)


def subgroup_test_row(
    by: str, values: pd.Series | None, outcome: SubgroupResult | ReviewError
) -> dict[str, object]:
    """One row of :func:`subgroup_tests`: the test of a subgroup analysis, or why none.

    Parameters
    ----------
    by : str
        The grouping column.
    values : pandas.Series or None
        Its values (to count the groups when no test could be made).
    outcome : SubgroupResult or ReviewError
        The subgroup analysis, or the error that prevented it.

    Returns
    -------
    dict
        ``by, groups, k_per_group, q_between, df, pvalue, note``; ``k_per_group`` names each
        group with its number of studies (``cohort: 3; trial: 1``), and the note says when a
        group has a single study (the test then sets single studies against each other).
    """
    if isinstance(outcome, SubgroupResult):
        ks = [(str(g), int(k)) for g, k in zip(outcome.table["group"], outcome.table["k"])]
        notes = list(outcome.notes)
        singles = [g for g, k in ks if k == 1]
        if singles:
            notes.append(
                f"one study only in {', '.join(singles)}: the test compares single studies, "
                "not groups of studies"
            )
        return {
            "by": by,
            "groups": len(outcome.groups),
            "k_per_group": "; ".join(f"{g}: {k}" for g, k in ks),
            "q_between": outcome.q_between,
            "df": outcome.q_between_df,
            "pvalue": outcome.q_between_pvalue,
            "note": "; ".join(notes),
        }
    counts = values.dropna().astype(str).value_counts(sort=False) if values is not None else None
    return {
        "by": by,
        "groups": values.nunique(dropna=True) if values is not None else pd.NA,
        "k_per_group": "; ".join(f"{g}: {k}" for g, k in counts.items())
        if counts is not None
        else "",
        "q_between": float("nan"),
        "df": pd.NA,
        "pvalue": float("nan"),
        "note": getattr(outcome, "message", str(outcome)),
    }
