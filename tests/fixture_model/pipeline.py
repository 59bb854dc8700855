"""The fixture's contract function: logistic regression, or gradient-boosted trees.

`logistic_regression` (impute, scale, one-hot) is what the conformance test trains.
`hist_gradient_boosting` has the shape the machinery compiles (numeric passthrough and
NaN-for-unknown ordinal codes into a HistGradientBoostingClassifier with a categorical mask):
the server's fast path (modelops.serve.fastpath) and batch scoring's tree kernel
(modelops.score.trees) run on it, so the machinery tests exercise them.
"""

from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from modelops.data.schema import FeatureSchema

ESTIMATORS = ("logistic_regression", "hist_gradient_boosting")


def build_pipeline(features: FeatureSchema, estimator: str, params: dict[str, Any], seed: int) -> Pipeline:
    """Contract function (build_pipeline): an unfitted pipeline over the declared features."""
    if estimator == "hist_gradient_boosting":
        return _trees(features, params, seed)
    if estimator == "logistic_regression":
        return _linear(features, params, seed)
    raise ValueError(
        f"train.estimator: the fixture model supports {', '.join(ESTIMATORS)}, not {estimator!r}"
    )


def _categories(features: FeatureSchema) -> list[list[str]]:
    return [list(features.feature(c).categories or ()) for c in features.categorical]


def _trees(features: FeatureSchema, params: dict[str, Any], seed: int) -> Pipeline:
    encode = ColumnTransformer(
        [
            ("num", "passthrough", features.numeric),
            (
                "cat",
                # Unknown and missing categories both become NaN, which the trees route natively.
                OrdinalEncoder(
                    categories=_categories(features),
                    handle_unknown="use_encoded_value",
                    unknown_value=float("nan"),
                    encoded_missing_value=float("nan"),
                ),
                features.categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    mask = [False] * len(features.numeric) + [True] * len(features.categorical)
    model = HistGradientBoostingClassifier(
        categorical_features=mask, early_stopping=False, random_state=seed, **params
    )
    return Pipeline([("encode", encode), ("model", model)])


def _linear(features: FeatureSchema, params: dict[str, Any], seed: int) -> Pipeline:
    encode = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), features.numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(categories=_categories(features), handle_unknown="ignore"),
                ),
                features.categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression(random_state=seed, **params))])
