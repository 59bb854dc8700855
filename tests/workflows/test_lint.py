"""The workflow linters report nothing of medium severity or above, and the security rules hold."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.workflows.harness import PROJECT, VENV

GITHUB = PROJECT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
EXPECTED = {"ci", "train", "gate", "promote", "canary", "rollback", "monitor"}


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, check=False)


def _load(path: Path) -> dict:
    # PyYAML reads the bare key `on` as True.
    return {("on" if k is True else k): v for k, v in yaml.safe_load(path.read_text()).items()}


def test_every_lifecycle_workflow_exists() -> None:
    assert {p.stem for p in WORKFLOWS} == EXPECTED


def test_zizmor_offline_finds_nothing_medium_or_above() -> None:
    out = _run(
        str(VENV / "bin/zizmor"), "--offline", "--min-severity", "medium", "--format", "plain", ".github"
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_actionlint_is_clean() -> None:
    out = _run(str(VENV / "bin/actionlint"), *map(str, WORKFLOWS))
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("schema", "files"), [("vendor.github-workflows", WORKFLOWS), ("vendor.github-actions", ACTIONS)]
)
def test_builtin_github_schemas_validate(schema: str, files: list[Path]) -> None:
    out = _run(str(VENV / "bin/check-jsonschema"), "--builtin-schema", schema, *map(str, files))
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_security_defaults(path: Path) -> None:
    wf = _load(path)
    assert wf["permissions"] == {}, "top-level permissions must be {}"
    assert "pull_request_target" not in wf["on"]
    for name, job in wf["jobs"].items():
        assert "permissions" in job, f"job {name} must grant its own minimal permissions"
        for step in job["steps"]:
            uses = step.get("uses", "")
            if uses.startswith("actions/checkout"):
                assert step["with"]["persist-credentials"] is False, f"{name}: persist-credentials"
            if uses and not uses.startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), f"{name}: {uses} not SHA-pinned"
            assert "${{ github.event" not in step.get("run", ""), f"{name}: event field interpolated into run"


def test_release_workflows_never_cancel_in_progress() -> None:
    # Which groups may meet (a rollback must never share one) is checked in
    # tests/release/test_workflow_concurrency.py; here: no release run is cancelled midway.
    for path in WORKFLOWS:
        if path.stem not in {"promote", "canary", "rollback"}:
            continue
        doc = _load(path)
        nodes = [doc, *doc["jobs"].values()]
        found = [n["concurrency"] for n in nodes if n.get("concurrency")]
        assert found, f"{path.name}: no concurrency group"
        assert all(c["cancel-in-progress"] is False for c in found), path.name


def test_secrets_only_in_jobs_with_an_environment() -> None:
    for path in WORKFLOWS:
        for name, job in _load(path)["jobs"].items():
            if "secrets." in yaml.safe_dump(job):
                assert job.get("environment"), f"{path.name}:{name} reads secrets outside an environment"


def test_pre_commit_hooks_are_local() -> None:
    config = yaml.safe_load((PROJECT / ".pre-commit-config.yaml").read_text())
    assert {r["repo"] for r in config["repos"]} == {"local"}
    ids = {h["id"] for r in config["repos"] for h in r["hooks"]}
    assert {
        "ruff-check",
        "ruff-format",
        "zizmor",
        "actionlint",
        "check-github-workflows",
        "release-verify",
    } <= ids


def test_codeowners_guard_releases() -> None:
    owners = (GITHUB / "CODEOWNERS").read_text()
    for path in ("/releases/", "/model_cards/", "/k8s/overlays/production/"):
        assert re.search(rf"^{re.escape(path)}\s+@", owners, re.M), path


def test_ci_and_ci_run_install_system_packages_through_one_script() -> None:
    steps = [
        s.get("run", "") for job in _load(GITHUB / "workflows/ci.yml")["jobs"].values() for s in job["steps"]
    ]
    install = next(i for i, run in enumerate(steps) if "bash .ci/system-deps.sh" in run)
    assert install < next(i for i, run in enumerate(steps) if "make test" in run)
    assert "bash .ci/system-deps.sh" in (PROJECT / ".ci/run").read_text()
