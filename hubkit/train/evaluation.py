"""SQuAD evaluation of a QA model: eval loss, n-best span decoding, exact match and F1 through the shipped metric.

Scores come pooled over all examples and, when the examples carry a `source` column, per dataset
(:mod:`hubkit.train.per_dataset`). Works on a plain transformers model and on a PEFT-wrapped one alike: batches go in as `model(**batch)`, padded per
batch (never to max_length), with `token_type_ids` whenever the tokenizer makes them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import HubkitError
from .features import postprocess_predictions, prepare_eval_features

# Columns the model takes; everything else (example_id, offset_mapping) stays out of the batches.
_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions")


_NEG = -1e4  # logit given to padding positions: never part of a span, no weight in the loss


def _masked(logits, batch):
    """fp32 logits with padding positions pushed to _NEG, so the loss does not depend on how a batch was padded
    (the models' own QA loss takes the softmax over padding too)."""
    return logits.float().masked_fill(batch["attention_mask"] == 0, _NEG)


def tokenize_for_eval(examples, tokenizer, *, max_length: int, doc_stride: int, progress: bool = False):
    """The eval windows (with example ids and offsets), made once and passed to every `evaluate_qa` call."""
    return examples.map(
        prepare_eval_features,
        batched=True,
        remove_columns=examples.column_names,
        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "doc_stride": doc_stride},
        desc="Tokenizing eval examples" if progress else None,
        load_from_cache_file=False,
    )


@dataclass
class EvalOutcome:
    exact_match: float  # percent
    f1: float  # percent
    eval_loss: Optional[float]
    num_examples: int
    predictions: dict[str, str] = field(repr=False)
    # one dict per dataset (hubkit.record.DatasetEval without baselines); [] when examples have no `source`
    by_dataset: list[dict] = field(default_factory=list)


def evaluate_qa(
    model,
    tokenizer,
    examples,
    *,
    max_length: int,
    doc_stride: int,
    batch_size: int = 32,
    n_best: int = 20,
    max_answer_length: int = 30,
    autocast_dtype=None,
    progress: bool = False,
    label_sets: Optional[Mapping[str, Sequence[str]]] = None,
    features=None,
) -> EvalOutcome:
    """Score `model` on SQuAD-form `examples` (a `datasets.Dataset`).

    eval_loss is the mean over features (windows) of (CE(start) + CE(end)) / 2, the models' QA loss, computed here
    with padding masked out so that it is the same whatever the batch size. Per dataset it is the same mean over that
    dataset's features. `label_sets` ({dataset: labels}) marks classification-as-QA datasets: they get per-label
    accuracy and a confusion matrix. `features`: the windows
    :func:`tokenize_for_eval` made, when they are at hand. Batches are formed from windows sorted by length.
    """
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm
    from transformers import DataCollatorWithPadding

    from ..metrics import load_squad_metric
    from .per_dataset import slice_evaluations

    if len(examples) == 0:
        raise HubkitError("no eval examples to evaluate on")
    if features is None:
        features = tokenize_for_eval(
            examples, tokenizer, max_length=max_length, doc_stride=doc_stride, progress=progress
        )
    lengths = [len(ids) for ids in features["input_ids"][:]]
    by_length = sorted(range(len(lengths)), key=lengths.__getitem__)  # similar lengths batched together
    inputs = features.select_columns([c for c in _MODEL_INPUTS if c in features.column_names]).select(by_length)
    loader = DataLoader(
        inputs.with_format("python"),
        batch_size=batch_size,
        shuffle=False,
        collate_fn=DataCollatorWithPadding(tokenizer),
    )

    device = next(model.parameters()).device
    autocast = (
        torch.autocast(device_type=device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else contextlib.nullcontext()
    )
    max_len = max(lengths)
    start_logits = np.full((len(features), max_len), _NEG, dtype=np.float32)
    end_logits = np.full((len(features), max_len), _NEG, dtype=np.float32)
    feature_losses = np.zeros(len(features), dtype=np.float64)
    row = 0
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), autocast:
            for batch in tqdm(loader, desc="Evaluating", disable=not progress):
                batch = {k: v.to(device) for k, v in batch.items()}
                starts, ends = batch.pop("start_positions"), batch.pop("end_positions")
                out = model(**batch)
                n, width = batch["input_ids"].shape
                start, end = _masked(out.start_logits, batch), _masked(out.end_logits, batch)
                losses = (
                    F.cross_entropy(start, starts, reduction="none") + F.cross_entropy(end, ends, reduction="none")
                ) / 2
                rows = by_length[row : row + n]  # back to the features' own order
                feature_losses[rows] = losses.double().cpu().numpy()
                start_logits[rows, :width] = start.cpu().numpy()
                end_logits[rows, :width] = end.cpu().numpy()
                row += n
    finally:
        model.train(was_training)

    predictions = postprocess_predictions(
        examples, features, start_logits, end_logits, n_best=n_best, max_answer_length=max_answer_length
    )
    scores = load_squad_metric().compute(
        predictions=[{"id": k, "prediction_text": v} for k, v in predictions.items()],
        references=[{"id": i, "answers": a} for i, a in zip(examples["id"][:], examples["answers"][:])],
    )
    losses_by_example: dict[str, list[float]] = {}
    for example_id, loss in zip(features["example_id"][:], feature_losses.tolist()):
        losses_by_example.setdefault(example_id, []).append(loss)
    return EvalOutcome(
        exact_match=float(scores["exact_match"]),
        f1=float(scores["f1"]),
        eval_loss=float(feature_losses.sum()) / len(features),
        num_examples=len(examples),
        predictions=predictions,
        by_dataset=slice_evaluations(examples, predictions, losses_by_example, label_sets),
    )
