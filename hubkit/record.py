"""The run record (`record.json`): the contract between training and publishing.

Training writes it; the card generator and the publisher only read it. Every number a card shows lives here,
machine-written by a run. The schema is versioned; a record is validated on load, and a missing or malformed field
is a one-line :class:`~hubkit.errors.HubkitError` naming the field.

This module must stay light: it is imported by `hubkit build-card`, which never imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import HubkitError, describe_validation_error
from .ids import looks_like_local_path

SCHEMA_VERSION: Literal[2] = 2
RECORD_FILENAME = "record.json"


class _Strict(BaseModel):
    # allow_inf_nan=False: `Infinity`/`NaN` (which json.loads accepts) is no number a card can show
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class BaseModelInfo(_Strict):
    """The model the run started from."""

    id: str = Field(description="Hub id of the base model (what the card's base_model shows), never a local path")
    revision: Optional[str] = Field(None, description="Hub commit of the base model, when loaded from the Hub")
    source: Literal["hub", "local", "random_init"] = Field(
        description="where the weights came from: the Hub, a local folder, or random init from the config"
    )
    architecture: str = Field(
        description="config.architectures[0] of the merged model, e.g. DistilBertForQuestionAnswering"
    )
    model_type: str = Field(description="config.model_type, e.g. distilbert")


class DatasetInfo(_Strict):
    """One dataset the run read, and what it used of it."""

    name: str = Field(description="Hub id, e.g. takala/financial_phrasebank")
    source: str = Field(description="what was actually read: the Hub id, or a local file path as the config gave it")
    revision: Optional[str] = None
    sha256: Optional[str] = Field(None, description="checksum of the local file that was read")
    task: str = Field(description="what it teaches, e.g. 'Financial QA' or 'Sentiment -> QA'")
    format: str = Field(description="how examples were made, e.g. 'squad', 'first_word', 'options'")
    recipe: str = Field(description="one sentence: how a row became an extractive QA example")
    license: str
    citation: Optional[str] = None
    hub_config: Optional[str] = Field(None, description="config (subset) of the Hub dataset the rows are, e.g. 'main'")
    hub_split: Optional[str] = Field(None, description="split of the Hub dataset the rows were taken from, e.g. 'test'")
    rows_read: int = Field(ge=0)
    rows_dropped: int = Field(ge=0, description="duplicates and unusable rows removed before the split")
    rows_train: int = Field(ge=0)
    rows_eval: int = Field(ge=0)

    @model_validator(mode="after")
    def _rows_add_up(self) -> DatasetInfo:
        if self.rows_read - self.rows_dropped != self.rows_train + self.rows_eval:
            raise ValueError(
                f"rows do not add up: read {self.rows_read} - dropped {self.rows_dropped} "
                f"!= train {self.rows_train} + eval {self.rows_eval}"
            )
        return self


class LoraInfo(_Strict):
    r: int = Field(gt=0)
    alpha: float = Field(gt=0)
    dropout: float = Field(ge=0, lt=1)
    target_modules: list[str] = Field(min_length=1)
    task_type: str = "QUESTION_ANS"
    modules_to_save: list[str] = Field(default_factory=list, description="modules trained in full, e.g. the QA head")


class ParameterCounts(_Strict):
    trainable: int = Field(ge=0)
    total: int = Field(gt=0)

    @model_validator(mode="after")
    def _trainable_le_total(self) -> ParameterCounts:
        if self.trainable > self.total:
            raise ValueError("trainable parameters exceed total parameters")
        return self

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / self.total


class TrainingArgs(_Strict):
    epochs: float = Field(gt=0)
    max_steps: Optional[int] = Field(None, description="set when a run was capped by steps instead of epochs")
    per_device_batch_size: int = Field(gt=0)
    gradient_accumulation_steps: int = Field(gt=0)
    num_processes: int = Field(1, gt=0)
    learning_rate: float = Field(gt=0)
    lr_scheduler: str
    warmup_ratio: float = Field(ge=0, le=1)
    weight_decay: float = Field(ge=0)
    optimizer: str
    seed: int
    max_length: int = Field(gt=0)
    doc_stride: int = Field(ge=0)
    precision: str = Field(description="what ran: fp32, tf32 (fp32 with TF32 matmuls), bf16 (autocast) or fp16")
    logging_steps: int = Field(gt=0)
    # issue 11: what the config asked for beside what ran (absent in records written before)
    precision_requested: Optional[str] = Field(None, description="the config's precision, e.g. auto")
    precision_reason: Optional[str] = None
    micro_batch: Optional[int | str] = Field(None, description="the config's micro_batch setting (None: default)")
    configured_per_device_batch_size: Optional[int] = Field(None, gt=0)
    configured_gradient_accumulation_steps: Optional[int] = Field(None, gt=0)
    micro_batch_reason: Optional[str] = None
    pad_to_multiple_of: Optional[int] = Field(None, gt=0)

    @property
    def effective_batch_size(self) -> int:
        return self.per_device_batch_size * self.gradient_accumulation_steps * self.num_processes


class Hardware(_Strict):
    device: str = Field(description="e.g. 'CPU (2 cores)' or 'NVIDIA H100 80GB x1'")
    wall_time_seconds: float = Field(ge=0, description="training wall time of the main run")
    total_seconds: Optional[float] = Field(None, ge=0, description="wall time of the whole `hubkit train`")
    stage_seconds: dict[str, float] = Field(
        default_factory=dict, description="wall time per stage: data, train, eval, ablation, merge, smoke"
    )


class LossPoint(_Strict):
    step: int = Field(ge=0)
    epoch: float = Field(ge=0)
    loss: float


class EvalMetrics(_Strict):
    exact_match: float = Field(ge=0, le=100, description="SQuAD exact match, percent")
    f1: float = Field(ge=0, le=100, description="SQuAD F1, percent")
    eval_loss: Optional[float] = None
    num_examples: int = Field(gt=0)


class Baseline(_Strict):
    name: str = Field(description="e.g. 'majority class', 'first word of the context'")
    description: str
    exact_match: float = Field(ge=0, le=100)
    f1: float = Field(ge=0, le=100)


# --- per-dataset evaluation (schema 2) ----------------------------------------------------------------------------
# The pooled `eval` averages unlike tasks (three-way sentiment choices and span extraction); these keep them apart.

SMALL_SLICE = 30  # fewer eval examples than this: too few to conclude from (the card says so)


class Interval(_Strict):
    low: float = Field(ge=0, le=100, description="percent")
    high: float = Field(ge=0, le=100, description="percent")
    confidence: float = Field(0.95, gt=0, lt=1)
    method: Literal["wilson"] = Field("wilson", description="Wilson score interval for a binomial proportion")

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.low > self.high:
            raise ValueError(f"interval low {self.low} is above high {self.high}")
        return self


class SliceScores(_Strict):
    """EM/F1 (and eval loss) on the eval examples of one dataset."""

    dataset: str = Field(description="DatasetInfo.name of the dataset the examples came from")
    num_examples: int = Field(gt=0)
    exact_match: float = Field(ge=0, le=100)
    f1: float = Field(ge=0, le=100)
    eval_loss: Optional[float] = None


class LabelAccuracy(_Strict):
    label: str
    num_examples: int = Field(ge=0, description="eval examples whose gold answer is this label")
    correct: int = Field(ge=0)

    @property
    def accuracy(self) -> Optional[float]:
        """Percent, None when no example has this label."""
        return 100.0 * self.correct / self.num_examples if self.num_examples else None


class ConfusionMatrix(_Strict):
    """Rows = gold label, columns = predicted label; a last column counts predictions that are no label at all."""

    labels: list[str] = Field(min_length=1)
    other: str = Field("other", description="name of the column for predictions outside `labels`")
    counts: list[list[int]] = Field(description="counts[gold][predicted], len(labels) x (len(labels) + 1)")

    @model_validator(mode="after")
    def _shape(self) -> ConfusionMatrix:
        n = len(self.labels)
        if len(self.counts) != n or any(len(row) != n + 1 or min(row, default=0) < 0 for row in self.counts):
            raise ValueError(f"counts must be {n} rows of {n + 1} non-negative counts (gold x predicted + other)")
        return self


class DatasetEval(SliceScores):
    """Everything the card says about one eval dataset."""

    exact_match_correct: int = Field(ge=0, description="examples with an exact match")
    exact_match_interval: Interval = Field(description="95% interval for EM")
    baselines: list[Baseline] = Field(default_factory=list, description="the trivial predictors on this slice")
    labels: Optional[list[LabelAccuracy]] = Field(None, description="classification-as-QA formats: per gold label")
    confusion: Optional[ConfusionMatrix] = Field(None, description="classification-as-QA formats only")

    @property
    def too_small(self) -> bool:
        return self.num_examples < SMALL_SLICE

    @model_validator(mode="after")
    def _consistent(self) -> DatasetEval:
        if self.exact_match_correct > self.num_examples:
            raise ValueError("exact_match_correct exceeds num_examples")
        if abs(100.0 * self.exact_match_correct / self.num_examples - self.exact_match) > 1e-6:
            raise ValueError("exact_match is not exact_match_correct / num_examples")
        if (self.labels is None) != (self.confusion is None):
            raise ValueError("labels and confusion come together (classification-as-QA formats) or not at all")
        if self.labels is not None and sum(x.num_examples for x in self.labels) != self.num_examples:
            raise ValueError("per-label example counts do not add up to num_examples")
        return self


class HeldOut(_Strict):
    """How the eval examples were held out of each dataset's rows (after duplicates were dropped)."""

    eval_fraction: float = Field(gt=0, lt=1)
    seed: int


class Provenance(_Strict):
    """The checkout the experiment ran from (the git work tree holding its config), where there is one."""

    git_commit: Optional[str] = Field(None, description="HEAD commit; None where the config is not in a git checkout")
    git_dirty: Optional[bool] = Field(None, description="uncommitted changes to tracked files, or an untracked config")


class AblationRow(_Strict):
    r: int = Field(gt=0)
    alpha: float = Field(gt=0)
    target_modules: list[str] = Field(min_length=1)
    learning_rate: float = Field(gt=0)
    steps: int = Field(gt=0)
    trainable: int = Field(ge=0)
    total: int = Field(gt=0)
    train_loss: float
    eval_loss: Optional[float] = None
    exact_match: float = Field(ge=0, le=100, description="pooled over every eval dataset")
    f1: float = Field(ge=0, le=100, description="pooled over every eval dataset")
    by_dataset: list[SliceScores] = Field(default_factory=list, description="the same scores per eval dataset")

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / self.total


class MergeCheck(_Strict):
    max_abs_logit_diff: float = Field(ge=0, description="merged vs adapter model, eval mode, as pipeline() feeds it")
    num_examples: int = Field(gt=0)


class SmokeExample(_Strict):
    question: str
    context: str
    answer: str = Field(description="what the merged model answered, through pipeline('question-answering')")
    score: float = Field(ge=0, le=1)


class CardText(_Strict):
    """Free text the card shows; it comes from the experiment's config, never from code."""

    model_name: str = Field(description="repo name the card is written for, e.g. distilbert-lora-finance-qa")
    summary: str
    description: str
    limitations: list[str] = Field(default_factory=list)
    context: Optional[str] = None
    license: str
    language: list[str] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)

    @field_validator("model_name")
    @classmethod
    def _one_line_name(cls, v: str) -> str:
        if not v.strip() or any(c in v for c in "\r\n"):
            raise ValueError("must be one non-empty line (it is the card's heading and the repo name)")
        return v


class Versions(_Strict):
    python: str
    torch: str
    transformers: str
    peft: str
    datasets: str
    hubkit: str


class RunRecord(_Strict):
    schema_version: Literal[2] = SCHEMA_VERSION
    run_name: str
    created_at: str = Field(description="ISO 8601 UTC time the run finished")
    config_hash: str = Field(description="sha256 of the experiment config that produced the run")
    base_model: BaseModelInfo
    datasets: list[DatasetInfo] = Field(min_length=1)
    lora: LoraInfo
    parameters: ParameterCounts
    training: TrainingArgs
    hardware: Hardware
    loss_curve: list[LossPoint] = Field(min_length=1)
    train_loss: float = Field(description="mean training loss over the whole main run, as the Trainer reports it")
    eval: EvalMetrics = Field(description="pooled over every eval dataset; the card never shows it alone")
    baselines: list[Baseline] = Field(default_factory=list, description="pooled, like `eval`")
    eval_by_dataset: list[DatasetEval] = Field(min_length=1, description="one entry per dataset, in `datasets` order")
    held_out: HeldOut
    provenance: Provenance = Field(default_factory=lambda: Provenance(git_commit=None, git_dirty=None))
    ablation: list[AblationRow] = Field(default_factory=list)
    merge: MergeCheck
    smoke_examples: list[SmokeExample] = Field(min_length=1)
    card: CardText
    versions: Versions

    @field_validator("base_model")
    @classmethod
    def _base_is_hub_id(cls, v: BaseModelInfo) -> BaseModelInfo:
        if looks_like_local_path(v.id):
            raise ValueError(f"base_model.id must be a Hub id, not a local path: {v.id!r}")
        return v

    @model_validator(mode="after")
    def _eval_per_dataset(self) -> RunRecord:
        names = [d.name for d in self.datasets]
        evaluated = [e.dataset for e in self.eval_by_dataset]
        if evaluated != names:
            raise ValueError(
                f"eval_by_dataset must name the datasets in order ({', '.join(names)}), got {', '.join(evaluated)}"
            )
        for info, scores in zip(self.datasets, self.eval_by_dataset):
            if scores.num_examples > info.rows_eval:
                raise ValueError(
                    f"eval_by_dataset {info.name}: {scores.num_examples} examples, "
                    f"but the dataset has only {info.rows_eval} eval rows"
                )
        if sum(e.num_examples for e in self.eval_by_dataset) != self.eval.num_examples:
            raise ValueError("eval_by_dataset example counts do not add up to eval.num_examples")
        return self

    @property
    def rows_train(self) -> int:
        return sum(d.rows_train for d in self.datasets)

    @property
    def rows_eval(self) -> int:
        return sum(d.rows_eval for d in self.datasets)

    # --- persistence -------------------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write atomically: a reader never sees a half-written record."""
        path = Path(path)
        if path.is_dir():
            path = path / RECORD_FILENAME
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, data: object, source: str = "record") -> RunRecord:
        if not isinstance(data, dict):
            raise HubkitError(f"{source}: the run record must be a JSON object")
        version = data.get("schema_version")
        if version == 1:
            raise HubkitError(
                f"{source}: schema_version 1 record (one pooled score, no per-dataset evaluation); "
                "re-run `hubkit train` to write a schema_version 2 record"
            )
        if version != SCHEMA_VERSION:
            raise HubkitError(
                f"{source}: schema_version is {version!r}; this hubkit reads schema_version {SCHEMA_VERSION}"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise HubkitError(f"{source}: {describe_validation_error(exc)}") from None

    @classmethod
    def load(cls, path: str | Path) -> RunRecord:
        """Load and validate `record.json` (or a run directory holding one)."""
        path = Path(path)
        if path.is_dir():
            path = path / RECORD_FILENAME
        if not path.is_file():
            raise HubkitError(f"no run record at {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise HubkitError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        except UnicodeDecodeError:
            raise HubkitError(f"{path}: not UTF-8 text") from None
        return cls.from_dict(data, source=str(path))
