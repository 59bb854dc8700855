"""`modelops serve`: verify the released model's digest, then run uvicorn on it."""

import argparse
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger("modelops.serve")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the released model over HTTP (FastAPI/uvicorn)",
        description="Serve a model version. The reference comes from --release, else MODEL_URI/MODEL_VERSION/"
        "MODEL_SHA256, else the stable overlay's model.env. The artifact's sha256 is checked before it is "
        "deserialised; a mismatch exits non-zero and nothing is served. Settings: configs/serve.yaml.",
    )
    p.add_argument("--release", type=Path, help="releases/<model>/vN.yaml to serve")
    p.add_argument("--host", help="bind address (default: serve.yaml host)")
    p.add_argument("--port", type=int, help="port (default: serve.yaml port)")
    p.add_argument("--workers", type=int, help="uvicorn worker processes (default: serve.yaml workers)")
    p.add_argument(
        "--prediction-log",
        help="JSONL sink: a file, or - for stdout (default: $PREDICTION_LOG, "
        "else serve.yaml prediction_log.path)",
    )
    p.add_argument(
        "--prediction-store",
        help="prediction store URI (local dir, s3://bucket/prefix); replaces the JSONL sink "
        "(default: $PREDICTION_STORE, else serve.yaml prediction_store.uri)",
    )
    p.set_defaults(func=run)


def _thread_env(threads: int) -> None:
    """Pin OpenMP/BLAS pools before any worker imports numpy or scikit-learn."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))


def _store_uri(args: argparse.Namespace, cfg: Any, settings: Any) -> str | None:
    uri = args.prediction_store or os.environ.get("PREDICTION_STORE") or cfg.prediction_store.uri
    if uri and "://" not in uri:
        uri = str(settings.path(uri))  # a relative directory is relative to the project root
    return uri or None


def run(args: argparse.Namespace) -> int:
    from modelops.adapters import tracking
    from modelops.errors import DigestMismatch
    from modelops.serve import config as serve_config
    from modelops.serve import runner
    from modelops.serve.app import OPTIONS_ENV, ServeOptions
    from modelops.serve.reference import fetch, from_env, resolve
    from modelops.settings import load_settings

    settings = load_settings(Path(args.root))
    cfg = serve_config.load(settings.config_dir)
    root = settings.root
    ref = resolve(root, args.release, os.environ)
    shadow = from_env(os.environ, "SHADOW_")
    workers = args.workers or cfg.workers
    registry = tracking.registry_for(root)
    cache = Path(tempfile.mkdtemp(prefix="modelops-serve-"))
    try:
        load_error = None
        model_dir = None
        try:
            ref, model_dir = fetch(ref, cache, registry)
        except DigestMismatch as exc:
            log.critical("refusing to serve: %s", exc)
            raise
        except Exception as exc:
            # A missing or unreachable model is a readiness problem, not a crash: the server
            # starts, /readyz says why, and the workers keep retrying.
            load_error = f"model {ref.uri} not loaded: {type(exc).__name__}: {exc}"
            log.error("%s", load_error)
        log_target = args.prediction_log or os.environ.get("PREDICTION_LOG") or cfg.prediction_log.path
        if log_target != "-":
            log_target = str(settings.path(log_target))
        opts = ServeOptions(
            root=str(root),
            config_dir=str(settings.config_dir),
            cache_dir=str(cache),
            prediction_log=log_target,
            primary=ref.to_dict(),
            model_dir=str(model_dir) if model_dir else None,
            load_error=load_error,
            shadow=shadow.to_dict() if shadow else None,
            prediction_store=_store_uri(args, cfg, settings),
        )
        os.environ[OPTIONS_ENV] = opts.to_env()
        _thread_env(cfg.threads)
        if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(cache / "prometheus")
            (cache / "prometheus").mkdir()
        log.info(
            "serving %s (sha256 %s, from %s) on %s:%s with %d worker(s)",
            ref.uri,
            ref.sha256[:12],
            ref.source,
            args.host or cfg.host,
            args.port or cfg.port,
            workers,
        )
        runner.run(
            "modelops.serve.app:app_from_env",
            host=args.host or cfg.host,
            port=args.port or cfg.port,
            workers=workers,
            access_log=False,
            timeout_graceful_shutdown=int(cfg.graceful_shutdown_seconds),
            log_level="info",
        )
        return 0
    finally:
        shutil.rmtree(cache, ignore_errors=True)
