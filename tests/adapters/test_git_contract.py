"""One behaviour, two gits: the in-memory fake and the git binary on a throw-away repository.

Every test here runs against both, so the fake the fast promotion and rollback tests rely on
cannot drift from what git does. Real git on a tmp_path repository takes milliseconds a call,
so neither half is marked slow.
"""

import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from modelops.adapters import git
from modelops.adapters.git import Git, GitError, GitRepo
from tests.fakes.git_memory import InMemoryGit

TRAILERS = ("Modelops-Track", "Modelops-Version")


def _real(root: Path) -> GitRepo:
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "test"],
        ["config", "user.email", "test@example.com"],
        ["config", "commit.gpgsign", "false"],
        ["add", "-A"],
        ["commit", "-q", "-m", "initial"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return GitRepo(root)


def _memory(root: Path) -> InMemoryGit:
    repo = InMemoryGit(root, config={"user.name": "test"})
    repo.commit_all("initial")
    return repo


@pytest.fixture(params=["memory", "git"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Git:
    root = tmp_path / "repo"
    (root / "k8s").mkdir(parents=True)
    (root / "k8s/model.env").write_text("MODEL_VERSION=1\n")
    (root / "README.md").write_text("readme\n")
    (root / "notes.txt").write_text("notes\n")
    return _memory(root) if request.param == "memory" else _real(root)


def _reject_commits(repo: Git, word: str) -> None:
    """A commit-msg hook that refuses any message containing `word`."""
    if isinstance(repo, InMemoryGit):
        repo.hook = lambda message: "rejected by policy" if word in message else None
        return
    hook = repo.root / ".git/hooks/commit-msg"
    hook.write_text(f'#!/bin/sh\nif grep -q "{word}" "$1"; then echo "rejected by policy" >&2; exit 1; fi\n')
    hook.chmod(0o755)


def _edit(repo: Git, rel: str, text: str) -> Path:
    path = repo.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return Path(rel)


def _promote(repo: Git, version: int, track: str = "canary") -> str:
    rel = _edit(repo, "k8s/model.env", f"MODEL_VERSION={version}\n")
    message = f"promote v{version}\n\nBody.\n\nModelops-Track: {track}\nModelops-Version: {version}\n"
    return repo.commit_paths([rel], message)


def test_changed_paths_lists_tracked_edits_and_deletions_not_untracked_files(repo: Git) -> None:
    assert repo.changed_paths() == []
    _edit(repo, "scratch.txt", "untracked\n")
    assert repo.changed_paths() == []
    _edit(repo, "README.md", "edited\n")
    (repo.root / "notes.txt").unlink()
    assert repo.changed_paths() == ["README.md", "notes.txt"]


def test_commit_paths_commits_exactly_the_named_paths(repo: Git) -> None:
    before = repo.head()
    _edit(repo, "README.md", "edited\n")
    sha = _promote(repo, 2)
    assert sha == repo.head() != before
    assert repo.changed_paths() == ["README.md"]  # the other edit stays out, still dirty
    assert [v for _, v in repo.file_versions("k8s/model.env")] == ["MODEL_VERSION=2", "MODEL_VERSION=1"]
    assert repo.file_versions("README.md")[0][1] == "readme"


def test_a_new_file_is_committed_and_listed(repo: Git) -> None:
    rel = _edit(repo, "releases/m/v2.yaml", "version: 2\n")
    sha = repo.commit_paths([rel], "record v2\n\nModelops-Record: 2\n")
    assert repo.file_versions("releases/m/v2.yaml") == [(sha, "version: 2")]
    assert repo.changed_paths() == []


def test_history_reads_trailers_from_the_last_paragraph_only(repo: Git) -> None:
    _promote(repo, 2)
    rel = _edit(repo, "README.md", "x\n")
    repo.commit_paths([rel], "docs\n\nModelops-Track: looks like one, but not the last paragraph\n\nFixes.\n")
    rel = _edit(repo, "README.md", "y\n")
    repo.commit_paths([rel], "both\n\nBody.\n\nModelops-Track: canary\nModelops-Track: stable\n")
    history = repo.history(TRAILERS)
    assert [c.subject for c in history] == ["initial", "promote v2", "docs", "both"]
    assert history[1].trailers == {"Modelops-Track": "canary", "Modelops-Version": "2"}
    assert history[2].trailers == {"Modelops-Track": "", "Modelops-Version": ""}
    assert history[3].trailers["Modelops-Track"] == "canary,stable"
    assert all(c.reverts is None for c in history)
    assert history[-1].sha == repo.head()
    times = [datetime.fromisoformat(c.committed_at) for c in history]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)


def test_a_commit_with_nothing_to_commit_fails_and_keeps_head(repo: Git) -> None:
    head = repo.head()
    with pytest.raises(GitError, match=r"^git commit failed: "):
        repo.commit_paths([Path("README.md")], "nothing\n")
    assert repo.head() == head


def test_an_unknown_path_fails_naming_it(repo: Git) -> None:
    head = repo.head()
    with pytest.raises(GitError, match=r"git add failed: .*absent\.txt"):
        repo.commit_paths([Path("absent.txt")], "absent\n")
    assert repo.head() == head


def test_a_refused_commit_leaves_head_and_stages_the_paths_which_reset_paths_unstages(repo: Git) -> None:
    head = repo.head()
    first = _promote(repo, 2)
    _reject_commits(repo, "v3")
    with pytest.raises(GitError, match="git commit failed: rejected by policy"):
        _promote(repo, 3)
    assert repo.head() == first
    assert repo.changed_paths() == ["k8s/model.env"]  # staged by the add, and the work tree's edit
    repo.reset_paths(head, [Path("k8s/model.env")])
    assert repo.head() == head
    assert (repo.root / "k8s/model.env").read_text() == "MODEL_VERSION=3\n"  # work tree untouched
    (repo.root / "k8s/model.env").write_text("MODEL_VERSION=1\n")
    assert repo.changed_paths() == []  # the index holds HEAD's content again


def test_revert_undoes_one_commit_and_a_revert_of_the_revert_reapplies_it(repo: Git) -> None:
    pointer = _promote(repo, 2)
    undo = repo.revert(pointer)
    assert (repo.root / "k8s/model.env").read_text() == "MODEL_VERSION=1\n"
    redo = repo.revert(undo)
    assert (repo.root / "k8s/model.env").read_text() == "MODEL_VERSION=2\n"
    assert repo.changed_paths() == []
    *_, c_undo, c_redo = repo.history(TRAILERS)
    assert (c_undo.sha, c_undo.reverts, c_undo.subject) == (undo, pointer, 'Revert "promote v2"')
    assert (c_redo.sha, c_redo.reverts) == (redo, undo)
    assert c_undo.trailers == {"Modelops-Track": "", "Modelops-Version": ""}  # a revert carries none


def test_a_revert_that_no_longer_applies_fails_with_the_tree_unchanged(repo: Git) -> None:
    old = _promote(repo, 2)
    _promote(repo, 3)  # rewrites the same line
    head = repo.head()
    with pytest.raises(GitError, match=r"^git revert failed: "):
        repo.revert(old)
    assert repo.head() == head
    assert repo.changed_paths() == []
    assert (repo.root / "k8s/model.env").read_text() == "MODEL_VERSION=3\n"


def test_a_revert_over_local_edits_of_its_files_fails_and_keeps_them(repo: Git) -> None:
    pointer = _promote(repo, 2)
    _edit(repo, "k8s/model.env", "MODEL_VERSION=9\n")
    with pytest.raises(GitError, match=r"^git revert failed: "):
        repo.revert(pointer)
    assert repo.head() == pointer
    assert (repo.root / "k8s/model.env").read_text() == "MODEL_VERSION=9\n"


def test_file_versions_skip_the_commit_that_deleted_the_file(repo: Git) -> None:
    (repo.root / "notes.txt").unlink()
    repo.commit_paths([Path("notes.txt")], "drop notes\n")
    rel = _edit(repo, "notes.txt", "back\n")
    back = repo.commit_paths([rel], "notes again\n")
    versions = repo.file_versions("notes.txt")
    assert [text for _, text in versions] == ["back", "notes"]
    assert versions[0][0] == back


def test_config_value_is_none_when_unset(repo: Git) -> None:
    assert repo.config_value("user.name") == "test"
    assert repo.config_value("modelops.absent") is None


def test_is_repository(repo: Git) -> None:
    assert repo.is_repository() is True


# --- the root-taking shorthands lineage uses (git binary only) ---------------------------


def test_lineage_shorthands_outside_a_checkout_fail_closed(tmp_path: Path) -> None:
    assert git.head_sha(tmp_path) == git.UNKNOWN_SHA
    assert git.is_dirty(tmp_path) is True
    assert GitRepo(tmp_path).is_repository() is False


def test_lineage_shorthands_on_a_checkout(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    repo = _real(tmp_path)
    assert git.head_sha(tmp_path) == repo.head() == git.rev_parse(tmp_path, "HEAD")
    assert git.is_dirty(tmp_path) is False
    (tmp_path / "a.txt").write_text("b\n")
    assert git.is_dirty(tmp_path) is True


def test_changed_paths_answers_before_the_first_commit_and_names_both_sides_of_a_rename(
    tmp_path: Path,
) -> None:
    """Why `status` and not `diff HEAD`: a fresh repository has no HEAD to diff against."""
    run: Callable[..., object] = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True)  # noqa: E731
    run("init", "-q", "-b", "main")
    (tmp_path / "a b.txt").write_text("a\n")
    run("add", "a b.txt")
    repo = GitRepo(tmp_path)
    assert repo.changed_paths() == ["a b.txt"]
    assert git.is_dirty(tmp_path) is True
    run("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "one")
    run("mv", "a b.txt", "c.txt")
    assert repo.changed_paths() == ["a b.txt", "c.txt"]
