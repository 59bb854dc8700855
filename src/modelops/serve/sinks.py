"""Off-request-path work: the prediction log writer and the shadow scorer.

Both own a bounded queue and one daemon thread. The request path only ever calls
`put_nowait`; when a queue is full the work is dropped and counted, never waited for.
"""

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)
_STOP = object()


@dataclass
class Entry:
    """One request's predictions, logged as one JSON line per record."""

    request_id: str
    timestamp: str
    model_version: str
    records: Sequence[dict[str, Any]]
    scores: Sequence[float]
    shadow_version: str | None = None
    shadow_scores: Sequence[float | None] | None = field(default=None)

    def lines(self) -> bytes:
        # The fields shared by every line are serialised once; this runs on a background
        # thread but still holds the GIL, so it is kept to one orjson call per record.
        head = orjson.dumps(
            {"request_id": self.request_id, "timestamp": self.timestamp, "model_version": self.model_version}
        )[:-1]
        dumps = orjson.dumps
        if self.shadow_version is None:
            parts = [
                b'%s,"features":%s,"score":%s}\n' % (head, dumps(rec), dumps(score))
                for rec, score in zip(self.records, self.scores, strict=True)
            ]
        else:
            shadow = self.shadow_scores or [None] * len(self.records)
            version = dumps(self.shadow_version)
            parts = [
                b'%s,"features":%s,"score":%s,"shadow":{"model_version":%s,"score":%s}}\n'
                % (head, dumps(rec), dumps(score), version, dumps(sh))
                for rec, score, sh in zip(self.records, self.scores, shadow, strict=True)
            ]
        return b"".join(parts)


class PredictionLog:
    """JSON lines to a file (appended) or to stdout ("-"), written by a background thread."""

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
            data = b"".join(b.lines() for b in batch if b is not _STOP)
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


class ShadowScorer:
    """Scores a second model on the same records, after the response, and logs it beside the primary."""

    def __init__(
        self,
        version: str,
        score: Callable[[Sequence[dict[str, Any]]], Any],
        sink: PredictionLog,
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
