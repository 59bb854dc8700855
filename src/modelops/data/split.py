"""split: train and validation from the snapshot, never touching the pinned evaluation set.

Rows are assigned by a stable hash of the id column (0 train, 1 valid, 2 evaluation bucket).
The evaluation set itself is not derived here: it is the pinned, DVC-tracked file of
`configs/eval_set.yaml` (see `modelops data eval-set`). Training and validation exclude both
the whole evaluation bucket and every id in the pinned set, so no evaluated customer is
trained on, whatever the snapshot, and a later rotation cut from the bucket cannot leak either.
"""

import numpy as np
import pandas as pd

from modelops.data.evalset import load_pin, verified_path
from modelops.data.ingest import read_table
from modelops.settings import Settings


def assign(ids: pd.Series, valid_fraction: float, eval_fraction: float) -> np.ndarray:
    """0 = train, 1 = valid, 2 = eval. Depends only on each id, so membership never moves."""
    bucket = pd.util.hash_pandas_object(ids, index=False).to_numpy() % np.uint64(10_000)
    u = bucket.astype(np.float64) / 10_000
    return np.where(u < eval_fraction, 2, np.where(u < eval_fraction + valid_fraction, 1, 0))


def training_parts(
    ids: pd.Series, eval_ids: pd.Series, valid_fraction: float, eval_fraction: float
) -> np.ndarray:
    """0 = train, 1 = valid, -1 = held out (evaluation bucket or a pinned evaluation id)."""
    part = assign(ids, valid_fraction, eval_fraction)
    held_out = (part == 2) | ids.isin(eval_ids).to_numpy()
    return np.where(held_out, -1, part)


def split(settings: Settings) -> dict[str, int]:
    paths = settings.data.paths
    id_column = settings.features.id_column
    pin = load_pin(settings.config_dir)
    eval_ids = read_table(verified_path(pin, settings.root))[id_column]
    frame = read_table(settings.path(paths.raw))
    part = training_parts(
        frame[id_column], eval_ids, settings.data.split.valid_fraction, settings.data.split.eval_fraction
    )
    counts = {"held_out": int((part == -1).sum()), "eval_pinned": pin.rows}
    for code, name, dest in ((0, "train", paths.train), (1, "valid", paths.valid)):
        out = settings.path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        subset = frame[part == code].reset_index(drop=True)
        subset.to_parquet(out, index=False)
        counts[name] = len(subset)
    return counts
