"""The review protocol: question, eligibility, databases, and what is extracted and pooled.

A review's protocol lives in ``protocol.yaml`` (:attr:`review.paths.ReviewPaths.protocol`).
It is checked against a JSON Schema on read, then cross-checked (a code that names another
must name one that exists, of the right type); every error names the file, the line and
the field, e.g. ``file data/protocol.yaml, row 31, column 'analyses[2].model.measure'``.

The file's shape (``schema_version: 2``; docs/DESIGN.md, "Protocol", gives every key and a
commented template)::

    schema_version: 2
    title: ...
    question: ...
    population: ...                # optional
    intervention: ...              # optional
    eligibility: {include: [...], exclude: [...]}
    exclusion_reasons:             # full-text exclusion reasons, in display order
      - {code: wrong_population, label: "Not the population of the question"}
    databases:
      - {name: PubMed, platform: NCBI E-utilities, query: "...", snapshot: pubmed-2026}
    screening:                     # optional
      reviewers: [A, B]
      stages: [title_abstract, full_text]
      highlight: {include: [...], exclude: [...]}
    extraction: {folder: extraction}
    fields:                        # the numbers extracted into outcomes.csv
      - {code: n_operated, label: Patients operated, type: count}
      - {code: n_ssi, label: Patients with a surgical-site infection, type: count}
    outcomes:                      # what is pooled, built from the fields
      - {code: ssi, label: Surgical-site infection, kind: proportion, events: n_ssi,
         counts: patients, denominator: n_operated, primary: true}
    covariates:                    # study-level columns of studies.csv
      - {code: design, label: Design, type: categorical, values: [rct, cohort]}
      - {code: rob, label: Risk of bias, type: categorical, from: appraisal,
         values: [low, moderate, high]}  # each study's overall judgement (the tool's levels)
    analyses:                      # one forest plot and one pooled-table row each
      - code: ssi_main
        label: Surgical-site infection
        outcome: ssi
        model: {measure: PLO, method: GLMM}
        subgroups: [design]
        sensitivity: {leave_one_out: true, methods: true}
    appraisal:                     # optional: risk of bias (review.appraisal)
      tool: jbi_prevalence         # a shipped template, or a tool file in the review folder
      assessors: [A, B]
      rule: {overall: {...}}       # optional: replaces the tool's rule (same format)
      high_risk: [high]            # overall judgements that make a study "high risk"
      require_support: true        # every answer needs a quote and location, or a note
    certainty:                     # optional: GRADE (review.certainty)
      start: high                  # starting certainty of the body of evidence
      thresholds: {ssi: [0.05]}  # decision thresholds per outcome (imprecision)

Version 1 files (no ``fields``, ``covariates`` or ``analyses``; outcomes as plain strings)
are still read, so that searching and screening work unchanged; extraction and analysis
need version 2 and say how to migrate.

The reason code ``not_retrieved`` is reserved: it is always known, whether or not the file
lists it, and at stage ``full_text`` it counts as "report not retrieved" in the PRISMA 2020
flow diagram rather than as an exclusion (Page et al. 2021).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn, get_args

import yaml

from review._io import read_text
from review._jsonschema import jsonschema
from review.errors import OptionError, ProtocolError

__all__ = [
    "COUNTS",
    "COVARIATE_SOURCES",
    "COVARIATE_TYPES",
    "DERIVATION_RULES",
    "ESTIMATE_POLICIES",
    "FIELD_TYPES",
    "NOT_RETRIEVED",
    "OVERLAP_RELATIONS",
    "PERSON_TIME_UNITS",
    "PROTOCOL_SCHEMA",
    "PROTOCOL_SCHEMA_V1",
    "RESERVED_REVIEWERS",
    "SCHEMA_VERSION",
    "STAGES",
    "STUDY_ID_COLUMNS",
    "SUPPORTED_SCHEMA_VERSIONS",
    "TIME_UNITS",
    "Amendment",
    "Analysis",
    "Comparison",
    "Covariate",
    "Database",
    "Derivation",
    "ExcludeSet",
    "Field",
    "Model",
    "Outcome",
    "Protocol",
    "Sensitivity",
    "load_protocol",
    "protocol_from_mapping",
]

#: The protocol format this module writes about; :data:`SUPPORTED_SCHEMA_VERSIONS` are read.
SCHEMA_VERSION = 2
#: Versions :func:`load_protocol` reads (1: search and screening only).
SUPPORTED_SCHEMA_VERSIONS = (1, 2)

#: Reserved full-text reason code: the report could not be retrieved (not an exclusion).
NOT_RETRIEVED = "not_retrieved"
_NOT_RETRIEVED_LABEL = "Report not retrieved"

#: Screening stages, in order.
STAGES = ("title_abstract", "full_text")

#: Types of an extracted number: a whole count (patients or events), person-time, or any
#: other number (a median follow-up, an age).
FIELD_TYPES = ("count", "person_time", "number")
#: What an outcome's events count: patients with at least one event, or events (which
#: can exceed the patients; only a rate can pool them).
COUNTS = ("patients", "events")
#: Units of person-time; rates are pooled per person-year whichever is declared.
PERSON_TIME_UNITS = ("person-days", "person-weeks", "person-months", "person-years")
#: Units of a duration (a ``number`` field with one of these is a time, and positive).
TIME_UNITS = ("days", "weeks", "months", "years")
#: Rules a derived field may declare. ``count_times_duration``: person-time approximated
#: as people at risk times a (median) follow-up, used only where none is reported.
DERIVATION_RULES = ("count_times_duration",)
#: Types of a study-level covariate (a column of ``studies.csv``).
COVARIATE_TYPES = ("categorical", "number", "integer", "text", "boolean")
#: Where a covariate's values come from: ``studies`` (a column of ``studies.csv``, the
#: default) or ``appraisal`` (each study's overall risk-of-bias judgement, by the protocol's
#: ``appraisal`` tool and rule from ``appraisal/log.jsonl``; joined by
#: :func:`review.analysis.run_analyses`).
COVARIATE_SOURCES = ("studies", "appraisal")
#: Whether studies that report only an estimate with its CI or SE join an analysis.
ESTIMATE_POLICIES = ("include", "exclude")
#: How two cohorts of ``extraction/overlap.csv`` may share patients: ``same_cohort`` (two
#: reports of one cohort), ``subset`` (one cohort's patients are among the other's),
#: ``shared_centre`` (a centre contributed to both in overlapping periods), ``possible``
#: (overlap cannot be ruled out from the reports: same country, period and products, the
#: centres not listed).
OVERLAP_RELATIONS = ("same_cohort", "subset", "shared_centre", "possible")
#: Columns of ``studies.csv`` that identify a study and its reports (not covariates).
STUDY_ID_COLUMNS = ("study_id", "label", "pmid", "report_pmids", "note")
# Columns the extraction and pooling steps add beside a review's fields and covariates
# (per-outcome tables, the engine's canonical frames): no field or covariate may take them.
_ENGINE_COLUMNS = (
    "events", "n", "time", "yi", "vi", "estimate", "ci_low", "ci_high", "ci_level", "se",
    "estimate_type", "basis", "time_source", "weight", "corrected",
)  # fmt: skip

_CODE_PATTERN = r"^[a-z][a-z0-9_]*$"
_CODE = {"type": "string", "pattern": _CODE_PATTERN}
_TEXT = {"type": "string", "minLength": 1}
_STR_LIST = {"type": "array", "items": _TEXT}
_CODE_LIST = {"type": "array", "items": _CODE, "uniqueItems": True}
_SCALAR = {"type": ["string", "number", "boolean"]}

_COMMON_PROPERTIES: dict[str, Any] = {
    "title": _TEXT,
    "question": _TEXT,
    "population": {"type": ["string", "null"]},
    "intervention": {"type": ["string", "null"]},
    "eligibility": {
        "type": "object",
        "required": ["include", "exclude"],
        "additionalProperties": False,
        "properties": {"include": _STR_LIST, "exclude": _STR_LIST},
    },
    "exclusion_reasons": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["code", "label"],
            "additionalProperties": False,
            "properties": {"code": _CODE, "label": _TEXT},
        },
    },
    "databases": {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "required": ["name", "query"],
            "properties": {
                "name": _TEXT,
                "platform": {"type": ["string", "null"]},
                "query": _TEXT,
                "snapshot": {"type": ["string", "null"]},
                "kind": {"enum": ["database", "register", "other"]},
            },
        },
    },
    "amendments": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["date", "section", "change", "reason"],
            "additionalProperties": False,
            "properties": {
                "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                "section": _TEXT,
                "change": _TEXT,
                "reason": _TEXT,
            },
        },
    },
    "appraisal": {
        "type": "object",
        "required": ["tool"],
        "additionalProperties": False,
        "properties": {
            "tool": {"type": "string", "minLength": 1},
            "assessors": {
                **_STR_LIST,
                "uniqueItems": True,
                "not": {"contains": {"const": "consensus"}},
            },
            "rule": {"type": "object"},  # checked against the tool by review.appraisal
            "high_risk": {**_STR_LIST, "minItems": 1, "uniqueItems": True},
            "require_support": {"type": "boolean"},
        },
    },
    "certainty": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "start": {"enum": ["high", "moderate", "low", "very_low"]},
            "thresholds": {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {"type": "number", "exclusiveMinimum": 0},
                    "uniqueItems": True,
                },
            },
        },
    },
    "screening": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "reviewers": {**_STR_LIST, "uniqueItems": True},
            "stages": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"enum": list(STAGES)},
            },
            "conflict_resolution": {"type": "string"},
            "highlight": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"include": _STR_LIST, "exclude": _STR_LIST},
            },
        },
    },
}
_REQUIRED = ["schema_version", "title", "question", "eligibility", "exclusion_reasons", "databases"]

#: JSON Schema of a version 1 ``protocol.yaml`` (draft 2020-12): search and screening.
PROTOCOL_SCHEMA_V1: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": _REQUIRED,
    "properties": {
        "schema_version": {"const": 1},
        **_COMMON_PROPERTIES,
        "outcomes": {
            "type": "array",
            "items": {
                "oneOf": [
                    _TEXT,
                    {
                        "type": "object",
                        "required": ["label"],
                        "additionalProperties": False,
                        "properties": {
                            "code": _CODE,
                            "label": _TEXT,
                            "primary": {"type": "boolean"},
                        },
                    },
                ]
            },
        },
    },
}

_FIELD: dict[str, Any] = {
    "type": "object",
    "required": ["code", "label", "type"],
    "additionalProperties": False,
    "properties": {
        "code": _CODE,
        "label": _TEXT,
        "type": {"enum": list(FIELD_TYPES)},
        "unit": _TEXT,
        "description": {"type": "string"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "derived": {
            "type": "object",
            "required": ["rule", "count", "duration"],
            "additionalProperties": False,
            "properties": {
                "rule": {"enum": list(DERIVATION_RULES)},
                "count": _CODE,
                "duration": _CODE,
                "label": _TEXT,
            },
        },
    },
}
_OUTCOME: dict[str, Any] = {
    "type": "object",
    "required": ["code", "label", "kind", "events", "counts"],
    "additionalProperties": False,
    "properties": {
        "code": _CODE,
        "label": _TEXT,
        "kind": {"enum": ["proportion", "rate"]},
        "events": _CODE,
        "counts": {"enum": list(COUNTS)},
        "denominator": _CODE,
        "time": _CODE,
        "subtype_of": {"anyOf": [_CODE, {"type": "null"}]},
        "subtypes_exclusive": {"type": "boolean"},
        "primary": {"type": "boolean"},
        "description": {"type": "string"},
    },
}
_COVARIATE: dict[str, Any] = {
    "type": "object",
    "required": ["code", "label", "type"],
    "additionalProperties": False,
    "properties": {
        "code": _CODE,
        "label": _TEXT,
        "type": {"enum": list(COVARIATE_TYPES)},
        "from": {"enum": list(COVARIATE_SOURCES)},
        "values": {
            "type": "array",
            "minItems": 1,
            "items": {
                "anyOf": [
                    {"type": ["string", "number", "boolean"], "minLength": 1},
                    {
                        "type": "object",
                        "required": ["code", "label"],
                        "additionalProperties": False,
                        "properties": {
                            "code": _SCALAR,
                            "label": _TEXT,
                            "compare": {"type": "boolean"},
                        },
                    },
                ]
            },
        },
        "required": {"type": "boolean"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "description": {"type": "string"},
    },
}
_ANALYSIS: dict[str, Any] = {
    "type": "object",
    "required": ["code", "label", "outcome", "model"],
    "additionalProperties": False,
    "properties": {
        "code": _CODE,
        "label": _TEXT,
        "description": {"type": "string"},
        "outcome": _CODE,
        "model": {
            "type": "object",
            "required": ["measure", "method"],
            "additionalProperties": False,
            "properties": {
                "measure": _TEXT,
                "method": _TEXT,
                "test": _TEXT,
                "pi_method": _TEXT,
                "level": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "structure": _TEXT,
                "dfs": _TEXT,
            },
        },
        "estimates": {"enum": list(ESTIMATE_POLICIES)},
        "strata": _TEXT,
        "subgroups": _CODE_LIST,
        "moderators": {
            "type": "array",
            "items": {"anyOf": [_CODE, {**_CODE_LIST, "minItems": 1}]},
        },
        "sensitivity": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "leave_one_out": {"type": "boolean"},
                "methods": {"type": "boolean"},
                "funnel": {"enum": ["egger", "peters", None]},
                "alternatives": _CODE_LIST,
                "exclude_sets": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code", "label"],
                        "oneOf": [{"required": ["where"]}, {"required": ["overlap"]}],
                        "additionalProperties": False,
                        "properties": {
                            "code": _CODE,
                            "label": _TEXT,
                            "overlap": {
                                "type": "array",
                                "minItems": 1,
                                "uniqueItems": True,
                                "items": {"enum": list(OVERLAP_RELATIONS)},
                            },
                            "where": {
                                "type": "object",
                                "required": ["column", "in"],
                                "additionalProperties": False,
                                "properties": {
                                    "column": _TEXT,
                                    "in": {"type": "array", "minItems": 1, "items": _SCALAR},
                                },
                            },
                        },
                    },
                },
            },
        },
        "display": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "title": _TEXT,
                "sort": {"type": ["string", "null"]},
                "scale": _TEXT,
                "xscale": _TEXT,
                "xlim": {
                    "type": "array",
                    "items": {"type": "number"},
                    "minItems": 2,
                    "maxItems": 2,
                },
                "digits": {"type": "integer", "minimum": 0},
                "counts": {"type": "boolean"},
                "weights": {"type": "boolean"},
                "prediction": {"type": "boolean"},
                "null": {"type": "number"},
            },
        },
    },
}
_COMPARISON: dict[str, Any] = {
    "type": "object",
    "required": ["code", "label", "file", "quantity", "analyses", "published_label"],
    "additionalProperties": False,
    "properties": {
        "code": _CODE,
        "label": _TEXT,
        "file": _TEXT,
        "quantity": _TEXT,
        "analyses": {**_CODE_LIST, "minItems": 1},
        "published_label": _TEXT,
        "patients": {"type": ["string", "null"]},
        "studies": _STR_LIST,
        "columns": _STR_LIST,
        "description": {"type": "string"},
    },
}

#: JSON Schema of ``protocol.yaml`` version 2 (draft 2020-12). Top-level keys beyond these
#: are allowed (a review may record its registration, authors, dates); nested blocks are
#: closed so that a typo inside them is caught. Codes that name other codes, and the
#: statistical vocabulary (``review.meta._vocab``), are checked after the schema.
PROTOCOL_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": _REQUIRED,
    "properties": {
        "schema_version": {"const": 2},
        **_COMMON_PROPERTIES,
        "extraction": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"folder": _TEXT},
        },
        "fields": {"type": "array", "items": _FIELD},
        "outcomes": {"type": "array", "items": _OUTCOME},
        "covariates": {"type": "array", "items": _COVARIATE},
        "analyses": {"type": "array", "items": _ANALYSIS},
        "comparisons": {"type": "array", "items": _COMPARISON},
    },
}


# --------------------------------------------------------------------------- records
@dataclass(frozen=True, slots=True)
class Derivation:
    """How a field's value is derived for a study that does not report it.

    Attributes
    ----------
    rule : {"count_times_duration"}
        The rule (:data:`DERIVATION_RULES`): person-time approximated as the ``count``
        field (people at risk) times the ``duration`` field (a median or mean follow-up),
        converted to the field's unit. It treats every person as followed for that time,
        so it overstates person-time when people die or are censored early.
    count, duration : str
        The fields it is computed from.
    label : str
        How a derived value is flagged in tables (``"N x median follow-up"``).
    """

    rule: str
    count: str
    duration: str
    label: str


@dataclass(frozen=True, slots=True)
class Field:
    """One number extracted into ``outcomes.csv``.

    Attributes
    ----------
    code, label : str
        The code written in ``outcomes.csv``'s ``field`` column, and its name.
    type : {"count", "person_time", "number"}
        A whole count >= 0; person-time > 0; any other number (within ``minimum`` and
        ``maximum`` when given; > 0 when its unit is a duration).
    unit : str or None
        ``person-years`` etc. for person-time (required), ``months`` etc. for a duration.
    description : str or None
        What exactly is counted or measured.
    minimum, maximum : float or None
        Bounds of a ``number`` (inclusive).
    derived : Derivation or None
        A declared rule giving the value where a study reports none (flagged as derived).
    """

    code: str
    label: str
    type: str
    unit: str | None = None
    description: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    derived: Derivation | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """One outcome: what is pooled, and from which fields.

    Attributes
    ----------
    label : str
        What is counted, in words (figure titles and tables use it).
    code : str or None
        Short code (always given in version 2; may be ``None`` in a version 1 file).
    primary : bool
        Whether this is the primary outcome.
    kind : {"proportion", "rate"} or None
        A proportion of people at risk, or a rate per person-time (``None`` in version 1).
    events : str or None
        The count field of the numerator.
    counts : {"patients", "events"} or None
        What the numerator counts: patients with at least one event, or events. A
        proportion must count patients (events can exceed the people at risk).
    denominator : str or None
        The count field of the people at risk (proportions).
    time : str or None
        The person-time field (rates).
    subtype_of : str or None
        The outcome this one is a subtype of (its count may not exceed the parent's for
        the same study unless a note explains why).
    subtypes_exclusive : bool
        Whether this outcome's subtypes exclude each other (then their counts may not sum
        above this outcome's without a note).
    description : str or None
        Definition, as the protocol gives it.
    """

    label: str
    code: str | None = None
    primary: bool = False
    kind: str | None = None
    events: str | None = None
    counts: str | None = None
    denominator: str | None = None
    time: str | None = None
    subtype_of: str | None = None
    subtypes_exclusive: bool = False
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Covariate:
    """A study-level covariate: a column of ``studies.csv``.

    Attributes
    ----------
    code, label : str
        Column name and display name.
    type : {"categorical", "number", "integer", "text", "boolean"}
        How its cells are read (booleans: ``true``/``false``/``yes``/``no``).
    values : Mapping[str, str]
        For a categorical covariate: allowed value -> display label, in order (empty
        otherwise).
    not_compared : tuple of str
        Values declared with ``compare: false``: groups shown but left out of tests for
        subgroup differences (a mixture of the other groups, "not reported"), which would
        otherwise be compared against the groups they mix.
    required : bool
        Whether every study must have a value.
    minimum, maximum : float or None
        Bounds of a number or integer covariate (inclusive).
    description : str or None
    source : {"studies", "appraisal"}
        ``studies``: a column of ``studies.csv``. ``appraisal`` (``from: appraisal``): each
        study's overall risk-of-bias judgement, which :func:`review.analysis.run_analyses`
        joins from the appraisal log; categorical, its ``values`` the levels of the
        protocol's tool, least concern first; not a column of ``studies.csv``.
    """

    code: str
    label: str
    type: str
    values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    not_compared: tuple[str, ...] = ()
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    description: str | None = None
    source: str = "studies"


@dataclass(frozen=True, slots=True)
class Model:
    """The pooling model of an analysis, in metafor's vocabulary (``review.meta._vocab``).

    Attributes
    ----------
    measure : str
        ``PR``, ``PLO``, ``PAS``, ``PFT`` (proportions) or ``IR``, ``IRLN`` (rates).
    method : str
        ``FE``, ``DL``, ``REML``, ``ML``, ``PM``, ``HS``, ``SJ``, ``HE``, ``EB`` or ``GLMM``.
    test : str
        ``z`` or ``knha``; ``z`` or ``t`` for a multilevel model.
    pi_method : str
        ``metafor``, ``riley``, ``V`` or ``HTS`` (``metafor`` only for a multilevel model).
    level : float
        Confidence level in (0, 1).
    structure : {"univariate", "multilevel"}
        ``univariate``: one row a study (strata of one study summed first when the
        analysis declares ``strata``). ``multilevel``: the strata are kept and modelled with
        random effects for studies and for strata within studies (metafor ``rma.mv``,
        :func:`review.meta.pool_multilevel`); the analysis's ``strata`` column names the
        study of each row.
    dfs : {"residual", "contain"}
        t degrees of freedom of a multilevel model under ``test: t`` (metafor ``dfs``).
    """

    measure: str
    method: str
    test: str = "z"
    pi_method: str = "metafor"
    level: float = 0.95
    structure: str = "univariate"
    dfs: str = "residual"

    @property
    def multilevel(self) -> bool:
        """Whether the strata are kept and modelled as nested in studies."""
        return self.structure == "multilevel"


@dataclass(frozen=True, slots=True)
class ExcludeSet:
    """A named set of studies left out in a sensitivity analysis.

    Attributes
    ----------
    code, label : str
    column : str or None
        A column of ``studies.csv`` (a covariate or an identifying column), or
        ``time_source`` (how each study's person-time was had: ``reported`` or the
        derivation's label).
    values : tuple of str
        The studies whose ``column`` holds one of these (as text) are left out.
    overlap : tuple of str
        Instead of ``column``: relations of ``extraction/overlap.csv``
        (:data:`OVERLAP_RELATIONS`); for each listed pair whose two studies are both in the
        analysis, the pair's ``study_id`` (the report to drop) is left out.
    """

    code: str
    label: str
    column: str | None
    values: tuple[str, ...]
    overlap: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """The sensitivity analyses declared for an analysis.

    Attributes
    ----------
    leave_one_out : bool
        Leave each study out in turn (with influence diagnostics).
    methods : bool
        Refit with every model (GLMM, logit, arcsine, Freeman-Tukey, raw).
    funnel : {"egger", "peters"} or None
        Funnel plot with this regression test for small-study effects.
    exclude_sets : tuple of ExcludeSet
        Refits without named sets of studies.
    alternatives : tuple of str
        Other declared analyses that are alternative choices for this one (another
        definition of the outcome, another model): shown beside the exclusion sets in the
        robustness table and figure.
    """

    leave_one_out: bool = False
    methods: bool = False
    funnel: str | None = None
    exclude_sets: tuple[ExcludeSet, ...] = ()
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Analysis:
    """One declared analysis: an outcome pooled with a model, and what is done around it.

    Attributes
    ----------
    code, label : str
        The code names its files (``forest_<code>``); the label its table row.
    outcome : str
        The outcome pooled.
    model : Model
    estimates : {"include", "exclude"}
        Whether studies that give only an estimate with its CI (or SE) join the count-based
        ones (inverse-variance methods only).
    strata : str or None
        A column of ``studies.csv``: rows sharing a non-empty value are strata of one study
        (named by the value). Their counts (and person-time) are summed into one row a study
        before pooling, so k counts studies, not strata; with ``model.structure:
        multilevel`` they are kept, one row a stratum, and the column names each row's study
        (a row with an empty value is a study of its own).
    subgroups : tuple of str
        Covariates to test subgroup differences on, one test (and forest plot) each.
    moderators : tuple of tuple of str
        Meta-regressions: each entry one model with these covariates or fields.
    sensitivity : Sensitivity
    display : Mapping[str, Any]
        Forest-plot options (``title``, ``sort``, ``scale``, ``xscale``, ...).
    description : str or None
    """

    code: str
    label: str
    outcome: str
    model: Model
    estimates: str = "exclude"
    strata: str | None = None
    subgroups: tuple[str, ...] = ()
    moderators: tuple[tuple[str, ...], ...] = ()
    sensitivity: Sensitivity = field(default_factory=Sensitivity)
    display: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    description: str | None = None

    @property
    def title(self) -> str:
        """The figure title: ``display.title``, else the label."""
        return str(self.display.get("title") or self.label)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A published estimate set beside the review's own (read from a file of the review).

    Attributes
    ----------
    code, label : str
    file : str
        Path relative to the review folder of a published-facts CSV
        (:func:`review.report.load_published`).
    quantity : str
        The row holding the published pooled estimate (percent, with its CI).
    analyses : tuple of str
        The review's analyses shown beside it.
    published_label : str
        How the published row is named.
    patients : str or None
        Row holding the published number of patients.
    studies : tuple of str
        Rows whose values add up to the published number of studies.
    columns : tuple of str
        Columns of ``studies.csv`` shown with the comparison (for example whether the
        published review included each study).
    description : str or None
        How to read the comparison (why the estimates may differ).
    """

    code: str
    label: str
    file: str
    quantity: str
    analyses: tuple[str, ...]
    published_label: str
    patients: str | None = None
    studies: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Amendment:
    """A dated change to the protocol after it was first written (its history).

    A protocol changed after screening or extraction began keeps what changed, when and why:
    a methods reviewer reads these beside the decisions they touch (PRISMA 2020 item 24c).

    Attributes
    ----------
    date : str
        ``YYYY-MM-DD``.
    section : str
        The part of the protocol changed (``eligibility``, ``outcomes.<code>``, ...).
    change : str
        What was changed, in words.
    reason : str
        Why; and whether the change was made before or after the data were seen.
    """

    date: str
    section: str
    change: str
    reason: str


@dataclass(frozen=True, slots=True)
class Database:
    """One database (or register) searched, with the query as run.

    Attributes
    ----------
    name : str
        Database name as shown in the PRISMA diagram (``"PubMed"``, ``"Embase"``).
    query : str
        The full search strategy as run (PRISMA-S item 8).
    platform : str or None
        Interface used (``"NCBI E-utilities"``, ``"Ovid"``).
    snapshot : str or None
        Name of the search snapshot folder under ``search/`` (``None`` if not yet run).
    kind : {"database", "register", "other"}
        Which PRISMA 2020 identification box the source feeds.
    extra : Mapping[str, Any]
        Any further keys given for the database (dates, limits, filters), read-only.
    """

    name: str
    query: str
    platform: str | None = None
    snapshot: str | None = None
    kind: str = "database"
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Protocol:
    """A validated review protocol (read-only).

    Attributes
    ----------
    path : Path or None
        File the protocol was read from (``None`` when built from a mapping).
    schema_version : int
        Format version of the file (1 or 2).
    title, question : str
        Review title and question.
    population, intervention : str or None
        PICO elements, when given.
    outcomes : tuple of Outcome
        Outcomes (a plain string in a version 1 file becomes ``Outcome(label=...)``).
    eligibility_include, eligibility_exclude : tuple of str
        Inclusion and exclusion criteria, as written.
    exclusion_reasons : Mapping[str, str]
        Full-text exclusion reason code -> label, in the file's order, read-only. Always
        contains the reserved code ``not_retrieved`` (added last if the file omits it).
    databases : tuple of Database
        Sources searched, with their queries.
    reviewers : tuple of str
        Reviewer identifiers (empty if not given).
    stages : tuple of str
        Screening stages used, a subset of ``("title_abstract", "full_text")`` (both by
        default).
    conflict_resolution : str or None
        How conflicts are resolved, in words.
    highlight_include, highlight_exclude : tuple of str
        Terms the screener highlights as pointing to inclusion or exclusion.
    fields : Mapping[str, Field]
        Extracted numbers by code, in the file's order (empty in version 1).
    covariates : Mapping[str, Covariate]
        Study-level covariates by code, in order (empty in version 1).
    analyses : Mapping[str, Analysis]
        Declared analyses by code, in order (empty in version 1).
    comparisons : Mapping[str, Comparison]
        Published estimates to compare with, by code.
    extraction_folder : str
        The extraction folder named by the protocol (``extraction``).
    amendments : tuple of Amendment
        The protocol's history: dated changes with their reasons, oldest first.
    extra : Mapping[str, Any]
        Further top-level keys of the file, read-only.
    appraisal : Mapping[str, Any] or None
        The ``appraisal`` block as written (tool, assessors, rule, ...), read-only;
        :func:`review.appraisal.appraisal_plan` resolves the tool and checks the rule.
    certainty : Mapping[str, Any] or None
        The ``certainty`` block as written (starting level, thresholds per outcome),
        read-only; used by :mod:`review.certainty`.
    """

    path: Path | None
    schema_version: int
    title: str
    question: str
    population: str | None
    intervention: str | None
    outcomes: tuple[Outcome, ...]
    eligibility_include: tuple[str, ...]
    eligibility_exclude: tuple[str, ...]
    exclusion_reasons: Mapping[str, str]
    databases: tuple[Database, ...]
    reviewers: tuple[str, ...]
    stages: tuple[str, ...]
    conflict_resolution: str | None
    highlight_include: tuple[str, ...]
    highlight_exclude: tuple[str, ...]
    extra: Mapping[str, Any]
    fields: Mapping[str, Field] = field(default_factory=lambda: MappingProxyType({}))
    covariates: Mapping[str, Covariate] = field(default_factory=lambda: MappingProxyType({}))
    analyses: Mapping[str, Analysis] = field(default_factory=lambda: MappingProxyType({}))
    comparisons: Mapping[str, Comparison] = field(default_factory=lambda: MappingProxyType({}))
    extraction_folder: str = "extraction"
    amendments: tuple[Amendment, ...] = ()
    appraisal: Mapping[str, Any] | None = None
    certainty: Mapping[str, Any] | None = None

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return (
            f"<Protocol {self.title!r}{where}: {len(self.databases)} database(s), "
            f"{len(self.exclusion_reasons)} exclusion reasons, {len(self.fields)} fields, "
            f"{len(self.analyses)} analyses>"
        )

    def is_reason(self, code: str) -> bool:
        """Whether ``code`` is a known exclusion reason code (``not_retrieved`` included)."""
        return code in self.exclusion_reasons

    def reason_label(self, code: str) -> str:
        """The label of reason ``code``.

        Raises
        ------
        review.errors.OptionError
            If the code is not in the protocol.
        """
        try:
            return self.exclusion_reasons[code]
        except KeyError:
            raise OptionError(
                f"Invalid exclusion reason {code!r}; must be one of {list(self.exclusion_reasons)}"
            ) from None

    def outcome(self, code: str) -> Outcome:
        """The outcome with this code.

        Raises
        ------
        review.errors.OptionError
            If the protocol declares no such outcome.
        """
        for o in self.outcomes:
            if o.code == code:
                return o
        raise OptionError(
            f"Invalid outcome {code!r}; must be one of {[o.code for o in self.outcomes if o.code]}"
        )

    def study_columns(self) -> tuple[str, ...]:
        """Columns ``studies.csv`` may have: the identifying ones, then the covariates.

        Covariates ``from: appraisal`` are not among them (the appraisal log gives them).
        """
        return (
            *STUDY_ID_COLUMNS,
            *(c for c, cov in self.covariates.items() if cov.source == "studies"),
        )

    def _repr_html_(self) -> str:
        import html

        def items(xs: tuple[str, ...] | list[str]) -> str:
            return "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in xs) + "</ul>"

        def table(rows: list[tuple[str, ...]]) -> str:
            return (
                "<table>"
                + "".join(
                    "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                    for r in rows
                )
                + "</table>"
            )

        reasons = "".join(
            f"<tr><td><code>{html.escape(k)}</code></td><td>{html.escape(v)}</td></tr>"
            for k, v in self.exclusion_reasons.items()
        )
        dbs = "".join(
            f"<tr><td>{html.escape(d.name)}</td><td>{html.escape(d.platform or '')}</td>"
            f"<td><code>{html.escape(d.query)}</code></td></tr>"
            for d in self.databases
        )
        out = (
            f"<div><h4>{html.escape(self.title)}</h4><p><b>Question:</b> "
            f"{html.escape(self.question)}</p><p><b>Include</b></p>"
            f"{items(self.eligibility_include)}<p><b>Exclude</b></p>"
            f"{items(self.eligibility_exclude)}<p><b>Full-text exclusion reasons</b></p>"
            f"<table>{reasons}</table><p><b>Databases</b></p><table>{dbs}</table>"
        )
        if self.fields:
            out += "<p><b>Fields</b></p>" + table(
                [(f.code, f.label, f.type, f.unit or "") for f in self.fields.values()]
            )
        if self.schema_version >= 2 and self.outcomes:
            out += "<p><b>Outcomes</b></p>" + table([_outcome_row(o) for o in self.outcomes])
        if self.analyses:
            out += "<p><b>Analyses</b></p>" + table(
                [_analysis_row(a) for a in self.analyses.values()]
            )
        if self.amendments:
            out += "<p><b>Amendments</b></p>" + table(
                [(a.date, a.section, a.change, a.reason) for a in self.amendments]
            )
        return out + "</div>"

    def summary(self) -> str:
        """Plain-text overview: question, criteria, reasons, databases, outcomes, analyses."""
        lines = [self.title, "", f"Question: {self.question}"]
        if self.population:
            lines.append(f"Population: {self.population}")
        if self.intervention:
            lines.append(f"Intervention: {self.intervention}")
        if self.outcomes and self.schema_version < 2:
            lines.append("Outcomes: " + "; ".join(o.label for o in self.outcomes))
        lines += ["", "Include:"] + [f"  - {c}" for c in self.eligibility_include]
        lines += ["Exclude:"] + [f"  - {c}" for c in self.eligibility_exclude]
        lines += ["", "Full-text exclusion reasons:"]
        lines += [f"  {k}: {v}" for k, v in self.exclusion_reasons.items()]
        lines += ["", "Databases:"]
        for db in self.databases:
            plat = f" ({db.platform})" if db.platform else ""
            lines.append(f"  {db.name}{plat}: {db.query}")
        if self.schema_version >= 2 and self.outcomes:
            lines += ["", "Outcomes:"] + ["  " + " | ".join(_outcome_row(o)) for o in self.outcomes]
        if self.analyses:
            lines += ["", "Analyses:"]
            lines += ["  " + " | ".join(_analysis_row(a)) for a in self.analyses.values()]
        if self.amendments:
            lines += ["", "Amendments:"]
            lines += [
                f"  {a.date} [{a.section}] {a.change} Reason: {a.reason}" for a in self.amendments
            ]
        return "\n".join(lines)


def _outcome_row(o: Outcome) -> tuple[str, ...]:
    of = o.denominator if o.kind == "proportion" else o.time
    sub = f"subtype of {o.subtype_of}" if o.subtype_of else ""
    return (
        o.code or "",
        o.label,
        f"{o.kind}: {o.events} / {of}" if o.kind else "",
        f"counts {o.counts}" if o.counts else "",
        ("primary" if o.primary else sub),
    )


def _analysis_row(a: Analysis) -> tuple[str, ...]:
    m = a.model
    return (a.code, a.label, a.outcome, f"{m.measure}, {m.method}, {m.test}")


# --------------------------------------------------------------------------- reading
def _dotted(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(source: str | None, path: Sequence[Any]) -> int | None:
    """1-based line of the YAML node at ``path`` (or its nearest existing parent)."""
    if source is None:
        return None
    try:
        node = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        nxt = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if key.value == part:
                    nxt = value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _frozen(x: Any) -> Any:
    """A read-only copy of a parsed YAML block (mappings as MappingProxyType, lists as tuples)."""
    if isinstance(x, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in x.items()})
    if isinstance(x, list | tuple):
        return tuple(_frozen(v) for v in x)
    return x


def _as_tuple(x: Any) -> tuple[str, ...]:
    return tuple(x or ())


class _Checker:
    """Raises :class:`ProtocolError` naming the file, the line and the field of a path."""

    def __init__(self, path: str | os.PathLike[str] | None, source: str | None) -> None:
        self.path = path
        self.source = source

    def fail(self, message: str, where: Sequence[Any]) -> NoReturn:
        raise ProtocolError(
            message,
            path=self.path,
            row=_line_of(self.source, where),
            column=_dotted(where) or None,
        )


def _check_schema(data: Any, ck: _Checker) -> int:
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(data, dict) and version not in SUPPORTED_SCHEMA_VERSIONS:
        ck.fail(
            f"schema_version {version!r} is not one this toolkit reads; must be one of "
            f"{list(SUPPORTED_SCHEMA_VERSIONS)} (docs/DESIGN.md, 'Protocol')",
            ["schema_version"],
        )
    schema = PROTOCOL_SCHEMA_V1 if version == 1 else PROTOCOL_SCHEMA
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = jsonschema.exceptions.best_match(errors) or errors[0]
        where = list(err.absolute_path)
        column_path = where
        if err.validator == "required" and isinstance(err.instance, dict):
            missing = [k for k in err.validator_value if k not in err.instance]
            column_path = [*where, missing[0]] if missing else where
        raise ProtocolError(
            f"protocol does not match schema version {version or SCHEMA_VERSION}: {err.message}",
            path=ck.path,
            row=_line_of(ck.source, where),
            column=_dotted(column_path) or None,
        )
    return int(data["schema_version"])


def _unique(items: list[dict[str, Any]], key: str, block: str, ck: _Checker) -> None:
    seen: set[Any] = set()
    for i, item in enumerate(items):
        code = item[key]
        if code in seen:
            ck.fail(f"{block} code {code!r} is listed twice", [block, i, key])
        seen.add(code)


def _build_v2(data: Mapping[str, Any], ck: _Checker) -> dict[str, Any]:
    """Cross-check the version 2 blocks and build their records."""
    raw_fields: list[dict[str, Any]] = list(data.get("fields") or [])
    raw_outcomes: list[dict[str, Any]] = list(data.get("outcomes") or [])
    raw_covs: list[dict[str, Any]] = list(data.get("covariates") or [])
    raw_analyses: list[dict[str, Any]] = list(data.get("analyses") or [])
    raw_comps: list[dict[str, Any]] = list(data.get("comparisons") or [])
    for block, items in (
        ("fields", raw_fields),
        ("outcomes", raw_outcomes),
        ("covariates", raw_covs),
        ("analyses", raw_analyses),
        ("comparisons", raw_comps),
    ):
        _unique(items, "code", block, ck)

    # ---- covariates
    covariates: dict[str, Covariate] = {}
    for i, c in enumerate(raw_covs):
        where = ["covariates", i]
        if c["code"] in STUDY_ID_COLUMNS or c["code"] in _ENGINE_COLUMNS:
            ck.fail(
                f"covariate code {c['code']!r} is a reserved column name "
                f"({', '.join(STUDY_ID_COLUMNS + _ENGINE_COLUMNS)}); choose another code",
                [*where, "code"],
            )
        values: dict[str, str] = {}
        not_compared: list[str] = []
        if c["type"] == "categorical":
            if not c.get("values"):
                ck.fail(
                    f"categorical covariate {c['code']!r} needs its allowed values "
                    "(values: [a, b] or [{code: a, label: ...}])",
                    [*where, "type"],
                )
            for j, v in enumerate(c["values"]):
                raw = v["code"] if isinstance(v, dict) else v
                if isinstance(raw, bool):
                    ck.fail(
                        f"value {raw!r} of covariate {c['code']!r} was read as a boolean: YAML "
                        "reads an unquoted yes/no/true/false so; quote it ('yes') as written in "
                        "studies.csv",
                        [*where, "values", j],
                    )
                code = _cell_text(raw)
                label = v["label"] if isinstance(v, dict) else code
                if code in values:
                    ck.fail(f"value {code!r} is listed twice", [*where, "values", j])
                values[code] = label
                if isinstance(v, dict) and v.get("compare") is False:
                    not_compared.append(code)
        elif c.get("values"):
            ck.fail(
                f"values are for categorical covariates; {c['code']!r} is {c['type']}",
                [*where, "values"],
            )
        for bound in ("minimum", "maximum"):
            if bound in c and c["type"] not in ("number", "integer"):
                ck.fail(
                    f"{bound} is for number and integer covariates; {c['code']!r} is {c['type']}",
                    [*where, bound],
                )
        source = c.get("from", "studies")
        if source == "appraisal":
            if c["type"] != "categorical":
                ck.fail(
                    f"covariate {c['code']!r} comes from the appraisal (a judgement per study): "
                    f"its type is categorical, not {c['type']}, with the tool's levels as values",
                    [*where, "type"],
                )
            if not data.get("appraisal"):
                ck.fail(
                    f"covariate {c['code']!r} comes from the appraisal, but the protocol has no "
                    "'appraisal' block (tool, assessors) to judge the studies by",
                    [*where, "from"],
                )
        covariates[c["code"]] = Covariate(
            code=c["code"],
            label=c["label"],
            type=c["type"],
            values=MappingProxyType(values),
            not_compared=tuple(not_compared),
            required=bool(c.get("required", False)),
            minimum=c.get("minimum"),
            maximum=c.get("maximum"),
            description=c.get("description"),
            source=source,
        )

    # ---- fields
    fields: dict[str, Field] = {}
    for i, f in enumerate(raw_fields):
        where = ["fields", i]
        code = f["code"]
        if code in _ENGINE_COLUMNS:
            ck.fail(
                f"field code {code!r} is a reserved column name "
                f"({', '.join(_ENGINE_COLUMNS)}); choose another code",
                [*where, "code"],
            )
        if code in STUDY_ID_COLUMNS or code in covariates:
            ck.fail(
                f"field code {code!r} is also a column of studies.csv (an identifying column "
                "or a covariate); fields and covariates become columns of one table",
                [*where, "code"],
            )
        unit = f.get("unit")
        if f["type"] == "person_time" and unit not in PERSON_TIME_UNITS:
            ck.fail(
                f"person-time field {code!r} needs a unit, one of {list(PERSON_TIME_UNITS)}; "
                f"got {unit!r}",
                [*where, "unit" if "unit" in f else "type"],
            )
        for bound in ("minimum", "maximum"):
            if bound in f and f["type"] != "number":
                ck.fail(
                    f"{bound} is for fields of type number; {code!r} is {f['type']}",
                    [*where, bound],
                )
        if "minimum" in f and "maximum" in f and f["minimum"] > f["maximum"]:
            ck.fail(f"minimum {f['minimum']} is above maximum {f['maximum']}", [*where, "minimum"])
        fields[code] = Field(
            code=code,
            label=f["label"],
            type=f["type"],
            unit=unit,
            description=f.get("description"),
            minimum=f.get("minimum"),
            maximum=f.get("maximum"),
        )
    for i, f in enumerate(raw_fields):
        d = f.get("derived")
        if d is None:
            continue
        where = ["fields", i, "derived"]
        if f["type"] != "person_time":
            ck.fail(
                f"a derived value is declared for person-time fields only; {f['code']!r} is "
                f"{f['type']}",
                where,
            )
        cnt = fields.get(d["count"])
        if cnt is None or cnt.type != "count":
            ck.fail(
                f"derived.count {d['count']!r} is not a declared count field", [*where, "count"]
            )
        dur = fields.get(d["duration"])
        if dur is None or dur.type != "number" or dur.unit not in TIME_UNITS:
            ck.fail(
                f"derived.duration {d['duration']!r} is not a declared number field with a "
                f"time unit (one of {list(TIME_UNITS)})",
                [*where, "duration"],
            )
        label = d.get("label") or f"{cnt.label} x {dur.label}"
        fields[f["code"]] = _replace_field(
            fields[f["code"]], Derivation(d["rule"], d["count"], d["duration"], label)
        )

    # ---- outcomes
    outcomes: list[Outcome] = []
    by_code = {o["code"]: o for o in raw_outcomes}
    for i, o in enumerate(raw_outcomes):
        where = ["outcomes", i]
        ev = fields.get(o["events"])
        if ev is None or ev.type != "count":
            ck.fail(f"events {o['events']!r} is not a declared count field", [*where, "events"])
        if o["kind"] == "proportion":
            if "time" in o:
                ck.fail("a proportion has a denominator, not a time", [*where, "time"])
            if "denominator" not in o:
                ck.fail(
                    f"proportion {o['code']!r} needs its denominator (a count field: the "
                    "people at risk)",
                    [*where, "kind"],
                )
            den = fields.get(o["denominator"])
            if den is None or den.type != "count":
                ck.fail(
                    f"denominator {o['denominator']!r} is not a declared count field",
                    [*where, "denominator"],
                )
            if o["counts"] != "patients":
                ck.fail(
                    f"proportion {o['code']!r} counts {o['counts']}: a proportion of people "
                    "at risk must count patients (events can exceed them); pool events as "
                    "a rate (kind: rate, time: <person-time field>)",
                    [*where, "counts"],
                )
        else:
            if "denominator" in o:
                ck.fail(
                    "a rate has a time (person-time), not a denominator", [*where, "denominator"]
                )
            if "time" not in o:
                ck.fail(
                    f"rate {o['code']!r} needs its time (a person_time field)", [*where, "kind"]
                )
            tf = fields.get(o["time"])
            if tf is None or tf.type != "person_time":
                ck.fail(f"time {o['time']!r} is not a declared person_time field", [*where, "time"])
        parent = o.get("subtype_of")
        if parent is not None:
            if parent == o["code"] or parent not in by_code:
                ck.fail(
                    f"subtype_of {parent!r} is not another declared outcome", [*where, "subtype_of"]
                )
            if by_code[parent]["kind"] != o["kind"]:
                ck.fail(
                    f"outcome {o['code']!r} ({o['kind']}) cannot be a subtype of {parent!r} "
                    f"({by_code[parent]['kind']})",
                    [*where, "subtype_of"],
                )
            seen = {o["code"]}
            p: str | None = parent
            while p is not None:
                if p in seen:
                    ck.fail(f"subtype_of makes a cycle through {p!r}", [*where, "subtype_of"])
                seen.add(p)
                p = by_code[p].get("subtype_of")
        outcomes.append(
            Outcome(
                label=o["label"],
                code=o["code"],
                primary=bool(o.get("primary", False)),
                kind=o["kind"],
                events=o["events"],
                counts=o["counts"],
                denominator=o.get("denominator"),
                time=o.get("time"),
                subtype_of=parent,
                subtypes_exclusive=bool(o.get("subtypes_exclusive", False)),
                description=o.get("description"),
            )
        )

    # ---- analyses
    analyses: dict[str, Analysis] = {}
    for i, a in enumerate(raw_analyses):
        analyses[a["code"]] = _build_analysis(a, i, by_code, fields, covariates, ck)
    for i, a in enumerate(raw_analyses):
        for j, alt in enumerate((a.get("sensitivity") or {}).get("alternatives") or ()):
            aw = ["analyses", i, "sensitivity", "alternatives", j]
            if alt not in analyses or alt == a["code"]:
                ck.fail(f"alternative {alt!r} is not another declared analysis", aw)
            if analyses[alt].outcome != a["outcome"] and (
                by_code[analyses[alt].outcome]["kind"] != by_code[a["outcome"]]["kind"]
            ):
                ck.fail(
                    f"alternative {alt!r} pools a {by_code[analyses[alt].outcome]['kind']}; "
                    f"{a['code']!r} a {by_code[a['outcome']]['kind']}: not comparable",
                    aw,
                )

    # ---- certainty: thresholds are per declared outcome (a typo would go unread)
    for code in (data.get("certainty") or {}).get("thresholds") or {}:
        if code not in by_code:
            ck.fail(
                f"certainty thresholds for {code!r}, which is not a declared outcome; the "
                f"outcomes are {list(by_code)}",
                ["certainty", "thresholds", code],
            )

    # ---- comparisons
    comparisons: dict[str, Comparison] = {}
    for i, c in enumerate(raw_comps):
        for j, code in enumerate(c["analyses"]):
            if code not in analyses:
                ck.fail(f"analysis {code!r} is not declared", ["comparisons", i, "analyses", j])
        study_cols = (*STUDY_ID_COLUMNS, *covariates)
        for j, col in enumerate(c.get("columns") or ()):
            if col not in study_cols:
                ck.fail(
                    f"column {col!r} is not a column of studies.csv (identifying columns or "
                    "declared covariates)",
                    ["comparisons", i, "columns", j],
                )
        comparisons[c["code"]] = Comparison(
            code=c["code"],
            label=c["label"],
            file=c["file"],
            quantity=c["quantity"],
            analyses=tuple(c["analyses"]),
            published_label=c["published_label"],
            patients=c.get("patients"),
            studies=tuple(c.get("studies") or ()),
            columns=tuple(c.get("columns") or ()),
            description=c.get("description"),
        )
    folder = (data.get("extraction") or {}).get("folder", "extraction")
    if folder != "extraction":
        # the layout of a review folder is fixed (review.paths): the key says it, not moves it
        ck.fail(
            f"extraction.folder {folder!r}: a review keeps its extraction tables in "
            "'extraction/' (docs/DESIGN.md); write folder: extraction",
            ["extraction", "folder"],
        )
    return {
        "fields": MappingProxyType(fields),
        "outcomes": tuple(outcomes),
        "covariates": MappingProxyType(covariates),
        "analyses": MappingProxyType(analyses),
        "comparisons": MappingProxyType(comparisons),
        "extraction_folder": folder,
    }


def _replace_field(f: Field, derived: Derivation) -> Field:
    return Field(f.code, f.label, f.type, f.unit, f.description, f.minimum, f.maximum, derived)


def _build_analysis(
    a: Mapping[str, Any],
    i: int,
    outcomes: Mapping[str, Mapping[str, Any]],
    fields: Mapping[str, Field],
    covariates: Mapping[str, Covariate],
    ck: _Checker,
) -> Analysis:
    # the statistical vocabulary is metafor's, declared once in review.meta._vocab
    from review.meta._vocab import (
        DFS,
        MEASURES,
        PI_METHODS,
        PROPORTION_MEASURES,
        RATE_MEASURES,
        STRUCTURES,
        MVMethod,
        MVTest,
        Test,
    )
    from review.meta._vocab import METHODS as METHOD_CODES

    where: list[Any] = ["analyses", i]
    o = outcomes.get(a["outcome"])
    if o is None:
        ck.fail(
            f"outcome {a['outcome']!r} is not declared; must be one of {list(outcomes)}",
            [*where, "outcome"],
        )
    kind = o["kind"]
    m = a["model"]
    mw = [*where, "model"]
    allowed = PROPORTION_MEASURES if kind == "proportion" else RATE_MEASURES
    if m["measure"] not in MEASURES:
        ck.fail(
            f"Invalid measure {m['measure']!r}; must be one of {list(MEASURES)}", [*mw, "measure"]
        )
    if m["measure"] not in allowed:
        ck.fail(
            f"Invalid measure {m['measure']!r} for a {kind} outcome; must be one of "
            f"{list(allowed)}",
            [*mw, "measure"],
        )
    if m["method"] not in METHOD_CODES:
        ck.fail(
            f"Invalid method {m['method']!r}; must be one of {list(METHOD_CODES)}", [*mw, "method"]
        )
    structure = m.get("structure", "univariate")
    if structure not in STRUCTURES:
        ck.fail(
            f"Invalid structure {structure!r}; must be one of {list(STRUCTURES)}",
            [*mw, "structure"],
        )
    multilevel = structure == "multilevel"
    tests = get_args(MVTest) if multilevel else get_args(Test)
    test = m.get("test", "z")
    if test not in tests:
        ck.fail(
            f"Invalid test {test!r}"
            + (" for structure: multilevel" if multilevel else "")
            + f"; must be one of {list(tests)}"
            + ("" if multilevel or test != "t" else " ('t' is for structure: multilevel)"),
            [*mw, "test"],
        )
    pim = m.get("pi_method", "metafor")
    if pim not in PI_METHODS:
        ck.fail(f"Invalid pi_method {pim!r}; must be one of {list(PI_METHODS)}", [*mw, "pi_method"])
    dfs = m.get("dfs", "residual")
    if "dfs" in m:
        if not multilevel:
            ck.fail(
                "dfs (t degrees of freedom) is for structure: multilevel; remove it",
                [*mw, "dfs"],
            )
        if dfs not in get_args(DFS):
            ck.fail(f"Invalid dfs {dfs!r}; must be one of {list(get_args(DFS))}", [*mw, "dfs"])
        if test != "t":
            ck.fail(f"dfs: {dfs} sets the df of t tests; it needs test: t", [*mw, "dfs"])
    if multilevel:
        _check_multilevel(a, m, pim, where, ck, get_args(MVMethod))
    glmm_measure = "PLO" if kind == "proportion" else "IRLN"
    if m["method"] == "GLMM" and m["measure"] != glmm_measure:
        ck.fail(
            f"Invalid measure {m['measure']!r} for method 'GLMM'; must be one of "
            f"[{glmm_measure!r}] (the GLMM models the logit of a proportion or the log of a rate)",
            [*mw, "measure"],
        )
    estimates = a.get("estimates", "exclude")
    if estimates == "include":
        if m["method"] == "GLMM":
            ck.fail(
                "estimates: include needs an inverse-variance method (the GLMM needs counts); "
                "use e.g. method: REML, or estimates: exclude",
                [*where, "estimates"],
            )
        if m["measure"] == "PFT":
            ck.fail(
                "estimates: include cannot use PFT (its transform and back-transform need each "
                "study's sample size); use PLO, PAS or PR",
                [*where, "estimates"],
            )
    groupable = ("categorical", "boolean", "text", "integer")
    for j, g in enumerate(a.get("subgroups") or ()):
        cov = covariates.get(g)
        if cov is None or cov.type not in groupable:
            ck.fail(
                f"subgroup {g!r} is not a declared covariate of type {list(groupable)}",
                [*where, "subgroups", j],
            )
    moderators: list[tuple[str, ...]] = []
    for j, entry in enumerate(a.get("moderators") or ()):
        codes = (entry,) if isinstance(entry, str) else tuple(entry)
        for c in codes:
            cov = covariates.get(c)
            fld = fields.get(c)
            if (cov is None or cov.type == "text") and fld is None:
                ck.fail(
                    f"moderator {c!r} is not a declared covariate (other than text) or field",
                    [*where, "moderators", j],
                )
        moderators.append(codes)
    sens = a.get("sensitivity") or {}
    sets: list[ExcludeSet] = []
    seen: set[str] = set()
    study_cols = (*STUDY_ID_COLUMNS, *covariates)
    for j, s in enumerate(sens.get("exclude_sets") or ()):
        sw = [*where, "sensitivity", "exclude_sets", j]
        if s["code"] in seen:
            ck.fail(f"exclude set code {s['code']!r} is listed twice", [*sw, "code"])
        seen.add(s["code"])
        if "overlap" in s:
            sets.append(ExcludeSet(s["code"], s["label"], None, (), tuple(s["overlap"])))
            continue
        col = s["where"]["column"]
        if col == "time_source" and kind != "rate":
            ck.fail(
                "column 'time_source' (how person-time was had) is for rate analyses",
                [*sw, "where", "column"],
            )
        if col not in study_cols and col != "time_source":
            ck.fail(
                f"column {col!r} is not a column of studies.csv (identifying columns or declared "
                "covariates) nor time_source",
                [*sw, "where", "column"],
            )
        vals = tuple(_cell_text(v) for v in s["where"]["in"])
        cov = covariates.get(col)
        if cov is not None and cov.type == "categorical":
            for k, v in enumerate(vals):
                if v not in cov.values:
                    ck.fail(
                        f"{v!r} is not a value of covariate {col!r}; must be one of "
                        f"{list(cov.values)}",
                        [*sw, "where", "in", k],
                    )
        sets.append(ExcludeSet(s["code"], s["label"], col, vals))
    strata = a.get("strata")
    if strata is not None and strata not in study_cols:
        ck.fail(
            f"strata column {strata!r} is not a column of studies.csv (identifying columns or "
            "declared covariates)",
            [*where, "strata"],
        )
    display = dict(a.get("display") or {})
    _check_display(display, kind, [*where, "display"], ck)
    return Analysis(
        code=a["code"],
        label=a["label"],
        outcome=a["outcome"],
        model=Model(
            measure=m["measure"],
            method=m["method"],
            test=test,
            pi_method=pim,
            level=float(m.get("level", 0.95)),
            structure=structure,
            dfs=dfs,
        ),
        estimates=estimates,
        strata=strata,
        subgroups=tuple(a.get("subgroups") or ()),
        moderators=tuple(moderators),
        sensitivity=Sensitivity(
            leave_one_out=bool(sens.get("leave_one_out", False)),
            methods=bool(sens.get("methods", False)),
            funnel=sens.get("funnel"),
            exclude_sets=tuple(sets),
            alternatives=tuple(sens.get("alternatives") or ()),
        ),
        display=MappingProxyType(display),
        description=a.get("description"),
    )


def _check_multilevel(
    a: Mapping[str, Any],
    m: Mapping[str, Any],
    pim: str,
    where: list[Any],
    ck: _Checker,
    methods: tuple[str, ...],
) -> None:
    """What a multilevel analysis (metafor ``rma.mv``) needs, and what it cannot be given."""
    mw = [*where, "model"]
    if m["method"] not in methods:
        ck.fail(
            f"Invalid method {m['method']!r} for structure: multilevel; must be one of "
            f"{list(methods)} (the multilevel model, metafor rma.mv, is fitted by likelihood "
            "on the inverse-variance scale)",
            [*mw, "method"],
        )
    if a.get("strata") is None:
        ck.fail(
            "structure: multilevel needs strata: <column of studies.csv> naming the study of "
            "each row (rows sharing a value are strata of one study)",
            [*mw, "structure"],
        )
    if pim != "metafor":
        ck.fail(
            f"pi_method {pim!r} is not available for structure: multilevel; its prediction "
            "interval is metafor's (sqrt(SE^2 + sigma^2 study + sigma^2 stratum)): use metafor",
            [*mw, "pi_method"],
        )
    if a.get("estimates", "exclude") == "include":
        ck.fail(
            "estimates: include is not available for structure: multilevel (it pools counts); "
            "use estimates: exclude",
            [*where, "estimates"],
        )
    if a.get("subgroups"):
        ck.fail(
            "subgroups are not available for structure: multilevel (a test for subgroup "
            "differences needs one estimate a study); declare them on a univariate analysis",
            [*where, "subgroups"],
        )
    if a.get("moderators"):
        ck.fail(
            "moderators are not available for structure: multilevel; declare the "
            "meta-regression on a univariate analysis",
            [*where, "moderators"],
        )
    sens = a.get("sensitivity") or {}
    why = {
        "methods": "method sensitivity refits one estimate a study with each model",
        "leave_one_out": "leave-one-out and influence diagnostics are not implemented for the "
        "multilevel model",
        "funnel": "a funnel plot and its regression test need one estimate a study (metafor "
        "regtest is for rma.uni)",
    }
    for key, reason in why.items():
        if sens.get(key):
            ck.fail(
                f"sensitivity.{key} is not available for structure: multilevel: {reason}; "
                "exclusion sets and alternatives are",
                [*where, "sensitivity", key],
            )


def _cell_text(v: Any) -> str:
    """A YAML scalar as it is written in a CSV cell (``true`` -> ``"true"``, 2 -> ``"2"``)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _check_display(display: Mapping[str, Any], kind: str, where: list[Any], ck: _Checker) -> None:
    # the figures' display vocabulary, declared once in review._display
    from review._display import SCALES, Sort, XScale

    sorts = [s for s in get_args(Sort)]
    if "sort" in display and display["sort"] is not None and display["sort"] not in sorts:
        ck.fail(
            f"Invalid sort {display['sort']!r}; must be one of {[None, *sorts]}", [*where, "sort"]
        )
    xscales = list(get_args(XScale))
    if "xscale" in display and display["xscale"] not in xscales:
        ck.fail(
            f"Invalid xscale {display['xscale']!r}; must be one of {xscales}", [*where, "xscale"]
        )
    if display.get("xscale") == "logit" and kind != "proportion":
        ck.fail("xscale 'logit' is for proportions; use 'log' for rates", [*where, "xscale"])
    if "scale" in display:
        valid = [k for k, v in SCALES.items() if v.kind == kind]
        if display["scale"] not in valid:
            ck.fail(
                f"Invalid scale {display['scale']!r} for a {kind}; must be one of {valid}",
                [*where, "scale"],
            )
    xlim = display.get("xlim")
    if xlim is not None and not (math.isfinite(xlim[0]) and xlim[0] < xlim[1]):
        ck.fail(f"xlim {xlim} must be two increasing numbers", [*where, "xlim"])


def protocol_from_mapping(
    data: Any,
    *,
    path: str | os.PathLike[str] | None = None,
    _source: str | None = None,
) -> Protocol:
    """Validate an already-parsed protocol (e.g. from a test) and build a :class:`Protocol`.

    Parameters
    ----------
    data : Mapping
        The protocol as a mapping, shaped as :data:`PROTOCOL_SCHEMA` (version 2) or
        :data:`PROTOCOL_SCHEMA_V1` describes.
    path : path-like, optional
        File to name in error messages.

    Returns
    -------
    Protocol

    Raises
    ------
    review.errors.ProtocolError
        If the mapping fails the schema, repeats a code, names a code that is not declared
        (or not of the right type), or uses a measure, method, test or prediction-interval
        method outside metafor's vocabulary; the message names the field (``column``) and,
        when read from a file, the line (``row``).
    """
    if not isinstance(data, Mapping):
        raise ProtocolError(
            f"the protocol must be a mapping of keys (title: ..., question: ...), not "
            f"{'nothing (an empty file?)' if data is None else 'a ' + type(data).__name__}",
            path=path,
        )
    ck = _Checker(path, _source)
    version = _check_schema(data, ck)

    screening_block = data.get("screening") or {}
    for i, name in enumerate(screening_block.get("reviewers") or ()):
        if name.strip().lower() in RESERVED_REVIEWERS:
            raise ProtocolError(
                f"reviewer name {name!r} is reserved: a screening row by {name!r} resolves a "
                "conflict between reviewers; give the reviewer another name",
                path=path,
                row=_line_of(_source, ["screening", "reviewers", i]),
                column=f"screening.reviewers[{i}]",
            )
    reasons: dict[str, str] = {}
    for i, item in enumerate(data["exclusion_reasons"]):
        code = item["code"]
        if code in reasons:
            ck.fail(
                f"exclusion reason code {code!r} is listed twice", ["exclusion_reasons", i, "code"]
            )
        reasons[code] = item["label"]
    reasons.setdefault(NOT_RETRIEVED, _NOT_RETRIEVED_LABEL)

    databases = []
    known = {"name", "query", "platform", "snapshot", "kind"}
    for item in data["databases"]:
        databases.append(
            Database(
                name=item["name"],
                query=item["query"],
                platform=item.get("platform"),
                snapshot=item.get("snapshot"),
                kind=item.get("kind", "database"),
                extra=MappingProxyType({k: v for k, v in item.items() if k not in known}),
            )
        )

    v2: dict[str, Any] = {}
    if version >= 2:
        v2 = _build_v2(data, ck)
        outcomes = v2.pop("outcomes")
        schema = PROTOCOL_SCHEMA
    else:
        outcomes = tuple(
            Outcome(label=o) if isinstance(o, str) else Outcome(**o)
            for o in data.get("outcomes") or ()
        )
        schema = PROTOCOL_SCHEMA_V1
    screening = data.get("screening") or {}
    highlight = screening.get("highlight") or {}
    top = set(schema["properties"])
    amendments = _amendments(data.get("amendments") or [], ck)
    return Protocol(
        path=None if path is None else Path(path),
        schema_version=version,
        title=data["title"],
        question=data["question"],
        population=data.get("population"),
        intervention=data.get("intervention"),
        outcomes=outcomes,
        eligibility_include=_as_tuple(data["eligibility"]["include"]),
        eligibility_exclude=_as_tuple(data["eligibility"]["exclude"]),
        exclusion_reasons=MappingProxyType(reasons),
        databases=tuple(databases),
        reviewers=_as_tuple(screening.get("reviewers")),
        stages=tuple(screening.get("stages") or STAGES),
        conflict_resolution=screening.get("conflict_resolution"),
        highlight_include=_as_tuple(highlight.get("include")),
        highlight_exclude=_as_tuple(highlight.get("exclude")),
        extra=MappingProxyType({k: v for k, v in data.items() if k not in top}),
        amendments=amendments,
        **v2,
        appraisal=_frozen(data.get("appraisal")),
        certainty=_frozen(data.get("certainty")),
    )


def _amendments(items: Sequence[Mapping[str, Any]], ck: _Checker) -> tuple[Amendment, ...]:
    """The dated amendments, checked: real calendar dates, oldest first."""
    import datetime as dt

    out: list[Amendment] = []
    last = ""
    for i, a in enumerate(items):
        try:
            dt.date.fromisoformat(a["date"])
        except ValueError:
            ck.fail(
                f"amendment date {a['date']!r} is not a calendar date", ["amendments", i, "date"]
            )
        if a["date"] < last:
            ck.fail(
                f"amendment dated {a['date']} follows one dated {last}: list amendments oldest "
                "first (the protocol's history)",
                ["amendments", i, "date"],
            )
        last = a["date"]
        out.append(Amendment(a["date"], a["section"], a["change"], a["reason"]))
    return tuple(out)


def load_protocol(path: str | os.PathLike[str]) -> Protocol:
    """Read and validate a review protocol (``protocol.yaml``).

    Parameters
    ----------
    path : path-like
        The YAML file.

    Returns
    -------
    Protocol
        Frozen; ``exclusion_reasons`` maps code -> label and always knows ``not_retrieved``.

    Raises
    ------
    review.errors.ProtocolError
        If the file is missing, is not YAML, or fails the schema or the cross-checks. The
        error names the file, the line (``row``) and the field (``column``, e.g.
        ``analyses[2].model.measure``).

    Examples
    --------
    >>> from review.paths import REPO_ROOT
    >>> p = load_protocol(REPO_ROOT / "tests" / "data" / "protocol_minimal.yaml")
    >>> p.exclusion_reasons["not_retrieved"]
    'Report not retrieved'
    """
    p = Path(path)
    source = read_text(p, error=ProtocolError).text
    data = _load_yaml(source, p)
    return protocol_from_mapping(data, path=p, _source=source)


#: Deepest nesting of blocks accepted; a protocol needs about 5 (PyYAML's composer recurses
#: and would raise RecursionError past a few hundred).
MAX_DEPTH = 40
#: Most values the file may expand to through anchors and aliases ("billion laughs").
MAX_NODES = 100_000

#: Reviewer names a protocol may not use: screening's consensus rows carry this name.
RESERVED_REVIEWERS = ("consensus",)


class _UniqueKeyLoader(yaml.SafeLoader):  # type: ignore[misc]  # untyped base
    """PyYAML's safe loader, refusing a key given twice in one mapping.

    PyYAML keeps the last of two equal keys, so a second ``exclusion_reasons:`` would replace
    the first without a word; YAML 1.2 requires keys to be unique.
    """


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # '<<: *base' may be overridden by explicit keys, as YAML intends
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            continue  # an unhashable key: the constructor below reports it
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} appears twice in one mapping (first on line {first}); the "
                "second would silently replace the first",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,
)


def _too_deep(source: str) -> int | None:
    """Line where nesting first exceeds :data:`MAX_DEPTH` (tokens only: no recursion)."""
    opening = (
        yaml.BlockMappingStartToken,
        yaml.BlockSequenceStartToken,
        yaml.FlowMappingStartToken,
        yaml.FlowSequenceStartToken,
    )
    closing = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
    depth = 0
    try:
        for tok in yaml.scan(source, Loader=yaml.SafeLoader):
            if isinstance(tok, opening):
                depth += 1
                if depth > MAX_DEPTH:
                    return int(tok.start_mark.line) + 1
            elif isinstance(tok, closing):
                depth -= 1
    except yaml.YAMLError:
        return None  # reported, with its line, when the file is loaded
    return None


def _expanded_size(node: yaml.Node) -> int:
    """Values ``node`` stands for once aliases are expanded (each alias counts in full)."""
    memo: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        if id(n) in memo:
            return memo[id(n)]
        memo[id(n)] = 1  # a cycle (not possible in safe YAML) counts once
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(c) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        memo[id(n)] = total
        return total

    return size(node)


def _yaml_line(e: yaml.YAMLError) -> tuple[int | None, str]:
    """The line to blame for a YAML error, and the message.

    A scanner error that ran on to the end of the file (an unclosed quote) and an
    unclosed flow collection are blamed on the line where the construct started, not on
    the end of the file where PyYAML noticed; the message names both lines.
    """
    problem = getattr(e, "problem", None) or str(e)
    pmark = getattr(e, "problem_mark", None)
    cmark = getattr(e, "context_mark", None)
    context = getattr(e, "context", None) or ""
    pline = None if pmark is None else int(pmark.line) + 1
    cline = None if cmark is None else int(cmark.line) + 1
    starts_there = isinstance(e, yaml.scanner.ScannerError) or context.startswith(
        ("while parsing a flow", "while parsing a quoted")
    )
    if cline is not None and starts_there and cline != pline:
        msg = f"{problem} ({context} that starts on line {cline}; noticed on line {pline})"
        return cline, msg
    return pline, problem


def _load_yaml(source: str, path: Path) -> Any:
    deep = _too_deep(source)
    if deep is not None:
        raise ProtocolError(
            f"nested more than {MAX_DEPTH} levels deep; a protocol needs a few", path=path, row=deep
        )
    try:
        loader = _UniqueKeyLoader(source)
        try:
            node = loader.get_single_node()
            if node is not None and _expanded_size(node) > MAX_NODES:
                raise ProtocolError(
                    f"expands to more than {MAX_NODES:,} values through anchors and aliases",
                    path=path,
                )
            data = None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        row, msg = _yaml_line(e)
        raise ProtocolError(f"not valid YAML: {msg}", path=path, row=row) from e
    except RecursionError as e:  # pragma: no cover - _too_deep stops this first
        raise ProtocolError("nested too deeply to read", path=path) from e
    if data is None:
        raise ProtocolError(
            "the protocol file is empty (or holds only comments); it needs schema_version, "
            "title, question, eligibility, exclusion_reasons and databases",
            path=path,
        )
    if not isinstance(data, dict):
        raise ProtocolError(
            f"the protocol must be a mapping of keys (title: ..., question: ...), not a "
            f"{type(data).__name__}",
            path=path,
            row=1,
        )
    return data
