"""MLflow adapter: the tracking store, the model registry and model artifacts.

Embedded by default (SQLite + a local artifact directory under .mlflow/, git-ignored);
MLFLOW_TRACKING_URI points it at a team server instead.
"""

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops import tags
from modelops.digest import directory_sha256, verify_directory
from modelops.errors import DigestMismatch, NotRegistered

LOCAL_DIR = ".mlflow"
# Tag names are defined once in modelops.tags; these aliases keep this adapter's call sites short.
TAG_GIT_SHA = tags.GIT_SHA
TAG_GIT_DIRTY = tags.GIT_DIRTY
TAG_DATA_HASH = tags.DATA_MD5
TAG_TRAIN_HASH = tags.TRAIN_MD5
TAG_EVAL_HASH = tags.EVAL_MD5
TAG_CONFIG_HASH = tags.CONFIG_SHA256
TAG_MODEL_SHA256 = tags.MODEL_SHA256
TAG_VALIDATION = tags.DATA_VALIDATION
TAG_OVERRIDES = tags.CONFIG_OVERRIDES


def local_tracking_uri(root: Path) -> str:
    return f"sqlite:///{(root / LOCAL_DIR / 'mlflow.db').resolve()}"


def local_artifact_uri(root: Path) -> str:
    return (root / LOCAL_DIR / "artifacts").resolve().as_uri()


_URI_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_embedded: set[str] = set()


def configure(root: Path) -> str:
    """Point MLflow at MLFLOW_TRACKING_URI, or at the embedded store under `root`."""
    import mlflow

    # Progress bars on every artifact download drown CI logs.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    user = {var: os.environ.get(var) for var in _URI_VARS}
    uri = user["MLFLOW_TRACKING_URI"] or local_tracking_uri(root)
    if not user["MLFLOW_TRACKING_URI"]:
        _embedded.add(uri)
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(user["MLFLOW_REGISTRY_URI"] or uri)
    # MLflow also writes both URIs into os.environ; put the user's environment back so a
    # later configure() for another root (or a child process) is not pinned to this store.
    for var, value in user.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    return uri


def is_embedded() -> bool:
    """True when the current tracking URI is an embedded store configure() chose."""
    import mlflow

    return mlflow.get_tracking_uri() in _embedded


def ensure_experiment(name: str, root: Path) -> str:
    """Experiment id for `name`, created with a local artifact root when embedded."""
    import mlflow

    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    location = local_artifact_uri(root) if is_embedded() else None
    return str(mlflow.create_experiment(name, artifact_location=location))


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    run_id: str
    source: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def _client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


def get_version(name: str, version: int | str) -> ModelVersion:
    """The registered version, or NotRegistered naming it."""
    from mlflow.exceptions import MlflowException

    try:
        mv = _client().get_model_version(name, str(version))
    except MlflowException as exc:
        raise NotRegistered(f"model {name!r} version {version} is not registered ({exc.error_code})") from exc
    return ModelVersion(name, int(mv.version), mv.run_id or "", mv.source or "", dict(mv.tags or {}))


def latest_version(name: str) -> ModelVersion:
    from mlflow.exceptions import MlflowException

    try:
        versions = _client().search_model_versions(f"name='{name}'")
    except MlflowException as exc:
        raise NotRegistered(f"model {name!r} is not registered ({exc.error_code})") from exc
    if not versions:
        raise NotRegistered(f"model {name!r} has no versions")
    newest = max(versions, key=lambda v: int(v.version))
    return get_version(name, newest.version)


def set_version_tags(name: str, version: int | str, tags: dict[str, str]) -> None:
    client = _client()
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, str(value))


def run_data(run_id: str) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """(params, metrics, tags) of a run."""
    run = _client().get_run(run_id)
    return dict(run.data.params), dict(run.data.metrics), dict(run.data.tags)


def run_experiment_id(run_id: str) -> str | None:
    """The experiment a run belongs to (for links into a tracking server's UI)."""
    from mlflow.exceptions import MlflowException

    try:
        return str(_client().get_run(run_id).info.experiment_id)
    except MlflowException:
        return None


def log_artifact(run_id: str, path: Path, artifact_path: str | None = None) -> None:
    _client().log_artifact(run_id, str(path), artifact_path)


def download_model(mv: ModelVersion, dst: Path) -> Path:
    """Download a version's model directory to `dst` and return its local path."""
    import mlflow

    dst.mkdir(parents=True, exist_ok=True)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=mv.uri, dst_path=str(dst)))


def model_sha256(mv: ModelVersion) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return directory_sha256(download_model(mv, Path(tmp)))


def load_sklearn(model_dir: Path, trusted_types: tuple[str, ...] | list[str] = ()) -> Any:
    """Deserialise the scikit-learn flavour of a local model directory with skops.

    MLflow's own loader trusts the allow-list stored inside the artifact (and needs
    MLFLOW_ALLOW_PICKLE_DESERIALIZATION); here the allow-list comes from the reviewed
    configs/model.yaml instead, so a crafted artifact cannot widen it.
    """
    import skops.io
    import yaml

    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    flavor = mlmodel.get("flavors", {}).get("sklearn", {})
    if flavor.get("serialization_format") != "skops":
        raise DigestMismatch(f"{model_dir}: not a skops-serialised scikit-learn model; refusing to unpickle")
    return skops.io.load(model_dir / flavor["pickled_model"], trusted=list(trusted_types))


def load_verified(
    mv: ModelVersion, dst: Path, expected_sha256: str, trusted_types: tuple[str, ...] | list[str] = ()
) -> Any:
    """Download, check the digest, and only then deserialise."""
    local = download_model(mv, dst)
    verify_directory(local, expected_sha256, what=mv.uri)
    return load_sklearn(local, trusted_types)


def download_run_artifact(run_id: str, path: str, dst: Path) -> Path | None:
    """One run artifact (e.g. the gate's gate/gate.json) downloaded to `dst`, or None when absent."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=str(dst)))
    except (MlflowException, OSError):
        return None
