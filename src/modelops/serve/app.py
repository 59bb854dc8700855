"""The FastAPI application: /predict, /healthz, /readyz, /metadata, /metrics.

The hot path is deliberately thin: the body is validated from raw bytes by the
generated pydantic model (one pass, no intermediate dict), scored by the compiled
scorer, answered with orjson, and handed to the prediction log's queue. Metrics,
request ids and the model-version header are added by one small ASGI wrapper.
"""

import gc
import json
import logging
import os
import re
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import ValidationError

from modelops.errors import DigestMismatch
from modelops.serve import schema
from modelops.serve.config import ServeConfig
from modelops.serve.metrics import Metrics
from modelops.serve.reference import ModelRef, fetch, verify
from modelops.serve.runner import DRAINING
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
        tracking.configure(settings.root)
        _, model_dir = fetch(ref, Path(opts.cache_dir))
    else:
        verify(model_dir, ref)  # the CLI checked it; re-check what this process is about to read
    return tracking.load_sklearn(model_dir, settings.model.skops_trusted_types)


def _scorer(pipeline: Any, settings: Settings, cfg: ServeConfig, warmup_rows: int) -> Any:
    """The fast-path scorer (parity-checked against `pipeline`) or the pipeline itself."""
    fp = cfg.fast_path
    return load_scorer(
        pipeline,
        settings.features,
        fast=fp.enabled,
        vector_max_rows=fp.vector_max_rows,
        tolerance=fp.parity_tolerance,
        warmup_rows=warmup_rows,
        threads=cfg.threads,
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


class Instrument:
    """Pure ASGI wrapper: request id, model-version header and the request metrics."""

    def __init__(self, app: Any, state: State, metrics: Metrics) -> None:
        self.app = app
        self.state = state
        self.metrics = metrics
        self._children: dict[tuple[str, int, str], tuple[Any, Any]] = {}

    def _series(self, endpoint: str, status: int, version: str) -> tuple[Any, Any]:
        key = (endpoint, status, version)
        series = self._children.get(key)
        if series is None:
            labels = (endpoint, str(status), version)
            series = (self.metrics.requests.labels(*labels), self.metrics.latency.labels(*labels))
            self._children[key] = series
        return series

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = ENDPOINTS.get(scope["path"], "other")
        rid = ""
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                rid = value.decode("latin-1")
        if not _REQUEST_ID.match(rid):
            rid = uuid.uuid4().hex
        scope["modelops.request_id"] = rid
        version = self.state.version
        extra = [(b"x-request-id", rid.encode()), (b"x-model-version", version.encode())]
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

        in_flight = self.metrics.in_flight.labels(endpoint)
        in_flight.inc()
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - start
            in_flight.dec()
            count, latency = self._series(endpoint, status, version)
            count.inc()
            latency.observe(elapsed)


def create_app(opts: ServeOptions, settings: Settings | None = None, cfg: ServeConfig | None = None) -> Any:
    """The ASGI app (FastAPI wrapped in `Instrument`). Loading starts in the lifespan."""
    from modelops.serve.config import load as load_serve_config

    settings = settings or load_settings(Path(opts.root), config_dir=Path(opts.config_dir))
    cfg = cfg or load_serve_config(Path(opts.config_dir))
    state = State(ModelRef(**opts.primary))  # type: ignore[arg-type]
    if opts.load_error:
        state.reason = opts.load_error
    metrics = Metrics()
    adapter = schema.request_adapter(settings.features)
    threshold = cfg.label_threshold
    max_rows = cfg.max_batch_rows
    max_bytes = cfg.max_body_bytes
    holder: dict[str, Sink] = {}

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
        holder["log"] = sink
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

    def error(status: int, rid: str, detail: Any) -> Response:
        return _json(status, {"model_version": state.version, "request_id": rid, "detail": detail})

    @app.post(
        "/predict",
        summary="Score one or more records",
        responses={
            200: {"model": schema.PredictResponse, "description": "Scores, in record order"},
            413: {
                "model": schema.ErrorResponse,
                "description": f"More than {max_rows} records or {max_bytes} bytes",
            },
            422: {
                "model": schema.ErrorResponse,
                "description": "Invalid body; each error names its field path",
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
    async def predict(request: Request) -> Response:
        rid = request.scope["modelops.request_id"]
        scorer = state.scorer
        if scorer is None:
            return error(503, rid, state.reason)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            return error(413, rid, f"body larger than {max_bytes} bytes")
        body = await request.body()
        if len(body) > max_bytes:
            return error(413, rid, f"body larger than {max_bytes} bytes")
        try:
            req = adapter.validate_json(body)
        except ValidationError as exc:
            metrics.validation_failures.labels("predict", state.version).inc()
            return error(422, rid, schema.validation_errors(exc))
        records = [r.__dict__ for r in req.records]
        if len(records) > max_rows:
            return error(413, rid, f"{len(records)} records; the limit is {max_rows} per request")
        scores = scorer.score(records).tolist()
        metrics.observe_scores(state.version, scores)
        entry = Entry(rid, datetime.now(UTC).isoformat(), state.version, records, scores)
        if state.shadow is not None:
            state.shadow.submit(entry)
        else:
            holder["log"].submit(entry)
        return _json(
            200,
            {
                "model_version": state.version,
                "request_id": rid,
                "predictions": [{"score": s, "label": 1 if s >= threshold else 0} for s in scores],
            },
        )

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> Response:
        return _json(200, {"status": "ok"})

    @app.get(
        "/readyz",
        summary="Readiness: model loaded, verified and warmed up",
        responses={503: {"description": "Not ready; `reason` says why"}},
    )
    async def readyz() -> Response:
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
            body = adapter.json_schema(ref_template="#/components/schemas/{model}")
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            components.update(body.pop("$defs", {}))
            components["PredictRequest"] = body
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    wrapped = Instrument(app, state, metrics)
    wrapped.fastapi = app  # type: ignore[attr-defined]
    return wrapped


def app_from_env() -> Any:
    """uvicorn factory for `modelops serve` (each worker builds its own app)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(ServeOptions.from_env())
