"""gate.yml under act: one sticky comment, updated in place, a red job for a degraded candidate, and a
PR that loosens gates.yaml still judged by the base branch's rules."""

import hashlib
import json

import pytest
import yaml

from tests.fakes.github_server import FakeGitHub
from tests.workflows import harness as h
from tests.workflows.conftest import PR, Gated, pr_payload, push_payload

pytestmark = [pytest.mark.integration, pytest.mark.slow]
COMMENTS = f"/repos/{h.REPOSITORY}/issues/{{}}/comments"


def _calls(server: FakeGitHub, method: str, path: str) -> list[dict]:
    return [r for r in server.requests if r["method"] == method and r["path"].startswith(path)]


def test_gate_posts_one_sticky_comment_and_updates_it(gated: Gated, fake_github: FakeGitHub) -> None:
    assert gated.first.returncode == 0, gated.first.output[-4000:]
    created = _calls(fake_github, "POST", COMMENTS.format(PR))
    assert len(created) == 1

    again = h.run_act(
        gated.trained.project, "gate.yml", "pull_request", pr_payload(gated.trained.sha, PR), fake_github.url
    )

    assert again.returncode == 0, again.output[-4000:]
    assert len(_calls(fake_github, "POST", COMMENTS.format(PR))) == 1, "second run must not add a comment"
    comments = [c for c in fake_github.state.comments.values() if c["issue"] == PR]
    assert len(comments) == 1
    (comment,) = comments
    patched = _calls(fake_github, "PATCH", f"/repos/{h.REPOSITORY}/issues/comments/{comment['id']}")
    assert len(patched) == 1
    assert "pass" in comment["body"].lower()


def test_gate_fails_for_a_degraded_candidate(gated: Gated, fake_github: FakeGitHub) -> None:
    project = gated.trained.project
    number = PR + 1
    base = h.git(project.root, "rev-parse", "main")
    h.git(project.root, "switch", "-q", "-c", "degraded")
    try:
        # No split can keep 5,000 rows on both sides: every prediction is the base rate (ROC AUC 0.5).
        h.set_yaml(project.root / "configs/train.yaml", "params.min_samples_leaf", 5000)
        sha = project.commit_all("train: degrade the model")
        trained = h.run_act(project, "train.yml", "push", push_payload(sha, "degraded"))
        assert trained.returncode == 0, trained.output[-4000:]

        payload = pr_payload(sha, number, base_sha=base)
        run = h.run_act(project, "gate.yml", "pull_request", payload, fake_github.url)
    finally:
        h.git(project.root, "switch", "-q", "main")

    assert run.returncode != 0, "the gate job must fail so branch protection blocks the merge"
    assert run.step_failed("Gate the candidate against the champion"), run.output[-4000:]
    posted = _calls(fake_github, "POST", COMMENTS.format(number))
    assert len(posted) == 1, "the failing verdict is still posted for the reviewer"
    body = posted[0]["json"]["body"]
    assert "fail" in body.lower()
    assert "changes the gate's rules" not in body, "a PR that leaves the rules alone gets no rules notice"


def _loosen(config: dict) -> None:
    """What a PR author under pressure might push: every threshold out of reach of a bad model."""
    config["absolute"] = [
        {"metric": "roc_auc", "min": 0.3},
        {"metric": "ece", "max": 0.5},
        {"metric": "brier", "max": 0.5},
        {"metric": "log_loss", "max": 2.0},
    ]
    for rule in config["change"]:
        rule["margin"] = 1.0
    config["slices"]["tolerance"] = 1.0
    for item in config["slices"]["items"]:
        item.pop("required", None)


# Two workflow runs plus a local gate (the counterfactual), and on a fresh session the fixtures' train
# and gate runs too: more than the default per-test timeout on a shared 2-core runner.
@pytest.mark.timeout(2400)
def test_pr_loosening_gates_yaml_is_judged_by_the_base_rules(gated: Gated, fake_github: FakeGitHub) -> None:
    project = gated.trained.project
    number = PR + 2
    base = h.git(project.root, "rev-parse", "main")
    trusted_gates = (project.root / "configs/gates.yaml").read_bytes()
    h.git(project.root, "switch", "-q", "-c", "loosen")
    try:
        gates = project.root / "configs/gates.yaml"
        config = yaml.safe_load(gates.read_text())
        _loosen(config)
        gates.write_text(yaml.safe_dump(config, sort_keys=False))
        proposed_gates = gates.read_bytes()
        h.set_yaml(project.root / "configs/train.yaml", "params.min_samples_leaf", 5000)
        sha = project.commit_all("gate: relax thresholds; train: simpler model")
        trained = h.run_act(project, "train.yml", "push", push_payload(sha, "loosen"))
        assert trained.returncode == 0, trained.output[-4000:]
        version = project.modelops("candidate", "--sha", sha).splitlines()[-1].strip()
        # The counterfactual: under the PR's own rules this degraded model would pass.
        own = project.tmp / "own-rules"
        own_run = project.modelops(
            "gate", "--candidate", version, "--champion", "auto", "--out", str(own), check=False
        )
        assert json.loads((own / "gate.json").read_text())["verdict"] == "pass", own_run

        run = h.run_act(
            project, "gate.yml", "pull_request", pr_payload(sha, number, base_sha=base), fake_github.url
        )
    finally:
        h.git(project.root, "switch", "-q", "main")

    assert run.returncode != 0, "judged by main's rules, the degraded model must fail"
    assert run.step_failed("Gate the candidate against the champion"), run.output[-4000:]
    (posted,) = _calls(fake_github, "POST", COMMENTS.format(number))
    body = posted["json"]["body"]
    notice, verdict = body.index("changes the gate's rules"), body.index("Gate failed")
    assert notice < verdict, "the rules notice comes first, above the verdict"
    assert "`configs/gates.yaml`" in body and "judged by the **base branch's rules**" in body
    assert "take effect only after merge" in body
    # The diff shows what the PR removed and added (whatever the shipped file's layout).
    trusted_lines, proposed_lines = trusted_gates.decode().splitlines(), proposed_gates.decode().splitlines()
    removed = next(ln for ln in trusted_lines if ln.strip() and ln not in proposed_lines)
    added = next(ln for ln in proposed_lines if ln.strip() and ln not in trusted_lines)
    assert f"-{removed}" in body and f"+{added}" in body, (removed, added)
    assert "eval set rotation" not in body

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=project.mlflow_uri)
    tags = client.get_model_version(project.model, version).tags
    assert tags["gate.verdict"] == "fail"
    assert tags["gate.gates_sha256"] == hashlib.sha256(trusted_gates).hexdigest()
    assert tags["gate.gates_sha256"] != hashlib.sha256(proposed_gates).hexdigest()
