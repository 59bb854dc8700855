"""Small data: an evaluation set of a few hundred rows against the configured slices. Nothing is
skipped silently: every slice it is too small for is a warning naming rows and min_support."""

import numpy as np
import pandas as pd

from modelops.gate import report, slices
from modelops.gate.config import Bootstrap, Slice, Slices


def _small_eval(n: int = 180, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    scores = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 1.5 * y - 1)))
    frame = pd.DataFrame(
        {
            "island": rng.choice(["Biscoe", "Dream"], size=n, p=[0.7, 0.3]),
            "sex": rng.choice(["f", "m"], size=n),
        }
    )
    return frame, y, scores


CONFIG = Slices(
    min_support=60,
    items=(
        Slice(column="island"),  # Biscoe ~126 rows is judged, Dream ~54 is too small
        Slice(column="sex", min_support=500),  # larger than the whole evaluation set
        Slice(column="island", value="Dream", min_support=1000, required=True),
    ),
)


def test_a_slice_larger_than_the_eval_set_is_named_with_rows_and_min_support() -> None:
    assert slices.eval_set_warnings(180, CONFIG) == [
        "slice sex: the evaluation set has 180 rows, fewer than its min_support 500, so it cannot be "
        "judged (small data: lower slices min_support in gates.yaml)",
        "slice island = Dream: the evaluation set has 180 rows, fewer than its min_support 1000, so it "
        "cannot be judged; it is required, so the gate fails closed on it (small data: lower slices "
        "min_support in gates.yaml)",
    ]
    assert slices.eval_set_warnings(1000, CONFIG) == [], "an eval set at min_support warns about nothing"


def test_every_too_small_slice_of_a_small_eval_set_is_a_report_warning() -> None:
    frame, y, scores = _small_eval()
    results = slices.evaluate(frame, y, scores, None, CONFIG, Bootstrap(resamples=100))
    dream_rows = int((frame["island"] == "Dream").sum())
    assert 0 < dream_rows < 60
    (judged,) = [r for r in results if r.name == "island = Biscoe"]
    assert judged.finding != "too small" and judged.support == len(frame) - dream_rows
    warnings = report.report_warnings(results)
    (dream,) = [w for w in warnings if w.startswith("slice island = Dream: too small")]
    assert f"{dream_rows} rows" in dream and "(min_support 60)" in dream and "not judged" in dream
    assert {w.split(":")[0] for w in warnings} == {"slice island = Dream", "slice sex = f", "slice sex = m"}
    # The required slice is not a warning: it fails closed, naming its rows and min_support.
    (required,) = [r for r in results if r.status == "missing"]
    assert required.name == "island = Dream" and f"{dream_rows} rows" in required.message
    assert "(min_support 1000)" in required.message
