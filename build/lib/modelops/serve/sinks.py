"""Off-request-path work: the prediction writers (JSON lines or the store) and the shadow scorer.

Each owns a bounded queue and daemon thread(s). The request path only ever calls
`put_nowait`; when a queue is full the work is dropped and counted, never waited for.
Records are `modelops.records.PredictionRecord`, the one definition shared with readers.
"""

import fcntl
import logging
import os
import queue
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from modelops.records import PredictionRecord, Shadow, prediction_table, to_json_line

log = logging.getLogger(__name__)
_STOP = object()


@dataclass
class Entry:
    """One request's predictions; one record per scored row."""

    request_id: str
    timestamp: str
    model_version: str
    records: Sequence[dict[str, Any]]
    scores: Sequence[float]
    shadow_version: str | None = None
    shadow_scores: Sequence[float | None] | None = field(default=None)

    def to_records(self, model_name: str, numbered: bool = True) -> list[PredictionRecord]:
        """One record per row; `numbered=False` leaves `row` at its default (the JSONL shape)."""
        ts = datetime.fromisoformat(self.timestamp)
        shadow = self.shadow_scores or [None] * len(self.records)
        return [
            PredictionRecord(
                request_id=self.request_id,
                timestamp=ts,
                model_name=model_name,
                model_version=self.model_version,
                features=dict(rec),
                score=score,
                row=i if numbered else 0,
                shadow=None if self.shadow_version is None else Shadow(self.shadow_version, sh),
            )
            for i, (rec, score, sh) in enumerate(zip(self.records, self.scores, shadow, strict=True))
        ]


class Sink(Protocol):
    def submit(self, entry: Entry) -> None: ...

    def close(self, timeout: float = 10.0) -> None: ...


class PredictionLog:
    """JSON lines to a file (appended) or to stdout ("-"), written by a background thread.

    Lines keep the shape of earlier releases, which external readers parse: `model_name` and
    `row` stay at their defaults and are omitted (one file per server; line order gives the row).
    """

    def __init__(self, target: str, queue_size: int, on_drop: Callable[[int], None]) -> None:
        self.target = target
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._on_drop = on_drop
        if target == "-":
            self._fd = sys.stdout.fileno()
        else:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND: each batch is one write(2), so several workers can share the file.
            self._fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, entry: Entry) -> None:
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self._on_drop(len(entry.records))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            while len(batch) < 512:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(b is _STOP for b in batch)
            data = b"".join(
                to_json_line(r) for b in batch if b is not _STOP for r in b.to_records("", numbered=False)
            )
            try:
                if data:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(self._fd, view) :]
            except OSError:
                log.exception(
                    "prediction log %s: write failed; %d lines lost", self.target, data.count(b"\n")
                )
            if stop:
                return

    def close(self, timeout: float = 10.0) -> None:
        """Flush everything queued, then stop (called on graceful shutdown)."""
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.error("prediction log %s: queue still full at shutdown", self.target)
        self._thread.join(timeout)
        if self.target != "-":
            os.close(self._fd)


class StoreSinkConfig(BaseModel):
    """serve.yaml `prediction_store`: the Parquet store writer (PREDICTION_STORE sets `uri`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str | None = None
    flush_rows: int = Field(default=20_000, ge=1)
    flush_seconds: float = Field(default=60.0, gt=0)
    spool_dir: str | None = None
    spool_max_bytes: int = Field(default=512 * 2**20, ge=1024)
    retry_initial_seconds: float = Field(default=0.5, gt=0)
    retry_max_seconds: float = Field(default=30.0, gt=0)
    close_timeout_seconds: float = Field(default=15.0, gt=0)


class StoreMetrics:
    """The writer's own series, registered on the app's registry (multiprocess-safe)."""

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter, Gauge

        self.dropped = Counter(
            "modelops_prediction_store_dropped_total",
            "Prediction rows dropped by the store writer (local spool full).",
            ("reason",),
            registry=registry,
        )
        self.written = Counter(
            "modelops_prediction_store_rows_written_total",
            "Prediction rows uploaded to the store.",
            registry=registry,
        )
        self.failures = Counter(
            "modelops_prediction_store_upload_failures_total",
            "Failed uploads to the store (each retried with backoff).",
            registry=registry,
        )
        self.spooled = Gauge(
            "modelops_prediction_store_spool_bytes",
            "Bytes of sealed files waiting on local disk for upload.",
            multiprocess_mode="livesum",
            registry=registry,
        )


class StoreSink:
    """Prediction records -> Parquet files in the store, never blocking the request path.

    A builder thread groups records into files (by size or age, per partition) and seals
    each into a local spool directory (temp + rename); an uploader thread puts spool files
    into the store oldest first and deletes them once stored. File names are fixed at
    sealing, so a retry after an ambiguous failure rewrites the same object: a row is
    stored exactly once. While the store is unreachable files wait in the spool (bounded
    by `spool_max_bytes`; beyond it new files are dropped and counted) and uploads are
    retried with exponential backoff. A spool left by a dead process (its lock is free)
    is uploaded by the next one.
    """

    def __init__(
        self,
        location: Any,
        model_name: str,
        features: Any,
        cfg: StoreSinkConfig,
        queue_size: int,
        on_drop: Callable[[int], None],
        metrics: StoreMetrics,
        writer: str | None = None,
    ) -> None:
        from modelops.store.writer import writer_id

        self.location = location
        self.model_name = model_name
        self.features = features
        self.cfg = cfg
        self.metrics = metrics
        self.writer = writer or writer_id()
        self._seq = 0
        self._on_drop = on_drop
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        base = Path(
            cfg.spool_dir
            or os.environ.get("PREDICTION_SPOOL_DIR")
            or Path(tempfile.gettempdir()) / "modelops-spool"
        )
        self.spool = base / self.writer
        self.spool.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.spool / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._pending: deque[tuple[Path, Path]] = deque()  # (spool root, file)
        self._orphan_locks: list[int] = []
        self._pending_lock = threading.Lock()
        self._spool_bytes = 0
        self._wake = threading.Event()
        self._draining = threading.Event()
        self._closing = threading.Event()
        self._deadline = float("inf")
        self._adopt_orphans(base)
        self._builder = threading.Thread(target=self._build, name="store-builder", daemon=True)
        self._uploader = threading.Thread(target=self._upload, name="store-uploader", daemon=True)
        self._builder.start()
        self._uploader.start()

    # request path -------------------------------------------------------------------------
    def submit(self, entry: Entry) -> None:
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self._on_drop(len(entry.records))

    # builder ------------------------------------------------------------------------------
    def _build(self) -> None:
        buffer: list[PredictionRecord] = []
        oldest = 0.0
        while True:
            wait = None if not buffer else max(0.0, oldest + self.cfg.flush_seconds - time.monotonic())
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                self._seal(buffer)
                buffer = []
                continue
            if item is _STOP:
                while True:  # anything submitted concurrently with close() still counts
                    try:
                        late = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if late is not _STOP:
                        buffer.extend(late.to_records(self.model_name))
                self._seal(buffer)
                return
            if not buffer:
                oldest = time.monotonic()
            try:
                buffer.extend(item.to_records(self.model_name))
            except Exception:  # one bad entry must not stop the writer
                log.exception("prediction store: entry %s not recordable; dropped", item.request_id)
                self.metrics.dropped.labels("invalid").inc(len(item.records))
            if len(buffer) >= self.cfg.flush_rows:
                self._seal(buffer)
                buffer = []

    def _seal(self, buffer: list[PredictionRecord]) -> None:
        if not buffer:
            return
        from modelops.store import layout
        from modelops.store.writer import parquet_bytes

        try:
            parts = layout.split_predictions(prediction_table(buffer, self.features))
        except Exception:
            log.exception("prediction store: %d rows do not fit the record schema; dropped", len(buffer))
            self.metrics.dropped.labels("invalid").inc(len(buffer))
            return
        for directory, part in parts:
            data = parquet_bytes(part)
            if self._spool_bytes + len(data) > self.cfg.spool_max_bytes:
                self.metrics.dropped.labels("spool_full").inc(part.num_rows)
                log.error(
                    "prediction store: spool full (%d bytes >= spool_max_bytes %d); %d rows dropped",
                    self._spool_bytes,
                    self.cfg.spool_max_bytes,
                    part.num_rows,
                )
                continue
            self._seq += 1
            path = self.spool / directory / layout.file_name(self.writer, self._seq)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            with self._pending_lock:
                self._pending.append((self.spool, path))
                self._spool_bytes += len(data)
                self.metrics.spooled.set(self._spool_bytes)
        self._wake.set()

    # uploader -----------------------------------------------------------------------------
    def _upload(self) -> None:
        backoff = self.cfg.retry_initial_seconds
        while True:
            with self._pending_lock:
                head = self._pending[0] if self._pending else None
            if head is None:
                if self._draining.is_set() and not self._builder.is_alive():
                    return
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            if time.monotonic() > self._deadline:
                return
            if self._put(*head):
                backoff = self.cfg.retry_initial_seconds
                continue
            if self._closing.is_set():  # shutting down: keep retrying until the close deadline
                time.sleep(min(backoff, max(0.0, self._deadline - time.monotonic())))
            else:  # a long backoff is cut short by close(), so shutdown gets a fresh attempt
                self._closing.wait(backoff)
            backoff = min(backoff * 2, self.cfg.retry_max_seconds)

    def _put(self, root: Path, path: Path) -> bool:
        rel = path.relative_to(root).as_posix()
        try:
            data = path.read_bytes()
            self.location.put_bytes(rel, data)
        except Exception as exc:
            self.metrics.failures.inc()
            log.warning(
                "prediction store %s: upload of %s failed (%s); retrying", self.location.uri, rel, exc
            )
            return False
        rows = _rows(data)
        path.unlink(missing_ok=True)
        with self._pending_lock:
            self._pending.popleft()
            self._spool_bytes -= len(data)
            self.metrics.spooled.set(self._spool_bytes)
        self.metrics.written.inc(rows)
        return True

    def _adopt_orphans(self, base: Path) -> None:
        """Queue the files of spools whose writer died (their lock is free) ahead of ours."""
        for other in sorted(p for p in base.iterdir() if p.is_dir() and p != self.spool):
            fd = os.open(other / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue  # a live writer owns it
            files = sorted(other.rglob("*.parquet"))
            for f in files:
                self._pending.append((other, f))
                self._spool_bytes += f.stat().st_size
            self._orphan_locks.append(fd)  # held for life: no third process adopts them too
            if files:
                log.warning("prediction store: uploading %d files left by %s", len(files), other.name)

    def close(self, timeout: float | None = None) -> None:
        """Seal what is buffered and upload the spool until `timeout`; what is left stays on disk."""
        timeout = self.cfg.close_timeout_seconds if timeout is None else timeout
        self._deadline = time.monotonic() + timeout
        self._closing.set()
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.error("prediction store: queue still full at shutdown")
        self._builder.join(max(0.0, self._deadline - time.monotonic()))
        self._draining.set()
        self._wake.set()
        self._uploader.join(max(0.0, self._deadline - time.monotonic()) + 1.0)
        left = len(self._pending)
        if left:
            log.error(
                "prediction store %s: %d files (%d bytes) not uploaded at shutdown; they stay in %s "
                "and are uploaded by the next writer using that spool",
                self.location.uri,
                left,
                self._spool_bytes,
                self.spool.parent,
            )
        else:
            log.info("prediction store %s: all records uploaded", self.location.uri)


def _rows(data: bytes) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows)


def open_sink(
    log_target: str,
    store_uri: str | None,
    model_name: str,
    features: Any,
    cfg: StoreSinkConfig,
    queue_size: int,
    on_drop: Callable[[int], None],
    registry: Any,
) -> "PredictionLog | StoreSink":
    """The store when a URI is configured (PREDICTION_STORE), else the JSON-lines log."""
    if not store_uri:
        return PredictionLog(log_target, queue_size, on_drop)
    from modelops.store.location import open_location

    log.info("prediction records -> store %s", store_uri)
    return StoreSink(
        open_location(store_uri), model_name, features, cfg, queue_size, on_drop, StoreMetrics(registry)
    )


class ShadowScorer:
    """Scores a second model on the same records, after the response, and logs it beside the primary."""

    def __init__(
        self,
        version: str,
        score: Callable[[Sequence[dict[str, Any]]], Any],
        sink: Sink,
        queue_size: int,
        on_error: Callable[[], None],
        on_drop: Callable[[int], None],
    ) -> None:
        self.version = version
        self._score = score
        self._sink = sink
        self._on_error = on_error
        self._on_drop = on_drop
        self._queue: queue.Queue[Entry] = queue.Queue(maxsize=queue_size)
        self._current: Entry | None = None
        self._thread = threading.Thread(target=self._run, name="shadow-scorer", daemon=True)
        self._thread.start()

    def submit(self, entry: Entry) -> None:
        """Queue `entry` for shadow scoring; when the shadow is behind, log the primary alone."""
        entry.shadow_version = self.version
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self._on_drop(len(entry.records))
            self._sink.submit(entry)  # shadow score null: skipped, primary still logged

    def _run(self) -> None:
        while True:
            entry = self._queue.get()
            self._current = entry
            try:
                entry.shadow_scores = [float(s) for s in self._score(entry.records)]
            except Exception:  # any shadow failure is the shadow's problem only
                log.warning(
                    "shadow model %s failed on request %s", self.version, entry.request_id, exc_info=True
                )
                self._on_error()
            self._current = None
            self._sink.submit(entry)

    def close(self, timeout: float = 5.0) -> None:
        """Give the shadow `timeout` to catch up; log whatever is left without shadow scores."""
        deadline = threading.Event()
        waited = 0.0
        while not self._queue.empty() and waited < timeout:
            deadline.wait(0.05)
            waited += 0.05
        stuck = [self._current] if self._current is not None else []
        while True:
            try:
                stuck.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for entry in stuck:
            self._sink.submit(entry)
        if stuck:
            log.warning(
                "shadow model %s: %d requests logged without shadow scores at shutdown",
                self.version,
                len(stuck),
            )
