"""SQuAD v1.1 exact match and F1 as an `evaluate` metric module that ships with hubkit.

`evaluate.load("squad")` fetches its script from the Hub, which fails offline and ties a score to whatever the Hub
serves that day. This module implements the official SQuAD v1.1 evaluation (answer normalisation: lower case, strip
punctuation, drop the articles a/an/the, collapse whitespace; EM and token F1, each the best over the gold answers)
with the same inputs and outputs as the `evaluate` squad module:

    predictions = [{"id": "q1", "prediction_text": "cat"}]
    references = [{"id": "q1", "answers": {"text": ["The Cat!"], "answer_start": [0]}}]
    -> {"exact_match": 100.0, "f1": 100.0}   (percent)
"""

import collections
import re
import string

import datasets
import evaluate

_CITATION = """\
@inproceedings{Rajpurkar2016SQuAD10,
  title={SQuAD: 100,000+ Questions for Machine Comprehension of Text},
  author={Pranav Rajpurkar and Jian Zhang and Konstantin Lopyrev and Percy Liang},
  booktitle={EMNLP},
  year={2016}
}
"""

_DESCRIPTION = "SQuAD v1.1 exact match and F1 (official normalisation), shipped with hubkit so it works offline."

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of {"id": str, "prediction_text": str}
    references: list of {"id": str, "answers": {"text": list[str], "answer_start": list[int]}}
Returns:
    exact_match: percent of predictions equal to a gold answer after normalisation
    f1: mean over questions of the best token-overlap F1 against the gold answers, percent
"""


def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace (official SQuAD v1.1)."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score(prediction, ground_truth):
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, gt) for gt in ground_truths)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SquadMetric(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": {"id": datasets.Value("string"), "prediction_text": datasets.Value("string")},
                    "references": {
                        "id": datasets.Value("string"),
                        "answers": datasets.features.Sequence(
                            {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}
                        ),
                    },
                }
            ),
            codebase_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
            reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        )

    def _compute(self, predictions, references):
        predicted = {p["id"]: p["prediction_text"] for p in predictions}
        exact_match = f1 = 0.0
        for ref in references:
            if ref["id"] not in predicted:
                raise ValueError(f"no prediction for question id {ref['id']!r}")
            golds = ref["answers"]["text"]
            if not golds:
                raise ValueError(f"question id {ref['id']!r} has no gold answer")
            exact_match += metric_max_over_ground_truths(exact_match_score, predicted[ref["id"]], golds)
            f1 += metric_max_over_ground_truths(f1_score, predicted[ref["id"]], golds)
        total = len(references)
        return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}
