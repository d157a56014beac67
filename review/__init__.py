"""review: systematic reviews with meta-analysis of incidence, in Python and Jupyter.

One module per review step; data flows one way:
records (:mod:`review.search`, :mod:`review.records`, :mod:`review.dedup`) ->
decisions (:mod:`review.screening`, :mod:`review.prisma`) ->
studies (:mod:`review.extraction`) -> pooled results (:mod:`review.meta`) ->
figures (:mod:`review.plots`).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
