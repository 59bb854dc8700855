"""The pre-scoring data gate: the input's sample against the served version's training baseline.

The statistics and the check itself are `modelops.data.baseline` (one definition, shared with
`modelops data validate`); this module only decides what a failed check means for a batch
run (`on_violation`) and renders the report a reviewer reads.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["pass", "fail", "review"]
EXIT = {"pass": 0, "fail": 1, "review": 1}
MARKER = "<!-- modelops:data-gate -->"


@dataclass(frozen=True)
class GateOutcome:
    verdict: Verdict
    on_violation: str
    baseline: str  # where the profile came from
    sample_rows: int
    input_rows: int
    violations: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def messages(self) -> list[str]:
        return [str(v["message"]) for v in self.violations]

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "on_violation": self.on_violation,
            "baseline": self.baseline,
            "sample_rows": self.sample_rows,
            "input_rows": self.input_rows,
            "violations": list(self.violations),
        }


def decide(passed: bool, on_violation: str) -> Verdict:
    """pass when the check passed; otherwise the configured action (pure)."""
    if passed:
        return "pass"
    if on_violation not in ("fail", "review"):
        raise ValueError(f"on_violation {on_violation!r}")
    return on_violation  # type: ignore[return-value]


def violation_dict(v: Any) -> dict[str, Any]:
    """A baseline Violation as plain data (column, rule, baseline, new, limit, message)."""
    return {
        "column": v.column,
        "rule": v.rule,
        "baseline": v.baseline,
        "new": v.new,
        "limit": v.limit,
        "message": v.message,
    }


def summary_line(outcome: GateOutcome) -> str:
    """One line for stderr: what refused the run, naming the column, baseline and new value."""
    first = outcome.messages[0] if outcome.messages else "no violation"
    more = f" (+{len(outcome.messages) - 1} more)" if len(outcome.messages) > 1 else ""
    action = "nothing written" if outcome.verdict == "fail" else "scores quarantined for review"
    return f"data gate refused the input ({action}): {first}{more}"


def render(outcome: GateOutcome, *, input_uri: str, model: str, run_id: str, location: str | None) -> str:
    """The report (markdown): verdict first, then every violation; also the review issue's body."""
    head = {
        "pass": "PASS: the input matches the training baseline",
        "fail": "REFUSED: the input left its training baseline; nothing was scored or written",
        "review": "REVIEW: the input left its training baseline; scores were quarantined, not published",
    }[outcome.verdict]
    lines = [
        MARKER,
        f"## Batch scoring data gate: {head}",
        "",
        f"- input: `{input_uri}` ({outcome.input_rows} rows; judged on a seeded sample of "
        f"{outcome.sample_rows})",
        f"- model: `{model}`, run `{run_id}`",
        f"- baseline: {outcome.baseline}",
        f"- action on violation: `{outcome.on_violation}`",
    ]
    if location:
        lines.append(f"- quarantined scores: `{location}`")
    if outcome.violations:
        lines += ["", "| column | rule | baseline | new | limit |", "| --- | --- | --- | --- | --- |"]
        for v in outcome.violations:
            lines.append(f"| `{v['column']}` | {v['rule']} | {v['baseline']} | {v['new']} | {v['limit']} |")
        lines += ["", *[f"- {m}" for m in outcome.messages]]
    if outcome.verdict == "review":
        lines += [
            "",
            "To publish after review, rerun `modelops score` once the upstream data is fixed; "
            "quarantined scores are never promoted by themselves.",
        ]
    return "\n".join(lines) + "\n"
