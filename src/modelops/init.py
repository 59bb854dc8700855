"""`modelops init --name NAME --package PKG [--owner @team]`: make the template name your model.

The model's name, owner and package live in configs/model.yaml; the few files that cannot read
it at run time get it written here, consistently, in one reviewable change:

- configs/model.yaml: `name`, `owner`, `package` and the contract entries' module prefix;
- configs/data.yaml: `paths.raw` when its file is named after the old model;
- .github/CODEOWNERS: every rule's owner (tests/test_init.py checks it matches `owner`);
- k8s/overlays/*/model.env: MODEL_NAME of a track that serves nothing yet (the format is
  `modelops promote`'s own, from release/overlay.py);
- src/PKG: created as a renamed copy of the configured package when it does not exist.

dvc.yaml and the manifests take the rest from these (DVC templating, kustomize replacements).
Refuses, writing nothing, on a dirty git tree or when releases/ already holds another model's
records: a registered model is never renamed silently. Running it twice changes nothing.
"""

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from modelops.adapters import git
from modelops.errors import ConfigError
from modelops.release import overlay, state
from modelops.release.config import load_release_config
from modelops.settings import read_yaml

NAME = re.compile(r"^[A-Za-z][\w-]*$")  # as settings.ModelConfig.name
PACKAGE = re.compile(r"^[A-Za-z_]\w*$")  # as settings.ModelConfig.package
OWNER = re.compile(r"^@[\w.-]+(/[\w.-]+)?$")  # a GitHub user or @org/team handle
MODEL_YAML = Path("configs/model.yaml")
DATA_YAML = Path("configs/data.yaml")
CODEOWNERS = Path(".github/CODEOWNERS")


class InitRefused(ConfigError):
    """init would rename something already registered, or edit a tree with uncommitted work."""


@dataclass(frozen=True)
class Current:
    """What the project says now (gathered from files; everything below is pure)."""

    name: str
    owner: str
    package: str
    texts: dict[Path, str]  # repo-relative path -> current text, for every file init may rewrite
    released: dict[str, Path] = field(default_factory=dict)  # model name -> one of its release records
    packages: frozenset[str] = frozenset()  # directories under src/


@dataclass(frozen=True)
class Plan:
    writes: dict[Path, str]  # repo-relative path -> new text (changed files only)
    copy_package: tuple[str, str] | None  # (from, to) under src/, when src/<to> is created


# --- pure rewrites ---------------------------------------------------------------------------


def _replace_key(text: str, key: str, value: str, where: Path) -> str:
    """Set a top-level `key:` scalar, keeping its spacing and trailing comment."""
    pattern = re.compile(
        rf"^({re.escape(key)}:[ \t]*)(\"[^\"\n]*\"|'[^'\n]*'|[^\s#]+)([ \t]*)(?=#|$)", re.MULTILINE
    )

    def keep_comment_column(m: re.Match[str]) -> str:
        pad = len(m.group(2)) + len(m.group(3)) - len(value)
        return m.group(1) + value + (" " * max(pad, 1) if m.group(3) else "")

    new, count = pattern.subn(keep_comment_column, text, count=1)
    if count != 1:
        raise ConfigError(f"{where}: no top-level `{key}:` line to rewrite")
    return new


def rewrite_model_yaml(text: str, old_package: str, name: str, package: str, owner: str) -> str:
    text = _replace_key(text, "name", name, MODEL_YAML)
    text = _replace_key(text, "owner", f'"{owner}"', MODEL_YAML)
    text = _replace_key(text, "package", package, MODEL_YAML)
    # Contract entries "old.module:attr" (indented), and comments pointing at src/<old>/.
    text = re.sub(
        rf"^(\s+\w+:[ \t]*){re.escape(old_package)}(?=[.:])", rf"\g<1>{package}", text, flags=re.MULTILINE
    )
    text = text.replace(f"src/{old_package}/", f"src/{package}/")
    parsed = yaml.safe_load(text)
    if (parsed["name"], parsed["owner"], parsed["package"]) != (name, owner, package):
        raise ConfigError(f"{MODEL_YAML}: rewriting name/owner/package did not yield the requested values")
    return text


def rewrite_raw_path(text: str, old_name: str, name: str) -> str:
    """paths.raw data/raw/<old name>.<ext> follows the model's name (any other file name stays)."""
    return re.sub(
        rf"^(\s+raw:[ \t]*\S*/){re.escape(old_name)}(\.\w+)", rf"\g<1>{name}\g<2>", text, flags=re.MULTILINE
    )


def rewrite_codeowners(text: str, owner: str) -> str:
    """Every rule's owners become `owner`; paths, alignment and comments stay."""
    lines = []
    for line in text.splitlines(keepends=True):
        m = re.match(r"^(\S+\s+)@\S+(?:\s+@\S+)*(\s*)$", line)
        if m and not line.startswith("#"):
            line = f"{m.group(1)}{owner}{m.group(2)}"
        lines.append(line)
    return "".join(lines)


def codeowners_owners(text: str) -> dict[str, list[str]]:
    """path -> owners of every rule line (shared by init's check and its test)."""
    rules = (ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))
    return {parts[0]: parts[1:] for parts in rules}


def rewrite_model_env(text: str, track: str, name: str, where: Path) -> str:
    """A track that serves nothing names the new model; a serving track must already name it."""
    env = state.parse_env(text)
    if env.get("MODEL_VERSION"):
        if env.get("MODEL_NAME") != name:
            raise InitRefused(
                f"{where}: serves {env.get('MODEL_NAME')!r} v{env['MODEL_VERSION']}; a released model is "
                f"never renamed to {name!r} (keep --name {env.get('MODEL_NAME')})"
            )
        return text
    return overlay.model_env(track, name, None, None)


def rewrite_module_refs(source: str, old: str, new: str) -> str:
    """Imports and dotted references of the old package inside a copied module."""
    source = re.sub(rf"\b(from|import)(\s+){re.escape(old)}\b", rf"\g<1>\g<2>{new}", source)
    source = re.sub(rf"(?<![\w./-]){re.escape(old)}(?=\.[A-Za-z_])", new, source)
    return source.replace(f"src/{old}/", f"src/{new}/")


def check(current: Current, name: str, package: str, owner: str) -> None:
    """Refuse bad values and renaming a model that has release records (one line, naming the file)."""
    for flag, value, rule in (
        ("--name", name, NAME),
        ("--package", package, PACKAGE),
        ("--owner", owner, OWNER),
    ):
        if not rule.match(value):
            raise ConfigError(f"modelops init {flag} {value!r}: must match {rule.pattern}")
    others = {n: p for n, p in current.released.items() if n != name}
    if others:
        other, record = sorted(others.items())[0]
        raise InitRefused(
            f"{record}: model {other!r} is already released from this repository; a registered model is "
            f"never renamed to {name!r} (keep --name {other}, or start the new model in its own repository)"
        )
    if (
        package != current.package
        and package not in current.packages
        and current.package not in current.packages
    ):
        raise InitRefused(
            f"src/{package} does not exist and there is no src/{current.package} to copy it from"
        )


def plan(current: Current, name: str, package: str, owner: str) -> Plan:
    check(current, name, package, owner)
    t = current.texts
    new: dict[Path, str] = {
        MODEL_YAML: rewrite_model_yaml(t[MODEL_YAML], current.package, name, package, owner),
    }
    if DATA_YAML in t:
        new[DATA_YAML] = rewrite_raw_path(t[DATA_YAML], current.name, name)
    if CODEOWNERS in t:
        new[CODEOWNERS] = rewrite_codeowners(t[CODEOWNERS], owner)
    for track, rel in state.TRACK_OVERLAYS.items():
        env = Path(rel) / state.MODEL_ENV
        if env in t:
            new[env] = rewrite_model_env(t[env], track, name, env)
    writes = {p: text for p, text in new.items() if text != t[p]}
    creates = package != current.package and package not in current.packages
    copy = (current.package, package) if creates else None
    return Plan(writes=writes, copy_package=copy)


# --- shell: gather facts, apply the plan -----------------------------------------------------


def gather(root: Path) -> Current:
    repo = git.GitRepo(root)
    if not repo.is_repository():
        raise InitRefused(f"{root}: not a git checkout; init edits files that must be reviewed as one commit")
    dirty = repo.changed_paths()
    if dirty:
        raise InitRefused(
            f"{dirty[0]}: uncommitted change (and {len(dirty) - 1} more); commit or stash first"
        )
    model = read_yaml(root / MODEL_YAML)
    missing = [k for k in ("name", "owner", "package") if not isinstance(model.get(k), str)]
    if missing:
        raise ConfigError(f"{MODEL_YAML}: `{missing[0]}` is missing or not a string")
    paths = [MODEL_YAML, DATA_YAML, CODEOWNERS]
    paths += [Path(rel) / state.MODEL_ENV for rel in state.TRACK_OVERLAYS.values()]
    texts = {p: (root / p).read_text() for p in paths if (root / p).is_file()}
    releases = root / load_release_config(root / "configs").releases_dir
    released = {
        d.name: records[0].relative_to(root)
        for d in sorted(releases.iterdir() if releases.is_dir() else [])
        if d.is_dir() and (records := sorted(d.glob("v*.yaml")))
    }
    src = root / "src"
    packages = frozenset(d.name for d in src.iterdir() if d.is_dir()) if src.is_dir() else frozenset()
    return Current(model["name"], model["owner"], model["package"], texts, released, packages)


def copy_package(root: Path, old: str, new: str) -> list[Path]:
    """src/<new> as a copy of src/<old>, its imports renamed; returns the files written."""
    target = root / "src" / new
    shutil.copytree(root / "src" / old, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module in target.rglob("*.py"):
        module.write_text(rewrite_module_refs(module.read_text(), old, new))
    return sorted(p.relative_to(root) for p in target.rglob("*") if p.is_file())


def apply(root: Path, planned: Plan) -> list[Path]:
    written = []
    if planned.copy_package:
        written += copy_package(root, *planned.copy_package)
    for rel, text in planned.writes.items():
        (root / rel).write_text(text)
        written.append(rel)
    return written


def run(root: Path, name: str, package: str, owner: str | None) -> list[Path]:
    current = gather(root)
    return apply(root, plan(current, name, package, owner or current.owner))


# --- CLI ------------------------------------------------------------------------------------


def _init(args) -> int:  # type: ignore[no-untyped-def]
    root = Path(args.root).resolve()
    written = run(root, args.name, args.package, args.owner)
    if not written:
        print(f"nothing to change: the project already names model {args.name!r}, package {args.package!r}")
        return 0
    for path in written:
        print(path)
    print(f"{len(written)} files written; review them (`git diff`, `git status`) and commit as one change.")
    return 0


def register(sub) -> None:  # type: ignore[no-untyped-def]
    p = sub.add_parser(
        "init",
        help="name the model: rewrite configs/model.yaml, CODEOWNERS and the overlays consistently",
        description="Set the model's name, package and owner everywhere they are written: configs/model.yaml "
        "(name, owner, package, contract module prefix), configs/data.yaml paths.raw, .github/CODEOWNERS, "
        "k8s/overlays/*/model.env (tracks that serve nothing yet); create src/PACKAGE as a renamed copy of "
        "the configured package when it does not exist. Idempotent. Refuses on uncommitted changes, or "
        "when releases/ holds records of a model with another name.",
    )
    p.add_argument("--name", required=True, help="registered model name (MLflow), e.g. fraud")
    p.add_argument("--package", required=True, help="the model package under src/, e.g. fraud_model")
    p.add_argument("--owner", default=None, help="GitHub team that approves releases (default: keep)")
    p.set_defaults(func=_init)
