"""configs/gates.yaml as a typed, frozen model (unknown keys and wrong types are errors)."""

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from modelops.gate.bootstrap import BOOTSTRAP_METRICS
from modelops.metrics import ECE_BINS
from modelops.settings import load_section
from modelops.strict import Strict as _Strict

FILENAME = "gates.yaml"
BootstrapMetric = Literal["roc_auc", "pr_auc", "log_loss", "brier", "ece"]


class Bootstrap(_Strict):
    resamples: int = Field(default=1000, ge=100, le=100_000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    seed: int = 0
    workers: int = Field(default=1, ge=1, le=64)


class Absolute(_Strict):
    """A bound on any metric: computed on the evaluation set, or logged on the candidate's run."""

    metric: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> "Absolute":
        if self.min is None and self.max is None:
            raise ValueError(f"absolute check on {self.metric!r} needs 'min' or 'max'")
        return self


class Change(_Strict):
    """Candidate vs champion, decided on the paired bootstrap interval of the difference.

    non_inferior: the candidate may be worse by at most `margin`;
    superior: the candidate must be better by at least `margin`.
    """

    metric: BootstrapMetric
    rule: Literal["non_inferior", "superior"]
    margin: float = Field(ge=0)


class Slice(_Strict):
    column: str
    value: str | None = None
    metric: BootstrapMetric | None = None
    min_support: int | None = Field(default=None, ge=1)
    tolerance: float | None = Field(default=None, ge=0)
    min: float | None = None
    # A required slice that is too small to judge fails closed instead of being listed.
    required: bool = False


Blocks = Literal["all", "required", "none"]


class SliceBlocking(_Strict):
    """Which slice findings block the release: in every slice, only in `required` ones, or never.

    regressed: the estimate is worse than the champion's beyond the tolerance.
    inconclusive: the estimate is within tolerance but the interval is too wide to show
    non-inferiority (typically a small slice). Non-blocking findings are listed as warnings.
    """

    regressed: Blocks = "all"
    inconclusive: Blocks = "required"


class Slices(_Strict):
    metric: BootstrapMetric = "roc_auc"
    min_support: int = Field(default=200, ge=1)
    tolerance: float = Field(default=0.02, ge=0)
    blocking: SliceBlocking = SliceBlocking()
    items: tuple[Slice, ...] = ()


class Latency(_Strict):
    """Candidate and champion timed interleaved, in rounds, with the serving thread count.

    Budgets are absolute p95s; `max_ratio` bounds candidate p95 / champion p95. A check
    fails only when its whole interval is beyond the limit; when the interval straddles it,
    or the runner is overloaded, the gate measures again (up to `attempts`) and then reports
    "inconclusive" (a warning), never a failure caused by noise.
    """

    single_row_p95_ms: float | None = Field(default=None, gt=0)
    batch_1000_p95_ms: float | None = Field(default=None, gt=0)
    max_ratio: float | None = Field(default=1.5, gt=1)
    rounds: int = Field(default=30, ge=5, le=1000)
    calls_per_round: int = Field(default=20, ge=5, le=1000)
    attempts: int = Field(default=3, ge=1, le=10)
    # The runner counts as overloaded when a fixed calibration loop's slowest round is this
    # many times its fastest, or the champion's own per-round p95s spread this much.
    max_calibration_spread: float = Field(default=3.0, gt=1)
    max_champion_spread: float = Field(default=3.0, gt=0)


class Artifact(_Strict):
    max_size_mb: float | None = Field(default=None, gt=0)


class Evidence(_Strict):
    required_tags: dict[str, str] = {"data_validation": "passed"}
    lineage_tags: tuple[str, ...] = ("git_sha", "data_md5", "eval_md5", "config_sha256", "model_sha256")
    # The candidate must have been trained beside exactly this evaluation set (no leakage across splits).
    eval_set_matches: bool = True


class GateConfig(_Strict):
    bootstrap: Bootstrap = Bootstrap()
    calibration_bins: int = Field(default=ECE_BINS, ge=2, le=100)
    absolute: tuple[Absolute, ...] = ()
    change: tuple[Change, ...] = ()
    slices: Slices = Slices()
    latency: Latency = Latency()
    artifact: Artifact = Artifact()
    evidence: Evidence = Evidence()

    @property
    def bootstrap_metrics(self) -> tuple[str, ...]:
        """Metrics the bootstrap must compute: the configured ones plus the report's headline four."""
        wanted = {"roc_auc", "log_loss", "brier", "ece"}
        wanted |= {a.metric for a in self.absolute if a.metric in BOOTSTRAP_METRICS}
        wanted |= {c.metric for c in self.change}
        return tuple(m for m in BOOTSTRAP_METRICS if m in wanted)


def load(config_dir: Path) -> GateConfig:
    return load_section(config_dir, FILENAME, GateConfig)
