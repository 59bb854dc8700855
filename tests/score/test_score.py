"""`modelops score` end to end on the session's trained project: engines, data gate, bad input, output."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from modelops.score import output
from tests.fakes.github_server import FakeGitHub
from tests.score.conftest import INCIDENT_FEATURE, INCIDENT_FRACTION, Scoring, read_scores

pytestmark = [pytest.mark.integration]


def committed(out: Path) -> list[Path]:
    return sorted(out.glob("scored_date=*/run=*/" + output.MANIFEST))


def manifest(out: Path) -> dict:
    (path,) = committed(out)
    return json.loads(path.read_text())


def published_files(out: Path) -> list[Path]:
    """Every file a dataset reader would see (hidden _staging / _manifest names excluded)."""
    if not out.exists():
        return []
    return [
        p
        for p in out.rglob("*")
        if p.is_file() and not any(part.startswith("_") for part in p.parts[len(out.parts) :])
    ]


@pytest.fixture(scope="module")
def healthy(scoring: Scoring, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scoring.snapshot(tmp_path_factory.mktemp("in") / "healthy.parquet", 6000, seed=11)


@pytest.fixture(scope="module")
def zero_filled(scoring: Scoring, tmp_path_factory: pytest.TempPathFactory) -> Path:
    feature = scoring.settings.features.feature(INCIDENT_FEATURE)
    assert feature.kind == "numeric", "the incident feature must be a declared numeric feature"
    return scoring.snapshot(
        tmp_path_factory.mktemp("in") / "zero_filled.parquet",
        6000,
        seed=12,
        zero_fill_feature=INCIDENT_FEATURE,
        zero_fill_fraction=INCIDENT_FRACTION,
    )


def config_dir(scoring: Scoring, tmp_path: Path, **gate: object) -> Path:
    """A copy of the project's configs with data_gate settings changed (MODELOPS_CONFIG_DIR)."""
    dst = tmp_path / "configs"
    shutil.copytree(scoring.project.root / "configs", dst)
    doc = yaml.safe_load((dst / "score.yaml").read_text())
    doc["data_gate"].update(gate)
    (dst / "score.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return dst


def test_pandas_and_spark_engines_give_identical_scores(
    scoring: Scoring, healthy: Path, tmp_path: Path, spark: object
) -> None:
    id_col = scoring.settings.features.id_column
    frames, logs = {}, {}
    for engine in ("pandas", "spark"):
        out = tmp_path / engine
        code = scoring.score(
            "--input", str(healthy), "--out", str(out), "--release", str(scoring.release), "--engine", engine
        )
        assert code == 0
        m = manifest(out)
        assert m["engine"] == engine and m["status"] == "published"
        assert m["input"]["rows"] == m["output"]["rows"] == 6000
        assert m["model"]["version"] == str(scoring.version)
        assert m["data_gate"]["verdict"] == "pass"
        frames[engine] = read_scores(str(out)).sort_values(id_col).reset_index(drop=True)
        (log,) = out.glob("scored_date=*/run=*/" + output.PREDICTION_LOG)
        records = [json.loads(line) for line in log.read_text().splitlines()]
        logs[engine] = sorted(({**r, "timestamp": None} for r in records), key=lambda r: r["request_id"])

    # The prediction logs hold the same records (each run has its own scoring time).
    assert len(logs["pandas"]) == 6000 and logs["pandas"] == logs["spark"]
    pandas_scores, spark_scores = frames["pandas"], frames["spark"]
    assert len(pandas_scores) == len(spark_scores) == 6000
    assert (pandas_scores[id_col].to_numpy() == spark_scores[id_col].to_numpy()).all()
    assert np.array_equal(pandas_scores["score"].to_numpy(), spark_scores["score"].to_numpy())
    assert np.array_equal(pandas_scores["label"].to_numpy(), spark_scores["label"].to_numpy())
    assert set(pandas_scores["model_version"]) == {str(scoring.version)}
    # Same published schema from both engines.
    assert pandas_scores.dtypes.to_dict() == spark_scores.dtypes.to_dict()


def test_scores_equal_the_pipeline_and_labels_use_the_serving_threshold(
    scoring: Scoring, healthy: Path, tmp_path: Path
) -> None:
    from modelops.adapters import tracking
    from modelops.serve import config as serve_config

    settings = scoring.settings
    assert (
        scoring.score("--input", str(healthy), "--out", str(tmp_path), "--release", str(scoring.release)) == 0
    )
    scores = read_scores(str(tmp_path)).set_index(settings.features.id_column)
    registry = tracking.registry_for(settings.root)
    mv = registry.get_version(settings.model.name, scoring.version)
    model = tracking.load_sklearn(
        registry.download_model(mv, tmp_path / "model"), settings.model.skops_trusted_types
    )
    frame = pd.read_parquet(healthy).set_index(settings.features.id_column)
    expected = model.predict_proba(frame[settings.features.names])[:, 1]
    got = scores.loc[frame.index, "score"].to_numpy()
    assert np.max(np.abs(got - expected)) <= 1e-9
    threshold = serve_config.load(settings.config_dir).label_threshold
    assert (scores["label"] == (scores["score"] >= threshold).astype(int)).all()
    m = manifest(tmp_path)
    assert m["input"]["md5"] == __import__("hashlib").md5(healthy.read_bytes()).hexdigest()
    assert m["lineage"]["train_md5"] == mv.tags["train_md5"]
    assert m["model"]["sha256"] == mv.tags["model_sha256"]


def test_prediction_log_is_what_monitor_reads(scoring: Scoring, healthy: Path, tmp_path: Path) -> None:
    from modelops.monitor.logs import read_logs

    assert (
        scoring.score("--input", str(healthy), "--out", str(tmp_path), "--release", str(scoring.release)) == 0
    )
    (run_dir,) = [p.parent for p in committed(tmp_path)]
    read = read_logs(run_dir / output.PREDICTION_LOG, scoring.settings.features, None, 1000)
    assert read.malformed == 0 and read.lines == 6000
    logged = read.versions[str(scoring.version)]
    scores = read_scores(str(tmp_path))
    assert np.allclose(
        np.sort(logged["score"].to_numpy()), np.sort(scores["score"].to_numpy()), rtol=0, atol=0
    )


def test_published_scores_reach_the_prediction_store(scoring: Scoring, healthy: Path, tmp_path: Path) -> None:
    from modelops.store.reader import read_window

    store = tmp_path / "store"
    code = scoring.score(
        "--input",
        str(healthy),
        "--out",
        str(tmp_path / "out"),
        "--release",
        str(scoring.release),
        "--store",
        str(store),
    )
    assert code == 0
    settings = scoring.settings
    stored = read_window(str(store), settings.model.name, str(scoring.version)).to_pandas()
    scores = read_scores(str(tmp_path / "out"))
    assert len(stored) == len(scores) == 6000
    assert set(stored["source"]) == {"batch"}
    ids = scores[settings.features.id_column].astype(str)
    assert sorted(stored["request_id"]) == sorted(ids)
    by_id = dict(zip(ids, scores["score"], strict=True))
    assert all(by_id[r] == s for r, s in zip(stored["request_id"], stored["score"], strict=True))


def test_csv_input_scores_like_parquet(scoring: Scoring, healthy: Path, tmp_path: Path) -> None:
    csv = tmp_path / "in" / "snapshot.csv"
    csv.parent.mkdir()
    pd.read_parquet(healthy).to_csv(csv, index=False)
    id_col = scoring.settings.features.id_column
    for name, path in (("parquet", healthy), ("csv", csv.parent)):
        assert (
            scoring.score(
                "--input", str(path), "--out", str(tmp_path / name), "--release", str(scoring.release)
            )
            == 0
        )
    a = read_scores(str(tmp_path / "parquet"))
    b = read_scores(str(tmp_path / "csv"))
    a[id_col] = a[id_col].astype(str)
    merged = a.merge(b, on=id_col, suffixes=("_pq", "_csv"))
    assert len(merged) == 6000
    assert np.max(np.abs(merged["score_pq"] - merged["score_csv"])) <= 1e-12


def test_zero_filled_input_is_refused_and_nothing_is_written(
    scoring: Scoring, zero_filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = scoring.score(
        "--input",
        str(zero_filled),
        "--out",
        str(out),
        "--release",
        str(scoring.release),
        "--report",
        str(tmp_path / "report"),
    )
    err = capsys.readouterr().err
    assert code == 1
    assert INCIDENT_FEATURE in err and "share of 0" in err, err
    assert not out.exists() or not any(out.rglob("*")), "a refused run writes nothing to the output"
    report = json.loads((tmp_path / "report" / "gate.json").read_text())
    assert report["verdict"] == "fail"
    zero = [v for v in report["violations"] if v["column"] == INCIDENT_FEATURE and v["rule"] == "zero_share"]
    assert zero and zero[0]["new"] > 0.3 > zero[0]["baseline"]


def test_review_quarantines_scores_and_opens_one_issue(
    scoring: Scoring, zero_filled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeGitHub(token="t0ken").start()
    try:
        monkeypatch.setenv("MODELOPS_CONFIG_DIR", str(config_dir(scoring, tmp_path, on_violation="review")))
        monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/models")
        monkeypatch.setenv("GITHUB_API_URL", server.url)
        out = tmp_path / "out"
        code = scoring.score(
            "--input", str(zero_filled), "--out", str(out), "--release", str(scoring.release)
        )
        issues = list(server.state.issues)
    finally:
        server.stop()
    assert code == 1
    assert published_files(out) == [], "review publishes nothing"
    assert not (tmp_path / "store").exists(), "quarantined scores never reach the prediction store"
    (quarantined,) = committed(out / "_quarantine")
    m = json.loads(quarantined.read_text())
    assert m["status"] == "quarantined" and m["output"]["rows"] == 6000
    assert len(read_scores(str(quarantined.parent))) == 6000
    assert len(issues) == 1
    assert INCIDENT_FEATURE in issues[0]["title"] and INCIDENT_FEATURE in issues[0]["body"]
    assert "data-gate" in issues[0]["labels"]
    assert str(quarantined.parent) in issues[0]["body"]


def _bad(tmp: Path, healthy: Path, change) -> Path:  # type: ignore[no-untyped-def]
    frame = pd.read_parquet(healthy)
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "bad.parquet"
    change(frame).to_parquet(path, index=False)
    return path


def test_bad_inputs_exit_2_naming_the_problem_and_publish_nothing(
    scoring: Scoring, healthy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    features = scoring.settings.features
    numeric = features.numeric[0]
    cases = {
        "missing": (_bad(tmp_path / "m", healthy, lambda f: f.drop(columns=[numeric])), numeric),
        "extra": (_bad(tmp_path / "x", healthy, lambda f: f.assign(surprise=1)), "surprise"),
        "type": (
            _bad(tmp_path / "t", healthy, lambda f: f.assign(**{numeric: f[numeric].astype(str)})),
            numeric,
        ),
        "empty": (_bad(tmp_path / "e", healthy, lambda f: f.head(0)), "no rows"),
        "unreadable": (tmp_path / "nowhere" / "x.parquet", "no such file"),
    }
    csv = tmp_path / "c" / "bad.csv"
    csv.parent.mkdir()
    pd.read_parquet(healthy).assign(**{numeric: "abc"}).to_csv(csv, index=False)
    cases["csv value"] = (csv, numeric)
    for name, (path, expected) in cases.items():
        out = tmp_path / "out" / name.replace(" ", "_")
        code = scoring.score("--input", str(path), "--out", str(out), "--release", str(scoring.release))
        err = capsys.readouterr().err.strip()
        assert code == 2, f"{name}: {err}"
        assert len(err.splitlines()) == 1, f"{name}: {err}"
        assert expected in err, f"{name}: {err}"
        assert committed(out) == [] and published_files(out) == [], name


def test_digest_mismatch_exits_2_and_publishes_nothing(
    scoring: Scoring, healthy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = yaml.safe_load(scoring.release.read_text())
    doc["model"]["sha256"] = "0" * 64
    release = tmp_path / "v.yaml"
    release.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = tmp_path / "out"
    code = scoring.score("--input", str(healthy), "--out", str(out), "--release", str(release))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "sha256" in err and "0" * 64 in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_crash_while_scoring_leaves_no_complete_run(
    scoring: Scoring, healthy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelops.score import engine_pandas

    real = output.output_table
    calls = {"n": 0}

    def dies_on_second_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(output, "output_table", dies_on_second_batch)
    monkeypatch.setattr(engine_pandas, "output", output)
    out = tmp_path / "out"
    cfg = config_dir(scoring, tmp_path)
    doc = yaml.safe_load((cfg / "score.yaml").read_text())
    doc["chunk_rows"] = 1000
    (cfg / "score.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("MODELOPS_CONFIG_DIR", str(cfg))
    with pytest.raises(OSError, match="disk full"):
        scoring.score("--input", str(healthy), "--out", str(out), "--release", str(scoring.release))
    assert calls["n"] == 2
    assert committed(out) == [] and published_files(out) == []
    assert not (out / output.STAGING).exists() or not any((out / output.STAGING).iterdir())


def test_since_scores_only_recent_rows(scoring: Scoring, healthy: Path, tmp_path: Path) -> None:
    ts = scoring.settings.features.timestamp_column
    frame = pd.read_parquet(healthy)
    cut = frame[ts].sort_values().iloc[len(frame) // 2]
    expected = int((frame[ts] >= cut).sum())
    code = scoring.score(
        "--input",
        str(healthy),
        "--out",
        str(tmp_path),
        "--release",
        str(scoring.release),
        "--since",
        cut.isoformat(),
    )
    assert code == 0
    assert manifest(tmp_path)["output"]["rows"] == expected == len(read_scores(str(tmp_path)))
