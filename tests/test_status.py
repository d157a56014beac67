"""`python -m review status` and the stage checks the notebooks make."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from review.errors import NothingToDo, OptionError, StageNotReached
from review.paths import ReviewPaths, example_review_dir
from review.protocol import load_protocol
from review.scaffold import new_review
from review.screening import ScreeningLog
from review.status import protocol_search, reached, require_stage, review_status

from conftest import REPO

IMPORTS = REPO / "tests" / "data" / "imports"


def _files(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    new_review(root, title="A review of exports")
    return root


def _imports_only(root: Path) -> None:
    """Drop PubMed from the protocol and put two synthetic exports in imports/."""
    text = (root / "protocol.yaml").read_text()
    start = text.index("  - name: PubMed")
    end = text.index("  # - name: Embase")
    body = (
        text[:start]
        + (
            "  - name: Embase\n    platform: Embase.com\n    query: synthetic AND test\n"
            "  - name: Scopus\n    query: synthetic AND test\n"
        )
        + text[end:]
    )
    (root / "protocol.yaml").write_text(body)
    shutil.copy(IMPORTS / "embase.ris", root / "imports" / "embase.ris")
    shutil.copy(IMPORTS / "scopus.csv", root / "imports" / "scopus.csv")


def test_the_worked_example_has_reached_every_step() -> None:
    st = review_status(example_review_dir())
    states = {s.name: s.state for s in st.steps}
    assert states == {
        "protocol": "done",
        "search": "done",
        "records": "done",
        "deduplication": "done",
        "title_abstract": "done",
        "full_text": "done",
        "extraction": "done",
        "risk_of_bias": "done",
        "analyses": states["analyses"],
        "certainty": states["certainty"],
    }
    # the rate outcome has no GRADE judgements yet (certainty.yaml): said, with what to do
    cert = st.step("certainty")
    assert cert.state == "in progress" and "not yet: spm_rate" in cert.detail and cert.next
    rob = st.step("risk_of_bias").detail
    assert rob.startswith(f"{st.n_studies} of {st.n_studies} studies judged")
    assert "no longer extracted set aside" in rob  # Hamilton 2024's answers, kept in the log
    assert st.n_records == st.n_unique + st.n_duplicates > 0
    assert st.sources["identified"].sum() == st.n_records
    ta = st.screening[(st.screening["stage"] == "title_abstract")]
    assert set(ta["reviewer"]) == {"A", "B", "any"}
    # every record but the one found by other methods (taken straight to full text)
    assert (ta["to_screen"] == st.n_unique - 1).all() and (ta["remaining"] == 0).all()
    ft = st.screening[(st.screening["stage"] == "full_text")]
    assert (ft["remaining"] == 0).all()
    assert dict(st.conflicts) == {"title_abstract": 0, "full_text": 0}
    assert st.n_studies and st.n_studies > 0 and len(st.extraction) > 0
    text = st.summary()
    assert "title_abstract" in text and "Records per source" in text and "Problems" not in text
    html = st._repr_html_()
    assert "<table" in html and "Screening progress" in html
    assert list(st.to_frame().columns) == ["step", "state", "detail", "next"]
    for stage in ("records", "title_abstract", "full_text", "extraction"):
        require_stage(example_review_dir(), stage)  # does not raise
        assert reached(example_review_dir(), stage)


def test_a_new_review_has_only_its_protocol(fresh: Path) -> None:
    st = review_status(fresh)
    states = {s.name: s.state for s in st.steps}
    assert states["protocol"] == "in progress"  # TODO placeholders left
    assert states["search"] == "not started"
    assert states["records"] == "not started"
    assert st.step("records").next and "imports/" in st.step("records").next
    assert states["title_abstract"] == states["extraction"] == "not started"
    assert states["risk_of_bias"] in ("not started", "not applicable")
    assert st.n_records is None and st.problems == ()
    assert list(st.searches["state"]) == ["not run yet"]
    with pytest.raises(StageNotReached, match="no records yet") as info:
        require_stage(fresh, "records")
    assert info.value.stage == "records"
    assert info.value._render_traceback_()[0].startswith("Not reached yet: no records yet")
    with pytest.raises(StageNotReached, match="no records yet"):
        require_stage(fresh, "full_text")  # the first missing step is named
    with pytest.raises(StageNotReached, match="no study extracted yet"):
        require_stage(fresh, "extraction")
    assert not reached(fresh, "records")


def test_status_reads_and_never_writes(fresh: Path) -> None:
    _imports_only(fresh)
    before = _files(fresh)
    review_status(fresh)
    for stage in ("records", "title_abstract", "full_text", "extraction"):
        reached(fresh, stage)
    assert _files(fresh) == before  # no screening log, no lock file created
    assert not (fresh / "screening" / "log.jsonl").exists()


def test_exports_without_pubmed_then_half_screened_then_screened(fresh: Path) -> None:
    _imports_only(fresh)
    st = review_status(fresh)
    assert st.step("search").state == "not applicable"
    assert st.step("records").state == "done"
    assert set(st.sources["source"]) == {"Embase", "Scopus"}
    assert st.n_duplicates and st.n_duplicates > 0  # the two exports share articles
    assert st.step("title_abstract").state == "not started"
    require_stage(fresh, "records")
    with pytest.raises(StageNotReached, match=rf"0 of {st.n_unique} records have a decision"):
        require_stage(fresh, "title_abstract")

    from review.dedup import deduplicate
    from review.records import load_review_records

    paths = ReviewPaths(fresh)
    protocol = load_protocol(paths.protocol)
    ids = list(deduplicate(load_review_records(paths)).unique["record_id"])
    log = ScreeningLog(paths.screening_log, protocol=protocol, records=ids)
    log.record(ids[0], "title_abstract", "A", "include")
    log.record(ids[0], "title_abstract", "B", "exclude")  # a conflict
    log.record(ids[1], "title_abstract", "A", "exclude")
    st = review_status(fresh)
    assert st.step("title_abstract").state == "in progress"
    assert st.conflicts["title_abstract"] == 1
    by = st.screening.set_index(["stage", "reviewer"])
    assert by.loc[("title_abstract", "A"), "screened"] == 2
    assert by.loc[("title_abstract", "B"), "screened"] == 1
    assert by.loc[("title_abstract", "any"), "remaining"] == len(ids) - 2
    with pytest.raises(StageNotReached, match=r"1 conflict\(s\) open"):
        require_stage(fresh, "title_abstract")

    log.resolve(ids[0], "title_abstract", "include")
    for rid in ids[2:]:
        log.record(rid, "title_abstract", "A", "exclude")
    st = review_status(fresh)
    assert st.step("title_abstract").state == "done"
    assert st.step("full_text").state == "not started"
    require_stage(fresh, "title_abstract")
    with pytest.raises(StageNotReached, match="0 of 1 reports have a final decision"):
        require_stage(fresh, "full_text")
    log.record(ids[0], "full_text", "A", "exclude", reason="wrong_outcome")
    st = review_status(fresh)
    assert st.step("full_text").state == "done"
    assert reached(fresh, "full_text") and not reached(fresh, "extraction")
    assert st.step("extraction").state == "not started"


def test_a_file_that_cannot_be_read_is_named_not_raised(fresh: Path, capsys) -> None:
    from review.__main__ import main

    _imports_only(fresh)
    (fresh / "imports" / "embase.ris").write_text("TY  - JOUR\nTI  - torn record without end\n")
    st = review_status(fresh)
    assert st.step("records").state == "error"
    assert st.problems and "embase.ris" in st.problems[0]
    assert main(["status", "--review", str(fresh)]) == 1
    assert "Problems:" in capsys.readouterr().out

    (fresh / "protocol.yaml").write_text("schema_version: 1\ntitle: [unclosed\n")
    st = review_status(fresh)
    assert st.step("protocol").state == "error" and st.title is None
    assert "protocol.yaml" in st.problems[0]
    assert {s.state for s in st.steps[1:]} == {"not started"}


def test_command_line_status(fresh: Path, capsys) -> None:
    from review.__main__ import main

    assert main(["status", "--review", str(fresh)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Review: A review of exports")
    assert "next: put your databases' exports" in out


def test_unknown_stage_is_refused(fresh: Path) -> None:
    with pytest.raises(OptionError, match="Invalid stage 'screening'"):
        require_stage(fresh, "screening")


def test_the_protocols_search_names_its_snapshot(fresh: Path, monkeypatch) -> None:
    paths = ReviewPaths(fresh)
    protocol = load_protocol(paths.protocol)
    with pytest.raises(StageNotReached, match=r"search/pubmed-\d{4}/ holds no snapshot"):
        protocol_search(paths, protocol)

    import review.search

    def no_network(*args, **kwargs):
        raise AssertionError("a TODO query must not be searched")

    monkeypatch.setattr(review.search, "search_pubmed", no_network)
    with pytest.raises(StageNotReached, match="query is still a TODO placeholder"):
        protocol_search(paths, protocol, live=True)

    # the worked example's snapshot is found by the name its protocol gives
    ex = load_protocol(ReviewPaths(example_review_dir()).protocol)
    monkeypatch.undo()
    snap = protocol_search(example_review_dir(), ex)
    assert snap.folder is not None and snap.folder.name == ex.databases[0].snapshot

    text = paths.protocol.read_text().replace("    snapshot: pubmed-", "    # snapshot: pubmed-")
    paths.protocol.write_text(text)
    with pytest.raises(StageNotReached, match="names no snapshot folder"):
        protocol_search(paths, load_protocol(paths.protocol))

    _imports_only(fresh)
    with pytest.raises(NothingToDo, match="searches no PubMed database") as info:
        protocol_search(paths, load_protocol(paths.protocol))
    assert info.value._render_traceback_()[0].startswith("Nothing to do:")


def test_extraction_completeness_per_outcome_and_which_analyses_can_run(fresh: Path) -> None:
    studies = fresh / "extraction" / "studies.csv"
    outcomes = fresh / "extraction" / "outcomes.csv"
    st = review_status(fresh)
    assert st.step("extraction").state == "not started"
    assert list(st.analyses["blocked_by"]) == ["no study extracted yet"]
    # the README's example rows: one study with counts, one with only an estimate
    readme = (fresh / "README.md").read_text()
    example = readme.split("```csv\n")[1].split("```")[0].splitlines()[1:]
    with studies.open("a") as fh:
        fh.write("smith2024,Smith 2024,38000001,38000001,,cohort,2024\n")
        fh.write("jones2025,Jones 2025,38000002,38000002,,trial,2025\n")
    with outcomes.open("a") as fh:
        fh.write("\n".join(example) + "\n")
    st = review_status(fresh)
    assert st.step("extraction").state == "done" and st.n_studies == 2
    row = st.extraction.set_index("outcome").loc["outcome_any"]
    assert (row["counts"], row["estimate_only"], row["not_reported"], row["of"]) == (1, 1, 0, 2)
    (a,) = st.analyses.to_dict("records")
    assert a["analysis"] == "main" and a["k"] == 1 and not a["can_run"]
    assert a["blocked_by"] == (
        "k = 1: a random-effects model needs at least 2 studies "
        "(1 gives only an estimate; the analysis says estimates: exclude)"
    )
    assert st.step("analyses").state == "not started"
    with outcomes.open("a") as fh:
        fh.write('jones2025,n_at_risk,120,38000002,"Table 2",,,,,,,\n')
        fh.write('jones2025,n_events,4,38000002,"Table 2",,,,,,,\n')
    st = review_status(fresh)
    (a,) = st.analyses.to_dict("records")
    assert a["can_run"] and a["k"] == 2 and a["blocked_by"] is None
    assert st.step("analyses").state == "done"
    assert "main                     can run (k = 2)" in st.summary()
    # a row the protocol does not allow is named, not raised
    with outcomes.open("a") as fh:
        fh.write('jones2025,n_deaths,1,38000002,"Table 2",,,,,,,\n')
    st = review_status(fresh)
    assert st.step("extraction").state == "error" and "n_deaths" in st.problems[0]
    assert list(st.analyses["blocked_by"]) == ["the extraction tables have errors"]


def test_a_version_1_protocol_is_told_to_move_to_version_2(tmp_path: Path) -> None:
    root = tmp_path / "old"
    (root / "imports").mkdir(parents=True)
    shutil.copy(REPO / "tests" / "data" / "protocol_minimal.yaml", root / "protocol.yaml")
    shutil.copy(IMPORTS / "embase.ris", root / "imports")
    st = review_status(root)
    assert st.step("records").state == "done"
    assert "schema version 1" in st.step("extraction").detail
    assert st.step("analyses").state == "not applicable"


def _stroke_extracted(tmp_path: Path, extra: str = "") -> Path:
    """The second test review's protocol (plus ``extra``) and extraction, nothing else."""
    from stroke_review import REVIEW as STROKE

    root = tmp_path / "stroke"
    shutil.copytree(STROKE / "extraction", root / "extraction")
    (root / "protocol.yaml").write_text(
        (STROKE / "protocol.yaml").read_text(encoding="utf-8") + extra, encoding="utf-8"
    )
    return root


def test_appraisal_and_certainty_stages_need_their_protocol_blocks(tmp_path: Path) -> None:
    root = _stroke_extracted(tmp_path)
    require_stage(root, "extraction")
    with pytest.raises(NothingToDo, match="no risk-of-bias tool") as info:
        require_stage(root, "appraisal")
    assert info.value.stage == "appraisal"
    with pytest.raises(NothingToDo, match="no certainty assessment: add a 'certainty:'") as info:
        require_stage(root, "certainty")
    assert info.value.stage == "certainty"
    assert reached(root, "certainty") is False  # NothingToDo is a StageNotReached
    # an empty block declares the assessment (defaults: start high, no thresholds)
    declared = _stroke_extracted(tmp_path / "b", "certainty: {}\n")
    require_stage(declared, "certainty")
    assert reached(declared, "certainty") is True
    # before any study is extracted the stage is not reached (not "nothing to do")
    shutil.rmtree(declared / "extraction")
    with pytest.raises(StageNotReached, match="no study extracted yet") as info:
        require_stage(declared, "certainty")
    assert not isinstance(info.value, NothingToDo)
