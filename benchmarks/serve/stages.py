"""Where a multi-row /predict spends its time, stage by stage, in-process (no HTTP).

    .venv/bin/python benchmarks/serve/stages.py [--rows 1000] [--train-rows 20000]

Fits the configured model on rows of its snapshot and times each stage of
`ServeApp.predict` on one request body (median of 30): bare `orjson.loads` (what the
HTTP floor does), `RequestCodec.decode` (validation into the float matrix), the
categorical codes, the tree walk (scikit-learn's per-tree loop, which the server uses
above `vector_max_rows`; the vectorised node table; and, for comparison, the numba
kernel of batch scoring, which is not in the serving image), probabilities and the
response body. Prints the load average with the figures.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import configured_model as cm  # noqa: E402


def median_ms(fn: Any, repeats: int = 30) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--train-rows", type=int, default=20_000)
    args = parser.parse_args()

    from modelops.contract import load_package
    from modelops.score.trees import TreeKernel
    from modelops.serve import config as serve_config
    from modelops.serve import schema
    from modelops.serve.fastpath import compile_pipeline
    from modelops.settings import load_settings

    settings = load_settings(REPO)
    names = settings.features.names
    frame = cm.draw(cm.snapshot(settings), args.train_rows, settings.train.seed)
    pipe = load_package(settings).unfitted_pipeline(settings)
    pipe.fit(frame[names], frame[settings.features.label])
    records = orjson.loads(frame[names].iloc[: args.rows].to_json(orient="records"))
    body = orjson.dumps({"records": records})
    codec = schema.RequestCodec(settings.features, max(args.rows, 1))
    cfg = serve_config.load(REPO / "configs")
    scorer = compile_pipeline(pipe, names, cfg.fast_path.vector_max_rows, cfg.threads)
    batch = codec.decode(body)
    X = scorer.batch_matrix(batch)
    raw = scorer.raw(X)
    scores = scorer._proba(raw)
    values, labels = scores.tolist(), (scores >= 0.5).view(np.int8).tolist()
    kernel = TreeKernel(scorer._predictors, scorer._known, scorer._f_idx_map, scorer._baseline)
    assert np.array_equal(kernel.raw(X), raw), "the numba kernel differs from scikit-learn's loop"

    stages = {
        "orjson.loads (the floor's parse)": lambda: orjson.loads(body),
        "RequestCodec.decode (validation -> matrix)": lambda: codec.decode(body),
        "categorical codes (batch_matrix)": lambda: scorer.batch_matrix(batch),
        "trees: scikit-learn per-tree loop (served)": lambda: scorer.raw(X),
        "trees: numba kernel (batch scoring; not in the image)": lambda: kernel.raw(X),
        "probabilities": lambda: scorer._proba(raw),
        "response body": lambda: orjson.dumps(
            {"predictions": [{"score": s, "label": lb} for s, lb in zip(values, labels, strict=True)]}
        ),
    }
    if args.rows <= 2000:  # tests every node for every row: ~1 s at 1,000 rows
        stages["trees: vectorised node table (single-row path)"] = lambda: scorer._table.raw(X)
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"{args.rows} rows, {pipe[-1].n_iter_} trees; load average {load}")
    for name, fn in stages.items():
        print(f"  {name:55s} {median_ms(fn):8.2f} ms")
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
