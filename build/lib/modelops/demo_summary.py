"""Printed at the end of `make demo`: what was built and where to look."""

import json
from pathlib import Path

from modelops.settings import load_settings


def main() -> None:
    settings = load_settings(Path.cwd())
    trained = json.loads((settings.path(settings.data.paths.train_out) / "model.json").read_text())
    evaluated = json.loads((settings.path(settings.data.paths.evaluate_out) / "report.json").read_text())
    o = evaluated["overall"]
    print(f"""
Demo complete.
  registered model : {trained["uri"]}  (run {trained["run_id"]})
  artifact sha256  : {trained["model_sha256"]}
  eval ROC AUC     : {o["roc_auc"]:.4f}  ECE {o["ece"]:.4f}  Brier {o["brier"]:.4f} ({evaluated["rows"]} rows)
Where to look:
  metrics          : artifacts/train/metrics.json, artifacts/evaluate/report.json  (or `dvc metrics show`)
  MLflow UI        : .venv/bin/mlflow ui --backend-store-uri sqlite:///.mlflow/mlflow.db
  data (DVC)       : data/  versioned in dvc.lock, pushed to .dvcstore/
Next: `modelops gate --candidate {trained["version"]} --out out/gate`""")


if __name__ == "__main__":
    main()
