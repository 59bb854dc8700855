"""`modelops score`: gather facts, run the data gate, score with an engine, commit the output.

Order matters and is the point of the design:
1. the input's columns and types are checked (exit 2 on bad input, nothing written);
2. the model is fetched and its sha256 checked before it is deserialised (exit 2);
3. pass 1 reads the input once to count it and draw the gate's sample;
4. the data gate decides pass / fail / review before any score exists;
5. pass 2 scores into a staging directory, which is moved into place, and the manifest
   is written last (a crash leaves no run that looks complete).
"""

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelops.adapters.tracking import Registry
from modelops.errors import ConfigError, MissingEvidence
from modelops.score import gate as data_gate
from modelops.score import output, source
from modelops.score.config import ScoreConfig
from modelops.score.engine_pandas import Job
from modelops.serve.reference import ModelRef
from modelops.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    input: str
    out: str
    release: Path | None = None
    track: str | None = None
    engine: str | None = None
    since: str | None = None
    report: Path | None = None
    store: str | None = None  # prediction store URI (PREDICTION_STORE); published runs only


@dataclass(frozen=True)
class Result:
    verdict: str  # pass | fail | review
    exit_code: int
    manifest: str | None
    location: str | None
    gate: data_gate.GateOutcome
    issue: str | None = None
    stored_rows: int | None = None


def reference(root: Path, release: Path | None, track: str | None) -> ModelRef:
    """The version to score with: --release, else the track's overlay (default: stable)."""
    from modelops.release.record import path_of
    from modelops.release.state import MODEL_ENV, TRACK_OVERLAYS, read_model_env
    from modelops.serve.reference import from_release, make_ref, resolve

    if release is not None or track in (None, "stable"):
        # The server's own resolution, minus MODEL_URI from the environment: a batch job
        # scores with what git says the track serves.
        return resolve(root, release, {})
    env = read_model_env(root, track)
    if not env.get("MODEL_URI"):
        raise ConfigError(f"track {track!r}: {TRACK_OVERLAYS[track]}/{MODEL_ENV} names no model version")
    ref = make_ref(
        env["MODEL_URI"],
        env.get("MODEL_VERSION"),
        env.get("MODEL_SHA256", ""),
        f"{TRACK_OVERLAYS[track]}/{MODEL_ENV}",
    )
    release_file = path_of(root, ref.name, ref.version) if ref.version else None
    return from_release(release_file) if release_file and release_file.is_file() else ref


def release_lineage(ref: ModelRef) -> dict[str, Any]:
    """The release record's lineage block (empty when the version has no release file)."""
    if not ref.release_file:
        return {"git_sha": ref.git_sha, "data_md5": ref.data_md5}
    from modelops.release.record import read_file

    return read_file(Path(ref.release_file)).lineage.model_dump(mode="json")


def load_baseline(settings: Settings, ref: ModelRef, tmp: Path, registry: Registry) -> tuple[Any, str]:
    """The served version's training profile (logged with its run), and where it came from."""
    from modelops.data.baseline import load_profile
    from modelops.tags import BASELINE_PROFILE_ARTIFACT

    # Only the version's own profile: the committed one describes the *latest* accepted
    # snapshot, which may be newer than what the served version was trained on.
    if ref.run_id:
        path = registry.download_run_artifact(ref.run_id, BASELINE_PROFILE_ARTIFACT, tmp / "baseline")
        if path is not None:
            return load_profile(path), f"training profile of {ref.uri} (run {ref.run_id})"
    raise MissingEvidence(
        f"{ref.uri}: its training run {ref.run_id or '?'} logged no baseline profile "
        f"({BASELINE_PROFILE_ARTIFACT}); the data gate cannot judge the input "
        "(retrain the version to log one)"
    )


def tolerances_for(settings: Settings, cfg: ScoreConfig) -> Any:
    """score.yaml's data_gate.tolerances when set, else configs/baseline.yaml (validation's)."""
    from modelops.data.baseline import BaselineTolerances, load_tolerances
    from modelops.settings import validate_model

    if cfg.data_gate.tolerances is None:
        return load_tolerances(settings.config_dir, settings.features)
    source = f"{settings.config_dir / 'score.yaml'}: data_gate.tolerances"
    tolerances = validate_model(BaselineTolerances, cfg.data_gate.tolerances, source)
    tolerances.check_features(settings.features, source)
    return tolerances


def check_gate(
    sample: Any, profile: Any, tolerances: Any, cfg: ScoreConfig, baseline: str, rows: int, n: int
) -> data_gate.GateOutcome:
    from modelops.data.baseline import check_baseline

    report = check_baseline(sample, profile, tolerances)
    return data_gate.GateOutcome(
        verdict=data_gate.decide(report.passed, cfg.data_gate.on_violation),
        on_violation=cfg.data_gate.on_violation,
        baseline=baseline,
        sample_rows=n,
        input_rows=rows,
        violations=tuple(data_gate.violation_dict(v) for v in report.violations),
    )


def _since_filter(snapshot: source.Snapshot, settings: Settings, since: str | None) -> tuple[Any, Any]:
    """(pyarrow filter expression, UTC timestamp) for --since, or (None, None)."""
    if since is None:
        return None, None
    import pyarrow as pa
    import pyarrow.dataset as ds

    from modelops.monitor.job import parse_since

    column = settings.features.require("timestamp_column", "--since filters the input on it")
    if column not in snapshot.dataset.schema.names:
        raise source.InputError(f"--since needs the timestamp column {column!r}, which the input lacks")
    ts: Any = parse_since(since)  # not None: since is set
    typ = snapshot.dataset.schema.field(column).type
    if not pa.types.is_timestamp(typ):
        raise source.InputError(f"input {snapshot.uri}: column {column!r} is {typ}, not a timestamp")
    value = ts if typ.tz else ts.tz_convert("UTC").tz_localize(None)
    return ds.field(column) >= pa.scalar(value.to_pydatetime(), type=typ), ts


def scorer_options(serve: Any) -> dict[str, Any]:
    """The server's fast-path settings (configs/serve.yaml), so batch scores match served ones."""
    return {
        "fast": serve.fast_path.enabled,
        "tolerance": serve.fast_path.parity_tolerance,
        "warmup_rows": serve.warmup_rows,
    }


def run(
    settings: Settings,
    cfg: ScoreConfig,
    request: Request,
    *,
    label_threshold: float,
    scorer_options: dict[str, Any],
    open_issue: Callable[[str, str, tuple[str, ...]], str] | None = None,
) -> Result:
    from modelops.adapters import tracking
    from modelops.score import frame
    from modelops.serve.reference import fetch
    from modelops.store.location import url_to_fs

    started = time.perf_counter()
    now = datetime.now(UTC)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    engine = request.engine or cfg.engine
    features = settings.features

    source.id_column(features)  # refused up front, in one line, without an id column
    ref = reference(settings.root, request.release, request.track)
    snapshot = source.open_snapshot(request.input, features)
    source.check_columns(snapshot, features)
    row_filter, since_ts = _since_filter(snapshot, settings, request.since)
    if row_filter is not None:
        snapshot = replace(snapshot, dataset=snapshot.dataset.filter(row_filter))

    registry = tracking.registry_for(settings.root)
    with tempfile.TemporaryDirectory(prefix="modelops-score-") as tmp:
        ref, model_dir = fetch(ref, Path(tmp) / "models", registry)  # sha256 checked before deserialising
        pipeline = tracking.load_sklearn(model_dir, settings.model.skops_trusted_types)
        threads = 1 if engine == "spark" else (os.cpu_count() or 1)
        scorer = frame.load(pipeline, features, threads=threads, **scorer_options)
        profile, baseline = load_baseline(settings, ref, Path(tmp), registry)

    tolerances = tolerances_for(settings, cfg)
    scan = source.scan(snapshot, features, cfg.chunk_rows, cfg.data_gate.sample_rows, cfg.data_gate.seed)
    outcome = check_gate(
        source.to_pandas(scan.sample, features),
        profile,
        tolerances,
        cfg,
        baseline,
        scan.rows,
        scan.sample.num_rows,
    )
    _write_report(request.report, outcome, request, ref, run_id, None)
    if outcome.verdict == "fail":
        log.error("%s", data_gate.summary_line(outcome))
        return Result("fail", 1, None, None, outcome)

    fs, out_base = url_to_fs(request.out)
    base = out_base
    if outcome.verdict == "review":
        q = cfg.output.quarantine
        if "://" in q:
            fs, base = url_to_fs(q)
        else:
            base = q if q.startswith("/") else output.join(out_base, q)
    run_out = output.RunOutput(fs, base, run_id, now.strftime("%Y-%m-%d"))
    job = Job(scorer, label_threshold, ref.version, now, run_id, cfg.output.prediction_log)
    run_out.prepare()
    try:
        if engine == "spark":
            from modelops.score import engine_spark

            rows = engine_spark.score(snapshot, features, job, run_out, cfg.spark, since_ts)
        else:
            rows = _score_pandas(snapshot, features, job, run_out, cfg.chunk_rows)
        if rows != scan.rows:
            raise source.InputError(
                f"input {snapshot.uri} changed while scoring: {scan.rows} rows gated, {rows} scored"
            )
        if outcome.verdict == "review":
            body = data_gate.render(
                outcome,
                input_uri=request.input,
                model=ref.uri,
                run_id=run_id,
                location=fs.unstrip_protocol(run_out.final),
            )
            fs.pipe_file(run_out.staged("_gate.md"), body.encode())
        manifest = build_manifest(
            run_id=run_id,
            status="published" if outcome.verdict == "pass" else "quarantined",
            engine=engine,
            snapshot=snapshot,
            since=request.since,
            rows_in=scan.rows,
            rows_out=rows,
            parts=run_out.parts(),
            ref=ref,
            scorer=scorer.describe(),
            threshold=label_threshold,
            gate=outcome,
            started=now,
            wall=time.perf_counter() - started,
            prediction_log=cfg.output.prediction_log,
            location=fs.unstrip_protocol(run_out.final),
        )
        manifest_path = run_out.commit(manifest)
    except BaseException:
        run_out.abort()
        raise
    location = fs.unstrip_protocol(run_out.final)
    if outcome.verdict == "pass":
        log.info("scored %d rows with %s (%s engine) -> %s", rows, ref.uri, engine, location)
        stored = _publish(fs, run_out, request.store, settings, cfg, location)
        return Result("pass", 0, fs.unstrip_protocol(manifest_path), location, outcome, stored_rows=stored)
    log.error("%s", data_gate.summary_line(outcome))
    issue = None
    if open_issue is not None:
        body = data_gate.render(
            outcome, input_uri=request.input, model=ref.uri, run_id=run_id, location=location
        )
        title = f"Batch scoring quarantined: {outcome.violations[0]['column']} left its baseline"
        issue = open_issue(title, body, cfg.data_gate.issue_labels)
    return Result("review", 1, fs.unstrip_protocol(manifest_path), location, outcome, issue)


def _publish(
    fs: Any, run_out: output.RunOutput, store: str | None, settings: Settings, cfg: ScoreConfig, location: str
) -> int | None:
    """Send a published run's predictions to the store; a failure names the run that did publish."""
    if not store:
        return None
    if not cfg.output.prediction_log:
        raise ConfigError("a prediction store needs output.prediction_log: true in configs/score.yaml")
    from modelops.score.store import publish

    try:
        stored = publish(
            fs,
            output.join(run_out.final, output.PREDICTION_LOG),
            store,
            settings.features,
            settings.model.name,
        )
    except Exception as exc:
        raise MissingEvidence(
            f"scores published at {location}, but writing them to the prediction store {store} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    log.info("wrote %d predictions to the store %s", stored, store)
    return stored


def _score_pandas(
    snapshot: source.Snapshot, features: Any, job: Job, run_out: output.RunOutput, rows: int
) -> int:
    from modelops.score.engine_pandas import score_batches

    return score_batches(source.batches(snapshot, features, rows), job, run_out)


def _write_report(
    report: Path | None,
    outcome: data_gate.GateOutcome,
    request: Request,
    ref: ModelRef,
    run_id: str,
    location: str | None,
) -> None:
    if report is None:
        return
    import json

    report.mkdir(parents=True, exist_ok=True)
    (report / "gate.json").write_text(json.dumps(outcome.as_dict(), indent=2, default=str) + "\n")
    (report / "gate.md").write_text(
        data_gate.render(outcome, input_uri=request.input, model=ref.uri, run_id=run_id, location=location)
    )


def build_manifest(
    *,
    run_id: str,
    status: str,
    engine: str,
    snapshot: source.Snapshot,
    since: str | None,
    rows_in: int,
    rows_out: int,
    parts: list[str],
    ref: ModelRef,
    scorer: dict[str, Any],
    threshold: float,
    gate: data_gate.GateOutcome,
    started: datetime,
    wall: float,
    prediction_log: bool,
    location: str,
) -> dict[str, Any]:
    """The run's manifest (pure): what was scored, with what, by which engine, and how long it took."""
    return {
        "run_id": run_id,
        "status": status,
        "location": location,
        "engine": engine,
        "scored_at": started.isoformat(),
        "wall_seconds": round(wall, 3),
        "input": {
            "uri": snapshot.uri,
            "format": snapshot.format,
            "md5": snapshot.md5,
            "files": snapshot.listing(),
            "since": since,
            "rows": rows_in,
        },
        "output": {
            "rows": rows_out,
            "files": parts,
            "prediction_log": output.PREDICTION_LOG if prediction_log else None,
            "label_threshold": threshold,
        },
        "model": {
            "name": ref.name,
            "version": ref.version,
            "uri": ref.uri,
            "sha256": ref.sha256,
            "run_id": ref.run_id,
            "release_file": ref.release_file or None,
            "source": ref.source,
        },
        "lineage": release_lineage(ref),
        "scorer": scorer,
        "data_gate": gate.as_dict(),
    }
