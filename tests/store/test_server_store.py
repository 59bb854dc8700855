"""A real `modelops serve` writing to a real S3-compatible server: nothing lost, nothing twice (integration).

16 client threads load the server; each 200 response's (request id, records) is the
expected content of the store. SIGTERM and an outage of the S3 server (killed, then
restarted with its earlier objects) must leave exactly those rows, or count the drops.
"""

import shutil
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.serve.conftest import ServeProject, start_server
from tests.store.conftest import S3Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BUCKET_URI = "s3://predictions-bucket/team-a"
CONNECTIONS = 16


@dataclass
class Load:
    """16 keep-alive clients posting 1-3 records per request until stopped or refused."""

    url: str
    records: list[dict[str, Any]]
    ok: dict[str, int] = field(default_factory=dict)  # request id -> records in a 200 response
    failed: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)
    _ids: Any = field(default_factory=count)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _client(self, n: int) -> None:
        with httpx.Client(timeout=30) as client:
            refused = 0
            while not self.stop.is_set() and refused < 3:
                i = next(self._ids)
                rid = f"c{n}-{i}"
                size = 1 + i % 3
                body = {"records": [self.records[(i + k) % len(self.records)] for k in range(size)]}
                try:
                    r = client.post(f"{self.url}/predict", json=body, headers={"x-request-id": rid})
                except httpx.TransportError:
                    self.failed.add(rid)
                    refused += 1
                    time.sleep(0.05)
                    continue
                refused = 0
                self.statuses[r.status_code] += 1
                if r.status_code == 200:
                    self.ok[rid] = size
                else:
                    self.failed.add(rid)

    def start(self) -> "Load":
        for n in range(CONNECTIONS):
            t = threading.Thread(target=self._client, args=(n,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def join(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(60)

    def rows(self) -> int:
        return sum(self.ok.values())


def serve_configs(project: ServeProject, tmp: Path, **store: Any) -> Path:
    """A copy of the project's configs/ with serve.yaml `prediction_store` settings."""
    conf = tmp / "configs"
    shutil.copytree(project.root / "configs", conf)
    doc = yaml.safe_load((conf / "serve.yaml").read_text())
    doc["prediction_store"] = {"spool_dir": str(tmp / "spool"), **store}
    (conf / "serve.yaml").write_text(yaml.safe_dump(doc))
    return conf


def stored_rows(
    s3: S3Server, monkeypatch: pytest.MonkeyPatch, project: ServeProject
) -> list[tuple[str, int]]:
    """(request_id, row) of every stored prediction, read through s3fs and the store reader."""
    from modelops.store import open_location, read_window

    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    table = read_window(open_location(BUCKET_URI), project.settings.model.name, columns=["request_id", "row"])
    if table.num_rows == 0:
        return []
    return list(zip(table.column("request_id").to_pylist(), table.column("row").to_pylist(), strict=True))


def expected_rows(load: Load) -> set[tuple[str, int]]:
    return {(rid, row) for rid, n in load.ok.items() for row in range(n)}


def metric(url: str, name: str, labels: str = "") -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f"{name}{labels} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def start(project: ServeProject, s3: S3Server, tmp: Path, **store: Any) -> Any:
    conf = serve_configs(project, tmp, **store)
    env = {
        **project.primary.env(),
        **s3.env,
        "PREDICTION_STORE": BUCKET_URI,
        "MODELOPS_CONFIG_DIR": str(conf),
    }
    server = start_server(project.root, env, tmp)
    server.wait_ready()
    return server


def check_exactly_once(stored: list[tuple[str, int]], load: Load) -> None:
    dupes = [k for k, n in Counter(stored).items() if n > 1]
    assert not dupes, f"{len(dupes)} rows stored twice, e.g. {dupes[:3]}"
    got, want = set(stored), expected_rows(load)
    missing = want - got
    assert not missing, f"{len(missing)} rows of 200 responses not stored, e.g. {sorted(missing)[:3]}"
    # A row without a 200 may be stored only if its request was cut off after scoring.
    extra = {rid for rid, _ in got - want}
    assert extra <= load.failed, f"rows stored for requests never sent: {sorted(extra - load.failed)[:3]}"


def test_sigterm_under_load_flushes_every_200_to_s3_exactly_once(
    serve_project: ServeProject, s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Defaults (20k rows / 60 s per file): nearly everything is still buffered at SIGTERM.
    server = start(serve_project, s3, tmp_path)
    load = Load(server.url, serve_project.records).start()
    time.sleep(4)
    assert load.rows() > 200, f"load produced only {load.rows()} rows: {load.statuses}"
    rc = server.stop(timeout=60)  # SIGTERM while 16 clients keep sending
    load.join()
    assert rc in (0, -signal.SIGTERM), server.stderr()
    stored = stored_rows(s3, monkeypatch, serve_project)
    check_exactly_once(stored, load)
    assert len(stored) >= load.rows()
    assert "all records uploaded" in server.stderr()


def test_s3_outage_during_load_loses_nothing_within_the_spool_bound(
    serve_project: ServeProject, s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start(
        serve_project,
        s3,
        tmp_path,
        flush_rows=200,
        flush_seconds=0.5,
        retry_initial_seconds=0.2,
        retry_max_seconds=1.0,
    )
    try:
        load = Load(server.url, serve_project.records).start()
        time.sleep(2)
        s3.stop()  # killed mid-load: uploads fail, files wait in the spool
        time.sleep(4)
        during = load.rows()
        s3.start(replay=True)  # back, with what it had stored before
        time.sleep(2)
        load.join()
        assert load.rows() > during > 0
        deadline = time.monotonic() + 60
        while metric(server.url, "modelops_prediction_store_spool_bytes") > 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        failures = metric(server.url, "modelops_prediction_store_upload_failures_total")
        dropped = metric(server.url, "modelops_prediction_store_dropped_total", '{reason="spool_full"}')
        queue_dropped = metric(server.url, "modelops_prediction_log_dropped_total")
    finally:
        rc = server.stop(timeout=60)
    assert rc in (0, -signal.SIGTERM), server.stderr()
    assert failures > 0, "the outage was never noticed by the writer"
    assert dropped == 0 and queue_dropped == 0
    check_exactly_once(stored_rows(s3, monkeypatch, serve_project), load)


def test_outage_beyond_the_spool_bound_counts_every_dropped_row(
    serve_project: ServeProject, s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start(
        serve_project,
        s3,
        tmp_path,
        flush_rows=100,
        flush_seconds=0.3,
        spool_max_bytes=40_000,
        retry_initial_seconds=0.2,
        retry_max_seconds=0.5,
    )
    try:
        s3.stop()
        load = Load(server.url, serve_project.records).start()
        time.sleep(4)
        load.join()
        s3.start(replay=True)
        deadline = time.monotonic() + 60
        while metric(server.url, "modelops_prediction_store_spool_bytes") > 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        dropped = metric(server.url, "modelops_prediction_store_dropped_total", '{reason="spool_full"}')
    finally:
        rc = server.stop(timeout=60)
    assert rc in (0, -signal.SIGTERM), server.stderr()
    stored = stored_rows(s3, monkeypatch, serve_project)
    assert len(set(stored)) == len(stored)
    assert dropped > 0, "a 40 kB spool should have overflowed"
    assert set(stored) <= expected_rows(load)
    assert len(stored) + dropped == load.rows(), (len(stored), dropped, load.rows())
