"""Slice checks: each configured slice's metric and its change vs the champion (pure).

Every judged slice is a group of rows in one fused bootstrap with the aggregate (the
same resamples, one pass per model and resample), not a bootstrap of its own.
"""

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from modelops.errors import ConfigError
from modelops.gate import checks
from modelops.gate.bootstrap import HIGHER_IS_BETTER, PairedEstimate, paired_bootstrap_groups
from modelops.gate.checks import CheckResult
from modelops.gate.config import Bootstrap, Slice, SliceBlocking, Slices
from modelops.metrics import ECE_BINS

TOO_SMALL = "too small to judge"
_DEFAULT_BLOCKING = SliceBlocking()


def expand(frame: pd.DataFrame, item: Slice) -> Iterator[tuple[str, np.ndarray]]:
    """(name, boolean mask) per slice: `column = value`, or one per value of `column` (plus missing)."""
    if item.column not in frame.columns:
        raise ConfigError(f"gates.yaml: slices.items: column {item.column!r} is not in the evaluation set")
    values = frame[item.column].astype("string")
    if item.value is not None:
        if not (values == item.value).any():
            present = sorted(values.dropna().unique().tolist())
            shown = ", ".join(present[:20]) + (f", ... ({len(present)} values)" if len(present) > 20 else "")
            raise ConfigError(
                f"gates.yaml: slices.items: {item.column} = {item.value!r} does not occur in the "
                f"evaluation set; {item.column} takes the values: {shown}"
            )
        yield f"{item.column} = {item.value}", (values == item.value).fillna(False).to_numpy(dtype=bool)
        return
    codes, uniques = pd.factorize(values, sort=True)  # one pass; -1 marks missing
    for i, value in enumerate(uniques):
        yield f"{item.column} = {value}", codes == i
    missing = codes == -1
    if missing.any():
        yield f"{item.column} is missing", missing


def eval_set_warnings(rows: int, config: Slices) -> list[str]:
    """A line per configured slice that the whole evaluation set is too small for.

    Each of its values is also listed as too small; this line says why none of them can be
    judged and what a small data set sets instead (a warning, never a silent skip).
    """
    out = []
    for item in config.items:
        min_support = item.min_support or config.min_support
        if rows >= min_support:
            continue
        name = item.column if item.value is None else f"{item.column} = {item.value}"
        required = "; it is required, so the gate fails closed on it" if item.required else ""
        out.append(
            f"slice {name}: the evaluation set has {rows} rows, fewer than its min_support {min_support}, "
            f"so it cannot be judged{required} (small data: lower slices min_support in gates.yaml)"
        )
    return out


def evaluate(
    frame: pd.DataFrame,
    y: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray | None,
    config: Slices,
    boot: Bootstrap,
    ece_bins: int = ECE_BINS,
) -> list[CheckResult]:
    """One result per slice; small slices are listed as too small, never dropped."""
    return evaluate_with_aggregate(frame, y, candidate, champion, config, boot, (), ece_bins)[1]


def evaluate_with_aggregate(
    frame: pd.DataFrame,
    y: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray | None,
    config: Slices,
    boot: Bootstrap,
    metrics: Sequence[str],
    ece_bins: int = ECE_BINS,
) -> tuple[dict[str, PairedEstimate], list[CheckResult]]:
    """The aggregate estimates of `metrics` and one result per slice, from one paired bootstrap."""
    # A result per slice, or the index of its group in the bootstrap (filled in below).
    planned: list[CheckResult | tuple[int, CheckResult, Slice, str, float]] = []
    columns: list[np.ndarray] = []
    group_metrics: list[tuple[str, ...]] = [tuple(metrics)]
    for item in config.items:
        metric = item.metric or config.metric
        min_support = item.min_support or config.min_support
        tolerance = config.tolerance if item.tolerance is None else item.tolerance
        column = np.full(len(y), -1, dtype=np.int16)
        for name, mask in expand(frame, item):
            rows, positives = int(mask.sum()), int(y[mask].sum())
            base = CheckResult(
                name, "slice", "skipped", None, "", "", metric=metric, slice=name, support=rows
            )
            if rows < min_support or positives in (0, rows):
                why = f"{TOO_SMALL}: {rows} rows, {positives} positive (min_support {min_support})"
                status: checks.Status = "missing" if item.required else "skipped"
                message = f"{checks.MISSING}: required slice is {why}" if item.required else why
                planned.append(replace(base, status=status, message=message, finding="too small"))
                continue
            # A column per item: its slices are disjoint (one value each), so one id per row.
            column[mask] = len(group_metrics)
            planned.append((len(group_metrics), base, item, metric, tolerance))
            group_metrics.append((metric,))
        if (column >= 0).any():
            columns.append(column)
    if len(group_metrics) == 1 and not metrics:
        return {}, [entry for entry in planned if isinstance(entry, CheckResult)]  # nothing to resample
    groups = np.stack(columns, axis=1) if columns else None
    estimates = paired_bootstrap_groups(
        y,
        candidate,
        champion,
        groups,
        group_metrics,
        boot.resamples,
        boot.confidence,
        boot.seed,
        ece_bins=ece_bins,
        workers=boot.workers,
    )
    results = [
        entry
        if isinstance(entry, CheckResult)
        else _judge(estimates[entry[0]], champion is None, *entry[1:], blocking=config.blocking)
        for entry in planned
    ]
    return estimates[0], results


def blocks(mode: str, required: bool) -> bool:
    return mode == "all" or (mode == "required" and required)


def classify(metric: str, delta: float, tolerance: float) -> str:
    """A failed non-inferiority test, in words: is the estimate itself worse beyond the tolerance?

    "regressed" when it is; otherwise the interval is merely too wide to show non-inferiority.
    """
    worse = -delta if HIGHER_IS_BETTER[metric] else delta
    return "regressed" if worse > tolerance else "inconclusive"


def _judge(
    estimates: dict[str, PairedEstimate],
    first_release: bool,
    base: CheckResult,
    item: Slice,
    metric: str,
    tolerance: float,
    blocking: SliceBlocking = _DEFAULT_BLOCKING,
) -> CheckResult:
    name = base.name
    estimate = estimates[metric]
    result = checks.paired(name, "slice", metric, "non_inferior", tolerance, estimate, name)
    result = replace(result, support=base.support, value=estimate.candidate)
    if result.status == "pass":
        result = replace(result, finding="non-inferior")
    elif result.status == "fail" and result.delta is not None:
        finding = classify(metric, result.delta, tolerance)
        mode = blocking.regressed if finding == "regressed" else blocking.inconclusive
        why = (
            f"estimate worse than the champion's beyond the tolerance {tolerance:g}"
            if finding == "regressed"
            else f"estimate within the tolerance {tolerance:g}, interval too wide to show non-inferiority"
        )
        blocking_word = "blocks" if blocks(mode, item.required) else "does not block"
        result = replace(
            result,
            status="fail" if blocks(mode, item.required) else "warn",
            finding=finding,  # type: ignore[arg-type]
            message=f"{finding} ({why}; {blocking_word}): {result.message}",
        )
    elif result.status == "skipped" and first_release:
        result = replace(result, finding="first release")
    if item.min is not None:
        floor = checks.bounded(name, "slice", metric, estimate.candidate, item.min, None)
        if floor.failed or result.status == "skipped":
            result = replace(
                result,
                status=floor.status,
                threshold=f"{result.threshold}; {floor.threshold}",
                message=floor.message if floor.failed else f"{floor.message}; {result.message}",
                finding="below floor" if floor.failed else result.finding,
            )
    if result.status == "skipped" and first_release:
        result = replace(result, interval=None)
    return result
