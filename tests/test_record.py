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
