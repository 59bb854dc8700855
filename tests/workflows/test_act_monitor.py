"""monitor.yml under act: injected drift (the silent zero-fill incident) in the prediction store
opens an issue naming the feature."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.fakes.github_server import FakeGitHub
from tests.workflows import harness as h
from tests.workflows.conftest import Promoted, dispatch_payload

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FEATURE = "days_since_last_login"
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def prediction_store(root: Path, project: Path, version: int, rows: int, zero_fill: float) -> str:
    """Served predictions written to a store the way the server's writer does (PredictionStore)."""
    from churn.data import Scenario, generate
    from modelops.records import frame_table
    from modelops.settings import load_settings
    from modelops.store import PredictionStore

    settings = load_settings(project)
    frame = generate(
        rows, seed=99, scenario=Scenario(zero_fill_feature=FEATURE, zero_fill_fraction=zero_fill)
    )
    table = frame_table(
        frame,
        np.random.default_rng(0).uniform(0, 1, len(frame)),
        features=settings.features,
        model_name=settings.model.name,
        model_version=str(version),
        request_ids=[f"r{i}" for i in range(rows)],
        timestamp=WHEN,
        source="online",
    )
    PredictionStore(str(root)).write(table)
    return str(root)


def test_monitor_opens_an_issue_on_injected_drift(
    promoted: Promoted, fake_github: FakeGitHub, tmp_path
) -> None:
    store = prediction_store(tmp_path / "store", promoted.project.root, version=1, rows=3000, zero_fill=0.4)
    before = len(fake_github.state.issues)

    run = h.run_act(
        promoted.project,
        "monitor.yml",
        "workflow_dispatch",
        dispatch_payload(store=store, since=(WHEN - timedelta(hours=1)).isoformat()),
        fake_github.url,
    )

    assert run.returncode != 0, "an alert turns the run red"
    assert run.step_failed("Check drift and quality"), run.output[-4000:]
    issues = fake_github.state.issues[before:]
    assert len(issues) == 1, run.output[-4000:]
    assert "monitoring" in issues[0]["labels"]
    assert FEATURE in issues[0]["body"]
    assert f"- Predictions: `{store}`" in issues[0]["body"], "judged from the store"
    assert "3000 lines" in issues[0]["body"]
