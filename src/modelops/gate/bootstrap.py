"""Vectorised paired Poisson bootstrap of classification metrics (pure numpy).

Each resample gives every row a Poisson(1) weight (the Poisson bootstrap: the
large-n limit of multinomial resampling, and far cheaper to draw). The same weights
score every model, so metric differences are paired. Resamples are processed in
chunks of a weight matrix (chunk x rows) and every metric is computed for the whole
chunk with array operations: there is no Python loop over resamples.

Weights are drawn directly in the first model's score order (rows are exchangeable
under iid weights), so that model's ranking metrics need no gather; the other
models gather the weights once per chunk. Mean-loss metrics (log loss, Brier) and
the binned calibration error are weighted sums, i.e. one matrix product per chunk.
"""

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece")
HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "log_loss": False, "brier": False, "ece": False}
_LOSS_COLUMNS = {"log_loss": 0, "brier": 1}
_EPS = 1e-15
# float32 temporaries alive per (resample x row) cell of a chunk, in bytes.
_BYTES_PER_CELL = 40


def _poisson_table(bits: int = 16) -> np.ndarray:
    """Poisson(1) quantile of each `bits`-bit integer: a uniform draw indexes it (inverse CDF)."""
    size = 1 << bits
    cdf = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(16)])
    return np.searchsorted(np.round(cdf * size), np.arange(size), side="right").astype(np.float32)


_TABLE = _poisson_table()


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def finite(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)


@dataclass(frozen=True)
class PairedEstimate:
    """Point values, the point delta (candidate - champion) and the bootstrap intervals."""

    metric: str
    candidate: float
    champion: float | None
    delta: float | None
    candidate_interval: Interval
    delta_interval: Interval | None


def ece_bin_index(scores: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin of each score in [0, 1] (1.0 lands in the last bin)."""
    return np.clip((np.asarray(scores, dtype=np.float64) * bins).astype(np.int64), 0, bins - 1)


class _Model:
    """One model's scores arranged for the chunk computations (built once)."""

    def __init__(self, y: np.ndarray, p: np.ndarray, base_order: np.ndarray) -> None:
        order = np.argsort(p, kind="stable")
        # Position of this model's k-th smallest score in the base (first model's) order.
        rank_in_base = np.empty(len(p), dtype=np.int64)
        rank_in_base[base_order] = np.arange(len(p))
        self.gather = None if np.array_equal(order, base_order) else rank_in_base[order]
        sorted_p = p[order]
        self.pos = y[order].astype(np.float32)
        starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
        self.group_starts = None if len(starts) == len(p) else starts


def _loss_matrix(y: np.ndarray, p: np.ndarray, ece_bins: int) -> np.ndarray:
    """Per-row log loss, Brier and (p - y) spread into ECE bin columns."""
    clipped = np.clip(p, _EPS, 1 - _EPS)
    cols = np.zeros((len(p), 2 + ece_bins), dtype=np.float64)
    cols[:, 0] = -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
    cols[:, 1] = (p - y) ** 2
    cols[np.arange(len(p)), 2 + ece_bin_index(p, ece_bins)] = p - y
    return cols


def _ranking(weights: np.ndarray, model: _Model, want_ap: bool) -> tuple[np.ndarray, np.ndarray]:
    """ROC AUC and average precision per row of `weights` (already in the model's score order)."""
    pos = weights * model.pos
    neg = weights - pos
    if model.group_starts is not None:
        # Tied scores form one group: a tie counts half for AUC and one threshold step for AP.
        pos = np.add.reduceat(pos, model.group_starts, axis=1)
        neg = np.add.reduceat(neg, model.group_starts, axis=1)
    n_pos = pos.sum(axis=1, dtype=np.float64)
    n_neg = neg.sum(axis=1, dtype=np.float64)
    cum_neg = np.cumsum(neg, axis=1)
    # Weights are small integers, so float32 sums stay exact below 2**24; products go to float64.
    num = np.einsum("rg,rg->r", pos, cum_neg, dtype=np.float64)
    if model.group_starts is not None:
        num -= 0.5 * np.einsum("rg,rg->r", pos, neg, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = num / (n_pos * n_neg)
        ap = np.full(len(auc), np.nan)
        if want_ap:
            tp = np.cumsum(pos[:, ::-1], axis=1)
            seen = tp + np.cumsum(neg[:, ::-1], axis=1)
            ap = np.einsum("rg,rg->r", pos[:, ::-1], tp / np.maximum(seen, 1), dtype=np.float64) / n_pos
    return auc, ap


class _Problem:
    def __init__(
        self,
        y: np.ndarray,
        scores: Sequence[np.ndarray],
        ece_bins: int,
        metrics: Sequence[str],
        dtype: type = np.float32,
    ) -> None:
        y = np.asarray(y, dtype=np.int64)
        ps = [np.asarray(s, dtype=np.float64) for s in scores]
        self.n = len(y)
        base = np.argsort(ps[0], kind="stable")
        self.models = [_Model(y, p, base) for p in ps]
        # All loss columns of all models, rows in the base order: one product per chunk.
        self.losses: np.ndarray = np.hstack([_loss_matrix(y, p, ece_bins) for p in ps])[base].astype(dtype)
        self.width = 2 + ece_bins
        self.want_ranking = bool({"roc_auc", "pr_auc"} & set(metrics))
        self.want_ap = "pr_auc" in metrics

    def chunk(self, weights: np.ndarray) -> np.ndarray:
        """(models, rows of `weights`, metrics) for one chunk of resample weights."""
        r = weights.shape[0]
        out = np.full((len(self.models), r, len(BOOTSTRAP_METRICS)), np.nan)
        sums = (weights @ self.losses).astype(np.float64)
        total = weights.sum(axis=1, dtype=np.float64)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            for m, model in enumerate(self.models):
                block = sums[:, m * self.width : (m + 1) * self.width] / total
                out[m, :, 2] = block[:, 0]
                out[m, :, 3] = block[:, 1]
                out[m, :, 4] = np.abs(block[:, 2:]).sum(axis=1)
                if self.want_ranking:
                    w = weights if model.gather is None else weights[:, model.gather]
                    out[m, :, 0], out[m, :, 1] = _ranking(w, model, self.want_ap)
        return out


def point_metrics(
    y: np.ndarray, p: np.ndarray, ece_bins: int = 15, metrics: Sequence[str] = BOOTSTRAP_METRICS
) -> dict[str, float]:
    """The metrics on the full set (every weight 1); the same code path as the resamples."""
    # float64 here: the point values are what the thresholds compare against.
    problem = _Problem(y, [p], ece_bins, metrics, dtype=np.float64)
    values = problem.chunk(np.ones((1, problem.n)))[0, 0]
    return {k: float(v) for k, v in zip(BOOTSTRAP_METRICS, values, strict=True) if k in metrics}


def resample_metrics(
    y: np.ndarray,
    scores: Sequence[np.ndarray],
    resamples: int,
    seed: int,
    ece_bins: int = 15,
    metrics: Sequence[str] = BOOTSTRAP_METRICS,
    max_chunk_bytes: int = 256 << 20,
    workers: int = 1,
) -> np.ndarray:
    """Metric values per (model, resample, metric in BOOTSTRAP_METRICS order); paired across models.

    Memory is bounded by `workers * max_chunk_bytes`, whatever `resamples` is. Each
    chunk has its own child seed, so results do not depend on `workers`.
    """
    if len(y) == 0:
        raise ValueError("bootstrap needs at least one row")
    problem = _Problem(y, scores, ece_bins, metrics)
    size = max(1, min(resamples, max_chunk_bytes // (problem.n * _BYTES_PER_CELL)))
    starts = list(range(0, resamples, size))
    seeds = np.random.SeedSequence(seed).spawn(len(starts))

    def run(i: int) -> np.ndarray:
        r = min(size, resamples - starts[i])
        draws = np.random.default_rng(seeds[i]).integers(0, 1 << 16, size=(r, problem.n), dtype=np.uint16)
        return problem.chunk(_TABLE[draws])

    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(run, range(len(starts))))
    else:
        parts = [run(i) for i in range(len(starts))]
    return np.concatenate(parts, axis=1)


def percentile_interval(values: np.ndarray, confidence: float) -> Interval:
    """Percentile interval; a NaN resample (one class drawn) makes it NaN, i.e. missing evidence."""
    if len(values) == 0 or np.isnan(values).any():
        return Interval(float("nan"), float("nan"))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return Interval(float(low), float(high))


def paired_bootstrap(
    y: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray | None,
    resamples: int,
    confidence: float,
    seed: int,
    ece_bins: int = 15,
    metrics: Sequence[str] = BOOTSTRAP_METRICS,
    workers: int = 1,
) -> dict[str, PairedEstimate]:
    """Point values and percentile intervals of the candidate and of (candidate - champion)."""
    scores = [candidate] if champion is None else [candidate, champion]
    draws = resample_metrics(y, scores, resamples, seed, ece_bins, metrics, workers=workers)
    points = [point_metrics(y, s, ece_bins, metrics) for s in scores]
    result: dict[str, PairedEstimate] = {}
    for j, metric in enumerate(BOOTSTRAP_METRICS):
        if metric not in metrics:
            continue
        cand = points[0][metric]
        champ = points[1][metric] if champion is not None else None
        result[metric] = PairedEstimate(
            metric=metric,
            candidate=cand,
            champion=champ,
            delta=None if champ is None else cand - champ,
            candidate_interval=percentile_interval(draws[0, :, j], confidence),
            delta_interval=None
            if champion is None
            else percentile_interval(draws[0, :, j] - draws[1, :, j], confidence),
        )
    return result
