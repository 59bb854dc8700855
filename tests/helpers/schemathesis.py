"""Run schemathesis against a served OpenAPI document, reproducibly, and fail with its report."""

import os
import subprocess
import sys
from pathlib import Path


def assert_schemathesis_passes(url: str, *options: str, examples: int = 300) -> None:
    """`schemathesis run URL/openapi.json OPTIONS`, seeded and without its example database."""
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{url}/openapi.json",
            *options,
            "--max-examples",
            str(examples),
            "--seed",
            "7",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "No issues found" in out.stdout
