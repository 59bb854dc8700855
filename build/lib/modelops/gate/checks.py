"""Pure check evaluation: evidence in, typed results out. Missing or NaN evidence fails closed."""

import math
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from modelops.gate.bootstrap import BOOTSTRAP_METRICS, HIGHER_IS_BETTER, Interval, PairedEstimate
from modelops.gate.config import Absolute, Change, Evidence
from modelops.gate.schema import CheckResult, Kind, Status

__all__ = ["CheckResult", "Kind", "Status"]

MISSING = "missing evidence"
UNKNOWN_METRIC = "unknown metric"
FIRST_RELEASE = "first release: no champion, absolute checks only"


def _number(value: Any) -> float | None:
    """A finite float, or None (absent, NaN, inf or not a number): all count as missing evidence."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _pair(interval: Interval | None) -> tuple[float, float] | None:
    return (interval.low, interval.high) if interval is not None and interval.finite else None


def bound_text(minimum: float | None, maximum: float | None) -> str:
    parts = [
        f">= {minimum:g}" if minimum is not None else "",
        f"<= {maximum:g}" if maximum is not None else "",
    ]
    return " and ".join(p for p in parts if p)


def within(value: float, minimum: float | None, maximum: float | None) -> bool:
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)


def bounded(
    name: str,
    kind: Kind,
    metric: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    interval: Interval | None = None,
    slice_name: str | None = None,
) -> CheckResult:
    """A value against fixed bounds (absolute metrics, latency, size)."""
    threshold = bound_text(minimum, maximum)
    number = _number(value)
    if number is None:
        return CheckResult(
            name,
            kind,
            "missing",
            None,
            threshold,
            f"{MISSING}: no value for {metric}",
            metric=metric,
            slice=slice_name,
        )
    ok = within(number, minimum, maximum)
    message = f"{metric} = {number:.4g} {'meets' if ok else 'breaks'} {threshold}"
    return CheckResult(
        name,
        kind,
        "pass" if ok else "fail",
        number,
        threshold,
        message,
        metric=metric,
        interval=_pair(interval),
        slice=slice_name,
    )


def absolute(rule: Absolute, values: Mapping[str, Any], intervals: Mapping[str, Interval]) -> CheckResult:
    """A bound on a computed metric or a run metric; a name that is neither is a config mistake."""
    if rule.metric not in values and rule.metric not in BOOTSTRAP_METRICS:
        known = sorted(k for k in values if isinstance(k, str))
        return CheckResult(
            f"{rule.metric} {bound_text(rule.min, rule.max)}",
            "absolute",
            "missing",
            None,
            bound_text(rule.min, rule.max),
            f"{UNKNOWN_METRIC} {rule.metric!r}: not computed by the gate ({', '.join(BOOTSTRAP_METRICS)}) "
            f"and not among the candidate run's metrics ({', '.join(known) or 'none'})",
            metric=rule.metric,
        )
    return bounded(
        f"{rule.metric} {bound_text(rule.min, rule.max)}",
        "absolute",
        rule.metric,
        values.get(rule.metric),
        rule.min,
        rule.max,
        intervals.get(rule.metric),
    )


def change_bound(metric: str, rule: str, margin: float) -> tuple[str, float]:
    """Which end of the delta interval is tested, and against what.

    Deltas are candidate - champion. For a higher-is-better metric, non-inferiority
    needs the interval's low end >= -margin and superiority >= +margin; for
    lower-is-better metrics the high end is tested with the signs flipped.
    """
    higher = HIGHER_IS_BETTER[metric]
    sign = 1.0 if rule == "superior" else -1.0
    return ("low", sign * margin) if higher else ("high", -sign * margin)


def change_text(metric: str, rule: str, margin: float) -> str:
    end, limit = change_bound(metric, rule, margin)
    op = ">=" if end == "low" else "<="
    return f"Δ {end} CI {op} {limit:+g}"


def paired(
    name: str,
    kind: Kind,
    metric: str,
    rule: str,
    margin: float,
    estimate: PairedEstimate | None,
    slice_name: str | None = None,
) -> CheckResult:
    """Candidate vs champion on the paired bootstrap interval of the difference."""
    threshold = change_text(metric, rule, margin)
    if estimate is None or estimate.champion is None:
        return CheckResult(
            name, kind, "skipped", None, threshold, FIRST_RELEASE, metric=metric, slice=slice_name
        )
    delta = _number(estimate.delta)
    interval = _pair(estimate.delta_interval)
    if delta is None or interval is None:
        return CheckResult(
            name,
            kind,
            "missing",
            None,
            threshold,
            f"{MISSING}: no finite interval for Δ{metric}",
            metric=metric,
            slice=slice_name,
        )
    end, limit = change_bound(metric, rule, margin)
    tested = interval[0] if end == "low" else interval[1]
    ok = tested >= limit if end == "low" else tested <= limit
    message = (
        f"Δ{metric} = {delta:+.4f}, {end} end of CI {tested:+.4f} "
        f"{'meets' if ok else 'breaks'} {limit:+g} ({rule.replace('_', '-')})"
    )
    return CheckResult(
        name,
        kind,
        "pass" if ok else "fail",
        estimate.candidate,
        threshold,
        message,
        metric=metric,
        interval=interval,
        champion=estimate.champion,
        delta=delta,
        slice=slice_name,
    )


def change(rule: Change, estimates: Mapping[str, PairedEstimate], first_release: bool) -> CheckResult:
    name = f"{rule.metric} {rule.rule.replace('_', '-')} (margin {rule.margin:g})"
    estimate = None if first_release else estimates.get(rule.metric)
    if not first_release and estimate is None:
        return CheckResult(
            name,
            "change",
            "missing",
            None,
            change_text(rule.metric, rule.rule, rule.margin),
            f"{MISSING}: {rule.metric} was not computed",
            metric=rule.metric,
        )
    return paired(name, "change", rule.metric, rule.rule, rule.margin, estimate)


def evidence(rule: Evidence, tags: Mapping[str, str], eval_md5: str | None) -> list[CheckResult]:
    """Training evidence recorded as tags on the candidate's model version."""
    out = []
    for key, expected in rule.required_tags.items():
        actual = tags.get(key)
        if actual is None:
            out.append(
                CheckResult(
                    f"tag {key} = {expected}",
                    "evidence",
                    "missing",
                    None,
                    expected,
                    f"{MISSING}: tag {key!r} is not on the candidate",
                )
            )
        else:
            ok = actual == expected
            out.append(
                CheckResult(
                    f"tag {key} = {expected}",
                    "evidence",
                    "pass" if ok else "fail",
                    actual,
                    expected,
                    f"{key} is {actual!r}",
                )
            )
    absent = [k for k in rule.lineage_tags if tags.get(k) in (None, "", "unknown")]
    out.append(
        CheckResult(
            "lineage tags present",
            "evidence",
            "missing" if absent else "pass",
            ", ".join(absent) or "all",
            ", ".join(rule.lineage_tags),
            f"{MISSING}: lineage tags {absent} absent"
            if absent
            else f"{len(rule.lineage_tags)} lineage tags present",
        )
    )
    if rule.eval_set_matches:
        recorded = tags.get("eval_md5")
        if not recorded or not eval_md5:
            out.append(
                CheckResult(
                    "evaluation set matches training",
                    "evidence",
                    "missing",
                    recorded,
                    eval_md5 or "?",
                    f"{MISSING}: eval_md5 unknown",
                )
            )
        else:
            ok = recorded == eval_md5
            out.append(
                CheckResult(
                    "evaluation set matches training",
                    "evidence",
                    "pass" if ok else "fail",
                    recorded,
                    eval_md5,
                    "candidate was trained beside this evaluation set"
                    if ok
                    else f"candidate recorded eval_md5 {recorded}, the gate scored {eval_md5}",
                )
            )
    return out


def verdict(results: Iterable[CheckResult]) -> Literal["pass", "fail"]:
    """Pass only when no check failed or lacked evidence; an empty gate fails closed."""
    results = list(results)
    if not results or any(r.failed for r in results):
        return "fail"
    return "pass"
