"""`modelops evaluate`: score the newly registered version on the pinned evaluation set."""

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from modelops import metrics
from modelops.adapters import tracking
from modelops.data.evalset import load_pin, verified_path
from modelops.data.ingest import read_table
from modelops.errors import ModelOpsError
from modelops.settings import Settings
from modelops.threads import limit_threads


def slice_metrics(
    frame: Any, y: np.ndarray, p: np.ndarray, column: str, values: tuple[str, ...] | None = None
) -> dict[str, dict[str, float]]:
    """Metrics per `column=value`: the given values, else every value present."""
    present = sorted(map(str, frame[column].dropna().unique()))
    out = {}
    for value in present if values is None else [v for v in values if v in present]:
        mask = (frame[column].astype(str) == value).to_numpy()
        out[f"{column}={value}"] = {
            "rows": int(mask.sum()),
            **metrics.classification_metrics(y[mask], p[mask]),
        }
    return out


def report_slices(settings: Settings) -> list[tuple[str, tuple[str, ...] | None]]:
    """(column, values or None = every value) the evaluation reports on.

    The declared segment's column when there is one (every value, as before); without a
    segment the slices come from configs/gates.yaml only, the ones the gate judges.
    """
    if settings.features.segment is not None:
        return [(settings.features.segment.column, None)]
    from modelops.gate.config import load as load_gates

    wanted: dict[str, set[str] | None] = {}
    for item in load_gates(settings.config_dir).slices.items:
        if item.value is None or wanted.get(item.column, set()) is None:
            wanted[item.column] = None  # the whole column: every value
        else:
            wanted.setdefault(item.column, set()).add(item.value)  # type: ignore[union-attr]
    return [(col, None if vals is None else tuple(sorted(vals))) for col, vals in wanted.items()]


def evaluate(settings: Settings) -> dict[str, Any]:
    model_file = settings.path(settings.data.paths.train_out) / "model.json"
    if not model_file.is_file():
        raise ModelOpsError(f"{model_file}: no trained model recorded; run `modelops train` first")
    trained = json.loads(model_file.read_text())
    registry = tracking.registry_for(settings.root)
    mv = registry.get_version(trained["name"], trained["version"])
    pin = load_pin(settings.config_dir)
    frame = read_table(verified_path(pin, settings.root))
    y = frame[settings.features.label].to_numpy(dtype=np.int64)
    with tempfile.TemporaryDirectory() as tmp, limit_threads(settings.train.threads):
        model = tracking.load_verified(
            registry, mv, Path(tmp), mv.tags[tracking.TAG_MODEL_SHA256], settings.model.skops_trusted_types
        )
        p = model.predict_proba(frame[settings.features.names])[:, 1]
    overall = metrics.classification_metrics(y, p)
    result = {
        "model": mv.uri,
        "eval_md5": pin.md5,
        "eval_path": str(pin.path),
        "rows": len(frame),
        "overall": overall,
        "slices": {
            name: values
            for column, chosen in report_slices(settings)
            for name, values in slice_metrics(frame, y, p, column, chosen).items()
        },
        "reliability": metrics.reliability_table(y, p),
    }
    out = settings.path(settings.data.paths.evaluate_out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(
        json.dumps({f"eval_{k}": v for k, v in overall.items()}, indent=2, sort_keys=True) + "\n"
    )
    (out / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    registry.log_metrics(mv.run_id, {f"eval_{k}": v for k, v in overall.items() if not np.isnan(v)})
    registry.log_artifact(mv.run_id, out / "report.json", "evaluate")
    return result
