"""`hubkit space` against a local Hub with the real huggingface_hub client: one commit, idempotent, the card linked,
and bad input refused in one line with nothing half-published.

One tiny run for the module; each test publishes it under its own model id, so tests run alone and in any order.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubkit.cli import cli
from hubkit.localhub import LocalHub
from hubkit.record import RunRecord
from hubkit.space.render import render_space

from .helpers import SENTINEL, USER, build_published_run
from .space_helpers import publish_model, require_gradio

OUTPUTS: list[str] = []

require_gradio()  # the app runs on gradio (the [space] extra)


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    return build_published_run(tmp_path_factory.mktemp("space") / "run", f"{USER}/tiny-finance-qa")


@pytest.fixture
def run(base_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(base_run, copy)
    return copy


def api(hub: LocalHub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=SENTINEL)


def invoke(*args: str):
    result = CliRunner().invoke(cli, ["space", *args])
    OUTPUTS.append(result.output)
    return result


def one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines and lines[-1].startswith("Error: ") and "Traceback" not in result.output, result.output
    assert all(n in lines[-1] for n in needles), lines[-1]


def space_exists(hub: LocalHub, space_id: str) -> bool:
    return api(hub).repo_exists(space_id, repo_type="space")


def head(hub: LocalHub, repo_id: str, repo_type: str = "model") -> str:
    return api(hub).repo_info(repo_id, repo_type=repo_type, revision="main").sha


def download(hub: LocalHub, repo_id: str, filename: str, tmp_path: Path, repo_type: str = "model") -> str:
    path = api(hub).hf_hub_download(repo_id, filename, repo_type=repo_type, cache_dir=tmp_path / "dl")
    return Path(path).read_text(encoding="utf-8")


def test_publishes_a_gradio_space_in_one_commit_links_the_card_and_republishes_nothing(
    env: LocalHub, run: Path, tmp_path: Path
):
    from hubkit.card import build_card

    model, space = f"{USER}/space-one", f"{USER}/space-one-demo"
    build_card(run, repo_id=model)  # the run's card as `hubkit release --repo` renders it for this id
    model_commit = publish_model(env, SENTINEL, model, run)

    first = invoke("--model", model, "--run", str(run), "--json")
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert result["space_id"] == space and result["created"] and result["commit_sha"]
    assert {f["path"]: f["status"] for f in result["files"]} == {
        "README.md": "new",
        "app.py": "new",
        "requirements.txt": "new",
    }

    hub_api = api(env)
    assert hub_api.space_info(space).sdk == "gradio"
    commits = hub_api.list_repo_commits(space, repo_type="space")
    assert sum(c.title.startswith("hubkit:") for c in commits) == 1  # one commit carried the files
    expected = render_space(RunRecord.load(run), model, space).files
    for name, text in expected.items():
        assert download(env, space, name, tmp_path, "space") == text  # exactly what hubkit renders
        assert (run / "space" / name).read_text(encoding="utf-8") == text  # and what it wrote beside the run

    # the model card now links the Space, in a commit that changed README.md alone
    card = download(env, model, "README.md", tmp_path)
    assert f"**Try it:** [{space}](https://huggingface.co/spaces/{space})" in card
    assert result["card"]["status"] == "linked"
    before = {f.path: f.blob_id for f in hub_api.list_repo_tree(model, revision=model_commit)}
    after = {f.path: f.blob_id for f in hub_api.list_repo_tree(model, revision=result["card"]["commit_sha"])}
    assert {p for p in before if before[p] != after[p]} == {"README.md"} and before.keys() == after.keys()
    assert (run / "model" / "README.md").read_text(encoding="utf-8") == card  # the run's card keeps the link
    from hubkit.publish.stage import make_plan, remote_files, stage_run

    tree = hub_api.list_repo_tree(model, recursive=True, revision=result["card"]["commit_sha"])
    assert not make_plan(stage_run(run), remote_files(tree)).has_changes  # so `hubkit push` of the run keeps it

    # the same command again: no commit anywhere
    space_head, model_head = head(env, space, "space"), head(env, model)
    again = invoke("--model", model, "--run", str(run))
    assert again.exit_code == 0, again.output
    assert f"Space {space} is up to date (no commit)" in again.stdout
    assert "model card: already" in again.stdout
    assert f"open it locally: hubkit space --model {model} --serve" in again.stdout
    assert (head(env, space, "space"), head(env, model)) == (space_head, model_head)
    assert SENTINEL not in first.output + again.output


def test_dry_run_prints_the_plan_and_writes_nothing(env: LocalHub, run: Path):
    model = f"{USER}/space-dry"
    publish_model(env, SENTINEL, model, run)
    model_head, before = head(env, model), len(env.requests)
    result = invoke("--model", model, "--repo", f"{USER}/dry-demo", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: would commit 3 file(s) to Space alice/dry-demo; nothing was written" in result.stdout
    assert "model card: would-link" in result.stdout
    assert not space_exists(env, f"{USER}/dry-demo") and head(env, model) == model_head
    assert all(r.method in ("GET", "HEAD") for r in env.requests[before:])


def test_a_failed_commit_leaves_no_space_behind(env: LocalHub, run: Path):
    model = f"{USER}/space-fails"
    publish_model(env, SENTINEL, model, run)
    model_head = head(env, model)
    env.fail_next(1, status=500, path_contains=f"/api/spaces/{model}-demo/commit/")  # the Space's one commit
    result = invoke("--model", model)
    one_line_error(result, "the Space commit failed", "the new Space was removed")
    assert not space_exists(env, f"{model}-demo") and head(env, model) == model_head
    # and the same command again publishes it
    assert invoke("--model", model).exit_code == 0 and space_exists(env, f"{model}-demo")


def test_bad_input_is_one_line_and_publishes_nothing(env: LocalHub, run: Path, tmp_path: Path, monkeypatch):
    from huggingface_hub import CommitOperationAdd, constants

    hub_api = api(env)
    # a model repo without a question-answering head (a fill-mask config), with a hubkit record
    masked = f"{USER}/not-qa"
    config = json.loads((run / "model" / "config.json").read_text())
    config["architectures"] = ["DistilBertForMaskedLM"]
    hub_api.create_repo(masked)
    hub_api.create_commit(
        masked,
        [
            CommitOperationAdd("config.json", json.dumps(config).encode()),
            CommitOperationAdd("record.json", str(run / "record.json")),
        ],
        commit_message="not a QA model",
    )
    # a QA model that was not pushed by hubkit: no record.json, so no examples
    bare = f"{USER}/no-record"
    hub_api.create_repo(bare)
    hub_api.create_commit(
        bare, [CommitOperationAdd("config.json", str(run / "model" / "config.json"))], commit_message="config only"
    )
    good = f"{USER}/space-good"
    publish_model(env, SENTINEL, good, run)
    other_run = tmp_path / "other"
    shutil.copytree(run, other_run)
    record = json.loads((other_run / "record.json").read_text())
    record["run_name"] = "another-run"
    (other_run / "record.json").write_text(json.dumps(record))

    before = len(env.requests)
    one_line_error(invoke("--model", f"{USER}/does-not-exist"), "no model repo alice/does-not-exist")
    one_line_error(invoke("--model", masked), "has no question-answering head", "DistilBertForMaskedLM")
    one_line_error(invoke("--model", bare), "has no record.json")
    one_line_error(invoke("--model", good, "--repo", good), f"{good} is a model repo")
    one_line_error(invoke("--model", good, "--repo", masked), f"{masked} is a model repo")
    one_line_error(invoke("--model", good, "--run", str(other_run)), "record.json is not the one on")
    one_line_error(invoke("--model", "bad..id"), "invalid repo id")
    monkeypatch.setenv("HF_TOKEN", "hf_" + "W" * 34)  # a token the server does not know
    one_line_error(invoke("--model", good), "rejected the token")
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token-file"))
    one_line_error(invoke("--model", good), "no Hub token")

    assert all(r.method in ("GET", "HEAD") for r in env.requests[before:])  # nothing was written anywhere
    for space in (f"{USER}/does-not-exist-demo", f"{masked}-demo", f"{bare}-demo", f"{good}-demo"):
        assert not space_exists(env, space)
    assert all(SENTINEL not in output for output in OUTPUTS)
