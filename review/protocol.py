"""The review protocol: question, eligibility, exclusion reasons, databases and queries.

A review's protocol lives in ``protocol.yaml`` (:attr:`review.paths.ReviewPaths.protocol`).
It is checked against a JSON Schema on read, and every error names the file, the line and
the field, e.g. ``file data/protocol.yaml, row 31, column 'exclusion_reasons[2].code'``.

The file's shape (``schema_version: 1``)::

    schema_version: 1
    title: ...
    question: ...
    population: ...                # optional
    intervention: ...              # optional
    outcomes: [...]                # optional; strings or {code, label, primary}
    eligibility:
      include: [...]
      exclude: [...]
    exclusion_reasons:             # full-text exclusion reasons, in display order
      - {code: wrong_population, label: "Not CAR-T recipients"}
    databases:
      - {name: PubMed, platform: NCBI E-utilities, query: "...", snapshot: pubmed_2026}
    screening:                     # optional
      reviewers: [A, B]
      stages: [title_abstract, full_text]
      conflict_resolution: "..."
      highlight: {include: [...], exclude: [...]}
    appraisal:                     # optional: risk of bias (review.appraisal)
      tool: jbi_prevalence         # a shipped template, or a tool file in the review folder
      assessors: [A, B]
      rule: {overall: {...}}       # optional: replaces the tool's rule (same format)
      high_risk: [high]            # overall judgements that make a study "high risk"
      require_support: true        # every answer needs a quote and location, or a note
    certainty:                     # optional: GRADE (review.certainty)
      start: high                  # starting certainty of the body of evidence
      thresholds: {my_outcome: [0.05]}  # decision thresholds per outcome (imprecision)

The reason code ``not_retrieved`` is reserved: it is always known, whether or not the file
lists it, and at stage ``full_text`` it counts as "report not retrieved" in the PRISMA 2020
flow diagram rather than as an exclusion (Page et al. 2021).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

from review.errors import ProtocolError

__all__ = [
    "NOT_RETRIEVED",
    "PROTOCOL_SCHEMA",
    "SCHEMA_VERSION",
    "STAGES",
    "Database",
    "Outcome",
    "Protocol",
    "load_protocol",
    "protocol_from_mapping",
]

#: The protocol format this module reads.
SCHEMA_VERSION = 1

#: Reserved full-text reason code: the report could not be retrieved (not an exclusion).
NOT_RETRIEVED = "not_retrieved"
_NOT_RETRIEVED_LABEL = "Report not retrieved"

#: Screening stages, in order.
STAGES = ("title_abstract", "full_text")

_CODE_PATTERN = r"^[a-z][a-z0-9_]*$"
_STR_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}}

#: JSON Schema of ``protocol.yaml`` (draft 2020-12). Top-level keys beyond these are
#: allowed (a review may record its registration, authors, dates); nested blocks are closed
#: so that a typo inside them is caught.
PROTOCOL_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "schema_version",
        "title",
        "question",
        "eligibility",
        "exclusion_reasons",
        "databases",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "title": {"type": "string", "minLength": 1},
        "question": {"type": "string", "minLength": 1},
        "population": {"type": ["string", "null"]},
        "intervention": {"type": ["string", "null"]},
        "outcomes": {
            "type": "array",
            "items": {
                "oneOf": [
                    {"type": "string", "minLength": 1},
                    {
                        "type": "object",
                        "required": ["label"],
                        "additionalProperties": False,
                        "properties": {
                            "code": {"type": "string", "pattern": _CODE_PATTERN},
                            "label": {"type": "string", "minLength": 1},
                            "primary": {"type": "boolean"},
                        },
                    },
                ]
            },
        },
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
                "properties": {
                    "code": {"type": "string", "pattern": _CODE_PATTERN},
                    "label": {"type": "string", "minLength": 1},
                },
            },
        },
        "databases": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "query"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "platform": {"type": ["string", "null"]},
                    "query": {"type": "string", "minLength": 1},
                    "snapshot": {"type": ["string", "null"]},
                    "kind": {"enum": ["database", "register", "other"]},
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
    },
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One outcome of interest.

    Attributes
    ----------
    label : str
        What is counted, in words.
    code : str or None
        Short code (e.g. the extraction field ``spm_any``), when given.
    primary : bool
        Whether this is the primary outcome.
    """

    label: str
    code: str | None = None
    primary: bool = False


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
        Format version of the file (currently 1).
    title, question : str
        Review title and question.
    population, intervention : str or None
        PICO elements, when given.
    outcomes : tuple of Outcome
        Outcomes of interest (a plain string in the file becomes ``Outcome(label=...)``).
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
    appraisal: Mapping[str, Any] | None = None
    certainty: Mapping[str, Any] | None = None

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return (
            f"<Protocol {self.title!r}{where}: {len(self.databases)} database(s), "
            f"{len(self.exclusion_reasons)} exclusion reasons>"
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
        from review.errors import OptionError

        try:
            return self.exclusion_reasons[code]
        except KeyError:
            raise OptionError(
                f"Invalid exclusion reason {code!r}; must be one of {list(self.exclusion_reasons)}"
            ) from None

    def _repr_html_(self) -> str:
        import html

        def items(xs: tuple[str, ...] | list[str]) -> str:
            return "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in xs) + "</ul>"

        reasons = "".join(
            f"<tr><td><code>{html.escape(k)}</code></td><td>{html.escape(v)}</td></tr>"
            for k, v in self.exclusion_reasons.items()
        )
        dbs = "".join(
            f"<tr><td>{html.escape(d.name)}</td><td>{html.escape(d.platform or '')}</td>"
            f"<td><code>{html.escape(d.query)}</code></td></tr>"
            for d in self.databases
        )
        return (
            f"<div><h4>{html.escape(self.title)}</h4><p><b>Question:</b> "
            f"{html.escape(self.question)}</p><p><b>Include</b></p>"
            f"{items(self.eligibility_include)}<p><b>Exclude</b></p>"
            f"{items(self.eligibility_exclude)}<p><b>Full-text exclusion reasons</b></p>"
            f"<table>{reasons}</table><p><b>Databases</b></p><table>{dbs}</table></div>"
        )

    def summary(self) -> str:
        """Plain-text overview: question, criteria, reasons and databases."""
        lines = [self.title, "", f"Question: {self.question}"]
        if self.population:
            lines.append(f"Population: {self.population}")
        if self.intervention:
            lines.append(f"Intervention: {self.intervention}")
        if self.outcomes:
            lines.append("Outcomes: " + "; ".join(o.label for o in self.outcomes))
        lines += ["", "Include:"] + [f"  - {c}" for c in self.eligibility_include]
        lines += ["Exclude:"] + [f"  - {c}" for c in self.eligibility_exclude]
        lines += ["", "Full-text exclusion reasons:"]
        lines += [f"  {k}: {v}" for k, v in self.exclusion_reasons.items()]
        lines += ["", "Databases:"]
        for db in self.databases:
            plat = f" ({db.platform})" if db.platform else ""
            lines.append(f"  {db.name}{plat}: {db.query}")
        return "\n".join(lines)


def _dotted(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(source: str | None, path: list[Any]) -> int | None:
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
        The protocol as a mapping, shaped as :data:`PROTOCOL_SCHEMA` describes.
    path : path-like, optional
        File to name in error messages.

    Returns
    -------
    Protocol

    Raises
    ------
    review.errors.ProtocolError
        If the mapping fails the schema or repeats an exclusion reason code; the message
        names the field (``column``) and, when read from a file, the line (``row``).
    """
    validator = jsonschema.Draft202012Validator(PROTOCOL_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = jsonschema.exceptions.best_match(errors) or errors[0]
        where = list(err.absolute_path)
        if err.validator == "required" and isinstance(err.instance, dict):
            missing = [k for k in err.validator_value if k not in err.instance]
            column = _dotted([*where, missing[0]]) if missing else _dotted(where) or None
        else:
            column = _dotted(where) or None
        raise ProtocolError(
            f"protocol does not match schema version {SCHEMA_VERSION}: {err.message}",
            path=path,
            row=_line_of(_source, where),
            column=column,
        )

    reasons: dict[str, str] = {}
    for i, item in enumerate(data["exclusion_reasons"]):
        code = item["code"]
        if code in reasons:
            raise ProtocolError(
                f"exclusion reason code {code!r} is listed twice",
                path=path,
                row=_line_of(_source, ["exclusion_reasons", i, "code"]),
                column=f"exclusion_reasons[{i}].code",
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

    screening = data.get("screening") or {}
    highlight = screening.get("highlight") or {}
    top = set(PROTOCOL_SCHEMA["properties"])
    return Protocol(
        path=None if path is None else Path(path),
        schema_version=data["schema_version"],
        title=data["title"],
        question=data["question"],
        population=data.get("population"),
        intervention=data.get("intervention"),
        outcomes=tuple(
            Outcome(label=o) if isinstance(o, str) else Outcome(**o)
            for o in data.get("outcomes") or ()
        ),
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
        appraisal=_frozen(data.get("appraisal")),
        certainty=_frozen(data.get("certainty")),
    )


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
        If the file is missing, is not YAML, or fails the schema. The error names the file,
        the line (``row``) and the field (``column``, e.g. ``exclusion_reasons[2].code``).

    Examples
    --------
    >>> from review.paths import REPO_ROOT
    >>> p = load_protocol(REPO_ROOT / "tests" / "data" / "protocol_minimal.yaml")
    >>> p.exclusion_reasons["not_retrieved"]
    'Report not retrieved'
    """
    p = Path(path)
    try:
        source = p.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ProtocolError("protocol file not found", path=p) from e
    except (OSError, UnicodeDecodeError) as e:
        raise ProtocolError(f"protocol file cannot be read: {e}", path=p) from e
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ProtocolError(
            f"not valid YAML: {getattr(e, 'problem', None) or e}",
            path=p,
            row=None if mark is None else mark.line + 1,
        ) from e
    return protocol_from_mapping(data, path=p, _source=source)
