"""Which model to serve, and fetching it with its digest checked before anything reads it.

The reference comes from, in order: `--release releases/<model>/vN.yaml`; the
MODEL_URI / MODEL_VERSION / MODEL_SHA256 variables the overlay's ConfigMap sets; the
stable overlay's model.env in the working tree. The sha256 is always required. Release
records are read only through modelops.release.record (validated, `releases_dir` honoured)
and the artifact is checked only by modelops.digest.verify_directory.
"""

import re
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from modelops.adapters.tracking import Registry
from modelops.digest import verify_directory
from modelops.errors import ConfigError
from modelops.release import record
from modelops.tags import DATA_MD5, GIT_SHA

_URI = re.compile(r"^models:/(?P<name>[A-Za-z][\w-]*)/(?P<version>\d+)$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    uri: str
    sha256: str
    source: str  # where the reference came from: a release file, "env", or an overlay
    run_id: str = ""
    git_sha: str = ""
    data_md5: str = ""
    release_file: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def make_ref(uri: str, version: str | int | None, sha256: str, source: str, **lineage: str) -> ModelRef:
    """Validate a (uri, version, sha256) triple; every inconsistency is an error naming `source`."""
    match = _URI.match(uri or "")
    if not match:
        raise ConfigError(f"{source}: model uri {uri!r} is not of the form models:/<name>/<version>")
    if version not in (None, "") and str(version) != match["version"]:
        raise ConfigError(f"{source}: version {version} disagrees with the uri {uri}")
    sha = (sha256 or "").strip().lower()
    if not _SHA.match(sha):
        raise ConfigError(f"{source}: a 64-hex model sha256 is required to serve {uri} (got {sha256!r})")
    return ModelRef(match["name"], match["version"], uri, sha, source, **lineage)


def from_env(env: Mapping[str, str], prefix: str = "") -> ModelRef | None:
    """MODEL_URI/MODEL_VERSION/MODEL_SHA256 (or SHADOW_MODEL_*), or None when unset."""
    uri = env.get(f"{prefix}MODEL_URI", "")
    if not uri:
        return None
    return make_ref(
        uri, env.get(f"{prefix}MODEL_VERSION"), env.get(f"{prefix}MODEL_SHA256", ""), f"${prefix}MODEL_URI"
    )


def from_release(path: Path, rec: record.ReleaseRecord | None = None) -> ModelRef:
    rec = rec or record.read_file(path)
    return make_ref(
        rec.model.uri,
        rec.model.version,
        rec.model.sha256,
        str(path),
        run_id=rec.model.run_id,
        git_sha=rec.lineage.git_sha,
        data_md5=rec.lineage.data_md5,
        release_file=str(path),
    )


def resolve(root: Path, release: Path | None, env: Mapping[str, str]) -> ModelRef:
    """The primary model reference (see the module docstring for the order)."""
    if release is not None:
        return from_release(release if release.is_absolute() else root / release)
    ref = from_env(env)
    if ref is not None:
        return ref
    from modelops.release.state import MODEL_ENV, TRACK_OVERLAYS, read_model_env

    overlay = read_model_env(root, "stable")
    if overlay.get("MODEL_URI"):
        ref = make_ref(
            overlay["MODEL_URI"],
            overlay.get("MODEL_VERSION"),
            overlay.get("MODEL_SHA256", ""),
            f"{TRACK_OVERLAYS['stable']}/{MODEL_ENV}",
        )
        path = record.path_of(root, ref.name, ref.version)
        return from_release(path, record.read(root, ref.name, ref.version)) if path.is_file() else ref
    raise ConfigError(
        "no model to serve: pass --release releases/<model>/vN.yaml, "
        "set MODEL_URI/MODEL_VERSION/MODEL_SHA256, or release a version to the stable track"
    )


def fetch(ref: ModelRef, cache_dir: Path, registry: Registry) -> tuple[ModelRef, Path]:
    """Download the version into `cache_dir` and check its sha256; lineage filled from the registry.

    Raises NotRegistered for a missing version and DigestMismatch for a wrong artifact.
    """
    mv = registry.get_version(ref.name, ref.version)
    dst = cache_dir / ref.name / ref.version
    if dst.exists():
        shutil.rmtree(dst)  # never trust a stale download
    local = registry.download_model(mv, dst)
    verify(local, ref)
    tags: dict[str, Any] = mv.tags
    filled = replace(
        ref,
        run_id=ref.run_id or mv.run_id,
        git_sha=ref.git_sha or str(tags.get(GIT_SHA, "")),
        data_md5=ref.data_md5 or str(tags.get(DATA_MD5, "")),
    )
    return filled, local


def verify(local: Path, ref: ModelRef) -> None:
    verify_directory(local, ref.sha256, what=ref.uri, source=f"from {ref.source}; refusing to serve")
