"""Model cards: rendered from the team's configs/model_card.md.j2 (pure given the context)."""

import re
from pathlib import Path
from typing import Any

from modelops.errors import ConfigError
from modelops.release.config import CardConfig


def group_metrics(metrics: dict[str, float], cfg: CardConfig) -> dict[str, dict[str, float]]:
    """Split run metrics into overall / per_slice / calibration for the card's tables."""
    groups: dict[str, dict[str, float]] = {"overall": {}, "per_slice": {}, "calibration": {}}
    for name in sorted(metrics):
        if not re.search(cfg.include, name):
            continue
        if re.search(cfg.slice_pattern, name):
            groups["per_slice"][name] = metrics[name]
        elif re.search(cfg.calibration_pattern, name):
            groups["calibration"][name] = metrics[name]
        else:
            groups["overall"][name] = metrics[name]
    return groups


def slice_metrics(report: dict[str, Any] | None) -> dict[str, float]:
    """Flatten the evaluate step's report.json `slices` ({"plan=pro": {"roc_auc": ..}}) for the card."""
    slices = (report or {}).get("slices") or {}
    return {
        f"{name} {metric}": float(value)
        for name, values in sorted(slices.items())
        if isinstance(values, dict)
        for metric, value in sorted(values.items())
        if isinstance(value, int | float) and value == value  # drop NaN
    }


def render(template_path: Path, context: dict[str, Any]) -> str:
    """Render the card; a name the template uses but the context lacks is an error, not a blank."""
    import jinja2

    if not template_path.is_file():
        raise ConfigError(f"{template_path}: model card template not found")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_path.parent)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Markdown, not HTML
    )
    env.filters["fmt"] = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)
    try:
        return env.get_template(template_path.name).render(**context)
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f":{line}" if line else ""
        raise ConfigError(f"{template_path}{where}: {exc.message or exc}") from exc
