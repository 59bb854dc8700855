"""The pipeline half of the model contract, as one assertion any package's tests can call."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from modelops.contract import load_package
from modelops.settings import Settings


def assert_builds_an_unfitted_pipeline_that_fits_to_probabilities(settings: Settings, rows: int = 50) -> None:
    """`build_pipeline` returns an unfitted pipeline; fitted on the package's snapshot, it gives
    one probability pair per row that sums to 1 (what training, the gate and serving rely on)."""
    package = load_package(settings)
    small = settings.model_copy(
        update={"train": settings.train.model_copy(update={"params": {"max_iter": 10}})}
    )
    pipe = package.unfitted_pipeline(small)
    with pytest.raises(NotFittedError):
        check_is_fitted(pipe)
    frame = package.raw_snapshot(settings)
    pipe.fit(frame[settings.features.names], frame[settings.features.label])
    proba = pipe.predict_proba(frame[settings.features.names].head(rows))
    assert proba.shape == (rows, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
