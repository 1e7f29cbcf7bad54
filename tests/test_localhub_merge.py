"""Pull requests merge as on the Hub: squash into a new commit "title (#N)" (default), or fast-forward (an option);
a PR created with `parent_commit` is opened from that parent, not refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete
from huggingface_hub.errors import HfHubHTTPError

from hubkit.localhub import LocalHub

from .localhub_helpers import TOKEN, USER, hub_api

REPO = f"{USER}/merging"


def _tree(api, revision="main") -> dict[str, str]:
    return {
        f.path: f.blob_id for f in api.list_repo_tree(REPO, revision=revision, recursive=True) if hasattr(f, "blob_id")
    }


def _head(api, revision="main") -> str:
    return api.repo_info(REPO, revision=revision).sha


def test_squash_merge_makes_one_new_commit_with_the_pr_tree(local_hub: LocalHub):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    base = _head(api)
    pr = api.create_commit(
        REPO,
        operations=[
            CommitOperationAdd("model.bin", b"\x00weights"),
            CommitOperationAdd("README.md", b"---\nlicense: mit\n---\n# v1\n"),
        ],
        commit_message="Release v1",
        create_pr=True,
    )
    api.create_commit(
        REPO, revision=pr.pr_revision, operations=[CommitOperationAdd("extra.txt", b"x")], commit_message="Add extra"
    )
    pr_head = _head(api, pr.pr_revision)
    api.merge_pull_request(REPO, pr.pr_num)

    merged = api.get_discussion_details(REPO, pr.pr_num).merge_commit_oid
    assert merged == _head(api) not in (pr.oid, pr_head)
    history = api.list_repo_commits(REPO)
    assert [c.title for c in history] == ["Release v1 (#1)", "initial commit"]  # one commit, first parent = base
    assert history[1].commit_id == base
    assert "Release v1" in history[0].message and "Add extra" in history[0].message
    assert _tree(api) == _tree(api, pr_head)  # byte-identical tree to the tested PR head


def test_squash_merge_applies_the_pr_on_top_of_a_moved_base_and_refuses_conflicts(local_hub: LocalHub):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    api.create_commit(REPO, operations=[CommitOperationAdd("shared.txt", b"0")], commit_message="start")
    pr = api.create_commit(
        REPO,
        operations=[CommitOperationAdd("a.txt", b"a"), CommitOperationDelete("shared.txt")],
        commit_message="a",
        create_pr=True,
    )
    api.create_commit(REPO, operations=[CommitOperationAdd("b.txt", b"b")], commit_message="b")
    api.merge_pull_request(REPO, pr.pr_num)
    assert {f.path for f in api.list_repo_tree(REPO)} == {".gitattributes", "a.txt", "b.txt"}
    assert api.list_repo_commits(REPO)[0].title == "a (#1)"

    clash = api.create_commit(
        REPO, operations=[CommitOperationAdd("b.txt", b"theirs")], commit_message="clash", create_pr=True
    )
    api.create_commit(REPO, operations=[CommitOperationAdd("b.txt", b"ours")], commit_message="ours")
    before = _head(api)
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.merge_pull_request(REPO, clash.pr_num)
    assert excinfo.value.response.status_code == 409 and "b.txt" in str(excinfo.value)
    assert _head(api) == before and api.get_discussion_details(REPO, clash.pr_num).status == "open"


def test_fast_forward_mode_keeps_the_tested_commit(tmp_path: Path):
    with LocalHub.start(tmp_path / "root", tokens={TOKEN: USER}, merge_mode="fast-forward") as hub:
        api = hub_api(hub)
        api.create_repo(REPO)
        pr = api.create_commit(REPO, operations=[CommitOperationAdd("a.txt", b"a")], commit_message="a", create_pr=True)
        api.merge_pull_request(REPO, pr.pr_num)
        assert api.get_discussion_details(REPO, pr.pr_num).merge_commit_oid == _head(api) == pr.oid
        hub.merge_mode = "squash"  # switchable while running
        second = api.create_commit(
            REPO, operations=[CommitOperationAdd("b.txt", b"b")], commit_message="b", create_pr=True
        )
        api.merge_pull_request(REPO, second.pr_num)
        assert _head(api) != second.oid
    with pytest.raises(ValueError, match="merge_mode"):
        LocalHub.start(tmp_path / "other", merge_mode="rebase")


def test_pr_with_parent_commit_is_opened_from_that_parent(local_hub: LocalHub):
    api = hub_api(local_hub)
    api.create_repo(REPO)
    planned = _head(api)
    api.create_commit(REPO, operations=[CommitOperationAdd("moved.txt", b"m")], commit_message="main moved")
    pr = api.create_commit(
        REPO,
        operations=[CommitOperationAdd("release.txt", b"r")],
        commit_message="Release",
        create_pr=True,
        parent_commit=planned,
    )  # not refused with 412, unlike a direct commit
    pr_commit = api.list_repo_commits(REPO, revision=pr.pr_revision)
    assert pr_commit[0].commit_id == pr.oid and pr_commit[1].commit_id == planned
    assert "moved.txt" not in {f.path for f in api.list_repo_tree(REPO, revision=pr.pr_revision)}
    api.merge_pull_request(REPO, pr.pr_num)
    assert {f.path for f in api.list_repo_tree(REPO)} == {".gitattributes", "moved.txt", "release.txt"}

    with pytest.raises(HfHubHTTPError) as excinfo:  # a parent that is no commit of the repo
        api.create_commit(
            REPO,
            operations=[CommitOperationAdd("x.txt", b"x")],
            commit_message="x",
            create_pr=True,
            parent_commit="0" * 40,
        )
    assert excinfo.value.response.status_code == 404
    with pytest.raises(HfHubHTTPError) as excinfo:  # a direct commit still needs the current head
        api.create_commit(
            REPO, operations=[CommitOperationAdd("x.txt", b"x")], commit_message="x", parent_commit=planned
        )
    assert excinfo.value.response.status_code == 412
