"""Datasets -> SQuAD-form extractive QA examples, deduplicated and split, with a record of what was used.

Every dataset is read through `datasets` (a Hub id in real use, a local file here) into a table of raw rows; one
converter per kind turns those rows into SQuAD examples (`id`, `question`, `context`, `answers`, `source`), whichever
way they were read. Each answer's character offset is checked against its context, so a bad conversion fails loudly
instead of training on misplaced spans. Exact duplicates (same context and question) are dropped *before* the seeded
80/20 split (stratified by label for Financial PhraseBank), so no eval example also sits in train. What was read, dropped and used goes into `infos`, one dict per
dataset, shaped like :class:`hubkit.record.DatasetInfo`.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Optional

import datasets
from pydantic import BaseModel, ConfigDict, model_validator

from ..errors import HubkitError

SENTIMENT_QUESTION = "What is the financial sentiment of this statement?"
SENTIMENT_LABELS = ("negative", "neutral", "positive")
# The non-leaky "options" format: every context starts with the same list of the three labels, so the answer's
# position says nothing about the label; the model must read the statement to pick the span.
OPTIONS_PREFIX = "Options: " + ", ".join(SENTIMENT_LABELS) + ". Statement: "

SQUAD_FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "question": datasets.Value("string"),
        "context": datasets.Value("string"),
        "answers": {
            "text": datasets.List(datasets.Value("string")),
            "answer_start": datasets.List(datasets.Value("int32")),
        },
        "source": datasets.Value("string"),
    }
)

_FORMATS = {
    "financial_phrasebank": ("first_word", "options"),
    "fiqa": ("squad",),
    "squad_jsonl": ("squad",),
}
_TASKS = {
    "financial_phrasebank": "Sentiment -> QA",
    "fiqa": "Financial QA",
    "squad_jsonl": "Extractive QA",
}
_RECIPES = {
    ("financial_phrasebank", "first_word"): (
        'context = "<label>. <sentence>", question = "' + SENTIMENT_QUESTION + '", answer = the label '
        "(the reference's format: the answer is always the context's first word, so it measures copying, not sentiment)"
    ),
    ("financial_phrasebank", "options"): (
        f'context = "{OPTIONS_PREFIX}<sentence>", question = "{SENTIMENT_QUESTION}", answer = the span of the '
        "right label in the options list (the same prefix for every row, so the answer position does not leak the label)"
    ),
    ("fiqa", "squad"): (
        "context = the answer passage, answer = the passage sentence sharing the most distinct lowercase words "
        "(stopwords excluded) with the question, the earliest one on a tie"
    ),
    ("squad_jsonl", "squad"): "rows are already SQuAD examples (question, context, answers with character offsets)",
}
# Where a Hub dataset keeps the rows the reference used, when the config names no subset/split.
_HUB_DEFAULTS = {"fiqa": ("main", "test")}


class DatasetSpec(BaseModel):
    """One entry of an experiment config's `datasets:` list."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["financial_phrasebank", "fiqa", "squad_jsonl"]
    name: str  # Hub id, what the card shows (e.g. FinanceMTEB/financial_phrasebank)
    path: Optional[str] = None  # local file; None -> load `name` from the Hub
    revision: Optional[str] = None
    format: str = "squad"
    limit: Optional[int] = None  # keep the first N rows (the reference used 30 FiQA rows)
    license: str
    citation: Optional[str] = None
    subset: Optional[str] = None  # Hub config name (FiQA default: "main")
    split: Optional[str] = None  # Hub split; None -> FiQA "test", otherwise all splits concatenated

    @model_validator(mode="after")
    def _check(self) -> "DatasetSpec":
        allowed = _FORMATS[self.kind]
        if self.kind == "financial_phrasebank" and self.format == "squad":
            raise ValueError("financial_phrasebank needs format 'first_word' (the reference's) or 'options'")
        if self.format not in allowed:
            raise ValueError(f"format {self.format!r} is not one of {', '.join(allowed)} for {self.kind}")
        if self.limit is not None and self.limit <= 0:
            raise ValueError("limit must be a positive number of rows")
        return self


@dataclass
class PreparedData:
    train: datasets.Dataset
    eval: datasets.Dataset
    infos: list[dict]


def prepare_data(
    specs: list[DatasetSpec], *, seed: int, eval_fraction: float = 0.2, base_dir: Optional[Path] = None
) -> PreparedData:
    """Load, convert, deduplicate and split every dataset; concatenate the splits; describe each dataset."""
    if not specs:
        raise HubkitError("no datasets configured")
    if not 0 < eval_fraction < 1:
        raise HubkitError(f"eval_fraction must be between 0 and 1, got {eval_fraction}")
    trains, evals, infos = [], [], []
    for spec in specs:
        raw, source, sha256 = _read(spec, base_dir)
        rows_read = len(raw)
        converted = _convert(spec, raw)
        unique = _drop_duplicates(converted)
        train, evaluation = _split(unique, spec, eval_fraction=eval_fraction, seed=seed)
        trains.append(train)
        evals.append(evaluation)
        infos.append(
            {
                "name": spec.name,
                "source": source,
                "revision": spec.revision,
                "sha256": sha256,
                "task": _TASKS[spec.kind],
                "format": spec.format,
                "recipe": _RECIPES[(spec.kind, spec.format)],
                "license": spec.license,
                "citation": spec.citation,
                # the Hub dataset's own config/split the rows are (defaults only apply when read from the Hub)
                "hub_config": spec.subset or (_HUB_DEFAULTS.get(spec.kind, (None, None))[0] if spec.path is None else None),
                "hub_split": spec.split or (_HUB_DEFAULTS.get(spec.kind, (None, None))[1] if spec.path is None else None),
                "rows_read": rows_read,
                "rows_dropped": rows_read - len(unique),
                "rows_train": len(train),
                "rows_eval": len(evaluation),
            }
        )
    train, evaluation = datasets.concatenate_datasets(trains), datasets.concatenate_datasets(evals)
    ids = train["id"][:] + evaluation["id"][:]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise HubkitError(f"example id {duplicate!r} occurs more than once across the configured datasets")
    return PreparedData(train=train, eval=evaluation, infos=infos)


# --- reading ------------------------------------------------------------------------------------------------------


def _read(spec: DatasetSpec, base_dir: Optional[Path]) -> tuple[datasets.Dataset, str, Optional[str]]:
    """The raw rows (first `limit` of them), what was read (path as configured, or Hub id) and its checksum."""
    if spec.path is None:
        raw = _read_hub(spec)
        source, sha256 = spec.name, None
    else:
        path = Path(spec.path).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not path.is_file():
            raise HubkitError(f"dataset {spec.name}: no file at {path}")
        if spec.kind == "financial_phrasebank":
            # latin-1 `sentence@label` lines; blank lines are not rows.
            raw = _load_local("text", path, spec, encoding="latin-1")
            raw = raw.filter(lambda row: bool(row["text"].strip()))
        else:
            raw = _load_local("json", path, spec)
        source, sha256 = spec.path, _sha256(path)
    if spec.limit is not None and spec.limit < len(raw):
        raw = raw.select(range(spec.limit))
    if len(raw) == 0:
        raise HubkitError(f"dataset {spec.name}: no rows in {source}")
    return raw, source, sha256


def _load_local(builder: str, path: Path, spec: DatasetSpec, **kwargs) -> datasets.Dataset:
    """A local file through a `datasets` packaged builder ("text" or "json"), with one-line errors."""
    if path.stat().st_size == 0:
        raise HubkitError(f"dataset {spec.name}: {path} is empty")
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as exc:  # builders wrap parse/decode errors in DatasetGenerationError and friends
        cause = exc.__cause__ or exc
        what = "JSON lines" if builder == "json" else "text"
        raise HubkitError(f"dataset {spec.name}: cannot read {path} as {what} ({type(cause).__name__})") from None


def _read_hub(spec: DatasetSpec) -> datasets.Dataset:
    """The real-use path: the same converters then run on the Hub rows as on local files."""
    subset, split = _HUB_DEFAULTS.get(spec.kind, (None, None))
    subset = spec.subset or subset
    split = spec.split or split
    try:
        loaded = datasets.load_dataset(spec.name, subset, revision=spec.revision, split=split)
    except Exception as exc:
        raise HubkitError(f"dataset {spec.name}: could not load it from the Hub ({type(exc).__name__})") from None
    if isinstance(loaded, datasets.DatasetDict):
        loaded = datasets.concatenate_datasets([loaded[name] for name in sorted(loaded)])
    if spec.kind == "financial_phrasebank":
        loaded = _hub_phrasebank_to_lines(loaded, spec)
    elif spec.kind == "fiqa" and "answer" not in loaded.column_names and "ground_truths" in loaded.column_names:
        # explodinggradients/fiqa keeps the relevant passages in `ground_truths`; the first is the answer.
        loaded = loaded.map(lambda row: {"answer": (row["ground_truths"] or [""])[0]})
    return loaded


def _hub_phrasebank_to_lines(ds: datasets.Dataset, spec: DatasetSpec) -> datasets.Dataset:
    """Hub copies store (sentence, label) columns; rewrite them as the file's `sentence@label` lines."""
    cols = ds.column_names
    text_col = next((c for c in ("sentence", "text") if c in cols), None)
    label_col = next((c for c in ("label_text", "label") if c in cols), None)
    if text_col is None or label_col is None:
        raise HubkitError(f"dataset {spec.name}: expected sentence/text and label columns, found {', '.join(cols)}")
    feature = ds.features[label_col]
    if isinstance(feature, datasets.ClassLabel):
        to_name: Callable[[object], str] = feature.int2str
    elif feature.dtype == "string":
        to_name = str
    else:
        raise HubkitError(f"dataset {spec.name}: column {label_col} holds numbers without label names")
    return ds.map(
        lambda row: {"text": f"{row[text_col]}@{to_name(row[label_col])}"}, remove_columns=cols
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- conversion ---------------------------------------------------------------------------------------------------


def _convert(spec: DatasetSpec, raw: datasets.Dataset) -> datasets.Dataset:
    converters = {"financial_phrasebank": _phrasebank_row, "fiqa": _fiqa_row, "squad_jsonl": _squad_row}
    required = {"financial_phrasebank": ["text"], "fiqa": ["question", "answer"], "squad_jsonl": ["question", "context", "answers"]}
    missing = [c for c in required[spec.kind] if c not in raw.column_names]
    if missing:
        raise HubkitError(f"dataset {spec.name}: missing column(s) {', '.join(missing)}")
    convert = converters[spec.kind]

    def one(row: dict, index: int) -> dict:
        try:
            example = convert(row, spec)
        except HubkitError as exc:
            raise HubkitError(f"{exc} (row {index + 1})") from None
        example.setdefault("id", f"{_slug(spec.name)}-{index}")
        example["source"] = spec.name
        _check_offsets(example, spec, index)
        return example

    return raw.map(
        one, with_indices=True, remove_columns=raw.column_names, features=SQUAD_FEATURES, load_from_cache_file=False
    )


def _phrasebank_row(row: dict, spec: DatasetSpec) -> dict:
    line = row["text"]
    if "@" not in line:
        raise HubkitError(f"dataset {spec.name}: line without '@label': {_short(line)}")
    sentence, label = (part.strip() for part in line.rsplit("@", 1))
    if label not in SENTIMENT_LABELS:
        raise HubkitError(
            f"dataset {spec.name}: bad label {label!r} (expected {', '.join(SENTIMENT_LABELS)}) in line: {_short(line)}"
        )
    if not sentence:
        raise HubkitError(f"dataset {spec.name}: empty sentence in line: {_short(line)}")
    if spec.format == "first_word":
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


def _fiqa_row(row: dict, spec: DatasetSpec) -> dict:
    question, passage = row["question"], row["answer"]
    if not isinstance(question, str) or not isinstance(passage, str) or not question.strip() or not passage.strip():
        raise HubkitError(f"dataset {spec.name}: a row has an empty or non-text question/answer: {_short(str(question))}")
    text, start = best_overlap_sentence(question, passage)
    return {"question": question, "context": passage, "answers": {"text": [text], "answer_start": [start]}}


def _squad_row(row: dict, spec: DatasetSpec) -> dict:
    answers = row["answers"]
    if not isinstance(answers, dict) or not answers.get("text") or "answer_start" not in answers:
        raise HubkitError(f"dataset {spec.name}: row {row.get('id')!r} needs answers {{text: [...], answer_start: [...]}}")
    example = {
        "question": row["question"],
        "context": row["context"],
        "answers": {"text": list(answers["text"]), "answer_start": [int(s) for s in answers["answer_start"]]},
    }
    if row.get("id") is not None:
        example["id"] = str(row["id"])
    return example


def _check_offsets(example: dict, spec: DatasetSpec, index: int) -> None:
    """Every answer must sit at its character offset, or the model would learn the wrong span."""
    context, answers = example["context"], example["answers"]
    if len(answers["text"]) != len(answers["answer_start"]) or not answers["text"]:
        raise HubkitError(f"dataset {spec.name}: row {index} has {len(answers['text'])} answer texts but "
                          f"{len(answers['answer_start'])} offsets")
    for text, start in zip(answers["text"], answers["answer_start"]):
        if not text or start < 0 or context[start : start + len(text)] != text:
            raise HubkitError(
                f"dataset {spec.name}: row {index}: answer {_short(text)!r} is not at character {start} of its context"
            )


# --- dedup and split ----------------------------------------------------------------------------------------------


def _drop_duplicates(ds: datasets.Dataset) -> datasets.Dataset:
    """Keep the first of each (context, question) pair, so the same example cannot land in both splits."""
    seen: set[tuple[str, str]] = set()
    keep = []
    for i, (context, question) in enumerate(zip(ds["context"][:], ds["question"][:])):
        key = (context, question)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return ds if len(keep) == len(ds) else ds.select(keep)


def _split(
    ds: datasets.Dataset, spec: DatasetSpec, *, eval_fraction: float, seed: int
) -> tuple[datasets.Dataset, datasets.Dataset]:
    n_eval = math.ceil(eval_fraction * len(ds))  # what train_test_split does with a float test_size
    if n_eval == 0 or n_eval >= len(ds):
        raise HubkitError(
            f"dataset {spec.name}: {len(ds)} unique rows cannot give both a train and an eval split "
            f"(eval_fraction {eval_fraction})"
        )
    if spec.kind != "financial_phrasebank":
        parts = ds.train_test_split(test_size=n_eval, seed=seed)
        return parts["train"], parts["test"]
    # Stratified by label: every split keeps the label shares, so the majority-class baseline (and EM) does not
    # swing by several points with the seed on a 452-row eval set.
    labelled = ds.add_column("label", [a["text"][0] for a in ds["answers"][:]])
    labelled = labelled.cast_column("label", datasets.ClassLabel(names=list(SENTIMENT_LABELS)))
    try:
        parts = labelled.train_test_split(test_size=n_eval, seed=seed, stratify_by_column="label")
    except ValueError as exc:  # too few rows of a label to put one on each side
        raise HubkitError(f"dataset {spec.name}: cannot split it by label ({' '.join(str(exc).split())})") from None
    return parts["train"].remove_columns("label"), parts["test"].remove_columns("label")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
