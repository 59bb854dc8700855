"""The scorer the server calls: the compiled fast path when it agrees with the pipeline.

`load_scorer` never trusts the fast path blindly: it scores warm-up rows through
both the compiled scorer (batch and single-row walks) and the fitted pipeline's own
`predict_proba`, and falls back to the pipeline, logged, when they differ by more
than the tolerance or the pipeline's shape is not recognised.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelops.data.schema import FeatureSchema
from modelops.serve.fastpath import Unsupported, compile_pipeline

log = logging.getLogger(__name__)


def warmup_records(features: FeatureSchema, rows: int, seed: int = 0) -> list[dict[str, Any]]:
    """Deterministic records that satisfy the request schema, with nulls where allowed."""
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = [{} for _ in range(rows)]
    for f in features.features:
        if f.kind == "categorical":
            cats = list(f.categories or ())
            values: list[Any] = [cats[i] for i in rng.integers(0, len(cats), rows)]
        else:
            lo = f.min if f.min is not None else 0.0
            hi = f.max if f.max is not None else lo + 1000.0
            if f.dtype == "int":
                values = [int(v) for v in rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1, rows)]
            else:
                values = [round(float(v), 3) for v in rng.uniform(lo, hi, rows)]
        nulls = rng.random(rows) < (0.1 if f.nullable else 0.0)
        for rec, value, null in zip(out, values, nulls, strict=True):
            rec[f.name] = None if null else value
    return out


class PipelineScorer:
    """The fitted pipeline itself, fed a DataFrame (the reference, and the fallback)."""

    def __init__(self, pipeline: Any, features: Sequence[str]) -> None:
        self.pipeline = pipeline
        self.features = list(features)

    def score(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        import pandas as pd

        frame = pd.DataFrame.from_records(list(records), columns=self.features)
        return np.asarray(self.pipeline.predict_proba(frame)[:, 1], dtype=np.float64)

    def score_batch(self, batch: Any) -> np.ndarray:
        return self.score(batch.records())


@dataclass(frozen=True)
class Scorer:
    """What /predict calls, and which implementation answered the parity check."""

    impl: Any
    kind: str  # "compiled" or "pipeline"
    parity_max_abs_diff: float | None
    fallback_reason: str | None = None

    def score(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self.impl.score(records)  # type: ignore[no-any-return]

    def score_batch(self, batch: Any) -> np.ndarray:
        """Scores of a validated request batch (modelops.serve.schema.Batch)."""
        return self.impl.score_batch(batch)  # type: ignore[no-any-return]


def parity(fast: Any, reference: PipelineScorer, records: list[dict[str, Any]], codec: Any = None) -> float:
    """Max |fast - reference| over `records`, scored as one batch and row by row; with `codec`
    (the server's request decoder) also through the path requests take: JSON -> decode -> score."""
    ref = reference.score(records)
    diffs = [np.max(np.abs(fast.score(records) - ref))]
    single = np.concatenate([fast.score([r]) for r in records[:64]])
    diffs.append(np.max(np.abs(single - ref[: len(single)])))
    if codec is not None:
        import orjson

        step = codec.max_rows
        wire = np.concatenate(
            [
                fast.score_batch(codec.decode(orjson.dumps({"records": records[i : i + step]})))
                for i in range(0, len(records), step)
            ]
        )
        one = np.concatenate(
            [fast.score_batch(codec.decode(orjson.dumps({"records": [r]}))) for r in records[:64]]
        )
        diffs += [np.max(np.abs(wire - ref)), np.max(np.abs(one - ref[: len(one)]))]
    return float(max(diffs))


def load_scorer(
    pipeline: Any,
    features: FeatureSchema,
    *,
    fast: bool,
    vector_max_rows: int,
    tolerance: float,
    warmup_rows: int,
    threads: int = 1,
    codec: Any = None,
) -> Scorer:
    """Choose the implementation and warm it up on `warmup_rows` schema-valid records."""
    reference = PipelineScorer(pipeline, features.names)
    records = warmup_records(features, warmup_rows)
    reference.score(records)  # fails loudly on a pipeline that cannot score the declared features
    if not fast:
        return Scorer(reference, "pipeline", None, "fast_path.enabled is false")
    try:
        compiled = compile_pipeline(pipeline, features.names, vector_max_rows, threads)
    except Unsupported as exc:
        log.warning("fast path unavailable, serving the full pipeline: %s", exc)
        return Scorer(reference, "pipeline", None, str(exc))
    diff = parity(compiled, reference, records, codec)
    if not diff <= tolerance:  # also catches NaN
        log.error(
            "fast path parity failed (max |diff| %.3g > %.1g); serving the full pipeline", diff, tolerance
        )
        return Scorer(reference, "pipeline", diff, f"parity {diff:.3g} > {tolerance:g}")
    log.info("fast path on: max |diff| vs pipeline.predict_proba = %.3g over %d rows", diff, len(records))
    return Scorer(compiled, "compiled", diff)
