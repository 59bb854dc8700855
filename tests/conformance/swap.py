"""The README's "Make it yours" checklist, applied to a project copy: churn out, fixture_model in.

Each step below is one line of the checklist (README.md, "Make it yours"), in the same
order, so a change to one must change the other. Nothing here imports churn.
"""

import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.fixture_model.data import LABEL, ROWS, write_csv

FIXTURE = Path(__file__).resolve().parents[1] / "fixture_model"
PACKAGE = "fixture_model"
MODEL = "loans"
OWNER = "@ml-loans-owners"
DATA_FILE = "data/external/loans.csv"


def _edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _model(d: dict[str, Any]) -> None:
    # name, owner and package are `modelops init`'s; the contract is the package's own.
    d.update(
        description=f"Predicts which applicants default ({LABEL}).",
        # A plain file: the ready-made loader, no loader code in the package.
        contract={
            "load_data": "modelops.data.loaders:load_file",
            "source_config": "modelops.data.loaders:FileSource",
            "build_pipeline": f"{PACKAGE}.pipeline:build_pipeline",
        },
        # skops' defaults trust the estimators; OneHotEncoder keeps its output dtype.
        skops_trusted_types=["numpy.dtype"],
    )


def _data(d: dict[str, Any]) -> None:
    d["source"] = {"path": DATA_FILE}


def _train(d: dict[str, Any]) -> None:
    d.update(estimator="logistic_regression", params={"C": 1.0, "max_iter": 500}, importance_rows=100)


def _gates(d: dict[str, Any]) -> None:
    # The fixture's own bar on ~80 evaluation rows (what `absolute` means is the team's call).
    d["absolute"] = [
        {"metric": "roc_auc", "min": 0.65},
        {"metric": "brier", "max": 0.25},
        {"metric": "log_loss", "max": 0.70},
        {"metric": "ece", "max": 0.15},
    ]
    # ECE's interval on ~80 rows is wider than any useful margin: judged absolutely, not vs the champion.
    d["change"] = [
        {"metric": "roc_auc", "rule": "non_inferior", "margin": 0.02},
        {"metric": "log_loss", "rule": "non_inferior", "margin": 0.02},
    ]
    # Slices of the fixture's own columns; small data: a lower min_support.
    d["slices"].update(
        min_support=25,
        items=[
            {"column": "employment", "value": "salaried", "required": True},
            {"column": "housing", "value": "rent"},
        ],
    )


def _monitoring(d: dict[str, Any]) -> None:
    d["slices"] = [{"column": "housing", "value": "rent", "roc_auc_min": 0.55, "drift_threshold_scale": 2.0}]
    # A few hundred predictions: judge from 50 rows (labelled too); numeric drift on samples
    # this small is noisy, so its threshold is wider.
    d["min_rows"] = 50
    d["quality"].update(min_labelled_rows=50, roc_auc_min=0.6, ece_max=0.2, positive_rate_deviation_max=0.15)
    d["drift"]["numeric"]["threshold"] = 0.2
    d["drift"]["score"]["threshold"] = 0.2


def swap_in_fixture(root: Path, rows: int = ROWS, seed: int = 0) -> None:
    """Replace the example by the fixture package in the project at `root` (not committed).

    Runs after `modelops init --name loans --package fixture_model` (the checklist's first
    step: name, owner, package, paths.raw, CODEOWNERS and the overlays' MODEL_NAME).
    """
    # 1. The model package: src/churn out, src/fixture_model (init's renamed copy) is ours.
    for stale in ("churn", PACKAGE):
        shutil.rmtree(root / "src" / stale, ignore_errors=True)
    shutil.copytree(FIXTURE, root / "src" / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "configs"))
    # 2. configs/model.yaml: the contract (load_data, source_config, build_pipeline), trusted types.
    configs = root / "configs"
    _edit(configs / "model.yaml", _model)
    # 3. configs/data.yaml: the source (a CSV here).
    _edit(configs / "data.yaml", _data)
    write_csv(root / DATA_FILE, rows, seed)
    # 4. configs/features.yaml: the package's schema (no id, timestamp or segment).
    shutil.copy2(FIXTURE / "configs/features.yaml", configs / "features.yaml")
    # 5. configs/train.yaml: the estimator the package builds.
    _edit(configs / "train.yaml", _train)
    # 6. configs/gates.yaml: thresholds and slices of the new model's columns.
    _edit(configs / "gates.yaml", _gates)
    # 7. configs/monitoring.yaml: slices and small-data minimums.
    _edit(configs / "monitoring.yaml", _monitoring)
    # 8. The example's generated history does not carry over: no profile, pin or releases.
    for stale in ("data/baseline/profile.json", "configs/eval_set.yaml", "data/eval/eval.parquet.dvc"):
        (root / stale).unlink(missing_ok=True)
    for generated in ("releases", "model_cards"):
        for child in (root / generated).iterdir():
            if child.is_dir():
                shutil.rmtree(child)


def python_path(root: Path, blocked: Path) -> str:
    """PYTHONPATH for the swapped project: its src/ (what `make install` puts on the path), and
    a `churn` that refuses to import, so any process still reaching for the example fails."""
    stub = blocked / "churn"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text(
        'raise ImportError("churn was swapped out for fixture_model; the machinery must not import it")\n'
    )
    return os.pathsep.join([str(blocked), str(root / "src")])
