"""review.screening: the append-only log, derived state, torn-line handling, agreement."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from review.errors import OptionError, ScreeningLogError
from review.protocol import load_protocol
from review.screening import (
    LOG_COLUMNS,
    ScreeningLog,
    TornLineWarning,
    agreement,
)

PROTOCOL = Path(__file__).parent / "data" / "protocol_minimal.yaml"


@pytest.fixture
def protocol():
    return load_protocol(PROTOCOL)


@pytest.fixture
def log(tmp_path, protocol):
    return ScreeningLog(tmp_path / "screening" / "log.jsonl", protocol=protocol)


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------------ format and durability
def test_creates_file_and_folders(tmp_path):
    path = tmp_path / "a" / "b" / "log.jsonl"
    log = ScreeningLog(path)
    assert path.exists() and path.read_bytes() == b""
    assert log.decisions().empty
    assert list(log.decisions().columns) == list(LOG_COLUMNS)


def test_record_writes_one_json_line_in_design_format(log):
    row = log.record("pubmed:1", stage="title_abstract", reviewer="A", decision="include")
    assert row["seq"] == 1
    raw = log.path.read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    (obj,) = _lines(log.path)
    assert list(obj) == list(LOG_COLUMNS)
    assert obj["record_id"] == "pubmed:1"
    assert obj["decision"] == "include"
    assert obj["reason"] is None and obj["note"] is None
    assert obj["timestamp"].endswith("+00:00")
    assert obj == row


def test_decisions_returns_every_row_in_order(log):
    log.record("r1", reviewer="A", decision="include")
    log.record("r1", reviewer="A", decision="exclude", note="changed my mind")
    log.record("r2", reviewer="B", decision="maybe")
    df = log.decisions()
    assert df["seq"].tolist() == [1, 2, 3]
    assert df["decision"].tolist() == ["include", "exclude", "maybe"]
    assert df.loc[1, "note"] == "changed my mind"
    assert isinstance(df["timestamp"].dtype, pd.DatetimeTZDtype)


def test_record_fsyncs_before_returning(log, monkeypatch):
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    log.record("r1", reviewer="A", decision="include")
    assert synced, "record() returned without fsync"


def test_seq_continues_across_instances(tmp_path):
    p = tmp_path / "log.jsonl"
    ScreeningLog(p).record("r1")
    ScreeningLog(p).record("r2")
    a, b = ScreeningLog(p), ScreeningLog(p)
    a.record("r3")
    b.record("r4")  # b's cache is stale: seq must still come from the file, under the lock
    assert [r["seq"] for r in _lines(p)] == [1, 2, 3, 4]
    assert a.decisions()["record_id"].tolist() == ["r1", "r2", "r3", "r4"]


def test_file_replaced_behind_our_back_is_reread(tmp_path):
    p = tmp_path / "log.jsonl"
    log = ScreeningLog(p)
    log.record("r1")
    log.record("r2")
    other = tmp_path / "other.jsonl"
    ScreeningLog(other).record("x9")
    os.replace(other, p)
    assert log.decisions()["record_id"].tolist() == ["x9"]


# ------------------------------------------------------------------ validation
def test_full_text_exclusion_needs_a_protocol_reason(log):
    with pytest.raises(OptionError, match="needs a reason"):
        log.record("r1", stage="full_text", reviewer="A", decision="exclude")
    with pytest.raises(OptionError, match="wrong_population"):
        log.record("r1", stage="full_text", reviewer="A", decision="exclude", reason="bogus")
    row = log.record(
        "r1", stage="full_text", reviewer="A", decision="exclude", reason="wrong_design"
    )
    assert row["reason"] == "wrong_design"
    assert len(_lines(log.path)) == 1  # refused calls wrote nothing


def test_reason_rules(log, tmp_path):
    with pytest.raises(OptionError, match="only with decision 'exclude'"):
        log.record("r1", decision="include", reason="wrong_design")
    with pytest.raises(OptionError, match="full_text"):
        log.record("r1", decision="exclude", reason="not_retrieved")
    log.record("r1", stage="full_text", decision="exclude", reason="not_retrieved")
    # title/abstract exclusions may carry a reason, but it must be the protocol's
    log.record("r2", decision="exclude", reason="wrong_design")
    with pytest.raises(OptionError):
        log.record("r2", decision="exclude", reason="nope")
    # without a protocol a reason only has to look like a code
    bare = ScreeningLog(tmp_path / "bare.jsonl")
    bare.record("r1", stage="full_text", decision="exclude", reason="anything_goes")
    with pytest.raises(OptionError, match="code"):
        bare.record("r1", stage="full_text", decision="exclude", reason="Not A Code")


def test_invalid_options_are_refused(log):
    with pytest.raises(OptionError, match="Invalid stage"):
        log.record("r1", stage="abstract")
    with pytest.raises(OptionError, match="Invalid decision"):
        log.record("r1", decision="yes")
    with pytest.raises(OptionError, match="Invalid reviewer"):
        log.record("r1", reviewer="Z")  # protocol lists A and B
    with pytest.raises(OptionError):
        log.record("", reviewer="A")
    log.record("r1", reviewer="consensus")
    assert log.path.read_bytes().count(b"\n") == 1


# ------------------------------------------------------------------ corruption and torn lines
def test_corrupt_middle_line_raises_naming_file_and_line(tmp_path):
    p = tmp_path / "log.jsonl"
    log = ScreeningLog(p)
    log.record("r1")
    log.record("r2")
    lines = p.read_text().splitlines()
    lines.insert(1, "{not json")
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScreeningLogError, match=r"line 2") as ei:
        ScreeningLog(p).decisions()
    assert str(p) in str(ei.value)
    assert ei.value.line == 2


def test_non_increasing_seq_raises(tmp_path):
    p = tmp_path / "log.jsonl"
    ScreeningLog(p).record("r1")
    first = p.read_text()
    p.write_text(first + first)
    with pytest.raises(ScreeningLogError, match=r"line 2.*does not increase"):
        ScreeningLog(p).decisions()


def test_wrong_keys_raise(tmp_path):
    p = tmp_path / "log.jsonl"
    row = dict.fromkeys(LOG_COLUMNS)
    row.update(
        seq=1,
        record_id="r",
        stage="full_text",
        reviewer="A",
        decision="include",
        timestamp="2026-01-01T00:00:00+00:00",
        extra=1,
    )
    p.write_text(json.dumps(row) + "\n")
    with pytest.raises(ScreeningLogError, match="extra"):
        ScreeningLog(p).decisions()


def _tear(path: Path) -> bytes:
    torn = b'{"seq": 99, "record_id": "half'
    with open(path, "ab") as f:
        f.write(torn)
    return torn


def test_torn_last_line_is_moved_aside_with_warning(tmp_path):
    p = tmp_path / "log.jsonl"
    log = ScreeningLog(p)
    log.record("r1")
    log.record("r2")
    torn = _tear(p)
    fresh = ScreeningLog(p)
    with pytest.warns(TornLineWarning, match=r"line 3.*moved aside"):
        df = fresh.decisions()
    assert df["record_id"].tolist() == ["r1", "r2"]  # the fragment is never used
    assert p.read_bytes().endswith(b"\n")
    side = [json.loads(x) for x in fresh.sidecar_path.read_text().splitlines()]
    assert len(side) == 1
    assert side[0]["line"] == 3 and side[0]["n_bytes"] == len(torn)
    assert side[0]["text"].encode() == torn
    # the next writer does not glue onto the fragment
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = fresh.record("r3")
    assert row["seq"] == 3
    assert [r["record_id"] for r in _lines(p)] == ["r1", "r2", "r3"]


def test_writer_repairs_before_appending(tmp_path):
    p = tmp_path / "log.jsonl"
    log = ScreeningLog(p)
    log.record("r1")
    _tear(p)
    with pytest.warns(TornLineWarning):
        log.record("r2")  # the same (cached) instance notices the torn tail too
    assert [r["record_id"] for r in _lines(p)] == ["r1", "r2"]


def test_torn_line_raise_mode_and_explicit_repair(tmp_path):
    p = tmp_path / "log.jsonl"
    ScreeningLog(p).record("r1")
    torn = _tear(p)
    strict = ScreeningLog(p, on_torn="raise")
    with pytest.raises(ScreeningLogError, match=r"line 2: torn last line") as ei:
        strict.decisions()
    assert ei.value.path == str(p)
    with pytest.raises(ScreeningLogError):
        strict.record("r2")  # refuses to write after a torn line
    assert p.read_bytes().endswith(torn)  # nothing touched in raise mode
    report = strict.repair()
    assert report.repaired and report.line == 2 and report.n_bytes == len(torn)
    assert strict.decisions()["record_id"].tolist() == ["r1"]
    assert not strict.repair().repaired  # idempotent


def test_complete_last_row_lacking_only_its_newline_is_terminated_and_kept(tmp_path):
    # issue 15: a whole, valid last decision without its newline (a writer stopped between
    # the object and the newline, or an editor that drops the final newline) is not torn
    p = tmp_path / "log.jsonl"
    ScreeningLog(p).record("r1")
    row = _lines(p)[0] | {"seq": 2, "record_id": "r2"}
    with open(p, "ab") as f:
        f.write(json.dumps(row).encode())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ScreeningLog(p).decisions()["record_id"].tolist() == ["r1", "r2"]
    assert p.read_bytes().endswith(b"\n") and not p.with_name("log.jsonl.torn").exists()
    assert ScreeningLog(p).record("r3")["seq"] == 3


def test_whole_json_object_that_breaks_the_rules_at_the_end_is_corruption(tmp_path):
    p = tmp_path / "log.jsonl"
    ScreeningLog(p).record("r1")
    row = _lines(p)[0] | {"seq": 1, "record_id": "r2"}  # seq does not increase
    with open(p, "ab") as f:
        f.write(json.dumps(row).encode())
    with pytest.raises(ScreeningLogError, match=r"line 2: 'seq' 1 does not increase"):
        ScreeningLog(p).decisions()


def test_lock_timeout_raises(tmp_path):
    import filelock

    p = tmp_path / "log.jsonl"
    log = ScreeningLog(p, lock_timeout=0.05)
    holder = filelock.FileLock(str(log.lock_path))
    with holder, pytest.raises(ScreeningLogError, match="could not take the lock"):
        log.record("r1")
    log.record("r1")
    assert len(_lines(p)) == 1


# ------------------------------------------------------------------ derived state
def test_current_last_word_per_record_stage_reviewer(log):
    log.record("r1", reviewer="A", decision="include")
    log.record("r1", reviewer="A", decision="exclude")
    log.record("r1", reviewer="B", decision="include")
    log.record("r1", stage="full_text", reviewer="A", decision="include")
    cur = log.current("title_abstract")
    assert sorted(zip(cur["reviewer"], cur["decision"])) == [("A", "exclude"), ("B", "include")]
    assert len(log.current()) == 3
    assert log.current("title_abstract", reviewer="B")["decision"].tolist() == ["include"]


def test_undo_is_a_new_row_and_restores_previous(log):
    log.record("r1", reviewer="A", decision="include")
    log.record("r1", reviewer="A", decision="exclude")
    log.record("r2", reviewer="A", decision="maybe")
    row = log.undo(stage="title_abstract", reviewer="A")  # most recent: r2
    assert row["decision"] == "undo" and row["record_id"] == "r2"
    assert row["note"] == "undo of seq 3"
    assert "r2" not in log.current("title_abstract")["record_id"].tolist()
    log.undo("r1", stage="title_abstract", reviewer="A")
    assert log.current("title_abstract")["decision"].tolist() == ["include"]
    log.undo("r1", stage="title_abstract", reviewer="A")
    assert log.current("title_abstract").empty
    with pytest.raises(ScreeningLogError, match="no standing decision"):
        log.undo("r1", stage="title_abstract", reviewer="A")
    assert len(log.decisions()) == 6  # history kept: 3 decisions + 3 undos


def test_final_rules(log):
    # r1 single reviewer; r2 agree exclude; r3 include vs maybe (agree at TA);
    # r4 conflict; r5 conflict resolved by consensus; r6 undone by its only reviewer
    log.record("r1", reviewer="A", decision="include")
    for rev in "AB":
        log.record("r2", reviewer=rev, decision="exclude")
    log.record("r3", reviewer="A", decision="include")
    log.record("r3", reviewer="B", decision="maybe")
    log.record("r4", reviewer="A", decision="include")
    log.record("r4", reviewer="B", decision="exclude")
    log.record("r5", reviewer="A", decision="maybe")
    log.record("r5", reviewer="B", decision="exclude")
    log.resolve("r5", stage="title_abstract", decision="exclude", note="discussed")
    log.record("r6", reviewer="B", decision="include")
    log.undo("r6", stage="title_abstract", reviewer="B")
    fin = log.final("title_abstract").set_index("record_id")
    assert fin.loc["r1", ["decision", "basis"]].tolist() == ["include", "single"]
    assert fin.loc["r2", ["decision", "basis"]].tolist() == ["exclude", "agreement"]
    assert fin.loc["r3", ["decision", "basis"]].tolist() == ["include", "agreement"]
    assert fin.loc["r4", ["decision", "basis"]].tolist() == ["conflict", "conflict"]
    assert fin.loc["r5", ["decision", "basis"]].tolist() == ["exclude", "consensus"]
    assert fin.loc["r5", "reviewers"] == "A,B,consensus"
    assert "r6" not in fin.index
    assert list(fin.index) == ["r1", "r2", "r3", "r4", "r5"]
    conf = log.conflicts("title_abstract")
    assert conf["record_id"].tolist() == ["r4"]
    assert conf.loc[0, "decision_A"] == "include" and conf.loc[0, "decision_B"] == "exclude"
    assert log.included("title_abstract") == ["r1", "r3"]


def test_full_text_reasons_must_agree(log):
    log.record("r1", stage="full_text", reviewer="A", decision="exclude", reason="wrong_design")
    log.record("r1", stage="full_text", reviewer="B", decision="exclude", reason="wrong_outcome")
    log.record("r2", stage="full_text", reviewer="A", decision="exclude", reason="wrong_design")
    log.record("r2", stage="full_text", reviewer="B", decision="exclude", reason="wrong_design")
    log.record("r3", stage="full_text", reviewer="A", decision="include")
    log.record("r3", stage="full_text", reviewer="B", decision="maybe")
    fin = log.final("full_text").set_index("record_id")
    assert fin.loc["r1", "decision"] == "conflict"
    assert fin.loc["r2", ["decision", "reason"]].tolist() == ["exclude", "wrong_design"]
    assert fin.loc["r3", "decision"] == "conflict"
    conf = log.conflicts("full_text")
    assert conf["record_id"].tolist() == ["r1", "r3"]
    assert conf.set_index("record_id").loc["r1", "reason_B"] == "wrong_outcome"
    log.resolve("r1", stage="full_text", decision="exclude", reason="wrong_outcome")
    assert log.conflicts("full_text")["record_id"].tolist() == ["r3"]


def test_screened_remaining_progress(log):
    records = pd.DataFrame({"record_id": ["r1", "r2", "r3", "r4"], "title": list("abcd")})
    log.record("r2", reviewer="A", decision="include")
    log.record("r4", reviewer="B", decision="exclude")
    log.record("zz", reviewer="A", decision="exclude")  # not among the records
    assert log.remaining(records, stage="title_abstract", reviewer="A") == ["r1", "r3", "r4"]
    assert log.screened(records, stage="title_abstract") == ["r2", "r4"]
    pr = log.progress(records, stage="title_abstract", reviewer="A")
    assert (pr.n_total, pr.n_screened, pr.n_remaining, pr.n_unknown) == (4, 1, 3, 1)
    assert str(pr) == "1 / 4 screened by A, 3 remaining"
    with pytest.raises(OptionError, match="twice"):
        log.remaining(["r1", "r1"])


# ------------------------------------------------------------------ agreement
def _dual(log, a, b, prefix="r"):
    for i, (x, y) in enumerate(zip(a, b)):
        if x is not None:
            log.record(f"{prefix}{i}", reviewer="A", decision=x)
        if y is not None:
            log.record(f"{prefix}{i}", reviewer="B", decision=y)


def test_kappa_matches_sklearn(log):
    rng = np.random.default_rng(5)
    a = rng.choice(["include", "exclude"], size=120, p=[0.2, 0.8]).tolist()
    b = [x if rng.random() < 0.85 else ("include" if x == "exclude" else "exclude") for x in a]
    _dual(log, a, b)
    res = agreement(log, "title_abstract", ("A", "B"))
    assert res.n_both == 120
    assert res.kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert res.observed == pytest.approx(np.mean(np.array(a) == np.array(b)))
    assert int(res.table.to_numpy().sum()) == 120


def test_kappa_three_categories_matches_sklearn(log):
    rng = np.random.default_rng(11)
    cats = ["include", "exclude", "maybe"]
    a = rng.choice(cats, size=90).tolist()
    b = [x if rng.random() < 0.7 else rng.choice(cats) for x in a]
    _dual(log, a, b)
    res = agreement(log, "title_abstract", maybe="category")
    assert res.categories == ("include", "exclude", "maybe")
    assert res.kappa == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    po = np.mean(np.array(a) == np.array(b))
    assert res.pabak == pytest.approx((3 * po - 1) / 2)


def test_ac1_and_pabak_by_hand_kappa_paradox(log):
    # 125 records: both include 118, A include / B exclude 5, A exclude / B include 2,
    # both exclude 0. High agreement, skewed prevalence: kappa collapses, AC1 does not.
    a = ["include"] * 118 + ["include"] * 5 + ["exclude"] * 2
    b = ["include"] * 118 + ["exclude"] * 5 + ["include"] * 2
    _dual(log, a, b)
    res = agreement(log, "title_abstract")
    po = 118 / 125
    p1, p2 = 123 / 125, 120 / 125
    pe_k = p1 * p2 + (1 - p1) * (1 - p2)
    pi = (p1 + p2) / 2
    pe_g = 2 * pi * (1 - pi)  # sum_k pi_k (1 - pi_k) / (q - 1), q = 2
    assert res.observed == pytest.approx(po)
    assert res.kappa == pytest.approx((po - pe_k) / (1 - pe_k))
    assert res.kappa < 0  # -0.023
    assert res.ac1 == pytest.approx((po - pe_g) / (1 - pe_g))
    assert res.ac1 == pytest.approx(0.940776, abs=1e-6)
    assert res.pabak == pytest.approx(2 * po - 1)
    assert res.table.loc["include", "exclude"] == 5
    assert res.table.loc["exclude", "include"] == 2


def test_agreement_reports_missing_not_imputed(log):
    a = ["include", "exclude", "exclude", None, "include"]
    b = ["include", "exclude", None, "exclude", None]
    _dual(log, a, b)
    res = agreement(log, "title_abstract")
    assert res.n_both == 2
    assert dict(res.n_only) == {"A": 2, "B": 1}
    assert res.observed == 1.0
    assert any("one reviewer only" in n for n in res.notes)
    text = res.summary()
    assert "A only: 2" in text and "Cohen's kappa" in text
    assert "<table" in res._repr_html_()
    frame = res.to_frame().set_index("statistic")
    assert frame.loc["n_only_A", "value"] == 2


def test_agreement_uses_standing_decisions_and_ignores_consensus(log):
    _dual(log, ["include", "exclude"], ["exclude", "exclude"])
    log.record("r0", reviewer="B", decision="include")  # B changes mind: now agree
    log.resolve("r1", stage="title_abstract", decision="include")
    res = agreement(log, "title_abstract")
    assert res.observed == 1.0 and res.n_both == 2
    assert res.kappa == 1.0 and res.ac1 == 1.0


def test_agreement_with_nothing_in_common(log):
    log.record("r1", reviewer="A", decision="include")
    res = agreement(log, "full_text")
    assert res.n_both == 0 and np.isnan(res.kappa)
    assert "no record was screened by both" in res.notes[0]
    with pytest.raises(OptionError):
        agreement(log, "title_abstract", ("A", "A"))


def test_read_only_location_reads_without_lock(tmp_path, monkeypatch):
    p = tmp_path / "log.jsonl"
    ScreeningLog(p).record("r1")
    log = ScreeningLog(p)

    def refuse(*args, **kwargs):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(log._lock, "acquire", refuse)
    assert log.decisions()["record_id"].tolist() == ["r1"]
    with pytest.raises(ScreeningLogError, match="cannot create the lock"):
        log.record("r2")
    _tear(p)
    with pytest.raises(ScreeningLogError, match="torn last line"):
        log.decisions()  # cannot be repaired there: reported, not used
    assert log.on_torn == "repair"


def test_validate_against_protocol_names_line(tmp_path, protocol):
    p = tmp_path / "log.jsonl"
    bare = ScreeningLog(p)
    bare.record("r1", stage="full_text", decision="exclude", reason="wrong_design")
    bare.record("r2", stage="full_text", decision="exclude", reason="not_in_protocol")
    with pytest.raises(ScreeningLogError, match=r"line 2: .*not_in_protocol") as ei:
        bare.validate(protocol)
    assert ei.value.line == 2
    with pytest.raises(OptionError, match="needs a protocol"):
        bare.validate()


def test_validate_passes_a_clean_log(log):
    log.record("r1", reviewer="A", decision="include")
    log.undo("r1", stage="title_abstract", reviewer="A")
    log.record("r1", stage="full_text", reviewer="B", decision="exclude", reason="not_retrieved")
    assert log.validate() == 3


def test_worked_example_log_if_present():
    root = Path(__file__).resolve().parent.parent / "data"
    if not (root / "screening" / "log.jsonl").exists() or not (root / "protocol.yaml").exists():
        pytest.skip("worked example (data/screening/log.jsonl, data/protocol.yaml) not present")
    proto = load_protocol(root / "protocol.yaml")
    log = ScreeningLog(root / "screening" / "log.jsonl", protocol=proto, on_torn="raise")
    n = log.validate()
    assert n == len(log.decisions()) > 0
    for stage in ("title_abstract", "full_text"):
        fin = log.final(stage)
        assert fin["record_id"].is_unique


def test_pure_reader_creates_no_lock_file(tmp_path):
    p = tmp_path / "log.jsonl"
    ScreeningLog(p).record("r1")
    lock = p.with_name("log.jsonl.lock")
    lock.unlink()
    log = ScreeningLog(p)
    log.decisions()
    log.final("title_abstract")
    assert not lock.exists()


def test_reader_waits_for_a_line_in_progress_instead_of_calling_it_torn(tmp_path):
    import threading

    import filelock

    p = tmp_path / "log.jsonl"
    writer = ScreeningLog(p)
    writer.record("r1")
    row = _lines(p)[0] | {"seq": 2, "record_id": "r2"}
    raw = (json.dumps(row) + "\n").encode()
    result = {}
    with filelock.FileLock(str(writer.lock_path)):  # a writer holds the lock mid-line
        with open(p, "ab") as f:
            f.write(raw[:20])
            f.flush()
            reader = threading.Thread(
                target=lambda: result.setdefault("ids", ScreeningLog(p).decisions()["record_id"])
            )
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                reader.start()
                reader.join(0.3)
                assert reader.is_alive()  # waiting for the lock, not repairing
                f.write(raw[20:])
    reader.join(5)
    assert result["ids"].tolist() == ["r1", "r2"]
    assert not p.with_name("log.jsonl.torn").exists()


@pytest.mark.parametrize("maybe", ["include", "category"])
def test_kappa_se_and_interval_match_statsmodels(log, maybe):
    from statsmodels.stats.inter_rater import cohens_kappa

    rng = np.random.default_rng(7)
    cats = ["include", "exclude", "maybe"]
    a = rng.choice(cats, size=80, p=[0.2, 0.6, 0.2]).tolist()
    b = [x if rng.random() < 0.75 else rng.choice(cats) for x in a]
    _dual(log, a, b)
    res = agreement(log, "title_abstract", maybe=maybe)
    ref = cohens_kappa(res.table.to_numpy())  # 95 % Wald interval
    assert res.kappa == pytest.approx(ref.kappa, abs=1e-12)
    assert res.kappa_se == pytest.approx(ref.std_kappa, rel=1e-10)
    assert res.kappa_ci_low == pytest.approx(max(-1, ref.kappa_low), rel=1e-10)
    assert res.kappa_ci_high == pytest.approx(min(1, ref.kappa_upp), rel=1e-10)
    r90 = agreement(log, "title_abstract", maybe=maybe, level=0.9)
    assert r90.kappa_ci_high - r90.kappa == pytest.approx(1.6448536269514722 * ref.std_kappa)
    assert "90% CI" in r90.summary()


def test_decision_on_an_id_outside_the_records_is_refused(tmp_path):
    path = tmp_path / "log.jsonl"
    records = pd.DataFrame({"record_id": ["pubmed:38266761", "pubmed:38865660"]})
    log = ScreeningLog(path, records=records)
    log.record("pubmed:38266761", reviewer="A", decision="include")
    with pytest.raises(
        OptionError, match=r"not among the 2 records.*did you mean 'pubmed:38865660'"
    ):
        log.record("pubmed:38865606", reviewer="A", decision="include")  # digits swapped
    with pytest.raises(OptionError, match="not among the 2 records"):
        log.resolve("pubmed:1", decision="include")
    assert len(log.decisions()) == 1  # nothing written by the refused calls
    # A log written without the guard: validate() names the line of the stray row.
    ScreeningLog(path).record("pubmed:999", reviewer="B", decision="exclude")
    guarded = ScreeningLog(path, records=["pubmed:38266761", "pubmed:38865660"])
    with pytest.raises(ScreeningLogError, match="pubmed:999") as info:
        guarded.validate(load_protocol(PROTOCOL))
    assert info.value.line == 2  # type: ignore[attr-defined]


def test_kappa_se_matches_the_published_formula_transcribed_here():
    # Fleiss JL, Cohen J, Everitt BS. Psychol Bull 1969;72:323-7, eq. 13 (kappa's SE not
    # assuming kappa = 0), written out independently of statsmodels, which the library uses
    from review._agreement import _kappa_se, coefficients

    counts = [[31, 4, 2], [6, 120, 9], [3, 5, 20]]
    co = coefficients(counts)
    pe, kappa = co.expected_kappa, co.kappa
    n = sum(map(sum, counts))
    p = np.asarray(counts, float) / n
    row, col = p.sum(axis=1), p.sum(axis=0)
    q = len(counts)
    a = sum(p[i, i] * (1 - (row[i] + col[i]) * (1 - kappa)) ** 2 for i in range(q))
    b = (1 - kappa) ** 2 * sum(
        p[i, j] * (col[i] + row[j]) ** 2 for i in range(q) for j in range(q) if i != j
    )
    c = (kappa - pe * (1 - kappa)) ** 2
    assert _kappa_se(counts, kappa, pe) == pytest.approx(
        ((a + b - c) / (n * (1 - pe) ** 2)) ** 0.5, rel=1e-12
    )
    assert np.isnan(_kappa_se([[0, 0], [0, 0]], float("nan"), float("nan")))


def test_agreement_of_a_review_screened_by_one_reviewer_says_so(tmp_path):
    from review.protocol import protocol_from_mapping

    proto = protocol_from_mapping(
        {
            "schema_version": 1,
            "title": "t",
            "question": "q",
            "eligibility": {"include": ["a"], "exclude": ["b"]},
            "exclusion_reasons": [{"code": "x", "label": "x"}],
            "databases": [{"name": "PubMed", "query": "q"}],
            "screening": {"reviewers": ["solo"]},
        }
    )
    log = ScreeningLog(tmp_path / "log.jsonl", protocol=proto)
    log.record("r1", reviewer="solo", decision="include")
    res = agreement(log, "title_abstract")
    assert res.n_both == 0 and np.isnan(res.kappa) and np.isnan(res.ac1)
    assert "one reviewer (solo)" in res.notes[0]
    assert "one reviewer" in res.summary()
    # two reviewers named, the default compares them; a second reviewer in the log is used
    log2 = ScreeningLog(tmp_path / "log2.jsonl")
    log2.record("r1", reviewer="X", decision="include")
    log2.record("r1", reviewer="Y", decision="exclude")
    assert agreement(log2).reviewers == ("X", "Y")
    with pytest.raises(OptionError):
        agreement(log2, reviewers=("X", "X"))
