"""`modelops labels ingest`: file, DuckDB query and PostgreSQL query into the label store (CLI).

Run on the shared project's shape (tests/conftest.py make_project: the fixture package, with
an id column); the label, id column and model name are read from its settings.
"""

from pathlib import Path

import pandas as pd
import pytest

from modelops.cli import main
from modelops.settings import Settings, load_settings
from modelops.store import read_labels
from tests.conftest import make_project
from tests.helpers.fixture import id_column, label
from tests.train.test_team_setup import postgres  # noqa: F401  (fixture: a real PostgreSQL server)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("labels"))


@pytest.fixture(scope="module")
def settings(root: Path) -> Settings:
    return load_settings(root)


def labels(settings: Settings, ids: list[str], values: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"request_id": ids, label(settings): values})


def stored(settings: Settings, store: Path) -> dict[str, int]:
    return {r["request_id"]: r["label"] for r in read_labels(str(store), settings.model.name).to_pylist()}


def test_ingest_from_a_csv_file(root: Path, settings: Settings, tmp_path: Path) -> None:
    src = tmp_path / "labels.csv"
    labels(settings, ["a", "b", "c"], [1, 0, 1]).to_csv(src, index=False)
    rc = main(["--root", str(root), "labels", "ingest", "--from", str(src), "--store", str(tmp_path / "s")])
    assert rc == 0 and stored(settings, tmp_path / "s") == {"a": 1, "b": 0, "c": 1}


def test_ingest_joins_on_the_id_column_when_there_is_no_request_id(
    root: Path, settings: Settings, tmp_path: Path
) -> None:
    src = tmp_path / "outcomes.parquet"
    key, outcome = id_column(settings), label(settings)
    pd.DataFrame({key: ["c1", "c2"], outcome: [0, 1]}).to_parquet(src)
    query = f"SELECT {key}, {outcome} FROM '{src}'"
    rc = main(["--root", str(root), "labels", "ingest", "--query", query, "--store", str(tmp_path / "s")])
    assert rc == 0 and stored(settings, tmp_path / "s") == {"c1": 0, "c2": 1}


def test_a_label_that_is_not_0_or_1_is_refused_naming_column_and_value(
    root: Path, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "labels.csv"
    labels(settings, ["a", "b"], [1, 7]).to_csv(src, index=False)
    rc = main(["--root", str(root), "labels", "ingest", "--from", str(src), "--store", str(tmp_path / "s")])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"column '{label(settings)}' must be 0 or 1 (1 rows are not, e.g. '7')" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.integration
def test_ingest_from_a_postgresql_query(
    root: Path,
    settings: Settings,
    postgres: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    import psycopg2

    outcome = label(settings)
    with psycopg2.connect(postgres) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE outcomes (request_id text, {outcome} int, observed_at timestamptz)")
        cur.execute(
            "INSERT INTO outcomes VALUES ('r1', 1, '2026-01-05T00:00:00Z'), ('r2', 0, '2026-01-06T00:00:00Z')"
        )
    rc = main(
        [
            "--root", str(root), "labels", "ingest", "--dsn", postgres,
            "--query", f"SELECT request_id, {outcome}, observed_at FROM outcomes",
            "--store", str(tmp_path / "s"),
        ]
    )  # fmt: skip
    assert rc == 0 and stored(settings, tmp_path / "s") == {"r1": 1, "r2": 0}
    assert sorted(p.parent.name for p in (tmp_path / "s").rglob("*.parquet")) == [
        "date=2026-01-05",
        "date=2026-01-06",
    ]
