"""The baseline data check: a new snapshot against the profile of the last accepted one.

The static schema (features.yaml) cannot see a broken join that fills 38% of a column with a
value that is still in range. The baseline check compares each feature with a small committed
profile of the last accepted snapshot: null rate, share of zeros, share of the most common
value, and a distribution-shift test per feature run by Evidently on a seeded reference sample
kept inside the profile. Tolerances live in configs/baseline.yaml.

`build_profile` and `check_baseline` are pure (no file or registry I/O): validation, training
and batch scoring all call them. `save_profile` / `load_profile` are the only file I/O here.
"""

import json
import math
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, computed_field

from modelops.data.schema import FeatureSchema
from modelops.errors import ConfigError
from modelops.strict import Strict as _Strict

TOLERANCES_FILE = "baseline.yaml"
PROFILE_FORMAT = 1
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)

Rule = Literal["null_rate", "zero_share", "top_value_share", "drift"]


# ---------------------------------------------------------------------------------------------
# The profile: small, committed, readable in a pull request diff.


class FeatureProfile(_Strict):
    kind: Literal["numeric", "categorical"]
    null_rate: float
    # Shares are of all rows, nulls included: a fill of missing values with 0 counts in full.
    zero_share: float | None = None  # numeric only
    top_value: str | float | None = None
    top_value_share: float = 0.0
    quantiles: dict[str, float] | None = None  # numeric only, of the non-null values
    category_shares: dict[str, float] | None = None  # categorical only, of all rows


class Profile(_Strict):
    """Reference profile of one accepted snapshot (what `check_baseline` compares against)."""

    format: int = PROFILE_FORMAT
    rows: int
    # What was profiled, e.g. "data/raw/<model>.parquet md5=ab12...". No timestamp: the same
    # snapshot gives a byte-identical profile, so DVC and git see no change.
    source: str = ""
    features: dict[str, FeatureProfile]
    # A seeded sample of the snapshot: Evidently's drift tests need reference rows, not summaries.
    reference_seed: int
    reference: dict[str, list[float | str | None]]

    def reference_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.reference)


def _share(mask: pd.Series | np.ndarray, rows: int) -> float:
    return float(np.asarray(mask).sum()) / rows if rows else 0.0


def _json_value(value: object) -> str | float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return str(value)


def _feature_profile(column: pd.Series, kind: Literal["numeric", "categorical"]) -> FeatureProfile:
    rows = len(column)
    values = column.dropna()
    counts = values.astype(str if kind == "categorical" else float).value_counts()
    top_value = _json_value(counts.index[0]) if len(counts) else None
    top_share = _share(counts.iloc[0], rows) if len(counts) else 0.0
    if kind == "numeric":
        numbers = pd.to_numeric(values, errors="coerce").astype(float)
        quantiles = numbers.quantile(list(QUANTILES)) if len(numbers) else pd.Series(dtype=float)
        return FeatureProfile(
            kind=kind,
            null_rate=_share(column.isna(), rows),
            zero_share=_share(numbers == 0, rows),
            top_value=top_value,
            top_value_share=top_share,
            quantiles={f"{q:g}": float(f"{v:.6g}") for q, v in quantiles.items()},
        )
    return FeatureProfile(
        kind=kind,
        null_rate=_share(column.isna(), rows),
        top_value=top_value,
        top_value_share=top_share,
        category_shares={str(k): _share(v, rows) for k, v in counts.sort_index().items()},
    )


def _as_plain(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Numerics as float, categoricals as str (None for missing): the reference's JSON types."""
    out = {}
    for name, kind in kinds.items():
        col = frame[name]
        if kind == "numeric":
            out[name] = pd.to_numeric(col, errors="coerce").astype(float)
        else:
            out[name] = col.astype(object).map(lambda v: None if pd.isna(v) else str(v))
    return pd.DataFrame(out, index=frame.index)


def build_profile(
    df: pd.DataFrame, features: FeatureSchema, reference_rows: int = 1000, seed: int = 0, source: str = ""
) -> Profile:
    """Profile `df` over the declared features (pure)."""
    names = features.names
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ValueError(f"cannot profile: columns {missing} are absent")
    plain = _as_plain(df, {f.name: f.kind for f in features.features})
    sample = plain.sample(n=min(reference_rows, len(plain)), random_state=seed).reset_index(drop=True)
    reference = {n: [_json_value(v) for v in sample[n].tolist()] for n in names}
    return Profile(
        rows=len(df),
        source=source,
        features={f.name: _feature_profile(df[f.name], f.kind) for f in features.features},
        reference_seed=seed,
        reference=reference,
    )


def save_profile(profile: Profile, path: Path) -> Path:
    """Write the profile: summaries indented for review, the reference sample one line per column."""
    body = profile.model_dump(mode="json")
    reference = body.pop("reference")
    head = json.dumps(body, indent=2)[: -len("\n}")]
    columns = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in reference.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'{head},\n  "reference": {{\n{columns}\n  }}\n}}\n')
    return path


def load_profile(path: Path) -> Profile:
    if not path.is_file():
        raise ConfigError(f"{path}: no baseline profile")
    try:
        return Profile.model_validate_json(path.read_text())
    except Exception as exc:  # pydantic names the field
        raise ConfigError(f"{path}: not a valid baseline profile ({exc})") from exc


# ---------------------------------------------------------------------------------------------
# Tolerances: configs/baseline.yaml.


class DriftTest(_Strict):
    """An Evidently drift method and its threshold (Evidently decides the direction)."""

    method: str
    threshold: float = Field(gt=0)


class Drift(_Strict):
    numeric: DriftTest = DriftTest(method="wasserstein", threshold=0.1)
    categorical: DriftTest = DriftTest(method="jensenshannon", threshold=0.1)


class FeatureTolerance(_Strict):
    """Per-feature overrides; an unset field inherits the default. `false` switches a rule off."""

    null_rate_increase: float | Literal[False] | None = None
    zero_share_increase: float | Literal[False] | None = None
    top_value_share_increase: float | Literal[False] | None = None
    drift: DriftTest | Literal[False] | None = None


class Defaults(_Strict):
    # Increases in percentage points (5 = the share may rise from 0.6% to 5.6%).
    null_rate_increase: float = Field(default=2.0, ge=0, le=100)
    zero_share_increase: float = Field(default=5.0, ge=0, le=100)
    top_value_share_increase: float = Field(default=5.0, ge=0, le=100)
    drift: Drift = Drift()


class BaselineTolerances(_Strict):
    """How far a new snapshot may move from the last accepted one (configs/baseline.yaml)."""

    reference_rows: int = Field(default=1000, ge=100, le=20_000)
    reference_seed: int = 0
    # Evidently's drift tests run on a seeded sample of at most this many new rows; rates use all.
    drift_rows: int = Field(default=50_000, ge=1000)
    defaults: Defaults = Defaults()
    features: dict[str, FeatureTolerance] = {}

    def limit(self, feature: str, rule: str) -> float | None:
        """The tolerance for one rule on one feature; None when the rule is switched off."""
        override = getattr(self.features.get(feature, FeatureTolerance()), rule)
        if override is False:
            return None
        return float(override) if override is not None else float(getattr(self.defaults, rule))

    def drift_test(self, feature: str, kind: str) -> DriftTest | None:
        override = self.features.get(feature, FeatureTolerance()).drift
        if override is False:
            return None
        return override or getattr(self.defaults.drift, kind)

    def check_features(self, features: FeatureSchema, source: str) -> None:
        unknown = sorted(set(self.features) - set(features.names))
        if unknown:
            raise ConfigError(f"{source}: features {unknown} are not declared in features.yaml")


def load_tolerances(config_dir: Path, features: FeatureSchema | None = None) -> BaselineTolerances:
    """configs/baseline.yaml; absent file = the defaults above."""
    from modelops.settings import load_section

    path = Path(config_dir) / TOLERANCES_FILE
    tolerances = (
        load_section(Path(config_dir), TOLERANCES_FILE, BaselineTolerances)
        if path.is_file()
        else BaselineTolerances()
    )
    if features is not None:
        tolerances.check_features(features, str(path))
    return tolerances


# ---------------------------------------------------------------------------------------------
# The check.


class Violation(_Strict):
    column: str
    rule: Rule
    baseline: float | None
    new: float | None
    limit: float
    message: str


class BaselineReport(_Strict):
    violations: tuple[Violation, ...] = ()
    checked: tuple[str, ...] = ()
    baseline_rows: int = 0
    rows: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        """One line: the first violation, and which others there are."""
        if self.passed:
            return f"baseline check passed ({len(self.checked)} features)"
        first, rest = self.violations[0], self.violations[1:]
        more = (
            f" (+{len(rest)} more: " + ", ".join(f"{v.column} {v.rule}" for v in rest) + ")" if rest else ""
        )
        return first.message + more


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _value_label(value: str | float | None) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _share_rule(
    column: str, rule: Rule, what: str, baseline: float, new: float, limit_points: float | None
) -> Violation | None:
    if limit_points is None or new - baseline <= limit_points / 100 + 1e-12:
        return None
    return Violation(
        column=column,
        rule=rule,
        baseline=baseline,
        new=new,
        limit=limit_points,
        message=f"{column}: {what} rose from {_pct(baseline)} to {_pct(new)} "
        f"(limit +{limit_points:g} points)",
    )


def _rate_violations(
    name: str, base: FeatureProfile, new: FeatureProfile, tolerances: BaselineTolerances
) -> list[Violation]:
    found = [
        _share_rule(
            name,
            "null_rate",
            "share of nulls",
            base.null_rate,
            new.null_rate,
            tolerances.limit(name, "null_rate_increase"),
        )
    ]
    if base.kind == "numeric":
        found.append(
            _share_rule(
                name,
                "zero_share",
                "share of 0",
                base.zero_share or 0.0,
                new.zero_share or 0.0,
                tolerances.limit(name, "zero_share_increase"),
            )
        )
    # A constant fill with another value (-1, 999, the median): the top value's share jumps.
    # A zero fill the zero-share rule already named is not reported twice.
    zero_named = any(v is not None and v.rule == "zero_share" for v in found)
    if not (zero_named and new.top_value == 0.0):
        found.append(
            _share_rule(
                name,
                "top_value_share",
                f"share of the most common value ({_value_label(new.top_value)})",
                base.top_value_share,
                new.top_value_share,
                tolerances.limit(name, "top_value_share_increase"),
            )
        )
    return [v for v in found if v is not None]


def _where_it_moved(base: FeatureProfile, new: FeatureProfile) -> str:
    """The baseline and new value that show the shift: the median, or the most-moved category."""
    if base.quantiles and new.quantiles and "0.5" in base.quantiles and "0.5" in new.quantiles:
        return f"median {base.quantiles['0.5']:g} -> {new.quantiles['0.5']:g}"
    before, after = base.category_shares or {}, new.category_shares or {}
    if not before and not after:
        return "no comparable summary"
    moved = max(set(before) | set(after), key=lambda k: abs(after.get(k, 0.0) - before.get(k, 0.0)))
    return f"share of {moved!r} {_pct(before.get(moved, 0.0))} -> {_pct(after.get(moved, 0.0))}"


def _drift_violations(
    current: pd.DataFrame, profile: Profile, now: dict[str, FeatureProfile], tolerances: BaselineTolerances
) -> list[Violation]:
    from modelops.adapters.evidently import Column, drift_verdicts

    columns = []
    for name in current.columns:
        kind = profile.features[name].kind
        test = tolerances.drift_test(name, kind)
        if test is not None and name in profile.reference:
            columns.append(Column(name, kind, test.method, test.threshold))
    if not columns or current.empty:
        return []
    sample = current.sample(n=min(tolerances.drift_rows, len(current)), random_state=profile.reference_seed)
    verdicts = drift_verdicts(sample, profile.reference_frame(), columns)
    out = []
    for c in columns:
        score, drifted = verdicts[c.name]
        if drifted:
            out.append(
                Violation(
                    column=c.name,
                    rule="drift",
                    baseline=None,
                    new=score,
                    limit=c.threshold,
                    message=f"{c.name}: distribution shifted from the baseline "
                    f"({_where_it_moved(profile.features[c.name], now[c.name])}; "
                    f"{c.method} score {score:.3g}, threshold {c.threshold:g})",
                )
            )
    return out


_RULE_ORDER = {"null_rate": 0, "zero_share": 1, "top_value_share": 2, "drift": 3}


def check_baseline(df: pd.DataFrame, profile: Profile, tolerances: BaselineTolerances) -> BaselineReport:
    """Compare `df` with `profile` under `tolerances` (pure: no file or registry I/O).

    The profile's features are checked; one absent from `df` is the static schema's to report,
    a column `df` has beyond them is ignored (a newly declared feature has no baseline yet).
    """
    names = [n for n in profile.features if n in df.columns]
    now = {n: _feature_profile(df[n], profile.features[n].kind) for n in names}
    violations: list[Violation] = []
    for name in names:
        violations += _rate_violations(name, profile.features[name], now[name], tolerances)
    plain = _as_plain(df, {n: profile.features[n].kind for n in names})
    violations += _drift_violations(plain, profile, now, tolerances)
    violations.sort(key=lambda v: (_RULE_ORDER[v.rule], names.index(v.column)))
    return BaselineReport(
        violations=tuple(violations), checked=tuple(names), baseline_rows=profile.rows, rows=len(df)
    )
