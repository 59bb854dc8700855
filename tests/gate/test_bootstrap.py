"""The vectorised bootstrap against scikit-learn and against the statistics it must have."""

import numpy as np
import pytest
from sklearn import metrics as skm

from modelops import metrics
from modelops.gate.bootstrap import paired_bootstrap, point_metrics, resample_metrics


def _data(n: int = 3000, seed: int = 0, signal: float = 1.5, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(np.int64)
    p = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + signal * y - 1.5)))
    return y, (np.round(p, 2) if ties else p)


@pytest.mark.parametrize("ties", [False, True])
def test_point_metrics_match_sklearn(ties: bool) -> None:
    y, p = _data(ties=ties)
    got = point_metrics(y, p, ece_bins=10)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, p), abs=1e-12)
    assert got["brier"] == pytest.approx(skm.brier_score_loss(y, p), abs=1e-12)
    assert got["ece"] == pytest.approx(metrics.ece(y, p, bins=10), abs=1e-12)


def test_each_resample_is_a_weighted_metric() -> None:
    """Every resample equals scikit-learn's metric under that resample's Poisson weights."""
    from modelops.gate.bootstrap import _TABLE

    y, p = _data(n=500)
    draws = resample_metrics(y, [p], resamples=3, seed=5, max_chunk_bytes=1)  # one resample per chunk
    order = np.argsort(p, kind="stable")
    for i, child in enumerate(np.random.SeedSequence(5).spawn(3)):
        # Weights are drawn in score order (rows are exchangeable), as the module documents.
        w = np.empty(len(p))
        w[order] = _TABLE[np.random.default_rng(child).integers(0, 1 << 16, size=(1, 500), dtype=np.uint16)][
            0
        ]
        assert draws[0, i, 0] == pytest.approx(skm.roc_auc_score(y, p, sample_weight=w), abs=1e-9)
        assert draws[0, i, 1] == pytest.approx(skm.average_precision_score(y, p, sample_weight=w), abs=1e-6)
        assert draws[0, i, 3] == pytest.approx(skm.brier_score_loss(y, p, sample_weight=w), abs=1e-6)
    assert len(set(np.round(draws[0, :, 0], 12))) == 3


def test_poisson_weights_have_mean_and_variance_one() -> None:
    from modelops.gate.bootstrap import _TABLE

    assert _TABLE.mean() == pytest.approx(1.0, abs=1e-3)
    assert _TABLE.var() == pytest.approx(1.0, abs=2e-3)


def test_same_seed_same_result_whatever_the_workers() -> None:
    y, p = _data()
    a = resample_metrics(y, [p, p * 0.9], 200, seed=3, workers=1, max_chunk_bytes=3000 * 40 * 16)
    b = resample_metrics(y, [p, p * 0.9], 200, seed=3, workers=2, max_chunk_bytes=3000 * 40 * 16)
    np.testing.assert_array_equal(a, b)


def test_identical_models_give_a_zero_width_interval_containing_zero() -> None:
    y, p = _data()
    est = paired_bootstrap(y, p, p.copy(), resamples=300, confidence=0.95, seed=1)
    for e in est.values():
        assert e.delta == 0
        assert e.delta_interval is not None and e.delta_interval.contains(0.0)


def test_a_better_model_has_a_positive_auc_interval() -> None:
    y, weak = _data(signal=0.5)
    _, strong = _data(signal=2.5)
    est = paired_bootstrap(y, strong, weak, resamples=300, confidence=0.95, seed=1)["roc_auc"]
    assert est.delta is not None and est.delta > 0
    assert est.delta_interval is not None and est.delta_interval.low > 0
    assert est.candidate_interval.low < est.candidate < est.candidate_interval.high


def test_interval_width_shrinks_with_more_rows() -> None:
    widths = []
    for n in (500, 8000):
        y, p = _data(n=n)
        ci = paired_bootstrap(y, p, None, 300, 0.95, 1, metrics=("roc_auc",))["roc_auc"].candidate_interval
        widths.append(ci.high - ci.low)
    assert widths[1] < widths[0] / 2


def test_one_class_gives_nan_not_an_error() -> None:
    y = np.zeros(50, dtype=np.int64)
    p = np.linspace(0, 1, 50)
    est = paired_bootstrap(y, p, None, 100, 0.95, 1, metrics=("roc_auc",))["roc_auc"]
    assert np.isnan(est.candidate)
    assert not est.candidate_interval.finite
