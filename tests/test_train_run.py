"""`hubkit train` end to end on the tiny experiment, and a one-line error (exit 2) for every bad input."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from hubkit.cli import cli
from hubkit.record import RunRecord

from .helpers import TINY_CONFIG as TINY
from .helpers import assert_one_line_error, tree_digest


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    result = CliRunner().invoke(cli, ["train", "--config", str(TINY), "--out", str(out), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    return out, result


def test_writes_a_valid_record(tiny_run):
    out, result = tiny_run
    record = RunRecord.load(out)
    assert json.loads(result.stdout) == record.model_dump(mode="json")  # --json: stdout is only the record
    assert record.run_name == "tiny"
    assert record.base_model.source == "random_init" and record.base_model.model_type == "distilbert"
    assert record.base_model.architecture == "DistilBertForQuestionAnswering"
    assert record.lora.task_type == "QUESTION_ANS" and record.lora.modules_to_save == ["qa_outputs"]
    assert [d.format for d in record.datasets] == ["options", "squad"]
    assert record.rows_train + record.rows_eval == 16
    assert record.eval.num_examples == record.rows_eval
    assert record.loss_curve[-1].step == 3  # 9 + 3 train rows, batch 4, 1 epoch; the last step is logged too
    assert [row.r for row in record.ablation] == [2, 4]
    assert all(row.steps == 2 for row in record.ablation)
    assert [row.trainable < record.parameters.trainable for row in record.ablation] == [True, False]
    assert {b.name for b in record.baselines} == {"majority class", "first word of the context"}
    assert len(record.smoke_examples) == 2
    assert record.config_hash == __import__("hubkit.train.config", fromlist=["x"]).load_config(TINY).config_hash()


def test_run_folder_has_the_loss_plot_that_build_card_reuses(tiny_run, tmp_path):
    import shutil

    from hubkit.card import build_card
    from hubkit.card.plots import plot_key, read_plot_key

    out, _ = tiny_run
    record = RunRecord.load(out)
    assert read_plot_key(out / "loss.png") == plot_key(record.loss_curve, record.train_loss)
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    built = build_card(copy)
    assert built.plot.read_bytes() == (out / "loss.png").read_bytes()


def test_merged_model_matches_the_adapter_and_loads_without_peft(tiny_run):
    out, _ = tiny_run
    record = RunRecord.load(out)
    assert record.merge.max_abs_logit_diff < 1e-4
    assert record.merge.num_examples >= 2
    from transformers import pipeline

    qa = pipeline("question-answering", model=str(out / "model"))
    smoke = record.smoke_examples[0]
    got = qa(question=smoke.question, context=smoke.context)
    assert got["answer"] == smoke.answer and got["score"] == pytest.approx(smoke.score, abs=1e-5)


def test_run_folder_holds_model_adapter_and_no_training_state(tiny_run):
    out, _ = tiny_run
    model_files = {p.name for p in (out / "model").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= model_files
    assert not any(name.endswith((".bin", ".pt", ".pth")) for name in model_files)
    assert "training_args.bin" not in {p.name for p in out.rglob("*")}
    adapter_files = {p.name for p in (out / "adapter").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= adapter_files
    adapter_config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == "hubkit/tiny-distilbert-qa"  # a Hub id, not a local path


def test_refuses_to_overwrite_a_run(tiny_run):
    out, _ = tiny_run
    before = tree_digest(out)
    result = CliRunner().invoke(cli, ["train", "--config", str(TINY), "--out", str(out), "--quiet"])
    assert_one_line_error(result, "is not empty")
    assert tree_digest(out) == before


def test_overwrite_with_bad_data_leaves_the_old_run_whole(tiny_run, tmp_path):
    """The issue's repro: a config whose PhraseBank line lacks "@", --overwrite: one-line error, the run untouched."""
    import shutil

    out = tmp_path / "r"
    shutil.copytree(tiny_run[0], out)
    before = tree_digest(out)
    config = _config(tmp_path, _bad_data_file("Profits rose without a label\n"))
    result = CliRunner().invoke(cli, ["train", "--config", config, "--out", str(out), "--overwrite", "--quiet"])
    assert_one_line_error(result, "without '@label'")
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no partial folder left


# --- bad input ---------------------------------------------------------------------------------------------------------


def _assert_one_line_error(result, message: str) -> None:
    assert_one_line_error(result, message)


def _config(tmp_path, mutate) -> str:
    data = yaml.safe_load(TINY.read_text())
    for spec in data["datasets"]:  # keep the shipped data files reachable from tmp_path
        spec["path"] = str(TINY.parent / spec["path"])
    mutate(data, tmp_path)
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _non_utf8_fiqa(data, tmp_path):
    bad = tmp_path / "fiqa.jsonl"
    bad.write_bytes(b'{"question": "Why?", "answer": "Because \xff\xfe of rates."}\n' * 4)
    data["datasets"][1]["path"] = str(bad)


def _bad_data_file(text: str):
    def mutate(data, tmp_path):
        bad = tmp_path / "bad.txt"
        bad.write_text(text, encoding="latin-1")
        data["datasets"][0]["path"] = str(bad)

    return mutate


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d, p: d["datasets"][0].update(path=str(p / "missing.txt")), "no file at"),
        (_bad_data_file("Profits rose.@happy\n"), "bad label 'happy'"),
        (_bad_data_file("Profits rose without a label\n"), "without '@label'"),
        (_bad_data_file("\n\n"), "no rows"),
        (
            lambda d, p: d.update(datasets=[{**d["datasets"][0], "limit": 1}]),
            "cannot give both a train and an eval split",
        ),
        (lambda d, p: d["lora"].update(target_modules=["query"]), "target module 'query' is not a linear layer"),
        (lambda d, p: d["base_model"].update(path=str(p / "no-model")), "no model folder"),
        (lambda d, p: d["base_model"].update(path="pkg:hubkit_no_such_package"), "is not installed"),
        (lambda d, p: d["training"].update(lr_scheduler="wavy"), "unknown scheduler"),
        (_non_utf8_fiqa, "is not UTF-8 text (byte 0xff on line 1)"),
        (lambda d, p: d["card"].update(model_name="two\nlines"), "field card.model_name: must be one non-empty line"),
        (lambda d, p: d["datasets"][0].update(kind="csv"), "unknown dataset kind 'csv'"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(tmp_path, mutate, message):
    config = _config(tmp_path, mutate)
    result = CliRunner().invoke(cli, ["train", "--config", config, "--out", str(tmp_path / "run"), "--quiet"])
    _assert_one_line_error(result, message)
    assert not (tmp_path / "run" / "record.json").exists()


def test_missing_config_and_bad_yaml(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--config", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "r")])
    _assert_one_line_error(result, "no experiment config at")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: tiny\nlora: {r: 8\n")
    result = runner.invoke(cli, ["train", "--config", str(bad), "--out", str(tmp_path / "r")])
    _assert_one_line_error(result, "invalid YAML at line")


def test_out_must_be_a_folder(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    result = CliRunner().invoke(cli, ["train", "--config", str(TINY), "--out", str(target)])
    _assert_one_line_error(result, "is a file, not a folder")
    result = CliRunner().invoke(cli, ["train", "--config", str(TINY), "--out", str(target / "sub"), "--overwrite"])
    _assert_one_line_error(result, f"{target} is a file, not a folder")
    assert target.read_text() == "x"


def test_a_missing_base_model_is_reported_before_data_prep(tmp_path):
    config = _config(tmp_path, lambda d, p: d["base_model"].update(path=str(p / "no-model")))
    result = CliRunner().invoke(cli, ["train", "--config", config, "--out", str(tmp_path / "run"), "--quiet"])
    _assert_one_line_error(result, "no model folder (config.json)")
    assert "[1/7] data" not in result.stderr


def test_duplicate_keys_in_a_config_are_refused(tmp_path):
    text = TINY.read_text().replace("  r: 4\n", "  r: 4\n  r: 8\n", 1)
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["train", "--config", str(path), "--out", str(tmp_path / "run")])
    _assert_one_line_error(result, "duplicate key 'r'")
    result = CliRunner().invoke(cli, ["train", "--config", str(tmp_path), "--out", str(tmp_path / "r")])
    _assert_one_line_error(result, "no experiment config at")
