"""evaluate_qa on a tiny real model (plain and PEFT-wrapped), and the trivial baselines a card shows beside it."""

from __future__ import annotations

import math

import datasets
import pytest

from hubkit.record import EvalMetrics
from hubkit.train.baselines import baselines
from hubkit.train.evaluation import evaluate_qa
from hubkit.train.tiny import write_tiny_base

LONG = " ".join(f"filler{i}" for i in range(80)) + " the stock dropped after the company missed earnings ."


def eval_examples() -> datasets.Dataset:
    rows = [
        ("Who reported profits?", "Apple reported record profits this quarter.", "Apple"),
        ("What is the financial sentiment of this statement?", "positive. Sales grew strongly.", "positive"),
        ("What is the financial sentiment of this statement?", "neutral. The board met on Tuesday.", "neutral"),
        ("Why did the stock drop?", LONG, "missed earnings"),
        ("Where is the office?", "The office is in Helsinki , Finland .", "Helsinki"),
    ]
    return datasets.Dataset.from_dict(
        {
            "id": [f"q{i}" for i in range(len(rows))],
            "question": [q for q, _, _ in rows],
            "context": [c for _, c, _ in rows],
            "answers": [{"text": [a], "answer_start": [c.index(a)]} for _, c, a in rows],
        }
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    folder = write_tiny_base(tmp_path_factory.mktemp("tiny"))
    return folder, AutoModelForQuestionAnswering.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


def test_evaluate_plain_model(tiny):
    _, model, tokenizer = tiny
    examples = eval_examples()
    model.train()
    outcome = evaluate_qa(model, tokenizer, examples, max_length=48, doc_stride=16, batch_size=2)
    assert model.training  # mode restored
    EvalMetrics(
        exact_match=outcome.exact_match, f1=outcome.f1, eval_loss=outcome.eval_loss, num_examples=outcome.num_examples
    )  # the record accepts it
    assert 0 <= outcome.exact_match <= outcome.f1 <= 100
    assert outcome.num_examples == len(examples) == 5
    assert math.isfinite(outcome.eval_loss) and outcome.eval_loss > 0
    assert set(outcome.predictions) == set(examples["id"][:])
    for row in examples:
        assert outcome.predictions[row["id"]] in row["context"]

    # dynamic padding must not change anything: one example per batch gives the same result
    single = evaluate_qa(model, tokenizer, examples, max_length=48, doc_stride=16, batch_size=1)
    assert single.predictions == outcome.predictions
    assert single.eval_loss == pytest.approx(outcome.eval_loss, rel=1e-5)


def test_evaluate_peft_wrapped_model(tiny):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForQuestionAnswering

    folder, base_model, tokenizer = tiny
    examples = eval_examples()
    peft_model = get_peft_model(
        AutoModelForQuestionAnswering.from_pretrained(folder),
        LoraConfig(task_type="QUESTION_ANS", r=4, lora_alpha=8, target_modules=["q_lin", "v_lin"]),
    )
    wrapped = evaluate_qa(peft_model, tokenizer, examples, max_length=48, doc_stride=16)
    plain = evaluate_qa(base_model, tokenizer, examples, max_length=48, doc_stride=16)
    # LoRA's B starts at zero: the wrapped model computes the same function as its base
    assert wrapped.predictions == plain.predictions
    assert wrapped.eval_loss == pytest.approx(plain.eval_loss, rel=1e-5)
    assert (wrapped.exact_match, wrapped.f1) == (plain.exact_match, plain.f1)


def test_evaluate_with_bf16_autocast(tiny):
    import torch

    _, model, tokenizer = tiny
    outcome = evaluate_qa(
        model, tokenizer, eval_examples(), max_length=48, doc_stride=16, autocast_dtype=torch.bfloat16
    )
    assert outcome.num_examples == 5 and math.isfinite(outcome.eval_loss)


def labelled(labels: list[str], first_words: list[str]) -> datasets.Dataset:
    contexts = [f"{w} The statement number {i} ." for i, w in enumerate(first_words)]
    return datasets.Dataset.from_dict(
        {
            "id": [str(i) for i in range(len(labels))],
            "question": ["What is the financial sentiment of this statement?"] * len(labels),
            "context": [c + f" {label}" for c, label in zip(contexts, labels)],
            "answers": [{"text": [label], "answer_start": [len(c) + 1]} for c, label in zip(contexts, labels)],
        }
    )


def test_baselines_on_a_hand_made_set():
    labels = ["neutral", "neutral", "positive", "neutral", "negative"]
    first = ["positive.", "Options:", "positive,", "(neutral)", "x"]
    rows = {b.name: b for b in baselines(labelled(labels, first))}
    assert set(rows) == {"majority class", "first word of the context"}
    majority_share = 100 * labels.count("neutral") / len(labels)
    assert rows["majority class"].exact_match == pytest.approx(majority_share)
    assert rows["majority class"].f1 == pytest.approx(majority_share)
    assert "neutral" in rows["majority class"].description
    # first words stripped of punctuation: "positive" (wrong), "Options", "positive" (right), "neutral" (right), "x"
    assert rows["first word of the context"].exact_match == pytest.approx(40.0)


def test_bert_model_gets_token_type_ids():
    """A BERT-type model must see the segment ids the tokenizer makes, as it does in training and pipeline()."""
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    from hubkit.train.tiny import real_vocab_path

    tokenizer = AutoTokenizer.from_pretrained(real_vocab_path().parent)
    model = BertForQuestionAnswering(
        BertConfig(
            vocab_size=tokenizer.vocab_size,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
        )
    )
    seen = []
    forward = model.forward

    def spy(**kwargs):
        seen.append(kwargs.get("token_type_ids"))
        return forward(**kwargs)

    model.forward = spy
    outcome = evaluate_qa(model, tokenizer, eval_examples(), max_length=48, doc_stride=16)
    assert outcome.num_examples == 5
    assert seen and all(t is not None and int(t.max()) == 1 for t in seen)


# --- per dataset --------------------------------------------------------------------------------------------------


def test_wilson_interval_matches_published_values():
    from hubkit.train.per_dataset import wilson_interval

    # the usual worked values of the 95% Wilson score interval: 0/10 -> 0-0.2775, 5/10 -> 0.2366-0.7634
    zero = wilson_interval(0, 10)
    assert (zero["low"], round(zero["high"], 2)) == (0.0, 27.75) and zero["method"] == "wilson"
    half = wilson_interval(5, 10)
    assert (round(half["low"], 2), round(half["high"], 2)) == (23.66, 76.34)
    # always inside [0, 100], around the observed share, narrower with more examples
    for k, n in [(0, 1), (1, 1), (3, 6), (196, 197), (450, 452)]:
        i = wilson_interval(k, n)
        assert 0 <= i["low"] <= 100 * k / n <= i["high"] <= 100
    assert wilson_interval(60, 100)["high"] - wilson_interval(60, 100)["low"] < half["high"] - half["low"]
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_label_breakdown_rows_are_gold_labels():
    from hubkit.train.per_dataset import label_breakdown

    golds = ["positive", "positive", "neutral", "negative", "neutral"]
    preds = ["Positive.", "neutral", "neutral", "the stock fell", "positive"]
    per_label, confusion = label_breakdown(golds, preds, ("negative", "neutral", "positive"))
    assert confusion["labels"] == ["negative", "neutral", "positive"] and confusion["other"] == "other"
    # rows = gold (negative, neutral, positive); columns = predicted (negative, neutral, positive, other)
    assert confusion["counts"] == [[0, 0, 0, 1], [0, 1, 1, 0], [0, 1, 1, 0]]
    assert per_label == [
        {"label": "negative", "num_examples": 1, "correct": 0},
        {"label": "neutral", "num_examples": 2, "correct": 1},
        {"label": "positive", "num_examples": 2, "correct": 1},  # "Positive." matches after SQuAD normalisation
    ]
    with pytest.raises(ValueError, match="not one of the labels"):
        label_breakdown(["bullish"], ["bullish"], ("negative", "neutral", "positive"))


def test_evaluate_reports_each_dataset(tiny):
    """Slices follow the `source` column; their sizes and example-weighted scores give back the pooled ones."""
    from hubkit.record import DatasetEval
    from hubkit.train.per_dataset import slice_scores, with_baselines

    _, model, tokenizer = tiny
    sources = ["acme/qa", "acme/sentiment", "acme/sentiment", "acme/qa", "acme/qa"]
    examples = eval_examples().add_column("source", sources)
    labels = {"acme/sentiment": ("negative", "neutral", "positive")}
    outcome = evaluate_qa(model, tokenizer, examples, max_length=48, doc_stride=16, label_sets=labels)
    qa, sentiment = outcome.by_dataset
    assert (qa["dataset"], qa["num_examples"], sentiment["dataset"], sentiment["num_examples"]) == (
        "acme/qa",
        3,
        "acme/sentiment",
        2,
    )
    total = sum(s["num_examples"] for s in outcome.by_dataset)
    assert sum(s["num_examples"] * s["exact_match"] for s in outcome.by_dataset) / total == pytest.approx(
        outcome.exact_match
    )
    assert sum(s["num_examples"] * s["f1"] for s in outcome.by_dataset) / total == pytest.approx(outcome.f1)
    assert all(math.isfinite(s["eval_loss"]) for s in outcome.by_dataset)
    assert qa["labels"] is None and qa["confusion"] is None
    assert sum(x["num_examples"] for x in sentiment["labels"]) == 2
    assert sum(x["correct"] for x in sentiment["labels"]) == sentiment["exact_match_correct"]
    for s in outcome.by_dataset:
        expected = [outcome.predictions[i] for i, src in zip(examples["id"][:], sources) if src == s["dataset"]]
        assert len(expected) == s["num_examples"]

    full = with_baselines(outcome.by_dataset, examples)
    for entry in full:
        DatasetEval(**entry)  # the record accepts it
    # majority class is a baseline for label slices only: on span extraction it copies one gold answer
    assert [b.name for b in full[0]["baselines"]] == ["first word of the context"]
    assert [b.name for b in full[1]["baselines"]] == ["majority class", "first word of the context"]
    assert slice_scores(outcome.by_dataset)[1] == {
        k: sentiment[k] for k in ("dataset", "num_examples", "exact_match", "f1", "eval_loss")
    }


def test_examples_without_source_have_no_slices(tiny):
    _, model, tokenizer = tiny
    assert evaluate_qa(model, tokenizer, eval_examples(), max_length=48, doc_stride=16).by_dataset == []
