"""MLflow adapter: the tracking store, the model registry and model artifacts.

Embedded by default (SQLite + a local artifact directory under .mlflow/, git-ignored);
MLFLOW_TRACKING_URI (and MLFLOW_REGISTRY_URI) point it at a team server instead.

The jobs talk to a `Registry` (the Protocol below). `MlflowRegistry` implements it over one
explicit `MlflowClient`, so two stores can be open in one process and nothing process-wide
is changed; tests/fakes/registry_memory.py implements it in memory for fast unit tests, and
tests/registry_contract.py holds both to the same behaviour.
"""

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from modelops import tags
from modelops.digest import directory_sha256, verify_directory
from modelops.errors import DigestMismatch, NotRegistered

LOCAL_DIR = ".mlflow"
MODEL_ARTIFACT = "model"  # where register() puts a model directory inside its run
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


class RunData(NamedTuple):
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


class Registry(Protocol):
    """What the lifecycle jobs need from a model registry and its runs."""

    def get_version(self, name: str, version: int | str) -> ModelVersion:
        """The registered version, or NotRegistered naming it."""
        ...

    def search_versions(self, name: str, tags: Mapping[str, str] | None = None) -> list[ModelVersion]:
        """Versions of `name` carrying every tag in `tags`, newest first ([] when none)."""
        ...

    def set_version_tags(self, name: str, version: int | str, tags: Mapping[str, str]) -> None: ...

    def create_run(self, experiment: str, params: Mapping[str, str], tags: Mapping[str, str]) -> str:
        """A new (finished) run in `experiment` (created when absent); returns its id."""
        ...

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None: ...

    def run_data(self, run_id: str) -> RunData: ...

    def run_experiment_id(self, run_id: str) -> str | None: ...

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None: ...

    def register(
        self, name: str, run_id: str, model_dir: Path, tags: Mapping[str, str] | None = None
    ) -> ModelVersion:
        """Store a local model directory in the run and register it as the next version of `name`."""
        ...

    def download_model(self, mv: ModelVersion, dst: Path) -> Path:
        """Download a version's model directory into `dst` and return its local path."""
        ...

    def download_run_artifact(self, run_id: str, path: str, dst: Path) -> Path | None:
        """One run artifact (e.g. gate/gate.json) downloaded into `dst`, or None when absent."""
        ...


def _uris(root: Path, env: Mapping[str, str]) -> tuple[str, str, bool]:
    """(tracking URI, registry URI, embedded?) from the environment, or the store under `root`."""
    tracking_uri = env.get("MLFLOW_TRACKING_URI") or local_tracking_uri(root)
    return tracking_uri, env.get("MLFLOW_REGISTRY_URI") or tracking_uri, not env.get("MLFLOW_TRACKING_URI")


class MlflowRegistry:
    """`Registry` over one `MlflowClient`; reads no process-wide MLflow state and changes none."""

    def __init__(self, tracking_uri: str, registry_uri: str | None = None, artifact_root: str | None = None):
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        # An embedded SQLite store keeps artifacts beside it, not in the working directory's ./mlruns.
        self.artifact_root = artifact_root
        self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)

    @classmethod
    def for_root(cls, root: Path, env: Mapping[str, str] | None = None) -> "MlflowRegistry":
        """The team server named by MLFLOW_TRACKING_URI, or the embedded store under `root`."""
        tracking_uri, registry_uri, embedded = _uris(root, os.environ if env is None else env)
        if embedded:
            (root / LOCAL_DIR).mkdir(parents=True, exist_ok=True)
        return cls(tracking_uri, registry_uri, local_artifact_uri(root) if embedded else None)

    def __repr__(self) -> str:
        return f"MlflowRegistry({self.tracking_uri!r})"

    # --- registry ---------------------------------------------------------------------

    def get_version(self, name: str, version: int | str) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version(name, str(version))
        except MlflowException as exc:
            raise NotRegistered(
                f"model {name!r} version {version} is not registered ({exc.error_code})"
            ) from exc
        return ModelVersion(name, int(mv.version), mv.run_id or "", mv.source or "", dict(mv.tags or {}))

    def search_versions(self, name: str, tags: Mapping[str, str] | None = None) -> list[ModelVersion]:
        from mlflow.exceptions import MlflowException

        terms = [f"name='{_quoted(name)}'"] + [f"tags.`{k}`='{_quoted(v)}'" for k, v in (tags or {}).items()]
        query = " and ".join(terms)
        try:
            found = self.client.search_model_versions(query)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return []
            raise
        # search results may carry partial tags; read each version whole
        return sorted((self.get_version(name, mv.version) for mv in found), key=lambda v: -v.version)

    def set_version_tags(self, name: str, version: int | str, tags: Mapping[str, str]) -> None:
        self.get_version(name, version)  # NotRegistered naming it, not MLflow's own error
        for key, value in tags.items():
            self.client.set_model_version_tag(name, str(version), key, str(value))

    def register(
        self, name: str, run_id: str, model_dir: Path, tags: Mapping[str, str] | None = None
    ) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        self.client.log_artifacts(run_id, str(model_dir), MODEL_ARTIFACT)
        try:
            self.client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        source = f"{self.client.get_run(run_id).info.artifact_uri.rstrip('/')}/{MODEL_ARTIFACT}"
        mv = self.client.create_model_version(name, source, run_id=run_id, tags=dict(tags or {}))
        return self.get_version(name, mv.version)

    # --- runs and artifacts -----------------------------------------------------------

    def ensure_experiment(self, name: str) -> str:
        """Experiment id for `name`, created (with the embedded artifact root, if any) when absent."""
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return str(exp.experiment_id)
        return str(self.client.create_experiment(name, artifact_location=self.artifact_root))

    def create_run(self, experiment: str, params: Mapping[str, str], tags: Mapping[str, str]) -> str:
        from mlflow.entities import Param, RunTag

        run = self.client.create_run(self.ensure_experiment(experiment))
        run_id = str(run.info.run_id)
        self.client.log_batch(
            run_id,
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )
        self.client.set_terminated(run_id)
        return run_id

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, 0) for k, v in metrics.items()]
        for i in range(0, len(items), 900):  # MLflow caps a batch at 1000 metrics
            self.client.log_batch(run_id, metrics=items[i : i + 900])

    def run_data(self, run_id: str) -> RunData:
        run = self.client.get_run(run_id)
        return RunData(dict(run.data.params), dict(run.data.metrics), dict(run.data.tags))

    def run_experiment_id(self, run_id: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_run(run_id).info.experiment_id)
        except MlflowException:
            return None

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def download_model(self, mv: ModelVersion, dst: Path) -> Path:
        import mlflow.artifacts

        dst.mkdir(parents=True, exist_ok=True)
        # Resolved through this client: MLflow resolves a models:/ URI against the global registry.
        location = self.client.get_model_version_download_uri(mv.name, str(mv.version))
        return Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=location,
                dst_path=str(dst),
                tracking_uri=self.tracking_uri,
                registry_uri=self.registry_uri,
            )
        )

    def download_run_artifact(self, run_id: str, path: str, dst: Path) -> Path | None:
        from mlflow.exceptions import MlflowException

        try:
            return Path(self.client.download_artifacts(run_id, path, str(dst)))
        except (MlflowException, OSError):
            return None

    @contextmanager
    def fluent(self) -> Iterator[None]:
        """Point MLflow's fluent API (start_run, log_model) at this store for the block, then put it back.

        The fluent API has no client parameter, and training logs its model through it; this is
        the one place a process-wide URI is set, and MLflow's writes into os.environ are undone too.
        """
        import mlflow

        saved_env = {var: os.environ.get(var) for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        saved = (tracking_utils._tracking_uri, registry_utils._registry_uri)
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri)
        try:
            yield
        finally:
            tracking_utils._tracking_uri, registry_utils._registry_uri = saved
            for var, value in saved_env.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value


def _quoted(value: str) -> str:
    return value.replace("'", "\\'")


def registry_for(root: Path) -> MlflowRegistry:
    """The default registry of a project: MLFLOW_TRACKING_URI, or the embedded store under `root`."""
    return MlflowRegistry.for_root(root)


def model_sha256(registry: Registry, mv: ModelVersion) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        return directory_sha256(registry.download_model(mv, Path(tmp)))


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
    registry: Registry,
    mv: ModelVersion,
    dst: Path,
    expected_sha256: str | None,
    trusted_types: tuple[str, ...] | list[str] = (),
) -> Any:
    """Download, check the digest (a missing one fails), and only then deserialise."""
    local = registry.download_model(mv, dst)
    verify_directory(local, expected_sha256, what=mv.uri)
    return load_sklearn(local, trusted_types)
