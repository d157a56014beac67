"""Reading and writing review files: the one path every reader takes.

* :func:`write_atomic`: whole-file writes that a crash cannot leave half-done (STYLE.md
  point 10).
* :func:`read_text`: a file's bytes, refused with an error of the caller's class when it is
  not a regular readable file (missing, a folder, a FIFO, a symlink loop, no permission),
  decoded strictly (byte-order marks of UTF-8/16/32 honoured; a byte that does not decode or a
  NUL byte is an error naming its line), line ends normalised to ``\\n``.
* :func:`line_at`: the one place that turns a position in a file's text into a line number
  (``\\r\\n``, ``\\r`` and ``\\n`` each end one line, as :func:`read_text` counts them).
* :func:`read_delimited`: a CSV or tab-delimited table read with its delimiter taken from
  the header, every row with the line it starts on, what was skipped (blank lines) counted,
  and a quote that would swallow the rest of the file refused or, in a tab-delimited file,
  read as the literal character it is.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import errno
import io
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from review.errors import InputError

__all__ = [
    "DelimitedTable",
    "TextFile",
    "line_at",
    "read_delimited",
    "read_text",
    "write_atomic",
]


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, newlines untranslated) via a temporary file beside
    ``path``, fsync it, then rename it over ``path``: readers see the old file or the new one,
    never a part. Missing folders are created; the temporary file is removed on failure."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------
# positions -> lines
# ---------------------------------------------------------------------------------------


def line_at(text: str, pos: int) -> int:
    """The 1-based line holding position ``pos`` of ``text``.

    ``\\r\\n``, a lone ``\\r`` and ``\\n`` each end one line (the way :func:`read_text`
    normalises them), so a file with old Mac line ends gets the same numbers as the same file
    saved on Linux or Windows. A position past the end is on the last line.

    Examples
    --------
    >>> line_at("a\\r\\nb\\rc\\nd", 7)
    4
    >>> line_at("abc", 0)
    1
    """
    head = text[: max(0, pos)]
    # "\r\n" counts once: count "\n", plus every "\r" not followed by "\n"
    return head.count("\n") + head.count("\r") - head.count("\r\n") + 1


# ---------------------------------------------------------------------------------------
# reading a file's text
# ---------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True, slots=True)
class TextFile:
    """A file's text as :func:`read_text` read it.

    Attributes
    ----------
    path : Path
    text : str
        Decoded, line ends normalised to ``\\n``, byte-order mark removed.
    encoding : str
        The codec used (``utf-8``, ``utf-8-sig``, ``utf-16`` ... or the one asked for).
    size : int
        Bytes in the file.
    """

    path: Path
    text: str
    encoding: str
    size: int

    @property
    def n_lines(self) -> int:
        """Lines in the file (a last line without its newline counts; an empty file has 0)."""
        if not self.text:
            return 0
        return self.text.count("\n") + (0 if self.text.endswith("\n") else 1)

    @property
    def blank(self) -> bool:
        """Whether the file holds nothing but white space."""
        return not self.text.strip()


def read_bytes(path: str | os.PathLike[str], error: type[InputError] = InputError) -> bytes:
    """The bytes of a regular file, or ``error`` saying in words why it cannot be read."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError as e:
        if p.is_symlink():
            raise error(
                "cannot read the file: a symbolic link to nothing (dangling link)", path=p
            ) from e
        raise error("cannot read the file: file not found", path=p) from e
    except OSError as e:
        raise error(_os_reason(e), path=p) from e
    if stat.S_ISDIR(st.st_mode):
        raise error("cannot read the file: it is a folder, not a file", path=p)
    if not stat.S_ISREG(st.st_mode):
        # a FIFO or device would block or never end: refuse rather than hang
        raise error("cannot read the file: not a regular file (a pipe, socket or device?)", path=p)
    try:
        return p.read_bytes()
    except OSError as e:
        raise error(_os_reason(e), path=p) from e


def _os_reason(e: OSError) -> str:
    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ELOOP: "symbolic link loop: the path never reaches a file",
        errno.EISDIR: "it is a folder, not a file",
        errno.ENAMETOOLONG: "the path is too long",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
    }
    return "cannot read the file: " + reasons.get(e.errno or -1, str(e.strerror or e))


def decode(
    data: bytes,
    path: str | os.PathLike[str] | None,
    *,
    encoding: str = "utf-8",
    error: type[InputError] = InputError,
) -> tuple[str, str]:
    """``(text, codec)``: ``data`` decoded strictly, line ends normalised to ``\\n``.

    With the default ``encoding="utf-8"`` a byte-order mark chooses the codec (UTF-8,
    UTF-16, UTF-32: exports saved as "Unicode text" by spreadsheet programs carry one). A byte
    that does not decode is an error naming the line and column; so is a NUL character, which
    no text export holds (UTF-16 without a byte-order mark, or a binary file).
    """
    codec = encoding
    if codecs.lookup(encoding).name == "utf-8":
        codec = "utf-8"
        for bom, name in _BOMS:
            if data.startswith(bom):
                codec = name
                break
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as e:
        before = data[: e.start].decode(codec, errors="replace")
        line = line_at(before, len(before))
        col = len(before) - max(before.rfind("\n"), before.rfind("\r")) if before else 1
        bad = data[e.start : e.start + 1].hex()
        raise error(
            f"byte 0x{bad} (line {line}, character {col}) is not valid {codec}; re-export "
            "the file as UTF-8 or pass encoding= (e.g. 'latin-1')",
            path=path,
            row=line,
        ) from e
    except LookupError as e:  # pragma: no cover - codecs.lookup above already checked
        raise error(f"unknown encoding {encoding!r}", path=path) from e
    if text.startswith("\ufeff"):
        text = text[1:]
    nul = text.find("\x00")
    if nul >= 0:
        hint = (
            " (every other byte is NUL: UTF-16 without a byte-order mark? pass "
            "encoding='utf-16-le')"
            if data.count(0) * 3 >= len(data)
            else " (a binary file?)"
        )
        raise error(f"NUL character in the text{hint}", path=path, row=line_at(text, nul))
    return text.replace("\r\n", "\n").replace("\r", "\n"), codec


def read_text(
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
    error: type[InputError] = InputError,
) -> TextFile:
    """Read a text file the way every reader of review files does.

    Parameters
    ----------
    path : path-like
    encoding : str
        The file's encoding; ``"utf-8"`` (the default) also reads a file that starts with a
        UTF-8, UTF-16 or UTF-32 byte-order mark.
    error : subclass of review.errors.InputError
        The error to raise, naming the file (and the line when one is at fault).

    Returns
    -------
    TextFile

    Raises
    ------
    review.errors.InputError
        (``error``) The path is missing, a folder, a dangling link or a link loop, not a
        regular file, unreadable (permission), or holds a byte that does not decode or a NUL
        character; ``encoding`` is unknown.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = f.write_bytes("a\\r\\nb".encode("utf-16"))
    >>> t = read_text(f)
    >>> t.text, t.encoding, t.n_lines
    ('a\\nb', 'utf-16', 2)
    """
    try:
        codecs.lookup(encoding)
    except LookupError as e:
        raise error(f"unknown encoding {encoding!r}", path=path) from e
    data = read_bytes(path, error)
    text, codec = decode(data, path, encoding=encoding, error=error)
    return TextFile(Path(path), text, codec, len(data))


# ---------------------------------------------------------------------------------------
# delimited tables
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DelimitedTable:
    """A delimited table as :func:`read_delimited` read it.

    Attributes
    ----------
    path : Path
    header : tuple of str
        Column names, white space around them removed.
    rows : tuple of tuple of str
        Data rows, each padded with ``""`` to the header's width.
    lines : tuple of int
        The 1-based line each row starts on (the header is on ``header_line``).
    header_line : int
        Line of the header (blank lines before it are skipped).
    delimiter : str
    quoting : str
        ``"csv"`` (quotes enclose fields, RFC 4180) or ``"literal"`` (a tab-delimited file
        whose quotes are characters of the text).
    skipped : tuple of (int, str)
        ``(line, why)`` of every line not read as a row (blank lines).
    n_lines : int
        Lines in the file.
    """

    path: Path
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    lines: tuple[int, ...]
    header_line: int
    delimiter: str
    quoting: str
    skipped: tuple[tuple[int, str], ...] = field(default=())
    n_lines: int = 0

    def column(self, name: str) -> int:
        """Index of column ``name`` (exact, after stripping)."""
        return self.header.index(name)

    def counts(self) -> dict[str, int]:
        """``lines``, ``rows`` and ``skipped`` (lines not read as rows), for a report."""
        return {"lines": self.n_lines, "rows": len(self.rows), "skipped": len(self.skipped)}

    def missing_message(self, missing: Sequence[str]) -> str:
        """Say which required columns are missing and what the header holds instead."""
        shown = list(self.header)
        msg = f"missing column(s): {', '.join(missing)}; the header (line "
        msg += f"{self.header_line}) read as {len(shown)} column(s) {shown[:12]}"
        hints = []
        for m in missing:
            close = difflib.get_close_matches(m, shown, n=1, cutoff=0.75)
            if close:
                hints.append(f"{close[0]!r} for {m!r}?")
        if len(shown) == 1:
            other = [d for d in (",", ";", "\t", "|") if d in shown[0]]
            if other:
                hints.append(f"the header holds {other[0]!r}: is that the file's delimiter?")
        return msg + ("; " + " ".join(hints) if hints else "")


# An abstract can be long; the csv module's default limit (128 KiB a field) would make a
# long field an error about the reader rather than the file.
csv.field_size_limit(max(csv.field_size_limit(), 1 << 28))


TAB = "\t"


def _sniff_delimiter(header: str, allowed: Sequence[str]) -> str:
    counts = {d: header.count(d) for d in allowed}
    best = max(allowed, key=lambda d: (counts[d], -allowed.index(d)))
    return best if counts[best] else allowed[0]


def _parse(
    text: str, delimiter: str, literal: bool
) -> tuple[list[list[str]], list[int], list[int], str | None, int]:
    """Rows, their first lines, blank lines; an error message and its line (or None)."""
    # With QUOTE_NONE a quote is text; strict=True makes a quote that does not close a field
    # properly (e.g. '"a" b') an error instead of a silent guess.
    src = io.StringIO(text, newline="")
    if literal:
        reader = csv.reader(src, delimiter=delimiter, quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(src, delimiter=delimiter, strict=True, doublequote=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    blank: list[int] = []
    start = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return rows, lines, blank, None, 0
        except csv.Error as e:
            return rows, lines, blank, str(e), start
        if not any(v.strip() for v in values):
            blank.extend(range(start, reader.line_num + 1))
        else:
            rows.append(values)
            lines.append(start)
        start = reader.line_num + 1


def read_delimited(
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
    error: type[InputError] = InputError,
    delimiters: Sequence[str] = (",", ";", "\t"),
    text: TextFile | None = None,
) -> DelimitedTable:
    """Read a CSV or tab-delimited table, every row with its line, skips counted.

    Parameters
    ----------
    path : path-like
    encoding : str
        As :func:`read_text`.
    error : subclass of review.errors.InputError
        Raised naming the file, the line and the column.
    delimiters : sequence of str
        Candidates; the one the header line holds most of is used (ties: the first).
    text : TextFile, optional
        The file already read by :func:`read_text` (not read again).

    Returns
    -------
    DelimitedTable

    Raises
    ------
    review.errors.InputError
        (``error``) The file cannot be read (see :func:`read_text`); it is empty or white
        space only; two columns share a name; a row has more non-empty fields than the
        header; a quote opened in a field is not closed where a field ends (the line where
        the row starts is named).

    Notes
    -----
    In a comma or semicolon file quotes enclose fields (RFC 4180) and are read strictly: a
    quote that is never closed would otherwise swallow every later row into one field.
    A tab-delimited export (Web of Science, PubMed, most databases) does not quote its
    fields, so a title beginning with ``"`` is text: such a file is read with quotes as
    characters unless it is consistently quoted (every quoted field closed, no row wider
    than the header), when the quotes are read as enclosing fields.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = f.write_text('TI\\tPY\\n"Quoted" start\\t2020\\n\\nplain\\t2021\\n')
    >>> t = read_delimited(f)
    >>> t.rows, t.lines, t.skipped
    ((('"Quoted" start', '2020'), ('plain', '2021')), (2, 4), ((3, 'blank line'),))
    """
    tf = text if text is not None else read_text(path, encoding=encoding, error=error)
    p = Path(path)
    body = tf.text
    if tf.blank:
        what = "empty (0 bytes)" if tf.size == 0 else "white space only"
        raise error(f"the file is {what}: no header, no rows", path=p)
    first_line = next(ln for ln in body.split("\n") if ln.strip())
    delim = _sniff_delimiter(first_line, list(delimiters))
    quoting = "csv"
    rows, lines, blank, err, err_line = _parse(body, delim, literal=False)
    if delim == TAB:
        # tab-delimited exports rarely quote: prefer reading quotes as text whenever the
        # quoted reading is doubtful (an error, a field spanning lines or holding a tab, a
        # row wider than the header) and the literal reading is consistent
        def wide(rs: list[list[str]]) -> bool:
            w = len(rs[0]) if rs else 0
            return any(len(r) > w and any(v.strip() for v in r[w:]) for r in rs)

        def exact(rs: list[list[str]]) -> bool:
            return all(len(r) == len(rs[0]) for r in rs)

        swallowed = err is not None or wide(rows) or any("\t" in v for r in rows for v in r)
        spans = any("\n" in v for r in rows for v in r)
        if swallowed or spans:
            lit = _parse(body, delim, literal=True)
            if (swallowed and not wide(lit[0])) or (spans and lit[3] is None and exact(lit[0])):
                rows, lines, blank, err, err_line = lit
                quoting = "literal"
    if err is not None:
        raise error(
            f"malformed {'table' if delim == TAB else 'CSV'}: {err} (a quote opened in the "
            "row starting here is not closed where its field ends; a field holding the "
            "delimiter or a quote must be enclosed in quotes, with inner quotes doubled)",
            path=p,
            row=err_line,
        )
    header = tuple(h.strip() for h in rows[0])
    header_line = lines[0]
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        if not h:
            continue
        if h in seen:
            raise error(
                f"column name {h!r} appears twice in the header (columns {seen[h] + 1} and "
                f"{i + 1}); which one holds the data is ambiguous",
                path=p,
                row=header_line,
                column=h,
            )
        seen[h] = i
    width = len(header)
    data: list[tuple[str, ...]] = []
    for values, line in zip(rows[1:], lines[1:]):
        if len(values) > width and any(v.strip() for v in values[width:]):
            extra = next(v for v in values[width:] if v.strip())
            raise error(
                f"{len(values)} fields where the header has {width} (an unquoted "
                f"{'tab' if delim == TAB else repr(delim)} inside a field?); first extra "
                f"field {extra[:40]!r}",
                path=p,
                row=line,
            )
        padded = list(values[:width]) + [""] * (width - len(values))
        data.append(tuple(padded))
    skipped = tuple((b, "blank line") for b in blank)
    return DelimitedTable(
        path=p,
        header=header,
        rows=tuple(data),
        lines=tuple(lines[1:]),
        header_line=header_line,
        delimiter=delim,
        quoting=quoting,
        skipped=skipped,
        n_lines=tf.n_lines,
    )
