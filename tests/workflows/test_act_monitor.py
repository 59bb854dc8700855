"""monitor.yml under act: injected drift (the silent zero-fill incident) opens an issue naming the feature."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests.fakes.github_server import FakeGitHub
from tests.workflows import harness as h
from tests.workflows.conftest import Promoted, dispatch_payload

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FEATURE = "days_since_last_login"


def prediction_log(path: Path, version: int, rows: int, zero_fill: float) -> Path:
    from churn.data import generate
    from modelops.settings import Scenario

    frame = generate(
        rows, seed=99, scenario=Scenario(zero_fill_feature=FEATURE, zero_fill_fraction=zero_fill)
    )
    features = [c for c in frame.columns if c not in ("customer_id", "snapshot_at", "churned")]
    scores = np.random.default_rng(0).uniform(0, 1, len(frame))
    with path.open("w") as fh:
        for i, (record, score) in enumerate(zip(frame[features].to_dict("records"), scores, strict=True)):
            line = {
                "request_id": f"r{i}",
                "timestamp": "2026-01-01T00:00:00Z",
                "model_version": str(version),
                "features": {k: (None if v != v else v) for k, v in record.items()},
                "score": float(score),
            }
            fh.write(json.dumps(line, default=str) + "\n")
    return path


def test_monitor_opens_an_issue_on_injected_drift(
    promoted: Promoted, fake_github: FakeGitHub, tmp_path
) -> None:
    log = prediction_log(tmp_path / "predictions.jsonl", version=1, rows=3000, zero_fill=0.4)
    before = len(fake_github.state.issues)

    run = h.run_act(
        promoted.project,
        "monitor.yml",
        "workflow_dispatch",
        dispatch_payload(predictions=str(log)),
        fake_github.url,
    )

    assert run.returncode != 0, "an alert turns the run red"
    assert run.step_failed("Check drift and quality"), run.output[-4000:]
    issues = fake_github.state.issues[before:]
    assert len(issues) == 1, run.output[-4000:]
    assert "monitoring" in issues[0]["labels"]
    assert FEATURE in issues[0]["body"]
