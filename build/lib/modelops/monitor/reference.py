"""Find the reference a served version is judged against: its training snapshot, via release lineage."""

from dataclasses import dataclass
from pathlib import Path

from modelops.adapters import dvc
from modelops.errors import MissingEvidence
from modelops.release import record


@dataclass(frozen=True)
class Reference:
    version: str
    path: Path
    source: str  # "release" (lineage) or "override" (--reference)
    train_md5: str | None = None
    model_uri: str | None = None
    model_sha256: str | None = None

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "path": str(self.path),
            "train_md5": self.train_md5,
            "model_uri": self.model_uri,
        }


def from_release(root: Path, model: str, version: str) -> Reference:
    """The version's release record (releases_dir in configs/release.yaml) -> train_md5 -> DVC cache."""
    path = record.path_of(root, model, version)
    if not path.is_file():
        raise MissingEvidence(
            f"logs name model_version {version!r} but {path.relative_to(root)} does not exist; "
            "monitoring judges a version only against its released training data (or pass --reference)"
        )
    rec = record.read(root, model, version)
    md5 = rec.lineage.train_md5
    cached = dvc.cached_path(root, md5)
    if cached is None:
        raise MissingEvidence(
            f"training snapshot md5 {md5} (release v{version}) is not in the DVC cache; run `dvc pull` first"
        )
    return Reference(
        version=version,
        path=cached,
        source="release",
        train_md5=md5,
        model_uri=rec.model.uri,
        model_sha256=rec.model.sha256,
    )


def override(root: Path, model: str, version: str, path: Path) -> Reference:
    """--reference PATH: ad-hoc, recorded as such; the release (if any) still names the model."""
    if not path.is_file():
        raise MissingEvidence(f"--reference {path}: file not found")
    rec = record.read(root, model, version) if record.path_of(root, model, version).is_file() else None
    return Reference(
        version=version,
        path=path,
        source="override",
        model_uri=rec.model.uri if rec else None,
        model_sha256=rec.model.sha256 if rec else None,
    )
