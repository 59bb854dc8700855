"""Release records: built from registry facts, validated against release.schema.json (pure)."""

import json
import re
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml

from modelops.errors import MissingEvidence, ReleaseError

SCHEMA_FILE = "release.schema.json"
LINEAGE_TAGS = ("git_sha", "git_dirty", "data_md5", "train_md5", "eval_md5", "config_sha256")
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


@cache
def schema() -> dict[str, Any]:
    return dict(json.loads(resources.files("modelops.release").joinpath(SCHEMA_FILE).read_text()))


def validate(record: dict[str, Any], source: str) -> None:
    """Raise ReleaseError naming the file, the field path and the broken rule."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "<root>"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ReleaseError(f"{source}: {where}: {first.message}{more}")


def _flag(value: str, tag: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE | _FALSE:
        return low in _TRUE
    raise MissingEvidence(f"version tag {tag}={value!r} is not a boolean")


def lineage(tags: dict[str, str], environment: dict[str, Any]) -> dict[str, Any]:
    """The lineage block from a version's tags; a missing tag refuses (fail closed)."""
    missing = [t for t in LINEAGE_TAGS if not tags.get(t)]
    if missing:
        raise MissingEvidence(
            f"model version lacks lineage tag(s) {', '.join(missing)}; retrain with `modelops train`"
        )
    out: dict[str, Any] = {t: tags[t] for t in LINEAGE_TAGS}
    out["git_dirty"] = _flag(tags["git_dirty"], "git_dirty")
    out["environment"] = environment
    return out


def parse_environment(python_env: str | None, requirements: str | None) -> dict[str, Any]:
    """Python version and pinned packages from the MLflow model's python_env.yaml and requirements.txt."""
    if not python_env or not requirements:
        raise MissingEvidence(
            "model artifact lacks python_env.yaml or requirements.txt (environment lineage)"
        )
    python = str((yaml.safe_load(python_env) or {}).get("python", ""))
    packages: dict[str, str] = {}
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9][\w.\-\[\],]*)\s*==\s*([^\s;]+)", line)
        if m:
            packages[m.group(1).lower()] = m.group(2)
        elif line and not line.startswith("-"):
            packages[re.split(r"[<>=!~;\s]", line, maxsplit=1)[0].lower()] = line
    return {"python": python, "packages": dict(sorted(packages.items()))}


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(
    *,
    name: str,
    version: int,
    run_id: str,
    sha256: str,
    tags: dict[str, str],
    environment: dict[str, Any],
    pr: int | None,
    track: str,
    promoted_by: str,
    previous_version: int | None,
    created_at: str,
) -> dict[str, Any]:
    """The release record for one version; validated before it is returned."""
    record = {
        "schema_version": 1,
        "model": {
            "name": name,
            "version": version,
            "uri": f"models:/{name}/{version}",
            "run_id": run_id,
            "sha256": sha256,
        },
        "lineage": lineage(tags, environment),
        "gate": {
            "verdict": tags.get("gate.verdict", ""),
            "report_sha256": tags.get("gate.report_sha256", ""),
            "pr": pr,
        },
        "track": track,
        "created_at": created_at,
        "promoted_by": promoted_by,
        "previous_version": previous_version,
    }
    validate(record, f"release record for {name} v{version}")
    return record


def dump(record: dict[str, Any]) -> str:
    """Stable YAML text (key order as built) so a record diffs and reviews cleanly."""
    header = "# Release record written by `modelops promote`. Append-only: do not edit.\n"
    return header + yaml.safe_dump(record, sort_keys=False, default_flow_style=False)


def load(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReleaseError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ReleaseError(f"{source}: expected a mapping at the top level")
    validate(data, source)
    return data
