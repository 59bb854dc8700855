"""The fixture's data: a seeded loan-default table, written to CSV by the test that needs it."""

from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 400
LABEL = "defaulted"
EMPLOYMENT = ("salaried", "self_employed", "unemployed")
HOUSING = ("rent", "own", "mortgage")


def generate(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """`rows` applicants; the default risk depends on income, age, accounts and employment.

    Missing values: income 6%, age 4% (so the integer column is float in pandas and CSV),
    employment 5%. About two in five default; a logistic model reaches ROC AUC ~0.75.
    """
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.6, 0.45, rows).round(2)
    age = rng.integers(19, 76, rows).astype(float)
    accounts = rng.poisson(2.5, rows).clip(0, 30)
    employment = rng.choice(EMPLOYMENT, rows, p=(0.7, 0.2, 0.1)).astype(object)
    housing = rng.choice(HOUSING, rows, p=(0.4, 0.25, 0.35)).astype(object)
    z_income = (np.log(income) - 10.6) / 0.45
    logit = (
        -0.8
        - 1.1 * z_income
        - 0.025 * (age - 45)
        + 0.25 * (accounts - 2.5)
        + 1.4 * (employment == "unemployed")
        + 0.5 * (housing == "rent")
    )
    defaulted = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    income[rng.random(rows) < 0.06] = np.nan
    age[rng.random(rows) < 0.04] = np.nan
    employment[rng.random(rows) < 0.05] = None
    return pd.DataFrame(
        {
            "income": income,
            "age": age,
            "open_accounts": accounts.astype(np.int64),
            "employment": employment,
            "housing": housing,
            LABEL: defaulted,
        }
    )


def write_csv(path: Path, rows: int = ROWS, seed: int = 0) -> Path:
    """Write the table as a plain CSV (what a team's export looks like) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    generate(rows, seed).to_csv(path, index=False)
    return path
