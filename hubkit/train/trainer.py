"""One LoRA training run through the Hugging Face `Trainer`, as fast as the hardware allows.

Plain `Trainer` + `TrainingArguments`, so the same code runs on a laptop CPU, on a GPU and under `torchrun` /
`accelerate launch` with several processes (the Trainer shards batches and reports `world_size`). What this module
adds:
- a plan made once per experiment (:func:`plan_training`) and reused by the ablation runs: the precision
  (:mod:`hubkit.train.precision`, `auto` by default) and the micro-batch split (:mod:`hubkit.train.batching`);
- bounded shapes: batches padded to a multiple of 64 (GPU) / 8 (CPU) tokens, rows grouped by length;
- a QA loss with padding masked out, so the loss does not depend on how a batch was split or padded;
- no checkpoints, no `training_args.bin`, no reporting integrations: the run record is the only output;
- the loss the Trainer logs every `logging_steps` (and at the last step) as a list of {step, epoch, loss}.
"""

from __future__ import annotations

import functools
import tempfile
import time
from dataclasses import dataclass
from typing import Optional

from . import distributed
from .batching import (
    BatchPlan,
    fits_in_memory,
    masked_qa_loss,
    pad_multiple,
    plan_batches,
    sample_batches,
    training_collator,
)
from .config import TrainingSection
from .precision import PrecisionChoice, choose_precision, measure_step_seconds


@dataclass(frozen=True)
class TrainingPlan:
    """How the config's training section runs on this machine; the same for the main run and the ablation."""

    device_type: str  # cuda or cpu
    world_size: int
    precision: PrecisionChoice
    batches: BatchPlan

    @property
    def pad_to_multiple_of(self) -> int:
        return pad_multiple(self.device_type)

    def record_fields(self) -> dict:
        """The run record's training fields this plan decides (executed split and precision beside the config's)."""
        return {
            "per_device_batch_size": self.batches.micro,
            "gradient_accumulation_steps": self.batches.accumulation,
            "configured_per_device_batch_size": self.batches.configured_micro,
            "configured_gradient_accumulation_steps": self.batches.configured_accumulation,
            "num_processes": self.world_size,
            "precision": self.precision.executed,
            "precision_requested": self.precision.requested,
            "precision_reason": self.precision.reason,
            "micro_batch_reason": self.batches.reason,
            "pad_to_multiple_of": self.pad_to_multiple_of,
        }


@dataclass
class TrainOutcome:
    train_loss: float  # mean training loss over the run, as the Trainer reports it
    loss_curve: list[dict]  # [{step, epoch, loss}]
    steps: int  # optimizer steps taken
    wall_time_seconds: float
    num_processes: int


def plan_training(model, tokenizer, train_features, training: TrainingSection) -> TrainingPlan:
    """Decide micro-batch and precision for `model` on this machine (every process gets the main one's plan)."""
    import torch

    on_cuda = torch.cuda.is_available()
    device_type = "cuda" if on_cuda else "cpu"
    distributed.init(use_cpu=not on_cuda)
    if on_cuda:
        model.to(torch.device("cuda", torch.cuda.current_device()))

    def fits(micro: int) -> bool:
        return distributed.agree_all(fits_in_memory(model, micro, training.max_length))

    batches = plan_batches(
        training.per_device_batch_size,
        training.gradient_accumulation_steps,
        training.micro_batch,
        on_accelerator=on_cuda,
        fits=fits,
    )

    def measure(candidates):
        samples = sample_batches(train_features, tokenizer, device_type, batches.micro)
        return measure_step_seconds(model, samples, candidates, repeats=2)

    precision = distributed.agree(choose_precision(training.precision, measure=measure))
    return TrainingPlan(device_type, distributed.world_size(), precision, batches)


@functools.cache
def _trainer_class():
    from transformers import Trainer

    class QATrainer(Trainer):
        """The Trainer with hubkit's QA loss: padding masked out of the start/end softmax.

        Gradient accumulation: transformers 5.2's `training_step` divides each micro-batch's loss by the
        accumulation steps, and accelerate 1.15's `backward` divides it again (the Trainer hands its accelerator the
        same steps, though it runs the accumulation itself), so with 4 x 8 the gradient came out 8x smaller than
        with 32 x 1 on the same rows (grad norm 0.12 vs 0.95), and gradient clipping then acted differently.
        Telling the accelerator 1 leaves one division: the gradient and the logged loss are the mean over the
        effective batch whatever the split (tests/test_train_speed.py compares both).
        """

        def create_accelerator_and_postprocess(self):
            super().create_accelerator_and_postprocess()
            if not self.is_deepspeed_enabled:  # DeepSpeed scales by the accumulation steps itself
                self.accelerator.gradient_accumulation_steps = 1

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            starts, ends = inputs.pop("start_positions"), inputs.pop("end_positions")
            outputs = model(**inputs)
            loss = masked_qa_loss(outputs.start_logits, outputs.end_logits, inputs["attention_mask"], starts, ends)
            return (loss, outputs) if return_outputs else loss

    return QATrainer


def _log_last_step_callback():
    from transformers import TrainerCallback

    class LogLastStep(TrainerCallback):
        """The loss of a final partial logging interval is part of the curve too."""

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= state.max_steps:
                control.should_log = True
            return control

    return LogLastStep()


def training_arguments(
    training: TrainingSection,
    output_dir: str,
    plan: TrainingPlan,
    *,
    max_steps: Optional[int] = None,
    learning_rate: Optional[float] = None,
    progress: bool = True,
):
    """The config's training section, run as `plan` says, as `TrainingArguments` (max_steps / learning_rate
    overridden for ablations)."""
    from transformers import TrainingArguments

    steps = max_steps if max_steps is not None else training.max_steps
    return TrainingArguments(
        output_dir=output_dir,
        num_train_epochs=training.epochs,
        max_steps=steps if steps is not None else -1,
        per_device_train_batch_size=plan.batches.micro,
        gradient_accumulation_steps=plan.batches.accumulation,
        learning_rate=learning_rate if learning_rate is not None else training.learning_rate,
        lr_scheduler_type=training.lr_scheduler,
        warmup_steps=float(training.warmup_ratio),  # a float in [0, 1) is a ratio of the total steps
        weight_decay=training.weight_decay,
        optim=training.optimizer,
        seed=training.seed,
        data_seed=training.seed,
        **plan.precision.training_arguments(),
        use_cpu=plan.device_type == "cpu",
        # the sampler's batch is the effective batch; it sorts mega-batches of up to 50 of them (at most a quarter of
        # the data) by length, so each optimizer step's rows are alike in length and micro-batches barely pad
        train_sampling_strategy="group_by_length",
        logging_strategy="steps",
        logging_steps=training.logging_steps,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=not (progress and distributed.is_main()),
        remove_unused_columns=False,  # the features hold model inputs only
        label_names=["start_positions", "end_positions"],
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,  # LoRA uses every trainable parameter in every step
    )


def train_lora(
    model,
    tokenizer,
    train_features,
    training: TrainingSection,
    plan: TrainingPlan,
    *,
    max_steps: Optional[int] = None,
    learning_rate: Optional[float] = None,
    progress: bool = True,
    callbacks: tuple = (),
    collator=None,
    sampling: str = "group_by_length",
) -> TrainOutcome:
    """Train `model` (a PEFT model) in place on tokenized, unpadded `train_features`.

    `callbacks`, `collator` and `sampling` exist for bench/bench_train.py, which times other recipes through the
    same code (e.g. every row padded to 384 tokens, random order)."""
    with tempfile.TemporaryDirectory(prefix="hubkit-trainer-") as scratch:  # the Trainer wants an output_dir
        args = training_arguments(
            training, scratch, plan, max_steps=max_steps, learning_rate=learning_rate, progress=progress
        )
        args.train_sampling_strategy = sampling
        trainer = _trainer_class()(
            model=model,
            args=args,
            train_dataset=train_features,
            data_collator=collator or training_collator(tokenizer, plan.device_type),
            processing_class=tokenizer,
            callbacks=[_log_last_step_callback(), *callbacks],
        )
        start = time.perf_counter()
        result = trainer.train()
        wall = time.perf_counter() - start
    _drop_mixed_precision_forward(model)
    curve = [
        {"step": int(e["step"]), "epoch": round(float(e["epoch"]), 4), "loss": float(e["loss"])}
        for e in trainer.state.log_history
        if "loss" in e and "step" in e
    ]
    return TrainOutcome(
        train_loss=float(result.training_loss),
        loss_curve=curve,
        steps=int(trainer.state.global_step),
        wall_time_seconds=wall,
        num_processes=int(args.world_size),
    )


def _drop_mixed_precision_forward(model) -> None:
    """Give `model` back its own forward after a bf16/fp16 run.

    accelerate wraps the prepared model's `forward` in autocast and leaves the wrapper in place after training, so
    every later call (evaluation, the merge parity check) would silently run in bf16 while the merged model that is
    published runs in fp32: the parity check then fails by ~5e-2. Unwrapped, the adapter model is scored in the same
    precision as the model `pipeline()` loads.
    """
    from accelerate.utils import extract_model_from_parallel

    extract_model_from_parallel(model, keep_fp32_wrapper=False)
