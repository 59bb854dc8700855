"""DVC adapter: the data half of lineage.

DVC 3 hashes a file as the plain md5 of its bytes, so the md5 computed here equals
the one `dvc.lock` records for the same output; `locked_md5` reads it from there.
"""

from pathlib import Path

import yaml

from modelops.digest import file_digest


def md5(path: Path) -> str:
    return file_digest(path, "md5")


def locked_md5(root: Path, output: str) -> str | None:
    """The md5 dvc.lock records for `output` (repo-relative), if any."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return None
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    for stage in stages.values():
        for out in stage.get("outs", []):
            if out.get("path") == output:
                return str(out.get("md5"))
    return None


def cached_path(root: Path, md5_hex: str) -> Path | None:
    """Where DVC 3's local cache keeps the file with this md5 (files/md5/ab/cdef...), if present."""
    path = root / ".dvc" / "cache" / "files" / "md5" / md5_hex[:2] / md5_hex[2:]
    return path if path.is_file() else None


def track(root: Path, path: Path) -> Path:
    """`dvc add PATH`: cache the file and write its `.dvc` pointer (committed to git); returns it."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        repo.add(str(path))
    return path.with_name(path.name + ".dvc")
