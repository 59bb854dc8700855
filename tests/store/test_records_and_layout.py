"""Records, their Arrow schema and the local store: write, prune, read back (unit)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest

from modelops.records import (
    LabelRecord,
    PredictionRecord,
    Shadow,
    from_json_line,
    label_table,
    prediction_schema,
    prediction_table,
    to_json_line,
)
from modelops.settings import load_settings
from modelops.store import LabelStore, PredictionStore, read_labels, read_window
from modelops.store.reader import versions

T0 = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
# The configured model's own columns (configs/features.yaml): an int, a float, a categorical
# (with one of its categories), and a declared feature the records leave out.
SCHEMA = load_settings(Path(__file__).resolve().parents[2]).features
INT = next(f.name for f in SCHEMA.features if f.dtype == "int")
FLOAT = next(f.name for f in SCHEMA.features if f.dtype == "float")
CAT = SCHEMA.categorical[0]
CATEGORY = (SCHEMA.feature(CAT).categories or ("?",))[0]
ABSENT = next(n for n in SCHEMA.names if n not in {INT, FLOAT, CAT})


@pytest.fixture(scope="module")
def schema():  # type: ignore[no-untyped-def]
    return SCHEMA


def rec(i: int, version: str = "1", minutes: int = 0, **kw) -> PredictionRecord:  # type: ignore[no-untyped-def]
    feats: dict[str, str | int | float | None] = {INT: i, FLOAT: None, CAT: CATEGORY}
    return PredictionRecord(
        request_id=f"r{i}",
        timestamp=T0 + timedelta(minutes=minutes),
        model_name="m",
        model_version=version,
        features=feats,
        score=0.25,
        **kw,
    )


def test_json_line_round_trips_and_keeps_the_old_line_shape() -> None:
    r = rec(1, shadow=Shadow("2", 0.5))
    line = to_json_line(r)
    assert from_json_line(line) == r
    doc = msgspec.json.decode(line)
    assert doc["features"] == {INT: 1, FLOAT: None, CAT: CATEGORY}
    assert doc["shadow"] == {"model_version": "2", "score": 0.5}
    assert "row" not in doc  # defaults omitted: lines of earlier releases parse the same


def test_json_line_rejects_a_score_outside_0_1_naming_the_field() -> None:
    bad = to_json_line(rec(1)).replace(b'"score":0.25', b'"score":1.5')
    with pytest.raises(msgspec.ValidationError, match=r"\$\.score"):
        from_json_line(bad)


def test_table_follows_the_declared_feature_types(schema) -> None:  # type: ignore[no-untyped-def]
    table = prediction_table([rec(1), rec(2, shadow=Shadow("2", None))], schema)
    assert table.schema == prediction_schema(schema)
    feats = table.column("features").to_pylist()
    assert feats[0][INT] == 1 and feats[0][FLOAT] is None and feats[0][ABSENT] is None
    assert table.column("shadow_version").to_pylist() == [None, "2"]


def test_write_partitions_by_version_date_and_hour(schema, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = [rec(i, version=str(1 + i % 2), minutes=30 * i) for i in range(6)]  # 22:30 .. 01:00 next day
    written = PredictionStore(str(tmp_path), writer="pod-a").write(prediction_table(rows, schema))
    dirs = sorted({w.rsplit("/", 1)[0] for w in written})
    assert "predictions/model=m/version=1/date=2026-03-01/hour=22" in dirs
    assert "predictions/model=m/version=2/date=2026-03-02/hour=01" in dirs
    assert all(w.rsplit("/", 1)[1].startswith("pod-a-") for w in written)
    assert not list(tmp_path.rglob("*.tmp"))
    one = pq.read_table(tmp_path / written[0])
    assert one.schema.equals(prediction_schema(schema))
    assert pq.ParquetFile(tmp_path / written[0]).metadata.row_group(0).column(0).compression == "ZSTD"
    assert versions(str(tmp_path), "m") == ["1", "2"]


def test_read_window_returns_exactly_the_rows_in_it(schema, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = [rec(i, version=str(1 + i % 2), minutes=20 * i) for i in range(12)]
    PredictionStore(str(tmp_path)).write(prediction_table(rows, schema))
    since, until = T0 + timedelta(minutes=40), T0 + timedelta(minutes=160)
    got = read_window(str(tmp_path), "m", since=since, until=until)
    want = {r.request_id for r in rows if since <= r.timestamp < until}
    assert sorted(got.column("request_id").to_pylist()) == sorted(want)
    only2 = read_window(str(tmp_path), "m", version="2", columns=["request_id", "model_version"])
    assert set(only2.column("model_version").to_pylist()) == {"2"} and only2.num_rows == 6


def test_a_second_writer_never_overwrites_the_first(schema, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = prediction_table([rec(1)], schema)
    a = PredictionStore(str(tmp_path)).write(table)
    b = PredictionStore(str(tmp_path)).write(table)  # e.g. a restarted container, sequence back at 1
    assert a != b
    assert read_window(str(tmp_path), "m").num_rows == 2


def test_labels_latest_observation_wins(tmp_path: Path) -> None:
    labels = [
        LabelRecord(request_id="a", label=1, observed_at=T0, model_name="m"),
        LabelRecord(request_id="a", label=0, observed_at=T0 + timedelta(days=2), model_name="m"),
        LabelRecord(request_id="b", label=1, observed_at=T0 + timedelta(days=1), model_name="m"),
    ]
    LabelStore(str(tmp_path)).write(label_table(labels))
    got = {r["request_id"]: r["label"] for r in read_labels(str(tmp_path), "m").to_pylist()}
    assert got == {"a": 0, "b": 1}
    late = read_labels(str(tmp_path), "m", since=T0 + timedelta(days=1))
    assert sorted(late.column("request_id").to_pylist()) == ["a", "b"]


def test_scores_by_version_reads_only_the_asked_versions(schema, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from modelops.store.reader import scores_by_version

    rows = [rec(i, version=str(1 + i % 3), minutes=i) for i in range(9)]
    PredictionStore(str(tmp_path)).write(prediction_table(rows, schema))
    got = scores_by_version(str(tmp_path), "m", ["1", "3", "9"], since=T0 + timedelta(minutes=1))
    assert {v: t.num_rows for v, t in got.items()} == {"1": 2, "3": 3, "9": 0}
    assert "features" not in got["1"].column_names
