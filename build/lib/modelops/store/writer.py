"""Write record tables to the store: one compressed Parquet file per partition, each appearing whole."""

import io
import os
import socket
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from modelops.records import LABEL_SCHEMA
from modelops.store import layout
from modelops.store.location import Location, StoreError, open_location

COMPRESSION = "zstd"


def parquet_bytes(table: pa.Table) -> bytes:
    """The file format of the store (zstd; statistics on, so readers can skip row groups)."""
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=COMPRESSION, row_group_size=1_000_000)
    return buf.getvalue()


def writer_id() -> str:
    """<pod>-<8 hex>: the pod name (HOSTNAME in k8s) plus a per-process token.

    The token keeps a restarted container (same pod name, sequence back at 0) from
    overwriting the files of its previous run.
    """
    host = os.environ.get("HOSTNAME") or socket.gethostname() or "host"
    safe = "".join(c if c.isalnum() or c in "._" else "_" for c in host)[:63]
    return f"{safe}-{uuid.uuid4().hex[:8]}"


class _Store:
    def __init__(self, uri: str | Location, writer: str | None = None, env: Mapping[str, str] | None = None):
        self.location = uri if isinstance(uri, Location) else open_location(uri, env)
        self.writer = writer or writer_id()
        self._seq = 0
        self._lock = threading.Lock()

    def next_name(self) -> str:
        with self._lock:
            self._seq += 1
            return layout.file_name(self.writer, self._seq)

    def _put(self, parts: list[tuple[str, pa.Table]]) -> list[str]:
        written = []
        for directory, part in parts:
            rel = f"{directory}/{self.next_name()}"
            try:
                self.location.put_bytes(rel, parquet_bytes(part))
            except OSError as exc:
                raise StoreError(f"{self.location.uri}: cannot write {rel} ({exc})") from exc
            written.append(rel)
        return written


class PredictionStore(_Store):
    """`PredictionStore(uri).write(table)`: a table in `records.prediction_schema` -> partitioned files.

    Used by the batch scorer directly; the server goes through `serve.sinks.StoreSink`
    (buffering, spool and retries) which writes the same files.
    """

    def write(self, table: pa.Table | Any) -> list[str]:
        """Write every row once; returns the files' paths relative to the store root."""
        if not isinstance(table, pa.Table):
            from modelops.records import prediction_table

            raise TypeError(
                f"write() takes a pyarrow.Table; build one with {prediction_table.__qualname__}()"
            )
        return self._put(layout.split_predictions(table))


class LabelStore(_Store):
    """`LabelStore(uri).write(table)`: a table in `records.LABEL_SCHEMA` -> labels/model=/date= files."""

    def write(self, table: pa.Table) -> list[str]:
        return self._put(layout.split_labels(table.cast(LABEL_SCHEMA)))
