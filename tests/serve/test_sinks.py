"""Prediction log and shadow scorer: off the request path, bounded, failure-isolated (unit)."""

import threading
import time
from pathlib import Path

import orjson

from modelops.serve.sinks import Entry, PredictionLog, ShadowScorer


def entry(rid: str, n: int = 2) -> Entry:
    recs = [{"seats": i, "plan": "pro", "region": None} for i in range(n)]
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
        "timestamp": "2026-01-01T00:00:00+00:00",
        "model_version": "3",
        "features": {"seats": 0, "plan": "pro", "region": None},
        "score": 0.25,
    }
    assert [g["request_id"] for g in got[::2]] == [f"r{i}" for i in range(50)]


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    dropped: list[int] = []
    sink = PredictionLog(str(tmp_path / "p.jsonl"), 1, on_drop=dropped.append)
    start = time.perf_counter()
    for i in range(2000):
        sink.submit(entry(f"r{i}", n=50))
    assert time.perf_counter() - start < 2.0
    sink.close()
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
    start = time.perf_counter()
    for i in range(100):
        shadow.submit(entry(f"r{i}", n=1))
    assert time.perf_counter() - start < 0.5
    shadow.close(timeout=0.2)  # still hanging: whatever it holds is logged without a shadow score
    sink.close()
    release.set()
    got = lines(tmp_path / "p.jsonl")
    assert sorted(g["request_id"] for g in got) == sorted(f"r{i}" for i in range(100))
    assert sum(skipped) >= 97
