"""`modelops monitor`: wire the log reader, references, Evidently and the checks, then write DIR."""

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from modelops.adapters import evidently
from modelops.errors import MissingEvidence, MonitorError
from modelops.monitor import checks, render
from modelops.monitor.config import MonitoringConfig
from modelops.monitor.logs import LogRead, decode, encode, read_logs
from modelops.monitor.reference import Reference, from_release, override
from modelops.monitor.store import LABEL as STORE_LABEL
from modelops.settings import Settings

log = logging.getLogger(__name__)

# Scores the reference frame (declared feature columns) with the model that served the version.
Scorer = Callable[[pd.DataFrame], np.ndarray]
ScorerFactory = Callable[[Reference], Scorer]
SCORE = "score"
_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Inputs:
    """What to judge: a JSON-lines log (`predictions`) or a store URI (`store`), not both."""

    predictions: Path | None
    out: Path
    labels: Path | None = None
    since: str | None = None
    reference: Path | None = None
    store: str | None = None
    until: str | None = None


def parse_since(value: str | None, now: datetime | None = None) -> pd.Timestamp | None:
    """ISO 8601 time, or a look-back like 24h / 7d / 30m / 2w."""
    if value is None:
        return None
    m = _RELATIVE.match(value.strip())
    now_ts = pd.Timestamp(now or datetime.now(UTC))
    if m:
        return now_ts - pd.Timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        ts = pd.Timestamp(value)
    except ValueError as exc:
        raise MonitorError(
            f"--since {value!r}: expected an ISO 8601 time or a look-back like 24h, 7d"
        ) from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def read_labels(path: Path, label: str) -> pd.Series:
    """request_id -> 0/1 label from a CSV or parquet file."""
    if not path.is_file():
        raise MonitorError(f"--labels {path}: file not found")
    try:
        if path.suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path, columns=None)
        else:
            frame = pd.read_csv(path, dtype={"request_id": str})
    except Exception as exc:
        raise MonitorError(f"--labels {path}: cannot read ({exc})") from exc
    for col in ("request_id", label):
        if col not in frame.columns:
            raise MonitorError(f"--labels {path}: missing column {col!r} (need request_id and {label})")
    values = pd.to_numeric(frame[label], errors="coerce")
    bad = ~values.isin([0, 1])
    if bad.any():
        raise MonitorError(
            f"--labels {path}: column {label!r} must be 0 or 1 ({int(bad.sum())} rows are not)"
        )
    ids = frame["request_id"].astype(str)
    return pd.Series(values.to_numpy(dtype=np.int8), index=ids).groupby(level=0).last()


def load_reference(
    ref: Reference, settings: Settings, cfg: MonitoringConfig, scorer_factory: ScorerFactory
) -> tuple[pd.DataFrame, int]:
    """A seeded sample (<= sample.size rows) of the reference with the model's scores, and its full row count.

    Only the sample is scored, so a 10M-row training snapshot costs one 50k-row predict.
    """
    import pyarrow.parquet as pq

    schema = settings.features
    try:
        table = pq.read_table(ref.path)
    except Exception as exc:
        raise MissingEvidence(f"reference {ref.path}: cannot read as parquet ({exc})") from exc
    need = [*schema.names, schema.label]
    absent = [c for c in need if c not in table.column_names]
    if absent:
        raise MissingEvidence(f"reference {ref.path}: missing columns {absent}")
    total = table.num_rows
    keep = need + ([SCORE] if SCORE in table.column_names else [])
    table = table.select(keep)
    if total > cfg.sample.size:
        rows = np.sort(np.random.default_rng(cfg.sample.seed).choice(total, cfg.sample.size, replace=False))
        table = table.take(rows)
    frame = table.to_pandas()
    if SCORE not in frame.columns:
        frame[SCORE] = scorer_factory(ref)(frame[schema.names])
    return frame, total


def _sample(frame: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= size else frame.sample(n=size, random_state=seed)


def _drift_columns(
    cfg: MonitoringConfig, settings: Settings, cur: pd.DataFrame, ref: pd.DataFrame
) -> tuple[list[evidently.Column], pd.DataFrame, pd.DataFrame, dict[str, tuple[str, int, int]]]:
    """Columns for Evidently: features, score, and each slice's features (NaN outside the slice)."""
    schema = settings.features
    cols = []
    for name in schema.names:
        rule = cfg.rule(schema, name)
        cols.append(evidently.Column(name, schema.feature(name).kind, rule.method, rule.threshold))
    cols.append(evidently.Column(SCORE, "numeric", cfg.drift.score.method, cfg.drift.score.threshold))
    slice_cols: dict[str, tuple[str, int, int]] = {}
    extra_cur, extra_ref = {}, {}
    for s in cfg.slices:
        in_cur, in_ref = cur[s.column] == s.value, ref[s.column] == s.value
        n_cur, n_ref = int(in_cur.sum()), int(in_ref.sum())
        slice_cols[s.name] = ("", n_cur, n_ref)
        if min(n_cur, n_ref) < cfg.min_rows:
            continue
        for name in schema.names:
            if name == s.column:
                continue
            col = f"{name} [{s.name}]"
            rule = cfg.rule(schema, name)
            threshold = rule.threshold * s.drift_threshold_scale
            cols.append(evidently.Column(col, schema.feature(name).kind, rule.method, threshold))
            extra_cur[col] = cur[name].where(in_cur)
            extra_ref[col] = ref[name].where(in_ref)
    cur = pd.concat([cur, pd.DataFrame(extra_cur, index=cur.index)], axis=1)
    ref = pd.concat([ref, pd.DataFrame(extra_ref, index=ref.index)], axis=1)
    return cols, cur, ref, slice_cols


def judge_version(
    version: str,
    frame: pd.DataFrame,
    ref: Reference,
    ref_frame: pd.DataFrame,
    labels: pd.Series | None,
    cfg: MonitoringConfig,
    settings: Settings,
) -> tuple[dict, object | None]:
    """One section of the summary (plain data) and the Evidently snapshot for this version."""
    schema = settings.features
    section: dict = {"model_version": version, "rows": len(frame), "reference": ref.as_dict(), "alerts": []}
    section["reference"]["sample_rows"] = len(ref_frame)
    if len(frame) < cfg.min_rows:
        section["verdict"] = "insufficient traffic"
        section["note"] = f"{len(frame)} rows < min_rows {cfg.min_rows}: not judged"
        return section, None

    # Current rates use every logged row; reference rates its seeded sample.
    rates = checks.compare_rates(frame, encode(ref_frame, schema), schema)
    section["rates"] = [r.as_dict() for r in rates]
    alerts = checks.rate_alerts(rates, cfg)

    seed, size = cfg.sample.seed, cfg.sample.size
    cur_s = _sample(frame, size, seed)
    ref_s = ref_frame  # already sampled by load_reference
    cur_x = decode(cur_s, schema).assign(**{SCORE: cur_s[SCORE].to_numpy()})
    ref_x = ref_s[[*schema.names, SCORE]].copy()
    section["sample"] = {"current": len(cur_x), "reference": len(ref_x), "seed": seed, "cap": size}
    cols, cur_x, ref_x, slice_rows = _drift_columns(cfg, settings, cur_x, ref_x)
    evidently.check_methods(cols, "configs/monitoring.yaml")
    snapshot, scores = evidently.run_drift(cur_x, ref_x, cols)

    rules = {c.name: c for c in cols}
    feature_drift = [checks.Drift(n, rules[n].method, scores[n], rules[n].threshold) for n in schema.names]
    section["drift"] = [d.as_dict() for d in feature_drift]
    section["drifted_share"] = sum(d.drifted for d in feature_drift) / len(feature_drift)
    alerts += checks.drift_alerts(feature_drift, cfg.drift.max_drifted_share, "")
    score = checks.Drift(SCORE, rules[SCORE].method, scores[SCORE], rules[SCORE].threshold)
    section["score_drift"] = score.as_dict()
    if score.drifted:
        alerts.append(f"prediction drift: score {score.method}={score.score:.3f} >= {score.threshold:g}")

    joined = None
    if STORE_LABEL in frame.columns and (frame[STORE_LABEL] >= 0).any():
        has = (frame[STORE_LABEL] >= 0).to_numpy()  # joined while reading the store
        joined = frame.loc[has]
        section["labelled_rows"] = int(has.sum())
    elif labels is not None:
        y = frame["request_id"].map(labels)
        has = y.notna().to_numpy()
        joined = frame.loc[has].assign(_y=y[has].to_numpy())
        section["labelled_rows"] = int(has.sum())

    section["slices"] = []
    for s in cfg.slices:
        _, n_cur, n_ref = slice_rows[s.name]
        entry: dict = {"slice": s.name, "sample_rows": n_cur, "reference_sample_rows": n_ref}
        found = [
            checks.Drift(n, rules[c].method, scores[c], rules[c].threshold)
            for n in schema.names
            if (c := f"{n} [{s.name}]") in rules
        ]
        if found:
            entry["drift"] = [d.as_dict() for d in found]
            alerts += checks.drift_alerts(found, cfg.drift.max_drifted_share, f"[{s.name}] ")
        else:
            entry["note"] = f"drift not judged: fewer than {cfg.min_rows} rows in the sample"
        if joined is not None:
            code = schema.feature(s.column).categories.index(s.value)  # type: ignore[union-attr]
            part = joined[joined[s.column] == code]
            in_ref = ref_frame[s.column].astype(object) == s.value
            entry["quality"] = _quality(
                part, ref_frame.loc[in_ref, schema.label], cfg, f"[{s.name}] ", alerts, s.roc_auc_min
            )
        section["slices"].append(entry)

    if joined is not None:
        section["quality"] = _quality(joined, ref_frame[schema.label], cfg, "", alerts)

    section["alerts"] = alerts
    section["verdict"] = "alert" if alerts else "healthy"
    return section, snapshot


def _quality(
    part: pd.DataFrame,
    ref_labels: pd.Series,
    cfg: MonitoringConfig,
    where: str,
    alerts: list,
    auc_min: float | None = None,
) -> dict:
    least = cfg.quality.min_labelled_rows
    if len(part) < least:
        return {"rows": len(part), "note": f"not evaluated: {len(part)} labelled rows < {least}"}
    q = checks.quality(
        part["_y"].to_numpy(), part[SCORE].to_numpy(), float(ref_labels.mean()), cfg.quality.ece_bins
    )
    alerts += checks.quality_alerts(q, cfg, where, auc_min)
    return q.as_dict()


def run(settings: Settings, cfg: MonitoringConfig, inputs: Inputs, scorer_factory: ScorerFactory) -> dict:
    """Judge every model version in the window; write DIR; return the summary."""
    schema = settings.features
    since = parse_since(inputs.since)
    labels = read_labels(inputs.labels, schema.label) if inputs.labels else None
    if inputs.store:
        logs, labels_source = _read_store(inputs, settings, since, labels)
        source = inputs.store
    else:
        if inputs.predictions is None or not inputs.predictions.is_file():
            raise MonitorError(f"--predictions {inputs.predictions}: file not found")
        logs = read_logs(inputs.predictions, schema, since, cfg.logs.chunk_lines)
        source, labels_source = str(inputs.predictions), str(inputs.labels) if inputs.labels else None
    summary: dict = {
        "model": settings.model.name,
        "predictions": source,
        "labels": labels_source,
        "since": since.isoformat() if since is not None else None,
        "lines": logs.lines,
        "malformed": logs.malformed,
        "malformed_share": logs.malformed_share,
        "malformed_max_share": cfg.logs.malformed_max_share,
        "malformed_examples": logs.examples,
        "outside_window": logs.outside_window,
        "versions": [],
    }
    if logs.malformed_share > cfg.logs.malformed_max_share:
        raise MonitorError(
            f"{source}: {logs.malformed} of {logs.lines} lines malformed "
            f"({logs.malformed_share:.1%} > logs.malformed_max_share {cfg.logs.malformed_max_share:.1%}); "
            f"first: {'; '.join(logs.examples)}"
        )
    inputs.out.mkdir(parents=True, exist_ok=True)
    snapshots = {}
    for version, frame in logs.versions.items():
        ref = (
            override(settings.root, settings.model.name, version, inputs.reference)
            if inputs.reference
            else from_release(settings.root, settings.model.name, version)
        )
        log.info("model_version %s: %d rows, reference %s", version, len(frame), ref.path)
        ref_frame, ref_rows = load_reference(ref, settings, cfg, scorer_factory)
        section, snapshot = judge_version(version, frame, ref, ref_frame, labels, cfg, settings)
        section["reference"]["rows"] = ref_rows
        summary["versions"].append(section)
        if snapshot is not None:
            snapshots[version] = snapshot
    summary["verdict"] = render.verdict(summary)
    write_outputs(inputs.out, summary, snapshots)
    return summary


def _read_store(
    inputs: Inputs, settings: Settings, since: pd.Timestamp | None, labels: pd.Series | None
) -> tuple[LogRead, str | None]:
    """The window from the store; labels from --labels, else the store's own label partition."""
    from modelops.monitor.store import read_store
    from modelops.store import open_location
    from modelops.store import read_labels as store_labels
    from modelops.store.location import StoreError

    until = parse_since(inputs.until)
    try:
        location = open_location(inputs.store or "")
        source = str(inputs.labels) if inputs.labels else None
        if labels is None:
            table = store_labels(location, settings.model.name)
            if table.num_rows:
                labels = pd.Series(
                    table.column("label").to_numpy(), index=table.column("request_id").to_pylist()
                )
                source = f"{inputs.store} (labels)"
        logs = read_store(
            location,
            settings.model.name,
            settings.features,
            since.to_pydatetime() if since is not None else None,
            until.to_pydatetime() if until is not None else None,
            labels,
        )
    except (StoreError, OSError) as exc:
        raise MonitorError(f"--store {inputs.store}: {exc}") from exc
    return logs, source


def write_outputs(out: Path, summary: dict, snapshots: dict) -> None:
    """summary.json, summary.md and the Evidently report(s) as report.html / report.json."""
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (out / "summary.md").write_text(render.summary_md(summary))
    if len(snapshots) == 1:
        (snap,) = snapshots.values()
        evidently.save(snap, out / "report.html", out / "report.json")
        return
    for version, snap in snapshots.items():
        evidently.save(snap, out / f"report-v{version}.html", out / f"report-v{version}.json")
    (out / "report.html").write_text(render.index_html(sorted(snapshots)))
    combined = {f"v{v}": evidently.as_dict(s) for v, s in snapshots.items()}
    (out / "report.json").write_text(json.dumps({"versions": combined}) + "\n")
