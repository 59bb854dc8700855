import math

import numpy as np

from modelops.metrics import classification_metrics, ece, reliability_table


def test_perfectly_calibrated_bins_have_zero_ece() -> None:
    p = np.repeat([0.05, 0.55], 100)
    y = np.concatenate([np.r_[np.ones(5), np.zeros(95)], np.r_[np.ones(55), np.zeros(45)]])
    assert math.isclose(ece(y, p), 0.0, abs_tol=1e-12)


def test_ece_is_weighted_gap() -> None:
    p = np.full(10, 0.9)
    y = np.r_[np.ones(5), np.zeros(5)]
    assert math.isclose(ece(y, p), 0.4)
    table = reliability_table(y, p)
    assert table[9]["count"] == 10 and math.isclose(table[9]["observed_rate"], 0.5)


def test_single_class_gives_nan_not_an_exception() -> None:
    m = classification_metrics(np.zeros(20), np.linspace(0, 1, 20))
    assert math.isnan(m["roc_auc"]) and math.isnan(m["pr_auc"])
    assert m["positive_rate"] == 0.0


def test_metrics_track_quality() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    good = np.clip(y * 0.6 + rng.random(2000) * 0.4, 0, 1)
    noise = rng.random(2000)
    assert classification_metrics(y, good)["roc_auc"] > 0.9 > classification_metrics(y, noise)["roc_auc"]
