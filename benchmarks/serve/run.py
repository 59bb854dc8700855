"""Benchmark `modelops serve` against the HTTP floor, `mlflow models serve` and BentoML.

    .venv/bin/python benchmarks/serve/run.py [--duration 10] [--out benchmarks/serve/results.json]

One run, same model, same machine: registers (or reuses) one version in a separate
store (default /tmp/modelops-bench-serve, the project's registry is left alone) and
starts, one after the other, each server pinned to CPU 0 with wrk pinned to CPU 1:

- floor: bare uvicorn + Starlette (uvloop, httptools) that parses the JSON body with
  orjson and returns a constant (benchmarks/serve/floor.py): HTTP + parsing, nothing else;
- modelops serve: the real server (validation, compiled scorer, metrics, request ids, log);
- mlflow models serve: MLflow's scoring server on the same registered version;
- BentoML: a service on the same fitted pipeline (benchmarks/serve/bento_service.py),
  installed by this script into its own throw-away venv (<work>/bento-venv).

Scenarios: single-row requests at 1 and 16 connections, 1,000-row requests at 1
connection. Prints a markdown table with ratios to the floor and the load average (also
written as JSON). Needs `wrk` (Debian: apt-get install wrk) and `taskset`.
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
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # benchmarks/configured_model.py: the configured model, not the example
import configured_model as cm  # noqa: E402

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


def register(registry: Any, work: Path, rows: int) -> tuple[int, str, Any]:
    """Reuse the store's newest version of the configured model (configs/model.yaml `name`) with a
    model_sha256 tag, or train and register one on rows of its raw snapshot."""
    import mlflow
    from mlflow.models import infer_signature

    from modelops.adapters import tracking

    settings = cm.settings(REPO)
    name = settings.model.name
    for mv in registry.search_versions(name)[:1]:
        if mv.tags.get(tracking.TAG_MODEL_SHA256):
            print(f"reusing models:/{name}/{mv.version}", file=sys.stderr)
            return mv.version, mv.tags[tracking.TAG_MODEL_SHA256], settings
    frame = cm.draw(cm.snapshot(settings), rows, settings.train.seed)
    X, y = frame[settings.features.names], frame[settings.features.label]
    print(
        f"training {settings.train.estimator} {dict(settings.train.params)} on {rows} rows", file=sys.stderr
    )
    pipe = cm.pipeline(settings).fit(X, y)
    example = X.head(200).astype({c: object for c in settings.features.categorical})
    exp = registry.ensure_experiment(f"{name}-bench")
    with registry.fluent(), mlflow.start_run(experiment_id=exp):
        info = mlflow.sklearn.log_model(
            pipe,
            name="model",
            serialization_format="skops",
            registered_model_name=name,
            skops_trusted_types=list(settings.model.skops_trusted_types),
            signature=infer_signature(example, pipe.predict_proba(X.head(200))),
            input_example=example.head(3),
        )
    version = int(info.registered_model_version)
    sha = tracking.model_sha256(registry, registry.get_version(name, version))
    registry.set_version_tags(name, version, {tracking.TAG_MODEL_SHA256: sha})
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


def bento_venv(work: Path) -> Path:
    """A throw-away venv with BentoML and this venv's scikit-learn/skops/pandas/numpy versions."""
    venv = work / "bento-venv"
    if not (venv / "bin" / "bentoml").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pins = [f"{d}=={dist_version(d)}" for d in ("scikit-learn", "skops", "pandas", "numpy")]
        print(f"installing bentoml + {pins} into {venv}", file=sys.stderr)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "bentoml", *pins], check=True)
    return venv


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *cmd] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else cmd


def wrk(url: str, body: Path, connections: int, duration: int) -> dict[str, Any]:
    cmd = pinned(
        1,
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(HERE / "post.lua"),
            url,
        ],
    )
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "BODY_FILE": str(body)}, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    r = json.loads(line.removeprefix("WRK_JSON "))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per scenario")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "modelops-bench-serve")
    parser.add_argument(
        "--rows", type=int, default=100_000, help="training rows when a model must be trained"
    )
    parser.add_argument("--only", nargs="*", help="run only these servers (floor modelops mlflow bentoml)")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{args.work / 'mlflow.db'}"
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from modelops.adapters import tracking

    registry = tracking.registry_for(args.work)
    version, sha, settings = register(registry, args.work, args.rows)

    model_name = settings.model.name
    # Request bodies: rows of the configured model's own snapshot (realistic types and missing values).
    frame = cm.draw(cm.snapshot(settings), 2000, 2024)[settings.features.names]
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    bodies = {}
    for name, rows in (("one", records[:1]), ("batch", records[:1000])):
        for fmt, key in (("records", "records"), ("mlflow", "dataframe_records")):
            path = args.work / f"{fmt}-{name}.json"
            path.write_text(json.dumps({key: rows}))
            bodies[(fmt, name)] = path

    model_dir = registry.download_model(registry.get_version(model_name, version), args.work / "model")
    pipe = tracking.load_sklearn(model_dir, settings.model.skops_trusted_types)
    reference = pipe.predict_proba(frame.iloc[:1000])[:, 1]
    inproc = in_process(pipe, frame.iloc[:1000])

    results: dict[str, Any] = {
        "model": f"models:/{model_name}/{version}",
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
        "in_process_1000": inproc,
        "servers": {},
    }
    env = {
        **os.environ,
        # mlflow execs `uvicorn` through bash, so the venv's bin/ must be on PATH.
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MODEL_URI": f"models:/{model_name}/{version}",
        "MODEL_VERSION": str(version),
        "MODEL_SHA256": sha,
        "PREDICTION_LOG": str(args.work / "predictions.jsonl"),
    }
    skops_file = next(model_dir.glob("*.skops"), None) or next(model_dir.rglob("*.skops"))
    servers: dict[str, tuple[list[str], str, str, str, dict[str, str], Path]] = {
        "floor": (
            [
                str(BIN / "uvicorn"),
                "floor:app",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--host",
                "127.0.0.1",
                "--port",
            ],
            "records",
            "/readyz",
            "/predict",
            {},
            HERE,
        ),
        "modelops": (
            [
                str(BIN / "modelops"),
                "--root",
                str(REPO),
                "serve",
                "--host",
                "127.0.0.1",
                "--workers",
                "1",
                "--port",
            ],
            "records",
            "/readyz",
            "/predict",
            {},
            REPO,
        ),
        "mlflow": (
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{model_name}/{version}",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
            ],
            "mlflow",
            "/ping",
            "/invocations",
            {"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"},
            REPO,
        ),
        "bentoml": (
            [],  # filled below: the throw-away venv's bentoml
            "records",
            "/readyz",
            "/predict",
            {
                "MODEL_SKOPS": str(skops_file),
                "TRUSTED": ",".join(settings.model.skops_trusted_types),
                "FEATURES": ",".join(settings.features.names),
                "BENTOML_DO_NOT_TRACK": "true",
            },
            HERE,
        ),
    }
    chosen = args.only or list(servers)
    if "bentoml" in chosen:
        venv = bento_venv(args.work)
        servers["bentoml"][0].extend(
            [str(venv / "bin" / "bentoml"), "serve", "bento_service:Model", "--host", "127.0.0.1", "--port"]
        )
    for label in chosen:
        cmd, fmt, ready, path, extra, cwd = servers[label]
        port = free_port()
        log = (args.work / f"{label}.log").open("wb")
        proc = subprocess.Popen(
            pinned(0, [*cmd, str(port)]), env={**env, **extra}, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + ready, proc)
            resp = httpx.post(
                base + path,
                content=bodies[(fmt, "batch")].read_bytes(),
                headers={"content-type": "application/json"},
                timeout=60,
            )
            resp.raise_for_status()
            runs: dict[str, Any] = {}
            got = resp.json()
            if label == "modelops":
                served = np.array([p["score"] for p in got["predictions"]])
                runs["parity_max_abs_diff"] = float(np.max(np.abs(served - reference)))
            elif label == "bentoml":
                runs["parity_max_abs_diff"] = float(np.max(np.abs(np.array(got) - reference)))
            wrk(base + path, bodies[(fmt, "one")], 16, 3)  # warm-up
            for title, body, conns in SCENARIOS:
                runs[title] = wrk(base + path, bodies[(fmt, body)], conns, args.duration)
                runs[title]["loadavg"] = os.getloadavg()[0]
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
    s = r["servers"]
    floor = s.get("floor")
    lines = [
        f"Model {r['model']}, {r['cpus']} CPUs (server on CPU 0, wrk on CPU 1), {r['duration_s']} s of wrk "
        f"per cell, load average {r['loadavg_start'][0]:.1f} -> {r['loadavg_end'][0]:.1f}.",
        "",
        "| server | " + " | ".join(f"{t}: req/s, p50, p99" for t, _, _ in SCENARIOS) + " | load avg |",
        "|---|" + "---:|" * (len(SCENARIOS) + 1),
    ]
    for label, runs in s.items():
        cells = []
        for title, _, _ in SCENARIOS:
            x = runs[title]
            ratio = f" ({x['rps'] / floor[title]['rps']:.0%} of floor)" if floor and label != "floor" else ""
            cells.append(f"{x['rps']:.0f}{ratio}, {x['p50_us'] / 1e3:.2f} ms, {x['p99_us'] / 1e3:.2f} ms")
        load = max(runs[t]["loadavg"] for t, _, _ in SCENARIOS)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {load:.1f} |")
    lines += [
        "",
        "In-process `pipeline.predict_proba` on the same 1,000 rows: "
        f"{r['in_process_1000']['p50_ms']:.2f} ms.",
    ]
    mo = s.get("modelops")
    if floor and mo:
        c16 = "single row, 16 connections"
        batch = "1,000 rows, 1 connection"
        rps_ratio = mo[c16]["rps"] / floor[c16]["rps"]
        p50_ratio = mo[batch]["p50_us"] / floor[batch]["p50_us"]
        lines += [
            "",
            "| target | measured | met |",
            "|---|---:|:---:|",
            f"| single-row req/s at 16 connections >= 50% of the floor | {rps_ratio:.0%} | "
            f"{'yes' if rps_ratio >= 0.5 else 'no'} |",
            f"| 1,000-row p50 <= 3x the floor's (parse only) | {p50_ratio:.2f}x "
            f"({mo[batch]['p50_us'] / 1e3:.2f} vs {floor[batch]['p50_us'] / 1e3:.2f} ms) | "
            f"{'yes' if p50_ratio <= 3 else 'no'} |",
            f"| served == in-process within 1e-9 | {mo['parity_max_abs_diff']:.1e} | "
            f"{'yes' if mo['parity_max_abs_diff'] <= 1e-9 else 'no'} |",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
