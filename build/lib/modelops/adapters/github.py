"""GitHub REST adapter: sticky PR comments, issues, pull requests and workflow dispatches (httpx).

Callers depend on the `GitHubPort` Protocol; `GitHub` is the real adapter and
tests/fakes/github_memory.py the in-memory one.

GITHUB_API_URL makes GitHub Enterprise work. 401/403/404/422 become one clear line
naming the missing permission or resource. 429 and rate-limited 403s are retried with
backoff (honouring Retry-After / x-ratelimit-reset): GitHub refuses those before doing
anything. A 5xx or a dropped connection is different: the write may have been applied
before the failure, so reads and PATCHes are retried, but a POST that creates something is
retried only after looking the object up (by its marker or idempotency key) and not finding
it. A workflow dispatch returns no id to look up, so it is never retried after such a failure.
"""

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from uuid import uuid4

import httpx

from modelops.errors import GitHubError, GitHubHTTPError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100
# A GITHUB_TOKEN (an app installation token) cannot call GET /user; its comments are
# written as this bot. MODELOPS_GITHUB_LOGIN overrides it for another app.
DEFAULT_APP_LOGIN = "github-actions[bot]"
KEY_PREFIX = "modelops:key="


@dataclass(frozen=True)
class Comment:
    id: int
    url: str
    created: bool


class _Unconfirmed(GitHubError):
    """A POST failed in a way that does not say whether GitHub applied it (5xx, dropped connection)."""


def marker_tag(marker: str) -> str:
    """The hidden HTML comment that identifies a sticky comment, e.g. `<!-- modelops:gate -->`."""
    if "--" in marker or not marker.strip():
        raise GitHubError(f"marker {marker!r}: must be non-empty and must not contain '--'")
    return f"<!-- {marker} -->"


def with_marker(body: str, marker: str) -> str:
    tag = marker_tag(marker)
    return body if tag in body else f"{tag}\n{body}"


def new_key() -> str:
    """An idempotency key for one logical create: the same key on a retry finds the first attempt."""
    return uuid4().hex


def key_marker(key: str) -> str:
    return f"{KEY_PREFIX}{key}"


def carries(item: Mapping[str, Any], tag: str) -> bool:
    return tag in (item.get("body") or "")


def written_by(item: Mapping[str, Any], login: str) -> bool:
    return str((item.get("user") or {}).get("login", "")).lower() == login.lower()


class GitHubPort(Protocol):
    """What the lifecycle needs from GitHub; `GitHub` (httpx) and the in-memory fake implement it."""

    repository: str

    def upsert_comment(self, number: int, body: str, marker: str = "modelops:gate") -> "Comment": ...

    def create_issue(
        self, title: str, body: str, labels: Sequence[str] = (), key: str | None = None
    ) -> dict[str, Any]: ...

    def create_pull(
        self, head: str, base: str, title: str, body: str, draft: bool = False, key: str | None = None
    ) -> dict[str, Any]: ...

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str] | None = None) -> None: ...


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
    """A small client for one repository (implements `GitHubPort`)."""

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
        app_login: str = DEFAULT_APP_LOGIN,
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
        self.app_login = app_login
        self._login: str | None = None
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
        kwargs.setdefault("app_login", env.get("MODELOPS_GITHUB_LOGIN") or DEFAULT_APP_LOGIN)
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
        """One API call; `permission` and `resource` name what an error is about.

        Rate limits are retried for every method. A 5xx or a transport error is retried for
        reads and updates; for a POST it raises `_Unconfirmed` at once, because the object may
        exist already (callers look it up before trying again, see `_create`).
        """
        what = f"{method} {path}"
        replayable = method.upper() != "POST"
        last = ""
        for attempt in range(self.retries + 1):
            response: httpx.Response | None = None
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}".rstrip(": ")
                if not replayable:
                    raise _Unconfirmed(f"GitHub API {what}: {last}") from exc
            else:
                if response.status_code < 400:
                    return response
                last = f"{response.status_code} {response.reason_phrase} {_github_message(response)}".strip()
                if not _rate_limited(response):
                    if response.status_code < 500:
                        raise GitHubHTTPError(
                            self._explain(response, what, permission, resource), response.status_code
                        )
                    if not replayable:
                        raise _Unconfirmed(f"GitHub API {what}: {last}")
            if attempt == self.retries:
                break
            self._wait(response, attempt, what, last)
        raise GitHubError(f"GitHub API {what}: still failing after {self.retries + 1} attempts ({last})")

    def _wait(self, response: httpx.Response | None, attempt: int, what: str, last: str) -> None:
        wait = _wait_seconds(response, attempt, self.backoff, time.time())
        if wait > self.max_wait:
            raise GitHubError(
                f"GitHub API {what}: rate limited for {wait:.0f}s more ({last}); try again later"
            )
        self._sleep(wait)

    def _create(
        self,
        path: str,
        payload: dict[str, Any],
        *,
        permission: str,
        resource: str,
        find: Callable[[], dict[str, Any] | None],
    ) -> tuple[dict[str, Any], bool]:
        """POST once; after an unconfirmed failure, return the object if `find` sees it, else POST again.

        Returns (object, True) when this POST's response carried it, (object, False) when it was
        found by lookup after a failure. GitHub's listings can lag a write by a moment, which is
        one more reason the backoff comes before the lookup.
        """
        what = f"POST {path}"
        last = ""
        for attempt in range(self.retries + 1):
            try:
                response = self.request("POST", path, permission=permission, resource=resource, json=payload)
                return dict(response.json()), True
            except _Unconfirmed as exc:
                last = str(exc)
            self._wait(None, attempt, what, last)
            found = find()
            if found is not None:
                return found, False
        raise GitHubError(
            f"{last}; still failing after {self.retries + 1} attempts; looked for it after each "
            "failure and found nothing, so nothing was created"
        )

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

    def _pages(
        self, path: str, *, permission: str, resource: str, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paginated listing, following the Link: rel="next" header."""
        url: str | None = path
        query: dict[str, Any] | None = {"per_page": PER_PAGE, **(params or {})}
        while url:
            response = self.request("GET", url, permission=permission, resource=resource, params=query)
            yield from response.json()
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries its own query

    # ------------------------------------------------------------ identity

    @property
    def login(self) -> str:
        """Who the token writes as: GET /user for a user token, the app's bot for an installation token."""
        if self._login is None:
            try:
                response = self.request("GET", "/user", permission="(none)", resource="the token's user")
            except GitHubHTTPError as exc:
                # An installation token (GITHUB_TOKEN) gets 403 "Resource not accessible by integration".
                if exc.status != 403:
                    raise
                self._login = self.app_login
            else:
                self._login = str(response.json()["login"])
        return self._login

    # ------------------------------------------------------------ operations

    def upsert_comment(self, number: int, body: str, marker: str = "modelops:gate") -> Comment:
        """Update our own comment carrying `marker` on issue/PR `number`, or create it.

        Only comments written by the token's identity are updated: anyone can paste the marker
        into a comment, and a sticky report must not overwrite someone else's words.
        """
        tag = marker_tag(marker)
        text = with_marker(body, marker)
        repo = f"/repos/{self.repository}"
        permission = "pull-requests: write (or issues: write)"
        resource = f"pull request #{number}"

        def ours() -> dict[str, Any] | None:
            listing = self._pages(
                f"{repo}/issues/{number}/comments", permission=permission, resource=resource
            )
            return next((c for c in listing if carries(c, tag) and written_by(c, self.login)), None)

        existing = ours()
        if existing is not None:
            response = self.request(
                "PATCH",
                f"{repo}/issues/comments/{existing['id']}",
                permission=permission,
                resource=f"comment {existing['id']} on #{number}",
                json={"body": text},
            )
            data = response.json()
            return Comment(int(data["id"]), str(data.get("html_url", "")), created=False)
        data, _ = self._create(
            f"{repo}/issues/{number}/comments",
            {"body": text},
            permission=permission,
            resource=resource,
            find=ours,
        )
        return Comment(int(data["id"]), str(data.get("html_url", "")), created=True)

    def create_issue(
        self, title: str, body: str, labels: Sequence[str] = (), key: str | None = None
    ) -> dict[str, Any]:
        """Open an issue; its body carries a hidden idempotency key so a retry never opens a second one."""
        tag = marker_tag(key_marker(key or new_key()))
        permission = "issues: write"

        def find() -> dict[str, Any] | None:
            # Newest first: the issue a failed POST created is on the first page. No `creator`
            # filter: the key is unique, and how GitHub spells a bot's login there varies.
            response = self.request(
                "GET",
                f"/repos/{self.repository}/issues",
                permission=permission,
                resource="issues",
                params={"state": "all", "sort": "created", "direction": "desc", "per_page": PER_PAGE},
            )
            return next((i for i in response.json() if "pull_request" not in i and carries(i, tag)), None)

        issue, _ = self._create(
            f"/repos/{self.repository}/issues",
            {"title": title, "body": f"{tag}\n{body}", "labels": list(labels)},
            permission=permission,
            resource="issue",
            find=find,
        )
        return issue

    def create_pull(
        self, head: str, base: str, title: str, body: str, draft: bool = False, key: str | None = None
    ) -> dict[str, Any]:
        """Open a PR from `head`; after an unconfirmed failure the open PR for `head` with our key is it."""
        tag = marker_tag(key_marker(key or new_key()))
        permission = "pull-requests: write (and contents: write to push the branch)"
        resource = f"pull request {head!r} -> {base!r}"
        owner = self.repository.split("/")[0]

        def find() -> dict[str, Any] | None:
            response = self.request(
                "GET",
                f"/repos/{self.repository}/pulls",
                permission=permission,
                resource=resource,
                params={"head": f"{owner}:{head}", "base": base, "state": "all"},
            )
            return next((p for p in response.json() if carries(p, tag)), None)

        pull, _ = self._create(
            f"/repos/{self.repository}/pulls",
            {"head": head, "base": base, "title": title, "body": f"{tag}\n{body}", "draft": draft},
            permission=permission,
            resource=resource,
            find=find,
        )
        return pull

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str] | None = None) -> None:
        """Trigger `workflow` on `ref`. Not retried after a 5xx or a dropped connection.

        The dispatch API answers 204 with no run id, and the run it starts shows up in the run
        list only after a delay, under an id we cannot tie to this request; a lookup cannot prove
        it did not happen, and a blind retry could train twice. So the failure is reported with
        where to look, and a person (or the next monitoring run) decides.
        """
        path = f"/repos/{self.repository}/actions/workflows/{workflow}/dispatches"
        try:
            self.request(
                "POST",
                path,
                permission="actions: write",
                resource=f"workflow {workflow}",
                json={"ref": ref, **({"inputs": dict(inputs)} if inputs else {})},
            )
        except _Unconfirmed as exc:
            raise GitHubError(
                f"{exc}; the dispatch of {workflow} on {ref} may or may not have started a run, so it "
                f"was not retried: check the runs of {workflow} in {self.repository} before dispatching again"
            ) from exc
