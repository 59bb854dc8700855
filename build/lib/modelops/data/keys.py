"""A row's identity for the split and the evaluation-set pin, with or without an id column.

With `id_column` the key is the id itself. Without one it is a stable 64-bit hash of the
row's `key_columns` (configs/features.yaml), by default every declared feature: the same
row content gets the same key in every snapshot, so it stays in its hash bucket and a
pinned evaluation row is recognised wherever it reappears. Values are normalised before
hashing (numbers as float64, everything else as text, a missing value as one marker), so
an integer column that gains a missing value (and turns float in pandas) or a category
read from CSV instead of Parquet keeps its keys.
"""

import pandas as pd

from modelops.data.schema import FeatureSchema
from modelops.errors import SchemaViolation

_MISSING = "\x00<missing>"  # cannot collide with a real text value from a table


def key_columns(features: FeatureSchema) -> list[str]:
    """The columns a row's key is computed from."""
    if features.id_column is not None:
        return [features.id_column]
    return list(features.key_columns or features.names)


def describe(features: FeatureSchema) -> str:
    """One line for reports: what identifies a row."""
    if features.id_column is not None:
        return f"id column {features.id_column!r}"
    if features.key_columns:
        return f"hash of key columns {list(features.key_columns)}"
    return "hash of the row's declared features (no id_column)"


def _normalised(column: pd.Series) -> pd.Series:
    # Booleans count as text: as float64 they would hash like the numbers 0 and 1.
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        # One NaN bit pattern and no negative zero: equal values hash equally.
        values = column.astype("float64") + 0.0
        return values.where(values.notna(), float("nan"))
    return column.astype(object).map(lambda v: _MISSING if pd.isna(v) else str(v))


def row_keys(frame: pd.DataFrame, features: FeatureSchema, source: str) -> pd.Series:
    """The key of every row of `frame` (index dropped); `source` names the table in errors."""
    columns = key_columns(features)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        what = "id column" if features.id_column is not None else "key column(s)"
        raise SchemaViolation(
            f"{source}: missing {what} {missing} (configs/features.yaml); the split and the "
            "evaluation-set pin identify rows by them"
        )
    if features.id_column is not None:
        return frame[features.id_column].reset_index(drop=True)
    normalised = pd.DataFrame({c: _normalised(frame[c]) for c in columns}).reset_index(drop=True)
    return pd.util.hash_pandas_object(normalised, index=False).rename("row_key")
