"""gate.json (every check, value, interval and the lineage of both models) and gate.md (the PR comment).

`build` assembles the typed `GateReport`; `render_markdown` is a pure function of it, so the
comment a reviewer reads says exactly what the recorded report says.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from modelops import tags
from modelops.gate import latency as lat
from modelops.gate.bootstrap import HIGHER_IS_BETTER, PairedEstimate
from modelops.gate.checks import FIRST_RELEASE, CheckResult
from modelops.gate.rules import ROTATION, RuleChange
from modelops.gate.schema import (
    SCHEMA_VERSION,
    GateReport,
    LatencyReport,
    LatencyTiming,
    Rules,
)
from modelops.gate.schema import RuleChange as RuleChangeModel

LINEAGE_KEYS = (*tags.LINEAGE, tags.MODEL_SHA256)
_ICON = {"pass": "✅", "fail": "❌", "missing": "❌", "skipped": "➖", "warn": "⚠️", "error": "⚠️"}
__all__ = ["SCHEMA_VERSION", "build", "error_report", "render_markdown"]


def model_facts(
    name: str, version: int, run_id: str, tags_: Mapping[str, str], links: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "uri": f"models:/{name}/{version}",
        "run_id": run_id,
        "lineage": {k: tags_.get(k) for k in LINEAGE_KEYS},
        "links": dict(links or {}),
    }


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def clean(value: Any) -> Any:
    """NaN/inf become None so gate.json stays strict JSON (missing evidence is already explicit)."""
    if isinstance(value, np.generic):
        return clean(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def metric_rows(estimates: Mapping[str, PairedEstimate]) -> list[dict[str, Any]]:
    rows = []
    for metric, e in estimates.items():
        ci = e.candidate_interval
        di = e.delta_interval
        rows.append(
            {
                "metric": metric,
                "higher_is_better": HIGHER_IS_BETTER[metric],
                "candidate": _num(e.candidate),
                "candidate_interval": [ci.low, ci.high] if ci.finite else None,
                "champion": _num(e.champion),
                "delta": _num(e.delta),
                "delta_interval": [di.low, di.high] if di is not None and di.finite else None,
            }
        )
    return rows


def latency_checks(decisions: Sequence[lat.Decision]) -> list[CheckResult]:
    """Latency decisions as checks: an inconclusive one is a warning, never a failure."""
    status = {"pass": "pass", "fail": "fail", "inconclusive": "warn"}
    return [
        CheckResult(
            d.name,
            "latency",
            status[d.outcome],  # type: ignore[arg-type]
            _num(d.value),
            f"<= {d.limit:g}",
            d.message if d.outcome != "inconclusive" else f"inconclusive: {d.message}",
            metric=d.name.split(" ")[0],
            interval=d.interval,
        )
        for d in decisions
    ]


def latency_report(timings: lat.Timings, threads: int, attempts: int, overload: str | None) -> LatencyReport:
    rows = []
    for workload in lat.WORKLOADS:
        cand = lat.round_p95_ms(timings.candidate[workload])
        champ = None if timings.champion is None else lat.round_p95_ms(timings.champion[workload])
        p95, p95_ci = lat.median_interval(cand, 0.95)
        ratio = ratio_ci = None
        if champ is not None:
            ratio, ratio_ci = lat.median_interval(cand / champ, 0.95, seed=1)
        rows.append(
            LatencyTiming(
                workload=workload,
                candidate_p95_ms=p95,
                champion_p95_ms=None if champ is None else float(np.median(champ)),
                ratio=ratio,
                ratio_interval=ratio_ci,
                candidate_p95_interval_ms=p95_ci,
                candidate_spread=clean(lat.spread(cand)),
                champion_spread=None if champ is None else clean(lat.spread(champ)),
            )
        )
    return LatencyReport(
        threads=threads,
        rounds=len(timings.calibration),
        attempts=attempts,
        overloaded=overload is not None,
        calibration_spread=clean(lat.calibration_spread(timings.calibration)),
        timings=tuple(rows),
        note=None if overload is None else f"runner overloaded: {overload}",
    )


def report_warnings(checks: Sequence[CheckResult]) -> list[str]:
    """What the reviewer must know although it does not block: small or inconclusive slices, open latency."""
    out = []
    for c in checks:
        if c.kind == "slice" and c.finding == "too small" and c.status == "skipped":
            out.append(f"slice {c.name}: {c.message}; not judged (add evaluation rows or lower min_support)")
        elif c.status == "warn":
            out.append(f"{c.kind} {c.name}: {c.message}")
    return out


def _rule_changes(changes: Sequence[RuleChange]) -> tuple[RuleChangeModel, ...]:
    return tuple(RuleChangeModel(file=c.file, diff=c.diff, rotation=c.rotation) for c in changes)


def build(
    *,
    verdict: str,
    candidate: dict[str, Any],
    champion: dict[str, Any] | None,
    eval_set: dict[str, Any],
    bootstrap: dict[str, Any],
    estimates: Mapping[str, PairedEstimate],
    checks: Sequence[CheckResult],
    reliability: dict[str, list[dict[str, float]]],
    latency: LatencyReport | None,
    artifact_bytes: int | None,
    reproduce: str,
    rules: Rules | None = None,
    rule_changes: Sequence[RuleChange] = (),
    warnings: Sequence[str] = (),
) -> GateReport:
    """The gate.json document, validated against its model."""
    failed = [c for c in checks if c.failed]
    return GateReport.model_validate(
        {
            "verdict": verdict,
            "summary": f"{len(failed)} of {len(checks)} checks failed"
            if failed
            else f"all {len(checks)} checks pass",
            "first_release": champion is None,
            "note": FIRST_RELEASE if champion is None else None,
            "candidate": clean(candidate),
            "champion": clean(champion),
            "rules": rules,
            "rule_changes": _rule_changes(rule_changes),
            "warnings": [*warnings, *report_warnings(checks)],
            "eval_set": clean(eval_set),
            "bootstrap": bootstrap,
            "metrics": clean(metric_rows(estimates)),
            "checks": [_clean_check(c) for c in checks],
            "reliability": clean(reliability),
            "latency": latency,
            "artifact": {"size_bytes": artifact_bytes},
            "reproduce": reproduce,
        }
    )


def _clean_check(c: CheckResult) -> CheckResult:
    from dataclasses import replace

    return replace(
        c,
        value=clean(c.value),
        champion=clean(c.champion),
        delta=clean(c.delta),
        interval=None if c.interval is None or any(not math.isfinite(v) for v in c.interval) else c.interval,
    )


def error_report(
    candidate: dict[str, Any] | None, error: str, reproduce: str, rule_changes: Sequence[RuleChange] = ()
) -> GateReport:
    """The report written when the gate could not evaluate (exit 2)."""
    return GateReport.model_validate(
        {
            "verdict": "error",
            "summary": f"could not evaluate: {error}",
            "candidate": clean(candidate),
            "rule_changes": _rule_changes(rule_changes),
            "error": error,
            "reproduce": reproduce,
        }
    )


# ---------------------------------------------------------------- markdown


def _f(x: Any, digits: int = 4, signed: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, (int, float)):
        return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
    return str(x)


def _ci(pair: Sequence[float] | None, signed: bool = False) -> str:
    return "—" if not pair else f"[{_f(pair[0], signed=signed)}, {_f(pair[1], signed=signed)}]"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text


def _title(r: GateReport) -> str:
    cand = r.candidate
    who = f"`{cand.name}` v{cand.version}" if cand else "`?`"
    against = f" vs champion v{r.champion.version}" if r.champion else ""
    if r.verdict == "pass":
        return f"## ✅ Gate passed: {who}{against}"
    if r.verdict == "fail":
        return f"## ❌ Gate failed: {who}{against}"
    return f"## ⚠️ Gate could not evaluate: {who}"


def rule_changes_block(changes: Sequence[RuleChangeModel]) -> list[str]:
    """At the top of the comment: the PR edits the rules, and was judged by the base branch's."""
    if not changes:
        return []
    files = ", ".join(f"`configs/{c.file}`" + (f" (**{ROTATION}**)" if c.rotation else "") for c in changes)
    out = [
        f"> [!WARNING]\n> **This PR changes the gate's rules: {files}.**",
        "> It was judged by the **base branch's rules**, not by the ones it proposes. The new rules "
        "take effect only after merge, with the owners' review (CODEOWNERS).",
    ]
    if any(c.rotation for c in changes):
        out.append(
            f"> **{ROTATION.capitalize()}:** the pinned evaluation set changes; candidate and champion "
            "were scored on the base branch's pinned set."
        )
    out.append("")
    for c in changes:
        out += [
            f"<details open><summary>configs/{c.file}</summary>",
            "",
            "```diff",
            c.diff.rstrip("\n"),
            "```",
            "",
            "</details>",
            "",
        ]
    return out


def _checks_table(checks: Sequence[CheckResult]) -> list[str]:
    lines = ["| | Check | Kind | Value | Threshold | 95% CI | Detail |", "|---|---|---|---|---|---|---|"]
    # Failures first: the reviewer's eye lands on what blocks the release.
    order = {"fail": 0, "missing": 0, "warn": 1, "pass": 2, "skipped": 3}
    for c in sorted((c for c in checks if c.kind != "slice"), key=lambda c: order.get(c.status, 4)):
        lines.append(
            f"| {_ICON[c.status]} | {_cell(c.name)} | {c.kind} | {_cell(_f(c.value))} "
            f"| {_cell(c.threshold)} | {_ci(c.interval, signed=c.kind == 'change')} "
            f"| {_cell(c.message)} |"
        )
    return lines


def _metrics_table(r: GateReport) -> list[str]:
    champ = r.champion
    if r.bootstrap is None or r.candidate is None:  # only an error report lacks them
        return []
    conf = round(r.bootstrap.confidence * 100)
    cand = r.candidate.version
    if champ:
        head = f"| Metric | Champion v{champ.version} | Candidate v{cand} | Δ | {conf}% CI of Δ |"
    else:
        head = f"| Metric | Candidate v{cand} | {conf}% CI | | |"
    lines = [head, "|---|---|---|---|---|"]
    for m in r.metrics:
        better = "↑" if m.higher_is_better else "↓"
        if champ:
            lines.append(
                f"| {m.metric} {better} | {_f(m.champion)} | {_f(m.candidate)} "
                f"| {_f(m.delta, signed=True)} | {_ci(m.delta_interval, signed=True)} |"
            )
        else:
            lines.append(f"| {m.metric} {better} | {_f(m.candidate)} | {_ci(m.candidate_interval)} | | |")
    return lines


_FINDING = {
    "regressed": "**regressed**",
    "inconclusive": "inconclusive",
    "too small": "too small to judge",
    "below floor": "**below floor**",
    "non-inferior": "non-inferior",
    "first release": "first release",
}


def _slices_table(slices: Sequence[CheckResult]) -> list[str]:
    lines = [
        "| | Slice | Rows | Metric | Champion | Candidate | Δ | CI of Δ | Detail |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in slices:
        mark = _ICON[s.status] + (f" {_FINDING[s.finding]}" if s.finding else "")
        lines.append(
            f"| {mark} | {_cell(s.name)} | {s.support} | {s.metric} | {_f(s.champion)} "
            f"| {_f(s.value)} | {_f(s.delta, signed=True)} | {_ci(s.interval, signed=True)} "
            f"| {_cell(s.message)} |"
        )
    return lines


def _mermaid_label(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def _chart(r: GateReport) -> list[str]:
    """A mermaid bar chart of ROC AUC (or the slice metric) overall and per judged slice."""
    headline = next((m for m in r.metrics if m.metric == "roc_auc"), None)
    points: list[tuple[str, float | None, float | None]] = []
    if headline:
        points.append(("all", headline.champion, headline.candidate))
    for s in r.checks:
        if s.kind == "slice" and isinstance(s.value, float) and s.metric == "roc_auc":
            points.append((s.name, s.champion, s.value))
    values = [v for _, a, b in points for v in (a, b) if v is not None]
    if not values:
        return []
    floor = max(0.0, math.floor(min(values) * 10) / 10 - 0.1)
    lines = [
        "```mermaid",
        "xychart-beta",
        f'  title "ROC AUC: {"champion (first bar) vs " if r.champion else ""}candidate"',
        "  x-axis [" + ", ".join(_mermaid_label(n) for n, _, _ in points) + "]",
        f'  y-axis "ROC AUC" {floor:.1f} --> 1',
    ]
    if r.champion:
        lines.append(
            "  bar [" + ", ".join(f"{(a if a is not None else floor):.4f}" for _, a, _ in points) + "]"
        )
    lines.append("  bar [" + ", ".join(f"{(b if b is not None else floor):.4f}" for _, _, b in points) + "]")
    lines.append("```")
    return lines


def _reliability(r: GateReport) -> list[str]:
    cand = r.reliability.get("candidate") or ()
    if not cand:
        return []
    champ = r.reliability.get("champion") or ()
    lines = [
        "<details><summary>Calibration: reliability table</summary>",
        "",
        "| Score bin | Rows | Mean score | Observed rate | Champion observed |",
        "|---|---|---|---|---|",
    ]
    for i, b in enumerate(cand):
        other = champ[i].observed_rate if i < len(champ) else None
        lines.append(
            f"| {b.bin_low:.1f}–{b.bin_high:.1f} | {b.count} | {_f(b.mean_score, 3)} "
            f"| {_f(b.observed_rate, 3)} | {_f(other, 3)} |"
        )
    return [*lines, "", "</details>"]


def _latency(r: GateReport) -> list[str]:
    size = r.artifact.size_bytes if r.artifact else None
    artifact = f"Artifact: {_f(size / 1e6 if size is not None else None, 2)} MB."
    lat_ = r.latency
    if lat_ is None:
        return [f"Latency: not measured. {artifact}"]
    parts = []
    for t in lat_.timings:
        text = f"{t.workload.replace('_', ' ')} p95 {_f(t.candidate_p95_ms, 2)} ms"
        text += f" (round spread {_f(t.candidate_spread, 2)})"
        if t.champion_p95_ms is not None:
            text += (
                f", champion {_f(t.champion_p95_ms, 2)} ms, ratio {_f(t.ratio, 2)}x {_ci(t.ratio_interval)}"
            )
        parts.append(text)
    head = (
        f"Latency (in-process, {lat_.threads} thread(s) as served, candidate and champion interleaved over "
        f"{lat_.rounds} rounds, attempt {lat_.attempts}; "
        f"calibration p90/p10 {_f(lat_.calibration_spread, 2)}): "
    )
    note = f" **{lat_.note}.**" if lat_.note else ""
    return [head + "; ".join(parts) + "." + note + " " + artifact]


def _lineage(r: GateReport) -> list[str]:
    if r.candidate is None or r.eval_set is None or r.bootstrap is None:
        return []
    cand, champ = r.candidate, r.champion
    cols = [cand] + ([champ] if champ else [])
    head = f"| | Candidate v{cand.version} |" + (f" Champion v{champ.version} |" if champ else "")
    lines = [head, "|---|---|" + ("---|" if champ else "")]

    def row(label: str, fn: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(fn(m) for m in cols) + " |")

    row("Git SHA", lambda m: _link(f"`{(m.lineage.get(tags.GIT_SHA) or '—')[:12]}`", m.links.commit))
    row("Git dirty", lambda m: str(m.lineage.get(tags.GIT_DIRTY) or "—"))
    row("Data md5", lambda m: f"`{m.lineage.get(tags.DATA_MD5) or '—'}`")
    row("Config sha256", lambda m: f"`{(m.lineage.get(tags.CONFIG_SHA256) or '—')[:16]}`")
    row("Model sha256", lambda m: f"`{(m.lineage.get(tags.MODEL_SHA256) or '—')[:16]}`")
    row("MLflow run", lambda m: _link(f"`{m.run_id[:12]}`", m.links.run))
    row("Registry", lambda m: _link(f"`{m.uri}`", m.links.version))
    ev = r.eval_set
    pinned = "pinned" if ev.pinned_md5 else "**not pinned**"
    lines += [
        "",
        f"Evaluation set ({pinned}): `{ev.path}` md5 `{ev.md5}`, {ev.rows} rows, "
        f"positive rate {_f(ev.positive_rate, 3)}. Intervals: {r.bootstrap.method}, "
        f"{r.bootstrap.resamples} resamples, seed {r.bootstrap.seed}.",
    ]
    if r.rules:
        lines.append(
            f"Rules ({'trusted: base branch' if r.rules.source == 'trusted' else 'local'}): "
            f"gates.yaml sha256 "
            f"`{r.rules.gates_sha256[:16]}`, features.yaml sha256 `{r.rules.features_sha256[:16]}`."
        )
    return lines


def render_markdown(r: GateReport) -> str:
    """The PR comment: rule changes and verdict first, then what a reviewer needs to decide in 30 seconds."""
    out = [*rule_changes_block(r.rule_changes), _title(r), ""]
    if r.verdict == "error":
        out += [f"**{_cell(r.error)}**", "", "Reproduce locally:", "", "```sh", r.reproduce, "```", ""]
        return "\n".join(out)
    out.append(f"**{r.summary}.**")
    failed = [c.name for c in r.checks if c.failed]
    if failed:
        out.append("Blocking: " + ", ".join(f"`{_cell(n)}`" for n in failed) + ".")
    if r.warnings:
        out += ["", "Warnings (not blocking):", *[f"- ⚠️ {_cell(w)}" for w in r.warnings]]
    if r.first_release:
        out += ["", f"> **{FIRST_RELEASE}.** Change checks are skipped by rule."]
    out += ["", "### Checks", "", *_checks_table(r.checks), ""]
    out += ["### Champion vs candidate" if r.champion else "### Candidate", "", *_metrics_table(r), ""]
    slices = [c for c in r.checks if c.kind == "slice"]
    if slices:
        out += ["### Slices", "", *_slices_table(slices), ""]
    chart = _chart(r)
    if chart:
        out += [*chart, ""]
    rel = _reliability(r)
    if rel:
        out += [*rel, ""]
    out += [
        *_latency(r),
        "",
        "### Lineage",
        "",
        *_lineage(r),
        "",
        "### Reproduce",
        "",
        "```sh",
        r.reproduce,
        "```",
        "",
    ]
    return "\n".join(out)
