"""Pooled incidence: proportions and rates, matching R metafor 3.8.

The entry points (``pool_proportions``, ``pool_rates``) and the analyses that take a
result (``subgroups``, ``meta_regression``, ``leave_one_out``, ``influence``,
``regtest``, ``cumulative``, ``ft_guardrail``, ``confint_tau2``,
``method_sensitivity``) live in this package; the vocabulary is in
:mod:`review.meta._vocab` and the result objects in :mod:`review.meta.results`.
"""

from __future__ import annotations

from review.meta._vocab import Measure, Method, PIMethod, Test
from review.meta.diagnostics import cumulative, influence, leave_one_out, regtest
from review.meta.escalc import escalc, validate_counts
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
    "ft_guardrail",
    "influence",
    "leave_one_out",
    "meta_regression",
    "method_sensitivity",
    "pool_proportions",
    "pool_rates",
    "refit",
    "regtest",
    "subgroups",
    "validate_counts",
]
