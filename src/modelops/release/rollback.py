"""`modelops rollback --track T`: revert the last promotion commit of that track."""

import logging
import shlex
from dataclasses import dataclass
from pathlib import Path

from modelops.adapters import git
from modelops.errors import ReleaseError
from modelops.release import state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rollback:
    track: str
    sha: str
    subject: str
    command: str
    revert_sha: str | None = None


def last_promotion(root: Path, track: str, trailer: str) -> tuple[str, str]:
    """(sha, subject) of the newest promotion commit for `track` that is not reverted yet."""
    reverted = git.reverted_shas(root)
    for sha, subject, value in git.log_trailers(root, trailer):
        if track in {v.strip() for v in value.split(",")} and sha not in reverted:
            return sha, subject
    raise ReleaseError(
        f"no unreverted commit with trailer `{trailer}: {track}` on HEAD; nothing to roll back"
    )


def find(root: Path, track: str, trailer: str) -> Rollback:
    if track not in state.TRACKS:
        raise ReleaseError(f"--track {track!r}: expected one of {', '.join(state.TRACKS)}")
    if track == "canary" and state.track_version(root, "canary") is None:
        raise ReleaseError(
            "the canary track serves no version (retired or never promoted); nothing to roll back"
        )
    sha, subject = last_promotion(root, track, trailer)
    return Rollback(track, sha, subject, f"git revert --no-edit {shlex.quote(sha)}")


def run(root: Path, plan: Rollback) -> Rollback:
    try:
        new = git.revert(root, plan.sha)
    except RuntimeError as exc:
        raise ReleaseError(f"{exc}; the tree is unchanged. Resolve by hand (see ROLLBACK.md)") from exc
    log.info("reverted %s (%s) as %s", plan.sha[:12], plan.subject, new[:12])
    return Rollback(plan.track, plan.sha, plan.subject, plan.command, new)
