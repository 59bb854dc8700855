"""ingest: write the raw snapshot from the model package's load_data (DVC versions the file)."""

import json
from pathlib import Path

import pandas as pd

from modelops.adapters import dvc
from modelops.contract import load_package
from modelops.data.baseline import (
    BaselineTolerances,
    build_profile,
    check_baseline,
    load_profile,
    load_tolerances,
    save_profile,
)
from modelops.data.loaders import read_files
from modelops.data.validate import validate_frame
from modelops.errors import DataSourceError, SchemaViolation
from modelops.settings import Settings

# Parquet key-value metadata of the raw snapshot: the one-line description of its source, so
# training records what was actually loaded, not what the config says today.
SOURCE_METADATA_KEY = b"modelops.source"


def ingest(settings: Settings) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    package = load_package(settings)
    frame = package.raw_snapshot(settings)
    description = package.describe_source(package.source(settings))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), SOURCE_METADATA_KEY: description.encode()}
    out = settings.path(settings.data.paths.raw)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(metadata), out)
    return out


def snapshot_source(path: Path) -> str | None:
    """The source description `ingest` stored in a raw snapshot; None for a file it did not write."""
    import pyarrow.parquet as pq

    try:
        value = (pq.read_schema(path).metadata or {}).get(SOURCE_METADATA_KEY)
    except (OSError, ValueError):  # not a parquet file (pyarrow raises ArrowInvalid, a ValueError)
        return None
    return value.decode() if value else None


def read_table(path: Path) -> pd.DataFrame:
    """Read a parquet or CSV table; an empty or unreadable file is a schema violation."""
    if not path.is_file():
        raise SchemaViolation(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise SchemaViolation(f"{path}: the file is empty")
    try:
        return read_files(str(path), format="csv" if path.suffix == ".csv" else "parquet")
    except DataSourceError as exc:  # a corrupt file is bad data, not a bad source
        cause = exc.__cause__ or exc
        raise SchemaViolation(f"{path}: unreadable table ({type(cause).__name__}: {cause})") from exc


def _relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root) if path.is_relative_to(root) else path)


def check_against_baseline(
    frame: pd.DataFrame, settings: Settings, tolerances: BaselineTolerances
) -> dict[str, object]:
    """The baseline half of validation: compare with the committed profile, fail closed.

    No profile yet (the very first snapshot) is a bootstrap: nothing to compare against,
    stated in the report.
    """
    profile_path = settings.path(settings.data.paths.profile)
    shown = _relative(profile_path, settings.root)
    if not profile_path.is_file():
        return {
            "status": "bootstrap",
            "profile": shown,
            "detail": "no profile yet: nothing to compare against; this snapshot becomes the baseline",
        }
    result = check_baseline(frame, load_profile(profile_path), tolerances)
    if not result.passed:
        raise SchemaViolation(f"{result.summary()} [baseline {shown}]")
    return {"status": "passed", "profile": shown, "baseline_rows": result.baseline_rows}


def validate(settings: Settings, path: Path | None = None) -> dict[str, object]:
    """Validate a snapshot: the static schema, then the baseline of the last accepted snapshot.

    Without `path` this is the pipeline's validate stage on the raw snapshot: on pass it writes
    the report the downstream stages depend on and the new profile (the snapshot is accepted);
    on failure no report is written (a stale one is removed), so nothing downstream runs on bad
    data, and the accepted profile is left as it was. With `path` it only checks that file.
    """
    accept = path is None
    source = path or settings.path(settings.data.paths.raw)
    report_path = settings.path(settings.data.paths.validation_report)
    if accept:
        report_path.unlink(missing_ok=True)
    tolerances = load_tolerances(settings.config_dir, settings.features)
    frame = read_table(source)
    report = validate_frame(frame, settings.features)
    report["baseline"] = check_against_baseline(frame, settings, tolerances)
    report["source"] = _relative(source, settings.root)
    report["md5"] = dvc.md5(source)
    if accept:
        profile = build_profile(
            frame,
            settings.features,
            tolerances.reference_rows,
            tolerances.reference_seed,
            source=f"{report['source']} md5={report['md5']}",
        )
        save_profile(profile, settings.path(settings.data.paths.profile))
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, indent=2) + "\n")
    return report
