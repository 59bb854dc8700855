"""The canary decision rule and the log split, without MLflow, git or HTTP."""

import json
from pathlib import Path

import pytest

from modelops.workflows.canary import TrackHealth, decide, render, split_by_version


def health(track: str, version: int | None, requests: int, code: int | None) -> TrackHealth:
    return TrackHealth(track, version, requests, code)


@pytest.mark.parametrize(
    ("canary", "stable", "action"),
    [
        (health("canary", 2, 5000, 0), health("stable", 1, 9000, 0), "promote"),
        (health("canary", 2, 5000, 1), health("stable", 1, 9000, 0), "rollback"),
        (health("canary", 2, 5000, 1), health("stable", 1, 9000, 1), "hold"),
        (health("canary", 2, 10, 0), health("stable", 1, 9000, 0), "hold"),
        (health("canary", 2, 5000, 2), health("stable", 1, 9000, 0), "hold"),
        (health("canary", None, 0, None), health("stable", 1, 9000, 0), "none"),
        (health("canary", 1, 5000, 0), health("stable", 1, 9000, 0), "none"),
    ],
)
def test_decide(canary: TrackHealth, stable: TrackHealth, action: str) -> None:
    decision = decide(canary, stable, min_requests=1000)
    assert decision.action == action
    assert decision.action in render(decision)


def test_a_canary_alert_rolls_back_even_with_little_traffic() -> None:
    assert decide(health("canary", 2, 5, 1), health("stable", 1, 9000, 0), 1000).action == "rollback"


def test_split_by_version_counts_each_track(tmp_path: Path) -> None:
    log = tmp_path / "p.jsonl"
    lines = [{"model_version": "2"}, {"model_version": "1"}, {"model_version": "2"}, {"model_version": "9"}]
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    split = split_by_version(log, {"canary": 2, "stable": 1}, tmp_path / "out")
    assert split["canary"][1] == 2 and split["stable"][1] == 1
    assert len(split["canary"][0].read_text().splitlines()) == 2
