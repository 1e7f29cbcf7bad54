"""Endpoints for the account, repos (create, delete, settings, info) and refs (branches, tags).

Each endpoint takes the request (`server.Request`) and the route's path parameters; access was checked from the
route table before the body was read. Storage errors propagate; the server maps them to HTTP answers.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from . import storage as st
from .card_validation import check_card
from .cards import dataset_tags, front_matter, model_facts
from .errors import Conflict
from .http import HttpError, field_bool, field_str

if TYPE_CHECKING:
    from .server import Request

_METADATA_FILE_LIMIT = 1024 * 1024


def whoami(req: Request) -> None:
    user = req.user or ""
    req.send_json(
        {
            "type": "user",
            "id": hashlib.sha1(user.encode()).hexdigest()[:24],
            "name": user,
            "fullname": user,
            "email": None,
            "emailVerified": False,
            "isPro": False,
            "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "localhub", "role": "write"}},
        }
    )


def validate_yaml(req: Request) -> None:
    """The Hub's card metadata check: 200 with warnings, or 400 with the errors (text if Accept: text/plain)."""
    payload = req.read_json_object()
    content = field_str(payload, "content")
    repo_type = field_str(payload, "repoType", None) or "model"
    if repo_type not in st.REPO_TYPES:
        raise HttpError(400, f'"repoType" must be one of [{", ".join(st.REPO_TYPES)}]')
    check = check_card(content, repo_type)
    body = {"errors": [{"message": m} for m in check.errors], "warnings": [{"message": m} for m in check.warnings]}
    if check.ok:
        req.send_json(body)
    elif "text/plain" in req.headers.get("Accept", ""):
        req.send(
            400,
            "\n".join(check.errors).encode(),
            {"X-Error-Message": check.errors[0]},
            content_type="text/plain; charset=utf-8",
        )
    else:
        req.send_json(
            {"error": "; ".join(check.errors), **body}, status=400, headers={"X-Error-Message": check.errors[0]}
        )


def _requested_repo(req: Request, payload: dict) -> tuple[str, str, str]:
    """(repo type, repo id, storage key) named by a create/delete body."""
    repo_type = field_str(payload, "type", None) or "model"
    if repo_type not in st.REPO_TYPES:
        raise HttpError(400, f'"type" must be one of [{", ".join(st.REPO_TYPES)}]')
    namespace = field_str(payload, "organization", None) or req.user
    repo_id = f"{namespace}/{field_str(payload, 'name')}"
    st.validate_repo_id(repo_id)
    return repo_type, repo_id, st.repo_key(repo_type, repo_id)


def create_repo(req: Request) -> None:
    payload = req.read_json_object()
    repo_type, repo_id, key = _requested_repo(req, payload)
    url = f"{req.base_url}/{key}"
    if repo_id.split("/")[0] != req.user:
        raise HttpError(403, f"You cannot create a repo in namespace {repo_id.split('/')[0]!r}")
    visibility = field_str(payload, "visibility", None)
    private = visibility == "private" if visibility is not None else field_bool(payload, "private")
    try:
        if repo_type == "space" and req.hub.storage.repo_exists(repo_id):
            raise Conflict(f"Cannot create a Space {repo_id}: a model repo with this id exists")
        req.hub.storage.create_repo(key, owner=req.user or "", private=private, sdk=field_str(payload, "sdk", None))
    except Conflict as exc:  # the Hub's 409 carries the existing repo's url (create_repo(exist_ok=True) reads it)
        req.send_json({"error": str(exc), "url": url}, status=409, headers={"X-Error-Message": str(exc)})
        return
    req.send_json({"url": url, "name": repo_id, "id": hashlib.sha1(key.encode()).hexdigest()[:24]})


def delete_repo(req: Request) -> None:
    _, _, key = _requested_repo(req, req.read_json_object())
    req.writable_repo(key)
    req.hub.storage.delete_repo(key)
    req.send_json({})


def settings(req: Request, key: str) -> None:
    payload = req.read_json_object()
    if "visibility" in payload:
        req.hub.storage.set_private(key, field_str(payload, "visibility") == "private")
    elif "private" in payload:
        req.hub.storage.set_private(key, field_bool(payload, "private"))
    req.send_json({})


def auth_check(req: Request, key: str) -> None:
    req.send_json({})


def no_xet(req: Request, key: str) -> None:
    raise HttpError(501, "This local hub does not speak Xet: start it without lfs_uploads, or set HF_HUB_DISABLE_XET=1")


def repo_info(req: Request, key: str, rev: str | None = None) -> None:
    """`/api/{models,datasets,spaces}/{id}[/revision/{rev}]`: what model_info/dataset_info/space_info parse."""
    meta = req.visible_repo(key)
    commit = req.resolve(key, rev).commit
    blobs = req.query_flag("blobs")
    siblings = []
    for path in sorted(commit.tree):
        entry = commit.tree[path]
        sibling: dict = {"rfilename": path}
        if blobs:
            sibling.update(size=entry.size, blobId=entry.tree_oid)
            if entry.lfs:
                sibling["lfs"] = {"size": entry.size, "sha256": entry.sha256, "pointerSize": entry.pointer_size}
        siblings.append(sibling)
    repo_type, repo_id = st.split_repo_key(key)
    card = _card_data(req, commit)
    info: dict = {
        "_id": hashlib.sha1(key.encode()).hexdigest()[:24],
        "id": repo_id,
        "author": repo_id.split("/")[0],
        "sha": commit.oid,
        "lastModified": commit.date,
        "createdAt": meta["createdAt"],
        "private": meta["private"],
        "gated": False,
        "disabled": False,
        "likes": 0,
        "siblings": siblings,
        "usedStorage": sum(e.size for e in commit.tree.values()),
    }
    if card is not None:
        info["cardData"] = card
    if repo_type == "model":
        config = _model_config(req, commit)
        facts = model_facts(card or {}, config, list(commit.tree))
        info.update(modelId=repo_id, downloads=0, tags=facts.tags)
        if facts.pipeline_tag:
            info["pipeline_tag"] = facts.pipeline_tag
        if facts.library_name:
            info["library_name"] = facts.library_name
        if config is not None:
            info["config"] = {k: config[k] for k in ("architectures", "model_type") if k in config}
    elif repo_type == "dataset":
        info.update(downloads=0, tags=dataset_tags(card or {}))
    else:
        info.update(
            sdk=meta.get("sdk"),
            tags=[meta.get("sdk") or "", "region:us"],
            subdomain=None,
            runtime=_space_runtime(commit, card),
        )
    req.send_json(info)


def _space_runtime(commit: st.Commit, card: dict | None) -> dict:
    """A local Hub builds nothing: a Space is STOPPED once its app file exists (hubkit space --serve runs it)."""
    app_file = (card or {}).get("app_file") or "app.py"
    stage = "STOPPED" if app_file in commit.tree else "NO_APP_FILE"
    return {
        "stage": stage,
        "hardware": {"current": None, "requested": "cpu-basic"},
        "storage": None,
        "gcTimeout": None,
        "replicas": {"current": 0, "requested": 1},
        "devMode": False,
    }


def space_runtime(req: Request, key: str) -> None:
    """`/api/spaces/{id}/runtime` (HfApi.get_space_runtime)."""
    if st.split_repo_key(key)[0] != "space":
        raise HttpError(404, "Runtime is only available for Spaces", "RepoNotFound")
    commit = req.resolve(key, None).commit
    req.send_json(_space_runtime(commit, _card_data(req, commit)))


def _card_data(req: Request, commit: st.Commit) -> dict | None:
    """The README's YAML front matter (None without a README or front matter, {} if it does not parse)."""
    entry = commit.tree.get("README.md")
    if entry is None or entry.size > _METADATA_FILE_LIMIT:
        return None
    return front_matter(req.hub.storage.read_blob(entry.sha256).decode("utf-8", "replace"))


def _model_config(req: Request, commit: st.Commit) -> dict | None:
    entry = commit.tree.get("config.json")
    if entry is None or entry.size > _METADATA_FILE_LIMIT:
        return None
    try:
        config = json.loads(req.hub.storage.read_blob(entry.sha256))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return config if isinstance(config, dict) else None


def list_refs(req: Request, key: str) -> None:
    refs = req.hub.storage.refs(key)
    data = {
        "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": o} for n, o in refs["branches"].items()],
        "converts": [],
        "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": o} for n, o in refs["tags"].items()],
    }
    if req.query_flag("include_prs"):
        data["pullRequests"] = [
            {"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": o}
            for n, o in sorted(refs["prs"].items(), key=lambda kv: int(kv[0]))
        ]
    req.send_json(data)


def create_branch(req: Request, key: str, branch: str) -> None:
    payload = req.read_json_object()
    req.hub.storage.create_branch(key, branch, field_str(payload, "startingPoint", None))
    req.send_json({})


def delete_branch(req: Request, key: str, branch: str) -> None:
    req.hub.storage.delete_branch(key, branch)
    req.send_json({})


def create_tag(req: Request, key: str, rev: str) -> None:
    payload = req.read_json_object()
    req.hub.storage.create_tag(key, field_str(payload, "tag"), rev)
    req.send_json({})


def delete_tag(req: Request, key: str, tag: str) -> None:
    req.hub.storage.delete_tag(key, tag)
    req.send_json({})
