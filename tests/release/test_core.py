"""Pure release core: record schema, overlay edits, card rendering and `release verify` (no registry)."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from modelops import tags as T
from modelops.cli import main
from modelops.errors import ConfigError, DigestMismatch, MissingEvidence, ReleaseError
from modelops.release import card, overlay, record, rollback, state, verify
from modelops.release.config import ReleaseConfig, load_release_config
from tests.fixture_model.swap import MODEL  # records name the fixture's model, as its configs do
from tests.helpers.fixture import fixture_configs
from tests.release import records
from tests.release.records import SHA, TAGS

REPO = Path(__file__).resolve().parents[2]


def make_record(version: int, sha: str = SHA, created_at: str = "2025-01-01T00:00:00Z", **kw: Any):  # type: ignore[no-untyped-def]
    return records.make_record(version, sha, created_at, **kw)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    fixture_configs(tmp_path)  # configs name the fixture's model, as the records do
    shutil.copytree(REPO / "k8s", tmp_path / "k8s")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "init")
    return tmp_path


def git(root: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
    }
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True, env=os.environ | env
    ).stdout


def release(
    root: Path,
    cfg: ReleaseConfig,
    version: int,
    *,
    sha: str = SHA,
    card_text: str | None = "card",
    created_at: str = "2025-01-01T00:00:00Z",
) -> None:
    path = cfg.release_path(root, MODEL, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record.dump(make_record(version, sha, created_at)))
    if card_text is not None:
        cfg.card_path(root, MODEL, version).parent.mkdir(parents=True, exist_ok=True)
        cfg.card_path(root, MODEL, version).write_text(card_text)


def point(root: Path, track: str, version: int | None, sha: str | None = SHA) -> None:
    (state.overlay_dir(root, track) / state.MODEL_ENV).write_text(
        overlay.model_env(track, MODEL, version, sha)
    )
    if track == "canary":
        kust = state.overlay_dir(root, "canary") / state.KUSTOMIZATION
        kust.write_text(overlay.set_replicas(kust.read_text(), 0 if version is None else 1, "k"))


def problems(root: Path) -> list[str]:
    return verify.verify(root, load_release_config(root / "configs")).problems


def test_record_round_trips_and_schema_names_the_field() -> None:
    rec = make_record(3)
    assert record.load(record.dump(rec), "v3.yaml") == rec
    assert rec.model.uri == f"models:/{MODEL}/3" and rec.lineage.git_dirty is False
    assert (rec.gate.gates_sha256, rec.gate.features_sha256, rec.gate.eval_md5, rec.gate.at) == (
        TAGS[T.GATE_RULES_SHA256],
        TAGS[T.GATE_FEATURES_SHA256],
        TAGS[T.GATE_EVAL_MD5],
        "2025-01-01T00:00:00Z",
    )
    with pytest.raises(MissingEvidence, match=r"model\.sha256"):
        make_record(3, sha="not-a-digest")
    with pytest.raises(MissingEvidence, match=r"gate\.verdict"):
        make_record(3, tags={**TAGS, T.GATE_VERDICT: "fail"})
    with pytest.raises(MissingEvidence, match="eval_md5"):
        make_record(3, tags={k: v for k, v in TAGS.items() if k != T.EVAL_MD5})
    with pytest.raises(MissingEvidence, match=r"gate\.gates_sha256.*re-run the gate"):
        make_record(3, tags={k: v for k, v in TAGS.items() if k != T.GATE_RULES_SHA256})
    with pytest.raises(MissingEvidence, match=r"gate\.at='yesterday' is not an ISO-8601 time"):
        make_record(3, tags={**TAGS, T.GATE_AT: "yesterday"})
    tampered = record.dump(rec).replace("schema_version: 2", "schema_version: 2\nextra: x")
    with pytest.raises(MissingEvidence, match=r"v3\.yaml: extra: Extra inputs are not permitted"):
        record.load(tampered, "v3.yaml")
    with pytest.raises(MissingEvidence, match=r"v3.yaml: model\.version: Input should be a valid integer"):
        record.load(record.dump(rec).replace("version: 3", "version: '3'", 1), "v3.yaml")
    with pytest.raises(MissingEvidence, match=r"created_at: .*2025-13-01"):
        record.load(record.dump(rec).replace("created_at: '2025-01-01", "created_at: '2025-13-01"), "v3.yaml")


def test_committed_schema_is_the_generated_one_and_judges_like_the_model(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import jsonschema

    committed = (REPO / "src/modelops/release" / record.SCHEMA_FILE).read_text()
    assert committed == record.schema_text(), "run `modelops release schema --write`"
    assert main(["release", "schema", "--check"]) == 0
    capsys.readouterr()
    assert main(["release", "schema"]) == 0 and capsys.readouterr().out == committed
    monkeypatch.setattr(record, "committed_schema", lambda: committed.replace('"pattern"', '"x"', 1))
    assert main(["release", "schema", "--check"]) == 1
    assert "differs from the ReleaseRecord model" in capsys.readouterr().err
    # The generated schema is usable by non-Python readers and agrees with the model.
    validator = jsonschema.Draft202012Validator(json.loads(committed))
    good = make_record(3).model_dump(mode="json")
    assert list(validator.iter_errors(good)) == []
    for broken in (
        {**good, "extra": 1},
        {**good, "gate": {k: v for k, v in good["gate"].items() if k != "gates_sha256"}},
        {**good, "model": {**good["model"], "sha256": "x"}},
    ):
        assert list(validator.iter_errors(broken)), broken
        with pytest.raises(MissingEvidence):
            record.validate(broken, "broken")


def test_the_one_reader_honours_releases_dir(project: Path) -> None:
    from modelops.monitor import reference as monitor_ref
    from modelops.serve import reference as serve_ref

    conf = project / "configs" / "release.yaml"
    conf.write_text(conf.read_text().replace("releases_dir: releases ", "releases_dir: audit/releases "))
    cfg = load_release_config(project / "configs")
    assert cfg.releases_dir == Path("audit/releases")
    rec = make_record(4)
    path = records.write_record(project, rec, cfg)
    assert path == project / f"audit/releases/{MODEL}/v4.yaml"
    assert record.read(project, MODEL, "4") == rec
    with pytest.raises(
        MissingEvidence, match=rf"audit/releases/{MODEL}/v5.yaml: release record does not exist"
    ):
        record.read(project, MODEL, 5)
    # Monitoring finds it there (and then needs the training snapshot from the DVC cache).
    with pytest.raises(
        MissingEvidence, match=f"md5 {rec.lineage.train_md5} \\(release v4\\) is not in the DVC cache"
    ):
        monitor_ref.from_release(project, MODEL, "4")
    cached = project / ".dvc/cache/files/md5" / rec.lineage.train_md5[:2] / rec.lineage.train_md5[2:]
    cached.parent.mkdir(parents=True)
    cached.write_text("x")
    assert monitor_ref.from_release(project, MODEL, "4").model_sha256 == SHA
    # Serving's overlay fallback reads the same record for its lineage.
    point(project, "stable", 4)
    ref = serve_ref.resolve(project, None, {})
    assert (ref.release_file, ref.git_sha) == (str(path), rec.lineage.git_sha)
    # A record in the wrong file, or broken, is refused by every reader alike.
    path.write_text(record.dump(make_record(5)))
    for read in (
        lambda: record.read(project, MODEL, 4),
        lambda: monitor_ref.from_release(project, MODEL, "4"),
        lambda: serve_ref.resolve(project, None, {}),
    ):
        with pytest.raises(MissingEvidence, match=f"{MODEL} v5 do not match the file path"):
            read()


def test_digest_check_names_both_values_and_never_skips(tmp_path: Path) -> None:
    from modelops.digest import directory_sha256, verify_directory

    (tmp_path / "MLmodel").write_text("x")
    actual = directory_sha256(tmp_path)
    assert verify_directory(tmp_path, actual.upper(), what="models:/m/1") == actual
    with pytest.raises(
        DigestMismatch,
        match=f"models:/m/1: artifact sha256 {actual} does not match the expected {SHA} \\(tag\\)",
    ):
        verify_directory(tmp_path, SHA, what="models:/m/1", source="tag")
    for missing in (None, "", "  "):
        with pytest.raises(DigestMismatch, match=f"no expected sha256 in the record .*{actual}"):
            verify_directory(tmp_path, missing, what="models:/m/1")


def test_environment_from_model_files() -> None:
    env = record.parse_environment(
        "python: 3.11.9\nbuild_dependencies: [pip]\n",
        "mlflow==3.1.0\nscikit-learn==1.7.0 ; python_version>'3'\nskops>=0.10\n",
    )
    assert env == {
        "python": "3.11.9",
        "packages": {"mlflow": "3.1.0", "scikit-learn": "1.7.0", "skops": "skops>=0.10"},
    }
    with pytest.raises(MissingEvidence, match=r"python_env\.yaml"):
        record.parse_environment(None, "x==1")


def test_replica_edit_keeps_every_other_byte() -> None:
    text = (REPO / "k8s/overlays/canary/kustomization.yaml").read_text()
    edited = overlay.set_replicas(text, 2, "canary")
    assert overlay.replicas(edited, "canary") == 2
    assert edited.replace("count: 2", "count: 0") == text
    with pytest.raises(ReleaseError, match="exactly one"):
        overlay.set_replicas("resources: []\n", 1, "k8s/overlays/x/kustomization.yaml")


def test_model_env_is_what_state_reads(tmp_path: Path) -> None:
    d = tmp_path / state.TRACK_OVERLAYS["canary"]
    d.mkdir(parents=True)
    (d / state.MODEL_ENV).write_text(overlay.model_env("canary", MODEL, 4, SHA))
    assert state.track_version(tmp_path, "canary") == 4
    assert state.read_model_env(tmp_path, "canary")["MODEL_URI"] == f"models:/{MODEL}/4"
    (d / state.MODEL_ENV).write_text(overlay.model_env("canary", MODEL, None, None))
    assert state.track_version(tmp_path, "canary") is None
    assert state.stable_version(tmp_path) is None


def test_card_template_renders_every_section(project: Path) -> None:
    cfg = load_release_config(project / "configs")
    metrics = {
        "valid_roc_auc": 0.81,
        "valid_segment_roc_auc": 0.77,
        "valid_brier": 0.12,
        "train_wall_seconds": 3.0,
    }
    groups = card.group_metrics(metrics, cfg.card)
    assert groups == {
        "overall": {"valid_roc_auc": 0.81},
        "per_slice": {"valid_segment_roc_auc": 0.77},
        "calibration": {"valid_brier": 0.12},
    }
    ctx = {
        "model": {"name": MODEL, "owner": "@team", "description": "d"},
        "release": make_record(3),
        "metrics": groups,
        "params": {},
        "features": ["income"],
        "segment": "employment = unemployed",
        "data": {"raw": f"data/raw/{MODEL}.parquet", "train": "t", "eval": "data/split/eval.parquet"},
        "rollback": "`modelops rollback --track canary`",
    }
    text = card.render(project / "configs" / cfg.card_template, ctx)
    for heading in (
        "Intended use",
        "Out-of-scope uses",
        "Training data",
        "Evaluation data",
        "Per slice",
        "Calibration",
        "Limitations",
        "Ethical considerations",
        "How to roll back",
    ):
        assert f"## {heading}" in text or f"### {heading}" in text, heading
    assert "valid_segment_roc_auc: 0.7700" in text and "@team" in text and "c" * 32 in text
    del ctx["rollback"]
    with pytest.raises(ConfigError, match="rollback"):
        card.render(project / "configs" / cfg.card_template, ctx)


def test_slice_metrics_from_the_evaluate_report() -> None:
    report = {"slices": {"housing=rent": {"rows": 10, "roc_auc": 0.7, "pr_auc": float("nan")}, "bad": 1}}
    assert card.slice_metrics(report) == {"housing=rent roc_auc": 0.7, "housing=rent rows": 10.0}
    assert card.slice_metrics(None) == {}


def test_verify_passes_on_a_consistent_tree(project: Path) -> None:
    assert problems(project) == []
    cfg = load_release_config(project / "configs")
    release(project, cfg, 2)
    release(project, cfg, 3, sha="9" * 64, created_at="2025-02-01T00:00:00Z")
    point(project, "stable", 2)
    point(project, "canary", 3, "9" * 64)
    assert problems(project) == []


def test_verify_catches_a_tampered_digest(project: Path) -> None:
    cfg = load_release_config(project / "configs")
    release(project, cfg, 2)
    point(project, "stable", 2, "b" * 64)
    (found,) = problems(project)
    assert "k8s/overlays/production/model.env: MODEL_SHA256" in found and "differs" in found


def test_verify_catches_an_overlay_pointing_at_an_unreleased_version(project: Path) -> None:
    cfg = load_release_config(project / "configs")
    release(project, cfg, 2)
    point(project, "stable", 2)
    point(project, "canary", 5)
    (found,) = problems(project)
    assert f"k8s/overlays/canary/model.env: points at {MODEL} v5, which has no release file" in found


def test_verify_catches_a_missing_and_an_orphan_model_card(project: Path) -> None:
    cfg = load_release_config(project / "configs")
    release(project, cfg, 2, card_text=None)
    point(project, "stable", 2)
    (found,) = problems(project)
    assert f"model card model_cards/{MODEL}/v2.md is missing" in found
    orphan = cfg.card_path(project, MODEL, 9)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_text("x")
    assert any("v9.md: model card without a release file" in p for p in problems(project))


def test_verify_catches_schema_order_and_canary_replicas(project: Path) -> None:
    cfg = load_release_config(project / "configs")
    release(project, cfg, 2, created_at="2025-03-01T00:00:00Z")
    release(project, cfg, 3, created_at="2025-02-01T00:00:00Z")
    bad = cfg.release_path(project, MODEL, 4)
    bad.write_text(record.dump(make_record(5)))
    point(project, "canary", 3)
    kust = state.overlay_dir(project, "canary") / state.KUSTOMIZATION
    kust.write_text(overlay.set_replicas(kust.read_text(), 0, "k"))
    found = "\n".join(problems(project))
    assert "v3.yaml: created_at" in found and "versions must increase" in found
    assert f"v4.yaml: model.name/version {MODEL} v5 do not match the file path" in found
    assert "canary has 0 replica(s) but MODEL_VERSION='3'" in found


def _commit(sha: str, track: str = "", version: str = "", reverts: str | None = None, at: str = "") -> Any:
    from modelops.adapters.git import Commit

    trailers = {"Modelops-Track": track, rollback.VERSION_TRAILER: version}
    return Commit(sha * 40, at or "2025-01-01T00:00:00+00:00", f"c{sha}", trailers, reverts and reverts * 40)


def test_replay_follows_reverts_of_reverts_to_the_live_commit() -> None:
    # P1 canary v1, S1 stable v1, P2 canary v2, R1 reverts P2, R2 reverts R1, R3 reverts R2.
    history = [
        _commit("1", "canary", "1"),
        _commit("2", "stable", "1"),
        _commit("3", "canary", "2"),
        _commit("4", reverts="3", at="2025-02-01T10:00:00+02:00"),
        _commit("5", reverts="4"),
    ]
    after_r2 = rollback.replay(history, "Modelops-Track")
    live = after_r2.live_for("canary")
    assert live is not None and (live.sha, live.applied_by.sha, live.version) == ("3" * 40, "5" * 40, "2")
    assert after_r2.live_for("stable").applied_by.sha == "2" * 40  # type: ignore[union-attr]
    (rolled,) = after_r2.rollbacks
    assert (rolled.version, rolled.track, rolled.revert.sha) == ("2", "canary", "4" * 40)
    assert record.utc_second(rollback.rollback_time(rolled)) == "2025-02-01T08:00:00Z"
    assert after_r2.last_rollback(1) is None

    after_r3 = rollback.replay([*history, _commit("6", reverts="5")], "Modelops-Track")
    assert after_r3.live_for("canary").applied_by.sha == "1" * 40  # type: ignore[union-attr]
    assert [r.revert.sha[0] for r in after_r3.rollbacks] == ["4", "6"]
    # Unrelated commits and reverts of unrelated commits change nothing.
    noise = [_commit("7"), _commit("8", reverts="7")]
    assert rollback.replay([*history, *noise], "Modelops-Track").live == after_r2.live


def test_verify_checks_every_version_that_ever_served_kept_its_record(project: Path) -> None:
    cfg = load_release_config(project / "configs")
    release(project, cfg, 2)
    point(project, "stable", 2)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "promote v2")
    assert problems(project) == []
    point(project, "stable", None)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "retire")
    assert problems(project) == [], "a retired version keeps its record: nothing is missing"
    git(project, "rm", "-q", "-r", "releases", "model_cards")
    git(project, "commit", "-q", "-m", "drop the audit trail")
    found = "\n".join(problems(project))
    assert f"releases/{MODEL}/v2.yaml: missing, but {MODEL} v2 served" in found
    assert f"model_cards/{MODEL}/v2.md: missing, but {MODEL} v2 served" in found
    shutil.rmtree(project / ".git")
    assert any("not a git checkout" in p for p in problems(project))


def test_promote_refuses_other_rules_and_a_stale_gate_after_rollback(project: Path) -> None:
    """The two pure promotion checks on a version's tags (the registry test covers the CLI path)."""
    from modelops.adapters.tracking import ModelVersion
    from modelops.digest import file_digest
    from modelops.errors import GateFailed
    from modelops.release import promote

    configs = project / "configs"
    here = {
        T.GATE_RULES_SHA256: file_digest(configs / "gates.yaml"),
        T.GATE_FEATURES_SHA256: file_digest(configs / "features.yaml"),
    }
    mv = ModelVersion(MODEL, 3, "0" * 32, "", {**TAGS, **here})
    promote.check_rules(mv, configs)
    (configs / "gates.yaml").write_text((configs / "gates.yaml").read_text() + "# looser\n")
    now = file_digest(configs / "gates.yaml")
    with pytest.raises(
        GateFailed, match=f"gate.gates_sha256={here[T.GATE_RULES_SHA256]}, but .* sha256 {now}"
    ):
        promote.check_rules(mv, configs)
    bare = ModelVersion(
        MODEL, 3, "0" * 32, "", {k: v for k, v in mv.tags.items() if k != T.GATE_RULES_SHA256}
    )
    with pytest.raises(GateFailed, match=r"gate ran without rule digests.*re-run the gate"):
        promote.check_rules(bare, configs)

    history = rollback.replay(
        [_commit("1", "canary", "3"), _commit("2", reverts="1", at="2025-03-01T12:00:00+00:00")],
        "Modelops-Track",
    )
    promote.check_regate(ModelVersion(MODEL, 4, "0" * 32, "", TAGS), history)  # never rolled back
    stale = ModelVersion(MODEL, 3, "0" * 32, "", {**TAGS, T.GATE_AT: "2025-03-01T12:00:00+00:00"})
    with pytest.raises(
        GateFailed, match=r"rolled back from canary at 2025-03-01T12:00:00Z .* ran at 2025-03-01T12:00:00Z"
    ):
        promote.check_regate(stale, history)
    untimed = ModelVersion(MODEL, 3, "0" * 32, "", {k: v for k, v in TAGS.items() if k != T.GATE_AT})
    with pytest.raises(GateFailed, match=r"has no gate\.at tag"):
        promote.check_regate(untimed, history)
    fresh = ModelVersion(MODEL, 3, "0" * 32, "", {**TAGS, T.GATE_AT: "2025-03-01T12:00:01Z"})
    promote.check_regate(fresh, history)


def test_a_duplicated_key_in_a_committed_record_is_refused_naming_line_and_key() -> None:
    from modelops.errors import MissingEvidence
    from modelops.release import record

    text = record.dump(make_record(1))
    with pytest.raises(MissingEvidence, match=r"v1\.yaml:\d+: duplicate key 'track'"):
        record.load(text + "track: stable\n", f"releases/{MODEL}/v1.yaml")
