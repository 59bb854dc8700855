"""Paired Poisson bootstrap of classification metrics: one fused, compiled pass per resample.

Each resample gives every row a Poisson(1) weight (the Poisson bootstrap: the
large-n limit of multinomial resampling). The same weights score every model, so
metric differences are paired, and every group of rows (the aggregate and each
slice) takes its rows' weights from that one draw: restricted to a slice, iid
Poisson(1) weights are exactly a Poisson bootstrap of the slice.

The work is a numba kernel parallel over resamples (`prange`): a resample draws its
weights once into a small buffer (one byte per row, per thread), then each model
makes one pass over its rows in descending score order and accumulates, for the
aggregate and every slice at the same time, the weighted ROC AUC (ties count half),
average precision, log loss, Brier score and the binned calibration gaps. Memory is
bounded by threads x rows bytes plus the per-model row arrays; there is no
resamples x rows matrix and no Python loop over resamples.

Weights are a pure function of (seed, resample, position): a resample's key comes
from `SeedSequence(seed)`, and position j of the resample's weight stream is the
inverse Poisson CDF of one 32-bit half of SplitMix64(key, j // 2) (a counter-based
generator). Results therefore do not depend on the thread count or scheduling.
Positions are the rows in the first model's score order (rows are exchangeable
under iid weights), so that model reads its weights sequentially.

Point estimates run the same kernel with every weight 1; counts and the AUC
numerator are exact integers, losses are float64 sums.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from modelops.metrics import ECE_BINS

BOOTSTRAP_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece")
HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "log_loss": False, "brier": False, "ece": False}
_EPS = 1e-15
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
# Label in bit 0; bit 1 set when a row's score equals the previous row's (same tie group).
_POSITIVE, _TIED = 1, 2
_MAX_GROUPS = np.iinfo(np.int16).max


def _poisson_thresholds() -> np.ndarray:
    """T_k = round(2**32 * P(K <= k)) for K ~ Poisson(1); a uniform 32-bit u gives K = #{k: u >= T_k}.

    Thresholds that round to 2**32 can never be reached and are dropped (K <= 12, whose
    tail mass is below 2**-32).
    """
    cdf = np.array([math.fsum(math.exp(-1) / math.factorial(j) for j in range(k + 1)) for k in range(20)])
    scaled = np.round(cdf * 2.0**32)
    return scaled[scaled < 2.0**32].astype(np.uint64)


_THRESHOLDS = _poisson_thresholds()


def _jit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """`njit` with fastmath off and an on-disk cache, falling back to no cache when nowhere is writable."""

    def wrap(fn: Callable[..., Any]) -> Any:
        try:
            return njit(cache=True, error_model="numpy", **options)(fn)
        except RuntimeError:  # no cache locator: read-only install without a writable cache dir
            return njit(error_model="numpy", **options)(fn)

    return wrap


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


def score_order(p: np.ndarray) -> np.ndarray:
    """Rows by descending score (ties in row order): the kernel's pass order; the first model's is
    also the position order of the weight stream."""
    return np.argsort(p, kind="stable")[::-1].copy()


def resample_keys(seed: int, resamples: int) -> np.ndarray:
    """One 64-bit generator key per resample."""
    return np.random.SeedSequence(seed).generate_state(resamples, dtype=np.uint64)


def poisson_weights(key: int | np.uint64, n: int) -> np.ndarray:
    """Reference (pure numpy) of one resample's weight stream: the kernel draws exactly these."""
    z = np.uint64(key) + np.arange(1, (n + 1) // 2 + 1, dtype=np.uint64) * _GAMMA
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    u = np.empty(2 * len(z), dtype=np.uint64)
    u[0::2], u[1::2] = z & _LOW32, z >> _S32
    return np.searchsorted(_THRESHOLDS, u[:n], side="right").astype(np.uint8)


@_jit()
def _poisson(u: np.uint64, thresholds: np.ndarray) -> np.uint8:
    k = 0
    for t in range(thresholds.shape[0]):
        k += u >= thresholds[t]
    return np.uint8(k)


@_jit()
def _fill_weights(key: np.uint64, thresholds: np.ndarray, out: np.ndarray) -> None:
    n = out.shape[0]
    for i in range((n + 1) // 2):
        z = key + np.uint64(i + 1) * _GAMMA
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
        z = z ^ (z >> _S31)
        out[2 * i] = _poisson(z & _LOW32, thresholds)
        if 2 * i + 1 < n:
            out[2 * i + 1] = _poisson(z >> _S32, thresholds)


@_jit()
def _one_pass(
    w: np.ndarray,
    gather: np.ndarray,
    flags: np.ndarray,
    bins: np.ndarray,
    loss: np.ndarray,
    resid: np.ndarray,
    members: np.ndarray,
    want_loss: np.ndarray,
    n_bins: int,
    want_ap: bool,
    out: np.ndarray,
) -> None:
    """One model, one resample: every metric of every group, rows in descending score order.

    Groups whose `want_loss` is False (slices judged on a ranking metric) skip the loss
    and calibration sums; their loss metrics come out NaN.
    """
    n, n_cols = members.shape
    n_groups = want_loss.shape[0]
    # Per group: positives, negatives, positives and negatives in the current tie group,
    # 2 x AUC numerator (ties count half, so it stays an integer), current tie group id.
    cnt = np.zeros((n_groups, 6), np.int64)
    cnt[:, 5] = -1
    sums = np.zeros((n_groups, 2))  # weighted log loss, weighted Brier
    gaps = np.zeros((n_groups, n_bins))  # weighted (p - y) per calibration bin
    ap = np.zeros(n_groups)  # sum over thresholds of (positives at the threshold) x precision
    tie = -1
    for k in range(n):
        f = flags[k]
        if f & _TIED == 0:
            tie += 1
        wk = np.int64(w[gather[k]])
        wf = np.float64(wk)
        # Branch-free on the label (unpredictable); a zero weight adds exactly nothing.
        wp = wk * np.int64(f & _POSITIVE)
        wn = wk - wp
        lk = wf * loss[k]
        rk = resid[k]
        bk = bins[k]
        for c in range(n_cols + 1):
            g = 0 if c == 0 else np.int64(members[k, c - 1])
            if g < 0:
                continue
            if cnt[g, 5] != tie:
                # The group's previous tie group is complete: one precision-recall step.
                if want_ap and cnt[g, 2] > 0:
                    ap[g] += cnt[g, 2] * (cnt[g, 0] / (cnt[g, 0] + cnt[g, 1]))
                cnt[g, 2] = 0
                cnt[g, 3] = 0
                cnt[g, 5] = tie
            # A positive pairs with the tied negatives already seen (half each, x2); a negative
            # with the positives strictly above (1, x2) and the tied ones seen (half, x2).
            cnt[g, 4] += wp * cnt[g, 3] + wn * (2 * cnt[g, 0] - cnt[g, 2])
            cnt[g, 0] += wp
            cnt[g, 1] += wn
            cnt[g, 2] += wp
            cnt[g, 3] += wn
            if want_loss[g]:
                sums[g, 0] += lk
                sums[g, 1] += wf * rk * rk
                gaps[g, bk] += wf * rk
    for g in range(n_groups):
        pos = cnt[g, 0]
        neg = cnt[g, 1]
        total = pos + neg
        if want_ap and cnt[g, 2] > 0:
            ap[g] += cnt[g, 2] * (pos / total)
        out[g, :] = np.nan
        if pos > 0 and neg > 0:
            out[g, 0] = cnt[g, 4] / (2.0 * pos * neg)
        if want_ap and pos > 0:
            out[g, 1] = ap[g] / pos
        if total > 0 and want_loss[g]:
            out[g, 2] = sums[g, 0] / total
            out[g, 3] = sums[g, 1] / total
            gap = 0.0
            for b in range(n_bins):
                gap += abs(gaps[g, b])
            out[g, 4] = gap / total


@_jit(parallel=True)
def _kernel(
    keys: np.ndarray,
    unit: bool,
    thresholds: np.ndarray,
    gathers: np.ndarray,
    flags: np.ndarray,
    bins: np.ndarray,
    loss: np.ndarray,
    resid: np.ndarray,
    members: np.ndarray,
    want_loss: np.ndarray,
    n_bins: int,
    want_ap: bool,
    out: np.ndarray,
) -> None:
    """out[model, resample, group, metric]; resample r uses weight stream keys[r] (or all ones)."""
    n_models, n = flags.shape
    for r in prange(keys.shape[0]):
        w = np.empty(n, np.uint8)
        if unit:
            w[:] = 1
        else:
            _fill_weights(keys[r], thresholds, w)
        for m in range(n_models):
            _one_pass(
                w,
                gathers[m],
                flags[m],
                bins[m],
                loss[m],
                resid[m],
                members[m],
                want_loss,
                n_bins,
                want_ap,
                out[m, r],
            )


class _Problem:
    """Every model's rows in its descending score order, arranged for the kernel (built once)."""

    def __init__(
        self,
        y: np.ndarray,
        scores: Sequence[np.ndarray],
        ece_bins: int,
        group_metrics: Sequence[Sequence[str]],
        groups: np.ndarray | None = None,
    ) -> None:
        """`group_metrics[g]`: the metrics wanted for group g (0: every row; see `groups`)."""
        y = np.asarray(y, dtype=np.int64)
        n_groups = len(group_metrics)
        n = len(y)
        if n == 0:
            raise ValueError("bootstrap needs at least one row")
        if not 1 <= ece_bins <= 255:
            raise ValueError(f"ece_bins must be in 1..255, got {ece_bins}")
        if not 1 <= n_groups <= _MAX_GROUPS:
            raise ValueError(f"n_groups must be in 1..{_MAX_GROUPS}, got {n_groups}")
        members = np.empty((n, 0), np.int16) if groups is None else np.asarray(groups, dtype=np.int16)
        if members.ndim != 2 or len(members) != n:
            raise ValueError("groups must be a (rows, columns) array of group ids (-1: none)")
        if members.size and (members.max() >= n_groups or members.min() < -1 or (members == 0).any()):
            raise ValueError("group ids must be -1 (no group) or in 1..n_groups-1 (0 is the aggregate)")
        ps = [np.asarray(s, dtype=np.float64) for s in scores]
        m = len(ps)
        self.n, self.n_groups, self.ece_bins = n, n_groups, ece_bins
        # wanted[g, j]: metric j is reported for group g (the others come out NaN).
        self.wanted = np.array([[k in gm for k in BOOTSTRAP_METRICS] for gm in group_metrics], dtype=bool)
        self.want_loss = self.wanted[:, 2:].any(axis=1)
        self.want_ap = bool(self.wanted[:, 1].any())
        self.valid = np.array([bool(np.isfinite(p).all()) for p in ps])
        self.gathers = np.empty((m, n), np.int32 if n < 2**31 else np.int64)
        self.flags = np.empty((m, n), np.uint8)
        self.bins = np.empty((m, n), np.uint8)
        self.loss = np.empty((m, n))
        self.resid = np.empty((m, n))
        self.members = np.empty((m, n, members.shape[1]), np.int16)
        base_pos = np.empty(n, dtype=np.int64)
        for i, p in enumerate(ps):
            p = np.nan_to_num(p, nan=0.0)
            order = score_order(p)
            if i == 0:
                base_pos[order] = np.arange(n)
            self.gathers[i] = base_pos[order]
            sorted_p, sorted_y = p[order], y[order]
            tied = np.r_[False, sorted_p[1:] == sorted_p[:-1]]
            self.flags[i] = (sorted_y == 1) * _POSITIVE + tied * _TIED
            self.bins[i] = ece_bin_index(sorted_p, ece_bins)
            clipped = np.clip(sorted_p, _EPS, 1 - _EPS)
            self.loss[i] = -(sorted_y * np.log(clipped) + (1 - sorted_y) * np.log(1 - clipped))
            self.resid[i] = sorted_p - sorted_y
            self.members[i] = members[order]

    def run(self, keys: np.ndarray | None, workers: int = 1) -> np.ndarray:
        """(models, resamples, groups, metrics in BOOTSTRAP_METRICS order); keys None: every weight 1."""
        unit = keys is None
        keys = np.zeros(1, np.uint64) if keys is None else np.asarray(keys, dtype=np.uint64)
        out = np.empty((len(self.valid), len(keys), self.n_groups, len(BOOTSTRAP_METRICS)))
        previous = numba.get_num_threads()
        numba.set_num_threads(max(1, min(workers, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
        try:
            # Dynamic scheduling in small chunks: a thread slowed by a noisy neighbour does not
            # hold up the others. Results do not depend on it (each resample has its own key).
            with numba.parallel_chunksize(4):
                _kernel(
                    keys,
                    unit,
                    _THRESHOLDS,
                    self.gathers,
                    self.flags,
                    self.bins,
                    self.loss,
                    self.resid,
                    self.members,
                    self.want_loss,
                    self.ece_bins,
                    self.want_ap,
                    out,
                )
        finally:
            numba.set_num_threads(previous)
        out[~self.valid] = np.nan  # a non-finite score: every metric of that model is missing evidence
        out[:, :, ~self.wanted] = np.nan
        return out


def point_metrics(
    y: np.ndarray, p: np.ndarray, ece_bins: int = ECE_BINS, metrics: Sequence[str] = BOOTSTRAP_METRICS
) -> dict[str, float]:
    """The metrics on the full set (every weight 1); the same code path as the resamples."""
    values = _Problem(y, [p], ece_bins, [metrics]).run(None)[0, 0, 0]
    return {k: float(v) for k, v in zip(BOOTSTRAP_METRICS, values, strict=True) if k in metrics}


def resample_metrics(
    y: np.ndarray,
    scores: Sequence[np.ndarray],
    resamples: int,
    seed: int,
    ece_bins: int = ECE_BINS,
    metrics: Sequence[str] = BOOTSTRAP_METRICS,
    workers: int = 1,
) -> np.ndarray:
    """Metric values per (model, resample, metric in BOOTSTRAP_METRICS order); paired across models.

    Memory is bounded by `workers` x rows bytes of weights, whatever `resamples` is;
    results do not depend on `workers`.
    """
    problem = _Problem(y, scores, ece_bins, [metrics])
    return problem.run(resample_keys(seed, resamples), workers)[:, :, 0, :]


# A resample that draws only one class leaves ROC AUC undefined. On a slice of a few dozen rows a
# handful of the 1,000 resamples do, so such resamples are rejected (the interval is then the
# bootstrap distribution given both classes, as a stratified bootstrap would draw); beyond this
# share the slice is too small to judge and the interval is missing evidence.
MAX_UNDEFINED_SHARE = 0.05


def percentile_interval(values: np.ndarray, confidence: float) -> Interval:
    """Percentile interval over the defined resamples; NaN (missing evidence) when too few are."""
    defined = values[~np.isnan(values)]
    if len(values) == 0 or len(defined) < (1 - MAX_UNDEFINED_SHARE) * len(values):
        return Interval(float("nan"), float("nan"))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(defined, [alpha, 1 - alpha])
    return Interval(float(low), float(high))


def paired_bootstrap_groups(
    y: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray | None,
    groups: np.ndarray | None,
    group_metrics: Sequence[Sequence[str]],
    resamples: int,
    confidence: float,
    seed: int,
    ece_bins: int = ECE_BINS,
    workers: int = 1,
) -> list[dict[str, PairedEstimate]]:
    """Estimates for the aggregate (group 0) and every group of rows, from one set of resamples.

    `groups` is a (rows, columns) int array: each column assigns a row to at most one
    group (an id in 1..len(group_metrics)-1) or to none (-1), so a row can be in one
    group per column (a column per configured slice: a partition or a single mask).
    `group_metrics[g]` lists the metrics reported for group g.
    """
    scores = [candidate] if champion is None else [candidate, champion]
    problem = _Problem(y, scores, ece_bins, group_metrics, groups)
    draws = problem.run(resample_keys(seed, resamples), workers)
    points = problem.run(None)[:, 0]
    out: list[dict[str, PairedEstimate]] = []
    for g, metrics in enumerate(group_metrics):
        result: dict[str, PairedEstimate] = {}
        for j, metric in enumerate(BOOTSTRAP_METRICS):
            if metric not in metrics:
                continue
            cand = float(points[0, g, j])
            champ = None if champion is None else float(points[1, g, j])
            result[metric] = PairedEstimate(
                metric=metric,
                candidate=cand,
                champion=champ,
                delta=None if champ is None else cand - champ,
                candidate_interval=percentile_interval(draws[0, :, g, j], confidence),
                delta_interval=None
                if champion is None
                else percentile_interval(draws[0, :, g, j] - draws[1, :, g, j], confidence),
            )
        out.append(result)
    return out


def paired_bootstrap(
    y: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray | None,
    resamples: int,
    confidence: float,
    seed: int,
    ece_bins: int = ECE_BINS,
    metrics: Sequence[str] = BOOTSTRAP_METRICS,
    workers: int = 1,
) -> dict[str, PairedEstimate]:
    """Point values and percentile intervals of the candidate and of (candidate - champion)."""
    return paired_bootstrap_groups(
        y, candidate, champion, None, [metrics], resamples, confidence, seed, ece_bins, workers
    )[0]
