"""`hubkit release --space`: train -> card (with the "Try it" link) -> push -> Space, resumable, against a local Hub.

The tiny experiment trains a sentiment dataset in the "options" format, so its Space has the sentence box: the app,
run from the downloaded Space, builds the options context of the card's first example from its bare sentence and
gives the card's answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hubkit.errors import HubkitError
from hubkit.record import RunRecord

from .conftest import ROOT
from .localhub_helpers import TOKEN, USER, hub_api, local_hub, subprocess_env  # noqa: F401  (fixture)
from .space_helpers import require_gradio
from .test_space_app import app_environment, free_port

TINY = ROOT / "pipeline" / "tiny.yaml"

require_gradio()  # the app runs on gradio (the [space] extra)


def _release(hub, tmp_path: Path, run_dir: Path, repo: str) -> subprocess.CompletedProcess:
    env = subprocess_env(hub, tmp_path / "hf-home")
    env["PYTHONPATH"] = str(ROOT)
    command = [
        sys.executable,
        "-m",
        "hubkit.cli",
        "release",
        "--config",
        str(TINY),
        "--repo",
        repo,
        "--out",
        str(run_dir),
        "--space",
        "--quiet",
        "--json",
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=900, check=False)


def test_release_with_space_publishes_model_card_link_and_demo_then_changes_nothing(local_hub, tmp_path):  # noqa: F811
    from gradio_client import Client
    from huggingface_hub import snapshot_download

    from hubkit.space.serve import start_app, wait_until_up

    repo, space = f"{USER}/tiny-demo-release", f"{USER}/tiny-demo-release-demo"
    run_dir = tmp_path / "run"
    first = _release(local_hub, tmp_path, run_dir, repo)
    assert first.returncode == 0, first.stderr[-3000:]
    headers = [line.split("]")[0] for line in first.stderr.splitlines() if line.startswith("== [")]
    assert headers == ["== [1/4", "== [2/4", "== [3/4", "== [4/4"], first.stderr  # one count for the whole release
    assert "Traceback" not in first.stderr
    result = json.loads(first.stdout)
    assert result["space"]["created"] and result["space"]["card"]["status"] == "already"  # the pushed card links it
    api = hub_api(local_hub)
    card = Path(api.hf_hub_download(repo, "README.md", cache_dir=tmp_path / "dl")).read_text(encoding="utf-8")
    assert f"**Try it:** [{space}](https://huggingface.co/spaces/{space})" in card
    assert api.space_info(space).sdk == "gradio"
    heads = (api.repo_info(repo).sha, api.repo_info(space, repo_type="space").sha)
    assert result["push"]["main_sha"] == heads[0]  # the model's card needed no second commit

    # resumable: the same release again trains nothing and commits nothing
    second = _release(local_hub, tmp_path, run_dir, repo)
    assert second.returncode == 0, second.stderr[-3000:]
    assert [s["status"] for s in json.loads(second.stdout)["stages"]] == ["skipped"] * 4
    assert (api.repo_info(repo).sha, api.repo_info(space, repo_type="space").sha) == heads
    assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr

    # the Space as published: the sentence box rebuilds the card's options-format example from its bare sentence
    record = RunRecord.load(run_dir)
    example = record.smoke_examples[0]
    prefix = "Options: negative, neutral, positive. Statement: "
    assert example.context.startswith(prefix)
    folder = snapshot_download(space, repo_type="space", endpoint=local_hub.url, cache_dir=tmp_path / "space-dl")
    port = free_port()
    log = tmp_path / "app.log"
    with log.open("w") as out:
        process = start_app(
            folder,
            None,
            port=port,
            env=app_environment(local_hub, tmp_path / "app-home"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_until_up(f"http://127.0.0.1:{port}/", process, timeout=240)
        except HubkitError:
            raise AssertionError(log.read_text()[-2000:]) from None
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        question, context = client.predict(example.context[len(prefix) :], api_name="/sentiment_context")
        assert (question, context) == (example.question, example.context)
        answer, score = client.predict(question, context, api_name="/answer")
        assert answer == example.answer and f"{score:.4f}" == f"{example.score:.4f}"
    finally:
        process.terminate()
        process.wait(timeout=30)
