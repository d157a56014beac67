"""Property tests: for any sequence of decisions and undos, written through two log objects
with stale caches, the log re-read from disk equals what was acknowledged, ``seq`` runs
1..n, and the derived state equals a plain model of stacks kept by the test."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.errors import ScreeningLogError
from review.screening import ScreeningLog

RECORDS = ["r0", "r1", "r2"]
op = st.tuples(
    st.sampled_from(["record", "record", "undo", "undo_any"]),
    st.sampled_from(RECORDS),
    st.sampled_from(["A", "B", "consensus"]),
    st.sampled_from(["include", "exclude", "maybe"]),
    st.sampled_from(["title_abstract", "full_text"]),
    st.integers(0, 1),  # which of the two log objects writes
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=25))
def test_log_and_derived_state_match_a_plain_model(ops):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "log.jsonl"
        logs = [ScreeningLog(path), ScreeningLog(path)]
        model: dict[tuple[str, str, str], list[tuple[int, str, str | None]]] = {}
        written = []
        for kind, rid, who, decision, stage, which in ops:
            log = logs[which]
            reason = "wrong_design" if (decision == "exclude" and stage == "full_text") else None
            if kind == "record":
                row = log.record(rid, stage, who, decision, reason)
                model.setdefault((rid, stage, who), []).append((row["seq"], decision, reason))
                written.append(row)
                continue
            target = rid if kind == "undo" else None
            mine = {k: v for k, v in model.items() if k[1] == stage and k[2] == who and v}
            if target is not None:
                mine = {k: v for k, v in mine.items() if k[0] == target}
            if not mine:
                try:
                    log.undo(target, stage=stage, reviewer=who)
                except ScreeningLogError:
                    continue
                raise AssertionError("undo succeeded with nothing to undo")
            key = max(mine, key=lambda k: mine[k][-1][0])
            row = log.undo(target, stage=stage, reviewer=who)
            assert row["record_id"] == key[0]
            assert row["note"] == f"undo of seq {model[key][-1][0]}"
            model[key].pop()
            written.append(row)

        fresh = ScreeningLog(path).decisions()
        assert fresh["seq"].tolist() == list(range(1, len(written) + 1))
        assert fresh["record_id"].tolist() == [r["record_id"] for r in written]
        assert fresh["decision"].tolist() == [r["decision"] for r in written]
        for log in logs:  # stale caches caught up
            assert log.decisions()["seq"].tolist() == fresh["seq"].tolist()

        cur = logs[0].current()
        got = {
            (r.record_id, r.stage, r.reviewer): (r.seq, r.decision)
            for r in cur.itertuples(index=False)
        }
        want = {k: (v[-1][0], v[-1][1]) for k, v in model.items() if v}
        assert got == want
        for stage in ("title_abstract", "full_text"):
            fin = logs[1].final(stage).set_index("record_id")
            for rid in RECORDS:
                standing = {
                    k[2]: v[-1] for k, v in model.items() if k[0] == rid and k[1] == stage and v
                }
                if not standing:
                    assert rid not in fin.index
                elif "consensus" in standing:
                    assert fin.loc[rid, "basis"] == "consensus"
                    assert fin.loc[rid, "decision"] == standing["consensus"][1]
                elif len(standing) == 1:
                    assert fin.loc[rid, "basis"] == "single"
                else:
                    decs = {v[1] for v in standing.values()}
                    if stage == "title_abstract":
                        agree = decs == {"exclude"} or "exclude" not in decs
                    else:
                        agree = len({(v[1], v[2]) for v in standing.values()}) == 1
                    assert (fin.loc[rid, "basis"] == "agreement") == agree
                    assert (fin.loc[rid, "decision"] == "conflict") == (not agree)
