"""How training rows become batches: bounded shapes, length grouping, and the micro-batch that fills the device.

The effective batch is the contract: `per_device_batch_size x gradient_accumulation_steps` (x processes) rows per
optimizer step, as the config says and the card reports. How that is split into micro-batches is a tuning knob:
`micro_batch` in the config's training section

- unset: `auto` on an accelerator, the configured split on a CPU (where a bigger micro-batch buys little);
- `auto`: the largest divisor of the effective batch (per process) that fits the device's memory;
- a number: that micro-batch, which must divide the effective batch (per process).

Gradient accumulation becomes effective / micro, so the effective batch and the number of optimizer steps stay
what they were; the Trainer's loss is a mean per micro-batch divided by the accumulation steps, so equal-size
micro-batches give the same gradient whatever the split (tests/test_train_speed.py checks the loss curves).

Shapes: each batch is padded to its longest row rounded up to a multiple (64 on GPUs, where every new shape costs
kernel selection and bf16 paid that on every batch, 8 on CPUs, where padding is plain extra work), and rows are
grouped by length (the Trainer's length-grouped sampler: random mega-batches of up to 50 effective batches, each
sorted by length) so that a batch of short sentences is not padded to the one long passage drawn beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional, Union

from ..errors import HubkitError

PAD_MULTIPLE = {"cuda": 64, "cpu": 8}
_NEG = -1e4  # the logit padding positions get in the loss: never an answer, no share of the softmax


@dataclass(frozen=True)
class BatchPlan:
    configured_micro: int  # the config's per_device_batch_size
    configured_accumulation: int  # the config's gradient_accumulation_steps
    micro: int  # what runs
    accumulation: int
    reason: str

    @property
    def effective_per_process(self) -> int:
        return self.micro * self.accumulation


def pad_multiple(device_type: str) -> int:
    return PAD_MULTIPLE.get(device_type, 8)


def training_collator(tokenizer, device_type: str):
    """Pads each batch to its longest row, rounded up to the device's multiple."""
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_multiple(device_type))


def divisors_descending(n: int) -> list[int]:
    return [d for d in range(n, 0, -1) if n % d == 0]


def plan_batches(
    configured_micro: int,
    configured_accumulation: int,
    micro_batch: Union[None, int, str],
    *,
    on_accelerator: bool,
    fits: Optional[Callable[[int], bool]] = None,
) -> BatchPlan:
    """The executed split for the config's `per_device_batch_size x gradient_accumulation_steps`.

    `fits(micro)` says whether a micro-batch of that many max-length rows trains within the device's memory;
    it is asked for the candidates from the largest down, and only when the split is `auto`.
    """
    effective = configured_micro * configured_accumulation

    def plan(micro: int, reason: str) -> BatchPlan:
        return BatchPlan(configured_micro, configured_accumulation, micro, effective // micro, reason)

    if isinstance(micro_batch, int):
        if micro_batch <= 0 or effective % micro_batch:
            raise HubkitError(
                f"training.micro_batch {micro_batch} does not divide the effective batch {effective} "
                f"(per_device_batch_size {configured_micro} x gradient_accumulation_steps {configured_accumulation})"
            )
        return plan(micro_batch, "set in the config")
    if micro_batch is None and not on_accelerator:
        return plan(configured_micro, "configured split (CPU)")
    if micro_batch not in (None, "auto"):
        raise HubkitError(f"training.micro_batch must be a number or 'auto', not {micro_batch!r}")
    if fits is None:
        return plan(effective, "auto: whole effective batch per step (memory not probed)")
    for micro in divisors_descending(effective):
        if micro <= configured_micro or fits(micro):
            return plan(micro, f"auto: largest divisor of {effective} that fits the device's memory")
    return plan(configured_micro, "configured split")  # unreachable: the configured micro always qualifies


def fits_in_memory(model, micro: int, max_length: int, *, headroom: float = 0.85) -> bool:
    """Whether one forward+backward of `micro` rows of `max_length` tokens (the worst case) stays under `headroom`
    of the accelerator's memory. fp32 is probed, so the answer holds for bf16 too. CPU: always True."""
    import torch

    device = next(model.parameters()).device
    if device.type != "cuda":
        return True
    vocab = int(getattr(model.config, "vocab_size", 1000))
    ids = torch.randint(5, vocab, (micro, max_length), device=device)
    batch = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "start_positions": torch.zeros(micro, dtype=torch.long, device=device),
        "end_positions": torch.zeros(micro, dtype=torch.long, device=device),
    }
    rng = torch.cuda.get_rng_state_all(), torch.random.get_rng_state()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    try:
        model(**batch).loss.backward()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        ok = peak <= headroom * torch.cuda.get_device_properties(device).total_memory
    except torch.cuda.OutOfMemoryError:
        ok = False
    finally:
        model.zero_grad(set_to_none=True)
        torch.cuda.set_rng_state_all(rng[0])
        torch.random.set_rng_state(rng[1])
        del batch
        torch.cuda.empty_cache()
    return ok


def masked_qa_loss(start_logits, end_logits, attention_mask, start_positions, end_positions):
    """(CE(start) + CE(end)) / 2 with padding positions out of the softmax: the loss does not depend on how far a
    batch was padded, so a split into micro-batches (each padded to its own length) does not change it."""
    import torch.nn.functional as F

    keep = attention_mask == 0
    start = start_logits.float().masked_fill(keep, _NEG)
    end = end_logits.float().masked_fill(keep, _NEG)
    return (F.cross_entropy(start, start_positions) + F.cross_entropy(end, end_positions)) / 2


def sample_batches(features, tokenizer, device_type: str, micro: int, count: int = 3) -> list[dict]:
    """`count` collated micro-batches of typical rows (evenly spread over the length order): what measuring a
    precision runs on."""
    lengths = [len(ids) for ids in features["input_ids"]]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    if not order:
        return []
    collate = training_collator(tokenizer, device_type)
    columns = [
        c
        for c in ("input_ids", "attention_mask", "token_type_ids", "start_positions", "end_positions")
        if c in features.column_names
    ]
    batches = []
    for k in range(count):
        middle = order[(2 * k + 1) * len(order) // (2 * count)]
        rank = order.index(middle)
        rows = order[max(0, rank - micro // 2) : max(0, rank - micro // 2) + micro]
        batches.append(collate([{c: features[i][c] for c in columns} for i in rows]))
    return batches
