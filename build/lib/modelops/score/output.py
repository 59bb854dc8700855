"""Where a run's scores go, and how they become visible only when complete.

Layout under --out (any fsspec URL):

    <out>/scored_date=YYYY-MM-DD/run=<run id>/part-00000.parquet   scores (hive-partitioned by date)
    <out>/scored_date=YYYY-MM-DD/run=<run id>/_predictions.jsonl   the same rows in the prediction-log format
    <out>/scored_date=YYYY-MM-DD/run=<run id>/_manifest.json       written LAST: the run is complete

Everything is first written under <out>/_staging/<run id>/ (names starting with "_" are
ignored by Arrow, Spark and DuckDB dataset readers), then moved into place, then the
manifest is written. A crash leaves only staging behind, never a run with a manifest.
"""

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from modelops.data.schema import FeatureSchema

MANIFEST = "_manifest.json"
PREDICTION_LOG = "_predictions.jsonl"
STAGING = "_staging"
SCORE, LABEL, VERSION, SCORED_AT = "score", "label", "model_version", "scored_at"


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def run_path(base: str, scored_date: str, run_id: str) -> str:
    return join(base, f"scored_date={scored_date}", f"run={run_id}")


def output_table(
    batch: Any, id_column: str, scores: np.ndarray, threshold: float, version: str, scored_at: Any
) -> pa.Table:
    """The published columns for one batch (pure)."""
    n = len(scores)
    return pa.table(
        {
            id_column: batch.column(id_column),
            SCORE: pa.array(scores, pa.float64()),
            LABEL: pa.array((scores >= threshold).astype(np.int8)),
            VERSION: pa.array([version] * n, pa.string()),
            SCORED_AT: pa.array(
                np.full(n, np.datetime64(scored_at.replace(tzinfo=None), "us")), pa.timestamp("us", tz="UTC")
            ),
        }
    )


def prediction_buffer(
    batch: Any, features: FeatureSchema, scores: np.ndarray, version: str, timestamp: str
) -> pa.Buffer:
    """The rows as prediction-log JSON lines (docs/INTERFACES.md), the format `modelops monitor`
    reads, as an Arrow buffer a file's `write` takes without a copy.

    One function, so switching to the prediction store's writer is a one-line change. DuckDB
    renders the JSON (vectorised; a Python loop cost ~50 us a row), each line ends in a newline,
    and the bytes are the string column's data buffer: no per-row Python at all.
    """
    column = _json_lines(batch, features, scores, version, timestamp, newline=True)
    column = column.cast(pa.large_string()) if pa.types.is_string_view(column.type) else column
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    offsets = np.frombuffer(column.buffers()[1], dtype=width)
    start, stop = int(offsets[column.offset]), int(offsets[column.offset + len(column)])
    return column.buffers()[2].slice(start, stop - start)


def prediction_json(
    batch: Any, features: FeatureSchema, scores: np.ndarray, version: str, timestamp: str
) -> pa.Array:
    """The same records as a string column, one JSON document per row and no newline (Spark's
    text writer adds it)."""
    return _json_lines(batch, features, scores, version, timestamp, newline=False)


def _json_lines(
    batch: Any, features: FeatureSchema, scores: np.ndarray, version: str, timestamp: str, newline: bool
) -> pa.Array:
    import duckdb

    from modelops.score.source import id_column

    names = features.names
    table = pa.table(
        {"__id": batch.column(id_column(features)), "__score": pa.array(scores, pa.float64())}
        | {name: batch.column(name) for name in names}
    )
    feats = ", ".join(f"{_sql_string(n)}: {_sql_ident(n)}" for n in names)
    query = (
        # request_id is the id column's value, so delayed labels join on it like online ones.
        "SELECT to_json({'request_id': CAST(__id AS VARCHAR), 'timestamp': $ts, "
        f"'{VERSION}': $version, 'features': {{{feats}}}, '{SCORE}': __score, 'source': 'batch'}})::VARCHAR "
        + ("|| chr(10) " if newline else "")
        + "AS line FROM lines_in"
    )
    with duckdb.connect() as con:
        con.register("lines_in", table)
        lines = con.sql(query, params={"ts": timestamp, "version": version}).to_arrow_table()
    return pa.chunked_array(lines.column("line")).combine_chunks()


def _sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


@dataclass
class RunOutput:
    """One run's staging directory and its final place (published or quarantine)."""

    fs: Any
    base: str  # --out, or the quarantine location
    run_id: str
    scored_date: str

    @property
    def staging(self) -> str:
        return join(self.base, STAGING, self.run_id)

    @property
    def final(self) -> str:
        return run_path(self.base, self.scored_date, self.run_id)

    def prepare(self) -> None:
        if self.fs.exists(self.final):
            raise FileExistsError(f"{self.final} already exists")
        self.fs.makedirs(self.staging, exist_ok=True)

    def staged(self, name: str) -> str:
        return join(self.staging, name)

    def parts(self) -> list[str]:
        return sorted(
            p.rsplit("/", 1)[-1] for p in self.fs.ls(self.staging, detail=False) if p.endswith(".parquet")
        )

    def commit(self, manifest: dict[str, Any]) -> str:
        """Move staging into place, then write the manifest (the commit marker) last."""
        self.fs.makedirs(self.final.rsplit("/", 1)[0], exist_ok=True)
        self.fs.mv(self.staging, self.final, recursive=True)
        tmp = join(self.final, f"_{MANIFEST}.tmp")
        self.fs.pipe_file(tmp, json.dumps(manifest, indent=2, default=str).encode() + b"\n")
        self.fs.mv(tmp, join(self.final, MANIFEST))
        return join(self.final, MANIFEST)

    def abort(self) -> None:
        if self.fs.exists(self.staging):
            self.fs.rm(self.staging, recursive=True)


def committed_runs(fs: Any, base: str) -> list[str]:
    """Manifests of the complete runs under `base` (what a reader should trust)."""
    return sorted(fs.glob(join(base, "scored_date=*", "run=*", MANIFEST)))
