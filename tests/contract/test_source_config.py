"""The package owns its data source: configs/model.yaml contract.source_config validates
configs/data.yaml `source:` and load_data receives the instance; the machinery has no row floor."""

import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.contract import load_package
from modelops.data.ingest import ingest, snapshot_source
from modelops.data.loaders import FileSource
from modelops.errors import ConfigError, ContractError
from modelops.settings import load_settings
from tests.conftest import REPO, edit_yaml


def project(tmp_path: Path, contract: dict[str, str | None], source: dict[str, object]) -> Path:
    """The repo's configs with the contract entries and `source:` a team would write."""
    shutil.copytree(REPO / "configs", tmp_path / "configs")

    def set_contract(d: dict) -> None:  # type: ignore[type-arg]
        for key, value in contract.items():
            if value is None:
                d["contract"].pop(key, None)
            else:
                d["contract"][key] = value

    edit_yaml(tmp_path / "configs/model.yaml", set_contract)
    edit_yaml(tmp_path / "configs/data.yaml", lambda d: d.update(source=source))
    return tmp_path


def small_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """A few hundred rows with a missing value, like a small public data set."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "bill_length_mm": rng.normal(44, 5, rows).round(1),
            "island": rng.choice(["Biscoe", "Dream", "Torgersen"], rows),
            "is_adelie": rng.integers(0, 2, rows),
        }
    )
    frame.loc[3, "bill_length_mm"] = np.nan
    return frame


@pytest.fixture
def team_module(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A model package of a team: its own source model and a loader that records what it got."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "team_source.py").write_text(
        textwrap.dedent("""
        import pandas as pd
        from pydantic import Field
        from modelops.strict import Strict

        RECEIVED = []

        class WarehouseSource(Strict):
            table: str
            limit: int = Field(ge=1)

            def describe(self):
                return f"warehouse {self.table} limit {self.limit}"

        def load(source):
            RECEIVED.append(source)
            return pd.DataFrame({"x": range(source.limit)})

        def not_a_model(source):
            return None
    """)
    )
    sys.path.insert(0, str(pkg))
    yield "team_source"
    sys.path.remove(str(pkg))
    sys.modules.pop("team_source", None)


def test_load_data_receives_the_packages_validated_source(tmp_path: Path, team_module: str) -> None:
    root = project(
        tmp_path,
        {"load_data": f"{team_module}:load", "source_config": f"{team_module}:WarehouseSource"},
        {"table": "customers", "limit": 7},
    )
    settings = load_settings(root)
    package = load_package(settings)
    frame = package.raw_snapshot(settings)
    received = sys.modules[team_module].RECEIVED
    assert type(received[-1]).__name__ == "WarehouseSource" and received[-1].table == "customers"
    assert len(frame) == 7
    assert package.describe_source(package.source(settings)) == "warehouse customers limit 7"
    # CLI overrides reach the package's source like any other key.
    overridden = load_settings(root, ["data.source.limit=3"])
    assert len(load_package(overridden).raw_snapshot(overridden)) == 3


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.source.limit=0", "source.limit: Input should be greater than or equal to 1"),
        ("data.source.colour=red", "source.colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_source_field_is_one_line_naming_data_yaml_source_field(
    tmp_path: Path, team_module: str, override: str, message: str
) -> None:
    root = project(
        tmp_path,
        {"load_data": f"{team_module}:load", "source_config": f"{team_module}:WarehouseSource"},
        {"table": "customers", "limit": 7},
    )
    settings = load_settings(root, [override])
    with pytest.raises(ConfigError) as exc:
        load_package(settings).raw_snapshot(settings)
    assert str(exc.value) == f"configs/data.yaml: {message}"
    assert not sys.modules[team_module].RECEIVED, "load_data must not run on an invalid source"


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        (":not_a_model", r"team_source:not_a_model is a function, not a pydantic model class"),
        (":Missing", r"'team_source' has no class 'Missing'"),
    ],
)
def test_a_source_config_that_is_not_a_pydantic_model_is_a_contract_error(
    tmp_path: Path, team_module: str, spec: str, needle: str
) -> None:
    root = project(
        tmp_path, {"load_data": f"{team_module}:load", "source_config": team_module + spec}, {"limit": 1}
    )
    with pytest.raises(ContractError, match=r"^configs/model\.yaml contract\.source_config: " + needle):
        load_package(load_settings(root))


def test_without_source_config_load_data_gets_the_plain_mapping(tmp_path: Path, team_module: str) -> None:
    root = project(
        tmp_path, {"load_data": f"{team_module}:load", "source_config": None}, {"limit": 2, "extra": "ok"}
    )
    settings = load_settings(root)
    with pytest.raises(AttributeError):  # the loader expected attributes: it got the mapping
        load_package(settings).raw_snapshot(settings)
    assert sys.modules[team_module].RECEIVED[-1] == {"limit": 2, "extra": "ok"}
    assert load_package(settings).describe_source({"limit": 2}) == f'{team_module}:load {{"limit": 2}}'


def test_a_344_row_file_works_with_no_floor(tmp_path: Path) -> None:
    """The issue's case: a 344-row CSV, read by the ready-made loader, relative to the project root."""
    root = project(
        tmp_path,
        {"load_data": "modelops.data.loaders:load_file", "source_config": "modelops.data.loaders:FileSource"},
        {"path": "data/external/penguins.csv"},
    )
    table = small_table(344)
    (root / "data/external").mkdir(parents=True)
    table.to_csv(root / "data/external/penguins.csv", index=False)
    settings = load_settings(root)
    package = load_package(settings)
    assert isinstance(package.source(settings), FileSource)
    frame = package.raw_snapshot(settings)
    assert len(frame) == 344 and frame["bill_length_mm"].isna().sum() == 1
    pd.testing.assert_frame_equal(frame, table)
    assert package.describe_source(package.source(settings)) == "file data/external/penguins.csv (csv)"
    # ingest writes the snapshot the pipeline versions, all 344 rows, with what it was loaded from:
    # training records that, even after the config has moved on.
    raw = ingest(settings)
    assert len(pd.read_parquet(raw)) == 344
    edit_yaml(root / "configs/data.yaml", lambda d: d.update(source={"path": "data/elsewhere.parquet"}))
    assert snapshot_source(raw) == "file data/external/penguins.csv (csv)"
    assert snapshot_source(root / "configs/data.yaml") is None, "not a snapshot ingest wrote"
