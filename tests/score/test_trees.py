"""The batch tree kernel gives scikit-learn's raw scores bit for bit, on every edge a node has."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from modelops.score import frame, trees
from modelops.serve.fastpath import compile_pipeline
from tests.helpers.fixture import fixture_configs

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The fixture package's configs (tests/fixture_model): its trees, its generator."""
    return fixture_configs(tmp_path_factory.mktemp("trees"))


@pytest.fixture(scope="module")
def data(settings):  # type: ignore[no-untyped-def]
    from modelops.contract import load_package

    package = load_package(settings)
    return package.load_data(package.source(settings, rows=6000, seed=5))


def fit(settings, data, **params: object):  # type: ignore[no-untyped-def]
    from modelops.contract import load_package

    features = settings.features
    pipe = load_package(settings).build_pipeline(features, "hist_gradient_boosting", params, 3)
    return pipe.fit(data[features.names], data[features.label])


def edge_rows(compiled, X: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """X plus rows sitting exactly on split thresholds, NaN and +-inf numbers, and missing,
    negative and unknown category codes. (No inf code: the matrix holds a category's code or NaN,
    and scikit-learn's cast of inf to a uint8 code is undefined.)"""
    rng = np.random.default_rng(0)
    rows = [X]
    nodes = np.concatenate([p.nodes for p in compiled._predictors])
    split = nodes[(nodes["is_leaf"] == 0) & (nodes["is_categorical"] == 0)]
    on = X[rng.integers(0, len(X), len(split))].copy()
    on[np.arange(len(split)), split["feature_idx"]] = split["num_threshold"]  # value == threshold
    rows.append(on)
    categorical = np.array([c.codes is not None for c in compiled.columns])
    for kind, special in (
        (~categorical, np.nan),
        (~categorical, np.inf),
        (~categorical, -np.inf),
        (categorical, np.nan),
        (categorical, -1.0),
        (categorical, 200.0),
    ):
        odd = X[:300].copy()
        odd[(rng.random(odd.shape) < 0.3) & kind] = special
        rows.append(odd)
    return np.asfortranarray(np.vstack(rows))


def test_kernel_equals_scikit_learns_tree_loop_bit_for_bit(settings, data) -> None:  # type: ignore[no-untyped-def]
    pipe = fit(settings, data, max_iter=60)
    compiled = compile_pipeline(pipe, settings.features.names, vector_max_rows=0)
    table = pa.Table.from_pandas(data[settings.features.names], preserve_index=False)
    X = edge_rows(compiled, frame.matrix(compiled, table))
    kernel = trees.kernel_of(compiled)
    assert kernel is not None and len(kernel.cat_feature) > 0, "the model should split on categories"

    expected = compiled.raw(np.ascontiguousarray(X))  # scikit-learn's per-tree Cython loop
    assert np.array_equal(kernel.raw(X), expected)
    assert np.array_equal(kernel.raw(X, threads=2), expected)  # rows split over two threads
    assert np.array_equal(kernel.raw(np.ascontiguousarray(X[:7])), expected[:7])  # a partial block


def test_trees_beyond_64_leaves_use_scikit_learns_loop(settings, data) -> None:  # type: ignore[no-untyped-def]
    pipe = fit(settings, data, max_iter=3, max_leaf_nodes=120, min_samples_leaf=2)
    compiled = compile_pipeline(pipe, settings.features.names, vector_max_rows=0)
    assert max(int(p.nodes["is_leaf"].sum()) for p in compiled._predictors) > trees.MAX_LEAVES
    assert trees.kernel_of(compiled) is None

    scorer = frame.load(pipe, settings.features, fast=True, tolerance=1e-9, warmup_rows=128, threads=2)
    assert scorer.kind == "compiled" and scorer.kernel is None
    table = pa.Table.from_pandas(data[settings.features.names].head(500), preserve_index=False)
    expected = pipe.predict_proba(data[settings.features.names].head(500))[:, 1]
    assert np.max(np.abs(scorer.score(table) - expected)) <= 1e-9
