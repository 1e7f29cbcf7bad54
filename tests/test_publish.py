"""`hubkit push` against a local Hub with the real huggingface_hub client and the real smoke test.

One tiny run and one server per module; each test that needs different content copies the run and edits it.
Every CLI output is kept, and the last test checks that the sentinel token is in none of them and in no file under
any run folder or the server root.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubkit.cli import cli
from hubkit.errors import HubkitError
from hubkit.localhub import LocalHub
from hubkit.publish.stage import make_plan, stage_run

from .test_smoke import SENTINEL, USER, build_run

REPO = f"{USER}/tiny-finance-qa"
OUTPUTS: list[str] = []
RUN_DIRS: list[Path] = []


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    run = build_run(tmp_path_factory.mktemp("publish") / "run", REPO)
    RUN_DIRS.append(run)
    return run


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub.start(tmp_path_factory.mktemp("publish-hub"), tokens={SENTINEL: USER}) as server:
        yield server


@pytest.fixture
def env(hub: LocalHub, monkeypatch) -> LocalHub:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    return hub


def api(hub: LocalHub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=SENTINEL)


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    OUTPUTS.append(result.output)
    if result.exception and not isinstance(result.exception, SystemExit):
        OUTPUTS.append(repr(result.exception))
    return result


def variant(base_run: Path, tmp_path: Path, note: str) -> Path:
    """A copy of the run whose card gains one sentence (a real content change that still passes lint)."""
    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    card = run / "model" / "README.md"
    card.write_text(card.read_text(encoding="utf-8") + f"\n{note}\n", encoding="utf-8")
    RUN_DIRS.append(run)
    return run


def main_sha(hub: LocalHub, repo: str = REPO) -> str:
    return api(hub).repo_info(repo, revision="main").sha


def tags(hub: LocalHub, repo: str = REPO) -> dict[str, str]:
    return {t.name: t.target_commit for t in api(hub).list_repo_refs(repo).tags}


def bytes_sent(hub: LocalHub, since: int) -> int:
    return sum(r.bytes_in for r in hub.requests[since:])


def tree_digest(root: Path) -> dict[str, str]:
    files = (p for p in sorted(root.rglob("*")) if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


# ---- staging (no network) ------------------------------------------------------------------------------------------
def test_staging_is_an_allow_list_with_hashes(base_run: Path):
    staging = stage_run(base_run)
    names = {f.path_in_repo for f in staging.files}
    assert names == {
        "README.md", "config.json", "loss.png", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
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
    RUN_DIRS.append(run)
    other = "hf_" + "Q7" * 17  # token-shaped, in a text file
    config = run / "model" / "tokenizer_config.json"
    config.write_text(config.read_text().replace("{", '{"auth": "%s", ' % other, 1))
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
def test_first_push_opens_a_pr_smoke_tests_merges_and_tags(env: LocalHub, base_run: Path):
    result = invoke("push", "--repo", REPO, "--run", str(base_run), "--tag", "v0.1.0")
    assert result.exit_code == 0, result.output
    assert "smoke test: 6/6 answers match the card" in result.output
    assert "PR #1 merged" in result.stdout
    head = main_sha(env)
    assert tags(env) == {"v0.1.0": head}
    hub_api = api(env)
    (pr,) = [d for d in hub_api.get_repo_discussions(REPO) if d.is_pull_request]
    assert pr.status == "merged"
    remote = {f.path for f in hub_api.list_repo_tree(REPO, recursive=True, revision=head)}
    staged = {f.path_in_repo for f in stage_run(base_run).files}
    assert staged <= remote
    assert not remote & {"training_args.bin", "optimizer.pt", "adapter_config.json", "checkpoint-10/model.safetensors"}
    # every pushed file is exactly the local one
    assert not make_plan(stage_run(base_run), _remote(env, head)).has_changes
    # one commit carried the files: the merge added no second upload commit
    commits = hub_api.list_repo_commits(REPO, revision=head)
    assert sum(1 for c in commits if c.title.startswith("hubkit: publish run")) == 1


def _remote(hub: LocalHub, revision: str):
    from hubkit.publish.stage import remote_files

    return remote_files(api(hub).list_repo_tree(REPO, recursive=True, revision=revision))


def test_pushing_identical_content_again_commits_nothing_and_uploads_no_bytes(env: LocalHub, base_run: Path):
    head, before = main_sha(env), len(env.requests)
    result = invoke("push", "--repo", REPO, "--run", str(base_run), "--tag", "v0.1.0", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["commit_sha"] is None and out["bytes_uploaded"] == 0
    assert out["counts"]["unchanged"] == len(out["files"]) and out["counts"]["new"] == out["counts"]["changed"] == 0
    assert "nothing to push" in result.output
    assert main_sha(env) == head and tags(env) == {"v0.1.0": head}
    assert bytes_sent(env, before) == 0
    assert all(r.method in ("GET", "HEAD") for r in env.requests[before:])


def test_dry_run_prints_the_plan_and_readme_diff_and_writes_nothing(env: LocalHub, base_run: Path, tmp_path: Path):
    run = variant(base_run, tmp_path, "Dry-run note: this sentence is new.")
    head, before = main_sha(env), len(env.requests)
    server_before, run_before = tree_digest(env.root), tree_digest(run)
    result = invoke("push", "--repo", REPO, "--run", str(run), "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(l.split()[:1] == ["changed"] and l.endswith("README.md") for l in lines)
    assert any(l.split()[:1] == ["unchanged"] and l.endswith("model.safetensors") for l in lines)
    assert "+Dry-run note: this sentence is new." in result.stdout
    assert "--- remote/README.md" in result.stdout
    assert "nothing was written" in result.stdout
    assert main_sha(env) == head
    assert tree_digest(env.root) == server_before and tree_digest(run) == run_before
    assert all(r.method in ("GET", "HEAD") for r in env.requests[before:])

    fresh = invoke("push", "--repo", f"{USER}/never-created", "--run", str(run), "--dry-run", "--json")
    assert fresh.exit_code == 0, fresh.output
    plan = json.loads(fresh.stdout)
    assert {f["status"] for f in plan["files"]} == {"new"} and plan["base_commit"] is None
    assert not api(env).repo_exists(f"{USER}/never-created")


def test_sabotaged_model_fails_the_smoke_test_and_leaves_main_and_the_pr_alone(
    env: LocalHub, base_run: Path, tmp_path: Path
):
    from safetensors.torch import load_file, save_file

    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    RUN_DIRS.append(run)
    weights = run / "model" / "model.safetensors"
    tensors = load_file(weights)
    tensors["qa_outputs.weight"] = -tensors["qa_outputs.weight"]  # a wrong QA head: the card's answers are stale
    tensors["qa_outputs.bias"] = -tensors["qa_outputs.bias"]
    save_file(tensors, weights, metadata={"format": "pt"})
    head, tags_before = main_sha(env), tags(env)
    result = invoke("push", "--repo", REPO, "--run", str(run), "--tag", "v9.9.9")
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.stdout
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("Error: smoke test failed") and "left open" in error and "card claims" in error
    assert main_sha(env) == head and tags(env) == tags_before
    prs = [d for d in api(env).get_repo_discussions(REPO) if d.is_pull_request]
    assert max(prs, key=lambda d: d.num).status == "open"


def test_a_server_failing_mid_push_leaves_main_unchanged_and_a_rerun_completes(
    env: LocalHub, base_run: Path, tmp_path: Path
):
    run = variant(base_run, tmp_path, "Second release: same model, updated card.")
    head = main_sha(env)
    args = ("push", "--repo", REPO, "--run", str(run), "--tag", "v0.2.0")

    env.fail_next(1, status=500, path_contains="/commit/")  # the commit itself fails
    failed = invoke(*args)
    assert failed.exit_code == 2, failed.output
    assert len(failed.output.strip().splitlines()[-1:]) == 1 and "main is unchanged" in failed.output
    assert main_sha(env) == head and "v0.2.0" not in tags(env)

    env.fail_next(1, status=500, path_contains="/merge")  # PR opened and smoke-tested, the merge fails
    failed = invoke(*args)
    assert failed.exit_code == 2, failed.output
    assert "merging PR" in failed.output and "is open" in failed.output
    assert main_sha(env) == head and "v0.2.0" not in tags(env)

    done = invoke(*args)
    assert done.exit_code == 0, done.output
    new_head = main_sha(env)
    assert new_head != head and tags(env)["v0.2.0"] == new_head
    assert not make_plan(stage_run(run), _remote(env, new_head)).has_changes

    # other content under an existing tag is refused before anything is sent
    before = len(env.requests)
    refused = invoke("push", "--repo", REPO, "--run", str(base_run), "--tag", "v0.2.0")
    assert refused.exit_code == 2 and "tag v0.2.0 already exists" in refused.output
    assert all(r.method in ("GET", "HEAD") for r in env.requests[before:]) and main_sha(env) == new_head


def test_dropped_connection_after_the_lfs_upload_then_no_pr_rerun_commits_to_main(
    env: LocalHub, base_run: Path, tmp_path: Path, monkeypatch
):
    """HF_HUB_DISABLE_XET mode (LFS batch API): the weights reach the server but the commit request loses its
    connection, so main is untouched; the re-run with --no-pr commits straight to main (no PR), still smoke-tested."""
    from huggingface_hub import constants
    from safetensors.torch import load_file, save_file

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(env, "lfs_uploads", True)
    run = tmp_path / "run"
    shutil.copytree(base_run, run)
    RUN_DIRS.append(run)
    weights = run / "model" / "model.safetensors"
    save_file(load_file(weights), weights, metadata={"format": "pt", "note": "re-saved"})  # new bytes, same model
    head, prs_before = main_sha(env), len(list(api(env).get_repo_discussions(REPO)))
    before = len(env.requests)

    env.fail_next(1, status=0, path_contains="/commit/")
    failed = invoke("push", "--repo", REPO, "--run", str(run), "--no-pr")
    assert failed.exit_code == 2, failed.output
    assert "main is unchanged" in failed.output and main_sha(env) == head
    assert any(r.path.startswith("/_lfs/upload/") and r.status == 200 for r in env.requests[before:])

    rerun = len(env.requests)
    done = invoke("push", "--repo", REPO, "--run", str(run), "--no-pr", "--json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert out["mode"] == "direct" and out["pr_url"] is None and out["smoke"]["ok"]
    assert main_sha(env) == out["commit_sha"] == out["main_sha"] != head
    assert "model.safetensors" in [f["path"] for f in out["files"] if f["status"] == "changed"]
    assert len(list(api(env).get_repo_discussions(REPO))) == prs_before
    # the weights reached the server before the drop: the re-run does not send them again
    assert bytes_sent(env, rerun) < weights.stat().st_size


# ---- bad input -----------------------------------------------------------------------------------------------------
def test_bad_input_gives_one_line_errors(env: LocalHub, base_run: Path, tmp_path: Path, monkeypatch):
    from huggingface_hub import constants

    def one_line_error(result, *needles: str) -> None:
        assert result.exit_code == 2, result.output
        last = result.output.strip().splitlines()
        assert last and last[-1].startswith("Error: ") and "Traceback" not in result.output, result.output
        assert all(n in last[-1] for n in needles), last[-1]

    before = len(env.requests)
    one_line_error(invoke("push", "--repo", "bad--id", "--run", str(base_run)), "invalid repo id")
    one_line_error(invoke("push", "--repo", f"{USER}/x/y", "--run", str(base_run)), "invalid repo id")
    one_line_error(invoke("push", "--repo", REPO, "--run", str(tmp_path / "nope")), "no run folder")
    one_line_error(invoke("push", "--repo", REPO, "--run", str(base_run), "--tag", "v 1"), "invalid tag")
    one_line_error(invoke("smoke-test", "--repo", "bad..id"), "invalid repo id")

    # a card that fails lint: nothing is created or uploaded
    run = variant(base_run, tmp_path, "TODO: write this section.")
    one_line_error(invoke("push", "--repo", f"{USER}/lint-fails", "--run", str(run)), "card lint failed")
    assert not api(env).repo_exists(f"{USER}/lint-fails")
    assert all(r.method in ("GET", "HEAD") for r in env.requests[before:])

    # someone else's namespace: the Hub refuses, one line, nothing uploaded
    one_line_error(invoke("push", "--repo", "bob/not-mine", "--run", str(base_run)), "creating bob/not-mine failed")

    monkeypatch.setenv("HF_TOKEN", "hf_" + "W" * 34)  # a token the server does not know
    one_line_error(invoke("push", "--repo", REPO, "--run", str(base_run)), "rejected the token")

    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token-file"))
    one_line_error(invoke("push", "--repo", REPO, "--run", str(base_run)), "no Hub token")


def test_the_sentinel_token_is_in_no_output_and_no_file(hub: LocalHub):
    assert OUTPUTS, "the tests above produced no output to check"
    for text in OUTPUTS:
        assert SENTINEL not in text
    for root in [*RUN_DIRS, hub.root]:
        for path in Path(root).rglob("*"):
            if path.is_file():
                assert SENTINEL.encode() not in path.read_bytes(), path
