"""Helpers for the Space tests: a tiny model put on a local Hub as `hubkit push` leaves it (card, record, weights).

The files are the ones `hubkit push` stages; they are uploaded with the plain client (no smoke test: test_publish.py
covers it), with the card rendered for the repo id it is published under, as `hubkit release` renders it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from hubkit.localhub import LocalHub


def publish_model(hub: LocalHub, token: str, repo_id: str, run: Path) -> str:
    """Put `run` on `hub` as `repo_id` in one commit; return the commit."""
    from huggingface_hub import CommitOperationAdd, HfApi

    from hubkit.card.render import render_card
    from hubkit.publish.stage import stage_run

    staging = stage_run(run)
    card = render_card(staging.record, repo_id=repo_id).encode("utf-8")
    operations = [
        CommitOperationAdd(f.path_in_repo, card if f.path_in_repo == "README.md" else str(f.local_path))
        for f in staging.files
    ]
    api = HfApi(endpoint=hub.url, token=token)
    api.create_repo(repo_id, exist_ok=True)
    return api.create_commit(repo_id, operations, commit_message="hubkit: publish run (test)").oid


def require_gradio() -> None:
    """Skip the calling test module where gradio (the `[space]` extra) is not installed; fail instead in CI."""
    if importlib.util.find_spec("gradio") is not None and importlib.util.find_spec("gradio_client") is not None:
        return
    reason = "gradio is not installed: pip install -e '.[space]'"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI installs it)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
