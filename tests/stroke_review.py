"""The screening of the second test review (tests/data/review_stroke), written through the library.

The decisions are data, kept here as a table; :func:`write_log` writes them into a screening
log with :class:`review.screening.ScreeningLog` (so every row passed the log's own checks),
record by record (A, then B), then the consensus rows; title/abstract first, then full text.
``start`` and ``upto`` select a slice of those rows, for a review half screened.

    python tests/stroke_review.py        # rewrites tests/data/review_stroke/screening/log.jsonl
"""

from __future__ import annotations

import sys
from pathlib import Path

REVIEW = Path(__file__).resolve().parent / "data" / "review_stroke"

# record id (the de-duplicated group's kept record) -> what it stands for
INCLUDED = ("embase:1", "embase:2", "embase:3", "embase:4", "embase:5", "embase:6")
FULL_TEXT_EXCLUDED = {
    "embase:7": "wrong_design",  # pooled analysis of trials
    "scopus:7": "wrong_population",  # mechanical valves
    "embase:8": "wrong_outcome",  # composite outcome only
    "embase:9": "overlapping_cohort",  # AFASAK extended follow-up
    "scopus:9": "not_retrieved",  # full text not obtained
}
TITLE_ABSTRACT_EXCLUDED = (
    "embase:10", "embase:11", "embase:12", "embase:13", "embase:14",
    "scopus:10", "scopus:11", "scopus:12", "scopus:13", "scopus:14",
)  # fmt: skip

#: Title/abstract: (record, A, B); a conflict is settled by the consensus below.
TITLE_ABSTRACT = (
    [(r, "include", "include") for r in INCLUDED]
    + [(r, "include", "maybe") for r in FULL_TEXT_EXCLUDED if r != "embase:9"]
    + [("embase:9", "include", "exclude")]  # conflict: B saw a duplicate cohort
    + [(r, "exclude", "exclude") for r in TITLE_ABSTRACT_EXCLUDED if r != "scopus:12"]
    + [("scopus:12", "maybe", "exclude")]  # conflict: A unsure about an ablation study
)
TITLE_ABSTRACT_CONSENSUS = (("embase:9", "include"), ("scopus:12", "exclude"))

#: Full text: (record, (A decision, reason), (B decision, reason)).
FULL_TEXT = (
    [(r, ("include", None), ("include", None)) for r in INCLUDED]
    + [
        (r, ("exclude", why), ("exclude", why))
        for r, why in FULL_TEXT_EXCLUDED.items()
        if r != "embase:8"
    ]
    + [("embase:8", ("exclude", "wrong_outcome"), ("include", None))]
)  # conflict
FULL_TEXT_CONSENSUS = (("embase:8", "exclude", "wrong_outcome"),)


def rows() -> list[tuple[str, str, str, str, str | None]]:
    """Every decision in writing order: (record, stage, reviewer, decision, reason)."""
    out: list[tuple[str, str, str, str, str | None]] = []
    for r, a, b in TITLE_ABSTRACT:
        out += [(r, "title_abstract", "A", a, None), (r, "title_abstract", "B", b, None)]
    out += [(r, "title_abstract", "consensus", d, None) for r, d in TITLE_ABSTRACT_CONSENSUS]
    for r, (a, why_a), (b, why_b) in FULL_TEXT:
        out += [(r, "full_text", "A", a, why_a), (r, "full_text", "B", b, why_b)]
    out += [(r, "full_text", "consensus", d, why) for r, d, why in FULL_TEXT_CONSENSUS]
    return out


def write_log(review: Path, start: int = 0, upto: int | None = None) -> int:
    """Write the decisions ``rows()[start:upto]`` into ``review``'s screening log; returns rows."""
    from review.dedup import deduplicate
    from review.paths import ReviewPaths
    from review.protocol import load_protocol
    from review.records import load_review_records
    from review.screening import ScreeningLog

    paths = ReviewPaths(review)
    records = deduplicate(load_review_records(paths), overrides=paths.dedup_overrides).unique
    log = ScreeningLog(paths.screening_log, protocol=load_protocol(paths.protocol), records=records)
    todo = rows()[start:upto]
    for record_id, stage, reviewer, decision, reason in todo:
        log.record(record_id, stage, reviewer, decision, reason)  # type: ignore[arg-type]
    return len(todo)


if __name__ == "__main__":
    sys.path.insert(0, str(REVIEW.parents[2]))
    target = REVIEW / "screening" / "log.jsonl"
    target.unlink(missing_ok=True)
    print(f"{write_log(REVIEW)} decisions written to {target}")
