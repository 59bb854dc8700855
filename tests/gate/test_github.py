"""The GitHub adapter and `modelops comment` against the local fake GitHub API."""

import itertools
import json
import re
from pathlib import Path

import pytest

from modelops.adapters import github
from modelops.cli import main
from modelops.errors import GitHubError
from tests.fakes.github_server import FakeGitHub

pytestmark = pytest.mark.integration


def _client(fake: FakeGitHub, **kwargs) -> github.GitHub:  # type: ignore[no-untyped-def]
    waits: list[float] = []
    client = github.GitHub("test-token", "acme/loans", fake.url, sleep=waits.append, **kwargs)
    client.waits = waits  # type: ignore[attr-defined]
    return client


def _comments(fake: FakeGitHub) -> list[dict]:
    return list(fake.state.comments.values())


def test_comment_is_created_then_updated_in_place(github_env: FakeGitHub, tmp_path: Path) -> None:
    body = tmp_path / "gate.md"
    body.write_text("## ✅ Gate passed\n")
    assert main(["comment", "--pr", "7", "--body", str(body)]) == 0
    body.write_text("## ❌ Gate failed\n")
    assert main(["comment", "--pr", "7", "--body", str(body)]) == 0
    [comment] = _comments(github_env)
    assert comment["issue"] == 7
    assert comment["body"] == "<!-- modelops:gate -->\n## ❌ Gate failed\n"
    methods = [(r["method"], r["path"]) for r in github_env.requests]
    assert methods == [
        ("GET", "/repos/acme/loans/issues/7/comments"),
        ("POST", "/repos/acme/loans/issues/7/comments"),
        ("GET", "/repos/acme/loans/issues/7/comments"),
        ("GET", "/user"),  # 403 for an installation token: the comment must be github-actions[bot]'s
        ("PATCH", f"/repos/acme/loans/issues/comments/{comment['id']}"),
    ]
    assert all(r["authorization"] == "Bearer test-token" for r in github_env.requests)
    summary = Path(github_env_summary()).read_text()
    assert "Gate passed" in summary and "Gate failed" in summary


def github_env_summary() -> str:
    import os

    return os.environ["GITHUB_STEP_SUMMARY"]


def test_markers_keep_separate_sticky_comments(fake_github: FakeGitHub) -> None:
    with _client(fake_github) as gh:
        gh.upsert_comment(3, "gate report")
        gh.upsert_comment(3, "drift report", marker="modelops:monitor")
        gh.upsert_comment(3, "gate report v2")
    bodies = sorted(c["body"] for c in _comments(fake_github))
    assert bodies == ["<!-- modelops:gate -->\ngate report v2", "<!-- modelops:monitor -->\ndrift report"]


def test_listing_is_paginated(fake_github: FakeGitHub) -> None:
    fake_github.state.per_page_max = 2
    with _client(fake_github) as gh:
        for i in range(5):
            gh.request(
                "POST",
                "/repos/acme/loans/issues/9/comments",
                permission="x",
                resource="y",
                json={"body": f"chatter {i}"},
            )
        gh.upsert_comment(9, "first")
        made = gh.upsert_comment(9, "second")
    assert not made.created
    pages = [
        r["query"].get("page", "1")
        for r in fake_github.requests
        if r["method"] == "GET" and r["path"].endswith("/comments")
    ]
    assert pages == ["1", "2", "3", "1", "2", "3"]
    assert sum("modelops:gate" in c["body"] for c in _comments(fake_github)) == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "GITHUB_TOKEN is missing, expired or invalid"),
        (403, "needs `permissions: pull-requests: write"),
        (404, "pull request #5 not found in acme/loans"),
        (422, "GitHub rejected the request for pull request #5"),
    ],
)
def test_client_errors_name_the_permission_or_resource(
    fake_github: FakeGitHub, status: int, expected: str
) -> None:
    fake_github.fail(status, method="POST")
    with (
        _client(fake_github) as gh,
        pytest.raises(GitHubError, match="POST /repos/acme/loans/issues/5/comments") as err,
    ):
        gh.upsert_comment(5, "body")
    assert expected in str(err.value)
    assert gh.waits == []  # type: ignore[attr-defined]  # client errors are not retried


def _calls(fake: FakeGitHub) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in fake.requests]


def test_a_post_refused_before_it_applied_is_retried_after_looking(fake_github: FakeGitHub) -> None:
    fake_github.fail(502, times=2, method="POST")
    with _client(fake_github, backoff=0.5) as gh:
        assert gh.upsert_comment(5, "body").created
    assert gh.waits == [0.5, 1.0]  # type: ignore[attr-defined]
    posts = [c for c in _calls(fake_github) if c.startswith("POST")]
    assert len(posts) == 3
    # Between two POSTs there is always a lookup of the comments.
    calls = _calls(fake_github)
    for first, second in itertools.pairwise([i for i, c in enumerate(calls) if c.startswith("POST")]):
        assert "GET /repos/acme/loans/issues/5/comments" in calls[first + 1 : second]
    assert len(_comments(fake_github)) == 1


def test_a_comment_post_that_applied_then_502d_creates_one_comment(fake_github: FakeGitHub) -> None:
    fake_github.fail(502, method="POST", after=True)
    with _client(fake_github) as gh:
        made = gh.upsert_comment(5, "body")
    [comment] = _comments(fake_github)
    assert made.created and made.id == comment["id"]
    assert gh.waits == [1.0]  # type: ignore[attr-defined]  # the 502 was seen, then the lookup
    assert sum(c.startswith("POST") for c in _calls(fake_github)) == 1


def test_a_comment_post_whose_answer_was_lost_creates_one_comment(fake_github: FakeGitHub) -> None:
    fake_github.fail(200, method="POST", stall=3)  # applied, then no answer before the client times out
    with _client(fake_github, timeout=0.5) as gh:
        made = gh.upsert_comment(5, "body")
    [comment] = _comments(fake_github)
    assert made.id == comment["id"]
    assert gh.waits == [1.0]  # type: ignore[attr-defined]  # the timeout was seen, then the lookup
    assert sum(c.startswith("POST") for c in _calls(fake_github)) == 1


def test_an_issue_post_that_applied_then_502d_creates_one_issue(fake_github: FakeGitHub) -> None:
    with _client(fake_github) as gh:
        gh.create_issue("Drift detected", "an older alert")  # same title: the key, not the title, decides
        fake_github.fail(502, method="POST", after=True)
        issue = gh.create_issue("Drift detected", "details", labels=["monitoring"])
    assert len(fake_github.state.issues) == 2
    assert issue["number"] == fake_github.state.issues[-1]["number"]
    assert issue["body"].endswith("\ndetails")
    assert sum(c == "POST /repos/acme/loans/issues" for c in _calls(fake_github)) == 2


def test_a_pull_post_that_applied_then_502d_creates_one_pull(fake_github: FakeGitHub) -> None:
    fake_github.fail(502, method="POST", after=True)
    with _client(fake_github) as gh:
        pull = gh.create_pull("promote/m-v3-canary", "main", "release(m): promote v3", "why")
    [stored] = fake_github.state.pulls
    assert pull["number"] == stored["number"]
    lookups = [r for r in fake_github.requests if r["method"] == "GET" and r["path"].endswith("/pulls")]
    assert lookups[0]["query"]["head"] == "acme:promote/m-v3-canary"


def test_a_failed_post_not_found_by_lookup_is_sent_again(fake_github: FakeGitHub) -> None:
    fake_github.fail(503, method="POST", path_contains="/pulls")
    with _client(fake_github) as gh:
        pull = gh.create_pull("rollback/canary-abc", "main", "Revert", "why")
    [stored] = fake_github.state.pulls
    assert pull["number"] == stored["number"]
    assert sum(c.endswith("/pulls") and c.startswith("POST") for c in _calls(fake_github)) == 2


def test_a_post_that_keeps_failing_says_nothing_was_created(fake_github: FakeGitHub) -> None:
    fake_github.fail(502, times=10, method="POST")
    with (
        _client(fake_github, retries=2) as gh,
        pytest.raises(GitHubError, match="found nothing, so nothing was created"),
    ):
        gh.create_issue("t", "b")
    assert fake_github.state.issues == []


def test_reads_are_retried_on_server_errors(fake_github: FakeGitHub) -> None:
    fake_github.fail(500, times=2, method="GET")
    with _client(fake_github, backoff=0.5) as gh:
        assert gh.upsert_comment(5, "body").created
    assert gh.waits == [0.5, 1.0]  # type: ignore[attr-defined]


def test_a_dispatch_is_never_retried_after_a_server_error(fake_github: FakeGitHub) -> None:
    fake_github.fail(502, method="POST", path_contains="/dispatches", after=True)
    with _client(fake_github) as gh, pytest.raises(GitHubError, match="may or may not have started a run"):
        gh.dispatch_workflow("train.yml", "main")
    assert fake_github.state.dispatches == [{"workflow": "train.yml", "ref": "main"}]
    assert gh.waits == []  # type: ignore[attr-defined]


def test_a_rate_limited_dispatch_is_retried(fake_github: FakeGitHub) -> None:
    # GitHub refuses a rate-limited request before doing anything, so sending it again is safe.
    fake_github.fail(429, method="POST", headers={"Retry-After": "2"})
    with _client(fake_github) as gh:
        gh.dispatch_workflow("train.yml", "main", inputs={"reason": "drift"})
    assert gh.waits == [2.0]  # type: ignore[attr-defined]
    assert fake_github.state.dispatches == [
        {"workflow": "train.yml", "ref": "main", "inputs": {"reason": "drift"}}
    ]


def test_sticky_comment_leaves_another_users_comment_alone(fake_github: FakeGitHub) -> None:
    fake_github.user_token("mallory-token", "mallory")
    with github.GitHub("mallory-token", "acme/loans", fake_github.url) as mallory:
        mallory.request(
            "POST",
            "/repos/acme/loans/issues/4/comments",
            permission="x",
            resource="y",
            json={"body": "<!-- modelops:gate -->\n## ✅ Gate passed (not really)"},
        )
    with _client(fake_github) as gh:
        made = gh.upsert_comment(4, "## ❌ Gate failed")
        again = gh.upsert_comment(4, "## ❌ Gate failed, v2")
    by_user = {c["user"]["login"]: c["body"] for c in _comments(fake_github)}
    assert by_user == {
        "mallory": "<!-- modelops:gate -->\n## ✅ Gate passed (not really)",
        "github-actions[bot]": "<!-- modelops:gate -->\n## ❌ Gate failed, v2",
    }
    assert made.created and not again.created and again.id == made.id


def test_a_user_token_updates_its_own_comment_found_through_get_user(fake_github: FakeGitHub) -> None:
    fake_github.user_token("alice-token", "alice")
    fake_github.user_token("bob-token", "bob")
    with github.GitHub("bob-token", "acme/loans", fake_github.url) as bob:
        bob.upsert_comment(2, "bob's report")
    with github.GitHub("alice-token", "acme/loans", fake_github.url) as alice:
        alice.upsert_comment(2, "alice's report")
        assert alice.login == "alice"
        alice.upsert_comment(2, "alice's report v2")
    by_user = {c["user"]["login"]: c["body"] for c in _comments(fake_github)}
    assert by_user == {
        "bob": "<!-- modelops:gate -->\nbob's report",
        "alice": "<!-- modelops:gate -->\nalice's report v2",
    }


def test_rate_limits_honour_retry_after_then_fail_clearly(fake_github: FakeGitHub) -> None:
    fake_github.fail(429, times=10, headers={"Retry-After": "3"})
    with (
        _client(fake_github, retries=2) as gh,
        pytest.raises(GitHubError, match="still failing after 3 attempts"),
    ):
        gh.upsert_comment(5, "body")
    assert gh.waits == [3.0, 3.0]  # type: ignore[attr-defined]
    fake_github.state.failures.clear()
    fake_github.fail(403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"})
    with _client(fake_github) as gh:
        gh.upsert_comment(5, "body")
    assert gh.waits == [0.0]  # type: ignore[attr-defined]


def test_a_long_rate_limit_fails_instead_of_hanging(fake_github: FakeGitHub) -> None:
    fake_github.fail(403, headers={"Retry-After": "3600"}, message="secondary rate limit")
    with _client(fake_github) as gh, pytest.raises(GitHubError, match="rate limited for 3600s"):
        gh.upsert_comment(5, "body")


def test_create_issue_and_pull(fake_github: FakeGitHub) -> None:
    with _client(fake_github) as gh:
        issue = gh.create_issue("Drift detected", "details", labels=["monitoring"])
        pull = gh.create_pull("retrain/42", "main", "Retrain loans", "because drift")
        with pytest.raises(GitHubError, match=r"422.*A pull request already exists"):
            gh.create_pull("retrain/42", "main", "Retrain loans", "again")
    assert issue["number"] and issue["labels"] == ["monitoring"]
    assert pull["head"] == "retrain/42"
    posted = [r["json"] for r in fake_github.requests if r["method"] == "POST"]
    assert posted[0]["title"] == "Drift detected" and posted[0]["labels"] == ["monitoring"]
    # The body carries a hidden idempotency key, then the text.
    key, text = posted[0]["body"].split("\n", 1)
    assert re.fullmatch(r"<!-- modelops:key=[0-9a-f]{32} -->", key) and text == "details"


def test_comment_command_reports_missing_configuration(monkeypatch, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    body = tmp_path / "gate.md"
    body.write_text("x")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/loans")
    assert main(["comment", "--pr", "1", "--body", str(body)]) == 2
    assert "GITHUB_TOKEN is not set" in capsys.readouterr().err
    assert main(["comment", "--pr", "1", "--body", str(tmp_path / "nope.md")]) == 2


def test_fake_server_records_to_a_file(tmp_path: Path) -> None:
    record = tmp_path / "requests.jsonl"
    fake = FakeGitHub(record=record).start()
    try:
        with _client(fake) as gh:
            gh.upsert_comment(1, "hello")
    finally:
        fake.stop()
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [entry["method"] for entry in lines] == ["GET", "POST"]
