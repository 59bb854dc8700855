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
    baseline: dict[str, str] = report["baseline"]  # type: ignore[assignment]
    if baseline["status"] == "bootstrap":
        verdict = f"baseline: none yet at {baseline['profile']}, this snapshot bootstraps it"
    else:
        verdict = f"baseline {baseline['profile']}: within tolerances"
    accepted = "" if args.path else f"; profile updated ({baseline['profile']})"
    print(f"data validation passed: {report['rows']} rows ({report['source']}); {verdict}{accepted}")
    return 0


def _split(args: argparse.Namespace) -> int:
    from modelops.data.split import split

    counts = split(load_settings(Path(args.root), args.set))
    print(json.dumps(counts))
    return 0


def _eval_set(args: argparse.Namespace) -> int:
    from modelops.data.evalset import write_eval_set

    settings = load_settings(Path(args.root), args.set)
    rotate = args.eval_set_command == "rotate"
    pin = write_eval_set(settings, getattr(args, "reason", None), rotate=rotate)
    verb = "rotated" if rotate else "created"
    print(
        f"evaluation set {verb}: {pin.path} ({pin.rows} rows, md5 {pin.md5}), pinned in "
        f"{settings.config_dir.name}/eval_set.yaml. Commit the pin, {pin.path}.dvc and dvc.lock, "
        "then `dvc push`."
    )
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
        help="data stages: ingest, validate, split; the pinned evaluation set",
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
        help="validate the raw snapshot: schema (features.yaml) and baseline (baseline.yaml)",
        description="Fail closed on any schema rule or baseline tolerance, naming the column, the rule, "
        "the baseline value and the new one. On a pass the snapshot is accepted: the validation report "
        "and the baseline profile (data.paths.profile) are rewritten.",
    )
    p.add_argument(
        "--path",
        help="check this parquet/CSV instead of data.paths.raw (check only: writes no report or profile)",
    )
    _set_option(p)
    p.set_defaults(func=_validate)
    p = steps.add_parser(
        "split",
        help="write train / valid splits, excluding the pinned evaluation set",
        description="Split by a stable hash of the id column into train and valid; the evaluation bucket "
        "and every id of the pinned evaluation set (configs/eval_set.yaml) are held out.",
    )
    _set_option(p)
    p.set_defaults(func=_split)
    p = steps.add_parser(
        "eval-set",
        help="create or rotate the frozen, pinned evaluation set",
        description="The evaluation set is its own DVC-tracked artifact, pinned by md5 in "
        "configs/eval_set.yaml. New snapshots never change it; only these commands do.",
    )
    actions = p.add_subparsers(dest="eval_set_command", required=True, metavar="ACTION")
    q = actions.add_parser(
        "create",
        help="cut the evaluation set from the validated snapshot and pin it (only when none is pinned)",
    )
    _set_option(q)
    q.set_defaults(func=_eval_set)
    q = actions.add_parser(
        "rotate",
        help="replace the pinned evaluation set (a reviewed change; needs --reason)",
        description="Replace the pinned evaluation set with the evaluation bucket of the current validated "
        "snapshot. The replaced set stays in the DVC cache and git history; the reason is recorded.",
    )
    q.add_argument("--reason", default=None, help="why the evaluation set changes (recorded in the pin)")
    _set_option(q)
    q.set_defaults(func=_eval_set)
