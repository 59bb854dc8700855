"""Every query of the dashboard, the alerts and the canary selects series a real server exports.

The selectors (metric names and label matchers) are parsed out of each PromQL expression and
checked against the series scraped from real `modelops serve` processes (`served`), so a
label renamed on either side fails here.
"""

import json
from typing import Any

import pytest
import yaml

from modelops.release.canary import CanaryConfig, queries
from tests.prometheus.conftest import Served
from tests.prometheus.paths import DASHBOARD, PROMETHEUS_RULE
from tests.prometheus.selectors import selectors, unmatched

pytestmark = pytest.mark.integration


def dashboard_exprs(version: str) -> dict[str, str]:
    """Each target's PromQL with the Grafana variable set to `version` (a value or "All")."""
    dash = json.loads(DASHBOARD.read_text())
    value = ".*" if version == "All" else version
    out = {}
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            out[f"{panel['title']} / {t['refId']}"] = t["expr"].replace("$model_version", value)
    for var in dash["templating"]["list"]:
        if var.get("type") == "query":
            out[f"variable {var['name']}"] = var["definition"]
    return out


def alert_exprs() -> dict[str, str]:
    doc: dict[str, Any] = yaml.safe_load(PROMETHEUS_RULE.read_text())
    return {r["alert"]: r["expr"] for g in doc["spec"]["groups"] for r in g["rules"]}


def test_selector_parser_reads_names_and_every_matcher() -> None:
    (s,) = selectors('sum(rate(modelops_requests_total{endpoint="predict", status=~"5..",x!="y"}[5m]))')
    assert s.metric == "modelops_requests_total"
    assert [(m.label, m.op, m.value) for m in s.matchers] == [
        ("endpoint", "=", "predict"),
        ("status", "=~", "5.."),
        ("x", "!=", "y"),
    ]
    with pytest.raises(ValueError, match="cannot parse"):
        selectors("modelops_requests_total{endpoint=predict}")


@pytest.mark.parametrize("version", ["All", "scraped"])
def test_every_dashboard_query_selects_exported_series(served: Served, version: str) -> None:
    value = served.ok.labels.get("model_version", "") if version == "scraped" else "All"
    exprs = dashboard_exprs(value)
    assert len(exprs) >= 10
    bad = {name: miss for name, e in exprs.items() if (miss := unmatched(e, served.scrape.samples))}
    assert bad == {}


def test_every_alert_selects_exported_series(served: Served) -> None:
    bad = {name: miss for name, e in alert_exprs().items() if (miss := unmatched(e, served.scrape.samples))}
    assert bad == {}


def test_every_canary_query_selects_exported_series(served: Served) -> None:
    version = int(served.ok.labels["model_version"])
    bad = {
        name: miss
        for name, e in queries(version, CanaryConfig()).items()
        if (miss := unmatched(e, served.scrape.samples))
    }
    assert bad == {}


def test_the_check_catches_the_old_label_value(served: Served) -> None:
    """Before the fix every query said endpoint="/predict": the check must reject that."""
    old = alert_exprs()["ModelopsErrorRatioHigh"].replace('endpoint="predict"', 'endpoint="/predict"')
    assert unmatched(old, served.scrape.samples)
    assert unmatched(
        'rate(modelops_request_latency_seconds_bucket{handler="predict"}[5m])', served.scrape.samples
    )
