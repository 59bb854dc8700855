"""The canary policy: promote, hold or revert, from live metrics and monitoring verdicts.

Pure functions over plain data: `queries` says what to ask Prometheus, `compare` judges one
live metric of the canary against stable, `decide` combines every judgement with the
monitoring verdicts of both tracks. Gathering the facts (Prometheus, prediction logs) and
acting on the decision (a PR) is `modelops.workflows.canary`.

Live metrics are compared the way Kayenta does: per-interval samples of each track over the
canary window, a one-sided Mann-Whitney U test (is the canary worse?), and configured
absolute limits. Too little canary traffic is never a promotion: it holds.
"""

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelops.release.config import _Strict
from modelops.settings import load_section

FILENAME = "canary.yaml"
Action = Literal["promote", "rollback", "hold", "none"]
Verdict = Literal["pass", "fail", "insufficient"]
# What `modelops monitor` concludes for a track (its summary verdicts), plus the two states
# in which it did not judge: no log/store was given, or it could not evaluate.
MonitorVerdict = Literal["healthy", "alert", "no traffic", "insufficient traffic", "error", "not run"]
QUANTILES = (0.5, 0.95, 0.99)


class Limits(_Strict):
    """Absolute limits on the canary over the whole window: beyond one, it is reverted."""

    max_error_ratio: float = Field(default=0.02, ge=0, le=1)
    max_validation_failure_ratio: float = Field(default=0.05, ge=0, le=1)
    max_latency_p95_seconds: float = Field(default=0.25, gt=0)


class Tolerances(_Strict):
    """How much worse than stable the canary may be when the difference is significant."""

    error_ratio_points: float = Field(default=0.005, ge=0, le=1)
    validation_failure_ratio_points: float = Field(default=0.01, ge=0, le=1)
    latency_p95_ratio: float = Field(default=1.2, ge=1)


class PrometheusConfig(_Strict):
    url: str = ""  # empty: --prometheus, else $PROMETHEUS_URL
    timeout_seconds: float = Field(default=10, gt=0)
    # Extra label matchers added to every query, e.g. 'namespace="ml", job="modelops-serve"'.
    selector: str = ""


class CanaryConfig(_Strict):
    prometheus: PrometheusConfig = PrometheusConfig()
    window_seconds: int = Field(default=3600, ge=1)
    interval_seconds: int = Field(default=60, ge=1)
    min_requests: int = Field(default=1000, ge=1)
    min_intervals: int = Field(default=10, ge=2)
    alpha: float = Field(default=0.01, gt=0, lt=1)
    require_monitoring: bool = True
    limits: Limits = Limits()
    tolerances: Tolerances = Tolerances()

    @model_validator(mode="after")
    def _interval_fits(self) -> "CanaryConfig":
        if self.interval_seconds * self.min_intervals > self.window_seconds:
            raise ValueError(
                f"window_seconds {self.window_seconds} holds fewer than min_intervals "
                f"{self.min_intervals} intervals of {self.interval_seconds} s"
            )
        return self


def load_config(config_dir: Path) -> CanaryConfig:
    return load_section(config_dir, FILENAME, CanaryConfig)


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LiveMetrics(_Report):
    """One version's live metrics over the window, and per-interval samples for the tests."""

    version: int
    requests: float  # /predict requests in the window
    request_rate: float  # per second
    error_ratio: float | None  # 5xx share; None without requests
    validation_failure_ratio: float | None
    latency: dict[str, float | None]  # "p50"/"p95"/"p99" of answered requests, seconds
    intervals: int  # intervals in which this version served requests
    error_ratio_samples: list[float]
    validation_failure_ratio_samples: list[float]
    latency_p95_samples: list[float]


class Comparison(_Report):
    metric: str
    canary: float | None
    stable: float | None
    limit: str
    p_value: float | None
    verdict: Verdict
    reason: str


class TrackReport(_Report):
    track: str
    version: int | None
    live: LiveMetrics | None = None
    monitor: MonitorVerdict = "not run"
    monitor_rows: int = 0


class Decision(_Report):
    """decision.json: what to do, why, and every piece of evidence it rests on."""

    schema_version: Literal[1] = 1
    action: Action
    reason: str
    canary: TrackReport
    stable: TrackReport
    comparisons: list[Comparison] = []
    window_seconds: int
    interval_seconds: int


class Series(_Report):
    """Per-interval counts and p95 of one version, aligned on the same interval timestamps."""

    requests: list[float]
    errors: list[float]
    validation_failures: list[float]
    latency_p95: list[float | None]


def queries(version: int, cfg: CanaryConfig) -> dict[str, str]:
    """PromQL for one version: `*_window` are instant queries over the window, the rest per interval.

    The label names and values are the ones the server exports and the alerts select
    (docs/INTERFACES.md); tests/prometheus checks every selector against a real scrape.
    """
    extra = f", {cfg.prometheus.selector}" if cfg.prometheus.selector.strip() else ""
    sel = f'endpoint="predict", model_version="{version}"{extra}'
    ok = f'{sel}, status=~"2.."'
    w, i = f"{cfg.window_seconds}s", f"{cfg.interval_seconds}s"

    def latency(q: float, rng: str) -> str:
        return (
            f"histogram_quantile({q}, sum by (le) "
            f"(rate(modelops_request_latency_seconds_bucket{{{ok}}}[{rng}])))"
        )

    out = {
        "requests": f"sum(increase(modelops_requests_total{{{sel}}}[{i}]))",
        "errors": f'sum(increase(modelops_requests_total{{{sel}, status=~"5.."}}[{i}]))',
        "validation_failures": f"sum(increase(modelops_validation_failures_total{{{sel}}}[{i}]))",
        "latency_p95": latency(0.95, i),
        "requests_window": f"sum(increase(modelops_requests_total{{{sel}}}[{w}]))",
        "errors_window": f'sum(increase(modelops_requests_total{{{sel}, status=~"5.."}}[{w}]))',
        "validation_failures_window": f"sum(increase(modelops_validation_failures_total{{{sel}}}[{w}]))",
    }
    out |= {f"latency_p{round(q * 100)}_window": latency(q, w) for q in QUANTILES}
    return out


def _ratio(part: float | None, whole: float | None) -> float | None:
    if not whole or whole <= 0:
        return None
    return (part or 0.0) / whole


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def live_metrics(
    version: int, window: Mapping[str, float | None], series: Series, cfg: CanaryConfig
) -> LiveMetrics:
    """Summarise a version's window values and keep the samples of intervals in which it served."""
    requests = window.get("requests_window") or 0.0
    served = [k for k, n in enumerate(series.requests) if n > 0]
    p95 = [series.latency_p95[k] for k in served]
    return LiveMetrics(
        version=version,
        requests=requests,
        request_rate=requests / cfg.window_seconds,
        error_ratio=_ratio(window.get("errors_window"), requests),
        validation_failure_ratio=_ratio(window.get("validation_failures_window"), requests),
        latency={
            f"p{round(q * 100)}": v if _finite(v := window.get(f"latency_p{round(q * 100)}_window")) else None
            for q in QUANTILES
        },
        intervals=len(served),
        error_ratio_samples=[series.errors[k] / series.requests[k] for k in served],
        validation_failure_ratio_samples=[series.validation_failures[k] / series.requests[k] for k in served],
        latency_p95_samples=[x for x in p95 if _finite(x)],  # type: ignore[misc]
    )


def worse_p_value(canary: Sequence[float], stable: Sequence[float]) -> float:
    """One-sided Mann-Whitney U: the probability of samples this much larger if the canary were no worse."""
    from scipy.stats import mannwhitneyu

    if len(set(canary) | set(stable)) <= 1:
        return 1.0  # all samples equal (e.g. no errors anywhere): no evidence either way
    return float(mannwhitneyu(canary, stable, alternative="greater").pvalue)


def compare(
    metric: str,
    canary: float | None,
    stable: float | None,
    canary_samples: Sequence[float],
    stable_samples: Sequence[float] | None,
    limit: float,
    worse_by: float,
    relative: bool,
    cfg: CanaryConfig,
) -> Comparison:
    """Fail on the absolute limit, or on a significant difference beyond the tolerance; else pass.

    `stable_samples` None means no stable track serves (a first release): the limit alone judges.
    """
    tol = f"x{worse_by:g} of stable" if relative else f"+{worse_by:g} over stable"
    text = f"<= {limit:g}; and not significantly worse than stable beyond {tol} (alpha {cfg.alpha:g})"

    def out(verdict: Verdict, reason: str, p: float | None = None) -> Comparison:
        return Comparison(
            metric=metric, canary=canary, stable=stable, limit=text, p_value=p, verdict=verdict, reason=reason
        )

    if canary is None:
        return out("insufficient", "no canary measurement in the window")
    if canary > limit:
        return out("fail", f"canary {metric} {canary:.4g} is over the limit {limit:g}")
    stable_n = len(stable_samples) if stable_samples is not None else cfg.min_intervals
    if len(canary_samples) < cfg.min_intervals or stable_n < cfg.min_intervals:
        return out(
            "insufficient",
            f"{len(canary_samples)} canary / {stable_n} stable intervals with traffic; "
            f"{cfg.min_intervals} needed to compare",
        )
    if stable_samples is None:
        return out("pass", f"canary {canary:.4g} within the limit; no stable track to compare with")
    p = worse_p_value(canary_samples, stable_samples)
    if stable is None:
        return out("insufficient", "no stable measurement to compare with", p)
    bound = stable * worse_by if relative else stable + worse_by
    if p < cfg.alpha and canary > bound:
        return out(
            "fail",
            f"canary {metric} {canary:.4g} is significantly worse than stable {stable:.4g} "
            f"(Mann-Whitney p={p:.2g} < {cfg.alpha:g}) and beyond {tol}",
            p,
        )
    return out("pass", f"canary {canary:.4g} vs stable {stable:.4g} (p={p:.2g})", p)


def comparisons(canary: LiveMetrics, stable: LiveMetrics | None, cfg: CanaryConfig) -> list[Comparison]:
    """Each live metric of the canary judged against stable (None: no stable track, limits only)."""
    lim, tol = cfg.limits, cfg.tolerances
    none = LiveMetrics(
        version=0,
        requests=0,
        request_rate=0,
        error_ratio=None,
        validation_failure_ratio=None,
        latency={"p95": None},
        intervals=0,
        error_ratio_samples=[],
        validation_failure_ratio_samples=[],
        latency_p95_samples=[],
    )
    ref = stable or none

    def samples(values: list[float]) -> list[float] | None:
        return values if stable is not None else None

    return [
        compare(
            "error_ratio",
            canary.error_ratio,
            ref.error_ratio,
            canary.error_ratio_samples,
            samples(ref.error_ratio_samples),
            lim.max_error_ratio,
            tol.error_ratio_points,
            False,
            cfg,
        ),
        compare(
            "validation_failure_ratio",
            canary.validation_failure_ratio,
            ref.validation_failure_ratio,
            canary.validation_failure_ratio_samples,
            samples(ref.validation_failure_ratio_samples),
            lim.max_validation_failure_ratio,
            tol.validation_failure_ratio_points,
            False,
            cfg,
        ),
        compare(
            "latency_p95_seconds",
            canary.latency["p95"],
            ref.latency["p95"],
            canary.latency_p95_samples,
            samples(ref.latency_p95_samples),
            lim.max_latency_p95_seconds,
            tol.latency_p95_ratio,
            True,
            cfg,
        ),
    ]


def decide(canary: TrackReport, stable: TrackReport, cfg: CanaryConfig) -> Decision:
    """The policy, in order: nothing to judge; revert on evidence; hold on doubt; promote."""
    checks: list[Comparison] = []
    if canary.live is not None and (stable.live is not None or stable.version is None):
        checks = comparisons(canary.live, stable.live, cfg)

    def out(action: Action, reason: str) -> Decision:
        return Decision(
            action=action,
            reason=reason,
            canary=canary,
            stable=stable,
            comparisons=checks,
            window_seconds=cfg.window_seconds,
            interval_seconds=cfg.interval_seconds,
        )

    if canary.version is None:
        return out("none", "no canary is deployed")
    if canary.version == stable.version:
        return out("none", f"canary and stable both serve v{canary.version}")
    if canary.monitor == "alert" and stable.monitor == "alert":
        return out(
            "hold", "both tracks' monitoring alerts: the cause is upstream of the model, not the canary"
        )
    if canary.monitor == "alert":
        return out(
            "rollback", f"canary v{canary.version}'s monitoring alerts while stable is {stable.monitor}"
        )
    failed = [c for c in checks if c.verdict == "fail"]
    requests = canary.live.requests if canary.live else 0.0
    if failed and requests >= cfg.min_requests:
        return out("rollback", "; ".join(c.reason for c in failed))
    if requests < cfg.min_requests:
        return out(
            "hold", f"canary served {requests:.0f} requests in the window; {cfg.min_requests} needed to judge"
        )
    if "error" in (canary.monitor, stable.monitor):
        return out("hold", "monitoring could not evaluate a track; fix it before deciding")
    if cfg.require_monitoring and canary.monitor not in ("healthy",):
        return out(
            "hold",
            f"monitoring has not judged the canary's predictions ({canary.monitor}); "
            "require_monitoring is on",
        )
    unsure = [c for c in checks if c.verdict == "insufficient"]
    if not checks or unsure:
        why = "; ".join(f"{c.metric}: {c.reason}" for c in unsure) or "no live metrics for a track"
        return out("hold", f"live metrics cannot judge the canary yet ({why})")
    return out("promote", f"canary v{canary.version} is healthy on {requests:.0f} requests")


def render(decision: Decision) -> str:
    """decision.md: the verdict first, then the live comparison and each track's evidence."""

    def num(x: float | None, fmt: str = ".4g") -> str:
        return "-" if x is None else format(x, fmt)

    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x * 1000:.1f} ms"

    tracks = (decision.canary, decision.stable)
    rows = []
    for t in tracks:
        live = t.live
        cells = ["-"] * 7
        if live is not None:
            cells = [
                num(live.requests, ".0f"),
                num(live.request_rate, ".3g"),
                num(live.error_ratio),
                num(live.validation_failure_ratio),
                *(ms(live.latency.get(q)) for q in ("p50", "p95", "p99")),
            ]
        version = "-" if t.version is None else f"v{t.version}"
        rows.append(f"| {t.track} | {version} | {' | '.join(cells)} | {t.monitor} ({t.monitor_rows} rows) |")
    checks = "\n".join(
        f"| {c.metric} | {num(c.canary)} | {num(c.stable)} | {num(c.p_value, '.2g')} "
        f"| {c.verdict} | {c.reason} |"
        for c in decision.comparisons
    )
    window = f"{decision.window_seconds} s window, {decision.interval_seconds} s intervals"
    return (
        f"## Canary decision: **{decision.action}**\n\n{decision.reason}.\n\n"
        f"### Live metrics (Prometheus, {window})\n\n"
        "| track | version | requests | req/s | error ratio (5xx) | validation failures | p50 | p95 | p99 "
        "| monitoring |\n|---|---|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\n### Canary vs stable\n\n"
        + (
            "| metric | canary | stable | p (Mann-Whitney, canary worse) | verdict | why |\n"
            "|---|---|---|---|---|---|\n" + checks
            if checks
            else "No comparison: live metrics are missing for a track."
        )
        + "\n\nPer-track monitoring reports: `canary/` and `stable/` in this run's artifact.\n"
    )
