"""No other workflow's events can cancel or supersede a rollback run (checked on the workflow files).

GitHub keeps at most one running and one pending run per concurrency group, and a newly queued
run cancels the pending one. So a rollback is safe only if (a) no other workflow can ever land in
its group, (b) it never cancels in progress, and (c) promote.yml, which starts on every `labeled`
event, enters a group only after its event filter (job level), never at workflow level.
"""

import re
from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
ROLLBACK, PROMOTE = "rollback.yml", "promote.yml"
_EXPR = re.compile(r"\$\{\{.*?\}\}")


def groups(doc: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(where, group, cancel-in-progress) for the workflow-level and every job-level concurrency."""
    found = []
    for where, node in [("workflow", doc), *((f"job {k}", v) for k, v in (doc.get("jobs") or {}).items())]:
        conc = node.get("concurrency")
        if isinstance(conc, str):
            found.append((where, conc, False))
        elif isinstance(conc, dict):
            found.append((where, str(conc["group"]), bool(conc.get("cancel-in-progress", False))))
    return found


def could_collide(a: str, b: str) -> bool:
    """Whether two group templates can evaluate to the same string (expressions may be anything)."""
    pa, pb = _EXPR.split(a, 1)[0], _EXPR.split(b, 1)[0]
    literal_a, literal_b = not _EXPR.search(a), not _EXPR.search(b)
    if literal_a and literal_b:
        return a == b
    if literal_a:
        return a.startswith(pb)
    if literal_b:
        return b.startswith(pa)
    return pa.startswith(pb) or pb.startswith(pa)


def triggers(doc: dict[Any, Any]) -> dict[str, Any]:
    on = doc.get("on", doc.get(True))  # PyYAML reads the bare key `on` as True
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on or {})


def problems(workflows: dict[str, dict[str, Any]]) -> list[str]:
    found = []
    rollback_groups = groups(workflows[ROLLBACK])
    if not rollback_groups:
        found.append(f"{ROLLBACK}: no concurrency group (two rollbacks of a track would race)")
    for where, group, cancel in rollback_groups:
        if cancel:
            found.append(f"{ROLLBACK} {where}: cancel-in-progress would let a rollback cancel a rollback")
        for name, doc in workflows.items():
            if name == ROLLBACK:
                continue
            for other_where, other, _ in groups(doc):
                if could_collide(group, other):
                    found.append(
                        f"{name} {other_where}: group {other!r} can equal {ROLLBACK}'s {group!r}, "
                        "so its runs could cancel a pending rollback"
                    )
    for name, doc in workflows.items():
        labeled = "labeled" in str((triggers(doc).get("pull_request") or {}).get("types", ""))
        if labeled and doc.get("concurrency"):
            found.append(
                f"{name}: workflow-level concurrency on a `labeled` trigger: every label event queues"
            )
    promote_jobs = [(k, j) for k, j in workflows[PROMOTE]["jobs"].items() if j.get("concurrency")]
    for key, job in promote_jobs:
        if "github.event.label.name" not in str(job.get("if", "")):
            found.append(f"{PROMOTE} job {key}: concurrency without the label filter in its `if:`")
    return found


def load_all() -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(WORKFLOWS.glob("*.yml"))}


def test_no_other_workflow_can_cancel_or_supersede_a_rollback() -> None:
    workflows = load_all()
    assert {ROLLBACK, PROMOTE} <= set(workflows)
    assert problems(workflows) == []
    (_where, group, cancel), *_ = groups(workflows[ROLLBACK])
    assert group.startswith("rollback-") and "inputs.track" in group and not cancel


def test_the_check_catches_the_shared_release_group_and_workflow_level_label_runs() -> None:
    """The layout this replaced (one workflow-level `release` group for both) fails the check."""
    workflows = load_all()
    shared = {"group": "release", "cancel-in-progress": False}
    workflows[ROLLBACK] = {**workflows[ROLLBACK], "concurrency": shared}
    workflows[PROMOTE] = {**workflows[PROMOTE], "concurrency": shared}
    found = "\n".join(problems(workflows))
    assert f"{PROMOTE} workflow: group 'release' can equal {ROLLBACK}'s 'release'" in found
    assert f"{PROMOTE}: workflow-level concurrency on a `labeled` trigger" in found
    # Expressions are treated as "could be anything" around their literal prefix.
    assert could_collide("rollback-${{ inputs.track }}", "rollback-canary")
    assert could_collide("rollback-${{ inputs.track }}", "${{ github.workflow }}")
    assert not could_collide("rollback-${{ inputs.track }}", "gate-${{ github.event.pull_request.number }}")
    assert not could_collide("rollback-${{ inputs.track }}", "release")
