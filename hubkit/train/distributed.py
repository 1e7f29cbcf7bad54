"""Several training processes on one machine: who is who, agreeing on a choice, and the launchers.

Training runs under `torchrun --nproc_per_node N -m hubkit train ...` and `accelerate launch --num_processes N
-m hubkit train ...` (add `--cpu` for gloo on CPUs). Every process trains (the Trainer shards the batches); only the
main process evaluates, merges, saves, smoke-tests, writes the record and prints.

`accelerate launch --cpu --num_processes N` hands multi-CPU runs to `mpirun` and, without an MPI hostfile, starts a
single process that knows only that more were asked for (MASTER_ADDR is set, no WORLD_SIZE): that used to train
with single-process semantics. :func:`relaunch_accelerate_cpu` starts the N processes through torch's own launcher
(`torch.distributed.run`, what torchrun is) with the number read from the `accelerate launch` command line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

_RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK")
_SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


def _env_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            return int(value)
    return default


def rank() -> int:
    return _env_int(_RANK_VARS, 0)


def world_size() -> int:
    return _env_int(_SIZE_VARS, 1)


def is_main() -> bool:
    return rank() == 0


def init(use_cpu: bool) -> None:
    """Join the process group (gloo on CPU, nccl on GPUs) the Trainer will use; nothing in a single process."""
    if world_size() > 1:
        from accelerate import PartialState

        PartialState(cpu=use_cpu)


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def agree(value: Any) -> Any:
    """The main process's `value`, on every process (a choice that must be the same everywhere)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def agree_all(value: bool) -> bool:
    """True only where `value` is True on every process (e.g. 'this micro-batch fits my device')."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return all(gathered)


def quiet_unless_main() -> None:
    """Non-main processes print nothing but errors: no progress bars, no library warnings."""
    if is_main():
        return
    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()


# --- accelerate launch --cpu --------------------------------------------------------------------------------------


def requested_accelerate_cpu_processes(parent_cmdline: Optional[list[str]] = None) -> int:
    """How many processes `accelerate launch --cpu` was asked for, when it started only this one; else 0."""
    env = os.environ
    # accelerate's simple launcher sets ACCELERATE_USE_CPU (True or False) and, for N > 1, MASTER_ADDR
    if "ACCELERATE_USE_CPU" not in env or "MASTER_ADDR" not in env or any(name in env for name in _SIZE_VARS):
        return 0
    if env["ACCELERATE_USE_CPU"].lower() not in ("true", "1"):
        import torch

        if torch.cuda.is_available():  # a GPU machine: accelerate's own --multi_gpu path is the way
            return 0
    argv = _parent_cmdline() if parent_cmdline is None else parent_cmdline
    if "launch" not in argv:
        return 0
    from accelerate.commands.launch import launch_command_parser

    try:
        args, _ = launch_command_parser().parse_known_args(argv[argv.index("launch") + 1 :])
    except SystemExit:
        return 0
    if args.mpirun_hostfile is not None:  # accelerate's own multi-CPU path (mpirun) is running the processes
        return 0
    return int(args.num_processes or 0) if (args.num_processes or 0) > 1 else 0


def _parent_cmdline() -> list[str]:
    try:
        raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def relaunch_accelerate_cpu() -> None:
    """Under `accelerate launch --cpu --num_processes N` (N > 1) with no MPI: replace this process by N processes
    started through `torch.distributed.run`. Returns only when there is nothing to do."""
    processes = requested_accelerate_cpu_processes()
    if not processes:
        return
    port = os.environ.get("MASTER_PORT", "29500")
    if port in ("", "0"):  # `--main_process_port 0`: any free port
        port = str(_free_port())
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(processes),
        "--master_addr",
        os.environ.get("MASTER_ADDR", "127.0.0.1"),
        "--master_port",
        port,
        "-m",
        "hubkit",
        *sys.argv[1:],
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)
