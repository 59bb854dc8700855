"""A tiny model package that is not churn: the machinery's tests swap it in for the example.

Loan defaults: a few hundred rows written to a CSV by the test (`data.write_csv`), numeric and
categorical features with missing values, the label `defaulted`, and no id, timestamp or
segment column. `configs/` holds what a team would write in the repository's `configs/`
for it; `pipeline.build_pipeline` is its contract function. Nothing here imports churn.

Importable as `fixture_model` once its parent directory is on sys.path (the conformance
test copies it to `src/fixture_model` of a project copy, as the README's checklist says).
"""
