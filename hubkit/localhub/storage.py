"""On-disk storage of the local Hub: blobs by sha256, commits as tree snapshots, refs, and discussions.

Why this shape: a Hub repository is, to its clients, a set of refs pointing at commits whose trees map paths to
file contents. Storing exactly that (and nothing git-specific) keeps the server small while every answer the client
checks (commit oids, git blob oids, LFS sha256s, sizes) can be computed honestly.

Layout under `root`:

    blobs/<sha256[:2]>/<sha256>      file contents, written once (temp file + fsync + rename)
    tmp/                             partial uploads; a crash leaves them here, never under blobs/
    repos/<namespace>/<name>/        a model repo (datasets/ and spaces/ beside repos/ hold the other two types)
        repo.json                    id, type, owner, private, createdAt (+ sdk for a Space)
        refs.json                    {"branches": {...}, "tags": {...}, "prs": {"1": oid}}  (replaced atomically)
        commits/<oid>.json           immutable: parents, full tree, title, message, author, date
        objects/<sha256>             empty markers: the blobs this repo may reference (uploaded to it or committed)
        discussions/<num>.json       discussions and pull requests (replaced atomically)
        .lock                        flock'd while a write runs: writes to one repo are serialized

Every method takes a *repo key*: the repo id for a model, `datasets/<id>` or `spaces/<id>` for the other types (see
`repo_key`), so a model and a dataset may share an id as on the Hub.

Readers never lock: refs.json and discussion files are replaced with os.replace, commits are never rewritten.
This module imports nothing of hubkit's and nothing outside the standard library.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .discussions import Discussion, DiscussionStore, Event, comment_event, commit_event, status_event, title_event
from .errors import (
    Conflict,
    EntryNotFound,
    Forbidden,
    InvalidRequest,
    ObjectNotFound,
    ParentCommitMismatch,
    RepoNotFound,
    RevisionNotFound,
)
from .jsonfile import now_iso, write_json_atomic

try:  # serializes writers across processes sharing one root (Linux/macOS); threads are covered by a Lock too
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: The `.gitattributes` the Hub puts in every new model repo: these patterns are stored as LFS.
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z",
        "*.arrow",
        "*.bin",
        "*.bz2",
        "*.ckpt",
        "*.ftz",
        "*.gz",
        "*.h5",
        "*.joblib",
        "*.lfs.*",
        "*.mlmodel",
        "*.model",
        "*.msgpack",
        "*.npy",
        "*.npz",
        "*.onnx",
        "*.ot",
        "*.parquet",
        "*.pb",
        "*.pickle",
        "*.pkl",
        "*.pt",
        "*.pth",
        "*.rar",
        "*.safetensors",
        "saved_model/**/*",
        "*.tar.*",
        "*.tar",
        "*.tflite",
        "*.tgz",
        "*.wasm",
        "*.xz",
        "*.zip",
        "*.zst",
        "*tfevents*",
    )
)
#: Files at least this large are stored as LFS whatever their name (the Hub's rule).
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_HEX_RE = re.compile(r"^[0-9a-fA-F]{5,40}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


def git_blob_oid(data: bytes) -> str:
    """git's blob id (sha1 of `blob <len>\\0<data>`): the oid the Hub reports for regular files."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file the Hub stores in git in place of an LFS file's content."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def gitattributes_lfs_patterns(text: str) -> list[str]:
    """Patterns marked `filter=lfs` in a `.gitattributes` (the subset of the syntax the Hub's default uses)."""
    patterns = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return patterns


def matches_lfs_pattern(path: str, patterns: list[str]) -> bool:
    name = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        if "/" in pattern:
            if fnmatch.fnmatchcase(path, pattern.replace("**/", "*")):
                return True
        elif fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def is_binary_sample(sample: bytes) -> bool:
    return b"\x00" in sample[:512]


REPO_TYPES = ("model", "dataset", "space")
#: How a pull request is merged: "squash" (the Hub's way) or "fast-forward" (see Storage.merge_pull_request).
MERGE_MODES = ("squash", "fast-forward")
#: The SDKs a Space may declare (huggingface_hub.constants.SPACES_SDK_TYPES).
SPACE_SDKS = ("gradio", "docker", "static", "streamlit")


def repo_key(repo_type: str | None, repo_id: str) -> str:
    """The storage key of a repo: `ns/name` for a model, `datasets/ns/name` or `spaces/ns/name` otherwise."""
    repo_type = repo_type or "model"
    if repo_type not in REPO_TYPES:
        raise InvalidRequest(f"Invalid repo type {repo_type!r}: expected one of {', '.join(REPO_TYPES)}")
    return repo_id if repo_type == "model" else f"{repo_type}s/{repo_id}"


def split_repo_key(key: str) -> tuple[str, str]:
    """(repo type, repo id) of a key made by `repo_key`."""
    parts = key.split("/")
    if len(parts) == 3 and parts[0] in ("datasets", "spaces"):
        return parts[0][:-1], f"{parts[1]}/{parts[2]}"
    return "model", key


def validate_repo_id(repo_id: str) -> tuple[str, str]:
    parts = repo_id.split("/")
    if (
        len(parts) != 2
        or not all(_NAME_RE.match(p) for p in parts)
        or any(".." in p or "--" in p or p.endswith(".git") for p in parts)
    ):
        raise InvalidRequest(
            f"Invalid repo id {repo_id!r}: expected 'namespace/name' of letters, digits, '-', '_', '.'"
        )
    return parts[0], parts[1]


_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def validate_ref_name(name: str, kind: str = "tag") -> str:
    """git's ref-name rules (git check-ref-format) for a branch or tag name; InvalidRequest otherwise."""
    problems = (
        not name
        or name == "@"
        or name.startswith(("/", "refs/", "-"))
        or name.endswith(("/", "."))
        or ".." in name
        or "//" in name
        or "@{" in name
        or _REF_FORBIDDEN.search(name)
        or any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))
    )
    if problems:
        raise InvalidRequest(f"Invalid {kind} name {name!r}: not a valid git reference name (see git check-ref-format)")
    return name


def validate_path_in_repo(path: str) -> str:
    if not path or path.startswith("/") or path.endswith("/") or "\\" in path or "\x00" in path:
        raise InvalidRequest(f"Invalid path in repo: {path!r}")
    if any(part in ("", ".", "..") for part in path.split("/")) or path.split("/")[0] == ".git":
        raise InvalidRequest(f"Invalid path in repo: {path!r}")
    return path


@dataclass(frozen=True)
class FileEntry:
    """One file of a commit's tree."""

    path: str
    sha256: str
    size: int
    git_oid: str  # git blob id of the content (what a client compares for regular files)
    lfs: bool

    @property
    def tree_oid(self) -> str:
        """The oid the tree API reports: git blob id of the content, or of the LFS pointer for LFS files."""
        return git_blob_oid(lfs_pointer(self.sha256, self.size)) if self.lfs else self.git_oid

    @property
    def pointer_size(self) -> int:
        """Size of the LFS pointer file git holds for this file."""
        return len(lfs_pointer(self.sha256, self.size))

    def to_json(self) -> dict:
        return {"sha256": self.sha256, "size": self.size, "gitOid": self.git_oid, "lfs": self.lfs}

    @classmethod
    def from_json(cls, path: str, data: dict) -> FileEntry:
        return cls(path=path, sha256=data["sha256"], size=data["size"], git_oid=data["gitOid"], lfs=data["lfs"])


@dataclass(frozen=True)
class Commit:
    oid: str
    parents: tuple[str, ...]
    tree: dict[str, FileEntry]
    title: str
    message: str
    author: str
    date: str


@dataclass(frozen=True)
class Resolved:
    """A revision resolved to a commit, and the full ref it named (or the commit oid when it named a commit)."""

    commit: Commit
    ref: str  # "refs/heads/main", "refs/tags/v1", "refs/pr/1" or the commit oid


# Operations a commit applies, in order.
@dataclass(frozen=True)
class AddFile:
    path: str
    sha256: str  # the blob must already be in the store (put_blob / an LFS upload)


@dataclass(frozen=True)
class DeleteFile:
    path: str


@dataclass(frozen=True)
class DeleteFolder:
    path: str


class Storage:
    """All state of a local Hub under one directory. Thread-safe; writes to one repo are serialized."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        (self.root / "repos").mkdir(parents=True, exist_ok=True)
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        for leftover in tmp.iterdir():  # partial uploads of a crashed server: never visible, removed once stale
            with contextlib.suppress(OSError):
                if time.time() - leftover.lstat().st_mtime > 3600:
                    shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        self.merge_mode = "squash"  # how pull requests merge (see merge_pull_request)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # ---- blobs -------------------------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        if not _SHA256_RE.match(sha256):
            return False
        path = self.blob_path(sha256)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def put_blob(self, data: bytes, *, repo: str | None = None) -> str:
        """Store bytes (and, with `repo`, make them visible to that repo); returns their sha256."""
        sha256 = self.put_blob_stream(_chunks(data), expected_size=len(data))
        if repo is not None:
            self.add_repo_objects(repo, [sha256])
        return sha256

    def put_blob_stream(
        self, chunks: Iterator[bytes], *, expected_sha256: str | None = None, expected_size: int | None = None
    ) -> str:
        """Write a stream to a temp file, check it, then rename it into place.

        A stream that ends early or raises leaves nothing under blobs/ (the temp file is removed); a content that
        does not match `expected_sha256`/`expected_size` raises InvalidRequest.
        """
        fd, tmp_name = tempfile.mkstemp(dir=self.root / "tmp", prefix="upload-")
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            if expected_size is not None and size != expected_size:
                raise InvalidRequest(f"Upload size mismatch: expected {expected_size} bytes, received {size}")
            if expected_sha256 is not None and sha256 != expected_sha256:
                raise InvalidRequest(f"Upload sha256 mismatch: expected {expected_sha256}, received {sha256}")
            final = self.blob_path(sha256)
            if final.is_file():
                os.unlink(tmp_name)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_name, final)
            return sha256
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise

    # ---- which blobs a repo may reference ---------------------------------------------------------------------
    # Blobs are stored once for the whole server, but a repo sees only those uploaded to it or already in one of its
    # commits: otherwise a commit could reference (and so publish) another user's private file by its sha256, and the
    # LFS batch answer would tell anyone whether a sha256 exists anywhere.
    def _objects_dir(self, repo_id: str) -> Path:
        folder = self._repo_dir(repo_id) / "objects"
        if folder.is_dir():
            return folder
        with self._locks_guard:  # a repo written before per-repo objects: index what its commits reference, once
            if not folder.is_dir():
                building = Path(tempfile.mkdtemp(dir=self._repo_dir(repo_id), prefix=".objects-"))
                for path in (self._repo_dir(repo_id) / "commits").glob("*.json"):
                    for entry in json.loads(path.read_text())["tree"].values():
                        (building / entry["sha256"]).touch()
                os.replace(building, folder)  # readers see no folder, or the complete index
        return folder

    def add_repo_objects(self, repo_id: str, sha256s: list[str]) -> None:
        folder = self._objects_dir(repo_id)
        for sha256 in sha256s:
            if _SHA256_RE.match(sha256):
                (folder / sha256).touch()

    def repo_has_object(self, repo_id: str, sha256: str, size: int | None = None) -> bool:
        """The blob exists, has `size` (if given), and was uploaded to or committed in this repo."""
        return (
            self.has_blob(sha256, size)
            and self.repo_exists(repo_id)
            and (self._objects_dir(repo_id) / sha256).is_file()
        )

    def open_blob(self, sha256: str) -> IO[bytes]:
        return open(self.blob_path(sha256), "rb")

    def read_blob(self, sha256: str) -> bytes:
        return self.blob_path(sha256).read_bytes()

    def _file_entry(self, path: str, sha256: str, *, lfs_patterns: list[str], force_lfs: bool) -> FileEntry:
        blob = self.blob_path(sha256)
        size = blob.stat().st_size
        git = hashlib.sha1(b"blob %d\x00" % size)
        with open(blob, "rb") as f:
            sample = f.read(512)
            git.update(sample)
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                git.update(chunk)
        lfs = force_lfs or self.is_lfs(path, size, sample, lfs_patterns)
        return FileEntry(path=path, sha256=sha256, size=size, git_oid=git.hexdigest(), lfs=lfs)

    @staticmethod
    def is_lfs(path: str, size: int, sample: bytes, lfs_patterns: list[str]) -> bool:
        """The Hub's rule: LFS if `.gitattributes` says so, if the file is large, or if it is binary."""
        if size == 0:
            return False
        return size >= LFS_SIZE_THRESHOLD or matches_lfs_pattern(path, lfs_patterns) or is_binary_sample(sample)

    def lfs_patterns(self, commit: Commit | None) -> list[str]:
        entry = commit.tree.get(".gitattributes") if commit else None
        if entry is None:
            return []
        return gitattributes_lfs_patterns(self.read_blob(entry.sha256).decode("utf-8", "replace"))

    # ---- repos -------------------------------------------------------------------------------------------------
    def _repo_dir(self, key: str) -> Path:
        repo_type, repo_id = split_repo_key(key)
        namespace, name = validate_repo_id(repo_id)
        folder = "repos" if repo_type == "model" else f"{repo_type}s"
        return self.root / folder / namespace / name

    def repo_exists(self, repo_id: str) -> bool:
        try:
            return (self._repo_dir(repo_id) / "repo.json").is_file()
        except InvalidRequest:
            return False

    def repo_meta(self, repo_id: str) -> dict:
        """`{"id", "type", "owner", "private", "createdAt"}` (+ `sdk` for a Space); RepoNotFound if absent."""
        try:
            path = self._repo_dir(repo_id) / "repo.json"
        except InvalidRequest:
            raise RepoNotFound(f"Repository {repo_id} not found") from None
        try:
            meta = json.loads(path.read_text())
        except FileNotFoundError:
            raise RepoNotFound(f"Repository {repo_id} not found") from None
        meta.setdefault("type", "model")  # roots written before dataset and Space repos existed
        return meta

    def create_repo(self, repo_id: str, *, owner: str, private: bool = False, sdk: str | None = None) -> Commit:
        """Create a repo (a repo key) with the Hub's initial commit (a default `.gitattributes`).

        Conflict if it exists; a Space needs an `sdk` from SPACE_SDKS.
        """
        repo_type, plain_id = split_repo_key(repo_id)
        if repo_type == "space" and sdk not in SPACE_SDKS:
            raise InvalidRequest(f"Invalid Space SDK {sdk!r}: expected one of {', '.join(SPACE_SDKS)}")
        repo_dir = self._repo_dir(repo_id)
        repo_dir.parent.mkdir(parents=True, exist_ok=True)
        with self.repo_lock(repo_id):
            if (repo_dir / "repo.json").is_file():
                raise Conflict(f"You already created this {repo_type} repo: {plain_id}")
            (repo_dir / "commits").mkdir(parents=True, exist_ok=True)
            (repo_dir / "discussions").mkdir(exist_ok=True)
            sha = self.put_blob(DEFAULT_GITATTRIBUTES.encode())
            entry = self._file_entry(".gitattributes", sha, lfs_patterns=[], force_lfs=False)
            (repo_dir / "objects").mkdir(exist_ok=True)
            (repo_dir / "objects" / sha).touch()
            commit = self._write_commit(repo_dir, (), {".gitattributes": entry}, "initial commit", "", owner)
            write_json_atomic(repo_dir / "refs.json", {"branches": {"main": commit.oid}, "tags": {}, "prs": {}})
            # repo.json last: the repo becomes visible only once it is complete
            meta = {"id": plain_id, "type": repo_type, "owner": owner, "private": bool(private), "createdAt": now_iso()}
            if repo_type == "space":
                meta["sdk"] = sdk
            write_json_atomic(repo_dir / "repo.json", meta)
            return commit

    def delete_repo(self, repo_id: str) -> None:
        repo_dir = self._repo_dir(repo_id)
        self.repo_meta(repo_id)
        with self.repo_lock(repo_id):
            trash = self.root / "tmp" / f"deleted-{secrets.token_hex(8)}"
            os.replace(repo_dir, trash)  # atomic disappearance, then cleanup
        shutil.rmtree(trash, ignore_errors=True)

    def set_private(self, repo_id: str, private: bool) -> None:
        with self.repo_lock(repo_id):
            meta = self.repo_meta(repo_id)
            meta["private"] = bool(private)
            write_json_atomic(self._repo_dir(repo_id) / "repo.json", meta)

    @contextlib.contextmanager
    def repo_lock(self, repo_id: str) -> Iterator[None]:
        """Serializes writers of one repo: a thread lock, plus flock for other processes sharing the root."""
        with self._locks_guard:
            lock = self._locks.setdefault(repo_id, threading.Lock())
        repo_dir = self._repo_dir(repo_id)
        repo_dir.mkdir(parents=True, exist_ok=True)
        with lock:
            with open(repo_dir / ".lock", "a+b") as handle:
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    if fcntl is not None:
                        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # ---- refs and commits --------------------------------------------------------------------------------------
    def refs(self, repo_id: str) -> dict:
        self.repo_meta(repo_id)
        return json.loads((self._repo_dir(repo_id) / "refs.json").read_text())

    def _write_refs(self, repo_id: str, refs: dict) -> None:
        write_json_atomic(self._repo_dir(repo_id) / "refs.json", refs)

    def get_commit(self, repo_id: str, oid: str) -> Commit:
        path = self._repo_dir(repo_id) / "commits" / f"{oid}.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise RevisionNotFound(f"Invalid rev id: {oid}") from None
        return Commit(
            oid=oid,
            parents=tuple(data["parents"]),
            tree={p: FileEntry.from_json(p, e) for p, e in data["tree"].items()},
            title=data["title"],
            message=data["message"],
            author=data["author"],
            date=data["date"],
        )

    def resolve(self, repo_id: str, revision: str) -> Resolved:
        """Branch, tag, `refs/heads/X`, `refs/tags/X`, `refs/pr/N`, or a (prefix of a) commit oid."""
        refs = self.refs(repo_id)
        rev = revision
        for prefix, kind in (("refs/heads/", "branches"), ("refs/tags/", "tags")):
            if rev.startswith(prefix) and rev[len(prefix) :] in refs[kind]:
                name = rev[len(prefix) :]
                return Resolved(self.get_commit(repo_id, refs[kind][name]), f"{prefix}{name}")
        match = re.fullmatch(r"refs/pr/(\d+)", rev)
        if match and match.group(1) in refs["prs"]:
            return Resolved(self.get_commit(repo_id, refs["prs"][match.group(1)]), rev)
        if rev in refs["branches"]:
            return Resolved(self.get_commit(repo_id, refs["branches"][rev]), f"refs/heads/{rev}")
        if rev in refs["tags"]:
            return Resolved(self.get_commit(repo_id, refs["tags"][rev]), f"refs/tags/{rev}")
        if _HEX_RE.match(rev):
            commits_dir = self._repo_dir(repo_id) / "commits"
            candidates = [p.stem for p in commits_dir.glob(f"{rev.lower()}*.json")]
            if len(candidates) == 1:
                return Resolved(self.get_commit(repo_id, candidates[0]), candidates[0])
        raise RevisionNotFound(f"Invalid rev id: {revision}")

    def _commit_by_prefix(self, repo_id: str, prefix: str) -> Commit:
        if _HEX_RE.match(prefix):
            found = list((self._repo_dir(repo_id) / "commits").glob(f"{prefix.lower()}*.json"))
            if len(found) == 1:
                return self.get_commit(repo_id, found[0].stem)
        raise RevisionNotFound(f"Invalid rev id: {prefix} is not a commit of {repo_id}")

    def history(self, repo_id: str, oid: str) -> Iterator[Commit]:
        """First-parent history, newest first."""
        current: str | None = oid
        while current:
            commit = self.get_commit(repo_id, current)
            yield commit
            current = commit.parents[0] if commit.parents else None

    def _write_commit(
        self,
        repo_dir: Path,
        parents: tuple[str, ...],
        tree: dict[str, FileEntry],
        title: str,
        message: str,
        author: str,
    ) -> Commit:
        date = now_iso()
        body = {
            "parents": list(parents),
            "tree": {p: tree[p].to_json() for p in sorted(tree)},
            "title": title,
            "message": message,
            "author": author,
            "date": date,
        }
        nonce = secrets.token_hex(8)  # two identical commits made in the same millisecond still differ
        oid = hashlib.sha1(json.dumps({**body, "nonce": nonce}, sort_keys=True).encode()).hexdigest()
        write_json_atomic(repo_dir / "commits" / f"{oid}.json", body)
        return Commit(oid, parents, dict(tree), title, message, author, date)

    def _writable_ref(self, repo_id: str, revision: str) -> tuple[str, str]:
        """(kind, name) of the ref a commit to `revision` moves: a branch or an open pull request."""
        refs = self.refs(repo_id)
        rev = revision[len("refs/heads/") :] if revision.startswith("refs/heads/") else revision
        if rev in refs["branches"]:
            return "branches", rev
        match = re.fullmatch(r"refs/pr/(\d+)", rev)
        if match and match.group(1) in refs["prs"]:
            discussion = self.get_discussion(repo_id, int(match.group(1)))
            if not discussion.is_open:
                raise InvalidRequest(f"Pull request #{match.group(1)} is {discussion.status}: cannot commit to it")
            return "prs", match.group(1)
        if rev in refs["tags"]:
            raise InvalidRequest(f"Cannot commit to tag {rev!r}: commit to a branch")
        raise RevisionNotFound(f"Invalid rev id: {revision}")

    def commit(
        self,
        repo_id: str,
        revision: str,
        operations: list[AddFile | DeleteFile | DeleteFolder],
        *,
        title: str,
        message: str = "",
        author: str,
        parent_commit: str | None = None,
        create_pr: bool = False,
        lfs_paths: frozenset[str] = frozenset(),
    ) -> tuple[Commit, int | None]:
        """Apply `operations` on top of `revision` as one commit. Returns (commit, pull request number or None).

        With `create_pr`, the commit goes to a new `refs/pr/N` and a pull request into `revision` is opened; the
        commit is made on top of `parent_commit` when given (as the Hub does: the PR is opened from that parent even
        if `revision` moved since; the merge applies it on top), else on top of `revision`'s head. Without
        `create_pr` the branch (or open PR ref) moves, and `parent_commit` (a full or prefix oid) must be its current
        head, else ParentCommitMismatch. `lfs_paths` were committed as LFS pointers and are stored as LFS.
        Every added blob must be visible to the repo (`put_blob(repo=...)`, `add_repo_objects`), else
        ObjectNotFound. Nothing is visible until the ref file is replaced.
        """
        with self.repo_lock(repo_id):
            kind, name = self._writable_ref(repo_id, revision)
            refs = self.refs(repo_id)
            head = self.get_commit(repo_id, refs[kind][name])
            if parent_commit is not None and create_pr:
                head = self._commit_by_prefix(repo_id, parent_commit)
            elif parent_commit is not None and not head.oid.startswith(parent_commit.lower()):
                raise ParentCommitMismatch(
                    f"A commit has happened since: {revision} is at {head.oid}, not {parent_commit}. Please refresh"
                    " and try again."
                )
            tree = dict(head.tree)
            added: dict[str, str] = {}
            for op in operations:
                if isinstance(op, AddFile):
                    validate_path_in_repo(op.path)
                    if not self.repo_has_object(repo_id, op.sha256):
                        raise ObjectNotFound(f"File {op.path}: object {op.sha256} was not uploaded to this repo")
                    added[op.path] = op.sha256
                    tree[op.path] = None  # type: ignore[assignment]  # placeholder, filled below
                elif isinstance(op, DeleteFile):
                    if op.path not in tree:
                        raise EntryNotFound(f"A file with this name doesn't exist: {op.path}")
                    del tree[op.path]
                    added.pop(op.path, None)
                elif isinstance(op, DeleteFolder):
                    prefix = op.path.rstrip("/") + "/"
                    doomed = [p for p in tree if p.startswith(prefix)]
                    if not doomed:
                        raise EntryNotFound(f"A folder with this name doesn't exist: {op.path}")
                    for p in doomed:
                        del tree[p]
                        added.pop(p, None)
            # LFS is decided against the .gitattributes of the resulting tree, as the Hub does.
            gitattributes = added.get(".gitattributes")
            if gitattributes is not None:
                patterns = gitattributes_lfs_patterns(self.read_blob(gitattributes).decode("utf-8", "replace"))
            else:
                patterns = self.lfs_patterns(head)
            for path, sha in added.items():
                tree[path] = self._file_entry(path, sha, lfs_patterns=patterns, force_lfs=path in lfs_paths)
            repo_dir = self._repo_dir(repo_id)
            new = self._write_commit(repo_dir, (head.oid,), tree, title, message, author)
            pr_num = None
            if create_pr:
                pr_num = self._open_discussion(
                    repo_id,
                    title=title,
                    description=message,
                    author=author,
                    pull_request=True,
                    base=f"refs/heads/{name}" if kind == "branches" else f"refs/pr/{name}",
                    status="open",
                    head=new.oid,
                    from_commit=head.oid,
                )
            else:
                refs = self.refs(repo_id)
                refs[kind][name] = new.oid
                self._write_refs(repo_id, refs)
                if kind == "prs":
                    self._discussions(repo_id).append(int(name), commit_event(author, title, new.oid))
            return new, pr_num

    def create_branch(self, repo_id: str, branch: str, starting_point: str | None) -> None:
        validate_ref_name(branch, "branch")
        with self.repo_lock(repo_id):
            refs = self.refs(repo_id)
            if branch in refs["branches"]:
                raise Conflict(f"Reference already exists: refs/heads/{branch}")
            target = self.resolve(repo_id, starting_point or "main").commit.oid
            refs["branches"][branch] = target
            self._write_refs(repo_id, refs)

    def delete_branch(self, repo_id: str, branch: str) -> None:
        with self.repo_lock(repo_id):
            refs = self.refs(repo_id)
            if branch == "main":
                raise Forbidden("Cannot delete the main branch")
            if branch not in refs["branches"]:
                raise RevisionNotFound(f"Invalid rev id: {branch}")
            del refs["branches"][branch]
            self._write_refs(repo_id, refs)

    def create_tag(self, repo_id: str, tag: str, revision: str) -> str:
        validate_ref_name(tag, "tag")
        with self.repo_lock(repo_id):
            refs = self.refs(repo_id)
            if tag in refs["tags"]:
                raise Conflict(f"Tag already exists: {tag}")
            target = self.resolve(repo_id, revision).commit.oid
            refs["tags"][tag] = target
            self._write_refs(repo_id, refs)
            return target

    def delete_tag(self, repo_id: str, tag: str) -> None:
        with self.repo_lock(repo_id):
            refs = self.refs(repo_id)
            if tag not in refs["tags"]:
                raise RevisionNotFound(f"Invalid rev id: {tag}")
            del refs["tags"][tag]
            self._write_refs(repo_id, refs)

    # ---- discussions and pull requests -------------------------------------------------------------------------
    def _discussions(self, repo_id: str) -> DiscussionStore:
        return DiscussionStore(self._repo_dir(repo_id) / "discussions")

    def get_discussion(self, repo_id: str, num: int) -> Discussion:
        self.repo_meta(repo_id)
        return self._discussions(repo_id).get(num)

    def list_discussions(self, repo_id: str) -> list[Discussion]:
        """Newest first."""
        self.repo_meta(repo_id)
        return self._discussions(repo_id).list()

    def _open_discussion(
        self,
        repo_id: str,
        *,
        title: str,
        description: str,
        author: str,
        pull_request: bool,
        base: str | None,
        status: str,
        head: str | None = None,
        from_commit: str | None = None,
    ) -> int:
        """Must run under the repo lock."""
        store = self._discussions(repo_id)
        num = store.next_num()
        refs = self.refs(repo_id)
        if pull_request:
            base_head = self.resolve(repo_id, base or "refs/heads/main").commit.oid
            refs["prs"][str(num)] = head or base_head
            from_commit = from_commit or base_head
        events = [comment_event(author, description)]
        if pull_request and head is not None:
            events.append(commit_event(author, title, head))
        discussion = Discussion(
            num=num,
            title=title,
            author=author,
            created_at=now_iso(),
            status=status,
            is_pull_request=pull_request,
            base=base,
            from_commit=from_commit,
            description=description,
            events=tuple(events),
        )
        # the discussion file first, then the ref: a PR ref never points at a missing discussion
        store.save(discussion)
        if pull_request:
            self._write_refs(repo_id, refs)
        return num

    def create_discussion(self, repo_id: str, *, title: str, description: str, author: str, pull_request: bool) -> int:
        with self.repo_lock(repo_id):
            return self._open_discussion(
                repo_id,
                title=title,
                description=description,
                author=author,
                pull_request=pull_request,
                base="refs/heads/main" if pull_request else None,
                status="draft" if pull_request else "open",
            )

    def comment(self, repo_id: str, num: int, author: str, text: str) -> Event:
        event = comment_event(author, text)
        with self.repo_lock(repo_id):
            self.get_discussion(repo_id, num)
            self._discussions(repo_id).append(num, event)
        return event

    def rename_discussion(self, repo_id: str, num: int, author: str, title: str) -> Event:
        """Only the discussion's author or the repo's owner may rename it (the title becomes a merge's title)."""
        with self.repo_lock(repo_id):
            discussion = self.get_discussion(repo_id, num)
            if author not in (discussion.author, self.repo_meta(repo_id)["owner"]):
                raise Forbidden(f"Only the author of #{num} or the owner of the repo may change its title")
            event = title_event(author, discussion.title, title)
            self._discussions(repo_id).append(num, event, title=title)
        return event

    def set_discussion_status(self, repo_id: str, num: int, author: str, status: str, comment: str | None) -> Event:
        if status not in ("open", "closed"):
            raise InvalidRequest("status must be 'open' or 'closed'")
        event = status_event(author, status)
        with self.repo_lock(repo_id):
            discussion = self.get_discussion(repo_id, num)
            if discussion.status == "merged":
                raise InvalidRequest(f"Pull request #{num} is already merged")
            events = (comment_event(author, comment), event) if comment else (event,)
            self._discussions(repo_id).append(num, *events, status=status)
        return event

    def merge_pull_request(
        self, repo_id: str, num: int, author: str, comment: str | None, *, mode: str | None = None
    ) -> str:
        """Merge PR `num` into its base branch; returns the commit the base branch now points at.

        `mode` (default: the store's `merge_mode`, which LocalHub sets) is one of MERGE_MODES.
        `mode="squash"` (the Hub's behaviour, the default): one new commit on the base branch titled
        "<PR title> (#N)", whose tree is the base's with the PR's changes applied; its sha differs from the PR head.
        `mode="fast-forward"`: if the base has not moved since the PR was opened, the branch moves to the PR's head
        (the tested commit is the merged one); otherwise a two-parent merge commit. In both modes a path changed on
        both sides since the PR was opened is a Conflict.
        """
        mode = mode or self.merge_mode
        if mode not in MERGE_MODES:
            raise InvalidRequest(f"Unknown merge mode {mode!r}: expected one of {', '.join(MERGE_MODES)}")
        with self.repo_lock(repo_id):
            discussion = self.get_discussion(repo_id, num)
            if not discussion.is_pull_request:
                raise InvalidRequest(f"#{num} is a discussion, not a pull request")
            if not discussion.is_open:
                raise InvalidRequest(f"Pull request #{num} is {discussion.status}")
            refs = self.refs(repo_id)
            base = discussion.base or ""
            if not base.startswith("refs/heads/") or base[len("refs/heads/") :] not in refs["branches"]:
                raise InvalidRequest(f"Base {base} of pull request #{num} is not a branch")
            branch = base[len("refs/heads/") :]
            base_head = self.get_commit(repo_id, refs["branches"][branch])
            pr_head = self.get_commit(repo_id, refs["prs"][str(num)])
            origin_oid = discussion.from_commit or base_head.oid
            if mode == "fast-forward" and base_head.oid == origin_oid:
                merged = pr_head.oid
            else:
                tree = self._apply_changes(base_head, self.get_commit(repo_id, origin_oid), pr_head)
                if mode == "squash":
                    pr_commits = list(self._commits_since(repo_id, pr_head.oid, origin_oid))
                    message = "\n".join(f"- {c.title} ({c.oid[:7]})" for c in reversed(pr_commits))
                    parents: tuple[str, ...] = (base_head.oid,)
                    title = f"{discussion.title} (#{num})"
                else:
                    parents, title = (base_head.oid, pr_head.oid), discussion.title
                    message = f"Merge pull request #{num}"
                merged = self._write_commit(self._repo_dir(repo_id), parents, tree, title, message, author).oid
            refs["branches"][branch] = merged
            self._write_refs(repo_id, refs)
            events = (comment_event(author, comment),) if comment else ()
            self._discussions(repo_id).append(
                num, *events, status_event(author, "merged"), status="merged", merge_commit_id=merged
            )
            return merged

    @staticmethod
    def _apply_changes(base_head: Commit, origin: Commit, pr_head: Commit) -> dict[str, FileEntry]:
        """The base's tree with the changes `origin` -> `pr_head` applied; Conflict if both sides changed a path."""
        ours = _changed_paths(origin.tree, base_head.tree)
        theirs = _changed_paths(origin.tree, pr_head.tree)
        conflicts = sorted(p for p in ours & theirs if base_head.tree.get(p) != pr_head.tree.get(p))
        if conflicts:
            raise Conflict(f"Merge conflict in: {', '.join(conflicts)}")
        tree = dict(base_head.tree)
        for path in theirs:
            if path in pr_head.tree:
                tree[path] = pr_head.tree[path]
            else:
                tree.pop(path, None)
        return tree

    def _commits_since(self, repo_id: str, head: str, stop: str) -> Iterator[Commit]:
        """First-parent history from `head` back to (not including) `stop`."""
        for commit in self.history(repo_id, head):
            if commit.oid == stop:
                return
            yield commit


def _changed_paths(before: dict[str, FileEntry], after: dict[str, FileEntry]) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), _CHUNK):
        yield data[start : start + _CHUNK]
