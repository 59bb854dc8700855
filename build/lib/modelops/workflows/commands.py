"""`modelops candidate|pr|issue|propose|canary|retrain|overlays`: the steps of .github/workflows.

Thin wiring only: each handler parses its arguments, calls job functions (never `cli.main`),
and returns `ExitCode.OK`; failures are `ModelOpsError`s that the CLI maps to exit codes.
"""

import argparse
import os
from pathlib import Path
from typing import Any

from modelops.errors import ConfigError, ExitCode, ReleaseError


def _model_name(root: Path) -> str:
    from modelops.settings import load_settings

    return load_settings(root).model.name


def _github_output(**values: object) -> None:
    """Expose step outputs when running inside GitHub Actions."""
    target = os.environ.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a") as fh:
            fh.writelines(f"{k}={v}\n" for k, v in values.items())


def _step_summary(text: str) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a") as fh:
            fh.write(text.rstrip("\n") + "\n")


def _candidate(args: argparse.Namespace) -> int:
    from modelops.workflows.candidate import find_candidate

    root = Path(args.root).resolve()
    mv = find_candidate(root, _model_name(root), args.sha, args.wait, args.poll)
    _github_output(version=mv.version, uri=mv.uri)
    print(mv.version)
    return ExitCode.OK


def _read_body(path: str) -> str:
    body = Path(path)
    if not body.is_file():
        raise ReleaseError(f"--body-file {path}: not found")
    return body.read_text()


def _pr_open(args: argparse.Namespace) -> int:
    from modelops.adapters.github import GitHub
    from modelops.workflows.propose import Proposal, current_branch, open_pull

    root = Path(args.root).resolve()
    proposal = Proposal(
        args.branch, args.base or current_branch(root), args.title, _read_body(args.body_file)
    )
    with GitHub.from_env() as gh:
        print(open_pull(root, proposal, gh))
    return ExitCode.OK


def _issue_open(args: argparse.Namespace) -> int:
    from modelops.adapters.github import GitHub

    body = _read_body(args.body_file)
    with GitHub.from_env() as gh:
        issue = gh.create_issue(title=args.title, body=body, labels=args.label)
    print(issue.get("html_url") or issue.get("number"))
    return ExitCode.OK


def _propose_promote(args: argparse.Namespace) -> int:
    from modelops.adapters.github import GitHub
    from modelops.workflows import propose
    from modelops.workflows.candidate import find_candidate

    root = Path(args.root).resolve()
    base = args.base or propose.current_branch(root)
    model = _model_name(root)
    version = args.version or find_candidate(root, model, args.sha).version
    with GitHub.from_env() as gh:
        print(propose.propose_promotion(root, gh, model, version, args.to, args.pr, base))
    return ExitCode.OK


def _propose_rollback(args: argparse.Namespace) -> int:
    from modelops.adapters.github import GitHub
    from modelops.workflows import propose

    root = Path(args.root).resolve()
    base = args.base or propose.current_branch(root)
    with GitHub.from_env() as gh:
        print(propose.propose_rollback(root, gh, args.track, args.reason, base))
    return ExitCode.OK


def _canary_decide(args: argparse.Namespace) -> int:
    from modelops.workflows import canary

    root = Path(args.root).resolve()
    opts = canary.Options(
        out=Path(args.out),
        prometheus=args.prometheus,
        predictions=Path(args.predictions) if args.predictions else None,
        store=args.store or None,
        labels=Path(args.labels) if args.labels else None,
        min_requests=args.min_requests,
    )
    if opts.store and opts.predictions:
        raise ConfigError("canary decide: pass --store or --predictions, not both")
    decision = canary.run(root, opts)
    _step_summary((opts.out / "decision.md").read_text())
    _github_output(action=decision.action)
    print(f"{decision.action}: {decision.reason}")
    if not args.propose or decision.action not in ("promote", "rollback"):
        return ExitCode.OK
    from modelops.adapters.github import GitHub
    from modelops.workflows import propose

    base = propose.current_branch(root)
    canary_version = decision.canary.version
    with GitHub.from_env() as gh:
        if decision.action == "rollback":
            print(propose.propose_rollback(root, gh, "canary", decision.reason, base))
        elif canary_version is not None:  # decide() promotes only a deployed canary
            print(
                propose.propose_promotion(root, gh, _model_name(root), canary_version, "stable", None, base)
            )
    return ExitCode.OK


def _retrain(args: argparse.Namespace) -> int:
    from modelops.adapters.github import GitHub

    with GitHub.from_env() as gh:
        gh.dispatch_workflow(args.workflow, args.ref)
    print(f"dispatched {args.workflow} on {args.ref}")
    return ExitCode.OK


def _overlays_render(args: argparse.Namespace) -> int:
    from modelops.adapters import kustomize

    root = Path(args.root).resolve()
    overlays = sorted(p.parent for p in (root / "k8s" / "overlays").glob("*/kustomization.yaml"))
    if not overlays:
        raise ReleaseError(f"{root / 'k8s' / 'overlays'}: no overlay with a kustomization.yaml")
    problems: list[str] = []
    for overlay in overlays:
        text = kustomize.render(overlay)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / f"{overlay.name}.yaml").write_text(text)
        if args.validate:
            problems += [f"{overlay.name}: {p}" for p in kustomize.validate(text)]
        print(f"rendered {overlay.relative_to(root)}")
    if problems:
        raise ReleaseError("rendered manifests are invalid:\n  " + "\n  ".join(problems))
    return ExitCode.OK


def register(sub: Any) -> None:
    p = sub.add_parser("candidate", help="print the registered version trained from a commit")
    p.add_argument("--sha", required=True, help="commit sha (the version's git_sha tag)")
    p.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="poll this long for it to appear")
    p.add_argument("--poll", type=float, default=30, metavar="SECONDS", help="poll interval (default 30)")
    p.set_defaults(func=_candidate)

    pr = sub.add_parser("pr", help="pull requests").add_subparsers(dest="pr_command", required=True)
    p = pr.add_parser("open", help="push HEAD to a new branch and open a PR from it")
    p.add_argument("--branch", required=True)
    p.add_argument("--title", required=True)
    p.add_argument("--body-file", required=True)
    p.add_argument("--base", help="target branch (default: the current branch)")
    p.set_defaults(func=_pr_open)

    issue = sub.add_parser("issue", help="issues").add_subparsers(dest="issue_command", required=True)
    p = issue.add_parser("open", help="open an issue with a file as its body")
    p.add_argument("--title", required=True)
    p.add_argument("--body-file", required=True)
    p.add_argument("--label", action="append", default=[], help="label to add (repeatable)")
    p.set_defaults(func=_issue_open)

    propose = sub.add_parser("propose", help="make a release change and open its PR").add_subparsers(
        dest="propose_command", required=True
    )
    p = propose.add_parser("promote", help="`modelops promote --commit`, then open the promotion PR")
    p.add_argument("--to", choices=("canary", "stable"), required=True)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--version", type=int, help="registered model version")
    which.add_argument("--sha", help="promote the candidate trained from this commit")
    p.add_argument("--pr", type=int, help="the PR whose gate passed (recorded in the release file)")
    p.add_argument("--base", help="target branch (default: the current branch)")
    p.set_defaults(func=_propose_promote)
    p = propose.add_parser("rollback", help="`modelops rollback`, then open the revert PR")
    p.add_argument("--track", choices=("stable", "canary"), required=True)
    p.add_argument("--reason", default="", help="why (alert, incident); goes into the PR body")
    p.add_argument("--base", help="target branch (default: the current branch)")
    p.set_defaults(func=_propose_rollback)

    canary = sub.add_parser("canary", help="canary analysis").add_subparsers(
        dest="canary_command", required=True
    )
    p = canary.add_parser(
        "decide",
        help="judge canary vs stable on live metrics and monitoring: promote, hold or roll back",
        description="Compares canary and stable on Prometheus (request rate, error and validation-failure "
        "ratios, latency, per-interval Mann-Whitney U tests and absolute limits; configs/canary.yaml) and "
        "on `modelops monitor` of each track's predictions. Too little canary traffic holds.",
    )
    p.add_argument(
        "--prometheus", help="Prometheus base URL (default: configs/canary.yaml, else $PROMETHEUS_URL)"
    )
    p.add_argument("--predictions", default="", help="prediction log (JSONL) covering both tracks")
    p.add_argument(
        "--store",
        default="",
        help="prediction store URI (PREDICTION_STORE), read over the canary window; instead of --predictions",
    )
    p.add_argument("--labels", default="", help="delayed labels joined by request id")
    p.add_argument("--out", required=True, help="directory for decision.{json,md} and per-track reports")
    p.add_argument(
        "--min-requests", type=int, help="canary requests needed to judge (default: configs/canary.yaml)"
    )
    p.add_argument("--propose", action="store_true", help="open the promotion or revert PR it decides on")
    p.set_defaults(func=_canary_decide)

    p = sub.add_parser("retrain", help="dispatch the training workflow (the monitoring retraining trigger)")
    p.add_argument("--workflow", default="train.yml")
    p.add_argument("--ref", required=True)
    p.set_defaults(func=_retrain)

    overlays = sub.add_parser("overlays", help="k8s overlays").add_subparsers(
        dest="overlays_command", required=True
    )
    p = overlays.add_parser("render", help="render every k8s/overlays/* with kubectl kustomize")
    p.add_argument("--validate", action="store_true", help="validate the output offline")
    p.add_argument("--out", help="write <overlay>.yaml files here")
    p.set_defaults(func=_overlays_render)
