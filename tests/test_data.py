"""Data conversion: SQuAD offsets that check, latin-1, duplicates dropped before a seeded split, one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from hubkit.errors import HubkitError
from hubkit.record import DatasetInfo
from hubkit.train.config import DatasetSpec
from hubkit.train.data import prepare_data
from hubkit.train.kinds import OPTIONS_PREFIX, SENTIMENT_QUESTION, best_overlap_sentence

PHRASEBANK_LINES = [
    "Sepp\u00e4l\u00e4 's net sales rose 10 % in the quarter .@positive",
    "The company has 120 employees in \u00c5land .@neutral",
    "Operating loss widened to EUR 3 mn .@negative",
    "The board will meet on Tuesday .@neutral",
    "Profit fell by half compared to last year .@negative",
    "Sales of the unit grew strongly .@positive",
    "The report is published in English .@neutral",
    "The board will meet on Tuesday .@neutral",  # an exact duplicate, as AllAgree has
    "Orders were flat at EUR 5 mn .@neutral",
    "Net profit doubled to EUR 8 mn .@positive",
    "The shares are listed in Helsinki .@neutral",
    "Prices dropped sharply after the warning .@negative",
]


def write_phrasebank(folder: Path, lines=PHRASEBANK_LINES, name="phrases.txt") -> Path:
    path = folder / name
    path.write_bytes("\n".join(lines).encode("latin-1"))  # like the real file: latin-1, no final newline
    return path


def phrasebank_spec(path, fmt="first_word", **kw) -> DatasetSpec:
    return DatasetSpec(
        kind="financial_phrasebank",
        name="FinanceMTEB/financial_phrasebank",
        path=str(path),
        format=fmt,
        license="cc-by-nc-sa-3.0",
        **kw,
    )


def assert_offsets_check(ds) -> None:
    for row in ds:
        for text, start in zip(row["answers"]["text"], row["answers"]["answer_start"]):
            assert row["context"][start : start + len(text)] == text


def test_phrasebank_first_word_is_the_references_format(tmp_path):
    path = write_phrasebank(tmp_path)
    data = prepare_data([phrasebank_spec(path)], seed=0, eval_fraction=0.25)
    every = list(data.train) + list(data.eval)
    assert len(every) == 11  # 12 lines, one duplicate dropped
    assert_offsets_check(data.train)
    assert_offsets_check(data.eval)
    for row in every:
        label = row["answers"]["text"][0]
        assert row["context"].startswith(f"{label}. ")
        assert row["answers"]["answer_start"] == [0]
        assert row["question"] == SENTIMENT_QUESTION
        assert row["source"] == "FinanceMTEB/financial_phrasebank"
    # latin-1 decoded, not mangled
    assert any("Sepp\u00e4l\u00e4" in row["context"] for row in every)
    assert any("\u00c5land" in row["context"] for row in every)

    (info,) = data.infos
    assert isinstance(info, DatasetInfo)  # the record's own type, validated when made (rows add up)
    assert (info.rows_read, info.rows_dropped, info.rows_train, info.rows_eval) == (12, 1, 8, 3)
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.format == "first_word" and info.source == str(path)


def test_phrasebank_options_format_does_not_leak_the_label(tmp_path):
    data = prepare_data([phrasebank_spec(write_phrasebank(tmp_path), "options")], seed=0)
    rows = list(data.train) + list(data.eval)
    assert_offsets_check(rows)
    for row in rows:
        label, start = row["answers"]["text"][0], row["answers"]["answer_start"][0]
        assert row["context"].startswith(OPTIONS_PREFIX)  # the same prefix whatever the label
        assert OPTIONS_PREFIX[start : start + len(label)] == label  # the answer is the label's span in the options
    starts = {row["answers"]["text"][0]: row["answers"]["answer_start"][0] for row in rows}
    assert len(set(starts.values())) == 3  # each label has its own span in the options list
    assert data.infos[0].format == "options"


def test_no_eval_example_is_in_train_and_split_is_seeded(tmp_path):
    path = write_phrasebank(tmp_path)
    a = prepare_data([phrasebank_spec(path)], seed=1)
    b = prepare_data([phrasebank_spec(path)], seed=1)
    c = prepare_data([phrasebank_spec(path)], seed=2)
    assert a.eval["id"][:] == b.eval["id"][:]
    assert sorted(a.eval["id"][:]) != sorted(c.eval["id"][:])
    train_keys = {(r["context"], r["question"]) for r in a.train}
    assert not any((r["context"], r["question"]) in train_keys for r in a.eval)


def test_relative_path_resolves_against_base_dir(tmp_path):
    write_phrasebank(tmp_path)
    data = prepare_data([phrasebank_spec("phrases.txt")], seed=0, base_dir=tmp_path)
    assert data.infos[0].source == "phrases.txt"  # as the config gave it


FIQA_ROWS = [
    {
        "question": "Why do bond prices fall when rates rise?",
        "answer": "It is simple. When rates rise, new bonds pay more, so old bond prices fall to match. Do not panic.",
    },
    {
        "question": "Should I pay off my mortgage early?",
        "answer": "Paying off a mortgage early saves interest. But keep an emergency fund first!",
    },
    {
        "question": "What is a 0.5% expense ratio worth?",
        "answer": "Costs compound. A 0.5% expense ratio costs about 5% of your money over ten years.",
    },
    {
        "question": "Is a Roth IRA better than a traditional IRA?",
        "answer": "It depends on your tax rate now versus later.",
    },
    {"question": "How are dividends taxed?", "answer": "Qualified dividends are taxed at lower rates. Others are not."},
    {"question": "Unused row", "answer": "This row is past the limit."},
]


def write_jsonl(folder: Path, rows, name="fiqa.jsonl") -> Path:
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_best_overlap_sentence_rule():
    passage = FIQA_ROWS[0]["answer"]
    text, start = best_overlap_sentence(FIQA_ROWS[0]["question"], passage)
    assert text == "When rates rise, new bonds pay more, so old bond prices fall to match."
    assert passage[start : start + len(text)] == text
    # a decimal point does not end a sentence; a tie goes to the earliest sentence
    text, _ = best_overlap_sentence(FIQA_ROWS[2]["question"], FIQA_ROWS[2]["answer"])
    assert text == "A 0.5% expense ratio costs about 5% of your money over ten years."
    assert best_overlap_sentence("zzz", "One. Two.")[0] == "One."


def test_fiqa_limit_and_recipe(tmp_path):
    spec = DatasetSpec(
        kind="fiqa",
        name="explodinggradients/fiqa",
        path=str(write_jsonl(tmp_path, FIQA_ROWS)),
        limit=5,
        license="unknown",
    )
    data = prepare_data([spec], seed=0)
    (info,) = data.infos
    assert isinstance(info, DatasetInfo)
    assert (info.rows_read, info.rows_train, info.rows_eval) == (5, 4, 1)
    assert "sentence" in info.recipe and info.task == "Financial QA"
    rows = list(data.train) + list(data.eval)
    assert_offsets_check(rows)
    assert {r["question"] for r in rows} == {r["question"] for r in FIQA_ROWS[:5]}
    for r in rows:
        assert r["context"] == next(x["answer"] for x in FIQA_ROWS if x["question"] == r["question"])


def test_squad_jsonl_and_several_datasets(tmp_path):
    squad_rows = [
        {
            "id": f"demo-{i}",
            "question": "Who reported profits?",
            "context": f"Company {i} reported profits.",
            "answers": {"text": [f"Company {i}"], "answer_start": [0]},
        }
        for i in range(5)
    ]
    squad = DatasetSpec(
        kind="squad_jsonl",
        name="demo/squad",
        path=str(write_jsonl(tmp_path, squad_rows, "s.jsonl")),
        license="apache-2.0",
    )
    data = prepare_data([squad, phrasebank_spec(write_phrasebank(tmp_path))], seed=0)
    assert len(data.train) + len(data.eval) == 5 + 11
    assert [i.rows_train + i.rows_eval for i in data.infos] == [5, 11]
    assert "demo-0" in data.train["id"][:] + data.eval["id"][:]
    assert set(data.train["source"][:]) == {"demo/squad", "FinanceMTEB/financial_phrasebank"}


BAD_INPUTS = {
    "missing file": (lambda p: phrasebank_spec(p / "nope.txt"), "no file at"),
    "bad label": (
        lambda p: phrasebank_spec(write_phrasebank(p, PHRASEBANK_LINES + ["Fine .@great"])),
        "bad label 'great'",
    ),
    "line without label": (
        lambda p: phrasebank_spec(write_phrasebank(p, PHRASEBANK_LINES + ["no label here"])),
        "line without '@label': no label here (row 13)",
    ),
    "empty file": (lambda p: phrasebank_spec(write_phrasebank(p, [])), "is empty"),
    "empty split": (
        lambda p: phrasebank_spec(write_phrasebank(p, PHRASEBANK_LINES[:1])),
        "1 unique rows cannot give both a train and an eval split",
    ),
    "bad json": (
        lambda p: DatasetSpec(kind="fiqa", name="f", path=str(_write(p / "f.jsonl", '{"question": ')), license="x"),
        "as JSON lines",
    ),
    "not utf-8": (
        lambda p: DatasetSpec(
            kind="fiqa",
            name="f",
            license="x",
            path=str(
                _write_bytes(
                    p / "f.jsonl", b'{"question": "q", "answer": "a."}\n{"question": "q\xe9", "answer": "a."}\n'
                )
            ),
        ),
        "is not UTF-8 text (byte 0xe9 on line 2)",
    ),
    "missing column": (
        lambda p: DatasetSpec(
            kind="fiqa", name="f", license="x", path=str(write_jsonl(p, [{"question": "q", "text": "a"}] * 5))
        ),
        "missing column(s) answer",
    ),
    "empty answer": (
        lambda p: DatasetSpec(
            kind="fiqa", name="f", license="x", path=str(write_jsonl(p, [{"question": "q", "answer": ""}] * 5))
        ),
        "empty or non-text question/answer",
    ),
    "wrong offset": (
        lambda p: DatasetSpec(
            kind="squad_jsonl",
            name="s",
            license="x",
            path=str(
                write_jsonl(
                    p, [{"question": "q", "context": "abc def", "answers": {"text": ["def"], "answer_start": [1]}}] * 5
                )
            ),
        ),
        "answer 'def' is not at character 1",
    ),
}


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_a_one_line_error(tmp_path, case):
    make, fragment = BAD_INPUTS[case]
    with pytest.raises(HubkitError) as info:
        prepare_data([make(tmp_path)], seed=0)
    message = str(info.value)
    assert "\n" not in message and message.startswith("dataset ") and fragment in message, message


def test_bad_specs():
    with pytest.raises(ValidationError, match="first_word"):
        DatasetSpec(kind="financial_phrasebank", name="x", license="x")  # format defaults to squad
    with pytest.raises(ValidationError):
        DatasetSpec(kind="fiqa", name="x", license="x", format="options")
    with pytest.raises(ValidationError):
        DatasetSpec(kind="fiqa", name="x", license="x", colour="red")
    with pytest.raises(HubkitError):
        prepare_data([], seed=0)


@pytest.mark.shared
@pytest.mark.parametrize("fmt", ["first_word", "options"])
def test_real_shared_data(shared_data, fmt):
    phrasebank = phrasebank_spec(shared_data / "financial_phrasebank" / "Sentences_AllAgree.txt", fmt)
    fiqa = DatasetSpec(
        kind="fiqa",
        name="explodinggradients/fiqa",
        path=str(shared_data / "fiqa" / "test.jsonl"),
        limit=30,
        license="unknown",
    )
    data = prepare_data([phrasebank, fiqa], seed=42, eval_fraction=0.2)
    pb, fq = data.infos
    assert all(isinstance(info, DatasetInfo) for info in data.infos)
    assert (pb.rows_read, pb.rows_dropped, pb.rows_train + pb.rows_eval, pb.rows_eval) == (2264, 5, 2259, 452)
    assert pb.sha256 == "e40398d27fa23c00ff07fed9872aa0ab88a3868a0fb435ab36967df566f85891"  # SOURCES.md
    assert (fq.rows_read, fq.rows_dropped, fq.rows_train + fq.rows_eval) == (30, 0, 30)
    assert len(data.train) == pb.rows_train + fq.rows_train
    assert len(data.eval) == pb.rows_eval + fq.rows_eval
    assert_offsets_check(data.train)
    assert_offsets_check(data.eval)
    assert len(set(data.train["id"][:]) | set(data.eval["id"][:])) == len(data.train) + len(data.eval)


def test_hub_rows_go_through_the_same_conversion(monkeypatch):
    """The Hub path (not reachable here) only reshapes rows; the converters are the local files' ones."""
    import datasets

    calls = []
    label = datasets.ClassLabel(names=["negative", "neutral", "positive"])
    features = datasets.Features({"text": datasets.Value("string"), "label": label})

    def fake_load_dataset(name, subset=None, *, revision=None, split=None):
        calls.append((name, subset, revision, split))
        if name == "explodinggradients/fiqa":
            return datasets.Dataset.from_dict(
                {"question": [r["question"] for r in FIQA_ROWS], "ground_truths": [[r["answer"]] for r in FIQA_ROWS]}
            )
        rows = [line.rsplit("@", 1) for line in PHRASEBANK_LINES]
        half = len(rows) // 2
        make = lambda part: datasets.Dataset.from_dict(  # noqa: E731
            {"text": [s for s, _ in part], "label": [label.str2int(lab) for _, lab in part]}, features=features
        )
        return datasets.DatasetDict({"train": make(rows[:half]), "test": make(rows[half:])})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    pb = DatasetSpec(
        kind="financial_phrasebank",
        name="FinanceMTEB/financial_phrasebank",
        format="options",
        revision="abc123",
        license="cc-by-nc-sa-3.0",
    )
    fq = DatasetSpec(kind="fiqa", name="explodinggradients/fiqa", limit=5, license="unknown")
    data = prepare_data([pb, fq], seed=0)
    assert calls == [
        ("FinanceMTEB/financial_phrasebank", None, "abc123", None),
        ("explodinggradients/fiqa", "main", None, "test"),
    ]
    info_pb, info_fq = data.infos
    assert (info_pb.source, info_pb.revision, info_pb.sha256) == ("FinanceMTEB/financial_phrasebank", "abc123", None)
    assert (info_pb.rows_read, info_pb.rows_dropped) == (12, 1)
    assert info_fq.rows_read == 5
    assert_offsets_check(list(data.train) + list(data.eval))


# --- the registry of dataset kinds -------------------------------------------------------------------------------


def test_every_kind_is_complete():
    from hubkit.train.kinds import KINDS

    for name, kind in KINDS.items():
        assert kind.name == name and kind.task and kind.formats and kind.required_columns
        assert all(recipe.strip() for recipe in kind.recipes.values())
        assert kind.local_builder in ("json", "text")


def test_a_new_kind_is_one_registry_entry(tmp_path, monkeypatch):
    """Config validation, reading, conversion and the record's recipe all come from the one entry."""
    from hubkit.train import kinds

    def headline_row(row, fmt, name):
        return {
            "question": "What is the headline?",
            "context": row["title"],
            "answers": {"text": [row["title"]], "answer_start": [0]},
        }

    entry = kinds.DatasetKind(
        name="headlines",
        task="Headline copying",
        recipes={"squad": "answer = the whole title"},
        required_columns=("title",),
        convert=headline_row,
    )
    monkeypatch.setitem(kinds.KINDS, "headlines", entry)
    path = write_jsonl(tmp_path, [{"title": f"Shares rose {i} percent"} for i in range(10)], "h.jsonl")
    data = prepare_data([DatasetSpec(kind="headlines", name="me/headlines", path=str(path), license="mit")], seed=0)
    (info,) = data.infos
    assert (info.task, info.recipe, info.rows_train + info.rows_eval) == (
        "Headline copying",
        "answer = the whole title",
        10,
    )
    assert_offsets_check(list(data.train) + list(data.eval))
    with pytest.raises(ValidationError, match="format 'options' is not one of squad for headlines"):
        DatasetSpec(kind="headlines", name="x", license="x", format="options")
