"""git adapter: the code half of lineage, and the commits promotion and rollback make."""

import subprocess
from pathlib import Path


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout.strip()


def head_sha(root: Path) -> str:
    """HEAD's commit sha, or "unknown" outside a git checkout (lineage then fails the gate)."""
    try:
        return _git(root, "rev-parse", "HEAD")
    except RuntimeError:
        return "unknown"


def is_dirty(root: Path) -> bool:
    try:
        return bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    except RuntimeError:
        return True


# --- release step: promotion commits and rollback reverts -------------------------------


def config_value(root: Path, key: str) -> str | None:
    try:
        return _git(root, "config", "--get", key) or None
    except RuntimeError:
        return None


def commit_paths(root: Path, paths: list[Path], message: str) -> str:
    """Commit exactly `paths` (other staged or dirty files stay out) and return the new sha."""
    specs = [p.as_posix() for p in paths]
    _git(root, "add", "--", *specs)
    out = subprocess.run(
        ["git", "commit", "--quiet", "--file=-", "--only", "--", *specs],
        cwd=root,
        input=message,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"git commit failed: {(out.stderr or out.stdout).strip()}")
    return _git(root, "rev-parse", "HEAD")


def log_trailers(root: Path, key: str) -> list[tuple[str, str, str]]:
    """(sha, subject, value of trailer `key`) for every commit on HEAD, newest first."""
    fmt = f"%H%x1f%s%x1f%(trailers:key={key},valueonly,separator=%x2C)%x1e"
    try:
        raw = _git(root, "log", f"--format={fmt}")
    except RuntimeError:
        return []
    rows = []
    for entry in raw.split("\x1e"):
        parts = entry.strip("\n").split("\x1f")
        if len(parts) == 3:
            rows.append((parts[0], parts[1], parts[2].strip()))
    return rows


def reverted_shas(root: Path) -> set[str]:
    """Commits already reverted on HEAD (from `git revert`'s "This reverts commit <sha>." line)."""
    import re

    try:
        raw = _git(root, "log", "--format=%B", "--grep=This reverts commit")
    except RuntimeError:
        return set()
    return set(re.findall(r"This reverts commit ([0-9a-f]{40})", raw))


def revert(root: Path, sha: str) -> str:
    """`git revert --no-edit <sha>`; on a conflict, abort so the tree is as it was, and raise."""
    out = subprocess.run(
        ["git", "revert", "--no-edit", sha], cwd=root, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        subprocess.run(["git", "revert", "--abort"], cwd=root, capture_output=True, check=False)
        raise RuntimeError(f"git revert --no-edit {sha} failed: {(out.stderr or out.stdout).strip()}")
    return _git(root, "rev-parse", "HEAD")
