"""The Spark engine: the same scorer, broadcast once, applied with `mapInArrow` on any cluster.

The driver builds the parity-checked scorer (compiled, or the pipeline as fallback) exactly
as the pandas engine does and broadcasts it; each executor's Python worker unpickles it
once and reuses it for every batch (spark.sql.execution.arrow.maxRecordsPerBatch rows,
configs/score.yaml). Arrow batches go straight into the same `BatchScorer.score` as the
pandas engine (no pandas conversion), so the scores are identical.

Paths: Spark reads and writes through Hadoop filesystems, so `s3://` becomes `s3a://`
for Spark (the cluster needs hadoop-aws); staging is committed by the same fsspec code
as the pandas engine, manifest last.
"""

import os
import sys
from typing import Any

from modelops.data.schema import FeatureSchema
from modelops.score import output
from modelops.score.config import SparkConfig
from modelops.score.engine_pandas import Job
from modelops.score.source import Snapshot, id_column

LOG_COLUMN = "_log"


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
        df = spark.read.option("header", True).csv(paths)
        for f in features.features:
            if f.kind == "numeric":
                df = df.withColumn(f.name, F.col(f.name).cast("double"))
    else:
        df = spark.read.parquet(*paths)
    return df


def _output_schema(features: FeatureSchema, id_type: Any, with_log: bool) -> Any:
    from pyspark.sql import types as T

    fields = [
        T.StructField(id_column(features), id_type),
        T.StructField(output.SCORE, T.DoubleType()),
        T.StructField(output.LABEL, T.ByteType()),
        T.StructField(output.VERSION, T.StringType()),
        T.StructField(output.SCORED_AT, T.TimestampType()),
    ]
    if with_log:
        fields.append(T.StructField(LOG_COLUMN, T.StringType()))
    return T.StructType(fields)


def _scorer_fn(broadcast: Any, job: Job, arrow_schema: Any, with_log: bool) -> Any:
    """The mapInArrow function; it closes over the broadcast handle, never the scorer itself.

    Arrow batches in and out: no pandas conversion and no per-row Python (the log lines stay an
    Arrow string column); `arrow_schema` is the output schema as Spark expects it, exactly.
    """
    threshold, version, timestamp, scored_at = job.threshold, job.version, job.timestamp, job.scored_at

    def score_partition(batches: Any) -> Any:
        import pyarrow as pa

        scorer = broadcast.value  # unpickled once per Python worker, then cached
        features = scorer.features
        for batch in batches:
            if batch.num_rows == 0:
                continue
            scores = scorer.score(batch)
            table = output.output_table(batch, id_column(features), scores, threshold, version, scored_at)
            columns = list(table.columns)
            if with_log:
                columns.append(output.prediction_json(batch, features, scores, version, timestamp))
            yield pa.RecordBatch.from_arrays(
                [
                    pa.chunked_array(c).combine_chunks().cast(f.type)
                    for c, f in zip(columns, arrow_schema, strict=True)
                ],
                schema=arrow_schema,
            )

    return score_partition


def score(
    snapshot: Snapshot,
    features: FeatureSchema,
    job: Job,
    run: output.RunOutput,
    cfg: SparkConfig,
    since: Any = None,
    spark: Any = None,
) -> int:
    """Score into `run`'s staging directory with Spark; return the row count written."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

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
    df = df.select(id_column(features), *features.names)
    with_log = job.prediction_log
    broadcast = spark.sparkContext.broadcast(job.scorer)
    try:
        from pyspark.sql.pandas.types import to_arrow_schema

        schema = _output_schema(features, df.schema[id_column(features)].dataType, with_log)
        large = spark.conf.get("spark.sql.execution.arrow.useLargeVarTypes", "false") == "true"
        arrow_schema = to_arrow_schema(schema, timezone="UTC", prefers_large_types=large)
        scored = df.mapInArrow(_scorer_fn(broadcast, job, arrow_schema, with_log), schema)
        if with_log:
            scored = scored.persist(StorageLevel.DISK_ONLY)  # scored once, written twice
        staging = hadoop_path(run.fs.unstrip_protocol(run.staging))
        scored.drop(LOG_COLUMN).write.mode("overwrite").option("compression", "zstd").parquet(staging)
        rows = spark.read.parquet(staging).count()
        if with_log:
            logs = hadoop_path(run.fs.unstrip_protocol(run.staged("_log")))
            scored.select(LOG_COLUMN).write.mode("overwrite").text(logs)
            scored.unpersist()
            _concat(run, "_log", output.PREDICTION_LOG)
    finally:
        broadcast.unpersist()
    for name in run.fs.ls(run.staging, detail=False):
        if name.rsplit("/", 1)[-1] in ("_SUCCESS", "._SUCCESS.crc"):
            run.fs.rm(name)
    return int(rows)


def _concat(run: output.RunOutput, parts_dir: str, name: str) -> None:
    """Spark's text part files -> one JSON-lines file (streamed), then drop the parts."""
    fs = run.fs
    src = run.staged(parts_dir)
    with fs.open(run.staged(name), "wb") as out:
        for part in sorted(p for p in fs.ls(src, detail=False) if p.rsplit("/", 1)[-1].startswith("part-")):
            with fs.open(part, "rb") as fh:
                while block := fh.read(1 << 22):
                    out.write(block)
    fs.rm(src, recursive=True)
