"""Issue 11: the effective batch is the contract, shapes are bounded, precision `auto` follows the hardware."""

from __future__ import annotations

import copy

import pytest
import torch

from hubkit.errors import HubkitError
from hubkit.train.batching import (
    divisors_descending,
    masked_qa_loss,
    plan_batches,
    training_collator,
)
from hubkit.train.config import TrainingSection
from hubkit.train.distributed import requested_accelerate_cpu_processes
from hubkit.train.precision import PrecisionChoice, choose_precision, cpu_bf16_support, measure_step_seconds
from hubkit.train.tiny import write_tiny_base
from hubkit.train.trainer import TrainingPlan, train_lora


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return write_tiny_base(tmp_path_factory.mktemp("tiny") / "base", with_weights=True, seed=0)


def _model(folder):
    """The tiny QA model with every dropout off, wrapped with LoRA (dropout 0) the way runs wrap it."""
    from transformers import AutoModelForQuestionAnswering, set_seed

    from hubkit.train.lora import build_lora_model

    set_seed(0)
    base = AutoModelForQuestionAnswering.from_pretrained(folder, dropout=0.0, attention_dropout=0.0, qa_dropout=0.0)
    return build_lora_model(base, r=4, alpha=8, dropout=0.0, target_modules=["q_lin", "v_lin"])


def _features(n: int = 64, seed: int = 1):
    """Rows of many different lengths, so that micro-batches of 4 and of 32 are padded differently."""
    import datasets

    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        length = int(torch.randint(8, 60, (1,), generator=g))
        ids = [2] + torch.randint(10, 2000, (length - 2,), generator=g).tolist() + [3]
        start = int(torch.randint(1, length - 2, (1,), generator=g))
        rows.append(
            {"input_ids": ids, "attention_mask": [1] * length, "start_positions": start, "end_positions": start + 1}
        )
    return datasets.Dataset.from_list(rows)


def _training(**overrides) -> TrainingSection:
    values = dict(
        epochs=2,
        per_device_batch_size=4,
        gradient_accumulation_steps=8,
        learning_rate=5e-3,
        lr_scheduler="linear",
        optimizer="adamw_torch",
        seed=7,
        max_length=64,
        doc_stride=16,
        precision="fp32",
        logging_steps=1,
    )
    return TrainingSection(**{**values, **overrides})


def _plan(training: TrainingSection) -> TrainingPlan:
    batches = plan_batches(
        training.per_device_batch_size, training.gradient_accumulation_steps, training.micro_batch, on_accelerator=False
    )
    return TrainingPlan("cpu", 1, PrecisionChoice("fp32", "fp32", "set in the config"), batches)


def test_4x8_and_32x1_give_the_same_loss_curve(tiny_folder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    features = _features()
    from transformers import TrainerCallback

    curves, grad_norms = {}, {}
    for micro in (4, 32):
        training = _training(micro_batch=micro)
        plan = _plan(training)
        assert plan.batches.effective_per_process == 32
        norms: list[float] = []

        class GradNorms(TrainerCallback):
            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs and "grad_norm" in logs:
                    norms.append(float(logs["grad_norm"]))  # noqa: B023  (used within this iteration)

        outcome = train_lora(
            _model(tiny_folder),
            tokenizer,
            features,
            training,
            plan,
            max_steps=4,
            progress=False,
            callbacks=(GradNorms(),),
        )
        assert outcome.steps == 4
        curves[micro] = [p["loss"] for p in outcome.loss_curve]
        grad_norms[micro] = norms
    assert len(curves[4]) == 4
    assert curves[4][0] != curves[4][-1]  # the model did learn something: the curve moves
    assert curves[4] == pytest.approx(curves[32], rel=1e-4, abs=1e-5)
    # the same gradients, not only a loss curve that Adam's scale invariance would keep alike
    assert len(grad_norms[4]) == 4
    assert grad_norms[4] == pytest.approx(grad_norms[32], rel=1e-3)


def test_masked_loss_does_not_depend_on_padding():
    g = torch.Generator().manual_seed(0)
    start, end = torch.randn(2, 10, generator=g), torch.randn(2, 10, generator=g)
    mask = torch.ones(2, 10, dtype=torch.long)
    positions = torch.tensor([3, 7]), torch.tensor([4, 8])
    padded = [torch.cat([x, torch.randn(2, 6, generator=g)], dim=1) for x in (start, end)]
    padded_mask = torch.cat([mask, torch.zeros(2, 6, dtype=torch.long)], dim=1)
    assert float(masked_qa_loss(*padded, padded_mask, *positions)) == pytest.approx(
        float(masked_qa_loss(start, end, mask, *positions)), rel=1e-6
    )


def test_batches_are_padded_to_a_bounded_multiple(tiny_folder):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    rows = [{"input_ids": [2] + [50] * n + [3], "attention_mask": [1] * (n + 2)} for n in (3, 17, 30)]
    assert training_collator(tokenizer, "cpu")(rows)["input_ids"].shape == (3, 32)
    assert training_collator(tokenizer, "cuda")(rows)["input_ids"].shape == (3, 64)


def test_micro_batch_split_keeps_the_effective_batch():
    assert divisors_descending(32) == [32, 16, 8, 4, 2, 1]
    cpu_default = plan_batches(4, 8, None, on_accelerator=False)
    assert (cpu_default.micro, cpu_default.accumulation) == (4, 8)
    set_16 = plan_batches(4, 8, 16, on_accelerator=False)
    assert (set_16.micro, set_16.accumulation, set_16.configured_micro) == (16, 2, 4)
    # auto: the largest divisor that fits (here: anything up to 8 rows)
    auto = plan_batches(4, 8, None, on_accelerator=True, fits=lambda micro: micro <= 8)
    assert (auto.micro, auto.accumulation) == (8, 4)
    nothing_bigger = plan_batches(4, 8, "auto", on_accelerator=True, fits=lambda micro: False)
    assert (nothing_bigger.micro, nothing_bigger.accumulation) == (4, 8)
    with pytest.raises(HubkitError, match="does not divide the effective batch 32"):
        plan_batches(4, 8, 12, on_accelerator=False)


@pytest.mark.parametrize(
    ("kwargs", "executed"),
    [
        ({"on_cuda": False, "cpu_support": "none"}, "fp32"),
        ({"on_cuda": False, "cpu_support": "amx"}, "bf16"),
        ({"on_cuda": False, "cpu_support": "avx512_bf16", "measure": lambda c: {"fp32": 1.0, "bf16": 1.5}}, "fp32"),
        ({"on_cuda": False, "cpu_support": "avx512_bf16", "measure": lambda c: {"fp32": 1.0, "bf16": 0.6}}, "bf16"),
        ({"on_cuda": True, "capability": (7, 0)}, "fp32"),
        ({"on_cuda": True, "capability": (9, 0), "measure": lambda c: {"bf16": 0.13, "tf32": 0.027}}, "tf32"),
        ({"on_cuda": True, "capability": (9, 0), "measure": lambda c: {"bf16": 0.02, "tf32": 0.027}}, "bf16"),
    ],
)
def test_auto_precision_follows_the_hardware(kwargs, executed):
    choice = choose_precision("auto", **kwargs)
    assert (choice.requested, choice.executed) == ("auto", executed)
    assert choice.reason


def test_explicit_precision_is_kept_and_fp16_needs_a_gpu():
    assert choose_precision("bf16", on_cuda=False).executed == "bf16"
    assert choose_precision("fp32", on_cuda=True, capability=(9, 0)).training_arguments() == {
        "bf16": False,
        "fp16": False,
        "tf32": None,
    }
    with pytest.raises(HubkitError, match="fp16 needs a CUDA GPU"):
        choose_precision("fp16", on_cuda=False)


def test_cpu_bf16_support_reads_the_flags():
    assert cpu_bf16_support({"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}) == "amx"
    assert cpu_bf16_support({"avx512f", "avx512_bf16"}) == "avx512_bf16"
    assert cpu_bf16_support({"avx2", "fma"}) == "none"


def test_measuring_leaves_weights_and_random_state_alone(tiny_folder):
    from transformers import AutoTokenizer

    from hubkit.train.batching import sample_batches

    model = _model(tiny_folder)
    tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.random.get_rng_state()
    seconds = measure_step_seconds(model, sample_batches(_features(16), tokenizer, "cpu", 4), ["fp32", "bf16"])
    assert set(seconds) == {"fp32", "bf16"} and all(s > 0 for s in seconds.values())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.random.get_rng_state())
    assert all(p.grad is None for p in model.parameters())


def test_accelerate_cpu_launch_is_recognised(monkeypatch):
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    launch = ["python", "/venv/bin/accelerate", "launch", "--num_processes", "2", "--cpu", "-m", "hubkit", "train"]
    assert requested_accelerate_cpu_processes(launch) == 2
    assert requested_accelerate_cpu_processes(launch[:3] + ["--cpu", "-m", "hubkit", "train"]) == 0
    monkeypatch.setenv("ACCELERATE_USE_CPU", "False")  # `accelerate launch --num_processes 2` without --cpu
    no_cpu_flag = [a for a in launch if a != "--cpu"]
    assert requested_accelerate_cpu_processes(no_cpu_flag) == (0 if torch.cuda.is_available() else 2)
    monkeypatch.setenv("WORLD_SIZE", "2")  # already one of several processes: nothing to do
    assert requested_accelerate_cpu_processes(launch) == 0


def test_after_a_bf16_run_the_model_computes_in_fp32_again(tiny_folder):
    """accelerate leaves an autocast wrapper on the trained model's forward; evaluation and the merge parity check
    must see the model as the published (merged, fp32) one computes, so the wrapper is removed after training."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    training = _training(precision="bf16", epochs=1, gradient_accumulation_steps=1)
    batches = plan_batches(4, 1, None, on_accelerator=False)
    plan = TrainingPlan("cpu", 1, PrecisionChoice("bf16", "bf16", "set in the test"), batches)
    model = _model(tiny_folder)
    train_lora(model, tokenizer, _features(8), training, plan, max_steps=1, progress=False)
    assert "_original_forward" not in model.__dict__
    inputs = {"input_ids": torch.tensor([[2, 15, 16, 17, 3]]), "attention_mask": torch.ones(1, 5, dtype=torch.long)}
    with torch.inference_mode():
        logits = model(**inputs).start_logits
    assert logits.dtype == torch.float32
    merged = copy.deepcopy(model).merge_and_unload()
    with torch.inference_mode():
        assert torch.allclose(merged(**inputs).start_logits, logits, atol=1e-5)
