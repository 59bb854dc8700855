"""Prometheus' HTTP API (/api/v1/query, /api/v1/query_range) through httpx.

Only what the canary decision needs: a scalar from an instant query and an aligned
series from a range query. Every failure is a `MetricsUnavailable` naming the URL and query.
"""

import math
from types import TracebackType
from typing import Any

import httpx

from modelops.errors import MetricsUnavailable


class Prometheus:
    def __init__(self, url: str, timeout: float = 10, transport: httpx.BaseTransport | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise MetricsUnavailable(f"Prometheus URL {url!r}: expected http(s)://host:port")
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)

    def __enter__(self) -> "Prometheus":
        return self

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType] | None) -> None:
        self._client.close()

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise MetricsUnavailable(f"Prometheus {self.url}: {type(exc).__name__}: {exc}") from exc
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code != 200 or body.get("status") != "success":
            detail = body.get("error") or resp.text[:200]
            raise MetricsUnavailable(
                f"Prometheus {self.url}{path} answered {resp.status_code} for {params['query']!r}: {detail}"
            )
        return body["data"]  # type: ignore[no-any-return]

    def scalar(self, query: str, at: float) -> float | None:
        """The single value of an instant query at unix time `at`; None when it returns nothing or NaN."""
        data = self._get("/api/v1/query", {"query": query, "time": at})
        result = data["result"]
        if not result:
            return None
        if len(result) > 1:
            raise MetricsUnavailable(
                f"Prometheus {self.url}: {query!r} returned {len(result)} series, expected one"
            )
        return _value(result[0]["value"][1])

    def series(self, query: str, start: float, end: float, step: float) -> list[float | None]:
        """The values of a one-series range query at start, start+step, ..., end (None where absent)."""
        data = self._get("/api/v1/query_range", {"query": query, "start": start, "end": end, "step": step})
        result = data["result"]
        if len(result) > 1:
            raise MetricsUnavailable(
                f"Prometheus {self.url}: {query!r} returned {len(result)} series, expected one"
            )
        points = round((end - start) / step) + 1
        out: list[float | None] = [None] * points
        for ts, value in result[0]["values"] if result else []:
            k = round((float(ts) - start) / step)
            if 0 <= k < points:
                out[k] = _value(value)
        return out


def _value(text: str) -> float | None:
    x = float(text)
    return x if math.isfinite(x) else None
