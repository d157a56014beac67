"""Display formatting. Results keep full precision; only these helpers round, on a copy."""

from __future__ import annotations

import math

__all__ = ["clip_proportion", "fmt_ci", "fmt_p", "fmt_pct", "fmt_shown", "fmt_x"]

#: The note printed beside a proportion's interval cut at 0 or 1.
TRUNCATED_NOTE = (
    "truncated at {bound} for display: the model's interval ({raw}) reaches outside [0, 1], "
    "where a proportion cannot lie; the result keeps the model's value"
)


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


def fmt_shown(x: float | None, digits: int = 4) -> str:
    """Like :func:`fmt_x`, but a non-zero value never shows as zero.

    A value that would round to ``0.0000`` (or ``-0.0000``) at ``digits`` decimals gets the
    decimals it needs for two significant digits, so a small estimate is not printed as a
    zero estimate: ``fmt_shown(0.0000412, 3)`` -> ``0.000041``. An exact zero stays ``0.000``.

    Examples
    --------
    >>> fmt_shown(0.0000412, 3), fmt_shown(0.0, 3), fmt_shown(0.0612, 3)
    ('0.000041', '0.000', '0.061')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    if x != 0 and abs(x) < 0.5 * 10.0**-digits and math.isfinite(x):
        need = 1 - math.floor(math.log10(abs(x)))
        return f"{x:.{max(digits, need)}f}"
    return fmt_x(x, digits)


def clip_proportion(lo: float, hi: float) -> tuple[float, float, str | None]:
    """A proportion's interval cut to [0, 1], and the note to print when it was cut.

    Results keep the model's own bounds (metafor's, e.g. an untransformed raw-proportion
    model's symmetric interval may reach below 0); only what is shown is cut.

    Returns
    -------
    lo, hi : float
        The bounds within [0, 1].
    note : str or None
        Why the interval was cut (``None`` when it was not).

    Examples
    --------
    >>> clip_proportion(-0.000126, 0.0015)[:2]
    (0.0, 0.0015)
    >>> clip_proportion(0.1, 0.2)
    (0.1, 0.2, None)
    """
    if not (lo < 0 or hi > 1):  # NaN bounds are left alone
        return lo, hi, None
    bound = "0" if lo < 0 else "1"
    if lo < 0 and hi > 1:
        bound = "0 and 1"
    raw = f"{fmt_shown(lo, 4)} to {fmt_shown(hi, 4)}"
    return max(lo, 0.0), min(hi, 1.0), TRUNCATED_NOTE.format(bound=bound, raw=raw)
