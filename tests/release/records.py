"""Valid release records for tests (release, serve, monitor): built by the one writer, never by hand."""

from pathlib import Path
from typing import Any

from modelops import tags as T
from modelops.release import record
from modelops.release.config import ReleaseConfig
from tests.fixture_model.swap import MODEL  # the shared projects' model (tests/fixture_model)

SHA = "a" * 64
# What training tags a version with (a release record's lineage), and then what a passing gate adds.
LINEAGE = {
    T.GIT_SHA: "b" * 40,
    T.GIT_DIRTY: "False",
    T.DATA_MD5: "c" * 32,
    T.TRAIN_MD5: "d" * 32,
    T.EVAL_MD5: "e" * 32,
    T.CONFIG_SHA256: "f" * 64,
}
TAGS = LINEAGE | {
    T.GATE_VERDICT: "pass",
    T.GATE_REPORT_SHA256: "1" * 64,
    T.GATE_RULES_SHA256: "2" * 64,
    T.GATE_FEATURES_SHA256: "3" * 64,
    T.GATE_EVAL_MD5: "e" * 32,
    T.GATE_AT: "2025-01-01T00:00:00+00:00",
}
ENV = {"python": "3.11.9", "packages": {"scikit-learn": "1.7.0"}}


def make_record(
    version: int,
    sha: str = SHA,
    created_at: str = "2025-01-01T00:00:00Z",
    *,
    name: str = MODEL,
    tags: dict[str, str] | None = None,
    **kw: Any,
) -> record.ReleaseRecord:
    args: dict[str, Any] = dict(
        name=name,
        version=version,
        run_id="0" * 32,
        sha256=sha,
        tags=TAGS if tags is None else tags,
        environment=ENV,
        pr=7,
        track="canary",
        promoted_by="alice",
        previous_version=None,
        created_at=created_at,
    )
    args.update(kw)
    return record.build(**args)


def write_record(root: Path, rec: record.ReleaseRecord, cfg: ReleaseConfig | None = None) -> Path:
    """Write `rec` where the one reader looks for it (releases_dir of `cfg`, default config)."""
    cfg = cfg or ReleaseConfig()
    path = cfg.release_path(root, rec.model.name, rec.model.version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record.dump(rec))
    return path
