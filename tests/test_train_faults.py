"""Fault test: Ctrl-C (SIGINT) and SIGKILL at several points of `hubkit train --overwrite` and `hubkit release
--overwrite` leave the previous run byte-identical; the next run clears what a killed one left and replaces it.

Each case starts the real CLI in a child process on the tiny experiment, waits for a stage's progress line on
stderr, and sends the signal while that stage runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubkit.cli import cli
from hubkit.runfolder import RunFolder

from .helpers import ROOT, TINY_CONFIG, tree_digest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture(scope="module")
def previous_run(tmp_path_factory) -> Path:
    """A finished tiny run: the run every fault must leave exactly as it is."""
    out = tmp_path_factory.mktemp("previous") / "run"
    result = CliRunner().invoke(cli, ["train", "--config", str(TINY_CONFIG), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def _other_config(folder: Path) -> Path:
    """The tiny experiment with another learning rate: a different config hash, so release must retrain."""
    text = TINY_CONFIG.read_text().replace("learning_rate: 0.001", "learning_rate: 0.002")
    text = text.replace("path: data/", f"path: {TINY_CONFIG.parent}/data/")
    path = folder / "other.yaml"
    path.write_text(text)
    return path


def _interrupt(args: list[str], marker: str, sig: signal.Signals, cwd: Path) -> tuple[int, str]:
    """Run `hubkit ARGS`, send `sig` when `marker` shows on stderr; (exit code, stderr)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    child = subprocess.Popen(
        [sys.executable, "-m", "hubkit.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )
    seen = []
    try:
        for line in child.stderr:
            seen.append(line)
            if marker in line:
                child.send_signal(sig)
                break
        else:
            pytest.fail(f"{marker!r} never showed; stderr:\n{''.join(seen)[-2000:]}")
        rest = child.stderr.read()
        code = child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert code != 0, f"the run finished before {sig.name} reached it:\n{''.join(seen)}{rest}"
    return code, "".join(seen) + rest


@pytest.mark.parametrize(
    "marker, sig",
    [
        ("[3/7] LoRA", signal.SIGKILL),  # while training
        ("[6/7] merge", signal.SIGINT),  # while the new run's folder is being written
        ("[7/7] smoke", signal.SIGKILL),  # the new model is saved and its parity checked, the record not yet written
    ],
    ids=["sigkill-train", "sigint-merge", "sigkill-smoke"],
)
def test_train_overwrite_interrupted_leaves_the_previous_run(previous_run, tmp_path, marker, sig):
    out = tmp_path / "run"
    shutil.copytree(previous_run, out)
    before = tree_digest(out)
    code, stderr = _interrupt(
        ["train", "--config", str(TINY_CONFIG), "--out", str(out), "--overwrite", "--quiet"], marker, sig, tmp_path
    )
    assert tree_digest(out) == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    if sig == signal.SIGINT:
        assert code != 0 and "Traceback" not in stderr and leftovers == []  # Ctrl-C cleans up after itself
    else:
        assert code == -signal.SIGKILL and all(".run.hubkit-partial-" in name for name in leftovers)
    if marker == "[7/7] smoke":
        assert leftovers, "a run killed while writing leaves its partial folder"
        # The next run removes what the killed one left, and replaces the run only once it is complete.
        result = CliRunner().invoke(
            cli, ["train", "--config", str(TINY_CONFIG), "--out", str(out), "--overwrite", "--quiet"]
        )
        assert result.exit_code == 0, result.output
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
        assert RunFolder(out).finished_record() is not None


@pytest.mark.parametrize(
    "marker, sig",
    [("[1/7] data", signal.SIGINT), ("[6/7] merge", signal.SIGKILL)],
    ids=["sigint-data", "sigkill-merge"],
)
def test_release_overwrite_interrupted_leaves_the_previous_run(previous_run, tmp_path, marker, sig):
    out = tmp_path / "run"
    shutil.copytree(previous_run, out)
    before = tree_digest(out)
    _interrupt(
        [
            "release",
            "--config",
            str(_other_config(tmp_path)),
            "--repo",
            "alice/tiny",
            "--out",
            str(out),
            "--overwrite",
            "--quiet",
        ],
        marker,
        sig,
        tmp_path,
    )
    assert tree_digest(out) == before
