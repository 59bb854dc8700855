"""The request model is generated from configs/features.yaml (unit)."""

import orjson
import pytest
from pydantic import ValidationError

from modelops.serve import schema
from modelops.settings import load_settings
from tests.conftest import REPO


@pytest.fixture(scope="module")
def features():  # type: ignore[no-untyped-def]
    return load_settings(REPO).features


@pytest.fixture(scope="module")
def adapter(features):  # type: ignore[no-untyped-def]
    return schema.request_adapter(features)


def record(**changes):  # type: ignore[no-untyped-def]
    base = {
        "tenure_months": 12,
        "monthly_charges": 70.5,
        "days_since_last_login": 3.5,
        "support_tickets": 1,
        "seats": 3,
        "contract": "one-year",
        "plan": "pro",
        "region": "north",
        "payment_method": "card",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def errors(adapter, body: bytes) -> list[dict]:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as exc:
        adapter.validate_json(body)
    return schema.validation_errors(exc.value)


def test_json_schema_mirrors_the_feature_config(features, adapter) -> None:  # type: ignore[no-untyped-def]
    js = adapter.json_schema()
    rec = js["$defs"]["Record"]
    assert rec["additionalProperties"] is False and js["additionalProperties"] is False
    assert set(rec["properties"]) == set(features.names)
    assert set(rec["required"]) == {f.name for f in features.features if not f.nullable}
    contract = rec["properties"]["contract"]
    assert contract["enum"] == list(features.feature("contract").categories)
    tenure = rec["properties"]["tenure_months"]
    assert (tenure["type"], tenure["minimum"], tenure["maximum"]) == ("integer", 0, 120)
    charges = rec["properties"]["monthly_charges"]["anyOf"]
    assert {"type": "null"} in charges and any(c.get("maximum") == 2000 for c in charges)
    assert js["properties"]["records"]["minItems"] == 1


def test_valid_record_with_nulls_and_omitted_nullables(adapter) -> None:  # type: ignore[no-untyped-def]
    req = adapter.validate_json(orjson.dumps({"records": [record(region=..., monthly_charges=None)]}))
    rec = req.records[0].__dict__
    assert rec["region"] is None and rec["monthly_charges"] is None and rec["tenure_months"] == 12


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        (b'{"records": [{"tenure_months": 1}]}', "records.0.contract", "missing"),
        (b'{"records": [{"contract": "yearly"}]}', "records.0.contract", "literal_error"),
        (b'{"records": [{"tenure_months": 500}]}', "records.0.tenure_months", "less_than_equal"),
        (b'{"records": [{"tenure_months": "5"}]}', "records.0.tenure_months", "int_type"),
        (b'{"records": [{"seats": 2.5}]}', "records.0.seats", "int_type"),
        (b'{"records": [{"plan": null}]}', "records.0.plan", "literal_error"),
        (b'{"records": [{"customer_id": 7}]}', "records.0.customer_id", "extra_forbidden"),
        (b'{"records": [], "x": 1}', "x", "extra_forbidden"),
        (b'{"records": []}', "records", "too_short"),
        (b'{"records": [{}, {"seats": -1}]}', "records.1.seats", "greater_than_equal"),
        (b'{"records": ', "<body>", "json_invalid"),
    ],
)
def test_errors_name_the_field_path(adapter, body: bytes, field: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    found = {(e["field"], e["type"]) for e in errors(adapter, body)}
    assert (field, kind) in found, found


def test_nan_and_infinity_are_rejected(adapter) -> None:  # type: ignore[no-untyped-def]
    body = b'{"records": [{"monthly_charges": NaN, "days_since_last_login": Infinity}]}'
    fields = {e["field"] for e in errors(adapter, body)}
    assert {"records.0.monthly_charges", "records.0.days_since_last_login"} <= fields or "<body>" in fields
