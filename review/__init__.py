"""review: systematic reviews with meta-analysis of incidence, in Python and Jupyter.

One module per review step; data flows one way:
records (:mod:`review.search`, :mod:`review.records`, :mod:`review.dedup`) ->
decisions (:mod:`review.protocol`, :mod:`review.screening`, :mod:`review.prioritise`,
:mod:`review.prisma`) -> studies (:mod:`review.extraction`, :mod:`review.appraisal`) ->
pooled results (:mod:`review.meta`, :mod:`review.report`, :mod:`review.analysis`,
:mod:`review.certainty`) -> figures
(:mod:`review.plots`). Every decision log is kept by :mod:`review.journal`.

The verbs of each step are importable from here too (``from review import pool_proportions``);
they are loaded on first use, so ``import review`` stays quick.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: Public name -> module that defines it.
_EXPORTS: dict[str, str] = {
    # records
    "search_pubmed": "review.search",
    "parse_pubmed_xml": "review.search",
    "load_snapshot": "review.search",
    "save_snapshot": "review.search",
    "new_since": "review.search",
    "Snapshot": "review.search",
    "read_ris": "review.records",
    "read_csv_export": "review.records",
    "combine_records": "review.records",
    "load_review_records": "review.records",
    "deduplicate": "review.dedup",
    "DedupResult": "review.dedup",
    "load_overrides": "review.dedup",
    "add_override": "review.dedup",
    # decisions
    "load_protocol": "review.protocol",
    "Protocol": "review.protocol",
    "ScreeningLog": "review.screening",
    "agreement": "review.screening",
    "rank_unscreened": "review.prioritise",
    "recall_curve": "review.prioritise",
    "stopping_test": "review.prioritise",
    "prisma_counts": "review.prisma",
    "PrismaCounts": "review.prisma",
    # studies
    "load_extraction": "review.extraction",
    "read_extraction": "review.extraction",
    "provenance": "review.extraction",
    "report_study_map": "review.extraction",
    "AppraisalLog": "review.appraisal",
    "load_tool": "review.appraisal",
    "appraisal_plan": "review.appraisal",
    # pooled results
    "pool_proportions": "review.meta",
    "pool_rates": "review.meta",
    "pool_estimates": "review.meta",
    "subgroups": "review.meta",
    "meta_regression": "review.meta",
    "leave_one_out": "review.meta",
    "influence": "review.meta",
    "cumulative": "review.meta",
    "regtest": "review.meta",
    "confint_tau2": "review.meta",
    "ft_guardrail": "review.meta",
    "method_sensitivity": "review.meta",
    "pool_multilevel": "review.meta",
    "predict": "review.meta",
    "permutest": "review.meta",
    "PoolResult": "review.meta",
    "run_analyses": "review.analysis",
    "run_sensitivity": "review.analysis",
    "compare_published": "review.analysis",
    "pooled_table": "review.report",
    "subgroup_tests": "review.report",
    "compare_estimates": "review.report",
    "load_published": "review.report",
    "load_certainty": "review.certainty",
    "evidence_profile": "review.certainty",
    "summary_of_findings": "review.certainty",
    "assess_certainty": "review.certainty",
    # figures
    "forest": "review.plots",
    "forest_leave_one_out": "review.plots",
    "forest_cumulative": "review.plots",
    "funnel": "review.plots",
    "prisma_diagram": "review.plots",
    "save_figure": "review.plots",
    "save_analysis_figures": "review.plots",
    "save_sensitivity_figures": "review.plots",
    "traffic_light": "review.plots",
    "rob_summary": "review.plots",
    "sof_table": "review.plots",
    # running
    "run_notebooks": "review.runner",
    "ReviewPaths": "review.paths",
    "new_review": "review.scaffold",
    "update_review": "review.scaffold",
    "review_status": "review.status",
    "require_stage": "review.status",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'review' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
