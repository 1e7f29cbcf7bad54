"""`hubkit release`: train -> build the card -> push (smoke-tested, merged, tagged), resumable.

Each stage says what it did. Re-running after a failure resumes: the training stage is skipped when the run folder
already holds a record whose `config_hash` equals the config's (so a failed push never costs a retrain); the card is
re-rendered (deterministic, cheap); the push is idempotent (identical content makes no commit and uploads nothing).

A run folder holding anything else (a run of another config, or files that are no run) is never replaced unless
`overwrite` is given, and then only atomically, once the new run is complete (hubkit.runfolder).

`run_demo` is `hubkit demo`: the same release against a local Hub it starts, with a throwaway token.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .errors import ChecksFailed, HubkitError
from .ids import check_repo_id, check_tag
from .record import RunRecord
from .runfolder import RunFolder

if TYPE_CHECKING:  # types only: importing push or space here would slow every command's start
    from .publish.push import PushResult
    from .space.publish import SpaceResult

Say = Callable[[str], None]
DEMO_CONFIG = "pipeline/demo.yaml"
DEMO_REPO = "demo/minilm-lora-finance-qa"


@dataclass
class StageOutcome:
    name: str
    status: str  # "ran" | "skipped"
    detail: str


@dataclass
class ReleaseResult:
    run_dir: Path
    repo_id: str
    stages: list[StageOutcome] = field(default_factory=list)
    card: Optional[Path] = None
    push: Optional[PushResult] = None
    space: Optional[SpaceResult] = None  # release --space

    def to_dict(self) -> dict:
        return {
            "run_dir": str(self.run_dir),
            "repo_id": self.repo_id,
            "card": str(self.card) if self.card else None,
            "stages": [vars(s) for s in self.stages],
            "push": self.push.to_dict() if self.push is not None else None,
            "space": self.space.to_dict() if self.space is not None else None,
        }


def trained_run_is_current(run_dir: str | Path | RunFolder, config_hash: str) -> Optional[RunRecord]:
    """The run's record when run_dir holds a finished run of exactly this config, else None."""
    run = RunFolder.of(run_dir)
    record = run.finished_record()  # a broken record means the run did not finish: train again
    return record if record is not None and record.config_hash == config_hash else None


def release(
    config_path: str | Path,
    repo_id: str,
    *,
    out_dir: str | Path | None = None,
    tag: str | None = None,
    private: bool = False,
    create_pr: bool = True,
    overwrite: bool = False,
    progress: bool = True,
    say: Say = lambda message: None,
    space: str | None = None,
) -> ReleaseResult:
    """Run the whole chain for one experiment config and one Hub repo; with `space` (a Space id), a demo Space too:
    the card is rendered with its "Try it" link, and the Space is published after the model.

    A run folder that holds another config's run is replaced only with `overwrite` (else a one-line error before
    any work); the replacement is atomic, so a failed or interrupted release leaves the old run whole.
    """
    from .card import build_card
    from .publish.push import push
    from .train.config import load_config

    check_repo_id(repo_id)  # a name the Hub would refuse stops the release before hours of training
    if tag is not None:
        check_tag(tag)
    if space is not None and "/" not in repo_id:
        raise HubkitError(f"--space needs the full model id (user/name), not {repo_id!r}")
    config = load_config(config_path)
    run = RunFolder(out_dir if out_dir is not None else Path("runs") / config.name)
    run_dir = run.root
    result = ReleaseResult(run_dir=run_dir, repo_id=repo_id)
    wanted = config.config_hash()
    stages = 4 if space is not None else 3

    # 1. train (skipped when this exact config already produced the run)
    say(f"== [1/{stages}] train: {config_path} -> {run_dir}")
    record = trained_run_is_current(run, wanted)
    if record is None and not overwrite and not run.is_empty():
        held = run.finished_record()
        what = (
            f"a run of another config ({held.config_hash[:12]})"
            if held is not None
            else "files that are not a finished run"
        )
        raise HubkitError(
            f"{run_dir} holds {what}; pass --overwrite to replace it or --out to release into a new folder"
        )
    if record is not None:
        detail = f"up to date (config {wanted[:12]}, run {record.created_at}); not retraining"
        result.stages.append(StageOutcome("train", "skipped", detail))
    else:
        from .train.run import run_experiment

        record = run_experiment(config_path, run_dir, overwrite=overwrite, progress=progress, say=say)
        if record is None:  # non-main process of a multi-process launch: publishing is the main process's job
            return result
        detail = f"EM {record.eval.exact_match:.2f} F1 {record.eval.f1:.2f} on {record.eval.num_examples} examples"
        result.stages.append(StageOutcome("train", "ran", detail))
    say(f"   {result.stages[-1].status}: {result.stages[-1].detail}")

    # 2. the card, rendered from the record and linted
    run = RunFolder(run_dir, record=record)  # the record in hand: read once per release
    card_path = run.card_path
    say(f"== [2/{stages}] card: {card_path}")
    before = card_path.read_bytes() if card_path.is_file() else None
    built = build_card(run, repo_id=repo_id, space_id=space)
    if not built.ok:
        first = built.problems[0]
        raise ChecksFailed(f"card lint failed ({len(built.problems)} problem(s)); first: {first.code}: {first.message}")
    result.card = built.card
    status = "skipped" if before == built.card.read_bytes() else "ran"
    detail = "unchanged, lint passed" if status == "skipped" else "rendered, lint passed"
    result.stages.append(StageOutcome("card", status, detail))
    say(f"   {status}: {detail}")

    # 3. push: one commit (a PR by default), smoke-tested, merged, tagged
    say(f"== [3/{stages}] push: {repo_id}" + (f" (tag {tag})" if tag else ""))
    pushed = push(run, repo_id, tag=tag, private=private, create_pr=create_pr, progress=say)
    result.push = pushed
    if pushed.committed:
        result.stages.append(StageOutcome("push", "ran", f"commit {pushed.commit_sha} on {pushed.url}"))
    else:
        result.stages.append(StageOutcome("push", "skipped", f"the Hub already has this content ({pushed.url})"))
    say(f"   {result.stages[-1].status}: {result.stages[-1].detail}")

    # 4. the demo Space (release --space): one commit, after the model it shows; the card already links it
    if space is not None:
        from .space.publish import publish_space

        say(f"== [4/{stages}] space: {space}")
        result.space = published = publish_space(
            repo_id, space_id=space, run_dir=run_dir, out=run_dir / "space", progress=say
        )
        status = "ran" if published.committed else "skipped"
        detail = f"commit {published.commit_sha} on {published.url}" if published.committed else "up to date"
        result.stages.append(StageOutcome("space", status, detail))
        say(f"   {status}: {detail}")
    return result


def run_demo(
    out_dir: str | Path,
    *,
    config_path: str | Path = DEMO_CONFIG,
    repo_id: str = DEMO_REPO,
    tag: str = "v0.1.0",
    extra_args: tuple[str, ...] = (),
    say: Say = lambda message: None,
) -> int:
    """Start a local Hub under OUT/hub, then `hubkit release` CONFIG into OUT/run and onto it; the child's exit code.

    The token is made here, lives only in this process and the child's environment, and is never printed. The
    release runs in a child process because huggingface_hub reads HF_ENDPOINT when it is first imported.
    """
    from .localhub import LocalHub

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise HubkitError(f"--out {out} is a file, not a folder")
    user = repo_id.split("/")[0]
    token = "hf_demo_" + secrets.token_hex(16)
    with LocalHub.start(out / "hub", tokens={token: user}) as hub:
        say(f"local Hub at {hub.url} (storage {out / 'hub'})")
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_OIDC_RESOURCE")}
        env.update(HF_ENDPOINT=hub.url, HF_TOKEN=token, HF_HUB_DISABLE_TELEMETRY="1")
        cmd = [
            sys.executable,
            "-m",
            "hubkit.cli",
            "release",
            "--config",
            str(config_path),
            "--repo",
            repo_id,
            "--out",
            str(out / "run"),
            "--tag",
            tag,
            *extra_args,
        ]
        return subprocess.run(cmd, env=env).returncode
