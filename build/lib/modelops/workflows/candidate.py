"""Find the model version a commit produced: the registered version whose git_sha tag matches."""

import re
import time
from collections.abc import Callable
from pathlib import Path

from modelops.adapters import tracking
from modelops.errors import NotRegistered

_SHA = re.compile(r"^[0-9a-f]{7,40}$")


def versions_for_sha(registry: tracking.Registry, name: str, sha: str) -> list[tracking.ModelVersion]:
    """Registered versions of `name` trained from commit `sha`, newest first."""
    if not _SHA.match(sha):
        raise NotRegistered(f"--sha {sha!r}: expected a hex commit sha")
    return registry.search_versions(name, {tracking.TAG_GIT_SHA: sha})


def pick(versions: list[tracking.ModelVersion]) -> tracking.ModelVersion | None:
    """The newest version, preferring one trained from a clean tree (reproducible from the sha)."""
    clean = [v for v in versions if v.tags.get(tracking.TAG_GIT_DIRTY) == "false"]
    preferred = clean or versions
    return preferred[0] if preferred else None


def find_candidate(
    root: Path,
    name: str,
    sha: str,
    wait_seconds: float = 0,
    poll_seconds: float = 30,
    sleep: Callable[[float], None] = time.sleep,
    registry: tracking.Registry | None = None,
) -> tracking.ModelVersion:
    """The candidate for `sha`, polling up to `wait_seconds` while the train workflow finishes."""
    registry = registry or tracking.registry_for(root)
    deadline = time.monotonic() + wait_seconds
    while True:
        chosen = pick(versions_for_sha(registry, name, sha))
        if chosen is not None:
            return chosen
        if time.monotonic() >= deadline:
            waited = f" after waiting {wait_seconds:.0f}s" if wait_seconds else ""
            raise NotRegistered(
                f"no version of model {name!r} has tag {tracking.TAG_GIT_SHA}={sha}{waited}; "
                "did the train workflow run for this commit?"
            )
        sleep(min(poll_seconds, max(deadline - time.monotonic(), 0.1)))
