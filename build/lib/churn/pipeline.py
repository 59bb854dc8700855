"""The unfitted scikit-learn pipeline for churn. YOURS."""

from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from modelops.data.schema import FeatureSchema


def build_pipeline(features: FeatureSchema, estimator: str, params: dict[str, Any], seed: int) -> Pipeline:
    """Contract function: ColumnTransformer + the estimator chosen in configs/train.yaml."""
    if estimator == "hist_gradient_boosting":
        return _hgb(features, params, seed)
    if estimator == "logistic_regression":
        return _linear(features, LogisticRegression(max_iter=1000, random_state=seed, **params))
    if estimator == "random_forest":
        return _linear(features, RandomForestClassifier(random_state=seed, n_jobs=1, **params))
    raise ValueError(f"train.estimator: unknown estimator {estimator!r}")


def _categories(features: FeatureSchema) -> list[list[str]]:
    return [list(features.feature(c).categories or ()) for c in features.categorical]


def _hgb(features: FeatureSchema, params: dict[str, Any], seed: int) -> Pipeline:
    n_num = len(features.numeric)
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
    categorical_mask = [False] * n_num + [True] * len(features.categorical)
    model = HistGradientBoostingClassifier(
        categorical_features=categorical_mask, early_stopping=False, random_state=seed, **params
    )
    return Pipeline([("encode", encode), ("model", model)])


def _linear(features: FeatureSchema, model: Any) -> Pipeline:
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
    return Pipeline([("encode", encode), ("model", model)])
