"""In-process prediction latency of a fitted model: p95 for one row and for a 1,000-row batch."""

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

BATCH = 1000


def p95_ms(call: Callable[[], Any], repeats: int, warmup: int = 3) -> float:
    """95th percentile wall time of `call` in milliseconds (after a few warm-up calls)."""
    for _ in range(warmup):
        call()
    times = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        call()
        times[i] = time.perf_counter() - start
    return float(np.percentile(times, 95) * 1000)


def measure(model: Any, X: pd.DataFrame, repeats: int) -> dict[str, float]:
    """p95 milliseconds of predict_proba on single rows (cycling through X) and on a 1,000-row batch."""
    if len(X) == 0:
        return {"single_row_p95_ms": float("nan"), "batch_1000_p95_ms": float("nan")}
    # Rows are sliced beforehand so the timing covers the model, not pandas indexing.
    singles = [X.iloc[[i % len(X)]] for i in range(repeats + 3)]
    it = iter(singles)
    single = p95_ms(lambda: model.predict_proba(next(it)), repeats)
    batch = X.iloc[np.arange(BATCH) % len(X)]
    return {
        "single_row_p95_ms": single,
        "batch_1000_p95_ms": p95_ms(lambda: model.predict_proba(batch), max(5, repeats // 5)),
    }
