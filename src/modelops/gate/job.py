"""`modelops gate`: score candidate and champion on the frozen evaluation set, decide, record."""

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelops import metrics
from modelops.adapters import dvc, tracking
from modelops.errors import MissingEvidence, ModelOpsError, SchemaViolation
from modelops.gate import checks, latency, report, slices
from modelops.gate.bootstrap import PairedEstimate
from modelops.gate.checks import CheckResult
from modelops.gate.config import GateConfig
from modelops.gate.config import load as load_gate_config
from modelops.release.state import stable_version
from modelops.settings import Settings
from modelops.threads import limit_threads

log = logging.getLogger(__name__)
EXIT = {"pass": 0, "fail": 1, "error": 2}
TAG_VERDICT = "gate.verdict"
TAG_REPORT = "gate.report_sha256"
TAG_CHAMPION = "gate.champion"
ARTIFACT_DIR = "gate"


@dataclass(frozen=True)
class GateResult:
    verdict: str
    report_sha256: str
    out_dir: Path
    report: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return EXIT[self.verdict]


@dataclass(frozen=True)
class _Scored:
    mv: tracking.ModelVersion
    model: Any
    scores: np.ndarray
    size_bytes: int


def resolve_champion(settings: Settings, champion: str) -> int | None:
    """`auto`: the stable release in the overlays (None on a first release); `none`; or a version."""
    if champion == "auto":
        return stable_version(settings.root)
    if champion == "none":
        return None
    if not champion.isdigit():
        raise MissingEvidence(f"--champion {champion!r}: expected a version number, 'auto' or 'none'")
    return int(champion)


def reproduce_command(candidate: int, champion: int | None, out: str) -> str:
    return f"modelops gate --candidate {candidate} --champion {champion or 'none'} --out {out}"


def _links(mv: tracking.ModelVersion, tags: dict[str, str]) -> dict[str, str]:
    """Links to the tracking server and the commit, when they are reachable web pages."""
    links = {}
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith(("http://", "https://")):
        base = uri.rstrip("/")
        links["version"] = f"{base}/#/models/{mv.name}/versions/{mv.version}"
        experiment = tracking.run_experiment_id(mv.run_id)
        if experiment:
            links["run"] = f"{base}/#/experiments/{experiment}/runs/{mv.run_id}"
    server, repo, sha = (
        os.environ.get("GITHUB_SERVER_URL"),
        os.environ.get("GITHUB_REPOSITORY"),
        tags.get("git_sha"),
    )
    if server and repo and sha and sha != "unknown":
        links["commit"] = f"{server.rstrip('/')}/{repo}/commit/{sha}"
    return links


def _load_and_score(settings: Settings, mv: tracking.ModelVersion, X: Any, tmp: Path) -> _Scored:
    """Download, verify the recorded digest (a missing one fails), deserialise and score."""
    local = tracking.download_model(mv, tmp / f"v{mv.version}")
    from modelops import tags
    from modelops.digest import verify_directory

    verify_directory(local, mv.tags.get(tags.MODEL_SHA256), what=mv.uri, source="its model_sha256 tag")
    model = tracking.load_sklearn(local, settings.model.skops_trusted_types)
    size = sum(p.stat().st_size for p in local.rglob("*") if p.is_file())
    with limit_threads(settings.train.threads):
        scores = np.asarray(model.predict_proba(X)[:, 1], dtype=np.float64)
    return _Scored(mv, model, scores, size)


def evaluate(
    settings: Settings,
    config: GateConfig,
    candidate: _Scored,
    champion: _Scored | None,
    frame: Any,
    y: np.ndarray,
    eval_md5: str,
    run_metrics: dict[str, float],
) -> tuple[list[CheckResult], dict[str, PairedEstimate], dict[str, float]]:
    """Every configured check, in config order: absolute, change, slices, latency, artifact, evidence."""
    # One fused paired bootstrap: the aggregate metrics and every slice from the same resamples.
    estimates, slice_results = slices.evaluate_with_aggregate(
        frame,
        y,
        candidate.scores,
        None if champion is None else champion.scores,
        config.slices,
        config.bootstrap,
        metrics=config.bootstrap_metrics,
        ece_bins=config.calibration_bins,
    )
    values: dict[str, Any] = dict(run_metrics) | {k: e.candidate for k, e in estimates.items()}
    intervals = {k: e.candidate_interval for k, e in estimates.items()}
    first = champion is None
    results = [checks.absolute(rule, values, intervals) for rule in config.absolute]
    results += [checks.change(rule, estimates, first) for rule in config.change]
    results += slice_results
    lat = config.latency
    timings: dict[str, float] = {}
    if lat.single_row_p95_ms is not None or lat.batch_1000_p95_ms is not None:
        with limit_threads(settings.train.threads):
            timings = latency.measure(candidate.model, frame[settings.features.names], lat.repeats)
        for key, budget in (
            ("single_row_p95_ms", lat.single_row_p95_ms),
            ("batch_1000_p95_ms", lat.batch_1000_p95_ms),
        ):
            if budget is not None:
                results.append(
                    checks.bounded(f"{key} <= {budget:g}", "latency", key, timings.get(key), None, budget)
                )
    if config.artifact.max_size_mb is not None:
        results.append(
            checks.bounded(
                f"artifact_mb <= {config.artifact.max_size_mb:g}",
                "artifact",
                "artifact_mb",
                candidate.size_bytes / 1e6,
                None,
                config.artifact.max_size_mb,
            )
        )
    results += checks.evidence(config.evidence, candidate.mv.tags, eval_md5)
    return results, estimates, timings


def _facts(s: _Scored) -> dict[str, Any]:
    return report.model_facts(s.mv.name, s.mv.version, s.mv.run_id, s.mv.tags, _links(s.mv, s.mv.tags))


def run_gate(settings: Settings, candidate: int, champion: str, out: Path, out_arg: str) -> GateResult:
    """Evaluate, write DIR/gate.json and DIR/gate.md, tag the candidate version and log the report."""
    config = load_gate_config(settings.config_dir)
    tracking.configure(settings.root)
    name = settings.model.name
    cand_mv = tracking.get_version(name, candidate)
    champ_version: int | None = None
    try:
        champ_version = resolve_champion(settings, champion)
        champ_mv = None if champ_version is None else tracking.get_version(name, champ_version)
        eval_path = settings.path(settings.data.paths.eval)
        try:
            from modelops.data.ingest import read_table

            frame = read_table(eval_path)
        except SchemaViolation as exc:
            raise MissingEvidence(f"frozen evaluation set: {exc}") from exc
        absent = sorted({*settings.features.names, settings.features.label} - set(frame.columns))
        if absent:
            raise MissingEvidence(f"{eval_path}: evaluation set lacks columns {absent}")
        eval_md5 = dvc.md5(eval_path)
        X = frame[settings.features.names]
        y = frame[settings.features.label].to_numpy(dtype=np.int64)
        with tempfile.TemporaryDirectory() as tmp:
            cand = _load_and_score(settings, cand_mv, X, Path(tmp))
            champ = None if champ_mv is None else _load_and_score(settings, champ_mv, X, Path(tmp))
            run_metrics = tracking.run_data(cand_mv.run_id)[1]
            results, estimates, timings = evaluate(
                settings, config, cand, champ, frame, y, eval_md5, run_metrics
            )
        verdict = checks.verdict(results)
        bins = config.calibration_bins
        doc = report.build(
            verdict=verdict,
            candidate=_facts(cand),
            champion=None if champ is None else _facts(champ),
            eval_set={
                "path": str(settings.data.paths.eval),
                "md5": eval_md5,
                "rows": len(y),
                "positive_rate": float(y.mean()) if len(y) else None,
            },
            bootstrap={
                "method": "paired Poisson bootstrap, percentile interval",
                "resamples": config.bootstrap.resamples,
                "confidence": config.bootstrap.confidence,
                "seed": config.bootstrap.seed,
            },
            estimates=estimates,
            checks=results,
            reliability={
                "candidate": metrics.reliability_table(y, cand.scores, bins),
                **({"champion": metrics.reliability_table(y, champ.scores, bins)} if champ else {}),
            },
            latency=timings,
            artifact_bytes=cand.size_bytes,
            reproduce=reproduce_command(candidate, champ_version, out_arg),
        )
    except ModelOpsError as exc:
        doc = report.error_report(
            report.model_facts(name, cand_mv.version, cand_mv.run_id, cand_mv.tags),
            str(exc),
            reproduce_command(candidate, champ_version, out_arg),
        )
        _record(cand_mv, doc, out, "none" if champ_version is None else str(champ_version))
        raise
    result = _record(cand_mv, doc, out, "none" if champ_version is None else str(champ_version))
    log.info("gate %s for %s (%s)", result.verdict, cand_mv.uri, doc["summary"])
    return result


def _record(mv: tracking.ModelVersion, doc: dict[str, Any], out: Path, champion: str) -> GateResult:
    """Write gate.json/gate.md, then tag the version and log gate.json to its run."""
    out.mkdir(parents=True, exist_ok=True)
    blob = report.to_json(_clean(doc))
    (out / "gate.json").write_bytes(blob)
    (out / "gate.md").write_text(report.render_markdown(_clean(doc)))
    digest = hashlib.sha256(blob).hexdigest()
    tracking.set_version_tags(
        mv.name, mv.version, {TAG_VERDICT: doc["verdict"], TAG_REPORT: digest, TAG_CHAMPION: champion}
    )
    tracking.log_artifact(mv.run_id, out / "gate.json", ARTIFACT_DIR)
    return GateResult(doc["verdict"], digest, out, doc)


def _clean(value: Any) -> Any:
    """NaN/inf become None so gate.json stays strict JSON (missing evidence is already explicit)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        return _clean(value.item())
    return value
