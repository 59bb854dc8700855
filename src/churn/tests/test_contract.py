"""The example package meets the contract the machinery calls (configs/model.yaml `contract`).

If this fails after you edited src/churn/, the message says which function and what the
contract expects. The machinery's own contract tests are tests/contract/.
"""

import pandas as pd
import pytest

from modelops.contract import load_package
from modelops.data.validate import validate_frame
from modelops.errors import ConfigError
from modelops.settings import Settings, load_settings
from tests.helpers.contract import assert_builds_an_unfitted_pipeline_that_fits_to_probabilities

from .conftest import REPO, ROWS


def test_load_data_returns_a_frame_that_passes_the_declared_schema(settings: Settings) -> None:
    frame = load_package(settings).raw_snapshot(settings)
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == ROWS
    assert validate_frame(frame, settings.features)["status"] == "passed"


def test_build_pipeline_is_unfitted_and_fits_to_probabilities(settings: Settings) -> None:
    assert_builds_an_unfitted_pipeline_that_fits_to_probabilities(settings)


def test_the_examples_generator_keeps_its_range_in_its_own_model() -> None:
    settings = load_settings(REPO, ["data.source.rows=12"])
    with pytest.raises(ConfigError) as exc:
        load_package(settings).raw_snapshot(settings)
    assert str(exc.value) == "configs/data.yaml: source.rows: Input should be greater than or equal to 1000"
