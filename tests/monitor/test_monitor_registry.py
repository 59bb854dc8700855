"""End to end on the trained project: release lineage -> DVC cache; the MLflow model scores the reference."""

import json
import tempfile
from pathlib import Path

import pytest

from modelops.adapters import tracking
from modelops.release import record
from tests.helpers import fixture as fx
from tests.monitor.incidents import zero_fill
from tests.release.records import TAGS, make_record

from .conftest import write_logs

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_monitor_finds_the_reference_through_the_release_and_scores_it_with_the_registry(
    trained_project, tmp_path
):
    p = trained_project
    settings = p.settings
    registry = tracking.registry_for(p.root)
    mv = registry.get_version(settings.model.name, p.version)
    release = p.root / "releases" / settings.model.name / f"v{p.version}.yaml"
    saved = release.read_bytes() if release.is_file() else None
    release.parent.mkdir(parents=True, exist_ok=True)
    lineage = {"train_md5": mv.tags["train_md5"], "data_md5": mv.tags["data_md5"]}
    sha = mv.tags["model_sha256"]
    rec = make_record(mv.version, sha, name=mv.name, tags=TAGS | lineage, run_id=mv.run_id)
    release.write_text(record.dump(rec))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            model = tracking.load_verified(
                registry, mv, Path(tmp), mv.tags["model_sha256"], settings.model.skops_trusted_types
            )
        names = settings.features.names
        feature = fx.numeric_feature(settings)
        served = zero_fill(fx.rows(settings, 4000, 31), feature, 0.33, seed=31)
        served["score"] = model.predict_proba(served[names])[:, 1]
        served["request_id"] = [f"q{i}" for i in range(len(served))]
        logs = write_logs(tmp_path / "p.jsonl", served, names, version=str(p.version))
        code = p.run("monitor", "--predictions", str(logs), "--out", str(tmp_path / "out"))
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        section = summary["versions"][0]
        assert code == 1, section["alerts"]
        assert section["reference"]["source"] == "release"
        assert section["reference"]["train_md5"] == mv.tags["train_md5"]
        assert [d["feature"] for d in section["drift"] if d["drifted"]] == [feature]
    finally:
        if saved is None:
            release.unlink()
        else:
            release.write_bytes(saved)
