"""Pure core: rates, ECE, decisions and rendering, on hand-made numbers."""

import numpy as np
import pandas as pd
import pytest

from modelops import metrics
from modelops.monitor import checks, render
from modelops.monitor.config import MonitoringConfig
from modelops.monitor.logs import encode


def test_ece_is_zero_for_perfect_calibration_and_large_for_a_constant_lie():
    p = np.repeat([0.1, 0.5, 0.9], 1000)
    y = np.concatenate([np.arange(1000) < 100, np.arange(1000) < 500, np.arange(1000) < 900]).astype(float)
    assert metrics.ece(y, p, 10) == pytest.approx(0.0, abs=1e-12)
    assert metrics.ece(y, np.full_like(p, 0.95), 10) == pytest.approx(0.95 - 0.5)


def test_rates_count_missing_out_of_range_wrong_type_and_unknown_category(project):
    schema = project.settings.features
    # The first bounded float and the first categorical feature the model declares.
    num = next(f for f in schema.features if f.dtype == "float" and f.min is not None and f.max is not None)
    cat = schema.feature(schema.categorical[0])
    first, second = list(cat.categories or ())[:2]
    frame = pd.DataFrame({name: [None] * 4 for name in schema.names})
    frame[num.name] = [float(num.min), None, float(num.max) + 1, "soon"]
    frame[cat.name] = [first, None, "not-a-declared-category", second]
    rates = checks.feature_rates(encode(frame, schema), schema)
    assert rates[num.name] == (0.25, 0.5)  # None missing; above max and "soon" out of range
    assert rates[cat.name] == (0.25, 0.25)  # an undeclared category


def test_one_drifted_feature_alerts_by_name_unless_the_share_allows_it():
    found = [checks.Drift("a", "psi", 0.3, 0.1), checks.Drift("b", "psi", 0.01, 0.1)]
    assert checks.drift_alerts(found, 0.0, "") == ["feature drift: a psi=0.300 >= 0.1"]
    assert checks.drift_alerts(found, 0.5, "") == []


def test_quality_alerts_name_each_broken_rule():
    cfg = MonitoringConfig()
    q = checks.Quality(
        rows=1000, roc_auc=0.6, ece=0.2, positive_rate=0.4, expected_positive_rate=0.2, mean_score=0.2
    )
    alerts = checks.quality_alerts(q, cfg)
    assert [a.split(":")[1].split()[0] for a in alerts] == ["ROC", "calibration", "positive"]
    healthy = checks.Quality(1000, 0.8, 0.01, 0.21, 0.2, 0.2)
    assert checks.quality_alerts(healthy, cfg) == []


def test_verdict_and_summary_put_the_verdict_first():
    base = {
        "model": "m",
        "predictions": "p.jsonl",
        "labels": None,
        "since": None,
        "lines": 0,
        "malformed": 0,
        "malformed_share": 0.0,
        "malformed_max_share": 0.01,
        "malformed_examples": [],
        "outside_window": 0,
    }
    empty = {**base, "versions": []}
    empty["verdict"] = render.verdict(empty)
    assert empty["verdict"] == "no traffic"
    assert render.summary_md(empty).startswith("# ⚪ NO TRAFFIC")
    assert render.VERDICT_EXIT["alert"] == 1 and render.VERDICT_EXIT["no traffic"] == 0


def test_since_accepts_iso_or_a_look_back_and_names_the_option_otherwise():
    from datetime import UTC, datetime

    from modelops.errors import MonitorError
    from modelops.monitor.job import parse_since

    now = datetime(2025, 6, 2, 12, tzinfo=UTC)
    assert parse_since("24h", now) == pd.Timestamp("2025-06-01T12:00:00Z")
    assert parse_since("2025-06-01", now) == pd.Timestamp("2025-06-01T00:00:00Z")
    with pytest.raises(MonitorError, match="--since 'yesterday'"):
        parse_since("yesterday", now)


def test_config_names_unknown_features_slices_and_drift_methods(project):
    from modelops.adapters import evidently
    from modelops.errors import ConfigError

    schema = project.settings.features
    typo = f"{schema.numeric[0]}_typo"  # a near miss of a real feature name
    bad = MonitoringConfig.model_validate(
        {"drift": {"features": {typo: {"method": "psi", "threshold": 0.1}}}}
    )
    with pytest.raises(ConfigError, match=rf"drift\.features\.{typo}: not a feature"):
        bad.check_against(schema, "monitoring.yaml")
    bad = MonitoringConfig.model_validate({"slices": [{"column": schema.categorical[0], "value": "gold"}]})
    with pytest.raises(ConfigError, match=r"slices\.0\.value: 'gold'"):
        bad.check_against(schema, "monitoring.yaml")
    with pytest.raises(ConfigError, match="drift method 'psy' for amount is unknown"):
        evidently.check_methods([evidently.Column("amount", "numeric", "psy", 0.1)], "monitoring.yaml")


def test_labels_file_must_have_request_id_and_a_binary_label(tmp_path):
    from modelops.errors import MonitorError
    from modelops.monitor.job import read_labels

    (tmp_path / "l.csv").write_text("id,outcome\na,1\n")
    with pytest.raises(MonitorError, match="missing column 'request_id'"):
        read_labels(tmp_path / "l.csv", "outcome")
    (tmp_path / "l.csv").write_text("request_id,outcome\na,1\nb,yes\n")
    with pytest.raises(MonitorError, match="'outcome' must be 0 or 1"):
        read_labels(tmp_path / "l.csv", "outcome")
    (tmp_path / "l.csv").write_text("request_id,outcome\na,1\nb,0\n")
    assert read_labels(tmp_path / "l.csv", "outcome").to_dict() == {"a": 1, "b": 0}
