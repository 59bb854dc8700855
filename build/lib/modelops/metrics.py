"""Pure classification metrics shared by train, evaluate, gate and monitor.

Scores are probabilities of the positive class. Functions return NaN instead of
raising when a metric is undefined (one class only), so callers can fail closed.
"""

import math

import numpy as np
from sklearn import metrics as skm

METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "accuracy", "positive_rate", "mean_score")
# Direction of "better" for each metric: +1 higher is better, -1 lower is better.
HIGHER_IS_BETTER = {
    "roc_auc": 1,
    "pr_auc": 1,
    "accuracy": 1,
    "log_loss": -1,
    "brier": -1,
    "ece": -1,
}


# Equal-width calibration bins: the one default of the gate, the monitor and training's evaluation.
ECE_BINS = 10


def _two_classes(y: np.ndarray) -> bool:
    return y.size > 0 and 0 < int(y.sum()) < y.size


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(skm.roc_auc_score(y, p)) if _two_classes(y) else math.nan


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(skm.average_precision_score(y, p)) if _two_classes(y) else math.nan


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    if y.size == 0:
        return math.nan
    return float(skm.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2)) if y.size else math.nan


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> list[dict[str, float]]:
    """Equal-width bins: count, mean predicted score and observed positive rate per bin."""
    idx = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(idx, minlength=bins)
    score_sum = np.bincount(idx, weights=p, minlength=bins)
    pos_sum = np.bincount(idx, weights=y.astype(np.float64), minlength=bins)
    rows = []
    for b in range(bins):
        n = int(count[b])
        rows.append(
            {
                "bin_low": b / bins,
                "bin_high": (b + 1) / bins,
                "count": n,
                "mean_score": float(score_sum[b] / n) if n else math.nan,
                "observed_rate": float(pos_sum[b] / n) if n else math.nan,
            }
        )
    return rows


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error: count-weighted |observed - predicted| over equal-width bins."""
    if y.size == 0:
        return math.nan
    idx = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(idx, minlength=bins)
    gap = np.abs(np.bincount(idx, weights=p, minlength=bins) - np.bincount(idx, weights=y, minlength=bins))
    return float(gap.sum() / count.sum())


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Every metric in METRICS for labels `y` (0/1) and scores `p`."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    return {
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "log_loss": log_loss(y, p),
        "brier": brier(y, p),
        "ece": ece(y, p),
        "accuracy": float(np.mean((p >= threshold) == y)) if y.size else math.nan,
        "positive_rate": float(y.mean()) if y.size else math.nan,
        "mean_score": float(p.mean()) if y.size else math.nan,
    }
