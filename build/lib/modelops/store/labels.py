"""Turn a labels frame (file or query result) into `records.LABEL_SCHEMA` rows, checking it (pure)."""

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from modelops.records import LABEL_SCHEMA
from modelops.store.location import StoreError

OBSERVED_AT = "observed_at"


def to_label_table(
    frame: pd.DataFrame, where: str, *, id_column: str, label_column: str, model_name: str, now: datetime
) -> pa.Table:
    """Rows with an id, a 0/1 label and when it was observed (`observed_at` column, else `now`)."""
    for col in (id_column, label_column):
        if col not in frame.columns:
            raise StoreError(
                f"{where}: missing column {col!r} (columns: {', '.join(map(str, frame.columns))})"
            )
    ids = frame[id_column]
    if ids.isna().any():
        raise StoreError(f"{where}: column {id_column!r} is empty in {int(ids.isna().sum())} rows")
    labels = pd.to_numeric(frame[label_column], errors="coerce")
    bad = ~labels.isin([0, 1])
    if bad.any():
        first = frame.loc[bad, label_column].iloc[0]
        raise StoreError(
            f"{where}: column {label_column!r} must be 0 or 1 ({int(bad.sum())} rows are not, e.g. {first!r})"
        )
    if OBSERVED_AT in frame.columns:
        observed: Any = pd.to_datetime(frame[OBSERVED_AT], utc=True, errors="coerce", format="ISO8601")
        if observed.isna().any():
            raise StoreError(
                f"{where}: column {OBSERVED_AT!r} has {int(observed.isna().sum())} unreadable times"
            )
    else:
        observed = pd.Series([pd.Timestamp(now)] * len(frame))
    return pa.Table.from_arrays(
        [
            pa.array(ids.astype(str).to_numpy(), pa.string()),
            pa.array(labels.to_numpy(dtype=np.int8), pa.int8()),
            pa.array(pd.DatetimeIndex(observed).tz_convert("UTC"), LABEL_SCHEMA.field("observed_at").type),
            pa.array([model_name] * len(frame), pa.string()),
        ],
        schema=LABEL_SCHEMA,
    )
