"""Which number format a training run computes in: `precision: auto` and the explicit fp32 / bf16 / fp16.

bf16 only pays where the hardware does it natively. Measured (issue 11, bench/bench_train.py): on CPUs without
AVX-512 bf16 is emulated and several times slower than fp32; on a Xeon with AVX512-BF16 but no AMX bf16 was still
1.5x slower; only AMX tiles (Sapphire Rapids and later) or a GPU make it faster. So `auto`:

- CUDA with native bf16 (compute capability 8.0+): bf16 and fp32 with TF32 matmuls are both candidates, and a few
  real forward/backward passes of each decide (bf16 lost to TF32 by 4.5x on an H100 at batch 32 x 1 with per-batch
  padding, so "bf16 because the GPU has it" is not safe enough to promise "never slower");
- other CUDA GPUs: fp32;
- CPUs with AMX (`amx_bf16`/`amx_tile` in /proc/cpuinfo, or torch's own check): bf16;
- CPUs with AVX512-BF16 but no AMX: unsure, so measured, and the faster kept;
- every other CPU: fp32.

Explicit `fp32`, `bf16` and `fp16` run as asked (fp16 needs a GPU). The choice, and why, goes into the run record.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import HubkitError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# What can run: "tf32" is fp32 storage with TF32 tensor-core matmuls (GPUs of compute capability 8.0+).
EXECUTED = ("fp32", "tf32", "bf16", "fp16")


@dataclass(frozen=True)
class PrecisionChoice:
    requested: str  # what the config asked for: auto, fp32, bf16, fp16
    executed: str  # what ran: fp32, tf32, bf16, fp16
    reason: str  # one sentence for the record

    def training_arguments(self) -> dict:
        """The `TrainingArguments` keywords for this choice."""
        return {
            "bf16": self.executed == "bf16",
            "fp16": self.executed == "fp16",
            "tf32": True if self.executed == "tf32" else None,  # None: leave torch's default alone
        }

    @property
    def autocast_dtype(self):
        """The torch dtype autocast runs in (None for fp32/tf32)."""
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.executed)


# --- what the hardware has ---------------------------------------------------------------------------------------


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU feature flags Linux reports (empty where /proc/cpuinfo is absent, e.g. macOS)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_bf16_support(flags: Optional[set[str]] = None) -> str:
    """'amx' (native bf16 matmuls), 'avx512_bf16' (bf16 dot products, no tiles) or 'none'."""
    import torch

    flags = cpu_flags() if flags is None else flags
    if {"amx_bf16", "amx_tile"} <= flags:
        return "amx"
    if not flags and getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)():
        return "amx"
    if "avx512_bf16" in flags or (not flags and getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()):
        return "avx512_bf16"
    return "none"


def cuda_capability() -> Optional[tuple[int, int]]:
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_capability()


# --- the choice ------------------------------------------------------------------------------------------------


def choose_precision(
    requested: str,
    *,
    measure: Optional[Callable[[Iterable[str]], dict[str, float]]] = None,
    capability: Optional[tuple[int, int]] = None,
    cpu_support: Optional[str] = None,
    on_cuda: Optional[bool] = None,
) -> PrecisionChoice:
    """Resolve `requested` for this machine.

    `measure(candidates)` returns seconds per training step for each candidate (see :func:`measure_step_seconds`);
    it is called only where the hardware alone does not decide. The keyword arguments default to this machine's
    and exist so the rule can be tested for machines one does not have.
    """
    if requested not in PRECISIONS:
        raise HubkitError(f"precision {requested!r} is not one of {', '.join(PRECISIONS)}")
    if on_cuda is None:
        capability = cuda_capability() if capability is None else capability
        on_cuda = capability is not None
    if requested == "fp16" and not on_cuda:
        raise HubkitError("precision fp16 needs a CUDA GPU; use fp32 or bf16 (or auto) on a CPU")
    if requested != "auto":
        return PrecisionChoice(requested, requested, "set in the config")

    if on_cuda:
        major = (capability or (0, 0))[0]
        if major < 8:
            return PrecisionChoice("auto", "fp32", f"GPU of compute capability {major}.x: no native bf16 or TF32")
        return _measured(("bf16", "tf32"), measure, "GPU with native bf16 and TF32")
    support = cpu_bf16_support() if cpu_support is None else cpu_support
    if support == "amx":
        return PrecisionChoice("auto", "bf16", "CPU with AMX: native bf16 matmuls")
    if support == "avx512_bf16":
        return _measured(("fp32", "bf16"), measure, "CPU with AVX512-BF16 but no AMX")
    return PrecisionChoice("auto", "fp32", "CPU without native bf16: bf16 would be emulated")


def _measured(candidates: tuple[str, ...], measure, why: str) -> PrecisionChoice:
    if measure is None:  # nothing to time on: the safe default is the first candidate's fallback, fp32-class
        fallback = "tf32" if "tf32" in candidates else "fp32"
        return PrecisionChoice("auto", fallback, f"{why}; not measured")
    seconds = measure(candidates)
    best = min(candidates, key=lambda c: seconds[c])
    timing = ", ".join(f"{c} {seconds[c]:.3f}" for c in candidates)
    return PrecisionChoice("auto", best, f"{why}; measured s/step: {timing}")


# --- measuring -----------------------------------------------------------------------------------------------


def measure_step_seconds(
    model, batches: list[dict], candidates: Iterable[str], *, repeats: int = 1
) -> dict[str, float]:
    """Median seconds of one forward+backward pass over `batches` (model inputs with labels), per candidate.

    The model's weights are not changed (no optimizer step; gradients are cleared) and the random number
    generators are restored, so measuring before training leaves the run's results as they would have been.
    Candidates are timed interleaved (a, b, a, b, ...) so that a noisy neighbour hurts both alike.
    """
    import torch

    device = next(model.parameters()).device
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]
    cpu_rng = torch.random.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if device.type == "cuda" else None
    allow_tf32 = torch.backends.cuda.matmul.allow_tf32
    was_training = model.training
    model.train()
    times: dict[str, list[float]] = {c: [] for c in candidates}
    try:
        for round_ in range(1 + repeats):  # the first round warms every kernel up and is not kept
            for candidate in times:
                elapsed = _time_pass(model, batches, candidate, device)
                if round_ > 0:
                    times[candidate].append(elapsed)
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        torch.random.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    return {c: statistics.median(t) for c, t in times.items()}


def _time_pass(model, batches, candidate: str, device) -> float:
    import contextlib

    import torch

    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = candidate == "tf32"
        torch.cuda.synchronize()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(candidate)
    autocast = torch.autocast(device_type=device.type, dtype=dtype) if dtype else contextlib.nullcontext()
    start = time.perf_counter()
    for batch in batches:
        with autocast:
            out = model(**batch)
        out.loss.backward()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start
