"""`hubkit space`: publish a Gradio Space for a model already on the Hub, in one commit, then link it from the card.

The order, and why:
1. `whoami` first: no token or a bad one fails in one line before anything is read or written.
2. The model must exist, be a transformers question-answering model (config.json's architecture), and carry the
   `record.json` hubkit pushed with it: the Space's examples are that record's, so they are the card's.
3. The Space id must not be taken by a model repo, and an existing Space must be a gradio one.
4. The files are rendered and linted offline; a problem stops here, before any write.
5. The Space is created (when new) and gets every new or changed file in ONE commit on top of the head the plan was
   made against; identical content makes no commit. A failed commit removes a Space this call created, so nothing is
   left half-published.
6. The model card links the Space: when the card on the Hub is the one hubkit renders from the model's record, it is
   re-rendered with a "Try it" link and pushed alone (README.md only). A custom card is left as it is.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HubkitError
from ..record import RECORD_FILENAME, RunRecord
from .render import SDK, SpaceFiles, render_space

MAIN = "main"
CARD_FILENAME = "README.md"
QA_SUFFIX = "ForQuestionAnswering"

Progress = Callable[[str], None]


@dataclass
class CardLink:
    """What happened to the model card's "Try it" link: linked, already, would-link, skipped (with why)."""

    status: str
    detail: str
    commit_sha: str | None = None

    def to_dict(self) -> dict:
        return {"status": self.status, "detail": self.detail, "commit_sha": self.commit_sha}


@dataclass
class SpaceResult:
    model_id: str
    space_id: str
    endpoint: str
    dry_run: bool
    model_commit: str
    sdk_version: str
    files: list[dict] = field(default_factory=list)  # path, size, status (new / changed / unchanged)
    remote_only: list[str] = field(default_factory=list)
    created: bool = False
    base_commit: str | None = None
    commit_sha: str | None = None
    card: CardLink | None = None
    folder: Path | None = None

    @property
    def url(self) -> str:
        return f"{self.endpoint}/spaces/{self.space_id}"

    @property
    def committed(self) -> bool:
        return self.commit_sha is not None

    def serve_command(self) -> str:
        return f"hubkit space --model {self.model_id} --serve"

    def to_dict(self) -> dict:
        return {
            "model_id": self.model_id,
            "space_id": self.space_id,
            "url": self.url,
            "dry_run": self.dry_run,
            "model_commit": self.model_commit,
            "sdk": SDK,
            "sdk_version": self.sdk_version,
            "created": self.created,
            "base_commit": self.base_commit,
            "commit_sha": self.commit_sha,
            "files": self.files,
            "remote_only": self.remote_only,
            "card": self.card.to_dict() if self.card else None,
            "folder": str(self.folder) if self.folder else None,
            "serve": self.serve_command(),
        }


# ---- reading the model --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PublishedModel:
    """The model the Space shows, as the Hub holds it at `commit`."""

    model_id: str
    commit: str
    architecture: str
    record: RunRecord
    record_bytes: bytes
    card: str | None


def _download(api, repo_id: str, filename: str, revision: str, cache: str, **kwargs) -> bytes | None:
    """A file's bytes, or None when the revision has no such file."""
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return Path(api.hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache, **kwargs)).read_bytes()
    except EntryNotFoundError:
        return None


def read_model(api, model_id: str, step) -> PublishedModel:
    """The model at main: it must exist, have a question-answering head, and carry hubkit's record.json."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    def head():
        try:
            return api.repo_info(model_id, repo_type="model", revision=MAIN).sha
        except RepositoryNotFoundError:
            raise HubkitError(f"no model repo {model_id} at {api.endpoint} (push it first: hubkit push)") from None
        except RevisionNotFoundError:
            raise HubkitError(f"model repo {model_id} has no {MAIN} branch yet (push it first: hubkit push)") from None

    commit = step(f"reading {model_id}", head)
    with tempfile.TemporaryDirectory(prefix="hubkit-space-") as cache:
        config_bytes = step("downloading config.json", lambda: _download(api, model_id, "config.json", commit, cache))
        record_bytes = step(
            f"downloading {RECORD_FILENAME}", lambda: _download(api, model_id, RECORD_FILENAME, commit, cache)
        )
        card_bytes = step(
            f"downloading {CARD_FILENAME}", lambda: _download(api, model_id, CARD_FILENAME, commit, cache)
        )
    if config_bytes is None:
        raise HubkitError(f"{model_id} has no config.json: not a transformers model, nothing to demo")
    try:
        config = json.loads(config_bytes)
        architecture = str((config.get("architectures") or [""])[0])
    except (ValueError, AttributeError, TypeError):
        raise HubkitError(f"{model_id}: config.json is not a JSON object with architectures") from None
    if not architecture.endswith(QA_SUFFIX):
        raise HubkitError(
            f"{model_id} has no question-answering head (architecture {architecture or 'unknown'}); the demo needs a "
            f"*{QA_SUFFIX} model"
        )
    if record_bytes is None:
        raise HubkitError(
            f"{model_id} has no {RECORD_FILENAME}: publish it with `hubkit push` so the demo has its examples"
        )
    try:
        record = RunRecord.from_dict(json.loads(record_bytes), source=f"{model_id}/{RECORD_FILENAME}")
    except ValueError:
        raise HubkitError(f"{model_id}/{RECORD_FILENAME} is not valid JSON") from None
    card = card_bytes.decode("utf-8", errors="replace") if card_bytes is not None else None
    return PublishedModel(model_id, commit, architecture, record, record_bytes, card)


def check_space_id(api, space_id: str, step) -> tuple[bool, str | None]:
    """(Space exists, its main head). A model repo of that id, or a Space of another SDK, is a one-line error."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    def taken_by_model() -> bool:
        try:
            api.repo_info(space_id, repo_type="model")
            return True
        except RepositoryNotFoundError:
            return False

    if step(f"checking {space_id}", taken_by_model):
        raise HubkitError(f"{space_id} is a model repo on {api.endpoint}; choose another Space id with --repo")

    def space():
        try:
            info = api.repo_info(space_id, repo_type="space", revision=MAIN)
            return True, info.sha, getattr(info, "sdk", None)
        except RepositoryNotFoundError:
            return False, None, None
        except RevisionNotFoundError:
            return True, None, None

    exists, head, sdk = step(f"reading Space {space_id}", space)
    if exists and sdk not in (None, SDK):
        raise HubkitError(f"Space {space_id} exists with sdk {sdk!r}; this demo is a {SDK} app: choose another --repo")
    return exists, head


# ---- the plan -----------------------------------------------------------------------------------------------------
def plan_files(space: SpaceFiles, record: RunRecord, remote_tree) -> tuple[list[dict], list[str]]:
    """new / changed / unchanged per file against the remote tree, compared as `hubkit push` compares."""
    from ..publish.stage import StagedFile, Staging, make_plan, remote_files

    staged = []
    for name, text in space.files.items():
        data = text.encode("utf-8")
        staged.append(
            StagedFile(
                name,
                Path(name),
                len(data),
                hashlib.sha256(data).hexdigest(),
                hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
            )
        )
    plan = make_plan(Staging(tuple(staged), (), record), remote_files(remote_tree))
    return [e.to_dict() for e in plan.entries], list(plan.remote_only)


# ---- the card link ------------------------------------------------------------------------------------------------
def linked_card(model: PublishedModel, space_id: str) -> tuple[str | None, str]:
    """(the card with the "Try it" link, or None, and why): only a card hubkit rendered from this record is re-rendered."""
    from ..card.lint import lint_text
    from ..card.render import render_card

    if model.card is None:
        return None, f"{model.model_id} has no {CARD_FILENAME}"
    for repo_id in (model.model_id, None):  # build-card renders the usage code for --repo-id, or the bare model name
        linked = render_card(model.record, repo_id=repo_id, space_id=space_id)
        if model.card == linked:
            return linked, "already links the Space"
        if model.card == render_card(model.record, repo_id=repo_id):
            problems = lint_text(linked)
            if problems:
                return None, f"the linked card does not pass lint: {problems[0]}"
            return linked, "links the Space"
    return None, (
        "the card on the Hub is not the one this hubkit renders from its record.json (a custom template or another "
        "hubkit version): add the link with `hubkit release --space` or by hand"
    )


def link_card(api, model: PublishedModel, space_id: str, run_dir: Path | None, dry_run: bool, step) -> CardLink:
    from huggingface_hub import CommitOperationAdd

    text, why = linked_card(model, space_id)
    if text is None:
        return CardLink("skipped", why)
    if text == model.card:
        status, sha = "already", None
    elif dry_run:
        return CardLink("would-link", f"would push {CARD_FILENAME} alone to {model.model_id}: {why}")
    else:
        info = step(
            f"pushing the linked {CARD_FILENAME} to {model.model_id}",
            lambda: api.create_commit(
                model.model_id,
                [CommitOperationAdd(CARD_FILENAME, text.encode("utf-8"))],
                commit_message=f"hubkit: link the demo Space {space_id}",
                commit_description=f"The card now links https://huggingface.co/spaces/{space_id} (README.md only).",
                revision=MAIN,
                parent_commit=model.commit,
            ),
            after="the Space is published; run the same command again to link the card",
        )
        status, sha = "linked", info.oid
    # keep the run's local card equal to the Hub's, so a later `hubkit push` of the run does not drop the link
    local = run_dir / "model" / CARD_FILENAME if run_dir is not None else None
    if local is not None and local.is_file() and local.read_text(encoding="utf-8") != text:
        from ..card.render import render_card

        if local.read_text(encoding="utf-8") in (render_card(model.record, repo_id=r) for r in (model.model_id, None)):
            local.write_text(text, encoding="utf-8", newline="\n")
    return CardLink(status, why, sha)


# ---- the whole command --------------------------------------------------------------------------------------------
def prepare(
    model_id: str,
    *,
    space_id: str | None = None,
    run_dir: str | Path | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    require_token: bool = True,
    sdk_version: str | None = None,
):
    """Resolve ids, read and check the model, render and lint the Space. Returns (api, model, space, step, user)."""
    from huggingface_hub import HfApi

    from ..publish.auth import endpoint_from_env, resolve_token, whoami
    from ..publish.push import _Step, normalize_repo_id
    from .lint import lint_space

    endpoint = (endpoint or endpoint_from_env()).rstrip("/")
    token = token or resolve_token(required=require_token)
    api = HfApi(endpoint=endpoint, token=token or False)
    user = whoami(api, token) if token else None
    step = _Step(token)
    if user is not None:
        model_id = normalize_repo_id(model_id, user)
        space_id = normalize_repo_id(space_id or f"{model_id}-demo", user)
    else:
        from huggingface_hub.errors import HFValidationError
        from huggingface_hub.utils import validate_repo_id

        for given in (model_id, space_id):
            try:
                if given is not None:
                    validate_repo_id(given)
            except HFValidationError as exc:
                raise HubkitError(f"invalid repo id {given!r}: {str(exc).splitlines()[0]}") from None
        if "/" not in model_id:
            raise HubkitError(f"invalid repo id {model_id!r}: expected user/name")
        space_id = space_id or f"{model_id}-demo"
    model = read_model(api, model_id, step)
    if run_dir is not None:
        local = RunRecord.load(run_dir)
        if local != model.record:
            raise HubkitError(
                f"{run_dir}'s record.json is not the one on {model_id}: the demo would show answers the published "
                "model does not give; push the run first"
            )
    space = render_space(model.record, model_id, space_id, sdk_version=sdk_version)
    problems = lint_space(space.files, model_id)
    if problems:
        shown = "; ".join(str(p) for p in problems[:3])
        raise HubkitError(f"Space lint failed, nothing uploaded: {shown}")
    return api, model, space, step, user


def publish_space(
    model_id: str,
    *,
    space_id: str | None = None,
    run_dir: str | Path | None = None,
    out: str | Path | None = None,
    dry_run: bool = False,
    link: bool = True,
    endpoint: str | None = None,
    token: str | None = None,
    sdk_version: str | None = None,
    progress: Progress | None = None,
) -> SpaceResult:
    """Publish (or with `dry_run`, plan) the demo Space of `model_id`; see the module docstring for the steps."""
    from huggingface_hub import CommitOperationAdd

    say = progress or (lambda message: None)
    run = Path(run_dir) if run_dir is not None else None
    api, model, space, step, user = prepare(
        model_id, space_id=space_id, run_dir=run, endpoint=endpoint, token=token, sdk_version=sdk_version
    )
    say(f"authenticated as {user.name} at {api.endpoint}")
    if not user.can_write() and not dry_run:
        raise HubkitError(f"the token of {user.name} is read-only; publishing a Space needs a write token")
    say(
        f"model {model.model_id}@{model.commit[:12]}: {model.architecture}, {len(model.record.smoke_examples)} examples"
    )
    exists, head = check_space_id(api, space.space_id, step)
    say(f"rendered and linted {', '.join(space.files)} (gradio {space.sdk_version})")
    result = SpaceResult(
        model.model_id, space.space_id, api.endpoint, dry_run, model.commit, space.sdk_version, base_commit=head
    )
    if out is not None:
        space.write(out)
        result.folder = Path(out)

    tree = (
        step(
            "listing the Space's files",
            lambda: list(api.list_repo_tree(space.space_id, repo_type="space", recursive=True, revision=head)),
        )
        if head
        else []
    )
    result.files, result.remote_only = plan_files(space, model.record, tree)
    changes = [f for f in result.files if f["status"] != "unchanged"]
    if dry_run:
        result.card = link_card(api, model, space.space_id, None, True, step) if link else None
        return result

    if not exists:
        step(
            f"creating Space {space.space_id}",
            lambda: api.create_repo(space.space_id, repo_type="space", space_sdk=SDK, exist_ok=True),
            after="nothing was published",
        )
        result.created = True
        say(f"created Space {space.space_id} (sdk {SDK})")
        _, head = check_space_id(api, space.space_id, step)
        tree = (
            list(api.list_repo_tree(space.space_id, repo_type="space", recursive=True, revision=head)) if head else []
        )
        result.base_commit = head
        result.files, result.remote_only = plan_files(space, model.record, tree)
        changes = [f for f in result.files if f["status"] != "unchanged"]

    if changes:
        operations = [CommitOperationAdd(f["path"], space.files[f["path"]].encode("utf-8")) for f in changes]
        try:
            info = step(
                "the Space commit",
                lambda: api.create_commit(
                    space.space_id,
                    operations,
                    repo_type="space",
                    commit_message=f"hubkit: demo of {model.model_id}",
                    commit_description=f"Run {model.record.run_name}, model commit {model.commit}; "
                    + ", ".join(f"{f['status']}: {f['path']}" for f in changes),
                    revision=MAIN,
                    parent_commit=head,
                ),
                after="the Space is unchanged; run the same command again",
            )
        except HubkitError as exc:
            if result.created:  # do not leave an empty Space behind
                try:
                    api.delete_repo(space.space_id, repo_type="space")
                except Exception:  # noqa: BLE001 - the original error is the one to report
                    raise HubkitError(f"{exc} (the new, empty Space {space.space_id} could not be removed)") from None
                raise HubkitError(f"{exc} (the new Space was removed: nothing published)") from None
            raise
        result.commit_sha = info.oid
        say(f"committed {len(changes)} file(s) to Space {space.space_id}: {info.oid[:12]}")
    else:
        say(f"nothing to publish: Space {space.space_id}@{(head or '')[:12]} already holds these files (no commit)")

    if link:
        result.card = link_card(api, model, space.space_id, run, False, step)
        say(f"model card: {result.card.status} ({result.card.detail})")
    return result
