"""Agreement coefficients of two raters from a q x q table of counts: the one implementation.

Used by screening (:func:`review.screening.agreement`, two reviewers' decisions) and by
risk-of-bias appraisal (:func:`review.appraisal.agreement`, two assessors' answers per item).
See :func:`review.screening.agreement` for the formulas and their references (Cohen 1960;
Fleiss, Cohen & Everitt 1969; Gwet 2008; Byrt et al. 1993).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Coefficients", "coefficients"]


@dataclass(frozen=True, slots=True)
class Coefficients:
    """Agreement statistics of one table (NaN where undefined)."""

    n: int
    observed: float
    expected_kappa: float
    kappa: float
    kappa_se: float
    kappa_ci_low: float
    kappa_ci_high: float
    expected_ac1: float
    ac1: float
    pabak: float


def _kappa_se(counts: Sequence[Sequence[int]], kappa: float, pe: float) -> float:
    """Large-sample SE of kappa, not assuming kappa = 0 (Fleiss, Cohen & Everitt 1969).

    statsmodels' ``inter_rater.cohens_kappa(table).var_kappa``: the well-kept implementation
    serves here (agreement is computed once a report, so its ~1 ms a call does not matter);
    ``tests/test_screening.py`` checks it against the published formula transcribed there.
    ``pe`` is kept in the signature for the callers; statsmodels recomputes it.
    """
    n = sum(sum(r) for r in counts)
    if n == 0 or math.isnan(kappa) or pe >= 1:
        return math.nan
    import numpy as np
    from statsmodels.stats.inter_rater import cohens_kappa

    with np.errstate(all="ignore"):  # a degenerate table: NaN, said by the caller's notes
        res = cohens_kappa(np.asarray(counts, dtype=float))
    var = float(res.var_kappa)  # statsmodels is untyped
    return math.sqrt(max(var, 0.0))


def coefficients(counts: Sequence[Sequence[int]], level: float = 0.95) -> Coefficients:
    """Observed agreement, Cohen's kappa (with SE and Wald interval), Gwet's AC1 and PABAK.

    ``counts[i][j]``: items the first rater put in category i and the second in j (q >= 2).
    """
    q = len(counts)
    if q < 2 or any(len(r) != q for r in counts):
        raise ValueError(f"counts must be a square table of at least 2 x 2, got {counts!r}")
    n = sum(sum(r) for r in counts)
    nan = math.nan
    if n == 0:
        return Coefficients(0, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    po = sum(counts[k][k] for k in range(q)) / n
    p1 = [sum(counts[k]) / n for k in range(q)]
    p2 = [sum(counts[j][k] for j in range(q)) / n for k in range(q)]
    pe_k = sum(p1[k] * p2[k] for k in range(q))
    kappa = (po - pe_k) / (1 - pe_k) if pe_k < 1 else nan
    pi = [(p1[k] + p2[k]) / 2 for k in range(q)]
    pe_g = sum(p * (1 - p) for p in pi) / (q - 1)
    ac1 = (po - pe_g) / (1 - pe_g)
    pabak = (q * po - 1) / (q - 1)
    se = _kappa_se(counts, kappa, pe_k)
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    lo = max(-1.0, kappa - z * se) if not math.isnan(se) else nan
    hi = min(1.0, kappa + z * se) if not math.isnan(se) else nan
    return Coefficients(n, po, pe_k, kappa, se, lo, hi, pe_g, ac1, pabak)
