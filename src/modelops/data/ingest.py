"""ingest: write the raw snapshot from the model package's load_data (DVC versions the file)."""

import json
from pathlib import Path

import pandas as pd

from modelops.contract import load_package
from modelops.data.validate import validate_frame
from modelops.errors import SchemaViolation
from modelops.settings import Settings


def ingest(settings: Settings) -> Path:
    frame = load_package(settings).raw_snapshot(settings)
    out = settings.path(settings.data.paths.raw)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    return out


def read_table(path: Path) -> pd.DataFrame:
    """Read a parquet or CSV table; an empty or unreadable file is a schema violation."""
    if not path.is_file():
        raise SchemaViolation(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise SchemaViolation(f"{path}: the file is empty")
    try:
        if path.suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow/pandas raise many types for a corrupt file
        raise SchemaViolation(f"{path}: unreadable table ({type(exc).__name__}: {exc})") from exc


def validate(settings: Settings, path: Path | None = None) -> dict[str, object]:
    """Validate the raw snapshot and write the report the downstream stages depend on.

    On failure no report is written (and a stale one is removed), so nothing
    downstream can run on bad data.
    """
    source = path or settings.path(settings.data.paths.raw)
    report_path = settings.path(settings.data.paths.validation_report)
    report_path.unlink(missing_ok=True)
    report = validate_frame(read_table(source), settings.features)
    report["source"] = str(
        source.relative_to(settings.root) if source.is_relative_to(settings.root) else source
    )
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    return report
