"""Pure edits of an overlay: its model.env (configMapGenerator input) and the canary's replica count."""

import re

from modelops.errors import ReleaseError

MODEL_KEYS = ("MODEL_NAME", "MODEL_URI", "MODEL_VERSION", "MODEL_SHA256")
_COUNT = re.compile(r"^(\s*count:\s*)(\d+)(\s*(#.*)?)$", re.MULTILINE)


def model_env(track: str, name: str, version: int | None, sha256: str | None) -> str:
    """model.env text pointing the track at a version, or at nothing (version None)."""
    if version is None:
        head = f"# track {track}: retired, no version serves here. Written by `modelops promote`.\n"
        values = {"MODEL_NAME": name, "MODEL_URI": "", "MODEL_VERSION": "", "MODEL_SHA256": ""}
    else:
        head = f"# track {track}: written by `modelops promote`; change it only through a promotion.\n"
        values = {
            "MODEL_NAME": name,
            "MODEL_URI": f"models:/{name}/{version}",
            "MODEL_VERSION": str(version),
            "MODEL_SHA256": sha256 or "",
        }
    return head + "".join(f"{k}={values[k]}\n" for k in MODEL_KEYS)


def replicas(kustomization: str, source: str) -> int:
    """The single `count:` under `replicas:` in an overlay's kustomization.yaml."""
    found = _COUNT.findall(kustomization)
    if len(found) != 1:
        raise ReleaseError(f"{source}: expected exactly one `replicas: - count: N` entry, found {len(found)}")
    return int(found[0][1])


def set_replicas(kustomization: str, count: int, source: str) -> str:
    """Replace the replica count, keeping every other byte (comments included)."""
    replicas(kustomization, source)
    return _COUNT.sub(lambda m: f"{m.group(1)}{count}{m.group(3)}", kustomization)
