"""Register a fitted scikit-learn pipeline as a model version, in any `Registry` (fake or MLflow).

The model directory is what training logs (MLflow's sklearn flavour, skops-serialised with the
trusted types of configs/model.yaml); its digest goes into the model_sha256 tag as training does.
"""

import hashlib
import json
import posixpath
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelops import tags as T
from modelops.adapters.tracking import ModelVersion, Registry
from modelops.digest import directory_sha256


def save_pipeline(pipe: Any, dst: Path, trusted_types: Sequence[str], example: Any | None = None) -> Path:
    """The pipeline as an MLflow sklearn model directory (skops), with a signature when `example` is given."""
    from importlib.metadata import version

    import mlflow.sklearn
    from mlflow.models import infer_signature

    signature = None if example is None else infer_signature(example, pipe.predict_proba(example)[:, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MLflow's hint about integer columns in the signature
        mlflow.sklearn.save_model(
            pipe,
            str(dst),
            serialization_format="skops",
            skops_trusted_types=list(trusted_types),
            signature=signature,
            input_example=None if example is None else example.head(3),
            # Stated, not inferred: MLflow infers them by importing the model in a subprocess (~15 s).
            pip_requirements=[f"{dist}=={version(dist)}" for dist in ("scikit-learn", "skops")],
        )
    return dst


def register_pipeline(
    registry: Registry,
    name: str,
    pipe: Any,
    trusted_types: Sequence[str],
    tags: Mapping[str, str] | None = None,
    example: Any | None = None,
    params: Mapping[str, str] | None = None,
    metrics: Mapping[str, float] | None = None,
) -> ModelVersion:
    """A new run and version holding `pipe`, tagged with `tags` and its model_sha256."""
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = save_pipeline(pipe, Path(tmp) / "model", trusted_types, example)
        digest = directory_sha256(model_dir)
        run_id = registry.create_run(name, params or {}, dict(tags or {}))
        if metrics:
            registry.log_metrics(run_id, metrics)
        mv = registry.register(name, run_id, model_dir, dict(tags or {}) | {T.MODEL_SHA256: digest})
    return mv


def pass_gate(registry: Registry, name: str, version: int, configs: Path, tmp: Path, at: str) -> str:
    """What the gate records on a pass, without running it: gate.json logged, verdict, digests, time.

    Returns the report's sha256.
    """
    from modelops.digest import file_digest

    mv = registry.get_version(name, version)
    report = tmp / f"v{version}" / "gate.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"version": version, "verdict": "pass"}))
    artifact_dir, _ = posixpath.split(T.GATE_ARTIFACT)
    registry.log_artifact(mv.run_id, report, artifact_dir)
    sha = hashlib.sha256(report.read_bytes()).hexdigest()
    registry.set_version_tags(
        name,
        version,
        {
            T.GATE_VERDICT: "pass",
            T.GATE_REPORT_SHA256: sha,
            T.GATE_RULES_SHA256: file_digest(configs / "gates.yaml"),
            T.GATE_FEATURES_SHA256: file_digest(configs / "features.yaml"),
            T.GATE_EVAL_MD5: mv.tags.get(T.EVAL_MD5, ""),
            T.GATE_AT: at,
        },
    )
    return sha
