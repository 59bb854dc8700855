"""Prediction log and shadow scorer: off the request path, bounded, failure-isolated (unit)."""

import os
import threading
import time
from pathlib import Path

import orjson

from modelops.serve.sinks import Entry, PredictionLog, ShadowScorer


def entry(rid: str, n: int = 2) -> Entry:
    recs = [{"open_accounts": i, "housing": "rent", "employment": None} for i in range(n)]
    return Entry(rid, "2026-01-01T00:00:00+00:00", "3", recs, [0.25] * n)


def lines(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_one_json_line_per_record_flushed_on_close(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "pred.jsonl"
    sink = PredictionLog(str(path), 100, on_drop=lambda n: None)
    for i in range(50):
        sink.submit(entry(f"r{i}"))
    sink.close()
    got = lines(path)
    assert len(got) == 100
    assert got[0] == {
        "request_id": "r0",
        "timestamp": "2026-01-01T00:00:00Z",
        "model_version": "3",
        "features": {"open_accounts": 0, "housing": "rent", "employment": None},
        "score": 0.25,
    }
    assert set(got[1]) == set(got[0])  # the line shape of earlier releases: no row, no model_name
    assert [g["request_id"] for g in got[::2]] == [f"r{i}" for i in range(50)]


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    dropped: list[int] = []
    sink = PredictionLog(str(tmp_path / "p.jsonl"), 1, on_drop=dropped.append)
    for i in range(2000):
        sink.submit(entry(f"r{i}", n=50))
    sink.close()
    # A submit that waited for room would never drop: drops prove the request path did not block.
    written = len(lines(tmp_path / "p.jsonl"))
    assert sum(dropped) > 0 and written + sum(dropped) == 2000 * 50


def test_shadow_scores_are_logged_beside_the_primary(tmp_path: Path) -> None:
    sink = PredictionLog(str(tmp_path / "p.jsonl"), 100, on_drop=lambda n: None)
    shadow = ShadowScorer(
        "4", lambda recs: [0.75] * len(recs), sink, 10, on_error=lambda: None, on_drop=lambda n: None
    )
    shadow.submit(entry("a"))
    shadow.close()
    sink.close()
    got = lines(tmp_path / "p.jsonl")
    assert [g["shadow"] for g in got] == [{"model_version": "4", "score": 0.75}] * 2
    assert all(g["score"] == 0.25 for g in got)


def test_raising_shadow_logs_primary_with_null_shadow(tmp_path: Path) -> None:
    errors: list[int] = []
    sink = PredictionLog(str(tmp_path / "p.jsonl"), 100, on_drop=lambda n: None)

    def boom(recs):  # type: ignore[no-untyped-def]
        raise RuntimeError("shadow exploded")

    shadow = ShadowScorer("4", boom, sink, 10, on_error=lambda: errors.append(1), on_drop=lambda n: None)
    for i in range(3):
        shadow.submit(entry(f"r{i}"))
    shadow.close()
    sink.close()
    got = lines(tmp_path / "p.jsonl")
    assert len(got) == 6 and len(errors) == 3
    assert all(g["shadow"] == {"model_version": "4", "score": None} and g["score"] == 0.25 for g in got)


def test_hanging_shadow_never_blocks_and_primary_lines_survive(tmp_path: Path) -> None:
    release = threading.Event()
    skipped: list[int] = []
    sink = PredictionLog(str(tmp_path / "p.jsonl"), 1000, on_drop=lambda n: None)
    shadow = ShadowScorer(
        "4",
        lambda recs: release.wait(60) and [0.5] * len(recs),
        sink,
        2,
        on_error=lambda: None,
        on_drop=skipped.append,
    )

    # The shadow model hangs until `release` is set; submits must all return while it still hangs.
    def submit_all() -> None:
        for i in range(100):
            shadow.submit(entry(f"r{i}", n=1))

    submitter = threading.Thread(target=submit_all)
    submitter.start()
    submitter.join(timeout=30)
    assert not submitter.is_alive() and not release.is_set()
    shadow.close(timeout=0.2)  # still hanging: whatever it holds is logged without a shadow score
    sink.close()
    release.set()
    got = lines(tmp_path / "p.jsonl")
    assert sorted(g["request_id"] for g in got) == sorted(f"r{i}" for i in range(100))
    assert sum(skipped) >= 97


# --- the store writer ---------------------------------------------------------------------


class FlakyLocation:
    """A local store that refuses the first `failures` puts (an unreachable object store)."""

    def __init__(self, root: Path, failures: int = 0) -> None:
        from modelops.store import open_location

        self.inner = open_location(str(root))
        self.uri = self.inner.uri
        self.failures = failures
        self.attempts = 0

    def put_bytes(self, rel: str, data: bytes) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise OSError("connection refused")
        self.inner.put_bytes(rel, data)


def store_sink(tmp_path: Path, location, **cfg):  # type: ignore[no-untyped-def]
    from prometheus_client import CollectorRegistry

    from modelops.serve.sinks import StoreMetrics, StoreSink, StoreSinkConfig
    from tests.helpers.fixture import fixture_configs

    features = fixture_configs(tmp_path / "project").features  # the columns entry() sends
    settings = {"flush_rows": 100, "flush_seconds": 30, "retry_initial_seconds": 0.01, **cfg}
    conf = StoreSinkConfig(spool_dir=str(tmp_path / "spool"), **settings)
    registry = CollectorRegistry()
    dropped: list[int] = []
    sink = StoreSink(location, "m", features, conf, 10_000, dropped.append, StoreMetrics(registry))
    return sink, registry, dropped


def stored(root: Path):  # type: ignore[no-untyped-def]
    from modelops.store import read_window

    return read_window(str(root), "m", columns=["request_id", "row", "score", "features"])


def test_store_sink_writes_every_row_once_and_empties_the_spool(tmp_path: Path) -> None:
    location = FlakyLocation(tmp_path / "store")
    sink, registry, _ = store_sink(tmp_path, location)
    for i in range(250):
        sink.submit(entry(f"r{i}"))
    sink.close(timeout=10)
    table = stored(tmp_path / "store")
    pairs = list(zip(table.column("request_id").to_pylist(), table.column("row").to_pylist(), strict=True))
    assert len(pairs) == 500 and len(set(pairs)) == 500
    assert table.column("features").to_pylist()[0]["housing"] == "rent"
    assert registry.get_sample_value("modelops_prediction_store_rows_written_total") == 500
    assert not list((tmp_path / "spool").rglob("*.parquet"))


def test_store_sink_flushes_by_age(tmp_path: Path) -> None:
    sink, _, _ = store_sink(tmp_path, FlakyLocation(tmp_path / "store"), flush_rows=10_000, flush_seconds=0.2)
    sink.submit(entry("a"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not list((tmp_path / "store").rglob("*.parquet")):
        time.sleep(0.05)
    assert stored(tmp_path / "store").num_rows == 2  # visible before close: the age flush did it
    sink.close(timeout=5)


def test_unreachable_store_is_retried_with_backoff_and_loses_nothing(tmp_path: Path) -> None:
    location = FlakyLocation(tmp_path / "store", failures=4)
    sink, registry, _ = store_sink(tmp_path, location)
    for i in range(300):
        sink.submit(entry(f"r{i}"))
    sink.close(timeout=10)
    assert registry.get_sample_value("modelops_prediction_store_upload_failures_total") == 4
    assert stored(tmp_path / "store").num_rows == 600


def test_full_spool_drops_whole_files_and_counts_them(tmp_path: Path) -> None:
    location = FlakyLocation(tmp_path / "store", failures=10**9)  # never reachable
    sink, registry, _ = store_sink(tmp_path, location, spool_max_bytes=12_000, flush_rows=50)
    for i in range(500):
        sink.submit(entry(f"r{i}"))
    sink.close(timeout=0.5)
    dropped = registry.get_sample_value("modelops_prediction_store_dropped_total", {"reason": "spool_full"})
    spooled = sum(
        __import__("pyarrow.parquet").parquet.ParquetFile(p).metadata.num_rows
        for p in (tmp_path / "spool").rglob("*.parquet")
    )
    assert dropped and dropped > 0
    assert spooled + dropped == 1000  # every row is either waiting on disk or counted as dropped
    assert sum(p.stat().st_size for p in (tmp_path / "spool").rglob("*.parquet")) <= 12_000


def test_next_writer_uploads_a_dead_writers_spool(tmp_path: Path) -> None:
    down = FlakyLocation(tmp_path / "store", failures=10**9)
    first, _, _ = store_sink(tmp_path, down)
    for i in range(100):
        first.submit(entry(f"r{i}"))
    first.close(timeout=0.3)
    os.close(first._lock_fd)  # the process is gone: its lock is released
    assert stored(tmp_path / "store").num_rows == 0
    second, _, _ = store_sink(tmp_path, FlakyLocation(tmp_path / "store"))
    second.close(timeout=10)
    assert sorted(set(stored(tmp_path / "store").column("request_id").to_pylist())) == sorted(
        f"r{i}" for i in range(100)
    )


def test_close_cuts_a_long_backoff_short_and_uploads(tmp_path: Path) -> None:
    location = FlakyLocation(tmp_path / "store", failures=1)
    sink, _, _ = store_sink(
        tmp_path, location, flush_rows=1, retry_initial_seconds=300, retry_max_seconds=300
    )
    sink.submit(entry("a"))
    deadline = time.monotonic() + 10
    while location.attempts < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    sink.close(timeout=10)  # the uploader sleeps a 300 s backoff unless close wakes it
    assert stored(tmp_path / "store").num_rows == 2
