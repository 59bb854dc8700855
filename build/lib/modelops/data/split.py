"""split: train and validation from the snapshot, never touching the pinned evaluation set.

Rows are assigned by a stable hash of their key (0 train, 1 valid, 2 evaluation bucket): the
id column, or without one a hash of the row's content (`modelops.data.keys`).
The evaluation set itself is not derived here: it is the pinned, DVC-tracked file of
`configs/eval_set.yaml` (see `modelops data eval-set`). Training and validation exclude both
the whole evaluation bucket and every key in the pinned set, so no evaluated customer is
trained on, whatever the snapshot, and a later rotation cut from the bucket cannot leak either.
"""

import numpy as np
import pandas as pd

from modelops.data.evalset import load_pin, verified_path
from modelops.data.ingest import read_table
from modelops.data.keys import row_keys
from modelops.settings import Settings


def assign(ids: pd.Series, valid_fraction: float, eval_fraction: float) -> np.ndarray:
    """0 = train, 1 = valid, 2 = eval. Depends only on each key, so membership never moves."""
    bucket = pd.util.hash_pandas_object(ids, index=False).to_numpy() % np.uint64(10_000)
    u = bucket.astype(np.float64) / 10_000
    return np.where(u < eval_fraction, 2, np.where(u < eval_fraction + valid_fraction, 1, 0))


def training_parts(
    ids: pd.Series, eval_ids: pd.Series, valid_fraction: float, eval_fraction: float
) -> np.ndarray:
    """0 = train, 1 = valid, -1 = held out (evaluation bucket or a pinned evaluation key)."""
    part = assign(ids, valid_fraction, eval_fraction)
    held_out = (part == 2) | ids.isin(eval_ids).to_numpy()
    return np.where(held_out, -1, part)


def split(settings: Settings) -> dict[str, int]:
    paths = settings.data.paths
    pin = load_pin(settings.config_dir)
    eval_keys = row_keys(read_table(verified_path(pin, settings.root)), settings.features, str(pin.path))
    frame = read_table(settings.path(paths.raw))
    keys = row_keys(frame, settings.features, str(paths.raw))
    part = training_parts(
        keys, eval_keys, settings.data.split.valid_fraction, settings.data.split.eval_fraction
    )
    counts = {"held_out": int((part == -1).sum()), "eval_pinned": pin.rows}
    for code, name, dest in ((0, "train", paths.train), (1, "valid", paths.valid)):
        out = settings.path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        subset = frame[part == code].reset_index(drop=True)
        subset.to_parquet(out, index=False)
        counts[name] = len(subset)
    return counts
