"""Template conformance: swap the example for another model package the README's way, run it all.

A copy of the repository (`make_project`) gets the fixture package (tests/fixture_model:
loan defaults, label `defaulted`, 400 CSV rows, no id, timestamp or segment) by the steps of
the README's "Make it yours" checklist (tests/fixture_model/swap.py), and then the real tools
run the whole lifecycle in subprocesses: `dvc repro` with `modelops data eval-set create`,
train, gate, promote, `modelops serve` answering real HTTP requests, monitor on its prediction
log with delayed labels, a second version, and rollback. Every process gets the example's
package (configs/model.yaml `package`) as one that refuses to import, so the run proves the
machinery needs nothing from the example.
"""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from tests.conftest import MODEL_PACKAGE, REPO, Project, make_project, modelops_bin
from tests.fixture_model.data import LABEL, ROWS, generate
from tests.fixture_model.swap import DATA_FILE, MODEL, OWNER, PACKAGE, python_path, swap_in_fixture
from tests.helpers.process import wait_http_ok

pytestmark = pytest.mark.integration
# The example's label (the repository's configs/features.yaml): it must not survive the swap.
EXAMPLE_LABEL = yaml.safe_load((REPO / "configs/features.yaml").read_text())["label"]


class Swapped(Project):
    """The project copy after the swap; every tool runs as a subprocess with the swap's PYTHONPATH."""

    env: dict[str, str]

    def tool(self, *argv: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(argv, cwd=self.root, env=self.env, capture_output=True, text=True, check=False)
        if out.returncode not in ok:
            raise AssertionError(
                f"{' '.join(argv)} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
            )
        return out

    def modelops(self, *argv: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        return self.tool(modelops_bin(), "--root", str(self.root), *argv, ok=ok)

    def dvc(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return self.tool(str(Path(sys.executable).with_name("dvc")), *argv)

    def env_file(self, track: str) -> dict[str, str]:
        overlay = {"stable": "production", "canary": "canary"}[track]
        text = (self.root / f"k8s/overlays/{overlay}/model.env").read_text()
        return dict(
            line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#")
        )


def _env(root: Path, blocked: Path) -> dict[str, str]:
    """Subprocess env: the project's src/ and a blocked example package on PYTHONPATH (nothing else)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"))
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        PYTHONPATH=python_path(root, blocked, MODEL_PACKAGE),
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
        OMP_NUM_THREADS="1",
    )
    env.pop("PREDICTION_STORE", None)
    return env


@pytest.fixture(scope="module")
def swapped(tmp_path_factory: pytest.TempPathFactory) -> Swapped:
    base = tmp_path_factory.mktemp("conformance")
    root = make_project(base / "project", fixture=False)  # the example, as a team finds it
    project = Swapped(root)
    project.env = _env(root, base / "blocked")
    project.modelops("init", "--name", MODEL, "--package", PACKAGE, "--owner", OWNER)
    swap_in_fixture(root)
    project.git("add", "-A")
    project.git("commit", "-q", "-m", f"make it ours: {PACKAGE} replaces the example")
    return project


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, project: Swapped, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr = log.with_suffix(".stderr")
        env = {**project.env, "PREDICTION_LOG": str(log)}
        with self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                [
                    modelops_bin(),
                    "--root",
                    str(project.root),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def wait_ready(self, timeout: float = 120) -> None:
        wait_http_ok(f"{self.url}/readyz", self.proc, self.stderr.read_text, "server", timeout)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON records as a client serialises a pandas frame: NaN -> null, ints with gaps as 34.0."""
    rows = frame.drop(columns=[LABEL]).to_dict(orient="records")
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]


def _run_param(project: Swapped, version: int) -> dict[str, str]:
    from mlflow import MlflowClient

    from modelops.adapters import tracking

    uri = tracking.local_tracking_uri(project.root)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run_id = client.get_model_version(MODEL, str(version)).run_id
    if run_id is None:
        raise AssertionError(f"{MODEL} v{version} has no training run")
    return dict(client.get_run(run_id).data.params)


def test_the_fixture_package_runs_the_whole_lifecycle(swapped: Swapped, tmp_path: Path) -> None:
    started = time.perf_counter()
    p = swapped
    marks: list[tuple[str, float]] = []

    def mark(step: str) -> None:
        marks.append((step, time.perf_counter() - started))

    # --- data: validate, pin the evaluation set (first run, as `make demo`), then the pipeline.
    p.dvc("repro", "validate")
    p.modelops("data", "eval-set", "create")
    p.git("add", "-A")
    p.git("commit", "-q", "-m", "data: pin the evaluation set")
    p.dvc("repro")
    settings = p.settings  # configs as init and the swap left them
    assert (settings.model.name, settings.model.package) == (MODEL, PACKAGE)
    assert settings.features.id_column is None
    raw = pd.read_parquet(p.root / settings.data.paths.raw)
    assert len(raw) == ROWS and LABEL in raw.columns
    assert EXAMPLE_LABEL == LABEL or EXAMPLE_LABEL not in raw.columns  # unless already the fixture
    train = pd.read_parquet(p.root / "data/split/train.parquet")
    valid = pd.read_parquet(p.root / "data/split/valid.parquet")
    evalset = pd.read_parquet(p.root / "data/eval/eval.parquet")
    assert len(train) + len(valid) + len(evalset) == ROWS  # no id: every row lands in one part
    assert train.merge(evalset, on=[*settings.features.names, LABEL]).empty

    mark("data+train")
    # --- train + evaluate ran inside dvc repro: version 1 of the fixture model.
    trained = json.loads((p.root / "artifacts/train/model.json").read_text())
    assert (trained["name"], trained["version"]) == (MODEL, 1)
    params = _run_param(p, 1)
    assert params["estimator"] == "logistic_regression"
    assert params["data.rows"] == str(ROWS)
    assert DATA_FILE in params["data.source"]
    report = json.loads((p.root / "artifacts/evaluate/report.json").read_text())
    assert report["rows"] == len(evalset)
    # No segment: the evaluation reports the gates.yaml slices.
    assert set(report["slices"]) == {"employment=salaried", "housing=rent"}

    mark("checks")
    # --- gate (first release) and promotion: record + pointer commits.
    p.modelops("gate", "--candidate", "1", "--champion", "none", "--out", "artifacts/gate")
    gate = json.loads((p.root / "artifacts/gate/gate.json").read_text())
    assert gate["verdict"] == "pass" and gate["candidate"]["name"] == MODEL
    judged = " ".join(c["slice"] for c in gate["checks"] if c["slice"])
    assert "employment" in judged and "housing" in judged  # the fixture's gates.yaml slices
    p.modelops("promote", "1", "--to", "canary", "--pr", "1", "--commit")
    p.modelops("promote", "1", "--to", "stable", "--commit")
    assert (p.root / f"releases/{MODEL}/v1.yaml").is_file()
    assert p.env_file("stable")["MODEL_NAME"] == MODEL and p.env_file("stable")["MODEL_VERSION"] == "1"

    mark("gate+promote")
    # --- serve the stable release and send real requests: one record each (labels join on request id).
    fresh = generate(rows=200, seed=99)  # new applicants, same population
    log = tmp_path / "predictions.jsonl"
    srv = Server(p, log)
    labels = []
    try:
        srv.wait_ready()
        meta = httpx.get(f"{srv.url}/metadata").json()
        assert (meta["model_name"], str(meta["model_version"])) == (MODEL, "1")
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            for record, y in zip(_records(fresh), fresh[LABEL], strict=True):
                r = client.post("/predict", json={"records": [record]})
                assert r.status_code == 200, r.text
                body = r.json()
                assert body["model_version"] == "1" and 0.0 <= body["predictions"][0]["score"] <= 1.0
                labels.append({"request_id": body["request_id"], LABEL: int(y)})
            bad = client.post("/predict", json={"records": [{**_records(fresh)[0], "employment": "retired"}]})
            assert bad.status_code == 422 and "records.0.employment" in bad.text
    finally:
        assert srv.stop() in (0, -signal.SIGTERM), srv.stderr.read_text()[-3000:]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == len(fresh)
    assert set(lines[0]["features"]) == set(settings.features.names)
    assert {line["request_id"] for line in lines} == {row["request_id"] for row in labels}

    mark("serve")
    # --- monitor the logged predictions with delayed labels joined on the request id.
    labels_csv = tmp_path / "labels.csv"
    pd.DataFrame(labels).to_csv(labels_csv, index=False)
    out = p.modelops(
        "monitor",
        "--predictions",
        str(log),
        "--labels",
        str(labels_csv),
        "--out",
        str(tmp_path / "mon"),
        ok=(0, 1),
    )
    summary = json.loads((tmp_path / "mon/summary.json").read_text())
    (section,) = summary["versions"]
    assert section["rows"] == len(fresh) and section["labelled_rows"] == len(fresh)
    assert {d["feature"] for d in section["drift"]} == set(settings.features.names)
    assert "roc_auc" in json.dumps(section["quality"])
    assert out.returncode == 0, section["alerts"]
    # Without an id column, delayed labels must carry the request id (named when absent).
    unkeyed = tmp_path / "labels_unkeyed.csv"
    pd.DataFrame(labels).drop(columns=["request_id"]).to_csv(unkeyed, index=False)
    refused = p.modelops(
        "labels", "ingest", "--from", str(unkeyed), "--store", str(tmp_path / "store"), ok=(2,)
    )
    assert "'request_id'" in refused.stderr

    mark("monitor")
    # --- a second version through gate and promotion, then rollback of stable to v1.
    p.modelops("train", "--set", "train.params.C=0.5")
    p.modelops("gate", "--candidate", "2", "--champion", "auto", "--out", "artifacts/gate2")
    assert json.loads((p.root / "artifacts/gate2/gate.json").read_text())["verdict"] == "pass"
    p.modelops("promote", "2", "--to", "canary", "--pr", "2", "--commit")
    assert p.env_file("canary")["MODEL_VERSION"] == "2"
    p.modelops("rollback", "--track", "canary")
    assert p.env_file("canary")["MODEL_VERSION"] == ""  # retired again: stable v1 serves alone
    assert p.env_file("stable")["MODEL_VERSION"] == "1"
    assert (p.root / f"releases/{MODEL}/v2.yaml").is_file()  # the record survives the rollback
    p.modelops("release", "verify")
    mark("v2 gate+canary+rollback")
    print("\nconformance lifecycle: " + ", ".join(f"{n} {t:.1f} s" for n, t in marks))
