"""An in-memory `Git` for fast unit tests of promotion, rollback and lineage.

The history (commits, an index, HEAD) lives in memory; the work tree is the real directory
`root`, because the jobs read and write overlays and release files there. It keeps what the
callers rely on: a commit takes exactly the named paths, trailers are read from the message's
last paragraph, a revert undoes one commit's changes (refusing, with the tree unchanged, when
they no longer apply), `changed_paths` ignores untracked files. Simpler than git on purpose:
a revert conflicts when any file it touches changed since, where git would merge hunks that
do not overlap. tests/adapters/test_git_contract.py
runs the same checks against this fake and the git binary, so the two cannot drift apart.
"""

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from modelops.adapters.git import Commit, GitError, reverted_sha

Tree = dict[str, bytes]  # repo-relative posix path -> content
_TRAILER = re.compile(r"^([A-Za-z0-9-]+): (.*)$")


@dataclass(frozen=True)
class _Commit:
    sha: str
    parent: str | None
    tree: Tree
    message: str
    committed_at: str


def _trailers(message: str) -> list[tuple[str, str]]:
    """git's rule, simplified: the last paragraph, when every line of it is `Key: value`."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return []
    found = [_TRAILER.match(line) for line in paragraphs[-1].splitlines()]
    return [(m.group(1), m.group(2).strip()) for m in found if m] if all(found) else []


@dataclass
class InMemoryGit:
    root: Path
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    config: dict[str, str] = field(default_factory=dict)
    # A commit-msg hook: returns a rejection (the commit fails with it) or None.
    hook: Callable[[str], str | None] | None = None
    commits: dict[str, _Commit] = field(default_factory=dict)
    head_sha: str | None = None
    index: Tree = field(default_factory=dict)

    # --- the Git protocol ------------------------------------------------------------------

    def is_repository(self) -> bool:
        return True

    def head(self) -> str:
        if self.head_sha is None:
            raise GitError("git rev-parse failed: exit 1")
        return self.head_sha

    def changed_paths(self) -> list[str]:
        head = self._tree()
        tracked = set(head) | set(self.index)
        return sorted(p for p in tracked if self._disk(p) != head.get(p) or self.index.get(p) != head.get(p))

    def config_value(self, key: str) -> str | None:
        return self.config.get(key) or None

    def commit_paths(self, paths: Sequence[Path], message: str) -> str:
        specs = [p.as_posix() for p in paths]
        head = self._tree()
        tree = dict(head)
        for spec in specs:
            content = self._disk(spec)
            if content is None and spec not in head and spec not in self.index:
                raise GitError(f"git add failed: fatal: pathspec '{spec}' did not match any files")
            if content is None:
                tree.pop(spec, None)
            else:
                tree[spec] = content
        for spec in specs:  # `git add`: staged even when the commit then fails
            self._stage(spec, tree.get(spec))
        if tree == head:
            raise GitError("git commit failed: no changes added to commit")
        if self.hook is not None and (refusal := self.hook(message)) is not None:
            raise GitError(f"git commit failed: {refusal}")
        return self._commit(tree, message)

    def reset_paths(self, sha: str, paths: Sequence[Path]) -> None:
        if sha not in self.commits:
            raise GitError(f"git reset failed: fatal: ambiguous argument '{sha}'")
        self.head_sha = sha
        tree = self.commits[sha].tree
        for p in paths:
            self._stage(p.as_posix(), tree.get(p.as_posix()))

    def history(self, trailer_keys: tuple[str, ...]) -> list[Commit]:
        out = []
        for c in reversed(self._chain()):
            subject, _, body = c.message.partition("\n")
            pairs = _trailers(c.message)
            values = {k: ",".join(v for key, v in pairs if key == k) for k in trailer_keys}
            out.append(Commit(c.sha, c.committed_at, subject.strip(), values, reverted_sha(body)))
        return out

    def file_versions(self, path: str) -> list[tuple[str, str]]:
        versions = []
        for c in self._chain():
            parent = self.commits[c.parent].tree if c.parent else {}
            if c.tree.get(path) != parent.get(path) and path in c.tree:
                versions.append((c.sha, c.tree[path].decode().strip()))
        return versions

    def revert(self, sha: str) -> str:
        target = self.commits.get(sha)
        if target is None:
            raise GitError(f"git revert failed: fatal: bad revision '{sha}'")
        before = self.commits[target.parent].tree if target.parent else {}
        changed = {p for p in set(before) | set(target.tree) if before.get(p) != target.tree.get(p)}
        head = self._tree()
        if self.index != head or any(self._disk(p) != head.get(p) for p in changed):
            raise GitError("git revert failed: error: your local changes would be overwritten by revert.")
        if any(head.get(p) != target.tree.get(p) for p in changed):
            raise GitError(f"git revert failed: error: could not revert {sha[:7]}... (conflict)")
        tree = dict(head)
        for p in changed:
            if p in before:
                tree[p] = before[p]
            else:
                tree.pop(p, None)
        for p in changed:
            self._write(p, tree.get(p))
            self._stage(p, tree.get(p))
        subject = target.message.partition("\n")[0]
        return self._commit(tree, f'Revert "{subject}"\n\nThis reverts commit {sha}.\n')

    # --- test set-up ------------------------------------------------------------------------

    def commit_all(self, message: str) -> str:
        """`git add -A && git commit`: the initial commit of a throw-away project."""
        tree = {
            p.relative_to(self.root).as_posix(): p.read_bytes() for p in self.root.rglob("*") if p.is_file()
        }
        self.index = dict(tree)
        return self._commit(tree, message)

    # --- internals --------------------------------------------------------------------------

    def _tree(self) -> Tree:
        return self.commits[self.head_sha].tree if self.head_sha else {}

    def _chain(self) -> list[_Commit]:
        """HEAD's commits, newest first."""
        out, sha = [], self.head_sha
        while sha is not None:
            out.append(self.commits[sha])
            sha = self.commits[sha].parent
        return out

    def _disk(self, path: str) -> bytes | None:
        target = self.root / path
        return target.read_bytes() if target.is_file() else None

    def _write(self, path: str, content: bytes | None) -> None:
        target = self.root / path
        if content is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)

    def _stage(self, path: str, content: bytes | None) -> None:
        if content is None:
            self.index.pop(path, None)
        else:
            self.index[path] = content

    def _commit(self, tree: Tree, message: str) -> str:
        when = self.clock().astimezone(UTC).replace(microsecond=0).isoformat()
        seed = f"{self.head_sha}\n{when}\n{message}\n{sorted(tree.items())}\n{len(self.commits)}"
        sha = hashlib.sha1(seed.encode()).hexdigest()
        self.commits[sha] = _Commit(sha, self.head_sha, dict(tree), message, when)
        self.head_sha = sha
        return sha
