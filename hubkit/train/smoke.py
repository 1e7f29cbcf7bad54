"""Smoke examples: the config's question/context pairs through `pipeline("question-answering")` on the merged model.

The answers and scores go into the run record, so the card shows what the saved model really answers (and the
publisher can check the pushed model gives the same).
"""

from __future__ import annotations

from pathlib import Path

from ..record import SmokeExample


def run_smoke(model_dir: str | Path, examples: list[dict], *, device=None) -> list[SmokeExample]:
    """The record's smoke examples (question, context, answer, score) from the model saved in `model_dir`, loaded as
    a user would."""
    from transformers import pipeline

    qa = pipeline("question-answering", model=str(model_dir), tokenizer=str(model_dir), device=device)
    results = []
    for example in examples:
        out = qa(question=example["question"], context=example["context"])
        results.append(
            SmokeExample(
                question=example["question"],
                context=example["context"],
                answer=out["answer"],
                score=min(max(float(out["score"]), 0.0), 1.0),
            )
        )
    return results
