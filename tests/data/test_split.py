import numpy as np
import pandas as pd

from modelops.data.split import assign


def test_fractions_are_respected() -> None:
    part = assign(pd.Series(np.arange(100_000)), 0.15, 0.20)
    shares = np.bincount(part, minlength=3) / part.size
    assert np.allclose(shares, [0.65, 0.15, 0.20], atol=0.01)


def test_membership_is_stable_when_the_snapshot_grows() -> None:
    small = assign(pd.Series(np.arange(10_000)), 0.15, 0.20)
    grown = assign(pd.Series(np.arange(50_000)), 0.15, 0.20)
    assert np.array_equal(small, grown[:10_000])
