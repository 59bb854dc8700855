"""Real served processes for the alert, dashboard and canary tests.

`served` starts `modelops serve` twice on the serving fixtures' registered model: one
healthy process, and one of the same version that cannot load its model (its registry is
empty), which answers /predict with 503 as a broken pod would. Known traffic goes to
each; /metrics is scraped before and after it, and each series is found by its growth.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_project
from tests.prometheus.scrape import Histogram, Sample, Scrape
from tests.serve.conftest import ServeProject, running, serve_project, start_server  # noqa: F401

# Counts of each kind of request; each is unique so that the series it lands in can be found by value.
OK, REJECTED, FAILED = 30, 7, 4


@dataclass(frozen=True)
class Served:
    """The scraped series, each found by the traffic that produced it."""

    scrape: Scrape
    ok: Sample  # requests answered 200
    rejected: Sample  # requests rejected by validation (4xx)
    failed: Sample  # requests answered 5xx by a pod that cannot load its model (same version)
    validation: Sample  # the validation-failure counter
    latency: Histogram  # latency of the 200 answers
    score: Histogram  # prediction scores


def predict(url: str, records: list[dict[str, object]]) -> httpx.Response:
    return httpx.post(f"{url}/predict", json={"records": records}, timeout=30)


def metrics(url: str) -> Scrape:
    return Scrape.parse(httpx.get(f"{url}/metrics", timeout=10).text)


@pytest.fixture(scope="session")
def served(serve_project: ServeProject, tmp_path_factory: pytest.TempPathFactory) -> Served:  # noqa: F811
    tmp = tmp_path_factory.mktemp("prom-served")
    records = serve_project.records
    with running(serve_project.root, serve_project.primary.env(), tmp) as healthy:
        healthy_before = metrics(healthy.url)
        for record in records[:OK]:
            assert predict(healthy.url, [record]).status_code == 200
        for record in records[:REJECTED]:
            # An unknown field is a validation failure whatever the model's features are.
            assert predict(healthy.url, [{**record, "not_a_feature": 1}]).status_code == 422
        healthy_after = metrics(healthy.url).since(healthy_before)
    broken = start_server(make_project(tmp / "empty-registry"), serve_project.primary.env(), tmp)
    try:
        broken.wait_listening()
        broken_before = metrics(broken.url)
        for record in records[:FAILED]:
            assert predict(broken.url, [record]).status_code == 503
        broken_after = metrics(broken.url).since(broken_before)
    finally:
        broken.stop()
    scrape = Scrape(healthy_after.samples + broken_after.samples)
    requests = "modelops_requests_total"
    latency = scrape.one("modelops_request_latency_seconds_count", OK)
    return Served(
        scrape=scrape,
        ok=scrape.one(requests, OK),
        rejected=scrape.one(requests, REJECTED),
        failed=scrape.one(requests, FAILED),
        validation=scrape.one("modelops_validation_failures_total", REJECTED),
        latency=scrape.histogram(latency),
        score=scrape.histogram(scrape.one("modelops_prediction_score_count", OK)),
    )


@pytest.fixture(scope="session")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """spec.groups of the PrometheusRule as a plain Prometheus rules file (what promtool reads)."""
    import yaml

    from tests.prometheus.paths import PROMETHEUS_RULE

    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    rule = yaml.safe_load(PROMETHEUS_RULE.read_text())
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    yield path
