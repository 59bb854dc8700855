"""id, timestamp and segment columns are optional (configs/features.yaml).

Without an id, rows are keyed by a stable hash of their content (or of `key_columns`): the
split and the evaluation-set pin work on that key. These tests use the fixture model's
schema (tests/fixture_model: no id, no timestamp, no segment), never the example's.
"""

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from modelops.data.keys import describe, key_columns, row_keys
from modelops.data.schema import FeatureSchema
from modelops.data.split import assign, training_parts
from modelops.data.validate import validate_frame
from modelops.errors import ConfigError, SchemaViolation
from modelops.train.evaluate import report_slices, slice_metrics
from tests.fixture_model.data import LABEL, generate

FIXTURE_FEATURES = Path(__file__).resolve().parents[1] / "fixture_model/configs/features.yaml"


def _schema(**changes: Any) -> FeatureSchema:
    raw = yaml.safe_load(FIXTURE_FEATURES.read_text())
    raw.update(changes)
    return FeatureSchema.model_validate(raw)


def test_a_schema_without_id_timestamp_or_segment_is_valid() -> None:
    schema = _schema()
    assert (schema.id_column, schema.timestamp_column, schema.segment, schema.key_columns) == (None,) * 4
    assert key_columns(schema) == schema.names
    assert "declared features" in describe(schema)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id_column": "loan_id", "key_columns": ["income"]}, "either id_column ('loan_id') or key_columns"),
        ({"key_columns": []}, "non-empty list of distinct"),
        ({"key_columns": ["income", "income"]}, "non-empty list of distinct"),
        ({"key_columns": [LABEL]}, f"the label {LABEL!r} cannot identify a row"),
        (
            {"segment": {"column": "branch", "value": "x"}},
            "segment.column 'branch' is not a declared feature",
        ),
    ],
)
def test_inconsistent_optional_columns_are_rejected_naming_the_field(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        _schema(**changes)


def test_row_keys_are_stable_across_dtypes_and_file_formats(tmp_path: Path) -> None:
    schema = _schema()
    frame = generate(rows=300, seed=1)
    keys = row_keys(frame, schema, "snapshot")
    assert keys.nunique() == len(frame)  # distinct rows, distinct keys
    # The same rows after a CSV round trip, reordered, with the integer column as int64 (no NaN
    # left in it) and categories as pandas categoricals: the same keys.
    path = tmp_path / "snapshot.csv"
    frame.to_csv(path, index=False)
    again = pd.read_csv(path).iloc[::-1].reset_index(drop=True)
    again["employment"] = again["employment"].astype("category")
    again["open_accounts"] = again["open_accounts"].astype("float64")
    assert sorted(row_keys(again, schema, "again")) == sorted(keys)
    # A changed value changes that row's key and no other.
    changed = frame.copy()
    changed.loc[5, "housing"] = "own" if frame.loc[5, "housing"] != "own" else "rent"
    diff = row_keys(changed, schema, "changed") != keys
    assert diff.tolist() == [i == 5 for i in range(len(frame))]


def test_missing_values_and_negative_zero_hash_consistently() -> None:
    schema = _schema(key_columns=["income", "employment"])
    a = pd.DataFrame({"income": [0.0, np.nan, 1.5], "employment": ["x", None, np.nan]})
    b = pd.DataFrame({"income": [-0.0, float("nan"), 1.5], "employment": ["x", np.nan, None]})
    assert row_keys(a, schema, "a").tolist() == row_keys(b, schema, "b").tolist()


def test_configured_key_columns_decide_the_key_alone() -> None:
    schema = _schema(key_columns=["income", "age"])
    frame = generate(rows=50, seed=2)
    other = frame.assign(housing="own", open_accounts=0)  # columns outside the key
    assert row_keys(frame, schema, "s").tolist() == row_keys(other, schema, "s").tolist()


def test_an_id_column_is_the_key_itself() -> None:
    schema = _schema(id_column="loan_id")
    frame = generate(rows=10, seed=3).assign(loan_id=[f"L{i}" for i in range(10)])
    assert row_keys(frame, schema, "s").tolist() == [f"L{i}" for i in range(10)]


def test_a_missing_key_column_names_the_table_and_column() -> None:
    schema = _schema(key_columns=["income", "branch"])
    with pytest.raises(
        SchemaViolation, match=r"data/eval/eval.parquet: missing key column\(s\) \['branch'\]"
    ):
        row_keys(generate(rows=5), schema, "data/eval/eval.parquet")
    with pytest.raises(SchemaViolation, match=r"snap: missing id column \['loan_id'\]"):
        row_keys(generate(rows=5), _schema(id_column="loan_id"), "snap")


def test_pinned_rows_never_train_when_they_reappear_without_an_id() -> None:
    """The eval-set pin holds by row content: pinned rows in a later, reshuffled snapshot stay out."""
    schema = _schema()
    first = generate(rows=400, seed=4)
    first_keys = row_keys(first, schema, "first")
    pinned = first[assign(first_keys, 0.15, 0.20) == 2]
    # Pinned under other fractions, so some pinned rows fall outside today's evaluation bucket.
    pinned = pd.concat([pinned, first[assign(first_keys, 0.15, 0.35) == 2]]).drop_duplicates()
    later = pd.concat([generate(rows=400, seed=5), first]).sample(frac=1.0, random_state=0)
    later_keys = row_keys(later, schema, "later")
    parts = training_parts(later_keys, row_keys(pinned, schema, "pinned"), 0.15, 0.20)
    trained = later.reset_index(drop=True)[parts >= 0]
    assert len(trained) > 300
    merged = trained.merge(pinned, how="inner", on=[*schema.names, LABEL])
    assert merged.empty
    # A row's bucket depends on its content only, not its position or its neighbours.
    first_bucket = dict(zip(first_keys, assign(first_keys, 0.15, 0.20), strict=True))
    later_bucket = assign(later_keys, 0.15, 0.20)
    again = [(first_bucket[k], b) for k, b in zip(later_keys, later_bucket, strict=True) if k in first_bucket]
    assert len(again) == len(first) and all(a == b for a, b in again)
    assert set(parts) == {-1, 0, 1}


def test_validation_needs_no_id_or_timestamp_unless_declared() -> None:
    frame = generate(rows=300, seed=6)
    assert validate_frame(frame, _schema())["status"] == "passed"
    with pytest.raises(SchemaViolation, match="column 'observed_at'"):
        validate_frame(frame, _schema(timestamp_column="observed_at"))
    with pytest.raises(SchemaViolation, match="column 'loan_id'"):
        validate_frame(frame, _schema(id_column="loan_id"))
    with pytest.raises(SchemaViolation, match="column 'branch'"):
        validate_frame(frame, _schema(key_columns=["branch"]))
    stamped = frame.assign(observed_at=pd.Timestamp("2026-01-01"))
    assert validate_frame(stamped, _schema(timestamp_column="observed_at"))["status"] == "passed"


def _settings(tmp_path: Path, schema: FeatureSchema, slices: list[dict[str, Any]]) -> Any:
    """What evaluation reads from Settings: the features and the config dir (gates.yaml)."""
    (tmp_path / "gates.yaml").write_text(yaml.safe_dump({"slices": {"items": slices}}))
    return SimpleNamespace(features=schema, config_dir=tmp_path)


def test_evaluation_slices_come_from_gates_yaml_without_a_segment(tmp_path: Path) -> None:
    slices = [
        {"column": "employment", "value": "unemployed"},
        {"column": "employment", "value": "salaried"},
        {"column": "housing"},
        {"column": "housing", "value": "rent"},  # the whole column already covers it
    ]
    settings = _settings(tmp_path, _schema(), slices)
    assert report_slices(settings) == [("employment", ("salaried", "unemployed")), ("housing", None)]
    frame = generate(rows=400, seed=7)
    y = frame[LABEL].to_numpy()
    p = np.linspace(0.01, 0.99, len(frame))
    names = {
        name
        for column, values in report_slices(settings)
        for name in slice_metrics(frame, y, p, column, values)
    }
    assert names == {
        "employment=salaried",
        "employment=unemployed",
        "housing=mortgage",
        "housing=own",
        "housing=rent",
    }


def test_a_declared_segment_still_decides_the_evaluation_slices(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, _schema(segment={"column": "housing", "value": "rent"}), [{"column": "employment"}]
    )
    assert report_slices(settings) == [("housing", None)]


def _score(features: FeatureSchema, since: str | None = None) -> None:
    from modelops.score.config import ScoreConfig
    from modelops.score.job import Request, run

    settings = SimpleNamespace(features=features, root=Path("/nonexistent"))
    request = Request(input="/nonexistent/in.csv", out="/nonexistent/out", since=since)
    run(settings, ScoreConfig(), request, label_threshold=0.5, scorer_options={})  # type: ignore[arg-type]


def test_batch_scoring_without_an_id_column_is_refused_before_reading_anything() -> None:
    with pytest.raises(ConfigError, match="declares no id_column: batch scoring writes each score beside"):
        _score(_schema())


def test_since_without_a_timestamp_column_names_the_missing_setting(tmp_path: Path) -> None:
    from modelops.score.job import _since_filter

    settings = SimpleNamespace(features=_schema(id_column="loan_id"))
    with pytest.raises(ConfigError, match=r"declares no timestamp_column: --since filters the input on it"):
        _since_filter(SimpleNamespace(), settings, "24h")  # type: ignore[arg-type]
