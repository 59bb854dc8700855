"""Evidently adapter: drift reports (Evidently >= 0.7 API: Report, Dataset, DataDefinition).

Only this module imports Evidently. It runs one report per model version and hands
back plain drift scores, so decisions stay in `monitor.checks`.
"""

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from modelops.errors import ConfigError


@dataclass(frozen=True)
class Column:
    """One column to test: its kind, the Evidently drift method and its threshold."""

    name: str
    kind: str  # "numeric" | "categorical"
    method: str
    threshold: float


def known_methods() -> set[str]:
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests

    return set(_registered_stat_tests)


def check_methods(columns: list[Column], source: str) -> None:
    """Fail on a method name Evidently does not know, naming the column."""
    known = known_methods()
    for c in columns:
        if c.method not in known:
            raise ConfigError(
                f"{source}: drift method {c.method!r} for {c.name} is unknown; one of {sorted(known)}"
            )


def run_drift(
    current: pd.DataFrame, reference: pd.DataFrame, columns: list[Column]
) -> tuple[Any, dict[str, float]]:
    """Run ValueDrift for each column; returns (snapshot, {column: drift score}).

    Missing values are dropped by Evidently before scoring; slice columns rely on it
    (rows outside the slice are NaN).
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MissingValueCount, ValueDrift

    names = [c.name for c in columns]
    definition = DataDefinition(
        numerical_columns=[c.name for c in columns if c.kind == "numeric"],
        categorical_columns=[c.name for c in columns if c.kind == "categorical"],
    )
    drift = [ValueDrift(column=c.name, method=c.method, threshold=c.threshold) for c in columns]
    missing = [MissingValueCount(column=c.name) for c in columns if "[" not in c.name]
    report = Report(drift + missing, include_tests=True)
    with warnings.catch_warnings():
        # Evidently and scipy warn on constant or tiny columns; the score is still defined.
        warnings.simplefilter("ignore")
        snapshot = report.run(
            Dataset.from_pandas(current[names], data_definition=definition),
            Dataset.from_pandas(reference[names], data_definition=definition),
        )
    scores: dict[str, float] = {}
    for result in snapshot.dict()["metrics"]:
        config = result.get("config", {})
        if config.get("type", "").endswith(":ValueDrift"):
            scores[config["column"]] = float(result["value"])
    absent = [n for n in names if n not in scores]
    if absent:
        raise RuntimeError(f"Evidently returned no drift score for {absent}")
    return snapshot, scores


def drift_verdicts(
    current: pd.DataFrame, reference: pd.DataFrame, columns: list[Column]
) -> dict[str, tuple[float, bool]]:
    """{column: (drift score, drifted)}: Evidently's own test verdict, so p-value methods
    (ks, chisquare: drift when the score is BELOW the threshold) and distances both work."""
    snapshot, scores = run_drift(current, reference, columns)
    failed: dict[str, bool] = {}
    for test in snapshot.dict().get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type", "").endswith(":ValueDrift"):
            failed[params["column"]] = test.get("status") == "FAIL"
    absent = [c.name for c in columns if c.name not in failed]
    if absent:
        raise RuntimeError(f"Evidently returned no drift test for {absent}")
    return {name: (score, failed[name]) for name, score in scores.items()}


def save(snapshot: Any, html: Path, json_path: Path) -> None:
    snapshot.save_html(str(html))
    snapshot.save_json(str(json_path))


def as_dict(snapshot: Any) -> dict:
    return json.loads(snapshot.json())
