"""`hubkit push`: publish a run as ONE Hub commit, smoke-tested before it reaches `main`.

The order matters and each step exists for a reason:
1. `whoami` first: a missing or bad token fails in one line before anything is read or written.
2. The repo id is validated with huggingface_hub's own validator (a bare name goes under the token's user).
3. The card is linted: a repo must never show a model whose card is broken, so nothing is uploaded if it fails.
4. The run is staged through an allow-list and hashed; the plan compares it with the remote tree, so identical
   content makes no commit and uploads no bytes.
5. One `create_commit` holding every new or changed file (never `upload_folder`, which may split into several
   commits), with `parent_commit` = the head the plan was made against: if `main` moved meanwhile, the Hub refuses.
6. By default the commit is opened as a pull request; the smoke test runs against that exact commit; the PR is merged
   only when it passes, and `--tag` then tags the merged commit. A failure anywhere before the merge leaves `main`
   as it was, so re-running the same command is always safe.
"""

from __future__ import annotations

import difflib
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import HubkitError
from ..runfolder import CARD_FILENAME, RunFolder
from .auth import Identity, endpoint_from_env, resolve_token, scrub, whoami
from .smoke import DEFAULT_TOLERANCE, SmokeReport, SmokeTestFailed, smoke_test
from .stage import Plan, make_plan, remote_files, stage_run

MAIN = "main"
TAG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")

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
    readme_diff: str | None = None
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
    """`name` -> `user/name`; then huggingface_hub's validator; a one-line error when invalid."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    given = (repo or "").strip()
    if not given:
        raise HubkitError("invalid repo id: empty")
    full = given if "/" in given else f"{user.name}/{given}"
    try:
        validate_repo_id(full)
    except HFValidationError as exc:
        reason = str(exc).splitlines()[0].replace(repr(full), repr(given))
        raise HubkitError(f"invalid repo id {given!r}: {reason}") from None
    return full


def lint_or_fail(run: RunFolder) -> None:
    """Lint the card with the card generator's linter; any blocking problem stops the push before any upload."""
    from ..card.lint import lint_card

    model_dir, card = run.model_dir, run.card_path
    if not card.is_file():
        raise HubkitError(f"{model_dir}: no {CARD_FILENAME} model card; run `hubkit build-card` first")
    problems = [
        p for p in lint_card(card, model_dir) if str(getattr(p, "severity", "error")).lower() not in {"warning", "info"}
    ]
    if problems:
        shown = "; ".join(f"{p.code}: {p.message}" for p in problems[:3])
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise HubkitError(f"card lint failed, nothing uploaded: {shown}{more}")


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


def _commit_message(run_name: str, plan: Plan) -> tuple[str, str]:
    counts = plan.counts()
    title = f"hubkit: publish run {run_name}"
    lines = [f"{counts['new']} new, {counts['changed']} changed, {counts['unchanged']} unchanged file(s):", ""]
    lines += [f"- {e.status}: {e.path} ({e.size} bytes)" for e in plan.to_upload]
    return title, "\n".join(lines)


# ---- the push ------------------------------------------------------------------------------------------------------
def push(
    run_dir: str | Path | RunFolder,
    repo_id: str,
    *,
    tag: str | None = None,
    private: bool = False,
    dry_run: bool = False,
    create_pr: bool = True,
    endpoint: str | None = None,
    token: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: Progress | None = None,
) -> PushResult:
    """Publish `run_dir` to `repo_id` (see the module docstring for the steps).

    Raises HubkitError (one line, exit 2) for bad input or a failed Hub call, and SmokeTestFailed (exit 1, carrying
    the report) when the pushed revision does not give the answers its card claims.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    say = progress or (lambda message: None)
    run = RunFolder.of(run_dir)
    run.require_model()
    if tag is not None and not TAG_PATTERN.match(tag):
        raise HubkitError(f"invalid tag {tag!r}: use letters, digits, '.', '_', '+', '-' (e.g. v1.2.0)")

    endpoint = (endpoint or endpoint_from_env()).rstrip("/")
    token = token or resolve_token()
    step = _Step(token)
    api = HfApi(endpoint=endpoint, token=token)
    user = whoami(api, token)
    say(f"authenticated as {user.name} at {endpoint}")
    if not user.can_write() and not dry_run:
        raise HubkitError(f"the token of {user.name} is read-only; pushing needs a write token")
    repo_id = normalize_repo_id(repo_id, user)

    lint_or_fail(run)
    say("card lint: ok")
    staging = stage_run(run, token=token)
    say(f"staged {len(staging.files)} files ({sum(f.size for f in staging.files) / 1e6:.1f} MB) from {run.root}")

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
    counts = plan.counts()
    say(
        f"plan against {repo_id}@{(head or 'empty')[:12]}: {counts['new']} new, {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged ({plan.bytes_to_upload / 1e6:.1f} MB to upload)"
    )
    result = PushResult(
        repo_id, endpoint, dry_run, "pr" if create_pr else "direct", plan, staging.skipped, base_commit=head, tag=tag
    )

    tagged_at = _existing_tag(api, repo_id, tag, step) if (tag and exists) else None
    if tag and tagged_at and (plan.has_changes or tagged_at != head):
        raise HubkitError(f"tag {tag} already exists on {repo_id} at {tagged_at[:12]}; choose a new version")

    if dry_run:
        result.readme_diff = _readme_diff(api, repo_id, head, run.card_path, plan, step)
        result.main_sha = head
        return result

    if not plan.has_changes:
        result.main_sha = head
        say(f"nothing to push: {repo_id}@{(head or '')[:12]} already holds these files (no commit, 0 bytes uploaded)")
        if tag and not tagged_at:
            _tag(api, repo_id, tag, head, staging.record.run_name, step)
            result.tag_created = True
            say(f"tagged {head[:12]} as {tag}")
        return result

    # One commit with every new or changed file, on top of exactly the head the plan was made against.
    by_path = staging.by_path()
    operations = [CommitOperationAdd(e.path, str(by_path[e.path].local_path)) for e in plan.to_upload]
    title, description = _commit_message(staging.record.run_name, plan)
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
    result.commit_sha = info.oid
    result.bytes_uploaded = plan.bytes_to_upload
    if create_pr:
        result.pr_url, result.pr_num = info.pr_url, info.pr_num
        say(f"opened PR #{info.pr_num} at commit {info.oid[:12]}: {info.pr_url}")
    else:
        result.main_sha = info.oid
        say(f"committed {info.oid[:12]} to {MAIN}")

    # Smoke test exactly the commit just made.
    say(f"smoke test of {repo_id}@{info.oid[:12]} in a fresh cache...")
    where = f"PR #{info.pr_num} left open, {MAIN} unchanged" if create_pr else f"{MAIN} now holds {info.oid[:12]}"
    try:
        report = smoke_test(repo_id, info.oid, endpoint=endpoint, token=token, tolerance=tolerance)
    except HubkitError as exc:
        raise HubkitError(f"{exc} ({where}; fix and run again)") from None
    result.smoke = report
    if not report.ok:
        message = f"smoke test failed at {info.oid[:12]} ({where}): {report.first_failure()}"
        raise SmokeTestFailed(message, report, result)
    say(f"smoke test: {len(report.rows)}/{len(report.rows)} answers match the card")

    if create_pr:
        pr_num = info.pr_num
        step(
            f"merging PR #{pr_num}",
            lambda: api.merge_pull_request(
                repo_id, pr_num, comment=f"hubkit: smoke test passed ({len(report.rows)} answers) at {info.oid}"
            ),
            after=f"PR #{pr_num} is open and smoke-tested; run the same command again",
        )
        result.merged = True
        _, merged = _remote_head(api, repo_id, step)
        # Tag only a main whose files are exactly the ones smoke-tested.
        check = make_plan(staging, _remote_tree(api, repo_id, merged, step))
        if check.has_changes:
            raise HubkitError(f"after merging PR #{pr_num}, {MAIN} does not hold the pushed files; not tagging")
        result.main_sha = merged
        say(f"merged PR #{pr_num}: {MAIN} is now {merged[:12]}")

    if tag:
        _tag(api, repo_id, tag, result.main_sha, staging.record.run_name, step)
        result.tag_created = True
        say(f"tagged {result.main_sha[:12]} as {tag}")
    return result


def _tag(api, repo_id: str, tag: str, revision: str, run_name: str, step: _Step) -> None:
    step(
        f"creating tag {tag}",
        lambda: api.create_tag(repo_id, tag=tag, revision=revision, tag_message=f"hubkit: run {run_name}"),
        after=f"{MAIN} is published at {revision[:12]}; run the same command again to tag it",
    )
