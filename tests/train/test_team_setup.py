"""The team setup: an MLflow tracking server on a real PostgreSQL, trained and registered against.

PostgreSQL comes from Debian's packages (.ci/run installs it). The test skips only when
no PostgreSQL server binary exists on the machine, and says so.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Project, make_project
from tests.helpers.mlflow_server import mlflow_server as start_mlflow_server
from tests.serve.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, so drop to the package's user.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL is not installed (no pg_ctl on PATH or in /usr/lib/postgresql/*/bin); "
            ".ci/run installs Debian's postgresql package"
        )
    base = Path(tempfile.mkdtemp(prefix="modelops-pg-"))
    base.chmod(0o777)
    data, port = base / "data", free_port()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(base / "pg.log"),
                "-o",
                f"-p {port} -k {base} -c listen_addresses=127.0.0.1",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [
                str(bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE mlflow",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def mlflow_server(postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # SQLAlchemy 2 maps plain postgresql:// to psycopg 3; the locked driver is psycopg2.
    backend = postgres.replace("postgresql://", "postgresql+psycopg2://")
    artifacts = tmp_path_factory.mktemp("artifact-store")
    log = tmp_path_factory.mktemp("logs") / "mlflow.log"
    with start_mlflow_server(backend, artifacts, log, timeout=120) as url:
        yield url


def test_train_registers_against_tracking_server_on_postgresql(
    mlflow_server: str, postgres: str, tmp_path: Path
) -> None:
    project = Project(make_project(tmp_path / "team", rows=3000, max_iter=10))
    for step in (["ingest"], ["validate"], ["eval-set", "create"], ["split"]):
        project.sh(str(Path(sys.executable).with_name("modelops")), "data", *step)
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server}
    out = subprocess.run(
        [str(Path(sys.executable).with_name("modelops")), "train"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    version = int(out.stdout.strip().splitlines()[-1])
    assert not (project.root / ".mlflow").exists()  # nothing went to the embedded store

    from mlflow import MlflowClient

    # Explicit registry: an earlier test's mlflow.set_registry_uri would otherwise win.
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    name = project.settings.model.name
    mv = client.get_model_version(name, str(version))
    assert mv.tags["git_sha"] == project.git("rev-parse", "HEAD").strip()
    assert len(mv.tags["data_md5"]) == 32
    rows = subprocess.run(
        [
            str(_pg_bin() / "psql"),
            postgres,
            "-tAc",
            f"SELECT count(*) FROM model_versions WHERE name = '{name}' AND version = {version}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert rows == "1"
