"""`hubkit release` and the workflow's release script, run for real against the local Hub.

One tiny experiment goes through the whole chain: train -> card -> push as a PR -> smoke test -> merge -> tag.
A release that fails at the push resumes without retraining.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubkit.cli import cli

from .conftest import ROOT
from .localhub_helpers import TOKEN, USER, hub_api, local_hub, subprocess_env  # noqa: F401

TINY = ROOT / "pipeline" / "tiny.yaml"
RELEASE_SH = ROOT / ".github" / "release.sh"


def _release_env(hub, tmp_path: Path, **extra: str) -> dict:
    env = subprocess_env(hub, tmp_path / "hf-home")
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.update(extra)
    return env


def test_release_script_publishes_a_tagged_smoke_tested_model_and_resumes(local_hub, tmp_path):
    run_dir = tmp_path / "run"
    repo = f"{USER}/tiny-release"
    env = _release_env(local_hub, tmp_path, HUBKIT_CONFIG=str(TINY), HF_REPO=repo, RELEASE_TAG="v0.0.1",
                       RUN_DIR=str(run_dir))

    # 1. The push fails (the Hub answers 500 to the commit): nothing lands on main.
    local_hub.fail_next(1, status=500, path_contains="/commit/")
    first = subprocess.run(["bash", str(RELEASE_SH)], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode != 0
    assert "[1/3] train" in first.stderr and "ran:" in first.stderr
    assert "Traceback" not in first.stderr
    api = hub_api(local_hub)
    refs = api.list_repo_refs(repo)
    assert not refs.tags
    model_mtime = (run_dir / "model" / "model.safetensors").stat().st_mtime_ns

    # 2. Re-run: training is skipped (same config), the push completes, is smoke-tested, merged and tagged.
    second = subprocess.run(["bash", str(RELEASE_SH)], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "skipped: up to date" in second.stderr
    assert (run_dir / "model" / "model.safetensors").stat().st_mtime_ns == model_mtime
    refs = api.list_repo_refs(repo)
    tag = {t.name: t.target_commit for t in refs.tags}
    main = {b.name: b.target_commit for b in refs.branches}["main"]
    assert tag == {"v0.0.1": main}
    files = {f.path for f in api.list_repo_tree(repo, revision="v0.0.1", recursive=True)}
    assert {"README.md", "config.json", "model.safetensors", "loss.png", "record.json"} <= files
    assert "ok" in second.stdout.lower() or "pass" in second.stdout.lower()
    assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr

    # 3. A third run changes nothing on the Hub.
    third = subprocess.run(["bash", str(RELEASE_SH)], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert third.returncode == 0, third.stderr[-2000:]
    assert [c.commit_id for c in api.list_repo_commits(repo)][0] == main


def test_release_script_needs_its_inputs(tmp_path):
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    result = subprocess.run(["bash", str(RELEASE_SH)], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "HUBKIT_CONFIG" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "nope.yaml", "--repo", "a/b"], "no experiment config at nope.yaml"),
        (["--help"], None),
    ],
)
def test_release_cli_bad_input_and_help(args, message, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["release", *args])
    if message is None:
        assert result.exit_code == 0 and "--tag" in result.output
        return
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
