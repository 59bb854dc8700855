"""The prediction and label store: Parquet files partitioned by model, version and time.

`PREDICTION_STORE` is one URI: a local directory (the default, nothing to run) or any
fsspec URL (`s3://bucket/prefix`, endpoint from AWS_ENDPOINT_URL or storage options).

    <store>/predictions/model=<name>/version=<N>/date=YYYY-MM-DD/hour=HH/<writer>-<seq>.parquet
    <store>/labels/model=<name>/date=YYYY-MM-DD/<writer>-<seq>.parquet

Records and their Arrow schema: `modelops.records`. A file becomes visible only when
complete (local: temp file then rename; object stores: one PUT), and file names are
fixed before the first attempt, so a retried write replaces itself instead of duplicating.
"""

from modelops.store.location import Location, open_location
from modelops.store.reader import read_labels, read_window
from modelops.store.writer import LabelStore, PredictionStore

__all__ = ["LabelStore", "Location", "PredictionStore", "open_location", "read_labels", "read_window"]
