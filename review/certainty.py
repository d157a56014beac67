"""Certainty of the evidence per pooled outcome (GRADE), and the Summary of Findings table.

For estimates of incidence (overall prognosis, baseline risk), GRADE starts a body of
observational evidence at *high* certainty and rates it down for risk of bias, inconsistency,
indirectness, imprecision and publication bias (Iorio et al. 2015). Those five judgements are
the reviewers': they are read from the review's ``certainty.yaml``
(:attr:`review.paths.ReviewPaths.certainty`), each with its reason. Beside each, an
:class:`EvidenceProfile` shows what the data suggest, computed from the pooled result:

========================  ==============================================================
risk of bias              share of the analysis weight from studies at high risk of bias
                          (the protocol's ``appraisal.high_risk``), and the studies by
                          overall judgement
inconsistency             I², tau² and the prediction interval
indirectness              nothing to compute: populations, settings and definitions
imprecision               the confidence interval against the decision thresholds the
                          protocol declares (``certainty.thresholds``), total events and
                          participants
publication bias          a funnel-asymmetry test (Peters' for proportions, Egger's for
                          rates) only when k >= 10 (Sterne et al. 2011); otherwise not tested
========================  ==============================================================

The data never decide a judgement: a reviewer may rate down with no signal in the numbers, or
keep a rating despite one, and says why. :func:`summary_of_findings` lays the profiles out as
the GRADE Summary of Findings table (one row per outcome: estimate, CI, studies, participants,
certainty with its reasons in footnotes), for CSV, HTML and a publication figure
(:func:`review.plots.sof_table`).

The file's shape::

    schema_version: 1
    outcomes:
      my_outcome:                       # an outcome code of the protocol
        risk_of_bias: {judgement: serious, reason: "..."}
        inconsistency: {judgement: not_serious, reason: "..."}
        indirectness: {judgement: not_serious, reason: "..."}
        imprecision: {judgement: very_serious, reason: "..."}
        publication_bias: {judgement: undetected, reason: "..."}
        upgrade: {levels: 1, reason: "..."}      # optional
        start: high                              # optional; default: the protocol's

Judgements: ``not_serious`` (0), ``serious`` (rate down one level), ``very_serious`` (two);
for publication bias ``undetected`` (0), ``strongly_suspected`` (one),
``very_strongly_suspected`` (two).

References
----------
Iorio A, Spencer FA, Falavigna M, et al. Use of GRADE for assessment of evidence about
prognosis: rating confidence in estimates of event rates in broad categories of patients.
BMJ 2015;350:h870.

Guyatt GH, Oxman AD, Vist GE, et al. GRADE: an emerging consensus on rating quality of
evidence and strength of recommendations. BMJ 2008;336:924-6.

Sterne JAC, Sutton AJ, Ioannidis JPA, et al. Recommendations for examining and interpreting
funnel plot asymmetry in meta-analyses of randomised controlled trials. BMJ 2011;343:d4002.

Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement. BMJ 2021;372:n71 (items
15 and 22: certainty assessment methods and results).
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, cast

from review._format import fmt_p
from review._jsonschema import jsonschema
from review.errors import CertaintyError, OptionError

if TYPE_CHECKING:
    import pandas as pd

    from review.analysis import AnalysisResult, AnalysisSet
    from review.appraisal import RiskOfBias
    from review.meta.results import PoolResult
    from review.paths import ReviewPaths

__all__ = [
    "CERTAINTY_SCHEMA",
    "DOMAINS",
    "LEVELS",
    "CertaintyAssessment",
    "EvidenceProfile",
    "OutcomeJudgements",
    "SummaryOfFindings",
    "assess_certainty",
    "evidence_profile",
    "evidence_profiles",
    "load_certainty",
    "methods_sentence",
    "summary_of_findings",
]

#: The five GRADE domains that rate certainty down, in the order GRADE tables use.
DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
_DOMAIN_LABELS = {
    "risk_of_bias": "Risk of bias",
    "inconsistency": "Inconsistency",
    "indirectness": "Indirectness",
    "imprecision": "Imprecision",
    "publication_bias": "Publication bias",
}
#: Certainty levels, lowest first.
LEVELS = ("very_low", "low", "moderate", "high")
_LEVEL_LABELS = {"very_low": "Very low", "low": "Low", "moderate": "Moderate", "high": "High"}
_SYMBOLS = {"very_low": "⊕◯◯◯", "low": "⊕⊕◯◯", "moderate": "⊕⊕⊕◯", "high": "⊕⊕⊕⊕"}
_DOWN = {"not_serious": 0, "serious": 1, "very_serious": 2}
_DOWN_PB = {"undetected": 0, "strongly_suspected": 1, "very_strongly_suspected": 2}

_JUDGED = {
    "type": "object",
    "required": ["judgement", "reason"],
    "additionalProperties": False,
    "properties": {
        "judgement": {"enum": list(_DOWN)},
        "reason": {"type": "string", "minLength": 1},
    },
}

#: JSON Schema of ``certainty.yaml`` (draft 2020-12).
CERTAINTY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["schema_version", "outcomes"],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": 1},
        "outcomes": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": r"^[a-z][a-z0-9_]*$"},
            "additionalProperties": {
                "type": "object",
                "required": list(DOMAINS),
                "additionalProperties": False,
                "properties": {
                    "label": {"type": "string", "minLength": 1},
                    "start": {"enum": list(LEVELS)},
                    "risk_of_bias": _JUDGED,
                    "inconsistency": _JUDGED,
                    "indirectness": _JUDGED,
                    "imprecision": _JUDGED,
                    "publication_bias": {
                        **_JUDGED,
                        "properties": {
                            "judgement": {"enum": list(_DOWN_PB)},
                            "reason": {"type": "string", "minLength": 1},
                        },
                    },
                    "upgrade": {
                        "type": "object",
                        "required": ["levels", "reason"],
                        "additionalProperties": False,
                        "properties": {
                            "levels": {"enum": [1, 2]},
                            "reason": {"type": "string", "minLength": 1},
                        },
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True, slots=True)
class DomainJudgement:
    """A reviewer's judgement on one GRADE domain.

    Attributes
    ----------
    domain, judgement, reason : str
    downgrade : int
        Levels rated down (0, 1 or 2).
    """

    domain: str
    judgement: str
    downgrade: int
    reason: str


@dataclass(frozen=True, slots=True)
class OutcomeJudgements:
    """The reviewers' GRADE judgements for one outcome (from ``certainty.yaml``).

    Attributes
    ----------
    outcome : str
        The outcome code.
    label : str or None
    start : str or None
        Starting level (None: the protocol's, else ``"high"``).
    domains : Mapping[str, DomainJudgement]
        One per domain of :data:`DOMAINS`.
    upgrade : int
        Levels rated up (0, 1, 2).
    upgrade_reason : str or None
    """

    outcome: str
    label: str | None
    start: str | None
    domains: Mapping[str, DomainJudgement]
    upgrade: int = 0
    upgrade_reason: str | None = None


def load_certainty(path: str | os.PathLike[str]) -> dict[str, OutcomeJudgements]:
    """Read and validate the reviewers' GRADE judgements (``certainty.yaml``).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    dict of str to OutcomeJudgements
        By outcome code, in the file's order.

    Raises
    ------
    review.errors.CertaintyError
        A missing file, YAML that does not parse, a key given twice, or a judgement outside
        the domain's options, naming the file, the line and the field.
    """
    from review.appraisal import _read_yaml  # YAML with duplicate keys refused, lines kept
    from review.protocol import _dotted, _line_of

    p = Path(path)
    data, source = _read_yaml(p, CertaintyError)
    validator = jsonschema.Draft202012Validator(CERTAINTY_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = jsonschema.exceptions.best_match(errors) or errors[0]
        where = list(err.absolute_path)
        column = _dotted(where) or None
        if err.validator == "required" and isinstance(err.instance, dict):
            missing = [k for k in err.validator_value if k not in err.instance]
            if missing:
                column = _dotted([*where, missing[0]])
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            extra = [k for k in err.instance if k not in allowed]
            if extra:
                where = [*where, extra[0]]
                column = _dotted(where)
        raise CertaintyError(
            f"certainty judgements do not match the schema: {err.message}",
            path=p,
            row=_line_of(source, where),
            column=column,
        )
    out = {}
    for code, block in data["outcomes"].items():
        domains = {}
        for d in DOMAINS:
            table = _DOWN_PB if d == "publication_bias" else _DOWN
            j = block[d]["judgement"]
            domains[d] = DomainJudgement(d, j, table[j], block[d]["reason"].strip())
        up = block.get("upgrade") or {}
        out[code] = OutcomeJudgements(
            outcome=code,
            label=block.get("label"),
            start=block.get("start"),
            domains=MappingProxyType(domains),
            upgrade=int(up.get("levels", 0)),
            upgrade_reason=up.get("reason"),
        )
    return out


# ---------------------------------------------------------------------- the profile
def _fmt_value(x: float, kind: str) -> str:
    if not math.isfinite(x):
        return "NA"
    if kind == "rate":
        v = 100 * x
        return f"{v:.2f}" if v < 10 else f"{v:.1f}"
    v = 100 * x
    if v == 0:
        return "0.0%"
    return f"{v:.2f}%" if v < 1 else f"{v:.1f}%"


def _unit(kind: str) -> str:
    return "per 100 person-years" if kind == "rate" else "of patients"


@dataclass(frozen=True, slots=True)
class EvidenceProfile:
    """GRADE evidence profile of one pooled outcome: judgements beside what the data show.

    Attributes
    ----------
    outcome, label : str
    result : PoolResult
        The pooled result the profile describes.
    judgements : OutcomeJudgements or None
        The reviewers' (None: not yet assessed).
    start : str
        Starting level.
    certainty : str or None
        Final level (None when not assessed).
    data : Mapping[str, str]
        Per domain, what the data show, in words.
    numbers : Mapping[str, Any]
        The same as numbers: ``k, events, participants, share_weight_high_risk,
        high_risk_studies, i2, tau2, pi_low, pi_high, ci_low, ci_high, thresholds,
        crosses`` (tuple of bool, one per threshold), ``funnel_test_p`` (NaN if not
        tested).
    """

    outcome: str
    label: str
    result: Any
    judgements: OutcomeJudgements | None
    start: str
    certainty: str | None
    data: Mapping[str, str]
    numbers: Mapping[str, Any]

    def to_frame(self) -> pd.DataFrame:
        """One row per domain: ``domain, judgement, downgrade, reason, data``."""
        import pandas as pd

        rows = []
        for d in DOMAINS:
            j = self.judgements.domains[d] if self.judgements is not None else None
            rows.append(
                {
                    "domain": _DOMAIN_LABELS[d],
                    "judgement": j.judgement if j else "not assessed",
                    "downgrade": j.downgrade if j else None,
                    "reason": j.reason if j else None,
                    "data": self.data[d],
                }
            )
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Plain text: the outcome, the certainty, and each domain with the data beside."""
        cert = (
            f"{_SYMBOLS[self.certainty]} {_LEVEL_LABELS[self.certainty]}"
            if self.certainty
            else "not assessed"
        )
        lines = [f"{self.label}: certainty {cert} (start: {_LEVEL_LABELS[self.start]})"]
        for _, r in self.to_frame().iterrows():
            lines.append(f"  {r['domain']}: {r['judgement']}")
            if isinstance(r["reason"], str) and r["reason"]:
                lines.append(f"    reason: {r['reason']}")
            lines.append(f"    data:   {r['data']}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cert = _LEVEL_LABELS[self.certainty] if self.certainty else "not assessed"
        return (
            f"<div><p><b>{html.escape(self.label)}</b>: certainty {html.escape(cert)}</p>"
            f"{self.to_frame().to_html(index=False, na_rep='')}</div>"
        )


def _high_risk_weight(
    res: Any, rob: RiskOfBias | None, high: Sequence[str] | None
) -> tuple[float, list[str], str]:
    if rob is None:
        return math.nan, [], "no risk-of-bias assessment was given"
    high = tuple(high) if high is not None else rob.high_risk
    by_label = dict(zip(rob.table["label"], rob.table["study_id"]))
    overall = rob.overall()
    st = res.studies
    weights = st["weight"].to_numpy(float)
    total = float(weights.sum())
    high_w, high_ids, missing = 0.0, [], []
    counts: dict[str, int] = {}
    for lbl, w in zip(st["label"], weights):
        sid = by_label.get(lbl)
        if sid is None:
            missing.append(str(lbl))
            continue
        j = overall.get(sid)
        key = "not judged" if j is None or (isinstance(j, float) and math.isnan(j)) else str(j)
        counts[key] = counts.get(key, 0) + 1
        if key in high:
            high_w += float(w)
            high_ids.append(str(sid))
    share = high_w / total if total > 0 else math.nan
    parts = ", ".join(f"{k} {v}" for k, v in counts.items())
    text = (
        f"{100 * share:.0f}% of the weight from {len(high_ids)} of {len(st)} studies at "
        f"{'/'.join(high)} risk of bias (overall judgements: {parts})"
    )
    if res.method == "GLMM":
        text += "; GLMM weights are the approximate inverse-variance ones"
    if missing:
        text += f"; not assessed: {', '.join(missing)}"
    return share, high_ids, text


def evidence_profile(
    result: PoolResult,
    outcome: str,
    *,
    judgements: Mapping[str, OutcomeJudgements] | OutcomeJudgements | None = None,
    rob: RiskOfBias | None = None,
    high_risk: Sequence[str] | None = None,
    thresholds: Sequence[float] = (),
    start: str | None = None,
    label: str | None = None,
    participants: float | None = None,
) -> EvidenceProfile:
    """The GRADE evidence profile of one pooled outcome.

    Parameters
    ----------
    result : PoolResult
        The pooled estimate (proportion or rate).
    outcome : str
        Its code (the key of ``certainty.yaml``).
    judgements : mapping of str to OutcomeJudgements, or OutcomeJudgements, optional
        The reviewers' judgements (from :func:`load_certainty`); without them the profile
        shows the data only and the certainty is "not assessed".
    rob : RiskOfBias, optional
        Risk-of-bias judgements of the studies (matched to the result's studies by label).
    high_risk : sequence of str, optional
        Overall judgements counted as high risk (default: ``rob.high_risk``).
    thresholds : sequence of float
        Decision thresholds on the result's scale (proportion, or rate per person-time
        unit) the CI is read against (the protocol's ``certainty.thresholds``).
    start : {"high", "moderate", "low", "very_low"}, optional
        Starting level (default: the judgements' own, else ``"high"``, as for prognosis).
    label : str, optional
        Words for the outcome (default: the judgements' label, else the code).
    participants : float, optional
        Participants (default: the sum of ``n`` for proportions; none for rates).

    Returns
    -------
    EvidenceProfile

    Raises
    ------
    review.errors.OptionError
        An unknown start level or a non-positive threshold.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions
    >>> df = pd.DataFrame({"events": [3, 10, 7], "n": [100, 400, 150]})
    >>> res = pool_proportions(df, measure="PLO", method="REML")
    >>> prof = evidence_profile(res, "any_event", thresholds=[0.05])
    >>> prof.numbers["crosses"], prof.certainty
    ((True,), None)
    """
    from review.meta import refit, regtest

    j: OutcomeJudgements | None
    if isinstance(judgements, OutcomeJudgements):
        j = judgements
    elif judgements is not None:
        j = judgements.get(outcome)
    else:
        j = None
    start = start or (j.start if j is not None and j.start else "high")
    if start not in LEVELS:
        raise OptionError(f"Invalid start {start!r}; must be one of {list(LEVELS)}")
    for t in thresholds:
        if not (isinstance(t, int | float) and math.isfinite(t) and t > 0):
            raise OptionError(f"thresholds must be positive numbers, got {t!r}")
    kind = getattr(result, "kind", "proportion")
    st = result.studies
    events = float(st["events"].sum())
    if participants is None and "n" in st.columns:
        participants = float(st["n"].sum())
    share, high_ids, rob_text = _high_risk_weight(result, rob, high_risk)
    lvl = f"{100 * result.level:.0f}%"
    pi = (
        f"{lvl} PI {_fmt_value(result.pi_low, kind)} to {_fmt_value(result.pi_high, kind)}"
        if math.isfinite(result.pi_low)
        else "no prediction interval"
    )
    incon = (
        f"I² = {result.i2:.0f}%, τ² = {result.tau2:.3g}; {pi}; Q p = {fmt_p(result.q_pvalue)}"
        if result.k > 1
        else "one study: inconsistency cannot be judged from the data"
    )
    ci = f"{lvl} CI {_fmt_value(result.ci_low, kind)} to {_fmt_value(result.ci_high, kind)}"
    crosses = tuple(bool(result.ci_low < t < result.ci_high) for t in thresholds)
    if thresholds:
        said = "; ".join(
            f"{'includes' if c else 'excludes'} the threshold {_fmt_value(t, kind)}"
            for t, c in zip(thresholds, crosses)
        )
        imp = f"{ci} {_unit(kind)}: {said}"
    else:
        imp = f"{ci} {_unit(kind)}; no decision threshold declared in the protocol"
    total = f"{events:.0f} events" + (
        f" among {participants:,.0f} participants" if participants is not None else ""
    )
    imp += f"; {total}"
    funnel_p = math.nan
    if result.k >= 10:
        target = refit(result, method="REML") if result.method == "GLMM" else result
        predictor: Literal["ninv", "sei"] = "ninv" if kind == "proportion" else "sei"
        rt = regtest(target, predictor=predictor)
        funnel_p = float(rt.pval)
        name = "Peters'" if predictor == "ninv" else "Egger's"
        pub = f"{name} test for funnel asymmetry p = {fmt_p(funnel_p)} (k = {result.k})"
    else:
        pub = (
            f"not tested: k = {result.k} < 10 studies, too few for a funnel-asymmetry test "
            "(Sterne et al. 2011)"
        )
    data = {
        "risk_of_bias": rob_text,
        "inconsistency": incon,
        "indirectness": "nothing to compute: judged from the studies' populations, settings "
        "and outcome definitions against the question",
        "imprecision": imp,
        "publication_bias": pub,
    }
    numbers = {
        "k": result.k,
        "events": events,
        "participants": participants,
        "share_weight_high_risk": share,
        "high_risk_studies": tuple(high_ids),
        "i2": result.i2,
        "tau2": result.tau2,
        "pi_low": result.pi_low,
        "pi_high": result.pi_high,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "thresholds": tuple(float(t) for t in thresholds),
        "crosses": crosses,
        "funnel_test_p": funnel_p,
    }
    certainty = None
    if j is not None:
        down = sum(d.downgrade for d in j.domains.values())
        idx = LEVELS.index(start) - down + j.upgrade
        certainty = LEVELS[min(max(idx, 0), len(LEVELS) - 1)]
    return EvidenceProfile(
        outcome=outcome,
        label=label or (j.label if j is not None and j.label else outcome),
        result=result,
        judgements=j,
        start=start,
        certainty=certainty,
        data=MappingProxyType(data),
        numbers=MappingProxyType(numbers),
    )


def evidence_profiles(
    results: Mapping[str, PoolResult],
    *,
    judgements: Mapping[str, OutcomeJudgements] | None = None,
    rob: RiskOfBias | None = None,
    high_risk: Sequence[str] | None = None,
    thresholds: Mapping[str, Sequence[float]] | None = None,
    start: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[EvidenceProfile]:
    """One evidence profile per pooled outcome, in the order of ``results``.

    Parameters
    ----------
    results : Mapping[str, PoolResult]
        Outcome code -> its pooled result (the analysis the Summary of Findings reports).
    judgements, rob, high_risk, start
        As for :func:`evidence_profile`.
    thresholds : Mapping[str, sequence of float], optional
        Outcome code -> decision thresholds (the protocol's ``certainty.thresholds``).
    labels : Mapping[str, str], optional
        Outcome code -> words (default: the judgements' labels, else the code).

    Returns
    -------
    list of EvidenceProfile

    Raises
    ------
    review.errors.OptionError
        A judged outcome or a threshold for an outcome that has no pooled result (a typo in
        ``certainty.yaml`` or the protocol would otherwise go unnoticed).
    """
    thresholds = dict(thresholds or {})
    for name, given in (("certainty judgements", judgements or {}), ("thresholds", thresholds)):
        stray = [c for c in given if c not in results]
        if stray:
            raise OptionError(
                f"{name} for outcome(s) {stray} that have no pooled result; the pooled "
                f"outcomes are {list(results)}"
            )
    return [
        evidence_profile(
            res,
            code,
            judgements=judgements,
            rob=rob,
            high_risk=high_risk,
            thresholds=thresholds.get(code, ()),
            start=start,
            label=(labels or {}).get(code),
        )
        for code, res in results.items()
    ]


# ---------------------------------------------------------------------- the SoF table
@dataclass(frozen=True, slots=True)
class SummaryOfFindings:
    """The GRADE Summary of Findings table: one row per outcome.

    Attributes
    ----------
    table : pandas.DataFrame
        ``outcome, estimate, ci, studies, participants, events, certainty, footnotes``
        (display text) and ``estimate_value, ci_low, ci_high`` (full precision, on the
        result's scale), ``certainty_level``, ``code`` (the outcome code).
    footnotes : tuple of (str, str)
        (mark, text): the reasons for rating down or up.
    notes : tuple of str
        What the table's columns mean and where the method comes from.
    level : float
        Confidence level of the intervals.
    """

    table: pd.DataFrame
    footnotes: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = field(default=())
    level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """The table (a copy)."""
        return self.table.copy()

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the table as CSV, one row per outcome; ``reasons`` holds the footnotes' text.

        Returns
        -------
        pathlib.Path
            The file written (atomically).
        """
        from review._io import write_atomic

        text = dict(self.footnotes)
        df = self.table.copy()
        df["reasons"] = [
            " | ".join(f"{m}. {text[m]}" for m in str(marks).split(", ") if m in text)
            for marks in df["footnotes"]
        ]
        p = Path(path)
        write_atomic(p, df.to_csv(index=False, lineterminator="\n"))
        return p

    def to_html(self) -> str:
        """A standalone HTML table with its footnotes."""
        cols = ["outcome", "estimate", "ci", "studies", "participants", "certainty"]
        heads = [
            "Outcome",
            "Estimate",
            f"{100 * self.level:.0f}% CI",
            "Studies",
            "Participants",
            "Certainty (GRADE)",
        ]
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(r[c]))}"
                + (
                    f"<sup>{html.escape(r['footnotes'])}</sup>"
                    if c == "certainty" and r["footnotes"]
                    else ""
                )
                + "</td>"
                for c in cols
            )
            + "</tr>"
            for _, r in self.table.iterrows()
        )
        foot = "".join(
            f"<li><sup>{html.escape(m)}</sup> {html.escape(t)}</li>" for m, t in self.footnotes
        )
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return (
            '<table class="summary-of-findings"><thead><tr>'
            + "".join(f"<th>{h}</th>" for h in heads)
            + f"</tr></thead><tbody>{rows}</tbody></table><ul>{foot}</ul>{notes}"
        )

    def save_html(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_html` as a standalone UTF-8 HTML page (atomically).

        Returns
        -------
        pathlib.Path
            The file written.
        """
        from review._io import write_atomic

        p = Path(path)
        write_atomic(
            p,
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            "<title>Summary of findings</title></head><body>\n"
            f"{self.to_html()}\n</body></html>\n",
        )
        return p

    def _repr_html_(self) -> str:
        return f"<div><p><b>Summary of findings</b></p>{self.to_html()}</div>"

    def summary(self) -> str:
        """Plain text."""
        cols = ["outcome", "estimate", "ci", "studies", "participants", "certainty", "footnotes"]
        lines = ["Summary of findings", self.table[cols].to_string(index=False), ""]
        lines += [f"{m}. {t}" for m, t in self.footnotes]
        lines += self.notes
        return "\n".join(lines)


def _marks() -> Any:
    i = 0
    while True:
        s, n = "", i
        while True:
            s = chr(ord("a") + n % 26) + s
            n = n // 26 - 1
            if n < 0:
                break
        yield s
        i += 1


def summary_of_findings(profiles: Sequence[EvidenceProfile]) -> SummaryOfFindings:
    """The Summary of Findings table of several outcomes.

    Parameters
    ----------
    profiles : sequence of EvidenceProfile
        One per outcome, in the table's order.

    Returns
    -------
    SummaryOfFindings

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions
    >>> res = pool_proportions(
    ...     pd.DataFrame({"events": [3, 10, 7], "n": [100, 400, 150]}), method="REML"
    ... )
    >>> sof = summary_of_findings([evidence_profile(res, "any_event")])
    >>> int(sof.table.loc[0, "studies"]), sof.table.loc[0, "certainty"]
    (3, 'not assessed')
    """
    import pandas as pd

    if not profiles:
        raise OptionError("summary_of_findings needs at least one evidence profile")
    marks = _marks()
    footnotes: list[tuple[str, str]] = []
    rows = []
    level = None
    for p in profiles:
        res = p.result
        kind = getattr(res, "kind", "proportion")
        level = res.level
        mine = []
        if p.judgements is not None:
            for d in DOMAINS:
                dj = p.judgements.domains[d]
                if dj.downgrade:
                    m = next(marks)
                    step = "one level" if dj.downgrade == 1 else "two levels"
                    footnotes.append(
                        (
                            m,
                            f"{_DOMAIN_LABELS[d]}: {dj.judgement.replace('_', ' ')}, rated "
                            f"down {step}. {dj.reason}",
                        )
                    )
                    mine.append(m)
            if p.judgements.upgrade:
                m = next(marks)
                footnotes.append(
                    (m, f"Rated up {p.judgements.upgrade} level(s): {p.judgements.upgrade_reason}")
                )
                mine.append(m)
        cert = (
            f"{_SYMBOLS[p.certainty]} {_LEVEL_LABELS[p.certainty]}"
            if p.certainty
            else "not assessed"
        )
        parts = p.numbers["participants"]
        rows.append(
            {
                "outcome": p.label,
                "estimate": f"{_fmt_value(res.estimate, kind)}"
                + (" per 100 person-years" if kind == "rate" else ""),
                "ci": f"{_fmt_value(res.ci_low, kind)} to {_fmt_value(res.ci_high, kind)}",
                "studies": int(res.k),
                "participants": "" if parts is None else f"{parts:,.0f}",
                "events": f"{p.numbers['events']:,.0f}",
                "certainty": cert,
                "footnotes": ", ".join(mine),
                "estimate_value": float(res.estimate),
                "ci_low": float(res.ci_low),
                "ci_high": float(res.ci_high),
                "certainty_level": p.certainty or "not_assessed",
                "code": p.outcome,
            }
        )
    kinds = {getattr(p.result, "kind", "proportion") for p in profiles}
    what = " and ".join(
        k
        for k, present in (
            ("pooled proportions of patients", "proportion" in kinds),
            ("pooled rates per 100 person-years", "rate" in kinds),
        )
        if present
    )
    notes = (
        f"Estimates are {what} with {100 * (level or 0.95):.0f}% confidence intervals; "
        "studies = number of studies, participants = patients in them.",
        "Certainty of the evidence (GRADE for overall prognosis, Iorio et al. BMJ 2015): "
        "a body of observational evidence starts at high and is rated down for risk of bias, "
        "inconsistency, indirectness, imprecision and publication bias; ⊕⊕⊕⊕ high, ⊕⊕⊕◯ "
        "moderate, ⊕⊕◯◯ low, ⊕◯◯◯ very low.",
    )
    return SummaryOfFindings(
        table=pd.DataFrame(rows),
        footnotes=tuple(footnotes),
        notes=notes,
        level=float(level or 0.95),
    )


# ---------------------------------------------------------------------- reporting
def _threshold_text(t: float, kind: str) -> str:
    if kind == "rate":
        return f"{100 * t:g} per 100 person-years"
    return f"{100 * t:g}%"


def methods_sentence(
    start: str = "high",
    thresholds: Mapping[str, Sequence[float]] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
) -> str:
    """The certainty methods in words (PRISMA 2020 item 15).

    Parameters
    ----------
    start : {"high", "moderate", "low", "very_low"}
        Starting level of the body of evidence.
    thresholds : Mapping[str, sequence of float], optional
        Outcome code -> decision thresholds (the protocol's ``certainty.thresholds``).
    labels : Mapping[str, str], optional
        Outcome code -> words (default: the code).
    kinds : Mapping[str, str], optional
        Outcome code -> ``"proportion"`` (thresholds as per cent, the default) or ``"rate"``
        (per 100 person-years).

    References
    ----------
    Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement. BMJ 2021;372:n71.

    Examples
    --------
    >>> methods_sentence("high", {"any_event": [0.05]}).startswith("The certainty of")
    True
    >>> methods_sentence("high", {"e": [0.02]}, labels={"e": "Event"}, kinds={"e": "rate"})[-40:]
    'protocol: Event: 2 per 100 person-years.'
    """
    if start not in LEVELS:
        raise OptionError(f"Invalid start {start!r}; must be one of {list(LEVELS)}")
    text = (
        "The certainty of each pooled estimate was rated with GRADE for overall prognosis "
        f"(Iorio et al., BMJ 2015;350:h870): starting at {_LEVEL_LABELS[start].lower()}, rated "
        "down for risk of bias, inconsistency, indirectness, imprecision and publication bias, "
        "each judgement with its reason and shown beside what the data suggest (share of "
        "weight from high-risk studies; I² and the prediction interval; the confidence interval "
        "against decision thresholds, with events; a funnel test only with ten or more studies)."
    )
    if thresholds:
        labels, kinds = labels or {}, kinds or {}
        parts = "; ".join(
            f"{labels.get(code, code)}: "
            + ", ".join(_threshold_text(t, kinds.get(code, "proportion")) for t in ts)
            for code, ts in thresholds.items()
        )
        text += f" Decision thresholds declared in the protocol: {parts}."
    return text


# ---------------------------------------------------------------------- a review's assessment
@dataclass(frozen=True, slots=True)
class CertaintyAssessment:
    """The certainty of the evidence for every pooled outcome of a review.

    Made by :func:`assess_certainty`; what notebook 09 shows and writes.

    Attributes
    ----------
    profiles : tuple of EvidenceProfile
        One per pooled outcome, in the protocol's order of outcomes.
    sof : SummaryOfFindings
        The outcomes the reviewers graded (``certainty.yaml``); before any is graded, every
        pooled outcome, "not assessed".
    analyses : pandas.DataFrame
        One row per declared outcome that an analysis pools: ``outcome, label, analysis``
        (the code of the analysis whose result is graded: the first the protocol declares
        for the outcome), ``analysis_label, status`` (``ok`` or why it has no result),
        ``thresholds, graded, in_summary``.
    methods : str
        The certainty methods in words (PRISMA 2020 item 15), from the protocol.
    notes : tuple of str
        What was read and what was left out, and why.
    """

    profiles: tuple[EvidenceProfile, ...]
    sof: SummaryOfFindings
    analyses: pd.DataFrame
    methods: str
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        graded = sum(p.certainty is not None for p in self.profiles)
        return f"<CertaintyAssessment: {len(self.profiles)} pooled outcomes, {graded} graded>"

    def profile(self, outcome: str) -> EvidenceProfile:
        """The evidence profile of ``outcome`` (a code)."""
        for p in self.profiles:
            if p.outcome == outcome:
                return p
        raise KeyError(outcome)

    def to_frame(self) -> pd.DataFrame:
        """One row per outcome and domain.

        Columns ``outcome, label, analysis, certainty, domain, judgement, downgrade, reason,
        data``.
        """
        import pandas as pd

        by_outcome = dict(zip(self.analyses["outcome"], self.analyses["analysis"]))
        frames = [
            p.to_frame().assign(
                outcome=p.outcome,
                label=p.label,
                analysis=by_outcome.get(p.outcome),
                certainty=p.certainty or "not assessed",
            )
            for p in self.profiles
        ]
        cols = ["outcome", "label", "analysis", "certainty", "domain", "judgement", "downgrade",
                "reason", "data"]  # fmt: skip
        if not frames:
            return pd.DataFrame(columns=cols)
        return pd.concat(frames, ignore_index=True)[cols]

    def save_tables(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Write the profiles and the Summary of Findings into ``folder``.

        ``certainty_profiles.csv`` (:meth:`to_frame`), ``summary_of_findings.csv`` and
        ``summary_of_findings.html``.

        Returns
        -------
        list of pathlib.Path
            The files written (atomically), in that order.
        """
        from review._io import write_atomic

        root = Path(folder)
        profiles = root / "certainty_profiles.csv"
        write_atomic(profiles, self.to_frame().to_csv(index=False, lineterminator="\n"))
        return [
            profiles,
            self.sof.to_csv(root / "summary_of_findings.csv"),
            self.sof.save_html(root / "summary_of_findings.html"),
        ]

    def summary(self) -> str:
        """Plain text: the methods, each profile, the Summary of Findings, the notes."""
        parts = [self.methods, ""]
        parts += [p.summary() + "\n" for p in self.profiles]
        parts.append(self.sof.summary())
        if self.notes:
            parts += ["", "Notes:"] + [f"  {n}" for n in self.notes]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        out = [f"<div><p>{html.escape(self.methods)}</p>"]
        out += [p._repr_html_() for p in self.profiles]
        if self.notes:
            out.append(
                "<p><b>Notes</b></p><ul>"
                + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
                + "</ul>"
            )
        return "".join(out) + "</div>"


def _strata_rob(rob: RiskOfBias, r: AnalysisResult, studies: pd.DataFrame) -> tuple[Any, str]:
    """The risk of bias of the studies an analysis pools whose strata were pooled into one row.

    A study pooled from strata takes the strata's common overall judgement; strata judged
    differently leave it not judged (said in a note), so no judgement is invented.
    """
    import dataclasses

    import pandas as pd

    col = r.analysis.strata
    if not col or col not in studies.columns:
        return rob, ""
    table = rob.table
    overall = dict(zip(table["study_id"], table["overall"]))
    rows, mixed = [], []
    keys = studies[col].map(lambda v: "" if v is None or v is pd.NA or v != v else str(v))
    for key in dict.fromkeys(k for k in keys if k):
        members = studies.loc[keys == key, "study_id"].astype(str).tolist()
        levels = [overall.get(m) for m in members]
        judged = {x for x in levels if isinstance(x, str)}
        common = (
            judged.pop() if len(judged) == 1 and all(isinstance(x, str) for x in levels) else None
        )
        if common is None:
            mixed.append(key)
        rows.append({"study_id": key, "label": key, "overall": common})
    if not rows:
        return rob, ""
    extra = pd.DataFrame(rows).reindex(columns=table.columns)
    note = ""
    if mixed:
        note = (
            f"{r.analysis.code}: strata of {', '.join(mixed)} are judged differently or not all "
            "judged; the pooled study counts as not judged"
        )
    return dataclasses.replace(rob, table=pd.concat([table, extra], ignore_index=True)), note


def _review_rob(paths: ReviewPaths, protocol: Any) -> tuple[Any, tuple[str, ...] | None, str]:
    """The review's risk-of-bias judgements, if its protocol declares a tool."""
    if not protocol.appraisal:
        return None, None, "the protocol declares no risk-of-bias tool (no 'appraisal:' block)"
    from review.appraisal import AppraisalLog, appraisal_plan

    plan = appraisal_plan(protocol, paths.root)
    if not paths.appraisal_log.is_file():
        return None, plan.high_risk, f"no risk-of-bias assessment yet ({paths.appraisal_log})"
    log = AppraisalLog.for_review(paths.root, plan=plan)
    return log.judgements(high_risk=plan.high_risk), plan.high_risk, ""


def assess_certainty(
    analyses: AnalysisSet,
    review_dir: str | os.PathLike[str],
    *,
    rob: RiskOfBias | None = None,
) -> CertaintyAssessment:
    """The GRADE evidence profile of every pooled outcome of a review, and its SoF table.

    Each outcome the protocol's analyses pool is graded on the result of the first analysis
    the protocol declares for it (declare an outcome's main analysis first; its alternatives
    are the sensitivity analyses'). The reviewers' judgements are read from the review's
    ``certainty.yaml`` when it exists (without it every profile shows the data only, "not
    assessed"); the starting level and the decision thresholds from the protocol's
    ``certainty:`` block; the risk of bias from the appraisal log when the protocol declares
    a tool (:mod:`review.appraisal`). A study whose strata an analysis pools into one row
    (``strata:``) takes its strata's common judgement.

    Parameters
    ----------
    analyses : AnalysisSet
        From :func:`review.analysis.run_analyses`.
    review_dir : path-like
        The review folder.
    rob : RiskOfBias, optional
        Risk-of-bias judgements to use instead of the review's appraisal log.

    Returns
    -------
    CertaintyAssessment

    Raises
    ------
    review.errors.CertaintyError
        ``certainty.yaml`` that fails validation, or judges an outcome the protocol does not
        declare or no analysis pools (naming the file and the field).

    References
    ----------
    Iorio A, Spencer FA, Falavigna M, et al. BMJ 2015;350:h870 (GRADE for prognosis).
    Page MJ, McKenzie JE, Bossuyt PM, et al. BMJ 2021;372:n71 (PRISMA 2020 items 15, 22).
    """
    import pandas as pd

    from review.paths import ReviewPaths

    paths = ReviewPaths(review_dir)
    protocol = analyses.protocol
    block = dict(protocol.certainty or {})
    start = str(block.get("start", "high"))
    declared_thr = {k: tuple(v) for k, v in (block.get("thresholds") or {}).items()}
    outcomes = {o.code: o for o in protocol.outcomes if o.code}
    notes: list[str] = []

    judgements: dict[str, OutcomeJudgements] | None = None
    if paths.certainty.is_file():
        judgements = load_certainty(paths.certainty)
        for code in judgements:
            if code not in outcomes:
                raise CertaintyError(
                    f"judgements for {code!r}, which is not an outcome of the protocol; the "
                    f"outcomes are {list(outcomes)}",
                    path=paths.certainty,
                    column=f"outcomes.{code}",
                )
    else:
        notes.append(
            f"no judgements yet ({paths.certainty}): every profile shows the data only; write "
            "the reviewers' judgement and reason per domain there (docs/DESIGN.md)"
        )

    rob_note = ""
    high_risk: tuple[str, ...] | None = None
    if rob is None:
        rob, high_risk, rob_note = _review_rob(paths, protocol)
    if rob_note:
        notes.append(f"risk of bias: {rob_note}")
    elif rob is not None and rob.unjudged():
        notes.append(
            "risk of bias: no overall judgement yet for "
            + ", ".join(rob.unjudged())
            + " (unanswered items or open conflicts); their weight counts as not judged"
        )

    chosen: dict[str, AnalysisResult] = {}
    for r in analyses.results.values():
        # the first univariate analysis of each outcome is graded (a multilevel alternative
        # keeps strata as rows: GRADE's domains are read off a one-row-a-study fit)
        if r.analysis.model.multilevel:
            continue
        if r.outcome.code is not None and r.outcome.code not in chosen:
            chosen[r.outcome.code] = r
    rows, results, robs = [], {}, {}
    for code in outcomes:
        if code not in chosen:
            continue
        r = chosen[code]
        graded = judgements is not None and code in judgements
        rows.append(
            {
                "outcome": code,
                "label": outcomes[code].label,
                "analysis": r.analysis.code,
                "analysis_label": r.analysis.label,
                "status": r.status,
                "thresholds": ", ".join(
                    _threshold_text(t, outcomes[code].kind or "proportion")
                    for t in declared_thr.get(code, ())
                ),
                "graded": graded,
            }
        )
        if r.pooled is None:
            notes.append(
                f"{outcomes[code].label}: not graded, {r.analysis.code} did not run ({r.status})"
            )
            continue
        results[code] = cast("PoolResult", r.pooled)  # univariate: chosen above
        if rob is not None:
            robs[code], note = _strata_rob(rob, r, analyses.extraction.studies)
            if note:
                notes.append(note)
    if judgements is not None:
        for code in judgements:
            if code not in chosen:
                raise CertaintyError(
                    f"judgements for {code!r}, an outcome no declared analysis pools; the "
                    f"pooled outcomes are {list(chosen)}",
                    path=paths.certainty,
                    column=f"outcomes.{code}",
                )
    for code in declared_thr:
        if code not in results:
            notes.append(f"thresholds for {code} are not used: no analysis pools it")

    labels = {
        code: (
            judgements[code].label
            if judgements is not None and code in judgements and judgements[code].label
            else outcomes[code].label
        )
        for code in results
    }
    profiles = [
        evidence_profile(
            res,
            code,
            judgements=judgements,
            rob=robs.get(code),
            high_risk=high_risk,
            thresholds=declared_thr.get(code, ()),
            start=block.get("start"),
            label=labels[code],
        )
        for code, res in results.items()
    ]
    judged = [p for p in profiles if p.certainty is not None]
    in_summary = judged or profiles
    ungraded = [p.outcome for p in profiles if p.certainty is None]
    if judged and ungraded:
        notes.append(
            "not graded in certainty.yaml, so not in the Summary of Findings: "
            + ", ".join(ungraded)
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "outcome",
            "label",
            "analysis",
            "analysis_label",
            "status",
            "thresholds",
            "graded",
        ],
    )
    frame["in_summary"] = frame["outcome"].isin([p.outcome for p in in_summary])
    if not profiles:
        raise CertaintyError(
            "no pooled outcome to grade: no declared analysis has a pooled result",
            path=protocol.path,
            column="analyses",
        )
    return CertaintyAssessment(
        profiles=tuple(profiles),
        sof=summary_of_findings(in_summary),
        analyses=frame,
        methods=methods_sentence(
            start,
            {c: t for c, t in declared_thr.items() if c in results},
            labels={c: outcomes[c].label for c in outcomes},
            kinds={c: outcomes[c].kind or "proportion" for c in outcomes},
        ),
        notes=tuple(notes),
    )
