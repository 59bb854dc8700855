"""A real Prometheus serving an hour of recorded canary traffic, without waiting an hour for it.

The series come from the server's own metric definitions (`modelops.serve.metrics.Metrics`, one
instance per version, as each version's pod has its own): simulated requests go through the
same counters and histograms the server updates, and the registry is "scraped" every
`scrape_seconds` with timestamps that end now. promtool backfills those scrapes into a TSDB
block (`promtool tsdb create-blocks-from openmetrics`), which a real Prometheus then serves over
its HTTP API, so `modelops canary decide` runs its real queries against a real server.

tests/prometheus/test_canary_live.py covers the other half: real server processes, really scraped.
"""

import math
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.prometheus.server import PrometheusServer, prometheus


@dataclass(frozen=True)
class Traffic:
    """One version's /predict traffic, steady over the recorded history."""

    version: int
    rate: float  # requests per second
    error_ratio: float = 0.0  # share answered 500
    invalid_ratio: float = 0.0  # share rejected by input validation (422)
    latency: float = 0.004  # median seconds per request (log-normal, sigma 0.3)


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for v in labels.values())
    return "{" + ",".join(f'{k}="{v}"' for k, v in zip(labels, escaped, strict=True)) + "}"


def record(traffic: list[Traffic], end: float, seconds: int, scrape_seconds: int = 15, seed: int = 0) -> str:
    """OpenMetrics text of every scrape of each version's metrics over [end - seconds, end]."""
    from modelops.serve.metrics import Metrics

    rng = np.random.default_rng(seed)
    pods = {t.version: Metrics() for t in traffic}
    kinds: dict[str, str] = {}
    # family -> series (sample name + labels) -> [(timestamp, value)]
    points: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    steps = seconds // scrape_seconds
    for k in range(steps + 1):
        at = end - (steps - k) * scrape_seconds
        for t in traffic:
            m, version = pods[t.version], str(t.version)
            if k:  # the first scrape sees the counters at zero, as a freshly started pod's
                n = int(rng.poisson(t.rate * scrape_seconds))
                outcome = rng.choice(
                    3, size=n, p=[1 - t.error_ratio - t.invalid_ratio, t.error_ratio, t.invalid_ratio]
                )
                latency = rng.lognormal(math.log(t.latency), 0.3, size=n)
                for status, seconds_taken in zip(outcome, latency, strict=True):
                    code = ("200", "500", "422")[status]
                    m.requests.labels("predict", code, version).inc()
                    m.latency.labels("predict", code, version).observe(float(seconds_taken))
                    if code == "422":
                        m.validation_failures.labels("predict", version).inc()
            for family in m.registry.collect():  # what /metrics would expose at `at`
                for sample in family.samples:
                    if sample.name.endswith("_created"):
                        continue
                    kinds[family.name] = family.type
                    # The target label Prometheus adds on scrape tells the two pods' series apart.
                    labels = _labels({**sample.labels, "instance": f"serve-v{version}:8080"})
                    points[family.name][sample.name + labels].append((at, float(sample.value)))
    lines = []
    for family_name, series in points.items():
        lines.append(f"# TYPE {family_name} {kinds[family_name]}")
        for name, values in series.items():
            lines += [f"{name} {v!r} {ts:.3f}" for ts, v in values]
    return "\n".join(lines) + "\n# EOF\n"


def backfill(text: str, tsdb: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        raise RuntimeError("promtool not found: install Debian's `prometheus` package (.ci/system-deps.sh)")
    source = tsdb.parent / "history.om"
    source.write_text(text)
    tsdb.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise AssertionError(f"promtool backfill failed:\n{out.stdout}\n{out.stderr}")


@contextmanager
def recorded(
    traffic: list[Traffic], tmp: Path, seconds: int = 3600, seed: int = 0
) -> Iterator[PrometheusServer]:
    """A real Prometheus whose storage holds `seconds` of `traffic` ending now; it scrapes nothing."""
    tmp.mkdir(parents=True, exist_ok=True)
    backfill(record(traffic, time.time(), seconds, seed=seed), tmp / "tsdb")
    with prometheus([], tmp) as prom:
        yield prom
