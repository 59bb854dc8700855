"""`modelops comment`: one sticky PR comment per marker, plus the job summary."""

import os
from pathlib import Path

from modelops.adapters import github
from modelops.errors import GitHubError


def post_comment(pr: int, body_file: Path, marker: str = "modelops:gate") -> github.Comment:
    """Create or update the comment carrying `marker` on PR `pr`; append to $GITHUB_STEP_SUMMARY."""
    if not body_file.is_file():
        raise GitHubError(f"--body {body_file}: file not found")
    body = body_file.read_text()
    # The summary is written first: it is useful even when the token cannot comment.
    github.append_step_summary(body)
    client = github.GitHub.from_env(os.environ)
    try:
        return client.upsert_comment(pr, body, marker)
    finally:
        client.close()
