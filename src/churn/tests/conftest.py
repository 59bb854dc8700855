"""Fixtures for the example's own tests: its configured settings and a model fitted on its data."""

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelops.contract import load_package
from modelops.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[3]
ROWS = 8000


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The repository's configs (the example), with a smaller snapshot and model."""
    return load_settings(REPO, [f"data.source.rows={ROWS}", "train.params.max_iter=40"])


@pytest.fixture(scope="session")
def model(settings: Settings) -> Any:
    """The configured pipeline fitted on the example's generated snapshot."""
    package = load_package(settings)
    frame = package.raw_snapshot(settings)
    pipe = package.unfitted_pipeline(settings)
    return pipe.fit(frame[settings.features.names], frame[settings.features.label])


@pytest.fixture(scope="session")
def rows(settings: Settings) -> pd.DataFrame:
    """400 customers the model did not learn from (another seed of the same generator)."""
    package = load_package(settings)
    fresh = package.load_data(package.source(settings, rows=1000, seed=settings.data.source["seed"] + 1))
    return fresh[settings.features.names].head(400).reset_index(drop=True)
