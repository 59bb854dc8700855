"""Canary analysis: split the prediction log by track, judge each, decide promote / hold / roll back.

Each track is judged by `modelops monitor` on its own traffic. The decision compares the two:
an alert on both tracks points at the data or upstream, not at the new model, so it holds.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Action = Literal["promote", "rollback", "hold", "none"]
HEALTHY, ALERT = 0, 1


@dataclass(frozen=True)
class TrackHealth:
    track: str
    version: int | None
    requests: int
    monitor_exit: int | None  # 0 healthy, 1 alert, 2 error, None when not run

    @property
    def status(self) -> str:
        if self.monitor_exit is None:
            return "no traffic" if self.version is not None else "not deployed"
        return {HEALTHY: "healthy", ALERT: "alert"}.get(self.monitor_exit, "error")


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    canary: TrackHealth
    stable: TrackHealth

    def as_dict(self) -> dict[str, object]:
        return asdict(self) | {"canary_status": self.canary.status, "stable_status": self.stable.status}


def decide(canary: TrackHealth, stable: TrackHealth, min_requests: int) -> Decision:
    """Pure rule: roll back a canary that alerts while stable does not; promote a healthy one with traffic."""

    def out(action: Action, reason: str) -> Decision:
        return Decision(action, reason, canary, stable)

    if canary.version is None:
        return out("none", "no canary is deployed")
    if canary.version == stable.version:
        return out("none", f"canary and stable both serve v{canary.version}")
    if canary.monitor_exit not in (None, HEALTHY, ALERT) or stable.monitor_exit not in (None, HEALTHY, ALERT):
        return out("hold", "monitoring could not evaluate a track; fix it before deciding")
    if canary.monitor_exit == ALERT and stable.monitor_exit == ALERT:
        return out("hold", "both tracks alert: the cause is upstream of the model, not the canary")
    if canary.monitor_exit == ALERT:
        return out("rollback", f"canary v{canary.version} alerts while stable is {stable.status}")
    if canary.requests < min_requests:
        return out("hold", f"canary served {canary.requests} requests; {min_requests} needed to judge")
    return out("promote", f"canary v{canary.version} is healthy on {canary.requests} requests")


def split_by_version(
    log: Path, versions: dict[str, int | None], out_dir: Path
) -> dict[str, tuple[Path, int]]:
    """Write each track's lines of the JSONL log to out_dir/<track>/predictions.jsonl; count them.

    Unparseable lines are left to `modelops monitor`, which counts and reports them.
    """
    wanted = {str(v): track for track, v in versions.items() if v is not None}
    paths = {track: out_dir / track / "predictions.jsonl" for track in versions}
    counts = dict.fromkeys(versions, 0)
    handles = {}
    try:
        for track, path in paths.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handles[track] = path.open("w")
        with log.open() as lines:
            for line in lines:
                try:
                    version = str(json.loads(line).get("model_version"))
                except (json.JSONDecodeError, AttributeError):
                    continue
                hit = wanted.get(version)
                if hit is not None:
                    handles[hit].write(line if line.endswith("\n") else line + "\n")
                    counts[hit] += 1
    finally:
        for handle in handles.values():
            handle.close()
    return {track: (paths[track], counts[track]) for track in versions}


def render(decision: Decision) -> str:
    """decision.md: the verdict first, then each track's evidence."""
    rows = "\n".join(
        f"| {h.track} | {'-' if h.version is None else f'v{h.version}'} | {h.requests} | {h.status} |"
        for h in (decision.canary, decision.stable)
    )
    return (
        f"## Canary decision: **{decision.action}**\n\n{decision.reason}.\n\n"
        "| track | version | requests | monitor |\n|---|---|---|---|\n"
        f"{rows}\n\n"
        "Per-track monitoring reports: `canary/` and `stable/` in this run's artifact.\n"
    )
