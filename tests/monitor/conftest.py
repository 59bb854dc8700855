"""Fixtures for monitoring: a throw-away project with a released version, served traffic as real logs.

The project is the shared one's shape (tests/conftest.py make_project: the fixture package
swapped in, with an id, a timestamp and a segment); its model is trained here, in-process, on
more rows than the DVC project uses, so the drift and quality checks judge real signal.
"""

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from modelops.adapters import dvc
from modelops.contract import load_package
from modelops.monitor.config import FILENAME, MonitoringConfig
from modelops.settings import Settings, load_section, load_settings
from tests.conftest import make_project
from tests.helpers import fixture as fx
from tests.release.records import TAGS, make_record, write_record

TRAIN_ROWS = 20_000
Incident = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass
class Project:
    root: Path
    settings: Settings
    cfg: MonitoringConfig
    model: object
    train_md5: str

    def scorer_factory(self, ref):
        return lambda frame: self.model.predict_proba(frame)[:, 1]

    def write_logs(self, path: Path, frame: pd.DataFrame, version: str = "1", mode: str = "wb") -> Path:
        return write_logs(path, frame, self.settings.features.names, version, mode)

    def write_labels(self, path: Path, frame: pd.DataFrame) -> Path:
        return write_labels(path, frame, self.settings.features.label)

    def write_release(self, version: int, train_md5: str) -> Path:
        return write_release(self.root, self.settings.model.name, version, train_md5)

    def served(self, rows: int, seed: int, incident: Incident | None = None) -> pd.DataFrame:
        """New rows from the package's own source (after `incident`, if any), scored by the released model."""
        frame = fx.rows(self.settings, rows, seed)
        if incident is not None:
            frame = incident(frame)
        frame["score"] = self.model.predict_proba(frame[self.settings.features.names])[:, 1]
        frame["request_id"] = [f"r{seed}-{i}" for i in range(rows)]
        return frame


@pytest.fixture(scope="session")
def project(tmp_path_factory) -> Project:
    root = make_project(tmp_path_factory.mktemp("monitor-project"), rows=TRAIN_ROWS, max_iter=60)
    settings = load_settings(root)
    train = fx.rows(settings, TRAIN_ROWS, 1)
    pipe = load_package(settings).unfitted_pipeline(settings)
    pipe.fit(train[settings.features.names], train[settings.features.label])
    split = root / "data" / "split" / "train.parquet"
    split.parent.mkdir(parents=True, exist_ok=True)
    train.to_parquet(split, index=False)
    md5 = dvc.md5(split)
    cache = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    cache.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(split, cache)
    write_release(root, settings.model.name, 1, md5)
    cfg = load_section(settings.config_dir, FILENAME, MonitoringConfig)
    return Project(root, settings, cfg, pipe, md5)


def write_release(root: Path, name: str, version: int, train_md5: str) -> Path:
    """A valid release record (the release step's one writer) naming `train_md5` as its training data."""
    tags = {**TAGS, "train_md5": train_md5}
    return write_record(root, make_record(version, "0" * 64, name=name, tags=tags, track="stable"))


def write_logs(
    path: Path, frame: pd.DataFrame, names: list[str], version: str = "1", mode: str = "wb"
) -> Path:
    """Prediction log lines in the server's format (docs/INTERFACES.md)."""
    feats = frame[names].astype(object).where(frame[names].notna(), None)
    ts = pd.Timestamp("2025-06-02T00:00:00Z")
    with path.open(mode) as fh:
        rows = zip(frame["request_id"], frame["score"], feats.to_dict("records"), strict=True)
        for i, (rid, score, row) in enumerate(rows):
            rec = {
                "request_id": rid,
                "timestamp": (ts + pd.Timedelta(seconds=i)).isoformat(),
                "model_version": version,
                "features": row,
                "score": float(score),
            }
            fh.write(orjson.dumps(rec, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    return path


def write_labels(path: Path, frame: pd.DataFrame, label: str) -> Path:
    frame[["request_id", label]].to_csv(path, index=False)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
