"""`modelops gate` and `modelops comment`."""

import argparse
from pathlib import Path
from typing import Any


def _gate(args: argparse.Namespace) -> int:
    from modelops.gate.job import run_gate
    from modelops.settings import load_settings

    settings = load_settings(Path(args.root))
    out = Path(args.out)
    # A relative --out lands in the root the gate judges from: the trusted one when given.
    base = Path(args.rules_from).resolve() if args.rules_from else settings.root
    result = run_gate(
        settings,
        args.candidate,
        args.champion,
        out if out.is_absolute() else base / out,
        args.out,
        rules_from=None if args.rules_from is None else Path(args.rules_from),
        rules_from_arg=args.rules_from,
    )
    changed = ", ".join(c.file for c in result.report.rule_changes)
    note = f"; judged by --rules-from, the PR changes {changed}" if changed else ""
    print(f"gate {result.verdict}: {result.report.summary}{note} ({result.out_dir / 'gate.md'})")
    return result.exit_code


def _comment(args: argparse.Namespace) -> int:
    from modelops.gate.comment import post_comment

    result = post_comment(args.pr, Path(args.body), args.marker)
    print(f"{'created' if result.created else 'updated'} comment {result.id} on #{args.pr}: {result.url}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "gate",
        help="evaluate a candidate version against the champion and decide pass/fail",
        description="Score the candidate and the champion on the frozen evaluation set; check absolute "
        "thresholds, paired-bootstrap change checks, slices, calibration, latency, artifact size and "
        "training evidence from configs/gates.yaml. Writes DIR/gate.json and DIR/gate.md and tags the "
        "candidate version. Exit 0 pass, 1 fail, 2 could not evaluate.",
    )
    p.add_argument(
        "--candidate", type=int, required=True, metavar="VERSION", help="registered version to gate"
    )
    p.add_argument(
        "--champion",
        default="auto",
        metavar="VERSION|auto|none",
        help="version to compare against; auto (default) = the current stable release, none = first release",
    )
    p.add_argument(
        "--rules-from",
        metavar="DIR",
        help="trusted project root (in CI: the PR's base branch) whose configs/gates.yaml, features.yaml, "
        "eval_set.yaml, evaluation set, serving threads and stable release judge the candidate; the --root "
        "project's rule files are only diffed against them and reported at the top of gate.md",
    )
    p.add_argument(
        "--out", default="artifacts/gate", metavar="DIR", help="output directory (default: %(default)s)"
    )
    p.set_defaults(func=_gate)

    p = sub.add_parser(
        "comment",
        help="create or update the sticky gate comment on a pull request",
        description="Create or update one PR comment found by a hidden marker, via the GitHub REST API "
        "(GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL). Appends the body to $GITHUB_STEP_SUMMARY "
        "when set.",
    )
    p.add_argument("--pr", type=int, required=True, metavar="N", help="pull request number")
    p.add_argument("--body", required=True, metavar="FILE", help="markdown file, e.g. artifacts/gate/gate.md")
    p.add_argument("--marker", default="modelops:gate", help="sticky comment id (default: %(default)s)")
    p.set_defaults(func=_comment)
