"""rollback.yml under act: the revert PR restores the manifests byte for byte and keeps the records."""

import pytest

from tests.fakes.github_server import FakeGitHub
from tests.workflows import harness as h
from tests.workflows.conftest import Promoted, dispatch_payload, render

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_rollback_pr_restores_the_previous_manifests(
    promoted: Promoted, fake_github: FakeGitHub, tmp_path
) -> None:
    project = promoted.project
    after = render(project, project.root, tmp_path / "render-promoted")
    assert (after / "canary.yaml").read_bytes() != (promoted.before / "canary.yaml").read_bytes()

    payload = dispatch_payload(track="canary", reason="ModelScoreShift firing on canary")
    run = h.run_act(project, "rollback.yml", "workflow_dispatch", payload, fake_github.url)

    assert run.returncode == 0, run.output[-4000:]
    (pull,) = [p for p in fake_github.state.pulls if p["head"].startswith("rollback/canary-")]
    assert "ModelScoreShift firing on canary" in pull["body"]
    clone = project.clone(pull["head"], tmp_path / "rollback")
    assert h.git(clone, "log", "-1", "--format=%s").startswith("Revert")
    rolled_back = render(project, clone, tmp_path / "render-rolled-back")
    for overlay in sorted(promoted.before.glob("*.yaml")):
        assert (rolled_back / overlay.name).read_bytes() == overlay.read_bytes(), overlay.name
    # Only the pointer was reverted: the record and card of v1 (which served) stay, and verify agrees.
    reverted = set(h.git(clone, "show", "--name-only", "--format=", "HEAD").splitlines())
    assert reverted and all(f.startswith("k8s/overlays/") for f in reverted), reverted
    name = project.model
    assert (clone / f"releases/{name}/v1.yaml").is_file() and (clone / f"model_cards/{name}/v1.md").is_file()
    project.modelops("--root", str(clone), "release", "verify", cwd=clone)
