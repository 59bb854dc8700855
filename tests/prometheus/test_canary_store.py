"""`modelops canary decide --store URI` end to end on a healthy, released canary.

Both versions are really registered (MLflow, the serving fixtures' v1 and v2) and released
(release records written by the release step's one writer, naming the digest of the registered
model and the md5 of the training snapshot in the DVC cache); the overlays point stable at v1 and
canary at v2. Each version's served predictions, scored by its own model, and their delayed
labels are written to a real store: a local directory, and a moto_server S3 bucket over the
plain S3 API. Live metrics come from a real Prometheus holding an hour of both versions' traffic
(tests/prometheus/history.py). The policy is configs/canary.yaml as shipped: a full hour's window,
monitoring required.
"""

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from modelops.release import overlay
from modelops.release.state import overlay_dir
from tests.prometheus.history import Traffic, recorded
from tests.release.records import TAGS, make_record, write_record
from tests.serve.conftest import ServeProject
from tests.store.conftest import S3Server, s3  # noqa: F401  (fixture re-export)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROWS = {"stable": 3000, "canary": 2000}  # served predictions per track, all labelled later
TRAFFIC = {"stable": 3.0, "canary": 2.0}  # requests per second on Prometheus over the hour


@pytest.fixture(scope="module")
def released(serve_project: ServeProject) -> ServeProject:
    """The serving project with v1 released to stable and v2 to canary, both from one training snapshot."""
    from modelops.adapters import dvc
    from modelops.settings import load_settings
    from tests.helpers.fixture import rows

    root = serve_project.root
    settings = load_settings(root)
    train = root / "data" / "split" / "train.parquet"
    train.parent.mkdir(parents=True, exist_ok=True)
    rows(settings, 4000, 1).iloc[:3000].to_parquet(train, index=False)  # the rows both versions learned from
    md5 = dvc.md5(train)
    cached = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(train, cached)
    tracks = {"stable": serve_project.primary, "canary": serve_project.shadow}
    for track, reg in tracks.items():
        previous = serve_project.primary.version if track == "canary" else None
        rec = make_record(
            reg.version,
            reg.sha256,
            name=settings.model.name,
            tags={**TAGS, "train_md5": md5},
            track=track,
            previous_version=previous,
        )
        write_record(root, rec)
        (overlay_dir(root, track) / "model.env").write_text(
            overlay.model_env(track, settings.model.name, reg.version, reg.sha256)
        )
    return serve_project


def write_traffic(project: ServeProject, uri: str, broken_canary: bool = False) -> None:
    """Each track's served predictions (scored by its own model) and, later, their true labels.

    `broken_canary`: the canary served its model's scores inverted (a flipped class column), the
    kind of regression only the predictions and labels show: its live metrics stay healthy.
    """
    from modelops.records import LabelRecord, frame_table, label_table
    from modelops.store import LabelStore, PredictionStore
    from tests.helpers.fixture import rows

    settings = project.settings
    served_at = datetime.now(UTC) - timedelta(minutes=20)  # inside the canary window (an hour)
    labels = []
    for seed, (track, reg) in enumerate((("stable", project.primary), ("canary", project.shadow)), 500):
        frame = rows(settings, ROWS[track], seed)
        ids = [f"{track}-{i}" for i in range(len(frame))]
        scores = reg.pipeline.predict_proba(frame[settings.features.names])[:, 1]
        if broken_canary and track == "canary":
            scores = 1 - scores
        PredictionStore(uri).write(
            frame_table(
                frame,
                scores,
                features=settings.features,
                model_name=settings.model.name,
                model_version=str(reg.version),
                request_ids=ids,
                timestamp=served_at,
                source="online",
            )
        )
        outcomes = frame[settings.features.label].astype(int).tolist()
        labels += [
            LabelRecord(
                request_id=i,
                label=y,
                observed_at=served_at + timedelta(minutes=5),
                model_name=settings.model.name,
            )
            for i, y in zip(ids, outcomes, strict=True)
        ]
    LabelStore(uri).write(label_table(labels))


def decide(project: ServeProject, store: str, out: Path, prometheus: str) -> dict[str, Any]:
    from modelops.cli import main

    args = ["canary", "decide", "--store", store, "--prometheus", prometheus, "--out", str(out)]
    code = main(["--root", str(project.root), *args])
    assert code == 0
    return json.loads((out / "decision.json").read_text())  # type: ignore[no-any-return]


def check_promoted(decision: dict[str, Any], out: Path, store: str, project: ServeProject) -> None:
    """Promote, naming both versions, with the live and the monitoring evidence of each."""
    v1, v2 = project.primary.version, project.shadow.version
    assert decision["action"] == "promote", decision["reason"]
    assert f"canary v{v2}" in decision["reason"]
    for track, reg in (("stable", project.primary), ("canary", project.shadow)):
        report = decision[track]
        assert report["version"] == reg.version, track
        assert (report["monitor"], report["monitor_rows"]) == ("healthy", ROWS[track]), track
        assert report["live"]["version"] == reg.version
        # ~3600 s x rate requests; Poisson noise and the window edges stay well inside 15%.
        assert report["live"]["requests"] == pytest.approx(3600 * TRAFFIC[track], rel=0.15), track
    checks = {c["metric"]: c for c in decision["comparisons"]}
    assert set(checks) == {"error_ratio", "validation_failure_ratio", "latency_p95_seconds"}
    for c in checks.values():
        assert c["verdict"] == "pass" and c["stable"] is not None, c  # compared with stable, not limits only
    assert checks["latency_p95_seconds"]["p_value"] is not None
    md = (out / "decision.md").read_text()
    assert "**promote**" in md and f"| canary | v{v2} |" in md and f"| stable | v{v1} |" in md
    assert f"healthy ({ROWS['canary']} rows)" in md and f"healthy ({ROWS['stable']} rows)" in md
    # The monitoring evidence: one read of the store, both versions judged, labels joined from it.
    summary = json.loads((out / "monitor" / "summary.json").read_text())
    assert summary["predictions"] == store and summary["labels"] == f"{store} (labels)"
    sections = {s["model_version"]: s for s in summary["versions"]}
    assert set(sections) == {str(v1), str(v2)}
    for version, track in ((v1, "stable"), (v2, "canary")):
        section = sections[str(version)]
        assert section["labelled_rows"] == ROWS[track] and "roc_auc" in section["quality"], section
        assert section["reference"]["source"] == "release"


@pytest.fixture(scope="module")
def live(released: ServeProject, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    traffic = [
        Traffic(reg.version, TRAFFIC[t])
        for t, reg in (("stable", released.primary), ("canary", released.shadow))
    ]
    with recorded(traffic, tmp_path_factory.mktemp("canary-store-prometheus")) as prom:
        yield prom


def test_healthy_released_canary_is_promoted_from_a_local_store(released, live, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = str(tmp_path / "store")
    write_traffic(released, store)
    decision = decide(released, store, tmp_path / "out", live.url)
    check_promoted(decision, tmp_path / "out", store, released)


def test_healthy_released_canary_is_promoted_from_an_s3_store(released, live, s3: S3Server, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    store = "s3://predictions-bucket/store"
    write_traffic(released, store)
    assert s3.fs().ls("predictions-bucket/store"), "written through the plain S3 API"
    decision = decide(released, store, tmp_path / "out", live.url)
    check_promoted(decision, tmp_path / "out", store, released)


def test_canary_whose_stored_scores_are_worse_is_rolled_back(released, live, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = str(tmp_path / "store")
    write_traffic(released, store, broken_canary=True)
    decision = decide(released, store, tmp_path / "out", live.url)
    assert decision["action"] == "rollback", decision["reason"]
    assert f"canary v{released.shadow.version}'s monitoring alerts" in decision["reason"]
    assert (decision["canary"]["monitor"], decision["stable"]["monitor"]) == ("alert", "healthy")
    assert {c["verdict"] for c in decision["comparisons"]} == {"pass"}, "live metrics alone would promote"
    summary = json.loads((tmp_path / "out" / "monitor" / "summary.json").read_text())
    (canary,) = [s for s in summary["versions"] if s["model_version"] == str(released.shadow.version)]
    assert canary["quality"]["roc_auc"] < 0.5 and any("roc" in a.lower() for a in canary["alerts"]), canary
