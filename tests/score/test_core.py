"""Pure parts of batch scoring: column checks, the gate's sample, the verdict, output commit order."""

import json
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pytest

from modelops.score import gate, output, source
from modelops.settings import Settings
from tests.helpers.fixture import fixture_configs

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The fixture package's configs (tests/fixture_model), not the example's."""
    return fixture_configs(tmp_path_factory.mktemp("score-core"))


@pytest.fixture(scope="module")
def features(settings: Settings):  # type: ignore[no-untyped-def]
    return settings.features


def _schema(features, **override: pa.DataType) -> pa.Schema:  # type: ignore[no-untyped-def]
    fields = [(features.id_column, pa.int64())]
    for f in features.features:
        fields.append((f.name, pa.float64() if f.kind == "numeric" else pa.string()))
    fields = [(n, override.get(n, t)) for n, t in fields]
    return pa.schema(fields)


def test_declared_columns_pass_and_each_problem_is_named(features) -> None:  # type: ignore[no-untyped-def]
    assert source.column_problems(features, _schema(features), "in") == []
    numeric, categorical = features.numeric[0], features.categorical[0]
    wrong = source.column_problems(features, _schema(features, **{numeric: pa.string()}), "in")
    assert len(wrong) == 1 and numeric in wrong[0] and "expected a number" in wrong[0]
    wrong = source.column_problems(features, _schema(features, **{categorical: pa.int64()}), "in")
    assert len(wrong) == 1 and categorical in wrong[0]
    extra = source.column_problems(features, _schema(features).append(pa.field("x", pa.int8())), "in")
    assert extra == ["in: unexpected column(s) x (not in configs/features.yaml)"]
    missing_schema = _schema(features).remove(_schema(features).get_field_index(numeric))
    assert source.column_problems(features, missing_schema, "in") == [f"in: missing column(s) {numeric}"]
    # The snapshot time and the label may ride along; they are not scored.
    ok = _schema(features).append(pa.field(features.timestamp_column, pa.timestamp("ns")))
    assert source.column_problems(features, ok.append(pa.field(features.label, pa.int8())), "in") == []


def test_an_empty_csv_field_is_a_missing_value_not_a_category(features, tmp_path: Path) -> None:
    """pandas' to_csv writes a missing category as an empty field; it must read back as null."""
    category, number = features.categorical[0], features.numeric[0]
    (tmp_path / "in.csv").write_text(
        f"{features.id_column},{category},{number}\na,,\nb,{features.feature(category).categories[0]},1.5\n"
    )
    table = source.open_snapshot(str(tmp_path / "in.csv"), features).dataset.to_table()
    assert table.column(category).to_pylist() == [None, features.feature(category).categories[0]]
    assert table.column(number).to_pylist() == [None, 1.5]


def test_sample_is_seeded_bounded_and_uniform() -> None:
    def draw(seed: int, batch: int) -> np.ndarray:
        sampler = source.Sampler(1000, seed)
        for start in range(0, 20_000, batch):
            sampler.add(pa.record_batch({"i": np.arange(start, min(start + batch, 20_000))}))
        return np.sort(sampler.result().column("i").to_numpy())

    a = draw(1, 3000)
    assert len(a) == 1000 and len(np.unique(a)) == 1000
    assert np.array_equal(a, draw(1, 3000))
    assert not np.array_equal(a, draw(2, 3000))
    # Uniform over the stream: each fifth of the input holds about a fifth of the sample.
    counts = np.histogram(a, bins=5, range=(0, 20_000))[0]
    assert counts.min() > 150 and counts.max() < 250


def test_verdict_follows_on_violation() -> None:
    assert gate.decide(True, "fail") == "pass"
    assert gate.decide(False, "fail") == "fail"
    assert gate.decide(False, "review") == "review"
    assert gate.EXIT == {"pass": 0, "fail": 1, "review": 1}


def test_report_names_column_baseline_and_new_value() -> None:
    violation = {
        "column": "f",
        "rule": "zero_share",
        "baseline": 0.006,
        "new": 0.381,
        "limit": 5.0,
        "message": "f: share of 0 rose from 0.6% to 38.1% (limit +5 points)",
    }
    outcome = gate.GateOutcome("fail", "fail", "profile of v1", 1000, 5000, (violation,))
    line = gate.summary_line(outcome)
    assert "f: share of 0 rose from 0.6% to 38.1%" in line and "nothing written" in line
    body = gate.render(outcome, input_uri="s3://x", model="models:/m/1", run_id="r", location=None)
    assert "REFUSED" in body and "| `f` | zero_share | 0.006 | 0.381 | 5.0 |" in body


def test_labels_use_the_threshold_and_rows_keep_their_ids(features) -> None:  # type: ignore[no-untyped-def]
    batch = pa.table({features.id_column: [7, 8, 9]})
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    table = output.output_table(batch, features.id_column, np.array([0.2, 0.5, 0.9]), 0.5, "3", at)
    assert table.column(output.LABEL).to_pylist() == [0, 1, 1]
    assert table.column(features.id_column).to_pylist() == [7, 8, 9]
    assert table.column(output.VERSION).to_pylist() == ["3"] * 3
    assert table.column(output.SCORED_AT).to_pylist()[0] == at


def test_commit_moves_staging_then_writes_the_manifest_last(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    run = output.RunOutput(fs, str(tmp_path), "r1", "2026-01-02")
    run.prepare()
    fs.pipe_file(run.staged("part-00000.parquet"), b"x")
    assert output.committed_runs(fs, str(tmp_path)) == []
    events: list[str] = []
    real_mv = fs.mv

    def mv(src: str, dst: str, **kw: object) -> None:
        events.append(Path(dst).name)
        real_mv(src, dst, **kw)

    fs.mv = mv  # type: ignore[method-assign]
    manifest = run.commit({"run_id": "r1"})
    assert events == ["run=r1", output.MANIFEST], "data first, manifest last"
    assert json.loads(Path(manifest).read_text()) == {"run_id": "r1"}
    assert output.committed_runs(fs, str(tmp_path)) == [manifest]
    assert not Path(run.staging).exists()


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    run = output.RunOutput(fs, str(tmp_path), "r2", "2026-01-02")
    run.prepare()
    fs.pipe_file(run.staged("part-00000.parquet"), b"x")
    run.abort()
    assert not Path(run.staging).exists() and output.committed_runs(fs, str(tmp_path)) == []


def test_frame_path_matches_the_pipeline_and_ignores_chunking(settings: Settings) -> None:
    from modelops.contract import load_package
    from modelops.score import frame

    features = settings.features
    package = load_package(settings)
    data = package.load_data(package.source(settings, rows=4000, seed=3))
    pipe = package.build_pipeline(features, "hist_gradient_boosting", {"max_iter": 30}, 7)
    pipe.fit(data[features.names], data[features.label])
    scorer = frame.load(pipe, features, fast=True, tolerance=1e-9, warmup_rows=128, threads=1)
    assert scorer.kind == "compiled", scorer.fallback_reason

    rows = data[[features.id_column, *features.names]].head(999).copy()
    cat = features.categorical[0]
    rows[cat] = rows[cat].astype(object)
    rows.loc[rows.index[:5], cat] = "never-seen"  # unknown category: routed like missing
    rows.loc[rows.index[5:10], cat] = None
    table = pa.Table.from_pandas(rows, preserve_index=False)
    whole = scorer.score(table)
    chunked = np.concatenate([scorer.score(b) for b in table.to_batches(max_chunksize=7)])
    assert np.array_equal(whole, chunked)
    expected = pipe.predict_proba(rows[features.names])[:, 1]
    assert np.max(np.abs(whole - expected)) <= 1e-9
