"""Turn a local release change into a pull request: run the release job, push a branch, open the PR.

Nothing here merges. The PR is the unit of review: CODEOWNERS puts the model owners on it.
The release jobs are called as functions (their errors propagate as `ModelOpsError`s), and
GitHub is reached only through the `GitHubPort` the caller passes in.
"""

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from modelops.adapters.git import GitError, GitRepo
from modelops.adapters.github import GitHubPort
from modelops.errors import ReleaseError


@dataclass(frozen=True)
class Proposal:
    branch: str
    base: str
    title: str
    body: str


def git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """The git adapter's runner; a failure is a release step's error (the PR is not opened)."""
    try:
        return GitRepo(root).run(*args, env=env or None)
    except GitError as exc:
        raise ReleaseError(str(exc)) from exc


def current_branch(root: Path) -> str:
    branch = git(root, "rev-parse", "--abbrev-ref", "HEAD")
    if branch == "HEAD":
        raise ReleaseError("HEAD is detached; pass --base to name the branch the PR targets")
    return branch


def _auth_env(remote_url: str) -> dict[str, str] | None:
    """Credentials for one push, through git's env config so they never reach .git/config or argv.

    Checkout runs with persist-credentials: false, so the token is handed over only here.
    """
    token = os.environ.get("GITHUB_TOKEN")
    parsed = urlparse(remote_url)
    if not token or parsed.scheme != "https":
        return None
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return os.environ | {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{parsed.scheme}://{parsed.netloc}/.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


def push(root: Path, branch: str, remote: str = "origin") -> None:
    """Push HEAD to a new branch; refuses to overwrite an existing one."""
    url = git(root, "remote", "get-url", remote)
    ref = f"refs/heads/{branch}"
    # A plain push would fast-forward an existing branch; an empty lease means "must not exist yet".
    git(root, "push", f"--force-with-lease={ref}:", remote, f"HEAD:{ref}", env=_auth_env(url))


def head_message(root: Path) -> tuple[str, str]:
    """(subject, body) of HEAD's commit."""
    return git(root, "log", "-1", "--format=%s"), git(root, "log", "-1", "--format=%b")


def changed_files(root: Path, since: str | None = None) -> list[str]:
    """Files changed by HEAD, or by every commit after `since` (a promotion makes two)."""
    if since is None:
        return git(root, "show", "--name-only", "--format=", "HEAD").splitlines()
    return git(root, "diff", "--name-only", f"{since}..HEAD").splitlines()


def promotion_body(
    subject: str, body: str, files: list[str], version: int, track: str, pr: int | None
) -> str:
    listed = "\n".join(f"- `{f}`" for f in files)
    source = f"Candidate from #{pr}." if pr else "Dispatched by hand."
    return (
        f"### {subject}\n\n{source} Merging this PR points the **{track}** track at v{version}; "
        "the GitOps controller rolls the pods.\n\n"
        f"Files:\n{listed}\n\n"
        "Review: the release file carries the gate verdict and report digest, the lineage and the "
        "previous version; the model card says how to roll back. `modelops release verify` runs in CI.\n"
        + (f"\n```\n{body}\n```\n" if body else "")
    )


def rollback_body(subject: str, body: str, files: list[str], track: str, reason: str) -> str:
    listed = "\n".join(f"- `{f}`" for f in files)
    return (
        f"### {subject}\n\n**Why:** {reason or 'not given'}\n\n"
        f"Merging this PR rolls the **{track}** track back to the manifests it had before the "
        "promotion; see ROLLBACK.md to confirm through `/metadata`.\n\n"
        f"Files:\n{listed}\n" + (f"\n```\n{body}\n```\n" if body else "")
    )


def open_pull(root: Path, proposal: Proposal, gh: GitHubPort) -> str:
    """Push the branch and open the PR; returns its URL."""
    push(root, proposal.branch)
    pr = gh.create_pull(head=proposal.branch, base=proposal.base, title=proposal.title, body=proposal.body)
    return str(pr.get("html_url") or pr.get("number"))


def promote_commit(root: Path, version: int, track: str, pr: int | None) -> None:
    """The `modelops promote VERSION --to TRACK --commit` job, called as a function."""
    from modelops.release import promote
    from modelops.release.config import load_release_config
    from modelops.settings import load_settings

    settings = load_settings(root)
    cfg = load_release_config(settings.config_dir)
    planned = promote.plan(
        settings, cfg, version, track, pr=pr, promoted_by=promote.default_actor(settings.root)
    )
    promote.apply(settings.root, planned, commit=True)


def rollback_commit(root: Path, track: str) -> None:
    """The `modelops rollback --track TRACK` job, called as a function."""
    from modelops.release import rollback
    from modelops.release.config import load_release_config
    from modelops.settings import default_config_dir

    cfg = load_release_config(default_config_dir(root))
    rollback.run(root, rollback.find(root, track, cfg.track_trailer))


def propose_promotion(
    root: Path, gh: GitHubPort, model: str, version: int, track: str, pr: int | None, base: str
) -> str:
    """Promote with a commit, push it to promote/<model>-v<N>-<track> and open the PR; returns its URL."""
    before = git(root, "rev-parse", "HEAD")
    promote_commit(root, version, track, pr)
    subject, body = head_message(root)
    text = promotion_body(subject, body, changed_files(root, since=before), version, track, pr)
    return open_pull(root, Proposal(f"promote/{model}-v{version}-{track}", base, subject, text), gh)


def propose_rollback(root: Path, gh: GitHubPort, track: str, reason: str, base: str) -> str:
    """Revert the track's last promotion, push it to rollback/<track>-<sha> and open the PR."""
    rollback_commit(root, track)
    subject, body = head_message(root)
    text = rollback_body(subject, body, changed_files(root), track, reason)
    branch = f"rollback/{track}-{git(root, 'rev-parse', '--short=12', 'HEAD')}"
    return open_pull(root, Proposal(branch, base, subject, text), gh)
