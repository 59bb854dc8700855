"""The rules that judge a candidate: which files they are, their digests, and what a PR changes in them.

In CI the gate reads its rules from the trusted side (the PR's base branch, `--rules-from`); the
PR head's copies are only compared with them, so a PR cannot loosen the gate that judges it.
"""

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from modelops.data.evalset import PIN_FILE

GATES_FILE = "gates.yaml"
FEATURES_FILE = "features.yaml"
# Every config file whose content can change a verdict; a PR's edit to any of them is flagged.
RULE_FILES = (GATES_FILE, FEATURES_FILE, PIN_FILE)
ROTATION = "eval set rotation"


@dataclass(frozen=True)
class RuleChange:
    """One rule file that differs between the trusted side and the PR head."""

    file: str
    diff: str  # unified diff, trusted -> proposed
    rotation: bool  # the evaluation-set pin moved


def sha256_bytes(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def read_rule_files(config_dir: Path) -> dict[str, bytes | None]:
    """Raw bytes of each rule file (None when absent): digests and diffs are of what was read."""
    out: dict[str, bytes | None] = {}
    for name in RULE_FILES:
        path = Path(config_dir) / name
        out[name] = path.read_bytes() if path.is_file() else None
    return out


def diff_rules(trusted: dict[str, bytes | None], proposed: dict[str, bytes | None]) -> list[RuleChange]:
    """The rule files the PR head changes, each with a unified diff (pure)."""
    changes = []
    for name in RULE_FILES:
        old, new = trusted.get(name), proposed.get(name)
        if old == new:
            continue
        diff = difflib.unified_diff(
            _lines(old),
            _lines(new),
            fromfile=f"base/configs/{name}" if old is not None else "/dev/null",
            tofile=f"pr/configs/{name}" if new is not None else "/dev/null",
        )
        changes.append(RuleChange(name, "".join(diff), rotation=name == PIN_FILE))
    return changes


def _lines(blob: bytes | None) -> list[str]:
    if blob is None:
        return []
    lines = blob.decode("utf-8", errors="replace").splitlines(keepends=True)
    # A last line without a newline would glue onto the diff's next header.
    return [line if line.endswith("\n") else line + "\n" for line in lines]
