"""The example model: customer churn. YOURS to replace.

The machinery (``modelops``) reaches this package only through the two functions
named in ``configs/model.yaml`` under ``contract``:

``load_data(source: modelops.settings.Source) -> pandas.DataFrame``
    The raw snapshot: the id, timestamp and label columns plus every feature
    declared in ``configs/features.yaml``. Here it is a seeded generator; a real
    team reads its warehouse instead.

``build_pipeline(features: FeatureSchema, estimator: str, params: dict, seed: int) -> Pipeline``
    An *unfitted* scikit-learn Pipeline whose input is a DataFrame of the declared
    feature columns and which implements ``predict_proba``.

``tests/contract/test_contract.py`` checks both and explains a broken edit.
"""
