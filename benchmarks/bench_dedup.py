"""Benchmark: de-duplicate 50,000 synthetic records with ~10 % planted duplicates.

Goal (issue 4): 50,000 records in < 10 s. Prints, from one run, the time of
``review.dedup.deduplicate`` against that goal, and recall / precision on the planted
duplicate pairs.

The records are synthetic: titles drawn from a made-up vocabulary with Zipf-like word
frequencies and a few very common openings ("Efficacy and safety of ...", so some blocks
are large), years 1990-2025, made-up authors, DOIs on 60 % and PMIDs on 50 % of records.
A planted duplicate copies an original and then changes its case, punctuation, a letter
(substitution, deletion or transposition; a second one in 15 %), sometimes its year by
one, the form of its first author, and usually drops its DOI and PMID so that only the
fuzzy pass can find it.

Run: ``python benchmarks/bench_dedup.py [--n 50000] [--dup-rate 0.1] [--seed 1]``
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from review.dedup import deduplicate

GOAL_SECONDS = 10.0
OPENINGS = [
    "Efficacy and safety of",
    "A randomized trial of",
    "Incidence of",
    "Long-term outcomes of",
    "Real-world evidence on",
    "Risk factors for",
    "A systematic review of",
    "",
    "",
    "",
]


def make_vocabulary(rnd: random.Random, size: int = 6000) -> list[str]:
    syll = "ka lo mi ne ra to su vi de an or el is um ph ch th ly tr cy gen ost ine ase oma".split()
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rnd.choice(syll) for _ in range(rnd.randint(2, 5))))
    return sorted(words)


def zipf_choice(rnd: random.Random, vocab: list[str]) -> str:
    # P(rank r) ~ 1/r: a few words are very common, as in real titles
    r = int(len(vocab) ** rnd.random()) - 1
    return vocab[min(r, len(vocab) - 1)]


def typo(rnd: random.Random, title: str) -> str:
    words = title.split(" ")
    idx = [k for k, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not idx:
        return title
    k = rnd.choice(idx)
    w = words[k]
    p = rnd.randint(1, len(w) - 2)
    kind = rnd.choice(["sub", "del", "swap"])
    if kind == "sub":
        w = w[:p] + rnd.choice(string.ascii_lowercase) + w[p + 1 :]
    elif kind == "del":
        w = w[:p] + w[p + 1 :]
    else:
        w = w[:p] + w[p + 1] + w[p] + w[p + 2 :]
    words[k] = w
    return " ".join(words)


def generate(n: int, dup_rate: float, seed: int) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    rnd = random.Random(seed)
    vocab = make_vocabulary(rnd)
    surnames = make_vocabulary(random.Random(seed + 1), 3000)
    n_dup = int(n * dup_rate)
    n_orig = n - n_dup
    rows = []
    for k in range(n_orig):
        opening = rnd.choice(OPENINGS)
        body = " ".join(zipf_choice(rnd, vocab) for _ in range(rnd.randint(5, 14)))
        title = (opening + " " + body).strip()
        title = title[0].upper() + title[1:] + rnd.choice(["", ".", ": a cohort study"])
        rows.append(
            {
                "record_id": f"orig:{k}",
                "source": rnd.choice(["PubMed", "Embase", "Scopus"]),
                "pmid": str(30_000_000 + k) if rnd.random() < 0.5 else None,
                "doi": f"10.9999/bench.{k}" if rnd.random() < 0.6 else None,
                "title": title,
                "year": rnd.randint(1990, 2025),
                "authors": [f"{rnd.choice(surnames).title()} {rnd.choice('ABCDEFGHJKLMN')}"],
            }
        )
    planted = []
    for d in range(n_dup):
        src = rows[rnd.randrange(n_orig)]
        t = src["title"]
        t = rnd.choice([t, t.upper(), t.lower(), t.title()])
        if rnd.random() < 0.5:
            t = t.replace(":", " -").rstrip(".") + rnd.choice(["", ".", " ."])
        if rnd.random() < 0.6:
            t = typo(rnd, t)
        if rnd.random() < 0.15:  # a second typo
            t = typo(rnd, t)
        author = src["authors"][0]
        if rnd.random() < 0.3:
            author = author.upper()
        rows.append(
            {
                "record_id": f"dup:{d}",
                "source": rnd.choice(["Embase", "Scopus", "Web of Science"]),
                "pmid": src["pmid"] if rnd.random() < 0.3 else None,
                "doi": src["doi"] if rnd.random() < 0.3 else None,
                "title": t,
                "year": src["year"] + (rnd.choice([-1, 1]) if rnd.random() < 0.1 else 0),
                "authors": [author],
            }
        )
        planted.append((src["record_id"], f"dup:{d}"))
    rnd.shuffle(rows)
    return pd.DataFrame(rows), planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--dup-rate", type=float, default=0.10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    t0 = time.perf_counter()
    df, planted = generate(args.n, args.dup_rate, args.seed)
    t_gen = time.perf_counter() - t0

    t0, c0 = time.perf_counter(), time.process_time()
    res = deduplicate(df)
    t_dedup, cpu_dedup = time.perf_counter() - t0, time.process_time() - c0

    # origin of every record: a planted duplicate's original, else itself
    origin = {r: r for r in df["record_id"]}
    for orig, dup in planted:
        origin[dup] = orig
    gid = dict(zip(res.groups["record_id"], res.groups["group_id"]))
    found = sum(gid[a] == gid[b] for a, b in planted)
    # true pairs also include two duplicates planted from the same original
    by_origin: dict[str, list[str]] = {}
    for r, o in origin.items():
        by_origin.setdefault(o, []).append(r)
    true_pairs = sum(len(v) * (len(v) - 1) // 2 for v in by_origin.values())
    true_found = 0
    pred_pairs = 0
    for _, grp in res.groups.groupby("group_id"):
        ids = grp["record_id"].tolist()
        pred_pairs += len(ids) * (len(ids) - 1) // 2
        counts: dict[str, int] = {}
        for r in ids:
            counts[origin[r]] = counts.get(origin[r], 0) + 1
        true_found += sum(c * (c - 1) // 2 for c in counts.values())
    recall = true_found / true_pairs if true_pairs else float("nan")
    precision = true_found / pred_pairs if pred_pairs else float("nan")
    # false merges of records with distinct DOIs would break the guard: count them
    doi = dict(zip(df["record_id"], df["doi"]))
    bad_doi_groups = sum(
        len({doi[r] for r in g["record_id"] if isinstance(doi[r], str)}) > 1
        for _, g in res.groups.groupby("group_id")
    )

    print(f"records: {len(df):,} ({len(planted):,} planted duplicates), generated in {t_gen:.1f} s")
    verdict = "met" if t_dedup < GOAL_SECONDS else "NOT met"
    print(
        f"deduplicate: {t_dedup:.2f} s wall ({cpu_dedup:.2f} s CPU); goal < {GOAL_SECONDS:.0f} s;"
        f" ratio wall/goal = {t_dedup / GOAL_SECONDS:.2f} ({verdict})"
    )
    print(f"found {res.n_duplicates:,} duplicates; links by reason: {res.reason_counts()}")
    print(f"planted pairs joined: {found:,}/{len(planted):,} ({found / len(planted):.4f})")
    print(
        f"pairwise recall {recall:.4f}, precision {precision:.4f} ({true_found:,} true of "
        f"{pred_pairs:,} predicted pairs; {true_pairs:,} true pairs)"
    )
    print(
        f"groups holding two distinct DOIs: {bad_doi_groups}; "
        f"refused matches: {len(res.conflicts):,}"
    )


if __name__ == "__main__":
    main()
