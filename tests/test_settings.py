from pathlib import Path

import pytest

from modelops.errors import ConfigError
from modelops.settings import load_settings
from tests.conftest import REPO, edit_yaml


def copy_configs(tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(REPO / "configs", tmp_path / "configs")
    return tmp_path


def shipped(name: str) -> dict:  # type: ignore[type-arg]
    """The shipped configs/<name> as plain YAML: what the settings must reflect, whichever model it is."""
    import yaml

    return yaml.safe_load((REPO / "configs" / name).read_text())  # type: ignore[no-any-return]


def test_repo_configs_load_and_hash_is_stable() -> None:
    a, b = load_settings(REPO), load_settings(REPO)
    assert a.config_hash() == b.config_hash()
    declared = shipped("features.yaml")
    assert a.features.label == declared["label"]
    assert a.features.names == [f["name"] for f in declared["features"]]
    segment = declared.get("segment")
    assert (a.features.segment and a.features.segment.value) == (segment and segment["value"])


def test_override_changes_value_and_hash_and_is_recorded() -> None:
    base = load_settings(REPO)
    s = load_settings(REPO, ["train.params.max_iter=7"])
    assert s.train.params["max_iter"] == 7
    assert s.overrides == ("train.params.max_iter=7",)
    assert s.config_hash() != base.config_hash()


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ("nonsense", "expected KEY=VALUE"),
        ("bogus.x=1", "key must start with"),
        ("data.nope.rows=1", "unknown key 'nope'"),
        ("model.contract.source_config=not-a-spec", r"model\.contract\.source_config"),
    ],
)
def test_bad_override_is_named(item: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(REPO, [item])


def test_data_source_is_the_packages_mapping_with_no_floor_in_the_machinery() -> None:
    """The machinery keeps `source:` as a mapping; the package's source_config judges it
    (tests/contract: a bad value there names configs/data.yaml source.<field>)."""
    s = load_settings(REPO, ["data.source.rows=12", "data.source.where={table: t, limit: 5}"])
    assert s.data.source["rows"] == 12 and s.data.source["where"] == {"table": "t", "limit": 5}
    assert s.config_hash() != load_settings(REPO).config_hash(), "the source shapes the model"
    assert s.model.contract.source_config == shipped("model.yaml")["contract"].get("source_config")


def test_a_source_without_generator_keys_loads(tmp_path: Path) -> None:
    root = copy_configs(tmp_path)
    edit_yaml(root / "configs/data.yaml", lambda d: d.update(source={"path": "data/x.csv"}))
    edit_yaml(root / "configs/model.yaml", lambda d: d["contract"].pop("source_config", None))
    s = load_settings(root)
    assert s.data.source == {"path": "data/x.csv"} and s.model.contract.source_config is None


def test_unknown_key_rejected_naming_file_and_field(tmp_path: Path) -> None:
    root = copy_configs(tmp_path)
    edit_yaml(root / "configs/train.yaml", lambda d: d.update(learning_rat=0.1))
    with pytest.raises(ConfigError, match=r"train\.learning_rat: Extra inputs are not permitted"):
        load_settings(root)


def test_wrong_type_rejected(tmp_path: Path) -> None:
    root = copy_configs(tmp_path)
    edit_yaml(root / "configs/data.yaml", lambda d: d["split"].update(eval_fraction="lots"))
    with pytest.raises(ConfigError, match=r"data\.split\.eval_fraction"):
        load_settings(root)


def test_categorical_without_categories_rejected(tmp_path: Path) -> None:
    root = copy_configs(tmp_path)
    edit_yaml(
        root / "configs/features.yaml",
        lambda d: next(f for f in d["features"] if f["kind"] == "categorical").pop("categories"),
    )
    with pytest.raises(ConfigError, match="categorical needs 'categories'"):
        load_settings(root)


def test_missing_config_file_named(tmp_path: Path) -> None:
    root = copy_configs(tmp_path)
    (root / "configs/train.yaml").unlink()
    with pytest.raises(ConfigError, match=r"train\.yaml: config file not found"):
        load_settings(root)


def test_duplicate_top_level_key_is_rejected_with_file_line_and_key(tmp_path: Path) -> None:
    """The issue's case: a second `slices:` silently replaced the first."""
    root = copy_configs(tmp_path)
    path = root / "configs/data.yaml"
    lines = path.read_text().splitlines()
    first = next(i for i, line in enumerate(lines, start=1) if line.startswith("split:"))
    path.write_text("\n".join([*lines, "split:", "  valid_fraction: 0.1", "  eval_fraction: 0.1", ""]))
    with pytest.raises(ConfigError) as exc:
        load_settings(root)
    assert str(exc.value) == f"{path}:{len(lines) + 1}: duplicate key 'split' (first at line {first})"


def test_duplicate_nested_key_is_rejected(tmp_path: Path) -> None:
    from modelops.settings import read_yaml

    path = tmp_path / "gates.yaml"
    path.write_text("absolute:\n  roc_auc_min: 0.7\n  ece_max: 0.1\n  roc_auc_min: 0.5\n")
    with pytest.raises(ConfigError, match=r"gates\.yaml:4: duplicate key 'roc_auc_min' \(first at line 2\)"):
        read_yaml(path)


def test_load_section_rejects_duplicates_too(tmp_path: Path) -> None:
    """Every step's own file goes through the same loader (`load_section`)."""
    from modelops.data.baseline import BaselineTolerances
    from modelops.settings import load_section

    (tmp_path / "baseline.yaml").write_text("reference_rows: 500\nreference_rows: 5000\n")
    with pytest.raises(ConfigError, match=r"baseline\.yaml:2: duplicate key 'reference_rows'"):
        load_section(tmp_path, "baseline.yaml", BaselineTolerances)


def test_yaml_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    from modelops.settings import read_yaml

    path = tmp_path / "m.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
    assert read_yaml(path)["other"] == {"x": 1, "y": 3}


def test_every_shipped_config_loads_without_duplicates() -> None:
    from modelops.settings import read_yaml

    for path in sorted((REPO / "configs").glob("*.yaml")):
        assert isinstance(read_yaml(path), dict), path
