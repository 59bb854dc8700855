"""The input snapshot: a Parquet/CSV file or directory at any fsspec URL, read as Arrow batches.

Nothing here decides anything: it lists the files, fingerprints them, checks the columns
against the feature schema (pure `column_problems`) and streams batches with bounded memory.
"""

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.dataset as ds

from modelops.data.schema import FeatureSchema
from modelops.errors import ModelOpsError

_CSV_COLUMN = re.compile(r"CSV column #(\d+)")


class InputError(ModelOpsError):
    """The input cannot be scored: unreadable, empty, or not the declared columns and types."""


@dataclass(frozen=True)
class InputFile:
    path: str
    size: int
    md5: str


@dataclass(frozen=True)
class Snapshot:
    """An opened input: its files (with md5s), format and Arrow dataset."""

    uri: str
    format: str
    files: tuple[InputFile, ...]
    dataset: ds.Dataset

    def listing(self) -> list[dict[str, Any]]:
        return [{"path": f.path, "size": f.size, "md5": f.md5} for f in self.files]

    @property
    def md5(self) -> str:
        """One fingerprint for the whole input: md5 of the sorted (path, md5) listing."""
        h = hashlib.md5()
        for f in self.files:
            h.update(f"{f.path}\0{f.md5}\n".encode())
        return self.files[0].md5 if len(self.files) == 1 else h.hexdigest()


def _md5(fs: Any, path: str) -> str:
    h = hashlib.md5()
    with fs.open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def id_column(schema: FeatureSchema) -> str:
    """The id column the output is keyed by (configs/features.yaml id_column is optional)."""
    return schema.require(
        "id_column",
        "batch scoring writes each score beside its row's id (and labels join on it); declare one",
    )


def csv_types(schema: FeatureSchema) -> dict[str, pa.DataType]:
    """Declared CSV column types: numbers as float64, categories as strings (no guessing per block)."""
    types: dict[str, pa.DataType] = {id_column(schema): pa.string()}
    for f in schema.features:
        types[f.name] = pa.float64() if f.kind == "numeric" else pa.string()
    return types


def open_snapshot(uri: str, schema: FeatureSchema) -> Snapshot:
    """List and fingerprint the input; an unreadable or empty location is an InputError.

    The filesystem comes with the environment's storage options (an S3-compatible endpoint,
    short timeouts) and the files are listed as the data loaders list them.
    """
    from modelops.data.loaders import list_files, table_format
    from modelops.errors import DataSourceError
    from modelops.store.location import url_to_fs

    try:
        fs, path = url_to_fs(uri)
        paths = list_files(fs, path, uri)
        fmt = table_format(paths, uri)
        files = tuple(InputFile(fs.unstrip_protocol(p), int(fs.size(p)), _md5(fs, p)) for p in paths)
    except DataSourceError as exc:
        raise InputError(f"input {exc}") from exc
    except Exception as exc:
        raise InputError(f"input {uri}: cannot read ({type(exc).__name__}: {exc})") from exc
    if fmt == "csv":
        fmt_obj: Any = ds.CsvFileFormat(
            # An empty field is a missing value (what pandas' to_csv writes for one), not the
            # category "": otherwise the data gate sees a new category in every nullable one.
            convert_options=pyarrow.csv.ConvertOptions(
                column_types=csv_types(schema), strings_can_be_null=True
            )
        )
    else:
        fmt_obj = "parquet"
    try:
        dataset = ds.dataset(paths, filesystem=fs, format=fmt_obj)
    except Exception as exc:
        header = _csv_header(fs, paths[0]) if fmt == "csv" else []
        detail = (
            _explain(str(exc), header) if _CSV_COLUMN.search(str(exc)) else f"{type(exc).__name__}: {exc}"
        )
        raise InputError(f"input {uri}: cannot read as {fmt}: {detail}") from exc
    return Snapshot(uri, fmt, files, dataset)


def _kind(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    return str(t)


def allowed_columns(schema: FeatureSchema) -> set[str]:
    """Columns an input may carry: the id, the features, and the snapshot time and label (ignored)."""
    optional = {c for c in (schema.id_column, schema.timestamp_column) if c is not None}
    return {*optional, schema.label, *schema.names}


def column_problems(schema: FeatureSchema, arrow: pa.Schema, source: str) -> list[str]:
    """Every way the input's columns differ from the declared schema (pure)."""
    names = list(arrow.names)
    problems = []
    missing = [c for c in [id_column(schema), *schema.names] if c not in names]
    if missing:
        problems.append(f"{source}: missing column(s) {', '.join(missing)}")
    extra = [c for c in names if c not in allowed_columns(schema)]
    if extra:
        problems.append(f"{source}: unexpected column(s) {', '.join(extra)} (not in configs/features.yaml)")
    for f in schema.features:
        if f.name not in names:
            continue
        got = _kind(arrow.field(f.name).type)
        want = "number" if f.kind == "numeric" else "string"
        if got not in (want, "null"):
            problems.append(
                f"{source}: column {f.name!r} has type {arrow.field(f.name).type}, "
                f"expected a {want} ({f.kind} feature)"
            )
    return problems


def columns(schema: FeatureSchema) -> list[str]:
    return [id_column(schema), *schema.names]


def check_columns(snapshot: Snapshot, schema: FeatureSchema) -> None:
    problems = column_problems(schema, snapshot.dataset.schema, f"input {snapshot.uri}")
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(problems[0] + more)


def batches(snapshot: Snapshot, schema: FeatureSchema, rows: int) -> Iterator[pa.RecordBatch]:
    """The id and feature columns in batches of at most `rows`; read errors name the column."""
    names = columns(schema)
    try:
        for batch in snapshot.dataset.to_batches(columns=names, batch_size=rows, use_threads=True):
            if batch.num_rows:
                yield batch
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise InputError(
            f"input {snapshot.uri}: {_explain(str(exc), snapshot.dataset.schema.names)}"
        ) from exc


def _csv_header(fs: Any, path: str) -> list[str]:
    import csv

    try:
        with fs.open(path, "rt") as fh:
            return next(csv.reader([fh.readline()]))
    except Exception:
        return []


def _explain(message: str, file_columns: list[str]) -> str:
    first = message.strip().splitlines()[0]
    m = _CSV_COLUMN.search(first)
    if m and int(m.group(1)) < len(file_columns):
        # Arrow numbers CSV columns from 0; name the column instead.
        detail = first[m.end() :].lstrip(": ")
        return f"column {file_columns[int(m.group(1))]!r} has a value of the wrong type ({detail})"
    return first


class Sampler:
    """A seeded uniform sample of at most `size` rows over a stream (bottom-k on random keys).

    Same seed and same input order -> same sample; memory holds at most 2 x size rows.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.keys = np.empty(0)
        self.table: pa.Table | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        keys = np.concatenate([self.keys, self.rng.random(batch.num_rows)])
        table = (
            pa.Table.from_batches([batch])
            if self.table is None
            else pa.concat_tables([self.table, pa.Table.from_batches([batch])])
        )
        if len(keys) > self.size:
            keep = np.sort(np.argpartition(keys, self.size - 1)[: self.size])
            keys, table = keys[keep], table.take(pa.array(keep))
        self.keys, self.table = keys, table

    def result(self) -> pa.Table:
        if self.table is None:
            raise InputError("no rows to sample")
        return self.table.combine_chunks()


@dataclass(frozen=True)
class Scan:
    rows: int
    null_ids: int
    sample: pa.Table


def scan(snapshot: Snapshot, schema: FeatureSchema, chunk_rows: int, sample_rows: int, seed: int) -> Scan:
    """Pass 1 (before any score exists): count rows, null ids, and draw the gate's sample."""
    sampler = Sampler(sample_rows, seed)
    rows = null_ids = 0
    for batch in batches(snapshot, schema, chunk_rows):
        rows += batch.num_rows
        null_ids += batch.column(id_column(schema)).null_count
        sampler.add(batch)
    if rows == 0:
        raise InputError(f"input {snapshot.uri}: no rows to score")
    if null_ids:
        raise InputError(f"input {snapshot.uri}: column {id_column(schema)!r} has {null_ids} null id(s)")
    return Scan(rows, null_ids, sampler.result())


def to_pandas(table: pa.Table, schema: FeatureSchema) -> Any:
    """The id and features as the baseline check expects: floats, and categories as plain strings."""
    import pandas as pd

    cols = {id_column(schema): table.column(id_column(schema)).to_pandas()}
    for f in schema.features:
        col = table.column(f.name)
        if f.kind == "numeric":
            cols[f.name] = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        else:
            # Plain strings, not a Categorical of the declared values: an undeclared value must
            # stay visible to the baseline check (the pipeline maps it to "unknown" itself).
            values = pc.cast(col, pa.string()) if pa.types.is_dictionary(col.type) else col
            cols[f.name] = values.to_pandas().astype(object)
    return pd.DataFrame(cols)
