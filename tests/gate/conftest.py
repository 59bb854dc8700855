"""Fixtures for the gate: the fake GitHub API, and gates.yaml edits on the shared project."""

from collections.abc import Iterator

import pytest

from tests.fakes.github_server import FakeGitHub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    server = FakeGitHub(token="test-token").start()
    yield server
    server.stop()


@pytest.fixture
def github_env(fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, tmp_path) -> FakeGitHub:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/loans")
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    return fake_github
