"""The declared feature schema (configs/features.yaml) as typed settings."""

from typing import Literal

from pydantic import Field, model_validator

from modelops.errors import ConfigError
from modelops.strict import Strict as _Strict


class Feature(_Strict):
    name: str
    kind: Literal["numeric", "categorical"]
    dtype: Literal["int", "float", "str"] = "str"
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] | None = None
    max_null_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    description: str = ""

    @model_validator(mode="after")
    def _kind_fits(self) -> "Feature":
        if self.kind == "categorical" and not self.categories:
            raise ValueError(f"feature {self.name!r}: categorical needs 'categories'")
        if self.kind == "numeric" and self.categories:
            raise ValueError(f"feature {self.name!r}: numeric cannot have 'categories'")
        if self.kind == "numeric" and self.dtype == "str":
            raise ValueError(f"feature {self.name!r}: numeric needs dtype int or float")
        return self

    @property
    def nullable(self) -> bool:
        return self.max_null_rate > 0


class Bounds(_Strict):
    min: float
    max: float


class Segment(_Strict):
    column: str
    value: str


class FeatureSchema(_Strict):
    """configs/features.yaml. Only the label and the features are required.

    `id_column` (a row's identity), `timestamp_column` (when it was observed) and `segment`
    (a group the evaluation reports on its own) are optional. Without an id the split keys a
    row by `key_columns` when given, else by the content of its declared features
    (`modelops.data.keys`); batch scoring needs an id, `--since` needs a timestamp.
    """

    id_column: str | None = None
    # Without an id: the columns that identify a row (default: every declared feature).
    key_columns: tuple[str, ...] | None = None
    timestamp_column: str | None = None
    label: str
    row_count: Bounds
    label_rate: Bounds
    segment: Segment | None = None
    features: tuple[Feature, ...]

    @model_validator(mode="after")
    def _columns_consistent(self) -> "FeatureSchema":
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("features: names must be unique")
        if self.segment is not None and self.segment.column not in names:
            raise ValueError(f"segment.column {self.segment.column!r} is not a declared feature")
        if self.key_columns is not None:
            if self.id_column is not None:
                raise ValueError(
                    f"key_columns: give either id_column ({self.id_column!r}) or key_columns, not both"
                )
            if not self.key_columns or len(set(self.key_columns)) != len(self.key_columns):
                raise ValueError("key_columns: a non-empty list of distinct column names")
            if self.label in self.key_columns:
                raise ValueError(f"key_columns: the label {self.label!r} cannot identify a row")
        return self

    def require(self, field: Literal["id_column", "timestamp_column"], purpose: str) -> str:
        """The optional column `field`, or a one-line ConfigError saying what needs it."""
        value: str | None = getattr(self, field)
        if value is None:
            raise ConfigError(f"configs/features.yaml declares no {field}: {purpose}")
        return value

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def numeric(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)
