"""Pure release core: record schema, overlay edits, card rendering and `release verify` (no registry)."""

import shutil
from pathlib import Path
from typing import Any

import pytest

from modelops.errors import ConfigError, MissingEvidence, ReleaseError
from modelops.release import card, overlay, record, state, verify
from modelops.release.config import ReleaseConfig, load_release_config

REPO = Path(__file__).resolve().parents[2]
SHA = "a" * 64
TAGS = {
    "git_sha": "b" * 40,
    "git_dirty": "False",
    "data_md5": "c" * 32,
    "train_md5": "d" * 32,
    "eval_md5": "e" * 32,
    "config_sha256": "f" * 64,
    "gate.verdict": "pass",
    "gate.report_sha256": "1" * 64,
}
ENV = {"python": "3.11.9", "packages": {"scikit-learn": "1.7.0"}}


def make_record(
    version: int, sha: str = SHA, created_at: str = "2025-01-01T00:00:00Z", **kw: Any
) -> dict[str, Any]:
    args: dict[str, Any] = dict(
        name="churn",
        version=version,
        run_id="0" * 32,
        sha256=sha,
        tags=TAGS,
        environment=ENV,
        pr=7,
        track="canary",
        promoted_by="alice",
        previous_version=None,
        created_at=created_at,
    )
    args.update(kw)
    return record.build(**args)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for rel in ("configs", "k8s"):
        shutil.copytree(REPO / rel, tmp_path / rel)
    return tmp_path


def release(
    root: Path,
    cfg: ReleaseConfig,
    version: int,
    *,
    sha: str = SHA,
    card_text: str | None = "card",
    created_at: str = "2025-01-01T00:00:00Z",
) -> None:
    path = cfg.release_path(root, "churn", version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record.dump(make_record(version, sha, created_at)))
    if card_text is not None:
        cfg.card_path(root, "churn", version).parent.mkdir(parents=True, exist_ok=True)
        cfg.card_path(root, "churn", version).write_text(card_text)


def point(root: Path, track: str, version: int | None, sha: str | None = SHA) -> None:
    (state.overlay_dir(root, track) / state.MODEL_ENV).write_text(
        overlay.model_env(track, "churn", version, sha)
    )
    if track == "canary":
        kust = state.overlay_dir(root, "canary") / state.KUSTOMIZATION
        kust.write_text(overlay.set_replicas(kust.read_text(), 0 if version is None else 1, "k"))


def problems(root: Path) -> list[str]:
    return verify.verify(root, load_release_config(root / "configs")).problems


def test_record_round_trips_and_schema_names_the_field() -> None:
    rec = make_record(3)
    assert record.load(record.dump(rec), "v3.yaml") == rec
    assert rec["model"]["uri"] == "models:/churn/3" and rec["lineage"]["git_dirty"] is False
    with pytest.raises(ReleaseError, match=r"model\.sha256"):
        make_record(3, sha="not-a-digest")
    with pytest.raises(ReleaseError, match=r"gate\.verdict"):
        make_record(3, tags={**TAGS, "gate.verdict": "fail"})
    with pytest.raises(MissingEvidence, match="eval_md5"):
        make_record(3, tags={k: v for k, v in TAGS.items() if k != "eval_md5"})
    tampered = record.dump(rec).replace("schema_version: 1", "schema_version: 1\nextra: x")
    with pytest.raises(ReleaseError, match="Additional properties"):
        record.load(tampered, "v3.yaml")


def test_environment_from_model_files() -> None:
    env = record.parse_environment(
        "python: 3.11.9\nbuild_dependencies: [pip]\n",
        "mlflow==3.1.0\nscikit-learn==1.7.0 ; python_version>'3'\nskops>=0.10\n",
    )
    assert env == {
        "python": "3.11.9",
        "packages": {"mlflow": "3.1.0", "scikit-learn": "1.7.0", "skops": "skops>=0.10"},
    }
    with pytest.raises(MissingEvidence, match=r"python_env\.yaml"):
        record.parse_environment(None, "x==1")


def test_replica_edit_keeps_every_other_byte() -> None:
    text = (REPO / "k8s/overlays/canary/kustomization.yaml").read_text()
    edited = overlay.set_replicas(text, 2, "canary")
    assert overlay.replicas(edited, "canary") == 2
    assert edited.replace("count: 2", "count: 0") == text
    with pytest.raises(ReleaseError, match="exactly one"):
        overlay.set_replicas("resources: []\n", 1, "k8s/overlays/x/kustomization.yaml")


def test_model_env_is_what_state_reads(tmp_path: Path) -> None:
    d = tmp_path / state.TRACK_OVERLAYS["canary"]
    d.mkdir(parents=True)
    (d / state.MODEL_ENV).write_text(overlay.model_env("canary", "churn", 4, SHA))
    assert state.track_version(tmp_path, "canary") == 4
    assert state.read_model_env(tmp_path, "canary")["MODEL_URI"] == "models:/churn/4"
    (d / state.MODEL_ENV).write_text(overlay.model_env("canary", "churn", None, None))
    assert state.track_version(tmp_path, "canary") is None
    assert state.stable_version(tmp_path) is None


def test_card_template_renders_every_section(project: Path) -> None:
    cfg = load_release_config(project / "configs")
    metrics = {
        "valid_roc_auc": 0.81,
        "valid_segment_roc_auc": 0.77,
        "valid_brier": 0.12,
        "train_wall_seconds": 3.0,
    }
    groups = card.group_metrics(metrics, cfg.card)
    assert groups == {
        "overall": {"valid_roc_auc": 0.81},
        "per_slice": {"valid_segment_roc_auc": 0.77},
        "calibration": {"valid_brier": 0.12},
    }
    ctx = {
        "model": {"name": "churn", "owner": "@team", "description": "d"},
        "release": make_record(3),
        "metrics": groups,
        "params": {},
        "features": ["tenure_months"],
        "segment": "plan = enterprise",
        "data": {"raw": "data/raw/churn.parquet", "train": "t", "eval": "data/split/eval.parquet"},
        "rollback": "`modelops rollback --track canary`",
    }
    text = card.render(project / "configs" / cfg.card_template, ctx)
    for heading in (
        "Intended use",
        "Out-of-scope uses",
        "Training data",
        "Evaluation data",
        "Per slice",
        "Calibration",
        "Limitations",
        "Ethical considerations",
        "How to roll back",
    ):
        assert f"## {heading}" in text or f"### {heading}" in text, heading
    assert "valid_segment_roc_auc: 0.7700" in text and "@team" in text and "c" * 32 in text
    del ctx["rollback"]
    with pytest.raises(ConfigError, match="rollback"):
        card.render(project / "configs" / cfg.card_template, ctx)


def test_slice_metrics_from_the_evaluate_report() -> None:
    report = {"slices": {"plan=pro": {"rows": 10, "roc_auc": 0.7, "pr_auc": float("nan")}, "bad": 1}}
    assert card.slice_metrics(report) == {"plan=pro roc_auc": 0.7, "plan=pro rows": 10.0}
    assert card.slice_metrics(None) == {}


def test_verify_passes_on_a_consistent_tree(project: Path) -> None:
    assert problems(project) == []
    cfg = load_release_config(project / "configs")
    release(project, cfg, 2)
    release(project, cfg, 3, sha="9" * 64, created_at="2025-02-01T00:00:00Z")
    point(project, "stable", 2)
    point(project, "canary", 3, "9" * 64)
    assert problems(project) == []


def test_verify_catches_a_tampered_digest(project: Path) -> None:
    cfg = load_release_config(project / "configs")
    release(project, cfg, 2)
    point(project, "stable", 2, "b" * 64)
    (found,) = problems(project)
    assert "k8s/overlays/production/model.env: MODEL_SHA256" in found and "differs" in found


def test_verify_catches_an_overlay_pointing_at_an_unreleased_version(project: Path) -> None:
    cfg = load_release_config(project / "configs")
    release(project, cfg, 2)
    point(project, "stable", 2)
    point(project, "canary", 5)
    (found,) = problems(project)
    assert "k8s/overlays/canary/model.env: points at churn v5, which has no release file" in found


def test_verify_catches_a_missing_and_an_orphan_model_card(project: Path) -> None:
    cfg = load_release_config(project / "configs")
    release(project, cfg, 2, card_text=None)
    point(project, "stable", 2)
    (found,) = problems(project)
    assert "model card model_cards/churn/v2.md is missing" in found
    orphan = cfg.card_path(project, "churn", 9)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_text("x")
    assert any("v9.md: model card without a release file" in p for p in problems(project))


def test_verify_catches_schema_order_and_canary_replicas(project: Path) -> None:
    cfg = load_release_config(project / "configs")
    release(project, cfg, 2, created_at="2025-03-01T00:00:00Z")
    release(project, cfg, 3, created_at="2025-02-01T00:00:00Z")
    bad = cfg.release_path(project, "churn", 4)
    bad.write_text(record.dump(make_record(4)).replace("version: 4", "version: 5", 1))
    point(project, "canary", 3)
    kust = state.overlay_dir(project, "canary") / state.KUSTOMIZATION
    kust.write_text(overlay.set_replicas(kust.read_text(), 0, "k"))
    found = "\n".join(problems(project))
    assert "v3.yaml: created_at" in found and "versions must increase" in found
    assert "v4.yaml: model.name/version churn v5 do not match the file path" in found
    assert "canary has 0 replica(s) but MODEL_VERSION='3'" in found
