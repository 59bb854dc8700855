"""The embedded engine: Arrow batches in, Parquet parts out, one batch in memory at a time."""

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
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
    """Score every batch into `run`'s staging directory; return the number of rows written.

    Scoring batch k+1 overlaps writing batch k on a second thread: the tree walk, Parquet
    (zstd), DuckDB's JSON rendering and the file writes all release the GIL, so on two cores
    the run takes about max(score, write) rather than their sum. At most two batches are held
    (the one being written and the one being scored), and a write error stops the run at the
    next batch.
    """
    parts = _Parts(job, run)
    rows = 0
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="score-writer") as pool:
            pending: Future[None] | None = None
            for batch in batches:
                scores = job.scorer.score(batch)
                if pending is not None:
                    pending.result()
                pending = pool.submit(parts.write, batch, scores)
                rows += len(scores)
            if pending is not None:
                pending.result()
    finally:
        parts.close()  # after the pool has finished its last write
    return rows


class _Parts:
    """The run's Parquet part files (rolled every ROWS_PER_FILE rows) and its prediction log."""

    def __init__(self, job: Job, run: output.RunOutput) -> None:
        self.job, self.run = job, run
        self.writer: pq.ParquetWriter | None = None
        self.sink: Any = None
        self.part = self.in_file = 0
        self.log = run.fs.open(run.staged(output.PREDICTION_LOG), "wb") if job.prediction_log else None

    def write(self, batch: pa.RecordBatch, scores: Any) -> None:
        job = self.job
        features = job.scorer.features
        table = output.output_table(
            batch, id_column(features), scores, job.threshold, job.version, job.scored_at
        )
        if self.writer is None or self.in_file >= ROWS_PER_FILE:
            self._close_part()
            self.sink = self.run.fs.open(self.run.staged(f"part-{self.part:05d}.parquet"), "wb")
            self.writer = pq.ParquetWriter(self.sink, table.schema, compression="zstd")
            self.part, self.in_file = self.part + 1, 0
        self.writer.write_table(table)
        self.in_file += len(scores)
        if self.log is not None:
            self.log.write(output.prediction_buffer(batch, features, scores, job.version, job.timestamp))

    def _close_part(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.sink.close()
            self.writer = None

    def close(self) -> None:
        self._close_part()
        if self.log is not None:
            self.log.close()
