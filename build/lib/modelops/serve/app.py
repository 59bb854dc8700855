"""The model server: /predict, /healthz, /readyz, /metadata, /metrics.

`POST /predict` is served by `ServeApp` itself, a plain ASGI callable with no framework
routing, middleware or dependency injection on the way: the body is read with the size
limit enforced chunk by chunk, decoded and validated in one msgspec pass generated from
features.yaml straight into the float matrix, scored by the (parity-checked) compiled
scorer, answered with orjson and handed to the prediction log's queue. Everything
else (/healthz, /readyz, /metadata, /metrics, /openapi.json, /docs) is FastAPI. Request
ids, the model-version header and the request metrics (pre-bound label children) are
added by `ServeApp` for both.
"""

import gc
import json
import logging
import os
import re
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response

from modelops.errors import DigestMismatch
from modelops.serve import runner, schema
from modelops.serve.config import ServeConfig
from modelops.serve.metrics import Metrics
from modelops.serve.reference import ModelRef, fetch, verify
from modelops.serve.runner import DRAINING, STOPPING, TIMED_OUT
from modelops.serve.scoring import Scorer, load_scorer
from modelops.serve.sinks import Entry, ShadowScorer, Sink, open_sink
from modelops.settings import Settings, load_settings

log = logging.getLogger("modelops.serve")
OPTIONS_ENV = "MODELOPS_SERVE_OPTIONS"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
ENDPOINTS = {
    "/predict": "predict",
    "/healthz": "healthz",
    "/readyz": "readyz",
    "/metadata": "metadata",
    "/metrics": "metrics",
}


@dataclass(frozen=True)
class ServeOptions:
    """Everything a worker needs, passed from the CLI as JSON (workers are fresh processes)."""

    root: str
    config_dir: str
    cache_dir: str
    prediction_log: str
    primary: dict[str, str]
    model_dir: str | None = None
    load_error: str | None = None
    shadow: dict[str, str] | None = None
    prediction_store: str | None = None  # a store URI: records go there instead of the JSONL log

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> "ServeOptions":
        return cls(**json.loads(os.environ[OPTIONS_ENV]))


class State:
    """What the endpoints read; written only by the loader threads."""

    def __init__(self, ref: ModelRef) -> None:
        self.ref = ref
        self.version = ref.version
        self.scorer: Scorer | None = None
        self.reason = f"loading {ref.uri}"
        self.fatal = False
        self.shadow: ShadowScorer | None = None
        self.shadow_status = "off"
        self.stopping = threading.Event()

    @property
    def ready(self) -> bool:
        return self.scorer is not None


def _load_pipeline(ref: ModelRef, model_dir: Path | None, opts: ServeOptions, settings: Settings) -> Any:
    from modelops.adapters import tracking

    if model_dir is None:
        _, model_dir = fetch(ref, Path(opts.cache_dir), tracking.registry_for(settings.root))
    else:
        verify(model_dir, ref)  # the CLI checked it; re-check what this process is about to read
    return tracking.load_sklearn(model_dir, settings.model.skops_trusted_types)


def _scorer(pipeline: Any, settings: Settings, cfg: ServeConfig, warmup_rows: int) -> Any:
    """The fast-path scorer (parity-checked against `pipeline`, also through the request
    decoder) or the pipeline itself."""
    fp = cfg.fast_path
    return load_scorer(
        pipeline,
        settings.features,
        fast=fp.enabled,
        vector_max_rows=fp.vector_max_rows,
        tolerance=fp.parity_tolerance,
        warmup_rows=warmup_rows,
        threads=cfg.threads,
        codec=schema.RequestCodec(settings.features, cfg.max_batch_rows),
    )


def _primary_loader(state: State, opts: ServeOptions, settings: Settings, cfg: ServeConfig) -> None:
    model_dir = Path(opts.model_dir) if opts.model_dir else None
    while not state.stopping.is_set():
        try:
            pipeline = _load_pipeline(state.ref, model_dir, opts, settings)
            scorer = _scorer(pipeline, settings, cfg, cfg.warmup_rows)
            # The model's objects live as long as the process: move them out of the GC's view
            # so collections on the request path stay short (tail latency).
            gc.collect()
            gc.freeze()
            state.scorer = scorer
            state.reason = "ready"
            log.info("serving %s (%s scorer); ready", state.ref.uri, scorer.kind)
            return
        except DigestMismatch as exc:
            state.fatal = True
            state.reason = str(exc)
            log.critical("%s", exc)
            return
        except Exception as exc:
            state.reason = f"model {state.ref.uri} not loaded: {type(exc).__name__}: {exc}"
            log.error("%s; retrying in %gs", state.reason, cfg.load_retry_seconds)
            model_dir = None  # retry from the registry
        state.stopping.wait(cfg.load_retry_seconds)


def _shadow_loader(
    state: State,
    opts: ServeOptions,
    settings: Settings,
    cfg: ServeConfig,
    sink: Sink,
    metrics: Metrics,
) -> None:
    ref = ModelRef(**opts.shadow)  # type: ignore[arg-type]
    try:
        pipeline = _load_pipeline(ref, None, opts, settings)
        scorer = _scorer(pipeline, settings, cfg, min(cfg.warmup_rows, 64))
    except Exception as exc:
        # The shadow never affects the primary: a shadow that cannot load is switched off, loudly.
        state.shadow_status = f"off: {type(exc).__name__}: {exc}"
        log.error("shadow model %s not loaded, shadow scoring off: %s", ref.uri, exc)
        return
    attach_shadow(state, ref.version, scorer.score, sink, metrics, cfg)


def attach_shadow(
    state: State, version: str, score: Any, sink: Sink, metrics: Metrics, cfg: ServeConfig
) -> None:
    """Turn shadow scoring on with any `score(records) -> scores` callable."""
    state.shadow = ShadowScorer(
        version,
        score,
        sink,
        cfg.shadow.queue_size,
        on_error=metrics.shadow_errors.labels(version).inc,
        on_drop=lambda n: metrics.shadow_dropped.labels(version).inc(n),
    )
    state.shadow_status = f"on: {version}"
    log.info("shadow scoring on: version %s", version)


def _json(status: int, payload: dict[str, Any]) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _json_media(value: bytes | None) -> bool:
    """application/json or application/<something>+json, parameters (charset) ignored."""
    if value is None:
        return False
    media = value.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class ServeApp:
    """The ASGI entry point: /predict served directly, everything else by FastAPI."""

    CLIENT_CLOSED = 499  # nginx's code for "client closed the request": not an error of ours

    def __init__(
        self, fastapi: FastAPI, state: State, metrics: Metrics, codec: schema.RequestCodec, cfg: ServeConfig
    ) -> None:
        self.fastapi = fastapi
        self.state = state
        self.metrics = metrics
        self.codec = codec
        self.max_bytes = cfg.max_body_bytes
        self.threshold = cfg.label_threshold
        self._version = state.version.encode()
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._in_flight = {ep: metrics.in_flight.labels(ep) for ep in {*ENDPOINTS.values(), "other"}}
        self._validation = metrics.validation_failures.labels("predict", state.version)

    def _series(self, endpoint: str, status: int) -> tuple[Any, Any]:
        key = (endpoint, status)
        series = self._children.get(key)
        if series is None:
            labels = (endpoint, str(status), self.state.version)
            series = (self.metrics.requests.labels(*labels), self.metrics.latency.labels(*labels))
            self._children[key] = series
        return series

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)
            return
        endpoint = ENDPOINTS.get(scope["path"], "other")
        rid = ctype = length = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                rid = value.decode("latin-1")
            elif key == b"content-type":
                ctype = value
            elif key == b"content-length":
                length = value
        if rid is None or not _REQUEST_ID.match(rid):
            rid = os.urandom(16).hex()
        gauge = self._in_flight[endpoint]
        gauge.inc()
        start = time.perf_counter()
        status = 500
        try:
            if endpoint == "predict" and scope["method"] == "POST":
                status = await self.predict(scope, receive, send, rid, ctype, length)
            else:
                status = await self.delegate(scope, receive, send, rid)
        finally:
            elapsed = time.perf_counter() - start
            gauge.dec()
            count, latency = self._series(endpoint, status)
            count.inc()
            latency.observe(elapsed)

    async def delegate(self, scope: dict[str, Any], receive: Any, send: Any, rid: str) -> int:
        scope["modelops.request_id"] = rid
        extra = [(b"x-request-id", rid.encode()), (b"x-model-version", self._version)]
        status = 500

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), *extra]
                if DRAINING.is_set():
                    headers.append((b"connection", b"close"))  # shutting down: no next request here
                message = {**message, "headers": headers}
            await send(message)

        await self.fastapi(scope, receive, send_with_headers)  # type: ignore[arg-type]
        return status

    async def respond(
        self, send: Any, status: int, rid: str, payload: dict[str, Any], close: bool = False
    ) -> int:
        body = orjson.dumps(payload)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
            (b"x-request-id", rid.encode()),
            (b"x-model-version", self._version),
        ]
        if close or DRAINING.is_set():
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status

    def _error(self, send: Any, status: int, rid: str, detail: Any, close: bool = False) -> Any:
        payload = {"model_version": self.state.version, "request_id": rid, "detail": detail}
        return self.respond(send, status, rid, payload, close)

    async def predict(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        rid: str,
        ctype: bytes | None,
        length: bytes | None,
    ) -> int:
        state = self.state
        scorer = state.scorer
        max_bytes = self.max_bytes
        # Refusals before the body is read close the connection: its unread body cannot be skipped.
        if not _json_media(ctype):
            got = ctype.decode("latin-1") if ctype else "none"
            return await self._error(
                send, 415, rid, f"Content-Type must be application/json (got {got})", True
            )
        if scorer is None:
            return await self._error(send, 503, rid, state.reason, True)
        if length is not None and length.isdigit() and int(length) > max_bytes:
            return await self._error(send, 413, rid, f"body larger than {max_bytes} bytes", True)
        # The limit holds while the body streams in (chunked uploads carry no length).
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The client went away (or the protocol answered 408 for a body too slow).
                return 408 if scope.get(TIMED_OUT) else self.CLIENT_CLOSED
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                return await self._error(send, 413, rid, f"body larger than {max_bytes} bytes", True)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            batch = self.codec.decode(body)
        except schema.TooManyRecords as exc:
            return await self._error(send, 413, rid, str(exc))
        except schema.RequestError as exc:
            self._validation.inc()
            return await self._error(send, 422, rid, exc.errors)
        scores = scorer.score_batch(batch)
        values = scores.tolist()
        labels = (scores >= self.threshold).view(np.int8).tolist()
        version = state.version
        self.metrics.observe_scores(version, values)
        entry = Entry(rid, datetime.now(UTC).isoformat(), version, batch.records(), values)
        if state.shadow is not None:
            state.shadow.submit(entry)
        else:
            self.fastapi.state.sink.submit(entry)
        return await self.respond(
            send,
            200,
            rid,
            {
                "model_version": version,
                "request_id": rid,
                "predictions": [{"score": s, "label": lb} for s, lb in zip(values, labels, strict=True)],
            },
        )


def create_app(opts: ServeOptions, settings: Settings | None = None, cfg: ServeConfig | None = None) -> Any:
    """The ASGI app (`ServeApp` around FastAPI). Loading starts in the lifespan."""
    from modelops.serve.config import load as load_serve_config

    settings = settings or load_settings(Path(opts.root), config_dir=Path(opts.config_dir))
    cfg = cfg or load_serve_config(Path(opts.config_dir))
    state = State(ModelRef(**opts.primary))  # type: ignore[arg-type]
    if opts.load_error:
        state.reason = opts.load_error
    metrics = Metrics()
    codec = schema.RequestCodec(settings.features, cfg.max_batch_rows)
    max_rows = cfg.max_batch_rows
    max_bytes = cfg.max_body_bytes
    # The protocol and the server read these class attributes (each worker runs this factory).
    runner.GuardedHttpTools.header_timeout = cfg.header_timeout_seconds
    runner.GuardedHttpTools.body_timeout = cfg.body_timeout_seconds
    runner.DrainingServer.drain_seconds = cfg.drain_seconds

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=cfg.threads)
        sink = open_sink(
            opts.prediction_log,
            opts.prediction_store,
            state.ref.name,
            settings.features,
            cfg.prediction_store,
            cfg.prediction_log.queue_size,
            metrics.log_dropped.inc,
            metrics.registry,
        )
        app.state.sink = sink
        threading.Thread(
            target=_primary_loader, args=(state, opts, settings, cfg), name="model-loader", daemon=True
        ).start()
        if opts.shadow:
            threading.Thread(
                target=_shadow_loader,
                args=(state, opts, settings, cfg, sink, metrics),
                name="shadow-loader",
                daemon=True,
            ).start()
        yield
        state.stopping.set()
        if state.shadow is not None:
            state.shadow.close()
        sink.close()
        log.info("prediction log flushed; bye")

    app = FastAPI(
        title="modelops model server",
        version="1",
        lifespan=lifespan,
        description=f"Serves the registered model {state.ref.name!r}.",
    )
    app.state.serve_state = state
    app.state.metrics = metrics

    @app.post(
        "/predict",
        summary="Score one or more records",
        description="Served by ServeApp's own handler (this route only documents it). The body must be "
        "`application/json`; integral floats such as 181.0 are accepted for integer features.",
        responses={
            200: {"model": schema.PredictResponse, "description": "Scores, in record order"},
            408: {"description": "The body did not arrive within body_timeout_seconds"},
            413: {
                "model": schema.ErrorResponse,
                "description": f"More than {max_rows} records or {max_bytes} bytes",
            },
            415: {"model": schema.ErrorResponse, "description": "Content-Type is not application/json"},
            422: {
                "model": schema.ErrorResponse,
                "description": "Invalid body (including a repeated key); each error names its field path",
            },
            503: {"model": schema.ErrorResponse, "description": "Model not loaded yet"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
            }
        },
    )
    async def predict() -> Response:  # pragma: no cover - ServeApp answers every POST /predict
        raise RuntimeError("POST /predict is handled by ServeApp")

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> Response:
        return _json(200, {"status": "ok"})

    @app.get(
        "/readyz",
        summary="Readiness: model loaded, verified and warmed up",
        responses={503: {"description": "Not ready; `reason` says why"}},
    )
    async def readyz() -> Response:
        if STOPPING.is_set():  # draining: take this pod out of the endpoints, keep serving meanwhile
            return _json(503, {"ready": False, "model_version": state.version, "reason": "shutting down"})
        body = {"ready": state.ready, "model_version": state.version, "reason": state.reason}
        return _json(200 if state.ready else 503, body)

    @app.get("/metadata", summary="The served model and its lineage")
    async def metadata() -> Response:
        ref = state.ref
        scorer = state.scorer
        return _json(
            200,
            {
                "model_name": ref.name,
                "model_version": ref.version,
                "model_uri": ref.uri,
                "model_sha256": ref.sha256,
                "run_id": ref.run_id,
                "git_sha": ref.git_sha,
                "data_md5": ref.data_md5,
                "release_file": ref.release_file or None,
                "reference_source": ref.source,
                "ready": state.ready,
                "scorer": scorer.kind if scorer else None,
                "parity_max_abs_diff": scorer.parity_max_abs_diff if scorer else None,
                "shadow": state.shadow_status,
                "features": settings.features.names,
            },
        )

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            components.update(
                schema.request_json_schema(settings.features, max_rows, "#/components/schemas/")
            )
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return ServeApp(app, state, metrics, codec, cfg)


def app_from_env() -> Any:
    """uvicorn factory for `modelops serve` (each worker builds its own app)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(ServeOptions.from_env())
