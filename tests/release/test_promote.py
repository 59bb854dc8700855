"""Promotion, verify and rollback against a real MLflow registry, real git and real `kubectl kustomize`."""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from modelops import tags as T
from modelops.adapters import kustomize, tracking
from modelops.cli import main
from modelops.digest import file_digest
from modelops.errors import MissingEvidence
from modelops.release import overlay, record, state
from modelops.release.config import load_release_config
from tests.fixture_model.swap import MODEL  # the shared project's model (the fixture package)
from tests.helpers.registry import pass_gate

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
    store: tracking.MlflowRegistry


GATE_AT = "2025-01-01T00:00:00+00:00"  # long before any rollback a test makes


@pytest.fixture(scope="module")
def registry(trained_project, tmp_path_factory: pytest.TempPathFactory) -> Registry:  # type: ignore[no-untyped-def]
    """Three versions of our own, so gate tags set here never touch other steps' versions."""
    store = tracking.registry_for(trained_project.root)
    name = trained_project.settings.model.name
    passed, second, ungated = (trained_project.train("train.params.max_iter=10") for _ in range(3))
    tmp = tmp_path_factory.mktemp("gate")
    configs = trained_project.root / "configs"
    pass_gate(store, name, passed, configs, tmp, GATE_AT)
    pass_gate(store, name, second, configs, tmp, GATE_AT)
    return Registry(tracking.local_tracking_uri(trained_project.root), passed, second, ungated, store)


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
    rec = record.read(repo, MODEL, v)
    mv = registry.store.get_version(MODEL, v)
    assert rec.model.model_dump() == {
        "name": MODEL,
        "version": v,
        "uri": f"models:/{MODEL}/{v}",
        "run_id": mv.run_id,
        "sha256": mv.tags[T.MODEL_SHA256],
    }
    assert rec.gate.model_dump() == {
        "verdict": "pass",
        "report_sha256": mv.tags[T.GATE_REPORT_SHA256],
        "pr": 12,
        "gates_sha256": file_digest(repo / "configs/gates.yaml"),
        "features_sha256": file_digest(repo / "configs/features.yaml"),
        "eval_md5": mv.tags[T.EVAL_MD5],
        "at": "2025-01-01T00:00:00Z",
    }
    assert rec.lineage.git_sha == mv.tags[T.GIT_SHA] and rec.lineage.eval_md5 == mv.tags[T.EVAL_MD5]
    assert "scikit-learn" in rec.lineage.environment.packages
    assert (rec.track, rec.promoted_by, rec.previous_version) == ("canary", "alice", None)
    card_text = cfg.card_path(repo, MODEL, v).read_text()
    assert f"# Model card: {MODEL} v{v}" in card_text and mv.tags["model_sha256"] in card_text
    assert "valid_roc_auc" in card_text and "rollback --track canary" in card_text
    env = state.read_model_env(repo, "canary")
    assert (env["MODEL_VERSION"], env["MODEL_SHA256"]) == (str(v), mv.tags["model_sha256"])
    assert overlay.replicas((state.overlay_dir(repo, "canary") / "kustomization.yaml").read_text(), "") == 1
    assert state.stable_version(repo) is None
    # Two commits: the audit record first, then the pointer that rollback finds by its trailers.
    assert git(repo, "status", "--porcelain") == ""
    msg = git(repo, "log", "-1", "--format=%B")
    assert msg.startswith(f"release({MODEL}): promote v{v} to canary\n") and "Modelops-Track: canary" in msg
    assert f"Modelops-Version: {v}" in msg and f"releases/{MODEL}/v{v}.yaml" in msg
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == [
        "k8s/overlays/canary/kustomization.yaml",
        "k8s/overlays/canary/model.env",
    ]
    assert git(repo, "log", "-1", "--format=%s", "HEAD~1").strip() == f"release({MODEL}): record v{v}"
    assert "Modelops-Track" not in git(repo, "log", "-1", "--format=%B", "HEAD~1")
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD~1").split()) == [
        f"model_cards/{MODEL}/v{v}.md",
        f"releases/{MODEL}/v{v}.yaml",
    ]
    capsys.readouterr()
    assert cli(repo, "release", "verify", "--render") == 0

    assert cli(repo, "promote", str(v), "--to", "stable", "--commit", "--promoted-by", "bob") == 0
    assert state.stable_version(repo) == v and state.track_version(repo, "canary") is None
    assert overlay.replicas((state.overlay_dir(repo, "canary") / "kustomization.yaml").read_text(), "") == 0
    assert record.read(repo, MODEL, v) == rec, "release files are append-only"
    assert "Modelops-Track: stable" in git(repo, "log", "-1", "--format=%B")
    assert "releases/" not in git(repo, "show", "--name-only", "--format=", "HEAD"), "pointer only"

    w = registry.second
    assert cli(repo, "promote", str(w), "--to", "canary", "--promoted-by", "carol") == 0
    assert record.read(repo, MODEL, w).previous_version == v
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
        "digest_absent",
        "rules_absent",
        "rules_changed",
        "features_changed",
        "already_released",
        "stable_skips_live_canary",
    ],
)
def test_bad_promotions_refuse_and_write_nothing(
    case: str, repo: Path, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    v, restore, target = registry.passed, {}, "canary"
    mv = registry.store.get_version(MODEL, v)
    gates_here = file_digest(repo / "configs/gates.yaml")
    expected = {
        "unregistered": "is not registered",
        "no_gate": "has no gate.verdict tag",
        "gate_failed": "gate.verdict='fail'",
        "gate_report_tampered": "gate/gate.json sha256",
        "digest_mismatch": f"does not match the expected {'0' * 64} (its model_sha256 tag)",
        "digest_absent": "no expected sha256 in its model_sha256 tag",
        "rules_absent": f"gate ran without rule digests (no gate.gates_sha256 tag; gates.yaml here has "
        f"sha256 {gates_here}); re-run the gate",
        "rules_changed": "was gated under a different gates.yaml: gate.gates_sha256=",
        "features_changed": "was gated under a different features.yaml: gate.features_sha256=",
        "already_released": "append-only",
        "stable_skips_live_canary": "would retire it unjudged",
    }[case]
    if case == "unregistered":
        v = 9999
    elif case == "no_gate":
        v = registry.ungated
    elif case in {"gate_failed", "gate_report_tampered", "digest_mismatch", "digest_absent", "rules_absent"}:
        tag = {
            "gate_failed": T.GATE_VERDICT,
            "gate_report_tampered": T.GATE_REPORT_SHA256,
            "digest_mismatch": T.MODEL_SHA256,
            "digest_absent": T.MODEL_SHA256,
            "rules_absent": T.GATE_RULES_SHA256,
        }[case]
        restore = {tag: mv.tags[tag]}
        value = {"gate_failed": "fail", "digest_absent": "", "rules_absent": ""}.get(case, "0" * 64)
        if value:
            registry.store.set_version_tags(MODEL, v, {tag: value})
        else:
            _delete_tag(registry.store, MODEL, v, tag)
    elif case in {"rules_changed", "features_changed"}:
        # The branch we promote from has other rules than the ones the gate judged under.
        name = "gates.yaml" if case == "rules_changed" else "features.yaml"
        path = repo / "configs" / name
        path.write_text(path.read_text() + "\n# tightened after the gate ran\n")
        git(repo, "commit", "-qam", f"tighten {name}")
        tag = T.GATE_RULES_SHA256 if case == "rules_changed" else T.GATE_FEATURES_SHA256
        expected += f"{mv.tags[tag]}, but {path} here has sha256 {file_digest(path)}; re-run the gate"
    elif case == "already_released":
        for track in ("canary", "stable"):
            assert cli(repo, "promote", str(v), "--to", track, "--commit", "--promoted-by", "a") == 0
    elif case == "stable_skips_live_canary":
        assert cli(repo, "promote", str(v), "--to", "canary", "--commit", "--promoted-by", "a") == 0
        v, target = registry.second, "stable"
    before = tree(repo)
    capsys.readouterr()
    try:
        rc = cli(repo, "promote", str(v), "--to", target, "--commit", "--promoted-by", "mallory")
    finally:
        if restore:
            registry.store.set_version_tags(MODEL, v, restore)
    err = capsys.readouterr().err
    assert rc != 0 and expected in err, err
    assert tree(repo) == before and git(repo, "status", "--porcelain") == ""


def _delete_tag(store: tracking.MlflowRegistry, name: str, version: int, tag: str) -> None:
    store.client.delete_model_version_tag(name, str(version), tag)


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


def test_rollback_keeps_records_and_a_rolled_back_version_needs_a_newer_gate(
    repo: Path, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelops.monitor import reference as monitor_ref

    v = registry.passed
    cfg = load_release_config(repo / "configs")
    first = render_all(repo)
    assert cli(repo, "promote", str(v), "--to", "canary", "--commit", "--promoted-by", "a") == 0
    rec = record.read(repo, MODEL, v)
    assert cli(repo, "rollback", "--track", "canary") == 0
    assert render_all(repo) == first, "the pointer is reverted byte for byte"
    assert record.read(repo, MODEL, v) == rec and cfg.card_path(repo, MODEL, v).is_file()
    assert "releases/" not in git(repo, "show", "--name-only", "--format=", "HEAD")
    assert cli(repo, "release", "verify") == 0
    # Monitoring the rolled-back version's logs still finds its record (then wants its training data).
    with pytest.raises(MissingEvidence, match=rf"md5 {rec.lineage.train_md5} \(release v{v}\) is not in"):
        monitor_ref.from_release(repo, MODEL, str(v))

    rolled_at = git(repo, "log", "-1", "--format=%cI").strip()
    capsys.readouterr()
    before = tree(repo)
    assert cli(repo, "promote", str(v), "--to", "canary", "--commit", "--promoted-by", "a") == 1
    err = capsys.readouterr().err
    rolled = record.utc_second(record.parse_time(rolled_at, "t"))
    assert (
        f"was rolled back from canary at {rolled}" in err and "last gate ran at 2025-01-01T00:00:00Z" in err
    )
    assert tree(repo) == before

    # A gate run after the rollback lets it back in: no new record, only a new pointer commit.
    time.sleep(1.1)  # git dates have one-second resolution
    registry.store.set_version_tags(MODEL, v, {T.GATE_AT: datetime.now(UTC).isoformat()})
    try:
        assert cli(repo, "promote", str(v), "--to", "canary", "--commit", "--promoted-by", "a") == 0
    finally:
        registry.store.set_version_tags(MODEL, v, {T.GATE_AT: GATE_AT})
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == [
        "k8s/overlays/canary/kustomization.yaml",
        "k8s/overlays/canary/model.env",
    ]
    assert state.track_version(repo, "canary") == v and record.read(repo, MODEL, v) == rec
    assert cli(repo, "release", "verify") == 0


def test_rollback_after_reverts_of_reverts_reverts_the_live_commit(
    repo: Path, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    v, w = registry.passed, registry.second
    for argv in ((str(v), "--to", "canary"), (str(v), "--to", "stable")):
        assert cli(repo, "promote", *argv, "--commit", "--promoted-by", "a") == 0
    on_v = render_all(repo)
    assert cli(repo, "promote", str(w), "--to", "canary", "--commit", "--promoted-by", "a") == 0
    with_w = render_all(repo)
    assert cli(repo, "rollback", "--track", "canary") == 0  # R1 reverts w's pointer
    assert render_all(repo) == on_v
    git(repo, "revert", "--no-edit", "HEAD")  # R2: someone reverts the rollback; w serves again
    r2 = git(repo, "rev-parse", "HEAD").strip()
    assert render_all(repo) == with_w and state.track_version(repo, "canary") == w
    capsys.readouterr()
    # The live canary promotion is R2 (not v's old, already retired canary promotion).
    assert cli(repo, "rollback", "--track", "canary", "--dry-run") == 0
    assert f"git revert --no-edit {r2}" in capsys.readouterr().out
    assert cli(repo, "rollback", "--track", "canary") == 0
    assert render_all(repo) == on_v and state.stable_version(repo) == v
    assert state.track_version(repo, "canary") is None
    assert cli(repo, "release", "verify", "--render") == 0
    # Revert that rollback too, then roll back once more: still the live one, still the right overlay.
    git(repo, "revert", "--no-edit", "HEAD")
    r4 = git(repo, "rev-parse", "HEAD").strip()
    assert state.track_version(repo, "canary") == w
    capsys.readouterr()
    assert cli(repo, "rollback", "--track", "canary") == 0
    assert f"git revert --no-edit {r4}" in capsys.readouterr().out
    assert render_all(repo) == on_v


@pytest.mark.parametrize("failing", ["record", "pointer"])
def test_a_failing_commit_restores_the_tree_and_says_why_in_one_line(
    failing: str, repo: Path, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hook rejects the first (record) or the second (pointer) commit: nothing is left behind."""
    hook = repo / ".git" / "hooks" / "commit-msg"
    word = "record v" if failing == "record" else "Modelops-Track"
    reject = f'echo "policy: no {failing} commits" >&2; exit 1'
    hook.write_text(f'#!/bin/sh\nif grep -q "{word}" "$1"; then {reject}; fi\n')
    hook.chmod(0o755)
    (repo / "notes.txt").write_text("someone's unrelated staged work\n")
    git(repo, "add", "notes.txt")
    head, before, status = git(repo, "rev-parse", "HEAD"), tree(repo), git(repo, "status", "--porcelain")
    capsys.readouterr()
    rc = main(
        [
            "--root",
            str(repo),
            "promote",
            str(registry.passed),
            "--to",
            "canary",
            "--commit",
            "--promoted-by",
            "a",
        ]
    )
    out = capsys.readouterr()
    assert rc == 1
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.err, out.err
    assert "not made, the tree is restored: git commit failed" in lines[0]
    assert f"policy: no {failing} commits" in lines[0]
    assert git(repo, "rev-parse", "HEAD") == head
    assert tree(repo) == before and git(repo, "status", "--porcelain") == status
    assert not (repo / "releases" / MODEL).exists(), "no empty directories left behind either"
