"""How long the reference training run takes on this machine: 384-padding fp32 vs dynamic padding + bf16 autocast.

The reference run: full-size DistilBERT (built from `DistilBertConfig()`, random weights: same FLOPs as the real
checkpoint), LoRA r=8 on q_lin/v_lin with the QA head trained, 1835 training examples, 3 epochs, batch 4 x grad-accum
8 (effective 32), AdamW, lr 3e-4 cosine. The examples are synthetic token sequences with realistic lengths: 1805
one-sentence Financial PhraseBank statements (~10-token question + a 10-90 token sentence) and 30 FiQA questions with
long answer passages (a few spill into a second 384-token window). Only lengths matter for the cost.

Both recipes go through the same `TrainingArguments` hubkit uses (`hubkit.train.trainer.training_arguments`); only
the collator (pad to 384 vs pad per batch) and the precision differ; dynamic padding in fp32 is timed too, so
the share of each change is visible. bf16 autocast only pays off on hardware with native bf16 (GPUs, CPUs with
AVX512-BF16/AMX); on a CPU without it (e.g. the AMD EPYC without AVX-512 this was last run on) bf16 is emulated and
several times slower than fp32, and dynamic padding in fp32 is the fast recipe. A few optimizer steps of each are timed (the
first is dropped as warm-up) and the full 3-epoch run is extrapolated from the mean step time.

    python bench/bench_train.py --steps 3
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time

import numpy as np


def synthetic_features(n_sentiment: int = 1805, n_fiqa: int = 30, *, vocab_size: int, max_length: int = 384,
                       doc_stride: int = 128, seed: int = 0) -> list[dict]:
    """Token-id rows shaped like the tokenized reference data ([CLS] q [SEP] c [SEP]), with answer positions."""
    rng = np.random.default_rng(seed)
    rows = []

    def row(q_len: int, c_len: int) -> dict:
        n = q_len + c_len + 3
        ids = rng.integers(1000, vocab_size, size=n).tolist()
        start = int(rng.integers(q_len + 2, n - 1))
        return {"input_ids": ids, "attention_mask": [1] * n, "start_positions": start,
                "end_positions": min(n - 2, start + int(rng.integers(0, 4)))}

    for _ in range(n_sentiment):
        rows.append(row(10, int(np.clip(rng.normal(32, 14), 8, 90))))
    for _ in range(n_fiqa):
        q_len = int(rng.integers(8, 20))
        context = int(np.clip(rng.lognormal(5.3, 0.6), 40, 1200))
        room = max_length - q_len - 3
        while True:  # overflowing windows, doc_stride tokens shared, as prepare_train_features makes them
            rows.append(row(q_len, min(context, room)))
            if context <= room:
                break
            context -= room - doc_stride
    return rows


def time_recipe(name: str, features, *, pad_to_max: bool, bf16: bool, steps: int, max_length: int = 384) -> float:
    """Mean seconds per optimizer step over `steps` steps after one warm-up step."""
    import datasets
    import torch
    from transformers import DataCollatorWithPadding, DistilBertConfig, DistilBertForQuestionAnswering, Trainer
    from transformers import DistilBertTokenizerFast, TrainerCallback

    from hubkit.train.config import TrainingSection
    from hubkit.train.lora import build_lora_model
    from hubkit.train.trainer import training_arguments

    torch.manual_seed(0)
    model = DistilBertForQuestionAnswering(DistilBertConfig())
    model = build_lora_model(model, r=8, alpha=16, dropout=0.1, target_modules=["q_lin", "v_lin"])
    tokenizer = DistilBertTokenizerFast(vocab={t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])})
    training = TrainingSection(
        epochs=3, max_steps=steps + 1, per_device_batch_size=4, gradient_accumulation_steps=8, learning_rate=3e-4,
        lr_scheduler="cosine", warmup_ratio=0.1, weight_decay=0.01, optimizer="adamw_torch", seed=42,
        max_length=max_length, doc_stride=128, precision="bf16" if bf16 else "fp32", logging_steps=1000,
    )
    collator = (DataCollatorWithPadding(tokenizer, padding="max_length", max_length=max_length) if pad_to_max
                else DataCollatorWithPadding(tokenizer))
    stamps: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if not stamps:
                stamps.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as scratch:
        trainer = Trainer(
            model=model, args=training_arguments(training, scratch, progress=False),
            train_dataset=datasets.Dataset.from_list(features), data_collator=collator, callbacks=[StepTimer()],
        )
        trainer.train()
    per_step = np.diff(stamps)[1:]  # drop the warm-up step
    mean = float(per_step.mean())
    print(f"{name:<38} {mean:6.2f} s/step  (steps: {', '.join(f'{s:.2f}' for s in per_step)})", flush=True)
    return mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps timed per recipe (after 1 warm-up)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()

    import os

    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    features = synthetic_features(vocab_size=30522)
    lengths = np.array([len(f["input_ids"]) for f in features])
    steps_per_epoch = math.ceil(len(features) / 32)
    total_steps = 3 * steps_per_epoch
    print(f"{len(features)} training windows (mean {lengths.mean():.0f} tokens, max {lengths.max()}), "
          f"{steps_per_epoch} optimizer steps/epoch, {total_steps} in the 3-epoch run; "
          f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} threads")
    padded = time_recipe("pad to 384, fp32 (the usual recipe)", features, pad_to_max=True, bf16=False, steps=args.steps)
    dynamic32 = time_recipe("dynamic padding, fp32", features, pad_to_max=False, bf16=False, steps=args.steps)
    dynamic = time_recipe("dynamic padding + bf16 autocast", features, pad_to_max=False, bf16=True, steps=args.steps)
    for name, per_step in [("pad to 384, fp32", padded), ("dynamic, fp32", dynamic32), ("dynamic + bf16", dynamic)]:
        print(f"full run, {name:<17}: ~{per_step * total_steps / 60:5.1f} min")
    print(f"speed-up, dynamic + bf16 vs pad to 384 fp32: {padded / dynamic:.1f}x "
          f"(dynamic padding alone: {padded / dynamic32:.1f}x)")


if __name__ == "__main__":
    main()
