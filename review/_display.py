"""The display vocabulary of the figures, declared once: scales, axis transforms, orders.

Read by :mod:`review.plots.forest` (which draws with it) and by :mod:`review.protocol`
(which validates an analysis's ``display`` options with it when the protocol is loaded), so
neither the protocol needs the plotting modules nor the two can drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = ["SCALES", "Scale", "ScaleInfo", "Sort", "XScale"]

Scale = Literal["proportion", "percent", "per1000", "perpy", "per100py", "per1000py"]
XScale = Literal["linear", "log", "logit"]
Sort = Literal["estimate", "year", "precision"]


@dataclass(frozen=True)
class ScaleInfo:
    kind: str
    mult: float
    axis_label: str
    header: str
    digits: int


#: Display scales: the kind of result they fit, the multiplier, axis label and digits.
SCALES: Mapping[str, ScaleInfo] = MappingProxyType(
    {
        "proportion": ScaleInfo("proportion", 1.0, "Proportion", "Proportion", 3),
        "percent": ScaleInfo("proportion", 100.0, "Proportion (%)", "Proportion, %", 1),
        "per1000": ScaleInfo("proportion", 1000.0, "Events per 1000", "Per 1000", 1),
        "perpy": ScaleInfo("rate", 1.0, "Rate per person-year", "Rate", 4),
        "per100py": ScaleInfo("rate", 100.0, "Rate per 100 person-years", "Per 100 PY", 2),
        "per1000py": ScaleInfo("rate", 1000.0, "Rate per 1000 person-years", "Per 1000 PY", 1),
    }
)
