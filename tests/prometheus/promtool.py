"""Build `promtool test rules` files from scraped series, and run promtool on them.

Input series are written in promtool's expanding notation: `a+bxn` is a, a+b, ..., a+n*b.
Every counter starts at the value the real server reported, and grows by a per-interval
increment chosen by the scenario.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.prometheus.scrape import Histogram, Sample

_TEMPLATE = re.compile(r"\{\{\s*(\$labels\.(\w+)|\$value(\s*\|\s*(\w+))?)\s*\}\}")


def counter(sample: Sample, step: float, steps: int, **change: str) -> dict[str, str]:
    """A counter series that starts at the scraped value and grows by `step` per interval."""
    return {"series": sample.series(**change), "values": f"{_num(sample.value)}+{_num(step)}x{steps}"}


def counter_segments(sample: Sample, segments: list[tuple[float, int]]) -> dict[str, str]:
    """A counter whose increment changes: [(step, intervals), ...] after the scraped value."""
    value = sample.value
    parts = [_num(value)]
    for step, n in segments:
        value += step
        parts.append(f"{_num(value)}+{_num(step)}x{n - 1}")
        value += step * (n - 1)
    return {"series": sample.series(), "values": " ".join(parts)}


def histogram(hist: Histogram, observations: list[tuple[float, float, int]]) -> list[dict[str, str]]:
    """Bucket, sum and count series for phases of (value observed, observations per interval, intervals).

    Each observation of `value` lands in every bucket whose bound is >= value (cumulative `le` buckets).
    """

    def grow(sample: Sample, per: Any) -> dict[str, str]:
        return counter_segments(sample, [(per(v, r), n) for v, r, n in observations])

    out = [grow(b, lambda v, r, b=b: r if float(b.labels["le"]) >= v else 0.0) for b in hist.buckets]
    out.append(grow(hist.count, lambda v, r: r))
    out.append(grow(hist.sum, lambda v, r: r * v))
    return out


def _num(x: float) -> str:
    return repr(float(x)).removesuffix(".0") if float(x).is_integer() else repr(float(x))


@dataclass
class Scenario:
    """One promtool test: series in, and for every alert of the rules file the alerts expected out."""

    name: str
    series: list[dict[str, str]]
    eval_time: str
    interval: str = "1m"
    # Rules are evaluated at this step from 0 to eval_time: week-long scenarios use a coarse one.
    evaluation_interval: str = "1m"
    firing: dict[str, list[dict[str, dict[str, str]]]] = field(default_factory=dict)

    def as_test(self, all_alerts: list[str]) -> dict[str, Any]:
        return {
            "name": self.name,
            "interval": self.interval,
            "input_series": self.series,
            "alert_rule_test": [
                {"eval_time": self.eval_time, "alertname": a, "exp_alerts": self.firing.get(a, [])}
                for a in all_alerts
            ],
        }


def expected(rule: dict[str, Any], labels: dict[str, str], value: str) -> dict[str, dict[str, str]]:
    """What promtool should report for `rule` firing with these series labels and rendered $value.

    The annotation templates are filled the way Prometheus does for the few forms the rules use
    ({{ $labels.x }}, {{ $value }}, {{ $value | humanize... }}): `value` is the rendered value.
    """

    def fill(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            return labels.get(m.group(2), "<no value>") if m.group(2) else value

        return _TEMPLATE.sub(one, text)

    return {
        "exp_labels": {**labels, **rule.get("labels", {})},
        "exp_annotations": {k: fill(v) for k, v in rule.get("annotations", {}).items()},
    }


def run(
    rules: Path, scenarios: list[Scenario], all_alerts: list[str], tmp: Path
) -> subprocess.CompletedProcess[str]:
    """One promtool run per evaluation interval; a failure of any is the result."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise RuntimeError("promtool not found: install Debian's `prometheus` package (.ci/system-deps.sh)")
    out = None
    for step in dict.fromkeys(s.evaluation_interval for s in scenarios):
        test = tmp / f"alerts_test_{step}.yaml"
        doc = {
            "rule_files": [str(rules)],
            "evaluation_interval": step,
            "tests": [s.as_test(all_alerts) for s in scenarios if s.evaluation_interval == step],
        }
        test.write_text(yaml.safe_dump(doc, sort_keys=False))
        out = subprocess.run(
            [promtool, "test", "rules", str(test)], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            return out
    assert out is not None, "no scenario"
    return out
