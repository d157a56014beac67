"""Command line of the review toolkit.

::

    python -m review new DIR            lay out a new review (protocol template, folders, notebooks)
    python -m review status --review DIR
                                        where the review stands, and what to do next
    python -m review run --review DIR   execute every numbered notebook, offline
    python -m review update DIR         bring in the toolkit's current notebooks (edits are kept)

Without ``--review``, ``status`` and ``run`` use the current folder when it holds a
``protocol.yaml``, else (in a checkout of the repository) the worked example, ``data/``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


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
    from review.errors import ReviewError

    try:
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
    except ReviewError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(run_report.summary())
    if run_report.not_reached:
        print(
            f"{len(run_report.not_reached)} notebook(s) stopped at a step this review has not "
            "reached yet (see above); `python -m review status` says what to do next."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
