"""An in-memory `GitHubPort` for fast unit tests of the code that comments, opens issues and PRs.

It keeps the rules the callers rely on: the sticky comment is matched by marker and author,
a second PR for the same head branch is refused (422 on GitHub), and every call is recorded.
The HTTP behaviour (retries, lookups after a 502, pagination) is tested against the fake
server in tests/fakes/github_server.py instead.
"""

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelops.adapters.github import Comment, carries, marker_tag, with_marker, written_by
from modelops.errors import GitHubError


@dataclass
class InMemoryGitHub:
    repository: str = "acme/model"
    login: str = "github-actions[bot]"
    comments: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    dispatches: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)

    def add_comment(self, number: int, body: str, login: str) -> dict[str, Any]:
        """A comment written by someone else (or by us in an earlier run)."""
        comment = {"id": next(self._ids), "issue": number, "body": body, "user": {"login": login}}
        self.comments.append(comment)
        return comment

    def upsert_comment(self, number: int, body: str, marker: str = "modelops:gate") -> Comment:
        self.calls.append(f"upsert_comment #{number} {marker}")
        tag, text = marker_tag(marker), with_marker(body, marker)
        for c in self.comments:
            if c["issue"] == number and carries(c, tag) and written_by(c, self.login):
                c["body"] = text
                return Comment(c["id"], f"memory://comment/{c['id']}", created=False)
        c = self.add_comment(number, text, self.login)
        return Comment(c["id"], f"memory://comment/{c['id']}", created=True)

    def create_issue(
        self, title: str, body: str, labels: Sequence[str] = (), key: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(f"create_issue {title}")
        number = next(self._ids)
        issue = {
            "number": number,
            "title": title,
            "body": body,
            "labels": list(labels),
            "html_url": f"memory://issues/{number}",
        }
        self.issues.append(issue)
        return issue

    def create_pull(
        self, head: str, base: str, title: str, body: str, draft: bool = False, key: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(f"create_pull {head} -> {base}")
        if any(p["head"] == head for p in self.pulls):
            raise GitHubError(f"GitHub rejected the request: a pull request already exists for {head}")
        number = next(self._ids)
        pull = {
            "number": number,
            "head": head,
            "base": base,
            "title": title,
            "body": body,
            "draft": draft,
            "html_url": f"memory://pull/{number}",
        }
        self.pulls.append(pull)
        return pull

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str] | None = None) -> None:
        self.calls.append(f"dispatch {workflow}@{ref}")
        self.dispatches.append({"workflow": workflow, "ref": ref, "inputs": dict(inputs or {})})
