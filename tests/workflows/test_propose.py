"""Fast unit tests of the code that opens PRs: real git in tmp_path, GitHub in memory."""

import subprocess
from pathlib import Path

import pytest

from modelops.adapters.github import GitHubPort
from modelops.errors import ReleaseError
from modelops.workflows import propose
from tests.fakes.github_memory import InMemoryGitHub


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A clone with a bare `origin`, one commit on main and the default release config."""
    origin = tmp_path / "origin.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    root = tmp_path / "work"
    _git(tmp_path, "clone", "-q", str(origin), str(root))
    _git(root, "config", "user.name", "test")
    _git(root, "config", "user.email", "test@example.com")
    _git(root, "checkout", "-q", "-b", "main")
    (root / "configs").mkdir()
    (root / "configs" / "release.yaml").write_text("track_trailer: Modelops-Track\n")
    (root / "pointer.txt").write_text("v1\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "initial")
    _git(root, "push", "-q", "origin", "main")
    return root


def test_open_pull_pushes_the_branch_and_opens_one_pull(repo: Path) -> None:
    gh: GitHubPort = InMemoryGitHub()
    url = propose.open_pull(repo, propose.Proposal("promote/m-v2-canary", "main", "promote v2", "why"), gh)
    assert isinstance(gh, InMemoryGitHub)
    [pull] = gh.pulls
    assert url == pull["html_url"]
    assert (pull["head"], pull["base"], pull["title"]) == ("promote/m-v2-canary", "main", "promote v2")
    pushed = _git(repo, "ls-remote", "origin", "refs/heads/promote/m-v2-canary").split()[0]
    assert pushed == _git(repo, "rev-parse", "HEAD")


def test_an_existing_branch_is_not_overwritten_and_no_second_pull_opens(repo: Path) -> None:
    gh = InMemoryGitHub()
    proposal = propose.Proposal("rollback/canary-x", "main", "Revert", "why")
    propose.open_pull(repo, proposal, gh)
    (repo / "pointer.txt").write_text("v3\n")
    _git(repo, "commit", "-qam", "another change")
    with pytest.raises(ReleaseError, match="git push"):
        propose.open_pull(repo, proposal, gh)
    assert len(gh.pulls) == 1


def test_propose_rollback_reverts_the_promotion_and_opens_its_pull(repo: Path) -> None:
    (repo / "pointer.txt").write_text("v2\n")
    _git(repo, "commit", "-qam", "release(m): promote v2 to stable", "-m", "Modelops-Track: stable")
    gh = InMemoryGitHub()
    url = propose.propose_rollback(repo, gh, "stable", "p95 latency alert", "main")
    assert (repo / "pointer.txt").read_text() == "v1\n"
    [pull] = gh.pulls
    head = _git(repo, "rev-parse", "--short=12", "HEAD")
    assert url == pull["html_url"] and pull["head"] == f"rollback/stable-{head}"
    assert pull["title"].startswith('Revert "release(m): promote v2 to stable"')
    assert "**Why:** p95 latency alert" in pull["body"] and "`pointer.txt`" in pull["body"]


def test_nothing_to_roll_back_opens_nothing(repo: Path) -> None:
    gh = InMemoryGitHub()
    with pytest.raises(ReleaseError, match="nothing to roll back"):
        propose.propose_rollback(repo, gh, "stable", "", "main")
    assert gh.pulls == [] and gh.calls == []


def test_changed_files_since_lists_every_commit_of_a_two_commit_promotion(repo: Path) -> None:
    before = _git(repo, "rev-parse", "HEAD")
    (repo / "record.yaml").write_text("v2\n")
    _git(repo, "add", "record.yaml")
    _git(repo, "commit", "-qm", "record v2")
    (repo / "pointer.txt").write_text("v2\n")
    _git(repo, "commit", "-qam", "point at v2")
    assert propose.changed_files(repo) == ["pointer.txt"]
    assert sorted(propose.changed_files(repo, since=before)) == ["pointer.txt", "record.yaml"]
