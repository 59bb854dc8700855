"""`modelops score`: batch-score a snapshot with the released version, behind the data gate."""

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "score",
        help="batch-score a snapshot with the served version (exit 0 scored, 1 refused by the data gate, "
        "2 could not run)",
        description="Score a Parquet/CSV file or directory (any fsspec URL) with the released version "
        "(default: what the stable overlay serves), after the same sha256 check as the server and a data "
        "gate against the version's training baseline. Output: Parquet partitioned by scoring date, "
        "manifest written last. Settings: configs/score.yaml.",
    )
    p.add_argument("--input", required=True, help="Parquet/CSV file or directory: a path or any fsspec URL")
    p.add_argument("--out", required=True, help="output location (path or fsspec URL)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--release", type=Path, help="releases/<model>/vN.yaml to score with")
    which.add_argument("--track", choices=("stable", "canary"), help="score with what this track serves")
    p.add_argument("--engine", choices=("pandas", "spark"), help="default: score.yaml engine")
    p.add_argument("--since", help="only rows whose timestamp column is at or after this: ISO 8601 or 24h/7d")
    p.add_argument("--report", type=Path, help="directory for the data gate's gate.md / gate.json")
    p.add_argument(
        "--store",
        help="also write published scores to this prediction store (default: $PREDICTION_STORE)",
    )
    p.set_defaults(func=handle)


def _github_output(**values: object) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a") as fh:
            fh.writelines(f"{k}={v}\n" for k, v in values.items())


def issue_opener(title: str, body: str, labels: tuple[str, ...]) -> str:
    """Open the review issue through the GitHub REST API (GITHUB_TOKEN, GITHUB_REPOSITORY)."""
    from modelops.adapters.github import GitHub

    with GitHub.from_env() as gh:
        issue = gh.create_issue(title=title, body=body, labels=labels)
    return str(issue.get("html_url") or issue.get("number"))


def handle(args: argparse.Namespace) -> int:
    from modelops.score import config, job
    from modelops.score.gate import summary_line
    from modelops.score.output import PREDICTION_LOG
    from modelops.serve import config as serve_config
    from modelops.settings import load_settings

    settings = load_settings(Path(args.root))
    cfg = config.load(settings.config_dir)
    serve = serve_config.load(settings.config_dir)
    request = job.Request(
        input=args.input,
        out=args.out,
        release=args.release,
        track=args.track,
        engine=args.engine,
        since=args.since,
        report=args.report,
        store=args.store or os.environ.get("PREDICTION_STORE") or None,
    )
    result = job.run(
        settings,
        cfg,
        request,
        label_threshold=serve.label_threshold,
        scorer_options=job.scorer_options(serve),
        open_issue=issue_opener,
    )
    log = ""
    if result.location and result.manifest and cfg.output.prediction_log:
        log = result.location.removeprefix("file://") + "/" + PREDICTION_LOG
    _github_output(
        verdict=result.verdict,
        location=result.location or "",
        manifest=result.manifest or "",
        prediction_log=log,
    )
    if result.verdict == "pass":
        print(result.manifest)
    else:
        print(f"modelops score: {summary_line(result.gate)}", file=sys.stderr)
        if result.location:
            print(f"quarantined: {result.location}", file=sys.stderr)
        if result.issue:
            print(f"review issue: {result.issue}", file=sys.stderr)
    return result.exit_code
