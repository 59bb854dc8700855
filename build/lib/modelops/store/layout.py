"""Pure path rules of the store (no I/O): partition directories and file names."""

from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

PREDICTIONS = "predictions"
LABELS = "labels"
SUFFIX = ".parquet"


def _check(value: str, what: str) -> str:
    if not value or "/" in value or "=" in value or value in (".", ".."):
        raise ValueError(f"{what} {value!r}: must be non-empty without '/' or '='")
    return value


def prediction_dir(model: str, version: str, date: str, hour: str) -> str:
    """predictions/model=<name>/version=<N>/date=YYYY-MM-DD/hour=HH"""
    return (
        f"{PREDICTIONS}/model={_check(model, 'model name')}/version={_check(version, 'model version')}"
        f"/date={date}/hour={hour}"
    )


def label_dir(model: str, date: str) -> str:
    return f"{LABELS}/model={_check(model, 'model name')}/date={date}"


def file_name(writer: str, seq: int) -> str:
    return f"{_check(writer, 'writer id')}-{seq:08d}{SUFFIX}"


def hour_key(ts: datetime) -> tuple[str, str]:
    return ts.strftime("%Y-%m-%d"), ts.strftime("%H")


def split_predictions(table: pa.Table) -> list[tuple[str, pa.Table]]:
    """Rows grouped by their partition directory (model, version, UTC date and hour)."""
    when = pc.strftime(table["timestamp"], format="%Y-%m-%d/%H", locale="C")
    key = pc.binary_join_element_wise(table["model_name"], table["model_version"], when, "\x1f")
    return [
        (prediction_dir(*k.split("\x1f")[:2], *k.split("\x1f")[2].split("/")), table.filter(pc.equal(key, k)))
        for k in sorted(pc.unique(key).to_pylist())
    ]


def split_labels(table: pa.Table) -> list[tuple[str, pa.Table]]:
    when = pc.strftime(table["observed_at"], format="%Y-%m-%d", locale="C")
    key = pc.binary_join_element_wise(table["model_name"], when, "\x1f")
    return [
        (label_dir(*k.split("\x1f")), table.filter(pc.equal(key, k)))
        for k in sorted(pc.unique(key).to_pylist())
    ]
