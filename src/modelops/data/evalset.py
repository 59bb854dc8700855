"""The pinned evaluation set: one committed pointer, read by training, the gate and its reviewers.

`configs/eval_set.yaml` names the DVC-tracked evaluation file and its md5. New snapshots never
change it; only the explicit, reviewed `modelops data eval-set` command does, and the gate fails
closed when the file on disk does not match the pin.
"""

from datetime import datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from modelops.errors import ConfigError

PIN_FILE = "eval_set.yaml"


class EvalSetPin(BaseModel):
    """The committed pointer to the frozen evaluation set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path  # relative to the project root; DVC-tracked
    md5: str = Field(pattern=r"^[0-9a-f]{32}$")
    rows: int = Field(ge=1)
    created_at: datetime
    reason: str = ""


def pin_path(config_dir: Path) -> Path:
    return Path(config_dir) / PIN_FILE


def load_pin(config_dir: Path) -> EvalSetPin:
    """Read the pin from `config_dir` (in the gate: the trusted base branch's configs)."""
    path = pin_path(config_dir)
    if not path.is_file():
        raise ConfigError(f"{path}: no evaluation-set pin; create one with `modelops data eval-set create`")
    try:
        return EvalSetPin.model_validate(yaml.safe_load(path.read_text()) or {})
    except Exception as exc:  # pydantic's message names the field
        raise ConfigError(f"{path}: {exc}") from exc
