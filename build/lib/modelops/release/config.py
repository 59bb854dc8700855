"""The release step's own settings (configs/release.yaml)."""

from pathlib import Path

from pydantic import Field

from modelops.settings import load_section
from modelops.strict import Strict as _Strict

FILENAME = "release.yaml"


class CardConfig(_Strict):
    include: str = "^(valid|eval)_"
    slice_pattern: str = "segment|slice"
    calibration_pattern: str = "brier|calibration|ece|log_loss"


class ReleaseConfig(_Strict):
    releases_dir: Path = Path("releases")
    model_cards_dir: Path = Path("model_cards")
    card_template: str = "model_card.md.j2"
    canary_replicas: int = Field(default=1, ge=1, le=100)
    require_gate_verdict: str = "pass"
    track_trailer: str = Field(default="Modelops-Track", pattern=r"^[A-Za-z][A-Za-z0-9-]*$")
    card: CardConfig = CardConfig()

    def release_path(self, root: Path, model: str, version: int) -> Path:
        return root / self.releases_dir / model / f"v{version}.yaml"

    def card_path(self, root: Path, model: str, version: int) -> Path:
        return root / self.model_cards_dir / model / f"v{version}.md"


def load_release_config(config_dir: Path) -> ReleaseConfig:
    return load_section(config_dir, FILENAME, ReleaseConfig)
