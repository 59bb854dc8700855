"""gate.json (every check, value, interval and the lineage of both models) and gate.md (the PR comment).

`render_markdown` is a pure function of the gate.json dict, so the comment a reviewer
reads says exactly what the recorded report says.
"""

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from modelops.gate.bootstrap import HIGHER_IS_BETTER, PairedEstimate
from modelops.gate.checks import FIRST_RELEASE, CheckResult

SCHEMA_VERSION = 1
LINEAGE_KEYS = ("git_sha", "git_dirty", "data_md5", "train_md5", "eval_md5", "config_sha256", "model_sha256")
_ICON = {"pass": "✅", "fail": "❌", "missing": "❌", "skipped": "➖", "error": "⚠️"}


def model_facts(
    name: str, version: int, run_id: str, tags: Mapping[str, str], links: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "version": version,
        "uri": f"models:/{name}/{version}",
        "run_id": run_id,
        "lineage": {k: tags.get(k) for k in LINEAGE_KEYS},
        "links": dict(links or {}),
    }


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


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
    latency: dict[str, float],
    artifact_bytes: int | None,
    reproduce: str,
) -> dict[str, Any]:
    """The gate.json document (plain data; key order is stable)."""
    failed = [c for c in checks if c.failed]
    return {
        "schema_version": SCHEMA_VERSION,
        "verdict": verdict,
        "summary": f"{len(failed)} of {len(checks)} checks failed"
        if failed
        else f"all {len(checks)} checks pass",
        "first_release": champion is None,
        "note": FIRST_RELEASE if champion is None else None,
        "candidate": candidate,
        "champion": champion,
        "eval_set": eval_set,
        "bootstrap": bootstrap,
        "metrics": metric_rows(estimates),
        "checks": [c.as_dict() for c in checks],
        "reliability": reliability,
        "latency": latency,
        "artifact": {"size_bytes": artifact_bytes},
        "reproduce": reproduce,
    }


def error_report(candidate: dict[str, Any] | None, error: str, reproduce: str) -> dict[str, Any]:
    """The report written when the gate could not evaluate (exit 2)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "verdict": "error",
        "summary": f"could not evaluate: {error}",
        "candidate": candidate,
        "error": error,
        "reproduce": reproduce,
    }


def to_json(report: Mapping[str, Any]) -> bytes:
    # allow_nan=False: NaN is not JSON; values are already None when missing.
    return (json.dumps(report, indent=2, allow_nan=False) + "\n").encode()


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


def _title(r: Mapping[str, Any]) -> str:
    cand = r.get("candidate") or {}
    champ = r.get("champion")
    who = f"`{cand.get('name', '?')}` v{cand.get('version', '?')}"
    against = f" vs champion v{champ['version']}" if champ else ""
    if r["verdict"] == "pass":
        return f"## ✅ Gate passed: {who}{against}"
    if r["verdict"] == "fail":
        return f"## ❌ Gate failed: {who}{against}"
    return f"## ⚠️ Gate could not evaluate: {who}"


def _checks_table(checks: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["| | Check | Kind | Value | Threshold | 95% CI | Detail |", "|---|---|---|---|---|---|---|"]
    # Failures first: the reviewer's eye lands on what blocks the release.
    order = {"fail": 0, "missing": 0, "pass": 1, "skipped": 2}
    for c in sorted((c for c in checks if c["kind"] != "slice"), key=lambda c: order.get(c["status"], 3)):
        lines.append(
            f"| {_ICON[c['status']]} | {_cell(c['name'])} | {c['kind']} | {_cell(_f(c['value']))} "
            f"| {_cell(c['threshold'])} | {_ci(c['interval'], signed=c['kind'] == 'change')} "
            f"| {_cell(c['message'])} |"
        )
    return lines


def _metrics_table(r: Mapping[str, Any]) -> list[str]:
    champ = r.get("champion")
    conf = round(r["bootstrap"]["confidence"] * 100)
    cand = r["candidate"]["version"]
    if champ:
        head = f"| Metric | Champion v{champ['version']} | Candidate v{cand} | Δ | {conf}% CI of Δ |"
    else:
        head = f"| Metric | Candidate v{cand} | {conf}% CI | | |"
    lines = [head, "|---|---|---|---|---|"]
    for m in r["metrics"]:
        better = "↑" if m["higher_is_better"] else "↓"
        if champ:
            lines.append(
                f"| {m['metric']} {better} | {_f(m['champion'])} | {_f(m['candidate'])} "
                f"| {_f(m['delta'], signed=True)} | {_ci(m['delta_interval'], signed=True)} |"
            )
        else:
            lines.append(
                f"| {m['metric']} {better} | {_f(m['candidate'])} | {_ci(m['candidate_interval'])} | | |"
            )
    return lines


def _slices_table(slices: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "| | Slice | Rows | Metric | Champion | Candidate | Δ | CI of Δ | Detail |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in slices:
        regressed = s["status"] in ("fail", "missing")
        mark = "❌ **regression**" if regressed and s["delta"] is not None else _ICON[s["status"]]
        if s["status"] == "skipped" and "too small" in s["message"]:
            mark = "➖ too small to judge"
        lines.append(
            f"| {mark} | {_cell(s['name'])} | {s['support']} | {s['metric']} | {_f(s['champion'])} "
            f"| {_f(s['value'])} | {_f(s['delta'], signed=True)} | {_ci(s['interval'], signed=True)} "
            f"| {_cell(s['message'])} |"
        )
    return lines


def _mermaid_label(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def _chart(r: Mapping[str, Any]) -> list[str]:
    """A mermaid bar chart of ROC AUC (or the slice metric) overall and per judged slice."""
    headline = next((m for m in r["metrics"] if m["metric"] == "roc_auc"), None)
    points: list[tuple[str, float | None, float | None]] = []
    if headline:
        points.append(("all", headline["champion"], headline["candidate"]))
    for s in r["checks"]:
        if s["kind"] == "slice" and s["value"] is not None and s["metric"] == "roc_auc":
            points.append((s["name"], s["champion"], s["value"]))
    if not points:
        return []
    champ = r.get("champion")
    low = min(v for _, a, b in points for v in (a, b) if v is not None)
    floor = max(0.0, math.floor(low * 10) / 10 - 0.1)
    lines = [
        "```mermaid",
        "xychart-beta",
        f'  title "ROC AUC: {"champion (first bar) vs " if champ else ""}candidate"',
        "  x-axis [" + ", ".join(_mermaid_label(n) for n, _, _ in points) + "]",
        f'  y-axis "ROC AUC" {floor:.1f} --> 1',
    ]
    if champ:
        lines.append(
            "  bar [" + ", ".join(f"{(a if a is not None else floor):.4f}" for _, a, _ in points) + "]"
        )
    lines.append("  bar [" + ", ".join(f"{(b if b is not None else floor):.4f}" for _, _, b in points) + "]")
    lines.append("```")
    return lines


def _reliability(r: Mapping[str, Any]) -> list[str]:
    rel = r.get("reliability") or {}
    cand = rel.get("candidate") or []
    if not cand:
        return []
    champ = rel.get("champion") or []
    lines = [
        "<details><summary>Calibration: reliability table</summary>",
        "",
        "| Score bin | Rows | Mean score | Observed rate | Champion observed |",
        "|---|---|---|---|---|",
    ]
    for i, b in enumerate(cand):
        other = champ[i]["observed_rate"] if i < len(champ) else None
        lines.append(
            f"| {b['bin_low']:.1f}–{b['bin_high']:.1f} | {b['count']} | {_f(b['mean_score'], 3)} "
            f"| {_f(b['observed_rate'], 3)} | {_f(other, 3)} |"
        )
    return [*lines, "", "</details>"]


def _lineage(r: Mapping[str, Any]) -> list[str]:
    cand = r["candidate"]
    champ = r.get("champion")
    cols = [cand] + ([champ] if champ else [])
    head = "| | Candidate v{} |".format(cand["version"]) + (
        f" Champion v{champ['version']} |" if champ else ""
    )
    lines = [head, "|---|---|" + ("---|" if champ else "")]

    def row(label: str, fn: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(fn(m) for m in cols) + " |")

    row(
        "Git SHA", lambda m: _link(f"`{(m['lineage'].get('git_sha') or '—')[:12]}`", m["links"].get("commit"))
    )
    row("Git dirty", lambda m: str(m["lineage"].get("git_dirty") or "—"))
    row("Data md5", lambda m: f"`{m['lineage'].get('data_md5') or '—'}`")
    row("Config sha256", lambda m: f"`{(m['lineage'].get('config_sha256') or '—')[:16]}`")
    row("Model sha256", lambda m: f"`{(m['lineage'].get('model_sha256') or '—')[:16]}`")
    row("MLflow run", lambda m: _link(f"`{m['run_id'][:12]}`", m["links"].get("run")))
    row("Registry", lambda m: _link(f"`{m['uri']}`", m["links"].get("version")))
    ev = r["eval_set"]
    lines += [
        "",
        f"Evaluation set: `{ev['path']}` md5 `{ev['md5']}`, {ev['rows']} rows, "
        f"positive rate {_f(ev['positive_rate'], 3)}. Intervals: {r['bootstrap']['method']}, "
        f"{r['bootstrap']['resamples']} resamples, seed {r['bootstrap']['seed']}.",
    ]
    return lines


def render_markdown(r: Mapping[str, Any]) -> str:
    """The PR comment: verdict first, then what a reviewer needs to decide in 30 seconds."""
    out = [_title(r), ""]
    if r["verdict"] == "error":
        out += [f"**{_cell(r['error'])}**", "", "Reproduce locally:", "", "```sh", r["reproduce"], "```", ""]
        return "\n".join(out)
    out.append(f"**{r['summary']}.**")
    failed = [c["name"] for c in r["checks"] if c["status"] in ("fail", "missing")]
    if failed:
        out.append("Blocking: " + ", ".join(f"`{_cell(n)}`" for n in failed) + ".")
    if r["first_release"]:
        out += ["", f"> **{FIRST_RELEASE}.** Change checks are skipped by rule."]
    out += ["", "### Checks", "", *_checks_table(r["checks"]), ""]
    out += ["### Champion vs candidate" if r["champion"] else "### Candidate", "", *_metrics_table(r), ""]
    slices = [c for c in r["checks"] if c["kind"] == "slice"]
    if slices:
        out += ["### Slices", "", *_slices_table(slices), ""]
    chart = _chart(r)
    if chart:
        out += [*chart, ""]
    rel = _reliability(r)
    if rel:
        out += [*rel, ""]
    lat = r["latency"]
    size = r["artifact"]["size_bytes"]
    out += [
        f"Latency p95 (in-process): single row {_f(lat.get('single_row_p95_ms'), 2)} ms, "
        f"1,000-row batch {_f(lat.get('batch_1000_p95_ms'), 2)} ms. "
        f"Artifact: {_f(size / 1e6 if size is not None else None, 2)} MB.",
        "",
        "### Lineage",
        "",
        *_lineage(r),
        "",
        "### Reproduce",
        "",
        "```sh",
        r["reproduce"],
        "```",
        "",
    ]
    return "\n".join(out)
