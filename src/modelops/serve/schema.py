"""Request and response models generated from the declared feature schema (pure).

The request model is the API contract: types, allowed categories, ranges and
nullability all come from configs/features.yaml, so retraining on a changed schema
changes the API in the same commit.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from modelops.data.schema import Feature, FeatureSchema

_FORBID = ConfigDict(extra="forbid")


def _field_type(f: Feature) -> tuple[Any, Any]:
    if f.kind == "categorical":
        base: Any = Literal[tuple(f.categories or ())]  # type: ignore[valid-type]
        meta = Field(description=f.description or f"one of {list(f.categories or ())}")
    else:
        # strict: "5" is not a number; bounds reject NaN and infinities as well.
        py = int if f.dtype == "int" else float
        meta = Field(ge=f.min, le=f.max, strict=True, description=f.description or None)
        base = py
    if f.nullable:
        return Annotated[base | None, meta], None
    return Annotated[base, meta], ...


def record_model(features: FeatureSchema) -> type[BaseModel]:
    """One record: every declared feature; nullable ones may be null or absent."""
    fields = {f.name: _field_type(f) for f in features.features}
    return create_model("Record", __config__=_FORBID, **fields)  # type: ignore[call-overload, no-any-return]


def request_model(features: FeatureSchema) -> type[BaseModel]:
    record = record_model(features)
    return create_model(  # type: ignore[call-overload, no-any-return]
        "PredictRequest",
        __config__=_FORBID,
        records=(
            list[record],  # type: ignore[valid-type]
            Field(min_length=1, description="one or more records, scored in order"),
        ),
    )


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


def validation_errors(exc: Any) -> list[dict[str, Any]]:
    """pydantic errors -> [{field, loc, msg, type}] with the field path spelled out."""
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = list(err["loc"])
        out.append(
            {
                "field": ".".join(str(p) for p in loc) or "<body>",
                "loc": loc,
                "msg": err["msg"],
                "type": err["type"],
            }
        )
    return out


def request_adapter(features: FeatureSchema) -> TypeAdapter[Any]:
    return TypeAdapter(request_model(features))
