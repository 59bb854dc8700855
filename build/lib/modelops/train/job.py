"""`modelops train`: fit the contract's pipeline, log everything to MLflow, register a version."""

import json
import logging
import posixpath
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelops import metrics
from modelops.adapters import dvc, tracking
from modelops.contract import ModelPackage, load_package
from modelops.data.ingest import read_table, snapshot_source
from modelops.errors import SchemaViolation
from modelops.settings import Settings
from modelops.tags import BASELINE_PROFILE_ARTIFACT
from modelops.threads import limit_threads
from modelops.train import lineage
from modelops.train.plots import write_plots

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    name: str
    version: int
    run_id: str
    model_sha256: str
    metrics: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "uri": f"models:/{self.name}/{self.version}",
            "run_id": self.run_id,
            "model_sha256": self.model_sha256,
            "metrics": self.metrics,
        }


def features_and_label(frame: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, np.ndarray]:
    return frame[settings.features.names], frame[settings.features.label].to_numpy(dtype=np.int64)


def curves(pipe: Any, X: pd.DataFrame, y: np.ndarray, every: int) -> dict[str, list[tuple[int, float]]]:
    """Per-iteration validation log loss and ROC AUC, for estimators that can stage predictions."""
    estimator = pipe[-1]
    if not hasattr(estimator, "staged_predict_proba"):
        return {}
    Xt = pipe[:-1].transform(X)
    out: dict[str, list[tuple[int, float]]] = {"curve_valid_log_loss": [], "curve_valid_roc_auc": []}
    for i, proba in enumerate(estimator.staged_predict_proba(Xt), start=1):
        if i % every == 0 or i == estimator.n_iter_:
            out["curve_valid_log_loss"].append((i, metrics.log_loss(y, proba[:, 1])))
            out["curve_valid_roc_auc"].append((i, metrics.roc_auc(y, proba[:, 1])))
    return out


def permutation_importance(
    pipe: Any, X: pd.DataFrame, y: np.ndarray, rows: int, seed: int
) -> dict[str, float]:
    from sklearn.inspection import permutation_importance as pi

    sample = X.sample(n=min(rows, len(X)), random_state=seed)
    result = pi(
        pipe,
        sample,
        y[X.index.get_indexer(sample.index)],
        scoring="roc_auc",
        n_repeats=3,
        random_state=seed,
        n_jobs=1,
    )
    return {name: float(v) for name, v in zip(X.columns, result.importances_mean, strict=True)}


def _flat_params(settings: Settings, data: dict[str, str]) -> dict[str, str]:
    t = settings.train
    params = {f"model.{k}": str(v) for k, v in t.params.items()}
    params.update({"estimator": t.estimator, "seed": str(t.seed)})
    return params | {f"data.{k}": v for k, v in data.items()}


def data_params(
    settings: Settings, package: ModelPackage, report: dict[str, Any], train_rows: int, valid_rows: int
) -> dict[str, str]:
    """What was actually loaded: the validated snapshot's rows and the source, in one line each.

    `rows` comes from the validation report of the current raw snapshot (train checked its md5);
    `source` is the description ingest stored in that snapshot (the package's describe(), never
    a secret), else today's configs/data.yaml `source:` described the same way.
    """
    stored = snapshot_source(settings.path(settings.data.paths.raw))
    return {
        "rows": str(report.get("rows", "unknown")),
        "source": stored or package.describe_source(package.source(settings)),
        "train_rows": str(train_rows),
        "valid_rows": str(valid_rows),
    }


def _signature_frame(X: pd.DataFrame) -> pd.DataFrame:
    # Categoricals become plain strings in the signature: that is what clients send.
    return X.astype({c: object for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)})


def train(settings: Settings) -> TrainResult:
    import mlflow
    from mlflow.entities import Metric
    from mlflow.models import infer_signature

    report = lineage.read_validation(settings)
    if not report or report.get("status") != "passed":
        raise SchemaViolation(
            f"{settings.data.paths.validation_report}: no passing data validation report; "
            "run `modelops data validate` (training refuses unvalidated data)"
        )
    paths = settings.data.paths
    raw_md5 = dvc.md5(settings.path(paths.raw))
    if report.get("md5") != raw_md5:
        raise SchemaViolation(
            f"{paths.validation_report}: validated snapshot md5 {report.get('md5')} is not the current "
            f"{paths.raw} (md5 {raw_md5}); run `modelops data validate` again"
        )
    profile = settings.path(paths.profile)
    if not profile.is_file():
        raise SchemaViolation(
            f"{paths.profile}: no baseline profile; run `modelops data validate` (it writes one on a pass)"
        )
    X_train, y_train = features_and_label(read_table(settings.path(paths.train)), settings)
    X_valid, y_valid = features_and_label(read_table(settings.path(paths.valid)), settings)
    tags = lineage.lineage_tags(settings) | {tracking.TAG_VALIDATION: "passed"}
    package = load_package(settings)
    data = data_params(settings, package, report, len(X_train), len(X_valid))

    registry = tracking.registry_for(settings.root)
    experiment_id = registry.ensure_experiment(settings.model.name)
    started = time.perf_counter()
    with limit_threads(settings.train.threads):
        pipe = package.unfitted_pipeline(settings)
        pipe.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - started
        p_valid = pipe.predict_proba(X_valid)[:, 1]
        final = {f"valid_{k}": v for k, v in metrics.classification_metrics(y_valid, p_valid).items()}
        curve = curves(pipe, X_valid, y_valid, settings.train.curve_every)
        importance = permutation_importance(
            pipe, X_valid, y_valid, settings.train.importance_rows, settings.train.seed
        )

    with (
        registry.fluent(),
        mlflow.start_run(experiment_id=experiment_id) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        run_id = run.info.run_id
        mlflow.log_params(_flat_params(settings, data))
        mlflow.set_tags(tags | {f"hw.{k}": v for k, v in lineage.hardware().items()})
        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, step) for k, pts in curve.items() for step, v in pts]
        batch += [Metric(k, v, now, 0) for k, v in final.items()]
        batch += [Metric(f"importance_{k}", v, now, 0) for k, v in importance.items()]
        batch.append(Metric("fit_seconds", fit_seconds, now, 0))
        for i in range(0, len(batch), 900):  # MLflow caps a batch at 1000 metrics
            mlflow.MlflowClient().log_batch(run_id, metrics=batch[i : i + 900])
        tmp_dir = Path(tmp)
        for plot in write_plots(y_valid, p_valid, importance, tmp_dir / "plots"):
            mlflow.log_artifact(str(plot), "plots")
        (tmp_dir / "environment.json").write_text(json.dumps(lineage.environment(), indent=2))
        (tmp_dir / "requirements-freeze.txt").write_text(lineage.full_freeze())
        (tmp_dir / "resolved_config.json").write_text(
            json.dumps(
                {
                    k: getattr(settings, k).model_dump(mode="json")
                    for k in ("model", "data", "features", "train")
                },
                indent=2,
            )
        )
        for name in ("environment.json", "requirements-freeze.txt", "resolved_config.json"):
            mlflow.log_artifact(str(tmp_dir / name), "run")
        # The profile this training data was accepted against: batch scoring checks new data
        # against the served version's copy.
        folder, name = posixpath.split(BASELINE_PROFILE_ARTIFACT)
        shutil.copyfile(profile, tmp_dir / name)
        mlflow.log_artifact(str(tmp_dir / name), folder)

        example = _signature_frame(X_valid.head(5))
        with warnings.catch_warnings():
            # Integer features are declared non-nullable in features.yaml, so MLflow's hint does not apply.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            signature = infer_signature(example, pipe.predict_proba(X_valid.head(5))[:, 1])
        info = mlflow.sklearn.log_model(
            pipe,
            name="model",
            serialization_format="skops",
            # MLflow 3 defaults to skops; these non-default types are trusted explicitly.
            skops_trusted_types=list(settings.model.skops_trusted_types),
            signature=signature,
            input_example=example,
            registered_model_name=settings.model.name,
            tags=tags,
        )
        version = int(info.registered_model_version)
        mlflow.log_metric("train_wall_seconds", time.perf_counter() - started)

    mv = registry.get_version(settings.model.name, version)
    digest = tracking.model_sha256(registry, mv)
    registry.set_version_tags(settings.model.name, version, tags | {tracking.TAG_MODEL_SHA256: digest})
    result = TrainResult(settings.model.name, version, run_id, digest, final)
    _write_outputs(settings, result, curve)
    return result


def _write_outputs(
    settings: Settings, result: TrainResult, curve: dict[str, list[tuple[int, float]]]
) -> None:
    out = settings.path(settings.data.paths.train_out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps(result.metrics, indent=2, sort_keys=True) + "\n")
    rows = [{"step": s, k: v} for k, pts in curve.items() for s, v in pts]
    (out / "curves.json").write_text(json.dumps(rows) + "\n")
