"""Where the served model's reference comes from, and what is refused (unit)."""

from pathlib import Path

import pytest
import yaml

from modelops.errors import ConfigError, DigestMismatch
from modelops.serve.reference import from_env, make_ref, resolve, verify

SHA = "a" * 64


def write_release(root: Path, version: int = 3, sha: str = SHA) -> Path:
    path = root / "releases" / "churn" / f"v{version}.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        yaml.safe_dump(
            {
                "schema_version": 1,
                "model": {
                    "name": "churn",
                    "version": version,
                    "uri": f"models:/churn/{version}",
                    "run_id": "r1",
                    "sha256": sha,
                },
                "lineage": {"git_sha": "deadbeef", "data_md5": "m" * 32},
            }
        )
    )
    return path


def test_release_file_gives_reference_and_lineage(tmp_path: Path) -> None:
    write_release(tmp_path)
    ref = resolve(tmp_path, Path("releases/churn/v3.yaml"), {"MODEL_URI": "models:/churn/9"})
    assert (ref.name, ref.version, ref.sha256, ref.run_id, ref.git_sha) == (
        "churn",
        "3",
        SHA,
        "r1",
        "deadbeef",
    )
    assert ref.release_file.endswith("releases/churn/v3.yaml")


def test_env_is_used_without_a_release(tmp_path: Path) -> None:
    ref = resolve(tmp_path, None, {"MODEL_URI": "models:/churn/5", "MODEL_VERSION": "5", "MODEL_SHA256": SHA})
    assert (ref.version, ref.source) == ("5", "$MODEL_URI")


def test_stable_overlay_is_the_last_resort(tmp_path: Path) -> None:
    env = tmp_path / "k8s/overlays/production/model.env"
    env.parent.mkdir(parents=True)
    env.write_text(f"MODEL_NAME=churn\nMODEL_URI=models:/churn/3\nMODEL_VERSION=3\nMODEL_SHA256={SHA}\n")
    assert resolve(tmp_path, None, {}).source.endswith("model.env")
    write_release(tmp_path)
    assert resolve(tmp_path, None, {}).release_file  # the overlay's release file adds lineage


@pytest.mark.parametrize(
    ("uri", "version", "sha", "match"),
    [
        ("models:/churn/3", "4", SHA, "disagrees"),
        ("runs:/abc/model", None, SHA, "models:/"),
        ("models:/churn/3", "3", "", "sha256 is required"),
        ("models:/churn/3", "3", "xyz", "sha256 is required"),
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
        verify(tmp_path, make_ref("models:/churn/1", "1", SHA, "test"))
