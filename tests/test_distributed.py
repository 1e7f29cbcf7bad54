"""`hubkit train` as 2 CPU processes (gloo) under torchrun and under `accelerate launch --cpu`: one record, written
once by the main process, with the world size in it and in the effective batch; stage headers printed once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hubkit.record import RunRecord

from .conftest import ROOT

TINY = ROOT / "pipeline" / "tiny.yaml"
BIN = Path(sys.executable).parent


def _launch(launcher: list[str], out: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "OMP_NUM_THREADS": "1",
    }
    cmd = [*launcher, "-m", "hubkit", "train", "--config", str(TINY), "--out", str(out), "--quiet"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=150, check=False)


@pytest.mark.parametrize(
    "launcher",
    [
        pytest.param(["torchrun", "--standalone", "--nproc_per_node", "2"], id="torchrun"),
        pytest.param(
            ["accelerate", "launch", "--num_processes", "2", "--cpu", "--main_process_port", "0"], id="accelerate"
        ),
    ],
)
def test_two_processes_write_one_record(launcher, tmp_path):
    tool = BIN / launcher[0]
    if not tool.exists() and shutil.which(launcher[0]) is None:
        pytest.skip(f"{launcher[0]} is not installed beside this Python")
    out = tmp_path / "run"
    result = _launch([str(tool if tool.exists() else launcher[0]), *launcher[1:]], out)
    assert result.returncode == 0, result.stderr[-3000:]
    record = RunRecord.load(out)
    assert record.training.num_processes == 2
    assert record.training.effective_batch_size == 2 * record.training.per_device_batch_size * (
        record.training.gradient_accumulation_steps
    )
    assert "x2 processes" in record.hardware.device
    assert set(record.hardware.stage_seconds) == {"data", "train", "eval", "ablation", "merge", "smoke"}
    # printing on the main process only: each stage header once, the summary once
    for header in ("[1/7] data", "[3/7] LoRA", "[4/7] eval", "[6/7] merge", "[7/7] smoke"):
        assert result.stderr.count(header) == 1, header
    assert result.stdout.count(f"run {out.name}:") == 1
    assert sorted(p.name for p in out.iterdir()) == ["adapter", "loss.png", "model", "record.json"]
