"""De-duplication across sources: links, not deletions, every merge with its reason.

:func:`deduplicate` finds records that describe the same report, in three passes:

1. **pmid**: the same PubMed ID;
2. **doi**: the same DOI (lower case, resolver prefix and trailing punctuation removed);
3. **fuzzy**: the same normalised title (rapidfuzz ``fuzz.ratio`` >= ``threshold``), a year
   no more than one apart, and a similar first author's family name.

Pairs are joined with union-find. A join is refused (and listed in ``conflicts``, for a
reviewer to look at) when it would put two *distinct non-missing DOIs* or two distinct
PubMed IDs in one group, when a reviewer said "separate", or, for fuzzy pairs, when the
titles carry different numbers ("Part I" / "Part II", "Phase 2" / "Phase 3") or a word
that is not a typo of the other's ("men" / "women"). The DOI rule
answers CiteSource #264, where companion articles with different DOIs were merged silently
and one vanished from the PRISMA counts.

Fuzzy matching compares only records that share a blocking key: the first two, the middle
two or the last two significant words of the normalised title. Blocks never depend on which
other records are present, so de-duplicating the ``unique`` set again finds nothing
(a property test checks this), and 50,000 records take seconds (``benchmarks/bench_dedup.py``).

Each group keeps one record: the PubMed record if there is one, else the most complete,
else the first in input order. ``unique`` holds that record, with a missing PMID, DOI or
abstract filled in from the rest of its group.

Reviewer decisions live in ``data/dedup/overrides.csv`` (:func:`load_overrides`,
:func:`add_override`): ``record_id_a, record_id_b, action (merge|separate), reviewer,
note``. A "merge" joins two groups (reason ``manual``) even against the DOI rule; a
"separate" keeps two records in different groups.

References
----------
Hair K, Bahor Z, Macleod M, Liao J, Sena E. The Automated Systematic Search Deduplicator
(ASySD). *BMC Biol* 2023;21:189. doi:10.1186/s12915-023-01686-z.
McKeown S, Mir ZM. Considerations for conducting systematic reviews: evaluating the
performance of different methods for de-duplicating references. *Syst Rev* 2021;10:38.
Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement. *BMJ* 2021;372:n71.
"""

from __future__ import annotations

import csv
import html
import math
import os
import re
import unicodedata
import warnings
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from filelock import FileLock
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from tqdm.auto import tqdm

from review._format import fmt_x
from review._schema import clean_doi, normalise_records
from review.errors import CSVImportError, InputError, OptionError

__all__ = [
    "OVERRIDE_COLUMNS",
    "REASONS",
    "DedupResult",
    "add_override",
    "deduplicate",
    "load_overrides",
]

#: Reasons a record is linked to another.
REASONS: tuple[str, ...] = ("pmid", "doi", "fuzzy", "manual")
Reason = Literal["pmid", "doi", "fuzzy", "manual"]
#: Columns of ``overrides.csv``, in order.
OVERRIDE_COLUMNS: tuple[str, ...] = ("record_id_a", "record_id_b", "action", "reviewer", "note")
ACTIONS: tuple[str, ...] = ("merge", "separate")

_LINK_COLUMNS = ["record_id", "duplicate_of", "reason", "score", "matched_with"]
_CONFLICT_COLUMNS = ["record_id_a", "record_id_b", "reason", "score", "blocked_by"]

# Words too common to tell titles apart; left out of the blocking keys only.
_STOP = frozenset(
    "a an and are as at by for from in into is of on or the to with without versus vs "
    "after among between during".split()
)
_ROMAN = frozenset("ii iii iv vi vii viii ix xi xii".split())
_ROMAN_AFTER = frozenset("part phase stage type grade volume study".split())
_MIN_TITLE_CHARS = 20  # shorter titles ("Reply", "Erratum") are never fuzzy-matched
_MIN_TITLE_TOKENS = 3
_AUTHOR_MIN = 80.0  # first authors' family names at least this similar (typos allowed)
_BIG_BLOCK = 400  # blocks larger than this are compared year window by year window
_MARKUP = re.compile(r"<[^>]+>")
_NON_WORD = re.compile(r"[\W_]+")
_DIGIT = re.compile(r"\d")
# Words so common in titles that a blocking key made of them groups thousands of records;
# left out of the keys only (never out of the comparison).
_KEY_STOP = _STOP | frozenset(
    "efficacy safety randomized randomised controlled trial trials study studies cohort "
    "systematic review meta analysis incidence risk factors outcomes outcome long term real "
    "world evidence patients patient treatment therapy effect effects case report series "
    "clinical retrospective prospective analysis multicenter multicentre phase results "
    "associated association use using based new".split()
)


# ---------------------------------------------------------------------------------------
# normalisation
# ---------------------------------------------------------------------------------------


def normalise_title(title: Any) -> str:
    """Lower-case, accent-free title with markup and punctuation replaced by spaces.

    Examples
    --------
    >>> normalise_title("Surgical <i>site</i> infections: a Cohort Study.")
    'surgical site infections a cohort study'
    """
    if title is None or (isinstance(title, float) and math.isnan(title)):
        return ""
    t = str(title)
    if "<" in t:
        t = _MARKUP.sub(" ", t)
    if t.isascii():
        t = t.lower()
    else:
        t = unicodedata.normalize("NFKD", t)
        t = "".join(ch for ch in t if not unicodedata.combining(ch)).casefold()
    return " ".join(_NON_WORD.sub(" ", t).split())


def _doi(value: Any) -> str | None:
    d = clean_doi(value)
    if d is None:
        return None
    d = d.strip().rstrip(".;,")
    return d or None


def _pmid(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    s = str(value).strip()
    return s if s.isdigit() else None


def _family(author: Any) -> str:
    """Family name of a ``Last Initials`` author, normalised; a collective name whole."""
    if not isinstance(author, str) or not author.strip():
        return ""
    tokens = author.split()
    if len(tokens) >= 2 and tokens[-1].isupper() and tokens[-1].isalpha() and len(tokens[-1]) <= 4:
        tokens = tokens[:-1]
    return normalise_title(" ".join(tokens))


def _numbers(tokens: list[str]) -> tuple[str, ...]:
    """Numbers in a title: digit-bearing words ("2", "cd19") and roman numerals ("part ii")."""
    out = []
    for k, t in enumerate(tokens):
        if t in _ROMAN or _DIGIT.search(t):
            out.append(t)
        elif t in ("i", "v", "x") and k > 0 and tokens[k - 1] in _ROMAN_AFTER:
            out.append(t)
    return tuple(sorted(out))


def _is_number(t: str) -> bool:
    return t in _ROMAN or t in ("i", "v", "x") or _DIGIT.search(t) is not None


def _unsplit(title: list[str], mine: list[str], theirs: list[str]) -> tuple[list[str], list[str]]:
    """Drop adjacent word pairs of ``title`` written as one word in ``theirs`` (long term)."""
    mine, theirs = list(mine), list(theirs)
    for k in range(len(title) - 1):
        joined = title[k] + title[k + 1]
        if joined in theirs and title[k] in mine and title[k + 1] in mine:
            theirs.remove(joined)
            mine.remove(title[k])
            mine.remove(title[k + 1])
    return mine, theirs


def _title_guard(a: list[str], b: list[str]) -> str | None:
    """Why two similar titles are still different reports, or None.

    A high title similarity lets "men" / "women" or "type 1" / "type 2" through, so the words
    that differ are checked one by one: every non-stop word of one title missing from the
    other must be a typo of a missing word of the other (at most one edit, two for words
    of eight letters or more; a word split in two counts as the same), and the numbers
    must agree exactly.
    """
    if _numbers(a) != _numbers(b):
        return "numbers_differ"
    ca, cb = Counter(a), Counter(b)  # multisets: a repeated word typed wrong once counts
    only_a = [t for t in (ca - cb).elements() if not _is_number(t)]
    only_b = [t for t in (cb - ca).elements() if not _is_number(t)]
    if not only_a and not only_b:
        return None
    only_a, only_b = _unsplit(a, only_a, only_b)
    only_b, only_a = _unsplit(b, only_b, only_a)
    rest = list(only_b)
    for t in only_a:
        for k, u in enumerate(rest):
            if OSA.distance(t, u) <= (2 if min(len(t), len(u)) >= 8 else 1):
                del rest[k]
                break
        else:
            if t not in _STOP:
                return "words_differ"
    rest = [u for u in rest if u not in _STOP]
    return "words_differ" if rest else None


def _keys(tokens: list[str]) -> list[str]:
    sig = [t for t in tokens if t not in _KEY_STOP]
    if len(sig) < 2:
        sig = [t for t in tokens if t not in _STOP]
    if len(sig) < 2:
        sig = tokens
    if len(sig) < 2:
        return []
    mid = len(sig) // 2
    return [
        "p " + " ".join(sig[:2]),
        "m " + " ".join(sig[mid - 1 : mid + 1]),
        "s " + " ".join(sig[-2:]),
    ]


# ---------------------------------------------------------------------------------------
# union-find with merge guards
# ---------------------------------------------------------------------------------------


class _Groups:
    """Union-find whose components remember their DOIs, PMIDs and "separate" members."""

    def __init__(self, dois: list[str | None], pmids: list[str | None]) -> None:
        n = len(dois)
        self.parent = list(range(n))
        self.dois: list[set[str]] = [{d} if d else set() for d in dois]
        self.pmids: list[set[str]] = [{p} if p else set() for p in pmids]
        self.sep_members: list[set[int]] = [set() for _ in range(n)]
        self.sep_partners: dict[int, set[int]] = defaultdict(set)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def separate(self, a: int, b: int) -> None:
        self.sep_partners[a].add(b)
        self.sep_partners[b].add(a)
        self.sep_members[self.find(a)].add(a)
        self.sep_members[self.find(b)].add(b)

    def blocked(self, a: int, b: int, *, manual: bool = False) -> str | None:
        """Why ``a`` and ``b`` may not be joined (``"same"`` if already joined), or None."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return "same"
        for x in self.sep_members[ra]:
            if any(self.find(y) == rb for y in self.sep_partners[x]):
                return "separate_override"
        if manual:
            return None
        if len(self.dois[ra] | self.dois[rb]) > 1:
            return "distinct_doi"
        if len(self.pmids[ra] | self.pmids[rb]) > 1:
            return "distinct_pmid"
        return None

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if len(self.sep_members[ra]) + len(self.dois[ra]) < len(self.sep_members[rb]) + len(
            self.dois[rb]
        ):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.dois[ra] |= self.dois[rb]
        self.pmids[ra] |= self.pmids[rb]
        self.sep_members[ra] |= self.sep_members[rb]


# ---------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DedupResult:
    """What :func:`deduplicate` found: links between records, groups, the unique records.

    Attributes
    ----------
    links : pandas.DataFrame
        One row per duplicate record: ``record_id``, ``duplicate_of`` (the kept record of
        its group), ``reason`` in {``pmid``, ``doi``, ``fuzzy``, ``manual``}, ``score``
        (title similarity 0-100 for ``fuzzy``; 100 for exact matches; NaN for ``manual``)
        and ``matched_with`` (the record it was actually matched to, which may be another
        duplicate of the same group).
    groups : pandas.DataFrame
        One row per input record: ``record_id``, ``source``, ``group_id`` (=
        ``COALESCE(duplicate_of, record_id)``), ``kept`` (bool), ``group_size``.
    unique : pandas.DataFrame
        One row per group, the kept record (input order), in the record schema, with a
        missing ``pmid``, ``doi`` or ``abstract`` filled in from its group, plus
        ``group_size`` and ``group_sources`` (list of the group's databases).
    by_source : pandas.DataFrame
        Per database (input order of first appearance): ``identified`` (records read),
        ``duplicates_removed`` (records linked to a kept record) and ``kept``. These are
        the PRISMA 2020 boxes "records identified" (per database) and "duplicate records
        removed".
    conflicts : pandas.DataFrame
        Matches that were *not* joined: ``record_id_a``, ``record_id_b``, ``reason`` (the
        pass that proposed them), ``score``, ``blocked_by`` in {``distinct_doi``,
        ``distinct_pmid``, ``separate_override``, ``numbers_differ``, ``words_differ``}.
        Candidates for a reviewer's "merge" override.
    overrides : pandas.DataFrame
        The reviewer overrides given, with an ``effect`` column saying what each did.
    records : pandas.DataFrame
        The input records in the record schema (for :meth:`group`).
    n_records, n_unique, n_duplicates : int
        Input records, groups, and records removed as duplicates (``n_records - n_unique``).
    threshold : float
        The fuzzy title-similarity threshold used (0-100).
    notes : tuple of str
        Anything the caller should know (unknown override ids, ...).
    """

    links: pd.DataFrame
    groups: pd.DataFrame
    unique: pd.DataFrame
    by_source: pd.DataFrame
    conflicts: pd.DataFrame
    overrides: pd.DataFrame
    records: pd.DataFrame
    n_records: int
    n_unique: int
    n_duplicates: int
    threshold: float
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"DedupResult(n_records={self.n_records}, n_unique={self.n_unique}, "
            f"n_duplicates={self.n_duplicates}, conflicts={len(self.conflicts)})"
        )

    def reason_counts(self) -> dict[str, int]:
        """Number of duplicate links per reason (every reason present, zeros included)."""
        counts = self.links["reason"].value_counts()
        return {r: int(counts.get(r, 0)) for r in REASONS}

    def group(self, record_id: str) -> pd.DataFrame:
        """The records of ``record_id``'s group side by side, kept record first.

        Columns: ``record_id, source, kept, reason, score, matched_with`` and the record's
        ``pmid, doi, year, authors, title, journal``: what a reviewer compares before
        adding a "separate" (or, with a record of :attr:`conflicts`, a "merge") override.

        Raises
        ------
        KeyError
            ``record_id`` is not among the records.
        """
        hit = self.groups.loc[self.groups["record_id"] == record_id, "group_id"]
        if hit.empty:
            raise KeyError(record_id)
        # pandas-stubs type a .loc[rows, columns] frame as Any
        members: pd.DataFrame = self.groups.loc[
            self.groups["group_id"] == hit.iloc[0], ["record_id", "kept"]
        ]
        out = members.merge(self.records, on="record_id", how="left").merge(
            self.links[["record_id", "reason", "score", "matched_with"]], on="record_id", how="left"
        )
        cols = ["record_id", "source", "kept", "reason", "score", "matched_with", "pmid", "doi",
                "year", "authors", "title", "journal"]  # fmt: skip
        return out.sort_values("kept", ascending=False, kind="stable")[cols].reset_index(drop=True)

    def summary(self) -> str:
        """Plain-text report: totals, links per reason, refused merges, per-source counts."""
        lines = [
            f"De-duplication of {self.n_records} records from {len(self.by_source)} source(s): "
            f"{self.n_unique} unique, {self.n_duplicates} duplicates removed",
            "Links by reason: " + ", ".join(f"{r} {n}" for r, n in self.reason_counts().items()),
            f"Fuzzy rule: title similarity >= {fmt_x(self.threshold, 1)}, year within 1, "
            f"first author's family name similarity >= {fmt_x(_AUTHOR_MIN, 0)}",
        ]
        if len(self.conflicts):
            by = self.conflicts["blocked_by"].value_counts()
            lines.append(
                f"Matches not merged (see .conflicts): {len(self.conflicts)} ("
                + ", ".join(f"{k} {int(v)}" for k, v in by.items())
                + ")"
            )
        if len(self.overrides):
            lines.append(f"Reviewer overrides: {len(self.overrides)}")
            for row in self.overrides.itertuples(index=False):
                lines.append(
                    f"  {row.action} {row.record_id_a} {row.record_id_b} "
                    f"({row.reviewer}): {row.effect}"
                )
        lines.append("")
        lines.append(f"{'source':<24}{'identified':>12}{'duplicates':>12}{'kept':>8}")
        for row in self.by_source.itertuples(index=False):
            lines.append(
                f"{row.source!s:<24}{row.identified:>12}{row.duplicates_removed:>12}{row.kept:>8}"
            )
        lines.append(f"{'total':<24}{self.n_records:>12}{self.n_duplicates:>12}{self.n_unique:>8}")
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """One row per input record: its group, whether kept, and the link that joined it."""
        out = self.groups.merge(
            self.links[["record_id", "duplicate_of", "matched_with", "reason", "score"]],
            on="record_id",
            how="left",
        )
        return out

    def _repr_html_(self) -> str:
        head = html.escape(self.summary().split("\n\n", 1)[0]).replace("\n", "<br>")
        table = self.by_source.to_html(index=False, border=0)
        links = self.links.head(20).to_html(
            index=False, border=0, float_format=lambda v: fmt_x(v, 1)
        )
        more = f"<p>... {len(self.links) - 20} more links</p>" if len(self.links) > 20 else ""
        return f"<div><p>{head}</p>{table}<h4>Links</h4>{links}{more}</div>"


# ---------------------------------------------------------------------------------------
# overrides
# ---------------------------------------------------------------------------------------


def _empty_overrides() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in OVERRIDE_COLUMNS})


def _check_override(
    a: Any, b: Any, action: Any, reviewer: Any, *, path: Any = None, row: int | None = None
) -> None:
    for col, v in (("record_id_a", a), ("record_id_b", b), ("reviewer", reviewer)):
        if v is None or (isinstance(v, float) and math.isnan(v)) or not str(v).strip():
            raise CSVImportError(f"{col} is empty", path=path, row=row, column=col)
    if str(a).strip() == str(b).strip():
        raise CSVImportError(
            f"record_id_a and record_id_b are the same ({a!r})", path=path, row=row,
            column="record_id_b",
        )  # fmt: skip
    if action not in ACTIONS:
        raise CSVImportError(
            f"Invalid action {action!r}; must be one of {list(ACTIONS)}", path=path, row=row,
            column="action",
        )  # fmt: skip


def load_overrides(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a reviewer's ``overrides.csv``; an absent file means no overrides yet.

    Parameters
    ----------
    path : path-like
        The file (``ReviewPaths.dedup_overrides``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`OVERRIDE_COLUMNS`, one row per decision, file order.

    Raises
    ------
    review.errors.CSVImportError
        A column missing, an empty id or reviewer, an id paired with itself, or an action
        other than ``merge``/``separate``; ``row`` is the line in the file.
    """
    p = Path(path)
    if not p.exists():
        return _empty_overrides()
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise CSVImportError(f"not UTF-8: {e.reason}", path=p) from e
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in OVERRIDE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CSVImportError(
            f"missing column(s) {missing}; expected {list(OVERRIDE_COLUMNS)}", path=p, row=1,
            column=missing[0],
        )  # fmt: skip
    rows = []
    for row in reader:
        line = reader.line_num
        vals = {c: (row.get(c) or "").strip() for c in OVERRIDE_COLUMNS}
        _check_override(
            vals["record_id_a"], vals["record_id_b"], vals["action"], vals["reviewer"],
            path=p, row=line,
        )  # fmt: skip
        vals["note"] = vals["note"] or None
        rows.append(vals)
    if not rows:
        return _empty_overrides()
    return pd.DataFrame(
        {c: pd.Series([r[c] for r in rows], dtype=object) for c in OVERRIDE_COLUMNS}
    )


def add_override(
    path: str | os.PathLike[str],
    record_id_a: str,
    record_id_b: str,
    action: Literal["merge", "separate"],
    *,
    reviewer: str,
    note: str | None = None,
) -> None:
    """Append one reviewer decision to ``overrides.csv`` (created with its header if absent).

    The line is written under a file lock, flushed and fsync'd, so a crash never leaves a
    half-written decision and two notebooks cannot interleave lines. Later rows win over
    earlier ones for the same pair.

    Parameters
    ----------
    path : path-like
        The overrides file.
    record_id_a, record_id_b : str
        The two records.
    action : {"merge", "separate"}
        Join their groups, or keep them apart.
    reviewer : str
        Who decided.
    note : str, optional
        Why.

    Raises
    ------
    review.errors.CSVImportError
        Empty ids or reviewer, an id paired with itself, or an unknown action.
    """
    _check_override(record_id_a, record_id_b, action, reviewer, path=path)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(p) + ".lock", timeout=30):
        new = not p.exists() or p.stat().st_size == 0
        with open(p, "a", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            if new:
                w.writerow(OVERRIDE_COLUMNS)
            w.writerow([record_id_a, record_id_b, action, reviewer, note or ""])
            fh.flush()
            os.fsync(fh.fileno())


def _as_overrides(overrides: Any) -> pd.DataFrame:
    if overrides is None:
        return _empty_overrides()
    if isinstance(overrides, str | os.PathLike):
        return load_overrides(overrides)
    if isinstance(overrides, pd.DataFrame):
        missing = [c for c in OVERRIDE_COLUMNS[:4] if c not in overrides.columns]
        if missing:
            raise InputError(f"overrides lack column(s) {missing}", column=missing[0])
        df = overrides.reset_index(drop=True).copy()
        if "note" not in df.columns:
            df["note"] = None
        for i, r in df.iterrows():
            # df has a fresh RangeIndex (reset above), so its labels are the row positions
            _check_override(
                r["record_id_a"], r["record_id_b"], r["action"], r["reviewer"], row=cast(int, i)
            )
        return df[list(OVERRIDE_COLUMNS)]
    raise OptionError(
        f"Invalid overrides of type {type(overrides).__name__}; must be a path, a DataFrame or None"
    )


# ---------------------------------------------------------------------------------------
# the matcher
# ---------------------------------------------------------------------------------------


def _candidate_pairs(
    keys: list[list[str]], titles: list[str], years: np.ndarray, threshold: float, progress: bool
) -> dict[tuple[int, int], float]:
    """Pairs sharing a blocking key with title similarity >= threshold, and their score."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, ks in enumerate(keys):
        for k in ks:
            blocks[k].append(i)
    scored: dict[tuple[int, int], float] = {}
    small: set[tuple[int, int]] = set()
    big: list[list[int]] = []
    for members in blocks.values():
        if len(members) < 2:
            continue
        if len(members) <= 40:
            small.update(combinations(members, 2))  # members are in increasing order
        elif len(members) <= _BIG_BLOCK:
            big.append(members)
        else:
            # compare year window by year window: every pair within a year of each other,
            # and every pair with a missing year, is still compared exactly as in one block
            arr = np.asarray(members)
            ys = years[arr]
            no_year = arr[ys < 0]
            for y in np.unique(ys[ys >= 0]):
                sub = np.concatenate([arr[(ys == y) | (ys == y + 1)], no_year])
                if len(sub) >= 2:
                    big.append(sorted(sub.tolist()))
            if len(no_year) >= 2:
                big.append(no_year.tolist())
    ratio = fuzz.ratio
    for i, j in tqdm(small, disable=not progress, desc="fuzzy pairs", leave=False):
        s = ratio(titles[i], titles[j])
        if s >= threshold:
            scored[(i, j)] = s
    for members in tqdm(big, disable=not progress, desc="large blocks", leave=False):
        ts = [titles[m] for m in members]
        mat = process.cdist(ts, ts, scorer=fuzz.ratio, score_cutoff=threshold, workers=1)
        a, b = np.nonzero(np.triu(mat, 1))
        for x, y in zip(a.tolist(), b.tolist()):
            i, j = members[x], members[y]
            if i > j:
                i, j = j, i
            scored[(i, j)] = float(mat[x, y])
    return scored


def _completeness(df: pd.DataFrame) -> list[int]:
    """Number of filled fields per record (the most complete record of a group is kept)."""
    n = np.zeros(len(df), dtype=np.int64)
    for c in ("pmid", "doi", "abstract", "journal", "pub_date", "language"):
        n += np.fromiter((isinstance(v, str) and bool(v.strip()) for v in df[c]), bool, len(df))
    n += df["year"].notna().to_numpy(dtype=bool)
    for c in ("authors", "keywords", "mesh_terms", "publication_types"):
        n += np.fromiter((isinstance(v, list) and bool(v) for v in df[c]), bool, len(df))
    return n.tolist()


def deduplicate(
    records: pd.DataFrame,
    *,
    overrides: pd.DataFrame | str | os.PathLike[str] | None = None,
    threshold: float = 95.0,
    progress: bool = False,
) -> DedupResult:
    """Find records that describe the same report; link them, keep one per group.

    Parameters
    ----------
    records : pandas.DataFrame
        Records of one or more sources in the record schema, ``record_id`` unique (see
        :func:`review.records.combine_records`).
    overrides : DataFrame, path-like or None
        Reviewer decisions (:func:`load_overrides`): ``merge`` joins two records' groups
        (reason ``manual``, allowed even against the DOI rule), ``separate`` keeps them in
        different groups. When a pair appears more than once, the last row counts.
    threshold : float
        Minimum title similarity (rapidfuzz ``fuzz.ratio`` on normalised titles, 0-100)
        for a fuzzy match. The default 95 lets one or two typos through on a title of
        ordinary length and keeps distinct titles that differ by a word apart.
    progress : bool
        Show tqdm progress bars (useful above ~100,000 records).

    Returns
    -------
    DedupResult
        Links, groups, unique records, per-source counts for PRISMA, refused matches.

    Raises
    ------
    review.errors.InputError
        ``record_id``, ``source`` or ``title`` missing, or a ``record_id`` repeated.
    review.errors.OptionError
        ``threshold`` outside (0, 100].
    review.errors.CSVImportError
        An override with an unknown action or an empty id.

    Warns
    -----
    UserWarning
        An override names a record that is not in ``records`` (it is not applied).

    Notes
    -----
    Never automatically merged: two records with distinct non-missing DOIs, or distinct
    PMIDs, directly or through a chain of other matches (CiteSource #264); titles with
    different numbers (Part I / Part II) or a differing word that is not a typo
    ("men" / "women"); titles shorter than 20 characters or 3 words.
    Exact matches are scored 100.

    Examples
    --------
    >>> import pandas as pd
    >>> recs = pd.DataFrame(
    ...     {
    ...         "record_id": ["pubmed:1", "embase:1"],
    ...         "source": ["PubMed", "Embase"],
    ...         "pmid": ["1", None],
    ...         "doi": ["10.1/x", "https://doi.org/10.1/X"],
    ...         "title": ["A cohort study of second cancers", "A COHORT STUDY OF SECOND CANCERS."],
    ...         "year": [2023, 2023],
    ...         "authors": [["Smith J"], ["Smith J."]],
    ...     }
    ... )
    >>> res = deduplicate(recs)
    >>> res.links[["record_id", "duplicate_of", "reason"]].values.tolist()
    [['embase:1', 'pubmed:1', 'doi']]
    """
    if not (isinstance(threshold, int | float) and 0 < threshold <= 100):
        raise OptionError(f"Invalid threshold {threshold!r}; must be in (0, 100]")
    if not isinstance(records, pd.DataFrame):
        raise InputError(f"records must be a DataFrame, not {type(records).__name__}")
    for col in ("record_id", "source", "title"):
        if col not in records.columns:
            raise InputError(f"records have no {col!r} column", column=col)
    df = normalise_records(records)
    ids = df["record_id"].tolist()
    for i, rid in enumerate(ids):
        if rid is None:
            raise InputError("empty record_id", row=i, column="record_id")
    dup_ids = df["record_id"][df["record_id"].duplicated()]
    if len(dup_ids):
        raise InputError(
            f"record_id {dup_ids.iloc[0]!r} occurs more than once; ids must be unique",
            row=int(dup_ids.index[0]), column="record_id",
        )  # fmt: skip
    n = len(df)
    index = {rid: i for i, rid in enumerate(ids)}
    sources = [str(s) if s is not None else "" for s in df["source"]]
    pmids = [_pmid(v) for v in df["pmid"]]
    dois = [_doi(v) for v in df["doi"]]
    titles = [normalise_title(t) for t in df["title"]]
    years = np.array([-1 if pd.isna(y) else int(y) for y in df["year"]], dtype=np.int64)
    first_authors = [_family(a[0]) if a else "" for a in df["authors"]]

    g = _Groups(dois, pmids)
    edges: list[tuple[int, int, str, float]] = []
    conflicts: list[tuple[int, int, str, float, str]] = []
    notes: list[str] = []

    def attempt(i: int, j: int, reason: str, score: float, manual: bool = False) -> str | None:
        why = g.blocked(i, j, manual=manual)
        if why is None:
            g.union(i, j)
            edges.append((i, j, reason, score))
        elif why != "same":
            conflicts.append((i, j, reason, score, why))
        return why

    # reviewer overrides: the last word per unordered pair counts
    ov = _as_overrides(overrides)
    effects: list[str] = [""] * len(ov)
    last: dict[frozenset[str], int] = {}
    ov_rows: Iterable[Any] = ov.itertuples(index=False)  # columns differ in type
    for k, r in enumerate(ov_rows):
        missing = [x for x in (r.record_id_a, r.record_id_b) if x not in index]
        if missing:
            effects[k] = f"not applied: unknown record_id {missing}"
            notes.append(f"override row {k + 1} names records not in this set: {missing}")
            continue
        pair = frozenset((r.record_id_a, r.record_id_b))
        if pair in last:
            effects[last[pair]] = "superseded by a later row"
        last[pair] = k
    for k in last.values():
        r = ov.iloc[k]
        if r["action"] == "separate":
            g.separate(index[r["record_id_a"]], index[r["record_id_b"]])
    for k in last.values():
        r = ov.iloc[k]
        if r["action"] == "merge":
            a, b = index[r["record_id_a"]], index[r["record_id_b"]]
            why = attempt(a, b, "manual", math.nan, manual=True)
            effects[k] = {
                None: "merged",
                "same": "merged (already one group)",
                "separate_override": "not applied: conflicts with a 'separate' override",
            }.get(why, f"not applied: {why}")
    for note in notes:
        warnings.warn(note, stacklevel=2)

    # 1-2: exact PMID, then exact DOI
    for reason, keys in (("pmid", pmids), ("doi", dois)):
        by_key: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            if key is not None:
                by_key[key].append(i)
        for members in by_key.values():
            # join every pair of groups sharing the key unless a guard forbids it; repeat
            # until nothing changes, so no two groups left apart could still be joined
            # (this is what makes a second run on the unique records find nothing)
            changed = len(members) > 1
            while changed:
                changed = False
                reps = list({g.find(m): m for m in members}.values())
                for a, b in combinations(sorted(reps), 2):
                    if attempt(a, b, reason, 100.0) is None:
                        changed = True

    # 3: fuzzy on normalised title, year and first author
    tokens = [t.split() for t in titles]
    eligible = [len(t) >= _MIN_TITLE_CHARS and len(tok) >= _MIN_TITLE_TOKENS
                for t, tok in zip(titles, tokens)]  # fmt: skip
    block_keys = [_keys(tok) if ok else [] for tok, ok in zip(tokens, eligible)]
    scored = _candidate_pairs(block_keys, titles, years, float(threshold), progress)
    accepted = []
    for (i, j), s in scored.items():
        yi, yj = years[i], years[j]
        if yi >= 0 and yj >= 0 and abs(int(yi) - int(yj)) > 1:
            continue
        ai, aj = first_authors[i], first_authors[j]
        if ai and aj and fuzz.ratio(ai, aj) < _AUTHOR_MIN:
            continue
        why = _title_guard(tokens[i], tokens[j])
        if why is not None:
            conflicts.append((i, j, "fuzzy", s, why))
            continue
        accepted.append((-s, i, j))
    accepted.sort()
    for neg, i, j in accepted:
        attempt(i, j, "fuzzy", -neg)

    # groups, kept records, links
    roots = [g.find(i) for i in range(n)]
    members_of: dict[int, list[int]] = defaultdict(list)
    for i, r in enumerate(roots):
        members_of[r].append(i)
    completeness = _completeness(df)
    adj: dict[int, list[tuple[int, str, float]]] = defaultdict(list)
    for i, j, reason, score in edges:
        adj[i].append((j, reason, score))
        adj[j].append((i, reason, score))
    kept_of_root: dict[int, int] = {}
    link_rows = []
    for root, members in members_of.items():
        kept = min(
            members,
            key=lambda m: (sources[m].lower() != "pubmed", -completeness[m], m),
        )
        kept_of_root[root] = kept
        seen = {kept}
        queue = deque([kept])
        while queue:
            x = queue.popleft()
            for y, reason, score in sorted(adj[x], key=lambda t: t[0]):
                if y not in seen:
                    seen.add(y)
                    queue.append(y)
                    link_rows.append((ids[y], ids[kept], reason, score, ids[x], y))
    link_rows.sort(key=lambda t: t[-1])
    links = pd.DataFrame([t[:-1] for t in link_rows], columns=_LINK_COLUMNS)
    links["score"] = links["score"].astype(float)

    group_id = [ids[kept_of_root[r]] for r in roots]
    size = {r: len(m) for r, m in members_of.items()}
    groups = pd.DataFrame(
        {
            "record_id": ids,
            "source": sources,
            "group_id": group_id,
            "kept": [kept_of_root[r] == i for i, r in enumerate(roots)],
            "group_size": [size[r] for r in roots],
        }
    )

    kept_idx = sorted(kept_of_root.values())
    unique = df.iloc[kept_idx].copy()
    for col in ("pmid", "doi", "abstract"):
        column = df[col].tolist()
        vals = unique[col].tolist()
        for k, i in enumerate(kept_idx):
            if vals[k] is None:
                for m in members_of[roots[i]]:
                    if column[m] is not None:
                        vals[k] = column[m]
                        break
        unique[col] = pd.Series(vals, index=unique.index, dtype=object)
    unique["group_size"] = [size[roots[i]] for i in kept_idx]
    unique["group_sources"] = [
        list(dict.fromkeys(sources[m] for m in members_of[roots[i]])) for i in kept_idx
    ]
    unique = unique.reset_index(drop=True)

    order = list(dict.fromkeys(sources))
    removed = groups.loc[~groups["kept"], "source"].value_counts()
    ident = groups["source"].value_counts()
    by_source = pd.DataFrame(
        {
            "source": order,
            "identified": [int(ident.get(s, 0)) for s in order],
            "duplicates_removed": [int(removed.get(s, 0)) for s in order],
        }
    )
    by_source["kept"] = by_source["identified"] - by_source["duplicates_removed"]

    seen_pairs: set[tuple[int, int, str]] = set()
    conflict_rows = []
    for i, j, reason, score, why in conflicts:
        a, b = min(i, j), max(i, j)
        if (a, b, why) in seen_pairs:
            continue
        seen_pairs.add((a, b, why))
        conflict_rows.append((ids[a], ids[b], reason, float(score), why))
    conflict_df = pd.DataFrame(conflict_rows, columns=_CONFLICT_COLUMNS)

    ov_out = ov.copy()
    for k in last.values():
        r = ov.iloc[k]
        if r["action"] == "separate":
            a, b = index[r["record_id_a"]], index[r["record_id_b"]]
            blocked = any(
                c[4] == "separate_override"
                and {ids[c[0]], ids[c[1]]} & {r["record_id_a"], r["record_id_b"]}
                for c in conflicts
            )
            effects[k] = (
                "kept apart" + (" (an automatic merge was refused)" if blocked else "")
                if roots[a] != roots[b]
                else "not honoured: joined by another override"
            )
    ov_out["effect"] = effects

    n_unique = len(kept_idx)
    return DedupResult(
        links=links,
        groups=groups,
        unique=unique,
        by_source=by_source,
        conflicts=conflict_df,
        overrides=ov_out,
        records=df,
        n_records=n,
        n_unique=n_unique,
        n_duplicates=n - n_unique,
        threshold=float(threshold),
        notes=tuple(notes),
    )
