"""What hubkit knows about each kind of dataset, one :class:`DatasetKind` entry per kind in :data:`KINDS`.

An entry says what the kind teaches, which formats it can be recast in (and how, in one sentence each: the card's
recipe text), how a local file is read, which columns a row needs, how one row becomes a SQuAD example, where the
Hub keeps the reference's rows and how Hub columns map to the file's, and whether the split is stratified by label.
Adding a kind is adding an entry here; `hubkit.train.data` (reading, dedup, split) has no per-kind branches.

This module stays light (no `datasets` at import): the experiment config validates `kind` and `format` against it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import HubkitError

SENTIMENT_QUESTION = "What is the financial sentiment of this statement?"
SENTIMENT_LABELS = ("negative", "neutral", "positive")
# The non-leaky "options" format: every context starts with the same list of the three labels, so the answer's
# position says nothing about the label; the model must read the statement to pick the span.
OPTIONS_PREFIX = "Options: " + ", ".join(SENTIMENT_LABELS) + ". Statement: "

Row = dict[str, Any]
# (raw row, format, dataset name) -> SQuAD example {question, context, answers[, id]}; HubkitError on a bad row
Converter = Callable[[Row, str, str], Row]


@dataclass(frozen=True)
class DatasetKind:
    name: str
    task: str  # what it teaches, e.g. "Financial QA" (the card's datasets table)
    recipes: dict[str, str]  # format -> one sentence: how a row became an extractive QA example
    required_columns: tuple[str, ...]  # of a raw row, after the Hub columns were mapped
    convert: Converter
    local_builder: str = "json"  # the `datasets` packaged builder a local file is read with
    local_encoding: Optional[str] = None
    hub_id: Optional[str] = None  # where the reference's rows live on the Hub (documentation, config examples)
    hub_subset: Optional[str] = None  # default Hub config name when the config names none
    hub_split: Optional[str] = None  # default Hub split; None: all splits concatenated
    hub_rows: Optional[Callable[[Any, str], Any]] = field(default=None, repr=False)  # (Dataset, name) -> Dataset
    stratify_labels: Optional[tuple[str, ...]] = None  # split stratified by the answer text, over these labels
    labels: Optional[tuple[str, ...]] = None  # classification posed as QA: the closed answer set (per-label scores)

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(self.recipes)

    def hub_defaults(self, hub_name: str) -> tuple[Optional[str], Optional[str]]:
        """(config, split) to read when a config names none: the kind's own, for its own Hub id only."""
        return (self.hub_subset, self.hub_split) if hub_name == self.hub_id else (None, None)


# --- converters ---------------------------------------------------------------------------------------------------


def short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _phrasebank_row(row: Row, fmt: str, name: str) -> Row:
    line = row["text"]
    if "@" not in line:
        raise HubkitError(f"dataset {name}: line without '@label': {short(line)}")
    sentence, label = (part.strip() for part in line.rsplit("@", 1))
    if label not in SENTIMENT_LABELS:
        raise HubkitError(
            f"dataset {name}: bad label {label!r} (expected {', '.join(SENTIMENT_LABELS)}) in line: {short(line)}"
        )
    if not sentence:
        raise HubkitError(f"dataset {name}: empty sentence in line: {short(line)}")
    if fmt == "first_word":
        context, start = f"{label}. {sentence}", 0
    else:
        context, start = OPTIONS_PREFIX + sentence, OPTIONS_PREFIX.index(label)
    return {
        "question": SENTIMENT_QUESTION,
        "context": context,
        "answers": {"text": [label], "answer_start": [start]},
    }


_WORD = re.compile(r"[a-z0-9]+")
# A sentence: from a non-space character up to . ! or ? followed by whitespace, or the end of the text
# (so "3.5%" and "U.S.A" stay inside their sentence).
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s)|$)", re.S)
_STOPWORDS = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this that these "
    "those i you he she we they my your our their me him her us them do does did can could should would will shall "
    "may might must have has had not no so than then there what which who whom whose when where why how".split()
)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def best_overlap_sentence(question: str, passage: str) -> tuple[str, int]:
    """The FiQA recipe: the passage sentence sharing the most content words with the question (earliest on a tie)."""
    wanted = _content_words(question)
    best: Optional[tuple[int, str, int]] = None
    for match in _SENTENCE.finditer(passage):
        text = match.group().rstrip()
        score = len(wanted & _content_words(text))
        if best is None or score > best[0]:
            best = (score, text, match.start())
    if best is None:
        raise ValueError("passage has no sentence")
    return best[1], best[2]


def _fiqa_row(row: Row, fmt: str, name: str) -> Row:
    question, passage = row["question"], row["answer"]
    if not isinstance(question, str) or not isinstance(passage, str) or not question.strip() or not passage.strip():
        raise HubkitError(f"dataset {name}: a row has an empty or non-text question/answer: {short(str(question))}")
    text, start = best_overlap_sentence(question, passage)
    return {"question": question, "context": passage, "answers": {"text": [text], "answer_start": [start]}}


def _squad_row(row: Row, fmt: str, name: str) -> Row:
    answers = row["answers"]
    if not isinstance(answers, dict) or not answers.get("text") or "answer_start" not in answers:
        raise HubkitError(f"dataset {name}: row {row.get('id')!r} needs answers {{text: [...], answer_start: [...]}}")
    example = {
        "question": row["question"],
        "context": row["context"],
        "answers": {"text": list(answers["text"]), "answer_start": [int(s) for s in answers["answer_start"]]},
    }
    if row.get("id") is not None:
        example["id"] = str(row["id"])
    return example


# --- Hub columns -> the local file's rows -----------------------------------------------------------------------


def _hub_phrasebank_to_lines(ds, name: str):
    """Hub copies store (sentence, label) columns; rewrite them as the file's `sentence@label` lines."""
    import datasets

    cols = ds.column_names
    text_col = next((c for c in ("sentence", "text") if c in cols), None)
    label_col = next((c for c in ("label_text", "label") if c in cols), None)
    if text_col is None or label_col is None:
        raise HubkitError(f"dataset {name}: expected sentence/text and label columns, found {', '.join(cols)}")
    feature = ds.features[label_col]
    if isinstance(feature, datasets.ClassLabel):
        to_name: Callable[[object], str] = feature.int2str
    elif getattr(feature, "dtype", None) == "string":
        to_name = str
    else:
        raise HubkitError(f"dataset {name}: column {label_col} holds numbers without label names")
    return ds.map(lambda row: {"text": f"{row[text_col]}@{to_name(row[label_col])}"}, remove_columns=cols)


def _hub_fiqa_answers(ds, name: str):
    """explodinggradients/fiqa keeps the relevant passages in `ground_truths`; the first is the answer."""
    if "answer" not in ds.column_names and "ground_truths" in ds.column_names:
        return ds.map(lambda row: {"answer": (row["ground_truths"] or [""])[0]})
    return ds


# --- the registry -------------------------------------------------------------------------------------------------

KINDS: dict[str, DatasetKind] = {
    kind.name: kind
    for kind in (
        DatasetKind(
            name="financial_phrasebank",
            task="Sentiment -> QA",
            recipes={
                "first_word": (
                    'context = "<label>. <sentence>", question = "' + SENTIMENT_QUESTION + '", answer = the label '
                    "(the reference's format: the answer is always the context's first word, so it measures "
                    "copying, not sentiment)"
                ),
                "options": (
                    f'context = "{OPTIONS_PREFIX}<sentence>", question = "{SENTIMENT_QUESTION}", answer = the span '
                    "of the right label in the options list (the same prefix for every row, so the answer position "
                    "does not leak the label)"
                ),
            },
            required_columns=("text",),
            convert=_phrasebank_row,
            local_builder="text",  # latin-1 `sentence@label` lines
            local_encoding="latin-1",
            hub_id="takala/financial_phrasebank",  # the canonical Hub copy; the AllAgree file is one of its configs
            hub_subset="sentences_allagree",
            hub_split="train",
            hub_rows=_hub_phrasebank_to_lines,
            # Every split keeps the label shares, so the majority-class baseline (and EM) does not swing by several
            # points with the seed on a 452-row eval set.
            stratify_labels=SENTIMENT_LABELS,
            labels=SENTIMENT_LABELS,
        ),
        DatasetKind(
            name="fiqa",
            task="Financial QA",
            recipes={
                "squad": (
                    "context = the answer passage, answer = the passage sentence sharing the most distinct lowercase "
                    "words (stopwords excluded) with the question, the earliest one on a tie"
                ),
            },
            required_columns=("question", "answer"),
            convert=_fiqa_row,
            hub_id="explodinggradients/fiqa",
            hub_subset="main",
            hub_split="test",
            hub_rows=_hub_fiqa_answers,
        ),
        DatasetKind(
            name="squad_jsonl",
            task="Extractive QA",
            recipes={"squad": "rows are already SQuAD examples (question, context, answers with character offsets)"},
            required_columns=("question", "context", "answers"),
            convert=_squad_row,
        ),
    )
}


def get_kind(name: str) -> DatasetKind:
    try:
        return KINDS[name]
    except KeyError:
        raise HubkitError(f"unknown dataset kind {name!r} (one of {', '.join(KINDS)})") from None
