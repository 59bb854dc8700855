"""The embedded engine: Arrow batches in, Parquet parts out, one batch in memory at a time."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from modelops.score import output
from modelops.score.frame import BatchScorer
from modelops.score.source import id_column

ROWS_PER_FILE = 5_000_000  # roll to a new part file beyond this many rows


@dataclass(frozen=True)
class Job:
    """Everything an engine needs to score one run (engine-independent)."""

    scorer: BatchScorer
    threshold: float
    version: str
    scored_at: Any  # datetime, UTC
    run_id: str
    prediction_log: bool

    @property
    def timestamp(self) -> str:
        return self.scored_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def score_batches(batches: Iterable[pa.RecordBatch], job: Job, run: output.RunOutput) -> int:
    """Score every batch into `run`'s staging directory; return the number of rows written."""
    features = job.scorer.features
    fs = run.fs
    writer: pq.ParquetWriter | None = None
    sink: Any = None
    log = fs.open(run.staged(output.PREDICTION_LOG), "wb") if job.prediction_log else None
    rows = in_file = part = 0
    try:
        for batch in batches:
            scores = job.scorer.score(batch)
            table = output.output_table(
                batch, id_column(features), scores, job.threshold, job.version, job.scored_at
            )
            if writer is None or in_file >= ROWS_PER_FILE:
                if writer is not None:
                    writer.close()
                    sink.close()
                sink = fs.open(run.staged(f"part-{part:05d}.parquet"), "wb")
                writer = pq.ParquetWriter(sink, table.schema, compression="zstd")
                part, in_file = part + 1, 0
            writer.write_table(table)
            if log is not None:
                log.write(output.prediction_lines(batch, features, scores, job.version, job.timestamp))
            rows += len(scores)
            in_file += len(scores)
    finally:
        if writer is not None:
            writer.close()
            sink.close()
        if log is not None:
            log.close()
    return rows
