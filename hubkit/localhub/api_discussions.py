"""Endpoints for discussions and pull requests: list, open, details, comment, rename, change status, merge."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import storage as st
from .discussions import Discussion, Event
from .http import HttpError, field_bool, field_str

if TYPE_CHECKING:
    from .server import Request

_PAGE_SIZE = 50
_TITLE_MAX = 200


def _num(raw: str) -> int:
    if not raw.isdigit() or int(raw) <= 0:
        raise HttpError(400, f"Invalid discussion number {raw!r}")
    return int(raw)


def _event_json(event: Event) -> dict:
    return {**event.to_json(), "author": {"name": event.author}}


def _discussion_json(key: str, d: Discussion, details: bool = False) -> dict:
    repo_type, repo_id = st.split_repo_key(key)
    data: dict = {
        "num": d.num,
        "title": d.title,
        "author": {"name": d.author},
        "createdAt": d.created_at,
        "status": d.status,
        "isPullRequest": d.is_pull_request,
        "repo": {"name": repo_id, "type": repo_type},
        "pinned": False,
        "numComments": d.num_comments,
    }
    if details:
        data["events"] = [_event_json(e) for e in d.events]
        if d.is_pull_request:
            data["changes"] = {"base": d.base, "mergeCommitId": d.merge_commit_id}
            data["filesWithConflicts"] = []
            data["diff"] = ""
    return data


def _title(payload: dict) -> str:
    title = field_str(payload, "title").strip()
    if not title or len(title) > _TITLE_MAX or "\n" in title:
        raise HttpError(400, f'"title" must be one line of 1 to {_TITLE_MAX} characters')
    return title


def list_discussions(req: Request, key: str) -> None:
    kind, status, author = req.query.get("type", "all"), req.query.get("status", "all"), req.query.get("author")
    items = [
        d
        for d in req.hub.storage.list_discussions(key)
        if (kind == "all" or d.is_pull_request == (kind == "pull_request"))
        and (status == "all" or d.status == status)
        and (author is None or d.author == author)
    ]
    page_index = req.query_int("p")
    page = items[page_index * _PAGE_SIZE : (page_index + 1) * _PAGE_SIZE]
    req.send_json(
        {
            "discussions": [_discussion_json(key, d) for d in page],
            "count": len(items),
            "start": page_index * _PAGE_SIZE,
            "numClosedDiscussions": sum(d.status != "open" for d in items),
        }
    )


def create_discussion(req: Request, key: str) -> None:
    payload = req.read_json_object()
    pull_request = field_bool(payload, "pullRequest")
    if pull_request:
        req.writable_repo(key)
    title = _title(payload)
    description = field_str(payload, "description", None) or ""
    num = req.hub.storage.create_discussion(
        key,
        title=title,
        description=description,
        author=req.user or "",
        pull_request=pull_request,
    )
    req.send_json({"num": num, "url": f"{req.base_url}/{key}/discussions/{num}"})


def details(req: Request, key: str, num: str) -> None:
    req.send_json(_discussion_json(key, req.hub.storage.get_discussion(key, _num(num)), details=True))


def comment(req: Request, key: str, num: str) -> None:
    payload = req.read_json_object()
    text = field_str(payload, "comment")
    if not text.strip():
        raise HttpError(400, '"comment" must not be empty')
    event = req.hub.storage.comment(key, _num(num), req.user or "", text)
    req.send_json({"newMessage": _event_json(event)})


def rename(req: Request, key: str, num: str) -> None:
    payload = req.read_json_object()
    event = req.hub.storage.rename_discussion(key, _num(num), req.user or "", _title(payload))
    req.send_json({"newTitle": _event_json(event)})


def change_status(req: Request, key: str, num: str) -> None:
    payload = req.read_json_object()
    event = req.hub.storage.set_discussion_status(
        key, _num(num), req.user or "", field_str(payload, "status"), field_str(payload, "comment", None)
    )
    req.send_json({"newStatus": _event_json(event)})


def merge(req: Request, key: str, num: str) -> None:
    payload = req.read_json_object()
    oid = req.hub.storage.merge_pull_request(key, _num(num), req.user or "", field_str(payload, "comment", None))
    req.send_json({"mergeCommitId": oid})
