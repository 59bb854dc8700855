"""The compiled bootstrap against scikit-learn and against the statistics it must have."""

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from modelops import metrics
from modelops.gate.bootstrap import (
    _THRESHOLDS,
    BOOTSTRAP_METRICS,
    _fill_weights,
    paired_bootstrap,
    paired_bootstrap_groups,
    point_metrics,
    poisson_weights,
    resample_keys,
    resample_metrics,
    score_order,
)


def _data(n: int = 3000, seed: int = 0, signal: float = 1.5, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(np.int64)
    p = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + signal * y - 1.5)))
    return y, (np.round(p, 2) if ties else p)


def _groups(n: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """Two slice columns: a mask (group 1) and a partition with a missing share (groups 2-4)."""
    rng = np.random.default_rng(seed)
    groups = np.full((n, 2), -1, dtype=np.int16)
    groups[rng.random(n) < 0.3, 0] = 1
    groups[:, 1] = rng.choice([2, 3, 4, -1], size=n, p=[0.4, 0.3, 0.25, 0.05])
    return groups, 5


def _weighted_ece(y: np.ndarray, p: np.ndarray, w: np.ndarray, bins: int) -> float:
    idx = np.minimum((p * bins).astype(np.int64), bins - 1)
    gap = np.bincount(idx, weights=w * (p - y), minlength=bins)
    return float(np.abs(gap).sum() / w.sum())


def _sklearn(y: np.ndarray, p: np.ndarray, w: np.ndarray, bins: int) -> np.ndarray:
    """The reference: every metric under sample weights, in BOOTSTRAP_METRICS order."""
    keep = w > 0
    return np.array(
        [
            skm.roc_auc_score(y[keep], p[keep], sample_weight=w[keep]),
            skm.average_precision_score(y[keep], p[keep], sample_weight=w[keep]),
            skm.log_loss(y[keep], p[keep], sample_weight=w[keep]),
            skm.brier_score_loss(y[keep], p[keep], sample_weight=w[keep]),
            _weighted_ece(y, p, w, bins),
        ]
    )


@pytest.mark.parametrize("ties", [False, True])
def test_point_metrics_match_sklearn(ties: bool) -> None:
    y, p = _data(ties=ties)
    got = point_metrics(y, p, ece_bins=10)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, p), abs=1e-12)
    assert got["brier"] == pytest.approx(skm.brier_score_loss(y, p), abs=1e-12)
    assert got["ece"] == pytest.approx(metrics.ece(y, p, bins=10), abs=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_each_resample_of_every_group_and_model_is_a_weighted_metric(ties: bool) -> None:
    """Every (model, resample, group) equals scikit-learn's metric under that resample's weights."""
    y, p = _data(n=1500, ties=ties)
    _, q = _data(n=1500, seed=1, signal=0.8, ties=ties)
    groups, n_groups = _groups(len(y))
    keys = resample_keys(7, 3)
    from modelops.gate.bootstrap import _Problem

    problem = _Problem(y, [p, q], 10, [BOOTSTRAP_METRICS] * n_groups, groups)
    draws = problem.run(keys, workers=2)
    # The weight stream runs over the rows in the first model's score order.
    order = score_order(p)
    masks = [np.ones(len(y), bool)] + [(groups == g).any(axis=1) for g in range(1, n_groups)]
    for r, key in enumerate(keys):
        w = np.empty(len(y))
        w[order] = poisson_weights(key, len(y))
        for m, s in enumerate((p, q)):
            for g, mask in enumerate(masks):
                want = _sklearn(y[mask], s[mask], w[mask], 10)
                np.testing.assert_allclose(draws[m, r, g], want, rtol=0, atol=1e-12)
    assert len(set(np.round(draws[0, :, 0, 0], 12))) == 3


def test_unit_weight_groups_equal_the_metrics_of_their_rows() -> None:
    y, p = _data(n=2000, ties=True)
    groups, n_groups = _groups(len(y), seed=3)
    est = paired_bootstrap_groups(
        y, p, None, groups, [BOOTSTRAP_METRICS] * n_groups, 100, 0.95, 1, ece_bins=10
    )
    for g in range(1, n_groups):
        mask = (groups == g).any(axis=1)
        want = _sklearn(y[mask], p[mask], np.ones(mask.sum()), 10)
        got = [est[g][k].candidate for k in BOOTSTRAP_METRICS]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_kernel_weights_are_the_reference_stream_and_poisson_one() -> None:
    out = np.empty(100_001, np.uint8)  # odd: the last row uses half a 64-bit draw
    key = resample_keys(11, 1)[0]
    _fill_weights(key, _THRESHOLDS, out)
    np.testing.assert_array_equal(out, poisson_weights(key, len(out)))
    w = poisson_weights(resample_keys(12, 1)[0], 1_000_000).astype(np.float64)
    assert w.mean() == pytest.approx(1.0, abs=5e-3)
    assert w.var() == pytest.approx(1.0, abs=5e-3)
    for k in range(4):
        assert (w == k).mean() == pytest.approx(math.exp(-1) / math.factorial(k), abs=2e-3)


def test_same_seed_same_result_whatever_the_threads() -> None:
    y, p = _data()
    a = resample_metrics(y, [p, p * 0.9], 200, seed=3, workers=1)
    b = resample_metrics(y, [p, p * 0.9], 200, seed=3, workers=2)
    np.testing.assert_array_equal(a, b)
    # A prefix of the resamples does not depend on how many follow.
    np.testing.assert_array_equal(resample_metrics(y, [p], 50, seed=3)[0], a[0, :50])


def test_distribution_matches_a_reference_poisson_bootstrap() -> None:
    """Mean and spread of the resampled AUC and Brier match numpy Poisson weights + scikit-learn."""
    y, p = _data(n=2000)
    _, q = _data(n=2000, seed=1, signal=0.8)
    draws = resample_metrics(y, [p, q], 400, seed=1)
    rng = np.random.default_rng(99)
    ref = []
    for _ in range(400):
        w = rng.poisson(1.0, len(y)).astype(np.float64)
        ref.append(
            [
                skm.roc_auc_score(y, p, sample_weight=w),
                skm.roc_auc_score(y, p, sample_weight=w) - skm.roc_auc_score(y, q, sample_weight=w),
                skm.brier_score_loss(y, p, sample_weight=w),
            ]
        )
    ref_arr = np.array(ref)
    ours = np.stack([draws[0, :, 0], draws[0, :, 0] - draws[1, :, 0], draws[0, :, 3]], axis=1)
    sd = ref_arr.std(axis=0)
    assert np.all(np.abs(ours.mean(axis=0) - ref_arr.mean(axis=0)) < 0.3 * sd)
    np.testing.assert_allclose(ours.std(axis=0), sd, rtol=0.15)


def test_identical_models_give_an_exactly_zero_interval() -> None:
    y, p = _data()
    groups, n_groups = _groups(len(y))
    est = paired_bootstrap_groups(
        y, p, p.copy(), groups, [BOOTSTRAP_METRICS] * n_groups, 300, 0.95, 1, ece_bins=10
    )
    for group in est:
        for e in group.values():
            assert e.delta == 0
            assert e.delta_interval is not None
            assert (e.delta_interval.low, e.delta_interval.high) == (0.0, 0.0)


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


def test_a_non_finite_score_is_missing_evidence() -> None:
    y, p = _data(n=500)
    bad = p.copy()
    bad[3] = np.nan
    est = paired_bootstrap(y, p, bad, 100, 0.95, 1)
    for e in est.values():
        assert e.champion is not None and np.isnan(e.champion)
        assert e.delta_interval is not None and not e.delta_interval.finite
        assert e.candidate_interval.finite
