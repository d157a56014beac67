"""Command line of the review toolkit.

::

    python -m review new DIR            lay out a new review (protocol template, folders, notebooks)
    python -m review status --review DIR
                                        where the review stands, and what to do next
    python -m review run --review DIR   execute every numbered notebook, offline
    python -m review update DIR         bring in the toolkit's current notebooks (edits are kept)

Without ``--review``, ``status`` and ``run`` use the current folder when it holds a
``protocol.yaml``, else (in a checkout of the repository) the worked example, ``data/``.

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m review",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute the numbered notebooks in order, headless")
    run.add_argument(
        "--notebooks",
        help="folder of NN-*.ipynb notebooks (default: the review's notebooks/, else the "
        "toolkit's)",
    )
    run.add_argument(
        "--output",
        help="output folder (default: $REVIEW_OUTPUT_DIR, else <review>/output, or output/ of "
        "the repository for the worked example)",
    )
    run.add_argument("--review", help="review folder the notebooks read")
    run.add_argument("--only", nargs="*", help="run only notebooks starting with these prefixes")
    run.add_argument("--force", action="store_true", help="re-run unchanged notebooks too")

    new = sub.add_parser("new", help="lay out a new review folder, ready to run")
    new.add_argument("folder", help="the folder to create (must not exist, or be empty)")
    new.add_argument("--title", help="the review's title (written into protocol.yaml)")

    status = sub.add_parser("status", help="where a review stands, and what to do next")
    status.add_argument("--review", help="review folder")

    update = sub.add_parser(
        "update", help="bring the toolkit's current notebooks and README into a review"
    )
    update.add_argument("folder", nargs="?", default=".", help="the review folder (default: .)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    ``run`` exits 0 when every notebook executed or stopped at a step the review has not
    reached yet, 1 when a notebook failed (the message names it and the cell). ``status``
    exits 1 when a file of the review cannot be read (the summary names it), else 0.
    """
    args = _parser().parse_args(argv)
    return _guarded(lambda: _dispatch(args), getattr(args, "output", None))


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "new":
        from review.scaffold import new_review

        report = new_review(args.folder, title=args.title)
        print(report.summary())
        print(
            f"\nNext: edit {args.folder}/protocol.yaml, then "
            f"`python -m review status --review {args.folder}`"
        )
        return 0
    if args.command == "update":
        from review.scaffold import update_review

        print(update_review(args.folder).summary())
        return 0
    if args.command == "status":
        from review.runner import default_review_dir
        from review.status import review_status

        st = review_status(args.review or default_review_dir())
        print(st.summary())
        return 1 if st.problems else 0

    from review.runner import run_notebooks

    run_report = run_notebooks(
        args.notebooks, args.output, review_dir=args.review, only=args.only, force=args.force
    )
    print(run_report.summary())
    if run_report.not_reached:
        print(
            f"{len(run_report.not_reached)} notebook(s) stopped at a step this review has not "
            "reached yet (see above); `python -m review status` says what to do next."
        )
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
