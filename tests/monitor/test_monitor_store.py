"""`modelops monitor --store`: the same verdicts from the Parquet store as from JSON lines (integration)."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from modelops.cli import main
from modelops.monitor import job
from modelops.records import LabelRecord, PredictionRecord, label_table, prediction_table
from modelops.store import LabelStore, PredictionStore

pytestmark = pytest.mark.integration
T0 = datetime(2025, 6, 2, tzinfo=UTC)


def write_store(project, uri: str, frame: pd.DataFrame, version: str = "1", start: datetime = T0) -> None:
    """The same rows `write_logs` writes, as stored records (one per second from `start`)."""
    names = project.settings.features.names
    feats = frame[names].astype(object).where(frame[names].notna(), None).to_dict("records")
    records = [
        PredictionRecord(
            request_id=rid,
            timestamp=start + timedelta(seconds=i),
            model_name=project.settings.model.name,
            model_version=version,
            features={k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()},
            score=float(score),
        )
        for i, (rid, score, row) in enumerate(zip(frame["request_id"], frame["score"], feats, strict=True))
    ]
    PredictionStore(uri).write(prediction_table(records, project.settings.features))


def judged(summary: dict) -> list[dict]:
    return [{k: v for k, v in s.items() if k != "reference"} for s in summary["versions"]]


def run(project, tmp_path: Path, name: str, **kw) -> dict:
    inputs = job.Inputs(out=tmp_path / name, **{"predictions": None, **kw})
    return job.run(project.settings, project.cfg, inputs, project.scorer_factory)


def test_store_and_json_lines_give_the_same_judgement(project, tmp_path):
    from tests.helpers.fixture import numeric_feature
    from tests.monitor.incidents import zero_fill

    feature = numeric_feature(project.settings)
    frame = project.served(3000, 41, lambda f: zero_fill(f, feature, 0.33, seed=41))
    logs = project.write_logs(tmp_path / "p.jsonl", frame)
    labels = project.write_labels(tmp_path / "labels.csv", frame)
    store = str(tmp_path / "store")
    write_store(project, store, frame)
    from_logs = run(project, tmp_path, "a", predictions=logs, labels=labels)
    from_store = run(project, tmp_path, "b", store=store, labels=labels)
    assert from_store["verdict"] == from_logs["verdict"] == "alert"
    assert judged(from_store) == judged(from_logs)
    assert from_store["versions"][0]["labelled_rows"] == 3000


def test_store_window_and_labels_from_the_label_store(project, tmp_path):
    store = str(tmp_path / "store")
    old, new = project.served(1000, 42), project.served(2000, 43)
    write_store(project, store, old, start=T0 - timedelta(days=3))
    write_store(project, store, new, start=T0)
    label = project.settings.features.label
    LabelStore(store).write(
        label_table(
            [
                LabelRecord(
                    request_id=r,
                    label=int(y),
                    observed_at=T0 + timedelta(days=1),
                    model_name=project.settings.model.name,
                )
                for r, y in zip(new["request_id"], new[label], strict=True)
            ]
        )
    )
    s = run(project, tmp_path, "w", store=store, since="2025-06-01T00:00:00Z")
    (section,) = s["versions"]
    assert section["rows"] == 2000  # the three-day-old traffic is outside the window
    assert section["labelled_rows"] == 2000 and "roc_auc" in section["quality"]
    assert s["labels"] == f"{store} (labels)"


def test_cli_store_exit_codes(project, tmp_path, monkeypatch):
    ref = pd.read_parquet(project.root / "data" / "split" / "train.parquet")
    ref["score"] = project.model.predict_proba(ref[project.settings.features.names])[:, 1]
    ref_path = tmp_path / "ref.parquet"
    ref.to_parquet(ref_path)
    monkeypatch.chdir(project.root)
    store = str(tmp_path / "store")
    write_store(project, store, project.served(3000, 44))
    base = ["--root", str(project.root), "monitor", "--reference", str(ref_path)]
    assert (
        main([*base, "--store", store, "--since", "2025-06-01T00:00:00Z", "--out", str(tmp_path / "h")]) == 0
    )
    assert json.loads((tmp_path / "h" / "summary.json").read_text())["lines"] == 3000
    empty = main([*base, "--store", store, "--since", "2030-01-01T00:00:00Z", "--out", str(tmp_path / "e")])
    assert json.loads((tmp_path / "e" / "summary.json").read_text())["verdict"] == "no traffic"
    assert empty == main(
        [
            *base,
            "--predictions",
            str(project.write_logs(tmp_path / "x.jsonl", project.served(10, 45))),
            "--since",
            "2030-01-01",
            "--out",
            str(tmp_path / "x"),
        ]
    )
