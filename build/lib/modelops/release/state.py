"""Which version each track serves, read from the overlays (git is the source of truth)."""

from pathlib import Path

from modelops.errors import ReleaseError

TRACKS = ("stable", "canary")
TRACK_OVERLAYS = {"stable": "k8s/overlays/production", "canary": "k8s/overlays/canary"}
MODEL_ENV = "model.env"
KUSTOMIZATION = "kustomization.yaml"


def overlay_dir(root: Path, track: str) -> Path:
    if track not in TRACK_OVERLAYS:
        raise ReleaseError(f"unknown track {track!r}; expected one of {', '.join(TRACKS)}")
    return root / TRACK_OVERLAYS[track]


def parse_env(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def read_model_env(root: Path, track: str) -> dict[str, str]:
    """KEY=VALUE lines of the track's model.env (the configMapGenerator input)."""
    path = overlay_dir(root, track) / MODEL_ENV
    if not path.is_file():
        return {}
    return parse_env(path.read_text())


def track_version(root: Path, track: str) -> int | None:
    """The model version the track points at, or None when nothing is released there."""
    value = read_model_env(root, track).get("MODEL_VERSION", "")
    return int(value) if value.isdigit() else None


def stable_version(root: Path) -> int | None:
    return track_version(root, "stable")
