"""`modelops rollback --track T`: revert the commit that made the track's live promotion live.

Promotion is two commits: the release record + model card (append-only history), then the
deployment pointer (the overlays' model.env, trailers `Modelops-Track`/`Modelops-Version`).
Rollback reverts only a pointer commit, so records and cards survive it.

Which commit is "live" is decided by replaying the history (pure, `replay`): a revert of a
promotion takes it out, a revert of that revert puts it back (and is then the commit to revert),
and so on to any depth.
"""

import logging
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from modelops.adapters import git
from modelops.errors import ReleaseError
from modelops.release import record, state

log = logging.getLogger(__name__)
VERSION_TRAILER = "Modelops-Version"


@dataclass(frozen=True)
class Rollback:
    track: str
    sha: str
    subject: str
    command: str
    revert_sha: str | None = None


@dataclass(frozen=True)
class Promotion:
    """One pointer commit (`sha`), and the commit that currently applies it (itself or a re-revert)."""

    sha: str
    tracks: frozenset[str]
    version: str
    applied_by: git.Commit
    position: int


@dataclass(frozen=True)
class RolledBack:
    version: str
    track: str
    promotion: str  # sha of the pointer commit that was taken out
    revert: git.Commit  # the commit that took it out


@dataclass
class Replay:
    live: dict[str, Promotion] = field(default_factory=dict)  # pointer sha -> live promotion
    rollbacks: list[RolledBack] = field(default_factory=list)  # oldest first

    def live_for(self, track: str) -> Promotion | None:
        """The track's promotion applied most recently and still live."""
        candidates = [p for p in self.live.values() if track in p.tracks]
        return max(candidates, key=lambda p: p.position, default=None)

    def last_rollback(self, version: int | str) -> RolledBack | None:
        found = [r for r in self.rollbacks if r.version == str(version)]
        return found[-1] if found else None


def _tracks(value: str) -> frozenset[str]:
    return frozenset(v.strip() for v in value.split(",") if v.strip())


def replay(commits: Sequence[git.Commit], track_trailer: str) -> Replay:
    """Replay oldest-first commits: which pointer commits are live, and every rollback so far (pure)."""
    out = Replay()
    pointers: dict[str, git.Commit] = {}
    origin: dict[str, tuple[str, bool]] = {}  # any commit -> (pointer commit it (un)applies, applies?)
    for position, commit in enumerate(commits):
        tracks = _tracks(commit.trailers.get(track_trailer, ""))
        if tracks:
            origin[commit.sha], pointers[commit.sha] = (commit.sha, True), commit
        elif commit.reverts in origin:
            pointer, applied = origin[commit.reverts]
            origin[commit.sha] = (pointer, not applied)
        else:
            continue
        pointer, applies = origin[commit.sha]
        first = pointers[pointer]
        version = first.trailers.get(VERSION_TRAILER, "")
        if applies:
            out.live[pointer] = Promotion(
                pointer, _tracks(first.trailers[track_trailer]), version, commit, position
            )
        elif out.live.pop(pointer, None) is not None:
            for track in sorted(_tracks(first.trailers[track_trailer])):
                out.rollbacks.append(RolledBack(version, track, pointer, commit))
    return out


def read_history(repo: git.Git, track_trailer: str) -> Replay:
    return replay(repo.history((track_trailer, VERSION_TRAILER)), track_trailer)


def rollback_time(rolled: RolledBack) -> datetime:
    return record.parse_time(rolled.revert.committed_at, f"commit {rolled.revert.sha[:12]} date")


def find(root: Path, track: str, trailer: str, *, repo: git.Git | None = None) -> Rollback:
    """The commit to revert; `repo` defaults to the git checkout at `root`."""
    if track not in state.TRACKS:
        raise ReleaseError(f"--track {track!r}: expected one of {', '.join(state.TRACKS)}")
    if track == "canary" and state.track_version(root, "canary") is None:
        raise ReleaseError(
            "the canary track serves no version (retired or never promoted); nothing to roll back"
        )
    live = read_history(repo or git.GitRepo(root), trailer).live_for(track)
    if live is None:
        raise ReleaseError(f"no live commit with trailer `{trailer}: {track}` on HEAD; nothing to roll back")
    sha, subject = live.applied_by.sha, live.applied_by.subject
    return Rollback(track, sha, subject, f"git revert --no-edit {shlex.quote(sha)}")


def run(root: Path, plan: Rollback, *, repo: git.Git | None = None) -> Rollback:
    try:
        new = (repo or git.GitRepo(root)).revert(plan.sha)
    except git.GitError as exc:
        raise ReleaseError(f"{exc}; the tree is unchanged. Resolve by hand (see ROLLBACK.md)") from exc
    log.info("reverted %s (%s) as %s", plan.sha[:12], plan.subject, new[:12])
    return Rollback(plan.track, plan.sha, plan.subject, plan.command, new)
