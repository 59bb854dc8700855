"""A compiled scorer for the template's pipeline shape (pure; no I/O).

`pipeline.predict_proba(DataFrame)` spends milliseconds per request in pandas,
scikit-learn's input validation and one Python call per tree; the arithmetic is
microseconds. `compile_pipeline` reads the *fitted* pipeline and returns a scorer
that encodes records straight into the float64 matrix the trees see and walks all
trees at once with numpy. It supports exactly one shape (ColumnTransformer of
passthrough numerics and NaN-for-unknown OrdinalEncoders, then a binary
HistGradientBoostingClassifier) and raises `Unsupported` for anything else; the
server checks parity against the full pipeline before trusting it.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

NAN = float("nan")


class Unsupported(Exception):
    """The fitted pipeline is not the shape this compiler understands."""


@dataclass(frozen=True)
class Column:
    """One column of the model matrix: a numeric feature, or a category -> code map."""

    feature: str
    codes: Mapping[str, float] | None = None


def _is_nan(x: Any) -> bool:
    return isinstance(x, float) and x != x


def _passthrough(trans: Any) -> bool:
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(trans, str):
        return trans == "passthrough"
    if not isinstance(trans, FunctionTransformer):
        return False
    func = getattr(trans.func, "func", trans.func)  # HGB wraps check_array in a partial
    return func is None or getattr(func, "__name__", "") == "check_array"


def _nan_encoder(enc: Any) -> bool:
    from sklearn.preprocessing import OrdinalEncoder

    return (
        isinstance(enc, OrdinalEncoder)
        and enc.handle_unknown == "use_encoded_value"
        and _is_nan(enc.unknown_value)
        and _is_nan(enc.encoded_missing_value)
    )


def _column_names(ct: Any, cols: Any) -> list[Any]:
    """A transformer's column selection (names, indices or mask) as input names."""
    if isinstance(cols, str):
        return [cols]
    arr = np.asarray(cols)
    if arr.dtype == bool:
        arr = np.flatnonzero(arr)
    if arr.dtype.kind in "iu":
        return [ct.feature_names_in_[i] for i in arr]
    return list(arr)


def _layout(ct: Any, inputs: Sequence[Any]) -> list[Any]:
    """Output columns of a fitted ColumnTransformer, each described in terms of `inputs`.

    `inputs[i]` describes input column i (a feature name or a Column); the result
    holds one Column per output column, in output order.
    """
    out: list[Any] = [None] * sum(s.stop - s.start for s in ct.output_indices_.values())
    positions = {name: i for i, name in enumerate(ct.feature_names_in_)}
    for name, trans, cols in ct.transformers_:
        sl = ct.output_indices_[name]
        if trans == "drop" or sl.stop == sl.start:
            continue
        source = [inputs[positions[c]] for c in _column_names(ct, cols)]
        if _passthrough(trans):
            for k, src in enumerate(source):
                out[sl.start + k] = src if isinstance(src, Column) else Column(str(src))
        elif _nan_encoder(trans):
            for k, (src, cats) in enumerate(zip(source, trans.categories_, strict=True)):
                known = {c: float(i) for i, c in enumerate(cats) if not _is_nan(c)}
                if isinstance(src, Column):
                    if src.codes is None:
                        raise Unsupported(f"numeric feature {src.feature!r} is encoded as categorical")
                    # An inner encoder of outer codes: compose the two maps.
                    codes = {cat: known.get(code, NAN) for cat, code in src.codes.items()}
                    out[sl.start + k] = Column(src.feature, codes)
                else:
                    out[sl.start + k] = Column(str(src), {str(c): v for c, v in known.items()})
        else:
            raise Unsupported(f"transformer {name!r} ({type(trans).__name__}) is not supported")
    if any(c is None for c in out):
        raise Unsupported("could not place every output column")
    return out


class _TreeTable:
    """Every tree of the ensemble flattened into node arrays for a vectorised walk."""

    CODES = 256  # HGB categories are uint8 codes

    def __init__(self, predictors: Sequence[Any], known: np.ndarray, f_idx_map: np.ndarray) -> None:
        sizes = [len(p.nodes) for p in predictors]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        nodes = np.concatenate([p.nodes for p in predictors])
        tree_of = np.repeat(np.arange(len(predictors)), sizes)
        n = len(nodes)
        leaf = nodes["is_leaf"].astype(bool)
        here = np.arange(n, dtype=np.intp)
        # Leaves point at themselves, so a fixed number of steps reaches every leaf.
        self.left = np.where(leaf, here, nodes["left"].astype(np.intp) + offsets[tree_of])
        self.right = np.where(leaf, here, nodes["right"].astype(np.intp) + offsets[tree_of])
        self.feature = np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp)
        self.missing_left = nodes["missing_go_to_left"].astype(bool)
        categorical = nodes["is_categorical"].astype(bool) & ~leaf
        self.threshold = np.where(categorical, np.inf, nodes["num_threshold"]).astype(np.float64)
        self.cat_nodes = np.flatnonzero(categorical)
        self.cat_missing_left = self.missing_left[self.cat_nodes]
        self.cat_rows = np.arange(len(self.cat_nodes))
        # Left-or-right for every (categorical node, code), with sklearn's rules:
        # in the left bitset -> left; known but not left -> right; unknown -> as missing.
        codes = np.arange(self.CODES)
        self.cat_table = np.zeros((len(self.cat_nodes), self.CODES), dtype=bool)
        for row, node in enumerate(self.cat_nodes):
            t = tree_of[node]
            bits = predictors[t].raw_left_cat_bitsets[nodes["bitset_idx"][node]]
            in_left = (bits[codes // 32] >> (codes % 32)) & 1
            kbits = known[f_idx_map[self.feature[node]]]
            is_known = (kbits[codes // 32] >> (codes % 32)) & 1
            self.cat_table[row] = np.where(
                in_left == 1, True, np.where(is_known == 1, False, self.missing_left[node])
            )
        self.roots = offsets
        self.values = nodes["value"].astype(np.float64)
        self.steps = int(nodes["depth"].max()) if n else 0

    def raw(self, X: np.ndarray) -> np.ndarray:
        v = X[:, self.feature]
        go_left = v <= self.threshold
        if len(self.cat_nodes):
            cv = v[:, self.cat_nodes]
            bad = ~((cv >= 0) & (cv < self.CODES))  # NaN fails both comparisons
            codes = np.where(bad, 0, cv).astype(np.intp)
            go_left[:, self.cat_nodes] = np.where(
                bad, self.cat_missing_left, self.cat_table[self.cat_rows, codes]
            )
        go_left = np.where(np.isnan(v), self.missing_left, go_left)
        n, size = X.shape[0], len(self.values)
        # Row r's copy of the node arrays lives at [r * size, (r + 1) * size) of one flat array,
        # so each step down every tree of every row is a single gather.
        base = (np.arange(n, dtype=np.intp) * size)[:, None]
        nxt = (np.where(go_left, self.left, self.right) + base).ravel()
        idx = (self.roots + base).ravel()
        for _ in range(self.steps):
            idx = nxt[idx]
        return self.values[(idx.reshape(n, -1) - base)].sum(axis=1)


class CompiledScorer:
    """Records -> probability of the positive class, without pandas or per-call validation."""

    def __init__(self, columns: Sequence[Column], estimator: Any, vector_max_rows: int, threads: int) -> None:
        self.columns = tuple(columns)
        self._est = estimator
        self._loss = estimator._loss
        self._baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
        self._predictors = [p[0] for p in estimator._predictors]
        self._known, self._f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
        self._table = _TreeTable(self._predictors, self._known, self._f_idx_map)
        self._vector_max = vector_max_rows
        self._threads = threads
        self._numeric = [(j, c.feature) for j, c in enumerate(self.columns) if c.codes is None]
        self._categorical = [
            (j, c.feature, c.codes) for j, c in enumerate(self.columns) if c.codes is not None
        ]

    def matrix(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The float64 matrix the trees see; None, unknown and missing categories become NaN."""
        X = np.empty((len(records), len(self.columns)), dtype=np.float64)
        for j, name in self._numeric:
            X[:, j] = np.array([r.get(name) for r in records], dtype=np.float64)
        for j, name, codes in self._categorical:
            X[:, j] = [codes.get(r.get(name), NAN) for r in records]  # type: ignore[arg-type]
        return X

    def batch_matrix(self, batch: Any) -> np.ndarray:
        """The same matrix from a validated request batch (schema.Batch): numeric columns are
        already float64, categorical ones are mapped to codes; absent/null/unknown -> NaN."""
        n = len(batch)
        X = np.empty((n, len(self.columns)), dtype=np.float64)
        names = batch.numeric_names
        for j, name in self._numeric:
            X[:, j] = batch.numeric[:, names.index(name)]
        for j, name, codes in self._categorical:
            X[:, j] = list(map(codes.get, batch.categorical[name], repeat(NAN, n)))
        return X

    def score_batch(self, batch: Any) -> np.ndarray:
        return self._proba(self.raw(self.batch_matrix(batch)))

    def _proba(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(self._loss.predict_proba(raw.reshape(-1, 1))[:, 1], dtype=np.float64)

    def raw(self, X: np.ndarray) -> np.ndarray:
        if X.shape[0] <= self._vector_max:
            return self._table.raw(X) + self._baseline
        # Large batches: sklearn's own per-tree Cython loop, in sklearn's order.
        out = np.full(X.shape[0], self._baseline, dtype=np.float64)
        for p in self._predictors:
            out += p.predict(X, self._known, self._f_idx_map, self._threads)
        return out

    def score(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self._proba(self.raw(self.matrix(records)))


def compile_pipeline(
    pipeline: Any, features: Sequence[str], vector_max_rows: int = 8, threads: int = 1
) -> CompiledScorer:
    """Compile a fitted Pipeline(ColumnTransformer, HistGradientBoostingClassifier); Unsupported otherwise."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
        raise Unsupported("expected a two-step Pipeline (ColumnTransformer, HistGradientBoostingClassifier)")
    pre, est = pipeline.steps[0][1], pipeline.steps[1][1]
    if not isinstance(pre, ColumnTransformer) or type(est) is not HistGradientBoostingClassifier:
        raise Unsupported(f"steps are {type(pre).__name__}, {type(est).__name__}")
    if len(est.classes_) != 2 or est.n_trees_per_iteration_ != 1:
        raise Unsupported("only binary classifiers are compiled")
    names = list(getattr(pre, "feature_names_in_", []))
    if sorted(names) != sorted(features):
        raise Unsupported(f"pipeline inputs {names} differ from the declared features {list(features)}")
    columns = _layout(pre, names)
    inner = getattr(est, "_preprocessor", None)
    if inner is not None:
        # HGB re-encodes categorical columns itself and moves them to the front.
        columns = _layout_inner(inner, columns)
    if len(columns) != est.n_features_in_:
        raise Unsupported("column count differs from the estimator's n_features_in_")
    return CompiledScorer(columns, est, vector_max_rows, threads)


def _layout_inner(ct: Any, inputs: Sequence[Column]) -> list[Column]:
    """Like `_layout`, for HGB's internal ColumnTransformer, whose columns are positional."""
    out: list[Any] = [None] * len(inputs)
    for name, trans, cols in ct.transformers_:
        sl = ct.output_indices_[name]
        if trans == "drop" or sl.stop == sl.start:
            continue
        arr = np.asarray(cols)
        positions = np.flatnonzero(arr) if arr.dtype == bool else arr
        source = [inputs[int(i)] for i in positions]
        if _passthrough(trans):
            for k, src in enumerate(source):
                out[sl.start + k] = src
        elif _nan_encoder(trans):
            for k, (src, cats) in enumerate(zip(source, trans.categories_, strict=True)):
                if src.codes is None:
                    raise Unsupported(
                        f"numeric feature {src.feature!r} is treated as categorical by the model"
                    )
                known = {float(c): float(i) for i, c in enumerate(cats) if not _is_nan(c)}
                out[sl.start + k] = Column(
                    src.feature, {cat: known.get(code, NAN) for cat, code in src.codes.items()}
                )
        else:
            raise Unsupported(f"estimator preprocessor {name!r} ({type(trans).__name__}) is not supported")
    if any(c is None for c in out):
        raise Unsupported("could not place every estimator input column")
    return out
