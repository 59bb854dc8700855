"""promote.yml under act: the `promote` label yields a release commit on a PR branch that verifies."""

import pytest

from tests.fakes.github_server import FakeGitHub
from tests.workflows import harness as h
from tests.workflows.conftest import Promoted

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_promotion_pr_carries_a_release_commit_that_verifies(
    promoted: Promoted, fake_github: FakeGitHub, tmp_path
) -> None:
    project = promoted.project
    clone = project.clone(promoted.branch, tmp_path / "promotion")

    subject = h.git(clone, "log", "-1", "--format=%s")
    pointer = set(h.git(clone, "show", "--name-only", "--format=", "HEAD").splitlines())
    audit = set(h.git(clone, "show", "--name-only", "--format=", "HEAD~1").splitlines())
    assert "v1" in subject and "canary" in subject
    # Two commits: the record and card (kept by any rollback), then the pointer a rollback reverts.
    name = project.model
    assert audit == {f"releases/{name}/v1.yaml", f"model_cards/{name}/v1.md"}
    assert "k8s/overlays/canary/model.env" in pointer and not pointer & audit
    assert "Modelops-Track: canary" in h.git(clone, "log", "-1", "--format=%B")
    assert "MODEL_VERSION=1" in (clone / "k8s/overlays/canary/model.env").read_text()
    assert not any(f.startswith("k8s/overlays/production/") for f in pointer), "canary first, never stable"
    project.modelops("--root", str(clone), "release", "verify", cwd=clone)

    (pull,) = [p for p in fake_github.state.pulls if p["head"] == promoted.branch]
    assert pull["base"] == "main"
    assert f"releases/{name}/v1.yaml" in pull["body"]


def test_promote_label_is_the_only_trigger(promoted: Promoted, fake_github: FakeGitHub) -> None:
    from tests.workflows.conftest import PR, pr_payload

    before = len(fake_github.state.pulls)
    payload = pr_payload(promoted.project.head(), PR, action="labeled", label={"name": "documentation"})
    run = h.run_act(promoted.project, "promote.yml", "pull_request", payload, fake_github.url)
    assert run.returncode == 0, run.output[-3000:]
    assert len(fake_github.state.pulls) == before
