"""Adapter -> merged model on disk, and the proof that merging changed nothing.

The adapter is saved on its own first (`adapter/`), then a copy of the PEFT model is merged with `merge_and_unload`
and saved as plain transformers weights (safetensors) + tokenizer (`model/`): a model that loads without PEFT.

The parity check loads `model/` the way a user will, through `pipeline("question-answering")`, lets the pipeline
build the model inputs (its own tokenization: `token_type_ids` exactly when the tokenizer's `model_input_names` hold
them, `use_cache` rules and all), and compares the merged model's start/end logits with the adapter model's on those
same inputs, both in eval mode and fp32. A wrong input path (e.g. segment ids dropped during training) shows up
here as a large difference instead of as a quietly worse model.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from ..errors import HubkitError

# What must never sit in a published model folder: Trainer state that may hold settings, paths or tokens.
FORBIDDEN_FILES = ("training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json")


@dataclass
class MergeResult:
    max_abs_logit_diff: float
    num_examples: int  # question/context pairs compared (each may be several windows)
    architecture: str
    model_type: str


def save_adapter(peft_model, folder: str | Path) -> Path:
    """The LoRA weights and adapter config alone (adapter_model.safetensors + adapter_config.json)."""
    folder = Path(folder)
    # Embeddings are never adapted here; "auto" would ask the Hub whether the base vocabulary changed.
    peft_model.save_pretrained(folder, save_embedding_layers=False)
    return folder


def save_merged(peft_model, tokenizer, folder: str | Path):
    """Merge a copy of `peft_model` (the original keeps its adapter) and save weights + tokenizer; returns the copy."""
    folder = Path(folder)
    merged = copy.deepcopy(peft_model).merge_and_unload()
    merged.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert_clean(folder)
    return merged


def assert_clean(folder: Path) -> None:
    found = [name for name in FORBIDDEN_FILES if (folder / name).exists()]
    if found:
        raise HubkitError(f"{folder} holds training state that must not be published: {', '.join(found)}")


def pipeline_inputs(qa, examples: list[dict]) -> list[dict]:
    """Model inputs exactly as `qa` (a question-answering pipeline) builds them: one dict per window."""
    inputs = []
    for example in examples:
        for chunk in qa.preprocess({"question": example["question"], "context": example["context"]}):
            model_inputs = {k: chunk[k] for k in qa.tokenizer.model_input_names}
            inputs.append(model_inputs)
    return inputs


def parity_check(peft_model, model_dir: str | Path, examples: list[dict]) -> MergeResult:
    """Max |logit difference| between the adapter model and the saved merged model run as pipeline() runs it."""
    import torch
    from transformers import pipeline

    if not examples:
        raise HubkitError("the merge parity check needs at least one example")
    device = next(peft_model.parameters()).device
    qa = pipeline("question-answering", model=str(model_dir), tokenizer=str(model_dir), device=device)
    merged = qa.model
    was_training = peft_model.training
    peft_model.eval()
    merged.eval()
    worst = 0.0
    try:
        with torch.inference_mode():
            for inputs in pipeline_inputs(qa, examples):
                inputs = {k: v.to(device) for k, v in inputs.items()}
                a, b = peft_model(**inputs), merged(**inputs)
                for name in ("start_logits", "end_logits"):
                    worst = max(worst, float((a[name].float() - b[name].float()).abs().max()))
    finally:
        peft_model.train(was_training)
    return MergeResult(
        max_abs_logit_diff=worst,
        num_examples=len(examples),
        architecture=(merged.config.architectures or [type(merged).__name__])[0],
        model_type=merged.config.model_type,
    )
