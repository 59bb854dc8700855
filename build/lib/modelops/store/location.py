"""Where the store lives: a URI -> an fsspec filesystem and a root path (the one adapter to fsspec)."""

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec

from modelops.errors import ModelOpsError

ENV = "PREDICTION_STORE"
DEFAULT = "store"  # relative to the project root


class StoreError(ModelOpsError):
    """The prediction/label store is unreachable, or its contents break the record schema."""


def storage_options(protocol: str, env: Mapping[str, str]) -> dict[str, Any]:
    """fsspec options from the environment: an S3-compatible endpoint and short timeouts.

    Credentials are never read here: botocore's chain finds them (IRSA / workload identity
    web-identity token, instance role, or AWS_* variables for a local test server).
    """
    if protocol not in ("s3", "s3a"):
        return {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    client: dict[str, Any] = {}
    if endpoint:
        client["endpoint_url"] = endpoint
    if env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"):
        client["region_name"] = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    timeout = float(env.get("PREDICTION_STORE_TIMEOUT", "10"))
    return {
        "client_kwargs": client,
        # A store outage must surface as an error within seconds (the writer then spools and
        # retries with its own backoff), not hang inside botocore's retry loop.
        "config_kwargs": {
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "retries": {"max_attempts": 2, "mode": "standard"},
        },
        "skip_instance_cache": True,
    }


@dataclass
class Location:
    """A store root on some filesystem; paths below it are '/'-separated and relative."""

    uri: str
    fs: Any
    root: str

    @property
    def local(self) -> bool:
        return "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def path(self, relative: str) -> str:
        return f"{self.root.rstrip('/')}/{relative}" if relative else self.root

    def put_bytes(self, relative: str, data: bytes) -> None:
        """Make `relative` appear complete or not at all (rename locally, one PUT remotely)."""
        target = self.path(relative)
        if self.local:
            final = Path(target)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            return
        self.fs.pipe_file(target, data)

    def exists(self, relative: str) -> bool:
        return bool(self.fs.exists(self.path(relative)))


def url_to_fs(uri: str, env: Mapping[str, str] | None = None, **options: Any) -> tuple[Any, str]:
    """fsspec's filesystem and path for `uri`, with the environment's storage options
    (`storage_options`) overridden by `options`."""
    env = os.environ if env is None else env
    protocol = uri.split("://", 1)[0] if "://" in uri else "file"
    return fsspec.core.url_to_fs(uri, **{**storage_options(protocol, env), **options})


def open_location(uri: str, env: Mapping[str, str] | None = None, **options: Any) -> Location:
    """`uri` (local path, file://, s3://...) -> Location; options override the environment's."""
    if "://" not in uri:
        uri = str(Path(uri).resolve())
    try:
        fs, root = url_to_fs(uri, env, **options)
    except (ImportError, ValueError) as exc:
        raise StoreError(f"{ENV}={uri!r}: cannot open ({exc})") from exc
    return Location(uri, fs, root.rstrip("/") or root)
