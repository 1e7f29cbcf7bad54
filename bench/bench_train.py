"""Training speed per recipe, side by side in one run, on the device this machine trains on (CUDA if there is one,
else CPU), then a whole `hubkit train` with the stage timings its record stores.

The reference run: full-size DistilBERT (built from `DistilBertConfig()`, random weights: the same FLOPs as the real
checkpoint), LoRA r=8 on q_lin/v_lin with the QA head trained, 1840 training windows of realistic lengths (1805
one-sentence Financial PhraseBank statements, 30 FiQA questions with long passages, some in two 384-token windows),
effective batch 32, AdamW lr 3e-4 cosine, 3 epochs = 174 optimizer steps. Only lengths matter for the cost, so the
token ids are synthetic.

Every recipe trains through hubkit's own `Trainer` setup (`hubkit.train.trainer.train_lora`, the same
`TrainingArguments`); the recipes differ only in padding (every row to 384 / each batch to its longest row), order
(random / grouped by length), precision and micro-batch split. "hubkit default" is what `hubkit train` does with the
reference config (`precision: auto`, `micro_batch` unset) on this device: its plan is made by
`hubkit.train.trainer.plan_training`, as in a real run.

The table's recipes draw their batches at random, so any few steps are a fair sample of a run: each makes two passes
(epochs) over the same random sample of steps x 32 windows and only the second is timed (the first builds the kernels
for the shapes it meets, as the early steps of a long run do; per-batch padding keeps meeting new shapes, since its
micro-batches are drawn afresh). hubkit's recipes group rows by length over mega-batches of up to 50 effective
batches (the Trainer's length-grouped sampler), so their steps run from long to short rows within each mega-batch and
a few steps are no fair sample: they train one whole epoch over all 1840 windows and every step is timed, kernel
builds included. The 174-step run is extrapolated from the timed steps' mean.

    python bench/bench_train.py            # 4 timed steps per recipe, then the offline experiment
    python bench/bench_train.py --quick    # 2 timed steps per recipe, 2-layer model, then the tiny experiment
    python bench/bench_train.py --skip-experiment   # the recipes only (--skip-recipes: the experiment only)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EFFECTIVE_BATCH = 32
REFERENCE_EPOCHS = 3
# (label, padding, precision, micro-batch): the table, in its order
RECIPES = [
    ("pad to 384, fp32, 4 x 8", "max_length", "fp32", 4),
    ("dynamic padding, fp32, 4 x 8", "dynamic", "fp32", 4),
    ("dynamic padding, bf16, 4 x 8", "dynamic", "bf16", 4),
    ("pad to 384, bf16, 4 x 8", "max_length", "bf16", 4),
    ("dynamic padding, fp32, 32 x 1", "dynamic", "fp32", 32),
    ("dynamic padding, bf16, 32 x 1", "dynamic", "bf16", 32),
    ("dynamic padding, TF32, 32 x 1", "dynamic", "tf32", 32),
    ("pad to 384, fp32, 32 x 1", "max_length", "fp32", 32),
]


def synthetic_features(
    n_sentiment: int = 1805,
    n_fiqa: int = 30,
    *,
    vocab_size: int,
    max_length: int = 384,
    doc_stride: int = 128,
    seed: int = 0,
) -> list[dict]:
    """Token-id rows shaped like the tokenized reference data ([CLS] q [SEP] c [SEP]), with answer positions."""
    rng = np.random.default_rng(seed)
    rows = []

    def row(q_len: int, c_len: int) -> dict:
        n = q_len + c_len + 3
        ids = rng.integers(1000, vocab_size, size=n).tolist()
        start = int(rng.integers(q_len + 2, n - 1))
        return {
            "input_ids": ids,
            "attention_mask": [1] * n,
            "start_positions": start,
            "end_positions": min(n - 2, start + int(rng.integers(0, 4))),
        }

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


def _reference_training(precision: str = "auto", micro_batch=None, steps: int = 3):
    from hubkit.train.config import TrainingSection

    return TrainingSection(
        epochs=REFERENCE_EPOCHS,
        max_steps=steps,
        per_device_batch_size=4,
        gradient_accumulation_steps=8,
        learning_rate=3e-4,
        lr_scheduler="cosine",
        warmup_ratio=0.1,
        weight_decay=0.01,
        optimizer="adamw_torch",
        seed=42,
        max_length=384,
        doc_stride=128,
        precision=precision,
        micro_batch=micro_batch,
        logging_steps=1000,
    )


def _model(layers: int):
    import torch
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering

    from hubkit.train.lora import build_lora_model

    torch.manual_seed(0)
    model = DistilBertForQuestionAnswering(DistilBertConfig(n_layers=layers))
    return build_lora_model(model, r=8, alpha=16, dropout=0.1, target_modules=["q_lin", "v_lin"])


def _tokenizer():
    from transformers import DistilBertTokenizerFast

    return DistilBertTokenizerFast(vocab={t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])})


def _step_timer(stamps: list[float]):
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            if not stamps:
                stamps.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(time.perf_counter())

    return StepTimer()


def _train_and_time(
    model, features, training, plan, *, collator=None, sampling="group_by_length", second_pass_only: bool = True
) -> list[float]:
    from hubkit.train.trainer import train_lora

    stamps: list[float] = []
    with contextlib.redirect_stdout(io.StringIO()):  # the Trainer prints its loss logs
        train_lora(
            model,
            _tokenizer(),
            features,
            training,
            plan,
            progress=False,
            callbacks=(_step_timer(stamps),),
            collator=collator,
            sampling=sampling,
        )
    per_step = np.diff(stamps).tolist()
    # the second pass over the sample (the first builds kernels for its shapes), or every step of a whole epoch
    return per_step[len(per_step) // 2 :] if second_pass_only else per_step


def time_recipe(recipe, features, *, steps: int, layers: int, device_type: str):
    """Seconds per optimizer step of one table recipe, or None where the device cannot run it (TF32 on a CPU)."""
    from transformers import DataCollatorWithPadding

    from hubkit.train.batching import plan_batches
    from hubkit.train.precision import PrecisionChoice
    from hubkit.train.trainer import TrainingPlan

    label, padding, precision, micro = recipe
    if precision == "tf32" and device_type != "cuda":
        return None
    training = _reference_training("fp32", micro, 2 * steps)
    plan = TrainingPlan(
        device_type,
        1,
        PrecisionChoice(precision, precision, "bench recipe"),
        plan_batches(4, 8, micro, on_accelerator=device_type == "cuda"),
    )
    collator = (
        DataCollatorWithPadding(_tokenizer(), padding="max_length", max_length=384)
        if padding == "max_length"
        else DataCollatorWithPadding(_tokenizer())
    )
    return _train_and_time(_model(layers), features, training, plan, collator=collator, sampling="random")


def time_hubkit(features, *, layers: int, precision: str = "auto"):
    """hubkit's own recipe: its plan (made as `hubkit train` makes it), bounded shapes, length grouping; one whole
    epoch over `features`, every step timed."""
    from hubkit.train.trainer import plan_training

    training = _reference_training(precision, None, -(-len(features) // EFFECTIVE_BATCH))
    model = _model(layers)
    start = time.perf_counter()
    plan = plan_training(model, _tokenizer(), features, training)
    planning = time.perf_counter() - start
    return _train_and_time(model, features, training, plan, second_pass_only=False), plan, planning


def device_name(device_type: str) -> str:
    import torch

    if device_type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(0)}"
    model = platform.processor() or "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {model}, {os.cpu_count()} cores, torch {torch.get_num_threads()} threads"


def run_hubkit_train(config: Path) -> dict:
    """`python -m hubkit train` of `config` in a fresh process; its record."""
    with tempfile.TemporaryDirectory(prefix="bench-train-") as scratch:
        out = Path(scratch) / "run"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "hubkit", "train", "--config", str(config), "--out", str(out), "--quiet", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"hubkit train failed:\n{done.stderr[-2000:]}")
        record = json.loads(done.stdout)
    record["_process_seconds"] = wall
    return record


def full_run_steps(windows: int) -> int:
    """Optimizer steps of the reference run over `windows` training windows (174 for the reference's 1840)."""
    return REFERENCE_EPOCHS * -(-windows // EFFECTIVE_BATCH)


def _row(label: str, per_step, baseline, full_steps: int, note: str = "") -> str:
    if per_step is None:
        return f"| {label} | n/a | n/a | n/a | {note or 'not on this device'} |"
    mean = float(np.mean(per_step))
    full = mean * full_steps
    ratio = f"{baseline / mean:.1f}x" if baseline else "1.0x"
    if len(per_step) <= 8:
        spread = "steps: " + ", ".join(f"{s:.2f}" for s in per_step)
    else:
        spread = f"whole epoch, {len(per_step)} steps from {min(per_step):.2f} to {max(per_step):.2f}"
    return f"| {label} | {mean:.3f} | {full / 60:.1f} min | {ratio} | {spread}{'; ' + note if note else ''} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 timed steps per recipe on a 2-layer DistilBERT, and the tiny experiment"
    )
    parser.add_argument("--steps", type=int, default=None, help="timed optimizer steps per recipe (default 4; quick 2)")
    parser.add_argument("--layers", type=int, default=None, help="DistilBERT layers (default 6 = full size; quick 2)")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="experiment for the whole-run timing (default pipeline/finance_qa_offline.yaml; "
        "quick: pipeline/tiny.yaml)",
    )
    parser.add_argument("--skip-recipes", action="store_true", help="only the whole `hubkit train`")
    parser.add_argument("--skip-experiment", action="store_true", help="only the recipes, no whole `hubkit train`")
    args = parser.parse_args()
    steps = args.steps or (2 if args.quick else 4)
    args.layers = args.layers or (2 if args.quick else 6)
    config = args.config or ROOT / "pipeline" / ("tiny.yaml" if args.quick else "finance_qa_offline.yaml")

    import datasets
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    datasets.disable_progress_bars()
    device_type = "cuda" if torch.cuda.is_available() else "cpu"
    device = device_name(device_type)
    print(
        f"# bench_train: {device}; torch {torch.__version__}; {args.layers}-layer DistilBERT; each table recipe "
        f"makes 2 passes over the same {steps} x {EFFECTIVE_BATCH} windows, the second timed; hubkit's length-grouped "
        f"recipes train one whole epoch, every step timed",
        flush=True,
    )

    if not args.skip_recipes:
        rows = synthetic_features(vocab_size=30522)
        rng = np.random.default_rng(1)
        sample = rng.choice(len(rows), size=steps * EFFECTIVE_BATCH, replace=False)
        features = datasets.Dataset.from_list([rows[i] for i in sample])
        all_features = datasets.Dataset.from_list(rows)
        lengths = np.array([len(r["input_ids"]) for r in rows])
        full_steps = full_run_steps(len(rows))
        print(
            f"{len(rows)} windows (mean {lengths.mean():.0f} tokens, max {lengths.max()}); "
            f"full run = {full_steps} optimizer steps of {EFFECTIVE_BATCH}\n",
            flush=True,
        )
        print(f"Device for every figure below: {device}\n")
        print("| recipe | s/step | full run | vs pad-384 fp32 4 x 8 | |")
        print("|---|---:|---:|---:|---|")
        times = {}
        for recipe in RECIPES:
            times[recipe[0]] = time_recipe(recipe, features, steps=steps, layers=args.layers, device_type=device_type)
            baseline = float(np.mean(times[RECIPES[0][0]]))
            first = recipe is RECIPES[0]
            print(_row(recipe[0], times[recipe[0]], None if first else baseline, full_steps), flush=True)
        forced = {}
        for precision in ("fp32", "bf16"):
            per_step, plan, _ = time_hubkit(all_features, layers=args.layers, precision=precision)
            forced[precision] = per_step
            b = plan.batches
            print(
                _row(
                    f"hubkit, {precision} forced ({b.micro} x {b.accumulation}, bounded + grouped)",
                    per_step,
                    baseline,
                    full_steps,
                ),
                flush=True,
            )
        per_step, plan, planning = time_hubkit(all_features, layers=args.layers)
        b = plan.batches
        print(
            _row(
                f"**hubkit default**: {plan.precision.executed}, {b.micro} x {b.accumulation}, bounded + grouped",
                per_step,
                baseline,
                full_steps,
                note=f"plan took {planning:.1f} s: {plan.precision.reason}",
            ),
            flush=True,
        )

        default = float(np.mean(per_step))
        measured = {k: float(np.mean(v)) for k, v in times.items() if v is not None}
        fastest = min(measured, key=measured.get)
        faster_forced = min(float(np.mean(forced["fp32"])), float(np.mean(forced["bf16"])))
        print(f"\nOn {device}:")
        print(f"- hubkit default vs pad-384 fp32 4 x 8: {baseline / default:.1f}x faster (CPU target: >= 10x)")
        print(
            f"- hubkit default vs the fastest table recipe ({fastest}): {default / measured[fastest]:.2f}x its time "
            f"(GPU target: <= 1.5x)"
        )
        print(
            f"- auto ({plan.precision.executed}) vs the faster of fp32/bf16 in hubkit's recipe: "
            f"{default / faster_forced:.2f}x its time (target: <= 1, up to noise)"
        )

    if args.skip_experiment:
        return
    record = run_hubkit_train(config)
    hw = record["hardware"]
    t = record["training"]
    print(
        f"\n`hubkit train --config {config.relative_to(ROOT) if config.is_relative_to(ROOT) else config}` on "
        f"{hw['device']} ({device}): precision {t['precision']} (asked: {t.get('precision_requested')}), "
        f"split {t['per_device_batch_size']} x {t['gradient_accumulation_steps']} x {t['num_processes']} process(es) "
        f"(configured {t.get('configured_per_device_batch_size')} x {t.get('configured_gradient_accumulation_steps')})"
    )
    print("| stage | seconds (from the record) |\n|---|---:|")
    for stage, seconds in hw.get("stage_seconds", {}).items():
        print(f"| {stage} | {seconds:.1f} |")
    print(f"| total in the record | {hw.get('total_seconds', float('nan')):.1f} |")
    print(f"| whole process (imports included) | {record['_process_seconds']:.1f} |")


if __name__ == "__main__":
    main()
