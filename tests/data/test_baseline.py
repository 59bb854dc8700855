"""The baseline data check: a new snapshot against the profile of the last accepted one.

Unit tests drive `check_baseline` on frames from the fixture package's generator (feature names
come from settings; the issue's acceptance case is a zero-filled nullable float feature). The
integration tests run the real `dvc repro` and `modelops data validate --path`.
"""

import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.adapters.dvc import md5
from modelops.cli import main
from modelops.data.baseline import (
    BaselineTolerances,
    FeatureTolerance,
    Profile,
    build_profile,
    check_baseline,
    load_profile,
    load_tolerances,
    save_profile,
)
from modelops.errors import ConfigError
from modelops.settings import Settings
from tests.conftest import Project, edit_yaml
from tests.helpers.fixture import fixture_configs, numeric_feature, rows

ROWS = 20_000


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return fixture_configs(tmp_path_factory.mktemp("baseline"))


@pytest.fixture(scope="module")
def features(settings: Settings):  # type: ignore[no-untyped-def]
    return settings.features


@pytest.fixture(scope="module")
def tolerances(settings: Settings) -> BaselineTolerances:
    return load_tolerances(settings.config_dir, settings.features)


@pytest.fixture(scope="module")
def generate(settings: Settings) -> Callable[..., pd.DataFrame]:
    """A snapshot of the package's generator: generate(rows, seed, **scenario)."""
    return lambda n, seed, **scenario: rows(settings, n, seed, **scenario)


@pytest.fixture(scope="module")
def accepted(generate) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return generate(ROWS, 42)


@pytest.fixture(scope="module")
def profile(accepted: pd.DataFrame, features) -> Profile:  # type: ignore[no-untyped-def]
    return build_profile(accepted, features, reference_rows=1000, seed=0)


def _numeric_with_few_zeros(features, frame: pd.DataFrame) -> str:  # type: ignore[no-untyped-def]
    """A numeric feature where 0 is rare and allowed: the kind a broken join zero-fills unseen."""
    for f in features.features:
        if f.kind == "numeric" and (f.min is None or f.min <= 0) and (frame[f.name] == 0).mean() < 0.02:
            return f.name
    raise AssertionError("no numeric feature with a rare 0 in features.yaml")


def test_profile_round_trips_and_is_small(profile: Profile, features, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = save_profile(profile, tmp_path / "profile.json")
    assert load_profile(path) == profile
    assert set(profile.features) == set(features.names)
    assert len(profile.reference[features.names[0]]) == 1000
    assert path.stat().st_size < 150_000
    numeric = profile.features[features.numeric[0]]
    assert numeric.quantiles and numeric.zero_share is not None and numeric.category_shares is None
    categorical = profile.features[features.categorical[0]]
    assert categorical.category_shares and abs(sum(categorical.category_shares.values()) - 1) < 0.05


def test_same_snapshot_gives_identical_profile(accepted: pd.DataFrame, features) -> None:  # type: ignore[no-untyped-def]
    assert build_profile(accepted, features) == build_profile(accepted.copy(), features)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_healthy_snapshot_with_another_seed_passes(seed: int, profile: Profile, tolerances, generate) -> None:  # type: ignore[no-untyped-def]
    report = check_baseline(generate(ROWS, seed), profile, tolerances)
    assert report.passed, report.summary()
    assert report.violations == ()


def test_zero_filled_feature_is_named_with_baseline_new_and_limit(
    profile: Profile, tolerances, generate, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    name = numeric_feature(settings)
    broken = generate(ROWS, 7, zero_fill_feature=name, zero_fill_fraction=0.38)
    report = check_baseline(broken, profile, tolerances)
    assert not report.passed
    first = report.violations[0]
    assert (first.column, first.rule, first.limit) == (name, "zero_share", 5.0)
    assert first.baseline == profile.features[name].zero_share
    assert first.new is not None and 0.36 < first.new < 0.41
    expected = (
        f"{name}: share of 0 rose from {100 * first.baseline:.1f}% "
        f"to {100 * first.new:.1f}% (limit +5 points)"
    )
    assert first.message == expected
    assert report.summary().startswith(expected) and "\n" not in report.summary()
    # Evidently's distribution test sees it too.
    assert (name, "drift") in {(v.column, v.rule) for v in report.violations}


def test_null_spike_is_named(accepted: pd.DataFrame, profile: Profile, tolerances, features) -> None:  # type: ignore[no-untyped-def]
    name = features.numeric[0]
    frame = accepted.assign(**{name: accepted[name].mask(np.arange(len(accepted)) % 10 == 0)})
    report = check_baseline(frame, profile, tolerances)
    first = report.violations[0]
    assert (first.column, first.rule) == (name, "null_rate")
    assert first.message.startswith(f"{name}: share of nulls rose from ")
    assert first.message.endswith("(limit +2 points)")


def test_constant_fill_with_a_non_zero_value_is_named(
    accepted: pd.DataFrame, profile: Profile, tolerances, features
) -> None:  # type: ignore[no-untyped-def]
    name = features.numeric[1]
    median = float(accepted[name].median())
    frame = accepted.assign(**{name: accepted[name].where(np.arange(len(accepted)) % 4 != 0, median)})
    rules = {(v.column, v.rule) for v in check_baseline(frame, profile, tolerances).violations}
    assert (name, "top_value_share") in rules


def test_categorical_shift_is_caught_by_evidently(
    accepted: pd.DataFrame, profile: Profile, tolerances, features
) -> None:  # type: ignore[no-untyped-def]
    name = features.categorical[0]
    only = profile.features[name].top_value
    frame = accepted.assign(**{name: pd.Series([only] * len(accepted), index=accepted.index)})
    drift = [v for v in check_baseline(frame, profile, tolerances).violations if v.rule == "drift"]
    assert [v.column for v in drift] == [name]
    before = profile.features[name].category_shares[str(only)]  # type: ignore[index]
    assert f"share of {str(only)!r} {100 * before:.1f}% -> 100.0%" in drift[0].message


def test_per_feature_override_switches_a_rule_off(
    accepted: pd.DataFrame, profile: Profile, tolerances, features
) -> None:  # type: ignore[no-untyped-def]
    name = _numeric_with_few_zeros(features, accepted)
    frame = accepted.assign(**{name: accepted[name].where(np.arange(len(accepted)) % 3 != 0, 0)})
    assert not check_baseline(frame, profile, tolerances).passed
    relaxed = tolerances.model_copy(
        update={
            "features": {
                name: FeatureTolerance(zero_share_increase=False, top_value_share_increase=False, drift=False)
            }
        }
    )
    assert check_baseline(frame, profile, relaxed).passed


def test_p_value_method_uses_evidentlys_direction(
    accepted: pd.DataFrame, profile: Profile, features, generate
) -> None:  # type: ignore[no-untyped-def]
    """ks drifts when the p-value is BELOW the threshold: Evidently's verdict, not `score >= threshold`."""
    from modelops.data.baseline import Defaults, Drift, DriftTest

    ks = BaselineTolerances(defaults=Defaults(drift=Drift(numeric=DriftTest(method="ks", threshold=0.001))))
    name = features.numeric[0]
    assert not [v for v in check_baseline(generate(ROWS, 3), profile, ks).violations if v.rule == "drift"]
    shifted = accepted.assign(**{name: accepted[name] * 3})
    assert (name, "drift") in {(v.column, v.rule) for v in check_baseline(shifted, profile, ks).violations}


def test_unknown_feature_in_tolerances_is_a_config_error(tmp_path: Path, features) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "baseline.yaml").write_text("features:\n  not_a_feature: {zero_share_increase: 1}\n")
    with pytest.raises(ConfigError, match=r"baseline\.yaml: features \['not_a_feature'\] are not declared"):
        load_tolerances(tmp_path, features)


def test_unknown_tolerance_key_is_named(tmp_path: Path) -> None:
    (tmp_path / "baseline.yaml").write_text("defaults:\n  zero_share_rise: 1\n")
    with pytest.raises(ConfigError, match=r"defaults\.zero_share_rise: Extra inputs"):
        load_tolerances(tmp_path)


def _zero_fill(root: Path, feature: str, fraction: float = 0.38) -> None:
    def change(d: dict) -> None:  # type: ignore[type-arg]
        d["source"].setdefault("scenario", {}).update(zero_fill_feature=feature, zero_fill_fraction=fraction)
        d["source"]["seed"] = 7

    edit_yaml(root / "configs/data.yaml", change)


@pytest.mark.integration
@pytest.mark.slow
def test_zero_filled_snapshot_stops_dvc_repro_and_validate_path(
    fresh_project: Project, tmp_path: Path
) -> None:
    """The issue's incident: bootstrap, then a 38% zero-fill stops at validation; a healthy seed passes."""
    p = fresh_project
    dvc = str(Path(sys.executable).with_name("dvc"))
    p.repro("validate")  # first snapshot: no profile yet, so it bootstraps it
    report = (p.root / "data/validated/report.json").read_text()
    assert '"status": "bootstrap"' in report
    profile_path = p.root / "data/baseline/profile.json"
    accepted = profile_path.read_bytes()
    name = numeric_feature(p.settings)
    raw = p.settings.path(p.settings.data.paths.raw)

    _zero_fill(p.root, name)
    out = p.sh(dvc, "repro", "validate", check=False)
    assert out.returncode != 0
    pattern = rf"{name}: share of 0 rose from \d\.\d% to 3[6-9]\.\d% \(limit \+5 points\)"
    assert re.search(pattern, out.stderr), out.stderr
    assert profile_path.read_bytes() == accepted  # a rejected snapshot never becomes the baseline
    assert not (p.root / "data/validated/report.json").exists()

    # The same file through `modelops data validate --path` (check only): exit 1, same message.
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(raw.read_bytes())
    out = p.sh(
        str(Path(sys.executable).with_name("modelops")),
        "data",
        "validate",
        "--path",
        str(broken),
        check=False,
    )
    assert out.returncode == 1
    assert out.stderr.startswith(f"modelops data validate: error: {name}: share of 0 rose from ")
    assert len(out.stderr.strip().splitlines()) == 1

    # A healthy snapshot with another seed: no false alarm, and it becomes the new baseline.
    edit_yaml(
        p.root / "configs/data.yaml",
        lambda d: (
            d["source"]["scenario"].update(zero_fill_feature=None, zero_fill_fraction=0.0),
            d["source"].update(seed=8),
        ),
    )
    p.repro("validate")
    assert '"status": "passed"' in (p.root / "data/validated/report.json").read_text()
    assert profile_path.read_bytes() != accepted
    assert load_profile(profile_path).source.endswith(md5(raw))


def test_validate_path_passes_a_healthy_file_without_accepting_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "p"
    settings = fixture_configs(root)
    name = numeric_feature(settings)

    def generate(n: int, seed: int, **scenario: object) -> pd.DataFrame:
        return rows(settings, n, seed, **scenario)

    profile_path = settings.path(settings.data.paths.profile)
    save_profile(build_profile(generate(5000, 1), settings.features), profile_path)
    before = profile_path.read_bytes()
    healthy = tmp_path / "healthy.parquet"
    generate(5000, 2).to_parquet(healthy)
    assert main(["--root", str(root), "data", "validate", "--path", str(healthy)]) == 0
    assert "within tolerances" in capsys.readouterr().out
    assert profile_path.read_bytes() == before
    assert not settings.path(settings.data.paths.validation_report).exists()
    broken = tmp_path / "broken.parquet"
    generate(5000, 2, zero_fill_feature=name, zero_fill_fraction=0.38).to_parquet(broken)
    assert main(["--root", str(root), "data", "validate", "--path", str(broken)]) == 1
    err = capsys.readouterr().err
    assert f"{name}: share of 0 rose from" in err and "[baseline data/baseline/profile.json]" in err
