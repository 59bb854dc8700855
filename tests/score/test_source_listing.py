"""Batch scoring's input is listed as the data loaders list a table location (one listing), and
opened through the store's filesystem adapter (the environment's storage options), locally and
on a real S3-compatible server (moto_server)."""

from pathlib import Path

import pandas as pd
import pytest

from modelops.data.loaders import read_files
from modelops.data.schema import FeatureSchema
from modelops.score import source
from tests.store.conftest import S3Server, s3  # noqa: F401  (fixture: a real moto_server process)

SCHEMA = FeatureSchema.model_validate(
    {
        "label": "y",
        "id_column": "id",
        "row_count": {"min": 1, "max": 1000},
        "label_rate": {"min": 0.0, "max": 1.0},
        "features": [
            {"name": "x", "kind": "numeric", "dtype": "float"},
            {"name": "c", "kind": "categorical", "categories": ["a", "b"]},
        ],
    }
)


def _frame(start: int, rows: int) -> pd.DataFrame:
    ids = range(start, start + rows)
    return pd.DataFrame(
        {"id": [f"r{i}" for i in ids], "x": [i / 2 for i in ids], "c": ["a" if i % 2 else "b" for i in ids]}
    )


def _rows(snapshot: source.Snapshot) -> list[str]:
    return sorted(str(v) for v in snapshot.dataset.to_table(columns=["id"]).column("id").to_pylist())


def _write_spark_like(put, base: str) -> None:  # type: ignore[no-untyped-def]
    """Two parts, and what a writer leaves beside them: a marker, a checksum, an unfinished attempt."""
    put(f"{base}/part-0.parquet", _frame(0, 30))
    put(f"{base}/part-1.parquet", _frame(30, 20))
    put(f"{base}/_temporary/0/part-9.parquet", _frame(1000, 5))  # an unfinished attempt
    put(f"{base}/.part-0.parquet.crc", None)
    put(f"{base}/_SUCCESS", None)


def test_scoring_and_the_loaders_list_a_directory_alike(tmp_path: Path) -> None:
    def put(rel: str, frame: pd.DataFrame | None) -> None:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if frame is None:
            path.write_bytes(b"")
        else:
            frame.to_parquet(path, index=False)

    _write_spark_like(put, "snap")
    snapshot = source.open_snapshot(str(tmp_path / "snap"), SCHEMA)
    assert [Path(f.path).name for f in snapshot.files] == ["part-0.parquet", "part-1.parquet"]
    assert _rows(snapshot) == sorted(f"r{i}" for i in range(50))
    assert sorted(read_files(str(tmp_path / "snap"))["id"]) == _rows(snapshot)


def test_a_compressed_csv_is_scored_input_as_the_loaders_read_it(tmp_path: Path) -> None:
    _frame(0, 40).to_csv(tmp_path / "snap.csv.gz", index=False, compression="gzip")
    snapshot = source.open_snapshot(str(tmp_path / "snap.csv.gz"), SCHEMA)
    assert snapshot.format == "csv"
    assert _rows(snapshot) == sorted(read_files(str(tmp_path / "snap.csv.gz"))["id"])


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"empty/readme.txt": b"x"}, r"^input .*empty: directory has no parquet or csv files$"),
        ({}, r"^input .*absent: no such file or directory$"),
        ({"mixed/a.parquet": None, "mixed/b.csv": b"id\n"}, r"^input .*mixed: mixes csv and parquet files"),
    ],
)
def test_an_unusable_location_is_one_input_error_naming_it(
    tmp_path: Path, layout: dict[str, bytes | None], message: str
) -> None:
    for rel, data in layout.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            _frame(0, 3).to_parquet(path, index=False)
        else:
            path.write_bytes(data)
    target = next(iter(layout), "absent").split("/")[0]
    with pytest.raises(source.InputError, match=message):
        source.open_snapshot(str(tmp_path / target), SCHEMA)


@pytest.mark.integration
def test_an_s3_snapshot_is_listed_and_read_through_the_environment_endpoint(s3: S3Server) -> None:  # noqa: F811
    fs = s3.fs()
    fs.mkdir("lake")

    def put(rel: str, frame: pd.DataFrame | None) -> None:
        with fs.open(f"lake/{rel}", "wb") as fh:
            if frame is not None:
                frame.to_parquet(fh, index=False)

    _write_spark_like(put, "snap")
    snapshot = source.open_snapshot("s3://lake/snap/", SCHEMA)
    assert [f.path for f in snapshot.files] == [
        "s3://lake/snap/part-0.parquet",
        "s3://lake/snap/part-1.parquet",
    ]
    assert _rows(snapshot) == sorted(f"r{i}" for i in range(50))
    assert sorted(read_files("s3://lake/snap/")["id"]) == _rows(snapshot)
    with pytest.raises(source.InputError, match=r"^input s3://lake/none/: no such file or directory$"):
        source.open_snapshot("s3://lake/none/", SCHEMA)
