"""`modelops train` and `modelops evaluate`."""

import argparse
import json
from pathlib import Path
from typing import Any

from modelops.settings import load_settings


def _train(args: argparse.Namespace) -> int:
    from modelops.train.job import train

    result = train(load_settings(Path(args.root), args.set))
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        auc = result.metrics.get("valid_roc_auc")
        print(f"registered {result.name} version {result.version} (run {result.run_id}, valid AUC {auc:.4f})")
        print(result.version)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from modelops.train.evaluate import evaluate

    result = evaluate(load_settings(Path(args.root), args.set))
    print(json.dumps({"model": result["model"], **result["overall"]}, indent=2))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="fit the pipeline, log it to MLflow and register a new version",
        description="Fit the contract's pipeline on the train split, log params, per-iteration curves, "
        "validation metrics, plots, environment and lineage tags to MLflow, and register a new version "
        "of the model. Prints the new version number last.",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config value for this run (recorded with the run), e.g. train.params.max_iter=50",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_train)
    p = sub.add_parser(
        "evaluate",
        help="score the newly trained version on the frozen evaluation set",
        description="Load the version recorded by `modelops train` (digest-checked) and write overall "
        "and per-segment metrics on the frozen evaluation set to data.paths.evaluate_out.",
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.set_defaults(func=_evaluate)
