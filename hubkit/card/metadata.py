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
DEFAULT_CONFIG = "default"  # the config name the Hub gives a dataset that defines none

# model-index metric ids and the names the body's evaluation table uses for them (lint matches on these names)
METRICS = (("exact_match", "Exact Match"), ("f1", "F1"))


def held_out_description(record: RunRecord) -> str:
    """'held-out 20% of the unique rows, seed 42': how every dataset's eval slice was drawn."""
    fraction = record.held_out.eval_fraction * 100
    return f"held-out {fraction:g}% of the unique rows, seed {record.held_out.seed}"


def indexed_datasets(record: RunRecord) -> list:
    """(DatasetInfo, DatasetEval) pairs that get a model-index result: a Hub id and a known split of it.

    A dataset without a Hub id (a local file) or whose Hub split is unknown is shown in the card body only: the
    Hub would link its result to a dataset page that does not exist or to a split it does not have.
    """
    return [
        (info, scores)
        for info, scores in zip(record.datasets, record.eval_by_dataset)
        if is_hub_id(info.name) and info.hub_split is not None
    ]


def eval_results(record: RunRecord) -> list[EvalResult]:
    """One model-index result per dataset: EM and F1 on that dataset's held-out slice, in percent, as recorded.

    `dataset.type` is the Hub id, `config`/`split` the source dataset's own; the held-out slice (fraction, seed) is
    described in `name` and `args`, since it is not a split the Hub knows.
    """
    results = []
    held_out = held_out_description(record)
    for info, scores in indexed_datasets(record):
        config = info.hub_config or DEFAULT_CONFIG
        values = {"exact_match": scores.exact_match, "f1": scores.f1}
        for metric, name in METRICS:
            results.append(
                EvalResult(
                    task_type=PIPELINE_TAG,
                    task_name="Question Answering",
                    dataset_type=info.name,
                    dataset_name=f"{oneline(info.name)} ({config}, {info.hub_split} split), {held_out}",
                    dataset_config=config,
                    dataset_split=info.hub_split,
                    dataset_revision=info.revision,
                    dataset_args={
                        "held_out_fraction": record.held_out.eval_fraction,
                        "seed": record.held_out.seed,
                        "num_examples": scores.num_examples,
                    },
                    metric_type=metric,
                    metric_name=name,
                    metric_value=values[metric],
                )
            )
    return results


def card_data(record: RunRecord) -> ModelCardData:
    """The metadata object: what the Hub indexes (base model tree, task, library, datasets, license, scores)."""
    results = eval_results(record)
    # model_name only names the model-index; without results it would be a stray top-level key
    model_name = record.card.model_name if results else None
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
        eval_results=results or None,
    )


def front_matter(record: RunRecord) -> str:
    """The YAML between the card's `---` lines (no delimiters, no trailing newline)."""
    return card_data(record).to_yaml()
