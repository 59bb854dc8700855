"""Tracked training into the real (embedded) MLflow registry."""

import json
from pathlib import Path

import pytest

from modelops.adapters import tracking
from modelops.data.baseline import load_profile
from modelops.data.evalset import load_pin
from modelops.errors import DigestMismatch, SchemaViolation
from modelops.tags import BASELINE_PROFILE_ARTIFACT
from tests.conftest import SMALL_ROWS, Project
from tests.fixture_model.swap import MODEL  # the shared project's model (tests/fixture_model)

pytestmark = pytest.mark.integration


def test_dvc_pipeline_registered_a_version_with_lineage(trained_project: Project) -> None:
    p = trained_project
    reg = tracking.registry_for(p.root)
    mv = reg.get_version(MODEL, p.version)
    head = p.git("rev-parse", "HEAD").strip()
    assert mv.tags["git_sha"] == head
    assert mv.tags["git_dirty"] in {"true", "false"}
    assert mv.tags["data_validation"] == "passed"
    lock = (p.root / "dvc.lock").read_text()
    assert mv.tags["data_md5"] in lock and mv.tags["eval_md5"] in lock and mv.tags["train_md5"] in lock
    assert mv.tags["model_sha256"] == tracking.model_sha256(reg, mv)
    assert len(mv.tags["config_sha256"]) == 64
    assert mv.tags["eval_md5"] == load_pin(p.root / "configs").md5  # the pinned set, not a split


def test_run_logs_the_baseline_profile_it_was_accepted_against(trained_project: Project) -> None:
    p = trained_project
    reg = tracking.registry_for(p.root)
    mv = reg.get_version(MODEL, p.version)
    logged = Path(reg.client.download_artifacts(mv.run_id, BASELINE_PROFILE_ARTIFACT))
    assert logged.read_bytes() == (p.root / "data/baseline/profile.json").read_bytes()
    assert load_profile(logged).rows == SMALL_ROWS


def test_train_and_evaluate_fail_closed_on_a_tampered_eval_set(trained_project: Project) -> None:
    p = trained_project
    pin = load_pin(p.root / "configs")
    eval_file = p.root / pin.path
    original = eval_file.read_bytes()
    report = (p.root / "artifacts/evaluate/report.json").read_bytes()
    reg = tracking.registry_for(p.root)
    versions = len(reg.client.search_model_versions(f"name='{MODEL}'"))
    try:
        eval_file.chmod(0o644)
        eval_file.write_bytes(original[:-8] + b"tampered")
        with pytest.raises(DigestMismatch, match=f"differs from the pin {pin.md5}"):
            p.train()
        assert p.run("evaluate") == DigestMismatch.exit_code
        assert (p.root / "artifacts/evaluate/report.json").read_bytes() == report
    finally:
        eval_file.write_bytes(original)
    reg = tracking.registry_for(p.root)
    assert len(reg.client.search_model_versions(f"name='{MODEL}'")) == versions  # nothing registered


def test_run_has_params_curves_plots_environment(trained_project: Project) -> None:
    reg = tracking.registry_for(trained_project.root)
    mv = reg.get_version(MODEL, trained_project.version)
    client = reg.client
    params, metrics, tags = reg.run_data(mv.run_id)
    assert params["model.max_iter"] == "40" and params["estimator"] == "hist_gradient_boosting"
    history = client.get_metric_history(mv.run_id, "curve_valid_log_loss")
    assert len(history) >= 4 and history[0].step < history[-1].step
    assert history[-1].value < history[0].value  # the model learned something
    assert 0.7 < metrics["valid_roc_auc"] < 1.0
    assert "eval_roc_auc" in metrics  # the evaluate stage logged on the same run
    artifacts = {a.path for a in client.list_artifacts(mv.run_id, "plots")}
    for plot in ("roc", "precision_recall", "calibration", "confusion_matrix", "feature_importance"):
        assert f"plots/{plot}.png" in artifacts
    env = json.loads(Path(client.download_artifacts(mv.run_id, "run/environment.json")).read_text())
    assert env["packages"]["scikit-learn"] != "absent"
    assert tags["hw.cpu_count"]


def test_run_params_record_what_was_loaded_not_the_generators_switches(trained_project: Project) -> None:
    """data.rows is the validated snapshot's row count, data.source the package's one-line description."""
    import pandas as pd

    p = trained_project
    reg = tracking.registry_for(p.root)
    params, _, _ = reg.run_data(reg.get_version(p.settings.model.name, p.version).run_id)
    paths = p.settings.data.paths
    assert params["data.rows"] == str(len(pd.read_parquet(p.root / paths.raw))) == str(SMALL_ROWS)
    assert params["data.train_rows"] == str(len(pd.read_parquet(p.root / paths.train)))
    assert params["data.valid_rows"] == str(len(pd.read_parquet(p.root / paths.valid)))
    source = p.settings.data.source
    # The fixture package's own Source.describe() (tests/fixture_model/data.py).
    assert params["data.source"] == f"loans generator rows={SMALL_ROWS} seed={source['seed']} keys=True"
    assert not [k for k in params if k == "rows" or k.startswith("scenario.")]


def test_model_is_skops_with_signature(trained_project: Project) -> None:
    import tempfile
    from pathlib import Path

    import yaml

    reg = tracking.registry_for(trained_project.root)
    mv = reg.get_version(MODEL, trained_project.version)
    with tempfile.TemporaryDirectory() as tmp:
        local = reg.download_model(mv, Path(tmp))
        mlmodel = yaml.safe_load((local / "MLmodel").read_text())
        assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "skops"
        assert "signature" in mlmodel and "inputs" in mlmodel["signature"]
        assert not list(local.glob("*.pkl"))


@pytest.mark.slow
def test_retraining_same_inputs_gives_identical_metrics_and_overrides_are_recorded(
    trained_project: Project,
) -> None:
    reg = tracking.registry_for(trained_project.root)
    first = reg.get_version(MODEL, trained_project.version)
    again = reg.get_version(MODEL, trained_project.train())
    assert again.version > first.version  # nothing registered is overwritten
    _, m1, _ = reg.run_data(first.run_id)
    _, m2, _ = reg.run_data(again.run_id)
    for key in ("valid_roc_auc", "valid_log_loss", "valid_brier", "valid_ece"):
        assert m1[key] == m2[key], key
    changed = reg.get_version(MODEL, trained_project.train("train.params.max_iter=5"))
    params, m3, _ = reg.run_data(changed.run_id)
    assert json.loads(changed.tags["config_overrides"]) == ["train.params.max_iter=5"]
    assert params["model.max_iter"] == "5"
    assert changed.tags["config_sha256"] != first.tags["config_sha256"]
    assert m3["valid_roc_auc"] != m1["valid_roc_auc"]


def test_repro_skips_unchanged_stages(trained_project: Project) -> None:
    import sys
    from pathlib import Path

    out = trained_project.sh(str(Path(sys.executable).with_name("dvc")), "status")
    assert "up to date" in out.stdout.lower()


def test_train_refuses_a_validation_report_for_another_snapshot(trained_project: Project) -> None:
    p = trained_project
    report_path = p.root / "data/validated/report.json"
    original = report_path.read_text()
    stale = json.loads(original) | {"md5": "0" * 32}
    try:
        report_path.write_text(json.dumps(stale))
        with pytest.raises(SchemaViolation, match=r"validated snapshot md5 0{32} is not the current"):
            p.train()
    finally:
        report_path.write_text(original)
