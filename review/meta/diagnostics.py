"""Case-deletion, cumulative and small-study diagnostics for a pooled result.

:func:`leave_one_out`, :func:`influence` and :func:`cumulative` take a
:class:`~review.meta.results.PoolResult` and refit it; for inverse-variance fits the
refits use the result's ``yi``/``vi`` exactly as metafor's ``leave1out``,
``influence.rma.uni`` and ``cumul`` do (fast, vectorised), and for GLMM fits they call
the GLMM engine's warm-started case-deletion refits (metafor 3.8-1 has none).
:func:`regtest` is metafor's ``regtest`` (Egger's test and its variants, Peters' test).

References
----------
Viechtbauer W, Cheung MWL. Outlier and influence diagnostics for meta-analysis.
*Res Synth Methods* 2010;1:112-25.
Egger M, Davey Smith G, Schneider M, Minder C. Bias in meta-analysis detected by a
simple, graphical test. *BMJ* 1997;315:629-34.
Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L. Comparison of two methods to detect
publication bias in meta-analysis. *JAMA* 2006;295:676-80.
Sterne JAC et al. Recommendations for examining and interpreting funnel plot asymmetry
in meta-analyses of randomised controlled trials. *BMJ* 2011;343:d4002.
Lau J, Schmid CH, Chalmers TC. Cumulative meta-analysis of clinical trials builds
evidence for exemplary medical care. *J Clin Epidemiol* 1995;48:45-57.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, cast, overload

import numpy as np
import pandas as pd

from review.errors import ConvergenceError, InputError, OptionError
from review.meta._vocab import MEASURES
from review.meta.results import (
    CumulativeResult,
    InfluenceResult,
    LeaveOneOutResult,
    MetaRegressionResult,
    PoolResult,
    RegtestResult,
)
from review.meta.uni import K1_NOTE, fit_rma, i2_from_q, prediction_interval, refit

if TYPE_CHECKING:
    from review.meta.regression import RegressionInfluenceResult

__all__ = ["cumulative", "influence", "leave_one_out", "regtest"]

_LOO_COLUMNS = [
    "label", "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "link_estimate", "se",
    "zval", "pval", "link_ci_low", "link_ci_high", "q", "q_pvalue", "tau2", "i2", "h2",
    "converged",
]  # fmt: skip


def _yv(res: PoolResult) -> tuple[np.ndarray, np.ndarray]:
    return (
        res.studies["yi"].to_numpy(dtype=float),
        res.studies["vi"].to_numpy(dtype=float),
    )


def _sizes(res: PoolResult) -> np.ndarray:
    col = "n" if res.kind == "proportion" else "time"
    return res.studies[col].to_numpy(dtype=float)


def _row_from_fit(
    res: PoolResult,
    label: str,
    yi: np.ndarray,
    vi: np.ndarray,
    sizes: np.ndarray,
    keep: np.ndarray,
) -> dict[str, object]:
    """Fit rma.uni on a subset and turn it into a leave-one-out / cumulative row."""
    fit = fit_rma(yi[keep], vi[keep], method=res.method, test=res.test, level=res.level)
    k = int(keep.sum())
    b, se = float(fit.beta[0]), float(fit.se[0])
    lo, hi, _ = prediction_interval(
        b,
        se,
        fit.tau2,
        k,
        res.level,
        fit.test,  # "z" for a one-study step, as metafor
        res.pi_method,
        fixed=res.method == "FE",
        se_classic=math.sqrt(1.0 / float(fit.wi.sum())),
    )
    n_bt = sizes[keep] if res.measure in ("PFT", "IRFT") else None
    bt = MEASURES[res.measure].back_transform(
        np.array([b, fit.ci_low[0], fit.ci_high[0], lo, hi]), n_bt
    )
    i2, h2 = i2_from_q(fit.qe, k - 1) if res.i2_method == "Q" else (fit.i2, fit.h2)
    return {
        "label": label,
        "k": k,
        "estimate": float(bt[0]),
        "ci_low": float(bt[1]),
        "ci_high": float(bt[2]),
        "pi_low": float(bt[3]),
        "pi_high": float(bt[4]),
        "link_estimate": b,
        "se": se,
        "zval": float(fit.zval[0]),
        "pval": float(fit.pval[0]),
        "link_ci_low": float(fit.ci_low[0]),
        "link_ci_high": float(fit.ci_high[0]),
        "q": fit.qe,
        "q_pvalue": fit.qe_pvalue,
        "tau2": fit.tau2,
        "i2": i2,
        "h2": h2,
        "converged": True,
    }


def leave_one_out(res: PoolResult) -> LeaveOneOutResult:
    """Refit leaving out each study in turn, as metafor ``leave1out``.

    Parameters
    ----------
    res : PoolResult
        Any fit (inverse-variance or GLMM).

    Returns
    -------
    LeaveOneOutResult
        ``table`` with one row a left-out study: ``label`` (the omitted study),
        ``estimate, ci_low, ci_high, pi_low, pi_high`` (back-transformed),
        ``link_estimate, se, zval, pval, link_ci_low, link_ci_high, q, q_pvalue, tau2,
        i2, h2, converged``.

    Notes
    -----
    Inverse-variance fits are refitted on the remaining ``yi``/``vi`` (metafor's
    ``leave1out``: corrections are not recomputed). PFT values are back-transformed at
    the harmonic mean of the remaining studies' n. A refit that fails (for example an
    estimator that does not converge) gives a row with ``converged=False``, NaN values
    and a note, never a silent number. GLMM fits are refitted by
    :func:`review.meta.glmm.leave_one_out_glmm` (warm-started), which metafor 3.8-1
    lacks.

    References
    ----------
    Viechtbauer W, Cheung MWL. *Res Synth Methods* 2010;1:112-25.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions, leave_one_out
    >>> df = pd.DataFrame(
    ...     {
    ...         "events": [2, 5, 1, 8, 4, 12],
    ...         "n": [40, 60, 35, 90, 50, 100],
    ...         "setting": ["urban", "rural"] * 3,
    ...         "fu": [12.0, 24, 18, 36, 6, 30],
    ...     }
    ... )
    >>> res = pool_proportions(df, method="REML")
    >>> leave_one_out(res).table["estimate"].round(4).tolist()
    [0.0939, 0.0915, 0.0937, 0.0906, 0.0917, 0.0762]
    """
    if res.k < 2:
        raise InputError(f"leave-one-out needs at least 2 studies; got k = {res.k}")
    if res.method == "GLMM":
        from review.meta.glmm import GLMMResult, leave_one_out_glmm

        if isinstance(res, GLMMResult):
            return leave_one_out_glmm(res)
        return _generic_loo(res)
    yi, vi = _yv(res)
    sizes = _sizes(res)
    labels = res.studies["label"].astype(str).tolist()
    rows, notes = [], []
    if res.method != "FE" and res.k < 3:
        notes.append("k = 2: each leave-one-out fit has one study (tau^2 = 0)")
    for i, lab in enumerate(labels):
        keep = np.ones(res.k, dtype=bool)
        keep[i] = False
        try:
            rows.append(_row_from_fit(res, lab, yi, vi, sizes, keep))
        except ConvergenceError as e:
            notes.append(f"without {lab}: {e}")
            rows.append({"label": lab, "converged": False})
    table = pd.DataFrame(rows).reindex(columns=_LOO_COLUMNS)
    table["converged"] = table["converged"].astype(bool)
    return LeaveOneOutResult(table=table, base=res, notes=tuple(notes))


def _generic_loo(res: PoolResult) -> LeaveOneOutResult:
    """Leave-one-out through :func:`review.meta.uni.refit` (any engine)."""
    from tqdm.auto import tqdm

    rows, notes = [], []
    data = res.data
    for i in tqdm(range(len(data)), desc="leave-one-out", disable=len(data) < 20):
        lab = str(data["label"].iloc[i])
        sub = data.drop(index=data.index[i])
        try:
            r = refit(res, sub)
        except (ConvergenceError, InputError) as e:
            notes.append(f"without {lab}: {e}")
            rows.append({"label": lab, "converged": False})
            continue
        L = r.link
        rows.append(
            {
                "label": lab, "estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high,
                "pi_low": r.pi_low, "pi_high": r.pi_high, "link_estimate": L.estimate,
                "se": L.se, "zval": L.zval, "pval": L.pval, "link_ci_low": L.ci_low,
                "link_ci_high": L.ci_high, "q": r.q, "q_pvalue": r.q_pvalue, "tau2": r.tau2,
                "i2": r.i2, "h2": r.h2, "converged": r.converged,
            }
        )  # fmt: skip
    table = pd.DataFrame(rows).reindex(columns=_LOO_COLUMNS)
    table["converged"] = table["converged"].astype(bool)
    return LeaveOneOutResult(table=table, base=res, notes=tuple(notes))


@overload
def influence(res: PoolResult) -> InfluenceResult: ...
@overload
def influence(res: MetaRegressionResult) -> RegressionInfluenceResult: ...
def influence(
    res: PoolResult | MetaRegressionResult,
) -> InfluenceResult | RegressionInfluenceResult:
    """Case-deletion influence diagnostics, as metafor ``influence.rma.uni``.

    Parameters
    ----------
    res : PoolResult or MetaRegressionResult
        A pooled fit, or an inverse-variance meta-regression (then handed to
        :func:`review.meta.regression.influence_regression`, which gives DFBETAS for
        every coefficient).

    Returns
    -------
    InfluenceResult
        ``table`` columns: ``label, rstudent`` (externally standardised residual),
        ``dffits, cook_d, cov_r, tau2_del, qe_del, hat, weight`` (percent), ``dfbs``
        (DFBETAS of the intercept) and ``influential`` (metafor's flag:
        ``|dffits| > 3 sqrt(p/(k-p))``, ``pchisq(cook_d, p) > 0.5``, ``hat > 3p/k`` or
        ``|dfbs| > 1``).

    Notes
    -----
    With ``w = 1/(vi + tau2)``: ``hat_i = w_i/sum w``; deleting study i gives
    ``b(-i)``, ``Var(b(-i))``, ``tau2(-i)``, ``s2w(-i)`` (1 unless knha);
    ``rstudent = (y_i - b(-i)) / sqrt(s2w(-i) (v_i + tau2(-i)) + Var(b(-i)))``;
    ``dffits = (b - b(-i)) / sqrt(s2w(-i) hat_i (tau2(-i) + v_i))``;
    ``cook_d = (b - b(-i))^2 / Var(b)``; ``cov_r = Var(b(-i)) / Var(b)``;
    ``dfbs = (b - b(-i)) / sqrt(s2w(-i) / sum_j 1/(v_j + tau2(-i)))``.
    GLMM fits are handed to :func:`review.meta.glmm.influence_glmm`.

    References
    ----------
    Viechtbauer W, Cheung MWL. *Res Synth Methods* 2010;1:112-25.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions, influence
    >>> df = pd.DataFrame(
    ...     {
    ...         "events": [2, 5, 1, 8, 4, 12],
    ...         "n": [40, 60, 35, 90, 50, 100],
    ...         "setting": ["urban", "rural"] * 3,
    ...         "fu": [12.0, 24, 18, 36, 6, 30],
    ...     }
    ... )
    >>> res = pool_proportions(df, method="REML")
    >>> influence(res).table["cook_d"].round(4).tolist()
    [0.0571, 0.0076, 0.0514, 0.0008, 0.0105, 0.9706]
    """
    if isinstance(res, MetaRegressionResult):
        from review.meta.regression import influence_regression

        return influence_regression(res)
    if res.k < 2:
        raise InputError(f"influence diagnostics need at least 2 studies; got k = {res.k}")
    if res.method == "GLMM":
        from review.meta.glmm import influence_glmm

        return influence_glmm(res)  # type: ignore[arg-type]
    yi, vi = _yv(res)
    k, p = res.k, 1
    b = res.link.estimate
    vb = res.link.se**2
    w = 1.0 / (vi + res.tau2)
    hat = w / w.sum()
    weight = 100 * hat
    n = len(yi)
    rst, dff, cook, covr, t2d, qed, dfbs = (np.full(n, np.nan) for _ in range(7))
    notes: list[str] = []
    labels = res.studies["label"].astype(str).tolist()
    for i in range(n):
        keep = np.ones(n, dtype=bool)
        keep[i] = False
        try:
            f = fit_rma(yi[keep], vi[keep], method=res.method, test=res.test, level=res.level)
        except ConvergenceError as e:
            notes.append(f"without {labels[i]}: {e}")
            continue
        bi = float(f.beta[0])
        vbi = float(f.vb[0, 0])
        t2d[i], qed[i] = f.tau2, f.qe
        resid = yi[i] - bi
        if abs(resid) < 100 * np.finfo(float).eps:
            resid = 0.0
        rst[i] = resid / math.sqrt(vi[i] * f.s2w + vbi + f.tau2 * f.s2w)
        dff[i] = (b - bi) / math.sqrt(f.s2w * hat[i] * (f.tau2 + vi[i]))
        vb_del = 1.0 / float(np.sum(1.0 / (vi + f.tau2)))
        dfbs[i] = (b - bi) / math.sqrt(f.s2w * vb_del)
        cook[i] = (b - bi) ** 2 / vb
        covr[i] = vbi / vb
    from review.meta.regression import _influential

    table = pd.DataFrame(
        {
            "label": labels,
            "rstudent": rst,
            "dffits": dff,
            "cook_d": cook,
            "cov_r": covr,
            "tau2_del": t2d,
            "qe_del": qed,
            "hat": hat,
            "weight": weight,
            "dfbs": dfbs,
            "influential": _influential(dff, cook, hat, dfbs, p, k),
        }
    )
    return InfluenceResult(table=table, base=res, notes=tuple(notes))


def cumulative(res: PoolResult, order: str | Sequence[int] | None = None) -> CumulativeResult:
    """Cumulative meta-analysis, adding one study at a time (metafor ``cumul``).

    Parameters
    ----------
    res : PoolResult
    order : str or sequence of int, optional
        A column of ``res.data`` to sort by (ascending, ties in input order; for example
        ``"year"``), or positions giving the order; input order when ``None``.

    Returns
    -------
    CumulativeResult
        One row a step (``label`` is the study added), with the pooled values after
        adding it.

    Notes
    -----
    Inverse-variance steps refit ``yi``/``vi`` as metafor's ``cumul``; the first step
    has one study (tau^2 = 0; under ``test="knha"`` a z interval, as metafor 3.8-1 gives
    it: "Setting argument test='z' since k=1"). GLMM steps refit the GLMM and start at
    two studies.

    References
    ----------
    Lau J, Schmid CH, Chalmers TC. *J Clin Epidemiol* 1995;48:45-57.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions, cumulative
    >>> df = pd.DataFrame(
    ...     {
    ...         "events": [2, 5, 1, 8, 4, 12],
    ...         "n": [40, 60, 35, 90, 50, 100],
    ...         "setting": ["urban", "rural"] * 3,
    ...         "fu": [12.0, 24, 18, 36, 6, 30],
    ...     }
    ... )
    >>> res = pool_proportions(df, method="REML")
    >>> cumulative(res, order="fu").table["label"].tolist()
    ['Study 5', 'Study 1', 'Study 3', 'Study 2', 'Study 6', 'Study 4']
    """
    n = res.k
    used_labels = res.studies["label"].astype(str).tolist()
    if order is None:
        idx = np.arange(n)
        order_name = None
    elif isinstance(order, str):
        data = res.data
        if order not in data.columns:
            raise InputError(
                f"order column {order!r} not found; columns are {list(map(str, data.columns))}",
                column=order,
            )
        d = data[data["label"].astype(str).isin(used_labels)]
        for ix, v in d[order].items():
            if pd.isna(v):
                # the caller's index label, as given (pandas types labels as Hashable)
                raise InputError(
                    "missing value in the order column", row=cast("int | str", ix), column=order
                )
        pos = {lab: i for i, lab in enumerate(used_labels)}
        sorted_labels = d.sort_values(order, kind="stable")["label"].astype(str)
        idx = np.array([pos[lab] for lab in sorted_labels])
        order_name = order
    else:
        idx = np.asarray(list(order), dtype=int)
        if sorted(idx.tolist()) != list(range(n)):
            raise OptionError(f"order must be a permutation of 0..{n - 1}")
        order_name = "given positions"
    rows, notes = [], []
    if res.method == "GLMM":
        data = res.data.set_index(res.data["label"].astype(str), drop=False)
        for j in range(1, n):
            labs = [used_labels[t] for t in idx[: j + 1]]
            try:
                r = refit(res, data.loc[labs])
            except (ConvergenceError, InputError) as e:
                notes.append(f"up to {labs[-1]}: {e}")
                rows.append({"label": labs[-1], "k": j + 1, "converged": False})
                continue
            rows.append(
                {
                    "label": labs[-1], "k": r.k, "estimate": r.estimate, "ci_low": r.ci_low,
                    "ci_high": r.ci_high, "pi_low": r.pi_low, "pi_high": r.pi_high,
                    "link_estimate": r.link.estimate, "se": r.link.se, "zval": r.link.zval,
                    "pval": r.link.pval, "link_ci_low": r.link.ci_low,
                    "link_ci_high": r.link.ci_high,
                    "q": r.q, "q_pvalue": r.q_pvalue, "tau2": r.tau2, "i2": r.i2, "h2": r.h2,
                    "converged": r.converged,
                }
            )  # fmt: skip
    else:
        yi, vi = _yv(res)
        sizes = _sizes(res)
        for j in range(n):
            keep = np.zeros(n, dtype=bool)
            keep[idx[: j + 1]] = True
            lab = used_labels[idx[j]]
            try:  # the first step has k = 1 and tau^2 = 0, as metafor's cumul
                row = _row_from_fit(res, lab, yi, vi, sizes, keep)
            except ConvergenceError as e:
                notes.append(f"up to {lab}: {e}")
                row = {"label": lab, "k": j + 1, "converged": False}
            rows.append(row)
        if res.test == "knha" and n > 0:
            notes.append(f"step 1 (k = 1): {K1_NOTE}")
    cols = [
        "label", "k", "estimate", "ci_low", "ci_high", "pi_low", "pi_high", "link_estimate",
        "se", "zval", "pval", "link_ci_low", "link_ci_high", "q", "q_pvalue", "tau2", "i2",
        "h2", "converged",
    ]  # fmt: skip
    table = pd.DataFrame(rows).reindex(columns=cols)
    table["converged"] = table["converged"].astype(bool)
    return CumulativeResult(table=table, order=order_name, base=res, notes=tuple(notes))


def regtest(
    res: PoolResult,
    *,
    predictor: Literal["sei", "vi", "ninv", "sqrtninv"] = "sei",
    model: Literal["rma", "lm"] = "rma",
) -> RegtestResult:
    """Regression test for funnel-plot asymmetry, as metafor ``regtest``.

    Parameters
    ----------
    res : PoolResult
        An inverse-variance fit; its method, test and level are reused.
    predictor : {"sei", "vi", "ninv", "sqrtninv"}
        ``"sei"``: Egger's test (standard error); ``"vi"``: sampling variance;
        ``"ninv"``: 1/n, Peters' test (1/person-time for rates, as metafor);
        ``"sqrtninv"``: 1/sqrt(n).
    model : {"rma", "lm"}
        ``"rma"`` (metafor's default): mixed-effects meta-regression on the predictor;
        ``"lm"``: weighted regression with weights 1/vi and a multiplicative dispersion
        term, t(k - 2) (the classical Egger test).

    Returns
    -------
    RegtestResult
        Test of the predictor's coefficient and the limit estimate (intercept) with its
        CI on the model scale.

    Raises
    ------
    OptionError
        GLMM fits, unknown predictor or model.
    InputError
        Fewer than 3 studies.

    Notes
    -----
    With fewer than 10 studies the test has too little power to tell chance from
    asymmetry (Sterne et al. 2011); a note says so. For proportions, Egger's test on the
    logit scale is distorted because the SE depends on p (Hunter et al. 2014); prefer
    ``predictor="ninv"`` and treat it as exploratory.

    References
    ----------
    Egger M et al. *BMJ* 1997;315:629-34. Peters JL et al. *JAMA* 2006;295:676-80.
    Sterne JAC et al. *BMJ* 2011;343:d4002. Hunter JP et al. *J Clin Epidemiol*
    2014;67:897-903.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions, regtest
    >>> df = pd.DataFrame(
    ...     {
    ...         "events": [2, 5, 1, 8, 4, 12],
    ...         "n": [40, 60, 35, 90, 50, 100],
    ...         "setting": ["urban", "rural"] * 3,
    ...         "fu": [12.0, 24, 18, 36, 6, 30],
    ...     }
    ... )
    >>> res = pool_proportions(df, method="REML")
    >>> r = regtest(res, predictor="ninv")
    >>> round(r.zval, 4), round(r.pval, 4)
    (-1.6495, 0.099)
    """
    if predictor not in ("sei", "vi", "ninv", "sqrtninv"):
        raise OptionError(
            f"Invalid predictor {predictor!r}; must be one of ['sei', 'vi', 'ninv', 'sqrtninv']"
        )
    if model not in ("rma", "lm"):
        raise OptionError(f"Invalid model {model!r}; must be one of ['rma', 'lm']")
    if res.method == "GLMM":
        raise OptionError(
            "regtest needs an inverse-variance fit (metafor has none for rma.glmm); refit "
            "with e.g. method='REML'"
        )
    yi, vi = _yv(res)
    k = len(yi)
    if k < 3:
        raise InputError(f"regtest needs at least 3 studies; got k = {k}")
    sizes = _sizes(res)
    if predictor in ("ninv", "sqrtninv") and not np.isfinite(sizes).all():
        raise InputError(
            f"predictor {predictor!r} needs every study's sample size (or person-time); some "
            "studies entered as estimates without one: use predictor='sei' (Egger)"
        )
    xcol = {
        "sei": np.sqrt(vi),
        "vi": vi,
        "ninv": 1.0 / sizes,
        "sqrtninv": 1.0 / np.sqrt(sizes),
    }[predictor]
    X = np.column_stack([np.ones(k), xcol])
    if np.linalg.matrix_rank(X) < 2:
        raise InputError(
            f"predictor {predictor!r} is constant across studies; cannot fit the regression"
        )
    notes: list[str] = []
    if k < 10:
        notes.append(
            f"k = {k} < 10: funnel-plot asymmetry tests have too little power "
            "(Sterne et al. 2011); exploratory only"
        )
    if model == "rma":
        f = fit_rma(yi, vi, X, method=res.method, test=res.test, level=res.level)
        zval, pval = float(f.zval[1]), float(f.pval[1])
        df = None if f.ddf is None else float(f.ddf)
        est, lo, hi = float(f.beta[0]), float(f.ci_low[0]), float(f.ci_high[0])
        slope, slope_se = float(f.beta[1]), float(f.se[1])
    else:
        # the classical Egger regression is a weighted least-squares fit with a
        # multiplicative dispersion term: statsmodels' WLS, whose default covariance
        # (scale = weighted RSS/(k - 2)) and t(k - 2) inference are exactly metafor's
        # regtest(model = "lm"); called once an analysis, so its overhead does not matter
        from statsmodels.regression.linear_model import WLS

        ols = WLS(yi, X, weights=1.0 / vi).fit()
        beta, se = np.asarray(ols.params), np.asarray(ols.bse)
        zval, pval = float(ols.tvalues[1]), float(ols.pvalues[1])
        df = float(ols.df_resid)
        ci = np.asarray(ols.conf_int(alpha=1 - res.level))
        est, lo, hi = float(beta[0]), float(ci[0, 0]), float(ci[0, 1])
        slope, slope_se = float(beta[1]), float(se[1])
    return RegtestResult(
        predictor=predictor,
        model=model,
        zval=zval,
        pval=pval,
        df=df,
        est=est,
        ci_low=lo,
        ci_high=hi,
        slope=slope,
        slope_se=slope_se,
        k=k,
        notes=tuple(notes),
    )
