"""The fixture's data: a seeded loan-default table of any size.

Two ways in, both used by the tests:
- `write_csv`: a plain CSV (what a team's export looks like), read by the ready-made
  `modelops.data.loaders:load_file` (the conformance test: no id, timestamp or segment);
- `load_raw` with `Source`: the contract's generator (the machinery tests' shared project:
  `keys: true` adds an id and a timestamp, `scenario` switches on the failures monitoring,
  validation and the gate must catch).
"""

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field

from modelops.strict import Strict

ROWS = 400
LABEL = "defaulted"
EMPLOYMENT = ("salaried", "self_employed", "unemployed")
HOUSING = ("rent", "own", "mortgage")
# With keys: the row's identity and when the application was made.
ID_COLUMN = "applicant_id"
TIMESTAMP_COLUMN = "applied_at"
# The segment the keyed configs judge separately (~10% of rows); `segment_shift` moves only it.
SEGMENT = ("employment", "unemployed")


class Scenario(Strict):
    """Failure-mode switches (all off for a healthy table)."""

    covariate_drift: float = Field(default=0.0, ge=0, le=1)  # richer, younger, more accounts
    zero_fill_feature: str | None = None  # a broken upstream job writes 0 into this column
    zero_fill_fraction: float = Field(default=0.0, ge=0, le=1)
    segment_shift: float = Field(default=0.0, ge=0, le=1)  # drift confined to the segment
    label_shift: float = Field(default=0.0, ge=0, le=1)  # defaults change, features do not


class Source(Strict):
    """configs/data.yaml `source:` for the generator (configs/model.yaml contract.source_config)."""

    rows: int = Field(default=ROWS, ge=1)
    seed: int = 0
    keys: bool = False
    start: str = "2025-01-01"
    days: int = Field(default=365, ge=1)
    scenario: Scenario = Scenario()

    def describe(self) -> str:
        switches = " ".join(f"{k}={v}" for k, v in self.scenario.model_dump(exclude_defaults=True).items())
        text = f"loans generator rows={self.rows} seed={self.seed} keys={self.keys}"
        return f"{text} scenario: {switches}" if switches else text


def load_raw(source: Source) -> pd.DataFrame:
    """Contract function (load_data): the table `source` describes."""
    return generate(
        source.rows,
        source.seed,
        keys=source.keys,
        start=source.start,
        days=source.days,
        scenario=source.scenario,
    )


def generate(
    rows: int = ROWS,
    seed: int = 0,
    *,
    keys: bool = False,
    start: str = "2025-01-01",
    days: int = 365,
    scenario: Scenario | None = None,
) -> pd.DataFrame:
    """`rows` applicants; the default risk depends on income, age, accounts and employment.

    Missing values: income 6%, age 4% (so the integer column is float in pandas and CSV),
    employment 5%. About two in five default; a logistic model reaches ROC AUC ~0.75.
    Identical arguments give identical frames; the scenario switches and `keys` leave the
    healthy draws as they are (keys come from their own stream).
    """
    sc = scenario or Scenario()
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.6 + 0.35 * sc.covariate_drift, 0.45, rows).round(2)
    age = (rng.integers(19, 76, rows) - np.rint(10 * sc.covariate_drift)).clip(18, None).astype(float)
    accounts = rng.poisson(2.5 * (1 + 0.8 * sc.covariate_drift), rows).clip(0, 30)
    employment = rng.choice(EMPLOYMENT, rows, p=(0.7, 0.2, 0.1)).astype(object)
    housing = rng.choice(HOUSING, rows, p=(0.4, 0.25, 0.35)).astype(object)
    in_segment = employment == SEGMENT[1]
    if sc.segment_shift:
        # Only the segment moves: its incomes fall and it opens more accounts.
        income = np.where(in_segment, (income * (1 - 0.6 * sc.segment_shift)).round(2), income)
        accounts = np.where(in_segment, (accounts + np.rint(4 * sc.segment_shift)).clip(0, 30), accounts)
    z_income = (np.log(income) - 10.6) / 0.45
    logit = (
        -0.8
        - 1.1 * z_income
        - 0.025 * (age - 45)
        + 0.25 * (accounts - 2.5)
        + 1.4 * in_segment
        + 0.5 * (housing == "rent")
    )
    if sc.label_shift:
        # Prior and concept shift: more defaults, and income stops protecting.
        logit = logit + 1.2 * sc.label_shift + 1.0 * sc.label_shift * z_income
    defaulted = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    income[rng.random(rows) < 0.06] = np.nan
    age[rng.random(rows) < 0.04] = np.nan
    employment[rng.random(rows) < 0.05] = None
    frame = pd.DataFrame(
        {
            "income": income,
            "age": age,
            "open_accounts": accounts.astype(np.int64),
            "employment": employment,
            "housing": housing,
            LABEL: defaulted,
        }
    )
    if sc.zero_fill_feature and sc.zero_fill_fraction:
        hit = np.random.default_rng([seed, 1]).random(rows) < sc.zero_fill_fraction
        frame.loc[hit, sc.zero_fill_feature] = 0
    if keys:
        # Row i is the same applicant in every snapshot (a larger one adds applicants), as a
        # warehouse's key would be; the eval-set tests rely on it.
        stamps = np.random.default_rng([seed, 2]).integers(0, days * 86400, rows)
        frame.insert(0, TIMESTAMP_COLUMN, pd.Timestamp(start) + pd.to_timedelta(stamps, unit="s"))
        frame.insert(0, ID_COLUMN, [f"A{i:07d}" for i in range(rows)])
    return frame


def write_csv(path: Path, rows: int = ROWS, seed: int = 0) -> Path:
    """Write the table as a plain CSV (what a team's export looks like) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    generate(rows, seed).to_csv(path, index=False)
    return path
