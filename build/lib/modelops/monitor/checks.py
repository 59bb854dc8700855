"""Pure core of monitoring: rates, quality metrics and the decisions that turn numbers into alerts.

Nothing here reads files or calls Evidently; inputs are frames in the layout of
`logs.read_logs` / `logs.encode` and plain numbers taken from Evidently's result.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from modelops import metrics
from modelops.data.schema import FeatureSchema
from modelops.monitor.config import DriftRule, MonitoringConfig
from modelops.monitor.logs import INVALID


@dataclass(frozen=True)
class Drift:
    feature: str
    method: str
    score: float
    threshold: float

    @property
    def drifted(self) -> bool:
        return self.score >= self.threshold

    def as_dict(self) -> dict:
        return {**asdict(self), "drifted": self.drifted}


@dataclass(frozen=True)
class Rates:
    feature: str
    missing: float
    missing_reference: float
    out_of_range: float
    out_of_range_reference: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Quality:
    rows: int
    roc_auc: float | None
    ece: float
    positive_rate: float
    expected_positive_rate: float
    mean_score: float

    def as_dict(self) -> dict:
        return asdict(self)


def feature_rates(encoded: pd.DataFrame, schema: FeatureSchema) -> dict[str, tuple[float, float]]:
    """(missing rate, out-of-range rate) per feature; out of range counts wrong types too."""
    n = len(encoded)
    out: dict[str, tuple[float, float]] = {}
    for f in schema.features:
        values = encoded[f.name].to_numpy()
        invalid = encoded[INVALID + f.name].to_numpy()
        if f.kind == "numeric":
            empty = np.isnan(values)
            lo = -np.inf if f.min is None else f.min
            hi = np.inf if f.max is None else f.max
            outside = ~empty & ((values < lo) | (values > hi))
        else:
            empty = values < 0
            outside = np.zeros(n, dtype=bool)
        missing = empty & ~invalid
        bad = invalid | outside
        out[f.name] = (float(missing.mean()) if n else 0.0, float(bad.mean()) if n else 0.0)
    return out


def compare_rates(current: pd.DataFrame, reference: pd.DataFrame, schema: FeatureSchema) -> list[Rates]:
    cur, ref = feature_rates(current, schema), feature_rates(reference, schema)
    return [Rates(name, cur[name][0], ref[name][0], cur[name][1], ref[name][1]) for name in schema.names]


def quality(y: np.ndarray, p: np.ndarray, expected_rate: float, bins: int) -> Quality:
    """ROC AUC (None with a single class), ECE and positive rate of labelled predictions."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    auc = metrics.roc_auc(y, p)
    return Quality(
        rows=len(y),
        roc_auc=None if math.isnan(auc) else auc,
        ece=metrics.ece(y, p, bins),
        positive_rate=float(y.mean()),
        expected_positive_rate=float(expected_rate),
        mean_score=float(p.mean()),
    )


def drifts(scores: dict[str, float], rules: dict[str, DriftRule]) -> list[Drift]:
    return [Drift(name, rules[name].method, float(scores[name]), rules[name].threshold) for name in rules]


def drift_alerts(found: list[Drift], max_share: float, where: str) -> list[str]:
    """Alerts for drifted features, each by name, when their share exceeds `max_share`."""
    drifted = [d for d in found if d.drifted]
    if not found or len(drifted) / len(found) <= max_share:
        return []
    return [
        f"{where}feature drift: {d.feature} {d.method}={d.score:.3f} >= {d.threshold:g}"
        for d in sorted(drifted, key=lambda d: d.score / d.threshold, reverse=True)
    ]


def rate_alerts(rates: list[Rates], cfg: MonitoringConfig) -> list[str]:
    out = []
    for r in rates:
        up = r.missing - r.missing_reference
        if up > cfg.rates.missing_increase_max:
            out.append(
                f"missing values: {r.feature} {r.missing:.1%} vs {r.missing_reference:.1%} in reference "
                f"(+{up:.1%} > {cfg.rates.missing_increase_max:.1%})"
            )
        up = r.out_of_range - r.out_of_range_reference
        if up > cfg.rates.out_of_range_increase_max:
            out.append(
                f"out of range: {r.feature} {r.out_of_range:.1%} "
                f"vs {r.out_of_range_reference:.1%} in reference "
                f"(+{up:.1%} > {cfg.rates.out_of_range_increase_max:.1%})"
            )
    return out


def quality_alerts(
    q: Quality, cfg: MonitoringConfig, where: str = "", auc_min: float | None = None
) -> list[str]:
    c = cfg.quality
    floor = c.roc_auc_min if auc_min is None else auc_min
    out = []
    if q.roc_auc is not None and q.roc_auc < floor:
        out.append(f"{where}quality: ROC AUC {q.roc_auc:.3f} < {floor:g}")
    if q.ece > c.ece_max:
        out.append(f"{where}quality: calibration error (ECE) {q.ece:.3f} > {c.ece_max:g}")
    dev = q.positive_rate - q.expected_positive_rate
    if abs(dev) > c.positive_rate_deviation_max:
        out.append(
            f"{where}quality: positive rate {q.positive_rate:.1%} vs expected {q.expected_positive_rate:.1%} "
            f"(|{dev:+.1%}| > {c.positive_rate_deviation_max:.1%})"
        )
    return out
