"""Slice wording that does not overstate: regressed vs inconclusive, which of them blocks, and config
mistakes that say what they are (unknown slice value, unknown metric)."""

import numpy as np
import pandas as pd
import pytest

from modelops.errors import ConfigError
from modelops.gate import checks, report, slices
from modelops.gate.bootstrap import Interval, PairedEstimate
from modelops.gate.checks import CheckResult
from modelops.gate.config import Absolute, Bootstrap, Slice, SliceBlocking, Slices

BASE = CheckResult(
    "employment = x", "slice", "skipped", None, "", "", metric="roc_auc", slice="employment = x", support=300
)


def _estimate(delta: float, low: float, high: float) -> dict[str, PairedEstimate]:
    return {
        "roc_auc": PairedEstimate("roc_auc", 0.8 + delta, 0.8, delta, Interval(0.7, 0.9), Interval(low, high))
    }


def _judge(delta: float, low: float, high: float, required: bool = False, **blocking: str) -> CheckResult:
    item = Slice(column="employment", value="x", required=required)
    return slices._judge(
        _estimate(delta, low, high), False, BASE, item, "roc_auc", 0.03, SliceBlocking(**blocking)
    )


def test_classify_compares_the_estimate_not_the_interval() -> None:
    assert slices.classify("roc_auc", -0.05, 0.03) == "regressed"
    assert slices.classify("roc_auc", +0.01, 0.03) == "inconclusive"
    assert slices.classify("log_loss", +0.05, 0.03) == "regressed"  # lower is better
    assert slices.classify("log_loss", -0.01, 0.03) == "inconclusive"


def test_improved_estimate_with_a_wide_interval_is_inconclusive_not_a_regression() -> None:
    result = _judge(+0.01, -0.08, +0.10)
    assert result.finding == "inconclusive" and "regress" not in result.message
    assert result.status == "warn" and not result.failed, "default: inconclusive blocks only required slices"


def test_inconclusive_blocks_a_required_slice_by_default() -> None:
    result = _judge(+0.01, -0.08, +0.10, required=True)
    assert result.finding == "inconclusive" and result.status == "fail"


def test_regressed_blocks_by_default_and_can_be_made_advisory() -> None:
    assert _judge(-0.06, -0.09, -0.04).status == "fail"
    advisory = _judge(-0.06, -0.09, -0.04, regressed="none")
    assert (
        advisory.finding == "regressed" and advisory.status == "warn" and "does not block" in advisory.message
    )


def test_non_inferior_slice_passes() -> None:
    result = _judge(0.0, -0.02, +0.02)
    assert result.status == "pass" and result.finding == "non-inferior"


def test_rendered_slice_rows_use_the_finding() -> None:
    rows = report._slices_table([_judge(+0.01, -0.08, +0.10), _judge(-0.06, -0.09, -0.04)])
    assert rows[2].startswith("| ⚠️ inconclusive | employment = x |")
    assert rows[3].startswith("| ❌ **regressed** | employment = x |")


def _frame(n: int = 600) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    employment = rng.choice(["salaried", "self_employed", "unemployed"], size=n, p=[0.6, 0.3, 0.1])
    y = (rng.random(n) < 0.3).astype(np.int64)
    return pd.DataFrame({"employment": employment}), y, rng.random(n)


def test_a_slice_value_not_in_the_evaluation_set_names_the_values_that_are() -> None:
    frame, y, scores = _frame()
    config = Slices(items=(Slice(column="employment", value="unemployd"),))
    with pytest.raises(
        ConfigError, match=r"employment = 'unemployd' does not occur.*salaried, self_employed, unemployed"
    ):
        slices.evaluate(frame, y, scores, scores, config, Bootstrap(resamples=100))


def test_small_slices_become_report_warnings() -> None:
    frame, y, scores = _frame()
    config = Slices(min_support=100, items=(Slice(column="employment"),))
    results = slices.evaluate(frame, y, scores, scores, config, Bootstrap(resamples=100))
    small = [r for r in results if r.finding == "too small"]
    assert [r.name for r in small] == ["employment = unemployed"]
    (warning,) = report.report_warnings(results)
    assert warning.startswith("slice employment = unemployed: too small to judge") and "not judged" in warning


def test_unknown_metric_is_not_called_missing_evidence() -> None:
    values = {"roc_auc": 0.8, "valid_roc_auc": 0.81}
    unknown = checks.absolute(Absolute(metric="valid_fairness_gap", max=0.1), values, {})
    assert unknown.failed and unknown.message.startswith("unknown metric 'valid_fairness_gap'")
    assert "valid_roc_auc" in unknown.message and checks.MISSING not in unknown.message
    nan = checks.absolute(Absolute(metric="valid_roc_auc", min=0.5), {"valid_roc_auc": float("nan")}, {})
    assert nan.failed and nan.message.startswith(checks.MISSING)
    computed = checks.absolute(Absolute(metric="pr_auc", min=0.5), {}, {})
    assert computed.message.startswith(checks.MISSING), "a computed metric without a value lacks evidence"
