"""Lineage and environment facts recorded on every run and model version."""

import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Any

from modelops.adapters import dvc, git, tracking
from modelops.data.evalset import load_pin, verified_path
from modelops.settings import Settings

# Packages whose versions decide whether a model reproduces.
KEY_PACKAGES = ("scikit-learn", "numpy", "pandas", "scipy", "mlflow", "skops", "dvc", "pyarrow")


def pinned_eval_md5(settings: Settings) -> str:
    """The pinned evaluation set's md5, after checking the file against the pin (fail closed)."""
    pin = load_pin(settings.config_dir)
    verified_path(pin, settings.root)
    return pin.md5


def lineage_tags(settings: Settings) -> dict[str, str]:
    paths = settings.data.paths
    root = settings.root
    return {
        tracking.TAG_GIT_SHA: git.head_sha(root),
        tracking.TAG_GIT_DIRTY: str(git.is_dirty(root)).lower(),
        tracking.TAG_DATA_HASH: dvc.md5(settings.path(paths.raw)),
        tracking.TAG_TRAIN_HASH: dvc.md5(settings.path(paths.train)),
        tracking.TAG_EVAL_HASH: pinned_eval_md5(settings),
        tracking.TAG_CONFIG_HASH: settings.config_hash(),
        tracking.TAG_OVERRIDES: json.dumps(list(settings.overrides)),
    }


def environment() -> dict[str, Any]:
    packages = {}
    for name in KEY_PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = "absent"
    return {"python": platform.python_version(), "packages": packages}


def full_freeze() -> str:
    """Every installed distribution, `name==version` per line (logged as an artifact)."""
    dists = {(d.metadata["Name"] or "?").lower(): d.version for d in importlib.metadata.distributions()}
    return "\n".join(f"{n}=={v}" for n, v in sorted(dists.items())) + "\n"


def hardware() -> dict[str, str]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": str(os.cpu_count()),
        "processor": platform.processor() or "unknown",
    }


def read_validation(settings: Settings) -> dict[str, Any] | None:
    path: Path = settings.path(settings.data.paths.validation_report)
    return json.loads(path.read_text()) if path.is_file() else None
