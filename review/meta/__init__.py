"""Pooled incidence: proportions and rates, matching R metafor 3.8-1.

Entry points (a DataFrame and column names in, keyword options in metafor's vocabulary)::

    res = pool_proportions(
        df, events="events", n="n", measure="PLO", method="REML", test="z", level=0.95
    )
    res = pool_rates(df, events="events", time="person_years", measure="IRLN")
    res = pool_estimates(df, yi="yi", vi="vi", measure="PLO")  # estimates with their CI/SE

Analyses that take a result and reuse its options: :func:`subgroups`,
:func:`meta_regression`, :func:`leave_one_out`, :func:`influence`, :func:`cumulative`,
:func:`regtest`, :func:`ranktest`, :func:`trimfill`, :func:`confint_tau2`,
:func:`ft_guardrail`, :func:`refit`; :func:`method_sensitivity` (one call, every model);
and :func:`pool_as_r_meta` (R meta's defaults of a stated version, in one call). A
meta-regression can be asked for predictions at new moderator values (:func:`predict`),
its influence diagnostics (:func:`influence`) and permutation p-values
(:func:`permutest`). Strata nested in studies are pooled with the multilevel model
(:func:`pool_multilevel`). The vocabulary (codes, long names, citations, transforms) is
declared once in :mod:`review.meta._vocab`; the result objects are in
:mod:`review.meta.results`; :mod:`review.meta.glmm` fits the GLMMs (``method="GLMM"``),
:mod:`review.meta.regression` their meta-regression.
"""

from __future__ import annotations

from review.meta._vocab import (
    DFS,
    I2Method,
    Measure,
    Method,
    MVMethod,
    MVTest,
    PIMethod,
    StudyCI,
    Test,
)
from review.meta.bias import RanktestResult, TrimfillResult, ranktest, trimfill
from review.meta.conventions import R_META_DEFAULTS, pool_as_r_meta
from review.meta.diagnostics import cumulative, influence, leave_one_out, regtest
from review.meta.escalc import escalc, validate_counts
from review.meta.estimates import estimate_yi_vi, pool_estimates, study_yi_vi
from review.meta.multilevel import MultilevelResult, pool_multilevel
from review.meta.permutation import PermutationResult, permutest
from review.meta.regression import PredictionResult, RegressionInfluenceResult, predict
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
    "DFS",
    "R_META_DEFAULTS",
    "CumulativeResult",
    "FTGuardrailResult",
    "FixedEffect",
    "I2Method",
    "InfluenceResult",
    "LeaveOneOutResult",
    "LinkScale",
    "MVMethod",
    "MVTest",
    "Measure",
    "MetaRegressionResult",
    "Method",
    "MultilevelResult",
    "PIMethod",
    "PermutationResult",
    "PoolResult",
    "PredictionResult",
    "RanktestResult",
    "RegressionInfluenceResult",
    "RegtestResult",
    "SensitivityResult",
    "StudyCI",
    "SubgroupResult",
    "Tau2CI",
    "Test",
    "TrimfillResult",
    "confint_tau2",
    "cumulative",
    "escalc",
    "estimate_yi_vi",
    "ft_guardrail",
    "influence",
    "leave_one_out",
    "meta_regression",
    "method_sensitivity",
    "permutest",
    "pool_as_r_meta",
    "pool_estimates",
    "pool_multilevel",
    "pool_proportions",
    "pool_rates",
    "predict",
    "ranktest",
    "refit",
    "regtest",
    "study_yi_vi",
    "subgroups",
    "trimfill",
    "validate_counts",
]
