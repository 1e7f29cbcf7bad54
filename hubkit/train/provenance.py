"""Which checkout an experiment ran from: the git commit of the work tree holding its config, and whether it was dirty.

A config hash says what was asked for; the commit says which code and data files answered. Outside a git work tree
(or without git installed) both are None: the record says "unknown" rather than guessing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional


def _git(folder: Path, *args: str) -> Optional[str]:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def checkout_provenance(config_path: str | Path) -> dict:
    """{git_commit, git_dirty} for the checkout holding `config_path`, shaped like hubkit.record.Provenance.

    Dirty means uncommitted changes to tracked files, or the config itself not committed (then the commit cannot
    describe the experiment). Untracked files elsewhere (e.g. run folders) do not count.
    """
    config_path = Path(config_path).resolve()
    folder = config_path.parent if config_path.is_file() else config_path
    commit = _git(folder, "rev-parse", "--verify", "--quiet", "HEAD")
    if not commit or not commit.strip():
        return {"git_commit": None, "git_dirty": None}
    changes = _git(folder, "status", "--porcelain", "--untracked-files=no")
    untracked_config = config_path.is_file() and _git(folder, "ls-files", "--error-unmatch", config_path.name) is None
    dirty = None if changes is None else bool(changes.strip()) or untracked_config
    return {"git_commit": commit.strip(), "git_dirty": dirty}
