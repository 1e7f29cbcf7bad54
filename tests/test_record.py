"""The run record: round-trip, and one-line errors that name the field."""

from __future__ import annotations

import json

import pytest

from hubkit.errors import HubkitError
from hubkit.record import RunRecord

from .conftest import FIXTURES

REFERENCE = FIXTURES / "reference_record.json"


def _data() -> dict:
    return json.loads(REFERENCE.read_text())


def test_round_trip_is_byte_identical(tmp_path):
    record = RunRecord.load(REFERENCE)
    saved = record.save(tmp_path)
    assert saved.name == "record.json"
    again = RunRecord.load(tmp_path)
    assert again == record
    assert again.to_json() == record.to_json()


def test_derived_numbers():
    record = RunRecord.load(REFERENCE)
    assert record.rows_train == 1835 and record.rows_eval == 459
    assert record.training.effective_batch_size == 32
    assert f"{record.parameters.percent:.2f}" == "0.22"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["eval"].pop("f1"), "missing field eval.f1"),
        (lambda d: d["eval"].__setitem__("f1", "high"), "field eval.f1:"),
        (lambda d: d["datasets"][1].__setitem__("rows_train", 5), "field datasets.1: rows do not add up"),
        (lambda d: d.__setitem__("surprise", 1), "unknown field surprise"),
        (lambda d: d["base_model"].__setitem__("id", "/home/me/models/distilbert"), "not a local path"),
        (lambda d: d.__setitem__("schema_version", 99), "schema_version is 99"),
        (lambda d: d["parameters"].__setitem__("trainable", 10**9), "trainable parameters exceed total"),
        # per-dataset evaluation (schema 2)
        (lambda d: d.pop("eval_by_dataset"), "missing field eval_by_dataset"),
        (lambda d: d["eval_by_dataset"].reverse(), "eval_by_dataset must name the datasets in order"),
        (lambda d: d["eval"].__setitem__("num_examples", 199), "do not add up to eval.num_examples"),
        (lambda d: d["eval_by_dataset"][1].__setitem__("exact_match", 99.5), "exact_match is not exact_match_correct"),
        (lambda d: d["eval_by_dataset"][1]["confusion"]["counts"][0].pop(), "counts must be 3 rows of 4"),
        (lambda d: d["eval_by_dataset"][1].__setitem__("confusion", None), "labels and confusion come together"),
        (lambda d: d["eval_by_dataset"][1]["labels"][0].__setitem__("num_examples", 27), "per-label example counts"),
        (
            lambda d: d["eval_by_dataset"][1]["exact_match_interval"].__setitem__("method", "normal"),
            "exact_match_interval.method",
        ),
        (lambda d: d.pop("held_out"), "missing field held_out"),
    ],
)
def test_bad_records_give_one_line_errors(mutate, message):
    data = _data()
    mutate(data)
    with pytest.raises(HubkitError) as info:
        RunRecord.from_dict(data)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_load_errors(tmp_path):
    with pytest.raises(HubkitError, match="no run record"):
        RunRecord.load(tmp_path / "nope")
    bad = tmp_path / "record.json"
    bad.write_text("{not json")
    with pytest.raises(HubkitError, match="invalid JSON at line 1"):
        RunRecord.load(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(HubkitError, match="must be a JSON object"):
        RunRecord.load(bad)


def test_schema_1_record_says_to_rerun():
    """A record from before per-dataset evaluation cannot fill the card's per-dataset view: one line, re-run."""
    data = _data()
    data["schema_version"] = 1
    for key in ("eval_by_dataset", "held_out", "provenance"):
        data.pop(key)
    with pytest.raises(HubkitError) as info:
        RunRecord.from_dict(data, source="old/record.json")
    text = str(info.value)
    assert text.startswith("old/record.json: schema_version 1 record") and "re-run `hubkit train`" in text
    assert "\n" not in text


def test_per_dataset_evaluation_fields():
    record = RunRecord.load(REFERENCE)
    assert [e.dataset for e in record.eval_by_dataset] == [d.name for d in record.datasets]
    fiqa, phrasebank = record.eval_by_dataset
    assert fiqa.too_small and not phrasebank.too_small  # 3 and 197 examples against the 30-example threshold
    assert fiqa.labels is None and fiqa.confusion is None
    assert [(x.label, x.accuracy) for x in phrasebank.labels][0] == ("negative", 100.0)
    assert phrasebank.labels[1].accuracy == pytest.approx(100 * 120 / 121)
    assert record.provenance.git_commit is not None and record.provenance.git_dirty is False
    assert record.datasets[1].hub_config == "sentences_allagree" and record.datasets[1].hub_split == "train"
