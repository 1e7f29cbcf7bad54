"""`hubkit release` and the workflow's release script, run for real against the local Hub.

One tiny experiment goes through the whole chain: train -> card -> push as a PR -> smoke test -> merge -> tag.
A release that fails at the push resumes without retraining.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubkit.cli import cli
from hubkit.record import RunRecord
from hubkit.release import run_demo

from .helpers import ROOT, TINY_CONFIG, assert_one_line_error, build_run, tree_digest
from .localhub_helpers import TOKEN, USER, hub_api, subprocess_env

TINY = TINY_CONFIG
RELEASE_SH = ROOT / ".github" / "release.sh"


def smoke_rows(stdout: str) -> list[str]:
    """The rows of the smoke-test table a release prints (each starts with the example's number)."""
    return [line for line in stdout.splitlines() if line[:1].isdigit()]


def _release_env(hub, tmp_path: Path, **extra: str) -> dict:
    env = subprocess_env(hub, tmp_path / "hf-home")
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.update(extra)
    return env


def test_release_script_publishes_a_tagged_smoke_tested_model_and_resumes(local_hub, tmp_path):
    run_dir = tmp_path / "run"
    repo = f"{USER}/tiny-release"
    env = _release_env(
        local_hub, tmp_path, HUBKIT_CONFIG=str(TINY), HF_REPO=repo, RELEASE_TAG="v0.0.1", RUN_DIR=str(run_dir)
    )

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
    rows = smoke_rows(second.stdout)
    n_examples = len(RunRecord.load(run_dir).smoke_examples)
    assert len(rows) >= n_examples and all(row.endswith("  ok") for row in rows), second.stdout
    assert f"model: {local_hub.url}/{repo} (tag v0.0.1)" in second.stdout, second.stdout
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


def test_release_never_replaces_a_run_of_another_config_without_overwrite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = build_run(tmp_path, name="run")  # the reference record: another config's finished run
    before = tree_digest(run)
    result = CliRunner().invoke(cli, ["release", "--config", str(TINY), "--repo", "a/b", "--out", str(run)])
    assert_one_line_error(result, f"{run} holds a run of another config (000000000000)", "pass --overwrite")
    assert tree_digest(run) == before
    (run / "notes.txt").write_text("mine")
    result = CliRunner().invoke(
        cli, ["release", "--config", str(TINY), "--repo", "a/b", "--out", str(run), "--overwrite"]
    )
    assert_one_line_error(result, "holds files that are not a run's (notes.txt)")
    unfinished = build_run(tmp_path, name="unfinished", with_model=False)  # a record but no model/
    result = CliRunner().invoke(cli, ["release", "--config", str(TINY), "--repo", "a/b", "--out", str(unfinished)])
    assert_one_line_error(result, "holds files that are not a finished run")
    assert (unfinished / "record.json").is_file()


def test_run_demo_releases_to_a_local_hub_it_starts(tmp_path, monkeypatch, capfd):
    """`hubkit demo`'s library function, on the tiny experiment: a tagged, smoke-tested release on its own Hub."""
    from hubkit.localhub import LocalHub

    for name in ("HF_TOKEN", "HF_ENDPOINT", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    said: list[str] = []
    code = run_demo(
        tmp_path / "demo", config_path=TINY, repo_id="demo/tiny", tag="v9.9.9", extra_args=("--quiet",), say=said.append
    )
    out, err = capfd.readouterr()
    assert code == 0, err[-3000:]
    assert said and said[0].startswith("local Hub at http://127.0.0.1:")
    rows = smoke_rows(out)
    assert rows and all(row.endswith("  ok") for row in rows), out
    assert RunRecord.load(tmp_path / "demo" / "run").run_name == "run"
    # The Hub it started is gone; its storage holds the tagged release, readable by a fresh server.
    with LocalHub.start(tmp_path / "demo" / "hub", tokens={}) as hub:
        api = hub_api(hub, token=None)
        refs = api.list_repo_refs("demo/tiny")
        assert [t.name for t in refs.tags] == ["v9.9.9"]
        files = {f.path for f in api.list_repo_tree("demo/tiny", revision="v9.9.9")}
        assert {"README.md", "model.safetensors", "record.json"} <= files
    assert "hf_demo_" not in out + err + "".join(said)  # the demo's token is never printed
