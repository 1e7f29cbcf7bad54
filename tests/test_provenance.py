"""The checkout an experiment ran from: git commit and dirty flag, None outside a git work tree."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hubkit.train.provenance import checkout_provenance

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(folder, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "HOME": str(folder),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", "-C", str(folder), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def test_clean_dirty_and_untracked_config(tmp_path):
    repo = tmp_path / "repo"
    (repo / "pipeline").mkdir(parents=True)
    config = repo / "pipeline" / "exp.yaml"
    config.write_text("name: exp\n")
    (repo / "code.py").write_text("x = 1\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "first")
    head = git(repo, "rev-parse", "HEAD")
    assert checkout_provenance(config) == {"git_commit": head, "git_dirty": False}
    (repo / "runs").mkdir()
    (repo / "runs" / "out.txt").write_text("a run folder is not a change to the checkout\n")
    assert checkout_provenance(config)["git_dirty"] is False
    (repo / "code.py").write_text("x = 2\n")
    assert checkout_provenance(config) == {"git_commit": head, "git_dirty": True}
    git(repo, "checkout", "-q", "code.py")
    other = repo / "pipeline" / "new.yaml"  # an experiment whose config was never committed
    other.write_text("name: new\n")
    assert checkout_provenance(other) == {"git_commit": head, "git_dirty": True}


def test_outside_a_checkout_is_unknown(tmp_path):
    config = tmp_path / "exp.yaml"
    config.write_text("name: exp\n")
    assert checkout_provenance(config) == {"git_commit": None, "git_dirty": None}
