"""The fixture's contract function: a small scikit-learn pipeline (impute, scale, one-hot, logistic)."""

from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelops.data.schema import FeatureSchema


def build_pipeline(features: FeatureSchema, estimator: str, params: dict[str, Any], seed: int) -> Pipeline:
    """Contract function (build_pipeline): an unfitted pipeline over the declared features."""
    if estimator != "logistic_regression":
        raise ValueError(
            f"train.estimator: the fixture model supports logistic_regression, not {estimator!r}"
        )
    categories = [list(features.feature(c).categories or ()) for c in features.categorical]
    encode = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), features.numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(categories=categories, handle_unknown="ignore"),
                ),
                features.categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression(random_state=seed, **params))])
