"""A new review walked from `review new` through every stage of its life, run at each stage.

Stages (issue 13): protocol only -> exports but no PubMed search -> half screened -> screened
but not extracted -> fully extracted. The review is the second test review
(``tests/data/review_stroke``): its protocol, exports, screening decisions (written through the
library, in slices) and extraction are added one stage at a time to a folder made by
``python -m review new``. At each stage ``python -m review run`` must exit 0; the notebooks
whose step is not reached say so, with what is missing; the outputs of the steps reached are
there. At the last stage the folder is the complete second review, and its pooled results are
matched against R metafor (``tests/r/make_reference_review2.R``).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from review.__main__ import main
from review.scaffold import new_review

from conftest import REPO
from stroke_review import REVIEW as STROKE
from stroke_review import rows, write_log

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

NOTEBOOKS = [
    "00-index", "01-query", "02-deduplication", "03-title-abstract-screening",
    "04-full-text-and-prisma", "05-extraction", "06-risk-of-bias", "07-meta-analysis",
    "08-sensitivity", "09-certainty",
]  # fmt: skip
STAGES = ("protocol", "exports", "half_screened", "screened", "extracted")
HALF = 24  # rows: 12 records decided by A and B at title/abstract, one of them a conflict


@dataclass
class StageRun:
    code: int
    printed: str
    output: Path
    statuses: dict[str, str]  # notebook stem -> status word(s) as printed
    review: Path


def _statuses(printed: str) -> dict[str, str]:
    out = {}
    for line in printed.splitlines():
        parts = line.split()
        if parts and parts[0].endswith(".ipynb") and len(parts) >= 3 and parts[-1] == "s":
            out[parts[0].removesuffix(".ipynb")] = " ".join(parts[1:-2])
    return out


def _run(review: Path, output: Path) -> StageRun:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        code = main(["run", "--review", str(review), "--output", str(output)])
    printed = buf.getvalue()
    return StageRun(code, printed, output, _statuses(printed), review)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StageRun]:
    base = tmp_path_factory.mktemp("walk")
    review = base / "stroke-review"
    new_review(review)
    runs = {}
    runs["protocol"] = _run(review, base / "out-protocol")

    shutil.copy(STROKE / "protocol.yaml", review / "protocol.yaml")
    for f in (STROKE / "imports").iterdir():
        shutil.copy(f, review / "imports" / f.name)
    runs["exports"] = _run(review, base / "out-exports")

    write_log(review, upto=HALF)
    runs["half_screened"] = _run(review, base / "out-half")

    write_log(review, start=HALF)
    runs["screened"] = _run(review, base / "out-screened")

    for name in ("studies.csv", "outcomes.csv", "codebook.csv"):
        shutil.copy(STROKE / "extraction" / name, review / "extraction" / name)
    runs["extracted"] = _run(review, base / "out-extracted")
    return runs


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_runs_to_the_end_with_exit_0(walk, stage: str) -> None:
    run = walk[stage]
    assert run.code == 0, run.printed
    assert list(run.statuses) == NOTEBOOKS, run.printed
    assert "FAILED" not in run.printed
    for stem in NOTEBOOKS:  # an executed copy of every notebook, run or stopped
        assert (run.output / "notebooks" / f"{stem}.ipynb").is_file(), stem


def _not_reached(run: StageRun) -> set[str]:
    return {k for k, v in run.statuses.items() if v in ("not reached", "nothing to do")}


def test_protocol_only(walk) -> None:
    run = walk["protocol"]
    assert run.statuses["00-index"] == "executed"
    assert _not_reached(run) == set(NOTEBOOKS[1:])
    assert "01-query.ipynb: not reached: the PubMed search has not been run yet" in run.printed
    assert "02-deduplication.ipynb: not reached: no records yet: put your databases' exports" in (
        run.printed
    )
    assert "05-extraction.ipynb: not reached: no study extracted yet" in run.printed
    assert not (run.output / "tables" / "dedup_links.csv").exists()
    assert not (run.output / "figures").exists() or not any((run.output / "figures").iterdir())
    # the index shows the review's status
    nb = nbformat.read(run.output / "notebooks" / "00-index.ipynb", as_version=4)
    shown = json.dumps([c.get("outputs") for c in nb.cells])
    assert "TODO placeholder(s) left" in shown and "not started" in shown


def test_exports_but_no_pubmed_search(walk) -> None:
    run = walk["exports"]
    assert run.statuses["01-query"] == "nothing to do"
    assert "searches no PubMed database" in run.printed
    assert {run.statuses[k] for k in ("00-index", "02-deduplication")} == {"executed"}
    assert run.statuses["03-title-abstract-screening"] == "executed"  # the screener is there
    assert (
        "04-full-text-and-prisma.ipynb: not reached: title/abstract screening is not "
        "finished: 0 of 21 records have a decision" in run.printed
    )
    agreement = pd.read_csv(run.output / "tables" / "agreement_title_abstract.csv")
    assert dict(zip(agreement["statistic"], agreement["value"]))["n_both"] == 0
    links = pd.read_csv(run.output / "tables" / "dedup_links.csv")
    assert len(links) == 7 and set(links["reason"]) <= {"pmid", "doi"}
    assert not (run.output / "figures" / "prisma.png").exists()


def test_half_screened(walk) -> None:
    run = walk["half_screened"]
    assert run.statuses["03-title-abstract-screening"] == "executed"
    agreement = pd.read_csv(run.output / "tables" / "agreement_title_abstract.csv")
    stat = dict(zip(agreement["statistic"], agreement["value"]))
    # twelve records screened by both reviewers, who disagree on one (maybe counts as include)
    assert stat["n_both"] == 12 and stat["observed"] == pytest.approx(11 / 12)
    assert (
        "title/abstract screening is not finished: 12 of 21 records have a decision, "
        "1 conflict(s) open" in run.printed
    )
    assert _not_reached(run) == {"01-query", *NOTEBOOKS[4:]}


def test_screened_but_not_extracted(walk) -> None:
    run = walk["screened"]
    assert run.statuses["04-full-text-and-prisma"] == "executed"
    for fmt in ("pdf", "svg", "png"):
        assert (run.output / "figures" / f"prisma.{fmt}").stat().st_size > 1000
    prisma = pd.read_csv(run.output / "tables" / "prisma.csv")
    assert not prisma.empty
    assert _not_reached(run) == {"01-query", *NOTEBOOKS[5:]}
    assert "05-extraction.ipynb: not reached: no study extracted yet" in run.printed


def test_fully_extracted(walk) -> None:
    run = walk["extracted"]
    # no PubMed search, no risk-of-bias tool, no certainty assessment: nothing to do in 01, 06, 09
    stopped = {"01-query", "06-risk-of-bias", "09-certainty"}
    assert _not_reached(run) == stopped
    assert {run.statuses[k] for k in stopped} == {"nothing to do"}
    assert {run.statuses[k] for k in NOTEBOOKS if k not in stopped} == {"executed"}
    assert "09-certainty.ipynb: nothing to do: the protocol declares no certainty assessment" in (
        run.printed
    )
    assert not (run.output / "tables" / "summary_of_findings.csv").exists()
    assert not (run.output / "tables" / "prisma_items.csv").exists()
    # one forest plot per declared analysis and per subgroup analysis, named from the protocol
    for stem in ("prisma", "forest_stroke_rate", "forest_stroke_risk",
                 "forest_stroke_rate_by_prevention", "forest_stroke_risk_by_comparator",
                 "funnel_stroke_rate", "method_sensitivity_stroke_risk"):  # fmt: skip
        for fmt in ("pdf", "svg", "png"):
            assert (run.output / "figures" / f"{stem}.{fmt}").stat().st_size > 1000, stem
    assert (run.output / "tables" / "extraction.csv").is_file()
    # one row per declared analysis, labelled from the protocol, with metafor's numbers
    pooled = pd.read_csv(run.output / "tables" / "pooled.csv").set_index("analysis")
    ref = json.loads((REPO / "tests" / "data" / "review_stroke_reference.json").read_text())
    for label, code in (("Stroke per 100 patient-years (log rate, REML)", "stroke_rate"),
                        ("Patients with a stroke (logit, REML)", "stroke_risk")):  # fmt: skip
        want = ref["analyses"][code]["pooled"]
        row = pooled.loc[label]
        assert row["status"] == "ok" and row["k"] == want["k"]
        for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
            assert row[key] == pytest.approx(want[key], rel=1e-9), (code, key)


def test_the_walk_ends_with_the_committed_second_review(walk) -> None:
    review = walk["extracted"].review
    for rel in (
        "protocol.yaml",
        "imports/embase.ris",
        "imports/scopus.csv",
        "extraction/studies.csv",
        "extraction/outcomes.csv",
    ):
        assert (review / rel).read_bytes() == (STROKE / rel).read_bytes(), rel

    def decisions(path: Path) -> list[tuple]:
        keep = ("record_id", "stage", "reviewer", "decision", "reason")
        return [tuple(json.loads(x)[k] for k in keep) for x in path.read_text().splitlines()]

    written = decisions(review / "screening" / "log.jsonl")
    assert written == decisions(STROKE / "screening" / "log.jsonl") == [tuple(r) for r in rows()]


def test_no_example_word_in_the_second_reviews_outputs(walk) -> None:
    out = walk["extracted"].output
    text = " ".join(p.read_text(errors="ignore") for p in (out / "tables").glob("*.csv"))
    for word in ("spm", "CAR T", "CD19", "BCMA", "axi-cel"):
        assert word not in text, word


def test_reference_file_matches_its_data() -> None:
    ref = json.loads((REPO / "tests" / "data" / "review_stroke_reference.json").read_text())
    assert ref["source"]["metafor"] == "3.8.1"
    assert ref["analyses"]["stroke_rate"]["studies"]["label"][4] == "SPINAF 1992"
