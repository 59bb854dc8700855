"""Session fixtures for the act-run workflows: one throw-away project that builds up like a real repo.

project -> trained (train.yml on push) -> gated (gate.yml on pull_request) -> promoted (promote.yml
on the `promote` label, then the promotion PR merged). Each later test starts from one of these.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.github_server import FakeGitHub
from tests.workflows import harness as h

PR = 7


@pytest.fixture(scope="session")
def fake_github() -> Iterator[FakeGitHub]:
    server = FakeGitHub(token=h.TOKEN).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> h.Project:
    return h.make_project(tmp_path_factory.mktemp("workflows"))


def push_payload(sha: str, branch: str = "main") -> dict[str, object]:
    return {"ref": f"refs/heads/{branch}", "after": sha, "head_commit": {"id": sha}, **_repo()}


def pr_payload(
    sha: str, number: int, action: str = "synchronize", base_sha: str | None = None, **extra: object
) -> dict[str, object]:
    """`base_sha`: the base commit the gate judges with (default: the head, a PR at main's tip)."""
    base = {"ref": "main", "sha": base_sha or sha}
    pr = {"number": number, "head": {"sha": sha, "ref": f"feature-{number}"}, "base": base}
    return {"action": action, "number": number, "pull_request": pr, **_repo(), **extra}


def dispatch_payload(**inputs: str) -> dict[str, object]:
    return {"ref": "refs/heads/main", "inputs": inputs, **_repo()}


def _repo() -> dict[str, object]:
    return {"repository": {"full_name": h.REPOSITORY, "default_branch": "main"}}


@dataclass(frozen=True)
class Trained:
    project: h.Project
    sha: str


@pytest.fixture(scope="session")
def trained(project: h.Project) -> Trained:
    sha = project.head()
    result = h.run_act(project, "train.yml", "push", push_payload(sha))
    assert result.returncode == 0, result.output[-4000:]
    return Trained(project, sha)


@dataclass(frozen=True)
class Gated:
    trained: Trained
    first: h.ActRun


@pytest.fixture(scope="session")
def gated(trained: Trained, fake_github: FakeGitHub) -> Gated:
    run = h.run_act(trained.project, "gate.yml", "pull_request", pr_payload(trained.sha, PR), fake_github.url)
    return Gated(trained, run)


@dataclass(frozen=True)
class Promoted:
    project: h.Project
    branch: str
    run: h.ActRun
    before: Path  # overlays rendered before the promotion


def render(project: h.Project, tree: Path, out: Path) -> Path:
    project.modelops("--root", str(tree), "overlays", "render", "--out", str(out), cwd=tree)
    return out


@pytest.fixture(scope="session")
def promoted(gated: Gated, fake_github: FakeGitHub) -> Promoted:
    """promote.yml on the `promote` label, then the promotion PR merged into main."""
    project = gated.trained.project
    assert gated.first.returncode == 0, gated.first.output[-4000:]
    before = render(project, project.root, project.tmp / "render-before")
    payload = pr_payload(gated.trained.sha, PR, action="labeled", label={"name": "promote"})
    run = h.run_act(project, "promote.yml", "pull_request", payload, fake_github.url)
    assert run.returncode == 0, run.output[-4000:]
    branch = f"promote/{project.model}-v1-canary"
    pushed = h.git(project.root, "ls-remote", "--heads", "origin")
    assert branch in pushed, f"promote.yml pushed {pushed!r}, not {branch}:\n{run.output[-6000:]}"
    h.git(project.root, "fetch", "-q", "origin", branch)
    h.git(project.root, "merge", "-q", "--ff-only", "FETCH_HEAD")
    h.git(project.root, "push", "-q", "origin", "main")
    return Promoted(project, branch, run, before)
