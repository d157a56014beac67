"""Display formatting. Results keep full precision; only these helpers round, on a copy."""

from __future__ import annotations

import math

__all__ = ["fmt_ci", "fmt_p", "fmt_pct", "fmt_x"]


def fmt_x(x: float | None, digits: int = 4) -> str:
    """A number with ``digits`` decimals; ``NA`` for missing or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    return f"{x:.{digits}f}"


def fmt_p(p: float | None, digits: int = 4) -> str:
    """A p-value as metafor prints it: ``<.0001`` below the last shown decimal, no leading 0."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "NA"
    floor = 10.0**-digits
    if p < floor:
        return "<." + "0" * (digits - 1) + "1"
    s = f"{p:.{digits}f}"
    return s[1:] if s.startswith("0") else s


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """A proportion as a percentage: ``0.0612`` -> ``6.1%``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    return f"{100 * x:.{digits}f}%"


def fmt_ci(lo: float | None, hi: float | None, digits: int = 4, scale: float = 1.0) -> str:
    """An interval as ``[lo, hi]`` after multiplying by ``scale``."""
    if lo is None or hi is None:
        return "NA"
    return f"[{fmt_x(lo * scale, digits)}, {fmt_x(hi * scale, digits)}]"
