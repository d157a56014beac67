"""The worked example's data (``data/``) hold together: protocol, snapshot, log, extraction.

These tests read only the committed files; they never touch the network.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from review.extraction import load_extraction, read_extraction
from review.paths import example_review_dir

DATA = example_review_dir()
SNAPSHOT = DATA / "search" / "pubmed-2026"
#: Records identified via other methods (no PMID seen: identified by their DOI).
OTHER = DATA / "search" / "other-2026"
LOG = DATA / "screening" / "log.jsonl"
EXTRACTION = DATA / "extraction"


def log_rows() -> list[dict]:
    with open(LOG, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def final_decisions(stage: str) -> dict[str, tuple[str, str | None]]:
    """Last word per record at ``stage``: the consensus row if any, else the reviewers'.

    Reviewers agree when all exclude (any reason) or, at title/abstract, all include or
    answer maybe; at full text they agree when decision and reason are identical.
    """
    by_record: dict[str, dict[str, dict]] = {}
    for row in log_rows():
        if row["stage"] == stage:
            by_record.setdefault(row["record_id"], {})[row["reviewer"]] = row
    out: dict[str, tuple[str, str | None]] = {}
    for rid, rows in by_record.items():
        if "consensus" in rows:
            out[rid] = (rows["consensus"]["decision"], rows["consensus"]["reason"])
            continue
        decisions = {r["decision"] for r in rows.values()}
        if stage == "title_abstract":
            decisions = {"include" if d == "maybe" else d for d in decisions}
            reasons = {None}
        else:
            reasons = {r["reason"] for r in rows.values()}
        assert len(decisions) == 1 and len(reasons) == 1, f"{rid}: conflict at {stage}"
        out[rid] = (decisions.pop(), reasons.pop())
    return out


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    from review.search import load_snapshot

    return load_snapshot(SNAPSHOT).records


def test_protocol_loads_with_the_reason_codes_the_log_uses() -> None:
    from review.protocol import load_protocol

    p = load_protocol(DATA / "protocol.yaml")
    used = {r["reason"] for r in log_rows() if r["reason"]}
    assert used <= set(p.exclusion_reasons)
    assert "not_retrieved" in p.exclusion_reasons
    assert set(p.reviewers) == {"A", "B"}
    query = p.databases[0].query
    assert "ciltacabtagene" in query and "second primary malignanc*" in query


def test_snapshot_is_assembled_and_says_so(records: pd.DataFrame) -> None:
    meta = json.loads((SNAPSHOT / "metadata.json").read_text(encoding="utf-8"))
    assert meta["retrieval"] == "assembled"
    assert meta["count_reported"] is None
    assert meta["count_retrieved"] == len(records)
    text = meta["provenance"]
    assert "stored public copies" in text and "not a live E-utilities retrieval" in text
    assert "2026-11-26" in text and "replaces" in text


def test_snapshot_stores_no_abstract_and_ids_match_pmids(records: pd.DataFrame) -> None:
    assert records["abstract"].isna().all()
    raw = (SNAPSHOT / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line)["abstract"] is None for line in raw)
    assert (records["record_id"] == "pubmed:" + records["pmid"]).all()
    assert records["pmid"].str.fullmatch(r"\d+").all()
    assert records["record_id"].is_unique
    assert (records["source"] == "PubMed").all()


def test_every_snapshot_record_has_a_source_url(records: pd.DataFrame) -> None:
    with open(SNAPSHOT / "sources.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    with_url = {r["record_id"] for r in rows if r["url"].startswith("http")}
    assert set(records["record_id"]) == with_url


def test_every_record_is_screened_by_both_reviewers(records: pd.DataFrame) -> None:
    ta = final_decisions("title_abstract")
    assert set(ta) == set(records["record_id"])
    reviewers: dict[str, set[str]] = {}
    for row in log_rows():
        reviewers.setdefault((row["record_id"], row["stage"]), set()).add(row["reviewer"])
    assert all({"A", "B"} <= who for who in reviewers.values())


def test_full_text_stage_covers_exactly_the_title_abstract_includes() -> None:
    """Database records reach full text through title/abstract; other-method records go
    straight to full text (PRISMA 2020), and only they."""
    from review.search import load_snapshot

    other = set(load_snapshot(OTHER).records["record_id"])
    ta = final_decisions("title_abstract")
    ft = final_decisions("full_text")
    assert set(ft) == {rid for rid, (d, _) in ta.items() if d == "include"} | other
    assert not other & set(ta)
    assert all(reason for d, reason in ft.values() if d == "exclude")


def test_full_text_includes_are_exactly_the_extraction_reports() -> None:
    ft = final_decisions("full_text")
    included = {
        rid.removeprefix("pubmed:").removeprefix("doi:")
        for rid, (d, _) in ft.items()
        if d == "include"
    }
    studies = pd.read_csv(EXTRACTION / "studies.csv", dtype=str, keep_default_na=False)
    reports = {p for cell in studies["report_pmids"] for p in cell.split(";") if p}
    assert included == reports
    assert set(studies["pmid"]) <= reports


def test_log_agrees_with_the_screening_module(tmp_path: Path) -> None:
    from review.screening import ScreeningLog

    copy = tmp_path / "log.jsonl"  # a copy: the module's lock file stays out of data/
    copy.write_bytes(LOG.read_bytes())
    log = ScreeningLog(copy)
    ft = final_decisions("full_text")
    assert sorted(log.included("full_text")) == sorted(
        rid for rid, (d, _) in ft.items() if d == "include"
    )
    assert log.conflicts("title_abstract").empty and log.conflicts("full_text").empty


def test_shipped_extraction_loads_and_every_number_is_traceable() -> None:
    df = load_extraction(EXTRACTION)
    assert len(df) >= 4 and df["n_treated"].notna().all()
    prov = df.attrs["provenance"]
    rows = pd.read_csv(EXTRACTION / "outcomes.csv", dtype=str, keep_default_na=False)
    assert len(prov) == len(rows)  # every number is one row, none is an estimate
    # a PMID, or the DOI of a report found by other methods (no PMID seen)
    assert prov["pmid"].str.fullmatch(r"\d+|10\.\d{4,9}/\S+").all()
    assert (prov["location"].str.len() > 0).all()
    assert prov["source_url"].str.startswith("http").all()
    # every number's PMID is a record of the snapshot
    snapshot_pmids = {
        json.loads(line)["pmid"] or json.loads(line)["doi"]
        for folder in (SNAPSHOT, OTHER)
        for line in (folder / "records.jsonl").read_text(encoding="utf-8").splitlines()
    }
    assert set(prov["pmid"]) <= snapshot_pmids


def test_every_data_file_has_a_codebook_entry() -> None:
    index = (DATA / "README.md").read_text(encoding="utf-8")
    shipped = [
        p.relative_to(DATA).as_posix()
        for p in DATA.rglob("*")
        if p.is_file() and p.suffix in {".csv", ".jsonl", ".json", ".yaml", ".tsv"}
    ]
    missing = [p for p in shipped if p not in index]
    assert not missing, f"data/README.md does not describe {missing}"
    codebook = pd.read_csv(EXTRACTION / "codebook.csv", dtype=str, keep_default_na=False)
    for name in ("studies.csv", "outcomes.csv", "sources.csv"):
        header = pd.read_csv(EXTRACTION / name, nrows=0).columns
        described = set(codebook.loc[codebook["file"] == name, "column"])
        assert set(header) <= described, (name, set(header) - described)


def test_a_number_without_its_source_fails(tmp_path: Path) -> None:
    """The shipped tables with one PMID removed are refused (the traceability check bites)."""
    from review.errors import ExtractionError

    (tmp_path / "studies.csv").write_bytes((EXTRACTION / "studies.csv").read_bytes())
    (tmp_path.parent / "protocol.yaml").write_bytes((DATA / "protocol.yaml").read_bytes())
    lines = (EXTRACTION / "outcomes.csv").read_text(encoding="utf-8").splitlines()
    head, first, *rest = lines
    cells = next(csv.reader([first]))
    cells[3] = ""  # the pmid column
    out = [head, ",".join(f'"{c}"' for c in cells), *rest]
    (tmp_path / "outcomes.csv").write_text("\n".join(out) + "\n", encoding="utf-8")
    with pytest.raises(ExtractionError, match="no PMID") as info:
        load_extraction(tmp_path)
    assert (info.value.row, info.value.column) == (2, "pmid")


def test_strata_of_one_report_are_distinguishable() -> None:
    """Rows sharing a report are strata: each differs in product or disease and has a note."""
    df = load_extraction(EXTRACTION)
    for pmid, group in df.groupby("pmid"):
        if len(group) == 1:
            continue
        keys = list(zip(group["product"], group["disease"]))
        assert len(set(keys)) == len(keys), f"strata of PMID {pmid} repeat product and disease"
        assert (group["note"].str.len() > 0).all(), f"strata of PMID {pmid} need a note"


def test_tix_comparator_numbers_are_sourced() -> None:
    """Tix et al.'s abstract numbers: each sourced; the headline ones as the issue gives them."""
    tix = pd.read_csv(EXTRACTION / "tix2024.csv", dtype=str, keep_default_na=False)
    assert (tix["pmid"] == "39256908").all()
    assert tix["source_url"].str.startswith("http").all()
    assert (tix["location"].str.len() > 0).all()
    assert tix["quantity"].is_unique
    value = dict(zip(tix["quantity"], tix["value"].astype(float)))
    assert value["patients"] == 5517 and value["spm_events"] == 326
    assert value["clinical_trials"] == 18 and value["real_world_studies"] == 7
    assert value["median_followup"] == 21.7
    pooled = tix.set_index("quantity").loc["pooled_spm"]
    estimate = (float(pooled["value"]), float(pooled["ci_low"]), float(pooled["ci_high"]))
    assert estimate == (6.0, 4.8, 7.4)
    shares = [value[k] for k in ("share_hematologic", "share_solid", "share_nmsc", "share_tcell")]
    assert sum(shares) <= 100
    # every URL the file cites is listed as a source page of the extraction or the snapshot
    pages = set(pd.read_csv(EXTRACTION / "sources.csv", dtype=str)["url"])
    with open(SNAPSHOT / "sources.tsv", encoding="utf-8") as fh:
        pages |= {r["url"] for r in csv.DictReader(fh, delimiter="\t")}
    assert set(tix["source_url"]) <= pages


def test_sources_csv_lists_every_url_the_outcomes_cite() -> None:
    out = pd.read_csv(EXTRACTION / "outcomes.csv", dtype=str, keep_default_na=False)
    pages = set(pd.read_csv(EXTRACTION / "sources.csv", dtype=str)["url"])
    assert set(out["source_url"]) <= pages


def test_studies_without_a_total_say_why() -> None:
    """A study with sub-types but no ``spm_any`` is not pooled for any SPM; its note says why."""
    df = load_extraction(EXTRACTION)
    no_total = df[df["spm_any"].isna()]
    assert len(no_total) >= 1  # DESCAR-T strata and Lorenc 2024 enter the T-cell analysis only
    for _, row in no_total.iterrows():
        assert pd.notna(row["spm_tcell"]), f"{row['study_id']}: no SPM count at all"
        why = f"{row['study_id']}: note does not say why spm_any is empty"
        assert "spm_any" in row["note"], why
    lorenc = df.set_index("study_id").loc["lorenc2024"]
    assert (lorenc["n_treated"], lorenc["spm_tcell"]) == (355, 0)


def test_extraction_follows_the_protocol_declarations() -> None:
    """The example's fields, outcomes and covariates come from data/protocol.yaml."""
    ex = read_extraction(EXTRACTION)
    p = ex.protocol
    assert set(p.fields) == {
        "n_treated", "spm_any", "spm_excl_nmsc", "spm_tcell", "spm_myeloid", "spm_solid",
        "spm_nmsc", "median_followup_months", "person_years",
    }  # fmt: skip
    parent = {o.code: o.subtype_of for o in p.outcomes}
    assert parent["spm_tcell"] == "spm_excl_nmsc" and parent["spm_excl_nmsc"] == "spm_any"
    assert [o.code for o in p.outcomes if o.primary] == ["spm_excl_nmsc"]
    assert p.outcome("spm_rate").time == "person_years"
    assert set(p.covariates["target"].not_compared) == {"mixed", "not_stated"}
    assert [a.date for a in p.amendments] == ["2026-12-04"] * 5
    # amendment 4: risk of bias is a covariate from the appraisal, not a studies.csv column
    assert p.covariates["risk_of_bias"].source == "appraisal"
    assert "risk_of_bias" not in ex.studies.columns
    comp = ex.completeness().set_index("outcome")
    # rows with counts: 6 any-SPM, 8 T-cell (DESCAR-T's 5 strata are one study in the
    # analysis), 3 myeloid, 4 with person-time
    outcomes = ["spm_excl_nmsc", "spm_any", "spm_tcell", "spm_myeloid", "spm_rate"]
    assert comp.loc[outcomes, "counts"].tolist() == [6, 6, 8, 3, 4]
    # no report gives person-time: every value used is N x median follow-up, flagged so
    used = ex.outcome_table("spm_rate").query("basis == 'counts'")
    assert set(used["time_source"]) == {"N x median follow-up"}
    assert used["time"].sum() == pytest.approx(2749.225)
    assert len(ex.estimates) == 0


def test_the_subtype_checks_bite_on_the_shipped_tables(tmp_path: Path) -> None:
    """A T-cell count above a study's any-SPM total, without a note, is refused."""
    from review.errors import ExtractionError
    from review.protocol import load_protocol

    (tmp_path / "studies.csv").write_bytes((EXTRACTION / "studies.csv").read_bytes())
    text = (EXTRACTION / "outcomes.csv").read_text(encoding="utf-8")
    old = "ghilardi2024,spm_tcell,1,"
    assert old in text
    (tmp_path / "outcomes.csv").write_text(text.replace(old, "ghilardi2024,spm_tcell,17,"))
    with pytest.raises(ExtractionError, match="spm_tcell = 17 exceeds spm_excl_nmsc = 16"):
        load_extraction(tmp_path, load_protocol(DATA / "protocol.yaml"))
