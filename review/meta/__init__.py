"""Pooled incidence: proportions and rates, matching R metafor 3.8-1.

Entry points (a DataFrame and column names in, keyword options in metafor's vocabulary)::

    res = pool_proportions(
        df, events="events", n="n", measure="PLO", method="REML", test="z", level=0.95
    )
    res = pool_rates(df, events="events", time="person_years", measure="IRLN")
    res = pool_estimates(df, yi="yi", vi="vi", measure="PLO")  # estimates with their CI/SE

Analyses that take a result and reuse its options: :func:`subgroups`,
:func:`meta_regression`, :func:`leave_one_out`, :func:`influence`, :func:`cumulative`,
:func:`regtest`, :func:`confint_tau2`, :func:`ft_guardrail`, :func:`refit`; and
:func:`method_sensitivity` (one call, every model). The vocabulary (codes, long names,
citations, transforms) is declared once in :mod:`review.meta._vocab`; the result objects
are in :mod:`review.meta.results`; :mod:`review.meta.glmm` fits the GLMMs
(``method="GLMM"``).
"""

from __future__ import annotations

from review.meta._vocab import Measure, Method, PIMethod, Test
from review.meta.diagnostics import cumulative, influence, leave_one_out, regtest
from review.meta.escalc import escalc, validate_counts
from review.meta.estimates import estimate_yi_vi, pool_estimates, study_yi_vi
from review.meta.results import (
    CumulativeResult,
    FixedEffect,
    FTGuardrailResult,
    InfluenceResult,
    LeaveOneOutResult,
    LinkScale,
    MetaRegressionResult,
    PoolResult,
    RegtestResult,
    SensitivityResult,
    SubgroupResult,
    Tau2CI,
)
from review.meta.sensitivity import ft_guardrail, method_sensitivity
from review.meta.uni import (
    confint_tau2,
    meta_regression,
    pool_proportions,
    pool_rates,
    refit,
    subgroups,
)

__all__ = [
    "CumulativeResult",
    "FTGuardrailResult",
    "FixedEffect",
    "InfluenceResult",
    "LeaveOneOutResult",
    "LinkScale",
    "Measure",
    "MetaRegressionResult",
    "Method",
    "PIMethod",
    "PoolResult",
    "RegtestResult",
    "SensitivityResult",
    "SubgroupResult",
    "Tau2CI",
    "Test",
    "confint_tau2",
    "cumulative",
    "escalc",
    "estimate_yi_vi",
    "ft_guardrail",
    "influence",
    "leave_one_out",
    "meta_regression",
    "method_sensitivity",
    "pool_estimates",
    "pool_proportions",
    "pool_rates",
    "refit",
    "regtest",
    "study_yi_vi",
    "subgroups",
    "validate_counts",
]
