"""The offline card lint: a clean card passes, and each planted defect is caught with its own code."""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from hubkit.card.lint import LintProblem, lint_card
from hubkit.card.render import render_card
from hubkit.errors import HubkitError
from hubkit.record import RunRecord

from .conftest import FIXTURES

REFERENCE = FIXTURES / "reference_record.json"


def write_model_files(folder: Path, architecture: str = "DistilBertForQuestionAnswering") -> None:
    """What a merged transformers model folder holds, minus the size: config.json + a real safetensors file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"architectures": [architecture], "model_type": "distilbert"}))
    save_file({"qa_outputs.weight": np.zeros((2, 4), dtype=np.float32)}, str(folder / "model.safetensors"))


@pytest.fixture
def card_dir(tmp_path) -> Path:
    """A clean card beside model files, as build-card leaves it."""
    folder = tmp_path / "model"
    write_model_files(folder)
    (folder / "README.md").write_text(render_card(RunRecord.load(REFERENCE)), encoding="utf-8")
    return folder


def plant(card_dir: Path, old: str, new: str) -> list[LintProblem]:
    card = card_dir / "README.md"
    text = card.read_text(encoding="utf-8")
    assert old in text, f"fixture card has no {old!r} to replace"
    card.write_text(text.replace(old, new, 1), encoding="utf-8")
    return lint_card(card)


def codes(problems: list[LintProblem]) -> set[str]:
    return {p.code for p in problems}


def test_clean_card_has_no_problems(card_dir):
    assert lint_card(card_dir / "README.md") == []
    assert lint_card(card_dir) == []  # a folder means its README.md


def test_missing_card_is_bad_input(tmp_path):
    with pytest.raises(HubkitError, match="no model card"):
        lint_card(tmp_path / "nope.md")


@pytest.mark.parametrize(
    "old, new, code",
    [
        ("license: apache-2.0", "license: [apache-2.0", "front-matter"),  # YAML syntax error
        ("---\nbase_model:", "base_model:", "front-matter"),  # no front matter block at all
        ("  results:\n", "  resultz:\n", "front-matter"),  # model-index huggingface_hub cannot parse
        ("library_name: transformers\n", "", "metadata-missing"),
        ("base_model_relation: finetune", "base_model_relation: finetuned", "metadata-invalid"),
        ("value: 99.49238578680203\n      name: Exact Match", "value: 98.0\n      name: Exact Match", "model-index"),
        ("| F1 | 99.49% |", "| F1 | 97.25% |", "model-index"),  # the phrasebank section's F1
        ("| Exact Match (EM) | 99.49% |\n", "", "model-index"),  # its section no longer shows the metric
        ("### takala/financial_phrasebank\n", "### Sentiment\n", "model-index"),  # no section for the dataset
        # model-index shape: one Hub dataset per result, the source dataset's own config and split
        (
            "type: takala/financial_phrasebank\n",
            "type: explodinggradients/fiqa+takala/financial_phrasebank\n",
            "model-index-dataset",
        ),
        ("split: train\n", "split: eval\n", "model-index-dataset"),
        ("      split: test\n", "", "model-index-dataset"),
        ("      config: main\n", "", "model-index-dataset"),
        # license from the Hub's list
        ("license: apache-2.0", "license: apache-2", "license"),
        ("license: apache-2.0", "license: Apache License 2.0", "license"),
        ("license: apache-2.0", "license: other", "license"),  # 'other' without license_name
        ("## Limitations\n", "## Limitations\n\nMore Information Needed\n", "placeholder"),
        ("## Limitations\n", "## Limitations\n\n- TODO: write limitations\n", "placeholder"),
        ("## Limitations\n", "## Limitations\n\n- {{ record.card.limitations }}\n", "placeholder"),
        ("| Eval loss | 0.0218 |", "| Eval loss | None |", "placeholder"),  # the pooled table's
        ("| Eval loss | 0.0218 |", "| Eval loss | nan |", "placeholder"),
        ("| F1 | 99.50% |", "| F1 | NaN% |", "placeholder"),
        (
            "base_model: distilbert/distilbert-base-uncased-distilled-squad",
            "base_model: /home/me/models/distilbert",
            "base-model",
        ),
        (
            "base_model: distilbert/distilbert-base-uncased-distilled-squad",
            "base_model: ./checkpoints/final",
            "base-model",
        ),
        (
            "base_model: distilbert/distilbert-base-uncased-distilled-squad",
            "base_model: C:\\models\\distilbert",
            "base-model",
        ),
        ("language:\n- en", "language: no", "yaml-trap"),
        ("language:\n- en", "language:\n- en\n- no", "yaml-trap"),
    ],
)
def test_planted_defect_is_caught(card_dir, old, new, code):
    problems = plant(card_dir, old, new)
    assert code in codes(problems), problems
    for problem in problems:
        assert problem.message and "\n" not in problem.message


def test_pooled_table_is_not_what_the_model_index_reports(card_dir):
    """model-index holds per-dataset scores: the pooled table may differ from every one of them."""
    assert plant(card_dir, "| F1 | 99.50% |", "| F1 | 97.25% |") == []


def test_other_license_with_a_name_is_fine(card_dir):
    assert plant(card_dir, "license: apache-2.0", "license: other\nlicense_name: acme-research") == []


def test_license_list_is_the_shipped_data_file():
    from importlib import resources

    from hubkit.data import hub_license_ids

    text = resources.files("hubkit.data").joinpath("hub_licenses.txt").read_text(encoding="utf-8")
    assert "huggingface.co/docs/hub" in text  # the file names its source
    ids = hub_license_ids()
    assert {"apache-2.0", "mit", "cc-by-nc-sa-3.0", "cc-by-sa-4.0", "other", "unknown"} <= ids
    assert not any(i.startswith("#") or " " in i for i in ids)


def test_quoted_norwegian_is_fine(card_dir):
    assert plant(card_dir, "language:\n- en", "language:\n- en\n- 'no'") == []


def test_none_in_a_sentence_is_not_a_placeholder(card_dir):
    assert plant(card_dir, "## Limitations\n", "## Limitations\n\nNone of the examples are private.\n") == []


def test_token_is_caught_without_being_echoed(card_dir):
    token = "hf_" + "".join(string.ascii_letters[(7 * i) % 52] for i in range(34))
    problems = plant(card_dir, "## Limitations\n", f"## Limitations\n\nlogin with {token}\n")
    assert codes(problems) == {"token"}
    assert all(token not in p.message and token[3:] not in p.message for p in problems)


def test_adapter_config_means_not_a_plain_transformers_model(card_dir):
    (card_dir / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    problems = lint_card(card_dir / "README.md")
    assert codes(problems) == {"library-name"} and "adapter_config.json" in problems[0].message


def test_no_weights_beside_the_card(card_dir):
    (card_dir / "model.safetensors").unlink()
    problems = lint_card(card_dir / "README.md")
    assert codes(problems) == {"library-name"} and "no model weights" in problems[0].message


def test_no_config_beside_the_card(card_dir):
    (card_dir / "config.json").unlink()
    problems = lint_card(card_dir / "README.md")
    assert codes(problems) == {"library-name"} and "no config.json" in problems[0].message


def test_pipeline_tag_must_match_the_architecture(card_dir):
    write_model_files(card_dir, architecture="DistilBertForSequenceClassification")
    problems = lint_card(card_dir / "README.md")
    assert codes(problems) == {"pipeline-tag"}
    assert "DistilBertForSequenceClassification" in problems[0].message


def test_model_dir_can_be_elsewhere(card_dir, tmp_path):
    """The card may be written apart from the model; the model folder is then named explicitly."""
    elsewhere = tmp_path / "preview"
    elsewhere.mkdir()
    card = elsewhere / "README.md"
    card.write_text((card_dir / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    assert "library-name" in codes(lint_card(card))
    assert lint_card(card, model_dir=card_dir) == []


# --- usage blocks name the repo being pushed -----------------------------------------------------------------------

REPO = "me/distilbert-lora-finance-qa"


@pytest.fixture
def pushed_card(tmp_path) -> Path:
    card = tmp_path / "README.md"
    card.write_text(render_card(RunRecord.load(REFERENCE), repo_id=REPO), encoding="utf-8")
    return card


def test_usage_blocks_name_the_pushed_repo(pushed_card):
    assert lint_card(pushed_card, model_dir=None) == lint_card(pushed_card, model_dir=None, repo_id=REPO)
    problems = [p for p in lint_card(pushed_card, repo_id=REPO) if p.code == "usage-repo"]
    assert problems == []


@pytest.mark.parametrize(
    "old, new",
    [
        (f'model="{REPO}"', 'model="distilbert-lora-finance-qa"'),  # the bare model name: a 404 on the Hub
        (f'repo_id, revision = "{REPO}", "main"', 'repo_id, revision = "someone/else", "main"'),
        (
            "model = AutoModelForQuestionAnswering.from_pretrained(repo_id, revision=revision)",
            'model = AutoModelForQuestionAnswering.from_pretrained("someone/else")',
        ),
    ],
)
def test_usage_block_naming_another_repo_is_caught(pushed_card, old, new):
    text = pushed_card.read_text(encoding="utf-8")
    assert old in text
    pushed_card.write_text(text.replace(old, new, 1), encoding="utf-8")
    problems = [p for p in lint_card(pushed_card, repo_id=REPO) if p.code == "usage-repo"]
    assert len(problems) == 1 and REPO in problems[0].message and "\n" not in problems[0].message
    # without a repo id to compare with, the check does not run
    assert "usage-repo" not in codes(lint_card(pushed_card))


def test_card_built_without_repo_id_fails_for_a_namespaced_push(tmp_path):
    card = tmp_path / "README.md"
    card.write_text(render_card(RunRecord.load(REFERENCE)), encoding="utf-8")  # usage loads the bare model_name
    assert "usage-repo" in codes(lint_card(card, repo_id=REPO))
