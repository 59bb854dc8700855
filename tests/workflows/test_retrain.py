"""The retraining trigger: `modelops retrain` dispatches the train workflow through the REST API."""

from collections.abc import Iterator

import pytest

from modelops.cli import main
from tests.fakes.github_server import FakeGitHub


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    server = FakeGitHub(token="test-token").start()
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/models")
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    yield server
    server.stop()


def test_retrain_dispatches_train_workflow_on_ref(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retrain", "--workflow", "train.yml", "--ref", "main"]) == 0
    assert github.state.dispatches == [{"workflow": "train.yml", "ref": "main"}]
    sent = [r for r in github.requests if r["path"].endswith("/dispatches")]
    assert sent[0]["path"] == "/repos/acme/models/actions/workflows/train.yml/dispatches"
    assert "dispatched train.yml on main" in capsys.readouterr().out


def test_retrain_without_permission_names_it(github: FakeGitHub, capsys: pytest.CaptureFixture[str]) -> None:
    github.fail(403, times=5, path_contains="/dispatches")
    assert main(["retrain", "--ref", "main"]) != 0
    assert "actions: write" in capsys.readouterr().err
    assert github.state.dispatches == []
