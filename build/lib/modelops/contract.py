"""The small contract between the machinery and the model package (configs/model.yaml)."""

import importlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel, ValidationError

from modelops.errors import ConfigError, ContractError
from modelops.settings import Settings, validation_message

# Parameter names each contract function must accept, in order.
EXPECTED: dict[str, tuple[str, ...]] = {
    "load_data": ("source",),
    "build_pipeline": ("features", "estimator", "params", "seed"),
}
# Run params hold one line; a long query or mapping is cut here.
DESCRIPTION_CHARS = 500


@dataclass(frozen=True)
class ModelPackage:
    """The resolved contract functions of the team's model package."""

    load_data: Callable[..., pd.DataFrame]
    build_pipeline: Callable[..., Any]
    # The package's model of configs/data.yaml `source:` (contract.source_config), if it declares one.
    source_config: type[BaseModel] | None = None
    load_data_spec: str = ""

    def source(self, settings: Settings, **changes: Any) -> Any:
        """configs/data.yaml `source:` (with `changes` on top) as the package's validated config.

        Without a source_config the plain mapping. Relative paths in it resolve against the
        project root: the model gets it as pydantic validation context {"root": ...}.
        """
        data = {**settings.data.source, **changes}
        if self.source_config is None:
            return data
        try:
            return self.source_config.model_validate(data, context={"root": settings.root})
        except ValidationError as exc:
            raise ConfigError(validation_message(exc, _data_yaml(settings), ("source",))) from exc

    def describe_source(self, source: Any) -> str:
        """One line for the run params: the source's own describe(), else its config as JSON.

        configs/data.yaml is committed, so it holds no secrets (credentials come from the
        environment); pydantic SecretStr fields are masked by model_dump all the same.
        """
        describe = getattr(source, "describe", None)
        if callable(describe):
            text = str(describe())
        else:
            shown = source.model_dump(mode="json") if isinstance(source, BaseModel) else source
            text = f"{self.load_data_spec} {json.dumps(shown, sort_keys=True, default=str)}".strip()
        text = " ".join(text.split())
        return text if len(text) <= DESCRIPTION_CHARS else text[: DESCRIPTION_CHARS - 3] + "..."

    def raw_snapshot(self, settings: Settings) -> pd.DataFrame:
        frame = self.load_data(self.source(settings))
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


def _data_yaml(settings: Settings) -> str:
    path = settings.config_dir / "data.yaml"
    return str(path.relative_to(settings.root) if path.is_relative_to(settings.root) else path)


def _import(spec: str, role: str) -> Any:
    """The attribute "module:name" names, or None; an unimportable module is a ContractError."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ContractError(
            f"configs/model.yaml contract.{role}: cannot import {module_name!r} ({exc})"
        ) from exc
    return getattr(module, attr, None)


def resolve(spec: str, role: str) -> Callable[..., Any]:
    """Import "module:function" and check its signature against the contract."""
    module_name, _, attr = spec.partition(":")
    fn = _import(spec, role)
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


def resolve_model(spec: str, role: str = "source_config") -> type[BaseModel]:
    """Import "module:Class" and check it is a pydantic model class."""
    module_name, _, attr = spec.partition(":")
    cls = _import(spec, role)
    if cls is None:
        raise ContractError(f"configs/model.yaml contract.{role}: {module_name!r} has no class {attr!r}")
    if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
        raise ContractError(
            f"configs/model.yaml contract.{role}: {spec} is a {type(cls).__name__}, not a pydantic "
            "model class (subclass modelops.strict.Strict)"
        )
    return cls


def load_package(settings: Settings) -> ModelPackage:
    c = settings.model.contract
    return ModelPackage(
        load_data=resolve(c.load_data, "load_data"),
        build_pipeline=resolve(c.build_pipeline, "build_pipeline"),
        source_config=resolve_model(c.source_config) if c.source_config else None,
        load_data_spec=c.load_data,
    )
