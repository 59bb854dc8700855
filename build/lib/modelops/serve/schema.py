"""The /predict request contract, generated from the declared feature schema (pure).

configs/features.yaml is the one source: `RequestCodec` compiles it into a msgspec
decoder that validates the raw body in one pass (types, allowed categories, ranges,
nullability, unknown fields) and hands back the numeric columns as float arrays;
`request_json_schema` renders the same rules as the OpenAPI document. Retraining on a
changed schema changes the API in the same commit.

What JSON clients send is accepted where it is unambiguous: an integer feature takes
`181` or `181.0` (pandas writes integer columns with missing values as floats) and
becomes 181; `181.5` is a 422 naming the field.
"""

import math
import operator
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
from pydantic import BaseModel, Field

from modelops.data.schema import Feature, FeatureSchema

UNSET = msgspec.UNSET
_FLOAT = np.float64
_KEY_END = re.compile(rb'"\s*:')  # the end of an object key: closing quote, optional space, colon
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _int_bounds(f: Feature) -> tuple[int | None, int | None]:
    lo = None if f.min is None else math.ceil(f.min)
    hi = None if f.max is None else math.floor(f.max)
    return lo, hi


def _field_type(f: Feature) -> Any:
    if f.kind == "categorical":
        base: Any = Literal[tuple(f.categories or ())]  # type: ignore[valid-type]
    elif f.dtype == "int":
        lo, hi = _int_bounds(f)
        # int, or a float checked to be integral after decoding (one vectorised test per column)
        base = Annotated[int, msgspec.Meta(ge=lo, le=hi)] | Annotated[float, msgspec.Meta(ge=lo, le=hi)]
    else:
        # msgspec's float accepts JSON integers too; NaN/Infinity are not JSON and fail to parse.
        base = Annotated[float, msgspec.Meta(ge=f.min, le=f.max)]
    if f.nullable:
        return base | None | msgspec.UnsetType
    return base


class RequestError(Exception):
    """A 422: the body is not a valid request. `errors` are [{field, loc, msg, type}]."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["msg"] if errors else "invalid request")
        self.errors = errors


class TooManyRecords(Exception):
    """A 413: more records than max_batch_rows."""


def _error(loc: Sequence[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"field": ".".join(str(p) for p in loc) or "<body>", "loc": list(loc), "msg": msg, "type": kind}


@dataclass(frozen=True)
class Batch:
    """A validated request: the numeric features as one float matrix, the categorical as columns."""

    structs: list[Any]  # the decoded records (msgspec Structs), for the log
    numeric_names: tuple[str, ...]
    numeric: np.ndarray  # (rows, numeric features) float64, NaN for null/absent
    categorical: dict[str, tuple[Any, ...]]  # raw values; None/UNSET for null/absent
    int_features: frozenset[str]

    def __len__(self) -> int:
        return len(self.structs)

    def column(self, name: str) -> Any:
        if name in self.categorical:
            return self.categorical[name]
        return self.numeric[:, self.numeric_names.index(name)]

    def records(self) -> "Records":
        return Records(self)


class Records(Sequence[dict[str, Any]]):
    """The batch as JSON-ready dicts, built on first use (by the log writer's thread, not the request)."""

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        self._dicts: list[dict[str, Any]] | None = None

    def _build(self) -> list[dict[str, Any]]:
        if self._dicts is None:
            ints = self._batch.int_features
            out = []
            for struct in self._batch.structs:
                rec = msgspec.structs.asdict(struct)
                for k, v in rec.items():
                    if v is UNSET:
                        rec[k] = None
                    elif k in ints and type(v) is float:
                        rec[k] = int(v)  # 181.0 was accepted as 181
                out.append(rec)
            self._dicts = out
        return self._dicts

    def __len__(self) -> int:
        return len(self._batch.structs)

    def __getitem__(self, i: Any) -> Any:
        return self._build()[i]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._build())


def _tuple_getter(names: Sequence[str]) -> Any:
    """struct -> tuple of the named attributes (C-level attrgetter; always a tuple)."""
    if not names:
        return lambda r: ()
    getter = operator.attrgetter(*names)
    return getter if len(names) > 1 else (lambda r: (getter(r),))


class RequestCodec:
    """Body bytes -> Batch, or RequestError naming the field path."""

    def __init__(self, features: FeatureSchema, max_rows: int) -> None:
        self.features = features
        self.names = tuple(features.names)
        self.max_rows = max_rows
        fields = [
            (f.name, _field_type(f), UNSET) if f.nullable else (f.name, _field_type(f))
            for f in features.features
        ]
        record = msgspec.defstruct("Record", fields, kw_only=True, forbid_unknown_fields=True)
        request = msgspec.defstruct(
            "PredictRequest",
            [("records", Annotated[list[record], msgspec.Meta(min_length=1)])],  # type: ignore[valid-type]
            forbid_unknown_fields=True,
        )
        self._decoder = msgspec.json.Decoder(request)
        self._numeric = [f.name for f in features.features if f.kind == "numeric"]
        self._categorical = [f.name for f in features.features if f.kind == "categorical"]
        self._num_row = _tuple_getter(self._numeric)
        self._cat_row = _tuple_getter(self._categorical)
        self._ints = frozenset(f.name for f in features.features if f.kind == "numeric" and f.dtype == "int")
        self._int_cols = [j for j, n in enumerate(self._numeric) if n in self._ints]
        self._nullable = any(f.nullable for f in features.features)
        # Counting key ends in the raw body finds duplicate keys without a second parse; it is
        # exact because every string left after validation is a field name or a declared category.
        self._count_keys = not any(
            set(c) & set('"\\:') for f in features.features for c in (f.categories or ())
        )

    # --- decoding -----------------------------------------------------------------------
    def decode(self, body: bytes) -> Batch:
        try:
            req = self._decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise RequestError([self._translate(str(exc))]) from None
        except msgspec.DecodeError as exc:
            raise RequestError([_error([], f"Invalid JSON: {exc}", "json_invalid")]) from None
        recs = req.records  # type: ignore[attr-defined]
        if len(recs) > self.max_rows:
            raise TooManyRecords(f"{len(recs)} records; the limit is {self.max_rows} per request")
        num_rows = list(map(self._num_row, recs))
        cat_rows = list(map(self._cat_row, recs))
        if self._count_keys or self._nullable:
            self._check_duplicates(body, num_rows, cat_rows)
        try:
            matrix = np.array(num_rows, dtype=_FLOAT).reshape(len(recs), len(self._numeric))  # None -> NaN
        except TypeError:  # UNSET: an omitted nullable field
            matrix = np.array(
                [[None if v is UNSET else v for v in row] for row in num_rows], dtype=_FLOAT
            ).reshape(len(recs), len(self._numeric))
        if self._int_cols:
            ints = matrix[:, self._int_cols]
            frac = (ints != np.trunc(ints)) & ~np.isnan(ints)
            if frac.any():
                i, j = (int(x[0]) for x in np.nonzero(frac))
                name = self._numeric[self._int_cols[j]]
                raise RequestError(
                    [
                        _error(
                            ["records", i, name],
                            f"Input should be a whole number, got {ints[i, j]!r}",
                            "int_from_float",
                        )
                    ]
                )
        categorical = dict(zip(self._categorical, zip(*cat_rows, strict=True), strict=True))
        return Batch(recs, tuple(self._numeric), matrix, categorical, self._ints)

    def _check_duplicates(self, body: bytes, *parts: list[tuple[Any, ...]]) -> None:
        if self._count_keys:
            missing = sum(r.count(UNSET) for rows in parts for r in rows) if self._nullable else 0
            expected = 1 + len(parts[0]) * len(self.names) - missing
            if body.count(b'":') == expected or len(_KEY_END.findall(body)) == expected:
                return
        dup = find_duplicate_key(body)
        if dup is not None:
            loc, key = dup
            raise RequestError([_error([*loc, key], f"Duplicate key {key!r}", "duplicate_key")])

    def _translate(self, text: str) -> dict[str, Any]:
        """A msgspec validation message -> {field, loc, msg, type}, worded for API clients."""
        m = _AT.match(text)
        msg, path = (m["msg"], m["path"] or "") if m else (text, "")
        loc: list[str | int] = [int(i) if i else k for k, i in _PATH_PART.findall(path)]
        name = next((p for p in reversed(loc) if isinstance(p, str)), "")
        if found := re.match(r"Object missing required field `(.+)`", msg):
            return _error([*loc, found[1]], "Field required", "missing")
        if found := re.match(r"Object contains unknown field `(.+)`", msg):
            return _error([*loc, found[1]], "Extra inputs are not permitted", "extra_forbidden")
        if msg.startswith("Invalid enum value") or (name in self.names and "got" in msg and self._cat(name)):
            cats = list(self.features.feature(name).categories or ()) if name in self.names else []
            return _error(loc, f"Input should be one of {cats}", "literal_error")
        if found := re.match(r"Expected `.+?` (<=|>=) (\S+)", msg):
            op, bound = found[1], found[2]
            kind = "less_than_equal" if op == "<=" else "greater_than_equal"
            if name == "records":
                return _error(loc, "List should have at least 1 item", "too_short")
            word = "less" if op == "<=" else "greater"
            return _error(loc, f"Input should be {word} than or equal to {bound}", kind)
        if found := re.match(r"Expected `array` of length >= (\d+)", msg):
            return _error(loc, f"List should have at least {found[1]} item", "too_short")
        if found := re.match(r"Expected `(.+?)`, got `(.+?)`", msg):
            if name in self._ints:
                return _error(loc, f"Input should be a valid integer, got {found[2]}", "int_type")
            if name in self.names:
                return _error(loc, f"Input should be a valid number, got {found[2]}", "float_type")
            return _error(loc, f"Input should be {found[1]}, got {found[2]}", "type_error")
        if msg.startswith("Number out of range"):
            return _error(loc, "Input should be a finite number", "finite_number")
        return _error(loc, msg, "value_error")

    def _cat(self, name: str) -> bool:
        return self.features.feature(name).kind == "categorical"


def find_duplicate_key(body: bytes) -> tuple[list[str | int], str] | None:
    """(path of the object, key) of the first repeated key in a validated body, or None.

    Slow (the stdlib parser); runs only when the key count says something is repeated.
    """
    import json

    objects: list[str | None] = []  # per object, in closing order: records first, the body last

    def hook(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        objects.append(next((k for i, k in enumerate(keys) if k in keys[:i]), None))
        return dict(items)

    try:
        json.loads(body, object_pairs_hook=hook)
    except ValueError:
        return None
    *records, top = objects or [None]
    if top is not None:
        return [], top
    for i, dup in enumerate(records):
        if dup is not None:
            return ["records", i], dup
    return None


# --- the OpenAPI rendering of the same rules -------------------------------------------------
def _property(f: Feature) -> dict[str, Any]:
    if f.kind == "categorical":
        prop: dict[str, Any] = {"enum": list(f.categories or ())}
    else:
        # JSON Schema's "integer" is any number with a zero fraction, so 181.0 conforms.
        prop = {"type": "integer" if f.dtype == "int" else "number"}
        lo, hi = _int_bounds(f) if f.dtype == "int" else (f.min, f.max)
        if lo is not None:
            prop["minimum"] = lo
        if hi is not None:
            prop["maximum"] = hi
    if f.nullable:
        prop = {"anyOf": [prop, {"type": "null"}]}
    prop["description"] = f.description or (
        f"one of {list(f.categories or ())}" if f.kind == "categorical" else f"{f.dtype} feature"
    )
    return prop


def request_json_schema(features: FeatureSchema, max_rows: int, ref_prefix: str) -> dict[str, Any]:
    """{"PredictRequest": ..., "Record": ...}: JSON Schemas of what `RequestCodec` accepts."""
    record = {
        "title": "Record",
        "type": "object",
        "properties": {f.name: _property(f) for f in features.features},
        "required": [f.name for f in features.features if not f.nullable],
        "additionalProperties": False,
        "description": "One record: every declared feature; nullable ones may be null or absent.",
    }
    request = {
        "title": "PredictRequest",
        "type": "object",
        "properties": {
            "records": {
                "type": "array",
                "items": {"$ref": f"{ref_prefix}Record"},
                "minItems": 1,
                "maxItems": max_rows,
                "description": "one or more records, scored in order",
            }
        },
        "required": ["records"],
        "additionalProperties": False,
    }
    return {"PredictRequest": request, "Record": record}


# --- response documentation ------------------------------------------------------------------
class Prediction(BaseModel):
    score: float = Field(ge=0, le=1, description="probability of the positive class")
    label: Literal[0, 1]


class PredictResponse(BaseModel):
    model_version: str
    request_id: str
    predictions: list[Prediction]


class ErrorItem(BaseModel):
    field: str = Field(description="dotted path of the offending field, e.g. records.0.contract")
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(BaseModel):
    model_version: str
    request_id: str
    detail: list[ErrorItem] | str
