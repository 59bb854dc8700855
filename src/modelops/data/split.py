"""split: train / validation / the frozen evaluation set, by a stable hash of the id column."""

import numpy as np
import pandas as pd

from modelops.data.ingest import read_table
from modelops.settings import Settings


def assign(ids: pd.Series, valid_fraction: float, eval_fraction: float) -> np.ndarray:
    """0 = train, 1 = valid, 2 = eval. Depends only on each id, so membership never moves."""
    bucket = pd.util.hash_pandas_object(ids, index=False).to_numpy() % np.uint64(10_000)
    u = bucket.astype(np.float64) / 10_000
    return np.where(u < eval_fraction, 2, np.where(u < eval_fraction + valid_fraction, 1, 0))


def split(settings: Settings) -> dict[str, int]:
    paths = settings.data.paths
    frame = read_table(settings.path(paths.raw))
    part = assign(
        frame[settings.features.id_column],
        settings.data.split.valid_fraction,
        settings.data.split.eval_fraction,
    )
    counts = {}
    for code, name, dest in ((0, "train", paths.train), (1, "valid", paths.valid), (2, "eval", paths.eval)):
        out = settings.path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        subset = frame[part == code].reset_index(drop=True)
        subset.to_parquet(out, index=False)
        counts[name] = len(subset)
    return counts
