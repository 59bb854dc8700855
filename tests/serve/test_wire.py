"""The wire against a real `modelops serve` process: what clients send, and how they misbehave (integration).

The server here runs with short timeouts and a short drain (a copy of the project's
configs with those values changed), on the shared registry of `serve_project`.
"""

import shutil
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.helpers.schemathesis import assert_schemathesis_passes
from tests.serve.conftest import ServeProject, Server, running, start_server

pytestmark = pytest.mark.integration
TIMEOUTS = {"header_timeout_seconds": 1.0, "body_timeout_seconds": 2.0, "drain_seconds": 5.0}


@pytest.fixture(scope="module")
def wire_root(serve_project: ServeProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The serve project with short timeouts: its configs copied, its registry shared."""
    root = tmp_path_factory.mktemp("wire")
    shutil.copytree(serve_project.root / "configs", root / "configs")
    (root / ".mlflow").symlink_to(serve_project.root / ".mlflow")
    path = root / "configs/serve.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **TIMEOUTS}))
    return root


@pytest.fixture(scope="module")
def srv(
    wire_root: Path, serve_project: ServeProject, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with running(wire_root, serve_project.primary.env(), tmp_path_factory.mktemp("wire-srv")) as server:
        yield server


def connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_response(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout`)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def metric(server: Server, status: int) -> float:
    """modelops_requests_total for /predict with `status` (0 when the series does not exist)."""
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if (
            line.startswith("modelops_requests_total{")
            and 'endpoint="predict"' in line
            and f'status="{status}"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def post(server: Server, content: bytes, content_type: str | None = "application/json") -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    return httpx.post(f"{server.url}/predict", content=content, headers=headers, timeout=30)


def head(length: int | None = None, chunked: bool = False) -> bytes:
    lines = ["POST /predict HTTP/1.1", "Host: test", "Content-Type: application/json"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_client_disconnect_mid_body_is_not_an_error(srv: Server) -> None:
    errors_before = metric(srv, 500)
    for _ in range(3):
        sock = connect(srv)
        sock.sendall(head(length=100_000) + b'{"records": [')
        time.sleep(0.2)
        sock.close()
    deadline = time.monotonic() + 10
    while metric(srv, 499) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert metric(srv, 499) >= 3  # counted as "client closed request", not as our failure
    assert metric(srv, 500) == errors_before == 0
    assert "Traceback" not in srv.stderr()


def test_chunked_upload_over_the_limit_is_refused_while_streaming(
    srv: Server, serve_project: ServeProject
) -> None:
    limit = yaml.safe_load((serve_project.root / "configs/serve.yaml").read_text())["max_body_bytes"]
    before = rss_kb(srv.proc.pid)
    peak = before
    sock = connect(srv)
    sock.sendall(head(chunked=True) + b'5\r\n{"rec\r\n')
    chunk = b"a" * (1 << 20)
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent = 0
    try:
        while sent < 300 * (1 << 20):
            sock.sendall(frame)
            sent += len(chunk)
            peak = max(peak, rss_kb(srv.proc.pid))
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = read_response(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 300 * (1 << 20), "the server read a 300 MB body"
    assert sent <= limit + 16 * (1 << 20)  # refused once the limit passed (plus socket buffers)
    assert peak - before < 16 * 1024, f"RSS grew {(peak - before) / 1024:.1f} MB while refusing the upload"


def test_slow_header_block_is_timed_out(srv: Server) -> None:
    sock = connect(srv)
    start = time.monotonic()
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: test\r\n")  # ... and the rest never comes
    answer = read_response(sock, timeout=30)
    waited = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert waited < TIMEOUTS["header_timeout_seconds"] + 5, waited
    idle = connect(srv)  # a connection that never sends a byte is closed as well
    assert read_response(idle, timeout=30).startswith(b"HTTP/1.1 408")


def test_slow_body_is_timed_out_and_counted(srv: Server) -> None:
    before = metric(srv, 408)
    sock = connect(srv)
    start = time.monotonic()
    sock.sendall(head(length=1000) + b'{"records": [')
    answer = read_response(sock, timeout=30)
    waited = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert waited < TIMEOUTS["body_timeout_seconds"] + 5, waited
    deadline = time.monotonic() + 10
    while metric(srv, 408) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert metric(srv, 408) == before + 1


def test_content_type_must_be_json(srv: Server, serve_project: ServeProject) -> None:
    body = orjson.dumps({"records": serve_project.records[:1]})
    for ctype in ("text/plain", "application/x-www-form-urlencoded", None):
        resp = post(srv, body, ctype)
        assert resp.status_code == 415, (ctype, resp.text)
        assert "application/json" in resp.json()["detail"]
    assert post(srv, body, "application/json; charset=utf-8").status_code == 200


def test_duplicate_json_keys_are_a_422_naming_the_key(srv: Server, serve_project: ServeProject) -> None:
    records = serve_project.records[:2]
    name = next(iter(records[1]))
    raw = orjson.dumps({"records": records})
    second = raw.index(b'"%s"' % name.encode(), raw.index(b"},{"))
    dup = raw[:second] + b'"%s":%s,' % (name.encode(), orjson.dumps(records[0][name])) + raw[second:]
    assert orjson.loads(dup) is not None  # valid JSON, which most parsers accept with the last value
    resp = post(srv, dup)
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert [d["field"] for d in detail] == [f"records.1.{name}"] and detail[0]["type"] == "duplicate_key"


def test_integral_floats_are_accepted_for_integer_features(srv: Server, serve_project: ServeProject) -> None:
    features = serve_project.settings.features
    name = next(f.name for f in features.features if f.kind == "numeric" and f.dtype == "int")
    rec = serve_project.records[0]
    as_int = post(srv, orjson.dumps({"records": [rec]}))
    as_float = post(srv, orjson.dumps({"records": [{**rec, name: float(rec[name])}]}))
    assert b".0" in orjson.dumps(float(rec[name]))
    assert as_float.status_code == 200, as_float.text
    assert as_float.json()["predictions"] == as_int.json()["predictions"]
    half = post(srv, orjson.dumps({"records": [rec, {**rec, name: rec[name] + 0.5}]}))
    assert half.status_code == 422
    assert [d["field"] for d in half.json()["detail"]] == [f"records.1.{name}"]


@pytest.mark.slow
def test_schemathesis_positive_mode_has_no_rejections(srv: Server) -> None:
    """Every request the OpenAPI document calls valid is accepted (2xx)."""
    assert_schemathesis_passes(
        srv.url,
        "--mode",
        "positive",
        "--checks",
        "positive_data_acceptance,not_a_server_error",
        "--include-path",
        "/predict",
    )


def test_sigterm_keeps_serving_through_the_drain_then_stops_accepting(
    wire_root: Path, serve_project: ServeProject, tmp_path: Path
) -> None:
    server = start_server(wire_root, serve_project.primary.env(), tmp_path)
    server.wait_ready()
    body = orjson.dumps({"records": serve_project.records[:1]})
    headers = {"content-type": "application/json"}
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    # The handler runs on the event loop, not at the instant of the signal: wait until readiness
    # has flipped, then every request inside the drain period must still be served.
    while time.monotonic() - sent < 2.0 and httpx.get(f"{server.url}/readyz", timeout=5).status_code != 503:
        time.sleep(0.05)
    during: list[Any] = []
    while time.monotonic() - sent < TIMEOUTS["drain_seconds"] - 1.0:
        # A fresh connection each time: a client the load balancer still routes here.
        with httpx.Client(timeout=5) as client:
            during.append(
                (
                    client.get(f"{server.url}/readyz").status_code,
                    client.post(f"{server.url}/predict", content=body, headers=headers).status_code,
                )
            )
        time.sleep(0.1)
    assert during and all(r == (503, 200) for r in during), during
    deadline = time.monotonic() + 20
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            httpx.get(f"{server.url}/healthz", timeout=2)
            time.sleep(0.1)
        except httpx.ConnectError:
            refused = True
    assert refused, "still accepting connections long after the drain period"
    assert server.proc.wait(30) in (0, -signal.SIGTERM), server.stderr()
    assert "Traceback" not in server.stderr()
