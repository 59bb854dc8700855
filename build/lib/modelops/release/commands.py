"""CLI wiring for the release step: `promote`, `release verify`, `rollback`."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve()


def promote(args: argparse.Namespace) -> int:
    from modelops.release import promote as job
    from modelops.release.config import load_release_config
    from modelops.settings import load_settings

    settings = load_settings(_root(args))
    cfg = load_release_config(settings.config_dir)
    actor = args.promoted_by or job.default_actor(settings.root)
    planned = job.plan(settings, cfg, args.version, args.to, pr=args.pr, promoted_by=actor)
    done = job.apply(settings.root, planned, commit=args.commit)
    files = sorted(str(p.relative_to(settings.root)) for p in done.files)
    print(
        json.dumps(
            {
                "model": done.name,
                "version": done.version,
                "track": done.track,
                "files": files,
                "commit": done.commit,
                "commits": list(done.commits),
            },
            indent=2,
        )
    )
    if not args.commit:
        print(_commit_steps(settings.root, done), file=sys.stderr)
    return 0


def _commit_steps(root: Path, done: Any) -> str:
    """How to commit by hand: the record first, then the pointer (a rollback reverts only the latter)."""
    steps = ["next: review the diff, then commit in this order (a rollback reverts only the second):"]
    for files, message in (
        (done.record_files, done.record_message),
        (done.pointer_files, done.commit_message),
    ):
        if files:
            paths = " ".join(sorted(str(p.relative_to(root)) for p in files))
            steps.append(f"\n$ git add {paths} && git commit -F- <<'EOF'\n{message}EOF")
    return "\n".join(steps)


def verify(args: argparse.Namespace) -> int:
    from modelops.errors import ReleaseError
    from modelops.release.config import load_release_config
    from modelops.release.verify import verify as run_verify
    from modelops.settings import default_config_dir

    root = _root(args)
    cfg = load_release_config(default_config_dir(root))
    found = run_verify(root, cfg)
    if args.render:
        from modelops.adapters import kustomize
        from modelops.release import state

        for track in state.TRACKS:
            overlay = state.overlay_dir(root, track)
            try:
                problems = kustomize.validate(kustomize.render(overlay))
            except kustomize.RenderError as exc:
                problems = [str(exc)]
            found.problems.extend(f"{overlay.relative_to(root)}: {p}" for p in problems)
    if found.problems:
        raise ReleaseError(f"{len(found.problems)} problem(s):\n  " + "\n  ".join(found.problems))
    print(f"release verify: ok ({len(found.releases)} release(s), overlays and cards agree)")
    return 0


def schema(args: argparse.Namespace) -> int:
    """Print or rewrite release.schema.json from the ReleaseRecord model (--check: fail on drift)."""
    from importlib import resources

    from modelops.errors import ReleaseError
    from modelops.release import record

    text = record.schema_text()
    if args.write:
        target = Path(str(resources.files("modelops.release").joinpath(record.SCHEMA_FILE)))
        target.write_text(text)
        print(f"wrote {target}")
    elif args.check:
        if record.committed_schema() != text:
            raise ReleaseError(
                f"{record.SCHEMA_FILE} differs from the ReleaseRecord model; "
                "run `modelops release schema --write`"
            )
        print(f"{record.SCHEMA_FILE}: matches the ReleaseRecord model")
    else:
        sys.stdout.write(text)
    return 0


def rollback(args: argparse.Namespace) -> int:
    from modelops.release import rollback as job
    from modelops.release.config import load_release_config
    from modelops.settings import default_config_dir

    root = _root(args)
    cfg = load_release_config(default_config_dir(root))
    plan = job.find(root, args.track, cfg.track_trailer)
    print(f"last {plan.track} promotion: {plan.sha[:12]} {plan.subject}")
    print(plan.command)
    if args.dry_run:
        return 0
    done = job.run(root, plan)
    print(
        f"reverted as {done.revert_sha}; push it (or open a PR) and the GitOps controller rolls the pods back"
    )
    return 0


def _version(text: str) -> int:
    if not text.lstrip("v").isdigit() or int(text.lstrip("v")) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a model version (e.g. 3 or v3)")
    return int(text.lstrip("v"))


def register(sub: Any) -> None:
    """Add `promote`, `release verify` and `rollback` to the `modelops` parser."""
    p = sub.add_parser(
        "promote",
        help="promote a gated model version to the canary or stable track",
        description="Promote a registered model version. --to canary writes releases/<model>/v<N>.yaml "
        "and model_cards/<model>/v<N>.md (one commit) and points k8s/overlays/canary at it (a second "
        "commit, the one a rollback reverts); --to stable points k8s/overlays/production at it and "
        "retires the canary. Refuses (writing nothing) a version that is not registered, has no passing "
        "gate report, was gated under other gates.yaml/features.yaml bytes than this tree's, was rolled "
        "back without a newer gate run, or whose artifact digest does not match.",
    )
    p.add_argument("version", type=_version, metavar="VERSION", help="registered model version (3 or v3)")
    p.add_argument("--to", required=True, choices=("canary", "stable"), help="track to promote to")
    p.add_argument(
        "--commit",
        action="store_true",
        help="commit as `release(<model>): record vN` then `release(<model>): promote vN to <track>` "
        "(Modelops-Track/Modelops-Version trailers); a failed commit restores the tree",
    )
    p.add_argument(
        "--pr", type=int, default=None, metavar="N", help="pull request number that approved the gate"
    )
    p.add_argument(
        "--promoted-by",
        default=None,
        metavar="NAME",
        help="who promotes (default: $GITHUB_ACTOR, then git user.name)",
    )
    p.set_defaults(func=promote)

    r = sub.add_parser(
        "release",
        help="check release files, model cards and overlays",
        description="Release bookkeeping commands.",
    )
    rsub = r.add_subparsers(dest="release_command", required=True, metavar="SUBCOMMAND")
    v = rsub.add_parser(
        "verify",
        help="check that releases, model cards and overlays agree (CI runs this)",
        description="Check that every release file holds the schema, versions are unique and increasing, "
        "every release has a model card, and every overlay points at a released version with a "
        "matching digest. Exit 1 listing every problem.",
    )
    v.add_argument(
        "--render",
        action="store_true",
        help="also render each overlay with kubectl kustomize and validate the manifests offline",
    )
    v.set_defaults(func=verify)
    s = rsub.add_parser(
        "schema",
        help="print the release record's JSON schema (generated from the ReleaseRecord model)",
        description="Print the JSON schema of releases/<model>/v<N>.yaml, generated from the typed "
        "ReleaseRecord. --write regenerates the committed src/modelops/release/release.schema.json; "
        "--check exits 1 when the committed file has drifted from the model.",
    )
    mode = s.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the committed release.schema.json")
    mode.add_argument("--check", action="store_true", help="fail when the committed schema differs")
    s.set_defaults(func=schema)

    b = sub.add_parser(
        "rollback",
        help="revert the last promotion commit of a track",
        description="Find the commit that made the track's live promotion live (the newest pointer commit "
        "with the `Modelops-Track: <track>` trailer still in effect, or the revert-of-a-revert that "
        "re-applied it) and run `git revert --no-edit <sha>`, printing the exact command. Release "
        "records and model cards are not touched. Push the revert; the GitOps controller "
        "then rolls the pods back. See ROLLBACK.md.",
    )
    b.add_argument("--track", required=True, choices=("stable", "canary"), help="track to roll back")
    b.add_argument("--dry-run", action="store_true", help="only print the commit and the git command")
    b.set_defaults(func=rollback)
