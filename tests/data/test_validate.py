"""Bad input stops the pipeline before training, naming the column and the rule.

Columns and rules come from the fixture package's configs/features.yaml, read from settings.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.cli import main
from modelops.data.schema import FeatureSchema
from modelops.data.validate import validate_frame
from modelops.errors import SchemaViolation
from modelops.settings import Settings
from tests.conftest import REPO, Project, edit_yaml
from tests.helpers.fixture import fixture_configs, rows

ROWS = 5000


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return fixture_configs(tmp_path_factory.mktemp("validate"))


@pytest.fixture(scope="module")
def good(settings: Settings) -> pd.DataFrame:
    return rows(settings, ROWS, 11)


@pytest.fixture(scope="module")
def features(settings: Settings) -> FeatureSchema:
    return settings.features


def _every_fifth(df: pd.DataFrame) -> np.ndarray:
    return np.arange(len(df)) % 5 == 0


def _pick(features: FeatureSchema, kind: str, **want: object) -> str:
    """The first declared feature of `kind` whose attributes match `want` (e.g. dtype="int")."""
    for f in features.features:
        if f.kind == kind and all(getattr(f, k) == v for k, v in want.items()):
            return f.name
    raise AssertionError(f"configs/features.yaml has no {kind} feature with {want}")


def _nullable(features: FeatureSchema) -> str:
    return next(f.name for f in features.features if f.kind == "numeric" and 0 < f.max_null_rate < 0.2)


def _bounded_int(features: FeatureSchema) -> str:
    return next(
        f.name for f in features.features if f.dtype == "int" and f.max is not None and not f.nullable
    )


Case = tuple[Callable[[pd.DataFrame], pd.DataFrame], str]


def bad_cases(features: FeatureSchema) -> dict[str, Case]:
    """Each corruption with the one-line message it must produce (names and rules from the schema)."""
    nullable = _nullable(features)
    category = _pick(features, "categorical", max_null_rate=0.0)
    values = list(features.feature(category).categories or ())
    integer = _bounded_int(features)
    top = features.feature(integer).max
    rows_min, rows_max = features.row_count.min, features.row_count.max
    return {
        "null-rate spike": (
            lambda df: df.assign(**{nullable: df[nullable].mask(_every_fifth(df))}),
            f"column '{nullable}' breaks rule 'max_null_rate<={features.feature(nullable).max_null_rate}'",
        ),
        "unknown category": (
            lambda df: df.assign(
                **{category: df[category].astype(str).where(np.arange(len(df)) != 7, "weekly")}
            ),
            f"column '{category}' breaks rule \"isin({values})\" (1 failing value(s), e.g. ['weekly'])",
        ),
        "wrong dtype": (
            lambda df: df.assign(**{integer: df[integer].astype(str)}),
            f"column '{integer}' breaks rule 'dtype=numeric'",
        ),
        "missing column": (
            lambda df: df.drop(columns=[category]),
            f"column '{category}' breaks rule 'column_in_dataframe'",
        ),
        "out of range": (
            lambda df: df.assign(**{integer: df[integer] + 100}),
            f"column '{integer}' breaks rule 'less_than_or_equal_to({top})'",
        ),
        "too few rows": (
            lambda df: df.head(int(rows_min) - 1),
            f"column '<table>' breaks rule 'row_count in [{rows_min:g}, {rows_max:g}]'",
        ),
    }


CASES = [
    "null-rate spike",
    "unknown category",
    "wrong dtype",
    "missing column",
    "out of range",
    "too few rows",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_frame_names_column_and_rule(case: str, good: pd.DataFrame, features: FeatureSchema) -> None:
    corrupt, message = bad_cases(features)[case]
    with pytest.raises(SchemaViolation) as exc:
        validate_frame(corrupt(good), features)
    assert str(exc.value).startswith(message)
    assert "\n" not in str(exc.value)


def test_good_frame_passes(good: pd.DataFrame, features: FeatureSchema) -> None:
    assert validate_frame(good, features)["rows"] == ROWS


def test_cli_empty_file_is_one_line_error_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["--root", str(REPO), "data", "validate", "--path", str(empty)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"modelops data validate: error: {empty}: the file is empty"


@pytest.mark.integration
@pytest.mark.slow
def test_dvc_repro_stops_before_training_on_bad_data(fresh_project: Project) -> None:
    """A broken upstream job (a feature whose minimum is above 0 zero-filled for 20% of rows)
    never reaches the registry."""
    p = fresh_project
    features = p.settings.features
    name = next(f.name for f in features.features if f.kind == "numeric" and (f.min or 0) > 0)
    edit_yaml(
        p.root / "configs/data.yaml",
        lambda d: (
            d["source"].setdefault("scenario", {}).update(zero_fill_feature=name, zero_fill_fraction=0.2)
        ),
    )
    out = p.sh(str(Path(__import__("sys").executable).with_name("dvc")), "repro", check=False)
    assert out.returncode != 0
    rule = f"greater_than_or_equal_to({float(features.feature(name).min or 0)})"
    assert f"column '{name}' breaks rule '{rule}'" in out.stderr + out.stdout
    assert not (p.root / "data/split/train.parquet").exists()
    assert not (p.root / "artifacts/train/model.json").exists()
    assert not (p.root / ".mlflow/mlflow.db").exists()
