"""The Spark engine: the same scorer, broadcast once, applied as an Arrow UDF on any cluster.

The driver builds the parity-checked scorer (compiled, or the pipeline as fallback) exactly
as the pandas engine does and broadcasts it; each executor's Python worker unpickles it
once and reuses it for every batch (spark.sql.execution.arrow.maxRecordsPerBatch rows,
configs/score.yaml). The feature columns go as Arrow arrays straight into the same
`BatchScorer.score` as the pandas engine (no pandas conversion), so the scores are identical;
only the score column comes back. Everything else (id, label, version, scoring time, the
prediction log's JSON) is a Spark expression evaluated in the JVM, not per-row Python.

Paths: Spark reads and writes through Hadoop filesystems, so `s3://` becomes `s3a://`
for Spark (the cluster needs hadoop-aws); staging is committed by the same fsspec code
as the pandas engine, manifest last.
"""

import os
import sys
from dataclasses import replace
from typing import Any

from modelops.data.schema import FeatureSchema
from modelops.score import output
from modelops.score.config import SparkConfig
from modelops.score.engine_pandas import Job
from modelops.score.source import Snapshot, id_column


def session(cfg: SparkConfig) -> Any:
    """The active SparkSession (spark-submit's), or a new one on cfg.master."""
    # Executors must run the same interpreter (and so the same scikit-learn) as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(cfg.app_name)
    if not os.environ.get("SPARK_MASTER") and "spark.master" not in cfg.conf:
        builder = builder.master(cfg.master)
    for key, value in cfg.conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def hadoop_path(uri: str) -> str:
    """An fsspec URI as Spark (Hadoop) spells it."""
    if uri.startswith("s3://"):
        return "s3a://" + uri[len("s3://") :]
    if "://" not in uri:
        return "file://" + os.path.abspath(uri)
    return uri


def read(spark: Any, snapshot: Snapshot, features: FeatureSchema) -> Any:
    """The input as a Spark DataFrame of the id and feature columns (CSV numbers cast to double)."""
    from pyspark.sql import functions as F

    paths = [hadoop_path(f.path) for f in snapshot.files]
    if snapshot.format == "csv":
        # Every column a string (as the pandas engine reads the id); declared numbers cast to double.
        # An empty cell is null, as the pandas engine's Arrow CSV reader reads it
        # (strings_can_be_null): tests/score/test_spark_inputs.py compares the two engines' logs.
        df = spark.read.option("header", True).csv(paths)
        for f in features.features:
            if f.kind == "numeric":
                df = df.withColumn(f.name, F.col(f.name).cast("double"))
    else:
        df = spark.read.parquet(*paths)
    return df


def _score_udf(broadcast: Any, names: list[str]) -> Any:
    """The score column as a scalar-iterator Arrow UDF over the feature columns.

    Only the features go to Python and only the score comes back: the id stays in the JVM, and
    the label, version, scoring time and prediction-log JSON are Spark expressions. The function
    closes over the broadcast handle, never the scorer itself; each Python worker unpickles the
    scorer once and reuses it for every batch.
    """
    from collections.abc import Iterator

    import pyarrow as pa
    from pyspark.sql.functions import arrow_udf
    from pyspark.sql.types import DoubleType

    # Spark reads the UDF kind (scalar, iterator of column tuples) from these type hints.
    def scores(batches: Iterator[tuple[pa.Array, ...]]) -> Iterator[pa.Array]:
        scorer = broadcast.value  # unpickled once per Python worker, then cached
        for arrays in batches:
            # One column arrives as a bare array, several as a tuple.
            columns = [arrays] if isinstance(arrays, pa.Array | pa.ChunkedArray) else list(arrays)
            batch = pa.RecordBatch.from_arrays(columns, names=names)
            yield pa.array(scorer.score(batch), pa.float64())

    return arrow_udf(scores, DoubleType())  # type: ignore[call-overload]  # the stubs lack (f, returnType)


def published_columns(features: FeatureSchema, job: Job) -> list[Any]:
    """The published columns (output.output_table's, as Spark expressions over the score)."""
    from pyspark.sql import functions as F

    score = F.col(output.SCORE)
    return [
        F.col(id_column(features)),
        score,
        (score >= F.lit(job.threshold)).cast("byte").alias(output.LABEL),
        F.lit(str(job.version)).alias(output.VERSION),
        F.lit(job.scored_at).cast("timestamp").alias(output.SCORED_AT),
    ]


def log_column(features: FeatureSchema, job: Job) -> Any:
    """One prediction-log record per row (output.prediction_buffer's fields) rendered by Spark."""
    from pyspark.sql import functions as F

    record = F.struct(
        F.col(id_column(features)).cast("string").alias("request_id"),
        F.lit(job.timestamp).alias("timestamp"),
        F.lit(str(job.version)).alias(output.VERSION),
        F.struct(*[F.col(n) for n in features.names]).alias("features"),
        F.col(output.SCORE).alias(output.SCORE),
        F.lit("batch").alias("source"),
    )
    # Missing feature values stay in the record as null, as the pandas engine writes them.
    return F.to_json(record, {"ignoreNullFields": "false"}).alias("value")


def score(
    snapshot: Snapshot,
    features: FeatureSchema,
    job: Job,
    run: output.RunOutput,
    cfg: SparkConfig,
    since: Any = None,
    spark: Any = None,
    phases: Any = None,
) -> int:
    """Score into `run`'s staging directory with Spark; return the row count written.

    With the prediction log on, the scored rows are cached (MEMORY_AND_DISK: spilled, never
    lost) so the score is computed once for both outputs; the count is read from the written
    Parquet footers, not by another Spark job.
    """
    from contextlib import nullcontext

    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    phase = phases or (lambda name: nullcontext())
    with phase("spark_session"):
        spark = spark or session(cfg)
    # Timestamps are written as UTC instants whatever the cluster's zone.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # The same Parquet type as the pandas engine writes (Spark's default is legacy INT96).
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    # pandas writes nanosecond timestamps, which Spark refuses unless read as raw longs.
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    df = read(spark, snapshot, features)
    if since is not None:
        # The session zone is UTC, so a naive UTC datetime compares as the instant it is.
        from pyspark.sql import types as T

        bound = since.tz_convert("UTC").tz_localize(None)
        stamp = features.require("timestamp_column", "--since filters the input on it")
        column = F.col(stamp)
        if isinstance(df.schema[stamp].dataType, T.LongType):
            df = df.filter(column >= F.lit(int(bound.value)))  # nanoseconds since the epoch
        else:
            df = df.filter(column >= F.lit(bound.to_pydatetime()))
    names = features.names
    # A task given several cores (spark.task.cpus) splits each batch's tree walk over them, as
    # the pandas engine does over the machine's cores; by default one thread per task.
    threads = int(spark.sparkContext.getConf().get("spark.task.cpus", "1"))
    broadcast = spark.sparkContext.broadcast(replace(job.scorer, threads=threads))
    scored = df.select(
        id_column(features),
        *names,
        _score_udf(broadcast, names)(*[F.col(n) for n in names]).alias(output.SCORE),
    )
    if job.prediction_log:
        scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        staging = hadoop_path(run.fs.unstrip_protocol(run.staging))
        with phase("score_write_scores"):
            published = scored.select(*published_columns(features, job))
            published.write.mode("overwrite").option("compression", "zstd").parquet(staging)
        if job.prediction_log:
            logs = hadoop_path(run.fs.unstrip_protocol(run.staged("_log")))
            with phase("write_log"):
                scored.select(log_column(features, job)).write.mode("overwrite").text(logs)
            with phase("concat_log"):
                _concat(run, "_log", output.PREDICTION_LOG)
    finally:
        if job.prediction_log:
            scored.unpersist()
        broadcast.unpersist()
    for name in run.fs.ls(run.staging, detail=False):
        if name.rsplit("/", 1)[-1] in ("_SUCCESS", "._SUCCESS.crc"):
            run.fs.rm(name)
    with phase("count"):
        return _rows_written(run)


def _rows_written(run: output.RunOutput) -> int:
    """Rows in the staged Parquet parts, from their footers (no data read)."""
    import pyarrow.parquet as pq

    rows = 0
    for part in run.parts():
        with run.fs.open(output.join(run.staging, part), "rb") as fh:
            rows += pq.ParquetFile(fh).metadata.num_rows
    return rows


def _concat(run: output.RunOutput, parts_dir: str, name: str) -> None:
    """Spark's text part files -> one JSON-lines file, then drop the parts. One part (one input
    split) is renamed, not copied; several are streamed into one file."""
    fs = run.fs
    src = run.staged(parts_dir)
    parts = sorted(p for p in fs.ls(src, detail=False) if p.rsplit("/", 1)[-1].startswith("part-"))
    if len(parts) == 1:
        fs.mv(parts[0], run.staged(name))
    else:
        with fs.open(run.staged(name), "wb") as out:
            for part in parts:
                with fs.open(part, "rb") as fh:
                    while block := fh.read(1 << 22):
                        out.write(block)
    fs.rm(src, recursive=True)
