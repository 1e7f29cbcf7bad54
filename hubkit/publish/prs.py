"""Pull requests a push opens, finds again and closes; and whether a merged `main` is exactly what was tested.

A push writes a marker into its PR description: the hash of its content (every staged file's path and sha256, and
the deletions) and the `main` commit it was planned against. A re-run (after a kill, a failed smoke test, a dropped
connection) finds its own earlier open PR by that marker and reuses it when `main` has not moved, or closes it when
it has, so re-runs never pile up open PRs.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from .stage import Plan, Staging

MARKER = re.compile(r"<!-- hubkit-plan content=(?P<content>[0-9a-f]{64}) base=(?P<base>[0-9a-f]{40}|none) -->")
TITLE_PREFIX = "hubkit: publish run"


def content_hash(staging: Staging, deletions: tuple[str, ...]) -> str:
    """What the commit will hold, independent of where it is planned: files by sha256, and the deletions."""
    files = sorted((f.path_in_repo, f.sha256) for f in staging.files)
    return hashlib.sha256(json.dumps({"files": files, "delete": sorted(deletions)}).encode()).hexdigest()


def marker(content: str, base: str | None) -> str:
    return f"<!-- hubkit-plan content={content} base={base or 'none'} -->"


@dataclass(frozen=True)
class OpenPR:
    num: int
    head: str  # the PR's head commit
    base: str | None  # main's commit the PR was planned against (from the marker)
    url: str


def find_own_prs(api, repo_id: str, user: str, content: str) -> list[OpenPR]:
    """Open PRs by `user`, opened by hubkit, whose marker carries `content` (newest first)."""
    found = []
    for d in api.get_repo_discussions(repo_id, author=user, discussion_type="pull_request", discussion_status="open"):
        if not d.title.startswith(TITLE_PREFIX):
            continue
        details = api.get_discussion_details(repo_id, d.num)
        first = next((e for e in details.events if e.type == "comment"), None)
        m = MARKER.search(getattr(first, "content", "") or "")
        if not m or m.group("content") != content:
            continue
        head = api.repo_info(repo_id, revision=details.git_reference or f"refs/pr/{d.num}").sha
        base = None if m.group("base") == "none" else m.group("base")
        found.append(OpenPR(d.num, head, base, d.url))
    return sorted(found, key=lambda pr: -pr.num)


def tree_of(api, repo_id: str, revision: str) -> dict[str, tuple]:
    """Every file at `revision`: path -> (size, git blob id, LFS sha256 or None). Byte identity, folders left out."""
    out = {}
    for item in api.list_repo_tree(repo_id, recursive=True, revision=revision):
        if hasattr(item, "blob_id"):
            lfs = getattr(item, "lfs", None)
            out[item.path] = (item.size, item.blob_id, lfs.sha256 if lfs else None)
    return out


def tree_difference(a: dict[str, tuple], b: dict[str, tuple]) -> list[str]:
    """Paths that differ between two trees (missing on one side or different bytes)."""
    return sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p))


def first_parent(api, repo_id: str, commit: str) -> str | None:
    """The commit before `commit` in its history (None for a first commit)."""
    commits = [c.commit_id for c in api.list_repo_commits(repo_id, revision=commit)]
    return commits[1] if len(commits) > 1 and commits[0] == commit else None


def matches_plan(plan: Plan, tree: dict[str, tuple], staging: Staging, deletions: tuple[str, ...]) -> bool:
    """Whether `tree` holds exactly the staged files (same bytes) and none of the deleted paths."""
    by_path = staging.by_path()
    for entry in plan.entries:
        remote = tree.get(entry.path)
        local = by_path[entry.path]
        if remote is None or remote[0] != local.size:
            return False
        if (remote[2] or None) is not None:
            if remote[2] != local.sha256:
                return False
        elif remote[1] != local.git_oid:
            return False
    return not any(p in tree for p in deletions)
