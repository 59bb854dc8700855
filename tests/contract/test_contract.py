"""The contract between modelops and the model package, on the fixture package (tests/fixture_model).

The machinery resolves the contract's functions, checks their signatures and what they return,
and explains a broken edit. The example's own contract test lives with it (src/<package>/tests/).
"""

import shutil
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from modelops.contract import load_package, resolve
from modelops.data.validate import validate_frame
from modelops.errors import ContractError
from modelops.settings import Settings, load_settings
from tests.conftest import REPO
from tests.fixture_model.swap import swap_in_fixture
from tests.helpers.contract import assert_builds_an_unfitted_pipeline_that_fits_to_probabilities

ROWS = 2000


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The repository's configs with the fixture package swapped in (its generator, with keys)."""
    root = tmp_path_factory.mktemp("contract")
    shutil.copytree(REPO / "configs", root / "configs")
    swap_in_fixture(root, ROWS, estimator="hist_gradient_boosting", keys=True, generator=True)
    return load_settings(root)


def test_load_data_returns_a_frame_that_passes_the_declared_schema(settings) -> None:  # type: ignore[no-untyped-def]
    frame = load_package(settings).raw_snapshot(settings)
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == ROWS
    assert validate_frame(frame, settings.features)["status"] == "passed"


def test_build_pipeline_is_unfitted_and_fits_to_probabilities(settings) -> None:  # type: ignore[no-untyped-def]
    assert_builds_an_unfitted_pipeline_that_fits_to_probabilities(settings)


@pytest.fixture
def broken_module(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "broken_model.py").write_text(
        textwrap.dedent("""
        def load_raw(rows):
            return None

        def returns_list(source):
            return [1, 2, 3]
    """)
    )
    sys.path.insert(0, str(tmp_path))
    yield "broken_model"
    sys.path.remove(str(tmp_path))
    sys.modules.pop("broken_model", None)


def test_wrong_signature_is_explained(broken_module: str) -> None:
    with pytest.raises(
        ContractError,
        match=r"contract\.load_data: broken_model:load_raw takes \(rows\), "
        r"the contract needs \(source\)",
    ):
        resolve(f"{broken_module}:load_raw", "load_data")


def test_missing_function_and_module_are_named(broken_module: str) -> None:
    with pytest.raises(ContractError, match="has no function 'nope'"):
        resolve(f"{broken_module}:nope", "load_data")
    with pytest.raises(ContractError, match="cannot import 'no_such_pkg'"):
        resolve("no_such_pkg:load_raw", "load_data")


def test_non_frame_return_is_explained(broken_module: str, settings) -> None:  # type: ignore[no-untyped-def]
    contract = settings.model.contract.model_copy(update={"load_data": f"{broken_module}:returns_list"})
    bad = settings.model_copy(update={"model": settings.model.model_copy(update={"contract": contract})})
    with pytest.raises(ContractError, match="returned list, expected a pandas DataFrame"):
        load_package(bad).raw_snapshot(bad)
