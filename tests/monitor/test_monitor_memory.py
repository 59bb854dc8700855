"""The monitor's decisions over the in-memory registry: no MLflow store, no model package, no DVC run.

Frames are synthesised from configs/features.yaml (any model's columns, read from settings); the
served version's model is a small scikit-learn pipeline registered in the fake registry, and the
monitor's scorer fetches and digest-checks it through the `Registry` port as it does from MLflow.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
import pandas as pd
import pytest
import yaml

from modelops import tags as T
from modelops.adapters import dvc
from modelops.adapters.tracking import Registry
from modelops.errors import DigestMismatch
from modelops.monitor import config, job
from modelops.monitor.commands import registry_scorer
from modelops.records import PredictionRecord
from modelops.release.state import MODEL_ENV, overlay_dir
from modelops.settings import Settings, load_settings
from tests.fakes.registry_memory import InMemoryRegistry
from tests.helpers.registry import register_pipeline
from tests.release.records import TAGS, make_record, write_record

REPO = Path(__file__).resolve().parents[2]
TRAIN_ROWS = 3000
SERVED_ROWS = 800


def synthesise(settings: Settings, rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Rows of the declared features (uniform within their bounds, `shift` of the range higher,
    clipped) and a label driven by the first numeric feature, so a model has something to learn."""
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for f in settings.features.features:
        if f.kind == "numeric":
            lo, hi = f.min if f.min is not None else 0.0, f.max if f.max is not None else 100.0
            values = np.clip(rng.uniform(lo, hi, rows) + shift * (hi - lo), lo, hi)
            cols[f.name] = values.round() if f.dtype == "int" else values
        else:
            cols[f.name] = rng.choice(list(f.categories or ()), rows).astype(object)
    frame = pd.DataFrame(cols)
    first = next(f for f in settings.features.features if f.kind == "numeric")
    signal = (frame[first.name] - frame[first.name].mean()) / (frame[first.name].std() or 1.0)
    frame[settings.features.label] = (rng.random(rows) < 1 / (1 + np.exp(-2 * signal))).astype(np.int64)
    return frame


def pipeline(settings: Settings, frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    """Logistic regression on the numeric features (its types: skops' defaults and numpy.dtype)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    numeric = [f.name for f in settings.features.features if f.kind == "numeric"]
    prep = ColumnTransformer(
        [("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), numeric)]
    )
    pipe = Pipeline([("prep", prep), ("model", LogisticRegression())])
    return pipe.fit(frame[settings.features.names], frame[settings.features.label])


@dataclass
class Served:
    """A project whose versions are released (records, overlays) with their models in a fake registry."""

    settings: Settings
    registry: InMemoryRegistry
    models: dict[int, object]
    train: pd.DataFrame

    @property
    def root(self) -> Path:
        return self.settings.root

    def predictions(self, path: Path, frames: dict[int, pd.DataFrame]) -> Path:
        """Each version's rows, scored by its model, as the server's JSON lines (records.PredictionRecord)."""
        names = self.settings.features.names
        at = pd.Timestamp("2025-06-02T00:00:00Z")
        with path.open("wb") as fh:
            for version, frame in frames.items():
                scores = self.models[version].predict_proba(frame[names])[:, 1]  # type: ignore[attr-defined]
                for i, (row, score) in enumerate(zip(frame[names].to_dict("records"), scores, strict=True)):
                    rec = PredictionRecord(
                        request_id=f"v{version}-{i}",
                        timestamp=(at + pd.Timedelta(seconds=i)).to_pydatetime(),
                        model_version=str(version),
                        features={k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()},
                        score=float(score),
                    )
                    fh.write(msgspec.json.encode(rec) + b"\n")
        return path

    def labels(self, path: Path, frame: pd.DataFrame, version: int) -> Path:
        label = self.settings.features.label
        out = pd.DataFrame(
            {"request_id": [f"v{version}-{i}" for i in range(len(frame))], label: frame[label]}
        )
        out.to_csv(path, index=False)
        return path

    def monitor(self, inputs: job.Inputs, tmp: Path, registry: Registry | None = None) -> dict:
        scorer = registry_scorer(self.settings, tmp, registry or self.registry)
        return job.run(self.settings, config.load(self.settings), inputs, scorer)


def served_project(tmp: Path, tracks: dict[str, int]) -> Served:
    """configs/ and k8s/ of the repository; versions 1..max(tracks) registered, released and pointed at."""
    from modelops.release import overlay

    root = tmp / "project"
    for rel in ("configs", "k8s"):
        shutil.copytree(REPO / rel, root / rel)
    # This model's one type beyond skops' defaults, trusted where a team declares it.
    model_yaml = root / "configs/model.yaml"
    model = yaml.safe_load(model_yaml.read_text())
    model["skops_trusted_types"] = ["numpy.dtype"]
    model_yaml.write_text(yaml.safe_dump(model, sort_keys=False))
    settings = load_settings(root)
    train = synthesise(settings, TRAIN_ROWS, seed=1)
    snapshot = root / "data/split/train.parquet"
    snapshot.parent.mkdir(parents=True)
    train.to_parquet(snapshot, index=False)
    md5 = dvc.md5(snapshot)
    cached = root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    cached.parent.mkdir(parents=True)
    shutil.copy(snapshot, cached)

    registry = InMemoryRegistry(tmp / "registry")
    models = {}
    name = settings.model.name
    for version in range(1, max(tracks.values()) + 1):
        pipe = pipeline(settings, train.sample(frac=0.8, random_state=version))
        mv = register_pipeline(registry, name, pipe, settings.model.skops_trusted_types)
        assert mv.version == version
        rec = make_record(version, mv.tags[T.MODEL_SHA256], name=name, tags={**TAGS, T.TRAIN_MD5: md5})
        write_record(root, rec)
        models[version] = pipe
    for track, version in tracks.items():
        sha = registry.get_version(name, version).tags[T.MODEL_SHA256]
        (overlay_dir(root, track) / MODEL_ENV).write_text(overlay.model_env(track, name, version, sha))
    return Served(settings, registry, models, train)


@pytest.fixture
def served(tmp_path: Path) -> Served:
    return served_project(tmp_path, {"stable": 1})


def test_traffic_like_the_training_data_is_healthy_and_scored_through_the_registry(
    served: Served, tmp_path: Path
) -> None:
    fresh = synthesise(served.settings, SERVED_ROWS, seed=2)
    logs = served.predictions(tmp_path / "p.jsonl", {1: fresh})
    labels = served.labels(tmp_path / "labels.csv", fresh, 1)
    summary = served.monitor(
        job.Inputs(predictions=logs, out=tmp_path / "out", labels=labels), tmp_path / "m"
    )
    (section,) = summary["versions"]
    assert summary["verdict"] == "healthy", section["alerts"]
    assert section["rows"] == SERVED_ROWS and section["labelled_rows"] == SERVED_ROWS
    assert section["reference"]["model_uri"] == f"models:/{served.settings.model.name}/1"
    assert section["score_drift"]["drifted"] is False
    assert section["quality"]["rows"] == SERVED_ROWS
    assert (tmp_path / "out/summary.json").is_file()


def test_shifted_traffic_alerts_naming_the_drifted_features(served: Served, tmp_path: Path) -> None:
    shifted = synthesise(served.settings, SERVED_ROWS, seed=3, shift=0.4)
    logs = served.predictions(tmp_path / "p.jsonl", {1: shifted})
    summary = served.monitor(job.Inputs(predictions=logs, out=tmp_path / "out"), tmp_path / "m")
    (section,) = summary["versions"]
    assert summary["verdict"] == "alert"
    numeric = [f.name for f in served.settings.features.features if f.kind == "numeric"]
    drifted = {d["feature"] for d in section["drift"] if d["drifted"]}
    assert drifted and drifted <= set(numeric)
    assert any(name in alert for alert in section["alerts"] for name in drifted)


def test_too_little_traffic_is_reported_not_judged(served: Served, tmp_path: Path) -> None:
    # One row short of the configured minimum (configs/monitoring.yaml `min_rows`, the team's call).
    few = synthesise(served.settings, config.load(served.settings).min_rows - 1, seed=4, shift=0.4)
    logs = served.predictions(tmp_path / "p.jsonl", {1: few})
    summary = served.monitor(job.Inputs(predictions=logs, out=tmp_path / "out"), tmp_path / "m")
    assert summary["verdict"] == "insufficient traffic"
    assert summary["versions"][0]["verdict"] == "insufficient traffic"


def test_a_registry_artifact_that_is_not_the_released_one_fails_closed(
    served: Served, tmp_path: Path
) -> None:
    """The scorer checks the registry's files against the release record before deserialising."""
    swapped = InMemoryRegistry(tmp_path / "other")
    other = pipeline(served.settings, served.train.head(500))
    register_pipeline(swapped, served.settings.model.name, other, served.settings.model.skops_trusted_types)
    logs = served.predictions(tmp_path / "p.jsonl", {1: synthesise(served.settings, SERVED_ROWS, seed=5)})
    with pytest.raises(DigestMismatch):
        served.monitor(job.Inputs(predictions=logs, out=tmp_path / "out"), tmp_path / "m", swapped)
