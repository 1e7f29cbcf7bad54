"""The shipped SQuAD v1.1 metric, loaded through `evaluate` from the package folder, on known cases."""

from __future__ import annotations

import pytest

from hubkit.metrics import SQUAD_METRIC_DIR, load_squad_metric


@pytest.fixture(scope="module")
def metric(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.delenv("HF_HUB_OFFLINE", raising=False)  # it must load from the folder, not because the Hub is switched off
    try:
        yield load_squad_metric()
    finally:
        mp.undo()


def score(metric, pairs):
    predictions = [{"id": str(i), "prediction_text": p} for i, (p, _) in enumerate(pairs)]
    references = [
        {"id": str(i), "answers": {"text": golds, "answer_start": [0] * len(golds)}}
        for i, (_, golds) in enumerate(pairs)
    ]
    return metric.compute(predictions=predictions, references=references)


def test_loaded_from_the_shipped_folder(metric):
    import evaluate

    assert isinstance(metric, evaluate.EvaluationModule)
    assert (SQUAD_METRIC_DIR / "squad_metric.py").is_file()
    assert type(metric).__name__ == "SquadMetric"


def test_normalisation(metric):
    # case, punctuation and the articles a/an/the do not count
    assert score(metric, [("The Cat!", ["cat"])]) == {"exact_match": 100.0, "f1": 100.0}
    assert score(metric, [("an  apple,", ["Apple"])]) == {"exact_match": 100.0, "f1": 100.0}
    assert score(metric, [("cats", ["cat"])]) == {"exact_match": 0.0, "f1": 0.0}


def test_partial_overlap_f1(metric):
    # "the big red dog" -> [big, red, dog]; "red dog barks" -> [red, dog, barks]; 2 shared tokens:
    # precision 2/3, recall 2/3, F1 = 2/3 -> 66.67; no exact match.
    result = score(metric, [("the big red dog", ["red dog barks"])])
    assert result["exact_match"] == 0.0
    assert result["f1"] == pytest.approx(200 / 3)


def test_best_gold_answer_and_mean_over_questions(metric):
    # q0: best of golds: "bar" vs "bar baz" -> precision 1, recall 1/2 -> F1 2/3 (vs "foo": 0)
    # q1: exact -> 1. Mean EM = 50, mean F1 = (2/3 + 1) / 2 = 5/6.
    result = score(metric, [("bar", ["foo", "bar baz"]), ("positive", ["positive"])])
    assert result["exact_match"] == pytest.approx(50.0)
    assert result["f1"] == pytest.approx(500 / 6)


def test_empty_prediction_scores_zero(metric):
    assert score(metric, [("", ["neutral"])]) == {"exact_match": 0.0, "f1": 0.0}
