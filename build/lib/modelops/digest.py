"""Content digests for artifacts and data files (pure, streaming)."""

import hashlib
from pathlib import Path

_BLOCK = 1 << 20


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def directory_sha256(root: Path) -> str:
    """sha256 over every file's relative path and content, in sorted order.

    A model artifact is a directory (MLmodel, model.skops, requirements...), so its
    digest must cover names as well as bytes: renaming a file changes it.
    """
    root = Path(root)
    if root.is_file():
        return file_digest(root)
    h = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if not files:
        raise FileNotFoundError(f"{root}: no files to digest")
    for p in files:
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(file_digest(p).encode() + b"\n")
    return h.hexdigest()


def verify_directory(path: Path, expected: str | None, *, what: str, source: str = "the record") -> str:
    """Check a downloaded artifact against the digest recorded for it; return the digest.

    The one digest check of the project (promotion, serving, the gate and the tracking adapter use
    it). A missing expected digest is a failure, never a skip: an artifact nobody recorded a digest
    for cannot be told apart from a swapped one.
    """
    from modelops.errors import DigestMismatch

    want = (expected or "").strip().lower()
    actual = directory_sha256(path)
    if not want:
        raise DigestMismatch(
            f"{what}: no expected sha256 in {source} to check the artifact (sha256 {actual}) against; "
            "refusing"
        )
    if actual != want:
        raise DigestMismatch(
            f"{what}: artifact sha256 {actual} does not match the expected {want} ({source}); refusing"
        )
    return actual
