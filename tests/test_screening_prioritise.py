"""review.prioritise: ranking by learnt relevance, recall curve, hypergeometric stopping test."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from review.errors import OptionError
from review.prioritise import rank_unscreened, recall_curve, stopping_test
from review.screening import ScreeningLog


# ------------------------------------------------------------------ stopping test
def test_stopping_test_matches_hand_computed_hypergeometric():
    # 20 relevant found first, then 600 irrelevant, N = 1000. H0 (recall < 0.95) needs at
    # least floor(20 / 0.95) + 1 = 22 relevant records, i.e. 2 more in the urn of the last
    # 600 screened + 380 unscreened. P(none of 2 in a sample of 600 of 980) =
    # C(380, 2) / C(980, 2); the longest all-irrelevant window gives the smallest p.
    res = stopping_test(1000, [1] * 20 + [0] * 600)
    assert res.p_value == pytest.approx(math.comb(380, 2) / math.comb(980, 2), rel=1e-10)
    assert res.window == 600 and res.k_min == 2
    assert not res.stop  # 0.150 > 0.05
    res = stopping_test(1000, [1] * 20 + [0] * 900)
    assert res.p_value == pytest.approx(math.comb(80, 2) / math.comb(980, 2), rel=1e-10)
    assert res.stop


def test_stopping_test_exact_floor_at_integer_ratio():
    # 19 / 0.95 is exactly 20: H0 then needs 21 relevant records (2 missed), not 20.
    res = stopping_test(100, [1] * 19 + [0] * 50)
    assert res.k_min == 2
    assert res.p_value == pytest.approx(math.comb(31, 2) / math.comb(81, 2), rel=1e-10)


def test_everything_screened_stops_and_nothing_screened_does_not():
    assert stopping_test(50, [0, 1] * 25).p_value == 0.0
    assert stopping_test(50, [0, 1] * 25).stop
    empty = stopping_test(50, [])
    assert empty.p_value == 1.0 and not empty.stop
    assert not stopping_test(1000, [1] * 20 + [0] * 30).stop  # relevant still turning up


def test_stopping_test_validates():
    with pytest.raises(OptionError, match=r"0 .*or 1"):
        stopping_test(10, [0, 2])
    with pytest.raises(OptionError, match="n_total"):
        stopping_test(2, [0, 0, 1])
    with pytest.raises(OptionError, match="recall_target"):
        stopping_test(10, [0], recall_target=1.0)
    with pytest.raises(OptionError, match="confidence"):
        stopping_test(10, [0], confidence=0)


def _simulate(rng, n_total, n_relevant, bias):
    """A screening order in which a relevant record is ``bias`` times as likely to come next."""
    labels = np.zeros(n_total, dtype=int)
    labels[:n_relevant] = 1
    w = np.where(labels == 1, bias, 1.0)
    order = rng.choice(n_total, n_total, replace=False, p=w / w.sum())
    return labels[order]


@pytest.mark.parametrize("bias", [1.0, 10.0], ids=["random-order", "prioritised"])
def test_stopping_test_keeps_its_promise_on_simulated_reviews(bias):
    # Known truth: 300 records, 15 relevant. Stop at the first checkpoint where the test
    # says so; recall at that point must reach 95 % in at least 95 % of reviews (allowing
    # Monte Carlo error over 120 reviews), and with prioritisation the test must save work.
    rng = np.random.default_rng(2020)
    n_total, n_rel, target = 300, 15, 0.95
    met, stopped_at = [], []
    for _ in range(120):
        labels = _simulate(rng, n_total, n_rel, bias)
        for n in range(15, n_total + 1, 15):
            if stopping_test(n_total, labels[:n], recall_target=target).stop:
                met.append(labels[:n].sum() / n_rel >= target)
                stopped_at.append(n)
                break
    assert len(met) == 120  # it always stops, at the latest when everything is screened
    assert np.mean(met) >= 0.93


def test_stopping_test_saves_work_when_prioritisation_works():
    # 1000 records, 20 relevant, relevant records 20 times as likely to come next.
    rng = np.random.default_rng(273)
    n_total, n_rel = 1000, 20
    met, stopped_at = [], []
    for _ in range(30):
        labels = _simulate(rng, n_total, n_rel, 20.0)
        n = next(n for n in range(100, n_total + 1, 50) if stopping_test(n_total, labels[:n]).stop)
        met.append(labels[:n].sum() / n_rel >= 0.95)
        stopped_at.append(n)
    assert np.mean(met) >= 0.9
    assert np.mean(stopped_at) < 0.95 * n_total


# ------------------------------------------------------------------ recall curve and ranking
def _records(n_rel=6, n_irr=14):
    rel = [
        f"CAR-T cell therapy second primary malignancy cohort {i} lymphoma" for i in range(n_rel)
    ]
    irr = [f"murine xenograft model of tumour growth in mouse study {i}" for i in range(n_irr)]
    titles = [t for pair in zip(rel, irr) for t in pair] + irr[n_rel:]
    ids = [f"r{i}" for i in range(len(titles))]
    truth = [1 if "CAR-T" in t else 0 for t in titles]
    return pd.DataFrame({"record_id": ids, "title": titles, "abstract": [None] * len(ids)}), truth


def test_recall_curve_counts_includes_in_screening_order(tmp_path):
    log = ScreeningLog(tmp_path / "log.jsonl")
    log.record("a", reviewer="A", decision="exclude")
    log.record("b", reviewer="A", decision="include")
    log.record("c", reviewer="A", decision="maybe")
    log.record("d", reviewer="A", decision="include")
    log.undo("d", stage="title_abstract", reviewer="A")
    log.record("a", reviewer="B", decision="include")  # conflict on a: counts as relevant
    curve = recall_curve(log)
    assert curve["record_id"].tolist() == ["a", "b", "c"]
    assert curve["relevant"].tolist() == [1, 1, 1]
    mine = recall_curve(log, reviewer="A")
    assert mine["relevant"].tolist() == [0, 1, 1]
    assert mine["n_relevant"].tolist() == [0, 1, 2]
    assert mine["n_screened"].tolist() == [1, 2, 3]


def test_rank_falls_back_to_original_order_without_both_classes(tmp_path):
    records, _ = _records()
    log = ScreeningLog(tmp_path / "log.jsonl")
    ranked = rank_unscreened(records, log)
    assert ranked["record_id"].tolist() == records["record_id"].tolist()
    assert ranked["relevance"].isna().all()
    assert "original order" in ranked.attrs["method"]
    log.record("r0", decision="include")  # only includes so far
    ranked = rank_unscreened(records, log)
    assert ranked["record_id"].tolist() == records["record_id"].tolist()[1:]
    assert ranked["rank"].tolist() == list(range(1, len(records)))


def test_rank_puts_relevant_records_first(tmp_path):
    records, truth = _records()
    log = ScreeningLog(tmp_path / "log.jsonl")
    log.record("r0", decision="include")  # r0 relevant, r1 irrelevant
    log.record("r1", decision="exclude")
    ranked = rank_unscreened(records, log)
    assert "logistic regression" in ranked.attrs["method"]
    assert len(ranked) == len(records) - 2
    assert ranked["relevance"].is_monotonic_decreasing
    by_id = dict(zip(records["record_id"], truth))
    top = ranked["record_id"].head(5).tolist()
    assert all(by_id[i] == 1 for i in top)  # the 5 remaining relevant records come first
    auc = roc_auc_score([by_id[i] for i in ranked["record_id"]], ranked["relevance"])
    assert auc == 1.0


def test_rank_for_one_reviewer_and_validation(tmp_path):
    records, _ = _records()
    log = ScreeningLog(tmp_path / "log.jsonl")
    log.record("r0", reviewer="A", decision="include")
    log.record("r1", reviewer="A", decision="exclude")
    log.record("r2", reviewer="B", decision="include")
    ranked = rank_unscreened(records, log, reviewer="B")
    assert "r2" not in ranked["record_id"].tolist()
    assert "r0" in ranked["record_id"].tolist()
    assert ranked["relevance"].isna().all()  # B has no exclude yet
    with pytest.raises(OptionError, match="column"):
        rank_unscreened(records, log, text_columns=("title", "nope"))


def test_recall_curve_counts_a_consensus_only_record(tmp_path):
    log = ScreeningLog(tmp_path / "log.jsonl")
    log.record("a", reviewer="A", decision="exclude")
    log.resolve("b", decision="include")
    assert recall_curve(log)["record_id"].tolist() == ["a", "b"]
    assert recall_curve(log)["relevant"].tolist() == [0, 1]


def test_precomputed_features_give_the_same_ranking(tmp_path):
    from review.prioritise import text_features

    records, _ = _records()
    log = ScreeningLog(tmp_path / "log.jsonl")
    log.record("r0", decision="include")
    log.record("r1", decision="exclude")
    x = text_features(records)
    assert x.shape[0] == len(records)
    a = rank_unscreened(records, log)
    b = rank_unscreened(records, log, features=x)
    assert a["record_id"].tolist() == b["record_id"].tolist()
    assert np.allclose(a["relevance"], b["relevance"])
    with pytest.raises(OptionError, match="rows"):
        rank_unscreened(records, log, features=x[:3])


def test_records_without_text_keep_their_order(tmp_path):
    records = pd.DataFrame({"record_id": ["a", "b", "c"], "title": ["", None, ""], "abstract": ""})
    log = ScreeningLog(tmp_path / "log.jsonl")
    log.record("a", decision="include")
    log.record("b", decision="exclude")
    ranked = rank_unscreened(records, log)
    assert ranked["record_id"].tolist() == ["c"]
    assert "no text" in ranked.attrs["method"]
