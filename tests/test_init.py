"""`modelops init`: one command renames the model everywhere it is written, and refuses what it must.

Runs the real CLI on a throw-away copy of the project (tests/conftest.py make_project plus
.github/), then the real `kubectl kustomize`, `dvc status` and a grep over the copy.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from modelops.init import codeowners_owners, rewrite_codeowners, rewrite_model_yaml, rewrite_module_refs
from tests.conftest import REPO, _git, make_project, modelops_bin

NAME, PACKAGE, OWNER = "fraud", "fraud_model", "@acme/fraud-owners"
DVC = str(Path(sys.executable).with_name("dvc"))


def configured() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((REPO / "configs/model.yaml").read_text())


EXAMPLE = configured()["name"]  # the example's name, read from the template (not hard-coded)
EXAMPLE_PACKAGE = configured()["package"]


def init(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [modelops_bin(), "--root", str(root), "init", *argv], capture_output=True, text=True, check=False
    )


def commit_all(root: Path, message: str) -> None:
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    # The template as cloned, with its example package: what a team runs `modelops init` on.
    root = make_project(tmp_path / "project", fixture=False)
    shutil.copytree(REPO / ".github", root / ".github")
    commit_all(root, "chore: add .github")
    return root


def test_committed_codeowners_match_model_yaml_owner() -> None:
    """CODEOWNERS is written by init from configs/model.yaml `owner`; an edit of one alone fails here."""
    owner = configured()["owner"]
    rules = codeowners_owners((REPO / ".github/CODEOWNERS").read_text())
    assert len(rules) >= 10
    wrong = {path: owners for path, owners in rules.items() if owners != [owner]}
    assert wrong == {}, f".github/CODEOWNERS disagrees with configs/model.yaml owner {owner!r}: {wrong}"


def test_rewrites_are_pure_and_keep_comments() -> None:
    text = (REPO / "configs/model.yaml").read_text()
    new = rewrite_model_yaml(text, EXAMPLE_PACKAGE, NAME, PACKAGE, OWNER)
    parsed = yaml.safe_load(new)
    assert (parsed["name"], parsed["owner"], parsed["package"]) == (NAME, OWNER, PACKAGE)
    assert all(
        v.startswith(f"{PACKAGE}.") for v in parsed["contract"].values() if v.split(".")[0] != "modelops"
    )
    assert [ln for ln in text.splitlines() if ln.startswith("#")] == [
        ln for ln in new.splitlines() if ln.startswith("#")
    ]
    owners = rewrite_codeowners("# keep @old\n/a/   @old @other\n/b/ @old\n", OWNER)
    assert owners == f"# keep @old\n/a/   {OWNER}\n/b/ {OWNER}\n"
    old = EXAMPLE_PACKAGE
    code = f"from {old}.data import x\nimport {old}\ny = '{old}.pipeline:f'\n"
    assert rewrite_module_refs(code, EXAMPLE_PACKAGE, PACKAGE) == (
        f"from {PACKAGE}.data import x\nimport {PACKAGE}\ny = '{PACKAGE}.pipeline:f'\n"
    )


@pytest.mark.integration
def test_init_renames_everything_consistently(project: Path) -> None:
    out = init(project, "--name", NAME, "--package", PACKAGE, "--owner", OWNER)
    assert out.returncode == 0, out.stderr
    model = yaml.safe_load((project / "configs/model.yaml").read_text())
    assert (model["name"], model["owner"], model["package"]) == (NAME, OWNER, PACKAGE)
    # Every contract entry names the new package, or a ready-made loader of the machinery's.
    modules = {v.split(".")[0] for v in model["contract"].values()}
    assert PACKAGE in modules and modules <= {PACKAGE, "modelops"}, modules
    owners = codeowners_owners((project / ".github/CODEOWNERS").read_text()).values()
    assert {o for rule in owners for o in rule} == {OWNER}
    for env in project.glob("k8s/overlays/*/model.env"):
        assert f"MODEL_NAME={NAME}\n" in env.read_text(), env

    # The new package is a working, renamed copy: the contract resolves to it from the copy's src/.
    probe = (
        "import sys; from pathlib import Path; from modelops.settings import load_settings;"
        "from modelops.contract import load_package; p = load_package(load_settings(Path(sys.argv[1])));"
        "print(p.build_pipeline.__module__, p.load_data.__module__)"
    )
    pyenv = {**os.environ, "PYTHONPATH": str(project / "src")}
    resolved = subprocess.run(
        [sys.executable, "-c", probe, str(project)], capture_output=True, text=True, env=pyenv, check=True
    )
    # The example's own functions now come from the copy; a ready-made loader stays the machinery's.
    example = configured()["contract"]
    expected = [
        example[key].split(":")[0].replace(f"{EXAMPLE_PACKAGE}.", f"{PACKAGE}.", 1)
        for key in ("build_pipeline", "load_data")
    ]
    assert resolved.stdout.split() == expected and expected[0].startswith(f"{PACKAGE}.")

    # kubectl kustomize: the alerts carry the new name.
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(project / "k8s/overlays/production")], capture_output=True, text=True
    )
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    assert {r["labels"]["model"] for g in rule["spec"]["groups"] for r in g["rules"]} == {NAME}

    # dvc: the pipeline resolves against the new package (train and ingest watch src/<PACKAGE>).
    status = subprocess.run([DVC, "status", "--json"], cwd=project, capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    deps = [e["changed deps"] for e in json.loads(status.stdout)["train"] if "changed deps" in e]
    assert f"src/{PACKAGE}" in deps[0] and f"src/{EXAMPLE_PACKAGE}" not in deps[0], deps

    # grep: the example's name survives only in the example itself and in the copied example's own data
    # description (its columns and its generator's source settings, which the team replaces).
    allowed = {
        "configs/features.yaml": "the copied example's column names: the team's features replace them",
        "configs/data.yaml": "`source:` is the copied generator's own config: the team's source replaces it",
        # After `make demo` the pin records the snapshot the evaluation set was cut from: history.
        "configs/eval_set.yaml": "the pinned evaluation set's provenance, not a name to rewrite",
    }
    hits = subprocess.run(
        ["grep", "-rniI", EXAMPLE, ".", "--exclude-dir=.git", "--exclude-dir=.dvc"],
        cwd=project,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    outside = [
        h
        for h in hits
        if not h.startswith((f"./src/{EXAMPLE_PACKAGE}/", f"./src/{PACKAGE}/"))
        and h.split(":")[0][2:] not in allowed
    ]
    assert outside == [], outside
    data_hits = [h for h in hits if h.startswith("./configs/data.yaml:")]
    source_block = (project / "configs/data.yaml").read_text().split("\nsplit:")[0]
    assert all(h.split(":", 2)[2] in source_block for h in data_hits), data_hits
    # The copied package imports itself, not the example.
    assert f"from {EXAMPLE_PACKAGE}" not in "".join(
        p.read_text() for p in (project / "src" / PACKAGE).rglob("*.py")
    )


@pytest.mark.integration
def test_init_is_idempotent(project: Path) -> None:
    assert init(project, "--name", NAME, "--package", PACKAGE, "--owner", OWNER).returncode == 0
    commit_all(project, "chore: name the model")
    again = init(project, "--name", NAME, "--package", PACKAGE, "--owner", OWNER)
    assert again.returncode == 0, again.stderr
    assert "nothing to change" in again.stdout
    assert _git(project, "status", "--porcelain") == ""


@pytest.mark.integration
def test_init_refuses_a_dirty_tree_naming_the_file(project: Path) -> None:
    gates = project / "configs/gates.yaml"
    gates.write_text(gates.read_text() + "\n# an uncommitted edit\n")
    before = (project / "configs/model.yaml").read_text()
    out = init(project, "--name", NAME, "--package", PACKAGE)
    assert out.returncode != 0
    assert "configs/gates.yaml: uncommitted change" in out.stderr
    assert (project / "configs/model.yaml").read_text() == before
    assert not (project / "src" / PACKAGE).exists()


@pytest.mark.integration
def test_init_never_renames_a_released_model(project: Path) -> None:
    record = project / "releases" / EXAMPLE / "v1.yaml"
    record.parent.mkdir(parents=True)
    record.write_text("version: 1\n")
    commit_all(project, "release: v1")
    out = init(project, "--name", NAME, "--package", PACKAGE)
    assert out.returncode != 0
    assert re.search(rf"releases/{EXAMPLE}/v1\.yaml: model '{EXAMPLE}' is already released", out.stderr), (
        out.stderr
    )
    assert _git(project, "status", "--porcelain") == ""
    # Keeping the released name is fine: only the package and owner change.
    kept = init(project, "--name", EXAMPLE, "--package", PACKAGE, "--owner", OWNER)
    assert kept.returncode == 0, kept.stderr


@pytest.mark.integration
def test_init_refuses_renaming_a_serving_track(project: Path) -> None:
    from modelops.release import overlay

    env = project / "k8s/overlays/production/model.env"
    env.write_text(overlay.model_env("stable", EXAMPLE, 3, "a" * 64))
    commit_all(project, "release: promote v3")
    out = init(project, "--name", NAME, "--package", PACKAGE)
    assert out.returncode != 0
    assert f"k8s/overlays/production/model.env: serves '{EXAMPLE}' v3" in out.stderr, out.stderr


@pytest.mark.parametrize(
    ("flag", "value"), [("--name", "9lives"), ("--package", "my-pkg"), ("--owner", "team-without-at")]
)
def test_init_rejects_bad_values_naming_the_flag(project: Path, flag: str, value: str) -> None:
    args = {"--name": NAME, "--package": PACKAGE, "--owner": OWNER} | {flag: value}
    out = init(project, *[x for kv in args.items() for x in kv])
    assert out.returncode != 0 and f"init {flag} '{value}': must match" in out.stderr, out.stderr
    assert _git(project, "status", "--porcelain") == ""
