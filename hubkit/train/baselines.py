"""Trivial predictors scored like the model, so a card shows what a number is worth.

On Financial PhraseBank the majority class alone scores ~61% EM, and on the reference's leaky format "the first
word of the context" scores 100%: a model's EM means little without these beside it.
"""

from __future__ import annotations

import collections
import string

from ..record import Baseline


def baselines(eval_examples) -> list[Baseline]:
    """Majority-class and first-word baselines on SQuAD-form `eval_examples`, as the record's `Baseline`s."""
    from ..metrics import load_squad_metric

    ids = eval_examples["id"][:]
    answers = eval_examples["answers"][:]
    contexts = eval_examples["context"][:]
    if not ids:
        return []
    # Ties go to the answer seen first, so the choice is deterministic for a given eval split.
    majority, _ = collections.Counter(a["text"][0] for a in answers).most_common(1)[0]
    first_words = [(c.split() or [""])[0].strip(string.punctuation) for c in contexts]

    metric = load_squad_metric()
    references = [{"id": i, "answers": a} for i, a in zip(ids, answers)]

    def score(predicted: list[str]) -> dict:
        result = metric.compute(
            predictions=[{"id": i, "prediction_text": p} for i, p in zip(ids, predicted)], references=references
        )
        return {"exact_match": float(result["exact_match"]), "f1": float(result["f1"])}

    return [
        Baseline(
            name="majority class",
            description=f"predicts the eval set's most frequent gold answer ({majority!r}) for every example",
            **score([majority] * len(ids)),
        ),
        Baseline(
            name="first word of the context",
            description="predicts the context's first whitespace-separated word, stripped of punctuation",
            **score(first_words),
        ),
    ]
