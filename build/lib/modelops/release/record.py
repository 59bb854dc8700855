"""Release records (releases/<model>/v<N>.yaml): one typed model, one reader, one generated schema.

`ReleaseRecord` is the single definition. `release.schema.json` is generated from it
(`modelops release schema` rewrites it; a test checks the committed file equals the generated
one), `build` is the only writer's constructor and `read` the only reader: promotion, `release
verify`, serving and monitoring all go through it, and all honour `releases_dir` from
configs/release.yaml.
"""

import json
import re
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, ConfigDict, Field, ValidationError, model_validator

from modelops import tags as T
from modelops.errors import ConfigError, MissingEvidence
from modelops.release.config import ReleaseConfig, load_release_config
from modelops.settings import parse_yaml, validation_message
from modelops.strict import Strict

SCHEMA_FILE = "release.schema.json"
SCHEMA_ID = "https://modelops.example/release.schema.json"
SCHEMA_VERSION = 2
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_UTC_SECOND = "%Y-%m-%dT%H:%M:%SZ"


def _real_time(value: str) -> str:
    datetime.strptime(value, _UTC_SECOND)  # the pattern admits month 13; this does not
    return value


Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Md5 = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
UtcTime = Annotated[
    str,
    Field(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", json_schema_extra={"format": "date-time"}),
    AfterValidator(_real_time),
]
Version = Annotated[int, Field(ge=1)]


class _Strict(Strict):
    # strict: YAML `version: "3"` is an error, not a silent cast.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Model(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z][\w-]*$")]
    version: Version
    uri: Annotated[str, Field(pattern=r"^models:/[A-Za-z][\w-]*/[1-9][0-9]*$")]
    run_id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    sha256: Sha256

    @model_validator(mode="after")
    def _uri_names_this_version(self) -> "Model":
        if self.uri != f"models:/{self.name}/{self.version}":
            raise ValueError(f"uri {self.uri!r} is not models:/{self.name}/{self.version}")
        return self


class Environment(_Strict):
    python: Annotated[str, Field(pattern=r"^3\.[0-9]+(\.[0-9]+)?$")]
    packages: dict[str, Annotated[str, Field(min_length=1)]]


class Lineage(_Strict):
    git_sha: Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]
    git_dirty: bool
    data_md5: Md5
    train_md5: Md5
    eval_md5: Md5
    config_sha256: Sha256
    environment: Environment


class Gate(_Strict):
    """The gate run that allowed the release, and the rules it judged under."""

    verdict: Literal["pass"]
    report_sha256: Sha256
    pr: Annotated[int, Field(ge=1)] | None
    gates_sha256: Sha256 = Field(description="sha256 of the gates.yaml bytes the gate read")
    features_sha256: Sha256 = Field(description="sha256 of the features.yaml bytes the gate read")
    eval_md5: Md5 = Field(description="md5 of the pinned evaluation set the gate scored")
    at: UtcTime = Field(description="when the gate ran (UTC)")


class ReleaseRecord(_Strict):
    model_config = ConfigDict(
        title="Release record (releases/<model>/v<N>.yaml)",
        json_schema_extra={
            "description": "The audit record of one promoted model version. Append-only: written "
            "once by `modelops promote`, never removed by a rollback."
        },
    )

    schema_version: Literal[2]
    model: Model
    lineage: Lineage
    gate: Gate
    track: Literal["canary", "stable"] = Field(description="the track of the first promotion")
    created_at: UtcTime
    promoted_by: Annotated[str, Field(min_length=1)]
    previous_version: Version | None = Field(description="stable version when it was released")


def json_schema() -> dict[str, Any]:
    """The JSON schema of ReleaseRecord, as committed in release.schema.json."""
    generated = ReleaseRecord.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **generated}


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


@cache
def committed_schema() -> str:
    return resources.files("modelops.release").joinpath(SCHEMA_FILE).read_text()


# --- building a record from registry facts (pure) ---------------------------------------


def _flag(value: str, tag: str) -> bool:
    low = value.strip().lower()
    if low in _TRUE | _FALSE:
        return low in _TRUE
    raise MissingEvidence(f"version tag {tag}={value!r} is not a boolean")


def lineage(tags: dict[str, str], environment: dict[str, Any]) -> dict[str, Any]:
    """The lineage block from a version's tags; a missing tag refuses (fail closed)."""
    missing = [t for t in T.LINEAGE if not tags.get(t)]
    if missing:
        raise MissingEvidence(
            f"model version lacks lineage tag(s) {', '.join(missing)}; retrain with `modelops train`"
        )
    out: dict[str, Any] = {t: tags[t] for t in T.LINEAGE}
    out[T.GIT_DIRTY] = _flag(tags[T.GIT_DIRTY], T.GIT_DIRTY)
    out["environment"] = environment
    return out


def parse_time(value: str, what: str) -> datetime:
    """An ISO-8601 time (a tag or git date) as an aware UTC datetime; naive means UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise MissingEvidence(f"{what}={value!r} is not an ISO-8601 time") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def utc_second(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_UTC_SECOND)


def gate_block(tags: dict[str, str], pr: int | None) -> dict[str, Any]:
    """The gate block from the gate's version tags; every tag is required (fail closed)."""
    needed = (T.GATE_VERDICT, T.GATE_REPORT_SHA256, T.GATE_RULES_SHA256, T.GATE_FEATURES_SHA256)
    missing = [t for t in (*needed, T.GATE_EVAL_MD5, T.GATE_AT) if not tags.get(t)]
    if missing:
        raise MissingEvidence(f"model version lacks gate tag(s) {', '.join(missing)}; re-run the gate")
    return {
        "verdict": tags[T.GATE_VERDICT],
        "report_sha256": tags[T.GATE_REPORT_SHA256],
        "pr": pr,
        "gates_sha256": tags[T.GATE_RULES_SHA256],
        "features_sha256": tags[T.GATE_FEATURES_SHA256],
        "eval_md5": tags[T.GATE_EVAL_MD5],
        "at": utc_second(parse_time(tags[T.GATE_AT], T.GATE_AT)),
    }


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
    return utc_second(datetime.now(UTC))


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
) -> ReleaseRecord:
    """The release record for one version; validated before it is returned."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "model": {
            "name": name,
            "version": version,
            "uri": f"models:/{name}/{version}",
            "run_id": run_id,
            "sha256": sha256,
        },
        "lineage": lineage(tags, environment),
        "gate": gate_block(tags, pr),
        "track": track,
        "created_at": created_at,
        "promoted_by": promoted_by,
        "previous_version": previous_version,
    }
    return validate(data, f"release record for {name} v{version}")


# --- text form and the one reader -------------------------------------------------------


def validate(data: Any, source: str) -> ReleaseRecord:
    """A ReleaseRecord, or MissingEvidence naming the source, the field path and the rule."""
    if not isinstance(data, dict):
        raise MissingEvidence(f"{source}: expected a mapping at the top level")
    try:
        return ReleaseRecord.model_validate(data)
    except ValidationError as exc:
        raise MissingEvidence(validation_message(exc, source)) from exc


def dump(rec: ReleaseRecord) -> str:
    """Stable YAML text (field order as declared) so a record diffs and reviews cleanly."""
    header = "# Release record written by `modelops promote`. Append-only: do not edit.\n"
    return header + yaml.safe_dump(rec.model_dump(mode="json"), sort_keys=False, default_flow_style=False)


def load(text: str, source: str) -> ReleaseRecord:
    """Parse and validate record text (`source` names it in errors)."""
    # The shared loader: a duplicated key in a committed record is an error, not a silent overwrite.
    try:
        data = parse_yaml(text, source)
    except ConfigError as exc:
        raise MissingEvidence(str(exc)) from exc
    return validate(data, source)


def path_of(root: Path, model: str, version: int | str, cfg: ReleaseConfig | None = None) -> Path:
    """Where the record of `model` v`version` lives under `releases_dir` (configs/release.yaml)."""
    from modelops.settings import default_config_dir

    cfg = cfg or load_release_config(default_config_dir(root))
    return cfg.release_path(root, model, _version(version))


def read(root: Path, model: str, version: int | str, cfg: ReleaseConfig | None = None) -> ReleaseRecord:
    """The release record of `model` v`version`: the one reader every step uses.

    Missing, unparsable or schema-breaking records, and records whose model/version disagree with
    their path, raise MissingEvidence naming the file (fail closed).
    """
    path = path_of(root, model, version, cfg)
    return read_file(path, root, expect=(model, _version(version)))


def read_file(path: Path, root: Path | None = None, expect: tuple[str, int] | None = None) -> ReleaseRecord:
    """A record at an explicit path (e.g. `serve --release FILE`); `read` goes through here."""
    shown = _shown(path, root)
    if not path.is_file():
        raise MissingEvidence(f"{shown}: release record does not exist")
    rec = load(path.read_text(), shown)
    if expect is not None and (rec.model.name, rec.model.version) != expect:
        raise MissingEvidence(
            f"{shown}: model.name/version {rec.model.name} v{rec.model.version} do not match the "
            f"file path ({expect[0]} v{expect[1]})"
        )
    return rec


def _version(value: int | str) -> int:
    text = str(value).lstrip("v")
    if not text.isdigit() or int(text) < 1:
        raise MissingEvidence(f"model version {value!r} is not a version number")
    return int(text)


def _shown(path: Path, root: Path | None) -> str:
    try:
        return str(path.relative_to(root)) if root is not None else str(path)
    except ValueError:
        return str(path)
