"""Shared fixtures: a throw-away copy of the project, trained once per session.

`trained_project` is a real git repository with the project's configs, dvc.yaml and the
machinery, with the fixture model package swapped in for the example (tests/fixture_model,
the README's checklist: model `loans`, gradient-boosted trees, its generator with an id, a
timestamp and a segment), a small generated snapshot run through the real DVC pipeline, and
its own embedded MLflow store. Each step's tests build on it instead of mocking the registry,
and none depends on the example: a team that replaces it keeps these green.
Names the tests need are read from settings (tests/helpers/fixture.py).
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.fixture_model import swap

pytest_plugins = ["tests.skip_policy"]  # CI=true: an unlisted skip fails the run
REPO = Path(__file__).resolve().parents[1]
SMALL_ROWS = 8000
SMALL_ITER = 40
# The configured model package (configs/model.yaml `package`, the directory dvc.yaml watches):
# copied only into projects that keep it (`make_project(fixture=False)`).
MODEL_PACKAGE = yaml.safe_load((REPO / "configs/model.yaml").read_text())["package"]
# Copied into every throw-away project; data and stores are created fresh.
PROJECT_FILES = (
    "configs",
    "src/modelops",
    "dvc.yaml",
    ".dvc/config",
    ".dvcignore",
    "k8s",
    "releases",
    "model_cards",
    ".gitignore",
)

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# The contract names `fixture_model.*`: importable here and in every subprocess (DVC stages,
# served processes, act) without installing it.
_FIXTURE_PATH = str(swap.importable())
sys.path.insert(0, _FIXTURE_PATH)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_FIXTURE_PATH, os.environ.get("PYTHONPATH")) if p)


def _git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True, env=env
    ).stdout


def _shrink_source(source: dict[str, object], rows: int) -> None:
    """A generator's source (the example's `rows`) gets `rows`; a source reading a file is kept."""
    if "rows" in source:
        source["rows"] = rows


def _copy_source_data(root: Path, source: dict[str, object]) -> None:
    """A source reading a file or directory of the repository (`path:`, git-ignored data the team
    keeps beside the code) comes along into the copy; URLs and absolute paths are read in place."""
    path = source.get("path")
    if not isinstance(path, str) or "://" in path or Path(path).is_absolute() or not (REPO / path).exists():
        return
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    if (REPO / path).is_dir():
        shutil.copytree(REPO / path, root / path, dirs_exist_ok=True)
    else:
        shutil.copy2(REPO / path, root / path)


def make_project(
    root: Path,
    rows: int = SMALL_ROWS,
    max_iter: int = SMALL_ITER,
    *,
    fixture: bool = True,
    keys: bool = True,
    estimator: str = "hist_gradient_boosting",
) -> Path:
    """Copy the project skeleton into `root`, make it the fixture model's, shrink it, commit it.

    `fixture` (the default): the README's checklist swaps the fixture package in
    (`modelops init` then `swap_in_fixture` with its generator, `rows` rows, `keys` and
    `estimator`); the configured example is not copied. `fixture=False`: the project as
    configured (the conformance test applies the checklist itself; the example's own tests).
    """
    root.mkdir(parents=True, exist_ok=True)
    files = PROJECT_FILES if fixture else (*PROJECT_FILES, f"src/{MODEL_PACKAGE}")
    for rel in files:
        src = REPO / rel
        if not src.exists():
            continue
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
    (root / ".dvc/config").write_text(
        (root / ".dvc/config").read_text().replace("../.dvcstore", str(root / ".dvcstore"))
    )
    if fixture:
        swap.copy_package(root / "src" / swap.PACKAGE)  # init renames, it need not copy
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "chore: throw-away project")
    if fixture:
        from modelops import init

        init.run(root, swap.MODEL, swap.PACKAGE, swap.OWNER)
        swap.swap_in_fixture(root, rows, estimator=estimator, keys=keys, generator=True)
    else:
        edit_yaml(root / "configs/data.yaml", lambda d: _shrink_source(d["source"], rows))
        _copy_source_data(root, yaml.safe_load((root / "configs/data.yaml").read_text())["source"])
    edit_yaml(
        root / "configs/train.yaml",
        lambda d: (
            d["params"].update(max_iter=max_iter) if d["estimator"] == "hist_gradient_boosting" else None,
            d.update(importance_rows=500, threads=1),
        ),
    )
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", f"make it ours: {swap.PACKAGE}" if fixture else "chore: small sizes")
    return root


def edit_yaml(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def modelops_bin() -> str:
    return str(Path(sys.executable).with_name("modelops"))


@dataclass
class Project:
    root: Path
    version: int = 0

    @property
    def settings(self):  # type: ignore[no-untyped-def]
        from modelops.settings import load_settings

        return load_settings(self.root)

    def run(self, *argv: str) -> int:
        from modelops.cli import main

        return main(["--root", str(self.root), *argv])

    def sh(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command in the project, with the venv first on PATH (as DVC stages expect)."""
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        env.pop("MLFLOW_TRACKING_URI", None)
        env.pop("MLFLOW_REGISTRY_URI", None)
        return subprocess.run(cmd, cwd=self.root, env=env, check=check, capture_output=True, text=True)

    def repro(self, *targets: str) -> None:
        out = self.sh(str(Path(sys.executable).with_name("dvc")), "repro", *targets, check=False)
        if out.returncode != 0:
            raise AssertionError(f"dvc repro failed:\n{out.stdout}\n{out.stderr}")

    def create_eval_set(self) -> None:
        """First run, as `make demo` does it: accept a snapshot, cut and pin the eval set, commit."""
        self.repro("validate")
        if self.run("data", "eval-set", "create") != 0:
            raise AssertionError("modelops data eval-set create failed (see stderr)")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "data: pin the evaluation set")

    def train(self, *overrides: str) -> int:
        """Train and register another version with `--set` overrides; return its version."""
        from modelops.settings import load_settings
        from modelops.train.job import train

        # Keep the DVC pipeline's own outputs as they were: this is an extra candidate.
        out = self.root / "artifacts/train"
        saved = {f: f.read_bytes() for f in out.glob("*.json")} if out.is_dir() else {}
        try:
            return train(load_settings(self.root, list(overrides))).version
        finally:
            for f, content in saved.items():
                f.write_bytes(content)

    def git(self, *args: str) -> str:
        return _git(self.root, *args)


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A small project run through `dvc repro` once: data, validation, eval set, split, train, evaluate."""
    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    project = Project(make_project(tmp_path_factory.mktemp("project")))
    project.create_eval_set()
    project.repro()
    import json

    project.version = json.loads((project.root / "artifacts/train/model.json").read_text())["version"]
    yield project
    if saved is not None:
        os.environ["MLFLOW_TRACKING_URI"] = saved


@pytest.fixture
def fresh_project(tmp_path: Path) -> Project:
    """An untrained throw-away project (no data yet)."""
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return Project(make_project(tmp_path / "project"))


# A test that needs a project run through the real DVC pipeline pays minutes of set-up: it is an
# integration test wherever it lives, so `make test-fast` (not integration) stays in seconds.
_PIPELINE_FIXTURES = frozenset({"trained_project", "fresh_project"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _PIPELINE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
