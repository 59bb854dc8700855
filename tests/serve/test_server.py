"""A real `modelops serve` process on a real MLflow store (integration)."""

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
import yaml

from modelops.release import record
from modelops.serve.metrics import multiprocess_mode
from modelops.serve.scoring import PipelineScorer
from tests.release.records import TAGS, make_record
from tests.serve.conftest import ServeProject, Server, running, start_server

pytestmark = pytest.mark.integration


def post(server: Server, body: Any, **kw: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(
        f"{server.url}/predict",
        content=content,
        headers={"content-type": "application/json", **kw.pop("headers", {})},
        timeout=30,
        **kw,
    )


def log_lines(server: Server, request_id: str, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.log_path.exists():
            found = [
                orjson.loads(x) for x in server.log_path.read_bytes().splitlines() if request_id.encode() in x
            ]
            if found:
                return found
        time.sleep(0.1)
    return []


def test_served_scores_equal_the_in_process_pipeline(server: Server, serve_project: ServeProject) -> None:
    records = serve_project.records[:400]
    ref = PipelineScorer(serve_project.primary.pipeline, serve_project.settings.features.names).score(records)
    batch = post(server, {"records": records})
    assert batch.status_code == 200, batch.text
    body = batch.json()
    scores = np.array([p["score"] for p in body["predictions"]])
    assert np.max(np.abs(scores - ref)) <= 1e-9
    assert [p["label"] for p in body["predictions"]] == [int(s >= 0.5) for s in scores]
    single = np.array(
        [post(server, {"records": [r]}).json()["predictions"][0]["score"] for r in records[:40]]
    )
    assert np.max(np.abs(single - ref[:40])) <= 1e-9
    assert body["model_version"] == str(serve_project.primary.version) and len(body["request_id"]) >= 16


def test_bad_field_is_a_422_naming_its_path(server: Server, serve_project: ServeProject) -> None:
    good = serve_project.records[0]
    features = serve_project.settings.features
    column = features.categorical[0]
    resp = post(server, {"records": [good, {**good, column: "forever"}]})
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert [d["field"] for d in detail] == [f"records.1.{column}"]
    assert (features.feature(column).categories or ("?",))[0] in detail[0]["msg"]
    assert post(server, b"not json").status_code == 422


def test_unknown_field_is_rejected(server: Server, serve_project: ServeProject) -> None:
    id_column = serve_project.settings.features.id_column or "row_id"  # identity is not a feature
    resp = post(server, {"records": [{**serve_project.records[0], id_column: 1}]})
    assert resp.status_code == 422
    assert resp.json()["detail"][0] | {} == {
        "field": f"records.0.{id_column}",
        "loc": ["records", 0, id_column],
        "msg": "Extra inputs are not permitted",
        "type": "extra_forbidden",
    }


def test_over_the_batch_limit_is_a_413(server: Server, serve_project: ServeProject) -> None:
    limit = yaml.safe_load((serve_project.root / "configs/serve.yaml").read_text())["max_batch_rows"]
    records = (serve_project.records * 2)[: limit + 1]
    resp = post(server, {"records": records})
    assert resp.status_code == 413 and str(limit) in resp.json()["detail"]
    assert post(server, {"records": records[:limit]}).status_code == 200
    huge = post(server, b'{"records": [' + b" " * 5_000_000 + b"]}")
    assert huge.status_code == 413


def test_every_response_carries_version_and_request_id(server: Server, serve_project: ServeProject) -> None:
    version = str(serve_project.primary.version)
    for resp in (
        post(server, {"records": [serve_project.records[0]]}, headers={"x-request-id": "abc-123"}),
        post(server, {"records": []}),
        httpx.get(f"{server.url}/nowhere"),
        httpx.get(f"{server.url}/healthz"),
    ):
        assert resp.headers["x-model-version"] == version
        assert resp.headers["x-request-id"]
    echoed = post(server, {"records": [serve_project.records[0]]}, headers={"x-request-id": "abc-123"})
    assert echoed.json()["request_id"] == echoed.headers["x-request-id"] == "abc-123"


def test_metadata_names_model_and_lineage(server: Server, serve_project: ServeProject) -> None:
    meta = httpx.get(f"{server.url}/metadata").json()
    primary = serve_project.primary
    assert meta["model_name"] == serve_project.settings.model.name and meta["model_version"] == str(
        primary.version
    )
    assert meta["model_sha256"] == primary.sha256 and meta["run_id"]
    assert (meta["git_sha"], meta["data_md5"]) == ("abc123", "d" * 32)
    assert meta["scorer"] == "compiled" and meta["parity_max_abs_diff"] <= 1e-9
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert httpx.get(f"{server.url}/readyz").json()["ready"] is True


def test_metrics_have_the_interface_names_and_labels(server: Server, serve_project: ServeProject) -> None:
    post(server, {"records": serve_project.records[:3]})
    post(server, {"records": [{serve_project.settings.features.categorical[0]: "gold"}]})
    text = httpx.get(f"{server.url}/metrics").text
    v = serve_project.primary.version
    for needle in (
        f'modelops_requests_total{{endpoint="predict",model_version="{v}",status="200"}}',
        f'modelops_requests_total{{endpoint="predict",model_version="{v}",status="422"}}',
        f'modelops_request_latency_seconds_bucket{{endpoint="predict",le="0.005",model_version="{v}",status="200"}}',
        f'modelops_prediction_score_bucket{{le="0.5",model_version="{v}"}}',
        f'modelops_validation_failures_total{{endpoint="predict",model_version="{v}"}}',
        'modelops_requests_in_flight{endpoint="metrics"} 1.0',
    ):
        assert needle in text, needle
    count = [
        ln
        for ln in text.splitlines()
        if ln.startswith(f'modelops_prediction_score_count{{model_version="{v}"')
    ]
    assert count and float(count[0].split()[-1]) >= 3
    assert not multiprocess_mode()


def test_prediction_log_has_one_line_per_record(server: Server, serve_project: ServeProject) -> None:
    records = serve_project.records[10:13]
    resp = post(server, {"records": records}, headers={"x-request-id": "log-check-1"})
    lines = log_lines(server, "log-check-1")
    assert len(lines) == 3
    scores = [p["score"] for p in resp.json()["predictions"]]
    for line, rec, score in zip(lines, records, scores, strict=True):
        assert set(line) == {"request_id", "timestamp", "model_version", "features", "score"}
        assert line["features"] == rec and line["score"] == score
        assert line["model_version"] == str(serve_project.primary.version)


def test_openapi_states_the_rules_of_features_yaml(server: Server, serve_project: ServeProject) -> None:
    """Checked against configs/features.yaml read here as plain YAML, not through the app's code."""
    declared = yaml.safe_load((serve_project.root / "configs/features.yaml").read_text())["features"]
    limit = yaml.safe_load((serve_project.root / "configs/serve.yaml").read_text())["max_batch_rows"]
    doc = httpx.get(f"{server.url}/openapi.json").json()
    post_op = doc["paths"]["/predict"]["post"]
    assert post_op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictRequest"
    }
    assert {"200", "413", "415", "422"} <= set(post_op["responses"])
    request = doc["components"]["schemas"]["PredictRequest"]
    assert request["additionalProperties"] is False and request["required"] == ["records"]
    records = request["properties"]["records"]
    assert (records["minItems"], records["maxItems"]) == (1, limit)
    assert records["items"] == {"$ref": "#/components/schemas/Record"}
    record = doc["components"]["schemas"]["Record"]
    assert record["additionalProperties"] is False
    assert list(record["properties"]) == [f["name"] for f in declared]
    assert set(record["required"]) == {f["name"] for f in declared if f.get("max_null_rate", 0) == 0}
    for f in declared:
        prop = record["properties"][f["name"]]
        nullable = f.get("max_null_rate", 0) > 0
        if nullable:
            assert {"type": "null"} in prop["anyOf"], f["name"]
            prop = next(p for p in prop["anyOf"] if p != {"type": "null"})
        if f["kind"] == "categorical":
            assert prop["enum"] == f["categories"], f["name"]
        else:
            assert prop["type"] == {"int": "integer", "float": "number"}[f["dtype"]], f["name"]
            assert (prop.get("minimum"), prop.get("maximum")) == (f.get("min"), f.get("max")), f["name"]


def test_release_file_and_shadow_scoring(serve_project: ServeProject, tmp_path: Path) -> None:
    primary, shadow = serve_project.primary, serve_project.shadow
    release = tmp_path / "v1.yaml"
    git_sha = "feedface" * 5
    rec = make_record(primary.version, primary.sha256, tags=TAGS | {"git_sha": git_sha})
    release.write_text(record.dump(rec))
    with running(serve_project.root, shadow.env("SHADOW_"), tmp_path, "--release", str(release)) as srv:
        deadline = time.monotonic() + 60
        while "on" not in httpx.get(f"{srv.url}/metadata").json()["shadow"] and time.monotonic() < deadline:
            time.sleep(0.2)
        meta = httpx.get(f"{srv.url}/metadata").json()
        assert meta["release_file"] == str(release) and meta["git_sha"] == git_sha
        assert meta["shadow"] == f"on: {shadow.version}"
        records = serve_project.records[:5]
        resp = post(srv, {"records": records}, headers={"x-request-id": "with-sh-1"})
        assert set(resp.json()) == {"model_version", "request_id", "predictions"}
        lines = log_lines(srv, "with-sh-1")
    expected = PipelineScorer(shadow.pipeline, serve_project.settings.features.names).score(records)
    assert len(lines) == 5
    got = np.array([ln["shadow"]["score"] for ln in lines])
    assert {ln["shadow"]["model_version"] for ln in lines} == {str(shadow.version)}
    assert np.max(np.abs(got - expected)) <= 1e-9
    assert [ln["score"] for ln in lines] == [p["score"] for p in resp.json()["predictions"]]


def test_digest_mismatch_exits_non_zero_and_never_serves(serve_project: ServeProject, tmp_path: Path) -> None:
    env = {**serve_project.primary.env(), "MODEL_SHA256": "0" * 64}
    srv = start_server(serve_project.root, env, tmp_path)
    code = srv.proc.wait(120)
    assert code != 0
    assert "does not match the expected " + "0" * 64 in srv.stderr()
    assert "refusing to serve" in srv.stderr() and "Uvicorn running" not in srv.stderr()


def test_missing_model_fails_readiness_with_a_clear_message(
    serve_project: ServeProject, tmp_path: Path
) -> None:
    name = serve_project.settings.model.name
    env = {"MODEL_URI": f"models:/{name}/999", "MODEL_VERSION": "999", "MODEL_SHA256": "1" * 64}
    srv = start_server(serve_project.root, env, tmp_path)
    try:
        srv.wait_listening()
        assert httpx.get(f"{srv.url}/healthz").status_code == 200
        ready = httpx.get(f"{srv.url}/readyz")
        assert ready.status_code == 503
        assert f"models:/{name}/999 not loaded" in ready.json()["reason"]
        assert "999" in ready.json()["reason"] and "not registered" in ready.json()["reason"]
        resp = post(srv, {"records": serve_project.records[:1]})
        assert resp.status_code == 503 and "not loaded" in resp.json()["detail"]
    finally:
        # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
        assert srv.stop() in (0, -signal.SIGTERM)
    assert "prediction log flushed" in srv.stderr()
