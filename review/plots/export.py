"""Write a figure as vector PDF and SVG and a 300 dpi PNG in one call.

Text stays text in the vector files (``svg.fonttype = 'none'`` writes ``<text>`` elements,
``pdf.fonttype = 42`` embeds TrueType fonts), so a journal's typesetter can edit labels and
no glyph is rasterised. A width in millimetres (85 mm for one journal column, 174 mm for
the page) resizes the figure while keeping every font size in points: figures drawn by
:mod:`review.plots` lay themselves out again at the new width (columns re-measured, long
labels re-wrapped, height from the number of rows); other figures are resized as they are.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib as mpl
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

from review._io import write_atomic
from review.errors import OptionError, OutputError
from review.plots._style import RC

__all__ = ["COLUMN_MM", "PAGE_MM", "save_figure"]

#: One journal column and a full page width, in millimetres.
COLUMN_MM = 85.0
PAGE_MM = 174.0

_FORMATS = ("pdf", "svg", "png", "eps", "tiff")
_MM_PER_INCH = 25.4


def save_figure(
    fig: Figure,
    path_stem: str | PathLike[str],
    *,
    formats: Sequence[str] = ("pdf", "svg", "png"),
    dpi: int = 300,
    width_mm: float | None = None,
) -> list[Path]:
    """Save ``fig`` in several formats in one call.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, usually from :func:`review.plots.forest` or :func:`review.plots.funnel`.
    path_stem : str or path-like
        File name without extension (``output/figures/forest_spm``); missing folders are
        created. An extension on the stem is replaced by each format's own.
    formats : sequence of {"pdf", "svg", "png", "eps", "tiff"}
        Formats to write, in order.
    dpi : int
        Resolution of raster formats (PNG, TIFF), also written in the PNG's ``pHYs`` chunk.
    width_mm : float, optional
        Width of the saved figure in millimetres (:data:`COLUMN_MM` = 85,
        :data:`PAGE_MM` = 174). Font sizes stay as they are; a figure from
        :mod:`review.plots` re-lays itself out at this width, and its height follows its
        number of rows. ``None`` keeps the current size.

    Returns
    -------
    list of pathlib.Path
        The files written, one per format.

    Raises
    ------
    OptionError
        An unknown format, a non-positive ``dpi`` or ``width_mm``, or a width too narrow
        for the figure's text.
    OutputError
        The folder cannot be created or a file cannot be written (a folder in its place, no
        permission, a full disk); each file is written whole (temporary file, then renamed)
        or not at all.

    Notes
    -----
    Files are written with ``bbox_inches=None`` so that the saved page is exactly the
    figure's size: a PNG saved with ``width_mm=85`` and ``dpi=300`` is
    ``round(85 / 25.4 * 300) = 1004`` pixels wide.

    Examples
    --------
    >>> import tempfile, matplotlib.figure
    >>> fig = matplotlib.figure.Figure()
    >>> _ = fig.add_subplot().plot([0, 1], [0, 1])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.suffix for p in save_figure(fig, f"{d}/line", width_mm=85)]
    ['.pdf', '.svg', '.png']
    """
    fmts = [str(f).lower().lstrip(".") for f in formats]
    for f in fmts:
        if f not in _FORMATS:
            raise OptionError(f"Invalid format {f!r}; must be one of {list(_FORMATS)}")
    if not fmts:
        raise OptionError(f"formats is empty; give at least one of {list(_FORMATS)}")
    if dpi <= 0:
        raise OptionError(f"dpi must be positive, got {dpi}")
    if width_mm is not None:
        if not width_mm > 0:
            raise OptionError(f"width_mm must be positive, got {width_mm}")
        # a whole number of pixels at ``dpi``, so the PNG is round(width_mm / 25.4 * dpi)
        # pixels wide (matplotlib truncates a fractional pixel)
        resize_figure(fig, round(width_mm / _MM_PER_INCH * dpi) / dpi)

    stem = Path(path_stem)
    if stem.suffix.lower().lstrip(".") in _FORMATS:
        stem = stem.with_suffix("")
    try:
        stem.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(
            f"cannot create the folder for the figure: {e.strerror or e}", path=stem.parent
        ) from e
    written: list[Path] = []
    keys: tuple[RcKeyType, ...] = ("svg.fonttype", "pdf.fonttype", "ps.fonttype")
    rc = {k: RC[k] for k in keys}
    with mpl.rc_context(rc):
        for f in fmts:
            path = stem.with_name(stem.name + "." + f)
            metadata = {"Creator": "review (matplotlib)"} if f in ("pdf", "svg") else None
            if path.is_dir():
                raise OutputError("a folder stands where the figure goes", path=path)
            buf = io.BytesIO()
            fig.savefig(
                buf,
                format=f,
                dpi=dpi,
                bbox_inches=None,
                facecolor="white",
                metadata=metadata,
            )
            try:  # whole or not at all: a crash never leaves half a figure
                write_atomic(path, buf.getvalue())
            except OSError as e:
                raise OutputError(f"cannot write the figure: {e.strerror or e}", path=path) from e
            written.append(path)
    return written


def resize_figure(fig: Figure, width_in: float) -> None:
    """Give ``fig`` a new width in inches, keeping font sizes.

    A figure drawn by :mod:`review.plots` carries a layout callback (attribute
    ``_review_relayout``) that re-measures its columns and rows for the new width and sets
    the height; any other figure keeps its height and is simply resized.
    """
    relayout = getattr(fig, "_review_relayout", None)
    if relayout is not None:
        relayout(width_in)
    else:
        fig.set_size_inches(width_in, fig.get_size_inches()[1], forward=True)
