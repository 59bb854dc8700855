"""Streaming reader for prediction logs (JSON lines of `modelops.records.PredictionRecord`).

Lines are parsed in chunks into compact columns (float64 numbers, int8 category
codes, one boolean "invalid" flag per feature), so memory grows by ~100 bytes per
kept row, not by the size of Python dicts. Malformed lines are counted, not fatal.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from modelops.data.schema import FeatureSchema
from modelops.records import PredictionRecord, required_fields

# Lenient on purpose: lines of earlier releases (integer model_version, "+00:00" times) still
# count, and a bad line is reported by name instead of failing the whole read.
REQUIRED = required_fields(PredictionRecord)
INVALID = "__invalid__"
MAX_EXAMPLES = 5


@dataclass
class LogRead:
    """Rows of the time window, split by model version, plus what was dropped and why."""

    versions: dict[str, pd.DataFrame]
    lines: int = 0
    malformed: int = 0
    outside_window: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def malformed_share(self) -> float:
        return self.malformed / self.lines if self.lines else 0.0


def _chunks(path: Path, size: int) -> Iterator[list[tuple[int, bytes]]]:
    batch: list[tuple[int, bytes]] = []
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            batch.append((number, line))
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def _problem(rec: object) -> str | None:
    """Why a parsed line is not a prediction record (None when it is)."""
    if not isinstance(rec, dict):
        return "not a JSON object"
    for key in REQUIRED:
        if key not in rec:
            return f"missing {key!r}"
    if not isinstance(rec["features"], dict):
        return "'features' is not an object"
    score = rec["score"]
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0.0 <= score <= 1.0:
        return "'score' is not a number in [0, 1]"
    if not isinstance(rec["timestamp"], str):
        return "'timestamp' is not a string"
    if not isinstance(rec["model_version"], str | int) or isinstance(rec["model_version"], bool):
        return "'model_version' is not a string or integer"
    return None


def _frame(records: list[dict], schema: FeatureSchema) -> pd.DataFrame:
    cols: dict[str, object] = {
        "request_id": pd.array([str(r["request_id"]) for r in records], dtype="string"),
        "model_version": [str(r["model_version"]).removeprefix("v") for r in records],
        "score": np.fromiter((r["score"] for r in records), dtype=np.float64, count=len(records)),
    }
    for f in schema.features:
        raw = pd.Series([r["features"].get(f.name) for r in records], dtype=object)
        present = raw.notna().to_numpy()
        if f.kind == "numeric":
            values = pd.to_numeric(raw, errors="coerce").astype(np.float64)
            cols[f.name] = values.to_numpy()
            bad = values.isna().to_numpy() & present
        else:
            codes = pd.Categorical(raw, categories=list(f.categories or ())).codes
            cols[f.name] = codes
            bad = (codes < 0) & present
        cols[INVALID + f.name] = bad
    return pd.DataFrame(cols)


def read_logs(path: Path, schema: FeatureSchema, since: pd.Timestamp | None, chunk_lines: int) -> LogRead:
    """Parse `path`; rows before `since` are counted as outside the window."""
    out = LogRead(versions={})
    parts: dict[str, list[pd.DataFrame]] = {}
    for batch in _chunks(path, chunk_lines):
        records: list[dict] = []
        numbers: list[int] = []
        for number, line in batch:
            out.lines += 1
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                reason: str | None = "not valid JSON"
            else:
                reason = _problem(rec)
            if reason is None:
                records.append(rec)
                numbers.append(number)
            else:
                out.malformed += 1
                if len(out.examples) < MAX_EXAMPLES:
                    out.examples.append(f"line {number}: {reason}")
        if not records:
            continue
        ts = pd.to_datetime([r["timestamp"] for r in records], utc=True, errors="coerce", format="ISO8601")
        bad_ts = np.asarray(ts.isna())
        for i in np.flatnonzero(bad_ts)[: MAX_EXAMPLES - len(out.examples)]:
            out.examples.append(f"line {numbers[i]}: 'timestamp' is not an ISO 8601 time")
        out.malformed += int(bad_ts.sum())
        frame = _frame(records, schema)
        frame["timestamp"] = ts
        keep = ~bad_ts
        if since is not None:
            late = keep & np.asarray(ts >= since)
            out.outside_window += int(keep.sum() - late.sum())
            keep = late
        frame = frame[keep]
        for version, part in frame.groupby("model_version", sort=False):
            parts.setdefault(str(version), []).append(part.drop(columns="model_version"))
    out.versions = {v: pd.concat(parts[v], ignore_index=True) for v in sorted(parts, key=_version_key)}
    return out


def _version_key(version: str) -> tuple[bool, int, str]:
    return (not version.isdigit(), int(version) if version.isdigit() else 0, version)


def encode(frame: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """A plain feature frame (e.g. the reference parquet) in the same layout as parsed logs."""
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise KeyError(", ".join(missing))
    cols: dict[str, object] = {}
    for f in schema.features:
        raw = frame[f.name]
        present = raw.notna().to_numpy()
        if f.kind == "numeric":
            values = pd.to_numeric(raw, errors="coerce").astype(np.float64)
            cols[f.name] = values.to_numpy()
            cols[INVALID + f.name] = values.isna().to_numpy() & present
        else:
            codes = pd.Categorical(raw.astype(object), categories=list(f.categories or ())).codes
            cols[f.name] = codes
            cols[INVALID + f.name] = (codes < 0) & present
    return pd.DataFrame(cols, index=frame.index)


def decode(frame: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """Feature columns with categories restored (codes -> pandas Categorical)."""
    cols = {}
    for f in schema.features:
        if f.kind == "categorical":
            cols[f.name] = pd.Categorical.from_codes(
                np.where(frame[f.name] < 0, -1, frame[f.name]), categories=list(f.categories or ())
            )
        else:
            cols[f.name] = frame[f.name].to_numpy()
    return pd.DataFrame(cols, index=frame.index)
