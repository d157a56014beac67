"""Input validation and effect sizes (metafor ``escalc``) for proportions and rates.

Shared by every fitting engine (inverse-variance and GLMM): :func:`validate_counts`
checks the frame at the door and returns it in canonical form (``label, events, n`` or
``label, events, time``, plus the caller's other columns); :func:`escalc` computes the
model-scale outcomes with metafor's default zero-cell correction; :func:`exact_ci`
gives the per-study exact intervals.

References
----------
Viechtbauer W. Conducting meta-analyses in R with the metafor package. *J Stat Softw*
2010;36(3):1-48 (``escalc``).
Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the case
of the binomial. *Biometrika* 1934;26:404-13.
Garwood F. Fiducial limits for the Poisson distribution. *Biometrika* 1936;28:437-42.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from review.errors import InputError, OptionError
from review.meta._vocab import MEASURES, check_code

__all__ = ["EscalcData", "escalc", "exact_ci", "validate_counts"]

FloatArray = NDArray[np.float64]


def _numeric(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        raise InputError(
            f"column {col!r} not found; columns are {list(map(str, df.columns))}", column=col
        )
    s = df[col]
    out = pd.to_numeric(s, errors="coerce")
    for idx, raw, val in zip(df.index, s, out, strict=True):
        missing = raw is None or (isinstance(raw, float) and math.isnan(raw)) or raw is pd.NA
        if missing or pd.isna(val):
            if missing or pd.isna(raw):
                raise InputError("missing value", row=idx, column=col)
            raise InputError(f"not a number: {raw!r}", row=idx, column=col)
        if not math.isfinite(float(val)):
            raise InputError(f"not a finite number: {raw!r}", row=idx, column=col)
    return out.astype(float)


def validate_counts(
    df: pd.DataFrame,
    *,
    kind: str,
    events: str = "events",
    n: str | None = "n",
    time: str | None = None,
    label: str | None = None,
    min_k: int = 1,
) -> pd.DataFrame:
    """Check a study table and return it in canonical form.

    Parameters
    ----------
    df : pandas.DataFrame
        One row a study.
    kind : {"proportion", "rate"}
        ``proportion`` needs ``events`` and ``n``; ``rate`` needs ``events`` and ``time``.
    events, n, time, label : str
        Column names. ``label=None`` labels the studies ``Study 1, Study 2, ...`` as
        metafor does.
    min_k : int
        Fewest studies accepted (2 for random-effects models).

    Returns
    -------
    pandas.DataFrame
        Columns ``label`` (str), ``events`` (float, whole numbers), ``n`` (float, whole
        numbers) or ``time`` (float > 0), then the other columns of ``df`` unchanged. The
        original index is kept, so errors downstream can still name the row.

    Raises
    ------
    InputError
        Missing column or value, a non-number, negative or non-integer counts, events
        greater than n, n or person-time not positive, fewer than ``min_k`` rows,
        duplicate labels. The error names the row (index label) and the column.
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if kind not in ("proportion", "rate"):
        raise OptionError(f"Invalid kind {kind!r}; must be one of ['proportion', 'rate']")
    ev = _numeric(df, events)
    for idx, v in ev.items():
        if v < 0:
            raise InputError(f"negative event count {v:g}", row=idx, column=events)
        if not float(v).is_integer():
            raise InputError(f"event count {v:g} is not a whole number", row=idx, column=events)
    if kind == "proportion":
        if n is None:
            raise OptionError("pool_proportions needs the sample-size column (n=...)")
        nn = _numeric(df, n)
        for idx, v in nn.items():
            if v <= 0:
                raise InputError(f"sample size {v:g} is not positive", row=idx, column=n)
            if not float(v).is_integer():
                raise InputError(f"sample size {v:g} is not a whole number", row=idx, column=n)
            if ev[idx] > v:
                raise InputError(
                    f"events ({ev[idx]:g}) greater than n ({v:g})", row=idx, column=events
                )
        size_col, size = "n", nn
    else:
        if time is None:
            raise OptionError("pool_rates needs the person-time column (time=...)")
        tt = _numeric(df, time)
        for idx, v in tt.items():
            if v <= 0:
                raise InputError(f"person-time {v:g} is not positive", row=idx, column=time)
        size_col, size = "time", tt
    if label is None:
        labels = pd.Series([f"Study {i + 1}" for i in range(len(df))], index=df.index)
    else:
        if label not in df.columns:
            raise InputError(
                f"label column {label!r} not found; columns are {list(map(str, df.columns))}",
                column=label,
            )
        labels = df[label]
        for idx, v in labels.items():
            if v is None or (isinstance(v, float) and math.isnan(v)):
                raise InputError("missing study label", row=idx, column=label)
        labels = labels.astype(str)
        dup = labels[labels.duplicated()]
        if len(dup):
            raise InputError(
                f"duplicate study label {dup.iloc[0]!r}", row=dup.index[0], column=label
            )
    if len(df) < min_k:
        row = df.index[0] if len(df) else None
        raise InputError(
            f"a random-effects model needs at least {min_k} studies; got k = {len(df)}"
            " (use method='FE' for a single study)",
            row=row,
            column=events,
        )
    used = {events, label, n if kind == "proportion" else time}
    out = pd.DataFrame({"label": labels, "events": ev, size_col: size}, index=df.index)
    for c in df.columns:
        if c not in used and c not in out.columns:
            out[c] = df[c]
    return out


@dataclass(frozen=True, slots=True, eq=False)
class EscalcData:
    """Model-scale outcomes of the usable studies and what was done to get them.

    Attributes
    ----------
    measure : str
    yi, vi : ndarray
        Outcomes and sampling variances of the used studies (in ``frame`` order).
    used : ndarray of bool
        Which rows of ``frame`` are used.
    corrected : ndarray of bool
        Which rows of ``frame`` had the continuity correction added.
    add : float
        The correction added.
    to : str
        metafor's ``to``.
    report : pandas.DataFrame
        ``label, status, reason`` for every row.
    notes : tuple of str
    """

    measure: str
    yi: FloatArray
    vi: FloatArray
    used: NDArray[np.bool_]
    corrected: NDArray[np.bool_]
    add: float
    to: str
    report: pd.DataFrame
    notes: tuple[str, ...]


def escalc(
    frame: pd.DataFrame,
    measure: str,
    *,
    add: float | None = None,
    to: str = "only0",
    warn: bool = True,
) -> EscalcData:
    """Outcomes and sampling variances as metafor 3.8-1 ``escalc``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Canonical frame from :func:`validate_counts`.
    measure : {"PR", "PLO", "PAS", "PFT", "IR", "IRLN"}
        See ``_vocab.MEASURES``.
    add : float, optional
        Continuity correction; ``None`` takes escalc's default: 1/2, except 0 for PAS and
        PFT (these need none).
    to : {"only0", "all", "if0all", "none"}
        Where to add it: studies with a zero cell (events = 0 or, for proportions,
        events = n), all studies, all studies if any has a zero cell, or none.
    warn : bool
        Issue a ``UserWarning`` for corrections and dropped studies.

    Returns
    -------
    EscalcData

    Notes
    -----
    Proportions (``x`` events of ``n``, ``p = x/n`` after correction; the correction is
    added to both events and non-events, so n grows by ``2 add``):
    PR ``y = p``, ``v = p(1-p)/n``; PLO ``y = logit p``, ``v = 1/x + 1/(n-x)``;
    PAS ``y = asin(sqrt p)``, ``v = 1/(4n)``;
    PFT ``y = (asin(sqrt(x/(n+1))) + asin(sqrt((x+1)/(n+1))))/2``, ``v = 1/(4n+2)``.
    Rates (``x`` events in person-time ``t``; the correction is added to the events):
    IR ``y = x/t``, ``v = x/t^2``; IRLN ``y = log(x/t)``, ``v = 1/x``.
    With ``to="none"`` a study whose outcome or variance is not finite and positive is
    dropped, and the data-handling report says so.

    References
    ----------
    Viechtbauer W. *J Stat Softw* 2010;36(3):1-48; Freeman MF, Tukey JW. *Ann Math Stat*
    1950;21:607-11.
    """
    check_code("measure", measure)
    check_code("to", to)
    info = MEASURES[measure]
    if add is None:
        add = info.default_add
    add = float(add)
    if not math.isfinite(add) or add < 0:
        raise OptionError(f"Invalid add {add!r}; must be a number >= 0")
    xi = frame["events"].to_numpy(dtype=float)
    k = xi.shape[0]
    if info.kind == "proportion":
        ni = frame["n"].to_numpy(dtype=float)
        mi = ni - xi
        zero = (xi == 0) | (mi == 0)
    else:
        ti = frame["time"].to_numpy(dtype=float)
        zero = xi == 0
    if to == "all":
        corr = np.ones(k, dtype=bool)
    elif to == "only0":
        corr = zero.copy()
    elif to == "if0all":
        corr = np.full(k, bool(zero.any()))
    else:
        corr = np.zeros(k, dtype=bool)
    if add == 0:
        corr = np.zeros(k, dtype=bool)
    xc = xi + add * corr
    with np.errstate(divide="ignore", invalid="ignore"):
        if info.kind == "proportion":
            mc = mi + add * corr
            nc = xc + mc
            pr = xc / nc
            if measure == "PR":
                yi, vi = pr, pr * (1 - pr) / nc
            elif measure == "PLO":
                yi, vi = np.log(pr / (1 - pr)), 1 / xc + 1 / mc
            elif measure == "PAS":
                yi, vi = np.arcsin(np.sqrt(pr)), 1 / (4 * nc)
            else:  # PFT
                yi = 0.5 * (
                    np.arcsin(np.sqrt(xc / (nc + 1))) + np.arcsin(np.sqrt((xc + 1) / (nc + 1)))
                )
                vi = 1 / (4 * nc + 2)
        else:
            ir = xc / ti
            if measure == "IR":
                yi, vi = ir, ir / ti
            else:  # IRLN
                yi, vi = np.log(ir), 1 / xc
    ok = np.isfinite(yi) & np.isfinite(vi) & (vi > 0)
    labels = frame["label"].astype(str).tolist()
    status, reason = [], []
    for i in range(k):
        if not ok[i]:
            status.append("dropped")
            reason.append(
                f"{measure} outcome or sampling variance not finite and positive "
                f"(zero cell, no correction: to={to!r}, add={add:g})"
            )
        elif corr[i]:
            status.append("corrected")
            reason.append(f"{add:g} added (escalc add={add:g}, to={to!r})")
        else:
            status.append("used")
            reason.append("")
    report = pd.DataFrame({"label": labels, "status": status, "reason": reason}, index=frame.index)
    notes: list[str] = []
    if corr.any():
        what = "events and non-events" if info.kind == "proportion" else "events"
        names = ", ".join(np.asarray(labels)[corr])
        notes.append(
            f"continuity correction: {add:g} added to the {what} of {int(corr.sum())} "
            f"stud{'y' if corr.sum() == 1 else 'ies'} (escalc add={add:g}, to={to!r}): {names}"
        )
    if not ok.all():
        names = ", ".join(np.asarray(labels)[~ok])
        notes.append(
            f"{int((~ok).sum())} stud{'y' if (~ok).sum() == 1 else 'ies'} dropped "
            f"({measure} not computable without a correction): {names}"
        )
    if warn:
        for n in notes:
            warnings.warn(n, UserWarning, stacklevel=3)
    return EscalcData(
        measure=measure,
        yi=np.asarray(yi[ok], dtype=float),
        vi=np.asarray(vi[ok], dtype=float),
        used=ok,
        corrected=corr & ok,
        add=add,
        to=to,
        report=report.reset_index(drop=True),
        notes=tuple(notes),
    )


def exact_ci(
    frame: pd.DataFrame, kind: str, level: float = 0.95
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-study estimate and exact interval on the raw (uncorrected) data.

    Proportions: Clopper-Pearson through ``statsmodels`` ``proportion_confint(method=
    "beta")``. Rates: the exact (Garwood) Poisson interval for the count divided by the
    person-time, ``chi2_{a/2; 2x}/2`` and ``chi2_{1-a/2; 2x+2}/2``.

    Returns
    -------
    estimate, ci_low, ci_high : ndarray

    References
    ----------
    Clopper & Pearson 1934; Garwood 1936.
    """
    xi = frame["events"].to_numpy(dtype=float)
    alpha = 1 - level
    if kind == "proportion":
        from statsmodels.stats.proportion import proportion_confint

        ni = frame["n"].to_numpy(dtype=float)
        lo, hi = proportion_confint(xi, ni, alpha=alpha, method="beta")
        return xi / ni, np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    ti = frame["time"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        lo = np.where(xi > 0, stats.chi2.ppf(alpha / 2, 2 * xi) / 2, 0.0)
    hi = stats.chi2.ppf(1 - alpha / 2, 2 * xi + 2) / 2
    return xi / ti, lo / ti, hi / ti
