"""`hubkit push` against a local Hub with the real huggingface_hub client and the real smoke test.

Every test owns its state: its own repo on the (module-wide) server, its own copy of the run with the card rendered
for that repo, and, where it needs one, a repo already published at v0.1.0 (`published`, set up with the plain
client, no hubkit push). So each test passes alone, in any order and under xdist. Every CLI output is checked for
the sentinel token as it is produced, and each test's folders and the server root are checked after it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubkit.cli import cli
from hubkit.errors import HubkitError
from hubkit.localhub import LocalHub
from hubkit.publish.prs import MARKER, tree_of
from hubkit.publish.stage import make_plan, remote_files, stage_run

from .helpers import SENTINEL, USER, build_published_run

WRITES = ("/commit/", "/preupload/", "/_lfs/", "/api/repos/create", "/merge", "/tag/", "/discussions")


# ---- fixtures: one per state ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    return build_published_run(tmp_path_factory.mktemp("publish") / "run", f"{USER}/base")


@pytest.fixture
def repo(request) -> str:
    """A repo id of this test's own."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:60].strip("-")
    return f"{USER}/{name}-{hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]}"


@pytest.fixture
def run(base_run: Path, tmp_path: Path, repo: str) -> Path:
    """A copy of the run whose card is built for this test's repo (`hubkit build-card --repo-id REPO`)."""
    return copy_run(base_run, tmp_path / "run", repo)


@pytest.fixture
def published(env: LocalHub, run: Path, repo: str) -> str:
    """`repo` already holds `run`'s files at v0.1.0 (put there with the plain client); returns main's head."""
    from huggingface_hub import CommitOperationAdd

    hub_api = api(env)
    hub_api.create_repo(repo)
    ops = [CommitOperationAdd(f.path_in_repo, str(f.local_path)) for f in stage_run(run).files]
    head = hub_api.create_commit(repo, ops, commit_message="first release").oid
    hub_api.create_tag(repo, tag="v0.1.0", revision=head)
    return head


@pytest.fixture(autouse=True)
def no_token_on_disk(request, tmp_path: Path):
    yield
    roots = [tmp_path]
    if "hub" in request.fixturenames:
        roots.append(request.getfixturevalue("hub").root)
    for root in roots:
        for path in Path(root).rglob("*"):
            if path.is_file():
                assert SENTINEL.encode() not in path.read_bytes(), path


# ---- helpers -------------------------------------------------------------------------------------------------------
def copy_run(base_run: Path, dest: Path, repo_id: str | None) -> Path:
    from hubkit.card import build_card

    shutil.copytree(base_run, dest)
    build_card(dest, repo_id=repo_id)
    return dest


def api(hub: LocalHub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=SENTINEL)


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert SENTINEL not in result.output
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def one_line_error(result, *needles: str, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    last = result.output.strip().splitlines()
    assert last and last[-1].startswith("Error: ") and "Traceback" not in result.output, result.output
    assert all(n in last[-1] for n in needles), last[-1]
    return last[-1]


def add_note(run: Path, note: str) -> Path:
    """The card gains one sentence: a real content change that still passes lint."""
    card = run / "model" / "README.md"
    card.write_text(card.read_text(encoding="utf-8") + f"\n{note}\n", encoding="utf-8")
    return run


def main_sha(hub: LocalHub, repo: str) -> str:
    return api(hub).repo_info(repo, revision="main").sha


def tags(hub: LocalHub, repo: str) -> dict[str, str]:
    return {t.name: t.target_commit for t in api(hub).list_repo_refs(repo).tags}


def prs(hub: LocalHub, repo: str, status: str | None = None) -> list:
    found = [d for d in api(hub).get_repo_discussions(repo) if d.is_pull_request]
    return [d for d in found if status is None or d.status == status]


def writes(hub: LocalHub, since: int) -> list:
    """Requests since `since` that could change the server (validate-yaml excepted: it only reads the body)."""
    return [r for r in hub.requests[since:] if r.method not in ("GET", "HEAD") and r.path != "/api/validate-yaml"]


def bytes_sent(hub: LocalHub, since: int) -> int:
    return sum(r.bytes_in for r in hub.requests[since:] if r.path != "/api/validate-yaml")


def remote(hub: LocalHub, repo: str, revision: str):
    return remote_files(api(hub).list_repo_tree(repo, recursive=True, revision=revision))


def tree_digest(root: Path) -> dict[str, str]:
    files = (p for p in sorted(root.rglob("*")) if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def squash_merges(hub: LocalHub, monkeypatch, *, tamper: bool = False) -> None:
    """Merge like the Hub: a new commit "title (#N)" on the base, not a fast-forward (the local Hub's default mode,
    set here explicitly). `tamper`: the merge also drops a file, so main's tree is not the tested one."""
    storage = hub.storage
    monkeypatch.setattr(storage, "merge_mode", "squash")
    if not tamper:
        return
    original = storage.merge_pull_request

    def merge(repo_id, num, author, comment, **kwargs):
        merged = storage.get_commit(repo_id, original(repo_id, num, author, comment, **kwargs))
        tree = dict(merged.tree)
        tree.pop("loss.png")
        with storage.repo_lock(repo_id):
            commit = storage._write_commit(
                storage._repo_dir(repo_id), merged.parents, tree, merged.title, merged.message, author
            )
            refs = storage.refs(repo_id)
            refs["branches"]["main"] = commit.oid
            storage._write_refs(repo_id, refs)
        return commit.oid

    monkeypatch.setattr(storage, "merge_pull_request", merge)


def hub_card_check(monkeypatch, *, errors=(), warnings=()) -> None:
    """Make the local Hub's metadata check (behind /api/validate-yaml) answer these errors and warnings."""
    from hubkit.localhub import api_repos
    from hubkit.localhub.card_validation import CardCheck

    def check(content, repo_type="model"):
        return CardCheck(list(errors), list(warnings))

    monkeypatch.setattr(api_repos, "check_card", check)


# ---- staging (no network) ------------------------------------------------------------------------------------------
def test_staging_is_an_allow_list_with_hashes(base_run: Path):
    staging = stage_run(base_run)
    names = {f.path_in_repo for f in staging.files}
    assert names == {
        "README.md",
        "config.json",
        "loss.png",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "record.json",
    }
    skipped = {path for path, _ in staging.skipped}
    assert {"model/training_args.bin", "model/optimizer.pt", "model/checkpoint-10"} <= skipped
    weights = next(f for f in staging.files if f.path_in_repo == "model.safetensors")
    data = (base_run / "model" / "model.safetensors").read_bytes()
    assert weights.sha256 == hashlib.sha256(data).hexdigest()
    assert weights.git_oid == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    plan = make_plan(staging, {})
    assert plan.counts() == {"new": len(names), "changed": 0, "unchanged": 0}


def test_staging_refuses_a_file_holding_a_token(base_run: Path, tmp_path: Path):
    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    other = "hf_" + "Q7" * 17  # token-shaped, in a text file
    config = run / "model" / "tokenizer_config.json"
    config.write_text(config.read_text().replace("{", f'{{"auth": "{other}", ', 1))
    with pytest.raises(HubkitError) as info:
        stage_run(run)
    assert "tokenizer_config.json" in str(info.value) and other not in str(info.value)
    config.write_text((base_run / "model" / "tokenizer_config.json").read_text())
    weights = run / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes() + SENTINEL.encode())  # the live token, even inside binary data
    with pytest.raises(HubkitError) as info:
        stage_run(run, token=SENTINEL)
    assert "model.safetensors" in str(info.value) and SENTINEL not in str(info.value)
    weights.unlink()  # leave no sentinel on disk


# ---- the push ------------------------------------------------------------------------------------------------------
def test_first_push_opens_a_pr_runs_the_committed_card_merges_and_tags(env: LocalHub, run: Path, repo: str):
    result = invoke("push", "--repo", repo, "--run", str(run), "--tag", "v0.1.0", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    head = main_sha(env, repo)
    assert "declared edit: revision=" in result.stderr and "only difference" in result.stderr
    assert out["merged"] and out["main_sha"] == head and tags(env, repo) == {"v0.1.0": head}
    (pr,) = prs(env, repo)
    assert pr.status == "merged" and out["pr_num"] == pr.num
    # the PR head ran pinned (declared edit only), then main ran unedited; both checked every `# ->`
    pinned, unedited = out["smoke"], out["main_smoke"]
    assert pinned["ok"] and pinned["pinned"] and pinned["commit"] == out["commit_sha"]
    assert unedited["ok"] and not unedited["pinned"] and unedited["commit"] == head
    assert all(b["pinned_diff"] and not u["pinned_diff"] for b, u in zip(pinned["blocks"], unedited["blocks"]))
    n = len(stage_run(run).record.smoke_examples)
    assert sum(1 for r in pinned["rows"] if r["ok"] and r["claimed"]) == 2 * 2 * n
    # the committed card is the local one, and its code loads this repo
    card = Path(api(env).hf_hub_download(repo, "README.md", revision=head, cache_dir=str(run.parent / "dl")))
    assert card.read_bytes() == (run / "model" / "README.md").read_bytes()
    assert f'model="{repo}"' in card.read_text()
    files = {f.path for f in api(env).list_repo_tree(repo, recursive=True, revision=head)}
    assert {f.path_in_repo for f in stage_run(run).files} <= files
    assert not files & {"training_args.bin", "optimizer.pt", "adapter_config.json", "checkpoint-10/model.safetensors"}
    assert not make_plan(stage_run(run), remote(env, repo, head)).has_changes
    commits = api(env).list_repo_commits(repo, revision=head)
    assert sum(1 for c in commits if c.title.startswith("hubkit: publish run")) == 1
    details = api(env).get_discussion_details(repo, pr.num)
    assert MARKER.search(details.events[0].content)


def test_pushing_identical_content_again_commits_nothing_and_uploads_no_bytes(
    env: LocalHub, run: Path, repo: str, published: str
):
    before = len(env.requests)
    result = invoke("push", "--repo", repo, "--run", str(run), "--tag", "v0.1.0", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["commit_sha"] is None and out["bytes_uploaded"] == 0 and out["main_sha"] == published
    assert out["counts"] == {"new": 0, "changed": 0, "unchanged": len(out["files"])} and out["deleted"] == []
    assert main_sha(env, repo) == published and tags(env, repo) == {"v0.1.0": published}
    assert bytes_sent(env, before) == 0 and writes(env, before) == []


def test_dry_run_prints_the_plan_and_readme_diff_and_writes_nothing(
    env: LocalHub, run: Path, repo: str, published: str
):
    add_note(run, "Dry-run note: this sentence is new.")
    before = len(env.requests)
    server_before, run_before = tree_digest(env.root), tree_digest(run)
    result = invoke("push", "--repo", repo, "--run", str(run), "--dry-run")
    assert result.exit_code == 0, result.output
    rows = {(line.split()[0], line.split()[-1]) for line in result.stdout.splitlines() if line.split()}
    assert ("changed", "README.md") in rows and ("unchanged", "model.safetensors") in rows
    assert "+Dry-run note: this sentence is new." in result.stdout.splitlines()
    assert "--- remote/README.md" in result.stdout.splitlines()
    assert result.stdout.strip().splitlines()[-1].startswith("dry run: would commit 0 new and 1 changed file(s)")
    assert main_sha(env, repo) == published
    assert tree_digest(env.root) == server_before and tree_digest(run) == run_before
    assert writes(env, before) == []

    other = copy_run(run, run.parent / "other-run", f"{repo}-new")
    fresh = invoke("push", "--repo", f"{repo}-new", "--run", str(other), "--dry-run", "--json")
    assert fresh.exit_code == 0, fresh.output
    plan = json.loads(fresh.stdout)
    assert {f["status"] for f in plan["files"]} == {"new"} and plan["base_commit"] is None
    assert not api(env).repo_exists(f"{repo}-new")


def test_a_card_built_without_a_repo_id_is_rerendered_for_the_pushed_repo(
    env: LocalHub, base_run: Path, tmp_path: Path, repo: str
):
    """The README's offline flow: `hubkit build-card --run R` (no --repo-id), then `hubkit push --repo ... --run R`."""
    run = copy_run(base_run, tmp_path / "run", None)
    model_name = stage_run(run).record.card.model_name
    assert f'model="{model_name}"' in (run / "model" / "README.md").read_text()
    untouched = tree_digest(run)
    dry = invoke("push", "--repo", repo, "--run", str(run), "--dry-run", "--json")
    assert json.loads(dry.stdout)["card_rerendered"] and tree_digest(run) == untouched  # a dry run writes nothing

    result = invoke("push", "--repo", repo, "--run", str(run), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["card_rerendered"] and out["smoke"]["ok"] and out["main_smoke"]["ok"]
    committed = api(env).hf_hub_download(repo, "README.md", revision=out["main_sha"], cache_dir=str(tmp_path / "dl"))
    text = Path(committed).read_text()
    assert f'model="{repo}"' in text and f'repo_id, revision = "{repo}", "main"' in text
    assert f'"{model_name}"' not in text
    assert Path(committed).read_bytes() == (run / "model" / "README.md").read_bytes()  # the run's card is updated


def test_a_card_naming_another_repo_is_refused_before_anything_is_created(
    env: LocalHub, base_run: Path, tmp_path: Path, repo: str
):
    run = copy_run(base_run, tmp_path / "run", f"{USER}/someone-elses-model")
    before = len(env.requests)
    error = one_line_error(invoke("push", "--repo", repo, "--run", str(run)), "someone-elses-model", repo)
    assert "nothing uploaded" in error and "--repo-id" in error
    assert not api(env).repo_exists(repo) and writes(env, before) == []


def test_a_wrong_answer_in_the_committed_readme_fails_the_push_and_leaves_main_and_the_pr(
    env: LocalHub, run: Path, repo: str, published: str
):
    card = run / "model" / "README.md"
    answer = stage_run(run).record.smoke_examples[0].answer
    card.write_text(card.read_text().replace(f"# -> {answer}\n", "# -> a planted wrong answer\n", 1))
    result = invoke("push", "--repo", repo, "--run", str(run), "--tag", "v0.2.0")
    error = one_line_error(result, "smoke test failed", "left open", code=1)
    assert "card claims 'a planted wrong answer'" in error
    assert "FAIL: printed" in result.stdout
    assert main_sha(env, repo) == published and tags(env, repo) == {"v0.1.0": published}
    (pr,) = prs(env, repo)
    assert pr.status == "open"


def test_metadata_the_hub_rejects_stops_the_push_before_any_upload(env: LocalHub, run: Path, repo: str, monkeypatch):
    hub_card_check(monkeypatch, errors=['"license" must be one of [apache-2.0, mit, ...]'])
    before = len(env.requests)
    error = one_line_error(invoke("push", "--repo", repo, "--run", str(run)), "the Hub rejected the card's metadata")
    assert '"license" must be one of' in error and "nothing uploaded" in error
    sent = [r.path for r in env.requests[before:]]
    assert "/api/validate-yaml" in sent
    assert writes(env, before) == [] and not any(w in p for p in sent for w in WRITES)
    assert not api(env).repo_exists(repo)


def test_the_hubs_metadata_warnings_are_returned_and_other_failures_are_one_line(env: LocalHub, monkeypatch):
    from hubkit.publish.cardcheck import validate_metadata

    hub_card_check(monkeypatch, warnings=["empty or missing yaml metadata in repo card"])
    assert validate_metadata(api(env), "# no metadata\n", str) == ["empty or missing yaml metadata in repo card"]
    env.fail_next(1, status=500, path_contains="/api/validate-yaml")
    with pytest.raises(HubkitError) as info:
        validate_metadata(api(env), "# card\n", lambda exc: type(exc).__name__)
    assert str(info.value).startswith("validating the card's metadata failed") and "\n" not in str(info.value)


def test_failures_mid_push_leave_main_unchanged_and_reruns_reuse_the_open_pr(
    env: LocalHub, run: Path, repo: str, published: str
):
    add_note(run, "Second release: same model, updated card.")
    args = ("push", "--repo", repo, "--run", str(run), "--tag", "v0.2.0")

    env.fail_next(1, status=500, path_contains="/commit/")  # the commit itself fails
    one_line_error(invoke(*args), "main is unchanged")
    assert main_sha(env, repo) == published and "v0.2.0" not in tags(env, repo) and prs(env, repo) == []

    env.fail_next(1, status=500, path_contains="/merge")  # PR opened and smoke-tested, the merge fails
    one_line_error(invoke(*args), "merging PR", "is open")
    assert main_sha(env, repo) == published and "v0.2.0" not in tags(env, repo)
    (stale,) = prs(env, repo, "open")

    before = len(env.requests)
    done = invoke(*args, "--json")
    out = json.loads(done.stdout)
    assert out["reused_pr"] and out["pr_num"] == stale.num and out["bytes_uploaded"] == 0
    assert not any("/commit/" in r.path for r in env.requests[before:])  # no second PR commit
    new_head = main_sha(env, repo)
    assert new_head != published and tags(env, repo)["v0.2.0"] == new_head
    assert [p.status for p in prs(env, repo)] == ["merged"]

    # other content under an existing tag is refused before anything is sent
    before = len(env.requests)
    one_line_error(
        invoke("push", "--repo", repo, "--run", str(add_note(run, "more")), "--tag", "v0.2.0"),
        "tag v0.2.0 already exists",
    )
    assert writes(env, before) == [] and main_sha(env, repo) == new_head


def test_a_stale_pr_for_the_same_content_is_closed_when_main_moved(env: LocalHub, run: Path, repo: str, published: str):
    from huggingface_hub import CommitOperationAdd

    add_note(run, "A release whose first push died before the merge.")
    env.fail_next(1, status=500, path_contains="/merge")
    one_line_error(invoke("push", "--repo", repo, "--run", str(run)), "merging PR")
    (stale,) = prs(env, repo, "open")
    api(env).create_commit(repo, [CommitOperationAdd("NOTES.txt", b"someone else")], commit_message="other")

    out = json.loads(invoke("push", "--repo", repo, "--run", str(run), "--keep-remote", "--json").stdout)
    assert out["closed_prs"] == [stale.num] and not out["reused_pr"] and out["pr_num"] != stale.num
    assert {p.num: p.status for p in prs(env, repo)} == {stale.num: "closed", out["pr_num"]: "merged"}


def test_the_squash_merged_commit_is_tagged_after_its_tree_is_checked(
    env: LocalHub, run: Path, repo: str, published: str, monkeypatch
):
    squash_merges(env, monkeypatch)
    add_note(run, "Released through a squash merge.")
    out = json.loads(invoke("push", "--repo", repo, "--run", str(run), "--tag", "v0.2.0", "--json").stdout)
    head = main_sha(env, repo)
    assert head != out["commit_sha"] and out["main_sha"] == head and tags(env, repo)["v0.2.0"] == head
    assert tree_of(api(env), repo, head) == tree_of(api(env), repo, out["commit_sha"])
    assert api(env).list_repo_commits(repo, revision=head)[0].title.endswith(f"(#{out['pr_num']})")


def test_a_merge_whose_tree_differs_from_the_tested_head_is_not_tagged(
    env: LocalHub, run: Path, repo: str, published: str, monkeypatch
):
    squash_merges(env, monkeypatch, tamper=True)
    add_note(run, "A merge that loses a file.")
    error = one_line_error(
        invoke("push", "--repo", repo, "--run", str(run), "--tag", "v0.2.0"),
        "is not the tested commit's tree",
        "loss.png",
        "not tagging",
    )
    assert "v0.2.0" not in tags(env, repo) and error


def test_main_moving_after_the_plan_ends_the_push_naming_the_winner_and_closes_the_pr(
    env: LocalHub, run: Path, repo: str, published: str
):
    from huggingface_hub import CommitOperationAdd

    from hubkit.publish.push import push

    winner: list[str] = []

    def progress(message: str) -> None:  # another client commits to main right after this push opened its PR
        if message.startswith("opened PR"):
            winner.append(
                api(env).create_commit(repo, [CommitOperationAdd("NOTES.txt", b"won")], commit_message="winner").oid
            )

    add_note(run, "A release that loses the race.")
    with pytest.raises(HubkitError) as info:
        push(run, repo, tag="v0.2.0", progress=progress)
    message = str(info.value)
    assert "\n" not in message and winner[0][:12] in message and "closed" in message
    assert main_sha(env, repo) == winner[0] and "v0.2.0" not in tags(env, repo)
    assert prs(env, repo, "open") == []


def test_two_pushes_at_once_one_wins_and_the_loser_leaves_no_pr(
    env: LocalHub, base_run: Path, tmp_path: Path, repo: str, published: str
):
    from hubkit.publish.push import push

    runs = [add_note(copy_run(base_run, tmp_path / f"run{i}", repo), f"Concurrent release {i}.") for i in (1, 2)]
    both_opened = threading.Barrier(2, timeout=120)
    outcomes: dict[int, object] = {}

    def one(i: int) -> None:
        def progress(message: str) -> None:
            if message.startswith("opened PR"):
                both_opened.wait()  # both planned against the same main, both PRs open

        try:
            outcomes[i] = push(runs[i - 1], repo, progress=progress)
        except HubkitError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    errors = [o for o in outcomes.values() if isinstance(o, HubkitError)]
    wins = [o for o in outcomes.values() if not isinstance(o, HubkitError)]
    assert len(errors) == 1 and len(wins) == 1, outcomes
    assert wins[0].main_sha == main_sha(env, repo) and wins[0].main_sha[:12] in str(errors[0])
    assert prs(env, repo, "open") == [] and len(prs(env, repo, "merged")) == 1


def test_remote_files_outside_the_release_are_deleted_in_the_same_commit(
    env: LocalHub, run: Path, repo: str, published: str, tmp_path: Path
):
    from huggingface_hub import CommitOperationAdd

    api(env).create_commit(repo, [CommitOperationAdd("pytorch_model.bin", b"old weights")], commit_message="old")
    add_note(run, "Release without the old weights.")

    dry = invoke("push", "--repo", repo, "--run", str(run), "--dry-run")
    assert any(line.split()[:1] == ["delete"] and "pytorch_model.bin" in line for line in dry.stdout.splitlines())
    kept = invoke("push", "--repo", repo, "--run", str(run), "--dry-run", "--keep-remote", "--json")
    assert "pytorch_model.bin" in json.loads(kept.stdout)["kept"] and json.loads(kept.stdout)["deleted"] == []

    out = json.loads(invoke("push", "--repo", repo, "--run", str(run), "--json").stdout)
    assert out["deleted"] == ["pytorch_model.bin"]
    files = {f.path for f in api(env).list_repo_tree(repo, recursive=True, revision=out["main_sha"])}
    assert "pytorch_model.bin" not in files and "model.safetensors" in files
    (commit,) = [c for c in api(env).list_repo_commits(repo, revision=out["commit_sha"])[:1]]
    assert commit.commit_id == out["commit_sha"]  # one commit carried the card change and the deletion
    assert "deleted: pytorch_model.bin" in commit.message


def test_dropped_connection_after_the_lfs_upload_then_no_pr_rerun_commits_to_main(
    env: LocalHub, run: Path, repo: str, published: str, monkeypatch
):
    """HF_HUB_DISABLE_XET mode (LFS batch API): the weights reach the server but the commit request loses its
    connection, so main is untouched; the re-run with --no-pr commits straight to main (no PR), still smoke-tested."""
    from huggingface_hub import constants
    from safetensors.torch import load_file, save_file

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(env, "lfs_uploads", True)
    weights = run / "model" / "model.safetensors"
    save_file(load_file(weights), weights, metadata={"format": "pt", "note": "re-saved"})  # new bytes, same model
    before = len(env.requests)

    env.fail_next(1, status=0, path_contains="/commit/")
    one_line_error(invoke("push", "--repo", repo, "--run", str(run), "--no-pr"), "main is unchanged")
    assert main_sha(env, repo) == published
    assert any(r.path.startswith("/_lfs/upload/") and r.status == 200 for r in env.requests[before:])

    rerun = len(env.requests)
    out = json.loads(invoke("push", "--repo", repo, "--run", str(run), "--no-pr", "--json").stdout)
    assert out["mode"] == "direct" and out["pr_url"] is None and out["main_smoke"]["ok"]
    assert main_sha(env, repo) == out["commit_sha"] == out["main_sha"] != published
    assert "model.safetensors" in [f["path"] for f in out["files"] if f["status"] == "changed"]
    assert prs(env, repo) == []
    # the weights reached the server before the drop: the re-run does not send them again
    assert bytes_sent(env, rerun) < weights.stat().st_size


# ---- bad input -----------------------------------------------------------------------------------------------------
def test_bad_input_gives_one_line_errors(env: LocalHub, run: Path, repo: str, tmp_path: Path, monkeypatch):
    from huggingface_hub import constants

    before = len(env.requests)
    one_line_error(invoke("push", "--repo", "bad--id", "--run", str(run)), "invalid repo id")
    one_line_error(invoke("push", "--repo", f"{USER}/x/y", "--run", str(run)), "invalid repo id")
    one_line_error(invoke("push", "--repo", repo, "--run", str(tmp_path / "nope")), "no run folder")
    one_line_error(invoke("push", "--repo", repo, "--run", str(run), "--tag", "v 1"), "invalid tag")
    one_line_error(invoke("push", "--repo", repo, "--run", str(run), "--tag", "v1..0"), "invalid tag", "'..'")
    one_line_error(invoke("smoke-test", "--repo", "bad..id"), "invalid repo id")

    # a card that fails lint: nothing is created or uploaded
    lint_fails = copy_run(run, tmp_path / "lint-run", f"{USER}/lint-fails")
    add_note(lint_fails, "TODO: write this section.")
    one_line_error(
        invoke("push", "--repo", f"{USER}/lint-fails", "--run", str(lint_fails)), "card lint failed", code=1
    )  # a failed check: exit 1
    assert not api(env).repo_exists(f"{USER}/lint-fails")
    assert writes(env, before) == []

    # someone else's namespace: the Hub refuses, one line, nothing uploaded
    bobs = copy_run(run, tmp_path / "bob-run", "bob/not-mine")
    one_line_error(invoke("push", "--repo", "bob/not-mine", "--run", str(bobs)), "creating bob/not-mine failed")

    monkeypatch.setenv("HF_TOKEN", "hf_" + "W" * 34)  # a token the server does not know
    one_line_error(invoke("push", "--repo", repo, "--run", str(run)), "rejected the token")

    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token-file"))
    one_line_error(invoke("push", "--repo", repo, "--run", str(run)), "no Hub token")
