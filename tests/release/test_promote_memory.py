"""Promotion's checks and its two commits against the in-memory registry and a throw-away git repo.

Seconds, not minutes: no training, no MLflow. The real registry + CLI path stays in test_promote.py.
"""

from pathlib import Path

import pytest

from modelops import tags as T
from modelops.adapters import git
from modelops.digest import directory_sha256
from modelops.errors import DigestMismatch, GateFailed, MissingEvidence, ModelOpsError, NotRegistered
from modelops.release import promote, record
from modelops.release.config import ReleaseConfig, load_release_config
from modelops.settings import Settings, load_settings
from tests.conftest import make_project
from tests.fakes.registry_memory import InMemoryRegistry
from tests.helpers.registry import pass_gate
from tests.release import records

GATE_AT = "2025-01-01T00:00:00+00:00"
LINEAGE = records.LINEAGE | {T.DATA_VALIDATION: "passed"}


def _artifact(tmp: Path) -> Path:
    """A model directory as MLflow writes one: promotion reads only its files and its environment."""
    d = tmp / "model"
    d.mkdir(parents=True)
    (d / "MLmodel").write_text("flavors:\n  sklearn:\n    serialization_format: skops\n")
    (d / "model.skops").write_bytes(b"weights" * 10)
    (d / "python_env.yaml").write_text("python: 3.11.9\n")
    (d / "requirements.txt").write_text("scikit-learn==1.6.1\nskops==0.11.0\n")
    return d


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Settings, ReleaseConfig, InMemoryRegistry, int]:
    root = make_project(tmp_path / "project")
    settings = load_settings(root)
    registry = InMemoryRegistry(tmp_path / "registry")
    model = _artifact(tmp_path)
    run = registry.create_run(settings.model.name, {"model.max_iter": "30"}, LINEAGE)
    registry.log_metrics(run, {"valid_roc_auc": 0.81, "eval_roc_auc": 0.8})
    mv = registry.register(
        settings.model.name, run, model, LINEAGE | {T.MODEL_SHA256: directory_sha256(model)}
    )
    pass_gate(registry, mv.name, mv.version, settings.config_dir, tmp_path / "gate", GATE_AT)
    return settings, load_release_config(settings.config_dir), registry, mv.version


def _plan(
    settings: Settings, cfg: ReleaseConfig, registry: InMemoryRegistry, version: int
) -> promote.Promotion:
    return promote.plan(settings, cfg, version, "canary", pr=7, promoted_by="alice", registry=registry)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_a_gated_version_is_promoted_in_two_commits_with_its_registry_evidence(setup) -> None:  # type: ignore[no-untyped-def]
    settings, cfg, registry, version = setup
    root = settings.root
    planned = _plan(settings, cfg, registry, version)
    mv = registry.get_version(settings.model.name, version)
    rec_path = cfg.release_path(root, settings.model.name, version)
    assert set(planned.record_files) == {rec_path, cfg.card_path(root, settings.model.name, version)}
    done = promote.apply(root, planned, commit=True)
    rec = record.read(root, settings.model.name, version, cfg)
    assert rec.model.sha256 == mv.tags[T.MODEL_SHA256] and rec.model.run_id == mv.run_id
    assert rec.lineage.environment.packages["skops"] == "0.11.0"
    card = cfg.card_path(root, settings.model.name, version).read_text()
    assert "0.81" in card  # the run's metrics, read through the registry
    assert len(done.commits) == 2 and git.rev_parse(root, "HEAD") == done.commit
    assert f"report sha256 {mv.tags[T.GATE_REPORT_SHA256]}" in done.commit_message
    assert git.is_dirty(root) is False


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("no_gate", GateFailed, "has no gate.verdict tag"),
        ("gate_failed", GateFailed, "gate.verdict='fail'"),
        ("report_tampered", DigestMismatch, "gate/gate.json sha256"),
        ("report_absent", MissingEvidence, "has no gate/gate.json artifact"),
        ("artifact_swapped", DigestMismatch, "0" * 64),
        ("rules_changed", GateFailed, "was gated under a different gates.yaml"),
        ("unregistered", NotRegistered, "version 99 is not registered"),
    ],
)
def test_a_promotion_without_its_evidence_is_refused_before_any_write(
    setup,
    case: str,
    error: type[ModelOpsError],
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    settings, cfg, registry, version = setup
    name, root = settings.model.name, settings.root
    mv = registry.get_version(name, version)
    if case == "no_gate":
        registry.models[name][version].tags.pop(T.GATE_VERDICT)
    elif case == "gate_failed":
        registry.set_version_tags(name, version, {T.GATE_VERDICT: "fail"})
    elif case == "report_tampered":
        registry.set_version_tags(name, version, {T.GATE_REPORT_SHA256: "f" * 64})
    elif case == "report_absent":
        registry.runs[mv.run_id].artifacts.pop(T.GATE_ARTIFACT)
    elif case == "artifact_swapped":
        registry.set_version_tags(name, version, {T.MODEL_SHA256: "0" * 64})
    elif case == "rules_changed":
        gates = settings.config_dir / "gates.yaml"
        gates.write_text(gates.read_text() + "\n# loosened after the gate ran\n")
    elif case == "unregistered":
        version = 99
    before = _tree(root)
    with pytest.raises(error, match=message):
        _plan(settings, cfg, registry, version)
    assert _tree(root) == before


@pytest.mark.parametrize("rejected", ["record", "promote"])
def test_a_failing_commit_leaves_the_tree_and_head_as_they_were(setup, rejected: str) -> None:  # type: ignore[no-untyped-def]
    """A commit-msg hook rejects the first (record) or second (pointer) commit: all or nothing."""
    from modelops.errors import ReleaseError

    settings, cfg, registry, version = setup
    root = settings.root
    hook = root / ".git/hooks/commit-msg"
    hook.write_text(
        f'#!/bin/sh\nif grep -q "): {rejected} v" "$1"; then echo "rejected by policy" >&2; exit 1; fi\n'
    )
    hook.chmod(0o755)
    head, before = git.rev_parse(root, "HEAD"), _tree(root)
    planned = _plan(settings, cfg, registry, version)
    with pytest.raises(
        ReleaseError, match="not made, the tree is restored: git commit failed: rejected by policy"
    ):
        promote.apply(root, planned, commit=True)
    assert git.rev_parse(root, "HEAD") == head and _tree(root) == before
    assert git.is_dirty(root) is False
