"""Benchmark: `modelops monitor` on a 1M-line prediction log (budget: < 120 s, < 2 GiB peak RSS).

Builds a throw-away project (configs, a fitted churn model, a release file), writes N log
lines scored by that model, then times the CLI as a child process and reads its peak RSS
from getrusage(RUSAGE_CHILDREN). The reference is passed with --reference (a scored
training sample), so no MLflow registry is needed; everything else is the real path.

    .venv/bin/python benchmarks/monitor_bench.py --rows 1000000
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

from churn.data import generate
from churn.pipeline import build_pipeline
from modelops.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
BUDGET_S, BUDGET_MIB = 120.0, 2048.0
CHUNK = 100_000


def write_log(path: Path, rows: int, model, names: list[str]) -> None:
    start = pd.Timestamp("2025-06-02T00:00:00Z")
    with path.open("wb") as fh:
        for i, offset in enumerate(range(0, rows, CHUNK)):
            n = min(CHUNK, rows - offset)
            frame = generate(n, 1000 + i, start="2025-06-01", days=7)
            scores = model.predict_proba(frame[names])[:, 1]
            feats = frame[names].astype(object).where(frame[names].notna(), None).to_dict("records")
            stamps = (start + pd.to_timedelta(np.arange(offset, offset + n) % 604800, unit="s")).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
            for j in range(n):
                rec = {
                    "request_id": f"req-{offset + j}",
                    "timestamp": stamps[j],
                    "model_version": "1",
                    "features": feats[j],
                    "score": float(scores[j]),
                }
                fh.write(orjson.dumps(rec) + b"\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, help="keep files here instead of a temp dir")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="monitor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "configs", work / "configs", dirs_exist_ok=True)
    settings = load_settings(work)
    names = settings.features.names
    train = generate(50_000, 1)
    model = build_pipeline(settings.features, "hist_gradient_boosting", {"max_iter": 100}, 7)
    model.fit(train[names], train[settings.features.label])
    train["score"] = model.predict_proba(train[names])[:, 1]
    train.to_parquet(work / "reference.parquet", index=False)
    log = work / "predictions.jsonl"
    t0 = time.perf_counter()
    write_log(log, args.rows, model, names)
    print(
        f"wrote {args.rows} lines ({log.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.0f} s"
    )

    cmd = [
        sys.executable,
        "-m",
        "modelops.cli",
        "--root",
        str(work),
        "monitor",
        "--predictions",
        str(log),
        "--reference",
        str(work / "reference.parquet"),
        "--out",
        str(work / "out"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
    if proc.returncode not in (0, 1):
        print(proc.stderr, file=sys.stderr)
        return 2
    summary = json.loads((work / "out" / "summary.json").read_text())
    result = {
        "rows": args.rows,
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(peak_mib),
        "exit": proc.returncode,
        "verdict": summary["verdict"],
        "evidently_sample": summary["versions"][0]["sample"],
        "within_budget": wall < BUDGET_S and peak_mib < BUDGET_MIB,
    }
    print(json.dumps(result))
    if not args.workdir:
        shutil.rmtree(work)
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
