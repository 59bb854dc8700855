"""gate.json has one typed definition: the committed schema is generated from it, readers parse with it."""

import json

import pytest

from modelops.errors import MissingEvidence
from modelops.gate import report
from modelops.gate.schema import SCHEMA_FILE, GateReport, json_schema, load_gate_report


def test_committed_schema_equals_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text() == json_schema(), (
        "regenerate: python -m modelops.gate.schema > src/modelops/gate/gate.schema.json"
    )


def test_schema_pins_the_version_and_forbids_unknown_fields() -> None:
    schema = json.loads(json_schema())
    assert schema["properties"]["schema_version"]["const"] == 2
    assert schema["additionalProperties"] is False


def _doc() -> GateReport:
    return report.error_report(
        report.model_facts("m", 3, "r" * 32, {"git_sha": "a" * 40}), "boom", "modelops gate --candidate 3"
    )


def test_bytes_and_path_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = _doc()
    blob = doc.to_json()
    (tmp_path / "gate.json").write_bytes(blob)
    assert load_gate_report(blob) == doc == load_gate_report(tmp_path / "gate.json")
    assert load_gate_report(str(tmp_path / "gate.json")).candidate.version == 3  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(schema_version=1), "schema_version"),
        (lambda d: d.update(verdict="maybe"), "verdict"),
        (lambda d: d.update(surprise=True), "surprise"),
        (lambda d: d.pop("reproduce"), "reproduce"),
    ],
)
def test_a_malformed_report_is_missing_evidence_naming_the_field(change, field: str) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(_doc().to_json())
    change(data)
    with pytest.raises(MissingEvidence, match=f"not a gate report.*{field}"):
        load_gate_report(json.dumps(data).encode())


def test_an_unreadable_path_is_missing_evidence(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MissingEvidence, match="cannot read the gate report"):
        load_gate_report(tmp_path / "absent.json")
