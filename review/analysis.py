"""The declared analyses, run: protocol + validated extraction in, frozen results out.

This step sits between the extraction (:mod:`review.extraction`) and the figures
(:mod:`review.plots`). Every analysis the protocol declares (``analyses:``, docs/DESIGN.md)
is run the same way, whatever the review:

* :func:`run_analyses` pools each analysis's outcome with its model (counts through
  :func:`review.meta.pool_proportions` / :func:`review.meta.pool_rates`; with
  ``estimates: include`` the studies that give only an estimate join through
  :func:`review.meta.pool_estimates`; with ``model.structure: multilevel`` the strata of
  each study are kept and pooled by :func:`review.meta.pool_multilevel`), then its
  subgroups (a test for subgroup differences each) and its moderators (meta-regression).
  It returns an :class:`AnalysisSet`: one :class:`AnalysisResult` an analysis and the
  tidy tables (``pooled_table()``: one row a declared analysis).
* :func:`run_sensitivity` runs the declared sensitivity analyses of each: method
  sensitivity (with the Freeman-Tukey guardrail), leave-one-out with influence, a
  small-study test for the funnel plot, and the exclusion sets.
* :func:`compare_published` sets the review's estimates beside the published ones the
  protocol's ``comparisons`` name.

Risk of bias as a covariate
---------------------------
A covariate declared ``from: appraisal`` (:class:`review.protocol.Covariate`) is each study's
overall risk-of-bias judgement: :func:`appraisal_covariates` reads the appraisal log
(:class:`review.appraisal.AppraisalLog`) with the protocol's tool and rule, and
:func:`run_analyses` joins it to the studies before any analysis, so that a subgroup
analysis (``subgroups: [risk_of_bias]``) and an exclusion set (``where: {column:
risk_of_bias, in: [high]}``) work like any covariate's. A study without a judgement (not
assessed, items unanswered, a conflict without consensus) has no value: each analysis names
it with the reason (left out of the subgroups, kept by the exclusion sets); a covariate
declared ``required: true`` stops the analyses instead (:class:`review.errors.
StageNotReached`). Strata of one study pooled into one row (``strata:``) take the worst of
their strata's judgements. Data flow one way: the analyses read the appraisal; the
appraisal never reads the analyses.

An analysis that cannot run (too few studies, a fit that does not converge) does not stop
the others: its result says why, and its table row has no numbers.
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import numpy as np
import pandas as pd

from review._io import write_atomic
from review.errors import ConvergenceError, InputError, OptionError, ProtocolError, StageNotReached
from review.extraction import Extraction
from review.meta import (
    influence,
    leave_one_out,
    meta_regression,
    method_sensitivity,
    pool_estimates,
    pool_multilevel,
    pool_proportions,
    pool_rates,
    refit,
    regtest,
    study_yi_vi,
    subgroups,
)
from review.meta.multilevel import MultilevelResult
from review.meta.results import (
    FTGuardrailResult,
    InfluenceResult,
    LeaveOneOutResult,
    MetaRegressionResult,
    PoolResult,
    RegtestResult,
    SensitivityResult,
    SubgroupResult,
)
from review.meta.sensitivity import ft_guardrail
from review.protocol import Analysis, Comparison, Covariate, ExcludeSet, Outcome, Protocol
from review.report import (
    POOLED_COLUMNS,
    compare_estimates,
    load_published,
    pooled_table,
    subgroup_test_row,
)

__all__ = [
    "AnalysisResult",
    "AnalysisSet",
    "ComparisonResult",
    "ComparisonSet",
    "SensitivityAnalyses",
    "SensitivitySet",
    "appraisal_covariates",
    "compare_published",
    "run_analyses",
    "run_sensitivity",
]

_FITTING_ERRORS = (InputError, OptionError, ConvergenceError)


def _cell_text(v: Any) -> str:
    """A typed cell as it is written in a CSV (``True`` -> ``"true"``, 2 -> ``"2"``)."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _names(labels: Any) -> str:
    return ", ".join(str(x) for x in labels)


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    write_atomic(path, frame.to_csv(index=False))
    return path


# --------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True, eq=False)
class AnalysisResult:
    """One declared analysis, run.

    Attributes
    ----------
    analysis : Analysis
        The declaration (code, label, model, subgroups, moderators, display ...).
    outcome : Outcome
        The outcome pooled.
    pooled : PoolResult, MultilevelResult or None
        The pooled estimate (a :class:`review.meta.multilevel.MultilevelResult` for an
        analysis declared ``model.structure: multilevel``); ``None`` when the analysis could
        not run (``status`` says why).
    status : str
        ``"ok"``, or why there is no pooled estimate.
    studies : pandas.DataFrame
        One row a study (a stratum, in a multilevel analysis) of the review: ``label,
        basis`` (``counts``, ``estimate``, ``events_only``, ``not_reported``), ``used``
        (bool), ``reason`` (why left out, or how it entered), and for rates ``time`` and
        ``time_source`` (reported or derived).
    subgroups : Mapping[str, SubgroupResult]
        Covariate code -> subgroup analysis, for the subgroup analyses that could be made.
    subgroup_tests : pandas.DataFrame
        One row a declared subgroup covariate: ``by, groups, q_between, df, pvalue, note``
        (no statistics, and the reason in ``note``, where a test cannot be made).
    moderators : Mapping[str, MetaRegressionResult]
        ``"m1 + m2"`` -> meta-regression, for the moderator sets that could be fitted.
    moderator_notes : Mapping[str, str]
        ``"m1 + m2"`` -> which studies were left out, the model used, or why it could not
        be fitted.
    notes : tuple of str
        Studies left out and why, derived person-time, the engine's notes.
    """

    analysis: Analysis
    outcome: Outcome
    pooled: PoolResult | MultilevelResult | None
    status: str
    studies: pd.DataFrame
    subgroups: Mapping[str, SubgroupResult]
    subgroup_tests: pd.DataFrame
    moderators: Mapping[str, MetaRegressionResult]
    moderator_notes: Mapping[str, str]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether a pooled estimate exists."""
        return self.pooled is not None

    def summary(self) -> str:
        """Plain text: the declaration, the pooled result, subgroups, moderators, notes."""
        a = self.analysis
        lines = [f"{a.label} [{a.code}]: {self.outcome.label}"]
        if a.description:
            lines.append(a.description)
        lines.append("")
        if self.pooled is None:
            lines.append(f"Not run: {self.status}")
        else:
            lines.append(self.pooled.summary())
        if len(self.subgroup_tests):
            lines += ["", "Tests for subgroup differences:"]
            for t in self.subgroup_tests.to_dict("records"):
                stat = (
                    f"Q = {float(t['q_between']):.4g}, df = {t['df']}, p = {float(t['pvalue']):.4g}"
                    if not math.isnan(float(t["pvalue"]))
                    else "not tested"
                )
                lines.append(f"  {t['by']}: {t['groups']} groups, {stat}. {t['note']}".rstrip())
        for key, m in self.moderators.items():
            lines += ["", f"Meta-regression on {key}: {self.moderator_notes.get(key, '')}"]
            lines.append(m.summary())
        for key, why in self.moderator_notes.items():
            if key not in self.moderators:
                lines += ["", f"Meta-regression on {key}: {why}"]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The pooled-table row of this analysis (see :meth:`AnalysisSet.pooled_table`)."""
        return _pooled_rows([self])

    def _repr_html_(self) -> str:
        a = self.analysis
        out = f"<div><h4>{html.escape(a.label)} <code>{html.escape(a.code)}</code></h4>"
        if a.description:
            out += f"<p>{html.escape(a.description)}</p>"
        if self.pooled is None:
            out += f"<p><b>Not run:</b> {html.escape(self.status)}</p>"
        else:
            out += self.pooled._repr_html_()
        out += "<p><b>Studies</b></p>" + self.studies.to_html(index=False, na_rep="")
        if len(self.subgroup_tests):
            out += "<p><b>Tests for subgroup differences</b></p>" + self.subgroup_tests.to_html(
                index=False, na_rep=""
            )
        for key, m in self.moderators.items():
            note = html.escape(self.moderator_notes.get(key, ""))
            out += f"<p><b>Meta-regression on {html.escape(key)}</b> {note}</p>" + m._repr_html_()
        for key, why in self.moderator_notes.items():
            if key not in self.moderators:
                out += f"<p><b>Meta-regression on {html.escape(key)}:</b> {html.escape(why)}</p>"
        if self.notes:
            out += "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>"
        return out + "</div>"

    def __repr__(self) -> str:
        what = repr(self.pooled) if self.pooled is not None else f"not run: {self.status}"
        return f"<AnalysisResult {self.analysis.code}: {what}>"


#: Columns of :meth:`AnalysisSet.pooled_table`: :data:`review.report.POOLED_COLUMNS` with
#: the structure, the number of studies beside k, the multilevel model's two variance
#: components beside tau^2, and the status.
_POOLED_TABLE_COLUMNS = [
    *POOLED_COLUMNS[: POOLED_COLUMNS.index("k")],
    "structure",
    "k",
    "studies",
    *POOLED_COLUMNS[POOLED_COLUMNS.index("k") + 1 : POOLED_COLUMNS.index("tau2") + 1],
    "sigma2_study",
    "sigma2_stratum",
    *POOLED_COLUMNS[POOLED_COLUMNS.index("tau2") + 1 :],
    "status",
]


def _multilevel_row(label: str, res: MultilevelResult) -> dict[str, Any]:
    """The pooled-table row of a multilevel fit: k strata, the studies, both components."""
    size = "n" if res.kind == "proportion" else "time"
    return {
        "analysis": label, "kind": res.kind, "measure": res.measure, "method": res.method,
        "test": res.test, "structure": "multilevel", "k": res.k, "studies": res.n_studies,
        "events": float(res.data["events"].sum()), "total": float(res.data[size].sum()),
        "estimate": res.estimate, "ci_low": res.ci_low, "ci_high": res.ci_high,
        "pi_low": res.pi_low, "pi_high": res.pi_high, "pi_method": "metafor",
        "tau2": np.nan, "sigma2_study": res.sigma2_study,
        "sigma2_stratum": res.sigma2_stratum, "i2": res.i2, "q": res.q, "q_df": res.q_df,
        "q_pvalue": res.q_pvalue, "converged": res.converged, "status": "ok",
    }  # fmt: skip


def _pooled_rows(results: list[AnalysisResult]) -> pd.DataFrame:
    ok = {r.analysis.label: r.pooled for r in results if isinstance(r.pooled, PoolResult)}
    table = pooled_table(ok)
    rows = []
    row: dict[Any, Any]
    for r in results:
        if isinstance(r.pooled, MultilevelResult):
            row = _multilevel_row(r.analysis.label, r.pooled)
        elif r.pooled is not None:
            row = table[table["analysis"] == r.analysis.label].iloc[0].to_dict()
            row.update(structure="univariate", studies=row["k"], status="ok")
        else:
            row = {c: np.nan for c in table.columns}
            row.update(
                analysis=r.analysis.label,
                kind=r.outcome.kind,
                measure=r.analysis.model.measure,
                method=r.analysis.model.method,
                test=r.analysis.model.test,
                pi_method=r.analysis.model.pi_method,
                structure=r.analysis.model.structure,
                status=r.status,
            )
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=_POOLED_TABLE_COLUMNS)


@dataclass(frozen=True, slots=True, eq=False)
class AnalysisSet:
    """Every declared analysis of a review, run.

    Attributes
    ----------
    protocol : Protocol
    extraction : Extraction
    results : Mapping[str, AnalysisResult]
        Analysis code -> result, in the protocol's order.
    """

    protocol: Protocol
    extraction: Extraction
    results: Mapping[str, AnalysisResult]

    def __getitem__(self, code: str) -> AnalysisResult:
        return self.results[code]

    def __iter__(self) -> Any:
        return iter(self.results.values())

    def __len__(self) -> int:
        return len(self.results)

    def pooled_table(self) -> pd.DataFrame:
        """One row a declared analysis, labelled as the protocol labels it.

        Returns
        -------
        pandas.DataFrame
            The columns of :func:`review.report.pooled_table` (``analysis, kind, measure,
            method, test, k, events, total, estimate, ci_low, ci_high, pi_low, pi_high,
            pi_method, tau2, i2, q, q_df, q_pvalue, converged``, full precision) with
            ``structure`` (``univariate`` or ``multilevel``) before ``k``, ``studies`` after
            it (k counts strata in a multilevel model, ``studies`` the studies; they are
            equal otherwise), ``sigma2_study, sigma2_stratum`` after ``tau2`` (the
            multilevel model's two variance components; its ``tau2`` is empty), and
            ``status`` (``ok``, or why the analysis has no numbers).
        """
        return _pooled_rows(list(self.results.values()))

    def subgroup_table(self) -> pd.DataFrame:
        """The tests for subgroup differences of every analysis, one table.

        Columns ``analysis`` then those of :attr:`AnalysisResult.subgroup_tests`.
        """
        frames = [
            r.subgroup_tests.assign(analysis=r.analysis.code)
            for r in self.results.values()
            if len(r.subgroup_tests)
        ]
        if not frames:
            return pd.DataFrame(
                columns=[
                    "analysis",
                    "by",
                    "groups",
                    "k_per_group",
                    "q_between",
                    "df",
                    "pvalue",
                    "note",
                ]
            )
        out = pd.concat(frames, ignore_index=True)
        return out[["analysis", *[c for c in out.columns if c != "analysis"]]]

    def moderator_table(self) -> pd.DataFrame:
        """Every meta-regression coefficient, one table.

        Columns ``analysis, moderators, term, estimate, se, zval, pval, ci_low, ci_high, k,
        qm, qm_df, qm_pvalue, tau2, r2, note``.
        """
        rows = []
        for r in self.results.values():
            for key, m in r.moderators.items():
                for c in m.coefficients.itertuples(index=False):
                    rows.append(
                        {
                            "analysis": r.analysis.code,
                            "moderators": key,
                            "term": c.term,
                            "estimate": c.estimate,
                            "se": c.se,
                            "zval": c.zval,
                            "pval": c.pval,
                            "ci_low": c.ci_low,
                            "ci_high": c.ci_high,
                            "k": m.k,
                            "qm": m.qm,
                            "qm_df": m.qm_df,
                            "qm_pvalue": m.qm_pvalue,
                            "tau2": m.tau2,
                            "r2": m.r2,
                            "note": r.moderator_notes.get(key, ""),
                        }
                    )
        cols = ["analysis", "moderators", "term", "estimate", "se", "zval", "pval", "ci_low",
                "ci_high", "k", "qm", "qm_df", "qm_pvalue", "tau2", "r2", "note"]  # fmt: skip
        return pd.DataFrame(rows, columns=cols)

    def studies_table(self) -> pd.DataFrame:
        """Which study entered which analysis, and how.

        Columns ``analysis`` then those of :attr:`AnalysisResult.studies`.
        """
        frames = [r.studies.assign(analysis=r.analysis.code) for r in self.results.values()]
        if not frames:
            return pd.DataFrame(columns=["analysis", "label", "basis", "used", "reason"])
        out = pd.concat(frames, ignore_index=True)
        return out[["analysis", *[c for c in out.columns if c != "analysis"]]]

    def save_tables(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Write the tables into ``folder``; returns the paths written.

        ``pooled.csv``, ``subgroup_tests.csv``, ``meta_regression.csv``,
        ``analysis_studies.csv``.
        """
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        return [
            _write_csv(self.pooled_table(), root / "pooled.csv"),
            _write_csv(self.subgroup_table(), root / "subgroup_tests.csv"),
            _write_csv(self.moderator_table(), root / "meta_regression.csv"),
            _write_csv(self.studies_table(), root / "analysis_studies.csv"),
        ]

    def to_frame(self) -> pd.DataFrame:
        """The pooled table (:meth:`pooled_table`)."""
        return self.pooled_table()

    def summary(self) -> str:
        """Every analysis's summary, one after the other."""
        if not self.results:
            return "The protocol declares no analyses."
        return ("\n\n" + "=" * 72 + "\n\n").join(r.summary() for r in self.results.values())

    def _repr_html_(self) -> str:
        if not self.results:
            return "<p>The protocol declares no analyses.</p>"
        head = "<p><b>Pooled estimates</b></p>" + self.pooled_table().to_html(
            index=False, na_rep="", float_format=lambda x: f"{x:.4g}"
        )
        return "<div>" + head + "".join(r._repr_html_() for r in self.results.values()) + "</div>"

    def __repr__(self) -> str:
        ok = sum(r.ok for r in self.results.values())
        return f"<AnalysisSet: {len(self.results)} analyses, {ok} pooled>"


# --------------------------------------------------------------------------- running
def _labelled(pooled: PoolResult, column: str, values: Mapping[str, str]) -> PoolResult:
    """The result with a categorical column's codes replaced by their labels (for display)."""
    if not values or all(k == v for k, v in values.items()):
        return pooled
    data = pooled.data.copy()
    data[column] = data[column].map(lambda v: values.get(v, v) if isinstance(v, str) else v)
    return dataclasses.replace(pooled, data=data)


def _quiet(fn: Any, *args: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _cluster_keys(table: pd.DataFrame, column: str) -> pd.Series:
    """The study of each row of a multilevel analysis: its ``column`` value, else its label.

    A row with an empty value is a study of its own, named by its label (by its label and
    ``study_id`` where the label is also the name of a study of strata).
    """
    keys = table[column].map(_cell_text)
    own = keys == ""
    labels = table["label"].astype(str)
    clash = own & labels.isin(set(keys[~own]))
    keys[own] = labels[own]
    keys[clash] = labels[clash] + " (" + table.loc[clash, "study_id"].astype(str) + ")"
    return keys


def _pool(
    a: Analysis, o: Outcome, table: pd.DataFrame
) -> tuple[PoolResult | MultilevelResult | None, str, pd.DataFrame, list[str]]:
    """Pool one analysis; returns (result, status, per-study table, notes)."""
    kind = str(o.kind)
    size = "n" if kind == "proportion" else "time"
    m = a.model
    notes: list[str] = []
    use_est = a.estimates == "include"
    used = (table["basis"] == "counts") | (use_est & (table["basis"] == "estimate"))
    reason = pd.Series("", index=table.index, dtype=object)
    reason[table["basis"] == "counts"] = "counts"
    reason[table["basis"] == "estimate"] = (
        "estimate (" + table["estimate_type"].astype(str) + ")"
        if use_est
        else "left out: only an estimate (the analysis says estimates: exclude)"
    )
    reason[table["basis"] == "events_only"] = (
        f"left out: events without {'denominator' if kind == 'proportion' else 'person-time'}"
    )
    reason[table["basis"] == "not_reported"] = "not reported"
    reason[table["basis"] == "strata_partial"] = "left out: only some of its strata report it"
    studies = pd.DataFrame(
        {"label": table["label"], "basis": table["basis"], "used": used, "reason": reason}
    )
    if kind == "rate":
        studies["time"] = table["time"]
        studies["time_source"] = table["time_source"]
    studies = studies.reset_index(drop=True)
    n_est = int((table["basis"] == "estimate").sum())
    if n_est and not use_est:
        notes.append(
            f"{n_est} stud{'y gives' if n_est == 1 else 'ies give'} only an estimate and "
            f"{'is' if n_est == 1 else 'are'} left out (estimates: exclude): "
            f"{_names(table.loc[table['basis'] == 'estimate', 'label'])}"
        )
    partial = table["basis"] == "events_only"
    if partial.any():
        notes.append(
            f"left out, events without {'denominator' if kind == 'proportion' else 'person-time'}"
            f": {_names(table.loc[partial, 'label'])}"
        )
    frame = table[used]
    if kind == "rate":
        derived = frame[(frame["basis"] == "counts") & (frame["time_source"] != "reported")]
        if len(derived):
            how = "; ".join(sorted(set(derived["time_source"].astype(str))))
            notes.append(
                f"person-time derived ({how}) for {len(derived)} of {len(frame)} studies: "
                f"{_names(derived['label'])}"
            )
    drop = ["estimate", "ci_low", "ci_high", "se", "ci_level", "estimate_type", "basis"]
    res: PoolResult | MultilevelResult
    try:
        if m.multilevel:
            column = cast(str, a.strata)
            keys = _cluster_keys(table, column)
            strata = (table[column].map(_cell_text) != "") & used
            why = "counts: stratum of " + keys[strata]
            studies.loc[strata.to_numpy(), "reason"] = why.to_numpy()
            data = frame.drop(columns=drop).assign(**{column: keys[used]})
            res = _quiet(
                pool_multilevel,
                data,
                cluster=column,
                events="events",
                **({"n": "n"} if kind == "proportion" else {"time": "time"}),
                measure=cast(Any, m.measure),
                method=cast(Any, m.method),
                test=cast(Any, m.test),
                dfs=cast(Any, m.dfs),
                level=m.level,
                label="label",
            )
        elif use_est and (frame["basis"] == "estimate").any():
            yv = study_yi_vi(frame, kind=kind, measure=cast(Any, m.measure))
            # the reported estimates stay in the data: method sensitivity redoes yi/vi
            data = frame.drop(columns=["basis"]).join(yv[["yi", "vi"]])
            res = _quiet(
                pool_estimates,
                data,
                measure=cast(Any, m.measure),
                method=cast(Any, m.method),
                test=cast(Any, m.test),
                level=m.level,
                pi_method=cast(Any, m.pi_method),
                label="label",
                events="events",
                **{size: size},
            )
            conv = dict(zip(frame.loc[yv.index, "label"], yv["how"]))
            studies.loc[studies["used"], "reason"] = [
                f"{r}: {conv[lab]}" if lab in conv else r
                for lab, r in zip(
                    studies.loc[studies["used"], "label"], studies.loc[studies["used"], "reason"]
                )
            ]
        else:
            data = frame.drop(columns=drop)
            fit = pool_proportions if kind == "proportion" else pool_rates
            kw = {"n": "n"} if kind == "proportion" else {"time": "time"}
            res = _quiet(
                fit,
                data,
                events="events",
                measure=m.measure,
                method=m.method,
                test=m.test,
                level=m.level,
                pi_method=m.pi_method,
                label="label",
                **kw,
            )
    except _FITTING_ERRORS as exc:
        return None, str(exc), studies, notes
    return res, "ok", studies, notes


def _subgroups(
    res: PoolResult, a: Analysis, protocol: Protocol
) -> tuple[dict[str, SubgroupResult], pd.DataFrame, list[str]]:
    out: dict[str, SubgroupResult] = {}
    rows = []
    notes: list[str] = []
    for code in a.subgroups:
        cov = protocol.covariates[code]
        base = res
        missing = res.data[code].isna()
        # groups declared compare: false (a mix of the other groups, "not reported") are
        # shown in the notes but never set against the groups they mix
        mixed = res.data[code].map(_cell_text).isin(cov.not_compared) & ~missing
        for v in cov.not_compared:
            got = res.data[code].map(_cell_text) == v
            if got.any():
                notes.append(
                    f"subgroups by {code}: {cov.values.get(v, v)} ({int(got.sum())} "
                    f"stud{'y' if got.sum() == 1 else 'ies'}: {_names(res.data.loc[got, 'label'])})"
                    " not compared (declared compare: false)"
                )
        if missing.any():
            left = _names(res.data.loc[missing, "label"])
            notes.append(f"subgroups by {code}: left out, no value: {left}")
        if missing.any() or mixed.any():
            try:
                base = _quiet(refit, res, res.data[~missing & ~mixed])
            except _FITTING_ERRORS as exc:
                rows.append(subgroup_test_row(code, res.data.loc[~missing & ~mixed, code], exc))
                continue
        base = _labelled(base, code, cov.values)
        try:
            sub = _quiet(subgroups, base, by=code)
        except _FITTING_ERRORS as exc:
            rows.append(subgroup_test_row(code, base.data[code], exc))
            continue
        out[code] = sub
        rows.append(subgroup_test_row(code, base.data[code], sub))
    cols = ["by", "groups", "k_per_group", "q_between", "df", "pvalue", "note"]
    return out, pd.DataFrame(rows, columns=cols), notes


def _iv(res: PoolResult) -> tuple[PoolResult, str]:
    """An inverse-variance fit of the same studies: the result itself, or its REML refit."""
    if res.method != "GLMM":
        return res, ""
    fit = _quiet(refit, res, method="REML")
    return fit, f"inverse-variance refit ({res.measure}, REML) of the {res.method} analysis"


def _moderators(
    res: PoolResult, a: Analysis
) -> tuple[dict[str, MetaRegressionResult], dict[str, str]]:
    out: dict[str, MetaRegressionResult] = {}
    why: dict[str, str] = {}
    for mods in a.moderators:
        key = " + ".join(mods)
        missing = res.data[list(mods)].isna().any(axis=1)
        parts = []
        try:
            change = {"method": "REML"} if res.method == "GLMM" else {}
            base = res
            if missing.any() or change:
                base = _quiet(refit, res, res.data[~missing], **change)
            if change:
                parts.append(f"model: {res.measure}, REML (meta-regression needs study weights)")
            if missing.any():
                parts.append(f"left out, no value: {_names(res.data.loc[missing, 'label'])}")
            out[key] = _quiet(meta_regression, base, mods=list(mods))
            why[key] = "; ".join(parts)
        except _FITTING_ERRORS as exc:
            why[key] = f"not fitted: {exc}"
    return out, why


def _combine_strata(
    table: pd.DataFrame, column: str, protocol: Protocol, kind: str
) -> tuple[pd.DataFrame, list[str]]:
    """Rows sharing a non-empty ``column`` value (strata of one study) become one row.

    Counts and person-time are summed (the strata partition the study's patients); a
    covariate or field keeps its value when every stratum has the same one, else it is
    empty (and the study is left out of subgroups and meta-regressions on it). A study some
    of whose strata do not report the outcome is left out (its partial sum is not the
    study's count).
    """
    size = "n" if kind == "proportion" else "time"
    keys = table[column].map(_cell_text)
    if not (keys != "").any():
        return table, []
    rows: list[pd.Series] = []
    notes: list[str] = []
    done: set[str] = set()
    for i, key in keys.items():
        if key == "":
            rows.append(cast(pd.Series, table.loc[cast(int, i)]))
            continue
        if key in done:
            continue
        done.add(key)
        part = table[keys == key]
        row = part.iloc[0].copy()
        for col in (*protocol.covariates, *protocol.fields, "pmid", "report_pmids", "note"):
            if col in part.columns and col != column:
                vals = {_cell_text(v) for v in part[col]}
                row[col] = part[col].iloc[0] if len(vals) == 1 else pd.NA
                cov = protocol.covariates.get(col)
                if cov is not None and cov.source == "appraisal" and len(vals) > 1:
                    row[col], note = _worst_of_strata(key, part, col, cov)
                    notes.append(note)
        row["study_id"] = key
        row["label"] = key
        bases = set(part["basis"])
        if bases == {"counts"}:
            row["events"] = float(part["events"].sum())
            row[size] = float(part[size].sum())
            if kind == "rate":
                srcs = sorted({str(x) for x in part["time_source"]})
                row["time_source"] = srcs[0] if len(srcs) == 1 else "; ".join(srcs)
            notes.append(
                f"{key}: {len(part)} strata ({_names(part['label'])}) pooled as one study "
                f"({int(row['events'])} / {_cell_text(row[size])})"
            )
        elif bases == {"not_reported"}:
            row["basis"] = "not_reported"
        else:
            row["basis"] = "strata_partial"
            row["events"] = np.nan
            row[size] = np.nan
            notes.append(
                f"{key}: left out, only some of its strata report this outcome "
                f"({_names(part.loc[part['basis'] == 'counts', 'label'])})"
            )
        for col in ("estimate", "ci_low", "ci_high", "se", "ci_level"):
            row[col] = np.nan
        row["estimate_type"] = pd.NA
        rows.append(row)
    return pd.DataFrame(rows).reset_index(drop=True), notes


def _strata_kept(table: pd.DataFrame, column: str) -> list[str]:
    """Notes of a multilevel analysis: each study's strata kept, and strata not reporting."""
    keys = table[column].map(_cell_text)
    notes = []
    for key in dict.fromkeys(keys[keys != ""]):
        part = table[keys == key]
        got = part["basis"] == "counts"
        if not got.any():
            continue
        n = int(got.sum())
        note = (
            f"{key}: {n} {'stratum' if n == 1 else 'strata'} kept as strata of one study "
            f"(multilevel model): {_names(part.loc[got, 'label'])}"
        )
        if not got.all():
            note += f"; not reporting this outcome: {_names(part.loc[~got, 'label'])}"
        notes.append(note)
    return notes


def _worst_of_strata(key: str, part: pd.DataFrame, col: str, cov: Covariate) -> tuple[Any, str]:
    """One study's risk of bias from its strata's judgements: the worst, unless one is missing."""
    each = ", ".join(
        f"{lab}: {_cell_text(v) or 'none'}" for lab, v in zip(part["label"], part[col])
    )
    if part[col].isna().any():
        return pd.NA, f"{key}: {col} differs between its strata ({each}); one has none, so none"
    order = list(cov.values)
    worst = max((_cell_text(v) for v in part[col]), key=order.index)
    return (
        worst,
        f"{key}: {col} differs between its strata ({each}); the study takes the worst, {worst}",
    )


#: Relations of the overlap map under which two cohorts share patients (not merely may).
_SHARED = ("same_cohort", "subset", "shared_centre")


def _alias(extraction: Extraction, a: Analysis) -> dict[str, str]:
    """Each stratum's ``study_id`` -> its study (the ``strata`` value), when strata declared."""
    if not a.strata:
        return {}
    st = extraction.studies
    keys = st[a.strata].map(_cell_text)
    return dict(zip(st.loc[keys != "", "study_id"], keys[keys != ""]))


def _links(extraction: Extraction, a: Analysis) -> pd.DataFrame:
    """The overlap map with each stratum's id replaced by its study's, when strata declared."""
    links = extraction.overlap.copy()
    alias = _alias(extraction, a)
    if alias and len(links):
        for col in ("study_id", "overlaps_with"):
            links[col] = links[col].map(lambda x: alias.get(x, x))
    return links


def _overlap_notes(links: pd.DataFrame, used_ids: set[str]) -> list[str]:
    """The overlap map's links between two studies of one analysis, said plainly."""
    out = []
    for r in links.to_dict("records"):
        a, b, rel = str(r["study_id"]), str(r["overlaps_with"]), str(r["relation"])
        if a in used_ids and b in used_ids:
            what = "share patients" if rel in _SHARED else "may share patients"
            out.append(
                f"{a} and {b} {what} ({rel}; the evidence is on line {r['line']} of overlap.csv)"
            )
    return out


_WHY_MISSING = "why_missing"


def appraisal_covariates(
    protocol: Protocol,
    extraction: Extraction,
    review_dir: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Each study's value of the covariates the protocol takes from the appraisal.

    For every covariate declared ``from: appraisal``, the study's overall risk-of-bias
    judgement: the answers that stand in the appraisal log (``appraisal/log.jsonl``), turned
    into a judgement by the protocol's tool and rule (:meth:`review.appraisal.AppraisalLog.
    judgements`). The log is only read (a review without one has no judgement yet; no file
    is created). Rows of studies no longer in the extraction are ignored.

    Parameters
    ----------
    protocol : Protocol
        With an ``appraisal`` block and covariates ``from: appraisal``.
    extraction : Extraction
        The studies (one judgement a row of ``studies.csv``: a stratum is judged as its row).
    review_dir : path-like, optional
        The review folder; default: the protocol's folder, else the extraction folder's parent.

    Returns
    -------
    pandas.DataFrame
        One row a study of the extraction, in its order: ``study_id``, one column per such
        covariate (a level code of the tool, or NA), and ``why_missing`` (None where judged;
        else ``not assessed``, ``incomplete: ...`` or ``conflict on ...``). No covariate
        columns when the protocol takes none from the appraisal.

    Raises
    ------
    review.errors.ProtocolError
        The covariate's ``values`` are not the tool's levels, in the tool's order (naming the
        protocol's line and field); no ``appraisal`` block.
    review.errors.ToolError, review.errors.AppraisalLogError
        The tool or the log cannot be read.

    Examples
    --------
    >>> from review.extraction import read_extraction
    >>> from review.paths import ReviewPaths, example_review_dir
    >>> ex = read_extraction(ReviewPaths(example_review_dir()).extraction)
    >>> rob = appraisal_covariates(ex.protocol, ex)
    >>> list(rob.columns)
    ['study_id', 'risk_of_bias', 'why_missing']
    >>> set(rob["risk_of_bias"].dropna()) <= {"low", "moderate", "high"}
    True
    """
    from review.appraisal import AppraisalLog, SetAsideWarning, appraisal_plan
    from review.paths import ReviewPaths

    codes = [c for c, cov in protocol.covariates.items() if cov.source == "appraisal"]
    ids = [str(x) for x in extraction.studies["study_id"]]
    if not codes:
        return pd.DataFrame({"study_id": ids, _WHY_MISSING: [None] * len(ids)})
    if review_dir is not None:
        root = Path(review_dir)
    elif protocol.path is not None:
        root = protocol.path.parent
    else:
        root = Path(extraction.folder).parent
    plan = appraisal_plan(protocol, root)
    levels = [lv.code for lv in plan.tool.judgements]
    for code in codes:
        declared = list(protocol.covariates[code].values)
        if declared != levels:
            from review.protocol import _line_of

            i = list(protocol.covariates).index(code)
            src = protocol.path.read_text(encoding="utf-8") if protocol.path else None
            raise ProtocolError(
                f"covariate {code!r} comes from the appraisal: its values must be the levels of "
                f"tool {plan.tool.code!r}, least concern first, {levels}; got {declared}",
                path=protocol.path,
                row=_line_of(src, ["covariates", i, "values"]),
                column=f"covariates[{i}].values",
            )
    log_path = ReviewPaths(root).appraisal_log
    value: dict[str, Any] = dict.fromkeys(ids, pd.NA)
    why: dict[str, str | None] = dict.fromkeys(ids, "not assessed (no appraisal log yet)")
    if log_path.exists():
        log = AppraisalLog.for_review(root, plan=plan, studies=ids)
        with warnings.catch_warnings():
            # studies excluded after they were appraised: notebook 06 shows them
            warnings.simplefilter("ignore", SetAsideWarning)
            table = log.judgements(high_risk=plan.high_risk).table.set_index("study_id")
            final = log.final()
        units = plan.tool.units()
        for sid in ids:
            overall = table.loc[sid, "overall"]
            if isinstance(overall, str):
                value[sid], why[sid] = overall, None
                continue
            mine = final[final["study_id"] == sid]
            conflict = mine.loc[mine["basis"] == "conflict", "item"].tolist()
            answered = int(mine["answer"].notna().sum())
            if conflict:
                why[sid] = f"conflict on {', '.join(conflict)} (no consensus yet)"
            elif answered == 0:
                why[sid] = "not assessed"
            else:
                why[sid] = f"incomplete: {answered} of {len(units)} items answered"
    out = pd.DataFrame({"study_id": ids})
    for code in codes:
        out[code] = pd.Series([value[s] for s in ids], dtype=object)
    out[_WHY_MISSING] = [why[s] for s in ids]
    return out


def _with_appraisal(
    protocol: Protocol, extraction: Extraction, review_dir: str | os.PathLike[str] | None
) -> tuple[Extraction, dict[str, str]]:
    """The extraction with the appraisal's covariates joined; study_id -> why none."""
    codes = [c for c, cov in protocol.covariates.items() if cov.source == "appraisal"]
    todo = [c for c in codes if c not in extraction.studies.columns]
    if not todo:
        return extraction, {}
    rob = appraisal_covariates(protocol, extraction, review_dir)
    missing = {str(s): str(w) for s, w in zip(rob["study_id"], rob[_WHY_MISSING]) if w is not None}
    labels = dict(zip(extraction.studies["study_id"], extraction.studies["label"]))
    for code in todo:
        if protocol.covariates[code].required and missing:
            names = "; ".join(f"{labels.get(s, s)} ({w})" for s, w in missing.items())
            raise StageNotReached(
                f"covariate {code!r} (from the appraisal) is required, and "
                f"{len(missing)} stud{'y has' if len(missing) == 1 else 'ies have'} no "
                f"overall judgement yet: {names}. Finish the appraisal (notebook "
                "06-risk-of-bias): answer every item, resolve conflicts with a consensus row.",
                stage="appraisal",
            )
    studies = extraction.studies.copy()
    studies.attrs = dict(extraction.studies.attrs)
    for code in todo:
        studies[code] = rob[code].to_numpy()
    return dataclasses.replace(extraction, studies=studies), missing


def _appraisal_notes(
    a: Analysis, protocol: Protocol, data: pd.DataFrame, missing: Mapping[str, str]
) -> list[str]:
    """Name the analysed studies that have no judgement, for covariates the analysis uses."""
    used = {*a.subgroups, *(s.column for s in a.sensitivity.exclude_sets if s.column)}
    used |= {c for mods in a.moderators for c in mods}
    notes = []
    for code, cov in protocol.covariates.items():
        if cov.source != "appraisal" or code not in used or code not in data.columns:
            continue
        none = data[data[code].isna()]
        if len(none):
            each = "; ".join(
                f"{lab} ({missing.get(str(sid), 'no judgement')})"
                for sid, lab in zip(none["study_id"], none["label"])
            )
            notes.append(
                f"{code} (from the appraisal): no overall judgement for {each}; left out of the "
                f"subgroups by {code}, kept by exclusion sets on it"
            )
    return notes


def run_analyses(
    protocol: Protocol,
    extraction: Extraction,
    *,
    review_dir: str | os.PathLike[str] | None = None,
) -> AnalysisSet:
    """Run every analysis the protocol declares on the validated extraction.

    Parameters
    ----------
    protocol : Protocol
        Schema version 2, with ``analyses``.
    extraction : Extraction
        From :func:`review.extraction.read_extraction` (validated against ``protocol``).
        Covariates ``from: appraisal`` are joined first (:func:`appraisal_covariates`)
        unless the studies already have their column.
    review_dir : path-like, optional
        The review folder whose appraisal log is read (default: the protocol's folder).

    Returns
    -------
    AnalysisSet
        One :class:`AnalysisResult` an analysis, in the protocol's order.

    Notes
    -----
    Counts are pooled with the declared model (:func:`review.meta.pool_proportions`,
    :func:`review.meta.pool_rates`; rates per person-year). Where the analysis declares
    ``strata``, the strata of one study are summed into one row first, or, with
    ``model.structure: multilevel``, kept and pooled by :func:`review.meta.pool_multilevel`
    (random effects for studies and strata within studies, metafor ``rma.mv``; a row with
    no ``strata`` value is a study of its own). With ``estimates: include``,
    studies that give only an estimate join: every study's ``yi``/``vi`` from
    :func:`review.meta.study_yi_vi` (escalc for counts), pooled by
    :func:`review.meta.pool_estimates`. Subgroup tests use :func:`review.meta.subgroups`
    (studies without a value left out and named); meta-regressions use
    :func:`review.meta.meta_regression`, on a REML refit of a GLMM analysis.

    Raises
    ------
    review.errors.StageNotReached
        A covariate ``from: appraisal`` declared ``required`` while a study has no judgement.
    review.errors.ProtocolError
        A covariate ``from: appraisal`` whose values are not the tool's levels.

    References
    ----------
    Viechtbauer W. *J Stat Softw* 2010;36(3):1-48. Borenstein M et al. *Introduction to
    Meta-Analysis*. Wiley; 2009, ch. 19. Thompson SG, Higgins JPT. *Stat Med*
    2002;21:1559-73. Konstantopoulos S. *Res Synth Methods* 2011;2:61-76.

    Examples
    --------
    >>> from review.extraction import read_extraction
    >>> from review.paths import ReviewPaths, example_review_dir
    >>> paths = ReviewPaths(example_review_dir())
    >>> ex = read_extraction(paths.extraction)
    >>> results = run_analyses(ex.protocol, ex)
    >>> len(results.pooled_table()) == len(ex.protocol.analyses)
    True
    """
    from tqdm.auto import tqdm

    extraction, no_judgement = _with_appraisal(protocol, extraction, review_dir)
    out: dict[str, AnalysisResult] = {}
    for a in tqdm(
        list(protocol.analyses.values()), desc="analyses", disable=len(protocol.analyses) < 10
    ):
        o = protocol.outcome(a.outcome)
        table = extraction.outcome_table(a.outcome)
        strata_notes: list[str] = []
        if a.strata and a.model.multilevel:
            strata_notes = _strata_kept(table, a.strata)
        elif a.strata:
            table, strata_notes = _combine_strata(table, a.strata, protocol, str(o.kind))
        res, status, studies, notes = _pool(a, o, table)
        notes = strata_notes + notes
        if res is not None:
            alias = _alias(extraction, a)
            ids = {
                alias.get(x, x)
                for x in table.loc[table["label"].isin(res.data["label"]), "study_id"]
            }
            notes += _overlap_notes(_links(extraction, a), ids)
            notes += _appraisal_notes(a, protocol, res.data, no_judgement)
        subs: dict[str, SubgroupResult] = {}
        tests = pd.DataFrame(
            columns=["by", "groups", "k_per_group", "q_between", "df", "pvalue", "note"]
        )
        mods: dict[str, MetaRegressionResult] = {}
        why: dict[str, str] = {}
        if isinstance(res, MultilevelResult):
            # the protocol refuses subgroups and moderators on a multilevel analysis; an
            # Analysis built by hand gets the reason rather than a wrong model
            no = "not available for a multilevel model (it needs one estimate a study)"
            tests = pd.DataFrame(
                [{"by": c, "groups": pd.NA, "q_between": np.nan, "df": pd.NA,
                  "pvalue": np.nan, "note": no} for c in a.subgroups],
                columns=tests.columns,
            )  # fmt: skip
            why = {" + ".join(mm): no for mm in a.moderators}
        elif res is not None:
            subs, tests, more = _subgroups(res, a, protocol)
            notes += more
            mods, why = _moderators(res, a)
        else:
            tests = pd.DataFrame(
                [
                    {
                        "by": c,
                        "groups": pd.NA,
                        "q_between": np.nan,
                        "df": pd.NA,
                        "pvalue": np.nan,
                        "note": "analysis not run",
                    }
                    for c in a.subgroups
                ],
                columns=tests.columns,
            )
            why = {" + ".join(m): "analysis not run" for m in a.moderators}
        out[a.code] = AnalysisResult(
            analysis=a,
            outcome=o,
            pooled=res,
            status=status,
            studies=studies,
            subgroups=MappingProxyType(subs),
            subgroup_tests=tests.reset_index(drop=True),
            moderators=MappingProxyType(mods),
            moderator_notes=MappingProxyType(why),
            notes=tuple(notes),
        )
    return AnalysisSet(protocol=protocol, extraction=extraction, results=MappingProxyType(out))


# --------------------------------------------------------------------------- sensitivity
@dataclass(frozen=True, slots=True, eq=False)
class SensitivityAnalyses:
    """The declared sensitivity analyses of one analysis.

    Attributes
    ----------
    result : AnalysisResult
        The analysis they belong to.
    methods : SensitivityResult or None
        The same studies with every model (``sensitivity.methods``).
    guardrail : FTGuardrailResult or None
        The Freeman-Tukey back-transform at several sample sizes (proportions from counts).
    leave_one_out : LeaveOneOutResult or None
    influence : InfluenceResult or None
    small_study : RegtestResult or None
        Egger's or Peters' test (``sensitivity.funnel``).
    funnel_fit : PoolResult or None
        The inverse-variance fit the funnel plot and test use (a GLMM's REML refit).
    exclusions : pandas.DataFrame
        One row an exclusion set: ``set, label, excluded, k, estimate, ci_low, ci_high,
        pi_low, pi_high, tau2, i2, note``.
    notes : tuple of str
        What could not be done, and why.
    robustness : pandas.DataFrame
        The pooled estimate under each declared choice, for the robustness figure: the
        analysis as declared, each exclusion set, each alternative analysis. Columns
        ``choice, label, k, estimate, ci_low, ci_high, left_out, added, note`` (``left_out``
        and ``added``: the studies that differ from the analysis as declared).
    """

    result: AnalysisResult
    methods: SensitivityResult | None
    guardrail: FTGuardrailResult | None
    leave_one_out: LeaveOneOutResult | None
    influence: InfluenceResult | None
    small_study: RegtestResult | None
    funnel_fit: PoolResult | None
    exclusions: pd.DataFrame
    notes: tuple[str, ...]
    robustness: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)

    def summary(self) -> str:
        """Plain text of every sensitivity analysis run."""
        a = self.result.analysis
        lines = [f"{a.label} [{a.code}]: sensitivity analyses"]
        for title, part in (
            ("Method sensitivity", self.methods),
            ("Freeman-Tukey guardrail", self.guardrail),
            ("Leave-one-out", self.leave_one_out),
            ("Influence", self.influence),
            ("Small-study effects", self.small_study),
        ):
            if part is not None:
                lines += ["", f"{title}:", part.summary()]
        if len(self.exclusions):
            lines += ["", "Exclusion sets:", self.exclusions.to_string(index=False)]
        if len(self.robustness) > 1:
            lines += [
                "",
                "Robustness (each declared choice):",
                self.robustness.to_string(index=False),
            ]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The exclusion-set table (the other parts have their own ``to_frame``)."""
        return self.exclusions.copy()

    def _repr_html_(self) -> str:
        a = self.result.analysis
        out = f"<div><h4>{html.escape(a.label)} <code>{html.escape(a.code)}</code></h4>"
        for title, part in (
            ("Method sensitivity", self.methods),
            ("Freeman-Tukey guardrail", self.guardrail),
            ("Leave-one-out", self.leave_one_out),
            ("Influence", self.influence),
            ("Small-study effects", self.small_study),
        ):
            if part is not None:
                out += f"<p><b>{title}</b></p>{part._repr_html_()}"
        if len(self.exclusions):
            out += "<p><b>Exclusion sets</b></p>" + self.exclusions.to_html(
                index=False, na_rep="", float_format=lambda x: f"{x:.4g}"
            )
        if self.notes:
            out += "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>"
        return out + "</div>"

    def __repr__(self) -> str:
        parts = [
            n
            for n, p in (
                ("methods", self.methods),
                ("leave-one-out", self.leave_one_out),
                ("small-study", self.small_study),
            )
            if p is not None
        ]
        if len(self.exclusions):
            parts.append(f"{len(self.exclusions)} exclusion set(s)")
        return f"<SensitivityAnalyses {self.result.analysis.code}: {', '.join(parts) or 'none'}>"


def _method_sensitivity(r: AnalysisResult) -> tuple[SensitivityResult, FTGuardrailResult | None]:
    res = cast(PoolResult, r.pooled)
    m = r.analysis.model
    iv_method = m.method if m.method != "GLMM" else "REML"
    if res.options.get("input") == "yi_vi":
        return _estimate_method_sensitivity(r, iv_method), None
    size = {"n": "n"} if res.kind == "proportion" else {"time": "time", "n": None}
    sens = _quiet(
        method_sensitivity,
        res.data,
        events="events",
        method=cast(Any, iv_method),
        test=cast(Any, m.test),
        level=m.level,
        label="label",
        pi_method=cast(Any, m.pi_method),
        **size,
    )
    guard = None
    if res.kind == "proportion" and "PFT" in sens.fits:
        guard = ft_guardrail(sens.fits["PFT"], warn=False)
    return sens, guard


def _estimate_method_sensitivity(r: AnalysisResult, iv_method: str) -> SensitivityResult:
    """Method sensitivity of an analysis where estimates join: yi/vi redone per measure."""
    res = cast(PoolResult, r.pooled)
    m = r.analysis.model
    kind = res.kind
    size = "n" if kind == "proportion" else "time"
    table = res.data.copy()
    ex_rows = table["events"].isna() | table[size].isna()
    measures = ("PLO", "PAS", "PR") if kind == "proportion" else ("IRLN", "IR")
    rows: list[dict[str, Any]] = []
    fits: dict[str, PoolResult] = {}
    notes: list[str] = []
    glmm_name = "GLMM (binomial-normal)" if kind == "proportion" else "GLMM (Poisson-normal)"
    counts = table[~ex_rows]
    row: dict[str, Any] = {
        "model": glmm_name,
        "measure": measures[0],
        "method": "GLMM",
        "test": m.test,
    }
    try:
        fit_fn = pool_proportions if kind == "proportion" else pool_rates
        g = _quiet(
            fit_fn, counts, events="events", measure=measures[0], method="GLMM", test=m.test,
            level=m.level, label="label", pi_method=m.pi_method, **{size: size},
        )  # fmt: skip
        fits[glmm_name] = g
        row.update(_sens_values(g))
        row["status"] = (
            f"counts only: {int(ex_rows.sum())} estimate studies left out (the GLMM needs counts)"
        )
    except _FITTING_ERRORS as exc:
        row.update(converged=False, status=f"not available: {exc}")
    rows.append(row)
    for meas in measures:
        row = {"model": meas, "measure": meas, "method": iv_method, "test": m.test}
        try:
            # res.data keeps each study's counts and reported estimate: redo yi/vi per measure
            base = res.data.drop(columns=["yi", "vi"])
            yv = study_yi_vi(base, kind=kind, measure=cast(Any, meas))
            f = _quiet(
                pool_estimates, base.join(yv[["yi", "vi"]]), measure=cast(Any, meas),
                method=cast(Any, iv_method), test=cast(Any, m.test), level=m.level,
                pi_method=cast(Any, m.pi_method), label="label", events="events", **{size: size},
            )  # fmt: skip
            fits[meas] = f
            row.update(_sens_values(f))
            row["status"] = "ok"
        except _FITTING_ERRORS as exc:
            row.update(converged=False, status=f"not available: {exc}")
        rows.append(row)
    cols = ["model", "measure", "method", "test", "k", "estimate", "ci_low", "ci_high",
            "pi_low", "pi_high", "pi_method", "tau2", "i2", "converged", "status"]  # fmt: skip
    table_out = pd.DataFrame(rows).reindex(columns=cols)
    table_out["converged"] = table_out["converged"].fillna(False).astype(bool)
    notes.append("PFT is not fitted: estimates cannot be put on its scale without each study's n")
    notes.append("tau^2 and I^2 are on each model's own scale and are not comparable across rows")
    return SensitivityResult(table=table_out, fits=MappingProxyType(fits), notes=tuple(notes))


def _sens_values(f: PoolResult) -> dict[str, Any]:
    return {
        "k": f.k, "estimate": f.estimate, "ci_low": f.ci_low, "ci_high": f.ci_high,
        "pi_low": f.pi_low, "pi_high": f.pi_high, "pi_method": f.pi_method, "tau2": f.tau2,
        "i2": f.i2, "converged": f.converged,
    }  # fmt: skip


def _excluded_by(
    s: ExcludeSet, data: pd.DataFrame, overlap: pd.DataFrame, alias: Mapping[str, str]
) -> pd.Series:
    """Which rows of an analysis's data an exclusion set leaves out.

    ``alias`` maps a stratum's ``study_id`` to its study: an overlap link drops every row of
    the study it names (every stratum, in a multilevel analysis).
    """
    if s.column is not None:
        return data[s.column].map(_cell_text).isin(s.values)
    keys = data["study_id"].map(lambda x: alias.get(x, x))
    ids = set(keys)
    links = overlap[overlap["relation"].isin(s.overlap)]
    drop = {a for a, b in zip(links["study_id"], links["overlaps_with"]) if a in ids and b in ids}
    return keys.isin(drop)


def _refit_multilevel(res: MultilevelResult, data: pd.DataFrame) -> MultilevelResult:
    """The multilevel model refitted on some of its rows, with the same options."""
    o = res.options
    size = {"n": "n"} if res.kind == "proportion" else {"time": "time"}
    out: MultilevelResult = _quiet(
        pool_multilevel, data, cluster=res.cluster, events="events", label="label",
        measure=res.measure, method=res.method, test=res.test, dfs=res.dfs, level=res.level,
        add=o.get("add"), to=o.get("to", "only0"), **size,
    )  # fmt: skip
    return out


def _studies_k(res: PoolResult | MultilevelResult) -> int:
    """The number of studies of a fit (a multilevel fit's k counts strata)."""
    return res.n_studies if isinstance(res, MultilevelResult) else res.k


def _units(res: PoolResult | MultilevelResult) -> list[str]:
    """The studies of a fit, by name: its labels, or a multilevel fit's studies."""
    col = res.cluster if isinstance(res, MultilevelResult) else "label"
    return list(dict.fromkeys(res.data[col].astype(str)))


_SET_VALUES = ("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2")


def _set_values(res: PoolResult | MultilevelResult) -> dict[str, Any]:
    """The exclusion-table numbers of a fit (a multilevel fit has no single tau^2)."""
    return {k: getattr(res, k, np.nan) for k in _SET_VALUES}


def _exclusions(r: AnalysisResult, overlap: pd.DataFrame, alias: Mapping[str, str]) -> pd.DataFrame:
    res = r.pooled
    assert res is not None
    mv = isinstance(res, MultilevelResult)
    rows = []
    for s in r.analysis.sensitivity.exclude_sets:
        out = _excluded_by(s, res.data, overlap, alias)
        row: dict[str, Any] = {
            "set": s.code,
            "label": s.label,
            "excluded": _names(res.data.loc[out, "label"]),
            "k": (
                int(res.data.loc[~out, res.cluster].nunique())
                if isinstance(res, MultilevelResult)
                else int((~out).sum())
            ),
        }
        blank = res.data[s.column].isna() if s.column is not None else out & False
        kept_blank = (
            f"kept, no value of {s.column}: {_names(res.data.loc[blank, 'label'])}"
            if blank.any()
            else ""
        )
        if not out.any():
            what = (
                f"no study has {s.column} in {list(s.values)}"
                if s.column is not None
                else f"no pair of its studies is linked as {' or '.join(s.overlap)} in overlap.csv"
            )
            row["note"] = "; ".join(x for x in (f"{what}: same as the analysis", kept_blank) if x)
            row.update(_set_values(res))
        else:
            try:
                f: PoolResult | MultilevelResult = (
                    _refit_multilevel(res, res.data[~out])
                    if isinstance(res, MultilevelResult)
                    else _quiet(refit, res, res.data[~out])
                )
                row.update(_set_values(f))
                row["k"] = _studies_k(f)
                row["note"] = "; ".join(
                    ([f"multilevel model, {f.k_text}"] if isinstance(f, MultilevelResult) else [])
                    + list(f.notes)
                    + ([kept_blank] if kept_blank else [])
                )
            except _FITTING_ERRORS as exc:
                row["note"] = f"not fitted: {exc}"
        if mv and not row.get("note", "").startswith("multilevel"):
            head = f"multilevel model, {cast(MultilevelResult, res).k_text}"
            row["note"] = "; ".join(x for x in (head, row["note"]) if x)
        rows.append(row)
    cols = ["set", "label", "excluded", "k", "estimate", "ci_low", "ci_high", "pi_low",
            "pi_high", "tau2", "i2", "note"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


_ROBUSTNESS_COLUMNS = ["choice", "label", "k", "estimate", "ci_low", "ci_high", "left_out",
                       "added", "note"]  # fmt: skip


def _robustness(r: AnalysisResult, excl: pd.DataFrame, analyses: AnalysisSet) -> pd.DataFrame:
    """The analysis as declared, then each exclusion set and alternative analysis.

    k counts studies (a multilevel fit's strata are in its note); ``left_out`` and
    ``added`` compare studies by name (a multilevel fit's studies, not its strata).
    """
    res = r.pooled
    assert res is not None
    rows: list[dict[str, Any]] = [
        {
            "choice": r.analysis.code,
            "label": f"As declared: {r.analysis.label}",
            "k": _studies_k(res),
            "estimate": res.estimate,
            "ci_low": res.ci_low,
            "ci_high": res.ci_high,
            "left_out": "",
            "added": "",
            "note": f"multilevel model, {res.k_text}" if isinstance(res, MultilevelResult) else "",
        }
    ]
    for e in excl.to_dict("records"):
        rows.append(
            {
                "choice": e["set"],
                "label": e["label"],
                "k": e["k"],
                "estimate": e["estimate"],
                "ci_low": e["ci_low"],
                "ci_high": e["ci_high"],
                "left_out": e["excluded"],
                "added": "",
                "note": e["note"] if isinstance(e["note"], str) else "",
            }
        )
    mine = _units(res)
    for code in r.analysis.sensitivity.alternatives:
        alt = analyses[code]
        row: dict[str, Any] = {"choice": code, "label": f"Alternative: {alt.analysis.label}"}
        if alt.pooled is None:
            row.update(k=pd.NA, estimate=np.nan, ci_low=np.nan, ci_high=np.nan, left_out="",
                       added="", note=f"not pooled: {alt.status}")  # fmt: skip
        else:
            p = alt.pooled
            theirs = _units(p)
            how = f"{p.measure}, {p.method}"
            if isinstance(p, MultilevelResult):
                how += f", multilevel model ({p.k_text})"
            row.update(
                k=_studies_k(p),
                estimate=p.estimate,
                ci_low=p.ci_low,
                ci_high=p.ci_high,
                left_out=_names(x for x in mine if x not in theirs),
                added=_names(x for x in theirs if x not in mine),
                note=f"{how}; outcome {alt.outcome.label}",
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=_ROBUSTNESS_COLUMNS)


@dataclass(frozen=True, slots=True, eq=False)
class SensitivitySet:
    """The sensitivity analyses of every analysis that declares some.

    Attributes
    ----------
    analyses : AnalysisSet
        The results they are run on.
    results : Mapping[str, SensitivityAnalyses]
        Analysis code -> its sensitivity analyses (analyses that declare none, or could
        not be pooled, are absent; ``notes`` says which could not).
    notes : tuple of str
    """

    analyses: AnalysisSet
    results: Mapping[str, SensitivityAnalyses]
    notes: tuple[str, ...] = ()

    def __getitem__(self, code: str) -> SensitivityAnalyses:
        return self.results[code]

    def __iter__(self) -> Any:
        return iter(self.results.values())

    def __len__(self) -> int:
        return len(self.results)

    def exclusion_table(self) -> pd.DataFrame:
        """Every exclusion set of every analysis: ``analysis`` then the set's row."""
        frames = [
            s.exclusions.assign(analysis=c) for c, s in self.results.items() if len(s.exclusions)
        ]
        if not frames:
            return pd.DataFrame(columns=["analysis", "set", "label", "excluded", "k"])
        out = pd.concat(frames, ignore_index=True)
        return out[["analysis", *[c for c in out.columns if c != "analysis"]]]

    def robustness_table(self) -> pd.DataFrame:
        """Every analysis's robustness rows (:attr:`SensitivityAnalyses.robustness`)."""
        frames = [
            s.robustness.assign(analysis=c) for c, s in self.results.items() if len(s.robustness)
        ]
        if not frames:
            return pd.DataFrame(columns=["analysis", *_ROBUSTNESS_COLUMNS])
        out = pd.concat(frames, ignore_index=True)
        return out[["analysis", *_ROBUSTNESS_COLUMNS]]

    def small_study_table(self) -> pd.DataFrame:
        """One row an analysis with a small-study test.

        Columns ``analysis, test, predictor, model, k, zval, pval, est, ci_low, ci_high,
        note``.
        """
        rows = []
        for code, s in self.results.items():
            t = s.small_study
            if t is None:
                continue
            rows.append(
                {
                    "analysis": code, "test": r_name(t.predictor), "predictor": t.predictor,
                    "model": t.model, "k": t.k, "zval": t.zval, "pval": t.pval, "est": t.est,
                    "ci_low": t.ci_low, "ci_high": t.ci_high, "note": "; ".join(t.notes),
                }
            )  # fmt: skip
        cols = ["analysis", "test", "predictor", "model", "k", "zval", "pval", "est", "ci_low",
                "ci_high", "note"]  # fmt: skip
        return pd.DataFrame(rows, columns=cols)

    def save_tables(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Write the tables into ``folder``; returns the paths written.

        ``sensitivity_<code>.csv`` (method sensitivity), ``leave_one_out_<code>.csv``,
        ``exclusion_sets.csv``, ``robustness.csv``, ``small_study_tests.csv``.
        """
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        paths = []
        for code, s in self.results.items():
            if s.methods is not None:
                paths.append(_write_csv(s.methods.to_frame(), root / f"sensitivity_{code}.csv"))
            if s.leave_one_out is not None:
                paths.append(_write_csv(s.leave_one_out.table, root / f"leave_one_out_{code}.csv"))
        paths.append(_write_csv(self.exclusion_table(), root / "exclusion_sets.csv"))
        paths.append(_write_csv(self.robustness_table(), root / "robustness.csv"))
        paths.append(_write_csv(self.small_study_table(), root / "small_study_tests.csv"))
        return paths

    def to_frame(self) -> pd.DataFrame:
        """The exclusion sets of every analysis (:meth:`exclusion_table`)."""
        return self.exclusion_table()

    def summary(self) -> str:
        """Every analysis's sensitivity summary."""
        if not self.results:
            return "No sensitivity analyses declared (or none could run)."
        body = ("\n\n" + "=" * 72 + "\n\n").join(s.summary() for s in self.results.values())
        return body + "".join(f"\nNote: {n}" for n in self.notes)

    def _repr_html_(self) -> str:
        if not self.results:
            return "<p>No sensitivity analyses declared (or none could run).</p>" + "".join(
                f"<p>{html.escape(n)}</p>" for n in self.notes
            )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            "<div>"
            + "".join(s._repr_html_() for s in self.results.values())
            + (f"<ul>{notes}</ul>" if notes else "")
            + "</div>"
        )

    def __repr__(self) -> str:
        return f"<SensitivitySet: {len(self.results)} analyses>"


def r_name(predictor: str) -> str:
    """The test's name for a ``regtest`` predictor."""
    return {"sei": "Egger", "ninv": "Peters"}.get(predictor, predictor)


def run_sensitivity(analyses: AnalysisSet) -> SensitivitySet:
    """Run the sensitivity analyses each analysis declares.

    Parameters
    ----------
    analyses : AnalysisSet
        From :func:`run_analyses`.

    Returns
    -------
    SensitivitySet

    Notes
    -----
    ``methods``: :func:`review.meta.method_sensitivity` on the analysis's studies (the
    inverse-variance rows with the analysis's method, REML for a GLMM analysis) and, for
    proportions, :func:`review.meta.ft_guardrail` on its Freeman-Tukey row; where estimates
    join, each measure's ``yi``/``vi`` are recomputed and the GLMM row uses the count
    studies only. ``leave_one_out``: :func:`review.meta.leave_one_out` and
    :func:`review.meta.influence`. ``funnel``: :func:`review.meta.regtest` (``peters``:
    predictor 1/n, Egger's ``sei`` when some study has no n) on the analysis or its REML
    refit. ``exclude_sets``: the analysis refitted without each set (a ``where`` column, or
    ``overlap``: each linked pair's ``study_id`` of ``overlap.csv`` when both are in the
    analysis). ``alternatives``: other declared analyses shown beside them in the
    robustness table (:attr:`SensitivityAnalyses.robustness`).

    References
    ----------
    Viechtbauer W, Cheung MWL. *Res Synth Methods* 2010;1:112-25. Peters JL et al. *JAMA*
    2006;295:676-80. Egger M et al. *BMJ* 1997;315:629-34. Schwarzer G et al. *Res Synth
    Methods* 2019;10:476-83.
    """
    out: dict[str, SensitivityAnalyses] = {}
    notes: list[str] = []
    for r in analyses:
        s = r.analysis.sensitivity
        if not (s.methods or s.leave_one_out or s.funnel or s.exclude_sets or s.alternatives):
            continue
        if r.pooled is None:
            notes.append(f"{r.analysis.code}: no sensitivity analyses (not pooled: {r.status})")
            continue
        res = r.pooled
        part_notes: list[str] = []
        methods = guard = loo = infl = small = ffit = None
        alias = _alias(analyses.extraction, r.analysis)
        if isinstance(res, MultilevelResult):
            # the protocol refuses these on a multilevel analysis; say so for one built by hand
            part_notes.append(
                "multilevel model: exclusion sets and alternatives only; method sensitivity, "
                "leave-one-out, influence and small-study tests need one estimate a study "
                "and are not run"
            )
            excl = _exclusions(r, _links(analyses.extraction, r.analysis), alias)
            out[r.analysis.code] = SensitivityAnalyses(
                result=r, methods=None, guardrail=None, leave_one_out=None, influence=None,
                small_study=None, funnel_fit=None, exclusions=excl, notes=tuple(part_notes),
                robustness=_robustness(r, excl, analyses),
            )  # fmt: skip
            continue
        if s.methods:
            try:
                methods, guard = _method_sensitivity(r)
            except _FITTING_ERRORS as exc:
                part_notes.append(f"method sensitivity not run: {exc}")
        if s.leave_one_out:
            try:
                loo = _quiet(leave_one_out, res)
                infl = _quiet(influence, res)
            except _FITTING_ERRORS as exc:
                part_notes.append(f"leave-one-out not run: {exc}")
        if s.funnel:
            try:
                ffit, how = _iv(res)
                predictor = "ninv" if s.funnel == "peters" else "sei"
                size = "n" if res.kind == "proportion" else "time"
                if (
                    predictor == "ninv"
                    and not np.isfinite(ffit.studies[size].to_numpy(float)).all()
                ):
                    predictor = "sei"
                    part_notes.append("Peters' test needs every study's n: Egger's test used")
                small = _quiet(regtest, ffit, predictor=predictor)
                if how:
                    part_notes.append(f"funnel plot and test: {how}")
            except _FITTING_ERRORS as exc:
                part_notes.append(f"small-study test not run: {exc}")
        excl = _exclusions(r, _links(analyses.extraction, r.analysis), alias)
        out[r.analysis.code] = SensitivityAnalyses(
            result=r,
            methods=methods,
            guardrail=guard,
            leave_one_out=loo,
            influence=infl,
            small_study=small,
            funnel_fit=ffit,
            exclusions=excl,
            notes=tuple(part_notes),
            robustness=_robustness(r, excl, analyses),
        )
    return SensitivitySet(analyses=analyses, results=MappingProxyType(out), notes=tuple(notes))


# --------------------------------------------------------------------------- comparisons
@dataclass(frozen=True, slots=True, eq=False)
class ComparisonResult:
    """The review's estimates beside a published one.

    Attributes
    ----------
    comparison : Comparison
        The declaration.
    table : pandas.DataFrame
        From :func:`review.report.compare_estimates` (percent).
    studies : pandas.DataFrame
        The ``studies.csv`` columns the comparison names (e.g. whether the published
        review included each study); empty when it names none.
    notes : tuple of str
    """

    comparison: Comparison
    table: pd.DataFrame
    studies: pd.DataFrame
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """The comparison table and the study columns, as text."""
        lines = [self.comparison.label]
        if self.comparison.description:
            lines.append(self.comparison.description)
        lines.append(self.table.to_string(index=False))
        if len(self.studies.columns):
            lines += ["", self.studies.to_string(index=False)]
        return "\n".join(lines + [f"Note: {n}" for n in self.notes])

    def to_frame(self) -> pd.DataFrame:
        """The comparison table."""
        return self.table.copy()

    def _repr_html_(self) -> str:
        out = f"<div><h4>{html.escape(self.comparison.label)}</h4>"
        if self.comparison.description:
            out += f"<p>{html.escape(self.comparison.description)}</p>"
        out += self.table.to_html(index=False, na_rep="", float_format=lambda x: f"{x:.3g}")
        if len(self.studies.columns):
            out += self.studies.to_html(index=False, na_rep="")
        out += "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return out + "</div>"


@dataclass(frozen=True, slots=True, eq=False)
class ComparisonSet:
    """Every declared comparison: code -> :class:`ComparisonResult`."""

    results: Mapping[str, ComparisonResult]

    def __getitem__(self, code: str) -> ComparisonResult:
        return self.results[code]

    def __len__(self) -> int:
        return len(self.results)

    def save_tables(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Write ``comparison_<code>.csv`` for each; returns the paths written."""
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        return [_write_csv(c.table, root / f"comparison_{k}.csv") for k, c in self.results.items()]

    def to_frame(self) -> pd.DataFrame:
        """All comparison tables, one under the other, with a ``comparison`` column."""
        frames = [c.table.assign(comparison=k) for k, c in self.results.items()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def summary(self) -> str:
        """Every comparison as text."""
        if not self.results:
            return "The protocol declares no comparisons."
        return "\n\n".join(c.summary() for c in self.results.values())

    def _repr_html_(self) -> str:
        if not self.results:
            return "<p>The protocol declares no comparisons.</p>"
        return "".join(c._repr_html_() for c in self.results.values())

    def __repr__(self) -> str:
        return f"<ComparisonSet: {list(self.results)}>"


def compare_published(analyses: AnalysisSet, review_dir: str | os.PathLike[str]) -> ComparisonSet:
    """Set the review's estimates beside the published ones its protocol names.

    Parameters
    ----------
    analyses : AnalysisSet
        From :func:`run_analyses`.
    review_dir : path-like
        The review folder; each comparison's ``file`` is relative to it.

    Returns
    -------
    ComparisonSet

    Raises
    ------
    review.errors.ExtractionError
        A published-facts file that fails :func:`review.report.load_published`.
    """
    root = Path(review_dir)
    out: dict[str, ComparisonResult] = {}
    for c in analyses.protocol.comparisons.values():
        published = load_published(root / c.file)
        ours = {
            f"This review: {analyses[a].analysis.label}": cast(
                "PoolResult | MultilevelResult", analyses[a].pooled
            )
            for a in c.analyses
            if analyses[a].pooled is not None
        }
        notes = [
            f"{a}: not pooled ({analyses[a].status})"
            for a in c.analyses
            if analyses[a].pooled is None
        ]
        table = compare_estimates(
            ours,
            published,
            published_label=c.published_label,
            quantity=c.quantity,
            patients=c.patients,
            studies=c.studies,
        )
        cols = list(c.columns)
        studies = analyses.extraction.studies[cols].copy() if cols else pd.DataFrame()
        out[c.code] = ComparisonResult(
            comparison=c, table=table, studies=studies, notes=tuple(notes)
        )
    return ComparisonSet(results=MappingProxyType(out))
