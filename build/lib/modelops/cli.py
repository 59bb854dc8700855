"""`modelops`: one command whose subcommands are the lifecycle steps.

Each lifecycle package registers its own subcommands (``<step>/commands.py``); heavy
libraries are imported inside the handlers so `modelops --help` stays instant.
"""

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from modelops.errors import ExitCode, ModelOpsError
from modelops.offline import disable_telemetry

STEPS = (
    "modelops.data.commands",
    "modelops.train.commands",
    "modelops.gate.commands",
    "modelops.release.commands",
    "modelops.serve.commands",
    "modelops.monitor.commands",
    "modelops.score.commands",
    "modelops.store.commands",
    "modelops.workflows.commands",
    "modelops.init",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelops",
        description="GitOps lifecycle for ML models: data -> train -> gate -> release -> serve -> monitor.",
    )
    parser.add_argument("--root", default=".", help="project root holding configs/ (default: .)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for step in STEPS:
        importlib.import_module(step).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    disable_telemetry()  # before any handler imports MLflow, whose import starts its telemetry
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or ExitCode.OK)
    except ModelOpsError as exc:
        nested = [str(v) for k, v in vars(args).items() if k.endswith("_command") and v]
        print(f"modelops {' '.join([args.command, *nested])}: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
