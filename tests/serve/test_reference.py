"""Where the served model's reference comes from, and what is refused (unit)."""

import shutil
from pathlib import Path

import pytest

from modelops.errors import ConfigError, DigestMismatch
from modelops.serve.reference import from_env, make_ref, resolve, verify
from tests.conftest import REPO
from tests.fixture_model.swap import MODEL  # what make_record names by default
from tests.release.records import make_record, write_record

SHA = "a" * 64


def write_release(root: Path, version: int = 3, sha: str = SHA) -> Path:
    """A valid record (built by the release step's one writer) where its one reader looks."""
    shutil.copytree(REPO / "configs", root / "configs", dirs_exist_ok=True)
    return write_record(root, make_record(version, sha))


def test_release_file_gives_reference_and_lineage(tmp_path: Path) -> None:
    write_release(tmp_path)
    ref = resolve(tmp_path, Path(f"releases/{MODEL}/v3.yaml"), {"MODEL_URI": f"models:/{MODEL}/9"})
    assert (ref.name, ref.version, ref.sha256, ref.run_id, ref.git_sha) == (
        MODEL,
        "3",
        SHA,
        "0" * 32,
        "b" * 40,
    )
    assert ref.release_file.endswith(f"releases/{MODEL}/v3.yaml")


def test_env_is_used_without_a_release(tmp_path: Path) -> None:
    ref = resolve(
        tmp_path, None, {"MODEL_URI": f"models:/{MODEL}/5", "MODEL_VERSION": "5", "MODEL_SHA256": SHA}
    )
    assert (ref.version, ref.source) == ("5", "$MODEL_URI")


def test_stable_overlay_is_the_last_resort(tmp_path: Path) -> None:
    shutil.copytree(REPO / "configs", tmp_path / "configs")  # releases_dir comes from release.yaml
    env = tmp_path / "k8s/overlays/production/model.env"
    env.parent.mkdir(parents=True)
    env.write_text(f"MODEL_NAME={MODEL}\nMODEL_URI=models:/{MODEL}/3\nMODEL_VERSION=3\nMODEL_SHA256={SHA}\n")
    assert resolve(tmp_path, None, {}).source.endswith("model.env")
    write_release(tmp_path)
    assert resolve(tmp_path, None, {}).release_file  # the overlay's release file adds lineage


@pytest.mark.parametrize(
    ("uri", "version", "sha", "match"),
    [
        (f"models:/{MODEL}/3", "4", SHA, "disagrees"),
        ("runs:/abc/model", None, SHA, "models:/"),
        (f"models:/{MODEL}/3", "3", "", "sha256 is required"),
        (f"models:/{MODEL}/3", "3", "xyz", "sha256 is required"),
    ],
)
def test_inconsistent_references_are_refused(uri: str, version: str | None, sha: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make_ref(uri, version, sha, "test")


def test_nothing_to_serve_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no model to serve"):
        resolve(tmp_path, None, {})
    assert from_env({}) is None


def test_verify_names_both_digests(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("x")
    with pytest.raises(DigestMismatch, match=f"expected {SHA}"):
        verify(tmp_path, make_ref(f"models:/{MODEL}/1", "1", SHA, "test"))
