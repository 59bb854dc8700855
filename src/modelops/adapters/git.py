"""git adapter: the code half of lineage, and the commits promotion and rollback make.

The jobs reach git through the small `Git` Protocol: `GitRepo` runs the git binary on a
checkout; tests/fakes/git_memory.py keeps the history in memory over the same work tree, and
tests/adapters/test_git_contract.py holds both to the same behaviour.

Every failure is a GitError (a ModelOpsError) with a one-line message, so the CLI reports it
in one line instead of a traceback.
"""

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from modelops.errors import ModelOpsError

REVERTS = re.compile(r"This reverts commit ([0-9a-f]{40})")
UNKNOWN_SHA = "unknown"


class GitError(ModelOpsError):
    """A git command failed; the message is git's own error on one line."""

    exit_code = 1


@dataclass(frozen=True)
class Commit:
    sha: str
    committed_at: str  # ISO-8601 committer date
    subject: str
    trailers: dict[str, str]  # requested trailer key -> comma-joined values ("" when absent)
    reverts: str | None  # the sha named by git revert's "This reverts commit <sha>." line


class Git(Protocol):
    """What lineage, promotion, rollback, `release verify` and `init` ask of one checkout."""

    @property
    def root(self) -> Path:
        """The work tree."""
        ...

    def is_repository(self) -> bool: ...

    def head(self) -> str:
        """HEAD's commit sha; GitError when there is none."""
        ...

    def changed_paths(self) -> list[str]:
        """Tracked files whose index or work-tree copy differs from HEAD (repo-relative, sorted)."""
        ...

    def config_value(self, key: str) -> str | None: ...

    def commit_paths(self, paths: Sequence[Path], message: str) -> str:
        """Commit exactly `paths` (other staged or dirty files stay out); the new sha."""
        ...

    def reset_paths(self, sha: str, paths: Sequence[Path]) -> None:
        """Move HEAD back to `sha` and reset the index entries of `paths` to it (work tree untouched)."""
        ...

    def history(self, trailer_keys: tuple[str, ...]) -> list[Commit]:
        """Every commit on HEAD, oldest first, with the given trailers and revert links."""
        ...

    def file_versions(self, path: str) -> list[tuple[str, str]]:
        """(sha, content) of `path` at every commit on HEAD that changed it, newest first."""
        ...

    def revert(self, sha: str) -> str:
        """`git revert --no-edit <sha>`; on a conflict the tree stays as it was and GitError is raised."""
        ...


def head_sha(root: Path) -> str:
    """HEAD's sha for lineage, or "unknown" outside a checkout (the gate then fails lineage)."""
    try:
        return GitRepo(root).head()
    except GitError:
        return UNKNOWN_SHA


def is_dirty(root: Path) -> bool:
    """Lineage's question, answered by `changed_paths`: does the tree differ from HEAD?

    Unanswerable (no checkout, no git) counts as dirty, so lineage fails closed.
    """
    try:
        return bool(GitRepo(root).changed_paths())
    except GitError:
        return True


def rev_parse(root: Path, ref: str) -> str:
    return GitRepo(root).rev_parse(ref)


def reverted_sha(body: str) -> str | None:
    """The sha named by the last "This reverts commit <sha>." line of a commit message."""
    found = REVERTS.findall(body)
    return found[-1] if found else None


def _one_line(text: str, limit: int = 400) -> str:
    """git's (often multi-line, hook-decorated) output folded into one readable line."""
    flat = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


@dataclass(frozen=True)
class GitRepo:
    """The git binary on the checkout at `root`."""

    root: Path

    def _run(
        self,
        args: list[str],
        stdin: str | None = None,
        strip: bool = True,
        env: dict[str, str] | None = None,
    ) -> str:
        try:
            out = subprocess.run(
                ["git", *args],
                cwd=self.root,
                input=stdin,
                capture_output=True,
                text=True,
                check=False,
                env=env,
            )
        except OSError as exc:  # git missing, root missing
            raise GitError(f"git {args[0]}: {exc}") from exc
        if out.returncode != 0:
            detail = _one_line(out.stderr or out.stdout) or f"exit {out.returncode}"
            raise GitError(f"git {args[0]} failed: {detail}")
        return out.stdout.strip() if strip else out.stdout

    def _git(self, *args: str) -> str:
        return self._run(list(args))

    def run(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Any other git command (push, remote, log -1 ...) for the workflow glue, with `env` when given."""
        return self._run(list(args), env=env)

    def is_repository(self) -> bool:
        try:
            return self._git("rev-parse", "--is-inside-work-tree") == "true"
        except GitError:
            return False

    def rev_parse(self, ref: str) -> str:
        return self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")

    def head(self) -> str:
        return self.rev_parse("HEAD")

    def changed_paths(self) -> list[str]:
        # `status` rather than `diff HEAD`: it also answers on a repository with no commit yet.
        # -z: "XY path\0", and a rename or copy adds "\0origpath"; untracked files are left out.
        raw = self._run(["status", "--porcelain", "-z", "--untracked-files=no"], strip=False)
        entries, paths = raw.split("\0"), set()
        i = 0
        while i < len(entries):
            entry = entries[i]
            i += 1
            if len(entry) < 4:
                continue
            paths.add(entry[3:])
            if entry[0] in "RC":
                paths.add(entries[i])
                i += 1
        return sorted(paths)

    def config_value(self, key: str) -> str | None:
        try:
            return self._git("config", "--get", key) or None
        except GitError:
            return None

    def commit_paths(self, paths: Sequence[Path], message: str) -> str:
        specs = [p.as_posix() for p in paths]
        self._git("add", "--", *specs)
        self._run(["commit", "--quiet", "--file=-", "--only", "--", *specs], stdin=message)
        return self.head()

    def reset_paths(self, sha: str, paths: Sequence[Path]) -> None:
        # Undoes our own commits and `git add`s after a failed promotion; other staged files stay staged.
        if self.head() != sha:
            self._git("reset", "--soft", "--quiet", sha)
        self._git("reset", "--quiet", sha, "--", *[p.as_posix() for p in paths])

    def history(self, trailer_keys: tuple[str, ...]) -> list[Commit]:
        fields = ["%H", "%cI", "%s"]
        fields += [f"%(trailers:key={k},valueonly,separator=%x2C)" for k in trailer_keys]
        fields.append("%b")
        raw = self._git("log", "--reverse", "--topo-order", "--format=" + "%x1f".join(fields) + "%x1e")
        commits = []
        for entry in raw.split("\x1e"):
            parts = entry.strip("\n").split("\x1f")
            if len(parts) != 4 + len(trailer_keys):
                continue
            sha, when, subject, *values, body = parts
            trailers = {k: v.strip() for k, v in zip(trailer_keys, values, strict=True)}
            commits.append(Commit(sha, when, subject, trailers, reverted_sha(body)))
        return commits

    def file_versions(self, path: str) -> list[tuple[str, str]]:
        shas = self._git("log", "--format=%H", "--", path).split()
        versions = []
        for sha in shas:
            try:
                versions.append((sha, self._run(["show", f"{sha}:{path}"])))
            except GitError:  # the commit deleted the file
                continue
        return versions

    def revert(self, sha: str) -> str:
        try:
            self._git("revert", "--no-edit", sha)
        except GitError:
            subprocess.run(["git", "revert", "--abort"], cwd=self.root, capture_output=True, check=False)
            raise
        return self.head()
