"""Benchmarks measure the configured model: no benchmark imports a model package by name."""

import ast
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import configured_model as cm  # noqa: E402


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_benchmark_imports_the_model_package_by_name() -> None:
    package = yaml.safe_load((REPO / "configs/model.yaml").read_text())["package"]
    scripts = sorted((REPO / "benchmarks").rglob("*.py"))
    assert len(scripts) >= 5
    offenders = [str(p.relative_to(REPO)) for p in scripts if package in imported_modules(p)]
    assert offenders == [], f"import the configured model through benchmarks/configured_model.py: {offenders}"


def test_the_checker_sees_a_direct_import(tmp_path: Path) -> None:
    script = tmp_path / "x.py"
    script.write_text("from mymodel.data import generate\nimport numpy as np\n")
    assert imported_modules(script) == {"mymodel", "numpy"}


def test_draw_and_split_are_disjoint_and_sized() -> None:
    frame = pd.DataFrame({"row": range(100), "y": [0, 1] * 50})
    train, rest = cm.train_and_rest(frame, 80, seed=1)
    assert len(train) == 50 and len(rest) == 50, "training takes at most half the snapshot"
    assert set(train["row"]).isdisjoint(rest["row"])
    big = cm.draw(rest, 1000, seed=2)
    assert len(big) == 1000 and set(big["row"]) <= set(rest["row"])
    small = cm.draw(rest, 20, seed=2)
    assert small["row"].is_unique, "no replacement when the snapshot is large enough"


def test_pipeline_is_the_contracts_with_train_yaml_params() -> None:
    from modelops.contract import load_package

    s = cm.settings(REPO)
    assert repr(cm.pipeline(s)) == repr(load_package(s).unfitted_pipeline(s))
