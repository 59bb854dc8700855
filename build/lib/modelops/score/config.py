"""configs/score.yaml as typed settings."""

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from modelops.settings import load_section
from modelops.strict import Strict as _Strict

FILENAME = "score.yaml"
Engine = Literal["pandas", "spark"]


class DataGateConfig(_Strict):
    on_violation: Literal["fail", "review"] = "fail"
    sample_rows: int = Field(default=200_000, ge=1000)
    seed: int = 20250101
    issue_labels: tuple[str, ...] = ("data-gate",)
    # The baseline check's tolerances (modelops.data.baseline.BaselineTolerances); None = the
    # ones `modelops data validate` uses (configs/baseline.yaml).
    tolerances: dict[str, Any] | None = None


class OutputConfig(_Strict):
    quarantine: str = "_quarantine"
    prediction_log: bool = True


class SparkConfig(_Strict):
    master: str = "local[*]"
    app_name: str = "modelops-score"
    conf: dict[str, str] = {}


class ScoreConfig(_Strict):
    engine: Engine = "pandas"
    chunk_rows: int = Field(default=200_000, ge=1, le=10_000_000)
    data_gate: DataGateConfig = DataGateConfig()
    output: OutputConfig = OutputConfig()
    spark: SparkConfig = SparkConfig()


def load(config_dir: Path) -> ScoreConfig:
    return load_section(config_dir, FILENAME, ScoreConfig)
