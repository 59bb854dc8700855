"""git adapter: the code half of lineage, and the commits promotion and rollback make.

Every failure is a GitError (a ModelOpsError) with a one-line message, so the CLI reports it
in one line instead of a traceback.
"""

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from modelops.errors import ModelOpsError

_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{40})")


class GitError(ModelOpsError):
    """A git command failed; the message is git's own error on one line."""

    exit_code = 1


def _one_line(text: str, limit: int = 400) -> str:
    """git's (often multi-line, hook-decorated) output folded into one readable line."""
    flat = " | ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _run(root: Path, args: list[str], stdin: str | None = None) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, input=stdin, capture_output=True, text=True, check=False
        )
    except OSError as exc:  # git missing, root missing
        raise GitError(f"git {args[0]}: {exc}") from exc
    if out.returncode != 0:
        detail = _one_line(out.stderr or out.stdout) or f"exit {out.returncode}"
        raise GitError(f"git {args[0]} failed: {detail}")
    return out.stdout.strip()


def _git(root: Path, *args: str) -> str:
    return _run(root, list(args))


def head_sha(root: Path) -> str:
    """HEAD's commit sha, or "unknown" outside a git checkout (lineage then fails the gate)."""
    try:
        return _git(root, "rev-parse", "HEAD")
    except GitError:
        return "unknown"


def is_dirty(root: Path) -> bool:
    try:
        return bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    except GitError:
        return True


def changed_paths(root: Path) -> list[str]:
    """Tracked files whose working copy or index differs from HEAD (repo-relative)."""
    return _git(root, "diff", "--name-only", "HEAD").splitlines()


# --- release step: promotion commits and rollback reverts -------------------------------


def config_value(root: Path, key: str) -> str | None:
    try:
        return _git(root, "config", "--get", key) or None
    except GitError:
        return None


def rev_parse(root: Path, ref: str) -> str:
    return _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")


def commit_paths(root: Path, paths: list[Path], message: str) -> str:
    """Commit exactly `paths` (other staged or dirty files stay out) and return the new sha."""
    specs = [p.as_posix() for p in paths]
    _git(root, "add", "--", *specs)
    _run(root, ["commit", "--quiet", "--file=-", "--only", "--", *specs], stdin=message)
    return _git(root, "rev-parse", "HEAD")


def reset_paths(root: Path, sha: str, paths: list[Path]) -> None:
    """Move HEAD back to `sha` and reset the index entries of `paths` to it (work tree untouched).

    Undoes our own commits and `git add`s after a failed promotion; other staged files stay staged.
    """
    if _git(root, "rev-parse", "HEAD") != sha:
        _git(root, "reset", "--soft", "--quiet", sha)
    _git(root, "reset", "--quiet", sha, "--", *[p.as_posix() for p in paths])


@dataclass(frozen=True)
class Commit:
    sha: str
    committed_at: str  # ISO-8601 committer date
    subject: str
    trailers: dict[str, str]  # requested trailer key -> comma-joined values ("" when absent)
    reverts: str | None  # the sha named by git revert's "This reverts commit <sha>." line


def history(root: Path, trailer_keys: tuple[str, ...]) -> list[Commit]:
    """Every commit on HEAD, oldest first (topological), with the given trailers and revert links."""
    fields = ["%H", "%cI", "%s"]
    fields += [f"%(trailers:key={k},valueonly,separator=%x2C)" for k in trailer_keys]
    fields.append("%b")
    raw = _git(root, "log", "--reverse", "--topo-order", "--format=" + "%x1f".join(fields) + "%x1e")
    commits = []
    for entry in raw.split("\x1e"):
        parts = entry.strip("\n").split("\x1f")
        if len(parts) != 4 + len(trailer_keys):
            continue
        sha, when, subject, *values, body = parts
        found = _REVERTS.findall(body)
        commits.append(
            Commit(
                sha,
                when,
                subject,
                {k: v.strip() for k, v in zip(trailer_keys, values, strict=True)},
                found[-1] if found else None,
            )
        )
    return commits


def file_versions(root: Path, path: str) -> list[tuple[str, str]]:
    """(sha, content) of `path` at every commit on HEAD that changed it, newest first."""
    shas = _git(root, "log", "--format=%H", "--", path).split()
    versions = []
    for sha in shas:
        try:
            versions.append((sha, _run(root, ["show", f"{sha}:{path}"])))
        except GitError:  # the commit deleted the file
            continue
    return versions


def is_repository(root: Path) -> bool:
    try:
        return _git(root, "rev-parse", "--is-inside-work-tree") == "true"
    except GitError:
        return False


def revert(root: Path, sha: str) -> str:
    """`git revert --no-edit <sha>`; on a conflict, abort so the tree is as it was, and raise."""
    try:
        _git(root, "revert", "--no-edit", sha)
    except GitError:
        subprocess.run(["git", "revert", "--abort"], cwd=root, capture_output=True, check=False)
        raise
    return _git(root, "rev-parse", "HEAD")
