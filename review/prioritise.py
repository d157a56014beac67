"""Prioritised screening: rank the unscreened records, follow recall, and know when to stop.

- :func:`rank_unscreened` learns relevance from the decisions so far (TF-IDF features and a
  logistic regression, the "certainty-based" querying of ASReview: most likely relevant
  first) and orders the records still to screen.
- :func:`recall_curve` gives the includes found against records screened, in screening order.
- :func:`stopping_test` is the hypergeometric stopping criterion of Callaghan and
  Müller-Hansen (2020): a p-value for the null hypothesis that the recall target has *not*
  been reached; stop when it falls below ``1 - confidence``.

References
----------
Callaghan MW, Müller-Hansen F. Statistical stopping criteria for automated screening in
systematic reviews. Syst Rev 2020;9:273. doi:10.1186/s13643-020-01521-4.

van de Schoot R, de Bruin J, Schram R, et al. An open source machine learning framework for
efficient and transparent systematic reviews. Nat Mach Intell 2021;3:125-33.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from review.errors import OptionError
from review.screening import CONSENSUS, STAGES, ScreeningLog, _final_rows, _ids_of, _standing

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["StoppingResult", "rank_unscreened", "recall_curve", "stopping_test", "text_features"]

_RELEVANT = {"include": 1, "maybe": 1, "conflict": 1, "exclude": 0}


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise OptionError(f"Invalid stage {stage!r}; must be one of {list(STAGES)}")


def _labels(log: ScreeningLog, stage: str, reviewer: str | None) -> dict[str, int]:
    """Record -> 1 (include, maybe, or an unresolved conflict) / 0 (exclude)."""
    rows = log._rows()
    if reviewer is None:
        return {r["record_id"]: _RELEVANT[r["decision"]] for r in _final_rows(rows, stage)}
    return {r["record_id"]: _RELEVANT[r["decision"]] for r in _standing(rows, stage, reviewer)}


def _text(records: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    missing = [c for c in columns if c not in records.columns]
    if missing:
        raise OptionError(f"records have no column(s) {missing} to learn from")

    def part(x: Any) -> str:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return ""
        if isinstance(x, list | tuple | np.ndarray):
            return " ".join(str(v) for v in x)
        return str(x)

    return [" ".join(part(row[c]) for c in columns) for _, row in records.iterrows()]


def text_features(
    records: pd.DataFrame, *, text_columns: Sequence[str] = ("title", "abstract")
) -> Any:
    """TF-IDF features of the records' text, one row per record (a scipy sparse matrix).

    Words and word pairs, sublinear term frequency, English stop words removed; from 100
    records on, terms seen in only one record are dropped (``min_df=2``), which keeps the
    pair vocabulary, and the time to fit, in proportion. Compute once and pass to
    :func:`rank_unscreened` as ``features=`` to re-rank quickly after every decision.

    Raises
    ------
    review.errors.OptionError
        If a text column is missing or no record has any text.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    text = _text(records, text_columns)
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2),
        sublinear_tf=True,
        stop_words="english",
        min_df=2 if len(text) >= 100 else 1,
    )
    try:
        return vectorizer.fit_transform(text)
    except ValueError as e:  # empty vocabulary
        raise OptionError(f"the records have no text to learn from ({e})") from e


def rank_unscreened(
    records: pd.DataFrame,
    log: ScreeningLog,
    stage: str = "title_abstract",
    *,
    reviewer: str | None = None,
    id_column: str = "record_id",
    text_columns: Sequence[str] = ("title", "abstract"),
    features: Any = None,
    random_state: int = 0,
) -> pd.DataFrame:
    """Order the records not yet screened by relevance learnt from the decisions so far.

    Parameters
    ----------
    records : pandas.DataFrame
        The records of the stage (one row per de-duplicated group), with ``id_column`` and
        ``text_columns``.
    log : ScreeningLog
        The screening log.
    stage : {"title_abstract", "full_text"}
        Stage whose decisions train the model.
    reviewer : str, optional
        Learn from this reviewer's standing decisions and rank what *they* have not
        screened; default: the combined decision (:meth:`ScreeningLog.final`), ranking
        records nobody has screened.
    id_column : str, default "record_id"
        Identifier column.
    text_columns : sequence of str, default ("title", "abstract")
        Columns joined into the text the model reads (list-valued columns are joined).
    features : sparse matrix, optional
        Precomputed :func:`text_features` of ``records`` (same rows, same order); computed
        here when not given.
    random_state : int, default 0
        Seed of the classifier, for reproducible ranks.

    Returns
    -------
    pandas.DataFrame
        The unscreened records (all columns) in ranked order, plus ``relevance`` (predicted
        probability of inclusion; NaN when no model could be fitted) and ``rank`` (1 = screen
        next). ``.attrs["method"]`` says how the order was made.

    Notes
    -----
    Features are TF-IDF weights of words and word pairs (:func:`text_features`), fitted on
    all records' text; the classifier is an L2 logistic
    regression with class weights balanced against the rarity of includes; records are
    ranked by predicted probability, highest first, the certainty-based ("max") querying of
    ASReview (van de Schoot et al. 2021). *maybe* and unresolved conflicts count as relevant.
    With no include or no exclude yet, nothing can be learnt, and the records keep their
    original order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> recs = pd.DataFrame(
    ...     {
    ...         "record_id": ["r1", "r2", "r3", "r4"],
    ...         "title": ["hip infection", "mouse model", "hip infection cohort", "mouse"],
    ...         "abstract": ["", "", "", ""],
    ...     }
    ... )
    >>> log = ScreeningLog(pathlib.Path(tempfile.mkdtemp()) / "log.jsonl")
    >>> _ = log.record("r1", decision="include")
    >>> _ = log.record("r2", decision="exclude")
    >>> rank_unscreened(recs, log)["record_id"].tolist()
    ['r3', 'r4']
    """
    _check_stage(stage)
    ids = _ids_of(records, id_column)
    labels = _labels(log, stage, reviewer)
    done = (
        {r["record_id"] for r in _standing(log._rows(), stage, reviewer)}
        if reviewer is not None
        else set(labels)
    )
    if reviewer == CONSENSUS:
        raise OptionError("rank for a screening reviewer, not 'consensus'")
    is_todo = np.array([i not in done for i in ids])
    train = np.array([i in labels for i in ids])
    y = np.array([labels.get(i, -1) for i in ids])
    todo = records.loc[is_todo].copy()

    method = None
    if not (train & (y == 1)).any() or not (train & (y == 0)).any():
        method = "original order (the model needs at least one include and one exclude)"
    elif not is_todo.any():
        method = "nothing left to rank"
    else:
        from sklearn.linear_model import LogisticRegression

        x = None
        if features is not None:
            if features.shape[0] != len(records):
                raise OptionError(
                    f"features have {features.shape[0]} rows for {len(records)} records"
                )
            x = features
        else:
            try:
                x = text_features(records, text_columns=text_columns)
            except OptionError as e:
                if "no text" not in str(e):
                    raise
                method = "original order (the records have no text to learn from)"
        if x is not None:
            model = LogisticRegression(
                class_weight="balanced", max_iter=1000, random_state=random_state
            )
            model.fit(x[train], y[train])
            todo["relevance"] = model.predict_proba(x[is_todo])[:, 1]
            todo = todo.sort_values("relevance", ascending=False, kind="stable")
            method = (
                f"TF-IDF (1-2 grams) + balanced logistic regression, trained on "
                f"{int(train.sum())} decisions ({int((y[train] == 1).sum())} relevant)"
            )
    if "relevance" not in todo.columns:
        todo["relevance"] = np.nan
    todo["rank"] = np.arange(1, len(todo) + 1)
    todo = todo.reset_index(drop=True)
    todo.attrs["method"] = method
    return todo


def recall_curve(
    log: ScreeningLog, stage: str = "title_abstract", *, reviewer: str | None = None
) -> pd.DataFrame:
    """Includes found against records screened, in the order records were first screened.

    Parameters
    ----------
    log : ScreeningLog
        The log.
    stage : {"title_abstract", "full_text"}
        The stage.
    reviewer : str, optional
        Follow one reviewer (their standing decisions, in their order); default: the
        combined decision, ordered by the first decision anyone made on each record.

    Returns
    -------
    pandas.DataFrame
        ``n_screened`` (1, 2, ...), ``record_id``, ``relevant`` (1 for include, maybe or an
        unresolved conflict; 0 for exclude) and ``n_relevant`` (running total). Records whose
        only decision was undone are left out. ``relevant`` in this order is the input of
        :func:`stopping_test`.
    """
    _check_stage(stage)
    rows = log._rows()
    labels = _labels(log, stage, reviewer)
    first: dict[str, int] = {}
    for r in rows:  # a record settled by a consensus row alone counts from that row
        if r["stage"] == stage and (reviewer is None or r["reviewer"] == reviewer):
            first.setdefault(r["record_id"], r["seq"])
    order = [rid for rid in sorted(first, key=first.__getitem__) if rid in labels]
    rel = np.array([labels[rid] for rid in order], dtype=np.int64)
    return pd.DataFrame(
        {
            "n_screened": np.arange(1, len(order) + 1, dtype=np.int64),
            "record_id": pd.Series(order, dtype=object),
            "relevant": rel,
            "n_relevant": np.cumsum(rel),
        }
    )


@dataclass(frozen=True, slots=True)
class StoppingResult:
    """Result of the hypergeometric stopping test.

    Attributes
    ----------
    n_total : int
        Records to screen in all (N).
    n_screened : int
        Records screened so far.
    n_relevant : int
        Relevant records found so far.
    recall_target : float
        Recall the review aims for (tau).
    confidence : float
        Confidence level; stop when ``p_value < 1 - confidence``.
    p_value : float
        Smallest p-value, over the windows of the last j screened records, for the null
        hypothesis that recall is below ``recall_target``.
    stop : bool
        Whether the null hypothesis is rejected (the target is met at that confidence).
    window : int
        Size j of the window of last-screened records that gave ``p_value`` (0 if none).
    k_min : int
        Under the null hypothesis, the fewest relevant records there would be among that
        window and the unscreened records.
    """

    n_total: int
    n_screened: int
    n_relevant: int
    recall_target: float
    confidence: float
    p_value: float
    stop: bool
    window: int
    k_min: int

    def __repr__(self) -> str:
        from review._format import fmt_p

        return (
            f"<StoppingResult {self.n_screened}/{self.n_total} screened, "
            f"{self.n_relevant} relevant, p={fmt_p(self.p_value)}, stop={self.stop}>"
        )

    def summary(self) -> str:
        """One paragraph stating the test and its answer."""
        from review._format import fmt_p, fmt_pct

        verdict = (
            "the target is met: screening can stop"
            if self.stop
            else "the target is not shown to be met: keep screening"
        )
        return (
            f"Hypergeometric stopping test (Callaghan & Müller-Hansen 2020): "
            f"{self.n_screened} of {self.n_total} records screened, {self.n_relevant} relevant "
            f"found. H0: recall < {fmt_pct(self.recall_target)}; p = {fmt_p(self.p_value)} "
            f"(window of the last {self.window} records); at {fmt_pct(self.confidence)} "
            f"confidence {verdict}."
        )

    def to_frame(self) -> pd.DataFrame:
        """The fields as a one-row DataFrame."""
        return pd.DataFrame([{k: getattr(self, k) for k in self.__slots__}])

    def _repr_html_(self) -> str:
        import html

        return f"<p>{html.escape(self.summary())}</p>"


def stopping_test(
    n_total: int,
    screened_sequence_labels: Sequence[int] | np.ndarray | pd.Series,
    recall_target: float = 0.95,
    confidence: float = 0.95,
) -> StoppingResult:
    """Hypergeometric test that a recall target has been reached (Callaghan & Müller-Hansen).

    Parameters
    ----------
    n_total : int
        Number of records to screen in all (N), screened or not.
    screened_sequence_labels : sequence of {0, 1}
        Relevance (1) or not (0) of each screened record, in the order screened (e.g.
        ``recall_curve(log)["relevant"]``).
    recall_target : float, default 0.95
        Recall to reach, in (0, 1).
    confidence : float, default 0.95
        Confidence level, in (0, 1); screening may stop when ``p < 1 - confidence``.

    Returns
    -------
    StoppingResult
        ``p_value``, ``stop``, and the window that gave the p-value.

    Raises
    ------
    review.errors.OptionError
        If labels are not 0/1, more records are screened than exist, or a level is
        outside (0, 1).

    Notes
    -----
    Let r be the relevant records found among the n screened. If recall were below the
    target tau, the total number of relevant records would be at least
    ``floor(r / tau) + 1``. Treat the last j screened records as a sample drawn at random,
    without replacement, from themselves plus the N - n unscreened ones (an urn of
    N - n + j records). Of the r found, r_j were in that window; under the null hypothesis
    the urn holds at least ``K_j = floor(r / tau) + 1 - (r - r_j)`` relevant records, and
    the chance of seeing r_j or fewer in the window is the hypergeometric
    ``P(X <= r_j; N - n + j, K_j, j)`` (0 when K_j exceeds the urn). The p-value is the
    smallest over j = 1..n, as in the authors' implementation (buscar). The test assumes the
    window was screened in random order; with prioritised screening relevant records tend
    to come earlier than at random, which makes the test conservative (Callaghan &
    Müller-Hansen 2020).

    References
    ----------
    Callaghan MW, Müller-Hansen F. Statistical stopping criteria for automated screening in
    systematic reviews. Syst Rev 2020;9:273. doi:10.1186/s13643-020-01521-4.

    Examples
    --------
    >>> res = stopping_test(1000, [1] * 20 + [0] * 900)
    >>> res.stop, res.n_relevant, res.window
    (True, 20, 900)
    >>> stopping_test(1000, [1] * 20 + [0] * 30).stop
    False
    """
    from scipy.stats import hypergeom

    if not isinstance(n_total, int | np.integer) or n_total < 0:
        raise OptionError(f"n_total must be a non-negative integer, got {n_total!r}")
    labels = np.asarray(screened_sequence_labels).ravel()
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise OptionError("screened_sequence_labels must be 0 (not relevant) or 1 (relevant)")
    labels = labels.astype(np.int64)
    n = int(labels.size)
    if n > n_total:
        raise OptionError(f"{n} records screened but n_total is {n_total}")
    for name, v in (("recall_target", recall_target), ("confidence", confidence)):
        if not 0 < v < 1:
            raise OptionError(f"{name} must lie in (0, 1), got {v!r}")
    r = int(labels.sum())
    if n == 0:
        return StoppingResult(
            int(n_total), 0, 0, recall_target, confidence, 1.0, n_total == 0, 0, 0
        )
    # floor(r / tau) exactly: 19 / 0.95 must be 20, not 19.999...
    m = math.floor(Fraction(r) / Fraction(repr(float(recall_target))))
    j = np.arange(1, n + 1)  # window sizes: the last j screened records
    r_j = np.cumsum(labels[::-1])  # relevant records in each window
    urn = n_total - n + j  # the window plus everything unscreened
    k_null = m + 1 - (r - r_j)  # fewest relevant records in the urn under H0
    possible = k_null <= urn
    p = np.zeros(n)
    p[possible] = hypergeom.cdf(r_j[possible], urn[possible], k_null[possible], j[possible])
    best = int(np.argmin(p))
    p_value = float(min(max(p[best], 0.0), 1.0))
    return StoppingResult(
        n_total=int(n_total),
        n_screened=n,
        n_relevant=r,
        recall_target=float(recall_target),
        confidence=float(confidence),
        p_value=p_value,
        stop=p_value < 1 - confidence,
        window=int(j[best]),
        k_min=int(k_null[best]),
    )
