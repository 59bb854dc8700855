"""Benchmark: the gate on a 1M-row evaluation set with 1,000 paired bootstrap resamples.

The configured model (configs/model.yaml contract, benchmarks/configured_model.py): two real
pipelines (champion: fitted on a quarter of the rows) are fitted on up to 20k rows of its raw snapshot,
both score a 1M-row evaluation set drawn from the other rows, and the gate's full evaluation runs
(bootstrap intervals for every metric, every slice, latency, checks, report render).
The bootstrap (aggregate and all slices in one fused pass) runs on numba threads:
NUMBA_NUM_THREADS is set to 2 below, before numba is imported. The first call in a
process loads the compiled kernel from numba's on-disk cache (or compiles it, a few
seconds, when the cache is cold); that cost is inside `gate_evaluate_s`. Prints wall
times, peak RSS and the load average. Usage:

    OMP_NUM_THREADS=2 python benchmarks/gate_bench.py [--rows 1000000] [--resamples 1000]
"""

import os

os.environ["NUMBA_NUM_THREADS"] = "2"  # before numba is imported (via modelops.gate)

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import configured_model as cm
import numpy as np

from modelops.gate import checks, report, slices
from modelops.gate.config import load as load_gate_config
from modelops.gate.job import _Scored, evaluate
from modelops.threads import limit_threads

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    settings = cm.settings(ROOT)
    config = load_gate_config(ROOT / "configs")
    config = config.model_copy(
        update={
            "bootstrap": config.bootstrap.model_copy(
                update={"resamples": args.resamples, "workers": args.workers}
            )
        }
    )
    f = settings.features
    train, rest = cm.train_and_rest(cm.snapshot(settings), 20_000, seed=1)
    frame = cm.draw(rest, args.rows, seed=2)
    X, y = frame[f.names], frame[f.label].to_numpy(dtype=np.int64)
    timings: dict[str, float] = {}
    with limit_threads(args.threads):
        t = time.perf_counter()
        # Candidate on every training row, champion on a quarter of them: two genuinely different
        # models for any configured estimator (no estimator-specific parameter is assumed).
        models = [
            cm.pipeline(settings).fit(part[f.names], part[f.label])
            for part in (train, train.iloc[: len(train) // 4])
        ]
        timings["fit_two_models_s"] = time.perf_counter() - t
        t = time.perf_counter()
        scored = [_Scored(None, m, m.predict_proba(X)[:, 1], 0) for m in models]  # type: ignore[arg-type]
        timings["score_two_models_s"] = time.perf_counter() - t
    # Time the fused paired bootstrap (aggregate + every slice) inside the full evaluation.
    fused = slices.evaluate_with_aggregate

    def timed(*a, **k):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return fused(*a, **k)
        finally:
            timings["of_which_bootstrap_aggregate_and_slices_s"] = time.perf_counter() - t

    slices.evaluate_with_aggregate = timed  # type: ignore[assignment]
    rss_before = peak_rss_mib()
    t = time.perf_counter()
    tags = {"data_validation": "passed", "eval_md5": "x"}
    cand = _Scored(type("MV", (), {"tags": tags})(), models[0], scored[0].scores, 600_000)  # type: ignore[arg-type]
    results, estimates, lat = evaluate(settings, config, cand, scored[1], frame, y, "x", {})
    timings["gate_evaluate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    facts = report.model_facts(settings.model.name, 2, "r" * 32, {})
    doc = report.build(
        verdict=checks.verdict(results),
        candidate=facts,
        champion=report.model_facts(settings.model.name, 1, "s" * 32, {}),
        eval_set={"path": "synthetic", "md5": "x", "rows": len(y), "positive_rate": float(y.mean())},
        bootstrap={
            "method": "paired Poisson bootstrap",
            "resamples": args.resamples,
            "confidence": 0.95,
            "seed": 0,
        },
        estimates=estimates,
        checks=results,
        reliability={},
        latency=lat,
        artifact_bytes=0,
        reproduce="-",
    )
    report.render_markdown(doc)
    timings["report_s"] = time.perf_counter() - t
    auc = estimates["roc_auc"]
    out = {
        "rows": args.rows,
        "resamples": args.resamples,
        "workers": args.workers,
        **{k: round(v, 2) for k, v in timings.items()},
        "gate_total_s (evaluate + report)": round(timings["gate_evaluate_s"] + timings["report_s"], 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "peak_rss_before_gate_mib": round(rss_before, 1),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "slices": sum(1 for r in results if r.kind == "slice"),
        "slices_judged": sum(1 for r in results if r.kind == "slice" and r.status in ("pass", "fail")),
        "roc_auc_delta": round(auc.delta or 0, 5),
        "roc_auc_delta_ci": [round(auc.delta_interval.low, 5), round(auc.delta_interval.high, 5)]
        if auc.delta_interval
        else None,
    }
    print(json.dumps(out, indent=2))
    sys.exit(0)


if __name__ == "__main__":
    main()
