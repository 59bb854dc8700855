"""`modelops labels ingest`: delayed ground truth into the label store, joined later on request id."""

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "labels",
        help="delayed labels: ingest into the label store (joined to predictions on request id)",
        description="Labels join predictions on request_id: an online request's id, or for batch "
        "scoring the id column's value (configs/features.yaml id_column).",
    )
    cmds = p.add_subparsers(dest="labels_command", required=True, metavar="COMMAND")
    ing = cmds.add_parser("ingest", help="read labels from a file or a SQL query and store them")
    src = ing.add_mutually_exclusive_group(required=True)
    src.add_argument("--from", dest="source", type=Path, help="CSV or Parquet file")
    src.add_argument(
        "--query",
        help="SQL returning the id, label (and optionally observed_at) columns; run on --dsn "
        "(PostgreSQL), else by DuckDB over local files, e.g. SELECT * FROM 'outcomes.parquet'",
    )
    ing.add_argument("--dsn", help="database URL for --query, e.g. postgresql://user@host/db")
    ing.add_argument("--store", help="store URI (default: $PREDICTION_STORE, else ./store under --root)")
    ing.add_argument(
        "--id-column", help="column joined to request_id (default: request_id if present, else id_column)"
    )
    ing.add_argument("--label-column", help="label column (default: features.yaml label)")
    ing.set_defaults(func=ingest)


def _frame(args: argparse.Namespace) -> Any:
    from modelops.data.loaders import infer_format, read_files, read_sql
    from modelops.errors import DataSourceError
    from modelops.store.location import StoreError

    if args.source is not None:
        path: Path = args.source
        if not path.is_file():
            raise StoreError(f"--from {path}: file not found")
        fmt = infer_format(str(path)) or "csv"  # an unknown suffix is read as CSV
        try:
            # Ids stay strings in CSV ("007" is not 7): they join to request ids.
            return read_files(str(path), format=fmt, options={"dtype": str} if fmt == "csv" else {})
        except DataSourceError as exc:
            raise StoreError(f"--from {exc}") from exc
    if args.dsn:
        try:
            return read_sql(args.dsn, args.query)
        except DataSourceError as exc:
            raise StoreError(f"--query: {exc}") from exc
    try:
        import duckdb

        rel = duckdb.sql(args.query)
        if rel is None:
            raise ValueError("the statement returns no rows")
        return rel.df()
    except Exception as exc:
        raise StoreError(f"--query: failed ({type(exc).__name__}: {exc})") from exc


def ingest(args: argparse.Namespace) -> int:
    from modelops.settings import load_settings
    from modelops.store.labels import to_label_table
    from modelops.store.location import DEFAULT, ENV
    from modelops.store.writer import LabelStore

    settings = load_settings(Path(args.root))
    uri = args.store or os.environ.get(ENV) or str(settings.path(DEFAULT))
    frame = _frame(args)
    where = str(args.source) if args.source is not None else "--query"
    table = to_label_table(
        frame,
        where,
        id_column=args.id_column
        # Without a declared id column labels must carry the request id.
        or ("request_id" if "request_id" in frame.columns else settings.features.id_column or "request_id"),
        label_column=args.label_column or settings.features.label,
        model_name=settings.model.name,
        now=datetime.now(UTC),
    )
    written = LabelStore(uri).write(table)
    print(f"{table.num_rows} labels -> {uri} ({len(written)} files)")
    return 0
