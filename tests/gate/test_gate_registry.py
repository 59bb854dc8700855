"""`modelops gate` against the real MLflow registry of the shared trained project."""

import hashlib
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from modelops.gate.checks import FIRST_RELEASE
from tests.helpers.fixture import categorical_feature, segment, segment_slice

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _gate(project, out: Path, candidate: int, champion: str = "auto") -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    code = project.run("gate", "--candidate", str(candidate), "--champion", champion, "--out", str(out))
    report = json.loads((out / "gate.json").read_text()) if (out / "gate.json").is_file() else {}
    return code, report


def _checks(report: dict, kind: str | None = None) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"] if kind is None or c["kind"] == kind}


def _auc_change(report: dict) -> dict:
    """The roc_auc non-inferiority check (its margin is configs/gates.yaml's)."""
    (check,) = [c for n, c in _checks(report, "change").items() if n.startswith("roc_auc non-inferior")]
    return check


@pytest.fixture
def gates_yaml(trained_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Edit a private copy of configs/ (MODELOPS_CONFIG_DIR) so other tests see the shipped gate."""
    config_dir = tmp_path / "configs"
    shutil.copytree(trained_project.root / "configs", config_dir)
    monkeypatch.setenv("MODELOPS_CONFIG_DIR", str(config_dir))

    def edit(change) -> None:  # type: ignore[no-untyped-def]
        path = config_dir / "gates.yaml"
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    return edit


@pytest.fixture(scope="module")
def weak_version(trained_project) -> int:  # type: ignore[no-untyped-def]
    return trained_project.train("train.params.max_iter=3", "train.params.learning_rate=0.05")


@pytest.fixture(scope="module")
def slice_regressing_version(trained_project) -> int:  # type: ignore[no-untyped-def]
    """The shipped training setup, but with the segment's labels shuffled: against the weak
    champion it gains overall while losing the segment's ranking."""
    from modelops.adapters import tracking
    from modelops.contract import load_package
    from modelops.data.ingest import read_table
    from tests.helpers.fixture import in_segment
    from tests.helpers.registry import register_pipeline

    s = trained_project.settings
    frame = read_table(s.path(s.data.paths.train))
    y = frame[s.features.label].to_numpy().copy()
    seg = in_segment(s, frame).to_numpy()
    y[seg] = np.random.default_rng(0).permutation(y[seg])
    pipe = load_package(s).unfitted_pipeline(s).fit(frame[s.features.names], y)
    registry = tracking.registry_for(s.root)
    base = registry.get_version(s.model.name, trained_project.version)
    lineage = {k: v for k, v in base.tags.items() if not k.startswith("gate.") and k != "model_sha256"}
    return register_pipeline(registry, s.model.name, pipe, s.model.skops_trusted_types, lineage).version


def test_first_release_runs_absolute_checks_only(trained_project, tmp_path: Path) -> None:
    code, report = _gate(trained_project, tmp_path / "gate", trained_project.version)
    assert report["first_release"] is True and report["champion"] is None
    change = _checks(report, "change")
    assert change and all(c["status"] == "skipped" and c["message"] == FIRST_RELEASE for c in change.values())
    assert FIRST_RELEASE in (tmp_path / "gate/gate.md").read_text()
    assert report["verdict"] == "pass", report["summary"]
    assert code == 0


def test_verdict_and_digest_are_recorded_on_the_candidate(trained_project, tmp_path: Path) -> None:
    from modelops.adapters import tracking

    code, report = _gate(trained_project, tmp_path / "gate", trained_project.version, "none")
    assert code == 0
    s = trained_project.settings
    registry = tracking.registry_for(s.root)
    mv = registry.get_version(s.model.name, trained_project.version)
    blob = (tmp_path / "gate/gate.json").read_bytes()
    assert mv.tags["gate.verdict"] == "pass"
    assert mv.tags["gate.report_sha256"] == hashlib.sha256(blob).hexdigest()
    assert mv.tags["gate.champion"] == "none"
    gates = (s.config_dir / "gates.yaml").read_bytes()
    features = (s.config_dir / "features.yaml").read_bytes()
    assert (
        mv.tags["gate.gates_sha256"] == hashlib.sha256(gates).hexdigest() == report["rules"]["gates_sha256"]
    )
    assert mv.tags["gate.features_sha256"] == hashlib.sha256(features).hexdigest()
    assert mv.tags["gate.eval_md5"] == report["rules"]["eval_set_md5"] == report["eval_set"]["md5"]
    assert datetime.fromisoformat(mv.tags["gate.at"]).tzinfo is not None
    logged = [a.path for a in registry.client.list_artifacts(mv.run_id, "gate")]
    assert logged == ["gate/gate.json"]
    from modelops.adapters.dvc import md5

    assert report["eval_set"]["md5"] == md5(s.path(s.data.paths.eval)) == mv.tags["eval_md5"]


def test_identical_models_interval_contains_zero_and_pass(trained_project, tmp_path: Path) -> None:
    v = str(trained_project.version)
    code, report = _gate(trained_project, tmp_path / "gate", trained_project.version, v)
    auc = next(m for m in report["metrics"] if m["metric"] == "roc_auc")
    assert auc["delta"] == 0.0
    low, high = auc["delta_interval"]
    assert low <= 0.0 <= high
    change = _checks(report, "change")
    assert all(c["status"] == "pass" for c in change.values())
    assert code == 0, report["summary"]


def test_degraded_candidate_fails(trained_project, weak_version: int, tmp_path: Path) -> None:
    code, report = _gate(trained_project, tmp_path / "gate", weak_version, str(trained_project.version))
    assert code == 1 and report["verdict"] == "fail"
    assert _auc_change(report)["status"] == "fail"
    md = (tmp_path / "gate/gate.md").read_text()
    assert md.startswith("## ❌ Gate failed")


def test_improved_candidate_passes(trained_project, weak_version: int, tmp_path: Path, gates_yaml) -> None:  # type: ignore[no-untyped-def]
    # The test project's evaluation set has ~1,600 rows, so slices of a few hundred rows
    # give intervals wider than any tolerance; slices are judged in their own test.
    # The weak champion has 3 trees against the candidate's full ensemble, so the candidate is
    # genuinely slower (1.5x measured): the latency ratio is judged in test_latency.py and on a
    # model against itself, not on this deliberately tiny champion.
    gates_yaml(lambda d: (d["slices"].update(items=[]), d["latency"].update(max_ratio=10.0)))
    code, report = _gate(trained_project, tmp_path / "gate", trained_project.version, str(weak_version))
    auc = _auc_change(report)
    assert auc["delta"] > 0 and auc["interval"][0] > 0
    assert code == 0, [c["message"] for c in report["checks"] if c["status"] != "pass"]


def test_aggregate_gain_with_segment_regression_fails_on_that_slice(
    trained_project, slice_regressing_version: int, weak_version: int, tmp_path: Path
) -> None:
    code, report = _gate(trained_project, tmp_path / "gate", slice_regressing_version, str(weak_version))
    aggregate = _auc_change(report)
    assert aggregate["delta"] > 0, "the construction must improve aggregate AUC"
    assert aggregate["status"] == "pass"
    name = segment_slice(trained_project.settings, " = ")
    regressed = _checks(report, "slice")[name]
    assert regressed["status"] == "fail" and regressed["delta"] < 0
    assert code == 1
    md = (tmp_path / "gate/gate.md").read_text()
    assert f"❌ **regressed** | {name}" in md


def test_unknown_metric_fails_closed_and_says_so(trained_project, tmp_path: Path, gates_yaml) -> None:  # type: ignore[no-untyped-def]
    gates_yaml(lambda d: d["absolute"].append({"metric": "valid_fairness_gap", "max": 0.1}))
    code, report = _gate(trained_project, tmp_path / "gate", trained_project.version, "none")
    check = _checks(report)["valid_fairness_gap <= 0.1"]
    assert check["status"] == "missing" and check["message"].startswith("unknown metric 'valid_fairness_gap'")
    assert "valid_roc_auc" in check["message"], "names the run metrics that do exist"
    assert report["verdict"] == "fail" and code == 1


def test_metric_logged_on_the_run_can_be_gated(trained_project, tmp_path: Path, gates_yaml) -> None:  # type: ignore[no-untyped-def]
    gates_yaml(lambda d: d["absolute"].append({"metric": "valid_roc_auc", "min": 0.99}))
    code, report = _gate(trained_project, tmp_path / "gate", trained_project.version, "none")
    check = _checks(report)["valid_roc_auc >= 0.99"]
    assert check["status"] == "fail" and 0.5 < check["value"] < 0.99
    assert code == 1


def test_champion_auto_reads_the_stable_release(trained_project, weak_version: int, tmp_path: Path) -> None:
    env = trained_project.root / "k8s/overlays/production/model.env"
    saved = env.read_text() if env.is_file() else None
    env.parent.mkdir(parents=True, exist_ok=True)
    env.write_text(f"MODEL_NAME={trained_project.settings.model.name}\nMODEL_VERSION={weak_version}\n")
    try:
        _, report = _gate(trained_project, tmp_path / "gate", trained_project.version)
    finally:
        env.write_text(saved) if saved is not None else env.unlink()
    assert report["champion"]["version"] == weak_version
    expected = f"modelops gate --candidate {trained_project.version} --champion {weak_version}"
    assert report["reproduce"] == f"{expected} --out {tmp_path / 'gate'}"


def test_could_not_evaluate_exits_2(
    trained_project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _gate(trained_project, tmp_path / "a", 999)[0] == 2
    assert "version 999 is not registered" in capsys.readouterr().err
    code, report = _gate(trained_project, tmp_path / "b", trained_project.version, "998")
    assert code == 2 and report["verdict"] == "error"
    assert "could not evaluate" in (tmp_path / "b/gate.md").read_text()


def test_bad_gates_yaml_names_the_file_and_field(trained_project, tmp_path: Path, gates_yaml, capsys) -> None:  # type: ignore[no-untyped-def]
    gates_yaml(lambda d: d["bootstrap"].update(resampels=10))
    assert _gate(trained_project, tmp_path / "gate", trained_project.version)[0] == 2
    err = capsys.readouterr().err
    assert "gates.yaml" in err and "bootstrap.resampels" in err and os.sep in err


@pytest.fixture
def trusted_root(trained_project, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A stand-in for the base branch's checkout: its configs and the evaluation file `dvc pull` fetched."""
    s = trained_project.settings
    root = tmp_path / "trusted"
    shutil.copytree(trained_project.root / "configs", root / "configs")
    (root / s.data.paths.eval).parent.mkdir(parents=True)
    shutil.copy2(s.path(s.data.paths.eval), root / s.data.paths.eval)
    return root


def _pin(root: Path, md5: str, rows: int = 1) -> None:
    from modelops.settings import load_settings

    path = load_settings(root, config_dir=root / "configs").data.paths.eval
    pin = {
        "path": str(path),
        "md5": md5,
        "rows": rows,
        "created_at": "2026-11-01T00:00:00Z",
        "reason": "test",
    }
    (root / "configs/eval_set.yaml").write_text(yaml.safe_dump(pin))


def test_rules_from_judges_with_the_trusted_rules_and_reports_the_pr_change(
    trained_project, trusted_root: Path, tmp_path: Path, gates_yaml
) -> None:  # type: ignore[no-untyped-def]
    from modelops.adapters.dvc import md5

    s = trained_project.settings
    _pin(trusted_root, md5(s.path(s.data.paths.eval)))
    # The "PR head" (the project's config dir) demands the impossible; the trusted rules do not.
    gates_yaml(lambda d: d["absolute"].append({"metric": "roc_auc", "min": 0.999}))
    out = tmp_path / "gate"
    code = trained_project.run(
        "gate", "--candidate", str(trained_project.version), "--champion", "none",
        "--rules-from", str(trusted_root), "--out", str(out),
    )  # fmt: skip
    report = json.loads((out / "gate.json").read_text())
    assert code == 0 and report["verdict"] == "pass", report["summary"]
    assert "roc_auc >= 0.999" not in _checks(report)
    trusted_gates = (trusted_root / "configs/gates.yaml").read_bytes()
    assert report["rules"]["source"] == "trusted"
    assert report["rules"]["gates_sha256"] == hashlib.sha256(trusted_gates).hexdigest()
    assert report["eval_set"]["pinned_md5"] == report["eval_set"]["md5"]
    # The project (the "PR head") has no pin while the trusted side does: that is a rotation too.
    changes = {c["file"]: c for c in report["rule_changes"]}
    assert set(changes) == {"gates.yaml", "eval_set.yaml"}
    assert "+- metric: roc_auc" in changes["gates.yaml"]["diff"] and not changes["gates.yaml"]["rotation"]
    assert changes["eval_set.yaml"]["rotation"]
    md = (out / "gate.md").read_text()
    assert md.index("This PR changes the gate's rules") < md.index("Gate passed")
    assert f"--rules-from {trusted_root}" in report["reproduce"]


def test_pin_mismatch_fails_closed_naming_both_md5s(
    trained_project, trusted_root: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from modelops.adapters.dvc import md5

    s = trained_project.settings
    _pin(trusted_root, "0" * 32)
    out = tmp_path / "gate"
    code = trained_project.run(
        "gate", "--candidate", str(trained_project.version), "--champion", "none",
        "--rules-from", str(trusted_root), "--out", str(out),
    )  # fmt: skip
    report = json.loads((out / "gate.json").read_text())
    assert code == 2 and report["verdict"] == "error"
    actual = md5(s.path(s.data.paths.eval))
    assert actual in report["error"] and "0" * 32 in report["error"] and "eval_set.yaml" in report["error"]


def test_a_slice_value_absent_from_the_eval_set_is_a_config_error(
    trained_project, tmp_path: Path, gates_yaml, capsys
) -> None:  # type: ignore[no-untyped-def]
    column, value = segment(trained_project.settings)
    typo = f"{value}z"
    gates_yaml(lambda d: d["slices"]["items"][0].update(column=column, value=typo))
    code, report = _gate(trained_project, tmp_path / "gate", trained_project.version, "none")
    assert code == 2 and report["verdict"] == "error"
    assert f"{column} = '{typo}' does not occur" in report["error"]
    assert value in report["error"].split(f"{column} takes the values:")[1]  # the values that do occur


def test_an_eval_set_too_small_for_a_slice_is_a_visible_warning_not_a_silent_skip(
    trained_project, tmp_path: Path, gates_yaml
) -> None:  # type: ignore[no-untyped-def]
    """Small data: the evaluation set is smaller than a slice's min_support. The gate still runs,
    and the report says which slice, how many rows and which min_support, at the top."""
    column = categorical_feature(trained_project.settings)
    values = len(trained_project.settings.features.feature(column).categories or ())
    gates_yaml(lambda d: d["slices"].update(items=[{"column": column, "min_support": 100_000}]))
    code, report = _gate(trained_project, tmp_path / "gate", trained_project.version, "none")
    rows = report["eval_set"]["rows"]
    assert 0 < rows < 100_000
    expected = (
        f"slice {column}: the evaluation set has {rows} rows, fewer than its min_support 100000, "
        "so it cannot be judged (small data: lower slices min_support in gates.yaml)"
    )
    assert expected in report["warnings"]
    too_small = [c for c in _checks(report, "slice").values() if c["finding"] == "too small"]
    assert len(too_small) == values and all(c["status"] == "skipped" for c in too_small)
    per_value = [w for w in report["warnings"] if w.startswith(f"slice {column} = ")]
    assert len(per_value) == values and all("(min_support 100000)" in w for w in per_value)
    markdown = (tmp_path / "gate/gate.md").read_text()
    assert f"- ⚠️ {expected}" in markdown
    assert code == 0 and report["verdict"] == "pass", "a too-small optional slice warns, it does not block"
