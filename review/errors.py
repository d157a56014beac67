"""Exceptions raised by :mod:`review`.

Every exception the toolkit raises on purpose derives from :class:`ReviewError`, so a
notebook can catch "anything the toolkit refused" in one clause. Third-party errors
(pymed, requests, lxml, rispy) are mapped to these at the module boundary, with the
original kept as ``__cause__``.

::

    ReviewError
    ├── InputError (ValueError)            bad data: carries path, row, column
    │   ├── PubMedXMLError                 unparseable E-utilities response, HTML error page
    │   ├── RISError                       broken RIS export
    │   ├── CSVImportError                 broken CSV export
    │   ├── ExtractionError                extraction table that fails validation
    │   ├── ProtocolError                  protocol file that fails validation
    │   ├── ToolError                      risk-of-bias tool file that fails validation
    │   ├── AppraisalError                 risk-of-bias assessment that fails validation
    │   └── CertaintyError                 certainty (GRADE) judgements that fail validation
    ├── OptionError (ValueError)           an unknown code or an option out of range
    ├── SearchError                        PubMed could not be searched to completion
    │   ├── RateLimited                    HTTP 429 after every retry
    │   ├── ServerError                    HTTP 5xx after every retry
    │   ├── Timeout                        no answer in time after every retry
    │   └── QueryError                     PubMed refused the query (in-band ERROR)
    ├── JournalError                       an append-only log that cannot be read or written
    │   │                                  safely: torn line, lock timeout, full disk (path, line)
    │   ├── ScreeningLogError              the screening log
    │   └── AppraisalLogError              the risk-of-bias assessment log
    ├── OutputError                        an output (figure, table) that cannot be written
    ├── ConvergenceError                   an iterative fit did not converge
    ├── PrismaInconsistency                flow-diagram counts that do not add up
    └── StageNotReached                    a step whose inputs the review does not have yet
        └── NothingToDo                    a step this review does not take (no PubMed search)
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "AppraisalError",
    "AppraisalLogError",
    "CSVImportError",
    "CertaintyError",
    "ConvergenceError",
    "ExtractionError",
    "InputError",
    "JournalError",
    "NothingToDo",
    "OptionError",
    "OutputError",
    "PrismaInconsistency",
    "ProtocolError",
    "PubMedXMLError",
    "QueryError",
    "RISError",
    "RateLimited",
    "ReviewError",
    "ScreeningLogError",
    "SearchError",
    "ServerError",
    "StageNotReached",
    "Timeout",
    "ToolError",
]


class ReviewError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class InputError(ReviewError, ValueError):
    """Input data that cannot be used, located by file, row and column.

    Parameters
    ----------
    message : str
        What is wrong, in the reader's words.
    path : str or path-like, optional
        The file the data came from (``None`` for an in-memory DataFrame).
    row : int or str, optional
        The row (1-based line number in a file, or the DataFrame index label) or the
        record identifier.
    column : str, optional
        The column or field.

    Attributes
    ----------
    path, row, column
        As given; ``None`` when not known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        row: int | str | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.path is not None:
            where.append(f"file {self.path}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class PubMedXMLError(InputError):
    """An E-utilities response that is not the XML it should be."""


class RISError(InputError):
    """A RIS export that cannot be read."""


class CSVImportError(InputError):
    """A CSV export that cannot be read."""


class ExtractionError(InputError):
    """An extraction table that fails validation."""


class ProtocolError(InputError):
    """A review protocol file that fails validation."""


class ToolError(InputError):
    """A risk-of-bias (critical appraisal) tool file that fails validation."""


class AppraisalError(InputError):
    """A risk-of-bias assessment that fails validation (answer, study, assessor)."""


class CertaintyError(InputError):
    """Certainty-of-evidence (GRADE) judgements that fail validation."""


class OptionError(ReviewError, ValueError):
    """An option outside its allowed codes or range."""


class SearchError(ReviewError):
    """A literature search that could not be completed."""


class RateLimited(SearchError):
    """The server kept answering HTTP 429 after every retry."""


class ServerError(SearchError):
    """The server kept answering HTTP 5xx after every retry."""


class Timeout(SearchError):
    """The server did not answer in time after every retry."""


class QueryError(SearchError):
    """PubMed refused the query itself (an in-band ERROR in the esearch answer)."""


class JournalError(ReviewError):
    """An append-only log that cannot be read or written safely.

    Parameters
    ----------
    message : str
        What is wrong.
    path : str or path-like, optional
        The log file; the message is prefixed with ``file <path>``.
    line : int, optional
        1-based line of the log; the message is prefixed with ``line <n>``.

    Attributes
    ----------
    path : str or None
        The log file.
    line : int or None
        The line, when one is concerned.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        where = []
        if self.path is not None:
            where.append(f"file {self.path}")
        if line is not None:
            where.append(f"line {line}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ScreeningLogError(JournalError):
    """A screening log that cannot be read or written safely."""


class OutputError(ReviewError):
    """An output file or folder that cannot be written; names the path.

    A folder in its place, no permission, a full disk.

    Attributes
    ----------
    path : str or None
    """

    def __init__(self, message: str, *, path: str | PathLike[str] | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        super().__init__(message if path is None else f"file {path}: {message}")


class AppraisalLogError(JournalError):
    """A risk-of-bias assessment log that cannot be read or written safely."""


class ConvergenceError(ReviewError):
    """An iterative fit that did not converge."""


class PrismaInconsistency(ReviewError):
    """PRISMA flow counts that do not add up."""


class StageNotReached(ReviewError):
    """A step whose inputs the review does not have yet: not a failure, a place in the review.

    Raised by an early cell of a notebook (through :func:`review.status.require_stage` or a
    loader) when the review has not got that far: no records yet, screening not finished, no
    extraction. The message says what is missing and how to get there. The notebook runner
    reports the notebook as "not reached" with this message and goes on (exit status 0);
    in JupyterLab the cell shows the message alone, without a traceback.

    Parameters
    ----------
    message : str
        What is missing, then how to get there.
    stage : str, optional
        The stage the step needs (``"records"``, ``"title_abstract"``, ...).

    Examples
    --------
    >>> err = StageNotReached("no records yet: put exports in imports/", stage="records")
    >>> err._render_traceback_()
    ['Not reached yet: no records yet: put exports in imports/']
    """

    #: Word the notebook runner shows for the notebook.
    status = "not reached"

    def __init__(self, message: str, *, stage: str | None = None) -> None:
        self.stage = stage
        super().__init__(message)

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback (the message is the whole story)
        return [f"{self.status.capitalize()} yet: {self}"]


class NothingToDo(StageNotReached):
    """A step this review does not take (e.g. the PubMed search of a review without one).

    Examples
    --------
    >>> NothingToDo("the protocol names no PubMed database")._render_traceback_()
    ['Nothing to do: the protocol names no PubMed database']
    """

    status = "nothing to do"

    def _render_traceback_(self) -> list[str]:
        return [f"Nothing to do: {self}"]
