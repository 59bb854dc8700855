"""Read a time window of the prediction store into the monitor's compact per-version frames.

Same layout as `logs.read_logs` (float64 numerics, int8 category codes, one "invalid"
flag per feature, score), so the checks cannot tell the two sources apart. Rows stream
from the store batch by batch into arrays allocated once per version (the count comes
from Parquet metadata and the timestamp column), so memory is the compact arrays of the
window (~60 bytes a row for 9 features) plus one batch, not a table of the window. Labels
are joined batch by batch on `request_id` in Arrow, so request ids are never kept.
"""

from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modelops.data.schema import FeatureSchema
from modelops.monitor.logs import INVALID, LogRead
from modelops.store.location import Location
from modelops.store.reader import count_window, scan_window, versions

LABEL = "_y"  # -1 when no label joined


def _column(struct: pa.StructArray, name: str, length: int) -> pa.Array:
    idx = struct.type.get_field_index(name)
    # A version stored under an older feature schema may lack a feature: all missing.
    return struct.field(idx) if idx >= 0 else pa.nulls(length)


def _encode_batch(batch: pa.RecordBatch, schema: FeatureSchema) -> dict[str, np.ndarray]:
    struct = batch.column("features")
    if isinstance(struct, pa.ChunkedArray):
        struct = struct.combine_chunks()
    n = batch.num_rows
    out: dict[str, np.ndarray] = {"score": batch.column("score").to_numpy(zero_copy_only=False)}
    for f in schema.features:
        col = _column(struct, f.name, n)
        if f.kind == "numeric":
            values = pc.cast(col, pa.float64()) if col.type != pa.null() else pa.nulls(n, pa.float64())
            out[f.name] = values.to_numpy(zero_copy_only=False)
            out[INVALID + f.name] = np.zeros(n, dtype=bool)
        else:
            text = pc.cast(col, pa.string()) if col.type != pa.null() else pa.nulls(n, pa.string())
            codes = pc.index_in(text, value_set=pa.array(list(f.categories or ()), pa.string()))
            arr = pc.fill_null(codes, -1).to_numpy(zero_copy_only=False).astype(np.int8)
            out[f.name] = arr
            out[INVALID + f.name] = (arr < 0) & text.is_valid().to_numpy(zero_copy_only=False)
    return out


def _labels_for(
    batch: pa.RecordBatch, label_ids: pa.Array | None, label_values: np.ndarray | None
) -> np.ndarray:
    if label_ids is None or label_values is None:
        return np.full(batch.num_rows, -1, dtype=np.int8)
    pos = pc.index_in(batch.column("request_id"), value_set=label_ids)
    idx = pc.fill_null(pos, -1).to_numpy(zero_copy_only=False)
    return np.where(idx >= 0, label_values[np.maximum(idx, 0)], -1).astype(np.int8)


def read_store(
    location: Location,
    model: str,
    schema: FeatureSchema,
    since: datetime | None,
    until: datetime | None = None,
    labels: pd.Series | None = None,
) -> LogRead:
    """Every stored prediction of `model` in [since, until), split by version."""
    label_ids = label_values = None
    if labels is not None and len(labels):
        label_ids = pa.array(labels.index.astype(str).to_numpy(), pa.string())
        label_values = labels.to_numpy(dtype=np.int8)
    columns = ["features", "score"] + (["request_id"] if label_ids is not None else [])
    out = LogRead(versions={})
    for version in versions(location, model):
        total = count_window(location, model, version, since, until)
        if total == 0:
            continue
        arrays: dict[str, np.ndarray] | None = None
        y = np.empty(total, dtype=np.int8)
        at = 0
        for batch in scan_window(location, model, version, since, until, columns):
            enc = _encode_batch(batch, schema)
            if arrays is None:
                arrays = {k: np.empty(total, dtype=v.dtype) for k, v in enc.items()}
            end = at + batch.num_rows
            for k, v in enc.items():
                arrays[k][at:end] = v
            y[at:end] = _labels_for(batch, label_ids, label_values)
            at = end
        if arrays is None or at == 0:
            continue
        frame = pd.DataFrame({k: v[:at] for k, v in arrays.items()}, copy=False)
        frame[LABEL] = y[:at]
        out.versions[version] = frame
        out.lines += at
    return out
