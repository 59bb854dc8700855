"""Offline at run time: `make demo` passes in a network namespace with no network, and no Python
process of it (make -> dvc -> modelops stages) tries a DNS lookup or an outside connection.

What this proves, and what it does not: every Python process started by the demo runs with an
audit hook (a sitecustomize.py on PYTHONPATH) that logs `socket.getaddrinfo`/`gethostbyname*`
and every non-Unix `socket.connect`; the demo must log none. A lookup made by C code that
bypasses Python's socket module (none is known in this stack) would not be seen. The control
test shows the hook does see MLflow's telemetry when it is switched on, so "none" means something.
The environment is scrubbed of CI markers (CI, PYTEST_CURRENT_TEST, GITHUB_ACTIONS...) that
would make MLflow disable telemetry by itself: only the project's own config may do it.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelops.offline import OFFLINE_ENV, disable_telemetry
from tests.conftest import REPO, make_project

VENV = Path(sys.executable).parent.parent
AUDIT = """
import os, sys
_LOG = os.environ.get("NETAUDIT_LOG")
_LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"}


def _hook(event, args):
    family = getattr(args[0], "family", None) if event == "socket.connect" else None
    if event in _LOOKUPS or (event == "socket.connect" and family != 1):  # 1: AF_UNIX
        with open(f"{_LOG}.{os.getpid()}", "a") as fh:
            target = args[0] if event in _LOOKUPS else args[1]
            fh.write(f"{event} {target!r} :: {' '.join(sys.argv)[:200]}\\n")


if _LOG:
    sys.addaudithook(_hook)
"""
# Variables that make MLflow switch telemetry off on its own (mlflow/telemetry/utils.py), or
# that would switch it off from outside the project.
SCRUB = {
    "CI",
    "PYTEST_CURRENT_TEST",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "JENKINS_URL",
    "TRAVIS",
    "CIRCLECI",
    "BUILDKITE",
    "TF_BUILD",
    "TEAMCITY_VERSION",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "VIRTUAL_ENV",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    *OFFLINE_ENV,
}


def _works(cmd: list[str]) -> bool:
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def in_netns(cmd: list[str], env: dict[str, str]) -> list[str] | None:
    """`cmd` run as this user inside a new network namespace (only a loopback that is down)."""
    if _works(["unshare", "-rn", "true"]):
        return ["unshare", "-rn", "--", *cmd]
    if os.geteuid() == 0 and _works(["unshare", "-n", "true"]):
        return ["unshare", "-n", "--", *cmd]
    if _works(["sudo", "-n", "unshare", "-n", "true"]):
        # Root only to create the namespace; the demo runs as this user with exactly `env`.
        drop = ["setpriv", f"--reuid={os.getuid()}", f"--regid={os.getgid()}", "--clear-groups", "--"]
        return [
            "sudo",
            "-n",
            "unshare",
            "-n",
            "--",
            *drop,
            "env",
            "-i",
            *(f"{k}={v}" for k, v in env.items()),
            *cmd,
        ]
    return None


def _env(tmp_path: Path) -> dict[str, str]:
    audit = tmp_path / "audit"
    audit.mkdir(exist_ok=True)
    (audit / "sitecustomize.py").write_text(AUDIT)
    env = {k: v for k, v in os.environ.items() if k not in SCRUB and not k.startswith("PYTEST_")}
    # The audit hook first; then what tests/conftest.py puts there (the fixture model package).
    path = os.pathsep.join(p for p in (str(audit), os.environ.get("PYTHONPATH")) if p)
    return env | {"PYTHONPATH": path, "NETAUDIT_LOG": str(audit / "events"), "HOME": str(tmp_path)}


def _run_offline(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    wrapped = in_netns(cmd, env)
    if wrapped is None:
        pytest.skip("no network namespace: unshare -rn refused (no user namespaces), not root, no sudo")
    return subprocess.run(
        wrapped, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _events(env: dict[str, str], ignore: str | None = None) -> list[str]:
    """Logged lookups and connections, except the probe's own attempt to reach `ignore`."""
    log = Path(env["NETAUDIT_LOG"])
    lines = [line for f in sorted(log.parent.glob(log.name + ".*")) for line in f.read_text().splitlines()]
    return [line for line in lines if ignore is None or ignore not in line]


NO_ROUTE = "192.0.2.1"  # TEST-NET-1: the probe's check that nothing routes out of the namespace
PROBE = f"""
import socket, sys, tempfile, time
try:
    socket.create_connection(("{NO_ROUTE}", 443), timeout=2)
except OSError as exc:
    print("no route:", exc.errno)
else:
    sys.exit("the namespace has a network")
import mlflow
d = tempfile.mkdtemp()
mlflow.set_tracking_uri(f"sqlite:///{{d}}/m.db")
with mlflow.start_run():
    mlflow.log_param("a", 1)
time.sleep(3)  # the telemetry client fetches its config in a thread
"""


@pytest.mark.integration
def test_control_the_audit_sees_mlflow_telemetry_when_it_is_on(tmp_path: Path) -> None:
    env = _env(tmp_path)
    out = _run_offline([sys.executable, "-c", PROBE], env, tmp_path, 300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no route: 101" in out.stdout  # ENETUNREACH: nothing leaves the namespace
    assert any(e.startswith("socket.getaddrinfo") for e in _events(env, NO_ROUTE)), "the hook saw no lookup"


@pytest.mark.integration
def test_control_the_project_setting_turns_it_off(tmp_path: Path) -> None:
    env = _env(tmp_path)
    disable_telemetry(env)
    out = _run_offline([sys.executable, "-c", PROBE], env, tmp_path, 300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert _events(env, NO_ROUTE) == [], _events(env, NO_ROUTE)


@pytest.mark.integration
@pytest.mark.slow
def test_demo_runs_without_network(tmp_path: Path) -> None:
    installed = VENV / ".installed"
    if not installed.is_file():
        pytest.fail(f"{installed} missing: run `make install` first (this test runs after install)")
    root = make_project(tmp_path / "project")
    stamp = installed.stat().st_mtime - 1
    for name in ("Makefile", "pyproject.toml", "requirements.lock"):
        shutil.copy2(REPO / name, root / name)
        # The shared venv is installed from these same files: make must not reinstall it from
        # the copy (an editable install would then point at this throw-away tree).
        os.utime(root / name, (stamp, stamp))
    env = _env(tmp_path)
    before = installed.stat().st_mtime
    out = _run_offline(["make", f"VENV={VENV}", "demo"], env, root, 1200)
    assert installed.stat().st_mtime == before, "make demo reinstalled the shared venv"
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert "Demo complete." in out.stdout
    assert (root / "artifacts/train/model.json").is_file()
    assert _events(env) == [], "\n".join(_events(env))


def test_disable_telemetry_sets_only_what_is_unset() -> None:
    env = {"DO_NOT_TRACK": "false"}
    disable_telemetry(env)
    assert env == {"DO_NOT_TRACK": "false", "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "true"}


def test_dvc_config_turns_off_analytics_update_check_and_studio() -> None:
    from dvc.config import Config

    config = Config(REPO / ".dvc", validate=True)
    assert config["core"]["analytics"] is False
    assert config["core"]["check_update"] is False
    assert config["studio"]["offline"] is True


def test_makefile_exports_the_offline_environment() -> None:
    out = subprocess.run(
        ["make", "-s", "-f", "-", "-f", str(REPO / "Makefile"), "show"],
        input="show:\n\t@env\n",
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k not in OFFLINE_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    exported = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    assert {k: exported.get(k) for k in OFFLINE_ENV} == OFFLINE_ENV
