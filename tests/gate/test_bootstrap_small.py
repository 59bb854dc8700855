"""Small slices: resamples that draw one class are rejected, up to a share, not fatal at once."""

import numpy as np

from modelops.gate.bootstrap import MAX_UNDEFINED_SHARE, paired_bootstrap, percentile_interval


def test_a_few_undefined_resamples_are_rejected_not_fatal() -> None:
    values = np.linspace(0.0, 1.0, 1000)
    values[:10] = np.nan  # 1% of resamples drew one class
    interval = percentile_interval(values, 0.9)
    assert interval.finite
    assert interval.low > values[10]  # computed from the defined resamples only


def test_more_undefined_resamples_than_the_share_is_missing_evidence() -> None:
    values = np.linspace(0.0, 1.0, 1000)
    values[: int(1000 * MAX_UNDEFINED_SHARE) + 1] = np.nan
    assert not percentile_interval(values, 0.9).finite


def test_a_26_row_slice_with_few_positives_gets_a_finite_auc_interval() -> None:
    # 4 positives in 26 rows: about e^-4 = 1.8% of Poisson resamples draw no positive at all.
    rng = np.random.default_rng(3)
    y = np.zeros(26, dtype=np.int64)
    y[:4] = 1
    candidate = np.clip(0.3 * y + rng.uniform(0, 0.7, 26), 0, 1)
    champion = np.clip(0.3 * y + rng.uniform(0, 0.7, 26), 0, 1)
    est = paired_bootstrap(
        y, candidate, champion, resamples=1000, confidence=0.9, seed=7, metrics=("roc_auc",)
    )
    auc = est["roc_auc"]
    assert auc.candidate_interval.finite and auc.delta_interval is not None and auc.delta_interval.finite
    assert auc.candidate_interval.low <= auc.candidate <= auc.candidate_interval.high


def test_a_slice_with_a_single_positive_stays_missing_evidence() -> None:
    # e^-1 = 37% of resamples draw no positive: far beyond the share, too small to judge.
    y = np.zeros(26, dtype=np.int64)
    y[0] = 1
    scores = np.linspace(0.1, 0.9, 26)
    est = paired_bootstrap(
        y, scores, scores[::-1], resamples=1000, confidence=0.9, seed=7, metrics=("roc_auc",)
    )
    assert not est["roc_auc"].candidate_interval.finite
