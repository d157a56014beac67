"""Moderator design matrices, kept so that new moderator values can be coded the same way.

A numeric moderator enters as is; any other column as treatment dummies with the first
sorted level as reference (R's ``factor()``). :class:`ModeratorDesign` remembers which
was which and the levels, so :func:`review.meta.predict` codes ``newmods`` exactly as the
fit coded the data (what metafor leaves to the user, who must type the dummy columns).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from review._numbers import number_column
from review.errors import InputError

__all__ = ["ModeratorDesign", "design_matrix"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ModeratorDesign:
    """How the moderators of a meta-regression were coded.

    Attributes
    ----------
    mods : tuple of str
        Moderator columns, in model order.
    kinds : tuple of str
        ``"numeric"`` or ``"factor"`` for each moderator.
    levels : tuple of tuple of str
        The sorted levels of each factor (the first is the reference); empty for numbers.
    terms : tuple of str
        Column names of the design matrix (``intrcpt`` first), as metafor names them.
    """

    mods: tuple[str, ...]
    kinds: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    terms: tuple[str, ...]

    def matrix(self, new: pd.DataFrame | Mapping[str, Any], *, what: str = "newmods") -> FloatArray:
        """The design matrix of new moderator values, coded as the fit coded its data.

        Parameters
        ----------
        new : pandas.DataFrame or mapping
            One column (key) a moderator; a mapping of scalars is one row.
        what : str
            Name of the argument, for error messages.

        Raises
        ------
        InputError
            A moderator missing, a missing value, a number that is not one, or a factor
            level the fit never saw.
        """
        frame = _as_frame(new, what)
        rows = len(frame)
        cols: list[FloatArray] = [np.ones(rows)]
        for m, kind, levs in zip(self.mods, self.kinds, self.levels):
            if m not in frame.columns:
                raise InputError(
                    f"{what} has no value for moderator {m!r}; give one for each of "
                    f"{list(self.mods)}",
                    column=m,
                )
            s = frame[m]
            for idx, v in s.items():
                if pd.isna(v):
                    raise InputError(
                        f"missing moderator value in {what}", row=cast("int | str", idx), column=m
                    )
            if kind == "numeric":
                vals = pd.to_numeric(s, errors="coerce")
                for (idx, v), raw in zip(vals.items(), s.tolist()):
                    if pd.isna(v):
                        raise InputError(
                            f"moderator {m!r} is numeric in the fit; {raw!r} in {what} is "
                            "not a number",
                            row=cast("int | str", idx),
                            column=m,
                        )
                cols.append(vals.to_numpy(dtype=float))
            else:
                txt = s.astype(str)
                for idx, v in txt.items():
                    if v not in levs:
                        raise InputError(
                            f"level {v!r} of moderator {m!r} in {what} is not one the fit "
                            f"saw: {list(levs)}",
                            row=cast("int | str", idx),
                            column=m,
                        )
                for lev in levs[1:]:
                    cols.append(np.asarray(txt == lev, dtype=float))
        return np.column_stack(cols)


def _as_frame(new: pd.DataFrame | Mapping[str, Any], what: str) -> pd.DataFrame:
    if isinstance(new, pd.DataFrame):
        return new
    if isinstance(new, Mapping):
        vals = dict(new)
        if all(np.ndim(v) == 0 for v in vals.values()):
            return pd.DataFrame([vals])
        return pd.DataFrame(vals)
    raise InputError(
        f"{what} must be a DataFrame or a mapping of moderator -> values, got {type(new).__name__}"
    )


def design_matrix(
    data: pd.DataFrame, mods: Sequence[str]
) -> tuple[FloatArray, list[str], ModeratorDesign]:
    """The design matrix of ``mods`` in ``data`` (intercept first) and how it was coded.

    Raises
    ------
    InputError
        A moderator column missing, a missing value, or a design not of full rank.
    """
    cols: list[FloatArray] = [np.ones(len(data))]
    names = ["intrcpt"]
    kinds: list[str] = []
    levels: list[tuple[str, ...]] = []
    for m in mods:
        if m not in data.columns:
            raise InputError(
                f"moderator column {m!r} not found; columns are {list(map(str, data.columns))}",
                column=m,
            )
        s = data[m]
        for idx, v in s.items():
            if pd.isna(v):
                # the caller's index label, as given (pandas types labels as Hashable)
                raise InputError("missing moderator value", row=cast("int | str", idx), column=m)
        if pd.api.types.is_timedelta64_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            raise InputError(
                "a time span or date moderator: give it as a number in the unit wanted "
                "(e.g. years), so the slope has a unit",
                column=m,
            )
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            # the toolkit's one number check: finite, not boolean (row and column named)
            frame = pd.DataFrame({m: s})
            cols.append(number_column(frame, m, what="moderator", whole=False, nonnegative=False))
            names.append(m)
            kinds.append("numeric")
            levels.append(())
        else:
            levs = tuple(sorted(s.astype(str).unique()))
            for lev in levs[1:]:  # first level is the reference, as R's factor()
                cols.append((s.astype(str) == lev).to_numpy(dtype=float))
                names.append(f"{m}{lev}")
            kinds.append("factor")
            levels.append(levs)
    X = np.column_stack(cols)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise InputError(
            f"design matrix of moderators {list(mods)} not of full rank (a moderator is "
            "constant or collinear); cannot fit",
            column=", ".join(mods),
        )
    design = ModeratorDesign(tuple(mods), tuple(kinds), tuple(levels), tuple(names))
    return X, names, design
