"""Read a time window of the store with partition pruning (pyarrow datasets).

Only the directories whose date/hour can hold rows of the window are opened; rows are
then filtered on their own timestamp. Each model version is read as its own dataset,
so versions trained on different feature schemas never need one unified schema.
"""

from collections.abc import Iterator, Sequence
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from modelops.records import LABEL_SCHEMA, TIMESTAMP
from modelops.store import layout
from modelops.store.location import Location, StoreError, open_location

_PRED_PARTS = pa.schema([("date", pa.string()), ("hour", pa.string())])
_LABEL_PARTS = pa.schema([("date", pa.string())])


def _loc(uri: str | Location) -> Location:
    return uri if isinstance(uri, Location) else open_location(uri)


def _values(loc: Location, relative: str, key: str) -> list[str]:
    """The `key=` values of the subdirectories of `relative` (e.g. the stored versions)."""
    path = loc.path(relative)
    try:
        entries = loc.fs.ls(path, detail=True) if loc.fs.exists(path) else []
    except OSError as exc:
        raise StoreError(f"{loc.uri}: cannot list {relative} ({exc})") from exc
    names = [e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"]
    return sorted(n.split("=", 1)[1] for n in names if n.startswith(f"{key}="))


def versions(uri: str | Location, model: str) -> list[str]:
    """Model versions with stored predictions, numerically ordered."""
    found = _values(_loc(uri), f"{layout.PREDICTIONS}/model={model}", "version")
    return sorted(found, key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v))


def window_filter(
    since: datetime | None, until: datetime | None, column: str, hourly: bool = True
) -> ds.Expression | None:
    """Partition pruning (date/hour directories) and row filtering for [since, until)."""
    date, hour = ds.field("date"), ds.field("hour")
    parts = []
    if since is not None:
        d, h = layout.hour_key(since)
        parts.append((date > d) | ((date == d) & (hour >= h)) if hourly else date >= d)
        parts.append(ds.field(column) >= pa.scalar(since, TIMESTAMP))
    if until is not None:
        d, h = layout.hour_key(until)
        parts.append((date < d) | ((date == d) & (hour <= h)) if hourly else date <= d)
        parts.append(ds.field(column) < pa.scalar(until, TIMESTAMP))
    out = None
    for p in parts:
        out = p if out is None else out & p
    return out


def _dataset(loc: Location, relative: str, partitioning: pa.Schema) -> ds.Dataset | None:
    path = loc.path(relative)
    if not loc.fs.exists(path):
        return None
    try:
        return ds.dataset(
            path,
            filesystem=loc.fs,
            format="parquet",
            partitioning=ds.partitioning(partitioning, flavor="hive"),
            exclude_invalid_files=False,
        )
    except (OSError, pa.ArrowInvalid) as exc:
        raise StoreError(f"{loc.uri}: cannot read {relative} ({exc})") from exc


def scan_window(
    uri: str | Location,
    model: str,
    version: str,
    since: datetime | None = None,
    until: datetime | None = None,
    columns: Sequence[str] | None = None,
    batch_size: int = 262_144,
) -> Iterator[pa.RecordBatch]:
    """Stream the rows of one version in [since, until) as record batches (bounded memory)."""
    data = _dataset(_loc(uri), f"{layout.PREDICTIONS}/model={model}/version={version}", _PRED_PARTS)
    if data is None:
        return
    cols = (
        list(columns) if columns is not None else [n for n in data.schema.names if n not in ("date", "hour")]
    )
    yield from data.to_batches(
        columns=cols, filter=window_filter(since, until, "timestamp"), batch_size=batch_size
    )


def count_window(
    uri: str | Location,
    model: str,
    version: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    data = _dataset(_loc(uri), f"{layout.PREDICTIONS}/model={model}/version={version}", _PRED_PARTS)
    return 0 if data is None else int(data.count_rows(filter=window_filter(since, until, "timestamp")))


def read_window(
    uri: str | Location,
    model: str,
    version: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Predictions of `model` (one version, or all) with since <= timestamp < until, as one table.

    For windows too large for memory, iterate `scan_window` per version instead.
    """
    loc = _loc(uri)
    chosen = [version] if version is not None else versions(loc, model)
    tables = [
        pa.Table.from_batches(list(batches))
        if (batches := list(scan_window(loc, model, v, since, until, columns)))
        else None
        for v in chosen
    ]
    found = [t for t in tables if t is not None and t.num_rows]
    if not found:
        return pa.table({c: pa.array([], pa.string()) for c in (columns or ["request_id"])})
    return pa.concat_tables(found, promote_options="permissive")


def read_labels(uri: str | Location, model: str, since: datetime | None = None) -> pa.Table:
    """Labels of `model` observed at or after `since`; the latest observation wins per request id."""
    data = _dataset(_loc(uri), f"{layout.LABELS}/model={model}", _LABEL_PARTS)
    if data is None:
        return LABEL_SCHEMA.empty_table()
    flt = window_filter(since, None, "observed_at", hourly=False)
    table = data.to_table(columns=list(LABEL_SCHEMA.names), filter=flt)
    if table.num_rows == 0:
        return table
    order = pc.sort_indices(table, sort_keys=[("request_id", "ascending"), ("observed_at", "descending")])
    table = table.take(order)
    ids = table["request_id"]
    # first row of each request id after sorting = its latest observation
    keep = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1)).combine_chunks()
    mask = pa.concat_arrays([pa.array([True]), keep])
    return table.filter(mask)


def scores_by_version(
    uri: str | Location,
    model: str,
    chosen: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, pa.Table]:
    """Per version: (timestamp, score, shadow_version, shadow_score) rows of the window.

    For the canary decision: compare the canary's predictions with stable's over the same
    window (score distributions, shadow agreement) without reading feature columns.
    """
    loc = _loc(uri)
    columns = ["timestamp", "score", "shadow_version", "shadow_score"]
    out = {}
    for version in chosen:
        batches = list(scan_window(loc, model, version, since, until, columns))
        out[version] = (
            pa.Table.from_batches(batches)
            if batches
            else pa.table({c: pa.array([], pa.float64()) for c in columns})
        )
    return out
