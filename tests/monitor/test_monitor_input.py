"""Bad input: malformed lines, several versions, empty windows, missing lineage, through `main(argv)`."""

import json

import pandas as pd
import pytest

from modelops.cli import main
from modelops.errors import MissingEvidence, MonitorError
from modelops.monitor import job
from modelops.monitor.logs import read_logs

pytestmark = pytest.mark.integration


def run(project, tmp_path, logs, **kw):
    inputs = job.Inputs(predictions=logs, out=tmp_path / "out", **kw)
    return job.run(project.settings, project.cfg, inputs, project.scorer_factory)


def test_malformed_lines_are_counted_and_named_not_fatal_below_the_share(project, tmp_path):
    logs = project.write_logs(tmp_path / "p.jsonl", project.served(2000, 21))
    with logs.open("ab") as fh:
        fh.write(b"{not json\n")
        fh.write(
            b'{"request_id": "x", "timestamp": "2025-06-02T00:00:00Z", "model_version": "1", "score": 0.2}\n'
        )
        fh.write(
            b'{"request_id": "y", "timestamp": "yesterday", "model_version": "1", '
            b'"features": {}, "score": 0.2}\n'
        )
    summary = run(project, tmp_path, logs)
    assert summary["malformed"] == 3 and summary["lines"] == 2003
    assert summary["versions"][0]["rows"] == 2000
    assert summary["malformed_examples"] == [
        "line 2001: not valid JSON",
        "line 2002: missing 'features'",
        "line 2003: 'timestamp' is not an ISO 8601 time",
    ]


def test_too_many_malformed_lines_fail_the_run_naming_the_limit(project, tmp_path):
    logs = project.write_logs(tmp_path / "p.jsonl", project.served(500, 22))
    with logs.open("ab") as fh:
        fh.write(b'{"score": 2}\n' * 10)
    with pytest.raises(MonitorError, match="malformed_max_share"):
        run(project, tmp_path, logs)


def test_versions_are_split_and_each_needs_its_own_release(project, tmp_path):
    logs = project.write_logs(tmp_path / "p.jsonl", project.served(1000, 23), version="1")
    project.write_logs(logs, project.served(400, 24), version="7", mode="ab")
    parsed = read_logs(logs, project.settings.features, None, 300)
    assert {v: len(f) for v, f in parsed.versions.items()} == {"1": 1000, "7": 400}
    name = project.settings.model.name
    with pytest.raises(MissingEvidence, match=rf"model_version '7'.*releases/{name}/v7.yaml"):
        run(project, tmp_path, logs)


def test_since_filters_the_window_and_an_empty_window_is_no_traffic(project, tmp_path):
    logs = project.write_logs(tmp_path / "p.jsonl", project.served(1000, 25))  # 2025-06-02, 1 s apart
    part = read_logs(logs, project.settings.features, pd.Timestamp("2025-06-02T00:10:00Z"), 1000)
    assert len(part.versions["1"]) == 400 and part.outside_window == 600
    summary = run(project, tmp_path, logs, since="2030-01-01")
    assert summary["verdict"] == "no traffic" and summary["outside_window"] == 1000
    assert (tmp_path / "out" / "summary.md").read_text().startswith("# ⚪ NO TRAFFIC")


def test_reference_missing_from_the_dvc_cache_names_the_md5_and_dvc_pull(project, tmp_path):
    rel = project.write_release(9, "a" * 32)
    try:
        logs = project.write_logs(tmp_path / "p.jsonl", project.served(500, 28), version="9")
        with pytest.raises(
            MissingEvidence, match=r"md5 a{32} \(release v9\) is not in the DVC cache.*dvc pull"
        ):
            run(project, tmp_path, logs)
        rel.write_text("lineage: {}\n")
        with pytest.raises(MissingEvidence, match=r"v9\.yaml: schema_version: Field required"):
            run(project, tmp_path, logs)
    finally:
        rel.unlink()


def test_cli_exit_codes_healthy_alert_and_error(project, tmp_path, monkeypatch):
    from tests.helpers.fixture import numeric_feature
    from tests.monitor.incidents import zero_fill

    # --reference with a precomputed score column: the CLI path without a registry.
    ref = pd.read_parquet(project.root / "data" / "split" / "train.parquet")
    ref["score"] = project.model.predict_proba(ref[project.settings.features.names])[:, 1]
    ref_path = tmp_path / "ref.parquet"
    ref.to_parquet(ref_path)
    monkeypatch.chdir(project.root)
    healthy = project.write_logs(tmp_path / "h.jsonl", project.served(3000, 26))
    base = ["--root", str(project.root), "monitor", "--reference", str(ref_path)]
    assert main([*base, "--predictions", str(healthy), "--out", str(tmp_path / "h")]) == 0
    s = json.loads((tmp_path / "h" / "summary.json").read_text())
    assert s["versions"][0]["reference"]["source"] == "override"
    feature = numeric_feature(project.settings)
    bad = project.write_logs(
        tmp_path / "b.jsonl", project.served(3000, 27, lambda f: zero_fill(f, feature, 0.33))
    )
    assert main([*base, "--predictions", str(bad), "--out", str(tmp_path / "b")]) == 1
    assert main([*base, "--predictions", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "n")]) == 2
