"""The local Hub against the real clients: huggingface_hub (in process and the `hf` CLI) and transformers.

Every check goes through a client's public API or plain HTTP, so a passing test means the pinned clients accept the
server's answers. Uploads run in both client modes (hf_xet enabled; HF_HUB_DISABLE_XET=1 with LFS uploads).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from hubkit.cli import cli
from hubkit.localhub import LocalHub, iter_requests

from .localhub_helpers import OTHER_TOKEN, TOKEN, USER, hub_api, hub_serve_process, subprocess_env

REPO = f"{USER}/tiny-qa"
WEIGHTS = os.urandom(3000)  # binary, *.safetensors: stored as LFS


def _push(api, repo=REPO, **kwargs):
    return api.create_commit(
        repo,
        operations=[
            CommitOperationAdd("config.json", b'{"model_type": "distilbert"}\n'),
            CommitOperationAdd("model.safetensors", WEIGHTS),
            CommitOperationAdd("notes/readme.txt", b"hello\n"),
        ],
        commit_message="Add model",
        **kwargs,
    )


def _head(api, repo=REPO, revision="main") -> str:
    return api.repo_info(repo, revision=revision).sha


# ---- HfApi: repos, commits, both upload modes ----------------------------------------------------------------------
def test_create_repo_conflict_and_exist_ok(local_hub: LocalHub):
    api = hub_api(local_hub)
    url = api.create_repo(REPO)
    assert url == f"{local_hub.url}/{REPO}" and url.repo_id == REPO
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo(REPO)
    assert excinfo.value.response.status_code == 409
    assert excinfo.value.response.json()["url"] == f"{local_hub.url}/{REPO}"
    assert api.create_repo(REPO, exist_ok=True) == url
    info = api.repo_info(REPO)  # a new repo has the Hub's initial commit with a .gitattributes
    assert [s.rfilename for s in info.siblings] == [".gitattributes"] and info.private is False
    assert api.whoami()["name"] == USER


def test_commit_tree_commits_and_reupload_in_both_client_modes(local_hub: LocalHub, client_mode: str):
    from huggingface_hub.utils._runtime import is_xet_available

    assert is_xet_available() is (client_mode == "xet")
    api = hub_api(local_hub)
    api.create_repo(REPO)
    commit = _push(api)
    assert _head(api) == commit.oid

    tree = {f.path: f for f in api.list_repo_tree(REPO, recursive=True)}
    assert set(tree) == {".gitattributes", "config.json", "model.safetensors", "notes", "notes/readme.txt"}
    weights = tree["model.safetensors"]
    assert weights.lfs is not None and weights.lfs.sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert weights.size == len(WEIGHTS) and tree["config.json"].lfs is None
    assert [f.path for f in api.list_repo_tree(REPO, path_in_repo="notes")] == ["notes/readme.txt"]

    batch = list(iter_requests(local_hub, "POST", "/info/lfs/objects/batch"))
    puts = list(iter_requests(local_hub, "PUT", "/_lfs/upload/"))
    if client_mode == "lfs":  # the LFS file went through the batch API (basic PUT + verify)
        assert len(batch) == 1 and len(puts) == 1 and puts[0].bytes_in == len(WEIGHTS)
        assert len(list(iter_requests(local_hub, "POST", "/objects/verify"))) == 1
    else:  # with hf_xet the server never asks for LFS, so the client never tries Xet
        assert batch == [] and puts == []
    assert not list(iter_requests(local_hub, contains="xet"))

    # identical content again: the client sees unchanged oids, uploads nothing and makes no commit
    before = len(local_hub.requests)
    again = _push(api)
    assert again.oid == commit.oid
    assert not [r for r in local_hub.requests[before:] if "/commit/" in r.path or r.method == "PUT"]

    api.create_commit(REPO, operations=[CommitOperationDelete("notes/")], commit_message="Drop notes")
    assert [c.title for c in api.list_repo_commits(REPO)] == ["Drop notes", "Add model", "initial commit"]
    path = hf_hub_download(
        REPO,
        "model.safetensors",
        endpoint=local_hub.url,
        token=TOKEN,
        cache_dir=local_hub.root.parent / f"cache-{client_mode}",
    )
    assert Path(path).read_bytes() == WEIGHTS


def test_pull_request_merge_tag_and_refs(local_hub: LocalHub):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    base = _head(api)
    pr = _push(api, create_pr=True)
    assert pr.pr_num == 1 and pr.pr_revision == "refs/pr/1"
    assert _head(api) == base  # main untouched until the merge
    assert _head(api, revision="refs/pr/1") == pr.oid
    assert [d.num for d in api.get_repo_discussions(REPO, discussion_type="pull_request")] == [1]

    api.merge_pull_request(REPO, 1, comment="smoke test passed")
    details = api.get_discussion_details(REPO, 1)
    assert details.status == "merged" and details.target_branch == "refs/heads/main"
    merged = details.merge_commit_oid
    assert merged == _head(api) != pr.oid  # squash-merged into a new commit, as the Hub does

    api.create_tag(REPO, tag="v1.0.0", revision=merged)
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_tag(REPO, tag="v1.0.0")
    assert excinfo.value.response.status_code == 409
    api.create_branch(REPO, branch="dev")
    refs = api.list_repo_refs(REPO, include_pull_requests=True)
    assert {(r.name, r.target_commit) for r in refs.tags} == {("v1.0.0", merged)}
    assert {r.name for r in refs.branches} == {"main", "dev"}
    assert [(r.ref, r.target_commit) for r in refs.pull_requests] == [("refs/pr/1", pr.oid)]
    api.delete_tag(REPO, tag="v1.0.0")
    assert api.list_repo_refs(REPO).tags == []

    # a second PR, closed instead of merged, leaves main alone
    second = api.create_commit(REPO, operations=[CommitOperationAdd("x.txt", b"x")], commit_message="x", create_pr=True)
    api.change_discussion_status(REPO, second.pr_num, new_status="closed")
    assert api.get_discussion_details(REPO, second.pr_num).status == "closed"
    assert _head(api) == merged


def test_parent_commit_mismatch_is_412_and_changes_nothing(local_hub: LocalHub):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    stale = _head(api)
    _push(api)
    head = _head(api)
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_commit(REPO, operations=[CommitOperationAdd("y.txt", b"y")], commit_message="y", parent_commit=stale)
    assert excinfo.value.response.status_code == 412
    assert _head(api) == head
    api.create_commit(REPO, operations=[CommitOperationAdd("y.txt", b"y")], commit_message="y", parent_commit=head)


# ---- downloads, redirects and the three not-found errors -----------------------------------------------------------
def test_downloads_lfs_redirect_range_and_not_found_errors(local_hub: LocalHub, tmp_path: Path):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    commit = _push(api)
    api.create_tag(REPO, tag="v1")

    resolve = f"{local_hub.url}/{REPO}/resolve/v1/model.safetensors"
    head = httpx.head(resolve, headers={"Authorization": f"Bearer {TOKEN}"})
    assert head.status_code == 302 and head.headers["X-Repo-Commit"] == commit.oid
    assert head.headers["X-Linked-Etag"] == f'"{hashlib.sha256(WEIGHTS).hexdigest()}"'
    assert int(head.headers["X-Linked-Size"]) == len(WEIGHTS)
    ranged = httpx.get(head.headers["Location"], headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == WEIGHTS[10:20]
    assert ranged.headers["Content-Range"] == f"bytes 10-19/{len(WEIGHTS)}"
    plain = httpx.head(f"{local_hub.url}/{REPO}/resolve/main/config.json")
    config = b'{"model_type": "distilbert"}\n'
    git_oid = hashlib.sha1(b"blob %d\x00" % len(config) + config).hexdigest()  # the Hub's ETag for a regular file
    assert plain.status_code == 200 and plain.headers["ETag"] == f'"{git_oid}"'
    assert int(plain.headers["Content-Length"]) == len(config)

    cache = tmp_path / "cache"
    path = hf_hub_download(REPO, "model.safetensors", revision="v1", endpoint=local_hub.url, cache_dir=cache)
    assert Path(path).read_bytes() == WEIGHTS and commit.oid in path
    assert list(iter_requests(local_hub, "GET", "/_lfs/blob/"))  # the bytes came through the redirect
    folder = snapshot_download(REPO, revision="v1", endpoint=local_hub.url, cache_dir=tmp_path / "snap")
    assert (Path(folder) / "notes" / "readme.txt").read_bytes() == b"hello\n"
    assert (Path(folder) / "model.safetensors").read_bytes() == WEIGHTS

    kwargs = dict(endpoint=local_hub.url, cache_dir=tmp_path / "err")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(f"{USER}/missing", "config.json", **kwargs)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(REPO, "config.json", revision="no-such-branch", **kwargs)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "missing.json", **kwargs)
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download(f"{USER}/missing", **kwargs)
    with pytest.raises(RevisionNotFoundError):
        snapshot_download(REPO, revision="no-such-tag", **kwargs)


def test_private_repo_is_invisible_to_others_and_writes_need_the_owner(local_hub: LocalHub, tmp_path: Path):
    owner = hub_api(local_hub)
    owner.create_repo(REPO, private=True)
    _push(owner)
    assert owner.repo_info(REPO).private is True
    for api in (hub_api(local_hub, OTHER_TOKEN), hub_api(local_hub, None)):
        with pytest.raises(RepositoryNotFoundError):
            api.repo_info(REPO)
        with pytest.raises(RepositoryNotFoundError):
            list(api.list_repo_tree(REPO))
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(REPO, "config.json", endpoint=local_hub.url, token=OTHER_TOKEN, cache_dir=tmp_path / "c")

    public = f"{USER}/public"
    owner.create_repo(public)
    with pytest.raises(HfHubHTTPError) as excinfo:
        _push(hub_api(local_hub, OTHER_TOKEN), repo=public)
    assert excinfo.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as excinfo:
        hub_api(local_hub, OTHER_TOKEN).create_repo(f"{USER}/not-mine")
    assert excinfo.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as excinfo:
        hub_api(local_hub, "hf_not_a_known_token").whoami()
    assert excinfo.value.response.status_code == 401


# ---- failures: injected 5xx, dropped connections, concurrent writers, interrupted uploads -------------------------
@pytest.mark.parametrize("status", [500, 0])
def test_failed_commit_leaves_main_unchanged_and_a_rerun_completes(local_hub: LocalHub, status: int):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    before = _head(api)
    local_hub.fail_next(1, status=status, path_contains="/commit/")
    with pytest.raises((HfHubHTTPError, httpx.HTTPError)):
        _push(api)
    assert _head(api) == before
    assert [c.title for c in api.list_repo_commits(REPO)] == ["initial commit"]
    commit = _push(api)
    assert _head(api) == commit.oid


def test_concurrent_commits_are_serialized(local_hub: LocalHub):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    errors: list[Exception] = []

    def commit(i: int, parent: str | None) -> None:
        try:
            hub_api(local_hub).create_commit(
                REPO,
                operations=[CommitOperationAdd(f"f{i}.txt", str(i).encode())],
                commit_message=f"c{i}",
                parent_commit=parent,
            )
        except Exception as exc:  # collected: the main thread asserts on them
            errors.append(exc)

    threads = [threading.Thread(target=commit, args=(i, None)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = api.list_repo_commits(REPO)
    assert len(history) == 9 and {f"c{i}" for i in range(8)} == {c.title for c in history[:-1]}
    assert {f.path for f in api.list_repo_tree(REPO)} == {".gitattributes"} | {f"f{i}.txt" for i in range(8)}

    # racing writers that all claim the same parent: exactly one wins, the others get 412
    head = _head(api)
    threads = [threading.Thread(target=commit, args=(i, head)) for i in range(10, 14)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 3 and all(e.response.status_code == 412 for e in errors)
    assert len(api.list_repo_commits(REPO)) == 10


def test_interrupted_upload_leaves_no_blob(local_hub: LocalHub):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    data = os.urandom(200_000)
    oid = hashlib.sha256(data).hexdigest()
    batch = httpx.post(
        f"{local_hub.url}/{REPO}.git/info/lfs/objects/batch",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]},
    )
    href = urllib.parse.urlsplit(batch.json()["objects"][0]["actions"]["upload"]["href"])
    with socket.create_connection((href.hostname, href.port)) as sock:  # send half the body, then vanish
        sock.sendall(
            f"PUT {href.path}?{href.query} HTTP/1.1\r\nHost: {href.netloc}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data[: len(data) // 2]
        )
    for _ in range(100):  # the server notices the closed connection
        if any(r.method == "PUT" for r in local_hub.requests):
            break
        threading.Event().wait(0.02)
    assert not local_hub.storage.has_blob(oid)
    assert list((local_hub.root / "tmp").iterdir()) == []
    # a wrong body is refused too, and the real one then goes through
    assert httpx.put(href.geturl(), content=data[::-1]).status_code == 400
    assert httpx.put(href.geturl(), content=data).status_code == 200
    assert local_hub.storage.has_blob(oid, len(data))


# ---- the command line: `hubkit hub serve` and `hf download` --------------------------------------------------------
def test_hub_serve_command(tmp_path: Path):
    sentinel = "hf_sentinel_token_never_printed"
    with hub_serve_process("--root", str(tmp_path / "root"), "--token", f"{sentinel}={USER}") as served:
        url = served.url
        assert httpx.get(f"{url}/api/whoami-v2", headers={"Authorization": f"Bearer {sentinel}"}).json()["name"] == USER
    output = served.printed
    assert url.startswith("http://127.0.0.1:") and sentinel not in output
    assert not any(sentinel.encode() in p.read_bytes() for p in (tmp_path / "root").rglob("*") if p.is_file())

    result = CliRunner().invoke(cli, ["hub", "serve", "--token", "secret-without-user"])
    assert result.exit_code == 2 and "TOKEN=USER" in result.output and "secret-without-user" not in result.output


def test_hf_cli_download(local_hub: LocalHub, tmp_path: Path):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    commit = _push(api)
    api.create_tag(REPO, tag="v2")
    hf = shutil.which("hf", path=str(Path(sys.executable).parent)) or "hf"
    result = subprocess.run(
        [hf, "download", REPO, "model.safetensors", "--revision", "v2", "--local-dir", str(tmp_path / "out")],
        env=subprocess_env(local_hub, tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == WEIGHTS
    assert commit.oid  # the tag pointed at this commit
    assert TOKEN not in result.stdout + result.stderr


# ---- transformers: a tiny QA model pushed with LFS, loaded at a tag from an empty cache ----------------------------
_LOAD_SCRIPT = """
import json, sys, torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, pipeline
repo, tag = sys.argv[1], sys.argv[2]
tok = AutoTokenizer.from_pretrained(repo, revision=tag)
model = AutoModelForQuestionAnswering.from_pretrained(repo, revision=tag)
with torch.no_grad():
    out = model(**tok("what did revenue grow by", "the revenue grew by 12 percent", return_tensors="pt"))
qa = pipeline("question-answering", model=repo, revision=tag)
answer = qa(question="what did revenue grow by", context="the revenue grew by 12 percent")
print(json.dumps({"start": out.start_logits[0].tolist(), "answer": answer["answer"]}))
"""


def test_transformers_loads_a_model_at_a_tag_from_an_empty_cache(local_hub: LocalHub, tmp_path: Path):
    import torch
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering, DistilBertTokenizerFast

    words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *"abcdefghijklmnopqrstuvwxyz0123456789",
        "the",
        "revenue",
        "grew",
        "by",
        "percent",
        "what",
        "did",
        "grow",
        "12",
    ]
    tokenizer = DistilBertTokenizerFast(vocab={w: i for i, w in enumerate(words)})
    torch.manual_seed(0)
    model = DistilBertForQuestionAnswering(
        DistilBertConfig(
            vocab_size=len(words), dim=16, n_layers=1, n_heads=2, hidden_dim=32, max_position_embeddings=64
        )
    ).eval()
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)

    local_hub.lfs_uploads = True  # pushed like a client with HF_HUB_DISABLE_XET=1 would, loaded in that mode too
    api = hub_api(local_hub)
    api.create_repo(REPO)
    from huggingface_hub import constants

    original = constants.HF_HUB_DISABLE_XET
    constants.HF_HUB_DISABLE_XET = True
    try:
        commit = api.create_commit(
            REPO, operations=[CommitOperationAdd(p.name, p) for p in folder.iterdir()], commit_message="tiny model"
        )
    finally:
        constants.HF_HUB_DISABLE_XET = original
    api.create_tag(REPO, tag="v0.1.0")
    api.create_commit(REPO, operations=[CommitOperationDelete("model.safetensors")], commit_message="break main")

    home = tmp_path / "home"
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_SCRIPT, REPO, "v0.1.0"],
        timeout=120,
        capture_output=True,
        text=True,
        env=subprocess_env(local_hub, home, disable_xet=True),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    with torch.no_grad():
        expected = model(
            **tokenizer("what did revenue grow by", "the revenue grew by 12 percent", return_tensors="pt")
        ).start_logits[0]
    assert torch.allclose(torch.tensor(loaded["start"]), expected, atol=1e-5)
    assert loaded["answer"] in "the revenue grew by 12 percent"
    snapshot = home / "hub" / f"models--{REPO.replace('/', '--')}" / "snapshots" / commit.oid
    assert (snapshot / "model.safetensors").is_file()
    assert list(iter_requests(local_hub, "PUT", "/_lfs/upload/"))  # the weights took the LFS path
