"""SQuAD-style features: windows over long contexts, answer positions, no padding, token_type_ids kept, decoding."""

from __future__ import annotations

import datasets
import numpy as np
import pytest

from hubkit.train.features import postprocess_predictions, prepare_eval_features, prepare_train_features
from hubkit.train.tiny import real_vocab_path, write_tiny_base

ANSWER = "missed earnings by thirty percent"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(write_tiny_base(tmp_path_factory.mktemp("tiny"), with_weights=False))


def long_examples() -> dict:
    filler = " ".join(f"word{i}" for i in range(60))
    context = f"{filler} the stock dropped after the company {ANSWER} and cut guidance . {filler}"
    return {
        "id": ["long", "short"],
        "question": ["  Why did the stock drop?", "Who reported?"],
        "context": [context, "Apple reported record profits."],
        "answers": [
            {"text": [ANSWER], "answer_start": [context.index(ANSWER)]},
            {"text": ["Apple"], "answer_start": [0]},
        ],
    }


def test_long_context_windows_and_positions(tokenizer):
    examples = long_examples()
    feats = prepare_eval_features(examples, tokenizer, max_length=64, doc_stride=16)
    long_windows = [i for i, e in enumerate(feats["example_id"]) if e == "long"]
    assert len(long_windows) >= 3
    found = missing = 0
    for i in long_windows:
        s, e = feats["start_positions"][i], feats["end_positions"][i]
        offsets = feats["offset_mapping"][i]
        context_offsets = [o for o in offsets if o is not None]
        window_start, window_end = context_offsets[0][0], context_offsets[-1][1]
        answer_start = examples["answers"][0]["answer_start"][0]
        inside = window_start <= answer_start and answer_start + len(ANSWER) <= window_end
        if inside:
            found += 1
            assert examples["context"][0][offsets[s][0] : offsets[e][1]] == ANSWER
        else:
            missing += 1
            cls = feats["input_ids"][i].index(tokenizer.cls_token_id)
            assert (s, e) == (cls, cls)
        # question and special tokens carry no offset; the question comes first
        assert offsets[0] is None and offsets[1] is None
    assert found >= 1 and missing >= 1


def test_train_features_match_eval_features_and_are_unpadded(tokenizer):
    examples = long_examples()
    train = prepare_train_features(examples, tokenizer, max_length=64, doc_stride=16)
    evalf = prepare_eval_features(examples, tokenizer, max_length=64, doc_stride=16)
    assert train["start_positions"] == evalf["start_positions"]
    assert train["end_positions"] == evalf["end_positions"]
    assert "offset_mapping" not in train and "overflow_to_sample_mapping" not in train
    lengths = {len(ids) for ids in train["input_ids"]}
    assert max(lengths) <= 64 and len(lengths) > 1  # the short example is not padded up
    assert all(tokenizer.pad_token_id not in ids for ids in train["input_ids"])


def test_token_type_ids_kept_for_bert():
    from transformers import AutoTokenizer

    bert = AutoTokenizer.from_pretrained(real_vocab_path().parent)
    feats = prepare_train_features(long_examples(), bert, max_length=64, doc_stride=16)
    assert "token_type_ids" in feats
    for types, ids in zip(feats["token_type_ids"], feats["input_ids"]):
        first_sep = ids.index(bert.sep_token_id)
        assert set(types[: first_sep + 1]) == {0} and set(types[first_sep + 1 :]) == {1}


def test_postprocess_picks_best_valid_span(tokenizer):
    examples = datasets.Dataset.from_dict(long_examples())
    feats = examples.map(
        prepare_eval_features,
        batched=True,
        remove_columns=examples.column_names,
        fn_kwargs={"tokenizer": tokenizer, "max_length": 64, "doc_stride": 16},
    )
    width = max(len(ids) for ids in feats["input_ids"][:]) + 3  # wider than any feature, like padded logits
    start = np.zeros((len(feats), width), dtype=np.float32)
    end = np.zeros_like(start)
    for i in range(len(feats)):
        s, e = feats[i]["start_positions"], feats[i]["end_positions"]
        if s != 0:  # the window that holds the answer
            start[i, s], end[i, e] = 10.0, 10.0
        start[i, 1] = end[i, 1] = 50.0  # a question token: never a valid answer
        start[i, -1] = end[i, -1] = 50.0  # padding past the feature: never valid either
    predictions = postprocess_predictions(examples, feats, start, end)
    assert predictions["long"] == ANSWER
    assert set(predictions) == {"long", "short"}
    # an answer longer than max_answer_length tokens is not allowed
    shorter = postprocess_predictions(examples, feats, start, end, max_answer_length=2)
    assert shorter["long"] != ANSWER and len(tokenizer.tokenize(shorter["long"])) <= 2
