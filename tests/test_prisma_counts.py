"""PRISMA 2020 counts against a screening log built by hand, every consistency check, and a
property test that the boxes add up for any random valid log."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.errors import InputError, OptionError, PrismaInconsistency
from review.prisma import PrismaCounts, final_decisions, prisma_counts

REASONS = {
    "case_report": "Case report or case series",
    "review_or_editorial": "Review or editorial",
    "no_spm_data": "Second primary malignancies not reported",
    "conference_abstract": "Conference abstract only",
    "wrong_design": "Preclinical or laboratory study",
    "not_retrieved": "Full text could not be retrieved",
}

# Identification: PubMed 6, Embase 4, one register record: 11 records identified.
RECORDS = pd.DataFrame(
    {
        "record_id": [f"pubmed:{i}" for i in range(1, 7)] + [f"embase:{i}" for i in range(1, 5)],
        "source": ["PubMed"] * 6 + ["Embase"] * 4,
        "pmid": ["1", "2", "3", "4", "5", "6", None, None, None, None],
    }
)
REGISTER = pd.DataFrame({"record_id": ["ctgov:1"], "source": ["ClinicalTrials.gov"]})
# De-duplication: embase:1 and embase:2 are duplicates (2 removed); embase:3 was kept apart
# by a reviewer (a link row without duplicate_of removes nothing).
LINKS = pd.DataFrame(
    {
        "record_id": ["embase:1", "embase:2", "embase:3"],
        "duplicate_of": ["pubmed:1", "pubmed:2", None],
        "reason": ["pmid", "doi", "manual"],
    }
)
# embase:4 removed for another reason (a retraction notice): 11 - 2 - 0 - 1 = 8 screened.
OTHER_REMOVED = ["embase:4"]
# Other methods: citation searching 2, websites 1; cit:1 carries PMID 777.
OTHER = pd.DataFrame(
    {
        "record_id": ["cit:1", "cit:2", "web:1"],
        "source": ["Citation searching", "Citation searching", "Websites"],
        "pmid": ["777", None, None],
    }
)
# Two reports of one study: pubmed:1 and embase:3.
REPORT_STUDY = {"pubmed:1": "S1", "embase:3": "S1"}
EXTRACTION = pd.DataFrame({"study_id": ["S1", "Cit2020"], "pmid": ["1", "777"]})

TA, FT = "title_abstract", "full_text"
ROWS = [
    # title/abstract, two reviewers
    ("pubmed:1", TA, "A", "include", None),  # agree include
    ("pubmed:1", TA, "B", "include", None),
    ("pubmed:2", TA, "A", "include", None),  # conflict ...
    ("pubmed:2", TA, "B", "exclude", None),
    ("pubmed:2", TA, "consensus", "include", None),  # ... resolved: include
    ("pubmed:3", TA, "A", "exclude", None),  # agree exclude
    ("pubmed:3", TA, "B", "exclude", None),
    ("pubmed:4", TA, "A", "exclude", None),  # conflict ...
    ("pubmed:4", TA, "B", "include", None),
    ("pubmed:4", TA, "consensus", "exclude", None),  # ... resolved: exclude
    ("pubmed:5", TA, "A", "maybe", None),  # maybe + include: on to full text
    ("pubmed:5", TA, "B", "include", None),
    ("pubmed:6", TA, "A", "include", None),  # A changes their mind (last word counts)
    ("pubmed:6", TA, "B", "exclude", None),
    ("pubmed:6", TA, "A", "exclude", None),
    ("embase:3", TA, "A", "include", None),
    ("embase:3", TA, "B", "include", None),
    ("ctgov:1", TA, "A", "include", None),
    ("ctgov:1", TA, "B", "maybe", None),
    # full text
    ("pubmed:1", FT, "A", "include", None),
    ("pubmed:1", FT, "B", "include", None),
    ("pubmed:2", FT, "A", "exclude", "no_spm_data"),
    ("pubmed:2", FT, "B", "exclude", "no_spm_data"),
    ("pubmed:5", FT, "A", "exclude", "not_retrieved"),
    ("pubmed:5", FT, "B", "exclude", "not_retrieved"),
    ("embase:3", FT, "A", "include", None),
    ("embase:3", FT, "B", "exclude", "conference_abstract"),
    ("embase:3", FT, "consensus", "include", None),
    ("ctgov:1", FT, "A", "exclude", "review_or_editorial"),  # same decision, other reason:
    ("ctgov:1", FT, "B", "exclude", "case_report"),  # a conflict ...
    ("ctgov:1", FT, "consensus", "exclude", "case_report"),  # ... resolved
    # other methods: straight to full text, one reviewer
    ("cit:1", FT, "A", "include", None),
    ("cit:2", FT, "A", "exclude", "wrong_design"),
    ("web:1", FT, "A", "exclude", "not_retrieved"),
]


LOG_COLUMNS = ["seq", "record_id", "stage", "reviewer", "decision", "reason", "note", "timestamp"]


def make_log(rows=ROWS) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=LOG_COLUMNS)
    return pd.DataFrame(
        [
            {
                "seq": i + 1,
                "record_id": r,
                "stage": s,
                "reviewer": who,
                "decision": d,
                "reason": why,
                "note": None,
                "timestamp": f"2026-11-26T01:{i // 60:02d}:{i % 60:02d}Z",
            }
            for i, (r, s, who, d, why) in enumerate(rows)
        ]
    )


def counts(**over):
    kw = dict(
        identified=RECORDS,
        registers=REGISTER,
        duplicates_removed=LINKS,
        other_removed=OTHER_REMOVED,
        decisions=make_log(),
        reason_labels=REASONS,
        other_methods=OTHER,
        report_study=REPORT_STUDY,
        included_studies=EXTRACTION,
    )
    kw.update(over)
    return prisma_counts(**kw)


def problems_of(excinfo) -> str:
    return "\n".join(excinfo.value.problems)


# --------------------------------------------------------------------------- by hand


def test_counts_match_the_hand_count():
    c = counts()
    assert c.databases == (("PubMed", 6), ("Embase", 4))
    assert c.registers == (("ClinicalTrials.gov", 1),)
    assert c.identified == 11
    assert (c.duplicates_removed, c.automation_excluded, c.other_removed) == (2, 0, 1)
    # 11 - 3 = 8: pubmed:1-6, embase:3, ctgov:1
    assert c.records_screened == 8
    # pubmed:3 (agreed), pubmed:4 (consensus), pubmed:6 (A's last word)
    assert c.records_excluded == 3
    # pubmed:1, pubmed:2, pubmed:5, embase:3, ctgov:1
    assert c.reports_sought == 5
    assert c.reports_not_retrieved == 1  # pubmed:5
    assert c.reports_assessed == 4
    by_reason = {code: n for code, _, n in c.reports_excluded}
    # pubmed:2 no_spm_data; ctgov:1 case_report by consensus; zero rows kept for the rest
    assert by_reason == {
        "case_report": 1,
        "review_or_editorial": 0,
        "no_spm_data": 1,
        "conference_abstract": 0,
        "wrong_design": 0,
    }
    assert "not_retrieved" not in by_reason  # it is its own box, not an exclusion reason
    assert c.reports_included == 2  # pubmed:1, embase:3
    o = c.other
    assert o is not None
    assert o.sources == (("Citation searching", 2), ("Websites", 1))
    # cit:1, cit:2, web:1 sought; web:1 not retrieved; cit:2 excluded; cit:1 included
    assert (o.reports_sought, o.reports_not_retrieved, o.reports_assessed) == (3, 1, 2)
    assert {code: n for code, _, n in o.reports_excluded if n} == {"wrong_design": 1}
    assert o.reports_included == 1
    # reports pubmed:1 + embase:3 are one study S1; cit:1 is a study of its own
    assert (c.new_studies, c.new_reports) == (2, 3)
    assert (c.total_studies, c.total_reports) == (2, 3)
    assert c.previous is None
    assert c.problems == ()
    assert c.check() is c


def test_every_box_is_traceable_to_record_ids():
    c = counts()
    assert c.records_in("databases", "Embase") == {"embase:1", "embase:2", "embase:3", "embase:4"}
    assert c.records_in("registers") == {"ctgov:1"}
    assert len(c.records_in("identified")) == 11
    assert c.records_in("duplicates_removed") == {"embase:1", "embase:2"}
    assert c.records_in("other_removed") == {"embase:4"}
    assert c.records_in("records_excluded") == {"pubmed:3", "pubmed:4", "pubmed:6"}
    assert c.records_in("reports_not_retrieved") == {"pubmed:5"}
    assert c.records_in("reports_excluded", "case_report") == {"ctgov:1"}
    # a reason can be named by its label too
    assert c.records_in("reports_excluded", REASONS["no_spm_data"]) == {"pubmed:2"}
    assert c.records_in("reports_included") == {"pubmed:1", "embase:3"}
    assert c.records_in("other_reports_not_retrieved") == {"web:1"}
    assert c.records_in("new_reports") == {"pubmed:1", "embase:3", "cit:1"}
    assert c.study_ids("new_studies") == {"S1", "cit:1"}
    # the boxes partition their parents
    screened = c.records_in("records_screened")
    assert screened == c.records_in("records_excluded") | c.records_in("reports_sought")
    assert c.records_in("identified") - screened == (
        c.records_in("duplicates_removed") | c.records_in("other_removed")
    )
    for box, n in c.to_frame().groupby("box")["count"].sum().items():
        if box in (
            "databases",
            "registers",
            "reports_excluded",
            "other_identified",
            "other_reports_excluded",
            "new_reports",
            "total_reports",
            "records_screened",
            "records_excluded",
            "reports_sought",
            "reports_not_retrieved",
            "reports_assessed",
            "reports_included",
            "duplicates_removed",
            "other_removed",
            "automation_excluded",
        ):
            assert len(c.records_in(box)) == n, box
    with pytest.raises(OptionError, match="Invalid box"):
        c.records_in("records_included")
    with pytest.raises(OptionError, match="Invalid detail"):
        c.records_in("databases", "Scopus")


def test_to_frame_is_tidy_and_sums_to_the_boxes():
    c = counts()
    f = c.to_frame()
    assert list(f.columns) == ["box", "count", "detail"]
    assert f["count"].dtype == "int64"
    tot = f.groupby("box")["count"].sum()
    assert tot["databases"] == 10 and tot["registers"] == 1
    assert tot["reports_excluded"] == 2
    assert tot["other_identified"] == 3
    assert tot["total_studies"] == 2
    assert set(f.loc[f["box"] == "databases", "detail"]) == {"PubMed", "Embase"}


def test_summary_and_html_show_the_counts():
    c = counts()
    text = c.summary()
    assert "Records screened" in text and "n = 8" in text
    assert "Consistent" in text
    html = c._repr_html_()
    assert "<table" in html and "Reports not retrieved" in html
    assert "identified 11" in repr(c)


def test_final_decisions_from_the_log():
    f = final_decisions(make_log()).set_index(["record_id", "stage"])
    assert f.loc[("pubmed:2", TA), "resolved_by"] == "consensus"
    assert f.loc[("pubmed:6", TA), "decision"] == "exclude"
    # maybe + include at title/abstract: on to full text (include, since someone included)
    assert f.loc[("pubmed:5", TA), "decision"] == "include"
    assert f.loc[("web:1", FT), "resolved_by"] == "single"
    assert f.loc[("ctgov:1", FT), "reason"] == "case_report"
    assert not f["conflict"].any()


def test_undo_rows_withdraw_a_decision():
    # B excludes pubmed:1 at full text, then undoes it: B's include before stands again
    rows = [
        *ROWS,
        ("pubmed:1", FT, "B", "exclude", "case_report"),
        ("pubmed:1", FT, "B", "undo", None),
    ]
    assert counts(decisions=make_log(rows)).reports_included == 2
    # undoing A's exclusion of pubmed:6 leaves A's include standing: a conflict with B
    rows = [*ROWS, ("pubmed:6", TA, "A", "undo", None)]
    with pytest.raises(PrismaInconsistency, match="unresolved conflicts at title_abstract"):
        counts(decisions=make_log(rows))


def test_a_screening_log_object_gives_the_same_counts(tmp_path):
    screening = pytest.importorskip("review.screening")
    log = screening.ScreeningLog(tmp_path / "log.jsonl")
    for rid, stage, who, dec, why in ROWS:
        log.record(rid, stage, who, dec, why)
    log.record("pubmed:1", FT, "B", "exclude", "case_report")
    log.undo("pubmed:1", stage=FT, reviewer="B")
    from_object = counts(decisions=log)
    from_rows = counts(decisions=log.decisions())
    assert from_object.to_frame().equals(from_rows.to_frame())
    assert from_object.to_frame().equals(counts().to_frame())


def test_final_decisions_frame_gives_the_same_counts():
    final = final_decisions(make_log())[["record_id", "stage", "decision", "reason"]]
    assert counts(decisions=final).to_frame().equals(counts().to_frame())
    with pytest.raises(InputError, match="2 rows for record pubmed:1"):
        counts(decisions=pd.concat([final, final.iloc[:1]]))


def test_log_order_is_seq_not_row_order():
    log = make_log().sample(frac=1.0, random_state=3)  # shuffled rows, seq kept
    assert counts(decisions=log).records_excluded == 3


# --------------------------------------------------------------------------- updated reviews


def test_previous_arm_from_counts():
    c = counts(previous={"studies": 5, "reports": 7}, included_studies=None)
    assert (c.previous.studies, c.previous.reports) == (5, 7)
    assert (c.new_studies, c.new_reports) == (2, 3)
    assert (c.total_studies, c.total_reports) == (7, 10)


def test_previous_arm_from_ids_a_new_report_of_an_old_study_adds_no_study():
    prev = pd.DataFrame({"record_id": ["pubmed:900", "pubmed:901"], "study_id": ["S1", "S0"]})
    ext = pd.concat([EXTRACTION, pd.DataFrame({"study_id": ["S0"], "pmid": ["901"]})])
    c = counts(previous=prev, included_studies=ext)
    # S1 was already included before: new studies = {cit:1}; total = {S0, S1, cit:1}
    assert c.study_ids("new_studies") == {"cit:1"}
    assert (c.new_studies, c.new_reports) == (1, 3)
    assert (c.total_studies, c.total_reports) == (3, 5)
    assert c.records_in("total_reports") == {
        "pubmed:1",
        "embase:3",
        "cit:1",
        "pubmed:900",
        "pubmed:901",
    }


def test_previous_arm_from_an_earlier_version():
    earlier = counts()
    # the update: a new search with one new record, included; the one log holds both
    # versions' decisions
    new_records = pd.DataFrame({"record_id": ["pubmed:50"], "source": ["PubMed"]})
    log = make_log(
        [*ROWS, ("pubmed:50", TA, "A", "include", None), ("pubmed:50", FT, "A", "include", None)]
    )
    ext = pd.concat([EXTRACTION, pd.DataFrame({"study_id": ["New2026"], "pmid": ["50"]})])
    c = prisma_counts(
        identified=new_records,
        decisions=log,
        reason_labels=REASONS,
        previous=earlier,
        included_studies=ext,
    )
    assert (c.previous.studies, c.previous.reports) == (2, 3)
    assert (c.records_screened, c.new_studies, c.new_reports) == (1, 1, 1)
    assert (c.total_studies, c.total_reports) == (3, 4)
    assert any("previous version were left out" in n for n in c.notes)
    # without the previous version, its rows are decisions on records never identified
    with pytest.raises(PrismaInconsistency, match="not in the de-duplicated set"):
        prisma_counts(identified=new_records, decisions=log, reason_labels=REASONS)


# --------------------------------------------------------------------------- inconsistencies


def test_identified_minus_removed_must_equal_screened():
    # a per-database count typed wrong (PubMed 7 instead of 6): nothing can be matched by id
    typed = {"PubMed": 7, "Embase": 4}
    with pytest.raises(PrismaInconsistency) as e:
        counts(identified=typed)
    assert "records identified (12) - removed before screening (3)" in problems_of(e)


def test_a_record_never_screened_is_named():
    log = make_log([r for r in ROWS if r[0] != "pubmed:3"])
    with pytest.raises(PrismaInconsistency) as e:
        counts(decisions=log)
    text = problems_of(e)
    assert "never screened" in text and "pubmed:3" in text
    assert "should equal records screened" in text


def test_screened_minus_excluded_must_equal_sought():
    # pubmed:1 passed title/abstract but has no full-text row
    log = make_log([r for r in ROWS if not (r[0] == "pubmed:1" and r[1] == FT)])
    with pytest.raises(PrismaInconsistency) as e:
        counts(decisions=log, included_studies=None)
    text = problems_of(e)
    assert "should equal reports sought for retrieval" in text
    assert "no full-text decision" in text and "pubmed:1" in text


def test_sought_minus_not_retrieved_must_equal_assessed():
    # typed counts, as PRISMA2020 takes them: 10 sought, 2 not retrieved, but 9 assessed
    c = PrismaCounts(
        databases=(("PubMed", 20),),
        records_screened=20,
        records_excluded=10,
        reports_sought=10,
        reports_not_retrieved=2,
        reports_assessed=9,
        reports_excluded=(("x", "Reason x", 4),),
        reports_included=5,
        new_studies=5,
        new_reports=5,
        total_studies=5,
        total_reports=5,
    )
    with pytest.raises(PrismaInconsistency) as e:
        c.check()
    assert "reports sought (10) - not retrieved (2) should equal reports assessed" in problems_of(e)


def test_assessed_minus_excluded_must_equal_included():
    # pubmed:1 left at 'maybe' at full text: assessed, neither included nor excluded
    rows = [r for r in ROWS if not (r[0] == "pubmed:1" and r[1] == FT)]
    rows.append(("pubmed:1", FT, "A", "maybe", None))
    with pytest.raises(PrismaInconsistency) as e:
        counts(decisions=make_log(rows), report_study={}, included_studies=None)
    text = problems_of(e)
    assert "reports assessed (4) - excluded (2) should equal reports included: 2 != 1" in text
    assert "still undecided" in text


def test_full_text_without_title_abstract_include():
    rows = [*ROWS, ("pubmed:3", FT, "A", "exclude", "case_report")]
    with pytest.raises(PrismaInconsistency) as e:
        counts(decisions=make_log(rows))
    assert "full text without a title/abstract include: pubmed:3" in problems_of(e)


def test_decision_on_a_record_not_in_the_deduplicated_set():
    rows = [*ROWS, ("pubmed:99", TA, "A", "exclude", None)]
    with pytest.raises(PrismaInconsistency) as e:
        counts(decisions=make_log(rows))
    assert "not in the de-duplicated set" in problems_of(e)
    assert "pubmed:99" in problems_of(e)


def test_decision_on_a_removed_duplicate():
    rows = [*ROWS, ("embase:1", TA, "A", "exclude", None)]
    with pytest.raises(PrismaInconsistency) as e:
        counts(decisions=make_log(rows))
    assert "embase:1, removed as a duplicate of pubmed:1" in problems_of(e)


def test_unresolved_conflict():
    rows = [r for r in ROWS if not (r[0] == "pubmed:4" and r[2] == "consensus")]
    with pytest.raises(PrismaInconsistency) as e:
        counts(decisions=make_log(rows))
    assert "unresolved conflicts at title_abstract" in problems_of(e)
    assert "pubmed:4" in problems_of(e)


def test_included_study_missing_from_extraction():
    with pytest.raises(PrismaInconsistency) as e:
        counts(included_studies=EXTRACTION[EXTRACTION["study_id"] == "S1"])
    assert "included studies missing from the extraction table: cit:1 (PMID 777)" in problems_of(e)


def test_extraction_study_not_included():
    ext = pd.concat([EXTRACTION, pd.DataFrame({"study_id": ["Extra2021"], "pmid": ["31337"]})])
    with pytest.raises(PrismaInconsistency) as e:
        counts(included_studies=ext)
    assert "extraction studies not among the included studies: Extra2021" in problems_of(e)


def test_extraction_strata_share_a_pmid_and_match_by_it():
    ext = pd.DataFrame({"study_id": ["S1-CD19", "S1-BCMA", "Cit2020"], "pmid": ["1", "1", "777"]})
    assert counts(included_studies=ext).new_studies == 2


def test_reports_grouped_into_studies_by_the_extraction_table():
    recs = pd.DataFrame(
        {"record_id": [f"pubmed:{i}" for i in (10, 11, 12, 13)], "source": ["PubMed"] * 4}
    )
    rows = [(r, st, "A", "include", None) for r in recs["record_id"] for st in (TA, FT)]
    ext = pd.DataFrame(
        {
            # two reports of one trial; one cohort split into two strata; one plain study
            "study_id": ["Big2020", "Coh2021_cd19", "Coh2021_bcma", "Solo2022"],
            "pmid": ["10", "12", "12", "13"],
            "report_pmids": ["10; 11", "12", "12", "13"],
        }
    )
    c = prisma_counts(identified=recs, decisions=make_log(rows), included_studies=ext)
    # 4 reports: 10+11 one study, 12 one study (two strata), 13 one study
    assert (c.new_studies, c.new_reports) == (3, 4)
    assert c.study_ids("new_studies") == {"Big2020", "Coh2021", "Solo2022"}
    # an explicit mapping wins over the table
    c = prisma_counts(
        identified=recs, decisions=make_log(rows), included_studies=ext, report_study={}
    )
    assert c.new_studies == 4


def test_worked_example_from_the_other_modules_objects(tmp_path):
    """The example review read through search, dedup, screening, protocol and extraction."""
    import shutil

    from review.dedup import deduplicate
    from review.extraction import load_extraction
    from review.paths import ReviewPaths, example_review_dir
    from review.protocol import load_protocol
    from review.screening import ScreeningLog
    from review.search import load_snapshot

    p = ReviewPaths(example_review_dir())
    snap = load_snapshot(p.snapshot("pubmed-2026"))
    shutil.copy(p.screening_log, tmp_path / "log.jsonl")  # reading takes a lock: not in data/
    log = ScreeningLog(tmp_path / "log.jsonl")
    ext = load_extraction(p.extraction)
    other = load_snapshot(p.snapshot("other-2026")).records  # identified via other methods
    c = prisma_counts(
        identified=snap,
        duplicates_removed=deduplicate(snap.records),
        decisions=log,
        reason_labels=load_protocol(p.protocol),
        other_methods=other,
        included_studies=ext,
    )
    assert c.identified == len(snap.records)
    # every included study is in the extraction table and the other way round (checked),
    # and the strata of one cohort (one PMID) count as one study
    assert c.new_studies == ext["pmid"].nunique()
    ids = {f"pubmed:{x}" if x.isdigit() else f"doi:{x}" for x in ext["pmid"].astype(str)}
    assert c.records_in("reports_included") | c.records_in("other_reports_included") == ids
    assert c.records_in("other_reports_included") == set(other["record_id"])
    final_ta = log.final("title_abstract")
    assert c.records_excluded == int((final_ta["decision"] == "exclude").sum())


def test_dedup_count_disagreeing_with_its_links():
    class FakeDedup:
        links = LINKS
        n_duplicates = 3

    with pytest.raises(PrismaInconsistency, match="n_duplicates = 3 but links remove 2"):
        counts(duplicates_removed=FakeDedup())


def test_all_problems_are_listed_at_once_and_check_false_defers():
    rows = [*ROWS, ("pubmed:99", TA, "A", "exclude", None), ("pubmed:3", FT, "A", "include", None)]
    c = counts(decisions=make_log(rows), check=False)
    assert len(c.problems) >= 2
    assert "INCONSISTENT" in c.summary()
    with pytest.raises(PrismaInconsistency) as e:
        c.check()
    assert "pubmed:99" in str(e.value) and "pubmed:3" in str(e.value)


def test_malformed_rows_are_input_errors_with_location():
    bad = [*ROWS[:-1], ("web:1", FT, "A", "exclude", None)]
    with pytest.raises(InputError, match="without a reason code") as e:
        counts(decisions=make_log(bad))
    assert e.value.column == "reason" and e.value.row == "web:1"
    bad = [*ROWS[:-1], ("web:1", FT, "A", "exclude", "too_boring")]
    with pytest.raises(InputError, match="Invalid exclusion reason 'too_boring'"):
        counts(decisions=make_log(bad))
    bad = [*ROWS[:-1], ("web:1", "abstract", "A", "exclude", None)]
    with pytest.raises(InputError, match="Invalid stage") as e:
        counts(decisions=make_log(bad))
    assert e.value.row == len(ROWS)  # the seq of the offending row


# --------------------------------------------------------------------------- property


@st.composite
def review_logs(draw):
    """A random finished review: records, duplicate links, dual screening with conflicts
    resolved by consensus, full text with reasons and not_retrieved; plus the truth."""
    n_db = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(0, 8), min_size=n_db, max_size=n_db))
    records = [(f"db{d}:{i}", f"DB{d}") for d in range(n_db) for i in range(sizes[d])]
    ids = [r for r, _ in records]
    kept, links = [], []
    for rid in ids:
        if kept and draw(st.integers(0, 4)) == 0:
            links.append((rid, draw(st.sampled_from(kept))))
        else:
            kept.append(rid)
    reasons = list(REASONS)
    rows, truth = [], {"excl": 0, "nr": 0, "by_reason": {}, "inc": 0}

    def dual(rid, stage, final, reason):
        # two reviewers; sometimes they disagree and a consensus row settles it
        if draw(st.booleans()):
            rows.append((rid, stage, "A", final, reason))
            rows.append((rid, stage, "B", final, reason))
        else:
            other = "include" if final == "exclude" else "exclude"
            rows.append(
                (
                    rid,
                    stage,
                    "A",
                    other,
                    "case_report" if other == "exclude" and stage == FT else None,
                )
            )
            rows.append((rid, stage, "B", final, reason))
            rows.append((rid, stage, "consensus", final, reason))

    for rid in kept:
        if draw(st.booleans()):
            dual(rid, TA, "exclude", None)
            truth["excl"] += 1
            continue
        dual(rid, TA, "include", None)
        reason = draw(st.sampled_from([None, *reasons]))
        if reason is None:
            dual(rid, FT, "include", None)
            truth["inc"] += 1
        else:
            dual(rid, FT, "exclude", reason)
            if reason == "not_retrieved":
                truth["nr"] += 1
            else:
                truth["by_reason"][reason] = truth["by_reason"].get(reason, 0) + 1
    # other methods: straight to full text
    other = [(f"cit:{i}", "Citation searching") for i in range(draw(st.integers(0, 4)))]
    truth["other_inc"] = truth["other_nr"] = 0
    for rid, _ in other:
        reason = draw(st.sampled_from([None, "not_retrieved", "wrong_design"]))
        dual(rid, FT, "include" if reason is None else "exclude", reason)
        truth["other_inc"] += reason is None
        truth["other_nr"] += reason == "not_retrieved"
    rec = pd.DataFrame(records, columns=["record_id", "source"])
    lk = pd.DataFrame(links, columns=["record_id", "duplicate_of"])
    oth = pd.DataFrame(other, columns=["record_id", "source"])
    return rec, lk, make_log(rows), truth, len(kept), oth


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(review_logs())
def test_boxes_add_up_for_any_valid_log(case):
    rec, links, log, truth, n_kept, other = case
    c = prisma_counts(
        identified=rec,
        duplicates_removed=links,
        decisions=log,
        reason_labels=REASONS,
        other_methods=other if len(other) else None,
    )
    # the truth the generator knows
    assert c.records_screened == n_kept
    assert c.duplicates_removed == len(links)
    assert c.records_excluded == truth["excl"]
    assert c.reports_not_retrieved == truth["nr"]
    assert {k: n for k, _, n in c.reports_excluded if n} == truth["by_reason"]
    assert c.reports_included == truth["inc"]
    assert c.new_studies == c.new_reports == truth["inc"] + truth["other_inc"]
    if len(other):
        o = c.other
        assert o.identified == o.reports_sought == len(other)
        assert o.reports_not_retrieved == truth["other_nr"]
        assert o.reports_included == truth["other_inc"]
        assert o.reports_sought - o.reports_not_retrieved - o.n_excluded == o.reports_included
    # and the PRISMA identities
    assert c.identified - c.removed == c.records_screened
    assert c.records_screened - c.records_excluded == c.reports_sought
    assert c.reports_sought - c.reports_not_retrieved == c.reports_assessed
    assert c.reports_assessed - c.n_reports_excluded == c.reports_included
    assert c.inconsistencies() == ()


log_rows = st.lists(
    st.tuples(
        st.sampled_from(["pubmed:1", "pubmed:2", "pubmed:3"]),
        st.sampled_from([TA, FT]),
        st.sampled_from(["A", "B", "consensus"]),
        st.sampled_from(["include", "exclude", "maybe", "undo"]),
        st.sampled_from([None, "case_report", "no_spm_data"]),
    ),
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=log_rows)
def test_final_decisions_agree_with_the_screening_log(tmp_path_factory, rows):
    """The PRISMA derivation from raw rows and ScreeningLog.final() never disagree."""
    import json

    screening = pytest.importorskip("review.screening")
    path = tmp_path_factory.mktemp("log") / "log.jsonl"
    rows = [(r, s_, who, d, None if d == "undo" else why) for r, s_, who, d, why in rows]
    with open(path, "w", encoding="utf-8") as f:
        for i, (r, stage, who, d, why) in enumerate(rows):
            row = {
                "seq": i + 1,
                "record_id": r,
                "stage": stage,
                "reviewer": who,
                "decision": d,
                "reason": why,
                "note": None,
                "timestamp": "2026-11-26T02:00:00+00:00",
            }
            f.write(json.dumps(row) + "\n")
    log = screening.ScreeningLog(path)
    theirs = {}
    for stage in (TA, FT):
        for row in log.final(stage).itertuples(index=False):
            dec = None if row.decision == "conflict" else row.decision
            reason = None if pd.isna(row.reason) else row.reason
            theirs[(row.record_id, stage)] = (dec, reason if stage == FT else None)
    mine = {
        (row.record_id, row.stage): (row.decision, row.reason if row.stage == FT else None)
        for row in final_decisions(make_log(rows)).itertuples(index=False)
    }
    assert mine == theirs


def test_an_other_method_report_without_pmid_is_matched_by_its_doi():
    """web:1 has no PMID: included, it is found in the extraction table by its DOI."""
    other = OTHER.assign(doi=[None, None, "10.1002/ABC.1"])
    rows = [r for r in ROWS if r[0] != "web:1"] + [("web:1", FT, "A", "include", None)]
    ext = pd.concat(
        [EXTRACTION, pd.DataFrame({"study_id": ["Web2025"], "pmid": ["10.1002/abc.1"]})],
        ignore_index=True,
    )
    c = counts(other_methods=other, decisions=make_log(rows), included_studies=ext)
    assert c.other is not None and c.other.reports_included == 2
    # without the extraction row the check names the missing study
    with pytest.raises(PrismaInconsistency) as ei:
        counts(other_methods=other, decisions=make_log(rows), included_studies=EXTRACTION)
    assert "web:1" in problems_of(ei)
