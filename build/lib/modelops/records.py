"""The prediction and label records: defined once, shared by every writer and reader.

Writers: the server's background sink (`serve/sinks.py`, JSON lines or the store), the
batch scorer, `modelops labels ingest`. Readers: `modelops monitor` (JSON lines or the
store), the canary decision. Everything else refers here.

Two encodings of the same record:

* JSON lines (the stdout/file sink): one `PredictionRecord` per line, `msgspec.json`.
  Features are the nested object `"features": {...}`; shadow scoring adds
  `"shadow": {"model_version", "score"}` (the line format of earlier releases).
* Parquet (the store): `prediction_schema(features)`. Features are one struct column
  `features` whose children are typed from configs/features.yaml (numeric int -> int64,
  numeric float -> float64, categorical -> string). A struct, not flattened columns, so a
  feature named like a record field (`score`) can never collide with it, and Parquet still
  stores each child as its own column chunk (readers project and scan them separately).
  Shadow scoring is flattened into `shadow_version` / `shadow_score`.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
import pyarrow as pa

from modelops.data.schema import FeatureSchema

Source = Literal["online", "batch"]
FeatureValue = str | int | float | None


class Shadow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    model_version: str
    score: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] | None


class PredictionRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One scored row. `request_id` is the HTTP request id (online) or the id column's value (batch).

    Several rows of one multi-record request share `request_id`; they are told apart by
    their position (`row`, 0-based) so the pair (request_id, row) is unique.
    """

    request_id: str
    timestamp: datetime  # timezone-aware, UTC
    model_version: str
    features: dict[str, FeatureValue]
    score: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    model_name: str = ""
    row: int = 0
    shadow: Shadow | None = None
    source: Source = "online"

    @property
    def shadow_version(self) -> str | None:
        return self.shadow.model_version if self.shadow else None

    @property
    def shadow_score(self) -> float | None:
        return self.shadow.score if self.shadow else None


class LabelRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A delayed ground-truth label, joined to predictions on `request_id` (or the id column's value)."""

    request_id: str
    label: int
    observed_at: datetime  # when the outcome became known (UTC)
    model_name: str = ""


def required_fields(struct: type[msgspec.Struct]) -> tuple[str, ...]:
    """The fields a record must carry (those without a default), in declaration order."""
    fields = struct.__struct_fields__
    return fields[: len(fields) - len(struct.__struct_defaults__)]


# Fixed Parquet columns, in order; `features` (a struct) sits after `model_version`.
PREDICTION_COLUMNS = (
    "request_id",
    "row",
    "timestamp",
    "model_name",
    "model_version",
    "features",
    "score",
    "shadow_version",
    "shadow_score",
    "source",
)
LABEL_COLUMNS = ("request_id", "label", "observed_at", "model_name")
TIMESTAMP = pa.timestamp("us", tz="UTC")


def _arrow_type(kind: str, dtype: str) -> pa.DataType:
    if kind == "categorical":
        return pa.string()
    return pa.int64() if dtype == "int" else pa.float64()


def features_type(features: FeatureSchema) -> pa.StructType:
    return pa.struct([pa.field(f.name, _arrow_type(f.kind, f.dtype)) for f in features.features])


def prediction_schema(features: FeatureSchema) -> pa.Schema:
    """The Arrow/Parquet schema of stored predictions for this feature schema."""
    return pa.schema(
        [
            pa.field("request_id", pa.string(), nullable=False),
            pa.field("row", pa.int32(), nullable=False),
            pa.field("timestamp", TIMESTAMP, nullable=False),
            pa.field("model_name", pa.string(), nullable=False),
            pa.field("model_version", pa.string(), nullable=False),
            pa.field("features", features_type(features), nullable=False),
            pa.field("score", pa.float64(), nullable=False),
            pa.field("shadow_version", pa.string()),
            pa.field("shadow_score", pa.float64()),
            pa.field("source", pa.string(), nullable=False),
        ]
    )


LABEL_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("label", pa.int8(), nullable=False),
        pa.field("observed_at", TIMESTAMP, nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
    ]
)


def prediction_table(records: Sequence[PredictionRecord], features: FeatureSchema) -> pa.Table:
    """Records -> one Arrow table in `prediction_schema` (the store's file format)."""
    schema = prediction_schema(features)
    names = features.names
    cols: dict[str, Any] = {
        "request_id": [r.request_id for r in records],
        "row": [r.row for r in records],
        "timestamp": [r.timestamp for r in records],
        "model_name": [r.model_name for r in records],
        "model_version": [r.model_version for r in records],
        "features": [{n: r.features.get(n) for n in names} for r in records],
        "score": [r.score for r in records],
        "shadow_version": [r.shadow_version for r in records],
        "shadow_score": [r.shadow_score for r in records],
        "source": [r.source for r in records],
    }
    return pa.Table.from_pydict(cols, schema=schema)


def frame_table(
    frame: Any,
    scores: Sequence[float] | Any,
    *,
    features: FeatureSchema,
    model_name: str,
    model_version: str,
    request_ids: Iterable[str] | Any,
    timestamp: datetime | None = None,
    source: Source = "batch",
) -> pa.Table:
    """A pandas frame of feature columns plus scores -> a table in `prediction_schema` (batch scoring).

    `request_ids` is usually the id column's values, so labels join on it like online ones.
    """
    import pandas as pd

    n = len(frame)
    ts = timestamp or datetime.now(UTC)
    feats = pa.StructArray.from_arrays(
        [
            pa.array(
                pd.Series(frame[f.name]).astype(object).where(frame[f.name].notna(), None).tolist(),
                type=_arrow_type(f.kind, f.dtype),
            )
            for f in features.features
        ],
        fields=list(features_type(features)),
    )
    schema = prediction_schema(features)
    return pa.Table.from_arrays(
        [
            pa.array([str(i) for i in request_ids], pa.string()),
            pa.array([0] * n, pa.int32()),
            pa.array([ts] * n, TIMESTAMP),
            pa.array([model_name] * n, pa.string()),
            pa.array([str(model_version)] * n, pa.string()),
            feats,
            pa.array(scores, pa.float64()),
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.float64()),
            pa.array([source] * n, pa.string()),
        ],
        schema=schema,
    )


def label_table(records: Sequence[LabelRecord]) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "request_id": [r.request_id for r in records],
            "label": [r.label for r in records],
            "observed_at": [r.observed_at for r in records],
            "model_name": [r.model_name for r in records],
        },
        schema=LABEL_SCHEMA,
    )


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PredictionRecord)


def to_json_line(record: PredictionRecord) -> bytes:
    """One JSON line (with the trailing newline) of the stdout/file sink."""
    return _encoder.encode(record) + b"\n"


def from_json_line(line: bytes) -> PredictionRecord:
    """Parse and type-check one JSON line; raises msgspec.ValidationError/DecodeError naming the field."""
    return _decoder.decode(line)


def json_schema() -> Mapping[str, Any]:
    """JSON schema of one prediction line, generated from the record (docs and external readers)."""
    return msgspec.json.schema(PredictionRecord)
