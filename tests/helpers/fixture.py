"""What machinery tests need to know about the model, read from settings (never the example's names).

The shared projects (tests/conftest.py) hold the fixture package (tests/fixture_model); these
helpers answer from whatever `configs/` a project has, so a test written with them holds for
any model package. Typical use:

    s = trained_project.settings
    frame = rows(s, 500, seed=3)                           # new rows from the package's own source
    bad = rows(s, 500, seed=3, zero_fill_feature=numeric_feature(s), zero_fill_fraction=0.4)
    f"models:/{model_name(s)}/1", label(s), id_column(s), segment_slice(s)
"""

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from modelops.contract import load_package
from modelops.settings import Settings, load_settings
from tests.fixture_model import swap

REPO = Path(__file__).resolve().parents[2]


def fixture_configs(root: Path, rows: int = 8000, **options: Any) -> Settings:
    """`root/configs`: the repository's configs with the fixture swapped in, as settings.

    For tests that need settings but no project (no git, DVC or registry). `options` go to
    `swap_in_fixture`; the default is the machinery projects' shape (generator, keys, trees).
    """
    shutil.copytree(REPO / "configs", root / "configs", dirs_exist_ok=True)
    _rename(root / "configs")
    kw: dict[str, Any] = {"estimator": "hist_gradient_boosting", "keys": True, "generator": True, **options}
    swap.swap_in_fixture(root, rows, **kw)
    return load_settings(root)


def _rename(configs: Path) -> None:
    """What `modelops init --name loans --package fixture_model` writes in configs/ (no git needed)."""
    from modelops import init

    model, data = configs / "model.yaml", configs / "data.yaml"
    old = yaml.safe_load(model.read_text())
    model.write_text(
        init.rewrite_model_yaml(model.read_text(), old["package"], swap.MODEL, swap.PACKAGE, swap.OWNER)
    )
    data.write_text(init.rewrite_raw_path(data.read_text(), old["name"], swap.MODEL))


def model_name(settings: Settings) -> str:
    """The registered model's name (configs/model.yaml `name`)."""
    return settings.model.name


def label(settings: Settings) -> str:
    return settings.features.label


def id_column(settings: Settings) -> str:
    """The id column; a project without one fails here, naming the setting."""
    return settings.features.require("id_column", "this test needs rows with an identity")


def timestamp_column(settings: Settings) -> str:
    return settings.features.require("timestamp_column", "this test needs rows with a timestamp")


def numeric_feature(settings: Settings, nullable: bool = True) -> str:
    """A float feature (nullable by default): what a broken upstream job zero-fills."""
    for f in settings.features.features:
        if f.kind == "numeric" and f.dtype == "float" and (f.nullable or not nullable):
            return f.name
    raise AssertionError("configs/features.yaml declares no float feature")


def categorical_feature(settings: Settings) -> str:
    """A categorical feature other than the segment's column."""
    segment = settings.features.segment
    for name in settings.features.categorical:
        if segment is None or name != segment.column:
            return name
    return settings.features.categorical[0]


def segment(settings: Settings) -> tuple[str, str]:
    """(column, value) of configs/features.yaml `segment`."""
    seg = settings.features.segment
    if seg is None:
        raise AssertionError("configs/features.yaml declares no segment")
    return seg.column, seg.value


def segment_slice(settings: Settings, sep: str = "=") -> str:
    """The segment as reports name it: "employment=unemployed" (gate reports: sep=" = ")."""
    column, value = segment(settings)
    return f"{column}{sep}{value}"


def in_segment(settings: Settings, frame: pd.DataFrame) -> pd.Series:
    column, value = segment(settings)
    return frame[column].astype(str) == value


def source(settings: Settings, rows: int, seed: int, **scenario: Any) -> Any:
    """configs/data.yaml `source:` with another row count, seed and scenario switches."""
    changes: dict[str, Any] = {"rows": rows, "seed": seed}
    if scenario:
        changes["scenario"] = {**settings.data.source.get("scenario", {}), **scenario}
    return load_package(settings).source(settings, **changes)


def rows(settings: Settings, rows: int, seed: int, **scenario: Any) -> pd.DataFrame:
    """`rows` new rows from the configured package's own source (its generator), e.g.
    `rows(s, 1000, 5, covariate_drift=1.0)`; scenario switches are the generator's."""
    package = load_package(settings)
    return package.load_data(source(settings, rows, seed, **scenario))
