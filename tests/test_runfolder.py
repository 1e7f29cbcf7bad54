"""RunFolder: one place for a run's paths, its record read once, and a replacement that never loses the old run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hubkit import runfolder
from hubkit.errors import HubkitError
from hubkit.runfolder import RunFolder

from .helpers import REFERENCE_RECORD, build_run, tree_digest


def _write_new_run(folder: Path, marker: str) -> None:
    (folder / "model").mkdir()
    (folder / "model" / "config.json").write_text(marker)
    (folder / "record.json").write_text(marker)


def test_paths_and_the_record_read_once(tmp_path):
    run = RunFolder(build_run(tmp_path))
    assert (run.record_path, run.model_dir, run.adapter_dir) == (
        run.root / "record.json",
        run.root / "model",
        run.root / "adapter",
    )
    assert (run.card_path, run.plot_path) == (run.root / "model" / "README.md", run.root / "loss.png")
    first = run.record
    run.record_path.write_text("{broken")  # a second read would fail: the record is read once
    assert run.record is first and first.run_name == "reference"


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_build_swaps_a_complete_run_in(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(runfolder, "_exchange", lambda a, b: False)
    run = RunFolder(build_run(tmp_path))
    with run.build(overwrite=True) as partial:
        assert partial.parent == run.root.parent and partial.name.startswith(".run.hubkit-partial-")
        _write_new_run(partial, "new")
    assert (run.model_dir / "config.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no partial or old folder left


def test_a_failure_inside_build_leaves_the_old_run_byte_identical(tmp_path):
    run = RunFolder(build_run(tmp_path))
    before = tree_digest(run.root)
    for error in (HubkitError("data error"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            with run.build(overwrite=True) as partial:
                _write_new_run(partial, "half")
                raise error
        assert tree_digest(run.root) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_without_overwrite_a_run_is_never_replaced(tmp_path):
    run = RunFolder(build_run(tmp_path))
    with pytest.raises(HubkitError, match="is not empty; pick a new folder or pass --overwrite"):
        with run.build(overwrite=False):
            pytest.fail("must not get here")
    (run.root / "notes.txt").write_text("mine")
    with pytest.raises(HubkitError, match=r"holds files that are not a run's \(notes.txt\)"):
        run.check_writable(overwrite=True)


@pytest.mark.parametrize("out", ["file", "file/sub"])
def test_a_destination_under_a_file_is_one_line(tmp_path, out):
    (tmp_path / "file").write_text("x")
    with pytest.raises(HubkitError, match="is a file, not a folder") as err:
        RunFolder(tmp_path / out).check_writable(overwrite=True)
    assert "\n" not in str(err.value)


def test_a_swap_cut_between_its_two_renames_is_undone(tmp_path):
    run = RunFolder(build_run(tmp_path))
    before = tree_digest(run.root)
    old = tmp_path / f".run{runfolder._OLD}999999-x"
    run.root.rename(old)  # what a kill between the two renames leaves
    run.recover()
    assert tree_digest(run.root) == before and not old.exists()


def test_a_killed_builds_partial_folder_is_removed_by_the_next_build(tmp_path):
    run = RunFolder(build_run(tmp_path))
    child = subprocess.run(  # a process that made a partial folder and died without cleaning up
        [
            sys.executable,
            "-c",
            "import os, sys; from hubkit.runfolder import RunFolder\n"
            f"with RunFolder({str(run.root)!r}).build(overwrite=True) as p: os._exit(0)",
        ],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert child.returncode == 0
    stale = [p.name for p in tmp_path.iterdir() if p.name != "run"]
    assert len(stale) == 1 and stale[0].startswith(".run.hubkit-partial-")
    with run.build(overwrite=True) as partial:
        _write_new_run(partial, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_finished_record_needs_a_valid_record_and_a_model(tmp_path):
    run = RunFolder(tmp_path / "run")
    assert run.finished_record() is None and run.is_empty()
    run.root.mkdir()
    shutil.copy(REFERENCE_RECORD, run.record_path)
    assert RunFolder(run.root).finished_record() is None  # no model/config.json
    (run.model_dir).mkdir()
    (run.model_dir / "config.json").write_text("{}")
    assert RunFolder(run.root).finished_record().config_hash
    run.record_path.write_text("{")
    assert RunFolder(run.root).finished_record() is None


def test_a_record_in_hand_is_passed_along_not_read_again(tmp_path, monkeypatch):
    from hubkit.card import build_card
    from hubkit.publish.stage import stage_run
    from hubkit.record import RunRecord

    run = RunFolder(build_run(tmp_path))
    record = run.record
    reads = []
    real_load = RunRecord.load.__func__
    monkeypatch.setattr(RunRecord, "load", classmethod(lambda cls, path: reads.append(path) or real_load(cls, path)))
    assert RunFolder.of(run) is run and RunFolder(run.root, record=record).record is record
    built = build_card(run)
    assert built.ok, built.problems
    assert stage_run(run).record is record
    assert reads == []
