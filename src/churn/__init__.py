"""The example model: customer churn. YOURS to replace.

The machinery (``modelops``) reaches this package only through the entries
named in ``configs/model.yaml`` under ``contract`` (two functions and the model of
the data source, ``source_config: churn.data:Source``):

``load_data(source: churn.data.Source) -> pandas.DataFrame``
    The raw snapshot: the id, timestamp and label columns plus every feature
    declared in ``configs/features.yaml``. ``source`` is ``configs/data.yaml``
    ``source:`` validated by the model named in ``contract.source_config``. Here it
    is a seeded generator; a real team reads its warehouse instead, or points the
    contract at ``modelops.data.loaders`` (``load_file``/``FileSource``,
    ``load_sql``/``SqlSource``) and writes no loader.

``build_pipeline(features: FeatureSchema, estimator: str, params: dict, seed: int) -> Pipeline``
    An *unfitted* scikit-learn Pipeline whose input is a DataFrame of the declared
    feature columns and which implements ``predict_proba``.

``tests/test_contract.py`` (this package's own tests, which a team replaces) checks both and
explains a broken edit.
"""
