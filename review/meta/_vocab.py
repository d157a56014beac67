"""metafor's vocabulary, declared once: measures, tau^2 methods, tests, prediction intervals.

Every code the meta-analysis engine accepts is listed here, as data, with its long name,
citation and (for measures) the transform and back-transform. The ``Literal`` types are
used in the public signatures; :func:`check_code` validates a user-supplied code and
raises :class:`review.errors.OptionError` listing the valid ones. Codes are accepted
exactly as metafor spells them: no lower-casing and no aliases (one spelling each).

The same registry feeds ``summary()``, the forest-plot footnote and the methods sentence.

References
----------
Viechtbauer W. Conducting meta-analyses in R with the metafor package. *J Stat Softw*
2010;36(3):1-48. doi:10.18637/jss.v036.i03
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from review.errors import OptionError

__all__ = [
    "DEFAULT_STUDY_CI",
    "DFS",
    "DFS_INFO",
    "I2_METHODS",
    "MEASURES",
    "METHODS",
    "PI_METHODS",
    "PROPORTION_MEASURES",
    "RATE_MEASURES",
    "STRUCTURES",
    "STUDY_CIS",
    "TESTS",
    "I2Method",
    "I2MethodInfo",
    "MVMethod",
    "MVTest",
    "Measure",
    "MeasureInfo",
    "Method",
    "MethodInfo",
    "PIMethod",
    "PIMethodInfo",
    "ProportionMeasure",
    "RateMeasure",
    "Structure",
    "StudyCI",
    "StudyCIInfo",
    "Test",
    "TestInfo",
    "ZeroCellTo",
    "check_code",
    "check_study_ci",
]

ProportionMeasure = Literal["PR", "PLO", "PAS", "PFT"]
RateMeasure = Literal["IR", "IRLN", "IRS", "IRFT"]
Measure = Literal["PR", "PLO", "PAS", "PFT", "IR", "IRLN", "IRS", "IRFT"]
Method = Literal["FE", "DL", "REML", "ML", "PM", "HS", "SJ", "HE", "EB", "GLMM"]
Test = Literal["z", "knha"]
PIMethod = Literal["metafor", "riley", "V", "HTS"]
I2Method = Literal["tau2", "Q"]
StudyCI = Literal["CP", "WS", "WSCC", "AC", "SA", "SACC", "NAsm", "Poisson"]
ZeroCellTo = Literal["only0", "all", "if0all", "none"]
# the multilevel model (metafor rma.mv): its estimators, tests and t degrees of freedom
MVMethod = Literal["REML", "ML"]
MVTest = Literal["z", "t"]
DFS = Literal["residual", "contain"]
# how the rows of an analysis are modelled: one estimate a study (metafor rma.uni /
# rma.glmm), or strata nested in studies (rma.mv, random = ~ 1 | study/stratum)
Structure = Literal["univariate", "multilevel"]

FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------- transforms
def _pr(p: ArrayLike) -> FloatArray:
    return np.asarray(p, dtype=float)


def _logit(p: ArrayLike) -> FloatArray:
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore"):
        return np.log(p / (1.0 - p))


def _expit(x: ArrayLike) -> FloatArray:
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):  # NaN stays NaN (an interval that does not exist)
        out: FloatArray = np.exp(-np.logaddexp(0.0, -x))  # numpy stubs: Any for dtype[Any]
    return out


def _asin_sqrt(p: ArrayLike) -> FloatArray:
    out: FloatArray = np.arcsin(np.sqrt(np.asarray(p, dtype=float)))  # numpy stubs: Any
    return out


def _iarcsin(x: ArrayLike) -> FloatArray:
    # metafor transf.iarcsin: sin(x)^2, with x clipped to [0, pi/2] so the result stays in [0, 1]
    x = np.clip(np.asarray(x, dtype=float), 0.0, np.pi / 2)
    return np.sin(x) ** 2


def pft(p: ArrayLike, n: ArrayLike) -> FloatArray:
    """Freeman-Tukey double arcsine of a proportion ``p`` with sample size ``n``.

    As metafor ``transf.pft``: ``x = p*n``, ``(asin(sqrt(x/(n+1))) + asin(sqrt((x+1)/(n+1))))/2``.

    References
    ----------
    Freeman MF, Tukey JW. Transformations related to the angular and the square root.
    *Ann Math Stat* 1950;21:607-11.
    """
    p = np.asarray(p, dtype=float)
    n = np.asarray(n, dtype=float)
    x = p * n
    out: FloatArray = 0.5 * (
        np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1)))
    )
    return out


def ipft(x: ArrayLike, n: ArrayLike) -> FloatArray:
    """Inverse Freeman-Tukey double arcsine at sample size ``n`` (Miller 1978).

    Mirrors metafor ``transf.ipft.hm`` with ``nhm`` replaced by ``n``: values above
    ``pft(1, n)`` map to 1, below ``pft(0, n)`` to 0.

    References
    ----------
    Miller JJ. The inverse of the Freeman-Tukey double arcsine transformation.
    *Am Stat* 1978;32:138.
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(all="ignore"):  # NaN/inf outside the domain are mapped to 0 or 1 below
        s = np.sin(2 * x)
        z = 0.5 * (1 - np.sign(np.cos(2 * x)) * np.sqrt(1 - (s + (s - 1 / s) / n) ** 2))
    z = np.where(np.isnan(z), np.nan, z)
    z = np.where(x > pft(1.0, n), 1.0, z)
    z = np.where(x < pft(0.0, n), 0.0, z)
    return z


def harmonic_mean(n: ArrayLike) -> float:
    """Harmonic mean of sample sizes, as metafor's ``1/mean(1/ni)``."""
    n = np.asarray(n, dtype=float)
    return float(1.0 / np.mean(1.0 / n[~np.isnan(n)]))


def _ipft_hm(x: ArrayLike, n: ArrayLike | None) -> FloatArray:
    if n is None:
        raise OptionError("The PFT back-transform needs the study sample sizes (harmonic mean).")
    return ipft(x, harmonic_mean(n))


def _isqrt(x: ArrayLike) -> FloatArray:
    # metafor transf.isqrt: x^2, with negative values mapped to 0
    x = np.asarray(x, dtype=float)
    return np.where(x < 0, 0.0, x * x)


def irft(r: ArrayLike, t: ArrayLike) -> FloatArray:
    """Freeman-Tukey transform of an incidence rate ``r`` with person-time ``t``.

    As metafor ``transf.irft``: ``(sqrt(r) + sqrt(r + 1/t))/2``, i.e. ``(sqrt(x/t) +
    sqrt((x + 1)/t))/2`` for ``x`` events.

    References
    ----------
    Freeman MF, Tukey JW. Transformations related to the angular and the square root.
    *Ann Math Stat* 1950;21:607-11.
    """
    r = np.asarray(r, dtype=float)
    t = np.asarray(t, dtype=float)
    out: FloatArray = 0.5 * (np.sqrt(r) + np.sqrt(r + 1.0 / t))
    return out


def iirft(y: ArrayLike, t: ArrayLike) -> FloatArray:
    """Inverse of :func:`irft` at person-time ``t``, as metafor ``transf.iirft``.

    ``(1/t - 8 y^2 + 16 t y^4) / (16 y^2 t)``; values below ``irft(0, t)`` (and results
    below machine epsilon) map to 0.

    References
    ----------
    Freeman MF, Tukey JW. *Ann Math Stat* 1950;21:607-11; Viechtbauer W. metafor 3.8-1,
    ``transf.iirft``.
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    with np.errstate(all="ignore"):  # y = 0 gives inf/NaN, mapped to 0 below
        z = (1.0 / t - 8 * y**2 + 16 * t * y**4) / (16 * y**2 * t)
    z = np.where(y < irft(0.0, t), 0.0, z)
    return np.where(z <= np.finfo(float).eps, 0.0, z)


def _iirft_hm(y: ArrayLike, t: ArrayLike | None) -> FloatArray:
    if t is None:
        raise OptionError("The IRFT back-transform needs the studies' person-time (harmonic mean).")
    return iirft(y, harmonic_mean(t))


def _identity(x: ArrayLike, n: ArrayLike | None = None) -> FloatArray:
    return np.asarray(x, dtype=float)


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True, slots=True)
class MeasureInfo:
    """One effect-size measure.

    Attributes
    ----------
    code : str
        metafor's code (``escalc(measure=...)``).
    long_name : str
        What it is, in words.
    kind : {"proportion", "rate"}
        Which entry point accepts it.
    citation : str
        Where the transform comes from.
    transform : callable
        ``transform(value, n)`` from the proportion (or rate) scale to the model scale;
        ``n`` is used by PFT only.
    back_transform : callable
        ``back_transform(y, n)`` from the model scale to the proportion (or rate) scale;
        ``n`` is the vector of sample sizes for PFT (harmonic mean, ``transf.ipft.hm``)
        and ignored otherwise.
    back_name : str
        metafor's name of the back-transform (``transf.ilogit``, ...).
    default_add : float
        The escalc default continuity correction for this measure (0 for PAS and PFT).
    """

    code: str
    long_name: str
    kind: Literal["proportion", "rate"]
    citation: str
    transform: Callable[..., FloatArray]
    back_transform: Callable[..., FloatArray]
    back_name: str
    default_add: float


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """One tau^2 estimator (or model family, for GLMM).

    Attributes
    ----------
    code, long_name, citation
        metafor's code, the printed name (as ``print.rma.uni``), the reference.
    iterative : bool
        Whether the estimate comes from an iterative fit (tolerance 1e-4 in golden tests).
    """

    code: str
    long_name: str
    citation: str
    iterative: bool


@dataclass(frozen=True, slots=True)
class TestInfo:
    """One inference method for the pooled estimate."""

    code: str
    long_name: str
    citation: str


@dataclass(frozen=True, slots=True)
class PIMethodInfo:
    """One prediction-interval method."""

    code: str
    long_name: str
    citation: str


def _m(
    code: str,
    long_name: str,
    kind: Literal["proportion", "rate"],
    citation: str,
    tr: Callable[..., FloatArray],
    btr: Callable[..., FloatArray],
    bname: str,
    add: float,
) -> MeasureInfo:
    return MeasureInfo(code, long_name, kind, citation, tr, btr, bname, add)


MEASURES: Mapping[str, MeasureInfo] = MappingProxyType(
    {
        "PR": _m(
            "PR",
            "raw proportion",
            "proportion",
            "Viechtbauer W. J Stat Softw 2010;36(3):1-48 (escalc measure 'PR').",
            lambda p, n=None: _pr(p),
            _identity,
            "identity",
            0.5,
        ),
        "PLO": _m(
            "PLO",
            "logit transformed proportion",
            "proportion",
            "Viechtbauer W. J Stat Softw 2010;36(3):1-48 (escalc measure 'PLO').",
            lambda p, n=None: _logit(p),
            lambda y, n=None: _expit(y),
            "transf.ilogit",
            0.5,
        ),
        "PAS": _m(
            "PAS",
            "arcsine square root transformed proportion",
            "proportion",
            "Rucker G, Schwarzer G, Carpenter J, Olkin I. Stat Med 2009;28:721-38.",
            lambda p, n=None: _asin_sqrt(p),
            lambda y, n=None: _iarcsin(y),
            "transf.iarcsin",
            0.0,
        ),
        "PFT": _m(
            "PFT",
            "Freeman-Tukey double arcsine transformed proportion",
            "proportion",
            "Freeman MF, Tukey JW. Ann Math Stat 1950;21:607-11; inverse: Miller JJ. "
            "Am Stat 1978;32:138.",
            pft,
            _ipft_hm,
            "transf.ipft.hm",
            0.0,
        ),
        "IR": _m(
            "IR",
            "raw incidence rate",
            "rate",
            "Viechtbauer W. J Stat Softw 2010;36(3):1-48 (escalc measure 'IR').",
            lambda r, n=None: _pr(r),
            _identity,
            "identity",
            0.5,
        ),
        "IRLN": _m(
            "IRLN",
            "log transformed incidence rate",
            "rate",
            "Viechtbauer W. J Stat Softw 2010;36(3):1-48 (escalc measure 'IRLN').",
            lambda r, n=None: np.log(np.asarray(r, dtype=float)),
            lambda y, n=None: np.exp(np.asarray(y, dtype=float)),
            "exp",
            0.5,
        ),
        "IRS": _m(
            "IRS",
            "square root transformed incidence rate",
            "rate",
            "Freeman MF, Tukey JW. Ann Math Stat 1950;21:607-11 (square root of a Poisson "
            "rate); Viechtbauer W. J Stat Softw 2010;36(3):1-48 (escalc measure 'IRS').",
            lambda r, n=None: np.sqrt(np.asarray(r, dtype=float)),
            lambda y, n=None: _isqrt(y),
            "transf.isqrt",
            0.0,
        ),
        "IRFT": _m(
            "IRFT",
            "Freeman-Tukey transformed incidence rate",
            "rate",
            "Freeman MF, Tukey JW. Ann Math Stat 1950;21:607-11; Viechtbauer W. J Stat Softw "
            "2010;36(3):1-48 (escalc measure 'IRFT'; transf.iirft).",
            irft,
            _iirft_hm,
            "transf.iirft (harmonic mean of person-time)",
            0.0,
        ),
    }
)

PROPORTION_MEASURES: tuple[str, ...] = get_args(ProportionMeasure)
RATE_MEASURES: tuple[str, ...] = get_args(RateMeasure)

METHODS: Mapping[str, MethodInfo] = MappingProxyType(
    {
        "FE": MethodInfo(
            "FE",
            "Fixed-Effects Model",
            "Hedges LV, Olkin I. Statistical Methods for Meta-Analysis. Academic Press; 1985.",
            False,
        ),
        "DL": MethodInfo(
            "DL",
            "DerSimonian-Laird estimator",
            "DerSimonian R, Laird N. Control Clin Trials 1986;7:177-88.",
            False,
        ),
        "REML": MethodInfo(
            "REML",
            "restricted maximum likelihood estimator",
            "Raudenbush SW. "
            "Analyzing effect sizes: random-effects models. In: Cooper H et al., "
            "eds. The Handbook of Research Synthesis and Meta-Analysis. 2nd ed. "
            "2009:295-315.",
            True,
        ),
        "ML": MethodInfo(
            "ML",
            "maximum likelihood estimator",
            "Hardy RJ, Thompson SG. Stat Med 1996;15:619-29.",
            True,
        ),
        "PM": MethodInfo(
            "PM",
            "Paule-Mandel estimator",
            "Paule RC, Mandel J. J Res Natl Bur Stand 1982;87:377-85.",
            True,
        ),
        "HS": MethodInfo(
            "HS",
            "Hunter-Schmidt estimator",
            "Hunter JE, Schmidt FL. Methods of Meta-Analysis. 2nd ed. Sage; 2004.",
            False,
        ),
        "SJ": MethodInfo(
            "SJ", "Sidik-Jonkman estimator", "Sidik K, Jonkman JN. Stat Med 2005;24:3681-97.", False
        ),
        "HE": MethodInfo(
            "HE", "Hedges estimator", "Hedges LV. Psychol Bull 1983;93:388-95.", False
        ),
        "EB": MethodInfo(
            "EB", "empirical Bayes estimator", "Morris CN. J Am Stat Assoc 1983;78:47-55.", True
        ),
        "GLMM": MethodInfo(
            "GLMM",
            "generalized linear mixed model (ML, adaptive Gauss-Hermite quadrature)",
            "Stijnen T, Hamza TH, Ozdemir P. Stat Med 2010;29:3046-67.",
            True,
        ),
    }
)

TESTS: Mapping[str, TestInfo] = MappingProxyType(
    {
        "z": TestInfo(
            "z",
            "Wald-type z-test and confidence interval (standard normal)",
            "Viechtbauer W. J Stat Softw 2010;36(3):1-48.",
        ),
        "knha": TestInfo(
            "knha",
            "Hartung-Knapp(-Sidik-Jonkman) adjustment, t-distribution with k-p degrees of freedom",
            "Hartung J, Knapp G. Stat Med 2001;20:3875-89.",
        ),
        # multilevel models only (metafor rma.mv has no Hartung-Knapp adjustment in 3.8-1)
        "t": TestInfo(
            "t",
            "t-distribution for the tests and intervals, without a variance adjustment "
            "(metafor rma.mv test='t')",
            "Viechtbauer W. metafor 3.8-1, rma.mv (test, dfs).",
        ),
    }
)

#: How the t degrees of freedom of a multilevel model are counted (metafor ``rma.mv(dfs=)``).
DFS_INFO: Mapping[str, str] = MappingProxyType(
    {
        "residual": "k - p (number of estimates minus number of coefficients)",
        "contain": "number of levels of the innermost grouping factor within which the "
        "coefficient's column is constant, minus p (metafor dfs='contain')",
    }
)

#: How an analysis models its rows (a protocol's ``model.structure``).
STRUCTURES: Mapping[str, str] = MappingProxyType(
    {
        "univariate": "one estimate a study, one between-study variance (metafor rma.uni, "
        "rma.glmm); strata of one study are summed into one row first",
        "multilevel": "strata kept, random effects for studies and for strata within studies "
        "(metafor rma.mv, random = ~ 1 | study/stratum; Konstantopoulos S. Res Synth Methods "
        "2011;2:61-76)",
    }
)

PI_METHODS: Mapping[str, PIMethodInfo] = MappingProxyType(
    {
        "metafor": PIMethodInfo(
            "metafor",
            "as metafor 3.8 predict(): normal quantile (t with k-p df under test='knha'), "
            "sqrt(tau2 + SE^2)",
            "Viechtbauer W. metafor 3.8-1, predict.rma.",
        ),
        "riley": PIMethodInfo(
            "riley",
            "Higgins-Thompson-Spiegelhalter / Riley: t with k-2 df, sqrt(tau2 + SE^2)",
            "Higgins JPT, Thompson SG, Spiegelhalter DJ. J R Stat Soc A 2009;172:137-59; "
            "Riley RD, Higgins JPT, Deeks JJ. BMJ 2011;342:d549.",
        ),
        "V": PIMethodInfo(
            "V",
            "as R meta >= 8 method.predict='V': t with k-1 df, sqrt(tau2 + SE^2) with the "
            "unadjusted SE (also under test='knha'); none for k < 2",
            "Veroniki AA, Jackson D, Bender R, et al. Res Synth Methods 2019;10:23-43; "
            "Schwarzer G. meta 8.2-1, metagen(method.predict='V').",
        ),
        "HTS": PIMethodInfo(
            "HTS",
            "as R meta <= 7 method.predict='HTS': t with k-2 df, sqrt(tau2 + SE^2) with the "
            "unadjusted SE; none for k < 3",
            "Higgins JPT, Thompson SG, Spiegelhalter DJ. J R Stat Soc A 2009;172:137-59; "
            "Schwarzer G. meta 7.0-0, metagen(method.predict='HTS').",
        ),
    }
)


@dataclass(frozen=True, slots=True)
class I2MethodInfo:
    """One way of computing I^2 (and H^2)."""

    code: str
    long_name: str
    citation: str


I2_METHODS: Mapping[str, I2MethodInfo] = MappingProxyType(
    {
        "tau2": I2MethodInfo(
            "tau2",
            "I^2 = tau^2/(tau^2 + typical within-study variance), H^2 = tau^2/vt + 1 (metafor; "
            "R meta method.I2='tau2')",
            "Higgins JPT, Thompson SG. Stat Med 2002;21:1539-58; Viechtbauer W. J Stat Softw "
            "2010;36(3):1-48.",
        ),
        "Q": I2MethodInfo(
            "Q",
            "I^2 = (Q - df)/Q floored at 0, H^2 = Q/df, from Cochran's Q (the Wald-type Q for a "
            "GLMM) (R meta method.I2='Q', its default)",
            "Higgins JPT, Thompson SG. Stat Med 2002;21:1539-58; Schwarzer G. meta 8.2-1, "
            "metagen(method.I2='Q').",
        ),
    }
)


@dataclass(frozen=True, slots=True)
class StudyCIInfo:
    """One per-study confidence interval (the study rows of tables and forest plots).

    ``kind`` is ``"proportion"``, ``"rate"`` or ``"both"``; codes are R meta's
    ``method.ci`` values (``metaprop`` and ``metarate``).
    """

    code: str
    long_name: str
    kind: Literal["proportion", "rate", "both"]
    citation: str


STUDY_CIS: Mapping[str, StudyCIInfo] = MappingProxyType(
    {
        "CP": StudyCIInfo(
            "CP",
            "exact Clopper-Pearson",
            "proportion",
            "Clopper CJ, Pearson ES. Biometrika 1934;26:404-13 (R meta metaprop default).",
        ),
        "WS": StudyCIInfo(
            "WS", "Wilson score", "proportion", "Wilson EB. J Am Stat Assoc 1927;22:209-12."
        ),
        "WSCC": StudyCIInfo(
            "WSCC",
            "Wilson score with continuity correction",
            "proportion",
            "Newcombe RG. Stat Med 1998;17:857-72.",
        ),
        "AC": StudyCIInfo(
            "AC", "Agresti-Coull", "proportion", "Agresti A, Coull BA. Am Stat 1998;52:119-26."
        ),
        "SA": StudyCIInfo(
            "SA",
            "simple asymptotic (Wald on the proportion)",
            "proportion",
            "Newcombe RG. Stat Med 1998;17:857-72.",
        ),
        "SACC": StudyCIInfo(
            "SACC",
            "simple asymptotic with continuity correction",
            "proportion",
            "Newcombe RG. Stat Med 1998;17:857-72.",
        ),
        "NAsm": StudyCIInfo(
            "NAsm",
            "Wald on the model scale of the measure (yi +- z sqrt(vi)), back-transformed",
            "both",
            "Schwarzer G. meta 8.2-1, metaprop/metarate(method.ci='NAsm'; metarate default).",
        ),
        "Poisson": StudyCIInfo(
            "Poisson",
            "exact Poisson (Garwood)",
            "rate",
            "Garwood F. Biometrika 1936;28:437-42 (R meta metarate(method.ci='Poisson')).",
        ),
    }
)

#: The study interval each kind uses unless told otherwise.
DEFAULT_STUDY_CI: Mapping[str, str] = MappingProxyType({"proportion": "CP", "rate": "Poisson"})


def check_study_ci(kind: str, value: object) -> str:
    """Return ``value`` if it is a valid per-study interval code for ``kind``; raise otherwise."""
    valid = tuple(c for c, i in STUDY_CIS.items() if i.kind in (kind, "both"))
    return check_code("study_ci", value, valid)


_REGISTRIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "measure": get_args(Measure),
        "method": get_args(Method),
        "test": get_args(Test),
        "pi_method": get_args(PIMethod),
        "to": get_args(ZeroCellTo),
        "i2_method": get_args(I2Method),
        "study_ci": get_args(StudyCI),
        "dfs": get_args(DFS),
        "structure": get_args(Structure),
    }
)


def check_code(kind: str, value: object, allowed: tuple[str, ...] | None = None) -> str:
    """Return ``value`` if it is a valid code of ``kind``; raise otherwise.

    Parameters
    ----------
    kind : {"measure", "method", "test", "pi_method", "to", "i2_method", "study_ci", "dfs",
        "structure"}
        Which vocabulary.
    value : object
        The code given by the user (exact spelling).
    allowed : tuple of str, optional
        A narrower set (for example proportion measures only).

    Raises
    ------
    OptionError
        "Invalid method 'XX'; must be one of [...]".
    """
    valid = allowed if allowed is not None else _REGISTRIES[kind]
    if not isinstance(value, str) or value not in valid:
        raise OptionError(f"Invalid {kind} {value!r}; must be one of {list(valid)}")
    return value
