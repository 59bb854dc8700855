"""Register a fitted scikit-learn pipeline as a model version, in any `Registry` (fake or MLflow).

The model directory is what training logs (MLflow's sklearn flavour, skops-serialised with the
trusted types of configs/model.yaml); its digest goes into the model_sha256 tag as training does.
"""

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
