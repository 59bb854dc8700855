"""Behavioural tests of the example model. YOURS: they encode what churn should do.

They fit the configured pipeline (configs/train.yaml, smaller) on the example's own generated
snapshot (conftest.py) and score customers it did not learn from.
"""

from typing import Any

import numpy as np
import pandas as pd


def score(model: Any, frame: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(frame)[:, 1]


def test_direction_disengagement_raises_churn(model: Any, rows: pd.DataFrame) -> None:
    idle = rows.assign(days_since_last_login=60.0)
    active = rows.assign(days_since_last_login=1.0)
    assert (score(model, idle) - score(model, active)).mean() > 0.05


def test_direction_long_contracts_lower_churn(model: Any, rows: pd.DataFrame) -> None:
    monthly = rows.assign(contract=pd.Categorical(["month-to-month"] * len(rows)))
    two_year = rows.assign(contract=pd.Categorical(["two-year"] * len(rows)))
    assert score(model, monthly).mean() > score(model, two_year).mean()


def test_invariance_row_order_and_id_free(model: Any, rows: pd.DataFrame) -> None:
    shuffled = rows.sample(frac=1.0, random_state=0)
    np.testing.assert_allclose(score(model, shuffled), score(model, rows)[shuffled.index.to_numpy()])


def test_minimum_functionality_missing_values_are_scored(model: Any, rows: pd.DataFrame) -> None:
    holes = rows.assign(monthly_charges=np.nan, days_since_last_login=np.nan, region=None)
    p = score(model, holes)
    assert np.all((p > 0) & (p < 1))


def test_unknown_category_does_not_crash(model: Any, rows: pd.DataFrame) -> None:
    odd = rows.head(5).assign(region=["atlantis"] * 5)
    assert np.all(np.isfinite(score(model, odd)))
