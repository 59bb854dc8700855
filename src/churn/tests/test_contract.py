"""The example package meets the contract the machinery calls (configs/model.yaml `contract`).

If this fails after you edited src/churn/, the message says which function and what the
contract expects. The machinery's own contract tests are tests/contract/.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from modelops.contract import load_package
from modelops.data.validate import validate_frame
from modelops.errors import ConfigError
from modelops.settings import Settings, load_settings

from .conftest import REPO, ROWS


def test_load_data_returns_a_frame_that_passes_the_declared_schema(settings: Settings) -> None:
    frame = load_package(settings).raw_snapshot(settings)
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == ROWS
    assert validate_frame(frame, settings.features)["status"] == "passed"


def test_build_pipeline_is_unfitted_and_fits_to_probabilities(settings: Settings) -> None:
    package = load_package(settings)
    pipe = package.unfitted_pipeline(
        settings.model_copy(update={"train": settings.train.model_copy(update={"params": {"max_iter": 10}})})
    )
    with pytest.raises(NotFittedError):
        check_is_fitted(pipe)
    frame = package.raw_snapshot(settings)
    pipe.fit(frame[settings.features.names], frame[settings.features.label])
    proba = pipe.predict_proba(frame[settings.features.names].head(50))
    assert proba.shape == (50, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_the_examples_generator_keeps_its_range_in_its_own_model() -> None:
    settings = load_settings(REPO, ["data.source.rows=12"])
    with pytest.raises(ConfigError) as exc:
        load_package(settings).raw_snapshot(settings)
    assert str(exc.value) == "configs/data.yaml: source.rows: Input should be greater than or equal to 1000"
