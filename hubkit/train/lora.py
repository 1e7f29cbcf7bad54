"""Wrap a question-answering model with LoRA adapters (and a trained QA head) through PEFT.

Why a subclass: peft 0.21's `PeftModelForQuestionAnswering.forward` takes `token_type_ids` as a named argument and
then does not pass it to the base model. A BERT-type base (the offline MiniLM) would train and evaluate with every
segment id 0, while the merged model under `pipeline("question-answering")` gets the real ones: training and
inference would see different inputs. :class:`SegmentAwareQAPeftModel` keeps everything of the QA wrapper (task type
QUESTION_ANS, `qa_outputs` trained in full through `modules_to_save`, the saved adapter config) and only routes the
forward call through `PeftModel.forward`, which hands every input to the base model unchanged.
DistilBERT has no segment ids, so for the reference model both forwards are the same.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from ..errors import HubkitError
from ..record import LoraInfo

QA_HEAD = "qa_outputs"


@functools.cache
def _peft_qa_class():
    """Defined lazily so importing this module does not import peft/torch."""
    from peft import PeftModel, PeftModelForQuestionAnswering

    class SegmentAwareQAPeftModel(PeftModelForQuestionAnswering):
        """PEFT's QA wrapper whose forward passes `token_type_ids` (and every other input) to the base model."""

        def forward(self, *args, **kwargs):
            if self.active_peft_config.is_prompt_learning:  # prompt methods need the QA wrapper's input surgery
                return super().forward(*args, **kwargs)
            return PeftModel.forward(self, *args, **kwargs)

    SegmentAwareQAPeftModel.__qualname__ = "SegmentAwareQAPeftModel"
    return SegmentAwareQAPeftModel


def linear_layer_names(model) -> list[str]:
    """The distinct last-part names of the model's linear layers (what `target_modules` can name)."""
    import torch

    return sorted(
        {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and name}
    )


def check_target_modules(model, target_modules: Iterable[str]) -> None:
    """A target module the model lacks is an error listing the linear layers it has."""
    import torch

    linear = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    for target in target_modules:
        if not any(name == target or name.endswith("." + target) for name in linear):
            raise HubkitError(
                f"target module {target!r} is not a linear layer of this {type(model).__name__}; "
                f"its linear layers are: {', '.join(linear_layer_names(model))}"
            )


def build_lora_model(
    model, *, r: int, alpha: float, dropout: float, target_modules: list[str], base_model_id: str | None = None
):
    """Wrap `model` (modified in place) with LoRA on `target_modules`; the QA head is trained in full."""
    from peft import LoraConfig, TaskType

    check_target_modules(model, target_modules)
    config = LoraConfig(
        task_type=TaskType.QUESTION_ANS,
        r=r,
        lora_alpha=alpha,  # type: ignore[arg-type]  # peft annotates int; a float scales the same (alpha / r)
        lora_dropout=dropout,
        target_modules=list(target_modules),
        bias="none",
        # modules_to_save: left None, the QUESTION_ANS wrapper adds the QA head (`qa_outputs`) itself.
    )
    peft_model = _peft_qa_class()(model, config)
    if base_model_id is not None:
        # what a saved adapter names as its base: the Hub id, never a local folder
        peft_model.peft_config["default"].base_model_name_or_path = base_model_id
    return peft_model


def parameter_counts(peft_model) -> tuple[int, int]:
    """(trainable, total) exactly as PEFT reports them (`print_trainable_parameters` uses the same call)."""
    trainable, total = peft_model.get_nb_trainable_parameters()
    return int(trainable), int(total)


def lora_info(peft_model) -> LoraInfo:
    """The adapter's settings as the record's :class:`hubkit.record.LoraInfo`, read back from the PEFT config."""
    cfg = peft_model.peft_config["default"]
    task = cfg.task_type.value if hasattr(cfg.task_type, "value") else str(cfg.task_type)
    return LoraInfo(
        r=cfg.r,
        alpha=cfg.lora_alpha,
        dropout=cfg.lora_dropout,
        target_modules=sorted(cfg.target_modules),
        task_type=task,
        modules_to_save=sorted(set(cfg.modules_to_save or [])),
    )
