"""The compiled scorer agrees with pipeline.predict_proba, and anything else falls back (unit)."""

import numpy as np
import pytest

from modelops.contract import load_package
from modelops.serve import scoring
from modelops.serve.fastpath import Unsupported, compile_pipeline
from modelops.serve.scoring import PipelineScorer, load_scorer, warmup_records
from modelops.settings import Settings
from tests.helpers.fixture import fixture_configs, rows
from tests.serve.conftest import to_records


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The fixture package's configs (tests/fixture_model): its trees have the compiled shape."""
    return fixture_configs(tmp_path_factory.mktemp("fastpath"))


@pytest.fixture(scope="module")
def features(settings: Settings):  # type: ignore[no-untyped-def]
    return settings.features


@pytest.fixture(scope="module")
def build_pipeline(settings: Settings):  # type: ignore[no-untyped-def]
    return load_package(settings).build_pipeline


@pytest.fixture(scope="module")
def fitted(settings: Settings, features, build_pipeline):  # type: ignore[no-untyped-def]
    frame = rows(settings, 3000, 3)
    pipe = build_pipeline(features, "hist_gradient_boosting", {"max_iter": 50, "max_leaf_nodes": 31}, 0)
    return pipe.fit(frame[features.names], frame[features.label])


@pytest.fixture(scope="module")
def records(settings: Settings, features):  # type: ignore[no-untyped-def]
    recs = to_records(rows(settings, 600, 11), features.names)
    # Real missing values plus the edge cases the API can send: nulls in every nullable feature.
    nullable = [f.name for f in features.features if f.nullable]
    assert nullable, "the fixture declares nullable features"
    for i, rec in enumerate(recs[:60]):
        for k, name in enumerate(nullable):
            rec[name] = None if i % (k + 2) == 0 else rec[name]
    return recs + warmup_records(features, 200, seed=5)


def test_compiled_equals_pipeline_batch_and_single(fitted, features, records) -> None:  # type: ignore[no-untyped-def]
    fast = compile_pipeline(fitted, features.names, vector_max_rows=8)
    ref = PipelineScorer(fitted, features.names).score(records)
    assert np.max(np.abs(fast.score(records) - ref)) <= 1e-9
    single = np.array([fast.score([r])[0] for r in records[:150]])
    assert np.max(np.abs(single - ref[:150])) <= 1e-9
    small = np.concatenate([fast.score(records[i : i + 5]) for i in range(0, 150, 5)])
    assert np.max(np.abs(small - ref[:150])) <= 1e-9
    assert ref.min() > 0 and ref.max() < 1 and ref.std() > 0.05  # a model that discriminates


def test_unknown_category_scores_like_the_pipeline(fitted, features, records) -> None:  # type: ignore[no-untyped-def]
    first, second = features.categorical[0], features.categorical[-1]
    odd = [dict(records[0], **{first: "lifetime"}), dict(records[1], **{second: None})]
    fast = compile_pipeline(fitted, features.names)
    ref = PipelineScorer(fitted, features.names).score(odd)
    assert np.max(np.abs(fast.score(odd) - ref)) <= 1e-9


def test_other_pipeline_shapes_are_unsupported_and_served_in_full(settings, features, build_pipeline) -> None:  # type: ignore[no-untyped-def]
    frame = rows(settings, 2000, 4)
    pipe = build_pipeline(features, "logistic_regression", {}, 0).fit(
        frame[features.names], frame[features.label]
    )
    with pytest.raises(Unsupported):
        compile_pipeline(pipe, features.names)
    chosen = load_scorer(pipe, features, fast=True, vector_max_rows=8, tolerance=1e-9, warmup_rows=32)
    assert chosen.kind == "pipeline" and chosen.fallback_reason


def test_parity_failure_falls_back_to_the_pipeline(fitted, features, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        compiled = compile_pipeline(*args, **kwargs)
        compiled._baseline += 1e-6  # a compiler bug of one part in a million
        return compiled

    monkeypatch.setattr(scoring, "compile_pipeline", broken)
    chosen = load_scorer(fitted, features, fast=True, vector_max_rows=8, tolerance=1e-9, warmup_rows=64)
    assert chosen.kind == "pipeline" and "parity" in (chosen.fallback_reason or "")


def test_fast_path_is_chosen_when_it_agrees(fitted, features) -> None:  # type: ignore[no-untyped-def]
    chosen = load_scorer(fitted, features, fast=True, vector_max_rows=8, tolerance=1e-9, warmup_rows=64)
    assert chosen.kind == "compiled" and chosen.parity_max_abs_diff is not None
    assert chosen.parity_max_abs_diff <= 1e-9


def test_declared_features_must_match_the_model(fitted, features) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Unsupported, match="differ"):
        compile_pipeline(fitted, [*features.names, "favourite_colour"])
