"""Evaluation per eval dataset: the pooled score of unlike tasks hides what each task learned.

The eval split is the concatenation of every dataset's held-out rows, each row tagged with its dataset (`source`).
This module cuts a scored eval set back into those slices and adds what a single pooled number cannot say:
- a 95% Wilson score interval for exact match (EM is a proportion of examples; Wilson stays inside [0, 1] and is
  sensible for small n, where the normal approximation is not);
- for classification-as-QA formats (sentiment posed as picking a label span), accuracy per gold label and the
  confusion matrix (rows = gold label, columns = predicted label, plus a column for answers that are no label);
- the trivial baselines scored on the slice alone.
The dicts it returns are shaped like :class:`hubkit.record.DatasetEval` / :class:`hubkit.record.SliceScores`.
No torch here: it works on predictions, gold answers and per-feature losses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Optional

from .kinds import get_kind

OTHER = "other"
MAJORITY = "majority class"  # hubkit.train.baselines' name for it


def label_sets(specs: Sequence) -> dict[str, tuple[str, ...]]:
    """{dataset name: its label set} for the config's datasets (DatasetSpec) whose kind poses a classification as QA."""
    kinds = {spec.name: get_kind(spec.kind) for spec in specs}
    return {name: kind.labels for name, kind in kinds.items() if kind.labels is not None}


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> dict:
    """Wilson score interval for successes/n, in percent, as a :class:`hubkit.record.Interval` dict."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes}/{n}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return {  # the bounds are exactly 0 / 100 at 0 / n successes (rounding would leave 1e-15 there)
        "low": 0.0 if successes == 0 else max(0.0, 100 * (centre - half)),
        "high": 100.0 if successes == n else min(100.0, 100 * (centre + half)),
        "confidence": confidence,
        "method": "wilson",
    }


def label_breakdown(golds: Sequence[str], predictions: Sequence[str], labels: Sequence[str]) -> tuple[list, dict]:
    """(per-label accuracy dicts, confusion-matrix dict) for one classification-as-QA slice.

    Answers are compared after SQuAD normalisation, as exact match compares them, so per-label correct counts add up
    to the slice's exact matches.
    """
    from ..metrics.squad_metric.squad_metric import normalize_answer

    index = {normalize_answer(label): i for i, label in enumerate(labels)}
    counts = [[0] * (len(labels) + 1) for _ in labels]
    for gold, predicted in zip(golds, predictions, strict=True):
        row = index.get(normalize_answer(gold))
        if row is None:
            raise ValueError(f"gold answer {gold!r} is not one of the labels {', '.join(labels)}")
        counts[row][index.get(normalize_answer(predicted), len(labels))] += 1
    per_label = [
        {"label": label, "num_examples": sum(counts[i]), "correct": counts[i][i]} for i, label in enumerate(labels)
    ]
    return per_label, {"labels": list(labels), "other": OTHER, "counts": counts}


def slice_evaluations(
    examples,
    predictions: Mapping[str, str],
    feature_losses: Optional[Mapping[str, list[float]]] = None,
    label_sets: Optional[Mapping[str, Sequence[str]]] = None,
) -> list[dict]:
    """One dict per dataset (`source` column), in order of first appearance: n, EM (+ correct count and Wilson
    interval), F1, eval loss (mean over the slice's features, None without losses), labels/confusion where the
    dataset has a label set. Empty when the examples carry no `source` column."""
    from ..metrics import load_squad_metric

    if "source" not in examples.column_names:
        return []
    label_sets = label_sets or {}
    metric = load_squad_metric()
    rows: dict[str, list[int]] = {}
    for i, source in enumerate(examples["source"][:]):
        rows.setdefault(source, []).append(i)
    ids, answers = examples["id"][:], examples["answers"][:]
    out = []
    for source, indices in rows.items():
        slice_ids = [ids[i] for i in indices]
        scores = metric.compute(
            predictions=[{"id": i, "prediction_text": predictions[i]} for i in slice_ids],
            references=[{"id": ids[i], "answers": answers[i]} for i in indices],
        )
        n = len(indices)
        correct = round(float(scores["exact_match"]) * n / 100)
        losses = [loss for i in slice_ids for loss in (feature_losses or {}).get(i, [])]
        entry = {
            "dataset": source,
            "num_examples": n,
            "exact_match": 100.0 * correct / n,
            "f1": float(scores["f1"]),
            "eval_loss": sum(losses) / len(losses) if losses else None,
            "exact_match_correct": correct,
            "exact_match_interval": wilson_interval(correct, n),
            "labels": None,
            "confusion": None,
        }
        if source in label_sets:
            entry["labels"], entry["confusion"] = label_breakdown(
                [answers[i]["text"][0] for i in indices], [predictions[i] for i in slice_ids], label_sets[source]
            )
        out.append(entry)
    return out


def slice_scores(evaluations: Sequence[Mapping]) -> list[dict]:
    """The :class:`hubkit.record.SliceScores` part of each slice (what an ablation row keeps)."""
    keys = ("dataset", "num_examples", "exact_match", "f1", "eval_loss")
    return [{k: e[k] for k in keys} for e in evaluations]


def with_baselines(evaluations: Sequence[Mapping], examples) -> list[dict]:
    """The slices with the trivial baselines scored on each slice's examples alone.

    The majority-class baseline is kept only for classification-as-QA slices: on span extraction every gold answer is
    different, so "the most frequent gold answer" is just one of them, copied from the eval set.
    """
    from .baselines import baselines

    sources = examples["source"][:]
    out = []
    for e in evaluations:
        rows = baselines(examples.select([i for i, s in enumerate(sources) if s == e["dataset"]]))
        if e.get("labels") is None:
            rows = [b for b in rows if b.name != MAJORITY]
        out.append({**e, "baselines": rows})
    return out
