"""GitHub REST adapter: sticky PR comments, issues and pull requests (httpx).

GITHUB_API_URL makes GitHub Enterprise work. 401/403/404/422 become one clear line
naming the missing permission or resource; 5xx, 429 and rate-limited 403s are retried
with backoff (honouring Retry-After / x-ratelimit-reset), then fail clearly.
"""

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from modelops.errors import GitHubError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100


@dataclass(frozen=True)
class Comment:
    id: int
    url: str
    created: bool


def marker_tag(marker: str) -> str:
    """The hidden HTML comment that identifies a sticky comment, e.g. `<!-- modelops:gate -->`."""
    if "--" in marker or not marker.strip():
        raise GitHubError(f"marker {marker!r}: must be non-empty and must not contain '--'")
    return f"<!-- {marker} -->"


def with_marker(body: str, marker: str) -> str:
    tag = marker_tag(marker)
    return body if tag in body else f"{tag}\n{body}"


def append_step_summary(body: str, env: Mapping[str, str] | None = None) -> bool:
    """Append to $GITHUB_STEP_SUMMARY when set (GitHub renders it on the run page)."""
    path = (env if env is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(body if body.endswith("\n") else body + "\n")
    return True


def _github_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except (json.JSONDecodeError, ValueError):
        return response.text[:200].strip()
    if not isinstance(data, dict):
        return ""
    message = str(data.get("message", ""))
    errors = data.get("errors")
    if errors:
        message += " " + json.dumps(errors)[:300]
    return message


def _rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    # GitHub signals primary and secondary rate limits with 403 plus these headers.
    return response.status_code == 403 and (
        response.headers.get("x-ratelimit-remaining") == "0" or "retry-after" in response.headers
    )


def _wait_seconds(response: httpx.Response | None, attempt: int, backoff: float, now: float) -> float:
    if response is not None:
        if "retry-after" in response.headers:
            try:
                return max(0.0, float(response.headers["retry-after"]))
            except ValueError:
                pass
        reset = response.headers.get("x-ratelimit-reset")
        if response.headers.get("x-ratelimit-remaining") == "0" and reset and reset.isdigit():
            return max(0.0, int(reset) - now)
    return backoff * 2**attempt


class GitHub:
    """A small client for one repository."""

    def __init__(
        self,
        token: str,
        repository: str,
        api_url: str = DEFAULT_API_URL,
        *,
        retries: int = 4,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise GitHubError(
                "GITHUB_TOKEN is not set: pass `env: GITHUB_TOKEN: ${{ github.token }}` to the step"
            )
        if repository.count("/") != 1 or not all(repository.split("/")):
            raise GitHubError(f"GITHUB_REPOSITORY {repository!r}: expected owner/name")
        self.repository = repository
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "modelops",
            },
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> "GitHub":
        env = os.environ if env is None else env
        return cls(
            env.get("GITHUB_TOKEN", ""),
            env.get("GITHUB_REPOSITORY", ""),
            env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            **kwargs,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "GitHub":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ transport

    def request(
        self, method: str, path: str, *, permission: str, resource: str, **kwargs: Any
    ) -> httpx.Response:
        """One API call with retries; `permission` and `resource` name what an error is about."""
        what = f"{method} {path}"
        last = ""
        for attempt in range(self.retries + 1):
            response: httpx.Response | None = None
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                if not (response.status_code >= 500 or _rate_limited(response)):
                    raise GitHubError(self._explain(response, what, permission, resource))
                last = f"{response.status_code} {response.reason_phrase} {_github_message(response)}".strip()
            if attempt == self.retries:
                break
            wait = _wait_seconds(response, attempt, self.backoff, time.time())
            if wait > self.max_wait:
                raise GitHubError(
                    f"GitHub API {what}: rate limited for {wait:.0f}s more ({last}); try again later"
                )
            self._sleep(wait)
        raise GitHubError(f"GitHub API {what}: still failing after {self.retries + 1} attempts ({last})")

    def _explain(self, response: httpx.Response, what: str, permission: str, resource: str) -> str:
        code = response.status_code
        detail = _github_message(response)
        head = f"GitHub API {what}: {code} {response.reason_phrase}"
        if code == 401:
            return f"{head}: GITHUB_TOKEN is missing, expired or invalid ({detail})"
        if code == 403:
            return (
                f"{head}: the token lacks permission; the workflow job needs `permissions: {permission}` "
                f"({detail})"
            )
        if code == 404:
            return (
                f"{head}: {resource} not found in {self.repository}, or the token cannot see it "
                f"(private repositories also need `contents: read`) ({detail})"
            )
        if code == 422:
            return f"{head}: GitHub rejected the request for {resource}: {detail}"
        return f"{head}: {detail}"

    def _pages(self, path: str, *, permission: str, resource: str) -> Iterator[dict[str, Any]]:
        """Every item of a paginated listing, following the Link: rel="next" header."""
        url: str | None = path
        params: dict[str, Any] | None = {"per_page": PER_PAGE}
        while url:
            response = self.request("GET", url, permission=permission, resource=resource, params=params)
            yield from response.json()
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries its own query

    # ------------------------------------------------------------ operations

    def upsert_comment(self, number: int, body: str, marker: str = "modelops:gate") -> Comment:
        """Update the comment carrying `marker` on issue/PR `number`, or create it."""
        tag = marker_tag(marker)
        text = with_marker(body, marker)
        repo = f"/repos/{self.repository}"
        permission = "pull-requests: write (or issues: write)"
        resource = f"pull request #{number}"
        for existing in self._pages(
            f"{repo}/issues/{number}/comments", permission=permission, resource=resource
        ):
            if tag in (existing.get("body") or ""):
                response = self.request(
                    "PATCH",
                    f"{repo}/issues/comments/{existing['id']}",
                    permission=permission,
                    resource=f"comment {existing['id']} on #{number}",
                    json={"body": text},
                )
                data = response.json()
                return Comment(int(data["id"]), str(data.get("html_url", "")), created=False)
        response = self.request(
            "POST",
            f"{repo}/issues/{number}/comments",
            permission=permission,
            resource=resource,
            json={"body": text},
        )
        data = response.json()
        return Comment(int(data["id"]), str(data.get("html_url", "")), created=True)

    def create_issue(self, title: str, body: str, labels: Sequence[str] = ()) -> dict[str, Any]:
        response = self.request(
            "POST",
            f"/repos/{self.repository}/issues",
            permission="issues: write",
            resource="issues",
            json={"title": title, "body": body, "labels": list(labels)},
        )
        return dict(response.json())

    def create_pull(self, head: str, base: str, title: str, body: str, draft: bool = False) -> dict[str, Any]:
        response = self.request(
            "POST",
            f"/repos/{self.repository}/pulls",
            permission="pull-requests: write (and contents: write to push the branch)",
            resource=f"branch {head!r} -> {base!r}",
            json={"head": head, "base": base, "title": title, "body": body, "draft": draft},
        )
        return dict(response.json())
