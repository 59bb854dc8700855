"""One behaviour, two registries: the in-memory fake and a real MLflow store (SQLite under tmp_path).

Every test here runs against both, so the fake the fast gate/promote tests rely on cannot drift
from what MLflow does.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelops.adapters.tracking import MlflowRegistry, Registry
from modelops.digest import directory_sha256
from modelops.errors import NotRegistered
from tests.fakes.registry_memory import InMemoryRegistry


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> MlflowRegistry:
    """One SQLite store for the module (creating its tables takes seconds); each test its own model name."""
    return MlflowRegistry.for_root(tmp_path_factory.mktemp("project"), env={})


@pytest.fixture(params=["memory", pytest.param("mlflow", marks=pytest.mark.integration)])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    if request.param == "memory":
        yield InMemoryRegistry(tmp_path / "memory")
    else:  # only now: the fast (memory) half never opens an MLflow store
        yield request.getfixturevalue("mlflow_store")


@pytest.fixture
def m(request: pytest.FixtureRequest) -> str:
    """A model name of this test's own, so tests sharing the MLflow store never see each other's versions."""
    return "m-" + request.node.name.replace("[", "-").rstrip("]")


def _model_dir(tmp: Path, content: str) -> Path:
    d = tmp / f"src-{content}"
    (d / "sub").mkdir(parents=True)
    (d / "MLmodel").write_text(f"flavors: {{}}\n# {content}\n")
    (d / "sub" / "weights.bin").write_bytes(content.encode() * 3)
    return d


def test_register_numbers_versions_and_keeps_run_and_tags(registry: Registry, m: str, tmp_path: Path) -> None:
    run = registry.create_run("exp", {"alpha": "0.5"}, {"git_sha": "abc"})
    first = registry.register(m, run, _model_dir(tmp_path, "one"), {"k": "v"})
    second = registry.register(m, registry.create_run("exp", {}, {}), _model_dir(tmp_path, "two"))
    assert (first.version, second.version) == (1, 2)
    got = registry.get_version(m, 1)
    assert (got.name, got.version, got.run_id, got.tags) == (m, 1, run, {"k": "v"})
    assert got.uri == f"models:/{m}/1"
    assert registry.get_version(m, "2").run_id != run
    assert re.fullmatch("[0-9a-f]{32}", run)  # release records validate the shape


def test_download_model_returns_the_registered_bytes(registry: Registry, m: str, tmp_path: Path) -> None:
    src = _model_dir(tmp_path, "weights")
    mv = registry.register(m, registry.create_run("exp", {}, {}), src)
    local = registry.download_model(mv, tmp_path / "dl")
    assert (local / "MLmodel").is_file()
    assert directory_sha256(local) == directory_sha256(src)


def test_unknown_version_or_model_is_not_registered_naming_it(
    registry: Registry, m: str, tmp_path: Path
) -> None:
    registry.register(m, registry.create_run("exp", {}, {}), _model_dir(tmp_path, "x"))
    with pytest.raises(NotRegistered, match=rf"model '{m}' version 7 is not registered"):
        registry.get_version(m, 7)
    with pytest.raises(NotRegistered, match=r"model 'nope' version 1 is not registered"):
        registry.get_version("nope", 1)
    assert registry.search_versions("nope") == []


def test_tags_are_set_as_strings_and_searched_newest_first(
    registry: Registry, m: str, tmp_path: Path
) -> None:
    for i in range(3):
        registry.register(m, registry.create_run("exp", {}, {}), _model_dir(tmp_path, str(i)))
    registry.set_version_tags(m, 1, {"git_sha": "abc", "n": 1})  # type: ignore[dict-item]
    registry.set_version_tags(m, 3, {"git_sha": "abc", "git_dirty": "false"})
    registry.set_version_tags(m, 2, {"git_sha": "def"})
    assert registry.get_version(m, 1).tags == {"git_sha": "abc", "n": "1"}
    assert [v.version for v in registry.search_versions(m, {"git_sha": "abc"})] == [3, 1]
    assert [v.version for v in registry.search_versions(m, {"git_sha": "abc", "git_dirty": "false"})] == [3]
    assert [v.version for v in registry.search_versions(m)] == [3, 2, 1]
    assert registry.search_versions(m, {"git_sha": "zzz"}) == []
    with pytest.raises(NotRegistered):
        registry.set_version_tags(m, 9, {"a": "b"})


def test_run_data_and_artifacts_round_trip(registry: Registry, m: str, tmp_path: Path) -> None:
    run = registry.create_run("exp", {"alpha": "0.5"}, {"git_sha": "abc"})
    registry.log_metrics(run, {"valid_auc": 0.75, "n": 3})
    data = registry.run_data(run)
    assert data.params == {"alpha": "0.5"}
    assert data.metrics == {"valid_auc": 0.75, "n": 3.0}
    assert data.tags["git_sha"] == "abc"
    assert registry.run_experiment_id(run) is not None
    report = tmp_path / "gate.json"
    report.write_text('{"verdict": "pass"}')
    registry.log_artifact(run, report, "gate")
    got = registry.download_run_artifact(run, "gate/gate.json", tmp_path / "dl")
    assert got is not None and got.read_text() == '{"verdict": "pass"}'
    assert registry.download_run_artifact(run, "gate/absent.json", tmp_path / "dl2") is None


@pytest.mark.integration
def test_two_mlflow_stores_coexist_and_leave_process_state_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The adapter holds its own client: no global tracking URI, no os.environ write."""
    import os

    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # MLflow's fallback store is ./mlflow.db: nothing may land here
    before = mlflow.get_tracking_uri()  # that fallback, resolved against the working directory
    a = MlflowRegistry.for_root(tmp_path / "a", env={})
    b = MlflowRegistry.for_root(tmp_path / "b", env={})
    a.register("m", a.create_run("exp", {}, {}), _model_dir(tmp_path, "a1"))
    a.register("m", a.create_run("exp", {}, {}), _model_dir(tmp_path, "a2"))
    b.register("m", b.create_run("exp", {}, {}), _model_dir(tmp_path, "b1"))
    assert [v.version for v in a.search_versions("m")] == [2, 1]
    assert [v.version for v in b.search_versions("m")] == [1]
    assert directory_sha256(b.download_model(b.get_version("m", 1), tmp_path / "dl")) == directory_sha256(
        _model_dir(tmp_path / "again", "b1")
    )
    assert mlflow.get_tracking_uri() == before
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
    # the embedded stores keep their artifacts beside them, not in the working directory
    assert (tmp_path / "a" / ".mlflow" / "artifacts").is_dir()
    assert list(cwd.iterdir()) == []


@pytest.mark.integration
def test_fluent_block_points_mlflow_at_the_store_and_puts_everything_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    reg = MlflowRegistry.for_root(tmp_path, env={})
    with reg.fluent():
        assert mlflow.get_tracking_uri() == reg.tracking_uri
        with mlflow.start_run(experiment_id=reg.ensure_experiment("exp")) as run:
            mlflow.log_param("p", "1")
    assert reg.run_data(run.info.run_id).params == {"p": "1"}
    assert os.environ["MLFLOW_TRACKING_URI"] == "sqlite:///elsewhere.db"
    assert "MLFLOW_REGISTRY_URI" not in os.environ
    assert mlflow.get_tracking_uri() == "sqlite:///elsewhere.db"
