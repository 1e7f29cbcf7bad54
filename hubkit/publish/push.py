"""`hubkit push`: publish a run as ONE Hub commit, smoke-tested before it reaches `main`.

The order matters and each step exists for a reason:
1. `whoami` first: a missing or bad token fails in one line before anything is read or written. Tags are checked
   against git's ref-name rules before anything is uploaded.
2. The repo id is validated with huggingface_hub's own validator (a bare name goes under the token's user).
3. The card (hubkit.publish.cardcheck): every usage block must load the pushed repo; a card built without
   `--repo-id` is re-rendered for it first, so the committed README is right. Then lint, then the Hub's own
   `validate-yaml`: a card the Hub would reject stops the push before the repo is created or a byte is uploaded.
4. The run is staged through an allow-list and hashed; the plan compares it with the remote tree, so identical
   content makes no commit and uploads no bytes. Remote files outside the new release's set are deleted in the same
   commit (listed in the plan; `keep_remote` keeps them).
5. One `create_commit` holding every new, changed and deleted file (never `upload_folder`, which may split into
   several commits), based on the head the plan was made against. A re-run reuses its own earlier open PR for the
   same content (found by the plan marker in the PR description) or closes it when `main` has moved.
6. By default the commit is opened as a pull request; the card's own code blocks, as committed, run against that
   exact commit (hubkit.publish.smoke). The PR is merged only when they pass and `main` has not moved since the plan
   (otherwise the PR is closed and the push ends naming the commit that won). The Hub squash-merges: the merged
   commit is tagged only after its tree is checked byte-identical to the tested head, its parent is the planned base,
   and the card's blocks ran once more, unedited, against `main`. A failure anywhere before the merge leaves `main`
   as it was, so re-running the same command is always safe.
"""

from __future__ import annotations

import difflib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HubkitError
from ..ids import check_repo_id, check_tag
from ..runfolder import RunFolder
from .auth import Identity, endpoint_from_env, resolve_token, scrub, whoami
from .cardcheck import card_for_repo, lint_or_fail, validate_metadata
from .prs import (
    TITLE_PREFIX,
    content_hash,
    find_own_prs,
    first_parent,
    marker,
    matches_plan,
    tree_difference,
    tree_of,
)
from .smoke import DEFAULT_TOLERANCE, SmokeReport, SmokeTestFailed, smoke_test
from .stage import (
    CARD_FILENAME,
    MODEL_DIRNAME,
    Plan,
    make_plan,
    remote_files,
    stage_file,
    stage_run,
)

MAIN = "main"
ALWAYS_KEPT = frozenset({".gitattributes"})  # the Hub writes it at repo creation; never deleted by a push

Progress = Callable[[str], None]


@dataclass
class PushResult:
    """What a push did (or, with `dry_run`, would do). `to_dict()` is what `hubkit push --json` prints."""

    repo_id: str
    endpoint: str
    dry_run: bool
    mode: str  # "pr" or "direct"
    plan: Plan
    skipped: tuple[tuple[str, str], ...] = ()
    base_commit: str | None = None  # main's head the plan was made against
    commit_sha: str | None = None  # the commit this push created (the PR head, or main's new head with --no-pr)
    main_sha: str | None = None  # main's head when the push finished
    pr_url: str | None = None
    pr_num: int | None = None
    merged: bool = False
    tag: str | None = None
    tag_created: bool = False
    bytes_uploaded: int = 0
    smoke: SmokeReport | None = None
    main_smoke: SmokeReport | None = None  # the card's blocks, unedited, against main after the merge
    readme_diff: str | None = None
    deletions: tuple[str, ...] = ()  # remote files this push deletes (in the same commit)
    card_rerendered: bool = False
    reused_pr: bool = False
    closed_prs: tuple[int, ...] = ()
    yaml_warnings: tuple[str, ...] = ()
    messages: list[str] = field(default_factory=list)

    @property
    def committed(self) -> bool:
        return self.commit_sha is not None

    @property
    def url(self) -> str:
        return f"{self.endpoint}/{self.repo_id}"

    def to_dict(self) -> dict:
        return {
            "repo_id": self.repo_id,
            "url": self.url,
            "dry_run": self.dry_run,
            "mode": self.mode,
            "base_commit": self.base_commit,
            "commit_sha": self.commit_sha,
            "main_sha": self.main_sha,
            "pr_url": self.pr_url,
            "pr_num": self.pr_num,
            "merged": self.merged,
            "tag": self.tag,
            "tag_created": self.tag_created,
            "bytes_uploaded": self.bytes_uploaded,
            "files": [e.to_dict() for e in self.plan.entries],
            "counts": self.plan.counts(),
            "remote_only": list(self.plan.remote_only),
            "deleted": list(self.deletions),
            "kept": [p for p in self.plan.remote_only if p not in self.deletions],
            "card_rerendered": self.card_rerendered,
            "reused_pr": self.reused_pr,
            "closed_prs": list(self.closed_prs),
            "yaml_warnings": list(self.yaml_warnings),
            "main_smoke": self.main_smoke.to_dict() if self.main_smoke else None,
            "skipped": [{"path": p, "why": why} for p, why in self.skipped],
            "smoke": self.smoke.to_dict() if self.smoke else None,
            "readme_diff": self.readme_diff,
        }


# ---- helpers -------------------------------------------------------------------------------------------------------
def _describe_http_error(exc: Exception, token: str | None) -> str:
    """A short, token-free description of a failed request: status and the server's message, or the error kind."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        detail = (exc.server_message or "").strip().splitlines()
        return scrub(f"HTTP {status}" + (f" ({detail[0][:200]})" if detail else ""), token)
    text = str(exc).strip().splitlines()
    return scrub(f"{type(exc).__name__}" + (f": {text[0][:200]}" if text else ""), token)


class _Step:
    """Runs one Hub call and turns any failure into a one-line HubkitError saying what state `main` is in."""

    def __init__(self, token: str | None):
        self.token = token

    def __call__(self, what: str, fn, *, after: str = "main is unchanged; run the same command again"):
        try:
            return fn()
        except HubkitError:
            raise
        except Exception as exc:  # HfHubHTTPError, httpx transport errors, OSError...
            raise HubkitError(f"{what} failed: {_describe_http_error(exc, self.token)}; {after}") from None


def normalize_repo_id(repo: str, user: Identity) -> str:
    """`name` -> `user/name`, checked by hubkit.ids (huggingface_hub's rules); a one-line error when invalid."""
    given = check_repo_id((repo or "").strip())
    return given if "/" in given else check_repo_id(f"{user.name}/{given}")


def _remote_head(api, repo_id: str, step: _Step) -> tuple[bool, str | None]:
    """(repo exists, main's head commit or None for a repo without commits)."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    def fetch():
        try:
            return True, api.repo_info(repo_id, revision=MAIN).sha
        except RepositoryNotFoundError:
            return False, None
        except RevisionNotFoundError:
            return True, None

    return step("reading the repo", fetch)


def _remote_tree(api, repo_id: str, revision: str | None, step: _Step) -> dict:
    if revision is None:
        return {}
    return step(
        "listing the remote files",
        lambda: remote_files(api.list_repo_tree(repo_id, recursive=True, revision=revision)),
    )


def _existing_tag(api, repo_id: str, tag: str, step: _Step) -> str | None:
    """The commit `tag` points to, or None when the repo has no such tag."""
    refs = step("listing tags", lambda: api.list_repo_refs(repo_id))
    for ref in refs.tags:
        if ref.name == tag:
            return ref.target_commit
    return None


def _readme_diff(api, repo_id: str, head: str | None, local_readme: Path, plan: Plan, step: _Step) -> str:
    """Unified diff of the card against the remote one (empty when unchanged). Downloads into a temp dir only."""
    entry = next((e for e in plan.entries if e.path == CARD_FILENAME), None)
    if entry is None or entry.status == "unchanged":
        return ""
    new = local_readme.read_text(encoding="utf-8").splitlines(keepends=True)
    old: list[str] = []
    if entry.status == "changed":
        with tempfile.TemporaryDirectory(prefix="hubkit-readme-") as tmp:
            path = step(
                "downloading the remote README.md",
                lambda: api.hf_hub_download(repo_id, CARD_FILENAME, revision=head, cache_dir=tmp),
                after="nothing was written",
            )
            old = Path(path).read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(difflib.unified_diff(old, new, f"remote/{CARD_FILENAME}", f"local/{CARD_FILENAME}"))


def _commit_message(run_name: str, plan: Plan, deletions: tuple[str, ...], plan_marker: str) -> tuple[str, str]:
    counts = plan.counts()
    title = f"{TITLE_PREFIX} {run_name}"
    lines = [
        f"{counts['new']} new, {counts['changed']} changed, {counts['unchanged']} unchanged, "
        f"{len(deletions)} deleted file(s):",
        "",
    ]
    lines += [f"- {e.status}: {e.path} ({e.size} bytes)" for e in plan.to_upload]
    lines += [f"- deleted: {path}" for path in deletions]
    return title, "\n".join([*lines, "", plan_marker])


# ---- the push ------------------------------------------------------------------------------------------------------
def _stage_with_card(run: Path, card_path: Path, token: str | None):
    """Stage the run; when the card to commit is a re-rendered copy (dry run), it replaces the run's README."""
    staging = stage_run(run, token=token)
    if card_path == run / MODEL_DIRNAME / CARD_FILENAME:
        return staging
    card = stage_file(CARD_FILENAME, card_path, token)
    files = tuple(card if f.path_in_repo == CARD_FILENAME else f for f in staging.files)
    return type(staging)(files=files, skipped=staging.skipped, record=staging.record)


def push(
    run_dir: str | Path | RunFolder,
    repo_id: str,
    *,
    tag: str | None = None,
    private: bool = False,
    dry_run: bool = False,
    create_pr: bool = True,
    keep_remote: bool = False,
    endpoint: str | None = None,
    token: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: Progress | None = None,
) -> PushResult:
    """Publish `run_dir` to `repo_id` (see the module docstring for the steps).

    Raises HubkitError (one line, exit 2) for bad input or a failed Hub call, and SmokeTestFailed (exit 1, carrying
    the report) when the pushed revision does not print what its card's code blocks claim.
    """
    folder = RunFolder.of(run_dir)
    folder.require_model()
    run = folder.root
    if tag is not None:
        check_tag(tag)  # git's ref-name rules, before anything is read from or sent to the Hub
    check_repo_id((repo_id or "").strip())
    with tempfile.TemporaryDirectory(prefix="hubkit-push-") as scratch:
        return _push(
            run,
            repo_id,
            Path(scratch),
            tag=tag,
            private=private,
            dry_run=dry_run,
            create_pr=create_pr,
            keep_remote=keep_remote,
            endpoint=endpoint,
            token=token,
            tolerance=tolerance,
            say=progress or (lambda message: None),
        )


def _push(
    run: Path,
    repo_id: str,
    scratch: Path,
    *,
    tag,
    private,
    dry_run,
    create_pr,
    keep_remote,
    endpoint,
    token,
    tolerance,
    say,
) -> PushResult:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    endpoint = (endpoint or endpoint_from_env()).rstrip("/")
    token = token or resolve_token()
    step = _Step(token)
    api = HfApi(endpoint=endpoint, token=token)
    user = whoami(api, token)
    say(f"authenticated as {user.name} at {endpoint}")
    if not user.can_write() and not dry_run:
        raise HubkitError(f"the token of {user.name} is read-only; pushing needs a write token")
    repo_id = normalize_repo_id(repo_id, user)

    # The card: right repo id, lint-clean, accepted by the Hub. Nothing exists on the Hub yet if any of it fails.
    card = card_for_repo(run, repo_id, write=not dry_run, scratch=scratch)
    if card.rerendered:
        where = "" if not dry_run else " (a copy; the run folder is left as it is in a dry run)"
        say(f"card was built without a repo id: rendered again for {repo_id}{where}")
    lint_or_fail(card.path, run / MODEL_DIRNAME)
    say("card lint: ok")
    yaml_warnings = validate_metadata(api, card.text, lambda exc: _describe_http_error(exc, token))
    say("card metadata: accepted by the Hub's validate-yaml" + "".join(f"; warning: {w}" for w in yaml_warnings))
    staging = _stage_with_card(run, card.path, token)
    say(f"staged {len(staging.files)} files ({sum(f.size for f in staging.files) / 1e6:.1f} MB) from {run}")

    exists, head = _remote_head(api, repo_id, step)
    if not exists and not dry_run:  # an existing repo is left as it is (a re-push sends no request body at all)
        step(
            f"creating {repo_id}",
            lambda: api.create_repo(repo_id, private=True if private else None, exist_ok=True),
            after="nothing was uploaded",
        )
        say(f"created {'private ' if private else ''}repo {repo_id}")
        exists, head = _remote_head(api, repo_id, step)
    plan = make_plan(staging, _remote_tree(api, repo_id, head, step))
    deletions = () if keep_remote else tuple(p for p in plan.remote_only if p not in ALWAYS_KEPT)
    counts = plan.counts()
    say(
        f"plan against {repo_id}@{(head or 'empty')[:12]}: {counts['new']} new, {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged, {len(deletions)} to delete ({plan.bytes_to_upload / 1e6:.1f} MB to upload)"
    )
    result = PushResult(
        repo_id,
        endpoint,
        dry_run,
        "pr" if create_pr else "direct",
        plan,
        staging.skipped,
        base_commit=head,
        tag=tag,
        deletions=deletions,
        card_rerendered=card.rerendered,
        yaml_warnings=tuple(yaml_warnings),
    )
    has_changes = plan.has_changes or bool(deletions)

    tagged_at = _existing_tag(api, repo_id, tag, step) if (tag and exists) else None
    if tag and tagged_at and (has_changes or tagged_at != head):
        raise HubkitError(f"tag {tag} already exists on {repo_id} at {tagged_at[:12]}; choose a new version")

    if dry_run:
        result.readme_diff = _readme_diff(api, repo_id, head, card.path, plan, step)
        result.main_sha = head
        return result

    if not has_changes and head is not None:
        result.main_sha = head
        say(f"nothing to push: {repo_id}@{(head or '')[:12]} already holds these files (no commit, 0 bytes uploaded)")
        if tag and not tagged_at:
            _tag(api, repo_id, tag, head, staging.record.run_name, step)
            result.tag_created = True
            say(f"tagged {head[:12]} as {tag}")
        return result

    content = content_hash(staging, deletions)
    pr_num, pr_url, commit = None, None, None
    if create_pr:

        def fits(pr_head: str) -> bool:
            return matches_plan(plan, tree_of(api, repo_id, pr_head), staging, deletions)

        pr_num, pr_url, commit = _reuse_or_close_own_prs(
            api, repo_id, user.name, content, head, fits, result, step, say
        )
    if commit is None:
        # One commit with every new, changed and deleted file, on top of exactly the head the plan was made against.
        by_path = staging.by_path()
        operations: list[CommitOperationAdd | CommitOperationDelete] = [
            CommitOperationAdd(e.path, str(by_path[e.path].local_path)) for e in plan.to_upload
        ]
        operations += [CommitOperationDelete(path) for path in deletions]
        title, description = _commit_message(staging.record.run_name, plan, deletions, marker(content, head))
        info = step(
            "the commit" if not create_pr else "opening the pull request",
            lambda: api.create_commit(
                repo_id,
                operations,
                commit_message=title,
                commit_description=description,
                revision=MAIN,
                create_pr=create_pr,
                parent_commit=head,
            ),
        )
        commit, pr_num, pr_url = info.oid, info.pr_num, info.pr_url
        result.bytes_uploaded = plan.bytes_to_upload
    result.commit_sha = commit
    if create_pr:
        result.pr_url, result.pr_num = pr_url, pr_num
        say(f"{'reusing' if result.reused_pr else 'opened'} PR #{pr_num} at commit {commit[:12]}: {pr_url}")
        _smoke_or_fail(
            repo_id,
            commit,
            endpoint,
            token,
            tolerance,
            result,
            f"PR #{pr_num} left open, {MAIN} unchanged",
            say,
            pinned=True,
        )
        _merge(api, repo_id, pr_num, commit, head, result, step, say)
    else:
        result.main_sha = commit
        say(f"committed {commit[:12]} to {MAIN}")

    # The card's blocks once more, unedited, against main (what a user who copies them gets).
    published = result.main_sha or ""
    report = _smoke_or_fail(
        repo_id,
        MAIN,
        endpoint,
        token,
        tolerance,
        result,
        f"{MAIN} now holds {published[:12]}; not tagged",
        say,
        pinned=False,
    )
    if not create_pr:
        result.smoke = report  # the commit went straight to main: this run is the one that tested it
    if report.commit != published:
        raise HubkitError(f"{MAIN} moved to {report.commit[:12]} while it was being tested; not tagged")
    if tag:
        _tag(api, repo_id, tag, published, staging.record.run_name, step)
        result.tag_created = True
        say(f"tagged {published[:12]} as {tag}")
    return result


def _smoke_or_fail(repo_id, revision, endpoint, token, tolerance, result, where, say, *, pinned) -> SmokeReport:
    how = "its loaders pinned to that commit" if pinned else "unedited"
    say(f"smoke test of {repo_id}@{revision[:12]}: the committed card's code blocks, {how}, fresh process and cache...")
    try:
        report = smoke_test(repo_id, revision, endpoint=endpoint, token=token, tolerance=tolerance, pin=pinned)
    except HubkitError as exc:
        raise HubkitError(f"{exc} ({where}; fix and run again)") from None
    if pinned:
        result.smoke = report
    else:
        result.main_smoke = report
    if not report.ok:
        at = revision[:12] if pinned else f"{MAIN} ({report.commit[:12]})"
        raise SmokeTestFailed(f"smoke test failed at {at} ({where}): {report.first_failure()}", report, result)
    if pinned:
        changed = sum(1 for b in report.blocks for line in b.pinned_diff.splitlines()[2:] if line.startswith("+"))
        say(
            f"declared edit: revision={revision[:12]} pinned on {changed} line(s) of {len(report.blocks)} block(s); "
            "checked to be the only difference (diff in --json)"
        )
    skipped = [b for b in report.blocks if b.status == "skipped"]
    say(
        f"smoke test: {report.checked} printed values match the card's `# ->` answers"
        + "".join(f"; block {b.index} skipped: {b.reason}" for b in skipped)
    )
    return report


def _reuse_or_close_own_prs(api, repo_id, user, content, head, fits, result, step, say):
    """(num, url, head commit) of an earlier open PR of this user with the same content planned against `head`;
    earlier ones for the same content planned against another base are closed. (None, None, None) if none fits."""
    found = step("listing open pull requests", lambda: find_own_prs(api, repo_id, user, content))
    reuse, closed = None, []
    for pr in found:
        if reuse is None and pr.base == head and step(f"reading PR #{pr.num}", lambda pr=pr: fits(pr.head)):
            reuse = pr
            continue
        why = "superseded: main moved since it was planned" if pr.base != head else "superseded by a newer PR"
        step(
            f"closing stale PR #{pr.num}",
            lambda pr=pr, why=why: api.change_discussion_status(repo_id, pr.num, "closed", comment=f"hubkit: {why}"),
        )
        closed.append(pr.num)
        say(f"closed stale PR #{pr.num} ({why})")
    result.closed_prs = tuple(closed)
    if reuse is None:
        return None, None, None
    result.reused_pr = True
    return reuse.num, reuse.url, reuse.head


def _merge(api, repo_id, pr_num, tested, base, result, step, say) -> None:
    """Merge PR `pr_num` when main is still `base`; then check the merged commit is exactly the tested tree."""

    def lost_to(now: str | None) -> HubkitError:
        step(
            f"closing PR #{pr_num}",
            lambda: api.change_discussion_status(
                repo_id, pr_num, "closed", comment=f"hubkit: {MAIN} moved to {now} since the plan; closed unmerged"
            ),
        )
        result.closed_prs = (*result.closed_prs, pr_num)
        return HubkitError(
            f"{MAIN} moved since the plan: another push won with commit {(now or '')[:12]}; PR #{pr_num} closed, "
            f"nothing of this push reached {MAIN}; run the same command again to re-plan"
        )

    _, now = _remote_head(api, repo_id, step)
    if now != base:
        raise lost_to(now)
    try:
        step(
            f"merging PR #{pr_num}",
            lambda: api.merge_pull_request(repo_id, pr_num, comment=f"hubkit: smoke test passed at {tested}"),
            after=f"PR #{pr_num} is open and smoke-tested; run the same command again",
        )
    except HubkitError:
        _, now = _remote_head(api, repo_id, step)
        if now != base:  # another push merged between our check and our merge (e.g. the Hub answered 409)
            raise lost_to(now) from None
        raise
    result.merged = True
    _, merged = _remote_head(api, repo_id, step)
    if merged is None:
        raise HubkitError(f"after merging PR #{pr_num}, {MAIN} has no commit; not tagging")
    # The Hub squash-merges into a new commit: tag it only if it holds the tested bytes on top of the planned base.
    differ = step(
        "comparing the merged tree",
        lambda: tree_difference(tree_of(api, repo_id, merged), tree_of(api, repo_id, tested)),
    )
    parent = step("reading main's history", lambda: first_parent(api, repo_id, merged)) if merged != tested else base
    if differ or parent != base:
        what = (
            f"{len(differ)} file(s) differ from the tested head ({', '.join(differ[:3])})"
            if differ
            else (f"its parent is {(parent or 'none')[:12]}, not the planned {(base or 'none')[:12]}")
        )
        raise HubkitError(
            f"after merging PR #{pr_num}, {MAIN} ({merged[:12]}) is not the tested commit's tree: {what}; "
            f"another push may have merged at the same time; not tagging"
        )
    result.main_sha = merged
    how = "fast-forward" if merged == tested else f"squash-merged as {merged[:12]}, tree identical to the tested head"
    say(f"merged PR #{pr_num}: {MAIN} is now {merged[:12]} ({how})")


def _tag(api, repo_id: str, tag: str, revision: str, run_name: str, step: _Step) -> None:
    step(
        f"creating tag {tag}",
        lambda: api.create_tag(repo_id, tag=tag, revision=revision, tag_message=f"hubkit: run {run_name}"),
        after=f"{MAIN} is published at {revision[:12]}; run the same command again to tag it",
    )
