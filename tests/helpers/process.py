"""Waiting for a started server process: one loop for every test that starts one."""

import subprocess
import time
from collections.abc import Callable

import httpx


def wait_http_ok(
    url: str,
    proc: subprocess.Popen[bytes],
    output: Callable[[], str],
    what: str,
    timeout: float,
    interval: float = 0.3,
    accept: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200,
) -> None:
    """Poll `url` until `accept` holds; fail at once, with the process output, if it exits.

    `output` reads the process's log lazily, so a passing wait never reads it.
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited {proc.returncode}:\n{output()[-4000:]}")
        try:
            if accept(httpx.get(url, timeout=2)):
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not ready after {timeout:.0f} s ({url}):\n{output()[-4000:]}")
        time.sleep(interval)
