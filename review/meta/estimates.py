"""Pooling studies given as estimates: ``yi``/``vi`` in, metafor ``rma(yi, vi)`` out.

Many incidence reports give a cumulative incidence (Kaplan-Meier or competing-risks) or a
rate with its confidence interval, not counts. :func:`estimate_yi_vi` puts such an estimate
on the model scale of a measure (logit, arcsine, log, or raw) with its sampling variance;
:func:`study_yi_vi` does it for a table mixing studies with counts (``escalc``) and studies
with estimates; :func:`pool_estimates` pools any ``yi``/``vi`` with every inverse-variance
method, test and prediction interval of :func:`review.meta.pool_proportions`, and returns
the same :class:`~review.meta.results.PoolResult`, back-transformed on the measure's scale.
Subgroups, meta-regression, leave-one-out and the diagnostics take its result as they take
any other.

References
----------
Viechtbauer W. Conducting meta-analyses in R with the metafor package. *J Stat Softw*
2010;36(3):1-48 (``rma(yi, vi)``).
Higgins JPT, Li T, Deeks JJ (eds). Chapter 6: Choosing effect measures and computing
estimates of effect. In: *Cochrane Handbook for Systematic Reviews of Interventions*
version 6.4, 2023 (standard errors from confidence intervals: the interval's width over
``2 z``, on the scale on which the interval is symmetric).
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from review._numbers import number_column
from review.errors import InputError, OptionError
from review.meta._vocab import (
    MEASURES,
    PROPORTION_MEASURES,
    RATE_MEASURES,
    Measure,
    Method,
    PIMethod,
    Test,
    check_code,
)
from review.meta.escalc import _escalc_arrays, _exact_ci_arrays, frame_from_columns
from review.meta.results import PoolResult
from review.meta.tau2 import norm_crit
from review.meta.uni import (
    _check_level,
    _common_effect,
    _iv_result,
    _link_scale,
    _tau2_qprofile,
    _unbounded_note,
    fit_rma,
    prediction_interval,
)

__all__ = ["ESTIMATE_MEASURES", "estimate_yi_vi", "model_scale", "pool_estimates", "study_yi_vi"]

FloatArray = NDArray[np.float64]

#: Measures an estimate can be put on (PFT needs each study's n for its transform).
ESTIMATE_MEASURES: tuple[str, ...] = ("PR", "PLO", "PAS", "IR", "IRLN")


def _derivative(measure: str, x: FloatArray) -> FloatArray:
    """Derivative of the measure's transform, for the delta-method SE."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "PLO":
            return 1.0 / (x * (1.0 - x))
        if measure == "PAS":
            return 1.0 / (2.0 * np.sqrt(x * (1.0 - x)))
        if measure == "IRLN":
            return 1.0 / x
    return np.ones_like(x)


def estimate_yi_vi(
    estimate: ArrayLike,
    *,
    measure: Measure,
    ci_low: ArrayLike | None = None,
    ci_high: ArrayLike | None = None,
    se: ArrayLike | None = None,
    level: ArrayLike = 0.95,
    per: float = 1.0,
) -> tuple[FloatArray, FloatArray, list[str]]:
    """Put reported estimates on a measure's model scale: ``yi``, ``vi`` and how.

    Parameters
    ----------
    estimate : array-like
        The estimates: proportions (0-1) for ``PR, PLO, PAS``, rates for ``IR, IRLN``,
        divided by ``per`` first (``per=100`` for percent or per 100 person-years).
    measure : {"PR", "PLO", "PAS", "IR", "IRLN"}
        The analysis measure (``PFT`` cannot be used: its transform needs each study's n).
    ci_low, ci_high : array-like, optional
        The reported confidence interval, on the estimate's scale (NaN where not given).
    se : array-like, optional
        The reported standard error, on the estimate's scale; used where no interval is.
    level : float or array-like
        Confidence level of each interval (0.95 by default).
    per : float
        The estimates, intervals and SEs are per ``per`` (100 for percent).

    Returns
    -------
    yi, vi : ndarray
        Model-scale estimate ``transform(estimate)`` and its variance.
    how : list of str
        Per study, how ``vi`` was obtained.

    Raises
    ------
    OptionError
        ``PFT`` or an unknown measure.
    InputError
        An estimate the transform cannot take (0 on the logit or log scale, 1 on the logit
        scale), or a study with neither an interval nor an SE (names the row).

    Notes
    -----
    With an interval, ``se = (t(ci_high) - t(ci_low)) / (2 z)`` where ``t`` is the
    measure's transform and ``z`` the normal quantile of the level: the interval is taken
    to be symmetric on the model scale, as a logit or log interval is (Cochrane Handbook
    ch. 6). When a bound maps to an infinite value (a lower bound of 0 on the logit or log
    scale), the other half-width is used, ``|t(bound) - yi| / z``, and ``how`` says so.
    With only an SE, the delta method: ``se_t = se |t'(estimate)|`` (logit
    ``1/(p(1-p))``, arcsine ``1/(2 sqrt(p(1-p)))``, log ``1/r``).

    References
    ----------
    Higgins JPT, Li T, Deeks JJ (eds). *Cochrane Handbook* v6.4, 2023, ch. 6.

    Examples
    --------
    >>> yi, vi, how = estimate_yi_vi([0.042], measure="PLO", ci_low=[0.031], ci_high=[0.056])
    >>> # R: qlogis(0.042); ((qlogis(0.056) - qlogis(0.031)) / (2 * qnorm(0.975)))^2
    >>> round(float(yi[0]), 4), round(float(vi[0]), 5), how[0]
    (-3.1272, 0.02482, 'CI, symmetric on the PLO scale')
    """
    check_code("measure", measure)
    if measure not in ESTIMATE_MEASURES:
        raise OptionError(
            f"Invalid measure {measure!r} for estimates; must be one of {list(ESTIMATE_MEASURES)}"
            " (PFT's transform and back-transform need each study's sample size)"
        )
    est = np.atleast_1d(np.asarray(estimate, dtype=float)) / per
    k = est.shape[0]

    def arr(x: ArrayLike | None) -> FloatArray:
        if x is None:
            return np.full(k, np.nan)
        return np.broadcast_to(np.asarray(x, dtype=float), (k,)).astype(float) / per

    lo, hi, s = arr(ci_low), arr(ci_high), arr(se)
    lev = np.broadcast_to(np.asarray(level, dtype=float), (k,))
    info = MEASURES[measure]
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.asarray(info.transform(est), dtype=float)
        tl = np.asarray(info.transform(lo), dtype=float)
        th = np.asarray(info.transform(hi), dtype=float)
    z = np.array([norm_crit(1 - v) for v in lev])
    sei = np.full(k, np.nan)
    how: list[str] = []
    for i in range(k):
        if not np.isfinite(yi[i]):
            raise InputError(
                f"estimate {est[i] * per:g} cannot be put on the {measure} scale (the transform "
                "is infinite there); extract the counts, or use another measure",
                row=i,
                column="estimate",
            )
        if np.isfinite(tl[i]) and np.isfinite(th[i]):
            sei[i] = (th[i] - tl[i]) / (2 * z[i])
            how.append(f"CI, symmetric on the {measure} scale")
        elif np.isfinite(th[i]) and not np.isnan(lo[i]):
            sei[i] = (th[i] - yi[i]) / z[i]
            how.append(f"CI upper half-width on the {measure} scale (lower bound at the edge)")
        elif np.isfinite(tl[i]) and not np.isnan(hi[i]):
            sei[i] = (yi[i] - tl[i]) / z[i]
            how.append(f"CI lower half-width on the {measure} scale (upper bound at the edge)")
        elif np.isfinite(s[i]) and s[i] > 0:
            sei[i] = s[i] * abs(float(_derivative(measure, est[i : i + 1])[0]))
            how.append(f"SE, delta method to the {measure} scale")
        else:
            raise InputError(
                "an estimate needs its confidence interval or its standard error",
                row=i,
                column="ci_low",
            )
        if not (np.isfinite(sei[i]) and sei[i] > 0):
            raise InputError(
                f"the interval or SE of estimate {est[i] * per:g} gives no positive standard "
                f"error on the {measure} scale",
                row=i,
                column="ci_low",
            )
    return yi, sei * sei, how


def study_yi_vi(
    table: pd.DataFrame,
    *,
    kind: str,
    measure: Measure,
    add: float | None = None,
    to: str = "only0",
) -> pd.DataFrame:
    """``yi`` and ``vi`` per study from counts where a study has them, else from its estimate.

    Parameters
    ----------
    table : pandas.DataFrame
        One row a study with ``events`` and ``n`` (proportions) or ``time`` (rates), and
        ``estimate, ci_low, ci_high, se, ci_level`` (on the proportion or rate scale; NaN
        where not given), as :meth:`review.extraction.Extraction.outcome_table` lays out.
    kind : {"proportion", "rate"}
    measure : {"PR", "PLO", "PAS", "IR", "IRLN"}
    add, to
        The zero-cell correction of the count studies, as :func:`review.meta.escalc`.

    Returns
    -------
    pandas.DataFrame
        ``table``'s index, with ``yi, vi`` and ``source`` (``"counts"`` or ``"estimate"``)
        and ``how`` (the correction or the conversion applied). Rows with neither are left
        out.
    """
    size = "n" if kind == "proportion" else "time"
    allowed = PROPORTION_MEASURES if kind == "proportion" else RATE_MEASURES
    check_code("measure", measure, allowed)
    counts = table["events"].notna() & table[size].notna()
    est = ~counts & table["estimate"].notna()
    parts = []
    if counts.any():
        c = table[counts]
        labels = np.asarray([str(v) for v in c.index], dtype=object)
        a = MEASURES[measure].default_add if add is None else float(add)
        es = _escalc_arrays(
            measure,
            c["events"].to_numpy(dtype=float),
            c[size].to_numpy(dtype=float),
            labels,
            add=a,
            to=to,
            warn=False,
        )
        idx = c.index[es.used]
        corrected = es.corrected[es.used]
        parts.append(
            pd.DataFrame(
                {
                    "yi": es.yi,
                    "vi": es.vi,
                    "source": "counts",
                    "how": np.where(corrected, f"{a:g} added (escalc, to={to!r})", "escalc"),
                },
                index=idx,
            )
        )
    if est.any():
        e = table[est]
        yi, vi, how = estimate_yi_vi(
            e["estimate"].to_numpy(dtype=float),
            measure=measure,
            ci_low=e["ci_low"].to_numpy(dtype=float),
            ci_high=e["ci_high"].to_numpy(dtype=float),
            se=e["se"].to_numpy(dtype=float),
            level=e["ci_level"].fillna(0.95).to_numpy(dtype=float),
        )
        parts.append(
            pd.DataFrame({"yi": yi, "vi": vi, "source": "estimate", "how": how}, index=e.index)
        )
    if not parts:
        return pd.DataFrame({"yi": [], "vi": [], "source": [], "how": []})
    out = pd.concat(parts)
    return out.loc[[i for i in table.index if i in out.index]]


def _numeric(df: pd.DataFrame, col: str, what: str, *, positive: bool = False) -> FloatArray:
    """The column through the toolkit's one number check, naming row and column.

    Booleans, time spans, text not in ASCII digits and non-finite values are refused.
    """
    return number_column(df, col, what=what, whole=False, nonnegative=False, positive=positive)


def _validate(
    df: pd.DataFrame,
    *,
    yi: str,
    vi: str,
    kind: str,
    events: str | None,
    size: str | None,
    label: str | None,
    min_k: int,
) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(df).__name__}")
    y = _numeric(df, yi, "outcome")
    v = _numeric(df, vi, "sampling variance", positive=True)
    if len(df) < min_k:
        raise InputError(
            f"a random-effects model needs at least {min_k} studies; got k = {len(df)}"
            " (use method='FE' for a single study)",
            column=yi,
        )
    if label is None:
        labels = [f"Study {i + 1}" for i in range(len(df))]
    else:
        if label not in df.columns:
            raise InputError(f"label column {label!r} not found", column=label)
        labels = []
        for idx, val in df[label].items():
            if val is None or val is pd.NA or (isinstance(val, float) and math.isnan(val)):
                raise InputError("missing study label", row=cast("int | str", idx), column=label)
            if str(val) in labels:
                raise InputError(
                    f"duplicate study label {val!r}", row=cast("int | str", idx), column=label
                )
            labels.append(str(val))
    size_col = "n" if kind == "proportion" else "time"
    cols: dict[str, object] = {
        "label": pd.array(labels, dtype="str"),
        "yi": y,
        "vi": v,
        "events": np.full(len(df), np.nan)
        if events is None
        else pd.to_numeric(df[events], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
        size_col: np.full(len(df), np.nan)
        if size is None
        else pd.to_numeric(df[size], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
    }
    used = {yi, vi, label, events, size}
    for c in df.columns:
        if c not in used and c not in cols:
            cols[c] = df[c].array
    return frame_from_columns(cols, df.index)


def pool_estimates(
    df: pd.DataFrame,
    *,
    yi: str = "yi",
    vi: str = "vi",
    measure: Measure,
    method: Method = "REML",
    test: Test = "z",
    level: float = 0.95,
    label: str | None = None,
    pi_method: PIMethod = "metafor",
    events: str | None = None,
    n: str | None = None,
    time: str | None = None,
) -> PoolResult:
    """Pool model-scale outcomes and variances, as metafor ``rma(yi, vi, ...)``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row a study.
    yi, vi : str
        Columns of the outcomes on ``measure``'s model scale and their sampling variances
        (> 0), e.g. from :func:`estimate_yi_vi`, :func:`study_yi_vi` or
        :func:`review.meta.escalc`.
    measure : {"PR", "PLO", "PAS", "IR", "IRLN"}
        The scale of ``yi``: it sets the back-transform of the pooled values (``PFT`` is
        refused: its back-transform needs the sample sizes).
    method : {"FE", "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB"}
        tau^2 estimator (the GLMM needs counts: use :func:`review.meta.pool_proportions`).
    test, level, label, pi_method
        As :func:`review.meta.pool_proportions`.
    events, n, time : str, optional
        Columns of counts, where some studies have them: shown in forest plots and tables,
        and their per-study intervals are exact (Clopper-Pearson, Poisson); other studies'
        intervals are ``yi +- z sqrt(vi)`` back-transformed, as metafor's forest plot draws.

    Returns
    -------
    PoolResult
        Kind ``proportion`` or ``rate`` after the measure; ``options["input"]`` is
        ``"yi_vi"``, so :func:`review.meta.refit`, subgroups, meta-regression and
        leave-one-out refit on ``yi``/``vi``.

    Raises
    ------
    InputError
        Missing or non-finite values, non-positive variances, fewer than 2 studies for a
        random-effects model, duplicate labels.
    OptionError
        ``GLMM``, ``PFT`` or any unknown code.

    References
    ----------
    Viechtbauer W. *J Stat Softw* 2010;36(3):1-48. DerSimonian R, Laird N. *Control Clin
    Trials* 1986;7:177-88. Hartung J, Knapp G. *Stat Med* 2001;20:3875-89.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"yi": [-2.9, -3.2, -2.5, -3.0], "vi": [0.04, 0.09, 0.05, 0.02]})
    >>> res = pool_estimates(df, measure="PLO", method="DL")
    >>> round(res.estimate, 4), res.k, res.kind  # metafor 3.8-1: 0.052561
    (0.0526, 4, 'proportion')
    """
    check_code("measure", measure)
    check_code("method", method)
    check_code("test", test)
    check_code("pi_method", pi_method)
    if method == "GLMM":
        raise OptionError(
            "Invalid method 'GLMM' for pooled estimates; the GLMM needs counts (use "
            "pool_proportions or pool_rates): method one of "
            "['FE', 'DL', 'REML', 'ML', 'PM', 'HS', 'SJ', 'HE', 'EB']"
        )
    if measure not in ESTIMATE_MEASURES:
        raise OptionError(
            f"Invalid measure {measure!r} for pooled estimates; must be one of "
            f"{list(ESTIMATE_MEASURES)} (PFT's back-transform needs the sample sizes)"
        )
    level = _check_level(level)
    kind = MEASURES[measure].kind
    if kind == "proportion" and time is not None:
        raise OptionError(f"time= is for rates; {measure} is a proportion measure (use n=)")
    if kind == "rate" and n is not None:
        raise OptionError(f"n= is for proportions; {measure} is a rate measure (use time=)")
    data = _validate(
        df,
        yi=yi,
        vi=vi,
        kind=kind,
        events=events,
        size=n if kind == "proportion" else time,
        label=label,
        min_k=1 if method == "FE" else 2,
    )
    return _pool_yi_vi(
        data,
        {
            "kind": kind,
            "input": "yi_vi",
            "measure": measure,
            "method": method,
            "test": test,
            "level": level,
            "pi_method": pi_method,
        },
    )


def _refit_yi_vi(res: PoolResult, data: pd.DataFrame | None, changes: dict[str, Any]) -> PoolResult:
    """:func:`review.meta.refit` of a result made by :func:`pool_estimates`."""
    opts = {**res.options, **changes}
    for key in ("measure", "method", "test", "pi_method"):
        check_code(key, opts[key])
    if opts["method"] == "GLMM":
        raise OptionError("a result pooled from yi/vi cannot be refitted as a GLMM (no counts)")
    if opts["measure"] != res.measure:
        raise OptionError("a result pooled from yi/vi keeps its measure (yi is on its scale)")
    d = res.data if data is None else data
    if opts["method"] != "FE" and len(d) < 2:
        raise InputError(f"a random-effects model needs at least 2 studies; got k = {len(d)}")
    keep = {"kind", "input", "measure", "method", "test", "level", "pi_method"}
    return _pool_yi_vi(d, {k: v for k, v in opts.items() if k in keep})


def _pool_yi_vi(data: pd.DataFrame, options: dict[str, Any]) -> PoolResult:
    measure, method, test = options["measure"], options["method"], options["test"]
    level, pi_method, kind = options["level"], options["pi_method"], options["kind"]
    yi = data["yi"].to_numpy(dtype=float)
    vi = data["vi"].to_numpy(dtype=float)
    k = len(yi)
    if k < 1:
        raise InputError("no usable study", column="yi")
    fit = fit_rma(yi, vi, method=method, test=test, level=level)
    est, se = float(fit.beta[0]), float(fit.se[0])
    pi_lo, pi_hi, pi_df = prediction_interval(
        est, se, fit.tau2, k, level, test, pi_method, fixed=method == "FE"
    )
    link = _link_scale(fit, (pi_lo, pi_hi, pi_df), math.sqrt(se * se + fit.tau2))
    back = MEASURES[measure].back_transform
    bt = back(np.array([est, link.ci_low, link.ci_high, pi_lo, pi_hi]), None)
    fixed = None if method == "FE" else _common_effect(measure, yi, vi, level, None)
    notes = list(fit.notes)
    tau2_ci = (float("nan"), float("nan"))
    if method != "FE" and k > 1:
        tau2_ci = _tau2_qprofile(yi, vi, fit.tau2, level, notes)
    # per-study intervals: exact where counts are known, else yi +- z sqrt(vi)
    size_col = "n" if kind == "proportion" else "time"
    ev = data["events"].to_numpy(dtype=float)
    size = data[size_col].to_numpy(dtype=float)
    z = norm_crit(1 - level)
    sd = np.sqrt(vi)
    wald = back(np.vstack([yi, yi - z * sd, yi + z * sd]), None)
    have = np.isfinite(ev) & np.isfinite(size) & (size > 0)
    pe, plo, phi = (np.array(wald[0]), np.array(wald[1]), np.array(wald[2]))
    if have.any():
        e_, l_, h_ = _exact_ci_arrays(kind, ev[have], size[have], level)
        pe[have], plo[have], phi[have] = e_, l_, h_
    studies = frame_from_columns(
        {
            "label": data["label"].array,
            "events": ev,
            size_col: size,
            "yi": yi,
            "vi": vi,
            "estimate": pe,
            "ci_low": plo,
            "ci_high": phi,
            "weight": 100 * fit.wi / float(np.sum(fit.wi)),
            "corrected": np.zeros(k, dtype=bool),
        }
    )
    if (~have).any():
        notes.append(
            f"{int((~have).sum())} of {k} studies enter as estimates (yi, vi); their intervals "
            "are yi +- z sqrt(vi) back-transformed"
        )
    unbounded = _unbounded_note(measure, bt, "PLO or IRLN")
    if unbounded:
        notes.append(unbounded)
    report = pd.DataFrame(
        {
            "label": data["label"].astype(str).to_numpy(),
            "status": "used",
            "reason": np.where(have, "counts (yi, vi given)", "estimate (yi, vi given)"),
        }
    )
    return _iv_result(
        fit,
        bt,
        measure=measure,
        method=method,
        test=test,
        level=level,
        k=k,
        pi_method=pi_method,
        tau2_ci=tau2_ci,
        i2=fit.i2,
        h2=fit.h2,
        link=link,
        studies=studies,
        fixed=fixed,
        notes=notes,
        kind=kind,
        data=data,
        options=options,
        data_report=report,
    )


def model_scale(res: PoolResult) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """``yi``, ``vi`` of a result's input and which rows of ``res.data`` they are.

    For a :func:`pool_estimates` result, the given ``yi``/``vi`` (every row); otherwise
    ``escalc`` of the counts with the result's correction (metafor's ``rma`` input).
    """
    if res.options.get("input") == "yi_vi":
        d = res.data
        return (
            d["yi"].to_numpy(dtype=float),
            d["vi"].to_numpy(dtype=float),
            np.ones(len(d), dtype=bool),
        )
    from review.meta.escalc import escalc

    es = escalc(res.data, res.measure, add=res.options.get("add"), to=res.options["to"], warn=False)
    return es.yi, es.vi, es.used
