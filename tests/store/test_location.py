"""Store locations: URI -> filesystem, endpoint from the environment, atomic local writes (unit)."""

from pathlib import Path

import pytest

from modelops.store.layout import file_name, prediction_dir
from modelops.store.location import open_location, storage_options


def test_s3_endpoint_and_timeouts_come_from_the_environment_never_credentials() -> None:
    opts = storage_options(
        "s3", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}
    )
    assert opts["client_kwargs"] == {"endpoint_url": "http://127.0.0.1:9000"}
    assert opts["config_kwargs"]["connect_timeout"] == 10.0
    assert "s3cr3t-value" not in repr(opts)
    assert (
        storage_options("s3", {"AWS_ENDPOINT_URL_S3": "http://a", "AWS_ENDPOINT_URL": "http://b"})[
            "client_kwargs"
        ]["endpoint_url"]
        == "http://a"
    )
    assert storage_options("file", {"AWS_ENDPOINT_URL": "http://b"}) == {}


def test_a_relative_local_store_resolves_and_writes_whole_files(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    loc = open_location("store")
    assert loc.local and loc.root == str(tmp_path / "store")
    loc.put_bytes("a/b/c.parquet", b"123")
    assert (tmp_path / "store/a/b/c.parquet").read_bytes() == b"123"
    assert [p.name for p in (tmp_path / "store/a/b").iterdir()] == ["c.parquet"]


def test_partition_values_cannot_escape_their_directory() -> None:
    with pytest.raises(ValueError, match=r"model version '\.\./1'"):
        prediction_dir("m", "../1", "2026-01-01", "00")
    with pytest.raises(ValueError, match="model name 'a=b'"):
        prediction_dir("a=b", "1", "2026-01-01", "00")
    assert file_name("pod-1", 7) == "pod-1-00000007.parquet"
