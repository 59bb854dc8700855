"""`modelops canary decide`'s glue over fakes: live metrics from an in-memory Prometheus, the
monitor's scorer from the in-memory registry, both tracks' predictions as one JSON-lines log.

Seconds, not minutes: no Prometheus server, no MLflow store, no served process. The same glue
against a real Prometheus and act stays in test_canary.py and test_act_canary.py.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from modelops.release import canary as policy
from modelops.workflows import canary
from tests.monitor.test_monitor_memory import SERVED_ROWS, Served, served_project, synthesise

END = 1_750_000_000.0


@dataclass
class Version:
    """One version's traffic per interval: requests, 5xx errors, validation failures, p95 seconds."""

    requests: float = 40.0
    errors: float = 0.0
    failures: float = 0.0
    p95: float = 0.05


@dataclass
class FakePrometheus:
    """Answers exactly the PromQL `policy.queries` writes for the versions it knows."""

    cfg: policy.CanaryConfig
    versions: dict[int, Version]
    asked: list[str] = field(default_factory=list)

    def _lookup(self, query: str) -> tuple[Version, str]:
        self.asked.append(query)
        for version, traffic in self.versions.items():
            for name, text in policy.queries(version, self.cfg).items():
                if text == query:
                    return traffic, name
        raise AssertionError(f"unexpected query {query}")

    def scalar(self, query: str, at: float) -> float | None:
        traffic, name = self._lookup(query)
        intervals = self.cfg.window_seconds // self.cfg.interval_seconds
        per = {
            "requests": traffic.requests,
            "errors": traffic.errors,
            "validation_failures": traffic.failures,
        }
        if name.startswith("latency_"):
            return traffic.p95
        return per[name.removesuffix("_window")] * intervals

    def series(self, query: str, start: float, end: float, step: float) -> list[float | None]:
        traffic, name = self._lookup(query)
        value = {
            "requests": traffic.requests,
            "errors": traffic.errors,
            "validation_failures": traffic.failures,
            "latency_p95": traffic.p95,
        }[name]
        return [value] * (int((end - start) // step) + 1)


@pytest.fixture
def served(tmp_path: Path) -> Served:
    return served_project(tmp_path, {"stable": 1, "canary": 2})


def _decide(
    served: Served, tmp: Path, traffic: dict[int, Version], canary_shift: float = 0.0
) -> tuple[policy.Decision, FakePrometheus]:
    logs = served.predictions(
        tmp / "predictions.jsonl",
        {
            1: synthesise(served.settings, SERVED_ROWS, seed=11),
            2: synthesise(served.settings, SERVED_ROWS, seed=12, shift=canary_shift),
        },
    )
    cfg = policy.load_config(served.settings.config_dir)
    prom = FakePrometheus(cfg, traffic)
    opts = canary.Options(out=tmp / "decision", predictions=logs, now=END)
    return canary.run(served.root, opts, env={}, metrics=prom, registry=served.registry), prom


def test_a_healthy_canary_with_enough_traffic_is_promoted(served: Served, tmp_path: Path) -> None:
    decision, prom = _decide(served, tmp_path, {1: Version(), 2: Version()})
    assert decision.action == "promote", decision.reason
    assert (decision.canary.version, decision.stable.version) == (2, 1)
    assert (decision.canary.monitor, decision.stable.monitor) == ("healthy", "healthy")
    assert decision.canary.monitor_rows == SERVED_ROWS
    assert decision.canary.live is not None and decision.canary.live.requests == 40.0 * 60
    assert any('model_version="2"' in q for q in prom.asked) and any(
        'model_version="1"' in q for q in prom.asked
    )
    assert (tmp_path / "decision/decision.json").is_file()


def test_a_canary_over_the_error_budget_is_rolled_back(served: Served, tmp_path: Path) -> None:
    decision, _ = _decide(served, tmp_path, {1: Version(), 2: Version(errors=4.0)})  # 10 % 5xx
    assert decision.action == "rollback"
    assert "error" in decision.reason
    failed = [c.metric for c in decision.comparisons if c.verdict == "fail"]
    assert failed and all("error" in m for m in failed)


def test_a_canary_whose_predictions_drift_is_rolled_back_on_monitoring(
    served: Served, tmp_path: Path
) -> None:
    decision, _ = _decide(served, tmp_path, {1: Version(), 2: Version()}, canary_shift=0.4)
    assert (decision.canary.monitor, decision.stable.monitor) == ("alert", "healthy")
    assert decision.action == "rollback"
    assert "canary v2's monitoring alerts while stable is healthy" in decision.reason


def test_a_canary_with_too_little_traffic_is_held(served: Served, tmp_path: Path) -> None:
    decision, _ = _decide(served, tmp_path, {1: Version(), 2: Version(requests=5.0)})
    assert decision.action == "hold"
    assert "canary served 300 requests in the window; 1000 needed to judge" in decision.reason
