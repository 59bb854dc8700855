"""`release verify`: release files, model cards, overlays and their git history agree (no registry)."""

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from modelops.adapters import git
from modelops.errors import ModelOpsError, ReleaseError
from modelops.release import overlay, record, state
from modelops.release.config import ReleaseConfig

_RELEASE_FILE = re.compile(r"^v([1-9][0-9]*)\.yaml$")


@dataclass
class Findings:
    releases: dict[tuple[str, int], record.ReleaseRecord] = field(default_factory=dict)
    served: set[tuple[str, int]] = field(default_factory=set)  # every version an overlay ever named
    problems: list[str] = field(default_factory=list)

    def add(self, problem: str) -> None:
        self.problems.append(problem)


def load_releases(root: Path, cfg: ReleaseConfig, found: Findings) -> None:
    base = root / cfg.releases_dir
    for path in sorted(base.glob("*/*")) if base.is_dir() else []:
        rel = path.relative_to(root)
        m = _RELEASE_FILE.match(path.name)
        if not m:
            if path.name not in {"README.md", ".gitkeep"}:
                found.add(f"{rel}: not a release file name (expected v<N>.yaml)")
            continue
        name, version = path.parent.name, int(m.group(1))
        try:
            found.releases[(name, version)] = record.read(root, name, version, cfg)
        except ModelOpsError as exc:
            found.add(str(exc))


def check_order(found: Findings) -> None:
    """Versions are unique per model, and later versions were released later."""
    by_model: dict[str, list[tuple[int, record.ReleaseRecord]]] = {}
    for (name, version), rec in found.releases.items():
        by_model.setdefault(name, []).append((version, rec))
    for name, items in by_model.items():
        items.sort(key=lambda item: item[0])
        for (v1, r1), (v2, r2) in itertools.pairwise(items):
            # Same-second promotions are legitimate (timestamps have 1 s resolution); going back is not.
            if r2.created_at < r1.created_at:
                found.add(
                    f"releases/{name}/v{v2}.yaml: created_at {r2.created_at} is before "
                    f"v{v1}'s {r1.created_at} (versions must increase with release time)"
                )
        for version, rec in items:
            prev = rec.previous_version
            if prev is not None and prev >= version:
                found.add(f"releases/{name}/v{version}.yaml: previous_version {prev} is not below {version}")


def check_history(root: Path, cfg: ReleaseConfig, found: Findings) -> None:
    """Every version an overlay ever pointed at (git log of the overlays) still has its record and card.

    Rollbacks revert only the pointer; a record or card that left the tree breaks the audit trail
    and monitoring of the logs that version wrote.
    """
    repo = git.GitRepo(root)
    if not repo.is_repository():
        found.add(f"{root}: not a git checkout; cannot check that every version that served kept its record")
        return
    for track in state.TRACKS:
        path = f"{state.TRACK_OVERLAYS[track]}/{state.MODEL_ENV}"
        for _sha, text in repo.file_versions(path):
            env = state.parse_env(text)
            served = env.get("MODEL_VERSION", "")
            if env.get("MODEL_NAME") and served.isdigit():
                found.served.add((env["MODEL_NAME"], int(served)))
    # A present record's card is checked by check_cards; here only what left the tree.
    for name, version in sorted(found.served - set(found.releases)):
        rel = cfg.release_path(root, name, version).relative_to(root)
        found.add(f"{rel}: missing, but {name} v{version} served (an overlay pointed at it in git history)")
        card_path = cfg.card_path(root, name, version)
        if not card_path.is_file():
            found.add(f"{card_path.relative_to(root)}: missing, but {name} v{version} served")


def check_cards(root: Path, cfg: ReleaseConfig, found: Findings) -> None:
    for name, version in found.releases:
        path = cfg.card_path(root, name, version)
        if not path.is_file():
            found.add(f"releases/{name}/v{version}.yaml: model card {path.relative_to(root)} is missing")
    base = root / cfg.model_cards_dir
    for path in sorted(base.glob("*/v*.md")) if base.is_dir() else []:
        m = re.match(r"^v([1-9][0-9]*)\.md$", path.name)
        if m and (path.parent.name, int(m.group(1))) not in found.releases:
            found.add(f"{path.relative_to(root)}: model card without a release file")


def check_overlays(root: Path, cfg: ReleaseConfig, found: Findings) -> None:
    for track in state.TRACKS:
        where = f"{state.TRACK_OVERLAYS[track]}/{state.MODEL_ENV}"
        env_path = state.overlay_dir(root, track) / state.MODEL_ENV
        if not env_path.is_file():
            found.add(f"{where}: missing (the overlay's configMapGenerator reads it)")
            continue
        env = state.parse_env(env_path.read_text())
        missing = [k for k in overlay.MODEL_KEYS if k not in env]
        if missing:
            found.add(f"{where}: lacks {', '.join(missing)}")
            continue
        version = env["MODEL_VERSION"]
        if track == "canary":
            kust = state.overlay_dir(root, track) / state.KUSTOMIZATION
            try:
                count = overlay.replicas(kust.read_text(), str(kust.relative_to(root)))
            except (ReleaseError, OSError) as exc:
                found.add(str(exc))
            else:
                if (count == 0) != (version == ""):
                    found.add(
                        f"{where}: canary has {count} replica(s) but MODEL_VERSION={version!r} "
                        "(a live canary needs a version; a retired one needs 0 replicas)"
                    )
        if version == "":
            if any(env[k] for k in ("MODEL_URI", "MODEL_SHA256")):
                found.add(f"{where}: MODEL_VERSION is empty but MODEL_URI/MODEL_SHA256 are set")
            continue
        if not version.isdigit():
            found.add(f"{where}: MODEL_VERSION={version!r} is not a version number")
            continue
        rec = found.releases.get((env["MODEL_NAME"], int(version)))
        if rec is None:
            found.add(
                f"{where}: points at {env['MODEL_NAME']} v{version}, which has no release file "
                f"({cfg.releases_dir}/{env['MODEL_NAME']}/v{version}.yaml)"
            )
            continue
        if env["MODEL_SHA256"] != rec.model.sha256:
            found.add(
                f"{where}: MODEL_SHA256 {env['MODEL_SHA256']} differs from the release file's "
                f"model.sha256 {rec.model.sha256}"
            )
        if env["MODEL_URI"] != rec.model.uri:
            found.add(
                f"{where}: MODEL_URI {env['MODEL_URI']!r} differs from the release file's {rec.model.uri!r}"
            )


def verify(root: Path, cfg: ReleaseConfig) -> Findings:
    """Every check; the caller decides how to report the problems."""
    found = Findings()
    load_releases(root, cfg, found)
    check_order(found)
    check_cards(root, cfg, found)
    check_overlays(root, cfg, found)
    check_history(root, cfg, found)
    return found
