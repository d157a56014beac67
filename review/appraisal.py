"""Risk of bias: declared tools, assessments kept like screening decisions, judgements, agreement.

A review names its tool in the protocol (``appraisal:`` block, see :mod:`review.protocol`)::

    appraisal:
      tool: jbi_prevalence          # a template shipped with the toolkit, or a file of the review
      assessors: [A, B]
      rule:                         # optional: replaces the tool's rule, in the same format
        overall: {method: worst}
      high_risk: [high]             # overall judgements that make a study "high risk"
      require_support: true         # every answer needs a quote and its location, or a note

Tools
-----
A tool is a YAML (or JSON) file checked against :data:`TOOL_SCHEMA`: its items (the questions,
each with optional guidance prompts), the answer options (each mapped to a level of concern,
or to none for "not applicable"), the ordered levels of concern (``judgements``, least first),
optional domains grouping the items, and the *rule* that turns answers into domain and overall
judgements. Two templates ship with the toolkit (:data:`TEMPLATES`): the JBI checklist for
studies reporting prevalence data (Munn et al. 2015) and the risk-of-bias tool for prevalence
studies of Hoy et al. (2012). A review may declare its own tool (``tool: tools/my-tool.yaml``,
relative to the review folder), domain-based or not.

Rules (``rule.domains`` for every domain, ``domains[i].rule`` for one, ``rule.overall``):

``worst``
    The worst level among the inputs (the items' answers, through their levels; for the
    overall judgement the domains, or the items when the tool has no domains). Inputs
    without a level (not applicable) are left out; when all are, the result is none.
``count``
    ``{method: count, of: items|domains, values: [...], share: bool, bands: [...]}``: the
    number of inputs whose answer (items) or level (domains) is one of ``values``, as a
    share of the applicable inputs if ``share``; ``bands`` are tried in order, each
    ``{min: x, judgement: level}`` (count >= x) or ``{max: x, judgement: level}``
    (count <= x), the last one, without ``min`` or ``max``, catching the rest.
``judged``
    The assessor records the judgement (a level) directly, as an answer to the domain's code
    or to ``overall`` (Hoy et al.'s summary item; domain-based tools whose signalling
    questions inform, not decide, the domain judgement).

An unknown method, a level, answer or domain a rule names that the tool does not define, or
bands out of order raise :class:`~review.errors.ToolError` naming the file, the line and the
field.

Assessments
-----------
The assessment log (``appraisal/log.jsonl``, :attr:`review.paths.ReviewPaths.appraisal_log`)
is kept like the screening log, by the same :class:`review.journal.Journal` (append-only,
crash-safe, under a lock keyed on the resolved path), one answer a line::

    {
        "seq": 7,
        "study_id": "smith2020",
        "tool": "jbi_prevalence",
        "item": "q3",
        "reviewer": "A",
        "answer": "yes",
        "quote": "we analyzed 449 patients",
        "location": "Abstract, Results",
        "note": null,
        "timestamp": "...",
    }

A changed answer is a new row (the last word of a reviewer on a study's item stands); the
``consensus`` reviewer resolves a disagreement. The answer that stands per study and item
(:meth:`AppraisalLog.final`) is the consensus row if there is one, otherwise the assessors'
common answer, a single assessor's answer, or a conflict. Judgements
(:meth:`AppraisalLog.judgements`) apply the rule to those answers; a study with an unresolved
conflict or an unanswered item has no judgement for the domain concerned (shown as missing,
never guessed).

Studies excluded after they were appraised
------------------------------------------
A study can leave the extraction after its answers were written (the protocol was amended, a
full text excluded it). Its rows stay in the log: nothing is lost, nothing is rewritten. A log
read with the extraction's studies *sets them aside*: a warning names each such study, its
lines and why (not in the extraction), :meth:`AppraisalLog.set_aside` lists them, and they are
left out of the standing answers, conflicts, judgements, agreement and progress. They are
still checked for format, tool, assessor and support (:meth:`AppraisalLog.validate`). Should
the study come back into the extraction, its answers count again. A *new* answer on a study
not in the extraction is refused, naming the file, the line it would have taken and the field.

References
----------
Munn Z, Moola S, Lisy K, Riitano D, Tufanaru C. Methodological guidance for systematic reviews
of observational epidemiological studies reporting prevalence and cumulative incidence data.
Int J Evid Based Healthc 2015;13(3):147-153.

Hoy D, Brooks P, Woolf A, et al. Assessing risk of bias in prevalence studies: modification of
an existing tool and evidence of interrater agreement. J Clin Epidemiol 2012;65(9):934-939.

Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement. BMJ 2021;372:n71 (items
11 and 18: risk-of-bias methods and results).
"""

from __future__ import annotations

import csv
import difflib
import html
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import yaml

from review._agreement import coefficients
from review._jsonschema import jsonschema
from review.errors import AppraisalError, AppraisalLogError, OptionError, ToolError
from review.journal import Journal, RepairReport

if TYPE_CHECKING:
    import pandas as pd

    from review.protocol import Protocol

__all__ = [
    "CONSENSUS",
    "LOG_COLUMNS",
    "OVERALL",
    "TEMPLATES",
    "TOOL_SCHEMA",
    "AnswerOption",
    "AppraisalAgreement",
    "AppraisalLog",
    "AppraisalPlan",
    "Domain",
    "Item",
    "Level",
    "RiskOfBias",
    "Rule",
    "SetAsideWarning",
    "Tool",
    "agreement",
    "appraisal_plan",
    "import_assessments",
    "load_tool",
    "tool_from_mapping",
]

#: The reviewer name of a row that resolves a disagreement.
CONSENSUS = "consensus"
#: The unit code of the overall judgement (answered only under a ``judged`` overall rule).
OVERALL = "overall"
#: Keys of an assessment-log row, in file order.
LOG_COLUMNS = (
    "seq",
    "study_id",
    "tool",
    "item",
    "reviewer",
    "answer",
    "quote",
    "location",
    "note",
    "timestamp",
)
#: Tool templates shipped with the toolkit: code -> file.
TEMPLATES: Mapping[str, Path] = MappingProxyType(
    {
        "jbi_prevalence": Path(__file__).parent / "tools" / "jbi_prevalence.yaml",
        "hoy2012": Path(__file__).parent / "tools" / "hoy2012.yaml",
    }
)

_CODE = r"^[a-z][a-z0-9_]*$"
_METHODS = ("worst", "count", "judged")

_BAND = {
    "type": "object",
    "required": ["judgement"],
    "additionalProperties": False,
    "properties": {
        "judgement": {"type": "string", "pattern": _CODE},
        "min": {"type": "number"},
        "max": {"type": "number"},
    },
}
_RULE = {
    "oneOf": [
        {"enum": ["worst", "judged"]},
        {
            "type": "object",
            "required": ["method"],
            "additionalProperties": False,
            "properties": {
                "method": {"enum": list(_METHODS)},
                "of": {"enum": ["items", "domains"]},
                "values": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"type": "string"},
                },
                "share": {"type": "boolean"},
                "bands": {"type": "array", "minItems": 1, "items": _BAND},
            },
        },
    ]
}
_RULES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"domains": _RULE, "overall": _RULE},
}

#: JSON Schema of a tool file (draft 2020-12); see the module notes for the rules' meaning.
TOOL_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["schema_version", "code", "name", "judgements", "answers", "items", "rule"],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": 1},
        "code": {"type": "string", "pattern": _CODE},
        "name": {"type": "string", "minLength": 1},
        "short_name": {"type": "string", "minLength": 1},
        "citation": {"type": "string"},
        "note": {"type": "string"},
        "judgements": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "required": ["code", "label"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "pattern": _CODE},
                    "label": {"type": "string", "minLength": 1},
                    "symbol": {"type": "string", "minLength": 1, "maxLength": 2},
                },
            },
        },
        "answers": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "required": ["code", "label", "judgement"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "pattern": _CODE},
                    "label": {"type": "string", "minLength": 1},
                    "judgement": {"type": ["string", "null"]},
                    "symbol": {"type": "string", "minLength": 1, "maxLength": 2},
                    "key": {"type": "string", "pattern": "^[a-z]$"},
                },
            },
        },
        "domains": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "label", "items"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "pattern": _CODE},
                    "label": {"type": "string", "minLength": 1},
                    "items": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"type": "string"},
                    },
                    "rule": _RULE,
                },
            },
        },
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["code", "text"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "pattern": _CODE},
                    "text": {"type": "string", "minLength": 1},
                    "guidance": {
                        "type": "array",
                        "items": {"type": "string", "minLength": 1},
                    },
                },
            },
        },
        "rule": {**_RULES, "required": ["overall"]},
    },
}


# ---------------------------------------------------------------------- the tool
@dataclass(frozen=True, slots=True)
class Level:
    """One level of concern of a tool's scale (``judgements``), least concern first.

    Attributes
    ----------
    code, label : str
        Identifier and words.
    symbol : str
        The mark drawn in the traffic-light plot beside the colour (a second cue).
    rank : int
        0 for the least concern.
    """

    code: str
    label: str
    symbol: str
    rank: int


@dataclass(frozen=True, slots=True)
class AnswerOption:
    """One answer an item can take.

    Attributes
    ----------
    code, label : str
        Identifier and words.
    judgement : str or None
        The level of concern it stands for; None for "not applicable" (left out by rules).
    symbol : str
        Mark drawn in item columns of the traffic-light plot.
    key : str or None
        Keyboard shortcut in the assessor widget.
    """

    code: str
    label: str
    judgement: str | None
    symbol: str
    key: str | None


@dataclass(frozen=True, slots=True)
class Item:
    """One question of the tool.

    Attributes
    ----------
    code, text : str
        Identifier and the question as the tool words it.
    guidance : tuple of str
        Prompts for the assessor (signalling questions).
    domain : str or None
        The domain it belongs to.
    """

    code: str
    text: str
    guidance: tuple[str, ...]
    domain: str | None


@dataclass(frozen=True, slots=True)
class Rule:
    """How inputs become a judgement (see the module notes).

    Attributes
    ----------
    method : {"worst", "count", "judged"}
    of : {"items", "domains"}
        The inputs.
    values : tuple of str
        Answer codes (of items) or level codes (of domains) counted by ``count``.
    share : bool
        Count as a share of the applicable inputs.
    bands : tuple of (str, float or None, float or None)
        ``(judgement, min, max)`` tried in order.
    """

    method: str
    of: str = "items"
    values: tuple[str, ...] = ()
    share: bool = False
    bands: tuple[tuple[str, float | None, float | None], ...] = ()

    def describe(self) -> str:
        """The rule in words."""
        if self.method == "worst":
            return f"the worst of its {self.of}"
        if self.method == "judged":
            return "judged by the assessors"
        what = "share" if self.share else "number"
        parts = []
        for judgement, lo, hi in self.bands:
            if lo is not None:
                parts.append(f"{judgement} if at least {lo:g}")
            elif hi is not None:
                parts.append(f"{judgement} if at most {hi:g}")
            else:
                parts.append(f"{judgement} otherwise")
        return f"by the {what} of {self.of} answered {'/'.join(self.values)}: " + ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Domain:
    """A group of items with its own judgement.

    Attributes
    ----------
    code, label : str
    items : tuple of str
        Item codes, in order.
    rule : Rule
        How the items' answers become the domain's judgement.
    """

    code: str
    label: str
    items: tuple[str, ...]
    rule: Rule


@dataclass(frozen=True, slots=True)
class Tool:
    """A risk-of-bias (critical appraisal) tool, validated.

    Attributes
    ----------
    code, name, short_name, citation : str
    path : Path or None
        The file it was read from.
    judgements : tuple of Level
        The scale, least concern first.
    answers : tuple of AnswerOption
    items : tuple of Item
    domains : tuple of Domain
        Empty for a checklist without domains (its items are then shown as columns).
    overall : Rule
        How the overall judgement is reached.
    """

    code: str
    name: str
    short_name: str
    citation: str
    path: Path | None
    judgements: tuple[Level, ...]
    answers: tuple[AnswerOption, ...]
    items: tuple[Item, ...]
    domains: tuple[Domain, ...]
    overall: Rule

    def __repr__(self) -> str:
        return (
            f"<Tool {self.code!r}: {len(self.items)} items, {len(self.domains)} domains, "
            f"overall {self.overall.method}>"
        )

    def level(self, code: str) -> Level:
        """The level called ``code``."""
        for lv in self.judgements:
            if lv.code == code:
                return lv
        raise OptionError(
            f"Invalid judgement {code!r}; must be one of {[x.code for x in self.judgements]}"
        )

    def answer(self, code: str) -> AnswerOption:
        """The answer option called ``code``."""
        for a in self.answers:
            if a.code == code:
                return a
        raise OptionError(f"Invalid answer {code!r}; must be one of {self.answer_codes}")

    @property
    def answer_codes(self) -> list[str]:
        """Codes of the answer options, in order."""
        return [a.code for a in self.answers]

    @property
    def item_codes(self) -> list[str]:
        """Codes of the items, in order."""
        return [i.code for i in self.items]

    def units(self) -> list[str]:
        """What an assessor answers, in order.

        The items, then the domains judged by the assessors, then ``overall`` if judged.
        """
        out = self.item_codes + [d.code for d in self.domains if d.rule.method == "judged"]
        if self.overall.method == "judged":
            out.append(OVERALL)
        return out

    def options(self, unit: str) -> list[str]:
        """Allowed answers for ``unit``: answer codes for an item, level codes otherwise."""
        if unit in self.item_codes:
            return self.answer_codes
        if unit in self.units():
            return [lv.code for lv in self.judgements]
        raise OptionError(f"Invalid item {unit!r}; must be one of {self.units()}")

    def text(self, unit: str) -> str:
        """The question (item) or what is judged (domain, overall)."""
        for it in self.items:
            if it.code == unit:
                return it.text
        for d in self.domains:
            if d.code == unit:
                return f"Judgement for the domain: {d.label}"
        if unit == OVERALL:
            return "Overall risk of bias of the study"
        raise OptionError(f"Invalid item {unit!r}; must be one of {self.units()}")

    def guidance(self, unit: str) -> tuple[str, ...]:
        """The prompts of an item (none for a judgement)."""
        for it in self.items:
            if it.code == unit:
                return it.guidance
        return ()

    def judge(self, answers: Mapping[str, str]) -> dict[str, str | None]:
        """Domain and overall judgements from one study's standing answers.

        Parameters
        ----------
        answers : Mapping[str, str]
            Unit code -> answer (item answers; levels for judged domains and overall). A
            missing unit makes every judgement that needs it None (incomplete).

        Returns
        -------
        dict
            Domain code -> level code or None, and ``"overall"`` -> level code or None.

        Examples
        --------
        >>> t = load_tool("jbi_prevalence")
        >>> full = dict.fromkeys(t.item_codes, "yes")
        >>> (
        ...     t.judge(full)["overall"],
        ...     t.judge({**full, "q1": "no", "q2": "no", "q3": "no"})["overall"],
        ... )
        ('low', 'moderate')
        """
        out: dict[str, str | None] = {}
        for d in self.domains:
            out[d.code] = self._apply(d.rule, d.code, list(d.items), answers, out)
        if self.overall.of == "domains":
            inputs = [d.code for d in self.domains]
        else:
            inputs = self.item_codes
        out[OVERALL] = self._apply(self.overall, OVERALL, inputs, answers, out)
        return out

    def _apply(
        self,
        rule: Rule,
        unit: str,
        inputs: list[str],
        answers: Mapping[str, str],
        domains: Mapping[str, str | None],
    ) -> str | None:
        if rule.method == "judged":
            return answers.get(unit)
        of_domains = rule.of == "domains"
        if of_domains:
            got = [domains.get(c) for c in inputs]
            if any(g is None for g in got):
                return None
            levels: list[str | None] = list(got)
            codes = [str(g) for g in got]
        else:
            if any(c not in answers for c in inputs):
                return None
            codes = [answers[c] for c in inputs]
            levels = [self.answer(c).judgement for c in codes]
        if rule.method == "worst":
            ranked = [self.level(lv).rank for lv in levels if lv is not None]
            return self.judgements[max(ranked)].code if ranked else None
        applicable = [c for c, lv in zip(codes, levels) if lv is not None]
        n = sum(1 for c in applicable if c in rule.values)
        if rule.share:
            if not applicable:
                return None
            x = n / len(applicable)
        else:
            x = float(n)
        for judgement, lo, hi in rule.bands:
            if (lo is None or x >= lo) and (hi is None or x <= hi):
                return judgement
        return None  # unreachable: the last band catches the rest (checked on load)

    def summary(self) -> str:
        """The tool in plain text: items, answers, domains and rules."""
        lines = [f"{self.name} ({self.code})", f"  {self.citation}", ""]
        lines.append("Answers: " + ", ".join(f"{a.label} [{a.code}]" for a in self.answers))
        lines.append("Levels: " + ", ".join(f"{lv.label} [{lv.code}]" for lv in self.judgements))
        for it in self.items:
            dom = f" ({it.domain})" if it.domain else ""
            lines.append(f"  {it.code}{dom}: {it.text}")
        for d in self.domains:
            lines.append(f"Domain {d.code} ({d.label}): {d.rule.describe()}")
        lines.append(f"Overall: {self.overall.describe()}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(it.code)}</code></td><td>{html.escape(it.domain or '')}"
            f"</td><td>{html.escape(it.text)}</td></tr>"
            for it in self.items
        )
        rules = "".join(
            f"<li>{html.escape(d.label)}: {html.escape(d.rule.describe())}</li>"
            for d in self.domains
        )
        return (
            f"<div><p><b>{html.escape(self.name)}</b> ({html.escape(self.citation)})</p>"
            f"<table><tr><th>item</th><th>domain</th><th>question</th></tr>{rows}</table>"
            f"<ul>{rules}<li>Overall: {html.escape(self.overall.describe())}</li></ul></div>"
        )


def _read_yaml(path: Path, error: type[ToolError] | type[Any]) -> tuple[Any, str]:
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise error("file not found", path=path) from e
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"cannot be read: {e}", path=path) from e
    if not source.strip():
        raise error("the file is empty", path=path)
    try:
        node = yaml.compose(source, Loader=yaml.SafeLoader)
        _no_duplicate_keys(node, path, error)
        data = yaml.safe_load(source)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise error(
            f"not valid YAML: {getattr(e, 'problem', None) or e}",
            path=path,
            row=None if mark is None else mark.line + 1,
        ) from e
    except RecursionError:
        raise error("nested too deeply to be a tool or judgements file", path=path) from None
    if data is None:
        raise error("the file is empty (no YAML content)", path=path)
    if not isinstance(data, dict):
        raise error(
            f"the file holds a {type(data).__name__}, not a mapping of keys (schema_version, ...)",
            path=path,
            row=1,
        )
    return data, source


def _no_duplicate_keys(node: Any, path: Path, error: type[Any], where: str = "") -> None:
    """A key given twice would silently replace the first: refuse it, naming the line."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            k = str(key.value)
            if k in seen:
                raise error(
                    f"key {k!r} is given twice (first on line {seen[k]}); the second would "
                    "silently replace the first",
                    path=path,
                    row=key.start_mark.line + 1,
                    column=f"{where}.{k}" if where else k,
                )
            seen[k] = key.start_mark.line + 1
            _no_duplicate_keys(value, path, error, f"{where}.{k}" if where else k)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _no_duplicate_keys(value, path, error, f"{where}[{i}]")


def _schema_error(
    data: Any, schema: Mapping[str, Any], path: Path | None, source: str | None, what: str
) -> None:
    from review.protocol import _dotted, _line_of

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    err = jsonschema.exceptions.best_match(errors) or errors[0]
    where = list(err.absolute_path)
    if err.validator == "required" and isinstance(err.instance, dict):
        missing = [k for k in err.validator_value if k not in err.instance]
        column = _dotted([*where, missing[0]]) if missing else _dotted(where) or None
    elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        if extra:
            where = [*where, extra[0]]
        column = _dotted(where) or None
    else:
        column = _dotted(where) or None
    message = err.message
    if err.validator in ("oneOf", "enum") and where and where[-1] in ("method", "overall"):
        message += f" (a rule is one of {list(_METHODS)})"
    if isinstance(err.instance, bool) and err.validator in ("type", "pattern", "enum", "oneOf"):
        message += " (YAML reads an unquoted yes/no/on/off as true/false: put it in quotes)"
    raise ToolError(
        f"{what} does not match the tool schema: {message}",
        path=path,
        row=_line_of(source, where),
        column=column,
    )


class _Checker:
    """Semantic checks of a tool mapping (after the schema), errors with file, line, field."""

    def __init__(self, path: Path | None, source: str | None) -> None:
        self.path, self.source = path, source

    def fail(self, message: str, where: list[Any]) -> None:
        from review.protocol import _dotted, _line_of

        raise ToolError(
            message, path=self.path, row=_line_of(self.source, where), column=_dotted(where)
        )


@dataclass(frozen=True, slots=True)
class _RuleContext:
    levels: tuple[str, ...]
    answers: tuple[str, ...]
    has_domains: bool


def _rule(
    spec: Any,
    *,
    where: list[Any],
    chk: _Checker,
    ctx: _RuleContext,
    overall: bool,
) -> Rule:
    levels, answers, has_domains = ctx.levels, ctx.answers, ctx.has_domains
    if isinstance(spec, str):
        spec = {"method": spec}
    method = spec["method"]
    default_of = "domains" if (overall and has_domains) else "items"
    of = spec.get("of", default_of)
    if of == "domains" and not overall:
        chk.fail("a domain's rule can only count its items (of: items)", [*where, "of"])
    if of == "domains" and not has_domains:
        chk.fail("the tool has no domains, so a rule cannot be 'of: domains'", [*where, "of"])
    extra = [k for k in ("values", "share", "bands") if k in spec]
    if method != "count":
        if extra:
            chk.fail(f"{extra[0]!r} belongs to a 'count' rule, not {method!r}", [*where, extra[0]])
        return Rule(method=method, of=of)
    for k in ("values", "bands"):
        if k not in spec:
            chk.fail(f"a 'count' rule needs {k!r}", where)
    allowed = answers if of == "items" else levels
    for i, v in enumerate(spec["values"]):
        if v not in allowed:
            kind = "answer" if of == "items" else "judgement"
            chk.fail(
                f"{v!r} is not a {kind} of the tool; must be one of {list(allowed)}",
                [*where, "values", i],
            )
    share = bool(spec.get("share", False))
    bands = []
    n = len(spec["bands"])
    for i, b in enumerate(spec["bands"]):
        if b["judgement"] not in levels:
            chk.fail(
                f"judgement {b['judgement']!r} is not a level of the tool; must be one of "
                f"{list(levels)}",
                [*where, "bands", i, "judgement"],
            )
        lo, hi = b.get("min"), b.get("max")
        if i < n - 1 and (lo is None) == (hi is None):
            chk.fail(
                "every band but the last needs exactly one of 'min' or 'max'",
                [*where, "bands", i],
            )
        if i == n - 1 and (lo is not None or hi is not None):
            chk.fail(
                "the last band takes no 'min' or 'max': it catches what the others do not "
                "(the rule would otherwise be undefined for some counts)",
                [*where, "bands", i],
            )
        if share and any(x is not None and not 0 <= x <= 1 for x in (lo, hi)):
            chk.fail("with share: true, min and max are shares in [0, 1]", [*where, "bands", i])
        bands.append((b["judgement"], lo, hi))
    return Rule(
        method="count", of=of, values=tuple(spec["values"]), share=share, bands=tuple(bands)
    )


def tool_from_mapping(
    data: Any,
    *,
    path: str | os.PathLike[str] | None = None,
    rule: Mapping[str, Any] | None = None,
    _source: str | None = None,
    _rule_where: tuple[Path | None, str | None, list[Any]] | None = None,
) -> Tool:
    """Validate a parsed tool (as :data:`TOOL_SCHEMA` describes) and build a :class:`Tool`.

    Parameters
    ----------
    data : Mapping
        The tool.
    path : path-like, optional
        File to name in errors.
    rule : Mapping, optional
        A ``rule`` block that replaces the tool's (e.g. from the protocol).

    Returns
    -------
    Tool

    Raises
    ------
    review.errors.ToolError
        Naming the file, the line (``row``) and the field (``column``).
    """
    p = None if path is None else Path(path)
    _schema_error(data, TOOL_SCHEMA, p, _source, "tool")
    chk = _Checker(p, _source)
    seen: dict[str, list[Any]] = {}

    def unique(code: str, where: list[Any]) -> None:
        if code in seen or code == OVERALL:
            chk.fail(
                f"code {code!r} is used twice (items, domains and levels need their own; "
                f"{OVERALL!r} is reserved)",
                where,
            )
        seen[code] = where

    levels: list[Level] = []
    default_symbols = ["+", "−", "×", "!"]
    n_lv = len(data["judgements"])
    for i, lv in enumerate(data["judgements"]):
        if lv["code"] in [x.code for x in levels]:
            chk.fail(f"judgement {lv['code']!r} is listed twice", ["judgements", i, "code"])
        sym = lv.get("symbol") or default_symbols[min(round(i * 3 / max(n_lv - 1, 1)), 3)]
        levels.append(Level(lv["code"], lv["label"], sym, i))
    level_codes = [lv.code for lv in levels]
    answers: list[AnswerOption] = []
    keys: set[str] = set()
    for i, a in enumerate(data["answers"]):
        if a["code"] in [x.code for x in answers]:
            chk.fail(f"answer {a['code']!r} is listed twice", ["answers", i, "code"])
        if a["judgement"] is not None and a["judgement"] not in level_codes:
            chk.fail(
                f"judgement {a['judgement']!r} is not a level of the tool; must be one of "
                f"{level_codes} or null",
                ["answers", i, "judgement"],
            )
        key = a.get("key")
        if key is not None:
            if key in keys or key in ("j", "k", "s"):
                chk.fail(
                    f"key {key!r} is taken (each answer needs its own; j, k and s move "
                    "between items and studies)",
                    ["answers", i, "key"],
                )
            keys.add(key)
        sym = a.get("symbol") or (
            "/" if a["judgement"] is None else levels[level_codes.index(a["judgement"])].symbol
        )
        answers.append(AnswerOption(a["code"], a["label"], a["judgement"], sym, key))
    answer_codes = [a.code for a in answers]
    if not any(a.judgement is not None for a in answers):
        chk.fail("no answer has a judgement: the rules would have nothing to judge", ["answers"])
    for i, it in enumerate(data["items"]):
        unique(it["code"], ["items", i, "code"])
    domain_of: dict[str, str] = {}
    spec_rules = dict(data["rule"])
    rule_where: list[Any] = ["rule"]
    rule_chk = chk
    if rule is not None:
        spec_rules = dict(rule)
        rpath, rsource, rwhere = _rule_where or (p, _source, ["rule"])
        _schema_error(spec_rules, _RULES, rpath, rsource, "rule")
        rule_chk, rule_where = _Checker(rpath, rsource), rwhere
        if "overall" not in spec_rules:
            spec_rules["overall"] = data["rule"]["overall"]
    has_domains = bool(data.get("domains"))
    ctx = _RuleContext(tuple(level_codes), tuple(answer_codes), has_domains)
    default_domain_rule = spec_rules.get("domains", "worst")
    domains: list[Domain] = []
    for i, d in enumerate(data.get("domains") or ()):
        unique(d["code"], ["domains", i, "code"])
        for j, code in enumerate(d["items"]):
            if code not in [it["code"] for it in data["items"]]:
                chk.fail(f"item {code!r} is not an item of the tool", ["domains", i, "items", j])
            if code in domain_of:
                chk.fail(
                    f"item {code!r} is already in domain {domain_of[code]!r}",
                    ["domains", i, "items", j],
                )
            domain_of[code] = d["code"]
        if "rule" in d and rule is None:
            r = _rule(d["rule"], where=["domains", i, "rule"], chk=chk, overall=False, ctx=ctx)
        elif "domains" in spec_rules:
            r = _rule(
                default_domain_rule,
                where=[*rule_where, "domains"],
                chk=rule_chk,
                overall=False,
                ctx=ctx,
            )
        elif "rule" in d:
            r = _rule(d["rule"], where=["domains", i, "rule"], chk=chk, overall=False, ctx=ctx)
        else:
            r = Rule("worst")
        domains.append(Domain(d["code"], d["label"], tuple(d["items"]), r))
    if has_domains:
        for i, it in enumerate(data["items"]):
            if it["code"] not in domain_of:
                chk.fail(
                    f"item {it['code']!r} is in no domain (with domains, every item needs one)",
                    ["items", i, "code"],
                )
    for lv in level_codes:
        if lv in seen:
            chk.fail(f"level {lv!r} has the code of an item or domain", seen[lv])
    if "domains" in spec_rules and not has_domains:
        rule_chk.fail(
            "the tool has no domains: 'rule.domains' has nothing to apply to",
            [
                *rule_where,
                "domains",
            ],
        )
    overall = _rule(
        spec_rules["overall"],
        where=[*rule_where, "overall"],
        chk=rule_chk,
        overall=True,
        ctx=ctx,
    )
    items = tuple(
        Item(it["code"], it["text"], tuple(it.get("guidance") or ()), domain_of.get(it["code"]))
        for it in data["items"]
    )
    return Tool(
        code=data["code"],
        name=data["name"],
        short_name=data.get("short_name") or data["name"],
        citation=data.get("citation") or "",
        path=p,
        judgements=tuple(levels),
        answers=tuple(answers),
        items=items,
        domains=tuple(domains),
        overall=overall,
    )


def load_tool(
    tool: str | os.PathLike[str],
    *,
    base: str | os.PathLike[str] | None = None,
    rule: Mapping[str, Any] | None = None,
) -> Tool:
    """Read a tool: a template's code (:data:`TEMPLATES`) or a YAML/JSON file.

    Parameters
    ----------
    tool : str or path-like
        ``"jbi_prevalence"``, ``"hoy2012"``, or a path (relative to ``base``).
    base : path-like, optional
        Folder a relative path is read from (the review folder).
    rule : Mapping, optional
        Replaces the tool's ``rule`` block (same format).

    Returns
    -------
    Tool

    Raises
    ------
    review.errors.ToolError
        Unknown template, missing file, or a tool that fails validation (file, line, field).

    Examples
    --------
    >>> load_tool("jbi_prevalence").item_codes[:3]
    ['q1', 'q2', 'q3']
    >>> load_tool("hoy2012").overall.method
    'judged'
    """
    key = str(tool)
    if key in TEMPLATES:
        path = TEMPLATES[key]
    else:
        path = Path(key)
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        if not path.suffix:
            close = difflib.get_close_matches(key, list(TEMPLATES), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            if not path.exists():
                raise ToolError(
                    f"unknown tool {key!r}: neither a template {sorted(TEMPLATES)} nor a "
                    f"file{hint}",
                    path=path,
                )
    data, source = _read_yaml(path, ToolError)
    return tool_from_mapping(data, path=path, rule=rule, _source=source)


# ---------------------------------------------------------------------- the protocol's plan
@dataclass(frozen=True, slots=True)
class AppraisalPlan:
    """What the protocol declares for risk of bias, resolved.

    Attributes
    ----------
    tool : Tool
        The tool, with the protocol's rule if it gives one.
    assessors : tuple of str
        Who assesses (``consensus`` resolves disagreements): the block's ``assessors``, else
        the protocol's screening reviewers.
    high_risk : tuple of str
        Overall judgements counted as "high risk" (sensitivity analyses, GRADE).
    require_support : bool
        Whether every answer needs a quote and its location, or a note.
    """

    tool: Tool
    assessors: tuple[str, ...]
    high_risk: tuple[str, ...]
    require_support: bool

    def __repr__(self) -> str:
        return (
            f"<AppraisalPlan tool {self.tool.code!r}, assessors {list(self.assessors)}, "
            f"high risk = {list(self.high_risk)}>"
        )

    def methods_sentence(self) -> str:
        """The risk-of-bias methods in words (PRISMA 2020 item 11)."""
        who = (
            f"by {len(self.assessors)} assessors ({', '.join(self.assessors)}), each answering "
            "every item, disagreements resolved by a consensus answer"
            if len(self.assessors) > 1
            else "by one assessor"
        )
        support = (
            "; every answer is kept with its supporting quote and location, or the reason there "
            "is none"
            if self.require_support
            else ""
        )
        cite = f" ({self.tool.citation})" if self.tool.citation else ""
        return (
            f"Risk of bias was assessed with the {self.tool.name}{cite}, {who}{support}. "
            f"Overall judgement: {self.tool.overall.describe()}; studies judged "
            f"{' or '.join(self.high_risk)} count as at high risk of bias."
        )


def appraisal_plan(
    protocol: Protocol, review_dir: str | os.PathLike[str] | None = None
) -> AppraisalPlan:
    """Resolve the protocol's ``appraisal`` block: read the tool, apply the rule.

    Parameters
    ----------
    protocol : Protocol
        With an ``appraisal`` block.
    review_dir : path-like, optional
        The review folder (a tool file's path is relative to it); default: the protocol's
        folder.

    Returns
    -------
    AppraisalPlan

    Raises
    ------
    review.errors.ProtocolError
        No ``appraisal`` block, or a ``high_risk`` judgement the tool does not have (naming the
        protocol's line).
    review.errors.ToolError
        The tool cannot be read, or the protocol's rule is invalid for it (naming the protocol
        file, line and field).

    Examples
    --------
    >>> from review.protocol import protocol_from_mapping
    >>> p = protocol_from_mapping(
    ...     {
    ...         "schema_version": 1,
    ...         "title": "t",
    ...         "question": "q",
    ...         "eligibility": {"include": ["a"], "exclude": ["b"]},
    ...         "exclusion_reasons": [{"code": "x", "label": "x"}],
    ...         "databases": [{"name": "PubMed", "query": "q"}],
    ...         "appraisal": {"tool": "hoy2012", "assessors": ["A", "B"]},
    ...     }
    ... )
    >>> appraisal_plan(p, ".").high_risk
    ('high',)
    """
    from review.errors import ProtocolError
    from review.protocol import _line_of

    block = protocol.appraisal
    src: str | None = None
    if protocol.path is not None:
        try:
            src = protocol.path.read_text(encoding="utf-8")
        except OSError:
            src = None
    if not block:
        raise ProtocolError(
            "the protocol has no 'appraisal' block (tool, assessors): risk of bias is not declared",
            path=protocol.path,
            column="appraisal",
        )
    base = (
        Path(review_dir)
        if review_dir is not None
        else (protocol.path.parent if protocol.path is not None else Path.cwd())
    )
    rule = block.get("rule")
    try:
        if rule is None:
            tool = load_tool(block["tool"], base=base)
        else:
            tool = _load_with_rule(block["tool"], base, _thaw(rule), protocol, src)
    except ToolError as e:
        if e.path is not None and protocol.path is not None and Path(e.path) == protocol.path:
            raise
        if "unknown tool" in e.message or "file not found" in e.message:
            raise ToolError(
                e.message,
                path=protocol.path,
                row=_line_of(src, ["appraisal", "tool"]),
                column="appraisal.tool",
            ) from e
        raise
    levels = [lv.code for lv in tool.judgements]
    high = tuple(block.get("high_risk") or (levels[-1],))
    for i, h in enumerate(high):
        if h not in levels:
            raise ProtocolError(
                f"high_risk {h!r} is not a judgement of tool {tool.code!r}; must be among {levels}",
                path=protocol.path,
                row=_line_of(src, ["appraisal", "high_risk", i]),
                column=f"appraisal.high_risk[{i}]",
            )
    return AppraisalPlan(
        tool=tool,
        # without its own list, the protocol's screening reviewers assess
        assessors=tuple(block.get("assessors") or protocol.reviewers),
        high_risk=high,
        require_support=bool(block.get("require_support", True)),
    )


def _load_with_rule(
    name: str, base: Path, rule: Mapping[str, Any], protocol: Protocol, src: str | None
) -> Tool:
    key = str(name)
    if key in TEMPLATES:
        path = TEMPLATES[key]
    else:
        path = Path(key) if Path(key).is_absolute() else base / key
        if not path.suffix and not path.exists():
            raise ToolError(
                f"unknown tool {key!r}: neither a template {sorted(TEMPLATES)} nor a file",
                path=path,
            )
    data, source = _read_yaml(path, ToolError)
    return tool_from_mapping(
        data,
        path=path,
        rule=rule,
        _source=source,
        _rule_where=(protocol.path, src, ["appraisal", "rule"]),
    )


def _thaw(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {k: _thaw(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        return [_thaw(v) for v in x]
    return x


# ---------------------------------------------------------------------- the log
class SetAsideWarning(UserWarning):
    """Rows of the assessment log on studies no longer in the extraction were set aside."""


def _line_ranges(lines: Sequence[int]) -> str:
    """``[10, 11, 12, 20]`` -> ``"10-12, 20"``."""
    out: list[str] = []
    start = prev = lines[0]
    for x in [*lines[1:], None]:
        if x is not None and x == prev + 1:
            prev = x
            continue
        out.append(f"{start}-{prev}" if prev > start else f"{start}")
        if x is not None:
            start = prev = x
    return ", ".join(out)


def _study_ids(studies: pd.DataFrame | Iterable[str]) -> tuple[list[str], dict[str, str]]:
    import pandas as pd

    if isinstance(studies, pd.DataFrame):
        if "study_id" not in studies.columns:
            raise OptionError("studies have no column 'study_id'")
        ids = [str(x) for x in studies["study_id"].tolist()]
        labels = (
            {str(k): str(v) for k, v in zip(studies["study_id"], studies["label"])}
            if "label" in studies.columns
            else {}
        )
    else:
        ids = [str(x) for x in studies]
        labels = {}
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise OptionError(f"study_id {dup!r} appears twice in the studies given")
    return ids, labels


def _text(value: Any, name: str, path: Path) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise AppraisalError(
            f"{name} must be text or None, got {value!r}; nothing was written",
            path=path,
            column=name,
        )
    value = value.strip()
    return value or None


class AppraisalLog:
    """The append-only risk-of-bias assessment log, and what follows from it.

    Parameters
    ----------
    path : path-like
        The log (``appraisal/log.jsonl``); created if missing.
    tool : Tool
        The tool the assessments use (rows of another tool are refused on read).
    assessors : sequence of str, optional
        The protocol's assessors; ``"consensus"`` is always allowed. Empty: anyone.
    studies : DataFrame or iterable of str, optional
        The studies of the extraction (a frame with ``study_id`` and, for display,
        ``label``); a new answer on any other study is refused, and rows already in the log
        on another study (one excluded after it was appraised) are set aside
        (:meth:`set_aside`), with a :class:`SetAsideWarning`.
    require_support : bool, default True
        Every answer needs a ``quote`` with its ``location``, or a ``note`` saying why not.
    lock_timeout : float, default 10
    on_torn : {"repair", "raise"}, default "repair"
        As for :class:`review.journal.Journal`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = AppraisalLog(
    ...     pathlib.Path(tempfile.mkdtemp()) / "log.jsonl",
    ...     tool=load_tool("jbi_prevalence"),
    ...     assessors=["A", "B"],
    ...     studies=["s1"],
    ... )
    >>> log.record("s1", "q3", "yes", reviewer="A", quote="449 patients", location="Abstract")[
    ...     "seq"
    ... ]
    1
    >>> log.record("s1", "q3", "no", reviewer="B", note="small for the question")["seq"]
    2
    >>> log.final().loc[0, ["study_id", "item", "answer", "basis"]].tolist()
    ['s1', 'q3', None, 'conflict']
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        tool: Tool,
        assessors: Sequence[str] = (),
        studies: pd.DataFrame | Iterable[str] | None = None,
        require_support: bool = True,
        lock_timeout: float = 10.0,
        on_torn: Literal["repair", "raise"] = "repair",
    ) -> None:
        self.path = Path(path)
        self.tool = tool
        if CONSENSUS in assessors:
            raise OptionError(f"{CONSENSUS!r} is reserved for consensus rows, not an assessor")
        self.assessors = tuple(assessors)
        self.require_support = bool(require_support)
        import pandas as pd

        #: The studies frame given (extraction), kept for display; None for bare ids.
        self.studies_frame: pd.DataFrame | None = (
            studies.reset_index(drop=True) if isinstance(studies, pd.DataFrame) else None
        )
        if studies is not None:
            ids, self.labels = _study_ids(studies)
            self.study_ids: tuple[str, ...] | None = tuple(ids)
        else:
            self.study_ids, self.labels = None, {}
        self._study_set = frozenset(self.study_ids or ())
        self._warned: tuple[tuple[str, int], ...] = ()
        self._journal = Journal(
            self.path,
            columns=LOG_COLUMNS,
            check=self._check_row,
            error=AppraisalLogError,
            lock_timeout=lock_timeout,
            on_torn=on_torn,
            what="assessment log",
        )

    @classmethod
    def for_review(
        cls,
        review_dir: str | os.PathLike[str],
        *,
        protocol: Protocol | None = None,
        plan: AppraisalPlan | None = None,
        studies: pd.DataFrame | Iterable[str] | None = None,
        **kwargs: Any,
    ) -> AppraisalLog:
        """The log of a review folder, with the protocol's tool and assessors.

        ``plan`` is the protocol's resolved ``appraisal`` block when the caller already has
        it (:func:`appraisal_plan`; the tool file is not read again). ``studies`` defaults to
        the review's extraction (:func:`review.extraction.load_extraction`) when its folder
        exists.
        """
        from review.paths import ReviewPaths
        from review.protocol import load_protocol

        paths = ReviewPaths(review_dir)
        if plan is None:
            proto = protocol if protocol is not None else load_protocol(paths.protocol)
            plan = appraisal_plan(proto, paths.root)
        if studies is None and (paths.extraction / "studies.csv").exists():
            from review.extraction import load_extraction

            studies = load_extraction(paths.extraction)
        return cls(
            paths.appraisal_log,
            tool=plan.tool,
            assessors=plan.assessors,
            studies=studies,
            require_support=plan.require_support,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"AppraisalLog({str(self.path)!r}, tool={self.tool.code!r})"

    # ------------------------------------------------------------------ checks
    def _check_row(self, row: Mapping[str, Any]) -> str | None:
        for key in ("study_id", "item", "reviewer", "answer", "tool"):
            if not isinstance(row[key], str) or not row[key]:
                return f"field {key!r} must be a non-empty string, got {row[key]!r}"
        for key in ("quote", "location", "note"):
            if row[key] is not None and not isinstance(row[key], str):
                return f"field {key!r} must be text or null, got {row[key]!r}"
        if row["tool"] != self.tool.code:
            return (
                f"field 'tool': the row was written with tool {row['tool']!r}, the log is read "
                f"with {self.tool.code!r} (the protocol's tool changed?)"
            )
        if row["item"] not in self.tool.units():
            return f"field 'item': {row['item']!r} is not one of {self.tool.units()}"
        options = self.tool.options(row["item"])
        if row["answer"] not in options:
            return (
                f"field 'answer': {row['answer']!r} is not an answer of {row['item']!r}; must "
                f"be one of {options}"
            )
        return None

    def _check(
        self,
        study_id: Any,
        item: Any,
        answer: Any,
        reviewer: Any,
        quote: str | None,
        location: str | None,
        note: str | None,
        *,
        check_study: bool = True,
    ) -> None:
        def fail(message: str, column: str) -> None:
            raise AppraisalError(f"{message}; nothing was written", path=self.path, column=column)

        if not isinstance(study_id, str) or not study_id.strip():
            fail(f"study_id must be a non-empty string, got {study_id!r}", "study_id")
        if check_study and self.study_ids is not None and study_id not in self._study_set:
            close = difflib.get_close_matches(study_id, self.study_ids, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            fail(
                f"study {study_id!r} is not in the extraction ({len(self.study_ids)} studies)"
                f"{hint}",
                "study_id",
            )
        if not isinstance(reviewer, str) or not reviewer.strip():
            fail(f"reviewer must be a non-empty string, got {reviewer!r}", "reviewer")
        if self.assessors and reviewer not in (*self.assessors, CONSENSUS):
            fail(
                f"reviewer {reviewer!r} is not an assessor of the protocol; must be one of "
                f"{[*self.assessors, CONSENSUS]}",
                "reviewer",
            )
        units = self.tool.units()
        if item not in units:
            derived = [d.code for d in self.tool.domains] + [OVERALL]
            why = " (it is derived by the tool's rule, not answered)" if item in derived else ""
            fail(f"item {item!r} is not one of {units}{why}", "item")
        options = self.tool.options(item)
        if answer not in options:
            fail(
                f"answer {answer!r} is not an option of item {item!r}; must be one of {options}",
                "answer",
            )
        if self.require_support and not ((quote and location) or note):
            if quote and not location:
                fail("a quote needs its location (page, table, paragraph)", "location")
            fail(
                "an answer needs its support: a quote with its location, or a note saying why "
                "there is none (e.g. 'not reported in the abstract')",
                "quote",
            )

    # ------------------------------------------------------------------ writing
    def record(
        self,
        study_id: str,
        item: str,
        answer: str,
        *,
        reviewer: str,
        quote: str | None = None,
        location: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Append one answer; it is on disk (fsync'd) when this returns.

        Parameters
        ----------
        study_id : str
            A study of the extraction.
        item : str
            An item code, or a judged domain's code, or ``"overall"`` when judged.
        answer : str
            One of the item's answer options (a level code for a judgement).
        reviewer : str
            An assessor of the protocol, or ``"consensus"``.
        quote, location : str, optional
            The supporting text and where it was read (page, table, paragraph, URL).
        note : str, optional
            Free text; required when there is no quote (why not).

        Returns
        -------
        dict
            The row as written.

        Raises
        ------
        review.errors.AppraisalError
            An unknown study, item, answer or assessor, or an answer without support; names
            the log file and the field; nothing is written.
        review.errors.AppraisalLogError
            Lock timeout, corrupt log, failed write (the log is left as it was).
        """
        quote = _text(quote, "quote", self.path)
        location = _text(location, "location", self.path)
        note = _text(note, "note", self.path)
        try:
            self._check(study_id, item, answer, reviewer, quote, location, note)
        except AppraisalError as e:
            line = len(self._journal.rows()) + 1
            raise AppraisalError(
                f"{e.message} (the answer would have been line {line})",
                path=self.path,
                row=line,
                column=e.column,
            ) from None
        body = {
            "study_id": study_id,
            "tool": self.tool.code,
            "item": item,
            "reviewer": reviewer,
            "answer": answer,
            "quote": quote,
            "location": location,
            "note": note,
        }
        try:
            return self._journal.append(body)
        except OptionError as e:
            raise AppraisalError(str(e), path=self.path) from e

    def resolve(
        self,
        study_id: str,
        item: str,
        answer: str,
        *,
        quote: str | None = None,
        location: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Record the consensus answer that resolves a disagreement (``reviewer="consensus"``)."""
        return self.record(
            study_id, item, answer, reviewer=CONSENSUS, quote=quote, location=location, note=note
        )

    def repair(self) -> RepairReport:
        """Move a torn last line aside (see :class:`review.journal.Journal`)."""
        return self._journal.repair()

    def validate(self) -> int:
        """Check every row against the studies and assessors given to the log.

        Reading already checks the format and the tool; this adds: every row's reviewer is
        one of the ``assessors`` (or consensus), and its answer supported when
        ``require_support``. A row on a study not in ``studies`` is not an error: it is set
        aside (:meth:`set_aside`, with a warning naming the study and its lines), its other
        fields checked all the same.

        Returns
        -------
        int
            Number of rows checked (set-aside rows included).

        Raises
        ------
        review.errors.AppraisalLogError
            At the first row that breaks a rule, naming the file, the line and the field.
        """
        rows = self._journal.rows()
        self._warn_set_aside(rows)
        for line, r in enumerate(rows, 1):
            try:
                self._check(
                    r["study_id"],
                    r["item"],
                    r["answer"],
                    r["reviewer"],
                    r["quote"],
                    r["location"],
                    r["note"],
                    check_study=False,
                )
            except AppraisalError as e:
                raise AppraisalLogError(
                    f"field {e.column!r}: {e.message.removesuffix('; nothing was written')} "
                    f"(seq {r['seq']})",
                    path=self.path,
                    line=line,
                ) from e
        return len(rows)

    # ------------------------------------------------------------------ reading
    def _rows(self) -> list[dict[str, Any]]:
        """The rows in scope: those on a study of the extraction (all without ``studies``)."""
        rows = self._journal.rows()
        if self.study_ids is None:
            return rows
        keep = self._study_set
        out = [r for r in rows if r["study_id"] in keep]
        if len(out) != len(rows):
            self._warn_set_aside(rows)
        return out

    def _aside_lines(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
        """Study id -> 1-based lines of its rows, for studies not in the extraction."""
        out: dict[str, list[int]] = {}
        if self.study_ids is None:
            return out
        for line, r in enumerate(rows, 1):
            if r["study_id"] not in self._study_set:
                out.setdefault(r["study_id"], []).append(line)
        return out

    def _warn_set_aside(self, rows: Sequence[Mapping[str, Any]]) -> None:
        aside = self._aside_lines(rows)
        key = tuple((s, len(lines)) for s, lines in aside.items())
        if not aside or key == self._warned:
            return
        self._warned = key
        warnings.warn(
            f"assessment log {self.path}: " + self._set_aside_message(aside),
            SetAsideWarning,
            stacklevel=4,
        )

    def _set_aside_message(self, aside: Mapping[str, Sequence[int]]) -> str:
        parts = []
        for sid, lines in aside.items():
            close = difflib.get_close_matches(sid, self.study_ids or (), n=1, cutoff=0.8)
            hint = f"; if the id is misspelt, did you mean {close[0]!r}?" if close else ""
            parts.append(
                f"{len(lines)} answer(s) on study {sid!r} (line{'s' if len(lines) > 1 else ''} "
                f"{_line_ranges(lines)}){hint}"
            )
        return (
            "; ".join(parts)
            + f" set aside: not in the extraction ({len(self.study_ids or ())} studies), e.g. "
            "excluded after it was appraised. The rows stay in the log, unchanged; they are "
            "left out of the judgements, agreement, conflicts and progress "
            "(AppraisalLog.set_aside() lists them)."
        )

    def set_aside(self) -> pd.DataFrame:
        """The rows on studies not in the extraction, kept in the log but left out.

        A study excluded after it was appraised keeps its answers in the log (append-only);
        they take no part in :meth:`final`, :meth:`conflicts`, :meth:`progress`,
        :meth:`judgements` or :func:`agreement`.

        Returns
        -------
        pandas.DataFrame
            ``line`` (1-based, in the log file), the log's columns, and ``reason``; empty when
            every row's study is in the extraction or no studies were given.

        Examples
        --------
        >>> import tempfile, pathlib, warnings
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "log.jsonl"
        >>> tool = load_tool("jbi_prevalence")
        >>> old = AppraisalLog(path, tool=tool, studies=["s1", "s2"])
        >>> _ = old.record("s2", "q1", "yes", reviewer="A", note="read before it was excluded")
        >>> new = AppraisalLog(path, tool=tool, studies=["s1"])
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     aside = new.set_aside()
        >>> aside[["line", "study_id", "item", "reason"]].values.tolist()
        [[1, 's2', 'q1', 'not in the extraction']]
        >>> "study 's2' (line 1)" in str(caught[0].message)
        True
        """
        import pandas as pd

        rows = self._journal.rows()
        cols = ["line", *LOG_COLUMNS, "reason"]
        if self.study_ids is None:
            return pd.DataFrame([], columns=cols)
        out = [
            {"line": line, **r, "reason": "not in the extraction"}
            for line, r in enumerate(rows, 1)
            if r["study_id"] not in self._study_set
        ]
        if out:
            self._warn_set_aside(rows)
        df = pd.DataFrame(out, columns=cols)
        df["line"] = df["line"].astype("int64")
        df["seq"] = df["seq"].astype("int64")
        return df

    def set_aside_studies(self) -> list[str]:
        """Studies with answers in the log but not in the extraction (see :meth:`set_aside`)."""
        return list(self._aside_lines(self._journal.rows()))

    def answers(self) -> pd.DataFrame:
        """Every row ever written, in order (``timestamp`` as UTC datetimes).

        Rows set aside (:meth:`set_aside`: studies no longer in the extraction) included.
        """
        import pandas as pd

        df = pd.DataFrame(self._journal.rows(), columns=list(LOG_COLUMNS))
        df["seq"] = df["seq"].astype("int64")
        df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
        return df

    def _standing(
        self, rows: Sequence[Mapping[str, Any]]
    ) -> dict[tuple[str, str, str], Mapping[str, Any]]:
        last: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        for r in rows:
            last[(r["study_id"], r["item"], r["reviewer"])] = r
        return last

    def current(self, reviewer: str | None = None) -> pd.DataFrame:
        """Each reviewer's standing answer per study and item (their last row), by ``seq``.

        Rows set aside (:meth:`set_aside`) are left out.
        """
        import pandas as pd

        rows = sorted(self._standing(self._rows()).values(), key=lambda r: r["seq"])
        if reviewer is not None:
            rows = [r for r in rows if r["reviewer"] == reviewer]
        df = pd.DataFrame(rows, columns=list(LOG_COLUMNS))
        df["seq"] = df["seq"].astype("int64")
        return df

    def _final_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        by_unit: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for r in sorted(self._standing(rows).values(), key=lambda r: r["seq"]):
            by_unit.setdefault((r["study_id"], r["item"]), []).append(r)
        order = {u: i for i, u in enumerate(self.tool.units())}
        study_order = {s: i for i, s in enumerate(self.study_ids or ())}
        out = []
        for (sid, item), standing in by_unit.items():
            consensus = [r for r in standing if r["reviewer"] == CONSENSUS]
            people = [r for r in standing if r["reviewer"] != CONSENSUS]
            if consensus:
                c = consensus[-1]
                answer, basis, support = c["answer"], "consensus", [c]
            elif len(people) == 1:
                answer, basis, support = people[0]["answer"], "single", people
            elif len({r["answer"] for r in people}) == 1:
                answer, basis, support = people[0]["answer"], "agreement", people
            else:
                answer, basis, support = None, "conflict", people
            quotes = [r for r in support if r["quote"]]
            out.append(
                {
                    "study_id": sid,
                    "item": item,
                    "answer": answer,
                    "basis": basis,
                    "reviewers": ",".join(sorted(r["reviewer"] for r in standing)),
                    "quote": quotes[0]["quote"] if quotes else None,
                    "location": quotes[0]["location"] if quotes else None,
                    "note": next((r["note"] for r in support if r["note"]), None),
                    "seq": max(r["seq"] for r in standing),
                }
            )
        out.sort(
            key=lambda r: (
                study_order.get(r["study_id"], len(study_order)),
                r["study_id"],
                order[r["item"]],
            )
        )
        return out

    def final(self) -> pd.DataFrame:
        """The answer that stands per study and item, combining the assessors.

        Returns
        -------
        pandas.DataFrame
            ``study_id, item, answer`` (None for a conflict), ``basis`` (consensus, single,
            agreement, conflict), ``reviewers``, ``quote, location`` (the supporting quote of
            the row that stands, or the first assessor's), ``note``, ``seq``; in the studies'
            and the tool's order.
        """
        import pandas as pd

        cols = [
            "study_id",
            "item",
            "answer",
            "basis",
            "reviewers",
            "quote",
            "location",
            "note",
            "seq",
        ]
        return pd.DataFrame(self._final_rows(self._rows()), columns=cols)

    def conflicts(self) -> pd.DataFrame:
        """Study items whose assessors disagree and have no consensus row yet.

        Returns
        -------
        pandas.DataFrame
            ``study_id, item`` and ``answer_<reviewer>`` for every assessor involved.
        """
        import pandas as pd

        rows = self._rows()
        bad = {
            (r["study_id"], r["item"]) for r in self._final_rows(rows) if r["basis"] == "conflict"
        }
        standing = [r for r in self._standing(rows).values() if (r["study_id"], r["item"]) in bad]
        reviewers = sorted({r["reviewer"] for r in standing})
        table: dict[tuple[str, str], dict[str, Any]] = {}
        for r in sorted(standing, key=lambda r: r["seq"]):
            key = (r["study_id"], r["item"])
            table.setdefault(key, {"study_id": key[0], "item": key[1]})[
                f"answer_{r['reviewer']}"
            ] = r["answer"]
        cols = ["study_id", "item"] + [f"answer_{x}" for x in reviewers]
        return pd.DataFrame(list(table.values()), columns=cols)

    def progress(self, reviewer: str | None = None) -> pd.DataFrame:
        """Per study: units answered (by ``reviewer``, or as final answers) out of all."""
        import pandas as pd

        rows = self._rows()
        units = self.tool.units()
        if reviewer is None:
            done = {
                (r["study_id"], r["item"])
                for r in self._final_rows(rows)
                if r["answer"] is not None
            }
        else:
            done = {(s, i) for (s, i, rev) in self._standing(rows) if rev == reviewer}
        studies = list(self.study_ids or sorted({s for s, _ in done}))
        return pd.DataFrame(
            {
                "study_id": studies,
                "answered": [sum((s, u) in done for u in units) for s in studies],
                "of": [len(units)] * len(studies),
            }
        )

    def judgements(self, *, high_risk: Sequence[str] | None = None) -> RiskOfBias:
        """Domain and overall judgements per study, by the tool's rule.

        Parameters
        ----------
        high_risk : sequence of str, optional
            Overall judgements counted as high risk (default: the worst level).

        Returns
        -------
        RiskOfBias
        """
        import pandas as pd

        final = self._final_rows(self._rows())
        by_study: dict[str, dict[str, str]] = {}
        for r in final:
            if r["answer"] is not None:
                by_study.setdefault(r["study_id"], {})[r["item"]] = r["answer"]
        studies = (
            list(self.study_ids)
            if self.study_ids is not None
            else sorted({r["study_id"] for r in final})
        )
        records = []
        for s in studies:
            ans = by_study.get(s, {})
            judged = self.tool.judge(ans)
            rec: dict[str, Any] = {"study_id": s, "label": self.labels.get(s, s)}
            for it in self.tool.item_codes:
                rec[it] = ans.get(it)
            for d in self.tool.domains:
                rec[d.code] = judged[d.code]
            rec[OVERALL] = judged[OVERALL]
            records.append(rec)
        cols = [
            "study_id",
            "label",
            *self.tool.item_codes,
            *[d.code for d in self.tool.domains],
            OVERALL,
        ]
        table = pd.DataFrame(records, columns=cols)
        high = tuple(high_risk) if high_risk is not None else (self.tool.judgements[-1].code,)
        for h in high:
            self.tool.level(h)
        n_conflicts = sum(1 for r in final if r["basis"] == "conflict")
        aside = self._aside_lines(self._journal.rows())
        notes = tuple(
            f"Set aside, not in the extraction: {sid} ({len(lines)} answer(s) kept in the log, "
            f"lines {_line_ranges(lines)})"
            for sid, lines in aside.items()
        )
        return RiskOfBias(
            tool=self.tool, table=table, high_risk=high, n_conflicts=n_conflicts, notes=notes
        )


# ---------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class RiskOfBias:
    """Risk-of-bias judgements of the included studies.

    Attributes
    ----------
    tool : Tool
        The tool and its rule.
    table : pandas.DataFrame
        One row a study: ``study_id, label``, one column per item (the standing answer),
        one per domain (its judgement), and ``overall``; None where incomplete or in
        conflict.
    high_risk : tuple of str
        Overall judgements counted as high risk.
    n_conflicts : int
        Study items still in conflict (no consensus yet).
    notes : tuple of str
        What the reader should know, e.g. studies whose answers were set aside (not in the
        extraction: excluded after they were appraised).
    """

    tool: Tool
    table: pd.DataFrame
    high_risk: tuple[str, ...]
    n_conflicts: int = 0
    notes: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        counts = self.table[OVERALL].value_counts(dropna=False).to_dict()
        return f"<RiskOfBias {self.tool.code}: {len(self.table)} studies, overall {counts}>"

    @property
    def columns(self) -> list[str]:
        """The columns a plot shows: the domains, or the items of a tool without domains."""
        if self.tool.domains:
            return [d.code for d in self.tool.domains]
        return self.tool.item_codes

    def column_label(self, code: str) -> str:
        """Words for a column (domain label or item text)."""
        for d in self.tool.domains:
            if d.code == code:
                return d.label
        return self.tool.text(code)

    def overall(self) -> pd.Series:
        """Overall judgement per study (index ``study_id``): the study-level covariate."""
        return self.table.set_index("study_id")[OVERALL].rename("risk_of_bias")

    def unjudged(self) -> list[str]:
        """Studies without an overall judgement (unanswered items or conflicts)."""
        t = self.table
        return t.loc[t[OVERALL].isna(), "study_id"].tolist()

    def high_risk_studies(self) -> list[str]:
        """Studies whose overall judgement is one of :attr:`high_risk`."""
        t = self.table
        return t.loc[t[OVERALL].isin(self.high_risk), "study_id"].tolist()

    def to_frame(self) -> pd.DataFrame:
        """The table (a copy)."""
        return self.table.copy()

    def counts(self, weights: Mapping[str, float] | None = None) -> pd.DataFrame:
        """Share of studies per column (domains or items, then overall) and level.

        Parameters
        ----------
        weights : Mapping[str, float], optional
            Study id -> weight (e.g. the analysis weights); studies without one are left out.
            Default: every study counts once.

        Returns
        -------
        pandas.DataFrame
            ``column, level, n, share``: ``level`` a level code, ``"not_applicable"`` or
            ``"missing"``; ``share`` sums to 1 per column.
        """
        import pandas as pd

        t = self.table
        w = (
            pd.Series(1.0, index=t["study_id"])
            if weights is None
            else pd.Series(
                {s: float(weights[s]) for s in t["study_id"] if s in weights}, dtype=float
            )
        )
        out = []
        for col in [*self.columns, OVERALL]:
            values = t.set_index("study_id")[col].reindex(w.index)
            levels = [self._level_of(col, v) for v in values]
            total = float(w.sum())
            for lv in [*[x.code for x in self.tool.judgements], "not_applicable", "missing"]:
                mask = [x == lv for x in levels]
                n = float(w[mask].sum()) if any(mask) else 0.0
                out.append(
                    {"column": col, "level": lv, "n": n, "share": n / total if total else math.nan}
                )
        return pd.DataFrame(out)

    def _level_of(self, col: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "missing"
        if col in self.tool.item_codes:
            lv = self.tool.answer(str(value)).judgement
            return "not_applicable" if lv is None else lv
        return str(value)

    def summary(self) -> str:
        """Plain text: the tool, the rule, the table and the high-risk studies."""
        lines = [
            f"Risk of bias: {self.tool.name}",
            f"Overall judgement: {self.tool.overall.describe()}",
            "",
            self.table.drop(columns=["study_id"]).to_string(index=False),
            "",
            f"High risk ({', '.join(self.high_risk)}): "
            + (", ".join(self.high_risk_studies()) or "none"),
        ]
        if self.unjudged():
            lines.append(f"Not yet judged: {', '.join(self.unjudged())}")
        if self.n_conflicts:
            lines.append(f"Note: {self.n_conflicts} study item(s) in conflict, not yet resolved")
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        note = (
            f"<p>Note: {self.n_conflicts} study item(s) in conflict, not yet resolved</p>"
            if self.n_conflicts
            else ""
        ) + "".join(f"<p>Note: {html.escape(n)}</p>" for n in self.notes)
        return (
            f"<div><p><b>Risk of bias</b>: {html.escape(self.tool.name)}; overall: "
            f"{html.escape(self.tool.overall.describe())}</p>"
            f"{self.table.to_html(index=False, na_rep='–')}{note}</div>"
        )


@dataclass(frozen=True, slots=True)
class AppraisalAgreement:
    """Agreement of two assessors, per item and over all items.

    Attributes
    ----------
    reviewers : tuple of str
    level : float
        Confidence level of the kappa intervals.
    table : pandas.DataFrame
        One row per unit (item or judged domain/overall) and a last row ``all``:
        ``item, n_both, observed, kappa, kappa_ci_low, kappa_ci_high, ac1, pabak``.
        Kappa is NaN where both used one identical answer throughout.
    """

    reviewers: tuple[str, str]
    level: float
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The table (a copy)."""
        return self.table.copy()

    def summary(self) -> str:
        """Plain text."""
        a, b = self.reviewers
        return (
            f"Agreement of assessors {a} and {b} per item (Cohen's kappa, Gwet's AC1, PABAK)\n"
            + self.table.to_string(index=False, float_format=lambda x: f"{x:.3f}")
        )

    def _repr_html_(self) -> str:
        a, b = self.reviewers
        return (
            f"<div><p><b>Agreement</b> of assessors {html.escape(a)} and {html.escape(b)} "
            "per item</p>"
            f"{self.table.to_html(index=False, float_format=lambda x: f'{x:.3f}')}</div>"
        )


def agreement(
    log: AppraisalLog, reviewers: tuple[str, str] = ("A", "B"), *, level: float = 0.95
) -> AppraisalAgreement:
    """Agreement of two assessors per item: Cohen's kappa, Gwet's AC1, PABAK.

    For each unit, the studies both assessors answered are compared (their standing answers;
    consensus rows are not an assessor); the categories are the unit's options. The last
    row, ``all``, pools every unit's answers into one table (items with different options
    are compared answer for answer). The coefficients are those of
    :func:`review.screening.agreement` (one implementation).

    Parameters
    ----------
    log : AppraisalLog
    reviewers : tuple of two str
    level : float, default 0.95

    Returns
    -------
    AppraisalAgreement

    References
    ----------
    Cohen J. Educ Psychol Meas 1960;20:37-46. Gwet KL. Br J Math Stat Psychol 2008;61:29-48.
    Byrt T, Bishop J, Carlin JB. J Clin Epidemiol 1993;46:423-9.
    """
    import pandas as pd

    if len(reviewers) != 2 or reviewers[0] == reviewers[1]:
        raise OptionError(f"reviewers must be two different names, got {reviewers!r}")
    if not 0 < level < 1:
        raise OptionError(f"level must lie in (0, 1), got {level!r}")
    a, b = reviewers
    if log.assessors:
        for r in reviewers:
            if r not in log.assessors:
                raise OptionError(
                    f"reviewer {r!r} is not an assessor of the protocol; must be one of "
                    f"{list(log.assessors)}"
                )
    standing = log._standing(log._rows())
    rows = []
    all_opts = list(dict.fromkeys(o for u in log.tool.units() for o in log.tool.options(u)))
    pooled = [[0] * len(all_opts) for _ in all_opts]
    for unit in log.tool.units():
        opts = log.tool.options(unit)
        idx = {o: i for i, o in enumerate(opts)}
        counts = [[0] * len(opts) for _ in opts]
        pairs = [
            (ra["answer"], standing[(s, u, b)]["answer"])
            for (s, u, rev), ra in standing.items()
            if u == unit and rev == a and (s, u, b) in standing
        ]
        for x, y in pairs:
            counts[idx[x]][idx[y]] += 1
            pooled[all_opts.index(x)][all_opts.index(y)] += 1
        co = coefficients(counts, level)
        rows.append(_agreement_row(unit, co))
    rows.append(_agreement_row("all", coefficients(pooled, level)))
    return AppraisalAgreement(reviewers=(a, b), level=level, table=pd.DataFrame(rows))


def _agreement_row(unit: str, co: Any) -> dict[str, Any]:
    return {
        "item": unit,
        "n_both": co.n,
        "observed": co.observed,
        "kappa": co.kappa,
        "kappa_ci_low": co.kappa_ci_low,
        "kappa_ci_high": co.kappa_ci_high,
        "ac1": co.ac1,
        "pabak": co.pabak,
    }


# ---------------------------------------------------------------------- import
#: Columns of an assessment spreadsheet for :func:`import_assessments`.
IMPORT_COLUMNS = ("study_id", "item", "reviewer", "answer", "quote", "location", "note")


def import_assessments(log: AppraisalLog, path: str | os.PathLike[str]) -> int:
    """Append the answers of a CSV file (one answer a row) to the log, all or none.

    Parameters
    ----------
    log : AppraisalLog
    path : path-like
        UTF-8 CSV with the columns :data:`IMPORT_COLUMNS` (quote, location and note may be
        empty).

    Returns
    -------
    int
        Rows appended.

    Raises
    ------
    review.errors.AppraisalError
        The first bad row (unknown study, item, answer or assessor, missing support),
        naming the CSV file, its line and the column; nothing is appended.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise AppraisalError("file not found", path=p) from e
    except (OSError, UnicodeDecodeError) as e:
        raise AppraisalError(f"cannot be read as UTF-8 text: {e}", path=p) from e
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in IMPORT_COLUMNS if c not in header]
    if missing:
        hint = ""
        if len(header) == 1 and any(d in header[0] for d in ";\t|"):
            hint = "; the file seems to use another delimiter than the comma"
        raise AppraisalError(
            f"required column(s) missing: {missing} (the header has {header}){hint}",
            path=p,
            row=1,
            column=missing[0],
        )
    from review.journal import _encode

    todo = []
    for raw in reader:
        line = reader.line_num
        row = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in raw.items() if k}
        vals = {c: (row.get(c) or None) for c in IMPORT_COLUMNS}
        try:
            log._check(
                vals["study_id"] or "",
                vals["item"],
                vals["answer"],
                vals["reviewer"] or "",
                vals["quote"],
                vals["location"],
                vals["note"],
            )
            _encode(vals)
        except AppraisalError as e:
            raise AppraisalError(
                e.message.removesuffix("; nothing was written") + "; nothing was imported",
                path=p,
                row=line,
                column=e.column,
            ) from e
        except OptionError as e:
            raise AppraisalError(
                f"{e}".replace("nothing was written", "nothing was imported"), path=p, row=line
            ) from e
        todo.append(vals)
    for v in todo:
        log.record(
            str(v["study_id"]),
            str(v["item"]),
            str(v["answer"]),
            reviewer=str(v["reviewer"]),
            quote=v["quote"],
            location=v["location"],
            note=v["note"],
        )
    return len(todo)
