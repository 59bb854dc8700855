"""Promotion, verify and rollback against a real MLflow registry, real git and real `kubectl kustomize`."""

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from modelops.adapters import kustomize, tracking
from modelops.cli import main
from modelops.release import overlay, record, state
from modelops.release.config import load_release_config

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "rel",
    "GIT_AUTHOR_EMAIL": "rel@example.com",
    "GIT_COMMITTER_NAME": "rel",
    "GIT_COMMITTER_EMAIL": "rel@example.com",
}


@dataclass(frozen=True)
class Registry:
    uri: str
    passed: int  # gate passed, gate.json logged
    second: int  # gate passed too, newer
    ungated: int  # no gate tags at all


def _pass_gate(name: str, version: int, tmp: Path) -> None:
    mv = tracking.get_version(name, version)
    report = tmp / f"v{version}" / "gate.json"
    report.parent.mkdir(parents=True)
    report.write_text(json.dumps({"version": version, "verdict": "pass"}))
    tracking.log_artifact(mv.run_id, report, "gate")
    sha = hashlib.sha256(report.read_bytes()).hexdigest()
    tracking.set_version_tags(name, version, {"gate.verdict": "pass", "gate.report_sha256": sha})


@pytest.fixture(scope="module")
def registry(trained_project, tmp_path_factory: pytest.TempPathFactory) -> Registry:  # type: ignore[no-untyped-def]
    """Three versions of our own, so gate tags set here never touch other steps' versions."""
    tracking.configure(trained_project.root)
    name = trained_project.settings.model.name
    passed, second, ungated = (trained_project.train("train.params.max_iter=10") for _ in range(3))
    tmp = tmp_path_factory.mktemp("gate")
    _pass_gate(name, passed, tmp)
    _pass_gate(name, second, tmp)
    return Registry(tracking.local_tracking_uri(trained_project.root), passed, second, ungated)


@pytest.fixture
def repo(tmp_path: Path, registry: Registry, trained_project, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    """A fresh git repository holding the project's configs, overlays and (empty) release dirs."""
    root = tmp_path / "gitops"
    for rel in ("configs", "k8s", "releases", "model_cards"):
        shutil.copytree(
            trained_project.root / rel if (trained_project.root / rel).exists() else REPO / rel, root / rel
        )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.uri)
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "rel")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "chore: gitops repo")
    return root


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def cli(root: Path, *argv: str) -> int:
    return main(["--root", str(root), *argv])


def render_all(root: Path) -> str:
    return "".join(f"# {t}\n" + kustomize.render(state.overlay_dir(root, t)) for t in state.TRACKS)


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_promote_writes_release_card_and_overlay_consistently(
    repo: Path, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    v = registry.passed
    assert (
        cli(repo, "promote", str(v), "--to", "canary", "--commit", "--pr", "12", "--promoted-by", "alice")
        == 0
    )
    cfg = load_release_config(repo / "configs")
    rec = record.load(cfg.release_path(repo, "churn", v).read_text(), "release")
    mv = tracking.get_version("churn", v)
    assert rec["model"] == {
        "name": "churn",
        "version": v,
        "uri": f"models:/churn/{v}",
        "run_id": mv.run_id,
        "sha256": mv.tags["model_sha256"],
    }
    assert rec["gate"] == {"verdict": "pass", "report_sha256": mv.tags["gate.report_sha256"], "pr": 12}
    assert (
        rec["lineage"]["git_sha"] == mv.tags["git_sha"] and rec["lineage"]["eval_md5"] == mv.tags["eval_md5"]
    )
    assert "scikit-learn" in rec["lineage"]["environment"]["packages"]
    assert (rec["track"], rec["promoted_by"], rec["previous_version"]) == ("canary", "alice", None)
    card_text = cfg.card_path(repo, "churn", v).read_text()
    assert f"# Model card: churn v{v}" in card_text and mv.tags["model_sha256"] in card_text
    assert "valid_roc_auc" in card_text and "rollback --track canary" in card_text
    env = state.read_model_env(repo, "canary")
    assert (env["MODEL_VERSION"], env["MODEL_SHA256"]) == (str(v), mv.tags["model_sha256"])
    assert overlay.replicas((state.overlay_dir(repo, "canary") / "kustomization.yaml").read_text(), "") == 1
    assert state.stable_version(repo) is None
    # One commit holding exactly those four files, named for rollback to find.
    assert git(repo, "status", "--porcelain") == ""
    msg = git(repo, "log", "-1", "--format=%B")
    assert msg.startswith(f"release(churn): promote v{v} to canary\n") and "Modelops-Track: canary" in msg
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == sorted(
        [
            f"releases/churn/v{v}.yaml",
            f"model_cards/churn/v{v}.md",
            "k8s/overlays/canary/model.env",
            "k8s/overlays/canary/kustomization.yaml",
        ]
    )
    capsys.readouterr()
    assert cli(repo, "release", "verify", "--render") == 0

    assert cli(repo, "promote", str(v), "--to", "stable", "--commit", "--promoted-by", "bob") == 0
    assert state.stable_version(repo) == v and state.track_version(repo, "canary") is None
    assert overlay.replicas((state.overlay_dir(repo, "canary") / "kustomization.yaml").read_text(), "") == 0
    assert record.load(cfg.release_path(repo, "churn", v).read_text(), "r") == rec, (
        "release files are append-only"
    )
    assert "Modelops-Track: stable" in git(repo, "log", "-1", "--format=%B")

    w = registry.second
    assert cli(repo, "promote", str(w), "--to", "canary", "--promoted-by", "carol") == 0
    assert record.load(cfg.release_path(repo, "churn", w).read_text(), "r")["previous_version"] == v
    assert git(repo, "status", "--porcelain").strip(), "without --commit the change is left for review"
    assert cli(repo, "release", "verify") == 0


@pytest.mark.parametrize(
    "case",
    [
        "unregistered",
        "no_gate",
        "gate_failed",
        "gate_report_tampered",
        "digest_mismatch",
        "already_released",
        "stable_skips_live_canary",
    ],
)
def test_bad_promotions_refuse_and_write_nothing(
    case: str, repo: Path, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    v, restore, target = registry.passed, {}, "canary"
    expected = {
        "unregistered": "is not registered",
        "no_gate": "has no gate.verdict tag",
        "gate_failed": "gate.verdict='fail'",
        "gate_report_tampered": "gate/gate.json sha256",
        "digest_mismatch": "does not match its model_sha256 tag",
        "already_released": "append-only",
        "stable_skips_live_canary": "would retire it unjudged",
    }[case]
    if case == "unregistered":
        v = 9999
    elif case == "no_gate":
        v = registry.ungated
    elif case in {"gate_failed", "gate_report_tampered", "digest_mismatch"}:
        tag = {
            "gate_failed": "gate.verdict",
            "gate_report_tampered": "gate.report_sha256",
            "digest_mismatch": "model_sha256",
        }[case]
        restore = {tag: tracking.get_version("churn", v).tags[tag]}
        tracking.set_version_tags("churn", v, {tag: "fail" if case == "gate_failed" else "0" * 64})
    elif case == "already_released":
        assert cli(repo, "promote", str(v), "--to", "canary", "--commit", "--promoted-by", "a") == 0
        git(repo, "revert", "--no-edit", "HEAD")  # canary gone, but the version was released before
        # Someone restores the record (it survives in history); promoting it again must not overwrite it.
        path = load_release_config(repo / "configs").release_path(repo, "churn", v)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(git(repo, "show", f"HEAD~1:releases/churn/v{v}.yaml"))
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "keep record")
    elif case == "stable_skips_live_canary":
        assert cli(repo, "promote", str(v), "--to", "canary", "--commit", "--promoted-by", "a") == 0
        v, target = registry.second, "stable"
    before = tree(repo)
    capsys.readouterr()
    try:
        rc = cli(repo, "promote", str(v), "--to", target, "--commit", "--promoted-by", "mallory")
    finally:
        if restore:
            tracking.set_version_tags("churn", v, restore)
    err = capsys.readouterr().err
    assert rc != 0 and expected in err, err
    assert tree(repo) == before and git(repo, "status", "--porcelain") == ""


def test_revert_round_trip_is_byte_identical(
    repo: Path, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    v, w = registry.passed, registry.second
    first = render_all(repo)
    assert cli(repo, "promote", str(v), "--to", "canary", "--commit", "--promoted-by", "a") == 0
    canary = render_all(repo)
    assert canary != first and f'MODEL_VERSION: "{v}"' in canary
    capsys.readouterr()
    head = git(repo, "rev-parse", "HEAD").strip()
    assert cli(repo, "rollback", "--track", "canary", "--dry-run") == 0
    assert f"git revert --no-edit {head}" in capsys.readouterr().out
    assert git(repo, "rev-parse", "HEAD").strip() == head, "--dry-run changes nothing"
    assert cli(repo, "rollback", "--track", "canary") == 0
    assert f"git revert --no-edit {head}" in capsys.readouterr().out
    assert render_all(repo) == first
    assert cli(repo, "release", "verify") == 0
    assert cli(repo, "rollback", "--track", "canary") != 0, "nothing left to roll back on the canary"

    # Stable: promote v (canary then stable), then w to stable; rolling stable back restores v exactly.
    for argv in ((str(w), "--to", "canary"), (str(w), "--to", "stable")):
        assert cli(repo, "promote", *argv, "--commit", "--promoted-by", "a") == 0
    on_w = render_all(repo)
    assert cli(repo, "promote", str(w), "--to", "stable", "--promoted-by", "a") != 0, "already stable"
    assert git(repo, "status", "--porcelain") == "" and state.stable_version(repo) == w
    before_w = git(repo, "rev-parse", "HEAD~1").strip()
    git(repo, "checkout", "-q", before_w, "--", "k8s")
    canary_w = render_all(repo)
    git(repo, "checkout", "-q", "HEAD", "--", "k8s")
    assert render_all(repo) == on_w
    assert cli(repo, "rollback", "--track", "stable") == 0
    assert render_all(repo) == canary_w, "reverting the stable promotion restores the state before it"
    assert cli(repo, "rollback", "--track", "canary") == 0
    assert render_all(repo) == first
    assert cli(repo, "release", "verify", "--render") == 0
    assert (
        yaml.safe_load((repo / "k8s/overlays/canary/kustomization.yaml").read_text())["replicas"][0]["count"]
        == 0
    )
    assert os.environ.get("MLFLOW_TRACKING_URI") == registry.uri
