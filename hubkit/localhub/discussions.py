"""Discussions and pull requests of one repo: typed records, their events, and their files.

Layout: `<repo>/discussions/<num>.json`, each replaced atomically. A pull request's ref (`refs/pr/N`) lives in the
repo's refs, which `storage.Storage` owns; this module keeps the conversation (title, status, events). Callers hold the
repo's write lock; readers never lock.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import DiscussionNotFound
from .jsonfile import now_iso, write_json_atomic

OPEN_STATUSES = ("open", "draft")


@dataclass(frozen=True)
class Event:
    """One entry of a discussion's timeline, in the Hub's shape (`type` is comment, commit, title-change, ...)."""

    id: str
    type: str
    created_at: str
    author: str
    data: dict

    @classmethod
    def new(cls, kind: str, author: str, data: dict) -> Event:
        return cls(id=secrets.token_hex(12), type=kind, created_at=now_iso(), author=author, data=data)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "createdAt": self.created_at,
            "author": self.author,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, data: dict) -> Event:
        return cls(
            id=data["id"], type=data["type"], created_at=data["createdAt"], author=data["author"], data=data["data"]
        )


def comment_event(author: str, text: str) -> Event:
    return Event.new("comment", author, {"edited": False, "hidden": False, "latest": {"raw": text}})


def commit_event(author: str, title: str, oid: str) -> Event:
    return Event.new("commit", author, {"subject": title, "oid": oid})


def title_event(author: str, old: str, new: str) -> Event:
    return Event.new("title-change", author, {"from": old, "to": new})


def status_event(author: str, status: str) -> Event:
    return Event.new("status-change", author, {"status": status})


@dataclass(frozen=True)
class Discussion:
    num: int
    title: str
    author: str
    created_at: str
    status: str  # open, draft, closed, merged
    is_pull_request: bool
    base: str | None  # the ref a pull request merges into, e.g. refs/heads/main
    from_commit: str | None  # the base's head when the pull request was opened
    merge_commit_id: str | None = None
    description: str = ""  # the text of the opening comment (also the first event); carries markers such as a hash
    events: tuple[Event, ...] = field(default_factory=tuple)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def num_comments(self) -> int:
        return sum(e.type == "comment" for e in self.events)

    def to_json(self) -> dict:
        return {
            "num": self.num,
            "title": self.title,
            "author": self.author,
            "createdAt": self.created_at,
            "status": self.status,
            "isPullRequest": self.is_pull_request,
            "base": self.base,
            "fromCommit": self.from_commit,
            "mergeCommitId": self.merge_commit_id,
            "description": self.description,
            "events": [e.to_json() for e in self.events],
        }

    @classmethod
    def from_json(cls, data: dict) -> Discussion:
        events = tuple(Event.from_json(e) for e in data.get("events", []))
        description = data.get("description")
        if description is None:  # files written before the field existed: the opening comment
            description = next((e.data["latest"]["raw"] for e in events if e.type == "comment"), "")
        return cls(
            num=data["num"],
            title=data["title"],
            author=data["author"],
            created_at=data["createdAt"],
            status=data["status"],
            is_pull_request=data["isPullRequest"],
            base=data.get("base"),
            from_commit=data.get("fromCommit"),
            merge_commit_id=data.get("mergeCommitId"),
            description=description,
            events=events,
        )


class DiscussionStore:
    """The discussion files of one repo folder."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, num: int) -> Path:
        return self.folder / f"{num}.json"

    def get(self, num: int) -> Discussion:
        try:
            return Discussion.from_json(json.loads(self._path(num).read_text()))
        except FileNotFoundError:
            raise DiscussionNotFound(f"Discussion #{num} not found") from None

    def list(self) -> list[Discussion]:
        """Newest first."""
        items = [Discussion.from_json(json.loads(p.read_text())) for p in self.folder.glob("*.json")]
        return sorted(items, key=lambda d: d.num, reverse=True)

    def next_num(self) -> int:
        return 1 + max((int(p.stem) for p in self.folder.glob("*.json") if p.stem.isdigit()), default=0)

    def save(self, discussion: Discussion) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self._path(discussion.num), discussion.to_json())

    def append(self, num: int, *events: Event, **changes) -> Discussion:
        """Add events (and change fields, e.g. status=...) to discussion `num`; returns the new record."""
        current = self.get(num)
        updated = replace(current, events=current.events + events, **changes)
        self.save(updated)
        return updated
