"""The README's "Make it yours" checklist, applied to a project copy: the example out, fixture_model in.

Each step of `swap_in_fixture` is one line of the checklist (README.md, "Make it yours"), in
the same order, so a change to one must change the other. Nothing here imports the example.

Two shapes of the fixture:
- the conformance test's (the defaults): 400 CSV rows read by the ready-made file loader,
  logistic regression, no id, timestamp or segment;
- the machinery tests' (`tests/conftest.py` `make_project`): `generator=True, keys=True,
  estimator="hist_gradient_boosting"`: the package's own generator (any row count, the
  scenario switches), an id, a timestamp, a segment, and the tree model the server's fast
  path and batch scoring's kernel compile.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from tests.fixture_model.data import ID_COLUMN, LABEL, ROWS, SEGMENT, TIMESTAMP_COLUMN, write_csv

FIXTURE = Path(__file__).resolve().parent
PACKAGE = "fixture_model"
MODEL = "loans"
OWNER = "@ml-loans-owners"
DATA_FILE = "data/external/loans.csv"
# Test tooling that lives next to the package but is not part of it.
NOT_PACKAGE = ("__pycache__", "configs", "swap.py")
# skops' defaults trust the estimators; these are what each fitted pipeline holds beyond them.
TRUSTED = {
    # OneHotEncoder keeps its output dtype.
    "logistic_regression": ["numpy.dtype"],
    "hist_gradient_boosting": [
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "functools.partial",
        "sklearn.utils.validation.check_array",
    ],
}
PARAMS: dict[str, dict[str, Any]] = {
    "logistic_regression": {"C": 1.0, "max_iter": 500},
    "hist_gradient_boosting": {
        "max_iter": 40,
        "learning_rate": 0.1,
        "max_leaf_nodes": 15,
        "min_samples_leaf": 20,
        "l2_regularization": 1.0,
    },
}


def _edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _model(d: dict[str, Any], estimator: str, generator: bool) -> None:
    # name, owner and package are `modelops init`'s; the contract is the package's own.
    # A plain file: the ready-made loader, no loader code in the package. Else its generator.
    if generator:
        source = {"load_data": f"{PACKAGE}.data:load_raw", "source_config": f"{PACKAGE}.data:Source"}
    else:
        source = {
            "load_data": "modelops.data.loaders:load_file",
            "source_config": "modelops.data.loaders:FileSource",
        }
    d.update(
        description=f"Predicts which applicants default ({LABEL}).",
        contract={**source, "build_pipeline": f"{PACKAGE}.pipeline:build_pipeline"},
        skops_trusted_types=TRUSTED[estimator],
    )


def _features(d: dict[str, Any], keys: bool) -> None:
    if keys:
        column, value = SEGMENT
        d.update(
            id_column=ID_COLUMN,
            timestamp_column=TIMESTAMP_COLUMN,
            segment={"column": column, "value": value},
        )


def _train(d: dict[str, Any], estimator: str) -> None:
    d.update(estimator=estimator, params=dict(PARAMS[estimator]), importance_rows=100, threads=1)


def _gates(d: dict[str, Any], keys: bool) -> None:
    # The fixture's own bar (what `absolute` means is the team's call).
    d["absolute"] = [
        {"metric": "roc_auc", "min": 0.65},
        {"metric": "brier", "max": 0.25},
        {"metric": "log_loss", "max": 0.70},
        {"metric": "ece", "max": 0.15},
    ]
    if keys:
        # Thousands of evaluation rows: the example's margins, ECE judged against the champion too.
        d["change"] = [
            {"metric": "roc_auc", "rule": "non_inferior", "margin": 0.01},
            {"metric": "log_loss", "rule": "non_inferior", "margin": 0.01},
            {"metric": "ece", "rule": "non_inferior", "margin": 0.02},
        ]
        # The segment (~10% of rows) must hold, as the example's does; sized for thousands of rows.
        column, value = SEGMENT
        d["slices"].update(
            metric="roc_auc",
            min_support=200,
            tolerance=0.03,
            items=[
                {"column": column, "value": value, "min_support": 100, "tolerance": 0.03, "required": True},
                {"column": "housing"},
            ],
        )
        return
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


def _monitoring(d: dict[str, Any], keys: bool, rows: int) -> None:
    d["slices"] = [{"column": "housing", "value": "rent", "roc_auc_min": 0.55, "drift_threshold_scale": 2.0}]
    if keys:
        column, value = SEGMENT
        d["slices"].insert(
            0, {"column": column, "value": value, "roc_auc_min": 0.55, "drift_threshold_scale": 2.0}
        )
    # The fixture's AUC is ~0.75 (the example's ~0.85): its own quality floor.
    d["quality"].update(roc_auc_min=0.6, ece_max=0.1)
    if rows <= 1000:
        # A few hundred predictions: judge from 50 rows (labelled too); numeric drift on samples
        # this small is noisy, so its threshold is wider.
        d["min_rows"] = 50
        d["quality"].update(min_labelled_rows=50, ece_max=0.2, positive_rate_deviation_max=0.15)
        d["drift"]["numeric"]["threshold"] = 0.2
        d["drift"]["score"]["threshold"] = 0.2


def swap_in_fixture(
    root: Path,
    rows: int = ROWS,
    seed: int = 0,
    *,
    estimator: str = "logistic_regression",
    keys: bool = False,
    generator: bool = False,
) -> None:
    """Replace the example by the fixture package in the project at `root` (not committed).

    Runs after `modelops init --name loans --package fixture_model` (the checklist's first
    step: name, owner, package, paths.raw, CODEOWNERS and the overlays' MODEL_NAME).
    `generator`: configs/data.yaml `source:` is the package's generator (rows, seed, keys,
    scenario) instead of a CSV; `keys` (needs `generator`): an id, a timestamp and a segment.
    """
    if keys and not generator:
        raise ValueError("swap_in_fixture: keys=True needs generator=True (a CSV loses the timestamp type)")
    if estimator not in PARAMS:
        raise ValueError(f"swap_in_fixture: estimator {estimator!r} is not one of {sorted(PARAMS)}")
    # 1. The model package: the example out, src/fixture_model (init's renamed copy) is ours.
    configs = root / "configs"
    old = yaml.safe_load((configs / "model.yaml").read_text()).get("package")
    for stale in {old, PACKAGE} - {None}:
        shutil.rmtree(root / "src" / str(stale), ignore_errors=True)
    copy_package(root / "src" / PACKAGE)
    # 2. configs/model.yaml: the contract (load_data, source_config, build_pipeline), trusted types.
    _edit(configs / "model.yaml", lambda d: _model(d, estimator, generator))
    # 3. configs/data.yaml: the source (a CSV, or the package's generator).
    if generator:
        source: dict[str, Any] = {"rows": rows, "seed": seed, "keys": keys}
    else:
        source = {"path": DATA_FILE}
        write_csv(root / DATA_FILE, rows, seed)
    _edit(configs / "data.yaml", lambda d: d.update(source=source))
    # 4. configs/features.yaml: the package's schema (with keys: id, timestamp and segment).
    shutil.copy2(FIXTURE / "configs/features.yaml", configs / "features.yaml")
    _edit(configs / "features.yaml", lambda d: _features(d, keys))
    # 5. configs/train.yaml: the estimator the package builds.
    _edit(configs / "train.yaml", lambda d: _train(d, estimator))
    # 6. configs/gates.yaml: thresholds and slices of the new model's columns.
    _edit(configs / "gates.yaml", lambda d: _gates(d, keys))
    # 7. configs/monitoring.yaml: slices and small-data minimums.
    _edit(configs / "monitoring.yaml", lambda d: _monitoring(d, keys, rows))
    # Per-feature overrides name the example's columns: none for the fixture.
    _clear_feature_overrides(configs)
    # 8. The example's generated history does not carry over: no profile, pin or releases.
    for stale_file in ("data/baseline/profile.json", "configs/eval_set.yaml", "data/eval/eval.parquet.dvc"):
        (root / stale_file).unlink(missing_ok=True)
    for generated in ("releases", "model_cards"):
        for child in (root / generated).iterdir() if (root / generated).is_dir() else ():
            if child.is_dir():
                shutil.rmtree(child)


def _clear_feature_overrides(configs: Path) -> None:
    if (configs / "baseline.yaml").is_file():
        _edit(configs / "baseline.yaml", lambda d: d.update(features={}))
    _edit(configs / "monitoring.yaml", lambda d: d["drift"].update(features={}))
    if (configs / "score.yaml").is_file():
        _edit(configs / "score.yaml", lambda d: d["data_gate"].update(tolerances=None))


def copy_package(target: Path) -> Path:
    """The fixture package (without its test tooling) copied to `target`."""
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns(*NOT_PACKAGE), dirs_exist_ok=True)
    return target


def importable() -> Path:
    """A directory holding only `fixture_model` (a link to this package), for sys.path and PYTHONPATH.

    The machinery imports the contract's modules by name (`fixture_model.data:load_raw`); a
    project copy has them under its src/, and this makes them importable in the test process
    and every subprocess it starts without putting all of tests/ on the path.
    """
    global _IMPORTABLE
    if _IMPORTABLE is None:
        path = Path(tempfile.mkdtemp(prefix="fixture-package-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        (path / PACKAGE).symlink_to(FIXTURE, target_is_directory=True)
        _IMPORTABLE = path
    return _IMPORTABLE


_IMPORTABLE: Path | None = None


def python_path(root: Path, blocked: Path, example: str) -> str:
    """PYTHONPATH for the swapped project: its src/ (what `make install` puts on the path), and
    an `example` package (the one swapped out) that refuses to import, so any process still
    reaching for it fails."""
    if example == PACKAGE:  # a project already running the fixture: nothing was swapped out
        return str(root / "src")
    stub = blocked / example
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text(
        f'raise ImportError("{example} was swapped out for {PACKAGE}; the machinery must not import it")\n'
    )
    return os.pathsep.join([str(blocked), str(root / "src")])
