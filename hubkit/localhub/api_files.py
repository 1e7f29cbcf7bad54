"""Endpoints that move files: preupload, the LFS batch API, commits, downloads (resolve), tree, paths-info, commits.

The shapes are the ones huggingface_hub parses (read from _commit_api.py, lfs.py, file_download.py, hf_api.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urlencode

from . import storage as st
from .card_validation import check_card
from .http import CHUNK, HttpError, field_list

if TYPE_CHECKING:
    from .server import Request

URL_TTL_S = 3600
_SHA256 = re.compile(r"[0-9a-f]{64}")
_OID_PREFIX = re.compile(r"[0-9a-fA-F]{4,40}")


# ---- uploads --------------------------------------------------------------------------------------------------------
def preupload(req: Request, key: str, rev: str) -> None:
    payload = req.read_json_object()
    commit = req.resolve(key, rev).commit
    patterns = req.hub.storage.lfs_patterns(commit)
    answers = []
    for item in field_list(payload, "files"):
        if not isinstance(item, dict):
            raise HttpError(400, '"files" must be an array of objects')
        path, size = item.get("path", ""), item.get("size", 0)
        if not isinstance(path, str) or isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise HttpError(400, 'Each of "files" needs a string "path" and an integer "size" >= 0')
        try:
            sample = base64.b64decode(str(item.get("sample", "")))
        except (binascii.Error, ValueError):
            raise HttpError(400, f"Invalid base64 sample for {path}") from None
        lfs = req.hub.lfs_uploads and st.Storage.is_lfs(path, size, sample, patterns)
        answer: dict = {"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
        existing = commit.tree.get(path)
        if existing is not None:
            answer["oid"] = existing.sha256 if lfs else existing.git_oid
        answers.append(answer)
    req.send_json({"files": answers, "commitOid": commit.oid})


def lfs_batch(req: Request, key: str) -> None:
    """Upload actions for every object this repo does not have yet (a blob elsewhere on the server counts as absent:
    the answer never tells whether another repo holds a sha256)."""
    payload = req.read_json_object()
    if payload.get("operation") != "upload":
        raise HttpError(400, "Only the 'upload' LFS operation is supported")
    expires = str(int(time.time()) + URL_TTL_S)
    objects = []
    for obj in field_list(payload, "objects"):
        oid = obj.get("oid") if isinstance(obj, dict) else None
        size = obj.get("size") if isinstance(obj, dict) else None
        if (
            not isinstance(oid, str)
            or not _SHA256.fullmatch(oid)
            or isinstance(size, bool)
            or not isinstance(size, int)
            or size < 0
        ):
            objects.append(
                {
                    "oid": oid if isinstance(oid, str) else "",
                    "size": size if isinstance(size, int) else 0,
                    "error": {"code": 422, "message": "Invalid oid or size"},
                }
            )
            continue
        answer: dict = {"oid": oid, "size": size, "authenticated": True}
        if not req.hub.storage.repo_has_object(key, oid, size):
            sig = req.hub.sign("up", key, oid, str(size), expires)
            query = urlencode({"repo": key, "size": size, "expires": expires, "sig": sig})
            answer["actions"] = {
                "upload": {"href": f"{req.base_url}/_lfs/upload/{oid}?{query}", "expires_in": URL_TTL_S},
                "verify": {"href": f"{req.base_url}/{key}.git/info/lfs/objects/verify", "expires_in": URL_TTL_S},
            }
        objects.append(answer)
    req.send_json(
        {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}, content_type="application/vnd.git-lfs+json"
    )


def lfs_put(req: Request, oid: str) -> None:
    """The upload URL of a batch answer: signed for one repo, object and size; the body must be exactly that."""
    key, size = req.query.get("repo", ""), req.query.get("size", "")
    expires, sig = req.query.get("expires", "0"), req.query.get("sig", "")
    if not req.hub.signed_and_fresh(sig, expires, "up", key, oid, size, expires) or not size.isdigit():
        raise HttpError(403, "Invalid or expired upload URL")
    req.open_body(int(size))  # nothing read yet: a declared length above the signed size is refused now
    req.hub.storage.put_blob_stream(
        iter(lambda: req.body.read(CHUNK), b""), expected_sha256=oid, expected_size=int(size)
    )
    req.hub.storage.add_repo_objects(key, [oid])
    req.send_json({})


def lfs_verify(req: Request, key: str) -> None:
    payload = req.read_json_object()
    oid, size = payload.get("oid"), payload.get("size")
    if (
        not isinstance(oid, str)
        or isinstance(size, bool)
        or not isinstance(size, int)
        or not req.hub.storage.repo_has_object(key, oid, size)
    ):
        raise HttpError(404, f"Object {oid} was not uploaded to this repo")
    req.send_json({}, content_type="application/vnd.git-lfs+json")


def _commit_header(line: bytes) -> dict:
    try:
        first = json.loads(line or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HttpError(400, "Commit payload must be NDJSON") from None
    if not isinstance(first, dict) or first.get("key") != "header" or not isinstance(first.get("value"), dict):
        raise HttpError(400, "The first line of a commit must be its header")
    header = first["value"]
    summary = header.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise HttpError(400, 'A commit needs a "summary" string')
    if not isinstance(header.get("description") or "", str):
        raise HttpError(400, '"description" must be a string')
    parent = header.get("parentCommit")
    if parent is not None and (not isinstance(parent, str) or not _OID_PREFIX.fullmatch(parent)):
        raise HttpError(400, '"parentCommit" must be a commit id (hexadecimal string)')
    return header


def _commit_line(line: bytes) -> tuple[str, dict, str]:
    """(operation key, value, path) of one NDJSON operation line; 400 if malformed."""
    try:
        item = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HttpError(400, "Malformed commit line: not JSON") from None
    if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not isinstance(item.get("value"), dict):
        raise HttpError(400, 'Malformed commit line: expected {"key": <operation>, "value": {...}}')
    path = item["value"].get("path")
    if not isinstance(path, str):
        raise HttpError(400, f'Commit operation {item["key"]!r} needs a "path" string')
    return item["key"], item["value"], path


def commit(req: Request, key: str, rev: str) -> None:
    """NDJSON: a header line, then one line per operation (file, lfsFile, deletedFile, deletedFolder)."""
    header = _commit_header(req.body.readline())
    operations: list = []
    lfs_paths = set()
    storage = req.hub.storage
    for line in iter(req.body.readline, b""):
        if not line.strip():
            continue
        op_key, value, path = _commit_line(line)
        if op_key == "file":
            if value.get("encoding", "base64") != "base64":
                raise HttpError(400, f"Unsupported encoding for {path}")
            st.validate_path_in_repo(path)
            content = value.get("content", "")
            if not isinstance(content, str):
                raise HttpError(400, f'"content" of {path} must be a base64 string')
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise HttpError(400, f"Invalid base64 content for {path}") from None
            operations.append(st.AddFile(path, storage.put_blob(data, repo=key)))
            lfs_paths.discard(path)
        elif op_key == "lfsFile":
            st.validate_path_in_repo(path)
            oid, size = value.get("oid"), value.get("size")
            if not isinstance(oid, str) or isinstance(size, bool) or not isinstance(size, int):
                raise HttpError(400, f'"lfsFile" {path} needs an "oid" string and an integer "size"')
            if value.get("algo", "sha256") != "sha256":
                raise HttpError(400, f"Unsupported LFS hash algorithm for {path}")
            if not storage.repo_has_object(key, oid, size):
                raise HttpError(400, f"LFS object {oid} for {path} was not uploaded to this repo")
            operations.append(st.AddFile(path, oid))
            lfs_paths.add(path)
        elif op_key == "deletedFile":
            operations.append(st.DeleteFile(path))
        elif op_key == "deletedFolder":
            operations.append(st.DeleteFolder(path))
        else:
            raise HttpError(400, f"Unsupported commit operation {op_key!r}")
    _check_committed_card(req, key, operations)
    new, pr_num = storage.commit(
        key,
        rev,
        operations,
        title=header["summary"].strip(),
        message=header.get("description") or "",
        author=req.user or "",
        parent_commit=header.get("parentCommit"),
        create_pr=req.query_flag("create_pr"),
        lfs_paths=frozenset(lfs_paths),
    )
    req.send_json(
        {
            "success": True,
            "commitOid": new.oid,
            "commitUrl": f"{req.base_url}/{key}/commit/{new.oid}",
            "pullRequestUrl": f"{req.base_url}/{key}/discussions/{pr_num}" if pr_num else None,
        }
    )


def _check_committed_card(req: Request, key: str, operations: list) -> None:
    """The Hub refuses a commit whose README.md metadata is invalid (the same check as validate-yaml)."""
    readme = next((op for op in reversed(operations) if isinstance(op, st.AddFile) and op.path == "README.md"), None)
    if readme is None:
        return
    content = req.hub.storage.read_blob(readme.sha256).decode("utf-8", "replace")
    check = check_card(content, st.split_repo_key(key)[0])
    if not check.ok:
        raise HttpError(400, "Invalid metadata in README.md. " + "; ".join(check.errors))


# ---- downloads ------------------------------------------------------------------------------------------------------
def resolve_file(req: Request, key: str, rev: str, path: str) -> None:
    commit = req.resolve(key, rev).commit
    entry = commit.tree.get(path)
    common = {"X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes"}
    if entry is None:
        raise HttpError(404, f"Entry not found: {path}", "EntryNotFound", headers={"X-Repo-Commit": commit.oid})
    if entry.lfs:
        expires = str(int(time.time()) + URL_TTL_S)
        query = urlencode(
            {"commit": commit.oid, "expires": expires, "sig": req.hub.sign("blob", entry.sha256, commit.oid, expires)}
        )
        location = f"{req.base_url}/_lfs/blob/{entry.sha256}?{query}"
        req.send(
            302,
            b"",
            {
                **common,
                "Location": location,
                "ETag": f'"{entry.tree_oid}"',
                "X-Linked-Etag": f'"{entry.sha256}"',
                "X-Linked-Size": entry.size,
            },
        )
        return
    disposition = f"inline; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}"
    with req.hub.storage.open_blob(entry.sha256) as stream:
        req.send_file(
            stream, entry.size, headers={**common, "ETag": f'"{entry.git_oid}"', "Content-Disposition": disposition}
        )


def lfs_blob(req: Request, sha256: str) -> None:
    commit, expires, sig = req.query.get("commit", ""), req.query.get("expires", "0"), req.query.get("sig", "")
    if not req.hub.signed_and_fresh(sig, expires, "blob", sha256, commit, expires):
        raise HttpError(403, "Invalid or expired download URL")
    if not req.hub.storage.has_blob(sha256):
        raise HttpError(404, "Blob not found")
    size = req.hub.storage.blob_path(sha256).stat().st_size
    with req.hub.storage.open_blob(sha256) as stream:
        req.send_file(stream, size, headers={"X-Repo-Commit": commit, "Accept-Ranges": "bytes", "ETag": f'"{sha256}"'})


# ---- listings -------------------------------------------------------------------------------------------------------
def _entry_json(entry: st.FileEntry, last_commit: dict | None = None) -> dict:
    data: dict = {"type": "file", "oid": entry.tree_oid, "size": entry.size, "path": entry.path}
    if entry.lfs:
        data["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": entry.pointer_size}
    if last_commit is not None:
        data["lastCommit"] = last_commit
    return data


def _folder_json(commit: st.Commit, folder: str, last_commit: dict | None = None) -> dict:
    oids = sorted(f"{p}:{e.tree_oid}" for p, e in commit.tree.items() if p.startswith(folder + "/"))
    data: dict = {
        "type": "directory",
        "oid": hashlib.sha1("\n".join(oids).encode()).hexdigest(),
        "size": 0,
        "path": folder,
    }
    if last_commit is not None:
        data["lastCommit"] = last_commit
    return data


def _last_commits(req: Request, key: str, commit: st.Commit, paths: list[str]) -> dict[str, dict]:
    """For `expand=true`: the newest first-parent commit that changed each path (or anything under it)."""
    found: dict[str, dict] = {}
    history = list(req.hub.storage.history(key, commit.oid))
    for current, parent in zip(history, [*history[1:], None]):
        before = parent.tree if parent else {}
        changed = {p for p in current.tree.keys() | before.keys() if current.tree.get(p) != before.get(p)}
        info = {"id": current.oid, "title": current.title, "date": current.date}
        for path in paths:
            if path not in found and any(c == path or c.startswith(path + "/") for c in changed):
                found[path] = info
        if len(found) == len(paths):
            break
    return found


def tree(req: Request, key: str, rev: str = "main", path: str = "") -> None:
    commit = req.resolve(key, rev).commit
    folder = path.strip("/")
    prefix = f"{folder}/" if folder else ""
    recursive = req.query_flag("recursive")
    files = [p for p in commit.tree if p.startswith(prefix)]
    if folder and not files:
        raise HttpError(404, f"Entry not found: {folder}", "EntryNotFound", headers={"X-Repo-Commit": commit.oid})
    entries: dict[str, str] = {}  # path -> "file" | "directory"
    for file_path in files:
        rel = file_path[len(prefix) :].split("/")
        for depth in range(1, len(rel)):
            if recursive or depth == 1:
                entries.setdefault(prefix + "/".join(rel[:depth]), "directory")
            if not recursive:
                break
        if recursive or len(rel) == 1:
            entries[file_path] = "file"
    paths = sorted(entries)
    start = req.query_int("cursor")
    page = paths[start : start + req.hub.tree_page_size]
    last = _last_commits(req, key, commit, page) if req.query_flag("expand") else {}
    items = [
        _entry_json(commit.tree[p], last.get(p)) if entries[p] == "file" else _folder_json(commit, p, last.get(p))
        for p in page
    ]
    req.send_json(items, headers=_next_link(req, start + len(page), len(paths)))


def _next_link(req: Request, next_start: int, total: int) -> dict:
    if next_start >= total:
        return {}
    query = {**req.query, "cursor": str(next_start)}
    return {"Link": f'<{req.base_url}{quote(req.raw_path)}?{urlencode(query)}>; rel="next"'}


def paths_info(req: Request, key: str, rev: str) -> None:
    """Form-encoded (`paths=a&paths=b&expand=true`, what huggingface_hub sends) or JSON."""
    raw = req.body.read()
    if req.headers.get("Content-Type", "").startswith("application/json"):
        try:
            data = json.loads(raw or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HttpError(400, "Request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise HttpError(400, "Request body must be a JSON object")
        wanted, expand = field_list(data, "paths"), bool(data.get("expand", False))
    else:
        try:
            form = parse_qs(raw.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            raise HttpError(400, "paths-info form is not valid UTF-8") from None
        wanted = form.get("paths", [])
        expand = (form.get("expand") or ["false"])[-1].lower() in ("1", "true")
    if not all(isinstance(p, str) for p in wanted):
        raise HttpError(400, '"paths" must be an array of strings')
    commit = req.resolve(key, rev).commit
    wanted = [p.strip("/") for p in wanted]
    last = _last_commits(req, key, commit, wanted) if expand else {}
    items = []
    for path in wanted:
        if path in commit.tree:
            items.append(_entry_json(commit.tree[path], last.get(path)))
        elif any(p.startswith(path + "/") for p in commit.tree):
            items.append(_folder_json(commit, path, last.get(path)))
    req.send_json(items)


def commits(req: Request, key: str, rev: str = "main") -> None:
    commit = req.resolve(key, rev).commit
    history = list(req.hub.storage.history(key, commit.oid))
    start = req.query_int("cursor")
    page = history[start : start + req.hub.commits_page_size]
    items = [
        {"id": c.oid, "title": c.title, "message": c.message, "authors": [{"user": c.author}], "date": c.date}
        for c in page
    ]
    req.send_json(items, headers=_next_link(req, start + len(page), len(history)))
