"""Latency decisions on synthetic timings: noise never fails a candidate, a real slowdown does."""

import numpy as np
import pytest

from modelops.gate import latency, report

ROUNDS, CALLS = 30, 20


def _times(ms: float, rounds: int = ROUNDS, jitter: float = 0.05, seed: int = 0) -> np.ndarray:
    """Seconds per call: `ms` with multiplicative jitter, shape (rounds, calls)."""
    rng = np.random.default_rng(seed)
    return ms / 1000 * (1 + jitter * rng.random((rounds, CALLS)))


def _load(times: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """The same per-round slowdown on whatever ran in that round (the runner's other work)."""
    return times * factors[:, None]


def test_round_p95_and_spread() -> None:
    t = np.tile(np.arange(1, 21) / 1000, (3, 1))
    assert np.allclose(latency.round_p95_ms(t), np.percentile(np.arange(1, 21), 95))
    assert latency.spread(np.array([1.0, 1.0, 1.0])) == 0.0
    assert latency.spread(np.array([1.0, 2.0, 3.0, 4.0, 5.0])) == pytest.approx((4.6 - 1.4) / 3)


def test_against_limit_fails_only_when_the_whole_interval_is_beyond() -> None:
    assert latency.against_limit(1.0, (0.9, 1.1), 1.5) == "pass"
    assert latency.against_limit(1.6, (1.55, 1.7), 1.5) == "fail"
    assert latency.against_limit(1.4, (1.2, 1.6), 1.5) == "inconclusive"


def test_same_model_under_heavy_shared_load_passes_the_ratio() -> None:
    # Both models slowed alike in each round (interleaved): up to 20x in some rounds.
    factors = np.random.default_rng(1).choice([1.0, 3.0, 20.0], size=ROUNDS)
    cand, champ = _load(_times(2.0, seed=2), factors), _load(_times(2.0, seed=3), factors)
    (ratio,) = latency.judge_workload("single_row", cand, champ, None, 1.5)
    assert ratio.outcome == "pass" and 0.9 < ratio.value < 1.1  # type: ignore[operator]


def test_a_three_times_slower_candidate_fails_the_ratio_on_a_calm_runner() -> None:
    budget, ratio = latency.judge_workload("single_row", _times(6.0, seed=4), _times(2.0, seed=5), 50, 1.5)
    assert budget.outcome == "pass"
    assert ratio.outcome == "fail" and ratio.interval[0] > 1.5  # type: ignore[index]
    assert "beyond 1.5x" in ratio.message


def test_budget_breach_fails_on_a_calm_runner_but_is_inconclusive_when_overloaded() -> None:
    (budget,) = latency.judge_workload("batch_1000", _times(300.0), None, 250, 1.5)
    assert budget.outcome == "fail"
    calm = np.full(ROUNDS, 0.001) * (1 + 0.01 * np.random.default_rng(0).random(ROUNDS))
    assert latency.overloaded(calm, None, 3.0, 3.0) is None
    assert latency.settle([budget], None) == [budget]
    busy = np.where(np.arange(ROUNDS) % 2 == 0, 0.001, 0.008)
    why = latency.overloaded(busy, None, 3.0, 3.0)
    assert why is not None and "calibration loop" in why
    (settled,) = latency.settle([budget], why)
    assert settled.outcome == "inconclusive" and "runner overloaded" in settled.message


def test_a_champion_that_disagrees_with_itself_marks_the_runner_overloaded() -> None:
    calm = np.full(ROUNDS, 0.001)
    steady = latency.round_p95_ms(_times(2.0))
    wild = latency.round_p95_ms(_load(_times(2.0), np.geomspace(1, 50, ROUNDS)))
    assert latency.overloaded(calm, steady, 3.0, 3.0) is None
    assert "champion" in (latency.overloaded(calm, wild, 3.0, 3.0) or "")


def test_retry_until_every_limit_passes() -> None:
    passing = latency.judge_workload("single_row", _times(2.0), _times(2.0, seed=9), 50, 1.5)
    assert not latency.needs_retry(passing)
    rounds_either_side = _load(_times(40.0), np.where(np.arange(ROUNDS) % 2 == 0, 1.0, 1.5))
    straddling = latency.judge_workload("single_row", rounds_either_side, None, 50, None)
    assert [d.outcome for d in straddling] == ["inconclusive"] and latency.needs_retry(straddling)


def test_inconclusive_latency_is_a_warning_not_a_failure() -> None:
    decision = latency.Decision(
        "single_row_p95_ms <= 50", "inconclusive", 49.0, (45.0, 55.0), 50, "straddles"
    )
    (check,) = report.latency_checks([decision])
    assert check.status == "warn" and not check.failed and check.message.startswith("inconclusive")
    assert report.report_warnings([check]) == [f"latency {check.name}: {check.message}"]


class _Model:
    """A stand-in that counts predict_proba calls."""

    def __init__(self) -> None:
        self.calls = 0

    def predict_proba(self, X):  # type: ignore[no-untyped-def]
        self.calls += 1
        return np.zeros((len(X), 2))


def test_measure_interleaves_both_models_every_round() -> None:
    import pandas as pd

    cand, champ = _Model(), _Model()
    timings = latency.measure(cand, champ, pd.DataFrame({"x": range(50)}), rounds=4, calls=5)
    assert timings.candidate["single_row"].shape == (4, 5) and timings.champion["single_row"].shape == (4, 5)  # type: ignore[index]
    assert timings.candidate["batch_1000"].shape == (4, 3) and timings.calibration.shape == (4,)
    assert cand.calls == champ.calls == 2 + 4 * (5 + 3)  # warm-up + rounds x (singles + batches)
