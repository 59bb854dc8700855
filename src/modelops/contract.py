"""The small contract between the machinery and the model package (configs/model.yaml)."""

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from modelops.errors import ContractError
from modelops.settings import Settings

# Parameter names each contract function must accept, in order.
EXPECTED: dict[str, tuple[str, ...]] = {
    "load_data": ("source",),
    "build_pipeline": ("features", "estimator", "params", "seed"),
}


@dataclass(frozen=True)
class ModelPackage:
    """The resolved contract functions of the team's model package."""

    load_data: Callable[..., pd.DataFrame]
    build_pipeline: Callable[..., Any]

    def raw_snapshot(self, settings: Settings) -> pd.DataFrame:
        frame = self.load_data(settings.data.source)
        if not isinstance(frame, pd.DataFrame):
            raise ContractError(
                f"contract.load_data returned {type(frame).__name__}, expected a pandas DataFrame"
            )
        return frame

    def unfitted_pipeline(self, settings: Settings) -> Any:
        t = settings.train
        pipe = self.build_pipeline(settings.features, t.estimator, dict(t.params), t.seed)
        for method in ("fit", "predict_proba"):
            if not callable(getattr(pipe, method, None)):
                raise ContractError(f"contract.build_pipeline returned an object without {method}()")
        return pipe


def resolve(spec: str, role: str) -> Callable[..., Any]:
    """Import "module:function" and check its signature against the contract."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ContractError(
            f"configs/model.yaml contract.{role}: cannot import {module_name!r} ({exc})"
        ) from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ContractError(f"configs/model.yaml contract.{role}: {module_name!r} has no function {attr!r}")
    params = tuple(inspect.signature(fn).parameters)
    expected = EXPECTED[role]
    if params[: len(expected)] != expected:
        raise ContractError(
            f"configs/model.yaml contract.{role}: {spec} takes ({', '.join(params)}), "
            f"the contract needs ({', '.join(expected)})"
        )
    return fn


def load_package(settings: Settings) -> ModelPackage:
    c = settings.model.contract
    return ModelPackage(
        load_data=resolve(c.load_data, "load_data"),
        build_pipeline=resolve(c.build_pipeline, "build_pipeline"),
    )
