"""The smoke test: the card's own code blocks, as published at a revision, run in a fresh process and cache, and
every `# ->` answer is checked.

The run used here is real: the tiny DistilBERT QA model, a record whose smoke examples hold the answers and scores
this very model gives through `pipeline()` (computed below, never typed in), a card rendered from that record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubkit.card.usage import render_usage_snippet
from hubkit.cli import cli
from hubkit.errors import HubkitError
from hubkit.localhub import LocalHub
from hubkit.publish.smoke import (
    SmokeReport,
    SmokeTestFailed,
    check_block,
    format_table,
    matches,
    prepare_blocks,
    smoke_test,
)
from hubkit.record import RunRecord

from .helpers import SENTINEL, USER, build_published_run


def upload_model(hub: LocalHub, token: str, repo_id: str, model_dir: Path, readme: str | None = None) -> str:
    """Put a model and its card on the hub with the plain client (not hubkit push), return the commit."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=hub.url, token=token)
    api.create_repo(repo_id, exist_ok=True)
    ops = [CommitOperationAdd(p.name, str(p)) for p in model_dir.iterdir() if p.suffix in (".json", ".safetensors")]
    card = readme if readme is not None else (model_dir / "README.md").read_text(encoding="utf-8")
    ops.append(CommitOperationAdd("README.md", card.encode("utf-8")))
    return api.create_commit(repo_id, ops, commit_message="upload").oid


def card_for(run_dir: Path, repo_id: str) -> str:
    """The run's card rendered for `repo_id` (what `hubkit build-card --repo-id` writes)."""
    from hubkit.card.render import render_card

    return render_card(RunRecord.load(run_dir), repo_id=repo_id)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return build_published_run(tmp_path_factory.mktemp("smoke") / "run")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub.start(tmp_path_factory.mktemp("smoke-hub"), tokens={SENTINEL: USER}) as server:
        yield server


@pytest.fixture
def hub_env(hub: LocalHub, monkeypatch) -> LocalHub:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    return hub


def test_usage_snippet_gives_the_pipelines_answers(run_dir: Path):
    """The card's plain-transformers code decodes spans exactly like pipeline('question-answering')."""
    record = RunRecord.load(run_dir)
    scope: dict = {}
    exec(compile(render_usage_snippet(str(run_dir / "model"), "main"), "<snippet>", "exec"), scope)
    for example in record.smoke_examples:
        got = scope["answer_question"](example.question, example.context)
        assert got["answer"] == example.answer
        assert got["score"] == pytest.approx(example.score, abs=1e-6)


def test_blocks_are_pinned_only_by_the_declared_edit(run_dir: Path):
    readme = card_for(run_dir, f"{USER}/some-model")
    pinned = prepare_blocks(readme, "a" * 40)
    assert [p.pipeline_task for p in pinned] == ["question-answering", None]
    for p in pinned:
        lines = p.pinned_diff.splitlines()[2:]
        removed = [line[1:] for line in lines if line[:1] == "-"]
        added = [line[1:] for line in lines if line[:1] == "+"]
        assert added and len(added) == len(removed)
        assert all(f'revision="{"a" * 40}"' in line for line in added)
        assert all(".from_pretrained(" in line or "pipeline(" in line for line in removed)
    unedited = prepare_blocks(readme, None)
    assert [p.pinned_diff for p in unedited] == ["", ""]
    assert all(p.code == p.block.code for p in unedited)


def test_smoke_test_cli_passes_at_a_tag_from_an_empty_cache(hub_env: LocalHub, run_dir: Path):
    from huggingface_hub import HfApi

    repo = f"{USER}/smoke-ok"
    commit = upload_model(hub_env, SENTINEL, repo, run_dir / "model", card_for(run_dir, repo))
    HfApi(endpoint=hub_env.url, token=SENTINEL).create_tag(repo, tag="v0.1.0", revision=commit)
    result = CliRunner().invoke(cli, ["smoke-test", "--repo", repo, "--revision", "v0.1.0", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    n = len(RunRecord.load(run_dir).smoke_examples)
    assert report["ok"] and report["commit"] == commit and report["pinned"]
    assert [(b["kind"], b["status"]) for b in report["blocks"]] == [("pipeline", "ran"), ("no pipeline", "ran")]
    # each block prints answer and score for each example, and every printed value matched its `# ->`
    assert len(report["rows"]) == 2 * 2 * n and all(r["ok"] for r in report["rows"])
    claimed = [r["claimed"] for r in report["rows"] if r["block"] == 1][::2]
    assert claimed == [e.answer for e in RunRecord.load(run_dir).smoke_examples]
    assert SENTINEL not in result.output


def test_smoke_test_fails_when_the_readme_claims_another_answer(hub_env: LocalHub, run_dir: Path):
    repo = f"{USER}/smoke-bad-answer"
    first = RunRecord.load(run_dir).smoke_examples[0].answer
    readme = card_for(run_dir, repo).replace(f"# -> {first}\n", "# -> something the model never says\n", 1)
    assert "something the model never says" in readme
    upload_model(hub_env, SENTINEL, repo, run_dir / "model", readme)
    result = CliRunner().invoke(cli, ["smoke-test", "--repo", repo])
    assert result.exit_code == 1, result.output
    assert "card claims 'something the model never says'" in result.stdout
    assert "FAILED: 1 of" in result.stdout  # only the planted line disagrees
    assert SENTINEL not in result.output


def test_smoke_test_fails_when_the_readme_loads_another_repo(hub_env: LocalHub, run_dir: Path):
    repo = f"{USER}/smoke-wrong-repo"
    upload_model(hub_env, SENTINEL, repo, run_dir / "model", card_for(run_dir, f"{USER}/no-such-model"))
    with pytest.raises(SmokeTestFailed) as info:
        report = smoke_test(repo, endpoint=hub_env.url, token=SENTINEL)
        raise SmokeTestFailed(report.first_failure(), report) if not report.ok else AssertionError("passed")
    report = info.value.report
    assert {b.status for b in report.blocks} == {"failed"}
    assert all("raised" in r.reason for r in report.failures if r.got is None and r.claimed is None)
    assert SENTINEL not in json.dumps(report.to_dict())


def test_smoke_test_of_a_missing_repo_is_a_one_line_error(hub: LocalHub):
    with pytest.raises(HubkitError) as info:
        smoke_test(f"{USER}/does-not-exist", endpoint=hub.url, token=SENTINEL)
    message = str(info.value)
    assert "\n" not in message and "does-not-exist" in message and SENTINEL not in message


def test_a_pipeline_block_is_skipped_where_transformers_lacks_the_task_and_the_other_runs(tmp_path: Path):
    from hubkit.publish.smoke import _child_main

    job, out = tmp_path / "job.json", tmp_path / "out.json"
    job.write_text(
        json.dumps(
            [
                {
                    "label": "README.md block 1",
                    "code": 'raise SystemExit("must not run")\n',
                    "pipeline_task": "no-such-task",
                },
                {"label": "README.md block 2", "code": "x = 6 * 7\nprint(x)  # -> 42\n", "pipeline_task": None},
            ]
        )
    )
    _child_main(str(job), str(out))
    skipped, ran = json.loads(out.read_text())
    assert "has no 'no-such-task' pipeline" in skipped["skipped"]
    assert ran == {"printed": [[2, "42"]]}
    assert check_block(2, "x = 6 * 7\nprint(x)  # -> 42\n", [tuple(p) for p in ran["printed"]], 1e-3)[0].ok


def test_matches_compares_numbers_within_tolerance_and_text_exactly():
    assert matches("0.4217", "0.4217", 1e-3) == ""
    assert matches("0.4200", "0.42", 1e-3) == ""  # round() drops trailing zeros
    assert "off by" in matches("0.4217", "0.4300", 1e-3)
    assert matches("earnings  before\ninterest", "earnings before interest", 1e-3) == ""
    assert "card claims 'positive'" in matches("positive", "negative", 1e-3)


def test_check_block_needs_a_claim_for_every_print_and_a_print_for_every_claim():
    code = 'x = 1\nprint(x)  # -> 1\nprint("extra")\nif False:\n    print(2)  # -> 2\n'
    rows = check_block(1, code, [(2, "1"), (3, "extra")], 1e-3)
    by_line = {r.line: r for r in rows}
    assert by_line[2].ok
    assert not by_line[3].ok and "no `# ->`" in by_line[3].reason
    assert not by_line[5].ok and by_line[5].reason == "never printed"


def test_format_table_and_failure_message():
    rows = tuple(check_block(1, 'print("a")  # -> positive\n', [(1, "negative")], 1e-3))
    report = SmokeReport("a/b", "main", "0" * 40, 1e-3, False, rows)
    table = format_table(report)
    assert table.splitlines()[0].split()[:3] == ["block", "line", "claimed"]
    assert "FAIL: printed 'negative', card claims 'positive'" in table and not report.ok
    assert report.first_failure() == "README.md block 1 line 1: printed 'negative', card claims 'positive'"
    assert SmokeTestFailed("x", report).exit_code == 1


def test_nothing_under_the_run_or_the_server_root_holds_the_token(hub: LocalHub, run_dir: Path):
    for root in (run_dir, hub.root):
        for path in Path(root).rglob("*"):
            if path.is_file():
                assert SENTINEL.encode() not in path.read_bytes(), path
