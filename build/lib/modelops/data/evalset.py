"""The pinned evaluation set: one committed pointer, read by training, the gate and its reviewers.

`configs/eval_set.yaml` names the DVC-tracked evaluation file and its md5. New snapshots never
change it; only the explicit, reviewed `modelops data eval-set create|rotate` command does, and
every reader fails closed when the file on disk does not match the pin.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ConfigDict, Field

from modelops.errors import ConfigError, DigestMismatch, MissingEvidence, SchemaViolation

if TYPE_CHECKING:
    from modelops.settings import Settings

PIN_FILE = "eval_set.yaml"


class EvalSetPin(BaseModel):
    """The committed pointer to the frozen evaluation set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path  # relative to the project root; DVC-tracked
    md5: str = Field(pattern=r"^[0-9a-f]{32}$")
    rows: int = Field(ge=1)
    created_at: datetime
    reason: str = ""
    # Where the rows came from, and the set this one replaced (a rotation's audit trail).
    source: str = ""
    previous_md5: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")


def pin_path(config_dir: Path) -> Path:
    return Path(config_dir) / PIN_FILE


def load_pin(config_dir: Path) -> EvalSetPin:
    """Read the pin from `config_dir` (in the gate: the trusted base branch's configs)."""
    from modelops.settings import read_yaml, validate_model

    path = pin_path(config_dir)
    if not path.is_file():
        raise ConfigError(f"{path}: no evaluation-set pin; create one with `modelops data eval-set create`")
    return validate_model(EvalSetPin, read_yaml(path), str(path))


def verified_path(pin: EvalSetPin, root: Path) -> Path:
    """The pinned file, after checking its md5 against the pin (fail closed)."""
    return verified_file(pin, root)[0]


def verified_file(pin: EvalSetPin, root: Path) -> tuple[Path, str]:
    """(the pinned file, its md5) after checking the md5 against the pin (fail closed, naming both)."""
    from modelops.adapters import dvc

    path = pin.path if pin.path.is_absolute() else Path(root) / pin.path
    if not path.is_file():
        raise MissingEvidence(
            f"{pin.path}: the pinned evaluation set is absent (md5 {pin.md5}); fetch it with `dvc pull`"
        )
    actual = dvc.md5(path)
    if actual != pin.md5:
        raise DigestMismatch(
            f"{pin.path}: md5 {actual} differs from the pin {pin.md5} in configs/{PIN_FILE}; "
            "the evaluation set changes only through `modelops data eval-set rotate`"
        )
    return path, actual


def render_pin(pin: EvalSetPin) -> str:
    header = (
        "# The frozen evaluation set the gate scores every candidate and champion on. Written by\n"
        "# `modelops data eval-set create|rotate` only; a change here is reviewed like a gate rule.\n"
    )
    body = pin.model_dump(mode="json", exclude_none=True)
    return header + yaml.safe_dump(body, sort_keys=False)


def new_pin(
    path: Path, md5: str, rows: int, reason: str, source: str, previous: EvalSetPin | None
) -> EvalSetPin:
    return EvalSetPin(
        path=path,
        md5=md5,
        rows=rows,
        created_at=datetime.now(UTC).replace(microsecond=0),
        reason=reason,
        source=source,
        previous_md5=previous.md5 if previous else None,
    )


def require_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ConfigError(
            "eval-set rotate: --reason is required (it is recorded in configs/eval_set.yaml for review)"
        )
    return text


def write_eval_set(settings: "Settings", reason: str | None = None, rotate: bool = False) -> EvalSetPin:
    """`eval-set create` (none pinned yet) or `eval-set rotate --reason` (replace the pinned set).

    The rows are the evaluation hash bucket of the current, validated raw snapshot. The file is
    DVC-tracked (`dvc add`, so the replaced set stays in the cache and git history) and the pin
    is rewritten; both are committed in a pull request the gate flags.
    """
    from modelops.adapters import dvc
    from modelops.data.ingest import read_table
    from modelops.data.keys import row_keys
    from modelops.data.split import assign

    config_dir = settings.config_dir
    existing = load_pin(config_dir) if pin_path(config_dir).is_file() else None
    if rotate:
        reason = require_reason(reason)
        if existing is None:
            raise ConfigError(
                f"{pin_path(config_dir)}: nothing to rotate; use `modelops data eval-set create`"
            )
    elif existing is not None:
        raise ConfigError(
            f"{pin_path(config_dir)}: an evaluation set is already pinned (md5 {existing.md5}); "
            "replace it only with `modelops data eval-set rotate --reason ...`"
        )
    paths = settings.data.paths
    raw = settings.path(paths.raw)
    raw_md5 = _validated_md5(settings, raw)
    frame = read_table(raw)
    split = settings.data.split
    part = assign(
        row_keys(frame, settings.features, str(paths.raw)), split.valid_fraction, split.eval_fraction
    )
    subset = frame[part == 2].reset_index(drop=True)
    if subset.empty:
        raise SchemaViolation(f"{paths.raw}: no rows fall into the evaluation bucket; nothing to pin")
    dest = settings.path(paths.eval)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subset.to_parquet(dest, index=False)
    md5 = dvc.md5(dest)
    if existing is not None and md5 == existing.md5:
        raise ConfigError(f"{paths.eval}: the new evaluation set is identical to the pinned one (md5 {md5})")
    dvc.track(settings.root, dest)
    pin = new_pin(
        Path(paths.eval),
        md5,
        len(subset),
        reason or "initial evaluation set",
        f"{paths.raw} md5={raw_md5}",
        existing,
    )
    pin_path(config_dir).write_text(render_pin(pin))
    return pin


def _validated_md5(settings: "Settings", raw: Path) -> str:
    """The raw snapshot's md5, provided validation accepted exactly this file."""
    import json

    from modelops.adapters import dvc

    report_path = settings.path(settings.data.paths.validation_report)
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    md5 = dvc.md5(raw) if raw.is_file() else None
    if report.get("status") != "passed" or md5 is None or report.get("md5") != md5:
        raise SchemaViolation(
            f"{settings.data.paths.raw}: not an accepted snapshot (no passing validation report for it); "
            "run `dvc repro validate` first: the evaluation set is cut only from validated data"
        )
    return md5
