"""gate.json as one typed model: the gate writes it, the PR comment renders it, promotion reads it.

`src/modelops/gate/gate.schema.json` is generated from `GateReport` (`python -m
modelops.gate.schema > src/modelops/gate/gate.schema.json`); a test keeps the committed file
equal to the generated one. Bump SCHEMA_VERSION on any change a reader must know about.

This module imports only pydantic, so readers (promotion, serving) stay light.
"""

import json
import sys
from pathlib import Path
from typing import Final, Literal

from pydantic import ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

from modelops.errors import MissingEvidence
from modelops.strict import Strict as _Strict

SCHEMA_VERSION: Final = 2
SCHEMA_FILE = Path(__file__).with_name("gate.schema.json")

# pass/fail/missing/skipped as before; `warn` is shown to the reviewer but does not block
# (an inconclusive, non-blocking slice; a latency check the machine's noise could not settle).
Status = Literal["pass", "fail", "missing", "skipped", "warn"]
Kind = Literal["absolute", "change", "slice", "latency", "artifact", "evidence"]
# What a slice's interval says, in words a reviewer can trust (see gates.yaml `slices.blocking`).
Finding = Literal["non-inferior", "regressed", "inconclusive", "too small", "below floor", "first release"]


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class CheckResult:
    """One check's outcome. `failed` (fail or missing evidence) blocks the release."""

    name: str
    kind: Kind
    status: Status
    value: float | str | None
    threshold: str
    message: str
    metric: str | None = None
    interval: tuple[float, float] | None = None
    champion: float | None = None
    delta: float | None = None
    slice: str | None = None
    support: int | None = None
    finding: Finding | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "missing")


class Links(_Strict):
    version: str | None = None
    run: str | None = None
    commit: str | None = None


class ModelFacts(_Strict):
    name: str
    version: int
    uri: str
    run_id: str
    lineage: dict[str, str | None]
    links: Links = Links()


class EvalSet(_Strict):
    path: str
    md5: str
    rows: int
    positive_rate: float | None
    # md5 named by the trusted configs/eval_set.yaml; None when the trusted side has no pin yet.
    pinned_md5: str | None = None


class BootstrapInfo(_Strict):
    method: str
    resamples: int
    confidence: float
    seed: int


class MetricRow(_Strict):
    metric: str
    higher_is_better: bool
    candidate: float | None
    candidate_interval: tuple[float, float] | None
    champion: float | None
    delta: float | None
    delta_interval: tuple[float, float] | None


class ReliabilityBin(_Strict):
    bin_low: float
    bin_high: float
    count: int
    mean_score: float | None
    observed_rate: float | None


class LatencyTiming(_Strict):
    """One workload (single row or a 1,000-row batch), candidate and champion timed interleaved."""

    workload: str
    candidate_p95_ms: float | None
    champion_p95_ms: float | None = None
    # candidate p95 / champion p95 and its percentile interval over resampled rounds
    ratio: float | None = None
    ratio_interval: tuple[float, float] | None = None
    candidate_p95_interval_ms: tuple[float, float] | None = None
    # spread of the per-round p95s: (max - min) / median, candidate and champion
    candidate_spread: float | None = None
    champion_spread: float | None = None


class LatencyReport(_Strict):
    threads: int
    rounds: int
    attempts: int
    overloaded: bool
    calibration_spread: float | None
    timings: tuple[LatencyTiming, ...] = ()
    note: str | None = None


class Rules(_Strict):
    """Digests of the rule files the gate read (raw bytes), and where they came from."""

    source: str  # "trusted" (--rules-from) or "local"
    gates_sha256: str
    features_sha256: str
    eval_set_md5: str


class RuleChange(_Strict):
    file: str
    diff: str
    rotation: bool


class Artifact(_Strict):
    size_bytes: int | None


class GateReport(_Strict):
    """The gate's report (gate.json). An `error` report carries only what was known."""

    schema_version: Literal[2] = SCHEMA_VERSION
    verdict: Literal["pass", "fail", "error"]
    summary: str
    candidate: ModelFacts | None
    champion: ModelFacts | None = None
    first_release: bool = False
    note: str | None = None
    rules: Rules | None = None
    # Rule files the PR head changes: the PR was judged by the trusted rules regardless.
    rule_changes: tuple[RuleChange, ...] = ()
    warnings: tuple[str, ...] = ()
    eval_set: EvalSet | None = None
    bootstrap: BootstrapInfo | None = None
    metrics: tuple[MetricRow, ...] = ()
    checks: tuple[CheckResult, ...] = ()
    reliability: dict[str, tuple[ReliabilityBin, ...]] = Field(default_factory=dict)
    latency: LatencyReport | None = None
    artifact: Artifact | None = None
    error: str | None = None
    reproduce: str

    def to_json(self) -> bytes:
        """The canonical bytes (their sha256 is the `gate.report_sha256` tag)."""
        return (json.dumps(self.model_dump(mode="json"), indent=2, allow_nan=False) + "\n").encode()


def load_gate_report(source: bytes | str | Path) -> GateReport:
    """Parse gate.json bytes or a path to it; a malformed report is missing evidence, naming the field."""
    where = str(source) if isinstance(source, (str, Path)) else "gate.json"
    try:
        blob = Path(source).read_bytes() if isinstance(source, (str, Path)) else source
        return GateReport.model_validate_json(blob)
    except OSError as exc:
        raise MissingEvidence(f"{where}: cannot read the gate report ({exc.strerror})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise MissingEvidence(
            f"{where}: not a gate report (schema {SCHEMA_VERSION}): {field}: {first['msg']}"
        ) from exc


def json_schema() -> str:
    return json.dumps(GateReport.model_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(json_schema())
