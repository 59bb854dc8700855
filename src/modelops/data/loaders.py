"""Ready-made `load_data` loaders for the common sources: files and SQL queries.

A team whose data is a table somewhere sets, in configs/model.yaml,

    contract:
      load_data: modelops.data.loaders:load_file      # or load_sql
      source_config: modelops.data.loaders:FileSource  # or SqlSource

and describes the table under configs/data.yaml `source:`; it writes no loader at all.
`read_files` and `read_sql` are the one implementation of reading a table from files or a
database; `modelops labels ingest` uses them too.
"""

import os
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
from pydantic import Field, PrivateAttr

from modelops.errors import DataSourceError
from modelops.strict import Strict

Format = Literal["parquet", "csv"]
# Suffix -> format; compressed CSV is decompressed by fsspec (compression="infer").
SUFFIXES: dict[str, Format] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".csv.bz2": "csv",
    ".csv.zst": "csv",
}


def infer_format(path: str) -> Format | None:
    """The table format named by a file's suffix (`.parquet`, `.pq`, `.csv[.gz|.bz2|.zst]`), else None."""
    name = PurePosixPath(path).name.lower()
    return next((fmt for suffix, fmt in SUFFIXES.items() if name.endswith(suffix)), None)


def is_url(path: str) -> bool:
    """`s3://...`, `gs://...`, `https://...`, `file://...`: handed to fsspec as is."""
    return "://" in path


def redact(url: str) -> str:
    """A URL without its user and password, for messages and run params."""
    parts = urlsplit(url)
    if not parts.hostname or parts.username is None:
        return url
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=host))


def _filesystem(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    from modelops.store.location import url_to_fs

    # The environment's S3-compatible endpoint and timeouts (the store's adapter), overridden by the config.
    return url_to_fs(url, **storage_options)


def _hidden(path: str, base: str) -> bool:
    """Below `base`, a name starting with "." or "_": marker files (_SUCCESS) and the work
    directories writers leave (Spark's _temporary/, .staging/) are not part of the table."""
    rel = path[len(base) :].strip("/")
    return any(part.startswith((".", "_")) for part in rel.split("/"))


def list_files(fs: Any, target: str, url: str, fmt: Format | None = None) -> list[str]:
    """The table files at `target`: the file itself, or every table file below the directory in
    name order (hidden ones skipped; only `fmt` files when given). The one listing of a table
    location, for the data loaders and batch scoring's input."""
    if not fs.exists(target):
        raise DataSourceError(f"{redact(url)}: no such file or directory")
    if not fs.isdir(target):
        return [target]
    found = sorted(
        p
        for p in fs.find(target)
        if not _hidden(p, target) and infer_format(p) is not None and (fmt is None or infer_format(p) == fmt)
    )
    if not found:
        wanted = fmt or "parquet or csv"
        raise DataSourceError(f"{redact(url)}: directory has no {wanted} files")
    return found


def table_format(files: list[str], url: str, fmt: Format | None = None) -> Format:
    """`fmt`, else the one format the files' suffixes name; unknown or mixed is a DataSourceError."""
    formats = {fmt or infer_format(f) for f in files}
    if None in formats:
        raise DataSourceError(
            f"{redact(url)}: cannot tell the format from the suffix; set format: parquet or csv"
        )
    if len(formats) > 1:
        mixed = " and ".join(sorted(map(str, formats)))
        raise DataSourceError(f"{redact(url)}: mixes {mixed} files; set format")
    (found,) = formats
    return found  # type: ignore[return-value]


def read_files(
    url: str,
    *,
    format: Format | None = None,
    options: dict[str, Any] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Read one table from a file, a directory of files or an fsspec URL (s3://, gs://, https://...).

    The format is `format`, else each file's suffix; one directory must hold one format.
    `options` go to pandas.read_parquet / read_csv, `storage_options` to fsspec.
    """
    fs, target = _filesystem(url, dict(storage_options or {}))
    files = list_files(fs, target, url, format)
    fmt = table_format(files, url, format)
    reader = pd.read_parquet if fmt == "parquet" else pd.read_csv
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    frames = []
    for path in files:
        try:
            if "file" in protocols:  # local: pyarrow maps the file itself, pandas infers compression
                frames.append(reader(path, **(options or {})))
                continue
            with fs.open(path, "rb", compression="infer" if fmt == "csv" else None) as fh:
                frames.append(reader(fh, **(options or {})))
        except Exception as exc:  # pyarrow/pandas/fsspec raise many types for a bad file
            raise DataSourceError(f"{redact(url)}: cannot read {path} ({type(exc).__name__}: {exc})") from exc
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def sqlalchemy_url(url: str) -> str:
    """Plain `postgresql://` URLs use the locked driver (SQLAlchemy 2.1 would pick psycopg 3)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def read_sql(url: str, query: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run `query` (with `:name` bound parameters) on the database at the SQLAlchemy `url`."""
    import sqlalchemy

    secret = None
    try:
        parsed = sqlalchemy.engine.make_url(sqlalchemy_url(url))
        secret = parsed.password
        engine = sqlalchemy.create_engine(parsed)
        try:
            with engine.connect() as conn:
                return pd.read_sql(sqlalchemy.text(query), conn, params=params or {})
        finally:
            engine.dispose()
    except Exception as exc:  # driver and SQLAlchemy errors; never echo the password
        text = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if secret:
            text = text.replace(str(secret), "***")
        raise DataSourceError(f"SQL query failed ({text})") from exc


class FileSource(Strict):
    """configs/data.yaml `source:` for `load_file`: a table in files."""

    # A local file or directory (relative to the project root), or an fsspec URL: s3://bucket/prefix/
    path: str = Field(min_length=1)
    format: Format | None = None  # default: from the suffix
    options: dict[str, Any] = {}  # passed to pandas.read_parquet / read_csv, e.g. {sep: ";"}
    # Passed to fsspec, e.g. {anon: true}; credentials come from the environment, never from git.
    storage_options: dict[str, Any] = {}
    _root: Path | None = PrivateAttr(None)

    def model_post_init(self, context: Any) -> None:
        # The contract validates with context {"root": project root}: relative paths resolve there.
        if isinstance(context, dict) and context.get("root") is not None:
            self._root = Path(context["root"])

    def location(self) -> str:
        """The path or URL to read: a relative local path joined to the project root."""
        if is_url(self.path) or Path(self.path).is_absolute() or self._root is None:
            return self.path
        return str(self._root / self.path)

    def describe(self) -> str:
        return f"file {redact(self.path)} ({self.format or infer_format(self.path) or 'by suffix'})"


class SqlSource(Strict):
    """configs/data.yaml `source:` for `load_sql`: a query on a database."""

    # The environment variable holding the SQLAlchemy URL (with its password): no secret in git.
    url_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    query: str = Field(min_length=1)
    params: dict[str, Any] = {}  # bound to `:name` placeholders in the query

    def describe(self) -> str:
        return f"sql ${self.url_env}: {' '.join(self.query.split())}"


def load_file(source: FileSource) -> pd.DataFrame:
    """Contract function (load_data): the table the FileSource points at."""
    return read_files(
        source.location(),
        format=source.format,
        options=dict(source.options),
        storage_options=dict(source.storage_options),
    )


def load_sql(source: SqlSource) -> pd.DataFrame:
    """Contract function (load_data): the result of the SqlSource's query."""
    url = os.environ.get(source.url_env)
    if not url:
        raise DataSourceError(
            f"configs/data.yaml source.url_env: environment variable {source.url_env} is not set "
            "(it holds the database URL, kept out of git)"
        )
    return read_sql(url, source.query, dict(source.params))
