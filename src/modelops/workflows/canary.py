"""`modelops canary decide`: gather the canary's evidence, apply the release step's policy, record it.

Facts come from two places: Prometheus (each version's live request rate, error and
validation-failure ratios and latency over the canary window) and `modelops monitor` on each
track's own predictions (drift and quality). The decision is `modelops.release.canary.decide`;
this module only gathers, writes decision.json / decision.md, and says what to propose.
"""

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from modelops.adapters.prometheus import Prometheus
from modelops.errors import MetricsUnavailable, ModelOpsError
from modelops.release import canary as policy
from modelops.release.state import track_version
from modelops.settings import Settings, load_settings

if TYPE_CHECKING:
    from modelops.adapters.tracking import Registry
    from modelops.monitor.job import Inputs

log = logging.getLogger(__name__)
PROMETHEUS_URL_ENV = "PROMETHEUS_URL"


class Metrics(Protocol):
    """The two PromQL reads the canary needs (`adapters.prometheus.Prometheus`, or a fake)."""

    def scalar(self, query: str, at: float) -> float | None: ...

    def series(self, query: str, start: float, end: float, step: float) -> list[float | None]: ...


@dataclass(frozen=True)
class Options:
    out: Path
    prometheus: str | None = None  # overrides configs/canary.yaml and $PROMETHEUS_URL
    predictions: Path | None = None  # prediction log covering both tracks; None: monitoring not run
    store: str | None = None  # prediction store URI (PREDICTION_STORE); read over the canary window
    labels: Path | None = None
    min_requests: int | None = None  # overrides configs/canary.yaml
    now: float | None = None  # end of the window (unix time); default: now


def prometheus_url(opts: Options, cfg: policy.CanaryConfig, env: dict[str, str]) -> str:
    url = opts.prometheus or cfg.prometheus.url or env.get(PROMETHEUS_URL_ENV, "")
    if not url:
        raise MetricsUnavailable(
            f"no Prometheus URL: pass --prometheus, set prometheus.url in configs/{policy.FILENAME} "
            f"or ${PROMETHEUS_URL_ENV}"
        )
    return url


def read_live(prom: Metrics, version: int, cfg: policy.CanaryConfig, end: float) -> policy.LiveMetrics:
    """One version's window values and per-interval samples from Prometheus."""
    q = policy.queries(version, cfg)
    step = float(cfg.interval_seconds)
    # The first point covers the interval ending at `start`: begin one interval into the window.
    start = end - cfg.window_seconds + step
    window = {k: prom.scalar(v, end) for k, v in q.items() if k.endswith("_window")}
    per = {
        k: prom.series(q[k], start, end, step)
        for k in ("requests", "errors", "validation_failures", "latency_p95")
    }
    series = policy.Series(
        requests=[x or 0.0 for x in per["requests"]],
        errors=[x or 0.0 for x in per["errors"]],
        validation_failures=[x or 0.0 for x in per["validation_failures"]],
        latency_p95=per["latency_p95"],
    )
    return policy.live_metrics(version, window, series, cfg)


def _read_tracks(
    metrics: Metrics, versions: dict[str, int | None], cfg: policy.CanaryConfig, end: float
) -> dict[str, policy.LiveMetrics | None]:
    return {t: read_live(metrics, v, cfg, end) if v is not None else None for t, v in versions.items()}


def split_by_version(
    log_path: Path, versions: dict[str, int | None], out_dir: Path
) -> dict[str, tuple[Path, int]]:
    """Write each track's lines of the JSONL log to out_dir/<track>/predictions.jsonl; count them.

    Unparseable lines are left to `modelops monitor`, which counts and reports them.
    """
    wanted = {str(v): track for track, v in versions.items() if v is not None}
    paths = {track: out_dir / track / "predictions.jsonl" for track in versions}
    counts = dict.fromkeys(versions, 0)
    handles = {}
    try:
        for track, path in paths.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handles[track] = path.open("w")
        with log_path.open() as lines:
            for line in lines:
                try:
                    version = str(json.loads(line).get("model_version"))
                except (json.JSONDecodeError, AttributeError):
                    continue
                hit = wanted.get(version)
                if hit is not None:
                    handles[hit].write(line if line.endswith("\n") else line + "\n")
                    counts[hit] += 1
    finally:
        for handle in handles.values():
            handle.close()
    return {track: (paths[track], counts[track]) for track in versions}


def _monitor(settings: Settings, inputs: "Inputs", registry: "Registry | None") -> dict[str, Any]:
    """The monitor job, as `modelops monitor` runs it, with the registry's scorer in a scratch dir."""
    from modelops.monitor import config, job
    from modelops.monitor.commands import registry_scorer

    with tempfile.TemporaryDirectory(prefix="modelops-canary-") as tmp:
        scorer = registry_scorer(settings, Path(tmp), registry)
        return job.run(settings, config.load(settings), inputs, scorer)


def monitor_track(
    settings: Settings,
    predictions: Path,
    labels: Path | None,
    out: Path,
    registry: "Registry | None" = None,
) -> policy.MonitorVerdict:
    """`modelops monitor` on one track's predictions; its verdict, or "error" when it could not evaluate."""
    from modelops.monitor import job

    try:
        inputs = job.Inputs(predictions=predictions, out=out, labels=labels)
        summary = _monitor(settings, inputs, registry)
    except ModelOpsError as exc:
        log.error("monitoring %s could not evaluate: %s", predictions, exc)
        return "error"
    return summary["verdict"]  # type: ignore[no-any-return]


def monitor_store(
    settings: Settings,
    store: str,
    since: str,
    labels: Path | None,
    versions: dict[str, int | None],
    out: Path,
    registry: "Registry | None" = None,
) -> dict[str, tuple[policy.MonitorVerdict, int]]:
    """`modelops monitor --store` over the window, once for both tracks; each track's verdict and rows."""
    from modelops.monitor import job

    inputs = job.Inputs(predictions=None, out=out, labels=labels, store=store, since=since)
    try:
        summary = _monitor(settings, inputs, registry)
    except ModelOpsError as exc:
        log.error("monitoring the store %s could not evaluate: %s", store, exc)
        return {track: ("error", 0) for track in versions}
    sections = {str(s["model_version"]): s for s in summary["versions"]}
    result: dict[str, tuple[policy.MonitorVerdict, int]] = {}
    for track, version in versions.items():
        section = sections.get(str(version)) if version is not None else None
        result[track] = (section["verdict"], section["rows"]) if section else ("no traffic", 0)
    return result


def run(
    root: Path,
    opts: Options,
    env: dict[str, str] | None = None,
    *,
    metrics: Metrics | None = None,
    registry: "Registry | None" = None,
) -> policy.Decision:
    """Gather both tracks' evidence, decide, and write decision.json and decision.md into opts.out.

    `metrics` defaults to the configured Prometheus, `registry` (the monitor's scorer) to the
    project's MLflow store.
    """
    env = dict(os.environ) if env is None else env
    settings = load_settings(root)
    cfg = policy.load_config(settings.config_dir)
    if opts.min_requests is not None:
        cfg = cfg.model_copy(update={"min_requests": opts.min_requests})
    opts.out.mkdir(parents=True, exist_ok=True)
    versions = {"canary": track_version(root, "canary"), "stable": track_version(root, "stable")}
    end = opts.now if opts.now is not None else time.time()
    live: dict[str, policy.LiveMetrics | None] = dict.fromkeys(versions)
    if versions["canary"] is not None and versions["canary"] != versions["stable"]:
        if metrics is not None:
            live = _read_tracks(metrics, versions, cfg, end)
        else:
            with Prometheus(prometheus_url(opts, cfg, env), cfg.prometheus.timeout_seconds) as prom:
                live = _read_tracks(prom, versions, cfg, end)
    monitor: dict[str, tuple[policy.MonitorVerdict, int]] = dict.fromkeys(versions, ("not run", 0))
    if opts.store is not None:
        since = f"{max(1, cfg.window_seconds // 60)}m"
        monitor = monitor_store(
            settings, opts.store, since, opts.labels, versions, opts.out / "monitor", registry
        )
    elif opts.predictions is not None:
        for track, (path, rows) in split_by_version(opts.predictions, versions, opts.out).items():
            if versions[track] is not None and rows > 0:
                verdict = monitor_track(settings, path, opts.labels, opts.out / track, registry)
                monitor[track] = (verdict, rows)
            else:
                monitor[track] = ("no traffic", rows)
    reports = {
        t: policy.TrackReport(
            track=t, version=v, live=live[t], monitor=monitor[t][0], monitor_rows=monitor[t][1]
        )
        for t, v in versions.items()
    }
    decision = policy.decide(reports["canary"], reports["stable"], cfg)
    (opts.out / "decision.json").write_text(decision.model_dump_json(indent=2) + "\n")
    (opts.out / "decision.md").write_text(policy.render(decision))
    return decision
