"""The local Hub's routes as one table: method, path pattern, endpoint, who may call it, what body it takes.

Why a table: a reader sees the whole API surface in one screen, and the server can check access and the body limit
*before* reading a byte of the body, because both are declared here rather than inside each endpoint.

Path patterns are regular expressions over the raw (still quoted) path; named groups become the endpoint's keyword
arguments after unquoting. `{repo}` stands for the repo part of a URL and yields `key` (the storage key: see
`storage.repo_key`); `{rev}` is a revision, which clients send quoted (`refs%2Fpr%2F1`) or not (`refs/pr/1`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from . import api_discussions as discussions
from . import api_files as files
from . import api_repos as repos
from .storage import repo_key

# Access: who may call a route. Checked from the headers and the path only, before the body is read.
ANYONE = "anyone"  # no token needed (signed URLs check their own signature)
USER = "user"  # any valid token
READ = "read"  # the repo is visible to the caller (public, or private and theirs)
MEMBER = "member"  # READ, and a valid token (comment, open a discussion)
WRITE = "write"  # the caller owns the repo

# Body kinds: how much body a route reads (limits are LocalHub options, see LocalHub.body_limit).
NO_BODY, JSON, COMMIT, UPLOAD = "none", "json", "commit", "upload"

_REPO_API = r"/api/(?P<type>models|datasets|spaces)/(?P<ns>[^/]+)/(?P<name>[^/]+)"
_REPO_GIT = r"/(?:(?P<type>datasets|spaces)/)?(?P<ns>[^/]+)/(?P<name>[^/]+?)\.git"
_REPO_WEB = r"/(?:(?P<type>datasets|spaces)/)?(?P<ns>[^/]+)/(?P<name>[^/]+)"
_REV = r"(?P<rev>refs/(?:pr|heads|tags|convert)/[^/]+|[^/]+)"


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    pattern: re.Pattern
    endpoint: Callable[..., None]
    access: str
    body: str = NO_BODY


def _route(methods: str, pattern: str, endpoint: Callable[..., None], access: str, body: str = NO_BODY) -> Route:
    expanded = pattern.replace("{repo_api}", _REPO_API).replace("{repo_git}", _REPO_GIT)
    expanded = expanded.replace("{repo_web}", _REPO_WEB).replace("{rev}", _REV)
    return Route(tuple(methods.split("|")), re.compile(f"^{expanded}$"), endpoint, access, body)


ROUTES: tuple[Route, ...] = (
    # account, repos, metadata
    _route("GET", "/api/whoami-v2", repos.whoami, USER),
    _route("POST", "/api/validate-yaml", repos.validate_yaml, ANYONE, JSON),
    _route("POST", "/api/repos/create", repos.create_repo, USER, JSON),
    _route("DELETE", "/api/repos/delete", repos.delete_repo, USER, JSON),
    _route("GET|HEAD", "{repo_api}", repos.repo_info, READ),
    _route("GET|HEAD", "{repo_api}/revision/{rev}", repos.repo_info, READ),
    _route("PUT", "{repo_api}/settings", repos.settings, WRITE, JSON),
    _route("GET", "{repo_api}/auth-check", repos.auth_check, READ),
    _route("GET", "{repo_api}/refs", repos.list_refs, READ),
    _route("GET", "{repo_api}/runtime", repos.space_runtime, READ),
    _route("POST", "{repo_api}/branch/(?P<branch>.+)", repos.create_branch, WRITE, JSON),
    _route("DELETE", "{repo_api}/branch/(?P<branch>.+)", repos.delete_branch, WRITE),
    _route("POST", "{repo_api}/tag/{rev}", repos.create_tag, WRITE, JSON),
    _route("DELETE", "{repo_api}/tag/(?P<tag>.+)", repos.delete_tag, WRITE),
    _route("GET|POST", "{repo_api}/xet-.*", repos.no_xet, ANYONE),
    # uploads and commits
    _route("POST", "{repo_api}/preupload/{rev}", files.preupload, WRITE, JSON),
    _route("POST", "{repo_api}/commit/{rev}", files.commit, WRITE, COMMIT),
    _route("POST", "{repo_git}/info/lfs/objects/batch", files.lfs_batch, WRITE, JSON),
    _route("POST", "{repo_git}/info/lfs/objects/verify", files.lfs_verify, WRITE, JSON),
    _route("PUT", "/_lfs/upload/(?P<oid>[^/]+)", files.lfs_put, ANYONE, UPLOAD),
    # reads
    _route("GET|HEAD", "/_lfs/blob/(?P<sha256>[^/]+)", files.lfs_blob, ANYONE),
    _route("GET|HEAD", "{repo_web}/resolve/{rev}/(?P<path>.+)", files.resolve_file, READ),
    _route("GET", "{repo_api}/tree(?:/{rev}(?:/(?P<path>.*))?)?", files.tree, READ),
    _route("POST", "{repo_api}/paths-info/{rev}", files.paths_info, READ, JSON),
    _route("GET", "{repo_api}/commits(?:/{rev})?", files.commits, READ),
    # discussions and pull requests
    _route("GET", "{repo_api}/discussions", discussions.list_discussions, READ),
    _route("POST", "{repo_api}/discussions", discussions.create_discussion, MEMBER, JSON),
    _route("GET", "{repo_api}/discussions/(?P<num>[^/]+)", discussions.details, READ),
    _route("POST", "{repo_api}/discussions/(?P<num>[^/]+)/comment", discussions.comment, MEMBER, JSON),
    _route("POST", "{repo_api}/discussions/(?P<num>[^/]+)/title", discussions.rename, MEMBER, JSON),
    _route("POST", "{repo_api}/discussions/(?P<num>[^/]+)/status", discussions.change_status, WRITE, JSON),
    _route("POST", "{repo_api}/discussions/(?P<num>[^/]+)/merge", discussions.merge, WRITE, JSON),
)


def match(method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for a request and its unquoted path parameters (`type`/`ns`/`name` folded into `key`)."""
    for route in ROUTES:
        found = route.pattern.match(raw_path)
        if found is None or method not in route.methods:
            continue
        params = {k: unquote(v) for k, v in found.groupdict().items() if v is not None}
        if "ns" in params:
            repo_type = params.pop("type", "models")
            params["key"] = repo_key(repo_type[:-1], f"{params.pop('ns')}/{params.pop('name')}")
        return route, params
    return None
