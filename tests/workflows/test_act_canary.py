"""canary.yml under act: a real Prometheus and a real prediction store decide, the proposal lands on GitHub.

The project is the one promote.yml left (tests/workflows/conftest.py `promoted`): v1 serves the
canary track and nothing serves stable yet (a first release), so the canary's live metrics are
judged against configs/canary.yaml's absolute limits, and its monitoring against v1's training
data. The canary's served predictions sit in a local prediction store (vars.PREDICTION_STORE),
scored by v1's registered model; an hour of its /predict traffic is recorded into a real
Prometheus (tests/prometheus/history.py; vars.PROMETHEUS_URL). The workflow runs with
`--propose`: healthy opens the canary-to-stable PR, a canary over the error budget the revert PR.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.github_server import FakeGitHub
from tests.prometheus.history import Traffic, recorded
from tests.workflows import harness as h
from tests.workflows.conftest import Promoted, dispatch_payload

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROWS = 2000  # served predictions in the store, above monitoring's min_rows
RATE = 2.0  # canary requests per second: ~7,200 in the hour, above min_requests


def write_store(project: h.Project, store: str, rows: int, tmp: Path) -> None:
    """The canary's served predictions, scored by the model it serves, stored as the server stores them."""
    from modelops.adapters.tracking import MlflowRegistry, load_verified
    from modelops.records import frame_table
    from modelops.release import record
    from modelops.release.state import track_version
    from modelops.settings import load_settings
    from modelops.store import PredictionStore
    from tests.helpers.fixture import rows as new_rows

    settings = load_settings(project.root)
    version = track_version(project.root, "canary")
    assert version is not None
    released = record.read(project.root, settings.model.name, version)
    registry = MlflowRegistry.for_root(project.root, project.env())  # the project's registry, not ours
    model = load_verified(
        registry,
        registry.get_version(settings.model.name, version),
        tmp,
        released.model.sha256,
        settings.model.skops_trusted_types,
    )
    frame = new_rows(settings, rows, seed=314)  # rows the model never saw, from the same population
    table = frame_table(
        frame,
        model.predict_proba(frame[settings.features.names])[:, 1],
        features=settings.features,
        model_name=settings.model.name,
        model_version=str(version),
        request_ids=[f"canary-{i}" for i in range(len(frame))],
        timestamp=datetime.now(UTC) - timedelta(minutes=10),  # inside the canary window
        source="online",
    )
    PredictionStore(store).write(table)


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    """Its own fake GitHub: the session's one collects other workflows' PRs (rollback.yml counts its own)."""
    server = FakeGitHub(token=h.TOKEN).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def store(promoted: Promoted, tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("canary-store")
    write_store(promoted.project, str(tmp / "store"), ROWS, tmp / "model")
    return str(tmp / "store")


def run_canary(
    promoted: Promoted, github: FakeGitHub, store: str, canary: Traffic, tmp: Path
) -> tuple[h.ActRun, Any]:
    """canary.yml, dispatched, reading the store and a Prometheus holding the canary's last hour."""
    project = promoted.project
    with recorded([canary], tmp / "prometheus") as prom:
        run = h.run_act(
            project,
            "canary.yml",
            "workflow_dispatch",
            dispatch_payload(),
            github.url,
            variables={"PROMETHEUS_URL": prom.url, "PREDICTION_STORE": store},
        )
    assert run.returncode == 0, run.output[-5000:]
    (decision,) = project.artifacts.glob("canary-*/canary-report/decision.json")
    out = json.loads(decision.read_text())
    decision.unlink()  # the next run's artifact is its own
    return run, out


def test_healthy_canary_is_proposed_for_stable(
    promoted: Promoted, github: FakeGitHub, store: str, tmp_path: Path
) -> None:
    run, decision = run_canary(promoted, github, store, Traffic(version=1, rate=RATE), tmp_path)

    assert decision["action"] == "promote", decision["reason"]
    canary = decision["canary"]
    assert canary["version"] == 1 and canary["live"]["requests"] > 1000
    assert (canary["monitor"], canary["monitor_rows"]) == ("healthy", ROWS), "judged from the store"
    assert {c["verdict"] for c in decision["comparisons"]} == {"pass"}
    (pull,) = [p for p in github.state.pulls if p["head"] == f"promote/{promoted.project.model}-v1-stable"]
    assert pull["base"] == "main" and "stable" in pull["title"]
    clone = promoted.project.clone(pull["head"], tmp_path / "proposal")
    assert "MODEL_VERSION=1" in (clone / "k8s/overlays/production/model.env").read_text()
    assert not [p for p in github.state.pulls if p["head"].startswith("rollback/")], run.output[-3000:]


def test_canary_over_the_error_budget_is_proposed_for_rollback(
    promoted: Promoted, github: FakeGitHub, store: str, tmp_path: Path
) -> None:
    failing = Traffic(version=1, rate=RATE, error_ratio=0.08)  # configs/canary.yaml allows 2% 5xx
    before = len(github.state.pulls)
    _, decision = run_canary(promoted, github, store, failing, tmp_path)

    assert decision["action"] == "rollback", decision["reason"]
    errors = {c["metric"]: c for c in decision["comparisons"]}["error_ratio"]
    assert errors["verdict"] == "fail" and errors["canary"] > 0.05
    # The same store still judges the canary's predictions healthy: the live metrics decided.
    assert decision["canary"]["monitor"] == "healthy"
    (pull,) = github.state.pulls[before:]
    assert pull["head"].startswith("rollback/canary-") and pull["base"] == "main"
    assert "error_ratio" in pull["body"], "the PR says why"
    clone = promoted.project.clone(pull["head"], tmp_path / "proposal")
    assert "MODEL_VERSION=\n" in (clone / "k8s/overlays/canary/model.env").read_text(), "canary retired"
    assert (clone / f"releases/{promoted.project.model}/v1.yaml").is_file(), "the record stays"
