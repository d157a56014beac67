"""R meta's reporting conventions, and a one-call preset that reports a pool as R meta would.

The engine follows metafor by default. R meta (Schwarzer) reports the same models with
other conventions: a z confidence interval with a t(k-1) prediction interval (meta >= 8,
``method.predict = "V"``; t(k-2), ``"HTS"``, up to meta 7), I^2 from Cochran's Q
(``method.I2 = "Q"``; for a GLMM the Wald-type Q), per-study Clopper-Pearson intervals
for proportions (``method.ci = "CP"``) and Wald intervals on the log scale for rates
(``method.ci = "NAsm"``), and for proportions the random-intercept logistic GLMM
(``method = "GLMM"``). Each convention is a named option of
:func:`~review.meta.pool_proportions` and :func:`~review.meta.pool_rates` (``pi_method``,
``i2_method``, ``study_ci``, in meta's words); :data:`R_META_DEFAULTS` holds the
defaults of the meta versions they were checked against, and :func:`pool_as_r_meta`
applies them in one call.

References
----------
Schwarzer G, Carpenter JR, Rucker G. *Meta-Analysis with R*. Springer; 2015 (R meta).
Balduzzi S, Rucker G, Schwarzer G. How to perform a meta-analysis with R: a practical
tutorial. *Evid Based Ment Health* 2019;22:153-60.
Veroniki AA, Jackson D, Bender R, et al. Methods to calculate uncertainty in the estimated
overall effect size from a random-effects meta-analysis. *Res Synth Methods* 2019;10:23-43.
Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. *Stat Med*
2002;21:1539-58.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd

from review.errors import OptionError
from review.meta.results import PoolResult

__all__ = ["R_META_DEFAULTS", "pool_as_r_meta"]

_P = MappingProxyType
#: The defaults of ``metaprop()`` and ``metarate()`` in the R meta versions the preset was
#: checked against (golden values: ``tests/r/make_reference_meta.R``), as engine options.
R_META_DEFAULTS: Mapping[str, Mapping[str, Mapping[str, str]]] = _P(
    {
        # meta 8.2-1 (2025-09-01): settings.meta() resets method.predict = "V"
        "8.2-1": _P(
            {
                "proportion": _P(
                    {"measure": "PLO", "method": "GLMM", "test": "z", "pi_method": "V",
                     "i2_method": "Q", "study_ci": "CP"}
                ),
                "rate": _P(
                    {"measure": "IRLN", "method": "REML", "test": "z", "pi_method": "V",
                     "i2_method": "Q", "study_ci": "NAsm"}
                ),
            }
        ),
        # meta 7.0-0 (2023): method.predict = "HTS"; otherwise as 8.2-1
        "7.0-0": _P(
            {
                "proportion": _P(
                    {"measure": "PLO", "method": "GLMM", "test": "z", "pi_method": "HTS",
                     "i2_method": "Q", "study_ci": "CP"}
                ),
                "rate": _P(
                    {"measure": "IRLN", "method": "REML", "test": "z", "pi_method": "HTS",
                     "i2_method": "Q", "study_ci": "NAsm"}
                ),
            }
        ),
    }
)  # fmt: skip


def pool_as_r_meta(
    df: pd.DataFrame,
    *,
    kind: Literal["proportion", "rate"],
    events: str = "events",
    n: str = "n",
    time: str = "person_years",
    label: str | None = None,
    version: str = "8.2-1",
    level: float = 0.95,
) -> PoolResult:
    """Pool as R meta's ``metaprop()`` / ``metarate()`` would report it with its defaults.

    Parameters
    ----------
    df : pandas.DataFrame
        One row a study.
    kind : {"proportion", "rate"}
        ``metaprop(event, n)`` or ``metarate(event, time)``.
    events, n, time, label : str
        Column names, as :func:`~review.meta.pool_proportions` / :func:`~review.meta.pool_rates`.
    version : {"8.2-1", "7.0-0"}
        The meta version whose defaults to reproduce (see :data:`R_META_DEFAULTS`).
    level : float
        Confidence level (meta's ``level``, ``level.ma``, ``level.predict``).

    Returns
    -------
    PoolResult
        As meta reports it. metaprop: logit GLMM (ML tau^2), z CI, prediction interval
        ``"V"`` (t(k-1), meta 8) or ``"HTS"`` (t(k-2), meta 7), I^2 = (Q - df)/Q from the
        Wald-type Q, Clopper-Pearson study intervals. metarate: inverse-variance log rate
        with REML, z CI, the same prediction interval and I^2 from Cochran's Q, Wald
        study intervals on the log scale (``NAsm``; 0.5 added to zero counts). A note
        names the preset; ``conventions()`` (printed by ``summary()`` and the forest
        plot) names each convention.

    Raises
    ------
    OptionError
        Unknown ``kind`` or ``version``.
    InputError, ConvergenceError
        As the pooling functions.

    Notes
    -----
    Not reproduced: meta's confidence interval for I^2 and H (Higgins & Thompson's
    test-based interval) and its printed rounding. meta computes a prediction interval
    even when it does not print it (``prediction = FALSE``); the result always holds it.

    References
    ----------
    Schwarzer G et al. *Meta-Analysis with R*. Springer; 2015. Veroniki AA et al. *Res
    Synth Methods* 2019;10:23-43.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_as_r_meta
    >>> df = pd.DataFrame({"events": [3, 7, 2, 9], "person_years": [120.0, 300.5, 80.0, 410]})
    >>> res = pool_as_r_meta(df, kind="rate")
    >>> res.pi_method, res.i2_method, res.study_ci
    ('V', 'Q', 'NAsm')
    """
    from review.meta.uni import pool_proportions, pool_rates

    if version not in R_META_DEFAULTS:
        raise OptionError(
            f"Invalid version {version!r}; must be one of {list(R_META_DEFAULTS)} (the R meta "
            "versions the preset was checked against)"
        )
    if kind not in ("proportion", "rate"):
        raise OptionError(f"Invalid kind {kind!r}; must be one of ['proportion', 'rate']")
    opts: dict[str, Any] = dict(R_META_DEFAULTS[version][kind])
    if kind == "proportion":
        res = pool_proportions(df, events=events, n=n, label=label, level=level, **opts)
        fn = "metaprop"
    else:
        res = pool_rates(df, events=events, time=time, label=label, level=level, **opts)
        fn = "metarate"
    told = ", ".join(f"{k}={v!r}" for k, v in opts.items())
    note = f"as R meta {version} {fn}() reports it by default ({told})"
    return dataclasses.replace(res, notes=(note, *res.notes))
