"""The frozen evaluation set: pinned by md5, never re-derived, its ids never trained on."""

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelops.adapters import dvc
from modelops.cli import main
from modelops.data.evalset import EvalSetPin, load_pin, pin_path, render_pin, verified_path
from modelops.data.ingest import read_table
from modelops.data.split import assign, training_parts
from modelops.errors import ConfigError, DigestMismatch, MissingEvidence
from modelops.settings import load_settings
from tests.conftest import REPO, Project, edit_yaml


def _pin(tmp_path: Path, content: bytes = b"rows") -> tuple[EvalSetPin, Path]:
    data = tmp_path / "data/eval/eval.parquet"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_bytes(content)
    pin = EvalSetPin(
        path=Path("data/eval/eval.parquet"),
        md5=dvc.md5(data),
        rows=3,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        reason="initial evaluation set",
    )
    (tmp_path / "configs").mkdir(exist_ok=True)
    pin_path(tmp_path / "configs").write_text(render_pin(pin))
    return pin, data


def test_pin_round_trips_through_the_one_loader(tmp_path: Path) -> None:
    pin, _ = _pin(tmp_path)
    assert load_pin(tmp_path / "configs") == pin


def test_pin_with_a_duplicate_key_is_rejected(tmp_path: Path) -> None:
    _pin(tmp_path)
    path = pin_path(tmp_path / "configs")
    path.write_text(path.read_text() + f"md5: {'0' * 32}\n")
    with pytest.raises(ConfigError, match=r"eval_set\.yaml:\d+: duplicate key 'md5'"):
        load_pin(tmp_path / "configs")


def test_verified_path_fails_closed_on_md5_mismatch_naming_both(tmp_path: Path) -> None:
    pin, data = _pin(tmp_path)
    assert verified_path(pin, tmp_path) == data
    data.write_bytes(b"other rows")
    with pytest.raises(DigestMismatch) as exc:
        verified_path(pin, tmp_path)
    assert f"md5 {dvc.md5(data)} differs from the pin {pin.md5}" in str(exc.value)
    data.unlink()
    with pytest.raises(MissingEvidence, match=r"absent.*dvc pull"):
        verified_path(pin, tmp_path)


def test_training_parts_hold_out_the_bucket_and_every_pinned_id() -> None:
    ids = pd.Series(np.arange(20_000))
    bucket = assign(ids, 0.15, 0.20)
    # A pinned set cut under other fractions: some of its ids fall outside today's bucket.
    pinned = ids[assign(ids, 0.15, 0.30) == 2]
    parts = training_parts(ids, pinned, 0.15, 0.20)
    trained = ids[parts >= 0]
    assert not set(trained) & set(pinned)
    assert not set(trained) & set(ids[bucket == 2])
    assert set(parts) == {-1, 0, 1}


def test_rotate_without_a_reason_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    _pin(tmp_path)
    before = pin_path(tmp_path / "configs").read_text()
    for argv in (["rotate"], ["rotate", "--reason", "  "]):
        assert main(["--root", str(tmp_path), "data", "eval-set", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            "modelops data eval-set rotate: error: eval-set rotate: --reason is required "
            "(it is recorded in configs/eval_set.yaml for review)"
        )
    assert pin_path(tmp_path / "configs").read_text() == before


def test_create_refuses_when_a_set_is_already_pinned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    pin, _ = _pin(tmp_path)
    assert main(["--root", str(tmp_path), "data", "eval-set", "create"]) == 2
    err = capsys.readouterr().err
    assert f"already pinned (md5 {pin.md5})" in err and "eval-set rotate --reason" in err


def _ids(path: Path, column: str) -> set[int]:
    return set(read_table(path)[column].tolist())


@pytest.mark.integration
@pytest.mark.slow
def test_new_snapshot_never_changes_the_eval_set_and_no_id_leaks(fresh_project: Project) -> None:
    p = fresh_project
    p.create_eval_set()
    s = load_settings(p.root)
    pin = load_pin(s.config_dir)
    eval_file = s.path(pin.path)
    assert dvc.md5(eval_file) == pin.md5 and (p.root / "data/eval/eval.parquet.dvc").is_file()
    id_col = s.features.id_column
    assert id_col is not None  # the example declares one
    eval_ids = _ids(eval_file, id_col)
    p.repro("split")
    for part in (s.data.paths.train, s.data.paths.valid):
        assert not _ids(s.path(part), id_col) & eval_ids, part

    # A new snapshot (another seed, more rows: the same customers and new ones).
    pin_text = pin_path(s.config_dir).read_text()
    edit_yaml(p.root / "configs/data.yaml", lambda d: d["source"].update(seed=43, rows=9000))
    p.repro("split")
    assert pin_path(s.config_dir).read_text() == pin_text
    assert dvc.md5(eval_file) == pin.md5
    raw_ids = _ids(s.path(s.data.paths.raw), id_col)
    assert eval_ids <= raw_ids  # the new snapshot does contain the evaluated customers...
    for part in (s.data.paths.train, s.data.paths.valid):
        assert not _ids(s.path(part), id_col) & eval_ids, part  # ...and none is trained on

    # A tampered eval file stops the split (and everything downstream).
    original = eval_file.read_bytes()
    eval_file.chmod(0o644)  # DVC may leave the tracked file read-only
    eval_file.write_bytes(original[:-10] + b"0123456789")
    out = p.sh(str(Path(sys.executable).with_name("modelops")), "data", "split", check=False)
    assert out.returncode == 2 and f"differs from the pin {pin.md5}" in out.stderr
    eval_file.write_bytes(original)

    # Rotation: explicit, with a reason; the replaced set stays in the DVC cache.
    assert p.run("data", "eval-set", "rotate", "--reason", "new product line in the segment") == 0
    rotated = load_pin(s.config_dir)
    assert rotated.md5 != pin.md5 and rotated.previous_md5 == pin.md5
    assert rotated.reason == "new product line in the segment"
    assert dvc.md5(eval_file) == rotated.md5
    assert dvc.cached_path(p.root, pin.md5) is not None
    p.repro("split")
    new_ids = _ids(eval_file, id_col)
    for part in (s.data.paths.train, s.data.paths.valid):
        assert not _ids(s.path(part), id_col) & new_ids, part
