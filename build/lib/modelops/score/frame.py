"""Scoring Arrow batches with the server's parity-checked scorer.

The server's `load_scorer` decides compiled-or-pipeline on warm-up rows exactly as it
does online. Batches then skip the records-of-dicts interface: columns go straight
from Arrow into the float64 matrix the compiled trees read, and that frame path is
parity-checked against `pipeline.predict_proba` too before it is trusted; any
disagreement falls back to the pipeline, as the server does.

The compiled trees are walked by `score.trees.TreeKernel` (numba, GIL released, rows split
over `threads` threads), which applies scikit-learn's own node rules and adds the trees in
the estimator's order, so its raw scores are bit for bit those of scikit-learn's per-tree
loop (`vector_max_rows=0`) for every batch size: a row's score never depends on how the
input was chunked, and the pandas and Spark engines give identical scores.
"""

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelops.data.schema import FeatureSchema
from modelops.score.trees import TreeKernel, kernel_of
from modelops.serve.fastpath import CompiledScorer
from modelops.serve.scoring import Scorer, load_scorer, warmup_records

log = logging.getLogger(__name__)
NAN = float("nan")
# An Arrow Table or RecordBatch (both have num_rows and column(name)).
Batch = Any


def _strings(col: Any) -> Any:
    return pc.cast(col, pa.string()) if pa.types.is_dictionary(col.type) else col


def matrix(compiled: CompiledScorer, batch: Batch) -> np.ndarray:
    """The compiled scorer's input matrix from Arrow columns; nulls and unknown categories are NaN.

    Column-major (each column filled in one contiguous run); the tree kernel reads it transposed
    without a copy."""
    X = np.empty((len(compiled.columns), batch.num_rows), dtype=np.float64).T
    for j, column in enumerate(compiled.columns):
        col = batch.column(column.feature)
        if column.codes is None:
            X[:, j] = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
            continue
        if pa.types.is_null(col.type):
            X[:, j] = NAN
            continue
        categories = list(column.codes)
        lookup = np.array([column.codes[c] for c in categories] + [NAN], dtype=np.float64)
        idx = pc.index_in(_strings(col), value_set=pa.array(categories, pa.string()))
        X[:, j] = lookup[pc.fill_null(idx, len(categories)).to_numpy(zero_copy_only=False)]
    return X


def frame(batch: Batch, features: FeatureSchema) -> Any:
    """The declared feature columns as a pandas frame, as the pipeline was fitted on."""
    import pandas as pd

    cols: dict[str, Any] = {}
    for f in features.features:
        col = batch.column(f.name)
        if f.kind == "numeric":
            cols[f.name] = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        else:
            cols[f.name] = (
                _strings(col).to_pandas().astype(object)
                if not pa.types.is_null(col.type)
                else np.full(batch.num_rows, None, dtype=object)
            )
    return pd.DataFrame(cols)


@dataclass(frozen=True)
class BatchScorer:
    """What both engines call: Arrow batch in, probability of the positive class out."""

    scorer: Scorer
    features: FeatureSchema
    kind: str  # "compiled" or "pipeline"
    parity_max_abs_diff: float | None
    fallback_reason: str | None
    kernel: TreeKernel | None = None  # the compiled trees' batch walker (kind "compiled")
    threads: int = 1  # rows of a batch are split over this many threads

    def score(self, batch: Batch) -> np.ndarray:
        impl = self.scorer.impl
        if self.kind == "compiled":
            X = matrix(impl, batch)
            raw = self.kernel.raw(X, self.threads) if self.kernel is not None else impl.raw(X)
            return np.asarray(impl._loss.predict_proba(raw.reshape(-1, 1))[:, 1], dtype=np.float64)
        pipeline = impl.pipeline if hasattr(impl, "pipeline") else impl
        return np.asarray(pipeline.predict_proba(frame(batch, self.features))[:, 1], dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "parity_max_abs_diff": self.parity_max_abs_diff,
            "fallback_reason": self.fallback_reason,
        }


def load(
    pipeline: Any,
    features: FeatureSchema,
    *,
    fast: bool,
    tolerance: float,
    warmup_rows: int,
    threads: int,
) -> BatchScorer:
    """The server's scorer choice, plus a parity check of the Arrow frame path on the same rows.

    `threads` splits a batch's rows for the tree walk (one synchronisation per batch); the
    scikit-learn fallback is given one OpenMP thread, whose per-tree parallel regions measured
    slower with 2 threads than with 1 on a shared 2-core machine.
    """
    scorer = load_scorer(
        pipeline,
        features,
        fast=fast,
        vector_max_rows=0,
        tolerance=tolerance,
        warmup_rows=warmup_rows,
        threads=1,
    )
    if scorer.kind != "compiled":
        return BatchScorer(scorer, features, "pipeline", None, scorer.fallback_reason)
    records = warmup_records(features, warmup_rows)
    table = pa.Table.from_pylist(records)
    reference = np.asarray(pipeline.predict_proba(frame(table, features))[:, 1], dtype=np.float64)
    kernel = kernel_of(scorer.impl)
    candidate = BatchScorer(scorer, features, "compiled", None, None, kernel, threads).score(table)
    diff = float(np.max(np.abs(candidate - reference)))
    if not diff <= tolerance:  # also catches NaN
        reason = f"frame path parity {diff:.3g} > {tolerance:g}"
        log.error("%s; scoring with the full pipeline", reason)
        return BatchScorer(scorer, features, "pipeline", diff, reason)
    log.info("compiled scorer on: max |diff| vs pipeline.predict_proba = %.3g", diff)
    return BatchScorer(scorer, features, "compiled", diff, None, kernel, threads)
