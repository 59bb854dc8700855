"""`modelops canary decide` on a real Prometheus scraping real `modelops serve` processes.

One stable process (v1) and four canaries (v2), each paired with stable in its own scrape
jobs (label `scenario`), so one Prometheus and one traffic run cover every case:
- healthy: v2 as configured -> promote;
- slow: v2 with the compiled fast path switched off in its serve.yaml (a real regression:
  every request goes through the full pipeline) -> revert on latency;
- failing: v2 whose feature schema dropped categories stable accepts, so most real records
  are rejected with 422 -> revert on validation failures;
- quiet: v2 with a trickle of traffic -> hold, never promote.
The window is short (seconds) and the scrape interval 1 s so the test stays bounded.
"""

import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelops.release import overlay
from modelops.release.state import overlay_dir
from modelops.settings import CONFIG_DIR_ENV
from tests.conftest import edit_yaml, make_project
from tests.prometheus.server import PrometheusServer, Target, prometheus
from tests.serve.conftest import ServeProject, Server, start_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WINDOW, INTERVAL, MIN_INTERVALS, MIN_REQUESTS = 30, 3, 6, 30
SCENARIOS = ("healthy", "slow", "failing", "quiet")
RATE = {"stable": 12.0, "healthy": 8.0, "slow": 8.0, "failing": 8.0, "quiet": 0.2}  # requests per second


@dataclass
class Fleet:
    prom: PrometheusServer
    servers: dict[str, Server]
    sent: dict[str, dict[int, int]]  # per server: status -> count


def configs_copy(root: Path, dest: Path, file: str, change: Any) -> Path:
    shutil.copytree(root / "configs", dest)
    edit_yaml(dest / file, change)
    return dest


def drop_categories(doc: dict[str, Any]) -> None:
    """The first categorical feature keeps only its first category (a stricter schema)."""
    feature = next(f for f in doc["features"] if f.get("kind") == "categorical")
    feature["categories"] = feature["categories"][:1]


def send(
    url: str, records: list[dict[str, Any]], rate: float, stop: threading.Event, counts: dict[int, int]
) -> None:
    with httpx.Client(timeout=30) as client:
        k = 0
        while not stop.is_set():
            record = records[k % len(records)]
            status = client.post(f"{url}/predict", json={"records": [record]}).status_code
            counts[status] = counts.get(status, 0) + 1
            k += 1
            stop.wait(1.0 / rate)


@pytest.fixture(scope="module")
def fleet(serve_project: ServeProject, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("canary-live")
    root = serve_project.root
    slow = configs_copy(
        root, tmp / "slow-configs", "serve.yaml", lambda d: d["fast_path"].update(enabled=False)
    )
    strict = configs_copy(root, tmp / "strict-configs", "features.yaml", drop_categories)
    v1, v2 = serve_project.primary.env(), serve_project.shadow.env()
    envs = {
        "stable": v1,
        "healthy": v2,
        "slow": {**v2, CONFIG_DIR_ENV: str(slow)},
        "failing": {**v2, CONFIG_DIR_ENV: str(strict)},
        "quiet": v2,
    }
    servers = {name: start_server(root, env, tmp) for name, env in envs.items()}
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        for server in servers.values():
            server.wait_ready(timeout=400)  # five processes import and warm up at once
        targets = [
            Target(f"{s}-{track}", servers[name].url, {"scenario": s, "track": track})
            for s in SCENARIOS
            for track, name in (("stable", "stable"), ("canary", s))
        ]
        with prometheus(targets, tmp) as prom:
            sent: dict[str, dict[int, int]] = {name: {} for name in servers}
            for name, server in servers.items():
                args = (server.url, serve_project.records, RATE[name], stop, sent[name])
                threads.append(threading.Thread(target=send, args=args, daemon=True))
                threads[-1].start()
            # One window of traffic, plus two intervals so the first one is complete.
            time.sleep(WINDOW + 2 * INTERVAL)
            yield Fleet(prom, servers, sent)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        for server in servers.values():
            if server.proc.poll() is None:
                server.stop()


@pytest.fixture(scope="module")
def decide_root(serve_project: ServeProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose overlays serve v1 (stable) and v2 (canary), with a short canary window."""
    from modelops.settings import load_settings

    root = make_project(tmp_path_factory.mktemp("decide"))
    name = load_settings(root).model.name
    for track, reg in (("stable", serve_project.primary), ("canary", serve_project.shadow)):
        (overlay_dir(root, track) / "model.env").write_text(
            overlay.model_env(track, name, reg.version, reg.sha256)
        )
    edit_yaml(
        root / "configs/canary.yaml",
        lambda d: d.update(
            window_seconds=WINDOW,
            interval_seconds=INTERVAL,
            min_intervals=MIN_INTERVALS,
            min_requests=MIN_REQUESTS,
            require_monitoring=False,  # these versions have no release lineage to monitor against
        ),
    )
    return root


def decide(root: Path, fleet: Fleet, scenario: str, out: Path, **limits: float) -> dict[str, Any]:
    """Run `modelops canary decide` on one scenario's scrape jobs, with some absolute limits changed."""
    from modelops.cli import main
    from modelops.release.canary import Limits

    def scope(d: dict[str, Any]) -> None:
        d["prometheus"]["selector"] = f'scenario="{scenario}"'
        d["limits"] = Limits(**limits).model_dump()

    edit_yaml(root / "configs/canary.yaml", scope)
    code = main(["--root", str(root), "canary", "decide", "--prometheus", fleet.prom.url, "--out", str(out)])
    assert code == 0
    decision: dict[str, Any] = json.loads((out / "decision.json").read_text())
    assert decision["action"] in (out / "decision.md").read_text()
    return decision


def by_metric(decision: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["metric"]: c for c in decision["comparisons"]}


def test_healthy_canary_is_proposed_for_stable(fleet: Fleet, decide_root: Path, tmp_path: Path) -> None:
    d = decide(decide_root, fleet, "healthy", tmp_path)
    assert d["action"] == "promote", d["reason"]
    assert d["canary"]["live"]["requests"] >= MIN_REQUESTS and d["stable"]["live"]["requests"] >= MIN_REQUESTS
    assert {c["verdict"] for c in d["comparisons"]} == {"pass"}
    assert d["canary"]["live"]["latency"]["p95"] is not None


def test_slow_canary_is_reverted_on_latency(fleet: Fleet, decide_root: Path, tmp_path: Path) -> None:
    d = decide(decide_root, fleet, "slow", tmp_path)
    assert d["action"] == "rollback", d["reason"]
    latency = by_metric(d)["latency_p95_seconds"]
    assert latency["verdict"] == "fail" and latency["canary"] > latency["stable"]
    assert "latency" in d["reason"]


def test_slow_canary_under_the_absolute_limit_is_reverted_by_the_significance_test(
    fleet: Fleet, decide_root: Path, tmp_path: Path
) -> None:
    d = decide(decide_root, fleet, "slow", tmp_path, max_latency_p95_seconds=60.0)
    latency = by_metric(d)["latency_p95_seconds"]
    assert d["action"] == "rollback", d["reason"]
    assert latency["verdict"] == "fail" and "significantly worse" in latency["reason"]
    assert latency["p_value"] is not None and latency["p_value"] < 0.01


def test_failing_canary_is_reverted_on_validation_failures(
    fleet: Fleet, decide_root: Path, tmp_path: Path
) -> None:
    sent = fleet.sent["failing"]
    assert sent.get(422, 0) > 0.25 * sum(sent.values()) and fleet.sent["stable"].get(422, 0) == 0, fleet.sent
    d = decide(decide_root, fleet, "failing", tmp_path)
    assert d["action"] == "rollback", d["reason"]
    assert by_metric(d)["validation_failure_ratio"]["verdict"] == "fail"
    assert d["canary"]["live"]["validation_failure_ratio"] > 0.25
    assert d["stable"]["live"]["validation_failure_ratio"] == 0


def test_quiet_canary_holds(fleet: Fleet, decide_root: Path, tmp_path: Path) -> None:
    d = decide(decide_root, fleet, "quiet", tmp_path)
    assert d["action"] == "hold", d["reason"]
    assert d["canary"]["live"]["requests"] < MIN_REQUESTS
    assert "needed to judge" in d["reason"]


def test_decision_report_shows_live_metrics_of_both_tracks(
    fleet: Fleet, decide_root: Path, tmp_path: Path
) -> None:
    decide(decide_root, fleet, "slow", tmp_path)
    md = (tmp_path / "decision.md").read_text()
    assert "Live metrics (Prometheus" in md and "| canary | v2 |" in md and "| stable | v1 |" in md
    assert "latency_p95_seconds" in md and "not run" in md  # monitoring column present


def test_unreachable_prometheus_is_a_clear_error(
    decide_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelops.cli import main
    from tests.serve.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    code = main(["--root", str(decide_root), "canary", "decide", "--prometheus", url, "--out", str(tmp_path)])
    assert code == 2 and url in capsys.readouterr().err
    assert not (tmp_path / "decision.json").exists()
