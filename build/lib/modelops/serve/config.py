"""configs/serve.yaml as typed settings."""

from pathlib import Path

from pydantic import Field

from modelops.serve.sinks import StoreSinkConfig
from modelops.settings import load_section
from modelops.strict import Strict as _Strict


class PredictionLogConfig(_Strict):
    path: str = "logs/predictions.jsonl"
    queue_size: int = Field(default=10_000, ge=1)


class ShadowConfig(_Strict):
    queue_size: int = Field(default=1000, ge=1)


class FastPathConfig(_Strict):
    enabled: bool = True
    vector_max_rows: int = Field(default=8, ge=0, le=256)
    parity_tolerance: float = Field(default=1e-9, gt=0, le=1e-6)


class ServeConfig(_Strict):
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    threads: int = Field(default=1, ge=1, le=256)
    max_batch_rows: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=4_000_000, ge=1024)
    label_threshold: float = Field(default=0.5, ge=0, le=1)
    prediction_log: PredictionLogConfig = PredictionLogConfig()
    prediction_store: StoreSinkConfig = StoreSinkConfig()
    shadow: ShadowConfig = ShadowConfig()
    warmup_rows: int = Field(default=256, ge=1, le=100_000)
    fast_path: FastPathConfig = FastPathConfig()
    load_retry_seconds: float = Field(default=30, gt=0)
    graceful_shutdown_seconds: float = Field(default=10, gt=0)
    drain_seconds: float = Field(default=5, ge=0, le=120)
    header_timeout_seconds: float = Field(default=5, gt=0, le=300)
    body_timeout_seconds: float = Field(default=15, gt=0, le=600)


def load(config_dir: Path) -> ServeConfig:
    return load_section(config_dir, "serve.yaml", ServeConfig)
