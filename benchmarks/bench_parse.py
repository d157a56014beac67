"""Benchmark: parse 10,000 large PubMed records, ours vs pymed's vs a bare lxml tree build.

Builds a temporary efetch file by replicating the real records of
``../shared/fixtures/pubmed/`` (falling back to the synthetic ones in
``tests/data/pubmed/``) with new PMIDs, then times, on the same bytes and in one run:

* ``review.search.parse_pubmed_xml`` (streamed, records in the shared schema);
* pymed's own parsing: ``xml.etree.ElementTree.fromstring`` and ``PubMedArticle`` /
  ``PubMedBookArticle`` for every record (``pymed.PubMed._getArticles`` without the HTTP);
* a bare ``lxml.etree.parse`` tree build (the practical floor);

and prints the ratios of CPU times (``time.process_time``, user + system: the machine may
be shared, and CPU time is what each parser itself costs). Goals: >= 2.5x faster than
pymed, <= 1.5x the bare build.

How it is timed. Each measurement runs in a fresh Python process (as ``pyperf`` does): the
worker imports everything, parses a small warm-up file (one-time costs such as lazy imports
stay out), then times one parse of the large file. The three parsers run in interleaved
rounds (``--repeat``), in a rotated order, so a slow spell of the machine hits all alike;
the ratios printed first are of the best times, then the ratios within each round and
their median. A fresh process matters for a fair floor: the bare build holds the whole tree
(about 6x the file in memory) and pays for mapping those pages; timed again in the same
process it reuses pages a previous run left mapped, and whoever runs after it pays for its
freed memory instead. On this project's 2-core VM, 2,000 records timed in one process gave
the bare build 0.32 s after our parser but 0.48 s after another bare build, and our parser
0.59 s after itself but 0.76 s after a bare build. ``--same-process`` adds the old
in-process timing for comparison (rounds of all three, interleaved, in this process).

Memory, at two file sizes (goal: flat, not growing with the file): tracemalloc peak (Python
objects) and the growth of resident memory of a fresh process (libxml2 included); each
timed worker also reports its peak resident memory and page faults. Usage::

    python benchmarks/bench_parse.py [--n 10000] [--repeat 3] [--min-size 20000]
                                     [--same-process]

"Large records" are the real records of at least ``--min-size`` bytes (20 KB by default:
four of the eight fixtures' records, 25-44 KB each, with reference lists, MeSH, many
authors); ``--min-size 0`` replicates all of them.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path

from lxml import etree
from pymed.article import PubMedArticle
from pymed.book import PubMedBookArticle

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from review.search import parse_pubmed_xml  # noqa: E402

SHARED = REPO.parent / "shared" / "fixtures" / "pubmed"
SYNTHETIC = REPO / "tests" / "data" / "pubmed"
_REC = re.compile(rb"<(PubmedArticle|PubmedBookArticle)>.*?</\1>", re.DOTALL)
_OWN_PMID = re.compile(rb"<PMID[^>]*>(\d+)</PMID>")


def source_records(min_size: int = 0) -> tuple[list[bytes], str]:
    files = sorted(SHARED.glob("*.xml")) if SHARED.is_dir() else []
    where = str(SHARED)
    if not files:
        files = sorted(SYNTHETIC.glob("*.xml"))
        where = str(SYNTHETIC) + " (synthetic)"
    recs = []
    for f in files:
        recs.extend(m.group(0) for m in _REC.finditer(f.read_bytes()))
    large = [r for r in recs if len(r) >= min_size]
    return (large or recs), where


def build_file(path: Path, n: int, recs: list[bytes]) -> int:
    """Write ``n`` records (copies of ``recs`` with new PMIDs) to ``path``; return bytes."""
    with open(path, "wb") as fh:
        fh.write(b'<?xml version="1.0" ?>\n<PubmedArticleSet>\n')
        for i in range(n):
            r = recs[i % len(recs)]
            own = _OWN_PMID.search(r).group(1)  # type: ignore[union-attr]
            new = str(40_000_000 + i).encode()
            r = r.replace(b">" + own + b"</PMID>", b">" + new + b"</PMID>", 1)
            r = r.replace(b'"pubmed">' + own + b"<", b'"pubmed">' + new + b"<")
            fh.write(r)
            fh.write(b"\n")
        fh.write(b"</PubmedArticleSet>\n")
    return path.stat().st_size


def pymed_parse(path: Path) -> int:
    # What pymed.PubMed._getArticles does with an efetch body.
    root = ET.fromstring(path.read_bytes())
    n = 0
    for article in root.iter("PubmedArticle"):
        PubMedArticle(xml_element=article)
        n += 1
    for book in root.iter("PubmedBookArticle"):
        PubMedBookArticle(xml_element=book)
        n += 1
    return n


def bare_lxml(path: Path) -> int:
    tree = etree.parse(str(path))
    return len(tree.getroot())


def ours(path: Path) -> int:
    return len(parse_pubmed_xml(path))


PARSERS = {"ours": ours, "pymed": pymed_parse, "bare": bare_lxml}


def timed(fn, path: Path) -> tuple[float, int]:
    gc.collect()
    t = time.process_time()
    n = fn(path)
    return time.process_time() - t, n


def worker(which: str, path: Path, warm: Path) -> dict[str, float]:
    """One measurement, in this (fresh) process: warm up on ``warm``, then time ``path``."""
    fn = PARSERS[which]
    fn(warm)
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu, n = timed(fn, path)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu": cpu,
        "n": n,
        "maxrss_mib": after.ru_maxrss / 1024,  # Linux: KiB
        "faults": after.ru_minflt - before.ru_minflt,
    }


def fresh(which: str, path: Path, warm: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", which, str(path), str(warm)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(repeat: int) -> list[str]:
    """The parsers' names, round after round, each round in a rotated order, so a slow
    spell on the shared machine hits every parser alike."""
    order = list(PARSERS)
    return [k for r in range(repeat) for k in order[r % 3 :] + order[: r % 3]]


def rounds(path: Path, warm: Path, repeat: int, n: int) -> dict[str, list[dict[str, float]]]:
    """Measurements of the three parsers, each in a fresh process, in interleaved rounds."""
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in PARSERS}
    for k in interleaved(repeat):
        got = fresh(k, path, warm)
        assert got["n"] == n, (k, got["n"], n)
        runs[k].append(got)
    return runs


def same_process_rounds(path: Path, repeat: int, n: int) -> dict[str, list[float]]:
    """CPU times of the three parsers timed in this process, interleaved (for comparison)."""
    times: dict[str, list[float]] = {k: [] for k in PARSERS}
    for k in interleaved(repeat):
        t, got = timed(PARSERS[k], path)
        assert got == n, (k, got, n)
        times[k].append(t)
    return times


def report(times: dict[str, list[float]], label: str) -> None:
    t_ours, t_pymed, t_bare = (min(times[k]) for k in ("ours", "pymed", "bare"))
    print(f"{label}, best of {len(times['ours'])}:")
    print(f"  ours (parse_pubmed_xml): {t_ours:7.2f} s CPU")
    print(f"  pymed's own parsing:     {t_pymed:7.2f} s CPU")
    print(f"  bare lxml tree build:    {t_bare:7.2f} s CPU")
    print(f"  speed-up over pymed:     {t_pymed / t_ours:5.2f}x  (goal >= 2.5x)")
    print(f"  ours / bare lxml build:  {t_ours / t_bare:5.2f}x  (goal <= 1.5x)")
    if len(times["ours"]) > 1:
        # Ratios within each round (the same spell of machine load), then their median.
        vs_pymed = [p / o for p, o in zip(times["pymed"], times["ours"])]
        vs_bare = [o / b for o, b in zip(times["ours"], times["bare"])]
        for k in ("ours", "pymed", "bare"):
            print(f"  per round, {k + ' CPU s:':14}{', '.join(f'{t:.2f}' for t in times[k])}")
        print(f"  per round, ours / bare:  {', '.join(f'{x:.2f}' for x in vs_bare)}")
        print(
            f"  median of rounds:        {statistics.median(vs_pymed):5.2f}x over pymed, "
            f"{statistics.median(vs_bare):5.2f}x the bare build"
        )


def peak_memory(path: Path) -> float:
    """tracemalloc peak (MiB) of streaming ``path``: Python-side allocations only."""
    gc.collect()
    tracemalloc.start()
    from review.search import iter_pubmed_records

    for _ in iter_pubmed_records(path):
        pass  # stream only: rows are not kept, so this is the parser's own footprint
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


_RSS_CHILD = """
import os, sys
from review.search import iter_pubmed_records
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * page
base = peak = rss()
for i, _ in enumerate(iter_pubmed_records(sys.argv[1])):
    if i % 50 == 0:
        peak = max(peak, rss())
print((max(peak, rss()) - base) / 2**20)
"""


def rss_growth(path: Path) -> float:
    """Growth of resident memory (MiB, sampled every 50 records) of a fresh process streaming
    ``path``: includes libxml2's memory, which tracemalloc cannot see (Linux /proc)."""
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return float(out.stdout.strip())


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--min-size",
        type=int,
        default=20_000,
        help="replicate only records of at least this many bytes ('large records'; 0: all)",
    )
    ap.add_argument(
        "--same-process",
        action="store_true",
        help="also time the three parsers in this process (order effects: see the docstring)",
    )
    args = ap.parse_args()
    recs, where = source_records(args.min_size)
    sizes = ", ".join(f"{len(r) / 1024:.0f}" for r in recs)
    print(f"source records: {len(recs)} from {where} (KiB each: {sizes})")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.xml"
        size = build_file(big, args.n, recs)
        warm = Path(tmp) / "warm.xml"
        build_file(warm, 20, recs)
        print(f"file: {args.n} records, {size / 2**20:.1f} MiB")
        runs = rounds(big, warm, max(1, args.repeat), args.n)
        report({k: [r["cpu"] for r in v] for k, v in runs.items()}, "each in a fresh process")
        for k in ("ours", "pymed", "bare"):
            rss = max(r["maxrss_mib"] for r in runs[k])
            faults = statistics.median(r["faults"] for r in runs[k])
            print(f"  {k + ':':6} peak RSS {rss:6.0f} MiB, page faults in the parse {faults:9,.0f}")
        if args.same_process:
            same = same_process_rounds(big, max(1, args.repeat), args.n)
            report(same, "in this one process, interleaved")
        small = Path(tmp) / "small.xml"
        build_file(small, max(1, args.n // 5), recs)
        m_small, m_big = peak_memory(small), peak_memory(big)
        print(
            f"tracemalloc peak, streamed: {m_small:.2f} MiB at {args.n // 5} records, "
            f"{m_big:.2f} MiB at {args.n} records (ratio {m_big / m_small:.2f}; flat ~ 1)"
        )
        r_small, r_big = rss_growth(small), rss_growth(big)
        print(
            f"peak RSS growth, streamed:  {r_small:.1f} MiB at {args.n // 5} records, "
            f"{r_big:.1f} MiB at {args.n} records (file {size / 2**20:.0f} MiB; flat ~ equal)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
