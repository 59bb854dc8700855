"""Find the reference a served version is judged against: its training snapshot, via release lineage."""

from dataclasses import dataclass
from pathlib import Path

import yaml

from modelops.adapters import dvc
from modelops.errors import MissingEvidence


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


def release_file(root: Path, model: str, version: str) -> Path:
    return root / "releases" / model / f"v{version}.yaml"


def from_release(root: Path, model: str, version: str) -> Reference:
    """releases/<model>/v<N>.yaml -> lineage.train_md5 -> the file in DVC's cache."""
    path = release_file(root, model, version)
    if not path.is_file():
        raise MissingEvidence(
            f"logs name model_version {version!r} but {path.relative_to(root)} does not exist; "
            "monitoring judges a version only against its released training data (or pass --reference)"
        )
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise MissingEvidence(f"{path}: not valid YAML ({exc})") from exc
    lineage = doc.get("lineage") if isinstance(doc, dict) else None
    md5 = lineage.get("train_md5") if isinstance(lineage, dict) else None
    if not isinstance(md5, str) or len(md5) != 32:
        raise MissingEvidence(f"{path}: lineage.train_md5 is missing or not an md5")
    cached = dvc.cached_path(root, md5)
    if cached is None:
        raise MissingEvidence(
            f"training snapshot md5 {md5} (release v{version}) is not in the DVC cache; run `dvc pull` first"
        )
    model_doc = doc.get("model") or {}
    return Reference(
        version=version,
        path=cached,
        source="release",
        train_md5=md5,
        model_uri=model_doc.get("uri"),
        model_sha256=model_doc.get("sha256"),
    )


def override(root: Path, model: str, version: str, path: Path) -> Reference:
    """--reference PATH: ad-hoc, recorded as such; the release (if any) still names the model."""
    if not path.is_file():
        raise MissingEvidence(f"--reference {path}: file not found")
    rel = release_file(root, model, version)
    model_doc: dict = {}
    if rel.is_file():
        model_doc = (yaml.safe_load(rel.read_text()) or {}).get("model") or {}
    return Reference(
        version=version,
        path=path,
        source="override",
        model_uri=model_doc.get("uri"),
        model_sha256=model_doc.get("sha256"),
    )
