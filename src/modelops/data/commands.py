"""`modelops data ingest|validate|split`: the DVC pipeline's data stages."""

import argparse
import json
from pathlib import Path
from typing import Any

from modelops.settings import load_settings


def _ingest(args: argparse.Namespace) -> int:
    from modelops.data.ingest import ingest

    out = ingest(load_settings(Path(args.root), args.set))
    print(f"wrote raw snapshot {out}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from modelops.data.ingest import validate

    settings = load_settings(Path(args.root), args.set)
    report = validate(settings, Path(args.path) if args.path else None)
    print(f"data validation passed: {report['rows']} rows ({report['source']})")
    return 0


def _split(args: argparse.Namespace) -> int:
    from modelops.data.split import split

    counts = split(load_settings(Path(args.root), args.set))
    print(json.dumps(counts))
    return 0


def _set_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value for this run, e.g. data.source.rows=5000",
    )


def register(sub: Any) -> None:
    data = sub.add_parser(
        "data",
        help="data stages: ingest, validate, split",
        description="Data stages of the DVC pipeline (see dvc.yaml).",
    )
    steps = data.add_subparsers(dest="data_command", required=True, metavar="STAGE")
    p = steps.add_parser(
        "ingest",
        help="write the raw snapshot via the model package's load_data",
        description="Write the raw snapshot (data.paths.raw) from contract.load_data.",
    )
    _set_option(p)
    p.set_defaults(func=_ingest)
    p = steps.add_parser(
        "validate",
        help="validate the raw snapshot against configs/features.yaml",
        description="Fail closed on any schema rule; name the column and rule broken.",
    )
    p.add_argument("--path", help="validate this parquet/CSV instead of data.paths.raw")
    _set_option(p)
    p.set_defaults(func=_validate)
    p = steps.add_parser(
        "split",
        help="write train / valid / frozen eval splits",
        description="Split by a stable hash of the id column into train, valid and eval.",
    )
    _set_option(p)
    p.set_defaults(func=_split)
