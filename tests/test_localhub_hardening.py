"""Hostile and careless requests against the local Hub (issue 10): each repro is a test.

Body limits and auth before the body, malformed bodies and headers (always a 4xx with X-Error-Message, never a 500),
per-repo blob visibility, who may rename a discussion, git ref-name rules for tags, and `hub serve --token-file`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError

from hubkit.cli import cli
from hubkit.localhub import LocalHub, iter_requests

from .localhub_helpers import OTHER_TOKEN, OTHER_USER, TOKEN, USER, hub_api, hub_serve_process

REPO = f"{USER}/hardened"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _raw(hub: LocalHub, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send raw bytes (headers we choose, then `body`) and read the status line and what follows."""
    host, port = hub.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    status_line = received.split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), received


def _record(hub: LocalHub, method: str, contains: str):
    """The server's record of a request (written just after the answer is sent: wait for it)."""
    for _ in range(200):
        found = next(iter_requests(hub, method, contains), None)
        if found is not None:
            return found
        threading.Event().wait(0.01)
    raise AssertionError(f"no {method} {contains} request recorded")


# ---- body limits, auth before the body ---------------------------------------------------------------------------
def test_unauthenticated_huge_chunked_body_is_refused_before_it_is_read(local_hub: LocalHub):
    head = "POST /api/repos/create HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\nContent-Type: application/json\n"
    status, answer = _raw(local_hub, head, b"100000\r\n" + b"x" * 0x100000)  # 1 MiB of a promised endless body
    assert status == 401 and b"X-Error-Message" in answer
    assert _record(local_hub, "POST", "/api/repos/create").bytes_in == 0


def test_declared_length_over_the_limit_is_413_before_reading(local_hub: LocalHub):
    hub_api(local_hub).create_repo(REPO)
    head = (
        f"POST /api/models/{REPO}/preupload/main HTTP/1.1\nHost: x\nAuthorization: Bearer {TOKEN}\n"
        f"Content-Type: application/json\nContent-Length: {10**12}\n"
    )
    status, _ = _raw(local_hub, head)
    assert status == 413
    assert _record(local_hub, "POST", "/preupload/").bytes_in == 0


def test_chunked_body_is_cut_at_the_limit(local_hub: LocalHub):
    local_hub.max_json_bytes = 1000
    head = f"POST /api/validate-yaml HTTP/1.1\nHost: x\nAuthorization: Bearer {TOKEN}\nTransfer-Encoding: chunked\n"
    chunk = b"258\r\n" + b" " * 600 + b"\r\n"  # 0x258 = 600 bytes
    status, answer = _raw(local_hub, head, chunk * 3 + b"0\r\n\r\n")
    assert status == 413 and b"larger than this endpoint accepts" in answer
    assert _record(local_hub, "POST", "/api/validate-yaml").bytes_in <= 1000


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ("Content-Length: -5\n", b""),
        ("Content-Length: abc\n", b""),
        ("Content-Length: 5\nContent-Length: 6\n", b"{}   "),
        ("Transfer-Encoding: chunked\n", b"zz\r\n{}\r\n0\r\n\r\n"),  # a chunk size that is not hexadecimal
        ("Transfer-Encoding: chunked\n", b"2\r\n{}XX0\r\n\r\n"),  # a chunk not followed by CRLF
    ],
)
def test_bad_length_or_bad_chunk_is_a_400_not_silence(local_hub: LocalHub, headers: str, body: bytes):
    status, answer = _raw(local_hub, f"POST /api/validate-yaml HTTP/1.1\nHost: x\n{headers}", body)
    assert status == 400 and b"X-Error-Message" in answer


# ---- malformed bodies: always a 4xx with a message, never a 500 ----------------------------------------------------
def _ndjson(*lines) -> bytes:
    return "\n".join(json.dumps(line) for line in lines).encode()


HEADER = {"key": "header", "value": {"summary": "s"}}
MALFORMED = [
    ("POST", "preupload/main", {"files": [{"path": "a.bin", "size": "big"}]}),
    ("POST", "preupload/main", {"files": "a.bin"}),
    ("POST", "preupload/main", [1, 2]),
    ("POST", "commit/main", _ndjson(HEADER, {"key": "file", "value": "a string"})),
    ("POST", "commit/main", _ndjson({"key": "header", "value": {"summary": "s", "parentCommit": 123}})),
    ("POST", "commit/main", _ndjson({"key": "header", "value": {"summary": 5}})),
    ("POST", "commit/main", _ndjson([1])),
    ("POST", "commit/main", _ndjson(HEADER, {"key": "lfsFile", "value": {"path": "w.bin", "oid": "ab", "size": "1"}})),
    ("POST", "commit/main", _ndjson(HEADER, {"key": "file", "value": {"path": "a.txt", "content": 5}})),
    ("POST", "commit/main", _ndjson(HEADER, {"key": "deletedFile", "value": {"path": ["a"]}})),
    ("POST", "commit/main", b'{"key": "header", "value": {"summary": "s"}}\n\xff\xfe'),
    ("POST", "tag/main", {"tag": [1]}),
    ("POST", "branch/dev", {"startingPoint": 5}),
    ("PUT", "settings", {"private": "no"}),
    ("POST", "paths-info/main", {"paths": 5}),
    ("POST", "discussions", {"title": 5}),
    ("POST", "discussions", {"title": "t", "pullRequest": "yes"}),
    ("POST", "discussions/1/comment", {"comment": None}),
    ("POST", "discussions/1/title", {"title": ""}),
    ("POST", "discussions/1/status", {"status": 1}),
    ("POST", "discussions/1/merge", {"comment": 7}),
    ("POST", "discussions/x/comment", {"comment": "hi"}),
]


@pytest.mark.parametrize(("method", "suffix", "body"), MALFORMED, ids=[f"{m[1]}-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_repo_bodies_are_4xx(local_hub: LocalHub, method: str, suffix: str, body):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    api.create_discussion(REPO, title="first")
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    content_type = "application/x-ndjson" if suffix.startswith("commit") else "application/json"
    response = httpx.request(
        method,
        f"{local_hub.url}/api/models/{REPO}/{suffix}",
        content=content,
        headers={**AUTH, "Content-Type": content_type},
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers.get("X-Error-Message") and response.json()["error"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/repos/create", {"name": 5}),
        ("/api/repos/create", {"name": "x", "private": "yes"}),
        ("/api/repos/create", {"name": "x", "organization": ["o"]}),
        ("/api/repos/create", b"{"),
        ("/api/validate-yaml", [1, 2]),
        ("/api/validate-yaml", {"content": "x", "repoType": 3}),
        (f"/{REPO}.git/info/lfs/objects/batch", {"operation": "upload", "objects": "x"}),
        (f"/{REPO}.git/info/lfs/objects/verify", {"oid": 5, "size": 1}),
    ],
)
def test_malformed_account_and_lfs_bodies_are_4xx(local_hub: LocalHub, path: str, body):
    hub_api(local_hub).create_repo(REPO)
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = httpx.post(
        f"{local_hub.url}{path}", content=content, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers.get("X-Error-Message")


# ---- blobs are visible per repo -------------------------------------------------------------------------------------
def _lfs_batch(hub: LocalHub, repo: str, token: str, data: bytes) -> dict:
    response = httpx.post(
        f"{hub.url}/{repo}.git/info/lfs/objects/batch",
        headers={"Authorization": f"Bearer {token}"},
        json={"operation": "upload", "objects": [{"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}]},
    )
    assert response.status_code == 200, response.text
    return response.json()["objects"][0]


def test_another_users_private_blob_is_neither_revealed_nor_committable(local_hub: LocalHub, tmp_path: Path):
    secret = os.urandom(4096)
    oid = hashlib.sha256(secret).hexdigest()
    private = f"{OTHER_USER}/private"
    bob = hub_api(local_hub, OTHER_TOKEN)
    bob.create_repo(private, private=True)
    upload = _lfs_batch(local_hub, private, OTHER_TOKEN, secret)["actions"]["upload"]["href"]
    assert httpx.put(upload, content=secret).status_code == 200
    assert _lfs_batch(local_hub, private, OTHER_TOKEN, secret).get("actions") is None  # bob's repo has it now

    hub_api(local_hub).create_repo(REPO)
    answer = _lfs_batch(local_hub, REPO, TOKEN, secret)  # alice's repo: "upload it", as for any unknown object
    assert "upload" in answer["actions"]
    verify = httpx.post(
        f"{local_hub.url}/{REPO}.git/info/lfs/objects/verify", headers=AUTH, json={"oid": oid, "size": len(secret)}
    )
    assert verify.status_code == 404
    steal = _ndjson(
        HEADER, {"key": "lfsFile", "value": {"path": "stolen.bin", "algo": "sha256", "oid": oid, "size": len(secret)}}
    )
    response = httpx.post(
        f"{local_hub.url}/api/models/{REPO}/commit/main",
        content=steal,
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 400 and "not uploaded to this repo" in response.json()["error"]
    assert "stolen.bin" not in {f.rfilename for f in hub_api(local_hub).repo_info(REPO).siblings}
    # an upload URL signed for bob's repo does not open alice's
    forged = upload.replace(f"repo={OTHER_USER}", f"repo={USER}")
    assert httpx.put(forged, content=secret).status_code == 403

    # once alice uploads the same bytes to her repo, she may commit them (the content is stored once)
    assert httpx.put(answer["actions"]["upload"]["href"], content=secret).status_code == 200
    response = httpx.post(
        f"{local_hub.url}/api/models/{REPO}/commit/main",
        content=steal,
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text


# ---- discussions: who may rename ------------------------------------------------------------------------------------
def test_only_the_author_or_the_owner_renames_a_discussion(local_hub: LocalHub):
    alice, bob = hub_api(local_hub), hub_api(local_hub, OTHER_TOKEN)
    alice.create_repo(REPO)
    pr = alice.create_commit(
        REPO, operations=[CommitOperationAdd("a.txt", b"a")], commit_message="Release v1", create_pr=True
    )
    with pytest.raises(HfHubHTTPError) as excinfo:
        bob.rename_discussion(REPO, discussion_num=pr.pr_num, new_title="Release v1 (hijacked)")
    assert excinfo.value.response.status_code == 403
    assert alice.get_discussion_details(REPO, pr.pr_num).title == "Release v1"
    bob.comment_discussion(REPO, discussion_num=pr.pr_num, comment="looks good")  # commenting stays open to all
    own = bob.create_discussion(REPO, title="question")
    bob.rename_discussion(REPO, discussion_num=own.num, new_title="a better question")
    alice.rename_discussion(REPO, discussion_num=own.num, new_title="answered question")
    assert alice.get_discussion_details(REPO, own.num).title == "answered question"


# ---- tag and branch names: git's ref-name rules --------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "v1..0",
        "v1 0",
        "v1.lock",
        "-v1",
        "v1~1",
        "v1^",
        "a:b",
        "v1.",
        "a//b",
        ".v1",
        "@",
        "a@{b",
        "refs/tags/v1",
        "v1\\0",
    ],
)
def test_invalid_tag_names_are_refused(local_hub: LocalHub, name: str):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    response = httpx.post(f"{local_hub.url}/api/models/{REPO}/tag/main", headers=AUTH, json={"tag": name})
    assert response.status_code == 400 and "git reference name" in response.json()["error"]
    assert api.list_repo_refs(REPO).tags == []


def test_valid_tag_and_branch_names(local_hub: LocalHub):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    api.create_tag(REPO, tag="v1.0.0-rc.1+build.5")
    api.create_branch(REPO, branch="release/v1")
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_branch(REPO, branch="bad..branch")
    assert excinfo.value.response.status_code == 400
    assert {t.name for t in api.list_repo_refs(REPO).tags} == {"v1.0.0-rc.1+build.5"}


# ---- hub serve --token-file --------------------------------------------------------------------------------------
def test_hub_serve_reads_tokens_from_a_file(tmp_path: Path):
    sentinel = "hf_" + base64.b32encode(os.urandom(20)).decode().lower()
    token_file = tmp_path / "tokens"
    token_file.write_text(f"# local hub users\n\n{sentinel}={USER}\n")
    with hub_serve_process("--root", str(tmp_path / "root"), "--token-file", str(token_file)) as served:
        whoami = httpx.get(f"{served.url}/api/whoami-v2", headers={"Authorization": f"Bearer {sentinel}"})
        assert whoami.json()["name"] == USER
    output = served.printed
    assert sentinel not in output and USER in output

    token_file.write_text(f"{sentinel}\n")  # no '=USER': the error names the line, never the token
    result = CliRunner().invoke(cli, ["hub", "serve", "--token-file", str(token_file)])
    assert result.exit_code == 2 and "line 1" in result.output and sentinel not in result.output
    result = CliRunner().invoke(cli, ["hub", "serve", "--token-file", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "cannot read --token-file" in result.output


def test_a_root_written_before_per_repo_objects_keeps_working(local_hub: LocalHub):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    weights = os.urandom(2048)
    api.create_commit(REPO, operations=[CommitOperationAdd("w.bin", weights)], commit_message="w")
    objects = local_hub.root / "repos" / USER / "hardened" / "objects"
    for marker in objects.iterdir():  # as an older server left it: no objects/ folder
        marker.unlink()
    objects.rmdir()
    oid = hashlib.sha256(weights).hexdigest()
    assert local_hub.storage.repo_has_object(REPO, oid, len(weights))  # indexed from the repo's commits
    assert _lfs_batch(local_hub, REPO, TOKEN, weights).get("actions") is None
