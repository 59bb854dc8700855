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
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def prediction_store(
    root: Path, project: Path, version: int, rows: int, feature: str, fraction: float
) -> str:
    """Served predictions, `feature` zero-filled in `fraction` of them, written to a store the way
    the server's writer does (PredictionStore)."""
    from modelops.records import frame_table
    from modelops.settings import load_settings
    from modelops.store import PredictionStore
    from tests.helpers.fixture import rows as new_rows
    from tests.monitor.incidents import zero_fill

    settings = load_settings(project)
    frame = zero_fill(new_rows(settings, rows, seed=99), feature, fraction)
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
    from modelops.settings import load_settings
    from tests.helpers.fixture import numeric_feature

    root = promoted.project.root
    feature = numeric_feature(load_settings(root))
    store = prediction_store(tmp_path / "store", root, version=1, rows=3000, feature=feature, fraction=0.4)
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
    assert feature in issues[0]["body"]
    assert f"- Predictions: `{store}`" in issues[0]["body"], "judged from the store"
    assert "3000 lines" in issues[0]["body"]
