"""Faults: a broken shadow, fuzzed input, and SIGTERM under load (integration)."""

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from tests.helpers.schemathesis import assert_schemathesis_passes
from tests.serve.conftest import ServeProject, free_port, running, start_server

pytestmark = pytest.mark.integration


class InProcess:
    """The real app under a real uvicorn server in a thread, so a test can plant a faulty shadow."""

    def __init__(self, serve_project: ServeProject, tmp: Path) -> None:
        from modelops.adapters import tracking
        from modelops.serve import config
        from modelops.serve.app import ServeOptions, create_app
        from modelops.serve.reference import fetch, make_ref

        p = serve_project.primary
        registry = tracking.registry_for(serve_project.root)
        ref, local = fetch(make_ref(p.uri, p.version, p.sha256, "test"), tmp / "cache", registry)
        self.cfg = config.load(serve_project.root / "configs")
        opts = ServeOptions(
            str(serve_project.root),
            str(serve_project.root / "configs"),
            str(tmp / "cache"),
            str(tmp / "pred.jsonl"),
            ref.to_dict(),
            str(local),
        )
        self.app = create_app(opts)
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "InProcess":
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("in-process server not ready")

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def shadow(self, score: Any) -> None:
        from modelops.serve.app import attach_shadow

        fa = self.app.fastapi
        attach_shadow(fa.state.serve_state, "shadow-x", score, fa.state.sink, fa.state.metrics, self.cfg)


def run_requests(
    client: httpx.Client, url: str, records: list[dict[str, Any]]
) -> tuple[list[float], list[float]]:
    scores, latencies = [], []
    for rec in records:
        start = time.perf_counter()
        resp = client.post(
            f"{url}/predict",
            content=orjson.dumps({"records": [rec]}),
            headers={"content-type": "application/json"},
        )
        latencies.append(time.perf_counter() - start)
        assert resp.status_code == 200, resp.text
        scores.append(resp.json()["predictions"][0]["score"])
    return scores, latencies


@pytest.fixture(scope="module")
def inproc(serve_project: ServeProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    with InProcess(serve_project, tmp_path_factory.mktemp("inproc")) as srv:
        yield srv


@pytest.mark.parametrize("fault", ["raises", "hangs"])
def test_broken_shadow_changes_no_response_and_blocks_no_request(
    inproc: InProcess, serve_project: ServeProject, fault: str
) -> None:
    records = serve_project.records[:300]
    release = threading.Event()

    def raises(recs: Any) -> Any:
        raise RuntimeError("shadow model bug")

    def hangs(recs: Any) -> Any:
        release.wait(120)
        return [0.5] * len(recs)

    with httpx.Client() as client:
        run_requests(client, inproc.url, records[:50])  # warm the connection and caches
        inproc.app.fastapi.state.serve_state.shadow = None  # the baseline: no shadow at all
        base_scores, _ = run_requests(client, inproc.url, records)
        inproc.shadow(raises if fault == "raises" else hangs)
        scores, _ = run_requests(client, inproc.url, records)
        release.set()
    # A shadow on the request path would have blocked every request on the hanging one (120 s,
    # beyond httpx's 5 s timeout). Latency figures belong to benchmarks/serve, not to this test.
    assert scores == base_scores
    metrics = httpx.get(f"{inproc.url}/metrics").text
    if fault == "raises":
        deadline = time.monotonic() + 10
        while 'modelops_shadow_errors_total{model_version="shadow-x"} 300.0' not in metrics:
            assert time.monotonic() < deadline, "shadow errors were not counted"
            time.sleep(0.2)
            metrics = httpx.get(f"{inproc.url}/metrics").text


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors(serve_project: ServeProject, tmp_path: Path) -> None:
    with running(serve_project.root, serve_project.primary.env(), tmp_path) as srv:
        assert_schemathesis_passes(
            srv.url,
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        )


@pytest.mark.slow
def test_sigterm_under_load_loses_no_in_flight_request(serve_project: ServeProject, tmp_path: Path) -> None:
    srv = start_server(serve_project.root, serve_project.primary.env(), tmp_path)
    srv.wait_ready()
    records = serve_project.records
    counts = {"ok": 0, "refused": 0, "lost": 0, "bad_status": 0}
    lost: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + 20

    def driver(worker: int) -> None:
        i = worker
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < stop_at:
                body = orjson.dumps({"records": [records[i % len(records)]]})
                i += 16
                try:
                    resp = client.post(
                        f"{srv.url}/predict", content=body, headers={"content-type": "application/json"}
                    )
                except httpx.ConnectError:
                    key = "refused"  # the listener is closed: never accepted, so never in flight
                    time.sleep(0.01)
                except httpx.TransportError as exc:
                    key = "lost"
                    lost.append(repr(exc))
                else:
                    key = "ok" if resp.status_code == 200 else "bad_status"
                with lock:
                    counts[key] += 1

    threads = [threading.Thread(target=driver, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    time.sleep(12)
    before = counts["ok"]
    srv.proc.send_signal(signal.SIGTERM)
    code = srv.proc.wait(60)
    for t in threads:
        t.join()
    assert code in (0, -signal.SIGTERM), srv.stderr()
    assert before > 100 and counts["refused"] > 0, counts
    assert counts["lost"] == 0 and counts["bad_status"] == 0, (counts, lost[:5])
    logged = srv.log_path.read_bytes().count(b"\n")
    assert logged == counts["ok"], (logged, counts)  # every answered request was logged and flushed
