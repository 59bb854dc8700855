"""gate.yml under act: one sticky comment, updated in place, and a red job for a degraded candidate."""

import pytest

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
    h.git(project.root, "switch", "-q", "-c", "degraded")
    try:
        # No split can keep 5,000 rows on both sides: every prediction is the base rate (ROC AUC 0.5).
        h.set_yaml(project.root / "configs/train.yaml", "params.min_samples_leaf", 5000)
        sha = project.commit_all("train: degrade the model")
        trained = h.run_act(project, "train.yml", "push", push_payload(sha, "degraded"))
        assert trained.returncode == 0, trained.output[-4000:]

        run = h.run_act(project, "gate.yml", "pull_request", pr_payload(sha, number), fake_github.url)
    finally:
        h.git(project.root, "switch", "-q", "main")

    assert run.returncode != 0, "the gate job must fail so branch protection blocks the merge"
    assert run.step_failed("Gate the candidate against the champion"), run.output[-4000:]
    posted = _calls(fake_github, "POST", COMMENTS.format(number))
    assert len(posted) == 1, "the failing verdict is still posted for the reviewer"
    assert "fail" in posted[0]["json"]["body"].lower()
