"""Serving fixtures: a throw-away project with two registered versions, and a real server process.

The versions (the fixture package's trees, tests/fixture_model) are logged straight through
MLflow (skops format, as `modelops train` does) so these tests do not wait for the full DVC
pipeline. Names come from the project's settings.
"""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_project, modelops_bin
from tests.helpers.process import wait_http_ok


@dataclass
class Registered:
    version: int
    sha256: str
    pipeline: Any

    name: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def env(self, prefix: str = "") -> dict[str, str]:
        return {
            f"{prefix}MODEL_URI": self.uri,
            f"{prefix}MODEL_VERSION": str(self.version),
            f"{prefix}MODEL_SHA256": self.sha256,
        }


@dataclass
class ServeProject:
    root: Path
    primary: Registered
    shadow: Registered
    records: list[dict[str, Any]]  # real rows from the package's generator, as JSON-ready records

    @property
    def settings(self) -> Any:
        from modelops.settings import load_settings

        return load_settings(self.root)


def _register(settings: Any, frame: Any, max_iter: int, seed: int) -> Registered:
    from modelops import tags as T
    from modelops.adapters import tracking
    from modelops.contract import load_package
    from tests.helpers.registry import register_pipeline

    X, y = frame[settings.features.names], frame[settings.features.label]
    # The configured package's trees (the shape the server's fast path compiles).
    train = settings.train.model_copy(update={"params": {"max_iter": max_iter}, "seed": seed})
    pipe = load_package(settings).unfitted_pipeline(settings.model_copy(update={"train": train})).fit(X, y)
    mv = register_pipeline(
        tracking.registry_for(settings.root),
        settings.model.name,
        pipe,
        settings.model.skops_trusted_types,
        {T.GIT_SHA: "abc123", T.DATA_MD5: "d" * 32},
        example=X.head(50),
    )
    return Registered(mv.version, mv.tags[T.MODEL_SHA256], pipe, settings.model.name)


def to_records(frame: Any, names: list[str]) -> list[dict[str, Any]]:
    sub = frame[names].astype(object)
    return sub.where(sub.notna(), None).to_dict("records")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def serve_project(tmp_path_factory: pytest.TempPathFactory) -> ServeProject:
    from modelops.settings import load_settings
    from tests.helpers.fixture import rows

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    root = make_project(tmp_path_factory.mktemp("serve"))
    settings = load_settings(root)
    frame = rows(settings, 4000, 1)
    primary = _register(settings, frame.iloc[:3000], max_iter=60, seed=0)
    shadow = _register(settings, frame.iloc[:3000], max_iter=15, seed=1)
    return ServeProject(root, primary, shadow, to_records(frame.iloc[3000:], settings.features.names))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 90) -> None:
        wait_http_ok(f"{self.url}/readyz", self.proc, self.stderr, "server", timeout, interval=0.2)

    def wait_listening(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.stderr()}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"server not listening after {timeout}s:\n{self.stderr()}")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def start_server(root: Path, env: dict[str, str], tmp: Path, *args: str) -> Server:
    port = free_port()
    log_path = tmp / f"predictions-{port}.jsonl"
    stderr_path = tmp / f"server-{port}.log"
    full_env = {**os.environ, "PREDICTION_LOG": str(log_path), **env}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            [modelops_bin(), "--root", str(root), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=full_env,
            stdout=err,
            stderr=subprocess.STDOUT,
        )
    return Server(proc, f"http://127.0.0.1:{port}", log_path, stderr_path)


@contextmanager
def running(root: Path, env: dict[str, str], tmp: Path, *args: str) -> Iterator[Server]:
    server = start_server(root, env, tmp, *args)
    try:
        server.wait_ready()
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop()


@pytest.fixture(scope="module")
def server(serve_project: ServeProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One served primary model, shared by the read-only endpoint tests of a module."""
    with running(serve_project.root, serve_project.primary.env(), tmp_path_factory.mktemp("srv")) as srv:
        yield srv
