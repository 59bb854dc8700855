"""Prediction latency judged without noise: candidate and champion timed interleaved, in rounds.

Measuring (`measure`) is the only impure part. Each round times both models back to back on
the same rows (the order alternates between rounds), so whatever else the runner is doing
hits both alike; a fixed calibration loop timed every round shows how disturbed the machine is.

Deciding (`judge_workload`, `overloaded`) is pure, over the recorded timings:
- each round gives one p95 per model; the candidate's estimate is the median of its round p95s,
  with a percentile-bootstrap interval over rounds;
- the ratio is the median of the per-round ratios candidate p95 / champion p95 (paired by
  round), with a percentile-bootstrap interval;
- a limit fails only when the whole interval is beyond it, passes when the whole interval is
  within it, and is "inconclusive" otherwise. On an overloaded runner nothing fails: a failure
  there could be the noise, so it is reported as inconclusive (the gate measures again first).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

BATCH = 1000
Outcome = Literal["pass", "fail", "inconclusive"]
WORKLOADS = ("single_row", "batch_1000")
_CALIBRATION_N = 20_000


@dataclass(frozen=True)
class Timings:
    """Seconds per call, shape (rounds, calls), for each workload; calibration seconds per round."""

    candidate: dict[str, np.ndarray]
    champion: dict[str, np.ndarray] | None
    calibration: np.ndarray


@dataclass(frozen=True)
class Decision:
    name: str
    outcome: Outcome
    value: float | None
    interval: tuple[float, float] | None
    limit: float
    message: str


# ------------------------------------------------------------------ measuring (impure)


def _calibration_loop() -> float:
    """A fixed amount of pure-Python work: its time varies only with the machine's load."""
    start = time.perf_counter()
    total = 0
    for i in range(_CALIBRATION_N):
        total += i * i
    return time.perf_counter() - start


def _time_calls(call: Callable[[int], Any], calls: int) -> np.ndarray:
    out = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter()
        call(i)
        out[i] = time.perf_counter() - start
    return out


def measure(candidate: Any, champion: Any | None, X: pd.DataFrame, rounds: int, calls: int) -> Timings:
    """Time predict_proba on single rows and on a 1,000-row batch, both models interleaved per round."""
    if len(X) == 0:
        raise ValueError("no rows to time")
    # Rows are sliced beforehand so the timing covers the model, not pandas indexing.
    singles = [X.iloc[[i % len(X)]] for i in range(calls)]
    batch = X.iloc[np.arange(BATCH) % len(X)]
    batch_calls = max(3, calls // 5)
    models = {"candidate": candidate} | ({"champion": champion} if champion is not None else {})
    work: dict[str, Callable[[Any], Callable[[int], Any]]] = {
        "single_row": lambda m: lambda i: m.predict_proba(singles[i]),
        "batch_1000": lambda m: lambda i: m.predict_proba(batch),
    }
    for model in models.values():  # warm-up: first calls pay for lazy imports and caches
        model.predict_proba(singles[0])
        model.predict_proba(batch)
    out: dict[str, dict[str, list[np.ndarray]]] = {k: {w: [] for w in WORKLOADS} for k in models}
    calibration = np.empty(rounds)
    for r in range(rounds):
        calibration[r] = _calibration_loop()
        order = list(models) if r % 2 == 0 else list(reversed(models))
        for workload, n in (("single_row", calls), ("batch_1000", batch_calls)):
            for key in order:
                out[key][workload].append(_time_calls(work[workload](models[key]), n))
    stacked = {k: {w: np.vstack(v) for w, v in per.items()} for k, per in out.items()}
    return Timings(stacked["candidate"], stacked.get("champion"), calibration)


# ------------------------------------------------------------------ deciding (pure)


def round_p95_ms(times: np.ndarray) -> np.ndarray:
    """One p95 per round (rows of `times`), in milliseconds."""
    return np.percentile(np.asarray(times, dtype=np.float64), 95, axis=1) * 1000.0


def spread(values: np.ndarray) -> float:
    """(p90 - p10) / median: how much the rounds disagree, robust to a single preempted round."""
    values = np.asarray(values, dtype=np.float64)
    median = float(np.median(values))
    if median <= 0:
        return float("inf")
    p10, p90 = np.percentile(values, [10, 90])
    return float((p90 - p10) / median)


def calibration_spread(calibration: np.ndarray) -> float:
    """p90 / p10 of the calibration loop's round times (1.0 on an idle machine)."""
    p10, p90 = np.percentile(np.asarray(calibration, dtype=np.float64), [10, 90])
    return float(p90 / p10) if p10 > 0 else float("inf")


def median_interval(
    values: np.ndarray, confidence: float, resamples: int = 2000, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """Median and its percentile-bootstrap interval over the rounds."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(resamples, len(values)))
    medians = np.median(values[idx], axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.percentile(medians, [100 * alpha, 100 * (1 - alpha)])
    return float(np.median(values)), (float(low), float(high))


def against_limit(value: float, interval: tuple[float, float], limit: float) -> Outcome:
    """An upper limit: fail only if the whole interval is above it, pass if the whole interval is within."""
    if interval[0] > limit:
        return "fail"
    if interval[1] <= limit:
        return "pass"
    return "inconclusive"


def judge_workload(
    workload: str,
    candidate: np.ndarray,
    champion: np.ndarray | None,
    budget_ms: float | None,
    max_ratio: float | None,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[Decision]:
    """The absolute budget and the ratio to the champion for one workload (timings in seconds)."""
    cand = round_p95_ms(candidate)
    out = []
    if budget_ms is not None:
        p95, ci = median_interval(cand, confidence, seed=seed)
        outcome = against_limit(p95, ci, budget_ms)
        out.append(
            Decision(
                f"{workload}_p95_ms <= {budget_ms:g}",
                outcome,
                p95,
                ci,
                budget_ms,
                f"p95 {p95:.2f} ms (median of {len(cand)} rounds, CI [{ci[0]:.2f}, {ci[1]:.2f}]) "
                f"{_verb(outcome)} {budget_ms:g} ms",
            )
        )
    if max_ratio is not None and champion is not None:
        ratios = cand / round_p95_ms(champion)
        ratio, ci = median_interval(ratios, confidence, seed=seed + 1)
        outcome = against_limit(ratio, ci, max_ratio)
        out.append(
            Decision(
                f"{workload} p95 vs champion <= {max_ratio:g}x",
                outcome,
                ratio,
                ci,
                max_ratio,
                f"candidate/champion p95 {ratio:.2f}x (CI [{ci[0]:.2f}, {ci[1]:.2f}], paired by round) "
                f"{_verb(outcome)} {max_ratio:g}x",
            )
        )
    return out


def _verb(outcome: Outcome) -> str:
    return {"pass": "within", "fail": "beyond", "inconclusive": "straddles"}[outcome]


def overloaded(
    calibration: np.ndarray,
    champion_round_p95: np.ndarray | None,
    max_calibration: float,
    max_champion: float,
) -> str | None:
    """Why the runner looks overloaded (None when it does not): the evidence noise could fake a failure."""
    cal = calibration_spread(calibration)
    if cal > max_calibration:
        return f"calibration loop p90/p10 {cal:.1f}x > {max_calibration:g}x"
    if champion_round_p95 is not None:
        champ = spread(champion_round_p95)
        if champ > max_champion:
            return f"champion's own p95 spread {champ:.1f} > {max_champion:g}"
    return None


def settle(decisions: list[Decision], overload: str | None) -> list[Decision]:
    """On an overloaded runner a failure is not evidence: it becomes inconclusive, saying why."""
    if overload is None:
        return decisions
    return [
        Decision(
            d.name,
            "inconclusive",
            d.value,
            d.interval,
            d.limit,
            f"{d.message}; runner overloaded ({overload})",
        )
        if d.outcome == "fail"
        else d
        for d in decisions
    ]


def needs_retry(decisions: list[Decision]) -> bool:
    """Measure again unless every limit passed: noise only adds time, so a pass under load stands."""
    return any(d.outcome != "pass" for d in decisions)
