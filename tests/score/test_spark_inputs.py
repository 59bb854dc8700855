"""The Spark engine's Arrow UDF on real input values: a CSV snapshot (every value parsed by Spark,
numbers cast to double) and Spark's large Arrow string types, each against the pandas engine."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.score import output
from tests.score.conftest import Scoring, read_scores

pytestmark = [pytest.mark.integration]

ROWS = 3000
# Few enough rows that the data gate passes (null_rate_increase 2 pp), so both engines score them.
EDITED = 20
UNSEEN = "never-seen-in-training"


def _edited_csv(scoring: Scoring, path: Path) -> Path:
    """A CSV snapshot with the values a parser can get wrong: missing numbers, a missing and an
    unseen category, fractional and integral numbers (written as `3` and `3.25`)."""
    features = scoring.settings.features
    numeric = [f.name for f in features.features if f.kind == "numeric"]
    categorical = [f.name for f in features.features if f.kind != "numeric"]
    assert numeric and categorical, "the test needs a numeric and a categorical feature"
    scoring.snapshot(path, ROWS, seed=31)
    frame = pd.read_csv(path)
    frame.loc[: EDITED - 1, numeric[0]] = np.nan
    frame.loc[EDITED : 2 * EDITED - 1, categorical[0]] = UNSEEN
    frame.loc[2 * EDITED : 3 * EDITED - 1, categorical[-1]] = None
    frame.to_csv(path, index=False)
    text = path.read_text()
    assert ",," in text or text.count(",\n") > 0, "the CSV must hold empty cells"
    return path


def _score(scoring: Scoring, snapshot: Path, out: Path, engine: str) -> tuple[pd.DataFrame, list[dict]]:
    code = scoring.score(
        "--input", str(snapshot), "--out", str(out), "--release", str(scoring.release), "--engine", engine
    )
    assert code == 0
    id_col = scoring.settings.features.id_column
    scores = read_scores(str(out)).sort_values(id_col).reset_index(drop=True)
    (log,) = out.glob("scored_date=*/run=*/" + output.PREDICTION_LOG)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    # Each run has its own scoring time; everything else must match.
    return scores, sorted(({**r, "timestamp": None} for r in records), key=lambda r: r["request_id"])


def _assert_same(a: tuple[pd.DataFrame, list[dict]], b: tuple[pd.DataFrame, list[dict]], id_col: str) -> None:
    (sa, la), (sb, lb) = a, b
    assert len(sa) == len(sb) == ROWS
    assert sa[id_col].astype(str).tolist() == sb[id_col].astype(str).tolist()
    assert np.array_equal(sa["score"].to_numpy(), sb["score"].to_numpy())
    assert np.array_equal(sa["label"].to_numpy(), sb["label"].to_numpy())
    assert len(la) == ROWS and la == lb


def test_spark_scores_a_csv_with_missing_and_unseen_values_as_the_pandas_engine_does(
    scoring: Scoring, tmp_path: Path, spark: object
) -> None:
    csv = _edited_csv(scoring, tmp_path / "in" / "snapshot.csv")
    features = scoring.settings.features
    results = {e: _score(scoring, csv, tmp_path / e, e) for e in ("pandas", "spark")}
    _assert_same(results["pandas"], results["spark"], features.id_column)

    # The edited values reached the scorer as values, not as parse errors or zeros.
    numeric = next(f.name for f in features.features if f.kind == "numeric")
    categorical = [f.name for f in features.features if f.kind != "numeric"]
    logs = {r["request_id"]: r for r in results["spark"][1]}
    frame = pd.read_csv(csv, dtype={features.id_column: str})
    first = frame.iloc[0]
    assert logs[first[features.id_column]]["features"][numeric] is None
    assert logs[frame.iloc[EDITED][features.id_column]]["features"][categorical[0]] == UNSEEN
    plain = frame.iloc[-1]
    assert logs[plain[features.id_column]]["features"][numeric] == pytest.approx(float(plain[numeric]))
    # Missing and unseen categories give scores, and different rows give different scores.
    scores = results["spark"][0]["score"]
    assert scores.notna().all() and scores.nunique() > ROWS // 10

    # The manifest says where the run's time went, phase by phase, within its wall time.
    (path,) = (tmp_path / "spark").glob("scored_date=*/run=*/" + output.MANIFEST)
    manifest = json.loads(path.read_text())
    phases = manifest["phases_s"]
    assert {"model_fetch_digest", "gate_check", "score_write_scores", "write_log"} <= set(phases)
    assert all(v >= 0 for v in phases.values())
    assert 0 < sum(phases.values()) <= manifest["wall_seconds"] + 0.01


def test_spark_with_large_arrow_string_types_scores_as_the_pandas_engine_does(
    scoring: Scoring, tmp_path: Path, spark: object
) -> None:
    features = scoring.settings.features
    snapshot = scoring.snapshot(tmp_path / "in" / "snapshot.parquet", ROWS, seed=32)
    key = "spark.sql.execution.arrow.useLargeVarTypes"
    before = spark.conf.get(key, "false")  # type: ignore[attr-defined]
    spark.conf.set(key, "true")  # type: ignore[attr-defined]
    try:
        large = _score(scoring, snapshot, tmp_path / "spark", "spark")
    finally:
        spark.conf.set(key, before)  # type: ignore[attr-defined]
    _assert_same(_score(scoring, snapshot, tmp_path / "pandas", "pandas"), large, features.id_column)
