"""Command line: ``python -m review run`` executes every numbered notebook, offline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m review", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute the numbered notebooks in order, headless")
    run.add_argument("--notebooks", help="folder of NN-*.ipynb notebooks (default: notebooks/)")
    run.add_argument("--output", help="output folder (default: output/ or $REVIEW_OUTPUT_DIR)")
    run.add_argument("--review", help="review folder the notebooks read (default: data/)")
    run.add_argument("--only", nargs="*", help="run only notebooks starting with these prefixes")
    run.add_argument("--force", action="store_true", help="re-run unchanged notebooks too")
    args = parser.parse_args(argv)

    from review.runner import NotebookError, run_notebooks

    try:
        report = run_notebooks(
            args.notebooks, args.output, review_dir=args.review, only=args.only, force=args.force
        )
    except NotebookError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
