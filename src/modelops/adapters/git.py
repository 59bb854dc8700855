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
