"""`modelops promote VERSION --to canary|stable`: two commit-ready changes, or nothing at all.

A promotion is two commits: first the release record and model card (append-only audit history,
absent when the version was released before), then the deployment pointer (the overlays'
model.env, with the `Modelops-Track`/`Modelops-Version` trailers that `modelops rollback` finds).
A rollback reverts only the pointer, so records and cards survive it.

Every check runs before the first write, and a failing `git commit` puts HEAD, the index and
the files back: a refused or failed promotion leaves the tree as it was.
"""

import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelops import tags as T
from modelops.adapters import git, tracking
from modelops.digest import file_digest, verify_directory
from modelops.errors import DigestMismatch, GateFailed, MissingEvidence, ReleaseError
from modelops.gate.config import FILENAME as GATES_FILE
from modelops.release import card, overlay, record, rollback, state
from modelops.release.config import ReleaseConfig
from modelops.settings import Settings

log = logging.getLogger(__name__)
FEATURES_FILE = "features.yaml"
RECORD_TRAILER = "Modelops-Record"


@dataclass(frozen=True)
class Promotion:
    name: str
    version: int
    track: str
    record_files: dict[Path, str] = field(default_factory=dict)  # release record + card (new only)
    pointer_files: dict[Path, str] = field(default_factory=dict)  # overlays
    record_message: str = ""
    commit_message: str = ""  # the pointer commit's message
    commits: tuple[str, ...] = ()  # shas made by apply(commit=True), record first

    @property
    def files(self) -> dict[Path, str]:
        return self.record_files | self.pointer_files

    @property
    def commit(self) -> str | None:
        """The pointer commit (the one a rollback reverts)."""
        return self.commits[-1] if self.commits else None


# --- checks on the registry's evidence (fail closed) ------------------------------------


def check_gate(mv: tracking.ModelVersion, required: str) -> str:
    """The gate report digest of a passed gate on exactly this version (fail closed)."""
    verdict = mv.tags.get(T.GATE_VERDICT)
    if verdict is None:
        raise GateFailed(f"{mv.uri} has no {T.GATE_VERDICT} tag: run the gate (`modelops gate`) first")
    if verdict != required:
        raise GateFailed(f"{mv.uri}: {T.GATE_VERDICT}={verdict!r}, promotion needs {required!r}")
    report = mv.tags.get(T.GATE_REPORT_SHA256, "")
    if len(report) != 64:
        raise MissingEvidence(f"{mv.uri}: {T.GATE_REPORT_SHA256} tag is missing or not a sha256")
    return report


def check_rules(mv: tracking.ModelVersion, config_dir: Path) -> None:
    """The gate judged under exactly the gates.yaml and features.yaml of the tree we promote from.

    A PR that loosened the rules gets its candidate judged under the base branch's rules in CI;
    this refuses a version whose gate ran under any other bytes (a local run, an old config).
    """
    for tag, filename in ((T.GATE_RULES_SHA256, GATES_FILE), (T.GATE_FEATURES_SHA256, FEATURES_FILE)):
        path = config_dir / filename
        if not path.is_file():
            raise MissingEvidence(f"{path}: not found; cannot check the rules {mv.uri} was gated under")
        here = file_digest(path)
        gated = mv.tags.get(tag)
        if not gated:
            raise GateFailed(
                f"{mv.uri}: gate ran without rule digests (no {tag} tag; {filename} here has sha256 "
                f"{here}); re-run the gate"
            )
        if gated != here:
            raise GateFailed(
                f"{mv.uri} was gated under a different {filename}: {tag}={gated}, but {path} here has "
                f"sha256 {here}; re-run the gate under these rules"
            )


def check_gate_report(registry: tracking.Registry, mv: tracking.ModelVersion, report_sha256: str) -> None:
    """The run's gate/gate.json must exist and hash to the version's gate.report_sha256 tag."""
    with tempfile.TemporaryDirectory() as tmp:
        path = registry.download_run_artifact(mv.run_id, T.GATE_ARTIFACT, Path(tmp))
        if path is None or not path.is_file():
            raise MissingEvidence(
                f"{mv.uri}: run {mv.run_id} has no {T.GATE_ARTIFACT} artifact (the gate report)"
            )
        actual = file_digest(path)
    if actual != report_sha256:
        raise DigestMismatch(
            f"{mv.uri}: {T.GATE_ARTIFACT} sha256 {actual} does not match its "
            f"{T.GATE_REPORT_SHA256} tag {report_sha256}"
        )


def check_regate(mv: tracking.ModelVersion, history: rollback.Replay) -> None:
    """A rolled-back version comes back only after a gate run newer than its rollback."""
    rolled = history.last_rollback(mv.version)
    if rolled is None:
        return
    when = rollback.rollback_time(rolled)
    gate_at = mv.tags.get(T.GATE_AT)
    if not gate_at:
        raise GateFailed(
            f"{mv.uri} was rolled back from {rolled.track} at {record.utc_second(when)} (commit "
            f"{rolled.revert.sha[:12]}) and has no {T.GATE_AT} tag; re-run the gate before promoting it again"
        )
    gated = record.parse_time(gate_at, f"{mv.uri} tag {T.GATE_AT}")
    if gated <= when:
        raise GateFailed(
            f"{mv.uri} was rolled back from {rolled.track} at {record.utc_second(when)} (commit "
            f"{rolled.revert.sha[:12]}) but its last gate ran at {record.utc_second(gated)}; "
            "re-run the gate (a gate newer than the rollback) before promoting it again"
        )


def fetch_artifact(registry: tracking.Registry, mv: tracking.ModelVersion) -> tuple[str, dict[str, Any]]:
    """Download the artifact, check it against its model_sha256 tag, read its environment."""
    with tempfile.TemporaryDirectory() as tmp:
        local = registry.download_model(mv, Path(tmp))
        digest = verify_directory(
            local, mv.tags.get(T.MODEL_SHA256), what=mv.uri, source=f"its {T.MODEL_SHA256} tag"
        )
        env_file, req_file = local / "python_env.yaml", local / "requirements.txt"
        environment = record.parse_environment(
            env_file.read_text() if env_file.is_file() else None,
            req_file.read_text() if req_file.is_file() else None,
        )
    return digest, environment


def default_actor(root: Path, *, repo: git.Git | None = None) -> str:
    actor = os.environ.get("GITHUB_ACTOR") or (repo or git.GitRepo(root)).config_value("user.name")
    if not actor:
        raise ReleaseError("who is promoting? pass --promoted-by NAME (or set GITHUB_ACTOR / git user.name)")
    return actor


def evaluate_report(registry: tracking.Registry, run_id: str) -> dict[str, Any] | None:
    """The evaluate step's evaluate/report.json (per-slice metrics), when the run has one."""
    with tempfile.TemporaryDirectory() as tmp:
        path = registry.download_run_artifact(run_id, "evaluate/report.json", Path(tmp))
        if path is None or not path.is_file():
            return None
        data = json.loads(path.read_text())
    return data if isinstance(data, dict) else None


def card_context(
    registry: tracking.Registry,
    settings: Settings,
    cfg: ReleaseConfig,
    rec: record.ReleaseRecord,
    metrics: dict[str, float],
    params: dict[str, str],
) -> dict[str, Any]:
    seg = settings.features.segment
    metric_groups = card.group_metrics(metrics, cfg.card)
    metric_groups["per_slice"].update(card.slice_metrics(evaluate_report(registry, rec.model.run_id)))
    return {
        "model": settings.model.model_dump(mode="json"),
        "release": rec.model_dump(mode="json"),
        "metrics": metric_groups,
        "params": params,
        "features": list(settings.features.names),
        "data": {
            "raw": str(settings.data.paths.raw),
            "train": str(settings.data.paths.train),
            "eval": str(settings.data.paths.eval),
        },
        "segment": f"{seg.column} = {seg.value}" if seg else "none",
        "rollback": f"`modelops rollback --track {rec.track}` reverts the deployment pointer commit "
        f"(see ROLLBACK.md); this card and the release record stay; previous version: "
        f"{rec.previous_version or 'none'}.",
    }


# --- planning: every check, every file, nothing written ---------------------------------


def plan(
    settings: Settings,
    cfg: ReleaseConfig,
    version: int,
    track: str,
    *,
    pr: int | None,
    promoted_by: str,
    created_at: str | None = None,
    registry: tracking.Registry | None = None,
    repo: git.Git | None = None,
) -> Promotion:
    """Check everything and compute every file the promotion writes (nothing is written here).

    `registry` defaults to the project's MLflow store (or MLFLOW_TRACKING_URI), `repo` to the
    git checkout at the project root.
    """
    root, name = settings.root, settings.model.name
    if track not in state.TRACKS:
        raise ReleaseError(f"--to {track!r}: expected one of {', '.join(state.TRACKS)}")
    registry = registry or tracking.registry_for(root)
    repo = repo or git.GitRepo(root)
    mv = registry.get_version(name, version)
    check_gate_report(registry, mv, check_gate(mv, cfg.require_gate_verdict))
    check_rules(mv, settings.config_dir)
    history = rollback.read_history(repo, cfg.track_trailer) if repo.is_repository() else rollback.Replay()
    check_regate(mv, history)
    sha256, environment = fetch_artifact(registry, mv)

    record_files: dict[Path, str] = {}
    release_path = cfg.release_path(root, name, version)
    stable = state.stable_version(root)
    rolled_back = history.last_rollback(version) is not None
    if track == "canary":
        if release_path.exists() and not rolled_back:
            raise ReleaseError(
                f"{release_path.relative_to(root)} already exists: v{version} was released "
                "before and release files are append-only; promote a new version"
            )
        if stable is not None and version <= stable:
            raise ReleaseError(f"v{version} is not newer than stable v{stable}; canaries move forward only")
    if release_path.exists():
        rec = record.read(root, name, version, cfg)
        if rec.model.sha256 != sha256:
            raise DigestMismatch(
                f"{release_path.relative_to(root)}: model.sha256 {rec.model.sha256} "
                f"differs from the registry artifact {sha256}"
            )
    else:
        run = registry.run_data(mv.run_id)
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
        card_path = cfg.card_path(root, name, version)
        if card_path.exists():
            raise ReleaseError(
                f"{card_path.relative_to(root)} already exists; released files are never overwritten"
            )
        record_files[release_path] = record.dump(rec)
        record_files[card_path] = card.render(
            settings.config_dir / cfg.card_template,
            card_context(registry, settings, cfg, rec, run.metrics, run.params),
        )

    if track == "stable" and stable == version:
        raise ReleaseError(f"stable already serves v{version}; nothing to promote")
    canary = state.track_version(root, "canary")
    if track == "stable" and canary not in (None, version):
        raise ReleaseError(
            f"the canary serves v{canary}; promoting v{version} to stable would retire it "
            "unjudged. Roll the canary back first (`modelops rollback --track canary`)"
        )
    pointer_files = pointer_edits(root, cfg, name, version, track, sha256)
    audit = [p.relative_to(root).as_posix() for p in (release_path, cfg.card_path(root, name, version))]
    return Promotion(
        name,
        version,
        track,
        record_files,
        pointer_files,
        record_message(name, version, audit) if record_files else "",
        commit_message(
            name, version, track, cfg.track_trailer, sha256, pr, promoted_by, stable, mv.tags, audit
        ),
    )


def pointer_edits(
    root: Path, cfg: ReleaseConfig, name: str, version: int, track: str, sha256: str
) -> dict[Path, str]:
    """The overlay files that point `track` at the version (stable also retires the canary)."""
    canary_dir = state.overlay_dir(root, "canary")
    kust_path = canary_dir / state.KUSTOMIZATION
    kust = kust_path.read_text()
    where = str(kust_path.relative_to(root))
    if track == "canary":
        return {
            canary_dir / state.MODEL_ENV: overlay.model_env("canary", name, version, sha256),
            kust_path: overlay.set_replicas(kust, cfg.canary_replicas, where),
        }
    return {
        state.overlay_dir(root, "stable") / state.MODEL_ENV: overlay.model_env(
            "stable", name, version, sha256
        ),
        canary_dir / state.MODEL_ENV: overlay.model_env("canary", name, None, None),
        kust_path: overlay.set_replicas(kust, 0, where),
    }


def record_message(name: str, version: int, audit: list[str]) -> str:
    return (
        f"release({name}): record v{version}\n\n"
        f"Release record and model card of models:/{name}/{version}: {', '.join(audit)}.\n"
        "Append-only audit history; a rollback reverts the pointer commit after this one, never this.\n\n"
        f"{RECORD_TRAILER}: {version}\n"
    )


def commit_message(
    name: str,
    version: int,
    track: str,
    trailer: str,
    sha256: str,
    pr: int | None,
    actor: str,
    previous: int | None,
    tags: dict[str, str] | None = None,
    audit: list[str] | None = None,
) -> str:
    tags = tags or {}
    body = [
        f"Model models:/{name}/{version} (sha256 {sha256}).",
        f"Previous stable: {'v' + str(previous) if previous else 'none'}. Promoted by {actor}.",
        f"Gate: report sha256 {tags.get(T.GATE_REPORT_SHA256, '?')}, ran at {tags.get(T.GATE_AT, '?')}, "
        f"gates.yaml sha256 {tags.get(T.GATE_RULES_SHA256, '?')}.",
    ]
    if audit:
        body.append(f"Release record and card: {', '.join(audit)} (kept by a rollback).")
    if track == "stable":
        body.append("The canary is retired (0 replicas).")
    trailers = [f"{trailer}: {track}", f"{rollback.VERSION_TRAILER}: {version}"]
    trailers += [f"Refs: #{pr}"] if pr else []
    return (
        f"release({name}): promote v{version} to {track}\n\n"
        + "\n".join(body)
        + "\n\n"
        + "\n".join(trailers)
        + "\n"
    )


# --- applying: write, commit twice, or put everything back ------------------------------


def _write(files: dict[Path, str]) -> list[Path]:
    changed = [p for p, text in files.items() if not p.is_file() or p.read_text() != text]
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
    return changed


def _restore(root: Path, before: dict[Path, bytes | None]) -> None:
    """Put every planned file back as it was (delete the ones we created, and their new dirs)."""
    for path, old in before.items():
        if old is not None:
            path.write_bytes(old)
            continue
        path.unlink(missing_ok=True)
        parent = path.parent
        while parent != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def apply(root: Path, promotion: Promotion, *, commit: bool, repo: git.Git | None = None) -> Promotion:
    """Write the planned files and optionally commit them as record then pointer; all or nothing."""
    git_repo = repo or git.GitRepo(root)
    head = git_repo.head() if commit else None
    before = {p: (p.read_bytes() if p.is_file() else None) for p in promotion.files}
    commits: list[str] = []
    try:
        changed_record = _write(promotion.record_files)
        changed_pointer = _write(promotion.pointer_files)
        if commit:
            if changed_record:
                rel = [p.relative_to(root) for p in changed_record]
                commits.append(git_repo.commit_paths(rel, promotion.record_message))
            rel = [p.relative_to(root) for p in changed_pointer]
            commits.append(git_repo.commit_paths(rel, promotion.commit_message))
    except (git.GitError, OSError) as exc:
        try:
            if head is not None:
                git_repo.reset_paths(head, [p.relative_to(root) for p in promotion.files])
        finally:
            _restore(root, before)
        raise ReleaseError(
            f"promotion of v{promotion.version} to {promotion.track} not made, the tree is restored: {exc}"
        ) from exc
    log.info(
        "promoted %s v%s to %s (%d files%s)",
        promotion.name,
        promotion.version,
        promotion.track,
        len(changed_record) + len(changed_pointer),
        f", commits {' '.join(c[:12] for c in commits)}" if commits else "",
    )
    return Promotion(
        promotion.name,
        promotion.version,
        promotion.track,
        promotion.record_files,
        promotion.pointer_files,
        promotion.record_message,
        promotion.commit_message,
        tuple(commits),
    )
