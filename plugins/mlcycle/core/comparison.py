"""Challenger against champion on the same holdout rows: a paired bootstrap of each compared metric.

Both models are scored on the same rows; every resample draws one set of row indices and applies it to
both, so the interval is that of the *difference* (challenger − champion), with the noise the two
models share taken out. The resampling is vectorised (numpy, no Python loop over resamples):

- metrics that are sums over rows (accuracy, log loss, MAE, precision, F1, R², ...) are combined from
  per-row columns, summed for every resample at once;
- ROC AUC is the Mann-Whitney statistic: rows are grouped by score once (ties share a group), and for
  every resample the weighted count of negatives below each positive comes from cumulative sums.

Verdicts, on the interval of the difference oriented so that positive is better (for metrics where
lower is better the sign flips) and a tolerance ``tol`` (how much worse the challenger may be):
``promote`` when the lower bound is at or above −tol (non-inferior), ``reject`` when the upper bound is below −tol,
``inconclusive`` when the interval straddles −tol. Without resampling (``resamples: 0``) the point
difference decides: promote or reject. Deterministic for a given seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mlcycle.core.catalogue import METRICS

PROMOTE, REJECT, INCONCLUSIVE = "promote", "reject", "inconclusive"
RANK_AUC = "rank_auc"  # the statistic of ROC AUC; the others are keys of SUM_STATISTICS
_EPS = 1e-15  # sklearn's log_loss clips probabilities to [eps, 1 - eps] for float64
_CHUNK_CELLS = 500_000  # resamples x rows per chunk: small enough for the counts to stay in the CPU cache


@dataclass(frozen=True)
class Comparison:
    """One compared metric: both models' holdout figures, the oriented difference and its interval."""

    metric: str
    challenger: float
    champion: float
    difference: float  # challenger − champion, oriented: positive is better
    low: float | None  # interval bounds of the oriented difference; None without resampling
    high: float | None
    confidence: float
    tolerance: float
    resamples: int
    verdict: str

    def interval_text(self) -> str:
        """How the interval is recorded as a version tag: ``[lo, hi] @ 0.95``."""
        if self.low is None:
            return f"[{self.difference:.4f}, {self.difference:.4f}] @ point (no resampling)"
        return f"[{self.low:.4f}, {self.high:.4f}] @ {self.confidence:g}"

    def describe(self) -> str:
        better = "higher" if METRICS[self.metric].higher_is_better else "lower"
        return (f"{self.metric}: challenger {self.challenger:.4f} vs champion {self.champion:.4f}, difference "
                f"{self.difference:+.4f} ({better} is better, oriented), interval {self.interval_text()}, "
                f"tolerance -{self.tolerance:g}: {self.verdict}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- per-row columns of each statistic, and how their resampled sums give the metric -------------------------

def _probability_loss(y, p) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _confusion(y, predicted, probability=None) -> np.ndarray:
    positive = predicted == 1
    return np.column_stack([positive & (y == 1), positive & (y != 1), ~positive & (y == 1)]).astype(float)


def _f1(s, n):
    tp, fp, fn = s[..., 0], s[..., 1], s[..., 2]
    return np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=(2 * tp + fp + fn) > 0)


def _ratio(num: int, *den: int):
    def combine(s, n):
        total = sum(s[..., i] for i in den)
        return np.divide(s[..., num], total, out=np.zeros_like(total), where=total > 0)
    return combine


def _r2(s, n):
    sst = s[..., 1] - s[..., 0] ** 2 / n
    return 1 - np.divide(s[..., 2], sst, out=np.full_like(sst, np.nan), where=sst > 0)


# name -> (columns(y, predicted, probability) -> rows x k, combine(sums over a resample, n) -> metric)
SUM_STATISTICS: dict[str, tuple[Callable, Callable]] = {
    "accuracy": (lambda y, d, p: (d == y).astype(float)[:, None], lambda s, n: s[..., 0] / n),
    "log_loss": (lambda y, d, p: _probability_loss(y, p)[:, None], lambda s, n: s[..., 0] / n),
    "precision": (_confusion, _ratio(0, 0, 1)),
    "recall": (_confusion, _ratio(0, 0, 2)),
    "f1": (_confusion, _f1),
    "mae": (lambda y, d, p: np.abs(d - y)[:, None], lambda s, n: s[..., 0] / n),
    "mape": (lambda y, d, p: (np.abs(d - y) / np.maximum(np.abs(y), np.finfo(float).eps))[:, None],
             lambda s, n: s[..., 0] / n),
    "rmse": (lambda y, d, p: ((d - y) ** 2)[:, None], lambda s, n: np.sqrt(s[..., 0] / n)),
    "r2": (lambda y, d, p: np.column_stack([y, y ** 2, (d - y) ** 2]), _r2),
}


MEANS = {"accuracy", "log_loss", "mae", "mape"}  # statistics that are a mean of one per-row column


def supports(metric: str) -> bool:
    """Whether the paired bootstrap can resample this catalogue metric."""
    return METRICS[metric].paired in (RANK_AUC, *SUM_STATISTICS)


class _RankAuc:
    """ROC AUC of one model for many resamples (Mann-Whitney with ties), from the resamples' row indices.

    Rows are grouped by score once; each row's key is ``2 * group + label``, so one ``bincount`` per resample
    gives its negatives and positives per group, and a cumulative sum the negatives below.
    Only label-pure runs of neighbouring scores share a group, so ties are counted as half, as sklearn does."""

    def __init__(self, y: np.ndarray, score: np.ndarray) -> None:
        order = np.argsort(score, kind="stable")
        ranked, positive = score[order], (y[order] == 1)
        tie = np.cumsum(np.r_[True, ranked[1:] != ranked[:-1]]) - 1  # tie group of each row, in score order
        share = np.bincount(tie, weights=positive) / np.bincount(tie)
        kind = np.where(share == 0, 0, np.where(share == 1, 1, 2))  # negatives only, positives only, mixed
        # Neighbouring tie groups of one label merge into one block (no pair inside it is ever counted):
        # far fewer groups to count per resample; a mixed tie group stays a block of its own.
        block = np.cumsum(np.r_[True, (kind[1:] != kind[:-1]) | (kind[1:] == 2)]) - 1
        self.groups = int(block[-1]) + 1 if len(block) else 0
        self.key = np.empty(len(y), dtype=np.int64)
        self.key[order] = 2 * block[tie] + positive

    def __call__(self, index: np.ndarray) -> np.ndarray:
        # one bincount per resample: its bins (two per group) stay in the CPU cache, and no offset pass
        return self.auc(np.stack([np.bincount(self.key[rows], minlength=2 * self.groups) for rows in index]))

    def auc(self, counts: np.ndarray) -> np.ndarray:
        """ROC AUC of each resample from its counts (resamples x 2 groups: negatives, positives per group)."""
        counts = counts.reshape(len(counts), self.groups, 2)
        neg, pos = counts[..., 0], counts[..., 1]
        pairs = pos.sum(axis=1) * neg.sum(axis=1)
        # wins of a positive: negatives in the groups below it, and half the negatives of its own group
        twice_wins = 2 * np.einsum("ij,ij->i", pos, np.cumsum(neg, axis=1)) - np.einsum("ij,ij->i", pos, neg)
        return np.divide(twice_wins, 2 * pairs, out=np.full(len(counts), np.nan), where=pairs > 0)


def _paired_rank_auc(y, new_score, old_score) -> Callable[[np.ndarray], np.ndarray]:
    """(challenger − champion) ROC AUC of each resample. Both models' keys are packed in one integer (each
    is below 2 x rows), so a resample's rows are gathered once, while they are in the cache, for both counts."""
    new, old = _RankAuc(y, new_score), _RankAuc(y, old_score)
    packed, low = new.key | (old.key << 32), np.int64(0xFFFFFFFF)

    def difference(index: np.ndarray) -> np.ndarray:
        counts_new = np.empty((len(index), 2 * new.groups), dtype=np.int64)
        counts_old = np.empty((len(index), 2 * old.groups), dtype=np.int64)
        for i, rows in enumerate(index):
            both = packed[rows]
            counts_new[i] = np.bincount(both & low, minlength=2 * new.groups)
            counts_old[i] = np.bincount(both >> 32, minlength=2 * old.groups)
        return new.auc(counts_new) - old.auc(counts_old)
    return difference


def _resampler(metric: str, y, predicted, probability) -> Callable[[np.ndarray], np.ndarray]:
    """A function from a (resamples x rows) index matrix to the metric of each resample."""
    entry = METRICS[metric]
    if entry.paired == RANK_AUC:
        return _RankAuc(y, np.asarray(probability, dtype=float))
    columns, combine = SUM_STATISTICS[entry.paired]
    values = columns(y, np.asarray(predicted), None if probability is None else np.asarray(probability, dtype=float))
    per_column, n = np.ascontiguousarray(values.T, dtype=float), len(y)
    return lambda index: combine(np.stack([column[index].sum(axis=1) for column in per_column], -1), n)


def _paired_resamplers(metric: str, y, challenger: dict[str, np.ndarray], champion: dict[str, np.ndarray]):
    """A function from an index matrix to (challenger − champion) of each resample.

    A metric that is a mean over rows (accuracy, log loss, MAE, MAPE) is the mean of the per-row difference:
    one gather instead of two."""
    paired = METRICS[metric].paired
    if paired in MEANS:
        columns = SUM_STATISTICS[paired][0]
        new, old = (columns(y, np.asarray(m["predicted"]), None if m.get("probability") is None else
                            np.asarray(m["probability"], dtype=float))[:, 0] for m in (challenger, champion))
        difference, n = new - old, len(y)
        return lambda index: difference[index].sum(axis=1) / n
    if paired == RANK_AUC:
        return _paired_rank_auc(y, *(np.asarray(m["probability"], dtype=float) for m in (challenger, champion)))
    new, old = (_resampler(metric, y, m["predicted"], m.get("probability")) for m in (challenger, champion))
    return lambda index: new(index) - old(index)


def bootstrap_differences(metrics: list[str], y, challenger: dict[str, np.ndarray], champion: dict[str, np.ndarray],
                          resamples: int, seed: int) -> dict[str, np.ndarray]:
    """Per metric, ``resamples`` values of (challenger − champion), each on one shared resample of the rows.

    ``challenger`` and ``champion`` hold ``predicted`` and (classification) ``probability`` arrays."""
    y = np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    differences = {m: _paired_resamplers(m, y, challenger, champion) for m in metrics}
    chunk = max(1, _CHUNK_CELLS // max(len(y), 1))
    out: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for start in range(0, resamples, chunk):
        index = rng.integers(0, len(y), size=(min(chunk, resamples - start), len(y)))  # shared by both models
        for metric, difference in differences.items():
            out[metric].append(difference(index))
    return {m: np.concatenate(parts) if parts else np.empty(0) for m, parts in out.items()}


def verdict(low: float, high: float, tolerance: float) -> str:
    """promote / reject / inconclusive for an oriented interval (positive: the challenger is better)."""
    if low >= -tolerance:  # not worse than the champion by more than the tolerance
        return PROMOTE
    if high < -tolerance:
        return REJECT
    return INCONCLUSIVE


def overall(comparisons: list[Comparison]) -> str:
    """Reject if any metric rejects, else inconclusive if any is, else promote."""
    verdicts = {c.verdict for c in comparisons}
    return REJECT if REJECT in verdicts else INCONCLUSIVE if INCONCLUSIVE in verdicts else PROMOTE


def compare(metrics: list[str], tolerances: dict[str, float], y, challenger: dict[str, np.ndarray],
            champion: dict[str, np.ndarray], confidence: float, resamples: int, seed: int) -> list[Comparison]:
    """The paired comparison of each metric; ``resamples: 0`` compares the point figures only."""
    y = np.asarray(y, dtype=float)
    draws = bootstrap_differences(metrics, y, challenger, champion, resamples, seed) if resamples else {}
    found = []
    for metric in metrics:
        entry = METRICS[metric]
        sign = 1 if entry.higher_is_better else -1
        new, old = (entry.score(y, m["predicted"], m.get("probability")) for m in (challenger, champion))
        point, tol = sign * (new - old), tolerances[metric]
        low = high = None
        if resamples:
            values = sign * draws[metric]
            values = values[~np.isnan(values)]
            alpha = (1 - confidence) / 2
            low, high = (float(v) for v in np.quantile(values, [alpha, 1 - alpha]))
        decided = (PROMOTE if point >= -tol else REJECT) if low is None else verdict(low, high, tol)
        found.append(Comparison(metric, round(new, 6), round(old, 6), round(point, 6), low, high, confidence, tol,
                                resamples, decided))
    return found
