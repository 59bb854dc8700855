"""Bad input stops the pipeline before training, naming the column and the rule."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data import generate
from modelops.cli import main
from modelops.data.validate import validate_frame
from modelops.errors import SchemaViolation
from modelops.settings import load_settings
from tests.conftest import REPO, Project


@pytest.fixture(scope="module")
def good() -> pd.DataFrame:
    return generate(5000, 11)


@pytest.fixture(scope="module")
def features():  # type: ignore[no-untyped-def]
    return load_settings(REPO).features


def _every_fifth(df: pd.DataFrame) -> np.ndarray:
    return np.arange(len(df)) % 5 == 0


BAD = {
    "null-rate spike": (
        lambda df: df.assign(monthly_charges=df["monthly_charges"].mask(_every_fifth(df))),
        "column 'monthly_charges' breaks rule 'max_null_rate<=0.03'",
    ),
    "unknown category": (
        lambda df: df.assign(contract=df["contract"].astype(str).where(np.arange(len(df)) != 7, "weekly")),
        "column 'contract' breaks rule \"isin(['month-to-month', 'one-year', 'two-year'])\" "
        "(1 failing value(s), e.g. ['weekly'])",
    ),
    "wrong dtype": (
        lambda df: df.assign(tenure_months=df["tenure_months"].astype(str)),
        "column 'tenure_months' breaks rule 'dtype=numeric'",
    ),
    "missing column": (
        lambda df: df.drop(columns=["region"]),
        "column 'region' breaks rule 'column_in_dataframe'",
    ),
    "out of range": (
        lambda df: df.assign(support_tickets=df["support_tickets"] + 100),
        "column 'support_tickets' breaks rule 'less_than_or_equal_to(50.0)'",
    ),
    "too few rows": (lambda df: df.head(10), "column '<table>' breaks rule 'row_count in [1000, 2e+07]'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_frame_names_column_and_rule(case: str, good: pd.DataFrame, features) -> None:  # type: ignore[no-untyped-def]
    corrupt, message = BAD[case]
    with pytest.raises(SchemaViolation) as exc:
        validate_frame(corrupt(good), features)
    assert str(exc.value).startswith(message)
    assert "\n" not in str(exc.value)


def test_good_frame_passes(good: pd.DataFrame, features) -> None:  # type: ignore[no-untyped-def]
    assert validate_frame(good, features)["rows"] == 5000


def test_cli_empty_file_is_one_line_error_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["--root", str(REPO), "data", "validate", "--path", str(empty)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"modelops data validate: error: {empty}: the file is empty"


@pytest.mark.integration
@pytest.mark.slow
def test_dvc_repro_stops_before_training_on_bad_data(fresh_project: Project) -> None:
    """A broken upstream job (seats zero-filled for 20% of rows) never reaches the registry."""
    p = fresh_project
    cfg = p.root / "configs/data.yaml"
    cfg.write_text(
        cfg.read_text()
        .replace("zero_fill_feature: null", "zero_fill_feature: seats")
        .replace("zero_fill_fraction: 0.0", "zero_fill_fraction: 0.2")
    )
    out = p.sh(str(Path(__import__("sys").executable).with_name("dvc")), "repro", check=False)
    assert out.returncode != 0
    assert "column 'seats' breaks rule 'greater_than_or_equal_to(1.0)'" in out.stderr + out.stdout
    assert not (p.root / "data/split/train.parquet").exists()
    assert not (p.root / "artifacts/train/model.json").exists()
    assert not (p.root / ".mlflow/mlflow.db").exists()
