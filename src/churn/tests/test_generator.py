import numpy as np
import pandas as pd
import pytest

from churn.data import Scenario, generate


def test_same_seed_same_frame_and_different_seed_differs() -> None:
    pd.testing.assert_frame_equal(generate(3000, 5), generate(3000, 5))
    assert not generate(3000, 5).equals(generate(3000, 6))


def test_realistic_structure() -> None:
    df = generate(50_000, 1)
    assert 0.15 <= df["churned"].mean() <= 0.25
    assert 0.08 <= (df["plan"] == "enterprise").mean() <= 0.12
    assert 0.0 < df["days_since_last_login"].isna().mean() < 0.05
    assert 0.0 < df["monthly_charges"].isna().mean() < 0.03
    # The enterprise segment churns for different reasons and at a different rate.
    by_plan = df.groupby("plan", observed=True)["churned"].mean()
    assert by_plan["enterprise"] < by_plan["basic"]


@pytest.mark.slow  # 1M rows: kept out of `make test-fast`
def test_chunked_generation_keeps_row_count_and_unique_ids() -> None:
    df = generate(1_000_500, 3)
    assert len(df) == 1_000_500
    assert df["customer_id"].is_unique


def test_zero_fill_switch_zeroes_only_the_named_feature() -> None:
    base = generate(20_000, 2)
    broken = generate(
        20_000, 2, scenario=Scenario(zero_fill_feature="days_since_last_login", zero_fill_fraction=0.33)
    )
    zero_share = (broken["days_since_last_login"] == 0).mean()
    assert 0.30 < zero_share < 0.36
    assert (base["days_since_last_login"] == 0).mean() < 0.05
    pd.testing.assert_series_equal(base["churned"], broken["churned"])


def test_segment_shift_moves_only_enterprise() -> None:
    base = generate(40_000, 4)
    shifted = generate(40_000, 4, scenario=Scenario(segment_shift=1.0))
    ent = base["plan"] == "enterprise"
    login = "days_since_last_login"
    assert shifted.loc[ent, login].mean() > 2 * base.loc[ent, login].mean()
    assert np.isclose(shifted.loc[~ent, login].mean(), base.loc[~ent, login].mean(), rtol=1e-3)


def test_label_shift_and_covariate_drift_change_what_they_claim() -> None:
    base = generate(40_000, 4)
    assert (
        generate(40_000, 4, scenario=Scenario(label_shift=1.0))["churned"].mean()
        > base["churned"].mean() + 0.05
    )
    drifted = generate(40_000, 4, scenario=Scenario(covariate_drift=1.0))
    assert drifted["tenure_months"].mean() < 0.8 * base["tenure_months"].mean()
