"""Run the real workflow files with act in host mode, offline, against a throw-away copy of the project.

Gotchas found while building this (act 0.2.x, `-P ubuntu-latest=-self-hosted`):
- act copies the repository into $XDG_CACHE_HOME/act/<hash>/hostexecutor and deletes the copy after
  the run. Git-ignored files are NOT copied (data/, .dvcstore/, .mlflow/), so anything a later
  workflow needs must leave the copy through a real channel: `git push` to the bare `origin`, the
  DVC remote, the MLflow store, or the fake GitHub API. That is what GitHub does too.
- `--bind` in host mode gives an empty workspace; don't use it.
- act skips `actions/checkout` of the repository itself (and copies the tree) only when the step has
  no `ref:`; with one it runs the mapped stand-in against an EMPTY workspace, so the stand-in clones
  that ref from the bare origin. Every remote action must be mapped with
  `--local-repository owner/repo@sha=DIR` (the stand-ins in ./standins) or act tries to clone it.
- github.repository comes from the `origin` remote URL; a local path is not owner/repo, so act
  falls back to a default and GITHUB_REPOSITORY is passed explicitly instead.
- Host-mode steps inherit the host environment; --env/--var/-s values are layered on top.
- With MLFLOW_TRACKING_URI set, MLflow puts run artifacts under ./mlruns of the (deleted) copy
  unless the experiment already has an artifact location, so the harness creates it first.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import SMALL_ITER, SMALL_ROWS
from tests.fixture_model import swap

PROJECT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("MODELOPS_TEST_VENV", PROJECT / ".venv"))
ACT = VENV / "bin" / "act"
STANDINS = Path(__file__).parent / "standins"
REPOSITORY = "acme/models"
TOKEN = "ghs_test_token_not_a_secret"
_SKIP_TOP = {".venv", ".mlflow", "mlruns", "data", "artifacts", ".dvcstore", "out", ".git"}
_SKIP_ANY = {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
_USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})")
# Small and quick, but large enough for the gate's slices and bootstrap to mean something.
# Same sizes as tests/conftest.py make_project (the fixture's generator takes them as they are).
SMALL = {
    "configs/train.yaml": {"params.max_iter": SMALL_ITER, "importance_rows": 500, "threads": 1},
}


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> str:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout.strip()


def git(repo: Path, *args: str) -> str:
    return run(["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args], repo)


def project_files() -> list[str]:
    listed = run(["git", "ls-files", "-co", "--exclude-standard"], PROJECT).splitlines()
    keep = []
    for rel in listed:
        parts = Path(rel).parts
        if parts[0] in _SKIP_TOP or _SKIP_ANY & set(parts) or not (PROJECT / rel).is_file():
            continue
        keep.append(rel)
    return keep


def set_yaml(path: Path, dotted: str, value: Any) -> None:
    import yaml

    data = yaml.safe_load(path.read_text())
    node = data
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@dataclass
class Project:
    """A git clone of the project with a bare `origin`, a DVC remote and an MLflow store under tmp."""

    tmp: Path
    root: Path
    origin: Path
    mlflow_uri: str
    artifacts: Path = field(init=False)

    def __post_init__(self) -> None:
        self.artifacts = self.tmp / "uploaded"

    def env(self) -> dict[str, str]:
        # MLflow writes MLFLOW_REGISTRY_URI into os.environ when a test configures it in-process.
        inherited = {k: v for k, v in os.environ.items() if k != "MLFLOW_REGISTRY_URI"}
        return inherited | {
            "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "MLFLOW_TRACKING_URI": self.mlflow_uri,
            "OMP_NUM_THREADS": "1",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "GIT_AUTHOR_NAME": "dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "dev",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
        }

    def modelops(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        return run([str(VENV / "bin" / "modelops"), *args], cwd or self.root, self.env(), check=check)

    @property
    def model(self) -> str:
        """The registered model name (configs/model.yaml `name` of the copy)."""
        from modelops.settings import load_settings

        return load_settings(self.root).model.name

    def head(self) -> str:
        return git(self.root, "rev-parse", "HEAD")

    def commit_all(self, message: str) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", message)
        git(self.root, "push", "-q", "origin", "HEAD")
        return self.head()

    def clone(self, branch: str, dst: Path) -> Path:
        run(["git", "clone", "-q", "--branch", branch, str(self.origin), str(dst)], self.tmp)
        return dst


def make_it_ours(root: Path) -> None:
    """The README's checklist on the committed copy, as tests/conftest.py make_project applies it:
    `modelops init` (it needs a clean tree), then the fixture package in for the example, with
    its generator (SMALL_ROWS rows), an id, a timestamp, a segment and gradient-boosted trees.
    The workflows' processes import `fixture_model` through the PYTHONPATH tests/conftest.py sets."""
    from modelops import init

    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "the template as cloned")
    init.run(root, swap.MODEL, swap.PACKAGE, swap.OWNER)
    swap.swap_in_fixture(root, SMALL_ROWS, estimator="hist_gradient_boosting", keys=True, generator=True)


def make_project(tmp: Path) -> Project:
    """Copy the working tree (no venv, stores or data), make it the fixture model's, shrink it,
    commit, and push the data."""
    root, origin = tmp / "repo", tmp / "origin.git"
    for rel in project_files():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT / rel, root / rel)
    make_it_ours(root)
    for rel, changes in SMALL.items():
        for key, value in changes.items():
            set_yaml(root / rel, key, value)
    # An absolute DVC remote outside the repo: act's copy of the workspace must reach it too.
    dvcstore = tmp / "dvcstore"
    config = root / ".dvc" / "config"
    config.write_text(re.sub(r"url = .*", f"url = {dvcstore}", config.read_text()))
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp)
    git(root, "remote", "add", "origin", str(origin))
    project = Project(tmp, root, origin, f"sqlite:///{tmp / 'mlflow' / 'mlflow.db'}")
    (tmp / "mlflow").mkdir()
    create_experiment(project)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    # The developer's side of the contract: the first snapshot validated, the evaluation set cut
    # and pinned once (as `make demo` does), data stages reproduced, pushed, dvc.lock committed.
    run([str(VENV / "bin" / "dvc"), "repro", "-q", "validate"], root, project.env())
    project.modelops("data", "eval-set", "create")
    run([str(VENV / "bin" / "dvc"), "repro", "-q", "split"], root, project.env())
    run([str(VENV / "bin" / "dvc"), "push", "-q"], root, project.env())
    project.commit_all("data: snapshot")
    return project


def create_experiment(project: Project) -> None:
    code = (
        "import mlflow, sys; mlflow.set_tracking_uri(sys.argv[1]); "
        "mlflow.create_experiment(sys.argv[2], artifact_location=sys.argv[3])"
    )
    location = (project.tmp / "mlflow" / "artifacts").as_uri()
    run([sys.executable, "-c", code, project.mlflow_uri, project.model, location], project.tmp, project.env())


def pinned_actions() -> dict[str, str]:
    """owner/repo@sha -> stand-in dir, for every pinned action the workflows and local actions use."""
    mapping = {}
    for path in [*(PROJECT / ".github").rglob("*.yml"), *(PROJECT / ".github").rglob("*.yaml")]:
        for repo, sha in _USES.findall(path.read_text()):
            standin = STANDINS / repo.split("/", 1)[1]
            if not (standin / "action.yml").is_file():
                raise FileNotFoundError(f"{path}: no stand-in for {repo} under {STANDINS}")
            mapping[f"{repo}@{sha}"] = str(standin)
    return mapping


@dataclass(frozen=True)
class ActRun:
    returncode: int
    output: str

    def step_failed(self, name: str) -> bool:
        return any("Failure - Main " + name in line for line in self.output.splitlines())


def payload_file(tmp: Path, name: str, payload: dict[str, Any]) -> Path:
    path = tmp / "payloads" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))
    return path


def run_act(
    project: Project,
    workflow: str,
    event: str,
    payload: dict[str, Any],
    api_url: str = "http://127.0.0.1:9",
    variables: dict[str, str] | None = None,
    timeout: float = 1200,
) -> ActRun:
    """`act EVENT -W .github/workflows/WORKFLOW` in host mode with the stand-ins, offline."""
    event_path = payload_file(project.tmp, f"{workflow}-{event}", payload)
    cmd = [str(ACT), event, "-W", f".github/workflows/{workflow}", "-e", str(event_path)]
    cmd += ["-P", "ubuntu-latest=-self-hosted", "--pull=false", "--no-cache-server"]
    for action, path in pinned_actions().items():
        cmd += ["--local-repository", f"{action}={path}"]
    env = {
        "MODELOPS_VENV": str(VENV),
        "MODELOPS_PREINSTALLED": "true",
        "GITHUB_API_URL": api_url,
        "GITHUB_REPOSITORY": REPOSITORY,
        "ACT_ARTIFACTS": str(project.artifacts),
        "ACT_ORIGIN": str(project.origin),
        "OMP_NUM_THREADS": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    for key, value in env.items():
        cmd += ["--env", f"{key}={value}"]
    for key, value in ({"MLFLOW_TRACKING_URI": project.mlflow_uri} | (variables or {})).items():
        cmd += ["--var", f"{key}={value}"]
    cmd += ["-s", f"GITHUB_TOKEN={TOKEN}"]
    for key, value in (payload.get("inputs") or {}).items():
        cmd += ["--input", f"{key}={value}"]
    host_env = project.env() | {"XDG_CACHE_HOME": str(project.tmp / "act-cache")}
    out = subprocess.run(
        cmd, cwd=project.root, env=host_env, capture_output=True, text=True, timeout=timeout, check=False
    )
    log = project.tmp / "act-logs" / f"{workflow}-{event}-{len(list(project.tmp.glob('act-logs/*')))}.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(out.stdout + out.stderr)
    return ActRun(out.returncode, out.stdout + out.stderr)
