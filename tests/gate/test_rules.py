"""The trusted rules: digests of what was read, the PR's changes as a diff, the notice above the verdict."""

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from modelops import tags
from modelops.gate import report, rules
from modelops.gate.job import record_tags
from modelops.gate.schema import GateReport, Rules

GATES = b"absolute:\n  - {metric: roc_auc, min: 0.75}\n"
LOOSE = b"absolute:\n  - {metric: roc_auc, min: 0.5}\n"


def _files(gates: bytes = GATES, pin: bytes | None = b"md5: aaa\n") -> dict[str, bytes | None]:
    return {"gates.yaml": gates, "features.yaml": b"label: defaulted\n", "eval_set.yaml": pin}


def test_identical_rules_have_no_changes() -> None:
    assert rules.diff_rules(_files(), _files()) == []


def test_a_loosened_gates_yaml_is_a_unified_diff_base_to_pr() -> None:
    (change,) = rules.diff_rules(_files(), _files(gates=LOOSE))
    assert change.file == "gates.yaml" and not change.rotation
    lines = change.diff.splitlines()
    assert lines[:2] == ["--- base/configs/gates.yaml", "+++ pr/configs/gates.yaml"]
    assert "-  - {metric: roc_auc, min: 0.75}" in lines and "+  - {metric: roc_auc, min: 0.5}" in lines


def test_a_moved_pin_is_an_eval_set_rotation_and_a_deleted_one_is_flagged_too() -> None:
    (moved,) = rules.diff_rules(_files(), _files(pin=b"md5: bbb\n"))
    assert moved.rotation and "+md5: bbb" in moved.diff
    (deleted,) = rules.diff_rules(_files(), _files(pin=None))
    assert deleted.rotation and "+++ /dev/null" in deleted.diff


def test_read_rule_files_reads_raw_bytes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "gates.yaml").write_bytes(GATES + b"# comment\n")
    read = rules.read_rule_files(tmp_path)
    assert read["gates.yaml"] == GATES + b"# comment\n" and read["eval_set.yaml"] is None
    assert rules.sha256_bytes(read["gates.yaml"]) == hashlib.sha256(GATES + b"# comment\n").hexdigest()


def _error_doc(changes: list[rules.RuleChange]) -> GateReport:
    return report.error_report(None, "boom", "modelops gate ...", changes)


def test_notice_sits_above_the_verdict_and_names_every_changed_file() -> None:
    changes = rules.diff_rules(_files(), _files(gates=LOOSE, pin=b"md5: bbb\n"))
    md = report.render_markdown(_error_doc(changes))
    notice = md.index("This PR changes the gate's rules")
    assert notice < md.index("## ⚠️ Gate could not evaluate")
    assert "`configs/gates.yaml`" in md and "`configs/eval_set.yaml` (**eval set rotation**)" in md
    assert "base branch's rules" in md and "take effect only after merge" in md
    assert md.count("```diff") == 2


def test_no_notice_without_changes() -> None:
    assert "changes the gate's rules" not in report.render_markdown(_error_doc([]))


def test_record_tags_carry_the_rules_and_the_time_in_utc() -> None:
    doc = _error_doc([]).model_copy(
        update={
            "rules": Rules(
                source="trusted", gates_sha256="g" * 64, features_sha256="f" * 64, eval_set_md5="e" * 32
            )
        }
    )
    at = datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    out = record_tags(doc, "d" * 64, "3", at)
    assert out == {
        tags.GATE_VERDICT: "error",
        tags.GATE_REPORT_SHA256: "d" * 64,
        tags.GATE_CHAMPION: "3",
        tags.GATE_AT: "2026-11-25T08:00:00+00:00",
        tags.GATE_RULES_SHA256: "g" * 64,
        tags.GATE_FEATURES_SHA256: "f" * 64,
        tags.GATE_EVAL_MD5: "e" * 32,
    }
    assert datetime.fromisoformat(out[tags.GATE_AT]).tzinfo == UTC
