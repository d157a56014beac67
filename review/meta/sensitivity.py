"""Sensitivity of a pooled incidence to the model: the method table and the FT guardrail.

:func:`method_sensitivity` fits the same studies with every model a reviewer might have
chosen (binomial-normal GLMM and the inverse-variance logit, arcsine, Freeman-Tukey and
raw proportions; for rates the Poisson-normal GLMM and the log and raw rates) and puts
the pooled values side by side. :func:`ft_guardrail` shows how much a Freeman-Tukey
result depends on the single sample size its back-transform needs.

References
----------
Schwarzer G, Chemaitelly H, Abu-Raddad LJ, Rucker G. Seriously misleading results using
inverse of Freeman-Tukey double arcsine transformation in meta-analysis of single
proportions. *Res Synth Methods* 2019;10:476-83.
Lin L, Xu C, Chu H. Empirical comparisons of 12 meta-analysis methods for synthesizing
proportions of binary outcomes. *J Gen Intern Med* 2022;37:308-17.
Stijnen T, Hamza TH, Ozdemir P. *Stat Med* 2010;29:3046-67.
"""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np
import pandas as pd

from review.errors import ConvergenceError, OptionError
from review.meta._vocab import (
    Method,
    PIMethod,
    ProportionMeasure,
    RateMeasure,
    Test,
    check_code,
    harmonic_mean,
    ipft,
)
from review.meta.results import FTGuardrailResult, PoolResult, SensitivityResult
from review.meta.uni import pool_proportions, pool_rates, refit

__all__ = ["FT_SPREAD_WARN", "ft_guardrail", "method_sensitivity"]

#: Warn when the pooled FT proportion back-transformed at the smallest and largest n
#: spans more than this fraction of the value at the harmonic mean.
FT_SPREAD_WARN = 0.10


def ft_guardrail(res: PoolResult, *, warn: bool = True) -> FTGuardrailResult:
    """Back-transform a Freeman-Tukey pooled value at several sample sizes.

    Parameters
    ----------
    res : PoolResult
        A proportion fit. If its measure is not PFT it is refitted with ``measure="PFT"``
        (same method, test and level).
    warn : bool
        Issue a ``UserWarning`` when the values differ materially.

    Returns
    -------
    FTGuardrailResult
        ``table`` rows ``harmonic mean`` (metafor's ``transf.ipft.hm``), ``min``,
        ``median``, ``max`` of the studies' n, with ``estimate, ci_low, ci_high, pi_low,
        pi_high`` back-transformed at that n (Miller 1978). ``warning`` is set when the
        estimates at the smallest and largest n differ by more than
        ``FT_SPREAD_WARN`` (10 %) of the harmonic-mean value.

    Raises
    ------
    OptionError
        A rate result, or a GLMM fit (no FT scale).

    Notes
    -----
    The inverse of the double arcsine needs one n; with very different study sizes no
    single n is right, and the harmonic-mean choice can mislead seriously (Schwarzer et
    al. 2019). Report a GLMM or logit analysis beside it (:func:`method_sensitivity`).

    References
    ----------
    Miller JJ. *Am Stat* 1978;32:138. Schwarzer G et al. *Res Synth Methods*
    2019;10:476-83.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions, ft_guardrail
    >>> df = pd.DataFrame(
    ...     {
    ...         "events": [2, 5, 1, 8, 4, 12],
    ...         "n": [40, 60, 35, 90, 50, 100],
    ...         "setting": ["urban", "rural"] * 3,
    ...         "fu": [12.0, 24, 18, 36, 6, 30],
    ...     }
    ... )
    >>> res = pool_proportions(df, method="REML")
    >>> ft_guardrail(res, warn=False).table["estimate"].round(4).tolist()
    [0.0825, 0.0787, 0.0827, 0.0859]
    """
    if res.kind != "proportion":
        raise OptionError("ft_guardrail applies to proportions (measure 'PFT')")
    if res.measure != "PFT":
        method = "REML" if res.method == "GLMM" else res.method
        res = refit(res, measure="PFT", method=method, add=None)
    n = res.studies["n"].to_numpy(dtype=float)
    L = res.link
    points = [
        ("harmonic mean", harmonic_mean(n)),
        ("min", float(n.min())),
        ("median", float(np.median(n))),
        ("max", float(n.max())),
    ]
    rows = []
    for name, nn in points:
        v = ipft(np.array([L.estimate, L.ci_low, L.ci_high, L.pi_low, L.pi_high]), nn)
        rows.append(
            {
                "at": name, "n": nn, "estimate": float(v[0]), "ci_low": float(v[1]),
                "ci_high": float(v[2]), "pi_low": float(v[3]), "pi_high": float(v[4]),
            }
        )  # fmt: skip
    table = pd.DataFrame(rows)
    ratio = float(n.max() / n.min())
    hm = table["estimate"].iloc[0]
    spread = abs(table["estimate"].iloc[3] - table["estimate"].iloc[1])
    message = None
    if (hm > 0 and spread / hm > FT_SPREAD_WARN) or (hm == 0 and spread > 0):
        message = (
            f"Freeman-Tukey back-transform depends on n: the pooled value is "
            f"{table['estimate'].iloc[1]:.4g} at the smallest n ({n.min():g}) and "
            f"{table['estimate'].iloc[3]:.4g} at the largest ({n.max():g}), "
            f"{hm:.4g} at the harmonic mean; sample sizes differ {ratio:.0f}-fold "
            "(Schwarzer et al. 2019). Report a GLMM or logit analysis beside it."
        )
        if warn:
            warnings.warn(message, UserWarning, stacklevel=2)
    return FTGuardrailResult(table=table, ratio=ratio, warning=message, base=res)


def method_sensitivity(
    df: pd.DataFrame,
    *,
    events: str = "events",
    n: str | None = "n",
    time: str | None = None,
    method: Method = "REML",
    test: Test = "z",
    level: float = 0.95,
    label: str | None = None,
    pi_method: PIMethod = "metafor",
) -> SensitivityResult:
    """Pool the same studies with every model, one row a model.

    Parameters
    ----------
    df : pandas.DataFrame
        One row a study.
    events, n : str
        Columns for proportions.
    time : str, optional
        Person-time column; when given, the studies are rates and ``n`` is ignored.
    method : {"FE", "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB"}
        tau^2 estimator of the inverse-variance rows.
    test, level, label, pi_method
        As :func:`review.meta.pool_proportions`.

    Returns
    -------
    SensitivityResult
        Proportions: rows ``GLMM (binomial-normal)``, ``PLO``, ``PAS``, ``PFT``, ``PR``;
        rates: ``GLMM (Poisson-normal)``, ``IRLN``, ``IR``. Columns ``model, measure,
        method, test, k, estimate, ci_low, ci_high, pi_low, pi_high, pi_method, tau2,
        i2, converged, status``; a row without a number says why in ``status`` (for
        example the GLMM did not converge), never a made-up value.

    Raises
    ------
    InputError, OptionError
        Bad data or options (checked once, by the first fit).

    References
    ----------
    Lin L, Xu C, Chu H. *J Gen Intern Med* 2022;37:308-17. Schwarzer G et al. *Res Synth
    Methods* 2019;10:476-83. Stijnen T et al. *Stat Med* 2010;29:3046-67.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions, method_sensitivity
    >>> df = pd.DataFrame(
    ...     {
    ...         "events": [2, 5, 1, 8, 4, 12],
    ...         "n": [40, 60, 35, 90, 50, 100],
    ...         "setting": ["urban", "rural"] * 3,
    ...         "fu": [12.0, 24, 18, 36, 6, 30],
    ...     }
    ... )
    >>> res = pool_proportions(df, method="REML")
    >>> method_sensitivity(df).table["estimate"].round(4).tolist()
    [0.0853, 0.0902, 0.0829, 0.0825, 0.0734]
    """
    check_code("method", method)
    if method == "GLMM":
        raise OptionError(
            "Invalid method 'GLMM' for the inverse-variance rows; the GLMM row is always "
            "included: method one of ['FE', 'DL', 'REML', 'ML', 'PM', 'HS', 'SJ', 'HE', 'EB']"
        )
    if time is not None:
        models = [("GLMM (Poisson-normal)", "IRLN", "GLMM"), ("IRLN", "IRLN", method),
                  ("IR", "IR", method)]  # fmt: skip

        def fit(measure: str, meth: str) -> PoolResult:
            return pool_rates(
                df, events=events, time=time, measure=cast(RateMeasure, measure),
                method=cast(Method, meth), test=test,
                level=level, label=label, pi_method=pi_method,
            )  # fmt: skip
    else:
        models = [("GLMM (binomial-normal)", "PLO", "GLMM"), ("PLO", "PLO", method),
                  ("PAS", "PAS", method), ("PFT", "PFT", method), ("PR", "PR", method)]  # fmt: skip

        def fit(measure: str, meth: str) -> PoolResult:
            return pool_proportions(
                df, events=events, n=n or "n", measure=cast(ProportionMeasure, measure),
                method=cast(Method, meth), test=test,
                level=level, label=label, pi_method=pi_method,
            )  # fmt: skip

    # validate once, loudly, through an inverse-variance fit
    first_iv = models[1]
    rows, fits, notes = [], {}, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits_iv = fit(first_iv[1], first_iv[2])
    for name, measure, meth in models:
        row: dict[str, Any] = {"model": name, "measure": measure, "method": meth, "test": test}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = fits_iv if (measure, meth) == first_iv[1:] else fit(measure, meth)
        except ConvergenceError as e:
            row.update(converged=False, status=f"no estimate: did not converge ({e})")
            rows.append(row)
            continue
        except OptionError as e:
            row.update(converged=False, status=f"not available: {e}")
            rows.append(row)
            continue
        fits[name] = r
        status = "ok" if r.converged else "did not converge (see notes); value not reliable"
        row.update(
            k=r.k, estimate=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, pi_low=r.pi_low,
            pi_high=r.pi_high, pi_method=r.pi_method, tau2=r.tau2, i2=r.i2,
            converged=r.converged, status=status,
        )  # fmt: skip
        rows.append(row)
    cols = ["model", "measure", "method", "test", "k", "estimate", "ci_low", "ci_high",
            "pi_low", "pi_high", "pi_method", "tau2", "i2", "converged", "status"]  # fmt: skip
    table = pd.DataFrame(rows).reindex(columns=cols)
    table["converged"] = table["converged"].fillna(False).astype(bool)
    if "PFT" in fits:
        g = ft_guardrail(fits["PFT"], warn=False)
        if g.warning:
            notes.append(g.warning)
    notes.append("tau^2 and I^2 are on each model's own scale and are not comparable across rows")
    return SensitivityResult(table=table, fits=fits, notes=tuple(notes))
