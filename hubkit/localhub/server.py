"""HTTP routes of the local Hub, on the standard library's ThreadingHTTPServer.

Why: the Hub cannot be reached from CI or from a laptop on a plane, yet publishing must run the real
`huggingface_hub` client and `transformers` end to end. This server answers the requests those clients make (read
from their source: hf_api.py, _commit_api.py, lfs.py, file_download.py) with the shapes and headers they parse, and
errors carry `X-Error-Code` so `hf_raise_for_status` raises the client's own exception classes. State lives in
`storage.Storage`; this module only translates HTTP to storage calls.

It never advertises Xet: by default preupload answers "regular" for every file, which a client with hf_xet installed
sends inline in the commit (it only uses Xet for files the server calls "lfs"). With `lfs_uploads=True` it answers
"lfs" for files the Hub would store as LFS; only clients with `HF_HUB_DISABLE_XET=1` can follow that (they use the
LFS batch API: basic PUT upload + verify). Either way files matching `.gitattributes`, large or binary files are
*stored* as LFS, so downloads see the Hub's LFS redirect (302 + `X-Linked-Etag`/`X-Linked-Size`).

Tokens are compared, never logged or echoed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from . import storage as st
from .card_validation import check_card
from .cards import dataset_tags, front_matter, model_facts

logger = logging.getLogger("hubkit.localhub")

_CHUNK = 1024 * 1024
_URL_TTL_S = 3600
_API_REPO = re.compile(r"^/api/(models|datasets|spaces)/([^/]+)/([^/]+)(?:/(.*))?$")
_TYPE_PREFIX = r"(?:(datasets|spaces)/)?"
_RESOLVE = re.compile(rf"^/{_TYPE_PREFIX}([^/]+)/([^/]+)/resolve/(.+)$")
_LFS_BATCH = re.compile(rf"^/{_TYPE_PREFIX}([^/]+)/([^/]+?)\.git/info/lfs/objects/(batch|verify)$")


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered (for tests: what was sent, e.g. to prove a re-push uploaded nothing)."""

    method: str
    path: str  # without the query string
    status: int  # 0 when the connection was dropped on purpose
    bytes_in: int  # request body bytes read


class HttpError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


class _Fault:
    def __init__(self, count: int, status: int, path_contains: str | None):
        self.count, self.status, self.path_contains = count, status, path_contains


class _BodyReader(io.RawIOBase):
    """The request body as a file: Content-Length or chunked transfer encoding; counts bytes read."""

    def __init__(self, rfile, headers):
        self._rfile = rfile
        self.bytes_read = 0
        self._chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        self._remaining = int(headers.get("Content-Length") or 0) if not self._chunked else 0
        self._eof = not self._chunked and self._remaining == 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._eof:
            return 0
        if self._chunked and self._remaining == 0:
            size_line = self._rfile.readline(65537)
            if not size_line:
                raise ConnectionError("client closed the connection mid-body")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self._rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._eof = True
                return 0
            self._remaining = size
        data = self._rfile.read(min(len(buffer), self._remaining))
        if not data:
            raise ConnectionError("client closed the connection mid-body")
        n = len(data)
        buffer[:n] = data
        self._remaining -= n
        self.bytes_read += n
        if self._remaining == 0:
            if self._chunked:
                self._rfile.readline(3)  # CRLF after the chunk
            else:
                self._eof = True
        return n


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not block stop()
    hub: "LocalHub"


class LocalHub:
    """A running local Hub. Start it with `LocalHub.start(root)`; `url` is what HF_ENDPOINT / `endpoint=` takes.

    `tokens` maps a token to its user name: that user may write to repos in its namespace. `lfs_uploads=True` makes
    preupload answer "lfs" for LFS files (for clients with HF_HUB_DISABLE_XET=1 only; see the module docstring).
    """

    def __init__(self, httpd: _Server, storage: st.Storage, tokens: dict[str, str], lfs_uploads: bool):
        self._httpd = httpd
        self.storage = storage
        self.root = storage.root
        self._tokens = dict(tokens)
        self.lfs_uploads = lfs_uploads
        self._secret = secrets.token_bytes(32)
        self._faults: list[_Fault] = []
        self._faults_lock = threading.Lock()
        self.requests: list[RequestRecord] = []
        self.tree_page_size = 1000
        self.commits_page_size = 50
        host, port = httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # never shows tokens
        return f"LocalHub(url={self.url!r}, root={str(self.root)!r})"

    @classmethod
    def start(
        cls,
        root: Path | str,
        tokens: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        lfs_uploads: bool = False,
        background: bool = True,
    ) -> "LocalHub":
        """Serve `root` (port 0: a free port). The socket listens on return, so clients may connect at once.

        With `background=True` (the default) requests are served on a daemon thread until `stop()`; with False the
        caller runs `serve_forever()` itself (the CLI).
        """
        tokens = {"token": "user"} if tokens is None else tokens
        storage = st.Storage(root)
        httpd = _Server((host, port), _Handler)
        hub = cls(httpd, storage, tokens, lfs_uploads)
        httpd.hub = hub
        if background:
            hub._thread = threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="localhub", daemon=True
            )
            hub._thread.start()
        return hub

    def serve_forever(self) -> None:
        """Serve on the calling thread (the CLI); stop() from another thread or Ctrl-C ends it."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread is not None:
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "LocalHub":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def fail_next(self, n: int = 1, status: int = 500, path_contains: str | None = None) -> None:
        """Make the next `n` requests whose path contains `path_contains` (any request if None) fail.

        `status` 5xx answers that status with a JSON error; `status == 0` drops the connection without an answer.
        The request body is read first, and the request does nothing.
        """
        with self._faults_lock:
            self._faults.append(_Fault(n, status, path_contains))

    def _take_fault(self, raw_path: str) -> _Fault | None:
        with self._faults_lock:
            for fault in self._faults:
                if fault.count > 0 and (fault.path_contains is None or fault.path_contains in raw_path):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def user_for(self, token: str) -> str | None:
        for known, user in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return user
        return None

    def sign(self, *parts: str) -> str:
        return hmac.new(self._secret, ":".join(parts).encode(), hashlib.sha256).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hubkit-localhub"
    timeout = 120
    server: _Server

    # ---- plumbing ---------------------------------------------------------------------------------------------
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    @property
    def hub(self) -> LocalHub:
        return self.server.hub

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        self.raw_path = split.path
        self.query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self._raw_body = _BodyReader(self.rfile, self.headers)
        self.body = io.BufferedReader(self._raw_body, buffer_size=_CHUNK)
        self._status = 0
        try:
            fault = self.hub._take_fault(self.path)
            if fault is not None:
                self._drain()
                if fault.status == 0:
                    self.close_connection = True
                    return
                raise HttpError(fault.status, "Injected failure (LocalHub.fail_next)")
            self.user = self._authenticate()
            handler, args = self._route()
            handler(*args)
        except (HttpError, st.StorageError) as exc:
            self._send_error(exc)
        except (ConnectionError, TimeoutError) as exc:
            logger.info("%s %s: connection lost (%s)", self.command, self.raw_path, exc.__class__.__name__)
            self.close_connection = True
        except Exception:
            logger.exception("internal error on %s %s", self.command, self.raw_path)
            self._send_error(HttpError(500, "Internal server error"))
        finally:
            record = RequestRecord(self.command, self.raw_path, self._status, self._raw_body.bytes_read)
            self.hub.requests.append(record)
            logger.info("%s %s %s", self.command, self.raw_path, self._status or "dropped")

    def _drain(self) -> None:
        while self.body.read(_CHUNK):
            pass

    def _send_error(self, exc: HttpError | st.StorageError) -> None:
        status = exc.status
        code = exc.code
        message = " ".join(str(exc).split())
        headers = dict(exc.headers)
        if code:
            headers["X-Error-Code"] = code
        headers["X-Error-Message"] = message.encode("ascii", "replace").decode()
        with_body = {"error": message}
        try:
            self._drain()  # keep the connection usable
        except (ConnectionError, TimeoutError, ValueError):
            self.close_connection = True
        self._send_json(with_body, status=status, headers=headers)

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, content_type: str | None = None):
        self.send_response(status)
        self._status = status
        if content_type:
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _send_json(self, data, status: int = 200, headers: dict | None = None, content_type="application/json"):
        self._send(status, json.dumps(data).encode(), headers, content_type)

    def _read_json(self) -> dict:
        raw = self.body.read()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise HttpError(400, "Request body is not valid JSON") from None
        return data if isinstance(data, dict) else {}

    def _query_int(self, name: str) -> int:
        raw = self.query.get(name) or "0"
        if not raw.isdigit():
            raise HttpError(400, f"Query parameter {name} must be a non-negative integer")
        return int(raw)

    @property
    def base_url(self) -> str:
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.hub.url

    # ---- auth -------------------------------------------------------------------------------------------------
    def _authenticate(self) -> str | None:
        header = self.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        user = self.hub.user_for(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise HttpError(401, "Invalid credentials in Authorization header")
        return user

    def _visible_repo(self, repo_id: str) -> dict:
        """The repo's metadata if this caller may read it; private repos of others are 'not found'."""
        try:
            meta = self.hub.storage.repo_meta(repo_id)
        except st.RepoNotFound:
            raise HttpError(404, f"Repository Not Found: {repo_id}", "RepoNotFound") from None
        if meta["private"] and self.user != meta["owner"]:
            raise HttpError(404, f"Repository Not Found: {repo_id}", "RepoNotFound")
        return meta

    def _writable_repo(self, repo_id: str) -> dict:
        meta = self._visible_repo(repo_id)
        if self.user is None:
            raise HttpError(401, "You must be authenticated to write to this repo (pass a token)")
        if self.user != meta["owner"]:
            raise HttpError(403, f"You don't have the rights to write to {repo_id}")
        return meta

    # ---- routing ----------------------------------------------------------------------------------------------
    def _route(self) -> tuple[Callable, tuple]:
        method, path = self.command, self.raw_path
        simple = {
            ("GET", "/api/whoami-v2"): self.whoami,
            ("POST", "/api/validate-yaml"): self.validate_yaml,
            ("POST", "/api/repos/create"): self.create_repo,
            ("DELETE", "/api/repos/delete"): self.delete_repo,
        }
        if (method, path) in simple:
            return simple[(method, path)], ()
        if path.startswith("/_lfs/upload/") and method == "PUT":
            return self.lfs_put, (unquote(path[len("/_lfs/upload/"):]),)
        if path.startswith("/_lfs/blob/") and method in ("GET", "HEAD"):
            return self.lfs_blob, (unquote(path[len("/_lfs/blob/"):]),)
        if m := _API_REPO.match(path):
            key = _key(m.group(1), m.group(2), m.group(3))
            rest = [unquote(s) for s in (m.group(4) or "").split("/")] if m.group(4) else []
            return self._route_api_repo(method, key, rest)
        if (m := _LFS_BATCH.match(path)) and method == "POST":
            key = _key(m.group(1), m.group(2), m.group(3))
            return (self.lfs_batch if m.group(4) == "batch" else self.lfs_verify), (key,)
        if (m := _RESOLVE.match(path)) and method in ("GET", "HEAD") and m.group(2) not in ("api", "_lfs"):
            key = _key(m.group(1), m.group(2), m.group(3))
            revision, rest = _take_revision([unquote(s) for s in m.group(4).split("/")])
            return self.resolve_file, (key, revision, "/".join(rest))
        raise HttpError(404, f"No route for {method} {path}")

    def _route_api_repo(self, method: str, repo_id: str, rest: list[str]) -> tuple[Callable, tuple]:
        head = rest[0] if rest else ""
        if not rest and method == "GET":
            return self.repo_info, (repo_id, None)
        if head == "revision" and method == "GET" and len(rest) >= 2:
            revision, _ = _take_revision(rest[1:])
            return self.repo_info, (repo_id, revision)
        if head == "settings" and method == "PUT":
            return self.settings, (repo_id,)
        if head == "auth-check" and method == "GET":
            return self.auth_check, (repo_id,)
        if head in ("preupload", "commit", "paths-info") and method == "POST" and len(rest) >= 2:
            revision, _ = _take_revision(rest[1:])
            return {"preupload": self.preupload, "commit": self.commit, "paths-info": self.paths_info}[head], (
                repo_id, revision)
        if head in ("tree", "commits") and method == "GET":
            revision, sub = _take_revision(rest[1:]) if len(rest) >= 2 else ("main", [])
            if head == "tree":
                return self.tree, (repo_id, revision, "/".join(sub))
            return self.commits, (repo_id, revision)
        if head == "refs" and method == "GET":
            return self.list_refs, (repo_id,)
        if head == "branch" and len(rest) >= 2 and method in ("POST", "DELETE"):
            return (self.create_branch if method == "POST" else self.delete_branch), (repo_id, "/".join(rest[1:]))
        if head == "tag" and len(rest) >= 2 and method in ("POST", "DELETE"):
            return (self.create_tag if method == "POST" else self.delete_tag), (repo_id, "/".join(rest[1:]))
        if head == "discussions":
            if len(rest) == 1:
                return (self.list_discussions if method == "GET" else self.create_discussion), (repo_id,)
            if len(rest) == 2 and method == "GET":
                return self.discussion_details, (repo_id, _discussion_num(rest[1]))
            if len(rest) == 3 and method == "POST":
                return self.discussion_change, (repo_id, _discussion_num(rest[1]), rest[2])
        if head.startswith("xet-"):
            return self.no_xet, (repo_id,)
        raise HttpError(404, f"No route for {method} /api/{_api_path(repo_id)}/{'/'.join(rest)}")

    # ---- account and repos ------------------------------------------------------------------------------------
    def whoami(self) -> None:
        if self.user is None:
            raise HttpError(401, "Invalid credentials in Authorization header")
        self._send_json({
            "type": "user", "id": hashlib.sha1(self.user.encode()).hexdigest()[:24], "name": self.user,
            "fullname": self.user, "email": None, "emailVerified": False, "isPro": False, "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "localhub", "role": "write"}},
        })

    def validate_yaml(self) -> None:
        """The Hub's card metadata check: 200 with warnings, or 400 with the errors (text if Accept: text/plain)."""
        payload = self._read_json()
        content, repo_type = payload.get("content"), payload.get("repoType") or "model"
        if not isinstance(content, str):
            raise HttpError(400, '"content" must be a string')
        if repo_type not in st.REPO_TYPES:
            raise HttpError(400, f'"repoType" must be one of [{", ".join(st.REPO_TYPES)}]')
        check = check_card(content, repo_type)
        body = {"errors": [{"message": m} for m in check.errors], "warnings": [{"message": m} for m in check.warnings]}
        if check.ok:
            self._send_json(body)
        elif "text/plain" in self.headers.get("Accept", ""):
            self._send(400, "\n".join(check.errors).encode(), {"X-Error-Message": check.errors[0]},
                       content_type="text/plain; charset=utf-8")
        else:
            self._send_json({"error": "; ".join(check.errors), **body}, status=400,
                            headers={"X-Error-Message": check.errors[0]})

    def create_repo(self) -> None:
        payload = self._read_json()
        if self.user is None:
            raise HttpError(401, "You must be authenticated to create a repo (pass a token)")
        repo_type = payload.get("type") or "model"
        if repo_type not in st.REPO_TYPES:
            raise HttpError(400, f"Invalid repo type {repo_type!r}")
        namespace = payload.get("organization") or self.user
        repo_id = f"{namespace}/{payload.get('name', '')}"
        st.validate_repo_id(repo_id)
        key = st.repo_key(repo_type, repo_id)
        url = f"{self.base_url}/{key}"
        if namespace != self.user:
            raise HttpError(403, f"You cannot create a repo in namespace {namespace!r}")
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        try:
            if repo_type == "space" and self.hub.storage.repo_exists(repo_id):
                raise st.Conflict(f"Cannot create a Space {repo_id}: a model repo with this id exists")
            self.hub.storage.create_repo(key, owner=self.user, private=private, sdk=payload.get("sdk"))
        except st.Conflict as exc:
            self._send_json({"error": str(exc), "url": url}, status=409, headers={"X-Error-Message": str(exc)})
            return
        self._send_json({"url": url, "name": repo_id, "id": hashlib.sha1(key.encode()).hexdigest()[:24]})

    def delete_repo(self) -> None:
        payload = self._read_json()
        key = st.repo_key(payload.get("type"), f"{payload.get('organization') or self.user}/{payload.get('name', '')}")
        self._writable_repo(key)
        self.hub.storage.delete_repo(key)
        self._send_json({})

    def settings(self, repo_id: str) -> None:
        payload = self._read_json()
        self._writable_repo(repo_id)
        if "private" in payload or "visibility" in payload:
            private = payload.get("visibility") == "private" if "visibility" in payload else payload["private"]
            self.hub.storage.set_private(repo_id, bool(private))
        self._send_json({})

    def auth_check(self, repo_id: str) -> None:
        self._visible_repo(repo_id)
        self._send_json({})

    def no_xet(self, repo_id: str) -> None:
        raise HttpError(
            501, "This local hub does not speak Xet: start it without lfs_uploads, or set HF_HUB_DISABLE_XET=1"
        )

    def _resolve(self, repo_id: str, revision: str | None) -> st.Resolved:
        self._visible_repo(repo_id)
        try:
            return self.hub.storage.resolve(repo_id, revision or "main")
        except st.RevisionNotFound:
            raise HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound") from None

    def repo_info(self, key: str, revision: str | None) -> None:
        """`/api/{models,datasets,spaces}/{id}[/revision/{rev}]`: what model_info/dataset_info/space_info parse."""
        meta = self._visible_repo(key)
        commit = self._resolve(key, revision).commit
        blobs = self.query.get("blobs", "").lower() in ("1", "true")
        siblings = []
        for path in sorted(commit.tree):
            entry = commit.tree[path]
            sibling: dict = {"rfilename": path}
            if blobs:
                sibling.update(size=entry.size, blobId=entry.tree_oid)
                if entry.lfs:
                    sibling["lfs"] = {"size": entry.size, "sha256": entry.sha256, "pointerSize": _pointer_size(entry)}
            siblings.append(sibling)
        repo_type, repo_id = st.split_repo_key(key)
        card = self._card_data(commit)
        info: dict = {
            "_id": hashlib.sha1(key.encode()).hexdigest()[:24], "id": repo_id, "author": repo_id.split("/")[0],
            "sha": commit.oid, "lastModified": commit.date, "createdAt": meta["createdAt"], "private": meta["private"],
            "gated": False, "disabled": False, "likes": 0, "siblings": siblings,
            "usedStorage": sum(e.size for e in commit.tree.values()),
        }
        if card is not None:
            info["cardData"] = card
        if repo_type == "model":
            config = self._model_config(commit)
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
            info.update(sdk=meta.get("sdk"), tags=[meta.get("sdk") or "", "region:us"], subdomain=None,
                        runtime={"stage": "NO_APP_FILE" if "app.py" not in commit.tree else "STOPPED",
                                 "hardware": {"current": None, "requested": "cpu-basic"}})
        self._send_json(info)

    def _card_data(self, commit: st.Commit) -> dict | None:
        """The README's YAML front matter (None without a README or front matter, {} if it does not parse)."""
        entry = commit.tree.get("README.md")
        if entry is None or entry.size > 1024 * 1024:
            return None
        return front_matter(self.hub.storage.read_blob(entry.sha256).decode("utf-8", "replace"))

    def _model_config(self, commit: st.Commit) -> dict | None:
        entry = commit.tree.get("config.json")
        if entry is None or entry.size > 1024 * 1024:
            return None
        try:
            config = json.loads(self.hub.storage.read_blob(entry.sha256))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return config if isinstance(config, dict) else None

    # ---- uploads ----------------------------------------------------------------------------------------------
    def preupload(self, repo_id: str, revision: str) -> None:
        payload = self._read_json()
        self._writable_repo(repo_id)
        commit = self._resolve(repo_id, revision).commit
        patterns = self.hub.storage.lfs_patterns(commit)
        answers = []
        for item in payload.get("files", []):
            path, size = item.get("path", ""), int(item.get("size", 0))
            try:
                sample = base64.b64decode(item.get("sample", ""))
            except (binascii.Error, ValueError):
                raise HttpError(400, f"Invalid base64 sample for {path}") from None
            lfs = self.hub.lfs_uploads and st.Storage.is_lfs(path, size, sample, patterns)
            answer: dict = {"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
            existing = commit.tree.get(path)
            if existing is not None:
                answer["oid"] = existing.sha256 if lfs else existing.git_oid
            answers.append(answer)
        self._send_json({"files": answers, "commitOid": commit.oid})

    def lfs_batch(self, repo_id: str) -> None:
        payload = self._read_json()
        self._writable_repo(repo_id)
        if payload.get("operation") != "upload":
            raise HttpError(400, "Only the 'upload' LFS operation is supported")
        expires = str(int(time.time()) + _URL_TTL_S)
        objects = []
        for obj in payload.get("objects", []):
            oid, size = str(obj.get("oid", "")), obj.get("size")
            if not re.fullmatch(r"[0-9a-f]{64}", oid) or not isinstance(size, int) or size < 0:
                objects.append({"oid": oid, "size": size if isinstance(size, int) else 0,
                                "error": {"code": 422, "message": "Invalid oid or size"}})
                continue
            answer: dict = {"oid": oid, "size": size, "authenticated": True}
            if not self.hub.storage.has_blob(oid, size):
                sig = self.hub.sign("up", oid, str(size), expires)
                query = urlencode({"size": size, "expires": expires, "sig": sig})
                answer["actions"] = {
                    "upload": {"href": f"{self.base_url}/_lfs/upload/{oid}?{query}", "expires_in": _URL_TTL_S},
                    "verify": {"href": f"{self.base_url}/{repo_id}.git/info/lfs/objects/verify",
                               "expires_in": _URL_TTL_S},
                }
            objects.append(answer)
        self._send_json({"transfer": "basic", "objects": objects, "hash_algo": "sha256"},
                        content_type="application/vnd.git-lfs+json")

    def lfs_put(self, oid: str) -> None:
        size, expires, sig = self.query.get("size", ""), self.query.get("expires", "0"), self.query.get("sig", "")
        if not _signed_and_fresh(sig, self.hub.sign("up", oid, size, expires), expires) or not size.isdigit():
            raise HttpError(403, "Invalid or expired upload URL")
        self.hub.storage.put_blob_stream(
            iter(lambda: self.body.read(_CHUNK), b""), expected_sha256=oid, expected_size=int(size)
        )
        self._send_json({})

    def lfs_verify(self, repo_id: str) -> None:
        payload = self._read_json()
        self._writable_repo(repo_id)
        if not self.hub.storage.has_blob(str(payload.get("oid", "")), payload.get("size")):
            raise HttpError(404, f"Object {payload.get('oid')} was not uploaded")
        self._send_json({}, content_type="application/vnd.git-lfs+json")

    def commit(self, repo_id: str, revision: str) -> None:
        self._writable_repo(repo_id)
        header_line = self.body.readline()
        try:
            first = json.loads(header_line or b"{}")
        except json.JSONDecodeError:
            raise HttpError(400, "Commit payload must be NDJSON") from None
        if first.get("key") != "header" or not isinstance(first.get("value"), dict):
            raise HttpError(400, "The first line of a commit must be its header")
        header = first["value"]
        if not str(header.get("summary", "")).strip():
            raise HttpError(400, "A commit needs a summary")
        operations: list = []
        lfs_paths = set()
        for line in iter(self.body.readline, b""):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise HttpError(400, "Malformed commit line") from None
            path = str(value.get("path", ""))
            if key == "file":
                if value.get("encoding", "base64") != "base64":
                    raise HttpError(400, f"Unsupported encoding for {path}")
                st.validate_path_in_repo(path)
                try:
                    content = base64.b64decode(value.get("content", ""), validate=True)
                except (binascii.Error, ValueError):
                    raise HttpError(400, f"Invalid base64 content for {path}") from None
                operations.append(st.AddFile(path, self.hub.storage.put_blob(content)))
                lfs_paths.discard(path)
            elif key == "lfsFile":
                oid = str(value.get("oid", ""))
                if not self.hub.storage.has_blob(oid, value.get("size")):
                    raise HttpError(400, f"LFS object {oid} for {path} was not uploaded")
                operations.append(st.AddFile(path, oid))
                lfs_paths.add(path)
            elif key == "deletedFile":
                operations.append(st.DeleteFile(path))
            elif key == "deletedFolder":
                operations.append(st.DeleteFolder(path))
            else:
                raise HttpError(400, f"Unsupported commit operation {key!r}")
        self._check_committed_card(repo_id, operations)
        create_pr = self.query.get("create_pr", "") in ("1", "true", "True")
        try:
            commit, pr_num = self.hub.storage.commit(
                repo_id, revision, operations, title=str(header["summary"]).strip(),
                message=str(header.get("description") or ""), author=self.user or "",
                parent_commit=header.get("parentCommit"), create_pr=create_pr, lfs_paths=frozenset(lfs_paths),
            )
        except st.RevisionNotFound as exc:
            raise HttpError(404, str(exc), "RevisionNotFound") from None
        self._send_json({
            "success": True, "commitOid": commit.oid, "commitUrl": f"{self.base_url}/{repo_id}/commit/{commit.oid}",
            "pullRequestUrl": f"{self.base_url}/{repo_id}/discussions/{pr_num}" if pr_num else None,
        })

    def _check_committed_card(self, key: str, operations: list) -> None:
        """The Hub refuses a commit whose README.md metadata is invalid (the same check as validate-yaml)."""
        readme = next((op for op in reversed(operations) if isinstance(op, st.AddFile) and op.path == "README.md"),
                      None)
        if readme is None:
            return
        content = self.hub.storage.read_blob(readme.sha256).decode("utf-8", "replace")
        check = check_card(content, st.split_repo_key(key)[0])
        if not check.ok:
            raise HttpError(400, "Invalid metadata in README.md. " + "; ".join(check.errors))

    # ---- reads ------------------------------------------------------------------------------------------------
    def resolve_file(self, repo_id: str, revision: str, path: str) -> None:
        commit = self._resolve(repo_id, revision).commit
        entry = commit.tree.get(path)
        common = {"X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes"}
        if entry is None:
            raise HttpError(404, f"Entry not found: {path}", "EntryNotFound", headers={"X-Repo-Commit": commit.oid})
        if entry.lfs:
            expires = str(int(time.time()) + _URL_TTL_S)
            query = urlencode({"commit": commit.oid, "expires": expires,
                               "sig": self.hub.sign("blob", entry.sha256, commit.oid, expires)})
            location = f"{self.base_url}/_lfs/blob/{entry.sha256}?{query}"
            self._send(302, b"", {**common, "Location": location, "ETag": f'"{entry.tree_oid}"',
                                  "X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": entry.size})
            return
        self._send_blob(entry.sha256, entry.size, etag=entry.git_oid, headers=common, filename=path)

    def lfs_blob(self, sha256: str) -> None:
        commit, expires, sig = self.query.get("commit", ""), self.query.get("expires", "0"), self.query.get("sig", "")
        if not _signed_and_fresh(sig, self.hub.sign("blob", sha256, commit, expires), expires):
            raise HttpError(403, "Invalid or expired download URL")
        if not self.hub.storage.has_blob(sha256):
            raise HttpError(404, "Blob not found")
        size = self.hub.storage.blob_path(sha256).stat().st_size
        self._send_blob(sha256, size, etag=sha256, headers={"X-Repo-Commit": commit, "Accept-Ranges": "bytes"})

    def _send_blob(self, sha256: str, size: int, *, etag: str, headers: dict, filename: str | None = None) -> None:
        start, end, status = 0, size - 1, 200
        headers = {**headers, "ETag": f'"{etag}"'}
        if filename:
            headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(filename.rsplit('/', 1)[-1])}"
        range_header = self.headers.get("Range")
        if range_header:
            parsed = _parse_range(range_header, size)
            if parsed is None:
                raise HttpError(416, "Requested range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
            start, end = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = max(0, end - start + 1)
        self.send_response(status)
        self._status = status
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.end_headers()
        if self.command == "HEAD":
            return
        with self.hub.storage.open_blob(sha256) as f:
            f.seek(start)
            remaining = length
            while remaining > 0:
                chunk = f.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    def _entry_json(self, entry: st.FileEntry, last_commit: dict | None = None) -> dict:
        data: dict = {"type": "file", "oid": entry.tree_oid, "size": entry.size, "path": entry.path}
        if entry.lfs:
            data["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": _pointer_size(entry)}
        if last_commit is not None:
            data["lastCommit"] = last_commit
        return data

    def _folder_json(self, commit: st.Commit, folder: str, last_commit: dict | None = None) -> dict:
        oids = sorted(f"{p}:{e.tree_oid}" for p, e in commit.tree.items() if p.startswith(folder + "/"))
        data: dict = {"type": "directory", "oid": hashlib.sha1("\n".join(oids).encode()).hexdigest(), "size": 0,
                      "path": folder}
        if last_commit is not None:
            data["lastCommit"] = last_commit
        return data

    def _last_commits(self, repo_id: str, commit: st.Commit, paths: list[str]) -> dict[str, dict]:
        """For `expand=true`: the newest first-parent commit that changed each path (or anything under it)."""
        found: dict[str, dict] = {}
        history = list(self.hub.storage.history(repo_id, commit.oid))
        for current, parent in zip(history, history[1:] + [None]):
            before = parent.tree if parent else {}
            changed = {p for p in current.tree.keys() | before.keys() if current.tree.get(p) != before.get(p)}
            info = {"id": current.oid, "title": current.title, "date": current.date}
            for path in paths:
                if path not in found and any(c == path or c.startswith(path + "/") for c in changed):
                    found[path] = info
            if len(found) == len(paths):
                break
        return found

    def tree(self, repo_id: str, revision: str, folder: str) -> None:
        commit = self._resolve(repo_id, revision).commit
        folder = folder.strip("/")
        prefix = f"{folder}/" if folder else ""
        recursive = self.query.get("recursive", "").lower() in ("1", "true")
        files = [p for p in commit.tree if p.startswith(prefix)]
        if folder and not files:
            raise HttpError(404, f"Entry not found: {folder}", "EntryNotFound", headers={"X-Repo-Commit": commit.oid})
        entries: dict[str, str] = {}  # path -> "file" | "directory"
        for path in files:
            rel = path[len(prefix):].split("/")
            for depth in range(1, len(rel)):
                if recursive or depth == 1:
                    entries.setdefault(prefix + "/".join(rel[:depth]), "directory")
                if not recursive:
                    break
            if recursive or len(rel) == 1:
                entries[path] = "file"
        paths = sorted(entries)
        start = self._query_int("cursor")
        page = paths[start:start + self.hub.tree_page_size]
        expand = self.query.get("expand", "").lower() in ("1", "true")
        last = self._last_commits(repo_id, commit, page) if expand else {}
        items = [
            self._entry_json(commit.tree[p], last.get(p)) if entries[p] == "file"
            else self._folder_json(commit, p, last.get(p))
            for p in page
        ]
        self._send_json(items, headers=self._next_link(start + len(page), len(paths)))

    def _next_link(self, next_start: int, total: int) -> dict:
        if next_start >= total:
            return {}
        query = {**self.query, "cursor": str(next_start)}
        return {"Link": f'<{self.base_url}{quote(self.raw_path)}?{urlencode(query)}>; rel="next"'}

    def paths_info(self, repo_id: str, revision: str) -> None:
        raw = self.body.read().decode()
        form = parse_qs(raw, keep_blank_values=True)
        if self.headers.get("Content-Type", "").startswith("application/json"):
            data = json.loads(raw or "{}")
            form = {"paths": data.get("paths", []), "expand": [str(data.get("expand", False))]}
        commit = self._resolve(repo_id, revision).commit
        expand = (form.get("expand") or ["false"])[-1].lower() in ("1", "true")
        wanted = [p.strip("/") for p in form.get("paths", [])]
        last = self._last_commits(repo_id, commit, wanted) if expand else {}
        items = []
        for path in wanted:
            if path in commit.tree:
                items.append(self._entry_json(commit.tree[path], last.get(path)))
            elif any(p.startswith(path + "/") for p in commit.tree):
                items.append(self._folder_json(commit, path, last.get(path)))
        self._send_json(items)

    def list_refs(self, repo_id: str) -> None:
        self._visible_repo(repo_id)
        refs = self.hub.storage.refs(repo_id)
        data = {
            "branches": [{"name": n, "ref": f"refs/heads/{n}", "targetCommit": o} for n, o in refs["branches"].items()],
            "converts": [],
            "tags": [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": o} for n, o in refs["tags"].items()],
        }
        if self.query.get("include_prs") in ("1", "true", "True"):
            data["pullRequests"] = [
                {"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": o}
                for n, o in sorted(refs["prs"].items(), key=lambda kv: int(kv[0]))
            ]
        self._send_json(data)

    def commits(self, repo_id: str, revision: str) -> None:
        commit = self._resolve(repo_id, revision).commit
        history = list(self.hub.storage.history(repo_id, commit.oid))
        start = self._query_int("cursor")
        page = history[start:start + self.hub.commits_page_size]
        items = [{"id": c.oid, "title": c.title, "message": c.message, "authors": [{"user": c.author}],
                  "date": c.date} for c in page]
        self._send_json(items, headers=self._next_link(start + len(page), len(history)))

    # ---- refs -------------------------------------------------------------------------------------------------
    def create_branch(self, repo_id: str, branch: str) -> None:
        payload = self._read_json()
        self._writable_repo(repo_id)
        try:
            self.hub.storage.create_branch(repo_id, branch, payload.get("startingPoint"))
        except st.RevisionNotFound as exc:
            raise HttpError(404, str(exc), "RevisionNotFound") from None
        self._send_json({})

    def delete_branch(self, repo_id: str, branch: str) -> None:
        self._writable_repo(repo_id)
        self.hub.storage.delete_branch(repo_id, branch)
        self._send_json({})

    def create_tag(self, repo_id: str, revision: str) -> None:
        payload = self._read_json()
        self._writable_repo(repo_id)
        self.hub.storage.create_tag(repo_id, str(payload.get("tag", "")), revision)
        self._send_json({})

    def delete_tag(self, repo_id: str, tag: str) -> None:
        self._writable_repo(repo_id)
        self.hub.storage.delete_tag(repo_id, tag)
        self._send_json({})

    # ---- discussions ------------------------------------------------------------------------------------------
    def _discussion_json(self, repo_id: str, d: dict, details: bool = False) -> dict:
        data = {
            "num": d["num"], "title": d["title"], "author": {"name": d["author"]}, "createdAt": d["createdAt"],
            "status": d["status"], "isPullRequest": d["isPullRequest"], "repo": {"name": st.split_repo_key(repo_id)[1], "type": st.split_repo_key(repo_id)[0]},
            "pinned": False, "numComments": sum(e["type"] == "comment" for e in d["events"]),
        }
        if details:
            data["events"] = [{**e, "author": {"name": e["author"]}} for e in d["events"]]
            if d["isPullRequest"]:
                data["changes"] = {"base": d["base"], "mergeCommitId": d.get("mergeCommitId")}
                data["filesWithConflicts"] = []
                data["diff"] = ""
        return data

    def list_discussions(self, repo_id: str) -> None:
        self._visible_repo(repo_id)
        kind, status, author = self.query.get("type", "all"), self.query.get("status", "all"), self.query.get("author")
        items = [
            d for d in self.hub.storage.list_discussions(repo_id)
            if (kind == "all" or d["isPullRequest"] == (kind == "pull_request"))
            and (status == "all" or d["status"] == status)
            and (author is None or d["author"] == author)
        ]
        page_index, size = self._query_int("p"), 50
        page = items[page_index * size:(page_index + 1) * size]
        self._send_json({"discussions": [self._discussion_json(repo_id, d) for d in page], "count": len(items),
                         "start": page_index * size, "numClosedDiscussions": sum(d["status"] != "open" for d in items)})

    def create_discussion(self, repo_id: str) -> None:
        payload = self._read_json()
        self._visible_repo(repo_id)
        if self.user is None:
            raise HttpError(401, "You must be authenticated to open a discussion")
        pull_request = bool(payload.get("pullRequest"))
        if pull_request:
            self._writable_repo(repo_id)
        title = str(payload.get("title", "")).strip()
        if not title:
            raise HttpError(400, "A discussion needs a title")
        num = self.hub.storage.create_discussion(
            repo_id, title=title, description=str(payload.get("description") or ""), author=self.user,
            pull_request=pull_request,
        )
        self._send_json({"num": num, "url": f"{self.base_url}/{repo_id}/discussions/{num}"})

    def discussion_details(self, repo_id: str, num: int) -> None:
        self._visible_repo(repo_id)
        self._send_json(self._discussion_json(repo_id, self.hub.storage.get_discussion(repo_id, num), details=True))

    def discussion_change(self, repo_id: str, num: int, action: str) -> None:
        payload = self._read_json()
        self._visible_repo(repo_id)
        if self.user is None:
            raise HttpError(401, "You must be authenticated to change a discussion")
        storage = self.hub.storage
        if action == "comment":
            event = storage.comment(repo_id, num, self.user, str(payload.get("comment", "")))
            self._send_json({"newMessage": {**event, "author": {"name": event["author"]}}})
        elif action == "title":
            event = storage.rename_discussion(repo_id, num, self.user, str(payload.get("title", "")).strip())
            self._send_json({"newTitle": {**event, "author": {"name": event["author"]}}})
        elif action == "status":
            self._writable_repo(repo_id)
            event = storage.set_discussion_status(
                repo_id, num, self.user, str(payload.get("status")), payload.get("comment")
            )
            self._send_json({"newStatus": {**event, "author": {"name": event["author"]}}})
        elif action == "merge":
            self._writable_repo(repo_id)
            oid = storage.merge_pull_request(repo_id, num, self.user, payload.get("comment"))
            self._send_json({"mergeCommitId": oid})
        else:
            raise HttpError(404, f"Unknown discussion action {action!r}")


def _key(type_segment: str | None, namespace: str, name: str) -> str:
    """The storage key of the repo a URL names (`models`/None, `datasets` or `spaces`, then namespace/name)."""
    repo_type = "model" if type_segment in (None, "models") else type_segment[:-1]
    return st.repo_key(repo_type, f"{unquote(namespace)}/{unquote(name)}")


def _api_path(key: str) -> str:
    """`models/ns/name`, `datasets/ns/name` or `spaces/ns/name`: the repo's part of an /api/ URL."""
    repo_type, repo_id = st.split_repo_key(key)
    return f"{repo_type}s/{repo_id}"


def _take_revision(segments: list[str]) -> tuple[str, list[str]]:
    """Split unquoted path segments into (revision, rest); tolerates an unquoted `refs/pr/N` or `refs/heads/X`."""
    if len(segments) >= 3 and segments[0] == "refs" and segments[1] in ("pr", "heads", "tags", "convert"):
        return "/".join(segments[:3]), segments[3:]
    return segments[0], segments[1:]


def _signed_and_fresh(signature: str, expected: str, expires: str) -> bool:
    """Checks a URL the server handed out (LFS upload or blob download): its signature, then its expiry."""
    return hmac.compare_digest(signature, expected) and expires.isdigit() and int(expires) > time.time()


def _discussion_num(raw: str) -> int:
    if not raw.isdigit() or int(raw) <= 0:
        raise HttpError(400, f"Invalid discussion number {raw!r}")
    return int(raw)


def _pointer_size(entry: st.FileEntry) -> int:
    return len(st.lfs_pointer(entry.sha256, entry.size))


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=a-b`, `bytes=a-` or `bytes=-n` range, clipped to the file; None if unsatisfiable."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not match or (not match.group(1) and not match.group(2)):
        return None
    if not match.group(1):
        length = int(match.group(2))
        if length == 0:
            return None
        return max(0, size - length), size - 1
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


def iter_requests(hub: LocalHub, method: str | None = None, contains: str | None = None) -> Iterator[RequestRecord]:
    """The requests `hub` has answered, filtered by method and by a substring of the path."""
    for record in list(hub.requests):
        if (method is None or record.method == method) and (contains is None or contains in record.path):
            yield record
