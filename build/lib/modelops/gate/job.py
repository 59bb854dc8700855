"""`modelops gate`: score candidate and champion on the pinned evaluation set, decide, record.

With `rules_from` (in CI: the PR's base branch, checked out apart from the PR head) every
input that decides the verdict comes from that trusted root: gates.yaml, features.yaml, the
evaluation-set pin and the evaluation file, the serving thread count and the stable release
(the champion). The project root's copies of the rule files are only compared with them.
"""

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from modelops import metrics, tags
from modelops.adapters import dvc, tracking
from modelops.data.evalset import PIN_FILE, load_pin, pin_path, verified_file
from modelops.errors import MissingEvidence, ModelOpsError, SchemaViolation
from modelops.gate import checks, latency, report, rules, slices
from modelops.gate.bootstrap import PairedEstimate
from modelops.gate.checks import CheckResult
from modelops.gate.config import GateConfig
from modelops.gate.config import load as load_gate_config
from modelops.gate.schema import GateReport, LatencyReport, Rules
from modelops.release.state import stable_version
from modelops.settings import Settings, load_settings
from modelops.threads import limit_threads

log = logging.getLogger(__name__)
EXIT = {"pass": 0, "fail": 1, "error": 2}
ARTIFACT_DIR = str(Path(tags.GATE_ARTIFACT).parent)


@dataclass(frozen=True)
class GateResult:
    verdict: str
    report_sha256: str
    out_dir: Path
    report: GateReport

    @property
    def exit_code(self) -> int:
        return EXIT[self.verdict]


@dataclass(frozen=True)
class _Scored:
    mv: tracking.ModelVersion
    model: Any
    scores: np.ndarray
    size_bytes: int


@dataclass(frozen=True)
class EvalFile:
    """The evaluation file the gate scores, checked against the trusted pin."""

    path: Path
    display: str
    md5: str
    pinned_md5: str | None


def resolve_champion(settings: Settings, champion: str) -> int | None:
    """`auto`: the stable release in the overlays (None on a first release); `none`; or a version."""
    if champion == "auto":
        return stable_version(settings.root)
    if champion == "none":
        return None
    if not champion.isdigit():
        raise MissingEvidence(f"--champion {champion!r}: expected a version number, 'auto' or 'none'")
    return int(champion)


def reproduce_command(candidate: int, champion: int | None, out: str, rules_from: str | None = None) -> str:
    trusted = f" --rules-from {rules_from}" if rules_from else ""
    return f"modelops gate --candidate {candidate} --champion {champion or 'none'}{trusted} --out {out}"


def trusted_settings(settings: Settings, rules_from: Path | None) -> Settings:
    """The settings that judge: the trusted root's own configs/ (not MODELOPS_CONFIG_DIR) or the project's."""
    if rules_from is None:
        return settings
    root = Path(rules_from).resolve()
    return load_settings(root, config_dir=root / "configs")


def pinned_eval_file(trusted: Settings) -> tuple[EvalFile, list[str]]:
    """The file the trusted pin names, md5-checked; fails closed on a mismatch, naming both."""
    if not pin_path(trusted.config_dir).is_file():
        path = trusted.path(trusted.data.paths.eval)
        warning = (
            f"no evaluation-set pin (configs/{PIN_FILE}): scored {trusted.data.paths.eval} "
            "unpinned; create the pin with `modelops data eval-set create`"
        )
        return EvalFile(path, str(trusted.data.paths.eval), _md5(path), None), [warning]
    pin = load_pin(trusted.config_dir)
    path, actual = verified_file(pin, trusted.root)
    return EvalFile(path, str(pin.path), actual, pin.md5), []


def _md5(path: Path) -> str:
    if not path.is_file():
        raise MissingEvidence(f"{path}: evaluation set not found (run `dvc pull`)")
    return dvc.md5(path)


def _links(registry: tracking.Registry, mv: tracking.ModelVersion, tags_: dict[str, str]) -> dict[str, str]:
    """Links to the tracking server and the commit, when they are reachable web pages."""
    links = {}
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith(("http://", "https://")):
        base = uri.rstrip("/")
        links["version"] = f"{base}/#/models/{mv.name}/versions/{mv.version}"
        experiment = registry.run_experiment_id(mv.run_id)
        if experiment:
            links["run"] = f"{base}/#/experiments/{experiment}/runs/{mv.run_id}"
    server, repo, sha = (
        os.environ.get("GITHUB_SERVER_URL"),
        os.environ.get("GITHUB_REPOSITORY"),
        tags_.get(tags.GIT_SHA),
    )
    if server and repo and sha and sha != "unknown":
        links["commit"] = f"{server.rstrip('/')}/{repo}/commit/{sha}"
    return links


def _load_and_score(
    settings: Settings, registry: tracking.Registry, mv: tracking.ModelVersion, X: Any, tmp: Path
) -> _Scored:
    """Download, verify the recorded digest (a missing one fails), deserialise and score."""
    local = registry.download_model(mv, tmp / f"v{mv.version}")
    from modelops.digest import verify_directory

    verify_directory(local, mv.tags.get(tags.MODEL_SHA256), what=mv.uri, source="its model_sha256 tag")
    model = tracking.load_sklearn(local, settings.model.skops_trusted_types)
    size = sum(p.stat().st_size for p in local.rglob("*") if p.is_file())
    with limit_threads(settings.train.threads):
        scores = np.asarray(model.predict_proba(X)[:, 1], dtype=np.float64)
    return _Scored(mv, model, scores, size)


def judge_latency(
    config: GateConfig, threads: int, candidate: Any, champion: Any | None, X: Any
) -> tuple[list[CheckResult], LatencyReport | None]:
    """Time both models interleaved with the serving thread count; repeat while noise leaves it open."""
    lat = config.latency
    budgets = {"single_row": lat.single_row_p95_ms, "batch_1000": lat.batch_1000_p95_ms}
    if all(b is None for b in budgets.values()) and (lat.max_ratio is None or champion is None):
        return [], None
    if len(X) == 0:
        return [checks.bounded("latency", "latency", "latency", None)], None
    attempt = 0
    while True:
        attempt += 1
        with limit_threads(threads):
            timings = latency.measure(candidate, champion, X, lat.rounds, lat.calls_per_round)
        decisions = [
            d
            for w in latency.WORKLOADS
            for d in latency.judge_workload(
                w,
                timings.candidate[w],
                None if timings.champion is None else timings.champion[w],
                budgets[w],
                lat.max_ratio,
                config.bootstrap.confidence,
                config.bootstrap.seed,
            )
        ]
        champ_p95 = None if timings.champion is None else latency.round_p95_ms(timings.champion["single_row"])
        overload = latency.overloaded(
            timings.calibration, champ_p95, lat.max_calibration_spread, lat.max_champion_spread
        )
        if attempt >= lat.attempts or not latency.needs_retry(decisions):
            break
        log.info("latency attempt %d unsettled (%s); measuring again", attempt, overload or "interval open")
    decisions = latency.settle(decisions, overload)
    return report.latency_checks(decisions), report.latency_report(timings, threads, attempt, overload)


def evaluate(
    settings: Settings,
    config: GateConfig,
    candidate: _Scored,
    champion: _Scored | None,
    frame: Any,
    y: np.ndarray,
    eval_md5: str,
    run_metrics: dict[str, float],
    threads: int = 1,
) -> tuple[list[CheckResult], dict[str, PairedEstimate], LatencyReport | None]:
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
    lat_checks, lat_report = judge_latency(
        config,
        threads,
        candidate.model,
        None if champion is None else champion.model,
        frame[settings.features.names],
    )
    results += lat_checks
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
    return results, estimates, lat_report


def _facts(registry: tracking.Registry, s: _Scored) -> dict[str, Any]:
    return report.model_facts(
        s.mv.name, s.mv.version, s.mv.run_id, s.mv.tags, _links(registry, s.mv, s.mv.tags)
    )


def _serve_threads(trusted: Settings) -> int:
    from modelops.serve.config import load as load_serve_config

    return load_serve_config(trusted.config_dir).threads


def run_gate(
    settings: Settings,
    candidate: int,
    champion: str,
    out: Path,
    out_arg: str,
    rules_from: Path | None = None,
    rules_from_arg: str | None = None,
    registry: tracking.Registry | None = None,
) -> GateResult:
    """Evaluate, write DIR/gate.json and DIR/gate.md, tag the candidate version and log the report.

    `settings` is the project being judged (the PR head in CI); `rules_from` the trusted root;
    `registry` where the versions live (default: the project's MLflow store or MLFLOW_TRACKING_URI).
    """
    trusted = trusted_settings(settings, rules_from)
    config = load_gate_config(trusted.config_dir)
    # The registry is where the candidate lives, not a rule: the project's (or MLFLOW_TRACKING_URI).
    registry = registry or tracking.registry_for(settings.root)
    name = trusted.model.name
    cand_mv = registry.get_version(name, candidate)
    champ_version: int | None = None
    rule_changes: list[rules.RuleChange] = []
    reproduce = reproduce_command(candidate, None, out_arg, rules_from_arg)
    try:
        trusted_rules = rules.read_rule_files(trusted.config_dir)
        if rules_from is not None:
            rule_changes = rules.diff_rules(trusted_rules, rules.read_rule_files(settings.config_dir))
        champ_version = resolve_champion(trusted, champion)
        reproduce = reproduce_command(candidate, champ_version, out_arg, rules_from_arg)
        champ_mv = None if champ_version is None else registry.get_version(name, champ_version)
        evalfile, warnings = pinned_eval_file(trusted)
        try:
            from modelops.data.ingest import read_table

            frame = read_table(evalfile.path)
        except SchemaViolation as exc:
            raise MissingEvidence(f"frozen evaluation set: {exc}") from exc
        features = trusted.features
        absent = sorted({*features.names, features.label} - set(frame.columns))
        if absent:
            raise MissingEvidence(f"{evalfile.path}: evaluation set lacks columns {absent}")
        X = frame[features.names]
        y = frame[features.label].to_numpy(dtype=np.int64)
        with tempfile.TemporaryDirectory() as tmp:
            cand = _load_and_score(trusted, registry, cand_mv, X, Path(tmp))
            champ = None if champ_mv is None else _load_and_score(trusted, registry, champ_mv, X, Path(tmp))
            run_metrics = registry.run_data(cand_mv.run_id).metrics
            results, estimates, lat_report = evaluate(
                trusted, config, cand, champ, frame, y, evalfile.md5, run_metrics, _serve_threads(trusted)
            )
        verdict = checks.verdict(results)
        bins = config.calibration_bins
        doc = report.build(
            verdict=verdict,
            candidate=_facts(registry, cand),
            champion=None if champ is None else _facts(registry, champ),
            rules=Rules(
                source="trusted" if rules_from is not None else "local",
                gates_sha256=rules.sha256_bytes(trusted_rules[rules.GATES_FILE] or b""),
                features_sha256=rules.sha256_bytes(trusted_rules[rules.FEATURES_FILE] or b""),
                eval_set_md5=evalfile.md5,
            ),
            rule_changes=rule_changes,
            warnings=[*warnings, *slices.eval_set_warnings(len(y), config.slices)],
            eval_set={
                "path": evalfile.display,
                "md5": evalfile.md5,
                "pinned_md5": evalfile.pinned_md5,
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
            latency=lat_report,
            artifact_bytes=cand.size_bytes,
            reproduce=reproduce,
        )
    except ModelOpsError as exc:
        doc = report.error_report(
            report.model_facts(name, cand_mv.version, cand_mv.run_id, cand_mv.tags),
            str(exc),
            reproduce,
            rule_changes,
        )
        _record(registry, cand_mv, doc, out, "none" if champ_version is None else str(champ_version))
        raise
    result = _record(registry, cand_mv, doc, out, "none" if champ_version is None else str(champ_version))
    log.info("gate %s for %s (%s)", result.verdict, cand_mv.uri, doc.summary)
    return result


def record_tags(doc: GateReport, digest: str, champion: str, at: datetime) -> dict[str, str]:
    """The registry tags of a gate run: verdict, report digest, champion, the rules that judged, when."""
    out = {
        tags.GATE_VERDICT: doc.verdict,
        tags.GATE_REPORT_SHA256: digest,
        tags.GATE_CHAMPION: champion,
        tags.GATE_AT: at.astimezone(UTC).isoformat(timespec="seconds"),
    }
    if doc.rules is not None:
        out |= {
            tags.GATE_RULES_SHA256: doc.rules.gates_sha256,
            tags.GATE_FEATURES_SHA256: doc.rules.features_sha256,
            tags.GATE_EVAL_MD5: doc.rules.eval_set_md5,
        }
    return out


def _record(
    registry: tracking.Registry, mv: tracking.ModelVersion, doc: GateReport, out: Path, champion: str
) -> GateResult:
    """Write gate.json/gate.md, then tag the version and log gate.json to its run."""
    out.mkdir(parents=True, exist_ok=True)
    blob = doc.to_json()
    (out / "gate.json").write_bytes(blob)
    (out / "gate.md").write_text(report.render_markdown(doc))
    digest = hashlib.sha256(blob).hexdigest()
    registry.set_version_tags(mv.name, mv.version, record_tags(doc, digest, champion, datetime.now(UTC)))
    registry.log_artifact(mv.run_id, out / "gate.json", ARTIFACT_DIR)
    return GateResult(doc.verdict, digest, out, doc)
