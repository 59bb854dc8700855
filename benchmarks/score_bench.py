"""Benchmark: `modelops score` (pandas and spark engines) vs `mlflow.pyfunc.spark_udf`, in one run.

Targets (issue 15): the spark engine >= 3x the rows/s of spark_udf on the same Spark session and
rows; the pandas engine scores 10M rows in < 2 min with peak RSS < 2 GiB on 2 cores. Scores of all
three must agree (max |diff| <= 1e-9).

Builds a throw-away project (the real `dvc repro`: data, validation + baseline profile, training
into its own MLflow registry), a release file for the version, and an N-row snapshot. Then:
1. `modelops score --engine pandas` as a child process: wall time, peak RSS of its process tree;
2. in this process, one Spark session (local[*]): the spark engine (`modelops.score.job.run`)
   and `spark_udf` (the same fitted pipeline saved with pyfunc_predict_fn=predict_proba), each
   warmed up untimed on 5,000 rows, then timed on the same rows; peak RSS of the JVM + Python
   workers is sampled.
The output says what each Spark side does (the engine also gates, checks and writes the prediction
log; spark_udf only scores and writes), and each engine's per-phase wall times (the manifest's
`phases_s`), with the load average.

    .venv/bin/python benchmarks/score_bench.py --rows 10000000 --spark-rows 1000000
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PANDAS_BUDGET_S, PANDAS_BUDGET_MIB, SPARK_SPEEDUP = 120.0, 2048.0, 3.0


class PeakRSS:
    """Samples the summed RSS of a process tree every 0.2 s (JVM and Python workers included)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)

    def __enter__(self) -> "PeakRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> float:
        return self.peak / 2**20


def build_project(work: Path, train_rows: int) -> tuple[Path, Path]:
    """A trained throw-away project and a release file for its version."""
    from tests.conftest import Project, make_project
    from tests.score.conftest import write_release

    # The configured model package (what the README's figures measure), not the tests' fixture one.
    root = make_project(work / "project", rows=train_rows, max_iter=200, fixture=False)
    project = Project(root)
    project.create_eval_set()  # the first run pins the evaluation set, as `make demo` does
    project.repro()
    project.version = json.loads((root / "artifacts/train/model.json").read_text())["version"]
    return root, write_release(project, project.version, work / "release.yaml")


def write_snapshot(root: Path, path: Path, rows: int) -> None:
    """`rows` customers through the model contract, in 1M-row chunks (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modelops.contract import load_package
    from modelops.settings import load_settings

    settings = load_settings(root)
    package = load_package(settings)
    writer = None
    for i, offset in enumerate(range(0, rows, 1_000_000)):
        n = min(1_000_000, rows - offset)
        source = package.source(settings, rows=max(n, 1000), seed=500 + i)
        frame = package.load_data(source).head(n).drop(columns=[settings.features.label])
        frame[settings.features.id_column] += offset
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    if writer:
        writer.close()


def first_n(src: Path, dst: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    head = next(pq.ParquetFile(src).iter_batches(batch_size=rows))  # streamed, not the whole file
    pq.write_table(pa.Table.from_batches([head]), dst)


def scores_of(location: Path, id_col: str) -> "object":
    import pyarrow.dataset as ds

    frame = ds.dataset(str(location), format="parquet").to_table(columns=[id_col, "score"]).to_pandas()
    return frame.set_index(id_col)["score"].sort_index()


def run_pandas(root: Path, release: Path, data: Path, out: Path) -> dict:
    """`modelops score --engine pandas` as a child process: wall time and peak RSS of its tree.

    Python may write bytecode (PYTHONDONTWRITEBYTECODE is dropped): main() first scores a few
    rows so the timed run starts as a nightly job on an installed machine does, with bytecode
    and numba's kernel cache in place, not recompiling mlflow/evidently/skops (+10-25 s)."""
    cmd = [
        sys.executable,
        "-m",
        "modelops.cli",
        "--root",
        str(root),
        "score",
        "--input",
        str(data),
        "--out",
        str(out),
        "--release",
        str(release),
        "--engine",
        "pandas",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakRSS(proc.pid) as rss:
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"modelops score (pandas) exited {proc.returncode}:\n{stderr[-3000:]}")
    manifest = json.loads(Path(stdout.strip().splitlines()[-1].removeprefix("file://")).read_text())
    return {
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(rss.mib),
        "rows": manifest["output"]["rows"],
        "scorer": manifest["scorer"]["kind"],
        # Where the run's time went, up to its manifest (the rest of wall_s: process start, imports).
        "phases_s": manifest["phases_s"],
    }


# What each timed Spark side does, printed with the figures so the ratio compares like with like.
SIDES = {
    "modelops_spark": "modelops score --engine spark (job.run): columns check, model download + "
    "sha256 check, scorer parity check, data gate (count + seeded sample + baseline checks with "
    "Evidently), score, write the Parquet scores AND the prediction log (JSON lines), manifest last",
    "spark_udf": "mlflow.pyfunc.spark_udf(predict_proba) on the same session and rows: read, score, "
    "write id + score as Parquet (no gate, no digest/parity check, no log, no manifest)",
}


def _udf_model(root: Path, release: Path, work: Path) -> Path:
    """The release's fitted pipeline saved as an MLflow model whose pyfunc is predict_proba."""
    import mlflow

    from modelops.adapters import tracking
    from modelops.score import job
    from modelops.settings import load_settings

    settings = load_settings(root)
    registry = tracking.registry_for(root)
    mv = registry.get_version(settings.model.name, job.reference(root, release, None).version)
    pipe = tracking.load_sklearn(
        registry.download_model(mv, work / "model"), settings.model.skops_trusted_types
    )
    udf_model = work / "udf-model"
    shutil.rmtree(udf_model, ignore_errors=True)
    mlflow.sklearn.save_model(
        pipe,
        str(udf_model),
        serialization_format="skops",
        skops_trusted_types=list(settings.model.skops_trusted_types),
        pyfunc_predict_fn="predict_proba",
    )
    return udf_model


def run_spark(
    root: Path, release: Path, data: Path, warm: Path, work: Path, id_col: str, conf: dict[str, str]
) -> dict:
    """Both Spark sides on one session, each warmed up untimed on `warm` first (JVM, Python
    workers, imports), then timed on `data`: modelops' engine first, spark_udf second."""
    import mlflow
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from modelops.score import config, job
    from modelops.settings import load_settings

    os.environ["PYSPARK_PYTHON"] = sys.executable
    settings = load_settings(root)
    cfg = config.load(settings.config_dir)
    spark = SparkSession.builder.master("local[*]").appName("score-bench")
    for key, value in {**cfg.spark.conf, **conf}.items():
        spark = spark.config(key, value)
    spark = spark.config("spark.driver.memory", "1g").getOrCreate()
    results: dict = {}
    me = psutil.Process()

    def engine(snapshot: Path, out: Path) -> job.Result:
        shutil.rmtree(out, ignore_errors=True)
        request = job.Request(input=str(snapshot), out=str(out), release=release, engine="spark")
        return job.run(settings, cfg, request, spark=spark)

    udf_model = _udf_model(root, release, work)
    names = settings.features.names

    def spark_udf(snapshot: Path, out: Path) -> None:
        udf = mlflow.pyfunc.spark_udf(spark, str(udf_model), result_type="array<double>", env_manager="local")
        # The engine set nanosAsLong on this session, so pandas' nanosecond timestamps read.
        df = spark.read.parquet(str(snapshot))
        scored = df.select(id_col, udf(F.struct(*[F.col(n) for n in names]))[1].alias("score"))
        scored.write.mode("overwrite").parquet(str(out))

    engine(warm, work / "spark-warm-out")  # untimed: JVM, Python workers, imports, numba cache
    spark_udf(warm, work / "udf-warm-out")

    # 1. modelops score --engine spark, through the same job.run the CLI calls, on this session.
    load = Path("/proc/loadavg").read_text().split()[:3]
    t0 = time.perf_counter()
    with PeakRSS(me.pid) as rss:
        result = engine(data, work / "spark-out")
    wall = time.perf_counter() - t0
    manifest = json.loads(Path(result.manifest.removeprefix("file://")).read_text())
    rows = manifest["output"]["rows"]
    results["modelops_spark"] = {
        "wall_s": round(wall, 1),
        "rows_per_s": round(rows / wall),
        "peak_rss_mib": round(rss.mib),
        "rows": rows,
        "loadavg_at_start": load,
        # Where the wall time went (the manifest's phases_s, plus the commit after it).
        "phases_s": result.phases,
        "does": SIDES["modelops_spark"],
    }

    # 2. spark_udf: the same fitted pipeline, same session, same rows.
    load = Path("/proc/loadavg").read_text().split()[:3]
    t0 = time.perf_counter()
    with PeakRSS(me.pid) as rss:
        spark_udf(data, work / "udf-out")
    wall = time.perf_counter() - t0
    results["spark_udf"] = {
        "wall_s": round(wall, 1),
        "rows_per_s": round(rows / wall),
        "peak_rss_mib": round(rss.mib),
        "rows": rows,
        "loadavg_at_start": load,
        "does": SIDES["spark_udf"],
    }
    spark.stop()
    results["modelops_spark_location"] = result.location
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows for the pandas engine")
    parser.add_argument("--spark-rows", type=int, default=2_000_000, help="rows for the Spark comparison")
    parser.add_argument("--train-rows", type=int, default=100_000)
    parser.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Spark setting for the shared session (both sides), e.g. spark.task.cpus=2",
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep the project and snapshots here; a second run reuses them"
    )
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="score-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    if (work / "release.yaml").is_file():
        root, release = work / "project", work / "release.yaml"
    else:
        root, release = build_project(work, args.train_rows)
    import pyarrow.parquet as pq

    from modelops.settings import load_settings

    id_col = load_settings(root).features.id_column
    data = work / "snapshot.parquet"
    rows = max(args.rows, args.spark_rows)
    if not data.is_file() or pq.ParquetFile(data).metadata.num_rows != rows:
        write_snapshot(root, data, rows)
    spark_data = work / "spark-snapshot.parquet"
    first_n(data, spark_data, args.spark_rows)

    warm = work / "warm-snapshot.parquet"
    first_n(data, warm, 5000)
    run_pandas(root, release, warm, work / "warm-out")  # bytecode + numba cache, not timed

    load_before = Path("/proc/loadavg").read_text().split()[:3]
    pandas = run_pandas(root, release, data, work / "pandas-out")
    pandas["rows_per_s"] = round(pandas["rows"] / pandas["wall_s"])
    conf = dict(kv.split("=", 1) for kv in args.spark_conf)
    spark = run_spark(root, release, spark_data, warm, work, id_col, conf)
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    # Scores compared on the Spark comparison's rows: pandas engine, spark engine, spark_udf.
    p = scores_of(work / "pandas-out", id_col)
    s = scores_of(Path(spark.pop("modelops_spark_location").removeprefix("file://")), id_col)
    u = scores_of(work / "udf-out", id_col)
    p = p.loc[s.index]
    diffs = {
        "pandas_vs_spark_engine": float((p - s).abs().max()),
        "spark_engine_vs_spark_udf": float((s - u.loc[s.index]).abs().max()),
    }
    speedup = spark["modelops_spark"]["rows_per_s"] / spark["spark_udf"]["rows_per_s"]
    result = {
        "pandas": pandas,
        **spark,
        "spark_speedup_vs_udf": round(speedup, 2),
        "max_abs_diff": diffs,
        "cpus": os.cpu_count(),
        "spark_conf": conf,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "targets": {
            "pandas_10M_under_120s": pandas["rows"] >= 10_000_000 and pandas["wall_s"] < PANDAS_BUDGET_S,
            "pandas_rss_under_2GiB": pandas["peak_rss_mib"] < PANDAS_BUDGET_MIB,
            "spark_3x_udf": speedup >= SPARK_SPEEDUP,
            "scores_agree_1e-9": max(diffs.values()) <= 1e-9,
        },
    }
    print(json.dumps(result, indent=2))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(result["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
