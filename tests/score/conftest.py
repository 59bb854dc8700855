"""Fixtures for batch scoring: the session's trained project, a release file for its version,
snapshots drawn through the model contract, and one Spark session for the whole test session."""

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from modelops import tags as T
from tests.conftest import Project

# The incident: a broken upstream join zero-fills a nullable float feature for 38% of rows. The
# shared project is the fixture package's (tests/fixture_model): its such feature is `income`
# (tests/helpers/fixture.py numeric_feature); tests check it is a declared numeric feature.
INCIDENT_FEATURE = os.environ.get("MODELOPS_TEST_ZERO_FILL_FEATURE", "income")
INCIDENT_FRACTION = 0.38


@dataclass
class Scoring:
    project: Project
    release: Path  # a release record for the trained version (outside the repo's releases/)
    version: int

    @property
    def settings(self):  # type: ignore[no-untyped-def]
        return self.project.settings

    def snapshot(self, path: Path, rows: int, seed: int, **scenario: object) -> Path:
        """A fresh snapshot from the model package's own load_data (its generator's scenario
        switches, e.g. zero_fill_feature=...), written as Parquet or CSV."""
        from tests.helpers.fixture import rows as new_rows

        settings = self.settings
        frame = new_rows(settings, rows, seed, **scenario)
        frame = frame.drop(columns=[settings.features.label])
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        return path

    def score(self, *argv: str) -> int:
        return self.project.run("score", *argv)


GATE_TAGS = {
    T.GATE_VERDICT: "pass",
    T.GATE_REPORT_SHA256: "0" * 64,
    T.GATE_RULES_SHA256: "1" * 64,
    T.GATE_FEATURES_SHA256: "2" * 64,
    T.GATE_EVAL_MD5: "3" * 32,
    T.GATE_AT: "2025-01-01T00:00:00+00:00",
}


def write_release(project: Project, version: int, path: Path) -> Path:
    """A schema-valid release record for `version`, built by the release step's own builder."""
    from modelops.adapters import tracking
    from modelops.release import record

    mv = tracking.registry_for(project.root).get_version(project.settings.model.name, version)
    doc = record.build(
        name=mv.name,
        version=mv.version,
        run_id=mv.run_id,
        sha256=mv.tags["model_sha256"],
        # A passing gate's tags (this fixture skips the gate itself); they override whatever an
        # earlier test's gate run left on the session's shared version.
        tags=mv.tags | GATE_TAGS,
        environment={"python": "3.11", "packages": {}},
        pr=None,
        track="stable",
        promoted_by="tests",
        previous_version=None,
        created_at=record.now_utc(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record.dump(doc))
    return path


@pytest.fixture(scope="session")
def scoring(trained_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Scoring:
    release = write_release(
        trained_project, trained_project.version, tmp_path_factory.mktemp("release") / "v.yaml"
    )
    return Scoring(trained_project, release, trained_project.version)


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local Spark session for every test (start-up costs seconds on 2 cores)."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from modelops.score.config import SparkConfig
    from modelops.score.engine_spark import session

    spark = session(
        SparkConfig(
            master="local[2]", conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"}
        )
    )
    yield spark
    spark.stop()


def read_scores(location: str) -> pd.DataFrame:
    import pyarrow.dataset as ds

    return ds.dataset(location, format="parquet").to_table().to_pandas()
