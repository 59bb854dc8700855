"""An in-memory `Registry` for fast unit tests of the gate, promotion and candidate lookup.

It keeps what the callers rely on: versions number from 1 per model, an unknown version raises
NotRegistered naming it, tags are strings, a search matches every given tag and lists the
newest first, a missing run artifact is None. tests/adapters/test_registry_contract.py runs the
same checks against this fake and a real MLflow store, so the two cannot drift apart.
"""

import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modelops.adapters.tracking import MODEL_ARTIFACT, ModelVersion, RunData
from modelops.errors import NotRegistered


@dataclass
class _Run:
    experiment_id: str
    params: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)  # "dir/file" -> content


@dataclass
class _Version:
    run_id: str
    model_dir: Path  # a private copy, so later edits of the caller's directory change nothing
    tags: dict[str, str]


@dataclass
class InMemoryRegistry:
    store: Path  # where registered model directories are copied
    experiments: dict[str, str] = field(default_factory=dict)
    runs: dict[str, _Run] = field(default_factory=dict)
    models: dict[str, dict[int, _Version]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def get_version(self, name: str, version: int | str) -> ModelVersion:
        found = self.models.get(name, {}).get(int(version)) if str(version).isdigit() else None
        if found is None:
            raise NotRegistered(
                f"model {name!r} version {version} is not registered (RESOURCE_DOES_NOT_EXIST)"
            )
        source = f"memory://{name}/{version}"
        return ModelVersion(name, int(version), found.run_id, source, dict(found.tags))

    def search_versions(self, name: str, tags: Mapping[str, str] | None = None) -> list[ModelVersion]:
        want = dict(tags or {})
        hits = [
            self.get_version(name, v)
            for v, mv in self.models.get(name, {}).items()
            if all(mv.tags.get(k) == str(value) for k, value in want.items())
        ]
        return sorted(hits, key=lambda mv: -mv.version)

    def set_version_tags(self, name: str, version: int | str, tags: Mapping[str, str]) -> None:
        self.get_version(name, version)  # NotRegistered, as MLflow
        self.calls.append(f"set_version_tags {name}/{version} {sorted(tags)}")
        self.models[name][int(version)].tags.update({k: str(v) for k, v in tags.items()})

    def create_run(self, experiment: str, params: Mapping[str, str], tags: Mapping[str, str]) -> str:
        experiment_id = self.experiments.setdefault(experiment, str(len(self.experiments) + 1))
        run_id = uuid.uuid4().hex  # MLflow's shape: release records validate it
        self.runs[run_id] = _Run(
            experiment_id, {k: str(v) for k, v in params.items()}, tags={k: str(v) for k, v in tags.items()}
        )
        return run_id

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        self.runs[run_id].metrics.update({k: float(v) for k, v in metrics.items()})

    def run_data(self, run_id: str) -> RunData:
        run = self.runs[run_id]
        return RunData(dict(run.params), dict(run.metrics), dict(run.tags))

    def run_experiment_id(self, run_id: str) -> str | None:
        run = self.runs.get(run_id)
        return None if run is None else run.experiment_id

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.calls.append(f"log_artifact {run_id} {artifact_path}/{path.name}")
        key = f"{artifact_path.strip('/')}/{path.name}" if artifact_path else path.name
        self.runs[run_id].artifacts[key] = path.read_bytes()

    def register(
        self, name: str, run_id: str, model_dir: Path, tags: Mapping[str, str] | None = None
    ) -> ModelVersion:
        versions = self.models.setdefault(name, {})
        version = max(versions, default=0) + 1
        copy = self.store / name / str(version) / MODEL_ARTIFACT
        shutil.copytree(model_dir, copy)
        for file in copy.rglob("*"):
            if file.is_file():
                rel = file.relative_to(copy.parent).as_posix()
                self.runs[run_id].artifacts[rel] = file.read_bytes()
        versions[version] = _Version(run_id, copy, {k: str(v) for k, v in (tags or {}).items()})
        return self.get_version(name, version)

    def download_model(self, mv: ModelVersion, dst: Path) -> Path:
        found = self.models[mv.name][mv.version]
        dst.mkdir(parents=True, exist_ok=True)
        out = dst / MODEL_ARTIFACT
        shutil.copytree(found.model_dir, out)
        return out

    def download_run_artifact(self, run_id: str, path: str, dst: Path) -> Path | None:
        run = self.runs.get(run_id)
        if run is None or path not in run.artifacts:
            return None
        out = dst / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(run.artifacts[path])
        return out
