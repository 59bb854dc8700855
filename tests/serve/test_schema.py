"""The request decoder is generated from configs/features.yaml (unit)."""

from typing import Any

import orjson
import pytest

from modelops.serve import schema
from tests.helpers.fixture import fixture_configs


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The fixture package's schema (tests/fixture_model), not the example's."""
    return fixture_configs(tmp_path_factory.mktemp("schema")).features


@pytest.fixture(scope="module")
def codec(features) -> schema.RequestCodec:  # type: ignore[no-untyped-def]
    return schema.RequestCodec(features, max_rows=5)


def valid(features) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """One record that satisfies every declared rule, built from the schema itself."""
    from modelops.serve.scoring import warmup_records

    rec = warmup_records(features, 1, seed=3)[0]
    return {
        f.name: (f.categories[0] if f.kind == "categorical" else rec[f.name] or f.min or 0)
        for f in features.features
    }


def body(*records: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"records": list(records), **extra})


def errors(codec: schema.RequestCodec, raw: bytes) -> list[dict[str, Any]]:
    with pytest.raises(schema.RequestError) as exc:
        codec.decode(raw)
    return exc.value.errors


def int_feature(features):  # type: ignore[no-untyped-def]
    return next(f for f in features.features if f.kind == "numeric" and f.dtype == "int")


def test_json_schema_mirrors_the_feature_config(features) -> None:  # type: ignore[no-untyped-def]
    js = schema.request_json_schema(features, 7, "#/x/")
    rec = js["Record"]
    assert rec["additionalProperties"] is False and js["PredictRequest"]["additionalProperties"] is False
    assert set(rec["properties"]) == set(features.names)
    assert set(rec["required"]) == {f.name for f in features.features if not f.nullable}
    assert js["PredictRequest"]["properties"]["records"]["maxItems"] == 7


def test_valid_record_with_nulls_and_omitted_nullables(features, codec) -> None:  # type: ignore[no-untyped-def]
    nullable = [f.name for f in features.features if f.nullable]
    assert len(nullable) >= 2, "the fixture schema has nullable features"
    rec = valid(features)
    rec[nullable[0]] = None
    del rec[nullable[1]]
    batch = codec.decode(body(rec))
    logged = next(iter(batch.records()))
    assert logged[nullable[0]] is None and logged[nullable[1]] is None
    assert set(logged) == set(features.names)


def test_integral_floats_are_accepted_for_integer_features(features, codec) -> None:  # type: ignore[no-untyped-def]
    f = int_feature(features)
    value = int(f.max or 100) - 1
    rec = {**valid(features), f.name: float(value)}
    raw = body(rec)
    assert b'"%s":%d.0' % (f.name.encode(), value) in raw  # what a pandas column with NaNs serialises to
    batch = codec.decode(raw)
    logged = next(iter(batch.records()))[f.name]
    assert logged == value and type(logged) is int
    assert batch.column(f.name)[0] == value


def test_fractional_float_for_an_integer_feature_names_the_field(features, codec) -> None:  # type: ignore[no-untyped-def]
    f = int_feature(features)
    rec = {**valid(features), f.name: (f.min or 0) + 1.5}  # in range: only the fraction is wrong
    found = errors(codec, body(valid(features), rec))
    assert [(e["field"], e["type"]) for e in found] == [(f"records.1.{f.name}", "int_from_float")]


def test_duplicate_keys_are_rejected_naming_the_key(features, codec) -> None:  # type: ignore[no-untyped-def]
    name = features.names[0]
    raw = body(valid(features), valid(features))
    second = raw.index(b'"%s"' % name.encode(), raw.index(b"},{"))
    dup = raw[:second] + b'"%s":%s,' % (name.encode(), orjson.dumps(valid(features)[name])) + raw[second:]
    found = errors(codec, dup)
    assert [(e["field"], e["type"]) for e in found] == [(f"records.1.{name}", "duplicate_key")]
    assert name in found[0]["msg"]
    # A repeated top-level key is caught too, and whitespace before the colon changes nothing.
    assert errors(codec, b'{"records": [], "records": ' + raw[len(b'{"records":') :])[0]["type"] in (
        "duplicate_key",
        "too_short",
    )
    spaced = raw.replace(b'":', b'" :')
    assert len(codec.decode(spaced)) == 2


def test_errors_name_the_field_path(features, codec) -> None:  # type: ignore[no-untyped-def]
    cat = next(f for f in features.features if f.kind == "categorical" and not f.nullable)
    num = next(f for f in features.features if f.kind == "numeric" and f.max is not None and not f.nullable)
    good = valid(features)
    cases = [
        (body({k: v for k, v in good.items() if k != cat.name}), f"records.0.{cat.name}", "missing"),
        (body({**good, cat.name: "not-a-category"}), f"records.0.{cat.name}", "literal_error"),
        (body({**good, num.name: num.max + 1}), f"records.0.{num.name}", "less_than_equal"),
        (body({**good, num.name: "5"}), f"records.0.{num.name}", None),
        (body({**good, cat.name: None}), f"records.0.{cat.name}", "literal_error"),
        (body({**good, "not_a_feature": 7}), "records.0.not_a_feature", "extra_forbidden"),
        (body(good, x=1), "x", "extra_forbidden"),
        (body(), "records", "too_short"),
        (b'{"records": ', "<body>", "json_invalid"),
        (
            body(good).replace(b'"%s":' % num.name.encode(), b'"%s":NaN,"_":' % num.name.encode()),
            "<body>",
            "json_invalid",
        ),
    ]
    for raw, field, kind in cases:
        found = errors(codec, raw)
        assert found[0]["field"] == field, (raw, found)
        if kind:
            assert found[0]["type"] == kind, (raw, found)
    assert cat.categories[0] in errors(codec, cases[1][0])[0]["msg"]


def test_more_records_than_the_limit(features, codec) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(schema.TooManyRecords, match="6 records; the limit is 5"):
        codec.decode(body(*[valid(features)] * 6))
