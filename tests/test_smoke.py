"""The smoke test: a pushed revision, loaded in a fresh process and cache, must give the answers its card claims.

The run used here is real: the tiny DistilBERT QA model, a record whose smoke examples hold the answers and scores
this very model gives through `pipeline()` (computed below, never typed in), a card rendered from that record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubkit.cli import cli
from hubkit.localhub import LocalHub
from hubkit.publish.smoke import (
    USAGE_SNIPPET,
    SmokeTestFailed,
    compare,
    format_table,
    render_usage_snippet,
    smoke_test,
)
from hubkit.record import RunRecord

from .conftest import FIXTURES

SENTINEL = "hf_" + "SENTINELsentinel" * 2 + "1234"  # built at run time: no token-shaped literal in the repo
USER = "alice"
EXTRA_EXAMPLE = {
    "question": "What did Nokia raise?",
    "context": "Shares of Nokia rose 5% after the company reported strong quarterly revenue and raised its outlook.",
}


def build_run(folder: Path, repo_id: str = f"{USER}/tiny-finance-qa") -> Path:
    """A complete run folder: model/ (tiny weights, tokenizer, config, card, loss plot), record.json, adapter/,
    and files that must never be pushed. The record's smoke examples are what this model really answers."""
    from transformers import pipeline

    from hubkit.card import build_card
    from hubkit.train.tiny import write_tiny_base

    run = Path(folder)
    model = write_tiny_base(run / "model")
    qa = pipeline("question-answering", model=str(model), device="cpu")
    data = json.loads((FIXTURES / "reference_record.json").read_text(encoding="utf-8"))
    examples = [{"question": e["question"], "context": e["context"]} for e in data["smoke_examples"]] + [EXTRA_EXAMPLE]
    for example in examples:
        got = qa(question=example["question"], context=example["context"])
        example.update(answer=got["answer"], score=float(got["score"]))
    data["smoke_examples"] = examples
    data["card"]["model_name"] = repo_id.split("/")[-1]
    record = RunRecord.from_dict(data)
    record.save(run)
    build_card(run, repo_id=repo_id)  # the card + loss plot exactly as `hubkit build-card` writes them
    # things a run folder holds that must stay local
    (model / "training_args.bin").write_bytes(b"\x80\x04training args")
    (model / "optimizer.pt").write_bytes(b"\x80\x04optimizer state")
    (model / "checkpoint-10").mkdir()
    (model / "checkpoint-10" / "model.safetensors").write_bytes(b"old")
    (run / "adapter").mkdir()
    (run / "adapter" / "adapter_config.json").write_text("{}")
    return run


def upload_model(hub: LocalHub, token: str, repo_id: str, model_dir: Path, record: Path) -> str:
    """Put a model on the hub with the plain client (not hubkit push), return the commit."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=hub.url, token=token)
    api.create_repo(repo_id, exist_ok=True)
    ops = [CommitOperationAdd(p.name, str(p)) for p in model_dir.iterdir() if p.suffix in (".json", ".safetensors")]
    ops.append(CommitOperationAdd("record.json", str(record)))
    return api.create_commit(repo_id, ops, commit_message="upload").oid


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return build_run(tmp_path_factory.mktemp("smoke") / "run")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with LocalHub.start(tmp_path_factory.mktemp("smoke-hub"), tokens={SENTINEL: USER}) as server:
        yield server


def test_usage_snippet_gives_the_pipelines_answers(run_dir: Path):
    """The card's plain-transformers code decodes spans exactly like pipeline('question-answering')."""
    record = RunRecord.load(run_dir)
    scope: dict = {}
    exec(compile(render_usage_snippet(str(run_dir / "model"), "main"), "<snippet>", "exec"), scope)
    for example in record.smoke_examples:
        got = scope["answer_question"](example.question, example.context)
        assert got["answer"] == example.answer
        assert got["score"] == pytest.approx(example.score, abs=1e-6)


def test_render_usage_snippet_fills_repo_and_revision():
    code = render_usage_snippet('alice/my-"model"', "v1.0.0")
    assert '"<REPO_ID>"' in USAGE_SNIPPET and '"<REVISION>"' in USAGE_SNIPPET
    assert 'repo_id, revision = "alice/my-\\"model\\"", "v1.0.0"' in code
    compile(code, "<snippet>", "exec")  # still valid Python after substitution
    assert "pipeline(" not in USAGE_SNIPPET  # version-independent: no pipeline


def test_compare_checks_answer_and_score_tolerance():
    example = {"question": "q", "context": "c", "answer": "positive", "score": 0.5}
    assert compare(1, "pipeline", example, {"answer": "positive", "score": 0.5009}, 1e-3).ok
    off = compare(1, "pipeline", example, {"answer": "positive", "score": 0.502}, 1e-3)
    assert not off.ok and "score off" in off.reason
    wrong = compare(1, "snippet", example, {"answer": "negative", "score": 0.5}, 1e-3)
    assert not wrong.ok and "answer differs" in wrong.reason
    assert compare(1, "pipeline", example, {"answer": "positive", "score": 0.502}, 1e-2).ok


def test_smoke_test_cli_passes_at_a_tag_from_an_empty_cache(hub: LocalHub, run_dir: Path, monkeypatch):
    from huggingface_hub import HfApi

    repo = f"{USER}/smoke-ok"
    commit = upload_model(hub, SENTINEL, repo, run_dir / "model", run_dir / "record.json")
    HfApi(endpoint=hub.url, token=SENTINEL).create_tag(repo, tag="v0.1.0", revision=commit)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    result = CliRunner().invoke(cli, ["smoke-test", "--repo", repo, "--revision", "v0.1.0", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    n = len(RunRecord.load(run_dir).smoke_examples)
    assert report["ok"] and report["commit"] == commit
    assert len(report["rows"]) == 2 * n and {r["method"] for r in report["rows"]} == {"pipeline", "snippet"}
    assert SENTINEL not in result.output


def test_smoke_test_cli_fails_when_the_card_claims_other_answers(hub: LocalHub, run_dir: Path, tmp_path, monkeypatch):
    repo = f"{USER}/smoke-bad"
    data = json.loads((run_dir / "record.json").read_text())
    data["smoke_examples"][0]["answer"] = "something the model never says"
    lying = tmp_path / "record.json"
    lying.write_text(json.dumps(data))
    upload_model(hub, SENTINEL, repo, run_dir / "model", lying)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", SENTINEL)
    result = CliRunner().invoke(cli, ["smoke-test", "--repo", repo])
    assert result.exit_code == 1, result.output
    assert "FAIL: answer differs" in result.stdout
    assert "something the model never says" in result.stdout
    assert "FAILED: 2 of" in result.stdout  # both methods disagree with the claim on example 1
    assert SENTINEL not in result.output


def test_smoke_test_of_a_missing_repo_is_a_one_line_error(hub: LocalHub):
    from hubkit.errors import HubkitError

    with pytest.raises(HubkitError) as info:
        smoke_test(f"{USER}/does-not-exist", endpoint=hub.url, token=SENTINEL)
    message = str(info.value)
    assert "\n" not in message and "does-not-exist" in message and SENTINEL not in message


def test_format_table_and_failure_message():
    from hubkit.publish.smoke import SmokeReport

    example = {"question": "What is the sentiment?", "context": "c", "answer": "positive", "score": 0.9}
    rows = (
        compare(1, "pipeline", example, {"answer": "positive", "score": 0.9}, 1e-3),
        compare(1, "snippet", example, {"answer": "negative", "score": 0.4}, 1e-3),
    )
    report = SmokeReport("a/b", "main", "0" * 40, 1e-3, rows)
    table = format_table(report)
    assert table.splitlines()[0].split()[:3] == ["#", "method", "question"]
    assert "FAIL: answer differs" in table and not report.ok
    assert "'negative'" in report.first_failure() and "'positive'" in report.first_failure()
    assert SmokeTestFailed("x", report).exit_code == 1


def test_nothing_under_the_run_or_the_server_root_holds_the_token(hub: LocalHub, run_dir: Path):
    for root in (run_dir, hub.root):
        for path in Path(root).rglob("*"):
            if path.is_file():
                assert SENTINEL.encode() not in path.read_bytes(), path
