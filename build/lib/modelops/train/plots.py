"""Evaluation plots logged with every run (matplotlib, headless)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on CI runners or servers
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    RocCurveDisplay,
)

from modelops.metrics import reliability_table


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_plots(
    y: np.ndarray, p: np.ndarray, importance: dict[str, float], out: Path, threshold: float = 0.5
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(5, 4))
    RocCurveDisplay.from_predictions(y, p, ax=ax)
    paths.append(_save(fig, out / "roc.png"))
    fig, ax = plt.subplots(figsize=(5, 4))
    PrecisionRecallDisplay.from_predictions(y, p, ax=ax)
    paths.append(_save(fig, out / "precision_recall.png"))
    fig, ax = plt.subplots(figsize=(5, 4))
    rows = [r for r in reliability_table(y, p) if r["count"]]
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.plot([r["mean_score"] for r in rows], [r["observed_rate"] for r in rows], "o-")
    ax.set(xlabel="mean predicted score", ylabel="observed positive rate", title="Calibration")
    paths.append(_save(fig, out / "calibration.png"))
    fig, ax = plt.subplots(figsize=(4, 4))
    ConfusionMatrixDisplay.from_predictions(y, (p >= threshold).astype(int), ax=ax, colorbar=False)
    paths.append(_save(fig, out / "confusion_matrix.png"))
    fig, ax = plt.subplots(figsize=(5, 4))
    names = sorted(importance, key=importance.__getitem__)
    ax.barh(names, [importance[n] for n in names])
    ax.set(xlabel="permutation importance (ROC AUC drop)", title="Feature importance")
    paths.append(_save(fig, out / "feature_importance.png"))
    return paths
