"""The monitoring files under test."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_RULE = REPO / "k8s/base/prometheusrule.yaml"
DASHBOARD = REPO / "k8s/monitoring/dashboard.json"
