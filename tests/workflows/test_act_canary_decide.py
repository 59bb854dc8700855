"""`modelops canary decide` on the promoted project: each track is judged by the monitoring job,
called as a function (no CLI re-entry), and the decision is written for the workflow."""

import json
from pathlib import Path

import pytest

from modelops.cli import main
from tests.workflows.conftest import Promoted
from tests.workflows.test_act_monitor import prediction_log

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_canary_decide_judges_the_canary_track_with_the_monitoring_job(
    promoted: Promoted, tmp_path: Path
) -> None:
    root = promoted.project.root
    log = prediction_log(tmp_path / "predictions.jsonl", version=1, rows=600, zero_fill=0.0)
    out = tmp_path / "canary"
    argv = ["--root", str(root), "canary", "decide", "--predictions", str(log), "--out", str(out)]
    assert main([*argv, "--min-requests", "100"]) == 0
    decision = json.loads((out / "decision.json").read_text())
    assert decision["canary"]["version"] == 1 and decision["canary"]["requests"] == 600
    # The monitoring job ran on the canary's 600 lines: a verdict, not an error and not "not run".
    assert decision["canary_status"] in {"healthy", "alert"}, decision
    summary = json.loads((out / "canary" / "summary.json").read_text())
    assert summary["versions"][0]["model_version"] in (1, "1") and summary["lines"] == 600
    assert decision["action"] == {"healthy": "promote", "alert": "rollback"}[decision["canary_status"]]
