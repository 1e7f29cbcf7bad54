"""One LoRA training run through the Hugging Face `Trainer`.

Plain `Trainer` + `TrainingArguments`, so the same code runs on a laptop CPU and, unchanged, under
`accelerate launch` on several GPUs (the Trainer shards batches and reports `world_size`). What this module adds:
- a collator that pads each batch to its own longest row (`DataCollatorWithPadding`), never to `max_length`:
  on CPU most of the cost of 384-padding is padding;
- bf16 autocast when the config asks for it (`TrainingArguments(bf16=True)`, the CPU autocast path on CPU; only
  faster where the hardware has native bf16: see bench/bench_train.py);
- no checkpoints, no `training_args.bin`, no reporting integrations: the run record is the only output;
- the loss the Trainer logs every `logging_steps` (and at the last step) as a list of {step, epoch, loss}.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from typing import Optional

from .config import TrainingSection


@dataclass
class TrainOutcome:
    train_loss: float  # mean training loss over the run, as the Trainer reports it
    loss_curve: list[dict]  # [{step, epoch, loss}]
    steps: int  # optimizer steps taken
    wall_time_seconds: float
    num_processes: int


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
    *,
    max_steps: Optional[int] = None,
    learning_rate: Optional[float] = None,
    progress: bool = True,
):
    """The config's training section as `TrainingArguments` (max_steps / learning_rate overridden for ablations)."""
    import torch
    from transformers import TrainingArguments

    steps = max_steps if max_steps is not None else training.max_steps
    return TrainingArguments(
        output_dir=output_dir,
        num_train_epochs=training.epochs,
        max_steps=steps if steps is not None else -1,
        per_device_train_batch_size=training.per_device_batch_size,
        gradient_accumulation_steps=training.gradient_accumulation_steps,
        learning_rate=learning_rate if learning_rate is not None else training.learning_rate,
        lr_scheduler_type=training.lr_scheduler,
        warmup_steps=float(training.warmup_ratio),  # a float in [0, 1) is a ratio of the total steps
        weight_decay=training.weight_decay,
        optim=training.optimizer,
        seed=training.seed,
        data_seed=training.seed,
        bf16=training.precision == "bf16",
        use_cpu=not torch.cuda.is_available(),
        logging_strategy="steps",
        logging_steps=training.logging_steps,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=not progress,
        remove_unused_columns=False,  # the features hold model inputs only
        label_names=["start_positions", "end_positions"],
        dataloader_num_workers=0,
    )


def train_lora(
    model,
    tokenizer,
    train_features,
    training: TrainingSection,
    *,
    max_steps: Optional[int] = None,
    learning_rate: Optional[float] = None,
    progress: bool = True,
) -> TrainOutcome:
    """Train `model` (a PEFT model) in place on tokenized, unpadded `train_features`."""
    from transformers import DataCollatorWithPadding, Trainer

    with tempfile.TemporaryDirectory(prefix="hubkit-trainer-") as scratch:  # the Trainer wants an output_dir
        args = training_arguments(
            training, scratch, max_steps=max_steps, learning_rate=learning_rate, progress=progress
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_features,
            data_collator=DataCollatorWithPadding(tokenizer),
            processing_class=tokenizer,
            callbacks=[_log_last_step_callback()],
        )
        start = time.perf_counter()
        result = trainer.train()
        wall = time.perf_counter() - start
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
