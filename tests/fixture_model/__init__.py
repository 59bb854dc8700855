"""A tiny model package that is not the example: the machinery's tests swap it in for it.

Loan defaults (model `loans`, label `defaulted`): numeric and categorical features with
missing values. `data` generates the table at any size (a CSV for the conformance test; with
`keys`, an id `applicant_id`, a timestamp `applied_at` and the segment employment=unemployed
for the machinery tests), `pipeline.build_pipeline` is its contract function (logistic
regression or gradient-boosted trees). `configs/` holds what a team would write in the
repository's `configs/`; `swap.py` applies the README's checklist to a project copy (test
tooling, not copied into the package). Nothing here imports the example.

Importable as `fixture_model` once its parent directory is on sys.path (`swap.importable()`,
done by tests/conftest.py; a project copy has it under src/fixture_model).
"""
