"""Every PrometheusRule alert, run by `promtool test rules` on series a real server exported.

Each scenario feeds promtool the scraped series (names and label sets exactly as the server
wrote them) growing the way a failure would make them grow, and states for EVERY alert
whether it fires: the alert a failure is for fires, the others stay quiet, and all of them
stay quiet on healthy traffic.
"""

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.prometheus import promtool
from tests.prometheus.conftest import Served
from tests.prometheus.paths import PROMETHEUS_RULE
from tests.prometheus.promtool import Scenario, counter, expected, histogram

pytestmark = pytest.mark.integration

RATE = 100.0  # requests per minute in every scenario
FAST, SLOW = 0.002, 0.3  # seconds: well inside / outside the 250 ms p95 budget
MINUTES = 40


def rules() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(PROMETHEUS_RULE.read_text())
    return {r["alert"]: r for g in doc["spec"]["groups"] for r in g["rules"]}


def version_labels(served: Served) -> dict[str, str]:
    """The labels the per-version alerts keep (`sum by (model_version)`), from the scraped score series."""
    return dict(served.score.count.labels)


def traffic(
    served: Served,
    ok: float = RATE,
    rejected: float = 0.0,
    failed: float = 0.0,
    latency: float = FAST,
    score: float = 0.25,
    minutes: int = MINUTES,
) -> list[dict[str, str]]:
    """Every series of one served version over `minutes`, growing at the given per-minute rates."""
    return [
        counter(served.ok, ok, minutes),
        counter(served.rejected, rejected, minutes),
        counter(served.validation, rejected, minutes),
        counter(served.failed, failed, minutes),
        *histogram(served.latency, [(latency, ok, minutes)]),
        *histogram(served.score, [(score, ok, minutes)]),
    ]


def scenarios(served: Served) -> list[Scenario]:
    r = rules()
    v = version_labels(served)
    at = f"{MINUTES}m"
    week = 7 * 24 * 12  # five-minute intervals in 7 days
    return [
        Scenario("healthy traffic: nothing fires", traffic(served, rejected=1.0), at),
        Scenario(
            "p95 latency 300 ms: latency fires",
            traffic(served, latency=SLOW),
            at,
            # All observations in the (0.25, 0.5] bucket: p95 = 0.25 + 0.95 * 0.25 s.
            firing={"ModelopsLatencyP95High": [expected(r["ModelopsLatencyP95High"], v, "487.5ms")]},
        ),
        Scenario(
            "10% of requests answered 503: error ratio fires",
            traffic(served, ok=RATE * 0.9, failed=RATE * 0.1),
            at,
            firing={"ModelopsErrorRatioHigh": [expected(r["ModelopsErrorRatioHigh"], v, "10%")]},
        ),
        Scenario(
            "10% of requests rejected (4xx): validation fires, error ratio does not",
            traffic(served, ok=RATE * 0.9, rejected=RATE * 0.1),
            at,
            firing={
                "ModelopsValidationFailureRatioHigh": [
                    expected(r["ModelopsValidationFailureRatioHigh"], v, "10%")
                ]
            },
        ),
        Scenario(
            "traffic stops: no-traffic fires",
            traffic(served, ok=0.0),
            at,
            firing={"ModelopsNoTraffic": [expected(r["ModelopsNoTraffic"], {}, "")]},
        ),
        Scenario(
            "the server never exported a request series: no-traffic fires",
            [counter(served.scrape.named("modelops_prediction_log_dropped_total")[0], 0.0, MINUTES)],
            at,
            firing={
                "ModelopsNoTraffic": [
                    # absent() keeps the selector's equality matchers as the alert's labels.
                    expected(r["ModelopsNoTraffic"], {"endpoint": served.ok.labels["endpoint"]}, "")
                ]
            },
        ),
        Scenario(
            "mean score steady for a week: score shift stays quiet",
            [
                counter(served.ok, RATE * 5, week + 36),
                *histogram(served.score, [(0.25, RATE * 5, week + 36)]),
            ],
            f"{week * 5 + 180}m",
            interval="5m",
            evaluation_interval="15m",
        ),
        Scenario(
            "mean score 0.25 for a week, then 0.75 for an hour: score shift fires",
            [
                counter(served.ok, RATE * 5, week + 36),
                *histogram(served.score, [(0.25, RATE * 5, week + 24), (0.75, RATE * 5, 12)]),
            ],
            f"{(week + 36) * 5}m",
            interval="5m",
            evaluation_interval="15m",
            firing={"ModelopsPredictionScoreShift": [expected(r["ModelopsPredictionScoreShift"], v, "0.5")]},
        ),
    ]


def test_rules_file_has_the_alerts_the_scenarios_cover(served: Served) -> None:
    covered = {a for s in scenarios(served) for a in s.firing}
    assert covered == set(rules()), "every alert needs a scenario in which it fires"


def test_every_alert_fires_on_its_failure_and_not_on_healthy_series(
    served: Served, rules_file: Path, tmp_path: Path
) -> None:
    out = promtool.run(rules_file, scenarios(served), sorted(rules()), tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_renamed_label_value_silences_the_alert(served: Served, rules_file: Path, tmp_path: Path) -> None:
    """The check above is not vacuous: series labelled as before the fix (endpoint="/predict") never fire."""
    r = rules()
    old = served.ok.labels["endpoint"]
    renamed = [
        {**s, "series": s["series"].replace(f'"{old}"', f'"/{old}"')}
        for s in traffic(served, ok=RATE * 0.9, failed=RATE * 0.1)
    ]
    scenario = Scenario(
        "renamed",
        renamed,
        f"{MINUTES}m",
        firing={
            "ModelopsErrorRatioHigh": [expected(r["ModelopsErrorRatioHigh"], version_labels(served), "10%")]
        },
    )
    out = promtool.run(rules_file, [scenario], ["ModelopsErrorRatioHigh"], tmp_path)
    assert out.returncode != 0 and "ModelopsErrorRatioHigh" in out.stdout + out.stderr
