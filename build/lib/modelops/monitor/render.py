"""Pure renderers: the verdict, summary.md (for an issue or a job summary) and the report index."""

import html

VERDICT_EXIT = {"healthy": 0, "no traffic": 0, "insufficient traffic": 0, "alert": 1}
_HEAD = {
    "alert": "🔴 ALERT",
    "healthy": "🟢 HEALTHY",
    "no traffic": "⚪ NO TRAFFIC",
    "insufficient traffic": "⚪ INSUFFICIENT TRAFFIC",
}


def verdict(summary: dict) -> str:
    versions = summary["versions"]
    if not versions:
        return "no traffic"
    if any(v["verdict"] == "alert" for v in versions):
        return "alert"
    if all(v["verdict"] == "insufficient traffic" for v in versions):
        return "insufficient traffic"
    return "healthy"


def _pct(x: float) -> str:
    return f"{x:.1%}"


def summary_md(summary: dict) -> str:
    """Verdict first, then per version: alerts, drifted features by name with scores and thresholds."""
    v = summary["verdict"]
    n_alerts = sum(len(s.get("alerts", [])) for s in summary["versions"])
    lines = [f"# {_HEAD[v]}: model `{summary['model']}` monitoring", ""]
    if v == "no traffic":
        lines.append("No predictions in the window: nothing to judge.")
    elif v == "alert":
        lines.append(f"{n_alerts} alert(s). Investigate before trusting the model's scores.")
    elif v == "healthy":
        lines.append(
            "No alerts: drift, rates and (when labelled) quality are within configs/monitoring.yaml."
        )
    else:
        lines.append("Too few predictions to judge (see min_rows in configs/monitoring.yaml).")
    window = f" since {summary['since']}" if summary["since"] else ""
    lines += [
        "",
        f"- Predictions: `{summary['predictions']}`{window}: {summary['lines']} lines, "
        f"{summary['malformed']} malformed ({_pct(summary['malformed_share'])}; "
        f"limit {_pct(summary['malformed_max_share'])}), {summary['outside_window']} before the window",
        f"- Labels: `{summary['labels']}`"
        if summary["labels"]
        else "- Labels: none given (quality not measured)",
    ]
    lines += [f"  - {e}" for e in summary["malformed_examples"]]
    for s in summary["versions"]:
        lines += ["", *_version_md(s)]
    lines += [
        "",
        "Retraining never promotes by itself: a new version goes through the gate and a reviewed PR.",
        "",
    ]
    return "\n".join(lines)


def _version_md(s: dict) -> list[str]:
    ref = s["reference"]
    origin = (
        f"training snapshot md5 `{ref['train_md5']}`"
        if ref["source"] == "release"
        else f"`{ref['path']}` (--reference override)"
    )
    out = [f"## model_version {s['model_version']}: {s['verdict'].upper()}", ""]
    out.append(f"{s['rows']} predictions; reference: {origin}, {ref.get('rows', '?')} rows.")
    if "note" in s:
        return [*out, "", s["note"]]
    sample = s["sample"]
    out.append(
        f"Drift computed on a seeded sample: {sample['current']} current / "
        f"{sample['reference']} reference rows "
        f"(cap {sample['cap']}, seed {sample['seed']})."
    )
    if s["alerts"]:
        out += ["", "### Alerts", "", *[f"- {a}" for a in s["alerts"]]]
    drifted = [d for d in s["drift"] if d["drifted"]]
    out += ["", "### Drifted features", ""]
    if drifted:
        out += ["| feature | method | score | threshold |", "|---|---|---|---|"]
        out += [
            f"| {d['feature']} | {d['method']} | {d['score']:.3f} | {d['threshold']:g} |" for d in drifted
        ]
    else:
        out.append(f"None of {len(s['drift'])} features drifted.")
    sd = s["score_drift"]
    out += ["", f"Prediction drift: {sd['method']}={sd['score']:.3f} (threshold {sd['threshold']:g})"]
    for sl in s["slices"]:
        bad = [d for d in sl.get("drift", []) if d["drifted"]]
        text = ", ".join(
            f"{d['feature']} {d['method']}={d['score']:.3f} (>= {d['threshold']:g})" for d in bad
        )
        status = sl.get("note") or (f"drifted: {text}" if bad else "no drift")
        out.append(f"- slice {sl['slice']} ({sl['sample_rows']} sampled rows): {status}")
    rates = [
        r
        for r in s["rates"]
        if r["missing"] != r["missing_reference"] or r["out_of_range"] != r["out_of_range_reference"]
    ]
    if rates:
        out += [
            "",
            "### Missing and out-of-range rates",
            "",
            "| feature | missing | ref | out of range | ref |",
        ]
        out.append("|---|---|---|---|---|")
        out += [
            f"| {r['feature']} | {_pct(r['missing'])} | {_pct(r['missing_reference'])} | "
            f"{_pct(r['out_of_range'])} | {_pct(r['out_of_range_reference'])} |"
            for r in rates
        ]
    if "quality" in s:
        out += ["", f"### Quality ({s.get('labelled_rows', 0)} labelled predictions)", ""]
        out.append("| slice | rows | ROC AUC | ECE | positive rate | expected |")
        out.append("|---|---|---|---|---|---|")
        rows = [("all", s["quality"])] + [
            (sl["slice"], sl["quality"]) for sl in s["slices"] if "quality" in sl
        ]
        for name, q in rows:
            if "note" in q:
                out.append(f"| {name} | {q['rows']} | {q['note']} | | | |")
                continue
            auc = "n/a" if q["roc_auc"] is None else f"{q['roc_auc']:.3f}"
            out.append(
                f"| {name} | {q['rows']} | {auc} | {q['ece']:.3f} | {_pct(q['positive_rate'])} | "
                f"{_pct(q['expected_positive_rate'])} |"
            )
    return out


def index_html(versions: list[str]) -> str:
    """report.html when several versions served: links to each version's Evidently report."""
    items = "".join(
        f'<li><a href="report-v{html.escape(v)}.html">model_version {html.escape(v)}</a></li>'
        for v in versions
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Monitoring</title></head>"
        f"<body><h1>Monitoring reports</h1><ul>{items}</ul></body></html>\n"
    )
