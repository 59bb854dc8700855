"""Benchmark `modelops serve` against `mlflow models serve` on the same registered model.

    .venv/bin/python benchmarks/serve/run.py [--duration 15] [--out benchmarks/serve/results.json]

Registers (or reuses) one `churn` version in a separate store (default
/tmp/modelops-bench-serve, so the project's registry is left alone), starts both
servers on it, drives each with wrk (same Lua script, same duration) for single-row
requests at 1 and 16 connections and 1,000-row requests, times in-process
`predict_proba` on the same 1,000 rows, and prints a markdown table (also written as
JSON). Needs `wrk` on PATH (Debian: apt-get install wrk).
"""

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SCENARIOS = (
    ("single row, 1 connection", "one", 1),
    ("single row, 16 connections", "one", 16),
    ("1,000 rows, 1 connection", "batch", 1),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def register(work: Path, rows: int) -> tuple[int, str, Any]:
    """Reuse the store's newest `churn` version with a model_sha256 tag, or train and register one."""
    import mlflow
    from mlflow.models import infer_signature

    from modelops.adapters import tracking
    from modelops.contract import load_package
    from modelops.settings import load_settings

    settings = load_settings(REPO)
    try:
        mv = tracking.latest_version("churn")
        if mv.tags.get(tracking.TAG_MODEL_SHA256):
            print(f"reusing models:/churn/{mv.version}", file=sys.stderr)
            return mv.version, mv.tags[tracking.TAG_MODEL_SHA256], settings
    except Exception:  # an empty store: train below
        pass
    from churn.data import generate

    frame = generate(rows, settings.data.source.seed)
    X, y = frame[settings.features.names], frame[settings.features.label]
    print(
        f"training {settings.train.estimator} {dict(settings.train.params)} on {rows} rows", file=sys.stderr
    )
    pipe = load_package(settings).unfitted_pipeline(settings).fit(X, y)
    example = X.head(200).astype({c: object for c in settings.features.categorical})
    exp = tracking.ensure_experiment("churn-bench", work)
    with mlflow.start_run(experiment_id=exp):
        info = mlflow.sklearn.log_model(
            pipe,
            name="model",
            serialization_format="skops",
            registered_model_name="churn",
            skops_trusted_types=list(settings.model.skops_trusted_types),
            signature=infer_signature(example, pipe.predict_proba(X.head(200))),
            input_example=example.head(3),
        )
    version = int(info.registered_model_version)
    sha = tracking.model_sha256(tracking.get_version("churn", version))
    tracking.set_version_tags("churn", version, {tracking.TAG_MODEL_SHA256: sha})
    return version, sha, settings


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} not ready after {timeout}s")


def wrk(url: str, body: Path, connections: int, duration: int) -> dict[str, Any]:
    cmd = [
        "wrk",
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(HERE / "post.lua"),
        url,
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "BODY_FILE": str(body)}, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    r = json.loads(line.removeprefix("WRK_JSON "))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def in_process(pipe: Any, frame: Any, repeats: int = 30) -> dict[str, float]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        times = []
        pipe.predict_proba(frame)
        for _ in range(repeats):
            start = time.perf_counter()
            pipe.predict_proba(frame)
            times.append(time.perf_counter() - start)
    return {"p50_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per scenario")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "modelops-bench-serve")
    parser.add_argument(
        "--rows", type=int, default=100_000, help="training rows when a model must be trained"
    )
    parser.add_argument("--workers", type=int, default=1, help="modelops serve workers")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{args.work / 'mlflow.db'}"
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from modelops.adapters import tracking

    tracking.configure(args.work)
    version, sha, settings = register(args.work, args.rows)

    from churn.data import generate

    frame = generate(2000, 2024)[settings.features.names]
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    bodies = {}
    for name, rows in (("one", records[:1]), ("batch", records[:1000])):
        for server in ("modelops", "mlflow"):
            key = "records" if server == "modelops" else "dataframe_records"
            path = args.work / f"{server}-{name}.json"
            path.write_text(json.dumps({key: rows}))
            bodies[(server, name)] = path

    pipe = tracking.load_sklearn(
        tracking.download_model(tracking.get_version("churn", version), args.work / "model"),
        settings.model.skops_trusted_types,
    )
    inproc = in_process(pipe, frame.iloc[:1000])
    inproc_records = in_process(pipe, __import__("pandas").DataFrame.from_records(records[:1000]))

    results: dict[str, Any] = {
        "model": f"models:/churn/{version}",
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
        "in_process_1000": inproc,
        "in_process_1000_from_records": inproc_records,
        "servers": {},
    }
    env = {
        **os.environ,
        # mlflow execs `uvicorn` through bash, so the venv's bin/ must be on PATH.
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MODEL_URI": f"models:/churn/{version}",
        "MODEL_VERSION": str(version),
        "MODEL_SHA256": sha,
        "PREDICTION_LOG": str(args.work / "predictions.jsonl"),
    }
    servers = {
        "mlflow models serve": (
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/churn/{version}",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
            ],
            "mlflow",
            "/ping",
            "/invocations",
            {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"},
        ),
        "modelops serve": (
            [
                str(BIN / "modelops"),
                "--root",
                str(REPO),
                "serve",
                "--host",
                "127.0.0.1",
                "--workers",
                str(args.workers),
            ],
            "modelops",
            "/readyz",
            "/predict",
            {},
        ),
    }
    for label, (cmd, kind, ready, path, extra) in servers.items():
        port = free_port()
        log = (args.work / f"{kind}.log").open("wb")
        proc = subprocess.Popen(
            [*cmd, "-p" if kind == "mlflow" else "--port", str(port)],
            env={**env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + ready, proc)
            resp = httpx.post(
                base + path,
                content=bodies[(kind, "batch")].read_bytes(),
                headers={"content-type": "application/json"},
                timeout=60,
            )
            resp.raise_for_status()
            got = resp.json()["predictions"]
            if kind == "modelops":
                served = np.array([p["score"] for p in got])
                ref = pipe.predict_proba(frame.iloc[:1000])[:, 1]
                runs = {"parity_max_abs_diff": float(np.max(np.abs(served - ref)))}
            else:
                # MLflow's sklearn pyfunc answers predict() (labels) unless the model was logged with
                # pyfunc_predict_fn="predict_proba"; the work per row is the same.
                runs = {"label_agreement": float(np.mean(np.array(got) == pipe.predict(frame.iloc[:1000])))}
            wrk(base + path, bodies[(kind, "one")], 16, 3)  # warm-up
            for title, body, conns in SCENARIOS:
                runs[title] = wrk(base + path, bodies[(kind, body)], conns, args.duration)
                print(f"{label} | {title}: {runs[title]['rps']:.0f} req/s", file=sys.stderr)
            results["servers"][label] = runs
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    results["loadavg_end"] = os.getloadavg()
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    return 0


def render(r: dict[str, Any]) -> str:
    ml, mo = r["servers"]["mlflow models serve"], r["servers"]["modelops serve"]
    lines = [
        f"Model {r['model']}, {r['cpus']} CPUs, {r['duration_s']} s of wrk per row, "
        f"load average {r['loadavg_start'][0]:.1f} -> {r['loadavg_end'][0]:.1f}.",
        "",
        "| scenario | mlflow req/s | mlflow p50 | mlflow p99 "
        "| modelops req/s | modelops p50 | modelops p99 | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for title, _, _ in SCENARIOS:
        a, b = ml[title], mo[title]
        lines.append(
            f"| {title} | {a['rps']:.0f} | {a['p50_us'] / 1e3:.2f} ms | {a['p99_us'] / 1e3:.2f} ms | "
            f"{b['rps']:.0f} | {b['p50_us'] / 1e3:.2f} ms | {b['p99_us'] / 1e3:.2f} ms | "
            f"{b['rps'] / a['rps']:.1f}x |"
        )
    inproc = r["in_process_1000"]["p50_ms"]
    batch = mo["1,000 rows, 1 connection"]["p50_us"] / 1e3
    c16 = mo["single row, 16 connections"]
    lines += [
        "",
        f"In-process `pipeline.predict_proba` on the same 1,000 rows: {inproc:.2f} ms (typed DataFrame), "
        f"{r['in_process_1000_from_records']['p50_ms']:.2f} ms (DataFrame from the JSON records).",
        "",
        "| target | measured | met |",
        "|---|---:|:---:|",
        f"| single-row req/s at 16 conns >= 10x mlflow | "
        f"{c16['rps'] / ml['single row, 16 connections']['rps']:.1f}x | "
        f"{'yes' if c16['rps'] >= 10 * ml['single row, 16 connections']['rps'] else 'no'} |",
        f"| single-row p99 at 16 conns < 10 ms | {c16['p99_us'] / 1e3:.2f} ms | "
        f"{'yes' if c16['p99_us'] < 10_000 else 'no'} |",
        f"| 1,000-row request <= 1.5x in-process predict_proba | {batch / inproc:.2f}x ({batch:.2f} ms) | "
        f"{'yes' if batch <= 1.5 * inproc else 'no'} |",
        f"| served == in-process within 1e-9 | {mo['parity_max_abs_diff']:.1e} | "
        f"{'yes' if mo['parity_max_abs_diff'] <= 1e-9 else 'no'} |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
