"""`modelops promote VERSION --to canary|stable`: one commit-ready change, or nothing at all.

Every check runs before the first write: a refused promotion leaves the tree untouched.
"""

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops.adapters import git, tracking
from modelops.digest import directory_sha256, file_digest
from modelops.errors import DigestMismatch, GateFailed, MissingEvidence, ReleaseError
from modelops.release import card, overlay, record, state
from modelops.release.config import ReleaseConfig
from modelops.settings import Settings

log = logging.getLogger(__name__)
GATE_VERDICT, GATE_REPORT, GATE_ARTIFACT = "gate.verdict", "gate.report_sha256", "gate/gate.json"


@dataclass(frozen=True)
class Promotion:
    name: str
    version: int
    track: str
    files: dict[Path, str] = field(default_factory=dict)  # path -> new content
    commit_message: str = ""
    commit: str | None = None


def check_gate(mv: tracking.ModelVersion, required: str) -> str:
    """The gate report digest of a passed gate on exactly this version (fail closed)."""
    verdict = mv.tags.get(GATE_VERDICT)
    if verdict is None:
        raise GateFailed(f"{mv.uri} has no {GATE_VERDICT} tag: run the gate (`modelops gate`) first")
    if verdict != required:
        raise GateFailed(f"{mv.uri}: {GATE_VERDICT}={verdict!r}, promotion needs {required!r}")
    report = mv.tags.get(GATE_REPORT, "")
    if len(report) != 64:
        raise MissingEvidence(f"{mv.uri}: {GATE_REPORT} tag is missing or not a sha256")
    return report


def check_gate_report(mv: tracking.ModelVersion, report_sha256: str) -> None:
    """The run's gate/gate.json must exist and hash to the version's gate.report_sha256 tag."""
    with tempfile.TemporaryDirectory() as tmp:
        path = tracking.download_run_artifact(mv.run_id, GATE_ARTIFACT, Path(tmp))
        if path is None or not path.is_file():
            raise MissingEvidence(
                f"{mv.uri}: run {mv.run_id} has no {GATE_ARTIFACT} artifact (the gate report)"
            )
        actual = file_digest(path)
    if actual != report_sha256:
        raise DigestMismatch(
            f"{mv.uri}: {GATE_ARTIFACT} sha256 {actual} does not match its {GATE_REPORT} tag {report_sha256}"
        )


def check_digest(mv: tracking.ModelVersion, actual: str) -> str:
    expected = mv.tags.get(tracking.TAG_MODEL_SHA256)
    if not expected:
        raise MissingEvidence(
            f"{mv.uri} has no {tracking.TAG_MODEL_SHA256} tag to check the artifact against"
        )
    if actual != expected:
        raise DigestMismatch(
            f"{mv.uri}: artifact sha256 {actual} does not match its "
            f"{tracking.TAG_MODEL_SHA256} tag {expected}; refusing to promote"
        )
    return actual


def fetch_artifact(mv: tracking.ModelVersion) -> tuple[str, dict[str, Any]]:
    """Recompute the artifact digest and read the environment the model was saved with."""
    with tempfile.TemporaryDirectory() as tmp:
        local = tracking.download_model(mv, Path(tmp))
        digest = directory_sha256(local)
        env_file, req_file = local / "python_env.yaml", local / "requirements.txt"
        environment = record.parse_environment(
            env_file.read_text() if env_file.is_file() else None,
            req_file.read_text() if req_file.is_file() else None,
        )
    return digest, environment


def default_actor(root: Path) -> str:
    actor = os.environ.get("GITHUB_ACTOR") or git.config_value(root, "user.name")
    if not actor:
        raise ReleaseError("who is promoting? pass --promoted-by NAME (or set GITHUB_ACTOR / git user.name)")
    return actor


def evaluate_report(run_id: str) -> dict[str, Any] | None:
    """The evaluate step's evaluate/report.json (per-slice metrics), when the run has one."""
    with tempfile.TemporaryDirectory() as tmp:
        path = tracking.download_run_artifact(run_id, "evaluate/report.json", Path(tmp))
        if path is None or not path.is_file():
            return None
        data = json.loads(path.read_text())
    return data if isinstance(data, dict) else None


def card_context(
    settings: Settings,
    cfg: ReleaseConfig,
    rec: dict[str, Any],
    metrics: dict[str, float],
    params: dict[str, str],
) -> dict[str, Any]:
    seg = settings.features.segment
    metric_groups = card.group_metrics(metrics, cfg.card)
    metric_groups["per_slice"].update(card.slice_metrics(evaluate_report(rec["model"]["run_id"])))
    return {
        "model": settings.model.model_dump(mode="json"),
        "release": rec,
        "metrics": metric_groups,
        "params": params,
        "features": list(settings.features.names),
        "data": {
            "raw": str(settings.data.paths.raw),
            "train": str(settings.data.paths.train),
            "eval": str(settings.data.paths.eval),
        },
        "segment": f"{seg.column} = {seg.value}" if seg else "none",
        "rollback": f"`modelops rollback --track {rec['track']}` reverts the promotion commit "
        f"(see ROLLBACK.md); previous version: {rec['previous_version'] or 'none'}.",
    }


def plan(
    settings: Settings,
    cfg: ReleaseConfig,
    version: int,
    track: str,
    *,
    pr: int | None,
    promoted_by: str,
    created_at: str | None = None,
) -> Promotion:
    """Check everything and compute every file the promotion writes (nothing is written here)."""
    root, name = settings.root, settings.model.name
    if track not in state.TRACKS:
        raise ReleaseError(f"--to {track!r}: expected one of {', '.join(state.TRACKS)}")
    mv = tracking.get_version(name, version)
    check_gate_report(mv, check_gate(mv, cfg.require_gate_verdict))
    digest, environment = fetch_artifact(mv)
    sha256 = check_digest(mv, digest)

    files: dict[Path, str] = {}
    release_path = cfg.release_path(root, name, version)
    stable = state.stable_version(root)
    if track == "canary":
        if release_path.exists():
            raise ReleaseError(
                f"{release_path.relative_to(root)} already exists: v{version} was released "
                "before and release files are append-only; promote a new version"
            )
        if stable is not None and version <= stable:
            raise ReleaseError(f"v{version} is not newer than stable v{stable}; canaries move forward only")
    if release_path.exists():
        rec = record.load(release_path.read_text(), str(release_path.relative_to(root)))
        if rec["model"]["sha256"] != sha256:
            raise DigestMismatch(
                f"{release_path.relative_to(root)}: model.sha256 {rec['model']['sha256']} "
                f"differs from the registry artifact {sha256}"
            )
    else:
        params, metrics, _ = tracking.run_data(mv.run_id)
        rec = record.build(
            name=name,
            version=version,
            run_id=mv.run_id,
            sha256=sha256,
            tags=mv.tags,
            environment=environment,
            pr=pr,
            track=track,
            promoted_by=promoted_by,
            previous_version=stable,
            created_at=created_at or record.now_utc(),
        )
        files[release_path] = record.dump(rec)
        text = card.render(
            settings.config_dir / cfg.card_template, card_context(settings, cfg, rec, metrics, params)
        )
        files[cfg.card_path(root, name, version)] = text
        for path in (release_path, cfg.card_path(root, name, version)):
            if path.exists():
                raise ReleaseError(
                    f"{path.relative_to(root)} already exists; released files are never overwritten"
                )

    if track == "stable" and stable == version:
        raise ReleaseError(f"stable already serves v{version}; nothing to promote")
    canary = state.track_version(root, "canary")
    if track == "stable" and canary not in (None, version):
        raise ReleaseError(
            f"the canary serves v{canary}; promoting v{version} to stable would retire it "
            "unjudged. Roll the canary back first (`modelops rollback --track canary`)"
        )
    canary_dir = state.overlay_dir(root, "canary")
    kust_path = canary_dir / state.KUSTOMIZATION
    kust = kust_path.read_text()
    if track == "canary":
        files[canary_dir / state.MODEL_ENV] = overlay.model_env("canary", name, version, sha256)
        files[kust_path] = overlay.set_replicas(kust, cfg.canary_replicas, str(kust_path.relative_to(root)))
    else:
        files[state.overlay_dir(root, "stable") / state.MODEL_ENV] = overlay.model_env(
            "stable", name, version, sha256
        )
        files[canary_dir / state.MODEL_ENV] = overlay.model_env("canary", name, None, None)
        files[kust_path] = overlay.set_replicas(kust, 0, str(kust_path.relative_to(root)))

    message = commit_message(name, version, track, cfg.track_trailer, sha256, pr, promoted_by, stable)
    return Promotion(name, version, track, files, message)


def commit_message(
    name: str,
    version: int,
    track: str,
    trailer: str,
    sha256: str,
    pr: int | None,
    actor: str,
    previous: int | None,
) -> str:
    body = [
        f"Model models:/{name}/{version} (sha256 {sha256}).",
        f"Previous stable: {'v' + str(previous) if previous else 'none'}. Promoted by {actor}.",
    ]
    if track == "stable":
        body.append("The canary is retired (0 replicas).")
    trailers = [f"{trailer}: {track}", f"Modelops-Version: {version}"] + ([f"Refs: #{pr}"] if pr else [])
    return (
        f"release({name}): promote v{version} to {track}\n\n"
        + "\n".join(body)
        + "\n\n"
        + "\n".join(trailers)
        + "\n"
    )


def apply(root: Path, promotion: Promotion, *, commit: bool) -> Promotion:
    """Write the planned files (only files that change), then optionally commit exactly them."""
    changed = [p for p, text in promotion.files.items() if not p.is_file() or p.read_text() != text]
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(promotion.files[path])
    sha = None
    if commit:
        sha = git.commit_paths(root, [p.relative_to(root) for p in changed], promotion.commit_message)
    log.info(
        "promoted %s v%s to %s (%d files%s)",
        promotion.name,
        promotion.version,
        promotion.track,
        len(changed),
        f", commit {sha[:12]}" if sha else "",
    )
    return Promotion(
        promotion.name, promotion.version, promotion.track, promotion.files, promotion.commit_message, sha
    )
