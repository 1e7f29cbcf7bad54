"""What the local Hub's storage refuses, as exceptions of its own; the server maps each to an HTTP answer.

Storage knows nothing of HTTP: `server.STORAGE_ERRORS` turns these into status codes and the Hub's `X-Error-Code`.
"""

from __future__ import annotations


class StorageError(Exception):
    """A request the storage refuses."""


class InvalidRequest(StorageError):
    """A malformed id, path, name or operation."""


class Forbidden(StorageError):
    """The caller may not do this (e.g. delete main, edit another user's discussion)."""


class RepoNotFound(StorageError):
    pass


class RevisionNotFound(StorageError):
    pass


class EntryNotFound(StorageError):
    """A file or folder absent from a commit."""


class DiscussionNotFound(StorageError):
    pass


class ObjectNotFound(StorageError):
    """A commit references a blob that was neither uploaded to, nor already present in, the repo."""


class Conflict(StorageError):
    """The repo, ref or tag already exists, or a merge conflicts."""


class ParentCommitMismatch(StorageError):
    """A commit's `parent_commit` is not the head of the branch it targets."""
