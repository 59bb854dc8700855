"""`modelops labels ingest`: file, DuckDB query and PostgreSQL query into the label store (CLI)."""

from pathlib import Path

import pandas as pd
import pytest

from modelops.cli import main
from modelops.store import read_labels
from tests.train.test_team_setup import postgres  # noqa: F401  (fixture: a real PostgreSQL server)

REPO = Path(__file__).resolve().parents[2]


def labels(ids: list[str], values: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"request_id": ids, "churned": values})


def stored(store: Path) -> dict[str, int]:
    return {r["request_id"]: r["label"] for r in read_labels(str(store), "churn").to_pylist()}


def test_ingest_from_a_csv_file(tmp_path: Path) -> None:
    src = tmp_path / "labels.csv"
    labels(["a", "b", "c"], [1, 0, 1]).to_csv(src, index=False)
    rc = main(["--root", str(REPO), "labels", "ingest", "--from", str(src), "--store", str(tmp_path / "s")])
    assert rc == 0 and stored(tmp_path / "s") == {"a": 1, "b": 0, "c": 1}


def test_ingest_joins_on_the_id_column_when_there_is_no_request_id(tmp_path: Path) -> None:
    src = tmp_path / "outcomes.parquet"
    pd.DataFrame({"customer_id": ["c1", "c2"], "churned": [0, 1]}).to_parquet(src)
    query = f"SELECT customer_id, churned FROM '{src}'"
    rc = main(["--root", str(REPO), "labels", "ingest", "--query", query, "--store", str(tmp_path / "s")])
    assert rc == 0 and stored(tmp_path / "s") == {"c1": 0, "c2": 1}


def test_a_label_that_is_not_0_or_1_is_refused_naming_column_and_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "labels.csv"
    labels(["a", "b"], [1, 7]).to_csv(src, index=False)
    rc = main(["--root", str(REPO), "labels", "ingest", "--from", str(src), "--store", str(tmp_path / "s")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "column 'churned' must be 0 or 1 (1 rows are not, e.g. '7')" in err
    assert not (tmp_path / "s").exists()


@pytest.mark.integration
def test_ingest_from_a_postgresql_query(postgres: str, tmp_path: Path) -> None:  # noqa: F811
    import psycopg2

    with psycopg2.connect(postgres) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE outcomes (request_id text, churned int, observed_at timestamptz)")
        cur.execute(
            "INSERT INTO outcomes VALUES ('r1', 1, '2026-01-05T00:00:00Z'), ('r2', 0, '2026-01-06T00:00:00Z')"
        )
    rc = main(
        [
            "--root", str(REPO), "labels", "ingest", "--dsn", postgres,
            "--query", "SELECT request_id, churned, observed_at FROM outcomes",
            "--store", str(tmp_path / "s"),
        ]
    )  # fmt: skip
    assert rc == 0 and stored(tmp_path / "s") == {"r1": 1, "r2": 0}
    assert sorted(p.parent.name for p in (tmp_path / "s").rglob("*.parquet")) == [
        "date=2026-01-05",
        "date=2026-01-06",
    ]
