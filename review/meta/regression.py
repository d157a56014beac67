"""Meta-regression beyond the fit: the GLMM with moderators, predictions, influence.

* :func:`meta_regression_glmm` -- the binomial-normal and Poisson-normal GLMMs with
  moderators (metafor ``rma.glmm(measure="PLO" | "IRLN", mods = ~ ..., model="UM.FS")``);
  :func:`review.meta.meta_regression` hands a GLMM result to it.
* :func:`predict` -- predicted values at new moderator values with CI and PI, on the
  model scale and back-transformed (metafor ``predict(res, newmods = , transf = )``).
* :func:`influence_regression` -- case-deletion diagnostics of a meta-regression
  (metafor ``influence.rma.uni`` on a model with moderators);
  :func:`review.meta.influence` hands a :class:`~review.meta.MetaRegressionResult` to it.

References
----------
Stijnen T, Hamza TH, Ozdemir P. Random effects meta-analysis of event outcome in the
framework of the generalized linear mixed model with applications in sparse data.
*Stat Med* 2010;29:3046-67.
Viechtbauer W, Cheung MWL. Outlier and influence diagnostics for meta-analysis.
*Res Synth Methods* 2010;1:112-25.
Thompson SG, Higgins JPT. How should meta-regression analyses be undertaken and
interpreted? *Stat Med* 2002;21:1559-73.
Viechtbauer W. Conducting meta-analyses in R with the metafor package. *J Stat Softw*
2010;36(3):1-48 (``predict.rma``, ``influence.rma.uni``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import chdtrc

from review._format import fmt_x
from review.errors import ConvergenceError, InputError, OptionError
from review.meta import _aghq
from review.meta._design import design_matrix
from review.meta._vocab import MEASURES
from review.meta.escalc import escalc
from review.meta.results import MetaRegressionResult, PoolResult, _html_table, _rows
from review.meta.tau2 import chi2_sf, f_sf, norm_crit, norm_sf2, t_crit, t_sf2
from review.meta.uni import _fit_stats, fit_rma, prediction_interval

__all__ = [
    "PredictionResult",
    "RegressionInfluenceResult",
    "influence_regression",
    "meta_regression_glmm",
    "predict",
]

FloatArray = NDArray[np.float64]


# ------------------------------------------------------------------- GLMM regression
def _is_dummy(col: FloatArray) -> bool:
    return bool(np.all((col == 0.0) | (col == 1.0)))


def _scale_design(X: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Centre and scale the non-dummy moderator columns, as metafor's ``scaleX``.

    Returns the scaled matrix and ``mX`` with ``beta = mX @ beta_scaled`` (a linear
    reparametrisation: the maximum likelihood is unchanged; the conditioning improves).
    """
    p = X.shape[1]
    Xs = X.copy()
    mX = np.eye(p)
    for j in range(1, p):
        col = X[:, j]
        if _is_dummy(col):
            continue
        m, sd = float(col.mean()), float(col.std(ddof=1))
        if sd == 0:
            continue
        Xs[:, j] = (col - m) / sd
        mX[0, j] = -m / sd
        mX[j, j] = 1.0 / sd
    return Xs, mX


def meta_regression_glmm(res: PoolResult, mods: list[str]) -> MetaRegressionResult:
    """Meta-regression with the GLMM of a GLMM result (metafor ``rma.glmm(mods = )``).

    Parameters
    ----------
    res : PoolResult
        A ``method="GLMM"`` fit (binomial-normal for proportions, Poisson-normal for
        rates); its test and level are reused.
    mods : list of str
        Moderator columns of ``res.data`` (numbers as is, other columns as treatment
        dummies, as :func:`review.meta.meta_regression`).

    Returns
    -------
    MetaRegressionResult
        ``method="GLMM"``: coefficients with Wald z (or t(k - p) under ``test="knha"``,
        metafor's ``test="t"``), QM (chi-square, or F(m, k - p)), the residual tau^2,
        ``qe``/``qe_pvalue`` the Wald-type and ``qe_lrt``/``qe_lrt_pvalue`` the
        likelihood-ratio test for residual heterogeneity (saturated against
        common-effect GLM with the moderators, k - p df), I^2 and H^2 from the typical
        within-study variance of the escalc ``yi`` given the moderators, and R^2 (not
        given by metafor for a GLMM: the same formula as for ``rma.uni``).

    Raises
    ------
    InputError
        Missing moderator column or value, rank-deficient design, k <= p.
    ConvergenceError
        No finite maximum-likelihood estimate (every study has zero events, or every
        study has events = n).

    Notes
    -----
    The model is ``logit(p_i)`` (or ``log(rate_i)`` with a log person-time offset)
    ``= x_i' beta + tau u_i``, ``u_i ~ N(0, 1)``, fitted by maximum likelihood with
    7-point adaptive Gauss-Hermite quadrature (lme4 ``glmer(nAGQ = 7)``, as metafor). As
    metafor, the non-dummy moderators are centred and scaled for the fit and the
    coefficients transformed back.

    References
    ----------
    Stijnen T, Hamza TH, Ozdemir P. *Stat Med* 2010;29:3046-67. Viechtbauer W. *J Stat
    Softw* 2010;36(3):1-48.
    """
    from review.meta.glmm import _refuse_degenerate

    family = "binomial" if res.kind == "proportion" else "poisson"
    size_col = "n" if family == "binomial" else "time"
    data = res.data
    X, names, design = design_matrix(data, mods)
    k, p = X.shape
    if k <= p:
        raise InputError(f"meta-regression with {p} coefficients needs k > {p}; got k = {k}")
    _refuse_degenerate(data, family)
    x = data["events"].to_numpy(dtype=float)
    size = data[size_col].to_numpy(dtype=float)
    Xs, mX = _scale_design(X)
    d = _aghq.make_data(family, x, size, Xs)
    fit = _aghq.fit_ml(d)
    notes: list[str] = []
    if not fit.converged:
        msg = (
            f"GLMM did not converge ({fit.message or 'Newton iterations exhausted'}); the "
            "numbers below are the last iterate and should not be reported"
        )
        notes.append(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)
    if fit.boundary:
        notes.append("tau^2 estimated at the boundary 0 (lme4 theta = 0); the GLMM is the GLM")
    for j in range(1, p):
        on = X[:, j] == 1.0
        if not _is_dummy(X[:, j]) or not on.any():
            continue
        none = bool(np.all(x[on] == 0))
        every = family == "binomial" and bool(np.all(x[on] == size[on]))
        if none or every:
            msg = (
                f"the studies with {names[j]} have {'no events' if none else 'only events'}: "
                f"the coefficient of {names[j]} has no finite maximum-likelihood estimate "
                "(separation); its estimate, SE and tests are not meaningful"
            )
            notes.append(msg)
            warnings.warn(msg, UserWarning, stacklevel=3)
    beta = mX @ fit.beta
    vb = mX @ fit.vcov[:p, :p] @ mX.T
    tau2 = fit.tau**2
    se = np.sqrt(np.diag(vb))
    zval = beta / se
    level, test = res.level, res.test
    alpha = 1 - level
    knha = test == "knha"
    if knha:
        pval = t_sf2(zval, float(k - p))
        crit = t_crit(alpha, float(k - p))
        notes.append(
            f"test='knha' for a GLMM is metafor's rma.glmm(test='t'): t-distribution with "
            f"k - p = {k - p} df, without a Hartung-Knapp variance adjustment"
        )
    else:
        pval = norm_sf2(zval)
        crit = norm_crit(alpha)
    m = p - 1
    b2 = beta[1:]
    qm = float(b2 @ np.linalg.solve(vb[1:, 1:], b2))
    if knha:
        qm /= m
        qm_p = f_sf(qm, m, k - p)
    else:
        qm_p = chi2_sf(qm, m)
    # residual heterogeneity: saturated and common-effect GLMs with the moderators
    if fit.glm is None:  # fit_ml always records it
        raise TypeError("the GLMM fit carries no common-effect GLM")
    _, ll_fe, _ = fit.glm
    q_wld, q_lrt, sat = _aghq.heterogeneity(d, ll_fe)
    qe_df = k - p
    if not sat.converged:
        notes.append(
            "the saturated GLM (for QE.Wld/QE.LRT) reached R's 25-iteration cap, as glm() "
            "does for studies with zero events; the tests are computed as metafor does"
        )
    # I^2 and H^2 through the typical within-study variance of the escalc yi given X
    esc = escalc(data, res.measure, add=res.options.get("add"), to=res.options["to"], warn=False)
    Xy = X[esc.used]
    w = 1.0 / esc.vi
    WX = Xy * w[:, None]
    tr_p = float(np.sum(w) - np.trace(np.linalg.solve(Xy.T @ WX, WX.T @ WX)))
    vt = (Xy.shape[0] - p) / tr_p
    i2 = 100.0 * tau2 / (vt + tau2)
    h2 = tau2 / vt + 1.0
    tau2_0 = res.tau2
    r2 = 0.0 if tau2_0 == 0 else max(0.0, 100.0 * (tau2_0 - tau2) / tau2_0)
    notes.append(
        "R^2 = max(0, 100 (tau2_0 - tau2)/tau2_0) against the intercept-only GLMM "
        "(metafor reports no R^2 for rma.glmm; the same formula as rma.uni)"
    )
    fit_stats = _fit_stats(fit.ll, -2.0 * (fit.ll - sat.ll), p + 1, k)
    coefs = pd.DataFrame(
        {
            "term": names,
            "estimate": beta,
            "se": se,
            "zval": zval,
            "pval": pval,
            "ci_low": beta - crit * se,
            "ci_high": beta + crit * se,
        }
    )
    studies = pd.DataFrame(
        {"label": data["label"].astype(str).to_numpy()[esc.used], "yi": esc.yi, "vi": esc.vi}
    )
    return MetaRegressionResult(
        mods=tuple(mods),
        coefficients=coefs,
        qm=qm,
        qm_df=m,
        qm_pvalue=qm_p,
        qm_dist="F" if knha else "chisq",
        qm_df2=float(k - p) if knha else None,
        qe=q_wld,
        qe_df=qe_df,
        qe_pvalue=chi2_sf(q_wld, qe_df),
        tau2=tau2,
        i2=i2,
        h2=h2,
        r2=r2,
        k=k,
        measure=res.measure,
        method="GLMM",
        test=test,
        level=level,
        vcov=pd.DataFrame(vb, index=names, columns=names),
        converged=bool(fit.converged),
        notes=tuple(notes),
        qe_lrt=q_lrt,
        qe_lrt_pvalue=chi2_sf(q_lrt, qe_df),
        fit_stats=fit_stats,
        design=design,
        X=pd.DataFrame(X, columns=names),
        studies=studies,
        base=res,
    )


# ------------------------------------------------------------------------- predict
@dataclass(frozen=True, slots=True, eq=False)
class PredictionResult:
    """Predicted values with confidence and prediction intervals (metafor ``predict.rma``).

    Attributes
    ----------
    table : pandas.DataFrame
        One row a prediction: the moderator values (or ``label`` for fitted values),
        ``link_estimate, se, link_ci_low, link_ci_high, link_pi_low, link_pi_high`` on
        the model scale, then ``estimate, ci_low, ci_high, pi_low, pi_high``
        back-transformed to the proportion or rate scale.
    measure, method, test : str
    level : float
    df : float or None
        Degrees of freedom of the t quantile (``None`` for z).
    tau2 : float
        The (residual) tau^2 in the prediction interval.
    notes : tuple of str
    """

    table: pd.DataFrame
    measure: str
    method: str
    test: str
    level: float
    df: float | None
    tau2: float
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> str:
        """The predictions, as metafor prints ``predict()`` (link scale, then back)."""
        d = digits
        key = [c for c in self.table.columns if c not in _PRED_COLS]
        out = [
            f"Predicted values ({self.measure}, {self.method}, {self.test}; "
            f"level {100 * self.level:g}%{'' if self.df is None else f'; t df = {self.df:g}'})",
            "",
        ]
        head = "".join(f"{c:>12.12s}" for c in key)

        def block(names: tuple[str, ...], cols: tuple[str, ...]) -> None:
            # one header line, then a line a row: its key columns, then ``cols`` under ``names``
            out.append(head + "".join(f"{c:>10s}" for c in names))
            for r in _rows(self.table):
                out.append(
                    "".join(f"{getattr(r, c)!s:>12.12s}" for c in key)
                    + "".join(f"{fmt_x(getattr(r, c), d):>10s}" for c in cols)
                )

        block(
            ("pred", "se", "ci.lb", "ci.ub", "pi.lb", "pi.ub"),
            ("link_estimate", "se", "link_ci_low", "link_ci_high", "link_pi_low", "link_pi_high"),
        )
        out += ["", f"Back-transformed ({MEASURES[self.measure].back_name}):"]
        block(
            ("pred", "ci.lb", "ci.ub", "pi.lb", "pi.ub"),
            ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"),
        )
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The prediction table."""
        return self.table.copy()

    def _repr_html_(self) -> str:
        return _html_table("Predicted values", self.summary(), self.table)

    def __repr__(self) -> str:
        return f"PredictionResult(n={len(self.table)}, measure={self.measure}, test={self.test})"


_PRED_COLS = (
    "link_estimate", "se", "link_ci_low", "link_ci_high", "link_pi_low", "link_pi_high",
    "estimate", "ci_low", "ci_high", "pi_low", "pi_high",
)  # fmt: skip


def _sizes_for_pft(res: MetaRegressionResult | PoolResult) -> FloatArray | None:
    if res.measure != "PFT":
        return None
    st = res.studies
    return st["n"].to_numpy(dtype=float) if "n" in st.columns else None


def predict(
    res: MetaRegressionResult | PoolResult,
    newmods: pd.DataFrame | Mapping[str, Any] | None = None,
    *,
    level: float | None = None,
) -> PredictionResult:
    """Predicted values at new moderator values, as metafor ``predict(res, newmods=, transf=)``.

    Parameters
    ----------
    res : MetaRegressionResult or PoolResult
        A meta-regression (inverse-variance or GLMM), or a pooled result (its one pooled
        value).
    newmods : pandas.DataFrame or mapping, optional
        Moderator values, one column (key) a moderator of the fit, in the fit's own terms:
        numbers for numeric moderators, level names for the others (coded as the fit coded
        them). ``None``: the fitted values of the studies (metafor's default).
    level : float, optional
        Confidence level; the fit's by default.

    Returns
    -------
    PredictionResult
        ``pred = x' b``, ``se = sqrt(x' V x)``, CI ``pred +- crit se`` and PI
        ``pred +- crit sqrt(se^2 + tau^2)`` with ``crit`` the normal quantile, or t(k - p)
        under ``test="knha"`` (metafor 3.8-1 ``predict.rma``); back-transformed with the
        measure's back-transform (PFT at the harmonic mean of the fitted studies' n, as
        ``transf.ipft.hm`` with ``targs = list(ni = ni)``).

    Raises
    ------
    InputError
        A moderator value missing, not a number where the fit had numbers, or a level
        the fit never saw.
    OptionError
        ``newmods`` for a result without moderators, or a bad level.

    References
    ----------
    Viechtbauer W. *J Stat Softw* 2010;36(3):1-48 (``predict.rma``). Higgins JPT,
    Thompson SG, Spiegelhalter DJ. *J R Stat Soc A* 2009;172:137-59.

    Examples
    --------
    >>> import pandas as pd
    >>> from review.meta import pool_proportions, meta_regression, predict
    >>> df = pd.DataFrame(
    ...     {
    ...         "events": [2, 5, 1, 8, 4, 12, 7, 3],
    ...         "n": [40, 60, 35, 90, 50, 100, 70, 45],
    ...         "dose": [1.0, 2, 1, 3, 2, 4, 3, 1],
    ...     }
    ... )
    >>> m = meta_regression(pool_proportions(df, method="REML"), mods="dose")
    >>> p = predict(m, {"dose": [1.0, 4.0]})
    >>> # metafor 3.8-1: predict(rma(..., mods = ~ dose), newmods = c(1, 4), transf =
    >>> # transf.ilogit): 0.0573 [0.0312, 0.1030] and 0.1216 [0.0774, 0.1859]
    >>> p.table[["dose", "estimate", "ci_low", "ci_high"]].round(4).to_numpy().tolist()
    [[1.0, 0.0573, 0.0312, 0.103], [4.0, 0.1216, 0.0774, 0.1859]]
    """
    lev = res.level if level is None else level
    if isinstance(lev, bool) or not isinstance(lev, (int, float)) or not 0 < lev < 1:
        raise OptionError(f"Invalid level {lev!r}; must be a number in (0, 1), e.g. 0.95")
    lev = float(lev)
    alpha = 1 - lev
    notes: list[str] = []
    n_bt = _sizes_for_pft(res)
    if isinstance(res, PoolResult):
        if newmods is not None:
            raise OptionError(
                "Cannot specify new moderator values for a result without moderators "
                "(as metafor); use meta_regression() first"
            )
        L = res.link
        est, se = L.estimate, L.se
        df_t = L.df
        crit = norm_crit(alpha) if df_t is None else t_crit(alpha, df_t)
        lo, hi, _ = prediction_interval(
            est, se, res.tau2, res.k, lev, res.test, res.pi_method, fixed=res.method == "FE"
        )
        key = pd.DataFrame({"label": ["pooled"]})
        pred = np.array([est])
        sev = np.array([se])
        pl, ph = np.array([lo]), np.array([hi])
        tau2 = res.tau2
        method, test = res.method, res.test
    else:
        b = res.coefficients["estimate"].to_numpy(dtype=float)
        vb = res.vcov.to_numpy(dtype=float)
        p = b.shape[0]
        if newmods is None:
            Xn = res.X.to_numpy(dtype=float)
            key = pd.DataFrame({"label": res.studies["label"].astype(str).to_numpy()})
        else:
            if res.design is None:
                raise OptionError("this result keeps no moderator design to code newmods with")
            Xn = res.design.matrix(newmods)
            frame = (
                newmods
                if isinstance(newmods, pd.DataFrame)
                else pd.DataFrame(
                    [dict(newmods)]
                    if all(np.ndim(v) == 0 for v in dict(newmods).values())
                    else dict(newmods)
                )
            )
            key = frame[list(res.design.mods)].reset_index(drop=True)
        pred = Xn @ b
        vpred = np.einsum("ij,jk,ik->i", Xn, vb, Xn)
        vpred = np.where(vpred < 0, np.nan, vpred)
        sev = np.sqrt(vpred)
        df_t = float(res.k - p) if res.test == "knha" else None
        crit = norm_crit(alpha) if df_t is None else t_crit(alpha, df_t)
        tau2 = res.tau2
        sd = np.sqrt(vpred + tau2)
        pl, ph = pred - crit * sd, pred + crit * sd
        method, test = res.method, res.test
    cl, ch = pred - crit * sev, pred + crit * sev
    bt = MEASURES[res.measure].back_transform
    with np.errstate(invalid="ignore"):
        e, a, c, f, g = (np.asarray(bt(v, n_bt), dtype=float) for v in (pred, cl, ch, pl, ph))
    table = key.copy()
    cols: dict[str, FloatArray] = {
        "link_estimate": pred,
        "se": sev,
        "link_ci_low": cl,
        "link_ci_high": ch,
        "link_pi_low": pl,
        "link_pi_high": ph,
        "estimate": e,
        "ci_low": np.fmin(a, c),
        "ci_high": np.fmax(a, c),
        "pi_low": np.fmin(f, g),
        "pi_high": np.fmax(f, g),
    }
    for name, v in cols.items():
        table[name] = v
    if res.measure == "PFT" and n_bt is not None:
        notes.append(
            "PFT back-transformed at the harmonic mean of the fitted studies' sample sizes "
            f"(n = {1 / np.mean(1 / n_bt):.1f}, transf.ipft.hm)"
        )
    if method == "FE":
        notes.append("fixed-effect model: the prediction interval is the confidence interval")
    return PredictionResult(
        table=table,
        measure=res.measure,
        method=method,
        test=test,
        level=lev,
        df=df_t,
        tau2=tau2,
        notes=tuple(notes),
    )


# ----------------------------------------------------------------------- influence
@dataclass(frozen=True, slots=True, eq=False)
class RegressionInfluenceResult:
    """Case-deletion diagnostics of a meta-regression (metafor ``influence.rma.uni``).

    Attributes
    ----------
    table : pandas.DataFrame
        One row a study: ``label, rstudent, dffits, cook_d, cov_r, tau2_del, qe_del, hat,
        weight`` (percent) and ``influential`` (metafor's ``inf`` flag).
    dfbetas : pandas.DataFrame
        One row a study: ``label`` and one DFBETAS column a coefficient (the term names).
    base : MetaRegressionResult
    notes : tuple of str
    """

    table: pd.DataFrame
    dfbetas: pd.DataFrame
    base: MetaRegressionResult
    notes: tuple[str, ...] = ()

    def summary(self, digits: int = 4) -> str:
        """The diagnostics and the DFBETAS, influential studies starred as metafor."""
        cols = ["rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight"]
        out = [
            f"Influence diagnostics of the meta-regression on {', '.join(self.base.mods)} "
            "(metafor influence.rma.uni)",
            "",
        ]
        out.append(f"{'label':<16s}" + "".join(f"{c:>10s}" for c in cols) + "  inf")
        for _, r in self.table.iterrows():
            out.append(
                f"{r['label']!s:<16.16s}"
                + "".join(f"{fmt_x(r[c], digits):>10s}" for c in cols)
                + ("    *" if r["influential"] else "")
            )
        terms = [c for c in self.dfbetas.columns if c != "label"]
        out += ["", "DFBETAS:", f"{'label':<16s}" + "".join(f"{t:>12.12s}" for t in terms)]
        for _, r in self.dfbetas.iterrows():
            out.append(
                f"{r['label']!s:<16.16s}" + "".join(f"{fmt_x(r[t], digits):>12s}" for t in terms)
            )
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The diagnostics with the DFBETAS columns (``dfbs_<term>``)."""
        dfb = self.dfbetas.drop(columns="label").add_prefix("dfbs_")
        return pd.concat([self.table.reset_index(drop=True), dfb.reset_index(drop=True)], axis=1)

    def _repr_html_(self) -> str:
        return _html_table(
            "Influence diagnostics (meta-regression)", self.summary(), self.to_frame()
        )

    def __repr__(self) -> str:
        return (
            f"RegressionInfluenceResult(k={len(self.table)}, "
            f"influential={int(self.table['influential'].sum())})"
        )


def _influential(
    dff: FloatArray, cook: FloatArray, hat: FloatArray, dfbs: FloatArray, p: int, k: int
) -> NDArray[np.bool_]:
    """The flag of an influential study of metafor's ``influence.rma.uni`` (``p`` coefficients).

    Any of: ``|DFFITS| > 3 sqrt(p/(k-p))``, the Cook's distance above the median of a
    chi-square with ``p`` df, ``hat > 3p/k``, a ``|DFBETAS| > 1`` (``dfbs``: one column a
    coefficient, or one value a study when ``p = 1``); never where the refit failed (NaN).

    References
    ----------
    Viechtbauer W, Cheung MWL. Outlier and influence diagnostics for meta-analysis.
    *Res Synth Methods* 2010;1:112-25.
    """
    with np.errstate(invalid="ignore"):
        infl = (
            (np.abs(dff) > 3 * math.sqrt(p / (k - p)))
            | (1 - chdtrc(p, cook) > 0.5)
            | (hat > 3 * p / k)
            | np.any(np.abs(dfbs.reshape(len(dff), -1)) > 1, axis=1)
        )
    flag: NDArray[np.bool_] = infl & ~np.isnan(dff)
    return flag


def influence_regression(res: MetaRegressionResult) -> RegressionInfluenceResult:
    """Case-deletion influence diagnostics of a meta-regression (metafor ``influence.rma.uni``).

    Parameters
    ----------
    res : MetaRegressionResult
        An inverse-variance meta-regression.

    Returns
    -------
    RegressionInfluenceResult
        ``table``: ``rstudent, dffits, cook_d, cov_r, tau2_del, qe_del, hat, weight,
        influential``; ``dfbetas``: one column a coefficient.

    Raises
    ------
    OptionError
        A GLMM meta-regression (metafor 3.8-1 has no ``influence`` for ``rma.glmm``).
    InputError
        k < 2.

    Notes
    -----
    With ``W = diag(1/(vi + tau2))``, ``hat = diag(X (X'WX)^-1 X'W)``; deleting study i
    refits the model (its tau^2 estimator, test and level) on the others, giving
    ``b(-i)``, ``V(-i)``, ``tau2(-i)``, ``s2w(-i)`` (1 unless knha), ``QE(-i)``. Then
    ``rstudent = (y_i - x_i'b(-i)) / sqrt(s2w(-i) (v_i + tau2(-i)) + x_i'V(-i)x_i)``,
    ``dffits = x_i'(b - b(-i)) / sqrt(s2w(-i) hat_i (tau2(-i) + v_i))``,
    ``cook_d = (b - b(-i))' V^-1 (b - b(-i))``, ``cov_r = det V(-i) / det V``,
    ``dfbetas = (b - b(-i)) / sqrt(s2w(-i) diag((X'W(-i)X)^-1))`` with
    ``W(-i) = diag(1/(v + tau2(-i)))`` over all studies. A study is flagged influential
    when ``|dffits| > 3 sqrt(p/(k - p))``, ``pchisq(cook_d, p) > 0.5``, ``hat > 3p/k`` or
    any ``|dfbetas| > 1`` (Viechtbauer & Cheung 2010). A deletion that leaves a
    coefficient inestimable (a factor level with one study) gives a row of NaN, as
    metafor.

    References
    ----------
    Viechtbauer W, Cheung MWL. *Res Synth Methods* 2010;1:112-25.
    """
    if res.method == "GLMM":
        raise OptionError(
            "influence diagnostics of a GLMM meta-regression are not available (metafor "
            "3.8-1 has none for rma.glmm); fit an inverse-variance meta-regression"
        )
    if res.k < 2:
        raise InputError(f"influence diagnostics need at least 2 studies; got k = {res.k}")
    yi = res.studies["yi"].to_numpy(dtype=float)
    vi = res.studies["vi"].to_numpy(dtype=float)
    labels = res.studies["label"].astype(str).tolist()
    X = res.X.to_numpy(dtype=float)
    k, p = X.shape
    b = res.coefficients["estimate"].to_numpy(dtype=float)
    vb = res.vcov.to_numpy(dtype=float)
    svb = np.linalg.inv(vb)
    det_vb = float(np.linalg.det(vb))
    w = 1.0 / (vi + res.tau2)
    WX = X * w[:, None]
    hat = np.einsum("ij,ij->i", X @ np.linalg.inv(X.T @ WX), WX)
    weight = 100.0 * w / float(np.sum(w))
    pred_full = X @ b
    rst, dff, cook, covr, t2d, qed = (np.full(k, np.nan) for _ in range(6))
    dfbs = np.full((k, p), np.nan)
    notes: list[str] = []
    for i in range(k):
        keep = np.ones(k, dtype=bool)
        keep[i] = False
        Xi = X[keep]
        if np.linalg.matrix_rank(Xi) < p:
            notes.append(f"without {labels[i]}: a coefficient is not estimable; row left NaN")
            continue
        try:
            f = fit_rma(yi[keep], vi[keep], Xi, method=res.method, test=res.test, level=res.level)
        except ConvergenceError as e:
            notes.append(f"without {labels[i]}: {e}")
            continue
        t2d[i], qed[i] = f.tau2, f.qe
        xi = X[i]
        delpred = float(xi @ f.beta)
        vdel = float(xi @ f.vb @ xi)
        dff[i] = (pred_full[i] - delpred) / math.sqrt(f.s2w * hat[i] * (f.tau2 + vi[i]))
        wd = 1.0 / (vi + f.tau2)
        vb_del = np.linalg.inv(X.T @ (X * wd[:, None]))
        dfb = b - f.beta
        dfbs[i] = dfb / np.sqrt(f.s2w * np.diag(vb_del))
        cook[i] = float(dfb @ svb @ dfb)
        covr[i] = float(np.linalg.det(f.vb)) / det_vb
        resid = yi[i] - delpred
        if abs(resid) < 100 * np.finfo(float).eps:
            resid = 0.0
        rst[i] = resid / math.sqrt(vi[i] * f.s2w + vdel + f.tau2 * f.s2w)
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
            "influential": _influential(dff, cook, hat, dfbs, p, k),
        }
    )
    terms = res.coefficients["term"].astype(str).tolist()
    dfbetas = pd.DataFrame(dfbs, columns=terms)
    dfbetas.insert(0, "label", labels)
    return RegressionInfluenceResult(table=table, dfbetas=dfbetas, base=res, notes=tuple(notes))
