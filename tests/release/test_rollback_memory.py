"""Promotion and rollback over the in-memory registry and the in-memory git: no MLflow, no git binary.

The project is the repository's configs and overlays in tmp_path; the fake git keeps the
history and commits on a clock the test sets, so "a gate newer than the rollback" is exact.
The same jobs against real git and MLflow stay in test_promote.py and the act rollback test.
"""

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelops import tags as T
from modelops.digest import directory_sha256
from modelops.errors import GateFailed, ReleaseError
from modelops.release import promote, rollback, state
from modelops.release.config import ReleaseConfig, load_release_config
from modelops.settings import Settings, load_settings
from tests.fakes.git_memory import InMemoryGit
from tests.fakes.registry_memory import InMemoryRegistry
from tests.helpers.registry import pass_gate
from tests.release import records

REPO = Path(__file__).resolve().parents[2]
GATE_AT = "2025-01-01T00:00:00+00:00"
START = datetime(2025, 6, 1, tzinfo=UTC)


@dataclass
class Release:
    settings: Settings
    cfg: ReleaseConfig
    registry: InMemoryRegistry
    git: InMemoryGit
    tmp: Path

    @property
    def root(self) -> Path:
        return self.settings.root

    def promote(self, version: int, track: str) -> promote.Promotion:
        planned = promote.plan(
            self.settings, self.cfg, version, track, pr=None, promoted_by="alice",
            registry=self.registry, repo=self.git,
        )  # fmt: skip
        return promote.apply(self.root, planned, commit=True, repo=self.git)

    def rollback(self, track: str) -> rollback.Rollback:
        found = rollback.find(self.root, track, self.cfg.track_trailer, repo=self.git)
        return rollback.run(self.root, found, repo=self.git)

    def regate(self, version: int, at: datetime) -> None:
        name, configs = self.settings.model.name, self.settings.config_dir
        pass_gate(self.registry, name, version, configs, self.tmp, at.isoformat())

    def serving(self) -> dict[str, int | None]:
        return {t: state.track_version(self.root, t) for t in state.TRACKS}


def _artifact(tmp: Path, weights: bytes) -> Path:
    d = tmp / f"model-{weights.hex()}"
    d.mkdir(parents=True)
    (d / "MLmodel").write_text("flavors:\n  sklearn:\n    serialization_format: skops\n")
    (d / "model.skops").write_bytes(weights * 10)
    (d / "python_env.yaml").write_text("python: 3.11.9\n")
    (d / "requirements.txt").write_text("scikit-learn==1.6.1\n")
    return d


@pytest.fixture
def release(tmp_path: Path) -> Iterator[Release]:
    root = tmp_path / "project"
    for rel in ("configs", "k8s", "releases", "model_cards"):
        shutil.copytree(REPO / rel, root / rel)
    settings = load_settings(root)
    minutes = iter(range(10_000))
    repo = InMemoryGit(root, clock=lambda: START + timedelta(minutes=next(minutes)))
    repo.commit_all("chore: throw-away project")
    registry = InMemoryRegistry(tmp_path / "registry")
    lineage = records.LINEAGE | {T.DATA_VALIDATION: "passed"}
    for weights in (b"one", b"two", b"three"):
        model = _artifact(tmp_path, weights)
        run = registry.create_run(settings.model.name, {}, lineage)
        mv = registry.register(
            settings.model.name, run, model, lineage | {T.MODEL_SHA256: directory_sha256(model)}
        )
        pass_gate(registry, mv.name, mv.version, settings.config_dir, tmp_path / "gate", GATE_AT)
    yield Release(settings, load_release_config(settings.config_dir), registry, repo, tmp_path / "gate")


def test_roll_back_revert_the_rollback_roll_back_again_follows_the_live_promotion(release: Release) -> None:
    release.promote(1, "canary")
    release.promote(1, "stable")
    pointer = release.promote(2, "canary").commit
    assert release.serving() == {"stable": 1, "canary": 2}

    first = release.rollback("canary")
    assert first.sha == pointer and first.command == f"git revert --no-edit {pointer}"
    assert release.serving() == {"stable": 1, "canary": None}
    assert release.git.changed_paths() == []

    # Someone reverts the rollback: v2 serves the canary again, through the revert of the revert.
    assert first.revert_sha is not None
    reapplied = release.git.revert(first.revert_sha)
    assert release.serving() == {"stable": 1, "canary": 2}

    second = rollback.find(release.root, "canary", release.cfg.track_trailer, repo=release.git)
    assert second.sha == reapplied  # the commit that made v2 live now, not the original pointer
    rollback.run(release.root, second, repo=release.git)
    assert release.serving() == {"stable": 1, "canary": None}
    # Records and cards are never reverted.
    assert release.cfg.release_path(release.root, release.settings.model.name, 2).is_file()
    assert release.cfg.card_path(release.root, release.settings.model.name, 2).is_file()
    # Nothing live on the canary any more.
    with pytest.raises(ReleaseError, match="canary track serves no version"):
        release.rollback("canary")


def test_stable_rollback_picks_the_newest_live_stable_promotion(release: Release) -> None:
    release.promote(1, "canary")
    release.promote(1, "stable")
    release.promote(2, "canary")
    to_v2 = release.promote(2, "stable").commit
    assert release.serving() == {"stable": 2, "canary": None}
    done = release.rollback("stable")
    assert done.sha == to_v2
    assert release.serving() == {"stable": 1, "canary": 2}  # the pointer commit is undone as a whole


def test_re_promoting_a_rolled_back_version_needs_a_gate_newer_than_the_rollback(release: Release) -> None:
    release.promote(1, "canary")
    release.promote(1, "stable")
    release.promote(2, "canary")
    done = release.rollback("canary")
    rolled_at = datetime.fromisoformat(release.git.history(())[-1].committed_at)
    assert release.git.history(())[-1].sha == done.revert_sha

    with pytest.raises(GateFailed, match=r"v?2 was rolled back from canary at .* re-run the gate"):
        release.promote(2, "canary")
    release.regate(2, rolled_at)  # the same second as the rollback is not newer
    with pytest.raises(GateFailed, match="its last gate ran at"):
        release.promote(2, "canary")
    assert release.serving() == {"stable": 1, "canary": None}

    release.regate(2, rolled_at + timedelta(seconds=1))
    again = release.promote(2, "canary")
    assert len(again.commits) == 1  # the record and card exist (append-only): only the pointer
    assert release.serving() == {"stable": 1, "canary": 2}
    assert release.registry.get_version(release.settings.model.name, 2).tags[T.GATE_AT] > GATE_AT


def test_an_untouched_version_needs_no_regate(release: Release) -> None:
    release.promote(1, "canary")
    release.promote(1, "stable")
    release.promote(2, "canary")
    release.rollback("canary")
    release.promote(3, "canary")  # v3 was never rolled back: its original gate counts
    assert release.serving() == {"stable": 1, "canary": 3}


def test_a_rollback_that_no_longer_applies_leaves_the_tree_as_it_was(release: Release) -> None:
    release.promote(1, "canary")
    release.promote(1, "stable")
    release.promote(2, "canary")
    overlay = state.overlay_dir(release.root, "canary") / state.MODEL_ENV
    overlay.write_text(overlay.read_text() + "# a local edit\n")
    head, text = release.git.head(), overlay.read_text()
    with pytest.raises(ReleaseError, match=r"the tree is unchanged\. Resolve by hand"):
        release.rollback("canary")
    assert release.git.head() == head and overlay.read_text() == text


def test_a_refused_pointer_commit_restores_head_index_and_files(release: Release) -> None:
    release.promote(1, "canary")
    head = release.git.head()
    release.git.hook = lambda message: "rejected by policy" if "promote v1 to stable" in message else None
    with pytest.raises(ReleaseError, match="not made, the tree is restored: git commit failed: rejected"):
        release.promote(1, "stable")
    assert release.git.head() == head
    assert release.git.changed_paths() == []
    assert release.serving() == {"stable": None, "canary": 1}


def test_no_live_promotion_is_named(release: Release) -> None:
    with pytest.raises(ReleaseError, match="no live commit with trailer `Modelops-Track: stable`"):
        release.rollback("stable")
