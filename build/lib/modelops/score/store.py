"""Publish a committed run's predictions to the prediction store (`PREDICTION_STORE`).

The run's `_predictions.jsonl` (one `records.PredictionRecord` per line, written by either
engine) is streamed in chunks into `store.writer.PredictionStore`, so batch scores land in the
same partitioned Parquet store as online ones and `modelops monitor --store` judges them alike.
Only published runs are sent: quarantined scores never reach the store.
"""

from typing import Any

import msgspec

from modelops.data.schema import FeatureSchema

CHUNK = 200_000


def publish(fs: Any, log_path: str, store_uri: str, features: FeatureSchema, model_name: str) -> int:
    """Write every line of `log_path` to the store; returns the row count."""
    from modelops.records import from_json_line, prediction_table
    from modelops.store.writer import PredictionStore

    store = PredictionStore(store_uri)
    rows = 0
    batch: list[Any] = []
    with fs.open(log_path, "rb") as fh:
        for line in fh:
            record = from_json_line(line)
            batch.append(msgspec.structs.replace(record, model_name=model_name, source="batch"))
            if len(batch) >= CHUNK:
                store.write(prediction_table(batch, features))
                rows, batch = rows + len(batch), []
    if batch:
        store.write(prediction_table(batch, features))
        rows += len(batch)
    return rows
