"""The ready-made loaders: files (Parquet, CSV, a directory, an fsspec URL on a real S3-compatible
server) and SQL on a real PostgreSQL. Tables are written by the test and read back whole."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.data.loaders import FileSource, SqlSource, load_file, load_sql, read_files, read_sql
from modelops.errors import DataSourceError
from tests.store.conftest import S3Server, s3  # noqa: F401  (fixture: a real moto_server process)
from tests.train.test_team_setup import postgres  # noqa: F401  (fixture: a real PostgreSQL server)


def table(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Numeric and categorical columns with missing values, a 0/1 label."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "flipper_mm": rng.normal(200, 14, rows).round(1),
            "island": rng.choice(["Biscoe", "Dream", "Torgersen"], rows).astype(object),
            "label": rng.integers(0, 2, rows, dtype=np.int64),
        }
    )
    frame.loc[[2, 5], "flipper_mm"] = np.nan
    frame.loc[7, "island"] = None
    return frame


def source(path: Path | str, root: Path | None = None, **fields: object) -> FileSource:
    """A FileSource validated as the contract does it (relative paths against `root`)."""
    return FileSource.model_validate({"path": str(path), **fields}, context={"root": root})


def test_parquet_file(tmp_path: Path) -> None:
    expected = table()
    expected.to_parquet(tmp_path / "penguins.parquet", index=False)
    pd.testing.assert_frame_equal(load_file(source(tmp_path / "penguins.parquet")), expected)


def test_csv_file_relative_to_the_project_root_with_reader_options(tmp_path: Path) -> None:
    expected = table()
    (tmp_path / "data").mkdir()
    expected.to_csv(tmp_path / "data/penguins.csv", index=False, sep=";")
    src = source("data/penguins.csv", root=tmp_path, options={"sep": ";"})
    pd.testing.assert_frame_equal(load_file(src), expected)
    assert src.describe() == "file data/penguins.csv (csv)"


def test_compressed_csv_and_a_format_given_for_an_unknown_suffix(tmp_path: Path) -> None:
    expected = table(50)
    with gzip.open(tmp_path / "p.csv.gz", "wt") as fh:
        expected.to_csv(fh, index=False)
    pd.testing.assert_frame_equal(load_file(source(tmp_path / "p.csv.gz")), expected)
    expected.to_parquet(tmp_path / "export.bin", index=False)
    pd.testing.assert_frame_equal(load_file(source(tmp_path / "export.bin", format="parquet")), expected)
    with pytest.raises(DataSourceError, match=r"export\.bin: cannot tell the format from the suffix"):
        load_file(source(tmp_path / "export.bin"))


def test_a_directory_of_files_is_one_table_in_name_order(tmp_path: Path) -> None:
    expected = table(301)
    parts = tmp_path / "parts"
    (parts / "2025").mkdir(parents=True)
    expected.iloc[:100].to_parquet(parts / "a.parquet", index=False)
    expected.iloc[100:200].to_parquet(parts / "2025/b.parquet", index=False)
    expected.iloc[200:].to_parquet(parts / "c.parquet", index=False)
    (parts / "_SUCCESS").write_text("")  # writer markers are not data
    (parts / "README.txt").write_text("not a table")
    frame = load_file(source(parts))
    # find() lists a/, 2025/b, c in path order: "2025/b.parquet" sorts before "a.parquet".
    order = pd.concat([expected.iloc[100:200], expected.iloc[:100], expected.iloc[200:]], ignore_index=True)
    pd.testing.assert_frame_equal(frame, order)


def test_a_directory_mixing_formats_or_without_tables_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mixed").mkdir()
    table(10).to_parquet(tmp_path / "mixed/a.parquet", index=False)
    table(10).to_csv(tmp_path / "mixed/b.csv", index=False)
    with pytest.raises(DataSourceError, match="mixes csv and parquet files; set format"):
        load_file(source(tmp_path / "mixed"))
    # With the format given, only the files of that format are read.
    assert len(load_file(source(tmp_path / "mixed", format="csv"))) == 10
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataSourceError, match="empty: directory has no parquet or csv files"):
        load_file(source(tmp_path / "empty"))


def test_a_missing_or_corrupt_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"nope\.parquet: no such file or directory"):
        load_file(source(tmp_path / "nope.parquet"))
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataSourceError, match=r"bad\.parquet: cannot read .*bad\.parquet \("):
        load_file(source(tmp_path / "bad.parquet"))


def test_descriptions_never_carry_credentials() -> None:
    src = FileSource(path="https://alice:hunter2@data.example.com/exports/p.csv")
    assert src.describe() == "file https://data.example.com/exports/p.csv (csv)"
    sql = SqlSource(url_env="WAREHOUSE_URL", query="SELECT *\n  FROM penguins")
    assert sql.describe() == "sql $WAREHOUSE_URL: SELECT * FROM penguins"


@pytest.mark.integration
def test_fsspec_url_on_a_standalone_s3_server(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    expected = table(344)
    fs = s3.fs()
    fs.mkdir("lake")
    with fs.open("lake/penguins/part-0.parquet", "wb") as fh:
        expected.iloc[:200].to_parquet(fh, index=False)
    with fs.open("lake/penguins/part-1.parquet", "wb") as fh:
        expected.iloc[200:].to_parquet(fh, index=False)
    with fs.open("lake/one.csv", "wb") as fh:
        fh.write(expected.to_csv(index=False).encode())
    # The endpoint from the environment (AWS_ENDPOINT_URL, as the prediction store reads it) ...
    pd.testing.assert_frame_equal(load_file(source("s3://lake/penguins/")), expected)
    pd.testing.assert_frame_equal(load_file(source("s3://lake/one.csv")), expected)
    # ... or from the source's storage_options.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    configured = source("s3://lake/one.csv", storage_options={"client_kwargs": {"endpoint_url": s3.endpoint}})
    pd.testing.assert_frame_equal(load_file(configured), expected)
    with pytest.raises(DataSourceError, match=r"s3://lake/none/: no such file or directory"):
        load_file(configured.model_copy(update={"path": "s3://lake/none/"}))


@pytest.mark.integration
def test_sql_on_postgresql_with_the_url_from_the_environment(
    postgres: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import psycopg2

    expected = table(344)
    with psycopg2.connect(postgres) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS penguins")
        cur.execute(
            "CREATE TABLE penguins (id bigint, flipper_mm double precision, island text, label bigint)"
        )
        cur.executemany(
            "INSERT INTO penguins VALUES (%s, %s, %s, %s)",
            [
                (int(r.id), None if pd.isna(r.flipper_mm) else float(r.flipper_mm), r.island, int(r.label))
                for r in expected.itertuples()
            ],
        )
    monkeypatch.setenv("WAREHOUSE_URL", postgres)
    src = SqlSource(url_env="WAREHOUSE_URL", query="SELECT * FROM penguins ORDER BY id")
    frame = load_sql(src)
    pd.testing.assert_frame_equal(frame, expected)
    query = "SELECT id FROM penguins WHERE id < :n ORDER BY id"
    bound = SqlSource(url_env="WAREHOUSE_URL", query=query, params={"n": 10})
    assert load_sql(bound)["id"].tolist() == list(range(10))
    with pytest.raises(DataSourceError, match=r"relation \"nope\" does not exist"):
        load_sql(src.model_copy(update={"query": "SELECT * FROM nope"}))


def test_sql_without_the_environment_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    with pytest.raises(
        DataSourceError,
        match=r"^configs/data\.yaml source\.url_env: environment variable WAREHOUSE_URL is not set",
    ):
        load_sql(SqlSource(url_env="WAREHOUSE_URL", query="SELECT 1"))


def test_a_failed_connection_never_echoes_the_password() -> None:
    with pytest.raises(DataSourceError) as exc:
        read_sql("postgresql://alice:hunter2secret@127.0.0.1:1/db", "SELECT 1")
    assert str(exc.value).startswith("SQL query failed (OperationalError")
    assert "hunter2secret" not in str(exc.value)


def test_read_files_is_the_one_reader_labels_ingest_uses_too(tmp_path: Path) -> None:
    """Labels keep ids as strings ("007" is not 7) through the shared reader's options."""
    (tmp_path / "labels.csv").write_text("request_id,defaulted\n007,1\n")
    frame = read_files(str(tmp_path / "labels.csv"), options={"dtype": str})
    assert frame["request_id"].tolist() == ["007"]
