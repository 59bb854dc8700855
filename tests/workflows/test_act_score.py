"""score.yml under act: a healthy snapshot is scored and monitored; the zero-filled one fails the job
and opens the data-gate issue, and nothing is published."""

from pathlib import Path

import pytest

from tests.fakes.github_server import FakeGitHub
from tests.workflows import harness as h
from tests.workflows.conftest import Promoted, dispatch_payload

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def zero_filled(project: h.Project) -> str:
    """The feature the incident zero-fills: a nullable float the model declares (tests/helpers/fixture.py)."""
    from modelops.settings import load_settings
    from tests.helpers.fixture import numeric_feature

    return numeric_feature(load_settings(project.root))


def snapshot(project: h.Project, path: Path, seed: int, zero_fill: float = 0.0) -> Path:
    """A snapshot drawn through the project's own model contract (load_data), with the silent
    zero-fill incident in `zero_fill` of its rows."""
    from modelops.contract import load_package
    from modelops.settings import load_settings
    from tests.monitor import incidents

    settings = load_settings(project.root)
    package = load_package(settings)
    frame = package.load_data(package.source(settings, rows=3000, seed=seed))
    frame = incidents.zero_fill(frame, zero_filled(project), zero_fill, seed).drop(
        columns=[settings.features.label]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def manifests(out: Path) -> list[Path]:
    return sorted(out.glob("scored_date=*/run=*/_manifest.json"))


def run_score(promoted: Promoted, fake_github: FakeGitHub, data: Path, out: Path) -> h.ActRun:
    # The session's project serves v1 on the canary track (stable stays empty for the other tests).
    payload = dispatch_payload(input=str(data), track="canary")
    return h.run_act(
        promoted.project,
        "score.yml",
        "workflow_dispatch",
        payload,
        fake_github.url,
        variables={"SCORE_OUTPUT": str(out)},
    )


def test_score_workflow_scores_then_monitors(
    promoted: Promoted, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    data = snapshot(promoted.project, tmp_path / "in" / "healthy.parquet", seed=5)
    before = len(fake_github.state.issues)

    run = run_score(promoted, fake_github, data, tmp_path / "scores")

    assert run.returncode == 0, run.output[-6000:]
    assert len(manifests(tmp_path / "scores")) == 1
    assert "Success - Main Monitor the scores" in run.output, run.output[-4000:]
    assert len(fake_github.state.issues) == before


def test_refusal_fails_the_job_and_opens_the_issue(
    promoted: Promoted, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    data = snapshot(promoted.project, tmp_path / "in" / "zero.parquet", seed=6, zero_fill=0.38)
    before = len(fake_github.state.issues)

    run = run_score(promoted, fake_github, data, tmp_path / "scores")

    assert run.returncode != 0
    assert run.step_failed("Score"), run.output[-6000:]
    issues = fake_github.state.issues[before:]
    assert len(issues) == 1, run.output[-4000:]
    assert zero_filled(promoted.project) in issues[0]["body"] and "data-gate" in issues[0]["labels"]
    assert manifests(tmp_path / "scores") == []
    published = [p for p in (tmp_path / "scores").rglob("*") if p.is_file()]
    assert published == [], "a refused run writes nothing to the output"
