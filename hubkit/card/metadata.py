"""The card's YAML front matter, built with huggingface_hub's own types.

`ModelCardData` + `EvalResult` produce the `model-index` the Hub parses (the same code the Hub's client uses), and
PyYAML quotes YAML 1.1 traps such as `no` on the way out. Every value comes from the run record.
"""

from __future__ import annotations

from huggingface_hub.repocard_data import EvalResult, ModelCardData

from ..ids import is_hub_id
from ..record import RunRecord
from .formatting import oneline

LIBRARY_NAME = "transformers"  # the card describes the merged model: plain transformers, no PEFT needed
PIPELINE_TAG = "question-answering"
BASE_MODEL_RELATION = "finetune"

# model-index metric ids and the names the body's evaluation table uses for them (lint matches on these names)
METRICS = (("exact_match", "Exact Match"), ("f1", "F1"))


def eval_results(record: RunRecord, model_name: str) -> list[EvalResult]:
    """EM and F1 on the run's held-out split, in percent, exactly as the record holds them."""
    names = [oneline(d.name) for d in record.datasets]
    dataset_type = "+".join(names)
    dataset_name = "held-out split of " + " + ".join(names)
    values = {"exact_match": record.eval.exact_match, "f1": record.eval.f1}
    return [
        EvalResult(
            task_type=PIPELINE_TAG,
            task_name="Question Answering",
            dataset_type=dataset_type,
            dataset_name=dataset_name,
            dataset_split="eval",
            metric_type=metric,
            metric_name=name,
            metric_value=values[metric],
        )
        for metric, name in METRICS
    ]


def card_data(record: RunRecord) -> ModelCardData:
    """The metadata object: what the Hub indexes (base model tree, task, library, datasets, license, scores)."""
    model_name = record.card.model_name
    return ModelCardData(
        base_model=record.base_model.id,
        base_model_relation=BASE_MODEL_RELATION,
        datasets=[d.name for d in record.datasets if is_hub_id(d.name)] or None,
        language=list(record.card.language),
        library_name=LIBRARY_NAME,
        license=record.card.license,
        metrics=[metric for metric, _ in METRICS],
        pipeline_tag=PIPELINE_TAG,
        tags=list(record.card.tags) or None,
        model_name=model_name,
        eval_results=eval_results(record, model_name),
    )


def front_matter(record: RunRecord) -> str:
    """The YAML between the card's `---` lines (no delimiters, no trailing newline)."""
    return card_data(record).to_yaml()
