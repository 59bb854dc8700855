"""A real Prometheus server (Debian's `prometheus` binary) on 127.0.0.1 with a temporary config."""

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from tests.helpers.process import wait_http_ok
from tests.serve.conftest import free_port


@dataclass(frozen=True)
class Target:
    job: str
    url: str  # http://127.0.0.1:PORT of a served process
    labels: dict[str, str]


@dataclass
class PrometheusServer:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def query(self, expr: str) -> list[dict[str, object]]:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert body["status"] == "success", body
        return body["data"]["result"]  # type: ignore[no-any-return]

    def wait_for(self, expr: str, timeout: float = 60) -> list[dict[str, object]]:
        """Poll until `expr` returns something (e.g. the first scrapes landed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if result := self.query(expr):
                return result
            time.sleep(0.5)
        raise AssertionError(f"{expr} still empty after {timeout}s; log:\n{self.log.read_text()[-3000:]}")


def config(targets: list[Target], scrape_seconds: float) -> dict[str, object]:
    return {
        "global": {"scrape_interval": f"{scrape_seconds}s", "scrape_timeout": f"{scrape_seconds}s"},
        "scrape_configs": [
            {
                "job_name": t.job,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [t.url.removeprefix("http://")], "labels": t.labels}],
            }
            for t in targets
        ],
    }


@contextmanager
def prometheus(targets: list[Target], tmp: Path, scrape_seconds: float = 1) -> Iterator[PrometheusServer]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("prometheus not found: install Debian's `prometheus` package (.ci/system-deps.sh)")
    cfg = tmp / "prometheus.yml"
    cfg.write_text(yaml.safe_dump(config(targets, scrape_seconds)))
    port = free_port()
    log = tmp / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={cfg}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = PrometheusServer(proc, f"http://127.0.0.1:{port}", log)
    try:
        wait_http_ok(f"{server.url}/-/ready", proc, log.read_text, "prometheus", 60, interval=0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
