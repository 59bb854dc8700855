"""dvc.yaml takes the model package and data paths from configs/, so a swap keeps retraining wired.

Runs the real `dvc status` / `dvc repro --dry` on the session's trained project (a real
dvc.lock), edits files and restores them afterwards (DVC compares content hashes, so the
project is up to date again once the bytes are back).
"""

import json
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.conftest import Project

DVC = str(Path(sys.executable).with_name("dvc"))


def stale_stages(p: Project, *targets: str) -> dict[str, list]:  # type: ignore[type-arg]
    out = p.sh(DVC, "status", "--json", *targets)
    return json.loads(out.stdout or "{}")


@contextmanager
def edited(path: Path, text: str) -> Iterator[None]:
    original = path.read_bytes() if path.exists() else None
    path.write_text(text)
    try:
        yield
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_bytes(original)


def configured(p: Project) -> tuple[str, dict[str, str]]:
    model = yaml.safe_load((p.root / "configs/model.yaml").read_text())
    paths = yaml.safe_load((p.root / "configs/data.yaml").read_text())["paths"]
    return model["package"], paths


def test_dvc_yaml_names_no_package_or_data_file_literally() -> None:
    text = (Path(__file__).resolve().parents[1] / "dvc.yaml").read_text()
    code = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    assert "src/${package}" in code and "${paths.raw}" in code
    assert not re.search(r"src/[A-Za-z_]", code.replace("src/${package}", "").replace("src/modelops", ""))
    assert ".parquet" not in code


def test_stage_deps_and_outs_resolve_from_configs(trained_project: Project) -> None:
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    package, paths = configured(trained_project)
    with Repo(str(trained_project.root)) as repo:
        stages = {s.name: s for s in repo.index.stages if isinstance(s, PipelineStage)}
        deps = {n: {d.def_path for d in s.deps} for n, s in stages.items()}
        outs = {n: {o.def_path for o in s.outs} for n, s in stages.items()}
    assert f"src/{package}" in deps["train"] and f"src/{package}" in deps["ingest"]
    assert outs["ingest"] == {paths["raw"]}
    assert paths["raw"] in deps["split"] and paths["eval"] in deps["split"]
    assert outs["split"] == {paths["train"], paths["valid"]}
    assert f"{paths['train_out']}/model.json" in outs["train"]


def test_a_change_in_the_configured_package_makes_train_stale(trained_project: Project) -> None:
    p = trained_project
    package, _ = configured(p)
    assert stale_stages(p) == {}, "the trained project must start up to date"
    helper = p.root / "src" / package / "_touched_by_test.py"
    with edited(helper, "# a new module in the model package\n"):
        stale = stale_stages(p, "train")
        assert "train" in stale, stale
        assert {"changed deps": {f"src/{package}": "modified"}} in stale["train"]
        dry = p.sh(DVC, "repro", "--dry", "train")
        assert "Running stage 'train'" in dry.stdout, dry.stdout
    assert stale_stages(p) == {}, "restoring the package must make the pipeline up to date again"


def test_swapping_the_package_in_model_yaml_rewires_the_dependency(trained_project: Project) -> None:
    """Point configs/model.yaml at another package: train now depends on it (and is stale)."""
    p = trained_project
    package, _ = configured(p)
    other = p.root / "src" / "swapped_pkg"
    shutil.copytree(p.root / "src" / package, other, ignore=shutil.ignore_patterns("__pycache__"))
    model_yaml = p.root / "configs/model.yaml"
    text = model_yaml.read_text()
    try:
        assert f"package: {package}" in text
        with edited(model_yaml, text.replace(f"package: {package}", "package: swapped_pkg", 1)):
            from dvc.repo import Repo

            with Repo(str(p.root)) as repo:
                (train,) = [s for s in repo.index.stages if getattr(s, "name", None) == "train"]
                deps = {d.def_path for d in train.deps}
            assert "src/swapped_pkg" in deps and f"src/{package}" not in deps
            assert "train" in stale_stages(p, "train")
    finally:
        shutil.rmtree(other)
    assert stale_stages(p) == {}


@pytest.mark.parametrize("bad", ["../evil", "pkg/data", ""])
def test_model_yaml_package_must_be_a_plain_name(tmp_path: Path, bad: str) -> None:
    from modelops.errors import ConfigError
    from modelops.settings import load_settings
    from tests.conftest import REPO

    configs = tmp_path / "configs"
    shutil.copytree(REPO / "configs", configs)
    model = configs / "model.yaml"
    data = yaml.safe_load(model.read_text())
    model.write_text(model.read_text().replace(f"package: {data['package']}", f"package: {bad!r}", 1))
    with pytest.raises(ConfigError, match=r"model\.package: String should match"):
        load_settings(tmp_path)
