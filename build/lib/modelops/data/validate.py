"""Data validation: the declared feature schema as a pandera schema, failing closed.

The report names the column and the rule of every failure; the first one is the
one-line error the pipeline stops with.
"""

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from modelops.data.schema import Feature, FeatureSchema
from modelops.errors import SchemaViolation


def _null_rate_check(limit: float) -> pa.Check:
    # ignore_na=False: pandera drops nulls before checks by default, hiding a null spike.
    return pa.Check(
        lambda s: bool(s.isna().mean() <= limit),
        element_wise=False,
        ignore_na=False,
        name=f"max_null_rate<={limit:g}",
    )


def _numeric_dtype() -> pa.Check:
    return pa.Check(
        lambda s: bool(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)),
        element_wise=False,
        name="dtype=numeric",
    )


def _integral() -> pa.Check:
    return pa.Check(lambda s: bool((s.dropna() % 1 == 0).all()), element_wise=False, name="dtype=int")


def _column(f: Feature) -> pa.Column:
    checks: list[pa.Check] = [_null_rate_check(f.max_null_rate)]
    if f.kind == "numeric":
        # Dtype first: range checks on strings would raise instead of reporting.
        checks.insert(0, _numeric_dtype())
        if f.dtype == "int":
            checks.append(_integral())
        if f.min is not None:
            checks.append(pa.Check.ge(f.min, name=f"min>={f.min:g}"))
        if f.max is not None:
            checks.append(pa.Check.le(f.max, name=f"max<={f.max:g}"))
    else:
        checks.append(
            pa.Check.isin(list(f.categories or ()), name=f"allowed categories {list(f.categories or ())}")
        )
    return pa.Column(checks=checks, nullable=True, required=True, coerce=False)


def build_schema(features: FeatureSchema, with_label: bool = True) -> pa.DataFrameSchema:
    columns = {f.name: _column(f) for f in features.features}
    # Optional columns are checked only when features.yaml declares them.
    if features.id_column is not None:
        columns[features.id_column] = pa.Column(nullable=False, unique=False, required=True)
    for key in features.key_columns or ():
        columns.setdefault(key, pa.Column(nullable=True, required=True))
    if features.timestamp_column is not None:
        columns[features.timestamp_column] = pa.Column(
            checks=[
                pa.Check(
                    lambda s: bool(pd.api.types.is_datetime64_any_dtype(s)),
                    element_wise=False,
                    name="dtype=datetime",
                )
            ],
            nullable=False,
            required=True,
        )
    frame_checks = [
        pa.Check(
            lambda df: features.row_count.min <= len(df) <= features.row_count.max,
            name=f"row_count in [{features.row_count.min:g}, {features.row_count.max:g}]",
        )
    ]
    if with_label:
        lr = features.label_rate
        columns[features.label] = pa.Column(
            checks=[
                pa.Check.isin([0, 1], name="label in {0, 1}"),
                pa.Check(
                    lambda s: bool(lr.min <= s.mean() <= lr.max),
                    element_wise=False,
                    name=f"label_rate in [{lr.min:g}, {lr.max:g}]",
                ),
            ],
            nullable=False,
            required=True,
        )
    return pa.DataFrameSchema(columns, checks=frame_checks, strict=False, name="features.yaml")


# Structural failures explain the rest (a missing column fails every check on it), so they go first.
_FIRST = ("column_in_dataframe", "row_count")


def _failures(exc: SchemaErrors) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for (column, check), group in exc.failure_cases.groupby(["column", "check"], dropna=False, sort=False):
        values = group["failure_case"].head(3).tolist()
        if check == "column_in_dataframe":
            column, values = values[0], []
        examples = [v for v in values if not isinstance(v, bool)]
        column_name = "<table>" if pd.isna(column) or column == "features.yaml" else str(column)
        out.append({"column": column_name, "rule": str(check), "count": len(group), "examples": examples})
    out.sort(key=lambda f: not str(f["rule"]).startswith(_FIRST))
    return out


def validate_frame(frame: pd.DataFrame, features: FeatureSchema, with_label: bool = True) -> dict[str, Any]:
    """Validate `frame`; raise SchemaViolation naming the first broken column and rule."""
    if frame.empty and len(frame.columns) == 0:
        raise SchemaViolation("<table>: the file has no columns (empty file)")
    try:
        build_schema(features, with_label).validate(frame, lazy=True)
    except SchemaErrors as exc:
        failures = _failures(exc)
        first = failures[0]
        more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
        example = f", e.g. {first['examples'][:2]}" if first["examples"] else ""
        raise SchemaViolation(
            f"column {first['column']!r} breaks rule {first['rule']!r} "
            f"({first['count']} failing value(s){example}){more}"
        ) from exc
    return {"status": "passed", "rows": len(frame), "columns": list(map(str, frame.columns))}
