"""Command line: ``python -m review run`` executes every numbered notebook, offline.

What a user sees when something goes wrong is decided here, at the boundary:

* an error the toolkit raised on purpose (:class:`~review.errors.ReviewError`: a failing
  notebook, an unreadable input) is one line on stderr, exit code 1;
* Ctrl-C is one line saying what finished, exit code 130 (128 + SIGINT, as shells expect);
* anything unexpected is one line naming the exception and the file the full traceback was
  written to, exit code 2; the traceback is never dumped on the terminal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main"]

#: Exit code after Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m review", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute the numbered notebooks in order, headless")
    run.add_argument("--notebooks", help="folder of NN-*.ipynb notebooks (default: notebooks/)")
    run.add_argument("--output", help="output folder (default: output/ or $REVIEW_OUTPUT_DIR)")
    run.add_argument("--review", help="review folder the notebooks read (default: data/)")
    run.add_argument("--only", nargs="*", help="run only notebooks starting with these prefixes")
    run.add_argument("--force", action="store_true", help="re-run unchanged notebooks too")
    args = parser.parse_args(argv)
    return _guarded(lambda: _run(args), args.output)


def _run(args: argparse.Namespace) -> int:
    from review.runner import run_notebooks

    report = run_notebooks(
        args.notebooks, args.output, review_dir=args.review, only=args.only, force=args.force
    )
    print(report.summary())
    return 0


def _guarded(action: Callable[[], int], output: str | None) -> int:
    """Run ``action`` and turn whatever escapes it into a message and an exit code."""
    from review.errors import ReviewError

    try:
        return action()
    except KeyboardInterrupt as e:
        done = len(getattr(e, "runs", ()))
        print(
            f"interrupted (Ctrl-C): {done} notebook(s) had finished and are kept; the one "
            "running was stopped and will run again next time",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except ReviewError as e:
        print(f"FAILED: {_one_line(e)}", file=sys.stderr)
        return 1
    except Exception as e:
        where = _write_traceback(e, output)
        print(
            f"FAILED with an unexpected {type(e).__name__}: {_one_line(e)}\n"
            f"(this is a fault of the toolkit, not of your files; the full traceback is in "
            f"{where})",
            file=sys.stderr,
        )
        return 2


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 500 else text[:497] + "..."


def _write_traceback(e: BaseException, output: str | None) -> str:
    """Write the full traceback to the output folder (or the temporary folder); its path."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    text = "".join(traceback.format_exception(e))
    candidates = []
    out = output or os.environ.get("REVIEW_OUTPUT_DIR")
    if out:
        candidates.append(Path(out))
    candidates.append(Path(tempfile.gettempdir()))
    for folder in candidates:
        try:
            if not folder.is_dir():
                continue
            path = folder / f"review-traceback-{stamp}-{os.getpid()}.txt"
            path.write_text(text, encoding="utf-8")
            return str(path)
        except OSError:
            continue
    return "(nowhere: no writable folder)"


if __name__ == "__main__":
    sys.exit(main())
