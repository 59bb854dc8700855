"""Benchmark: the gate judges a model against itself ten times while both cores are kept busy.

Builds a small trained project (the test suite's throw-away project: generated data, the real
DVC pipeline, an embedded MLflow store) unless --root names one, starts one bounded busy-loop
process per core, and runs `modelops gate --candidate V --champion V` ten times. A model is
never slower than itself, so every run must pass; the latency checks may say "inconclusive"
(a warning) on an overloaded runner, but never fail. Prints the pass count, each run's latency
outcomes and the load average. Usage:

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/gate_latency_noise.py [--root DIR] [--runs 10]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Bounded: each busy loop ends by itself after this many seconds even if this script is killed.
BUSY_SECONDS = 1800
BUSY = (
    "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
)


def trained_project(parent: Path) -> tuple[Path, int]:
    sys.path.insert(0, str(ROOT))
    from tests.conftest import make_project  # the test suite's small project, trained by `dvc repro`

    root = make_project(parent / "project")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | {
        "PATH": f"{BIN}:{os.environ['PATH']}"
    }
    subprocess.run([str(BIN / "dvc"), "repro", "-q"], cwd=root, env=env, check=True)
    version = json.loads((root / "artifacts/train/model.json").read_text())["version"]
    return root, int(version)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, help="a trained project (default: build one in a temp dir)")
    parser.add_argument("--version", type=int, help="model version to gate against itself")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2, help="busy-loop processes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.root is None:
            root, version = trained_project(Path(tmp))
        else:
            root, version = args.root.resolve(), args.version
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        busy = [subprocess.Popen([sys.executable, "-c", BUSY, str(BUSY_SECONDS)]) for _ in range(args.busy)]
        runs = []
        try:
            time.sleep(2)  # let the load build up
            load_before = os.getloadavg()
            for i in range(args.runs):
                out = Path(tmp) / f"gate-{i}"
                start = time.perf_counter()
                code = subprocess.run(
                    [str(BIN / "modelops"), "--root", str(root), "gate", "--candidate", str(version),
                     "--champion", str(version), "--out", str(out)],
                    env=env, capture_output=True, text=True, check=False,
                ).returncode  # fmt: skip
                report = json.loads((out / "gate.json").read_text())
                latency = {c["name"]: c["status"] for c in report["checks"] if c["kind"] == "latency"}
                runs.append(
                    {
                        "exit": code,
                        "verdict": report["verdict"],
                        "seconds": round(time.perf_counter() - start, 1),
                        "latency": latency,
                        "overloaded": (report.get("latency") or {}).get("overloaded"),
                        "attempts": (report.get("latency") or {}).get("attempts"),
                        "load_1m": round(os.getloadavg()[0], 2),
                    }
                )
                print(json.dumps(runs[-1]), flush=True)
            load_after = os.getloadavg()
        finally:
            for p in busy:
                p.terminate()
            for p in busy:
                p.wait()
    passes = sum(r["exit"] == 0 and r["verdict"] == "pass" for r in runs)
    latency_fails = sum(s == "fail" for r in runs for s in r["latency"].values())
    inconclusive = sum(s == "warn" for r in runs for s in r["latency"].values())
    summary = {
        "gate_passes": f"{passes}/{len(runs)}",
        "latency_checks_failed": latency_fails,
        "latency_checks_inconclusive": inconclusive,
        "latency_checks_total": sum(len(r["latency"]) for r in runs),
        "busy_loop_processes": args.busy,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    }
    print(json.dumps(summary, indent=2))
    sys.exit(0 if passes == len(runs) else 1)


if __name__ == "__main__":
    main()
