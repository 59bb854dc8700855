"""The incidents monitoring exists for, applied to any model's rows (no generator switches needed).

Each takes a healthy frame (the configured package's own rows) and returns a changed copy;
the columns come from the caller, who reads them from settings (tests/helpers/fixture.py).
- `zero_fill`: a broken upstream join silently writes 0 into a numeric feature for some rows.
- `shift_in_segment`: one segment's values of a numeric feature move; the rest do not, so in
  aggregate the shift is diluted and only a per-slice check sees it.
- `shift_labels`: the outcomes stop following what the model learned (concept and prior shift)
  while features and scores stay as they were: invisible until labels arrive.
"""

import numpy as np
import pandas as pd


def zero_fill(frame: pd.DataFrame, feature: str, fraction: float, seed: int = 0) -> pd.DataFrame:
    """`fraction` of the rows get 0 in `feature` (missing values included: the join filled them too)."""
    out = frame.copy()
    hit = np.random.default_rng(seed).random(len(out)) < fraction
    out.loc[hit, feature] = 0
    return out


def shift_in_segment(frame: pd.DataFrame, in_segment: pd.Series, feature: str, factor: float) -> pd.DataFrame:
    """`feature` multiplied by `factor` in the rows where `in_segment` holds, unchanged elsewhere."""
    out = frame.copy()
    mask = in_segment.to_numpy(dtype=bool)
    out.loc[mask, feature] = out.loc[mask, feature] * factor
    return out


def shift_labels(
    frame: pd.DataFrame, label: str, fraction: float, positive_rate: float, seed: int = 0
) -> pd.DataFrame:
    """`fraction` of the outcomes redrawn, positive with probability `positive_rate`, whatever the row."""
    out = frame.copy()
    rng = np.random.default_rng(seed)
    redrawn = rng.random(len(out)) < fraction
    fresh = (rng.random(len(out)) < positive_rate).astype(out[label].dtype)
    out[label] = np.where(redrawn, fresh, out[label].to_numpy())
    return out
