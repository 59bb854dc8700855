"""A real `mlflow server` process on 127.0.0.1 with proxied artifacts, for integration tests."""

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.process import wait_http_ok
from tests.serve.conftest import free_port


@contextmanager
def mlflow_server(backend_uri: str, artifacts: Path, log: Path, timeout: float = 600) -> Iterator[str]:
    """Start the server, wait until /health answers (failing with its log), yield its URL, stop it.

    `timeout` is generous by default: a first start migrates the database, minutes on a busy CI host.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("mlflow")),
                "server",
                "--backend-store-uri",
                backend_uri,
                "--artifacts-destination",
                artifacts.as_uri(),
                "--serve-artifacts",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_http_ok(f"{url}/health", proc, log.read_text, "mlflow server", timeout, interval=0.5)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
