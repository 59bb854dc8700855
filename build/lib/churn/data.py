"""A deterministic, seeded generator of customer-churn snapshots (1k to 10M rows).

Realistic structure: numeric and categorical features, a ~10% enterprise segment,
interactions, noise, a low rate of genuinely missing values and a 15-25% churn rate.
The scenario switches reproduce the failures monitoring and the gate must catch.
"""

import numpy as np
import pandas as pd
from pydantic import Field

from modelops.strict import Strict

PLANS = ("basic", "pro", "enterprise")
CONTRACTS = ("month-to-month", "one-year", "two-year")
REGIONS = ("north", "south", "east", "west")
PAYMENTS = ("card", "bank_transfer", "invoice", "paypal")
_CHUNK = 1_000_000


class Scenario(Strict):
    """Failure-mode switches (all off for a healthy snapshot)."""

    covariate_drift: float = Field(default=0.0, ge=0, le=1)
    zero_fill_feature: str | None = None
    zero_fill_fraction: float = Field(default=0.0, ge=0, le=1)
    segment_shift: float = Field(default=0.0, ge=0, le=1)
    label_shift: float = Field(default=0.0, ge=0, le=1)


class Source(Strict):
    """configs/data.yaml `source:` for this generator (configs/model.yaml contract.source_config)."""

    rows: int = Field(ge=1000, le=10_000_000)
    seed: int
    start: str
    days: int = Field(default=365, ge=1)
    scenario: Scenario = Scenario()

    def describe(self) -> str:
        """One line for the run params: the generator's arguments and any scenario switch that is on."""
        switches = " ".join(f"{k}={v}" for k, v in self.scenario.model_dump(exclude_defaults=True).items())
        text = f"churn generator rows={self.rows} seed={self.seed} start={self.start} days={self.days}"
        return f"{text} scenario: {switches}" if switches else text


def load_raw(source: Source) -> pd.DataFrame:
    """Contract function: the raw snapshot described by `source`."""
    return generate(source.rows, source.seed, start=source.start, days=source.days, scenario=source.scenario)


def generate(
    rows: int, seed: int, *, start: str = "2025-01-01", days: int = 365, scenario: Scenario | None = None
) -> pd.DataFrame:
    """Generate `rows` customers; identical arguments give identical frames."""
    scenario = scenario or Scenario()
    # Chunked so 10M rows never hold every temporary array at once; each chunk
    # has its own child seed, so the output does not depend on the chunk size's history.
    seeds = np.random.SeedSequence(seed).spawn((rows + _CHUNK - 1) // _CHUNK)
    parts = [
        _chunk(np.random.default_rng(s), i * _CHUNK, min(_CHUNK, rows - i * _CHUNK), start, days, scenario)
        for i, s in enumerate(seeds)
    ]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    for col, cats in (
        ("plan", PLANS),
        ("contract", CONTRACTS),
        ("region", REGIONS),
        ("payment_method", PAYMENTS),
    ):
        frame[col] = pd.Categorical.from_codes(frame[col].to_numpy(), categories=list(cats))
    return frame


def _pick(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """Vectorised categorical draw: one row of probabilities per sample."""
    cum = np.cumsum(p, axis=1)
    u = rng.random((p.shape[0], 1))
    return (u > cum).sum(axis=1).clip(0, p.shape[1] - 1).astype(np.int8)


def _chunk(
    rng: np.random.Generator, offset: int, n: int, start: str, days: int, sc: Scenario
) -> pd.DataFrame:
    plan = _pick(rng, np.tile([0.55, 0.35, 0.10], (n, 1)))
    ent = plan == 2
    contract_p = np.where(ent[:, None], [0.10, 0.35, 0.55], [0.55, 0.27, 0.18])
    contract = _pick(rng, contract_p)
    region = rng.integers(0, 4, n).astype(np.int8)
    pay_p = np.where(ent[:, None], [0.10, 0.25, 0.60, 0.05], [0.50, 0.20, 0.05, 0.25])
    payment = _pick(rng, pay_p)

    drift = sc.covariate_drift
    tenure = np.minimum(rng.gamma(1.6, 14.0 * (1 - 0.5 * drift), n) + 3 * contract, 120).astype(np.int64)
    seats = np.where(ent, rng.integers(50, 2000, n), rng.integers(1, 12, n)).astype(np.int64)
    base_price = np.array([25.0, 60.0, 400.0])[plan]
    charges = base_price * (1 + 0.3 * drift) + 0.08 * seats + rng.normal(0, 8, n)
    charges = np.clip(charges, 5, 1999)
    login_scale = np.where(ent, 6.0, 14.0) * (1 + 1.5 * drift)
    seg_shift = sc.segment_shift * ent
    login_scale = login_scale * (1 + 4.0 * seg_shift)
    last_login = np.minimum(rng.exponential(login_scale), 365.0)
    ticket_rate = 0.6 + 0.8 * (plan == 0) + 1.0 * (contract == 0) + 2.0 * seg_shift
    tickets = np.minimum(rng.poisson(ticket_rate), 50).astype(np.int64)

    m2m = contract == 0
    logit = (
        -3.0
        + 1.3 * m2m
        - 0.5 * (contract == 2)
        - 0.035 * np.minimum(tenure, 60)
        + 0.045 * np.minimum(last_login, 90)
        + 0.30 * tickets
        + 0.20 * tickets * m2m  # frustrated customers without a commitment leave
        + 0.004 * (charges - base_price)
        + 0.35 * (payment == 3)
        - 0.25 * (region == 1)
        + 0.20 * (region == 2)
        # Enterprise churn is driven by disengagement far more than by price.
        + ent * (0.06 * np.minimum(last_login, 60) + 0.3 - 0.0004 * seats)
    )
    if sc.label_shift:
        # Concept and prior shift: price starts to matter more, engagement less.
        logit = logit + 1.2 * sc.label_shift - sc.label_shift * 0.04 * np.minimum(last_login, 90)
        logit = logit + sc.label_shift * 0.02 * (charges - base_price)
    logit = logit + rng.normal(0, 0.6, n)
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)

    # Genuinely missing values: price not yet billed, never logged in, unknown region.
    charges = np.where(rng.random(n) < 0.01, np.nan, np.round(charges, 2))
    last_login = np.where(rng.random(n) < 0.02, np.nan, np.round(last_login, 1))
    region = np.where(rng.random(n) < 0.005, -1, region).astype(np.int8)

    frame = pd.DataFrame(
        {
            "customer_id": np.arange(offset, offset + n, dtype=np.int64) + 100_000,
            "snapshot_at": pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days * 86400, n), unit="s"),
            "tenure_months": tenure,
            "monthly_charges": charges,
            "days_since_last_login": last_login,
            "support_tickets": tickets,
            "seats": seats,
            "contract": contract,
            "plan": plan,
            "region": region,
            "payment_method": payment,
            "churned": churned,
        }
    )
    if sc.zero_fill_feature and sc.zero_fill_fraction:
        # A broken upstream join: the feature silently becomes 0 for some rows.
        hit = rng.random(n) < sc.zero_fill_fraction
        frame.loc[hit, sc.zero_fill_feature] = 0
    return frame
