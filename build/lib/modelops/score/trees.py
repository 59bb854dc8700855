"""A compiled batch evaluator for the compiled scorer's trees: scikit-learn's rules, vectorised.

Batch scoring spent ~90% of its time in scikit-learn's per-tree `predict`: one OpenMP parallel
region per tree (on a shared 2-core machine every tree waits for the slower thread; threads=2
measured *slower* than 1) and a data-dependent branch at every node. This evaluator uses the
QuickScorer scheme (Lucchese et al., SIGIR 2015): each tree's leaves are numbered left to
right; a node that sends a row right rules out every leaf of its left subtree, so a row's exit
leaf is the lowest bit left standing after AND-ing the masks of the nodes it fails. Each node
is tested on a block of rows at once, a loop without branches that the compiler vectorises.

Exactness: a node's test is scikit-learn's own (`_predict_one_from_raw_data`): NaN goes the
node's missing side; a numeric value goes left when `value <= threshold`; a category code
goes left when in the node's left bitset, right when a known category, else the missing side
(negative codes too). Each row's raw score starts at the estimator's baseline and adds the
trees' leaf values in the estimator's tree order, as scikit-learn's loop does, so the result
is bit for bit the same; `frame.BatchScorer` still checks parity against
`pipeline.predict_proba` before it trusts any of it. Trees of more than 64 leaves do not fit a
mask: `kernel_of` then returns None and scikit-learn's loop is used. numba is a runtime
dependency of the template (the gate's bootstrap); the serving image does not need this module.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import numpy as np
from numba import njit

BLOCK = 512  # rows tested together: each node's loop runs over this many values
CODES = 256  # HistGradientBoosting's categories are uint8 codes; CODES itself = "missing"
MAX_LEAVES = 64  # leaves of one tree: bits of an int64 mask
_DE_BRUIJN = 0x03F79D71B4CB0A89  # lowest set bit -> its index with one multiply and a lookup


def _jit(fn: Callable[..., Any]) -> Any:
    """`njit` (nogil, no fastmath) with an on-disk cache; no cache where nothing is writable."""
    try:
        return njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # no cache locator: a read-only install without a writable cache dir
        return njit(nogil=True)(fn)


def _bit_table() -> np.ndarray:
    table = np.zeros(64, dtype=np.int64)
    for i in range(64):
        table[(((1 << i) * _DE_BRUIJN) & (2**64 - 1)) >> 58] = i
    return table


@_jit
def _evaluate(  # pragma: no cover - compiled by numba; exercised through TreeKernel.raw
    Xt: Any,  # features x rows, C-contiguous: a node reads one contiguous run of its feature
    codes: Any,  # features x rows: category code 0..255, or CODES for missing / out of range
    num_start: Any,  # tree t's numeric nodes are num_*[num_start[t]:num_start[t + 1]]
    num_feature: Any,
    num_threshold: Any,
    num_missing_left: Any,
    num_clear: Any,  # ~(bits of the node's left-subtree leaves)
    cat_start: Any,
    cat_feature: Any,
    cat_goes_left: Any,  # one row of CODES + 1 booleans per categorical node
    cat_clear: Any,
    leaf_start: Any,  # tree t's leaf values are leaf_value[leaf_start[t]:leaf_start[t + 1]]
    leaf_value: Any,
    baseline: float,
    bit_index: Any,
    out: Any,
) -> None:
    n = Xt.shape[1]
    masks = np.empty(BLOCK, dtype=np.int64)
    for i in range(n):
        out[i] = baseline
    for b0 in range(0, n, BLOCK):
        b1 = min(n, b0 + BLOCK)
        m = b1 - b0
        for t in range(leaf_start.shape[0] - 1):
            for k in range(m):
                masks[k] = -1
            for j in range(num_start[t], num_start[t + 1]):
                threshold, clear = num_threshold[j], num_clear[j]
                column = Xt[num_feature[j], b0:b1]
                if num_missing_left[j]:
                    for k in range(m):
                        v = column[k]
                        masks[k] &= -1 if (v <= threshold or v != v) else clear
                else:  # NaN fails `<=`, so it goes right with the other values
                    for k in range(m):
                        masks[k] &= -1 if column[k] <= threshold else clear
            for j in range(cat_start[t], cat_start[t + 1]):
                goes_left, clear = cat_goes_left[j], cat_clear[j]
                column_codes = codes[cat_feature[j], b0:b1]
                for k in range(m):
                    masks[k] &= -1 if goes_left[column_codes[k]] else clear
            first = leaf_start[t]
            for k in range(m):
                low = masks[k] & -masks[k]  # the exit leaf: the lowest bit left standing
                out[b0 + k] += leaf_value[first + bit_index[((low * _DE_BRUIJN) >> 58) & 63]]


def _bits(leaves: list[int]) -> int:
    mask = 0
    for leaf in leaves:
        mask |= 1 << leaf
    return mask


def _as_int64(mask: int) -> int:
    """A 64-bit pattern as the signed int64 numba reads it."""
    mask &= 2**64 - 1
    return mask - 2**64 if mask >= 2**63 else mask


def _leaves_in_order(nodes: np.ndarray) -> tuple[list[int], dict[int, list[int]]]:
    """The tree's leaves left to right (node ids), and each internal node's left-subtree leaves
    as positions in that order. Iterative: a tree can be deeper than Python's recursion limit."""
    order: list[int] = []
    stack = [0]
    while stack:
        node = stack.pop()
        if nodes["is_leaf"][node]:
            order.append(node)
        else:
            stack += [int(nodes["right"][node]), int(nodes["left"][node])]  # left popped first
    position = {node: i for i, node in enumerate(order)}
    under: dict[int, list[int]] = {}
    for node in order:
        under[node] = [position[node]]
    pending = [n for n in range(len(nodes)) if not nodes["is_leaf"][n]]
    while pending:
        rest = []
        for node in pending:
            left, right = int(nodes["left"][node]), int(nodes["right"][node])
            if left in under and right in under:
                under[node] = under[left] + under[right]
            else:
                rest.append(node)
        pending = rest
    return order, {n: under[int(nodes["left"][n])] for n in range(len(nodes)) if not nodes["is_leaf"][n]}


class TreeKernel:
    """The HistGradientBoosting trees of a `CompiledScorer` as per-node masks for `_evaluate`."""

    def __init__(self, predictors: list[Any], known: np.ndarray, f_idx_map: np.ndarray, baseline: float):
        num: dict[str, list[Any]] = {"feature": [], "threshold": [], "missing_left": [], "clear": []}
        cat: dict[str, list[Any]] = {"feature": [], "goes_left": [], "clear": []}
        num_start, cat_start, leaf_start, leaf_value = [0], [0], [0], []
        codes = np.arange(CODES)
        for predictor in predictors:
            nodes = predictor.nodes
            order, left_leaves = _leaves_in_order(nodes)
            if len(order) > MAX_LEAVES:
                raise ValueError(f"a tree has {len(order)} leaves (> {MAX_LEAVES})")
            leaf_value += [float(nodes["value"][leaf]) for leaf in order]
            leaf_start.append(len(leaf_value))
            for node, leaves in left_leaves.items():
                clear = _as_int64(~_bits(leaves))
                feature, missing_left = (
                    int(nodes["feature_idx"][node]),
                    bool(nodes["missing_go_to_left"][node]),
                )
                if not nodes["is_categorical"][node]:
                    num["feature"].append(feature)
                    num["threshold"].append(float(nodes["num_threshold"][node]))
                    num["missing_left"].append(missing_left)
                    num["clear"].append(clear)
                    continue
                bits = predictor.raw_left_cat_bitsets[nodes["bitset_idx"][node]]
                in_left = (bits[codes // 32] >> (codes % 32)) & 1
                known_bits = known[f_idx_map[feature]]
                is_known = (known_bits[codes // 32] >> (codes % 32)) & 1
                goes_left = np.append(
                    np.where(in_left == 1, True, np.where(is_known == 1, False, missing_left)), missing_left
                )
                cat["feature"].append(feature)
                cat["goes_left"].append(goes_left)
                cat["clear"].append(clear)
            num_start.append(len(num["feature"]))
            cat_start.append(len(cat["feature"]))
        self.num_start = np.array(num_start, dtype=np.int64)
        self.num_feature = np.array(num["feature"], dtype=np.int64)
        self.num_threshold = np.array(num["threshold"], dtype=np.float64)
        self.num_missing_left = np.array(num["missing_left"], dtype=np.bool_)
        self.num_clear = np.array(num["clear"], dtype=np.int64)
        self.cat_start = np.array(cat_start, dtype=np.int64)
        self.cat_feature = np.array(cat["feature"], dtype=np.int64)
        self.cat_goes_left = (
            np.array(cat["goes_left"], dtype=np.bool_)
            if cat["goes_left"]
            else np.zeros((0, CODES + 1), np.bool_)
        )
        self.cat_clear = np.array(cat["clear"], dtype=np.int64)
        self.cat_columns = sorted(set(cat["feature"]))
        self.leaf_start = np.array(leaf_start, dtype=np.int64)
        self.leaf_value = np.array(leaf_value, dtype=np.float64)
        self.baseline = float(baseline)
        self.bit_index = _bit_table()

    def _codes(self, Xt: np.ndarray) -> np.ndarray:
        """Category codes of the categorical columns (rows of Xt); NaN and out of range -> CODES."""
        codes = np.full(Xt.shape, CODES, dtype=np.int16)
        for f in self.cat_columns:
            v = Xt[f]
            ok = (v >= 0) & (v < CODES)  # False for NaN
            codes[f] = np.where(ok, v, CODES).astype(np.int16)  # an integral code, as sklearn's cast
        return codes

    def _into(self, Xt: np.ndarray, out: np.ndarray) -> None:
        _evaluate(
            Xt,
            self._codes(Xt),
            self.num_start,
            self.num_feature,
            self.num_threshold,
            self.num_missing_left,
            self.num_clear,
            self.cat_start,
            self.cat_feature,
            self.cat_goes_left,
            self.cat_clear,
            self.leaf_start,
            self.leaf_value,
            self.baseline,
            self.bit_index,
            out,
        )

    def raw(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        """Raw scores (baseline + every tree's leaf value) of the rows of X, split over `threads`
        threads (one synchronisation per call). X in Fortran order avoids a transposing copy."""
        Xt = np.ascontiguousarray(np.asarray(X, dtype=np.float64).T)
        out = np.empty(Xt.shape[1], dtype=np.float64)
        parts = max(1, min(threads, Xt.shape[1] // (8 * BLOCK)))
        if parts == 1:
            self._into(Xt, out)
            return out
        bounds = np.linspace(0, Xt.shape[1], parts + 1).astype(int)
        with ThreadPoolExecutor(parts) as pool:
            done = [
                pool.submit(self._into, np.ascontiguousarray(Xt[:, a:b]), out[a:b])
                for a, b in pairwise(bounds)
            ]
            for d in done:
                d.result()
        return out


def kernel_of(compiled: Any) -> TreeKernel | None:
    """The kernel for a `serve.fastpath.CompiledScorer`, or None when a tree is too big for it."""
    try:
        return TreeKernel(compiled._predictors, compiled._known, compiled._f_idx_map, compiled._baseline)
    except ValueError:
        return None
