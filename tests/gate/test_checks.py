"""Pure gate logic: config schema, checks, slices and the rendered report."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.errors import ConfigError
from modelops.gate import checks, report, slices
from modelops.gate.bootstrap import Interval, PairedEstimate, paired_bootstrap
from modelops.gate.config import Bootstrap, Change, Evidence, GateConfig, Slice, Slices, load
from modelops.gate.schema import GateReport, load_gate_report

REPO = Path(__file__).resolve().parents[2]


def test_shipped_gates_yaml_is_valid() -> None:
    """Whatever the team's gates.yaml says is loaded as written (checks and slices, in order)."""
    import yaml

    raw = yaml.safe_load((REPO / "configs/gates.yaml").read_text())
    config = load(REPO / "configs")
    assert [a.metric for a in config.absolute] == [a["metric"] for a in raw["absolute"]]
    assert [(i.column, i.value) for i in config.slices.items] == [
        (i["column"], i.get("value")) for i in raw["slices"]["items"]
    ]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("bootstrap: {resamples: 1000, confidnce: 0.9}\n", "bootstrap.confidnce"),
        ("bootstrap: {resamples: many}\n", "bootstrap.resamples"),
        ("change: [{metric: accuracy, rule: non_inferior, margin: 0.1}]\n", "change.0.metric"),
        ("absolute: [{metric: roc_auc}]\n", "absolute.0"),
        ("slices: {items: [{column: employment, tolerence: 0.1}]}\n", "slices.items.0.tolerence"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    (tmp_path / "gates.yaml").write_text(text)
    with pytest.raises(ConfigError, match=rf"gates.yaml: {field}"):
        load(tmp_path)


def _est(metric: str, cand: float, champ: float | None, low: float, high: float) -> PairedEstimate:
    return PairedEstimate(
        metric,
        cand,
        champ,
        None if champ is None else cand - champ,
        Interval(cand - 0.01, cand + 0.01),
        None if champ is None else Interval(low, high),
    )


@pytest.mark.parametrize(
    ("metric", "rule", "margin", "low", "high", "status"),
    [
        ("roc_auc", "non_inferior", 0.01, -0.005, 0.02, "pass"),
        ("roc_auc", "non_inferior", 0.01, -0.02, 0.02, "fail"),  # could be 0.02 worse
        ("roc_auc", "superior", 0.005, 0.006, 0.02, "pass"),
        ("roc_auc", "superior", 0.005, 0.001, 0.02, "fail"),  # gain may be noise
        ("log_loss", "non_inferior", 0.01, -0.03, 0.009, "pass"),  # lower is better: high end tested
        ("log_loss", "non_inferior", 0.01, -0.03, 0.011, "fail"),
        ("ece", "superior", 0.01, -0.05, -0.011, "pass"),
        ("ece", "superior", 0.01, -0.05, -0.009, "fail"),
    ],
)
def test_change_rules_use_the_right_end_of_the_interval(metric, rule, margin, low, high, status) -> None:  # type: ignore[no-untyped-def]
    result = checks.change(
        Change(metric=metric, rule=rule, margin=margin), {metric: _est(metric, 0.5, 0.49, low, high)}, False
    )
    assert result.status == status
    assert result.interval == (low, high)


def test_first_release_skips_change_checks_by_rule() -> None:
    result = checks.change(Change(metric="roc_auc", rule="non_inferior", margin=0.01), {}, first_release=True)
    assert result.status == "skipped" and result.message == checks.FIRST_RELEASE
    assert not result.failed


@pytest.mark.parametrize("value", [None, math.nan, math.inf, "n/a"])
def test_missing_or_nan_evidence_fails_closed(value: object) -> None:
    result = checks.bounded("x >= 1", "absolute", "x", value, 1.0, None)
    assert result.status == "missing" and result.failed
    assert result.message.startswith("missing evidence")


def test_nan_interval_fails_a_change_check() -> None:
    est = PairedEstimate("roc_auc", 0.8, 0.8, 0.0, Interval(0.7, 0.9), Interval(math.nan, math.nan))
    result = checks.paired("c", "change", "roc_auc", "non_inferior", 0.01, est)
    assert result.status == "missing"


def test_evidence_checks() -> None:
    tags = {"data_validation": "passed", "git_sha": "abc", "eval_md5": "e1"}
    rule = Evidence(lineage_tags=("git_sha", "data_md5"))
    by_name = {r.name: r for r in checks.evidence(rule, tags, "e1")}
    assert by_name["tag data_validation = passed"].status == "pass"
    assert by_name["lineage tags present"].status == "missing"
    assert "data_md5" in by_name["lineage tags present"].message
    assert by_name["evaluation set matches training"].status == "pass"
    assert {r.name: r for r in checks.evidence(rule, tags, "other")}[
        "evaluation set matches training"
    ].status == "fail"
    assert checks.evidence(rule, {}, "e1")[0].status == "missing"


def test_verdict() -> None:
    ok = checks.bounded("a", "absolute", "a", 1.0, 0.5, None)
    skipped = checks.change(Change(metric="roc_auc", rule="superior", margin=0), {}, True)
    bad = checks.bounded("b", "absolute", "b", None, 0.5, None)
    assert checks.verdict([ok, skipped]) == "pass"
    assert checks.verdict([ok, bad]) == "fail"
    assert checks.verdict([]) == "fail"


def _segment_data(n: int = 4000, seed: int = 0):  # type: ignore[no-untyped-def]
    """Champion and candidate scores; the candidate is better overall and useless on unemployed."""
    rng = np.random.default_rng(seed)
    employment = rng.choice(["salaried", "self_employed", "unemployed"], size=n, p=[0.55, 0.3, 0.15])
    y = (rng.random(n) < 0.25).astype(np.int64)
    signal = rng.normal(0, 1, n)
    champion = 1 / (1 + np.exp(-(signal + 1.2 * y - 1.2)))
    candidate = 1 / (1 + np.exp(-(signal + 2.0 * y - 1.2)))
    ent = employment == "unemployed"
    candidate[ent] = rng.random(ent.sum())
    housing = rng.choice(["rent", "own"], size=n).astype(object)
    housing[:5] = None
    return pd.DataFrame({"employment": employment, "housing": housing}), y, candidate, champion


def test_slice_regression_fails_even_when_aggregate_improves() -> None:
    frame, y, cand, champ = _segment_data()
    boot = Bootstrap(resamples=300, seed=1)
    overall = paired_bootstrap(y, cand, champ, 300, 0.95, 1, metrics=("roc_auc",))["roc_auc"]
    assert overall.delta_interval is not None and overall.delta_interval.low > 0
    config = Slices(
        min_support=100,
        tolerance=0.02,
        items=(Slice(column="employment", value="unemployed"), Slice(column="housing")),
    )
    results = {r.name: r for r in slices.evaluate(frame, y, cand, champ, config, boot)}
    unemployed = results["employment = unemployed"]
    assert unemployed.status == "fail" and unemployed.delta < -0.1 and unemployed.finding == "regressed"
    assert results["housing = rent"].status == "pass"
    small = results["housing is missing"]
    assert small.status == "skipped" and small.message.startswith("too small to judge") and small.support == 5


def test_required_slice_too_small_fails_closed() -> None:
    frame, y, cand, champ = _segment_data(n=400)
    config = Slices(min_support=1000, items=(Slice(column="employment", value="unemployed", required=True),))
    [result] = slices.evaluate(frame, y, cand, champ, config, Bootstrap(resamples=100))
    assert result.status == "missing" and "too small to judge" in result.message


def test_unknown_slice_column_is_a_config_error() -> None:
    frame, y, cand, champ = _segment_data(n=200)
    with pytest.raises(ConfigError, match="column 'tier'"):
        slices.evaluate(
            frame, y, cand, champ, Slices(items=(Slice(column="tier"),)), Bootstrap(resamples=100)
        )


def _report(champion: bool = True) -> GateReport:
    frame, y, cand, champ = _segment_data(n=1500)
    est = paired_bootstrap(y, cand, champ if champion else None, 200, 0.95, 1, metrics=("roc_auc", "ece"))
    config = GateConfig(change=(Change(metric="roc_auc", rule="non_inferior", margin=0.01),))
    results = [checks.change(r, est, not champion) for r in config.change]
    results += slices.evaluate(
        frame,
        y,
        cand,
        champ if champion else None,
        Slices(min_support=100, items=(Slice(column="employment"),)),
        Bootstrap(resamples=200),
    )
    facts = report.model_facts("loans", 3, "r" * 32, {"git_sha": "a" * 40}, {"run": "http://mlflow/x"})
    old = report.model_facts("loans", 2, "s" * 32, {"git_sha": "b" * 40})
    doc = report.build(
        verdict=checks.verdict(results),
        candidate=facts,
        champion=old if champion else None,
        eval_set={"path": "data/split/eval.parquet", "md5": "e" * 32, "rows": 1500, "positive_rate": 0.25},
        bootstrap={
            "method": "paired Poisson bootstrap, percentile interval",
            "resamples": 200,
            "confidence": 0.95,
            "seed": 1,
        },
        estimates=est,
        checks=results,
        reliability={
            "candidate": [
                {"bin_low": 0.0, "bin_high": 0.5, "count": 10, "mean_score": 0.2, "observed_rate": 0.25}
            ]
        },
        latency=None,
        artifact_bytes=600_000,
        reproduce="modelops gate --candidate 3 --champion 2 --out artifacts/gate",
    )
    return doc


def test_gate_md_structure() -> None:
    """Snapshot of the section order and key lines a reviewer relies on."""
    md = report.render_markdown(_report())
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == [
        "## ❌ Gate failed: `loans` v3 vs champion v2",
        "### Checks",
        "### Champion vs candidate",
        "### Slices",
        "### Lineage",
        "### Reproduce",
    ]
    assert "Blocking: `employment = unemployed`." in md
    assert "| ❌ **regressed** | employment = unemployed |" in md
    assert "```mermaid\nxychart-beta" in md and '"employment = unemployed"' in md
    assert "[`rrrrrrrrrrrr`](http://mlflow/x)" in md
    assert md.rstrip().endswith("modelops gate --candidate 3 --champion 2 --out artifacts/gate\n```")
    assert md.index("Gate failed") < md.index("### Checks")


def test_first_release_md_and_strict_json() -> None:
    doc = _report(champion=False)
    md = report.render_markdown(doc)
    assert "> **first release: no champion, absolute checks only.**" in md
    assert "### Candidate" in md and "Champion v" not in md
    blob = doc.to_json()
    assert json.loads(blob)["schema_version"] == 2 and b"NaN" not in blob
    assert load_gate_report(blob) == doc
