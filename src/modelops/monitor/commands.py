"""`modelops monitor`: drift and quality of served predictions against the version's training data."""

import argparse
import tempfile
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add `monitor` to the `modelops` parser."""
    p = sub.add_parser(
        "monitor",
        help="drift and quality report from prediction logs (exit 0 healthy, 1 alert, 2 error)",
        description="Judge prediction logs against each served version's training snapshot "
        "(releases/<model>/v<N>.yaml -> lineage.train_md5 -> DVC cache).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--predictions", type=Path, help="prediction log (JSON lines)")
    src.add_argument(
        "--store",
        help="prediction store URI (local dir, s3://bucket/prefix); labels come from its label "
        "partition unless --labels is given",
    )
    p.add_argument("--labels", type=Path, help="CSV or parquet with request_id and the label column")
    p.add_argument("--since", help="only predictions at or after this time: ISO 8601, or 24h / 7d / 30m")
    p.add_argument("--until", help="with --store: only predictions before this time (ISO 8601 or look-back)")
    p.add_argument("--reference", type=Path, help="ad-hoc reference parquet instead of the release lineage")
    p.add_argument("--out", required=True, type=Path, help="output directory for report and summary")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from modelops.monitor import config, job
    from modelops.monitor.render import VERDICT_EXIT
    from modelops.settings import load_settings

    settings = load_settings(Path(args.root))
    cfg = config.load(settings)
    inputs = job.Inputs(
        predictions=args.predictions,
        out=args.out,
        labels=args.labels,
        since=args.since,
        reference=args.reference,
        store=args.store,
        until=args.until,
    )
    with tempfile.TemporaryDirectory(prefix="modelops-monitor-") as tmp:
        summary = job.run(settings, cfg, inputs, registry_scorer(settings, Path(tmp)))
    print((args.out / "summary.md").read_text())
    return VERDICT_EXIT[summary["verdict"]]


def registry_scorer(settings: Any, tmp: Path, registry: Any = None) -> Any:
    """Score a reference with the served version's model, fetched from the registry and digest-checked.

    `registry` (a tracking.Registry) defaults to the project's MLflow store.
    """

    def factory(ref: Any) -> Any:
        from modelops.adapters import tracking
        from modelops.errors import MissingEvidence

        if not ref.model_sha256:
            raise MissingEvidence(
                f"model_version {ref.version}: no release file records model.sha256, so the reference "
                "cannot be scored; add a 'score' column to --reference or release the version"
            )
        source = registry or tracking.registry_for(settings.root)
        mv = source.get_version(settings.model.name, ref.version)
        model = tracking.load_verified(
            source, mv, tmp / f"v{ref.version}", ref.model_sha256, settings.model.skops_trusted_types
        )
        return lambda frame: model.predict_proba(frame)[:, 1]

    return factory
