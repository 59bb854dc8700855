"""The model a benchmark measures: the one configs/model.yaml configures, through its contract.

Benchmarks never import the example package by name. They load the configured package's raw
snapshot (`contract.load_data` on configs/data.yaml `source:`) and its unfitted pipeline
(`contract.build_pipeline` with configs/train.yaml), and draw as many rows as a scenario needs
from that snapshot (with replacement when it needs more rows than the snapshot has), so a team's
own model is measured on its own data shape after `modelops init`.
"""

from pathlib import Path
from typing import Any

import pandas as pd

from modelops.contract import load_package
from modelops.settings import Settings, load_settings


def settings(root: Path) -> Settings:
    return load_settings(root)


def snapshot(s: Settings) -> pd.DataFrame:
    """The configured package's raw snapshot, exactly as `modelops data ingest` would load it."""
    return load_package(s).raw_snapshot(s)


def draw(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """`rows` rows of `frame`, sampled with replacement only when the frame is smaller."""
    return frame.sample(n=rows, replace=rows > len(frame), random_state=seed).reset_index(drop=True)


def train_and_rest(frame: pd.DataFrame, train_rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disjoint rows: up to `train_rows` (at most half the snapshot) to fit, the rest to score."""
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    cut = min(train_rows, len(shuffled) // 2)
    return shuffled.iloc[:cut].reset_index(drop=True), shuffled.iloc[cut:].reset_index(drop=True)


def pipeline(s: Settings, **param_overrides: Any) -> Any:
    """The configured unfitted pipeline, with configs/train.yaml params (plus overrides)."""
    t = s.train
    return load_package(s).build_pipeline(s.features, t.estimator, dict(t.params) | param_overrides, t.seed)
