"""Datasets -> SQuAD-form extractive QA examples, deduplicated and split, with a record of what was used.

Every dataset is read through `datasets` (a Hub id in real use, a local file here) into a table of raw rows; one
converter per kind turns those rows into SQuAD examples (`id`, `question`, `context`, `answers`, `source`), whichever
way they were read. Each answer's character offset is checked against its context, so a bad conversion fails loudly
instead of training on misplaced spans. Exact duplicates (same context and question) are dropped *before* the seeded
80/20 split (stratified by label where the kind says so), so no eval example also sits in train. What was read,
dropped and used goes into `infos`, one :class:`hubkit.record.DatasetInfo` per dataset. What differs between kinds
(columns, converter, Hub defaults, recipe text) lives in :mod:`hubkit.train.kinds`, not here.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import datasets

from ..errors import HubkitError
from ..record import DatasetInfo
from .config import DatasetSpec
from .kinds import DatasetKind, get_kind, short

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


@dataclass
class PreparedData:
    train: datasets.Dataset
    eval: datasets.Dataset
    infos: list[DatasetInfo]


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
        kind = get_kind(spec.kind)
        raw, source, sha256 = _read(spec, kind, base_dir)
        rows_read = len(raw)
        converted = _convert(spec, kind, raw)
        unique = _drop_duplicates(converted)
        train, evaluation = _split(unique, spec, kind, eval_fraction=eval_fraction, seed=seed)
        trains.append(train)
        evals.append(evaluation)
        infos.append(
            DatasetInfo(
                name=spec.name,
                source=source,
                revision=spec.revision,
                sha256=sha256,
                task=kind.task,
                format=spec.format,
                recipe=kind.recipes[spec.format],
                license=spec.license,
                citation=spec.citation,
                # the Hub dataset's own config/split the rows are (the kind's defaults apply only when read from the Hub)
                hub_config=spec.subset or (kind.hub_defaults(spec.name)[0] if spec.path is None else None),
                hub_split=spec.split or (kind.hub_defaults(spec.name)[1] if spec.path is None else None),
                rows_read=rows_read,
                rows_dropped=rows_read - len(unique),
                rows_train=len(train),
                rows_eval=len(evaluation),
            )
        )
    train, evaluation = datasets.concatenate_datasets(trains), datasets.concatenate_datasets(evals)
    ids = train["id"][:] + evaluation["id"][:]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise HubkitError(f"example id {duplicate!r} occurs more than once across the configured datasets")
    return PreparedData(train=train, eval=evaluation, infos=infos)


# --- reading ------------------------------------------------------------------------------------------------------


def _read(
    spec: DatasetSpec, kind: DatasetKind, base_dir: Optional[Path]
) -> tuple[datasets.Dataset, str, Optional[str]]:
    """The raw rows (first `limit` of them), what was read (path as configured, or Hub id) and its checksum."""
    if spec.path is None:
        raw = _read_hub(spec, kind)
        source, sha256 = spec.name, None
    else:
        path = Path(spec.path).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not path.is_file():
            raise HubkitError(f"dataset {spec.name}: no file at {path}")
        _check_decodes(path, kind.local_encoding or "utf-8", spec)
        encoding = {"encoding": kind.local_encoding} if kind.local_encoding else {}
        raw = _load_local(kind.local_builder, path, spec, **encoding)
        if kind.local_builder == "text":  # blank lines are not rows
            raw = raw.filter(lambda row: bool(row["text"].strip()))
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


def _check_decodes(path: Path, encoding: str, spec: DatasetSpec) -> None:
    """Bytes that do not decode are a one-line error naming the line (pyarrow would keep them and fail later)."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line += exc.object.count(b"\n", 0, exc.start)  # (bytes held from the last block hold no newline)
                raise HubkitError(
                    f"dataset {spec.name}: {path} is not {encoding.upper()} text "
                    f"(byte 0x{exc.object[exc.start]:02x} on line {line})"
                ) from None
            line += block.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise HubkitError(f"dataset {spec.name}: {path} ends inside a {encoding.upper()} character") from None


def _read_hub(spec: DatasetSpec, kind: DatasetKind) -> datasets.Dataset:
    """The real-use path: the same converters then run on the Hub rows as on local files."""
    default_subset, default_split = kind.hub_defaults(spec.name)
    subset = spec.subset or default_subset
    split = spec.split or default_split
    try:
        loaded = datasets.load_dataset(spec.name, subset, revision=spec.revision, split=split)
    except Exception as exc:
        raise HubkitError(f"dataset {spec.name}: could not load it from the Hub ({type(exc).__name__})") from None
    if isinstance(loaded, datasets.DatasetDict):
        loaded = datasets.concatenate_datasets([loaded[name] for name in sorted(loaded)])
    return kind.hub_rows(loaded, spec.name) if kind.hub_rows is not None else loaded


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- conversion ---------------------------------------------------------------------------------------------------


def _convert(spec: DatasetSpec, kind: DatasetKind, raw: datasets.Dataset) -> datasets.Dataset:
    missing = [c for c in kind.required_columns if c not in raw.column_names]
    if missing:
        raise HubkitError(f"dataset {spec.name}: missing column(s) {', '.join(missing)}")

    def one(row: dict, index: int) -> dict:
        try:
            example = kind.convert(row, spec.format, spec.name)
        except HubkitError as exc:
            raise HubkitError(f"{exc} (row {index + 1})") from None
        example.setdefault("id", f"{_slug(spec.name)}-{index}")
        example["source"] = spec.name
        _check_offsets(example, spec, index)
        return example

    return raw.map(
        one, with_indices=True, remove_columns=raw.column_names, features=SQUAD_FEATURES, load_from_cache_file=False
    )


def _check_offsets(example: dict, spec: DatasetSpec, index: int) -> None:
    """Every answer must sit at its character offset, or the model would learn the wrong span."""
    context, answers = example["context"], example["answers"]
    if len(answers["text"]) != len(answers["answer_start"]) or not answers["text"]:
        raise HubkitError(
            f"dataset {spec.name}: row {index} has {len(answers['text'])} answer texts but "
            f"{len(answers['answer_start'])} offsets"
        )
    for text, start in zip(answers["text"], answers["answer_start"]):
        if not text or start < 0 or context[start : start + len(text)] != text:
            raise HubkitError(
                f"dataset {spec.name}: row {index}: answer {short(text)!r} is not at character {start} of its context"
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
    ds: datasets.Dataset, spec: DatasetSpec, kind: DatasetKind, *, eval_fraction: float, seed: int
) -> tuple[datasets.Dataset, datasets.Dataset]:
    n_eval = math.ceil(eval_fraction * len(ds))  # what train_test_split does with a float test_size
    if n_eval == 0 or n_eval >= len(ds):
        raise HubkitError(
            f"dataset {spec.name}: {len(ds)} unique rows cannot give both a train and an eval split "
            f"(eval_fraction {eval_fraction})"
        )
    if kind.stratify_labels is None:
        parts = ds.train_test_split(test_size=n_eval, seed=seed)
        return parts["train"], parts["test"]
    # Stratified by label (the answer text): every split keeps the label shares.
    labelled = ds.add_column("label", [a["text"][0] for a in ds["answers"][:]])
    labelled = labelled.cast_column("label", datasets.ClassLabel(names=list(kind.stratify_labels)))
    try:
        parts = labelled.train_test_split(test_size=n_eval, seed=seed, stratify_by_column="label")
    except ValueError as exc:  # too few rows of a label to put one on each side
        raise HubkitError(f"dataset {spec.name}: cannot split it by label ({' '.join(str(exc).split())})") from None
    return parts["train"].remove_columns("label"), parts["test"].remove_columns("label")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
