"""configs/monitoring.yaml as typed settings, checked against the feature schema."""

from typing import TYPE_CHECKING

from pydantic import Field

from modelops.data.schema import FeatureSchema
from modelops.errors import ConfigError
from modelops.metrics import ECE_BINS
from modelops.strict import Strict as _Strict

if TYPE_CHECKING:
    from modelops.settings import Settings

FILENAME = "monitoring.yaml"


class DriftRule(_Strict):
    method: str
    threshold: float = Field(gt=0)


class DriftConfig(_Strict):
    numeric: DriftRule = DriftRule(method="wasserstein", threshold=0.1)
    categorical: DriftRule = DriftRule(method="psi", threshold=0.1)
    features: dict[str, DriftRule] = {}
    max_drifted_share: float = Field(default=0.0, ge=0, lt=1)
    score: DriftRule = DriftRule(method="wasserstein", threshold=0.1)


class RatesConfig(_Strict):
    missing_increase_max: float = Field(default=0.05, ge=0, le=1)
    out_of_range_increase_max: float = Field(default=0.01, ge=0, le=1)


class QualityConfig(_Strict):
    roc_auc_min: float = Field(default=0.7, ge=0, le=1)
    ece_max: float = Field(default=0.08, gt=0, le=1)
    ece_bins: int = Field(default=ECE_BINS, ge=2, le=100)
    positive_rate_deviation_max: float = Field(default=0.05, gt=0, le=1)
    min_labelled_rows: int = Field(default=300, ge=10)


class Slice(_Strict):
    column: str
    value: str
    # Small slices have noisier AUC; a slice may set its own floor.
    roc_auc_min: float | None = Field(default=None, ge=0, le=1)
    # Drift scores of a small slice are noisier; its thresholds are multiplied by this.
    drift_threshold_scale: float = Field(default=1.0, ge=1.0, le=10.0)

    @property
    def name(self) -> str:
        return f"{self.column}={self.value}"


class LogsConfig(_Strict):
    malformed_max_share: float = Field(default=0.01, ge=0, le=1)
    chunk_lines: int = Field(default=100_000, ge=100)


class SampleConfig(_Strict):
    size: int = Field(default=50_000, ge=1000)
    seed: int = 0


class MonitoringConfig(_Strict):
    drift: DriftConfig = DriftConfig()
    rates: RatesConfig = RatesConfig()
    quality: QualityConfig = QualityConfig()
    slices: tuple[Slice, ...] = ()
    min_rows: int = Field(default=300, ge=10)
    logs: LogsConfig = LogsConfig()
    sample: SampleConfig = SampleConfig()

    def rule(self, schema: FeatureSchema, feature: str) -> DriftRule:
        """The drift method and threshold for one feature (override, else by kind)."""
        if feature in self.drift.features:
            return self.drift.features[feature]
        kind = schema.feature(feature).kind
        return self.drift.numeric if kind == "numeric" else self.drift.categorical

    def check_against(self, schema: FeatureSchema, source: str) -> None:
        """Names in this file must exist in configs/features.yaml."""
        for name in self.drift.features:
            if name not in schema.names:
                raise ConfigError(f"{source}: drift.features.{name}: not a feature declared in features.yaml")
        for i, s in enumerate(self.slices):
            if s.column not in schema.names:
                raise ConfigError(f"{source}: slices.{i}.column: {s.column!r} is not a declared feature")
            cats = schema.feature(s.column).categories
            if cats is None:
                raise ConfigError(
                    f"{source}: slices.{i}.column: {s.column!r} is numeric; slices need a category"
                )
            if s.value not in cats:
                raise ConfigError(f"{source}: slices.{i}.value: {s.value!r} is not a category of {s.column}")


def load(settings: "Settings") -> MonitoringConfig:
    """configs/monitoring.yaml, validated and checked against the feature schema."""
    from modelops.settings import load_section

    cfg = load_section(settings.config_dir, FILENAME, MonitoringConfig)
    cfg.check_against(settings.features, str(settings.config_dir / FILENAME))
    return cfg
