"""The example's incident: a broken join zero-fills `days_since_last_login` for 38% of customers.

The machinery's tests prove the baseline check on the fixture package; this proves it on the
example's own data and baseline configuration (configs/baseline.yaml), with the message the
README quotes. A team replaces this test with its own incident.
"""

import pytest

from modelops.contract import load_package
from modelops.data.baseline import build_profile, check_baseline, load_tolerances
from modelops.settings import Settings

ROWS = 20_000


def _snapshot(settings: Settings, seed: int, **scenario: object):  # type: ignore[no-untyped-def]
    package = load_package(settings)
    return package.load_data(package.source(settings, rows=ROWS, seed=seed, scenario=scenario))


@pytest.fixture(scope="module")
def baseline(settings: Settings):  # type: ignore[no-untyped-def]
    return build_profile(_snapshot(settings, 42), settings.features, reference_rows=1000, seed=0)


def test_the_38_percent_zero_fill_is_refused_naming_column_baseline_and_new_value(
    settings: Settings, baseline
) -> None:  # type: ignore[no-untyped-def]
    tolerances = load_tolerances(settings.config_dir, settings.features)
    broken = _snapshot(settings, 7, zero_fill_feature="days_since_last_login", zero_fill_fraction=0.38)
    report = check_baseline(broken, baseline, tolerances)
    assert not report.passed
    first = report.violations[0]
    assert (first.column, first.rule) == ("days_since_last_login", "zero_share")
    assert first.baseline is not None and first.baseline < 0.02
    assert first.new is not None and 0.36 < first.new < 0.41
    assert report.summary().startswith("days_since_last_login: share of 0 rose from ")


def test_a_healthy_snapshot_of_another_seed_passes(settings: Settings, baseline) -> None:  # type: ignore[no-untyped-def]
    report = check_baseline(
        _snapshot(settings, 7), baseline, load_tolerances(settings.config_dir, settings.features)
    )
    assert report.passed, report.summary()
