"""A real S3-compatible server process (moto's standalone server) on 127.0.0.1.

Code under test and assertions use only the plain S3 API through s3fs with a configurable
endpoint. Only the fixture's restart uses moto's request recorder, to bring back the
objects stored before the stop (a real object store keeps them; moto keeps state in memory).
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serve.conftest import free_port, serve_project  # noqa: F401  (fixture re-export)

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class S3Server:
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "PREDICTION_STORE_TIMEOUT": "2"}

    def start(self, replay: bool = False) -> None:
        exe = str(Path(sys.executable).with_name("moto_server"))
        env = {
            **os.environ,
            **CREDENTIALS,
            "MOTO_ENABLE_RECORDING": "1",
            "MOTO_RECORDER_FILEPATH": str(self.workdir / "recording.jsonl"),
        }
        log = (self.workdir / "moto.log").open("ab")
        self.proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.endpoint}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("moto_server did not start")
        if replay:
            httpx.post(f"{self.endpoint}/moto-api/recorder/replay-recording", timeout=120).raise_for_status()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def fs(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            key=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            secret=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            client_kwargs={"endpoint_url": self.endpoint},
            skip_instance_cache=True,
        )


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    server = S3Server(tmp_path / "s3")
    for key, value in server.env.items():  # readers in this process reach the same endpoint
        monkeypatch.setenv(key, value)
    server.workdir.mkdir()
    server.start()
    server.fs().mkdir("predictions-bucket")
    try:
        yield server
    finally:
        server.stop()
