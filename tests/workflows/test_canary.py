"""The canary policy (modelops.release.canary) and the log split, without Prometheus, MLflow or git.

The same policy runs against a real Prometheus and real servers in
tests/prometheus/test_canary_live.py.
"""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from modelops.release.canary import (
    CanaryConfig,
    LiveMetrics,
    MonitorVerdict,
    Series,
    TrackReport,
    compare,
    decide,
    live_metrics,
    queries,
    render,
    worse_p_value,
)
from modelops.workflows.canary import split_by_version

CFG = CanaryConfig(
    window_seconds=600, interval_seconds=60, min_requests=1000, min_intervals=5, require_monitoring=False
)
N = 10  # intervals in the window


def live(
    version: int, per_interval: float = 200, error: float = 0.0, p95: float = 0.004, invalid: float = 0.0
) -> LiveMetrics:
    """A version that served `per_interval` requests in each of N intervals, p95 wobbling around `p95`."""
    wobble = [1 + 0.05 * ((k * 7) % 5 - 2) for k in range(N)]
    series = Series(
        requests=[per_interval] * N,
        errors=[per_interval * error] * N,
        validation_failures=[per_interval * invalid] * N,
        latency_p95=[p95 * w for w in wobble],
    )
    total = per_interval * N
    window = {
        "requests_window": total,
        "errors_window": total * error,
        "validation_failures_window": total * invalid,
        "latency_p50_window": p95 / 2,
        "latency_p95_window": p95,
        "latency_p99_window": p95 * 2,
    }
    return live_metrics(version, window, series, CFG)


def track(
    name: str, version: int | None, metrics: LiveMetrics | None, monitor: MonitorVerdict = "healthy"
) -> TrackReport:
    return TrackReport(track=name, version=version, live=metrics, monitor=monitor, monitor_rows=100)


STABLE = track("stable", 1, live(1))


@pytest.mark.parametrize(
    ("canary", "stable", "action", "why"),
    [
        (track("canary", 2, live(2)), STABLE, "promote", "healthy"),
        (track("canary", 2, live(2, p95=0.012)), STABLE, "rollback", "latency_p95_seconds"),
        (track("canary", 2, live(2, p95=0.4)), STABLE, "rollback", "over the limit"),
        (track("canary", 2, live(2, error=0.05)), STABLE, "rollback", "error_ratio"),
        (track("canary", 2, live(2, invalid=0.5)), STABLE, "rollback", "validation_failure_ratio"),
        (track("canary", 2, live(2, per_interval=5)), STABLE, "hold", "needed to judge"),
        (track("canary", 2, live(2, per_interval=5, error=0.5)), STABLE, "hold", "needed to judge"),
        (track("canary", 2, live(2), "alert"), STABLE, "rollback", "monitoring alerts"),
        (track("canary", 2, live(2), "alert"), track("stable", 1, live(1), "alert"), "hold", "upstream"),
        (track("canary", 2, live(2), "error"), STABLE, "hold", "could not evaluate"),
        (track("canary", None, None, "not run"), STABLE, "none", "no canary"),
        (track("canary", 1, live(1)), STABLE, "none", "both serve v1"),
        (track("canary", 2, live(2)), track("stable", 1, None), "hold", "no live metrics"),
        (track("canary", 1, live(1)), track("stable", None, None, "not run"), "promote", "healthy"),
        (track("canary", 1, live(1, p95=0.4)), track("stable", None, None, "not run"), "rollback", "limit"),
    ],
)
def test_decide(canary: TrackReport, stable: TrackReport, action: str, why: str) -> None:
    decision = decide(canary, stable, CFG)
    assert (decision.action, why in decision.reason) == (action, True), decision.reason
    assert f"**{action}**" in render(decision)


def test_a_small_latency_difference_within_tolerance_promotes() -> None:
    """Significantly slower, but by less than latency_p95_ratio (1.2x): not a regression."""
    canary = track("canary", 2, live(2, p95=0.0047))
    assert worse_p_value(canary.live.latency_p95_samples, STABLE.live.latency_p95_samples) < CFG.alpha  # type: ignore[union-attr]
    assert decide(canary, STABLE, CFG).action == "promote"


def test_too_few_intervals_hold_even_with_enough_requests() -> None:
    series = Series(
        requests=[0] * 8 + [600, 600],
        errors=[0] * 10,
        validation_failures=[0] * 10,
        latency_p95=[None] * 8 + [0.004, 0.004],
    )
    sparse = live_metrics(2, {"requests_window": 1200, "latency_p95_window": 0.004}, series, CFG)
    decision = decide(track("canary", 2, sparse), STABLE, CFG)
    assert decision.action == "hold" and "intervals with traffic" in decision.reason


def test_monitoring_is_required_by_default() -> None:
    strict = CFG.model_copy(update={"require_monitoring": True})
    for verdict in ("not run", "no traffic"):
        decision = decide(track("canary", 2, live(2), verdict), STABLE, strict)  # type: ignore[arg-type]
        assert decision.action == "hold" and "require_monitoring" in decision.reason


def test_equal_samples_give_no_evidence() -> None:
    assert worse_p_value([0.0] * 10, [0.0] * 10) == 1.0
    assert worse_p_value([2.0] * 10, [1.0] * 10) < 0.001


def test_compare_names_the_limit_and_the_p_value() -> None:
    c = compare("latency_p95_seconds", 0.02, 0.004, [0.02] * 10, [0.004] * 10, 0.25, 1.2, True, CFG)
    assert c.verdict == "fail" and c.p_value is not None and c.p_value < 0.001
    assert "significantly worse" in c.reason and "x1.2 of stable" in c.limit


def test_queries_select_the_version_and_the_configured_scope() -> None:
    cfg = CFG.model_copy(
        update={"prometheus": CFG.prometheus.model_copy(update={"selector": 'namespace="ml"'})}
    )
    q = queries(7, cfg)
    assert all('model_version="7"' in e and 'namespace="ml"' in e for e in q.values())
    assert "[600s]" in q["requests_window"] and "[60s]" in q["requests"]


def test_config_rejects_a_window_shorter_than_the_intervals_it_needs() -> None:
    with pytest.raises(ValidationError, match="window_seconds 60 holds fewer than min_intervals"):
        CanaryConfig(window_seconds=60, interval_seconds=60, min_intervals=5)


def test_decision_report_is_typed_json() -> None:
    decision = decide(track("canary", 2, live(2)), STABLE, CFG)
    doc = json.loads(decision.model_dump_json())
    assert doc["schema_version"] == 1 and doc["canary"]["live"]["requests"] == 2000
    assert {c["metric"] for c in doc["comparisons"]} == {
        "error_ratio",
        "validation_failure_ratio",
        "latency_p95_seconds",
    }


def test_split_by_version_counts_each_track(tmp_path: Path) -> None:
    log = tmp_path / "p.jsonl"
    lines = [{"model_version": "2"}, {"model_version": "1"}, {"model_version": "2"}, {"model_version": "9"}]
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    split = split_by_version(log, {"canary": 2, "stable": 1}, tmp_path / "out")
    assert split["canary"][1] == 2 and split["stable"][1] == 1
    assert len(split["canary"][0].read_text().splitlines()) == 2


def test_canary_workflow_reads_prometheus_url_and_calls_decide() -> None:
    import shlex

    import yaml

    from modelops.cli import build_parser

    wf = yaml.safe_load((Path(__file__).resolve().parents[2] / ".github/workflows/canary.yml").read_text())
    (job,) = wf["jobs"].values()
    assert "vars.PROMETHEUS_URL" in job["env"]["PROMETHEUS_URL"]
    assert "vars.PREDICTION_STORE" in job["env"]["PREDICTION_STORE"]
    (step,) = [s for s in job["steps"] if "modelops canary decide" in s.get("run", "")]
    calls = [line.strip() for line in step["run"].splitlines() if line.strip().startswith("modelops canary")]
    parsed = [build_parser().parse_args(shlex.split(c.replace("modelops ", "", 1))) for c in calls]
    assert all(a.func.__name__ == "_canary_decide" and a.propose and a.prometheus is None for a in parsed)
    # One call judges the store, the other the JSONL log; never both at once.
    assert sorted((a.store, a.predictions) for a in parsed) == [
        ("", "$PREDICTIONS"),
        ("$PREDICTION_STORE", ""),
    ]


def test_monitoring_that_cannot_evaluate_a_track_holds_the_canary(tmp_path: Path) -> None:
    """The real monitor job runs on the canary's split log; a version without a release is "error" -> hold."""
    from modelops.settings import load_settings
    from modelops.workflows.canary import monitor_track
    from tests.conftest import make_project

    root = make_project(tmp_path / "project")
    line = {
        "request_id": "a",
        "timestamp": "2026-11-25T00:00:00Z",
        "model_version": "2",
        "features": {},
        "score": 0.3,
    }
    log = tmp_path / "p.jsonl"
    log.write_text(json.dumps(line) + "\n")
    (path, rows), _ = split_by_version(log, {"canary": 2, "stable": 1}, tmp_path / "out").values()
    verdict = monitor_track(load_settings(root), path, None, tmp_path / "out/canary")
    assert (verdict, rows) == ("error", 1)
    assert decide(track("canary", 2, live(2), verdict), STABLE, CFG).action == "hold"


def _store_with(tmp_path: Path, root: Path, version: str) -> str:
    from datetime import UTC, datetime

    from modelops.records import PredictionRecord, prediction_table
    from modelops.settings import load_settings
    from modelops.store import PredictionStore

    settings = load_settings(root)
    uri = str(tmp_path / "store")
    rec = PredictionRecord(
        request_id="a",
        timestamp=datetime.now(UTC),
        model_name=settings.model.name,
        model_version=version,
        features={},
        score=0.3,
    )
    PredictionStore(uri).write(prediction_table([rec], settings.features))
    return uri


def test_store_monitoring_maps_each_tracks_verdict(tmp_path: Path) -> None:
    """The real monitor job reads the store once; a store without the tracks' versions is "no traffic"."""
    from modelops.settings import load_settings
    from modelops.workflows.canary import monitor_store
    from tests.conftest import make_project

    root = make_project(tmp_path / "project")
    uri = str(tmp_path / "empty-store")
    verdicts = monitor_store(
        load_settings(root), uri, "60m", None, {"canary": 2, "stable": 1}, tmp_path / "m"
    )
    assert verdicts == {"canary": ("no traffic", 0), "stable": ("no traffic", 0)}


def test_store_monitoring_that_cannot_evaluate_holds_the_canary(tmp_path: Path) -> None:
    """A stored canary version without a release record cannot be judged: "error" for the tracks -> hold."""
    from modelops.settings import load_settings
    from modelops.workflows.canary import monitor_store
    from tests.conftest import make_project

    root = make_project(tmp_path / "project")
    uri = _store_with(tmp_path, root, "2")
    verdicts = monitor_store(
        load_settings(root), uri, "60m", None, {"canary": 2, "stable": 1}, tmp_path / "m"
    )
    assert verdicts["canary"] == ("error", 0)
    assert decide(track("canary", 2, live(2), verdicts["canary"][0]), STABLE, CFG).action == "hold"
