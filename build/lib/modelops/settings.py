"""Typed settings: configs/*.yaml validated once, at the CLI edge, into frozen objects.

Each lifecycle step owns the model of its own file (gate/config.py reads gates.yaml, ...)
through `load_section`; the core sections every step needs are bundled in `Settings`.
"""

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

from modelops.data.schema import FeatureSchema
from modelops.errors import ConfigError
from modelops.strict import Strict as _Strict

CONFIG_DIR_ENV = "MODELOPS_CONFIG_DIR"
M = TypeVar("M", bound=BaseModel)


class Contract(_Strict):
    load_data: str = Field(pattern=r"^[\w.]+:\w+$")
    build_pipeline: str = Field(pattern=r"^[\w.]+:\w+$")
    # The package's own pydantic model (a modelops.strict.Strict) of configs/data.yaml `source:`;
    # without it load_data receives the plain mapping.
    source_config: str | None = Field(default=None, pattern=r"^[\w.]+:\w+$")


class ModelConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z][\w-]*$")
    owner: str
    # The model package's directory under src/: dvc.yaml depends on src/<package>, so any change
    # to it makes ingest and train stale (`modelops init --package` renames it consistently).
    package: str = Field(pattern=r"^[A-Za-z_]\w*$")
    description: str = ""
    contract: Contract
    skops_trusted_types: tuple[str, ...] = ()


class Split(_Strict):
    valid_fraction: float = Field(gt=0, lt=0.5)
    eval_fraction: float = Field(gt=0, lt=0.5)


class DataPaths(_Strict):
    raw: Path
    validation_report: Path
    # The committed profile of the last accepted snapshot (validate rewrites it only on a pass).
    profile: Path = Path("data/baseline/profile.json")
    train: Path
    valid: Path
    eval: Path
    train_out: Path
    evaluate_out: Path


class DataConfig(_Strict):
    # Free-form here: the model package declares and validates its own source (contract.source_config),
    # so the machinery puts no floor or shape on it.
    source: dict[str, Any] = {}
    split: Split
    paths: DataPaths


class TrainConfig(_Strict):
    estimator: Literal["hist_gradient_boosting", "logistic_regression", "random_forest"]
    seed: int
    params: dict[str, Any] = {}
    curve_every: int = Field(default=10, ge=1)
    importance_rows: int = Field(default=5000, ge=100)
    threads: int = Field(default=2, ge=1)


class Settings(_Strict):
    """The resolved core config: model, data, features and training."""

    root: Path
    config_dir: Path
    model: ModelConfig
    data: DataConfig
    features: FeatureSchema
    train: TrainConfig
    overrides: tuple[str, ...] = ()

    def path(self, relative: Path | str) -> Path:
        """Resolve a repo-relative path against the project root."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p

    def config_hash(self) -> str:
        """sha256 of the resolved config that shapes the model (overrides included)."""
        payload = {
            k: getattr(self, k).model_dump(mode="json") for k in ("model", "data", "features", "train")
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


_CORE_FILES = {"model": "model.yaml", "data": "data.yaml", "features": "features.yaml", "train": "train.yaml"}


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names the same key twice (PyYAML would silently keep the last one)."""

    def __init__(self, key: object, line: int, first_line: int) -> None:
        self.key, self.line, self.first_line = key, line, first_line
        super().__init__(problem=f"duplicate key {key!r} (first at line {first_line})")


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys: a second `slices:` must not replace the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` merges are explicit overrides, not duplicates
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it below
                continue
            if first is not None:
                raise DuplicateKeyError(key, line, first)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text with duplicate keys rejected; errors name `source`, the line and the key."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # a SafeLoader subclass
    except DuplicateKeyError as exc:
        raise ConfigError(
            f"{source}:{exc.line}: duplicate key {exc.key!r} (first at line {exc.first_line})"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc})") from exc


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML config mapping, naming the file on any problem (the one config loader)."""
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    data = parse_yaml(path.read_text(), str(path))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def validation_message(exc: ValidationError, source: str, prefix: tuple[str, ...] = ()) -> str:
    """One line naming the source, the first failing field path and its rule (+N more).

    `prefix` is the path of the validated mapping inside its file, e.g. ("source",).
    """
    first = exc.errors()[0]
    where = ".".join(str(p) for p in (*prefix, *first["loc"])) or "<root>"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: {where}: {first['msg']}{more}"


def validate_model(model: type[M], data: dict[str, Any], source: str) -> M:
    """Validate `data` against `model`; the error names the file, field path and rule."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(exc, source)) from exc


def load_section(config_dir: Path, filename: str, model: type[M]) -> M:
    """Load one configs/<filename> into its typed model (used by every lifecycle step)."""
    path = config_dir / filename
    return validate_model(model, read_yaml(path), str(path))


def parse_override(item: str) -> tuple[list[str], Any]:
    """`train.params.max_iter=50` -> (["train", "params", "max_iter"], 50)."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. train.params.max_iter=50")
    parts = key.split(".")
    if parts[0] not in _CORE_FILES:
        raise ConfigError(f"--set {item!r}: key must start with one of {sorted(_CORE_FILES)}")
    return parts, parse_yaml(raw, f"--set {item!r}")


def apply_override(raw: dict[str, Any], parts: list[str], value: Any, item: str) -> None:
    node: Any = raw
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"--set {item!r}: unknown key {part!r}")
        node = node[part]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {item!r}: {parts[-2]!r} is not a mapping")
    node[parts[-1]] = value


def default_config_dir(root: Path) -> Path:
    return Path(os.environ.get(CONFIG_DIR_ENV, root / "configs"))


def load_settings(
    root: Path | None = None, overrides: list[str] | tuple[str, ...] = (), config_dir: Path | None = None
) -> Settings:
    """Load and validate the core config once; `overrides` are `--set KEY=VALUE` items."""
    root = (root or Path.cwd()).resolve()
    config_dir = config_dir or default_config_dir(root)
    raw: dict[str, Any] = {name: read_yaml(config_dir / fname) for name, fname in _CORE_FILES.items()}
    for item in overrides:
        parts, value = parse_override(item)
        apply_override(raw, parts, value, item)
    raw.update(root=root, config_dir=config_dir, overrides=tuple(overrides))
    return validate_model(Settings, raw, f"{config_dir}/*.yaml")
