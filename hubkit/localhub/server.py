"""The local Hub server: `LocalHub` (start, stop, options) and the request handler that runs a route.

Why: the Hub cannot be reached from CI or from a laptop on a plane, yet publishing must run the real
`huggingface_hub` client and `transformers` end to end. This server answers the requests those clients make (read
from their source: hf_api.py, _commit_api.py, lfs.py, file_download.py) with the shapes and headers they parse, and
errors carry `X-Error-Code` so `hf_raise_for_status` raises the client's own exception classes.

The rooms: `routes` (the table of endpoints, with access and body kind), `api_repos`/`api_files`/`api_discussions`
(the endpoints), `http` (body limits, answers, ranges), `storage` and `discussions` (state on disk), `errors` (what
storage refuses; `STORAGE_ERRORS` below maps each to an HTTP answer). This module authenticates, checks the route's
access and body limit before reading the body, runs the endpoint and maps errors.

It never advertises Xet: by default preupload answers "regular" for every file, which a client with hf_xet installed
sends inline in the commit (it only uses Xet for files the server calls "lfs"). With `lfs_uploads=True` it answers
"lfs" for files the Hub would store as LFS; only clients with `HF_HUB_DISABLE_XET=1` can follow that (they use the
LFS batch API: basic PUT upload + verify). Either way files matching `.gitattributes`, large or binary files are
*stored* as LFS, so downloads see the Hub's LFS redirect (302 + `X-Linked-Etag`/`X-Linked-Size`).

Tokens are compared, never logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from . import errors, routes
from . import storage as st
from .http import HttpError, HttpHandler

logger = logging.getLogger("hubkit.localhub")

#: Default body limits (LocalHub attributes `max_json_bytes`, `max_commit_bytes` change them per server).
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_COMMIT_BYTES = 8 * 1024 * 1024 * 1024  # a commit carries files inline (base64) when the client sends no LFS
_NO_BODY_LIMIT = 64 * 1024

#: What storage refuses -> (HTTP status, the Hub's X-Error-Code or None).
STORAGE_ERRORS: dict[type[errors.StorageError], tuple[int, str | None]] = {
    errors.InvalidRequest: (400, None),
    errors.ObjectNotFound: (400, None),
    errors.Forbidden: (403, None),
    errors.RepoNotFound: (404, "RepoNotFound"),
    errors.RevisionNotFound: (404, "RevisionNotFound"),
    errors.EntryNotFound: (404, "EntryNotFound"),
    errors.DiscussionNotFound: (404, None),
    errors.Conflict: (409, None),
    errors.ParentCommitMismatch: (412, None),
}


def http_error_for(exc: errors.StorageError) -> HttpError:
    status, code = next((v for cls, v in STORAGE_ERRORS.items() if isinstance(exc, cls)), (400, None))
    return HttpError(status, str(exc), code)


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered (for tests: what was sent, e.g. to prove a re-push uploaded nothing)."""

    method: str
    path: str  # without the query string
    status: int  # 0 when the connection was dropped on purpose
    bytes_in: int  # request body bytes read


class _Fault:
    def __init__(self, count: int, status: int, path_contains: str | None):
        self.count, self.status, self.path_contains = count, status, path_contains


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not block stop()
    hub: LocalHub


class LocalHub:
    """A running local Hub. Start it with `LocalHub.start(root)`; `url` is what HF_ENDPOINT / `endpoint=` takes.

    `tokens` maps a token to its user name: that user may write to repos in its namespace. `lfs_uploads=True` makes
    preupload answer "lfs" for LFS files (for clients with HF_HUB_DISABLE_XET=1 only; see the module docstring).
    `merge_mode` is how pull requests merge: "squash" (default, as the Hub: a new commit "title (#N)") or
    "fast-forward" (main moves to the PR head when it has not moved). Attributes a test may change while it runs:
    `lfs_uploads`, `merge_mode`, `max_json_bytes`, `max_commit_bytes` (body limits), `tree_page_size`,
    `commits_page_size`.
    """

    def __init__(self, httpd: _Server, storage: st.Storage, tokens: dict[str, str], lfs_uploads: bool, merge_mode: str):
        self._httpd = httpd
        self.storage = storage
        self.root = storage.root
        self._tokens = dict(tokens)
        self.lfs_uploads = lfs_uploads
        self.merge_mode = merge_mode
        self.max_json_bytes = MAX_JSON_BYTES
        self.max_commit_bytes = MAX_COMMIT_BYTES
        self._secret = secrets.token_bytes(32)
        self._faults: list[_Fault] = []
        self._faults_lock = threading.Lock()
        self.requests: list[RequestRecord] = []
        self.tree_page_size = 1000
        self.commits_page_size = 50
        host, port = httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        self.url = f"http://{host}:{port}"
        self._thread: threading.Thread | None = None

    @property
    def merge_mode(self) -> str:
        """How pull requests merge: "squash" (the Hub's way) or "fast-forward"; may change while the server runs."""
        return self.storage.merge_mode

    @merge_mode.setter
    def merge_mode(self, mode: str) -> None:
        if mode not in st.MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {st.MERGE_MODES}, not {mode!r}")
        self.storage.merge_mode = mode

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
        merge_mode: str = "squash",
        background: bool = True,
    ) -> LocalHub:
        """Serve `root` (port 0: a free port). The socket listens on return, so clients may connect at once.

        With `background=True` (the default) requests are served on a daemon thread until `stop()`; with False the
        caller runs `serve_forever()` itself (the CLI).
        """
        tokens = {"token": "user"} if tokens is None else tokens
        storage = st.Storage(root)
        httpd = _Server((host, port), Request)
        hub = cls(httpd, storage, tokens, lfs_uploads, merge_mode)
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

    def __enter__(self) -> LocalHub:
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

    def signed_and_fresh(self, signature: str, expires: str, *parts: str) -> bool:
        """Checks a URL this server handed out (LFS upload or blob download): its signature, then its expiry."""
        return hmac.compare_digest(signature, self.sign(*parts)) and expires.isdigit() and int(expires) > time.time()

    def body_limit(self, kind: str) -> int:
        """How many body bytes a route of this kind may read (see routes: NO_BODY, JSON, COMMIT, UPLOAD)."""
        if kind in (routes.COMMIT, routes.UPLOAD):
            return self.max_commit_bytes
        if kind == routes.JSON:
            return self.max_json_bytes
        return _NO_BODY_LIMIT


class Request(HttpHandler):
    """One request: authenticates, finds the route, checks access and the body limit, runs the endpoint."""

    server_version = "hubkit-localhub"
    server: _Server
    user: str | None = None
    query: dict[str, str]
    raw_path: str

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self.dispatch()

    def do_HEAD(self) -> None:
        self.dispatch()

    def do_POST(self) -> None:
        self.dispatch()

    def do_PUT(self) -> None:
        self.dispatch()

    def do_DELETE(self) -> None:
        self.dispatch()

    @property
    def hub(self) -> LocalHub:
        return self.server.hub

    def dispatch(self) -> None:
        split = urlsplit(self.path)
        self.raw_path = split.path
        self.query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self.raw_body = None
        self.status_sent = 0
        self.user = None
        try:
            fault = self.hub._take_fault(self.path)
            if fault is not None:
                self.open_body(self.hub.max_commit_bytes)
                self.drain()
                if fault.status == 0:
                    self.close_connection = True
                    return
                raise HttpError(fault.status, "Injected failure (LocalHub.fail_next)")
            self.user = self.authenticate()
            found = routes.match(self.command, self.raw_path)
            if found is None:
                raise HttpError(404, f"No route for {self.command} {self.raw_path}")
            route, params = found
            self.check_access(route.access, params.get("key"))
            self.open_body(self.hub.body_limit(route.body))
            route.endpoint(self, **params)
        except HttpError as exc:
            self.send_error_answer(exc)
        except errors.StorageError as exc:
            self.send_error_answer(http_error_for(exc))
        except (ConnectionError, TimeoutError) as exc:
            logger.info("%s %s: connection lost (%s)", self.command, self.raw_path, exc.__class__.__name__)
            self.close_connection = True
        except Exception:
            logger.exception("internal error on %s %s", self.command, self.raw_path)
            self.send_error_answer(HttpError(500, "Internal server error"))
        finally:
            self.hub.requests.append(RequestRecord(self.command, self.raw_path, self.status_sent, self.bytes_in))
            logger.info("%s %s %s", self.command, self.raw_path, self.status_sent or "dropped")

    # ---- who is asking, and may they ---------------------------------------------------------------------------
    def authenticate(self) -> str | None:
        header = self.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        user = self.hub.user_for(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise HttpError(401, "Invalid credentials in Authorization header")
        return user

    def check_access(self, access: str, key: str | None) -> None:
        """The route's access rule, from headers and path only (nothing of the body has been read)."""
        if access == routes.ANYONE:
            return
        if access == routes.USER:
            if self.user is None:
                raise HttpError(401, "You must be authenticated to do this (pass a token)")
            return
        if key is None:
            raise HttpError(500, f"route with access {access!r} names no repo")
        if access == routes.READ:
            self.visible_repo(key)
        elif access == routes.MEMBER:
            self.visible_repo(key)
            if self.user is None:
                raise HttpError(401, "You must be authenticated to do this (pass a token)")
        else:
            self.writable_repo(key)

    def visible_repo(self, key: str) -> dict:
        """The repo's metadata if this caller may read it; private repos of others are 'not found'."""
        try:
            meta = self.hub.storage.repo_meta(key)
        except errors.RepoNotFound:
            raise HttpError(404, f"Repository Not Found: {key}", "RepoNotFound") from None
        if meta["private"] and self.user != meta["owner"]:
            raise HttpError(404, f"Repository Not Found: {key}", "RepoNotFound")
        return meta

    def writable_repo(self, key: str) -> dict:
        meta = self.visible_repo(key)
        if self.user is None:
            raise HttpError(401, "You must be authenticated to write to this repo (pass a token)")
        if self.user != meta["owner"]:
            raise HttpError(403, f"You don't have the rights to write to {key}")
        return meta

    # ---- helpers for endpoints ---------------------------------------------------------------------------------
    def resolve(self, key: str, revision: str | None) -> st.Resolved:
        self.visible_repo(key)
        try:
            return self.hub.storage.resolve(key, revision or "main")
        except errors.RevisionNotFound:
            raise HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound") from None

    def query_int(self, name: str) -> int:
        raw = self.query.get(name) or "0"
        if not raw.isdigit():
            raise HttpError(400, f"Query parameter {name} must be a non-negative integer")
        return int(raw)

    def query_flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true")

    @property
    def base_url(self) -> str:
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.hub.url


def iter_requests(hub: LocalHub, method: str | None = None, contains: str | None = None) -> Iterator[RequestRecord]:
    """The requests `hub` has answered, filtered by method and by a substring of the path."""
    for record in list(hub.requests):
        if (method is None or record.method == method) and (contains is None or contains in record.path):
            yield record
