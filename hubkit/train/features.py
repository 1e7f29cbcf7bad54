"""SQuAD examples -> model features, and model logits -> answer spans (the transformers QA-example recipe).

A context longer than `max_length` is cut into overlapping windows (`doc_stride` tokens shared), the question first
and only the context truncated (`only_second`). Each window's start/end token positions point at the answer, or at
the [CLS] token when the answer is not inside that window. Nothing is padded here: the collator pads each batch to
its own longest row, which is what makes CPU training affordable.

`token_type_ids` are kept whenever the tokenizer returns them (BERT-type models), so training, evaluation and
`pipeline()` all feed the model the same inputs.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from transformers import BatchEncoding


def _tokenize(examples: dict, tokenizer, max_length: int, doc_stride: int) -> BatchEncoding:
    # Leading spaces in questions waste window room and some tokenizers keep them as tokens.
    questions = [q.lstrip() for q in examples["question"]]
    return tokenizer(
        questions,
        examples["context"],
        truncation="only_second",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )


def _answer_positions(tokenized, examples: dict, cls_token_id: int) -> tuple[list[int], list[int]]:
    """Token start/end of each window's answer; the CLS index when the answer is not fully inside the window."""
    starts, ends = [], []
    for i, offsets in enumerate(tokenized["offset_mapping"]):
        cls_index = tokenized["input_ids"][i].index(cls_token_id)
        sequence_ids = tokenized.sequence_ids(i)
        answers = examples["answers"][tokenized["overflow_to_sample_mapping"][i]]
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        # the context's first and last token in this window
        token_start = sequence_ids.index(1)
        token_end = len(sequence_ids) - 1 - sequence_ids[::-1].index(1)
        if not (offsets[token_start][0] <= start_char and offsets[token_end][1] >= end_char):
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        while token_start < len(offsets) and sequence_ids[token_start] == 1 and offsets[token_start][0] <= start_char:
            token_start += 1
        while sequence_ids[token_end] == 1 and offsets[token_end][1] >= end_char:
            token_end -= 1
        starts.append(token_start - 1)
        ends.append(token_end + 1)
    return starts, ends


def prepare_train_features(examples: dict, tokenizer, *, max_length: int, doc_stride: int) -> BatchEncoding:
    """Batched `Dataset.map` function: windows with start/end positions, unpadded."""
    tokenized = _tokenize(examples, tokenizer, max_length, doc_stride)
    starts, ends = _answer_positions(tokenized, examples, tokenizer.cls_token_id)
    tokenized["start_positions"] = starts
    tokenized["end_positions"] = ends
    tokenized.pop("offset_mapping")
    tokenized.pop("overflow_to_sample_mapping")
    return tokenized


def prepare_eval_features(examples: dict, tokenizer, *, max_length: int, doc_stride: int) -> BatchEncoding:
    """Batched `Dataset.map` function: like the train features, plus `example_id` and the context-only offsets.

    Offsets of question and special tokens are set to None so span decoding can only pick context tokens; the
    start/end positions let the evaluation compute a loss.
    """
    tokenized = _tokenize(examples, tokenizer, max_length, doc_stride)
    starts, ends = _answer_positions(tokenized, examples, tokenizer.cls_token_id)
    tokenized["start_positions"] = starts
    tokenized["end_positions"] = ends
    sample_mapping = tokenized.pop("overflow_to_sample_mapping")
    tokenized["example_id"] = [examples["id"][s] for s in sample_mapping]
    tokenized["offset_mapping"] = [
        [offset if seq_id == 1 else None for offset, seq_id in zip(offsets, tokenized.sequence_ids(i))]
        for i, offsets in enumerate(tokenized["offset_mapping"])
    ]
    return tokenized


def postprocess_predictions(
    examples,
    features,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    *,
    n_best: int = 20,
    max_answer_length: int = 30,
) -> dict[str, str]:
    """Best span per example over all its windows: score = start logit + end logit, among the `n_best` starts and
    ends of each window, spans inside the context, end >= start, at most `max_answer_length` tokens.

    Rows of `start_logits`/`end_logits` may be longer than their feature (padding): those positions have no offset
    and are skipped. An example with no valid span gets "".
    """
    features_per_example = collections.defaultdict(list)
    for i, example_id in enumerate(features["example_id"][:]):
        features_per_example[example_id].append(i)
    all_offsets = features["offset_mapping"][:]  # one read, not one per feature

    predictions: dict[str, str] = {}
    for example_id, context in zip(examples["id"][:], examples["context"][:]):
        best_score, best_text = -np.inf, ""
        for feature_index in features_per_example.get(example_id, []):
            starts, ends = start_logits[feature_index], end_logits[feature_index]
            offsets = all_offsets[feature_index]
            start_candidates = np.argsort(starts)[-1 : -n_best - 1 : -1]
            end_candidates = np.argsort(ends)[-1 : -n_best - 1 : -1]
            for s in start_candidates:
                if s >= len(offsets) or offsets[s] is None:
                    continue
                for e in end_candidates:
                    if e >= len(offsets) or offsets[e] is None or e < s or e - s + 1 > max_answer_length:
                        continue
                    score = starts[s] + ends[e]
                    if score > best_score:
                        best_score, best_text = score, context[offsets[s][0] : offsets[e][1]]
        predictions[example_id] = best_text
    return predictions
