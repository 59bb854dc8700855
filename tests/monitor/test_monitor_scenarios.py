"""The incidents monitoring exists for, replayed through real logs, real Evidently and a real model."""

import json

import pytest

from modelops.monitor import job
from tests.helpers import fixture as fx
from tests.monitor import incidents

pytestmark = pytest.mark.integration
ROWS = 10_000


def monitor(project, tmp_path, frame, labels=False, name="run"):
    logs = project.write_logs(tmp_path / f"{name}.jsonl", frame)
    lab = project.write_labels(tmp_path / f"{name}.csv", frame) if labels else None
    inputs = job.Inputs(predictions=logs, out=tmp_path / name, labels=lab)
    return job.run(project.settings, project.cfg, inputs, project.scorer_factory)


def test_healthy_period_raises_no_alert_and_writes_every_output(project, tmp_path):
    summary = monitor(project, tmp_path, project.served(ROWS, 11), labels=True)
    assert summary["verdict"] == "healthy", summary["versions"][0]["alerts"]
    out = tmp_path / "run"
    assert {p.name for p in out.iterdir()} >= {"report.html", "report.json", "summary.json", "summary.md"}
    assert "ValueDrift" in (out / "report.json").read_text()
    assert (out / "summary.md").read_text().startswith("# 🟢 HEALTHY")
    assert (
        json.loads((out / "summary.json").read_text())["versions"][0]["reference"]["train_md5"]
        == project.train_md5
    )


def test_silent_zero_fill_is_flagged_by_feature_name(project, tmp_path):
    feature = fx.numeric_feature(project.settings)
    frame = project.served(ROWS, 12, lambda f: incidents.zero_fill(f, feature, 0.33, seed=12))
    summary = monitor(project, tmp_path, frame)
    section = summary["versions"][0]
    assert summary["verdict"] == "alert"
    drifted = [d["feature"] for d in section["drift"] if d["drifted"]]
    assert drifted == [feature]
    md = (tmp_path / "run" / "summary.md").read_text()
    assert md.startswith("# 🔴 ALERT")
    assert f"| {feature} | wasserstein |" in md


def test_drift_confined_to_one_segment_is_flagged_in_that_slice(project, tmp_path):
    s = project.settings
    feature, segment = fx.numeric_feature(s), fx.segment_slice(s)

    def shift(frame):
        # A third off the feature in the segment only (~10% of rows): a normed Wasserstein of
        # ~0.6 there, diluted to ~0.06 in aggregate, under the 0.1 threshold.
        return incidents.shift_in_segment(frame, fx.in_segment(s, frame), feature, 0.7)

    summary = monitor(project, tmp_path, project.served(ROWS, 13, shift))
    section = summary["versions"][0]
    assert summary["verdict"] == "alert"
    # Diluted below the threshold in aggregate: only the per-slice check can see it.
    assert not any(d["drifted"] for d in section["drift"])
    sliced = next(x for x in section["slices"] if x["slice"] == segment)
    assert {d["feature"] for d in sliced["drift"] if d["drifted"]} >= {feature}
    assert any(a.startswith(f"[{segment}] feature drift: {feature}") for a in section["alerts"])


def test_label_shift_shows_as_a_quality_drop_once_labels_arrive(project, tmp_path):
    label = project.settings.features.label
    # Half the outcomes no longer follow the features, and more of them are positive.
    shifted = incidents.shift_labels(project.served(ROWS, 14), label, 0.5, 0.7, seed=14)
    before = monitor(project, tmp_path, shifted, labels=False, name="no-labels")
    assert before["verdict"] == "healthy"  # features and scores did not move: invisible without labels
    after = monitor(project, tmp_path, shifted, labels=True, name="labels")
    q = after["versions"][0]["quality"]
    healthy = monitor(project, tmp_path, project.served(ROWS, 15), labels=True, name="healthy")["versions"][0]
    assert after["verdict"] == "alert"
    assert q["roc_auc"] < healthy["quality"]["roc_auc"] - 0.03
    assert any(a.startswith("quality: ") for a in after["versions"][0]["alerts"])


@pytest.mark.slow
def test_false_alarm_rate_over_healthy_samples_is_low(project, tmp_path):
    """30 independent healthy weeks (with labels): the share that alerts is the false-alarm rate."""
    seeds = range(100, 130)
    alarms = []
    for seed in seeds:
        summary = monitor(project, tmp_path, project.served(ROWS, seed), labels=True, name=f"h{seed}")
        # Labels joined: the rate covers the quality checks too, not only drift.
        assert summary["versions"][0].get("quality"), f"seed {seed}: no quality section"
        if summary["verdict"] != "healthy":
            alarms.append((seed, summary["versions"][0]["alerts"]))
    rate = len(alarms) / len(seeds)
    print(f"false-alarm rate: {rate:.3f} ({len(alarms)}/{len(seeds)}) {alarms}")
    assert rate <= 0.05, alarms
