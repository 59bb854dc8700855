"""Slice checks: each configured slice's metric and its change vs the champion (pure)."""

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pandas as pd

from modelops.errors import ConfigError
from modelops.gate import checks
from modelops.gate.bootstrap import paired_bootstrap
from modelops.gate.checks import CheckResult
from modelops.gate.config import Bootstrap, Slice, Slices

TOO_SMALL = "too small to judge"


def expand(frame: pd.DataFrame, item: Slice) -> Iterator[tuple[str, np.ndarray]]:
    """(name, boolean mask) per slice: `column = value`, or one per value of `column` (plus missing)."""
    if item.column not in frame.columns:
        raise ConfigError(f"gates.yaml: slices.items: column {item.column!r} is not in the evaluation set")
    values = frame[item.column].astype("string")
    if item.value is not None:
        yield f"{item.column} = {item.value}", (values == item.value).fillna(False).to_numpy(dtype=bool)
        return
    for value in sorted(values.dropna().unique()):
        yield f"{item.column} = {value}", (values == value).fillna(False).to_numpy(dtype=bool)
    missing = values.isna().to_numpy()
    if missing.any():
        yield f"{item.column} is missing", missing


def evaluate(
    frame: pd.DataFrame,
    y: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray | None,
    config: Slices,
    boot: Bootstrap,
) -> list[CheckResult]:
    """One result per slice; small slices are listed as too small, never dropped."""
    results = []
    for item in config.items:
        metric = item.metric or config.metric
        min_support = item.min_support or config.min_support
        tolerance = config.tolerance if item.tolerance is None else item.tolerance
        for name, mask in expand(frame, item):
            rows, positives = int(mask.sum()), int(y[mask].sum())
            base = CheckResult(
                name, "slice", "skipped", None, "", "", metric=metric, slice=name, support=rows
            )
            if rows < min_support or positives in (0, rows):
                why = f"{TOO_SMALL}: {rows} rows, {positives} positive (min_support {min_support})"
                status: checks.Status = "missing" if item.required else "skipped"
                message = f"{checks.MISSING}: required slice is {why}" if item.required else why
                results.append(replace(base, status=status, message=message))
                continue
            estimate = paired_bootstrap(
                y[mask],
                candidate[mask],
                None if champion is None else champion[mask],
                boot.resamples,
                boot.confidence,
                boot.seed,
                metrics=(metric,),
                workers=boot.workers,
            )[metric]
            result = checks.paired(name, "slice", metric, "non_inferior", tolerance, estimate, name)
            result = replace(result, support=rows, value=estimate.candidate)
            if item.min is not None:
                floor = checks.bounded(name, "slice", metric, estimate.candidate, item.min, None)
                if floor.failed or result.status == "skipped":
                    result = replace(
                        result,
                        status=floor.status,
                        threshold=f"{result.threshold}; {floor.threshold}",
                        message=floor.message if floor.failed else f"{floor.message}; {result.message}",
                    )
            if result.status == "skipped" and champion is None:
                result = replace(result, interval=None)
            results.append(result)
    return results
