"""Time `make demo` on a fresh clone (100k rows generated, trained and evaluated), venv installed.

Usage: .venv/bin/python benchmarks/demo_time.py
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "VIRTUAL_ENV")}
        # "Once installed": the clone gets its own .venv first (untimed; uv's cache makes it quick).
        install_start = time.perf_counter()
        subprocess.run(["make", "-s", "install"], cwd=clone, check=True, env=env, capture_output=True)
        install_seconds = time.perf_counter() - install_start
        start = time.perf_counter()
        out = subprocess.run(["make", "demo"], cwd=clone, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if out.returncode != 0:
            sys.exit(f"make demo failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        rows = json.loads((clone / "artifacts/evaluate/report.json").read_text())["rows"]
    print(
        json.dumps(
            {
                "make_demo_seconds": round(seconds, 1),
                "make_install_seconds": round(install_seconds, 1),
                "eval_rows": rows,
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
