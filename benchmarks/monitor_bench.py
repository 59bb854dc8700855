"""Benchmark: `modelops monitor` on the same N predictions from the Parquet store and from JSON lines.

Budget for the store path: 10M predictions judged in < 60 s with < 2 GiB peak RSS on 2 cores.

Builds a throw-away project (configs, the configured model fitted through its contract on its
own raw snapshot, a scored reference; benchmarks/configured_model.py), scores a base chunk of
snapshot rows once, and repeats it with fresh request ids and
timestamps spread over one day until N rows: the same rows go to a local prediction store
(`PredictionStore.write`, hour partitions) and to a JSON-lines log. Each path is then
timed as a child process (`modelops monitor --store ... --since` / `--predictions ...`),
its peak RSS and CPU time read from wait4(). Imports are warmed first (bytecode compiled, as
in an installed image: with PYTHONDONTWRITEBYTECODE=1 every run recompiles Evidently's
sources, ~25 s that have nothing to do with the data). The reference is passed with --reference, so no MLflow
registry is needed; everything else is the real path.

    .venv/bin/python benchmarks/monitor_bench.py --rows 10000000 --paths store,jsonl
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import configured_model as cm
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from modelops.records import TIMESTAMP, frame_table
from modelops.store import PredictionStore

REPO = Path(__file__).resolve().parents[1]
BUDGET_S, BUDGET_MIB = 60.0, 2048.0
DAY = pd.Timestamp("2025-06-02T00:00:00Z")


def chunks(rows: int, base: int) -> list[tuple[int, int]]:
    return [(offset, min(base, rows - offset)) for offset in range(0, rows, base)]


def stamps(offset: int, n: int, rows: int) -> pd.DatetimeIndex:
    """Row i of N at DAY + i * (24 h / N): one day of traffic, in order."""
    return DAY + pd.to_timedelta((np.arange(offset, offset + n) * (86_400 / rows)).astype(np.int64), unit="s")


def write_store(uri: str, base: pd.DataFrame, scores: np.ndarray, rows: int, settings) -> None:
    table = frame_table(
        base,
        scores,
        features=settings.features,
        model_name=settings.model.name,
        model_version="1",
        request_ids=[""] * len(base),
    )
    store = PredictionStore(uri, writer="bench")
    for offset, n in chunks(rows, len(base)):
        part = table.slice(0, n)
        ids = pa.array([f"req-{offset + j}" for j in range(n)], pa.string())
        ts = pa.array(stamps(offset, n, rows), TIMESTAMP)
        part = part.set_column(0, "request_id", ids).set_column(2, "timestamp", ts)
        store.write(part)


def write_log(path: Path, base: pd.DataFrame, scores: np.ndarray, rows: int, names: list[str]) -> None:
    feats = base[names].astype(object).where(base[names].notna(), None).to_dict("records")
    dumps = orjson.dumps
    with path.open("wb") as fh:
        for offset, n in chunks(rows, len(base)):
            when = stamps(offset, n, rows).strftime("%Y-%m-%dT%H:%M:%SZ")
            fh.write(
                b"".join(
                    dumps(
                        {
                            "request_id": f"req-{offset + j}",
                            "timestamp": when[j],
                            "model_version": "1",
                            "features": feats[j],
                            "score": float(scores[j]),
                        }
                    )
                    + b"\n"
                    for j in range(n)
                )
            )


def timed(cmd: list[str]) -> tuple[float, float, float, int, str]:
    """(wall s, CPU s, peak RSS MiB, exit code, stderr tail) of one child process."""
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        err.seek(0)
        tail = err.read().decode()[-2000:]
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument(
        "--base-rows", type=int, default=1_000_000, help="drawn from the snapshot and scored once, repeated"
    )
    parser.add_argument("--paths", default="store,jsonl", help="comma list: store, jsonl")
    parser.add_argument("--workdir", type=Path, help="keep files here instead of a temp dir")
    args = parser.parse_args()
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "configs", work / "configs", dirs_exist_ok=True)
    settings = cm.settings(work)
    names = settings.features.names
    train, rest = cm.train_and_rest(cm.snapshot(settings), 50_000, seed=1)
    model = cm.pipeline(settings).fit(train[names], train[settings.features.label])
    train["score"] = model.predict_proba(train[names])[:, 1]
    train.to_parquet(work / "reference.parquet", index=False)
    base = cm.draw(rest, min(args.base_rows, args.rows), seed=1000)
    scores = model.predict_proba(base[names])[:, 1]

    warm = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [sys.executable, "-c", "import evidently, modelops.monitor.job, modelops.store"], env=warm, check=True
    )
    common = ["--reference", str(work / "reference.parquet")]
    cli = [sys.executable, "-m", "modelops.cli", "--root", str(work), "monitor"]
    results = {
        "rows": args.rows,
        "loadavg_before": Path("/proc/loadavg").read_text().split()[:3],
        "paths": {},
    }
    for name in paths:
        t0 = time.perf_counter()
        if name == "store":
            uri = str(work / "store")
            write_store(uri, base, scores, args.rows, settings)
            size = sum(p.stat().st_size for p in Path(uri).rglob("*.parquet"))
            cmd = [
                *cli,
                "--store",
                uri,
                "--since",
                DAY.isoformat(),
                *common,
                "--out",
                str(work / "out-store"),
            ]
        else:
            log = work / "predictions.jsonl"
            write_log(log, base, scores, args.rows, names)
            size = log.stat().st_size
            cmd = [*cli, "--predictions", str(log), *common, "--out", str(work / "out-jsonl")]
        written = time.perf_counter() - t0
        load = Path("/proc/loadavg").read_text().split()[:3]
        wall, cpu, peak, code, err = timed(cmd)
        if code not in (0, 1):
            print(err, file=sys.stderr)
            return 2
        summary = json.loads((work / f"out-{name}" / "summary.json").read_text())
        results["paths"][name] = {
            "wall_s": round(wall, 1),
            # CPU seconds (user + sys): what the run costs when it has both cores to itself.
            "cpu_s": round(cpu, 1),
            "peak_rss_mib": round(peak),
            "data_mib": round(size / 2**20),
            "write_s": round(written, 1),
            "rows_judged": summary["versions"][0]["rows"],
            "verdict": summary["verdict"],
            "loadavg": load,
            "within_budget": wall < BUDGET_S and peak < BUDGET_MIB,
        }
        print(json.dumps({name: results["paths"][name]}), flush=True)
        if not args.workdir:
            shutil.rmtree(work / "store", ignore_errors=True)
            (work / "predictions.jsonl").unlink(missing_ok=True)
    print(json.dumps(results))
    if not args.workdir:
        shutil.rmtree(work)
    store = results["paths"].get("store")
    return 0 if store is None or store["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
