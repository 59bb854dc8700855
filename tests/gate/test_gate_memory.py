"""The gate job's decisions against the in-memory registry: no MLflow, no DVC run, seconds.

The project is the template's skeleton with a small snapshot from the model package's own
loader; column names come from settings. The real-registry path stays tested in
test_gate_registry.py; tests/adapters/test_registry_contract.py keeps the fake honest.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from modelops import tags as T
from modelops.adapters import dvc
from modelops.contract import load_package
from modelops.errors import DigestMismatch, NotRegistered
from modelops.gate.job import run_gate
from modelops.settings import Settings, load_settings
from tests.conftest import make_project
from tests.fakes.registry_memory import InMemoryRegistry
from tests.helpers.registry import register_pipeline
from tests.release import records

# Judged on quality only: the latency machinery has its own tests and would dominate the time.
GATES = {
    "bootstrap": {"resamples": 200, "seed": 7},
    "absolute": [{"metric": "roc_auc", "min": 0.7}],
    "change": [{"metric": "roc_auc", "rule": "non_inferior", "margin": 0.01}],
    "latency": {"max_ratio": None},
    "evidence": {"required_tags": {T.DATA_VALIDATION: "passed"}},
}


@dataclass
class Gated:
    settings: Settings
    registry: InMemoryRegistry
    strong: int
    weak: int


def _lineage(settings: Settings) -> dict[str, str]:
    """Training's tags, with the md5 of the evaluation file this project really has."""
    eval_md5 = dvc.md5(settings.path(settings.data.paths.eval))
    return records.LINEAGE | {T.EVAL_MD5: eval_md5, T.DATA_VALIDATION: "passed"}


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Gated:
    root = make_project(tmp_path_factory.mktemp("gate-memory"), rows=3000, max_iter=30)
    (root / "configs/gates.yaml").write_text(yaml.safe_dump(GATES))
    settings = load_settings(root)
    package = load_package(settings)
    frame = package.raw_snapshot(settings)
    names, label = list(settings.features.names), settings.features.label
    train, held_out = frame.iloc[:2000], frame.iloc[2000:]
    eval_file = settings.path(settings.data.paths.eval)
    eval_file.parent.mkdir(parents=True, exist_ok=True)
    held_out.to_parquet(eval_file)
    registry = InMemoryRegistry(tmp_path_factory.mktemp("registry"))
    trusted = settings.model.skops_trusted_types
    strong_pipe = package.unfitted_pipeline(settings).fit(train[names], train[label])
    shuffled = np.random.default_rng(0).permutation(train[label].to_numpy())  # learns nothing
    weak_pipe = package.unfitted_pipeline(settings).fit(train[names], shuffled)
    lineage = _lineage(settings)
    name = settings.model.name
    strong = register_pipeline(registry, name, strong_pipe, trusted, lineage, metrics={"valid_roc_auc": 0.8})
    weak = register_pipeline(registry, name, weak_pipe, trusted, lineage)
    return Gated(settings, registry, strong.version, weak.version)


def _gate(g: Gated, out: Path, candidate: int, champion: str = "none") -> Any:
    return run_gate(g.settings, candidate, champion, out, str(out), registry=g.registry)


def _statuses(report: Any, kind: str) -> dict[str, str]:
    return {c.name: c.status for c in report.checks if c.kind == kind}


def test_first_release_passes_and_records_verdict_digest_and_report(gated: Gated, tmp_path: Path) -> None:
    result = _gate(gated, tmp_path / "gate", gated.strong)
    assert result.verdict == "pass", result.report.summary
    assert result.exit_code == 0
    blob = (tmp_path / "gate/gate.json").read_bytes()
    mv = gated.registry.get_version(gated.settings.model.name, gated.strong)
    assert mv.tags[T.GATE_VERDICT] == "pass"
    assert mv.tags[T.GATE_REPORT_SHA256] == hashlib.sha256(blob).hexdigest() == result.report_sha256
    assert mv.tags[T.GATE_CHAMPION] == "none"
    assert (
        mv.tags[T.GATE_RULES_SHA256]
        == hashlib.sha256((gated.settings.config_dir / "gates.yaml").read_bytes()).hexdigest()
    )
    logged = gated.registry.download_run_artifact(mv.run_id, T.GATE_ARTIFACT, tmp_path / "dl")
    assert logged is not None and logged.read_bytes() == blob
    doc = json.loads(blob)
    assert doc["champion"] is None and any("unpinned" in w for w in doc["warnings"])
    # the run's logged metrics reach the absolute checks beside the bootstrap estimates
    assert _statuses(result.report, "change") == {
        c.name: "skipped" for c in result.report.checks if c.kind == "change"
    }


def test_a_candidate_that_learned_nothing_fails_against_the_champion(gated: Gated, tmp_path: Path) -> None:
    result = _gate(gated, tmp_path / "gate", gated.weak, str(gated.strong))
    assert result.verdict == "fail" and result.exit_code == 1
    assert "fail" in _statuses(result.report, "change").values()
    assert "fail" in _statuses(result.report, "absolute").values()
    mv = gated.registry.get_version(gated.settings.model.name, gated.weak)
    assert mv.tags[T.GATE_VERDICT] == "fail" and mv.tags[T.GATE_CHAMPION] == str(gated.strong)


def test_a_swapped_artifact_fails_closed_and_is_recorded_as_an_error(gated: Gated, tmp_path: Path) -> None:
    name = gated.settings.model.name
    good = gated.registry.get_version(name, gated.strong).tags[T.MODEL_SHA256]
    gated.registry.set_version_tags(name, gated.strong, {T.MODEL_SHA256: "0" * 64})
    try:
        with pytest.raises(DigestMismatch, match="0" * 64):
            _gate(gated, tmp_path / "gate", gated.strong)
    finally:
        gated.registry.set_version_tags(name, gated.strong, {T.MODEL_SHA256: good})
    assert gated.registry.get_version(name, gated.strong).tags[T.GATE_VERDICT] == "error"
    assert json.loads((tmp_path / "gate/gate.json").read_text())["verdict"] == "error"


def test_missing_lineage_fails_the_evidence_check(gated: Gated, tmp_path: Path) -> None:
    name = gated.settings.model.name
    gated.registry.set_version_tags(name, gated.strong, {T.DATA_VALIDATION: "skipped"})
    try:
        result = _gate(gated, tmp_path / "gate", gated.strong)
    finally:
        gated.registry.set_version_tags(name, gated.strong, {T.DATA_VALIDATION: "passed"})
    assert result.verdict == "fail"
    assert _statuses(result.report, "evidence")[f"tag {T.DATA_VALIDATION} = passed"] == "fail"


def test_an_unregistered_candidate_is_named(gated: Gated, tmp_path: Path) -> None:
    with pytest.raises(
        NotRegistered, match=rf"model '{gated.settings.model.name}' version 99 is not registered"
    ):
        _gate(gated, tmp_path / "gate", 99)


def test_an_eval_set_that_differs_from_its_pin_fails_closed_naming_both(gated: Gated, tmp_path: Path) -> None:
    from modelops.data.evalset import EvalSetPin, pin_path, render_pin

    s = gated.settings
    actual = dvc.md5(s.path(s.data.paths.eval))
    pin = EvalSetPin(path=s.data.paths.eval, md5="0" * 32, rows=1, created_at="2025-01-01T00:00:00Z")
    pin_path(s.config_dir).write_text(render_pin(pin))
    try:
        with pytest.raises(DigestMismatch, match=f"md5 {actual} differs from the pin {'0' * 32}"):
            _gate(gated, tmp_path / "gate", gated.strong)
    finally:
        pin_path(s.config_dir).unlink()
    assert json.loads((tmp_path / "gate/gate.json").read_text())["verdict"] == "error"
