"""`hubkit release` (train -> card -> push, resumable) and `hubkit demo` (the same, against a local Hub it starts)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..release import DEMO_CONFIG, DEMO_REPO, run_demo
from .params import REPO_ID, REPO_ID_WITH_NAMESPACE, TAG


def _say(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="experiment config, e.g. pipeline/finance_qa.yaml",
)
@click.option("--repo", "repo_id", type=REPO_ID, required=True, help="Hub repo id, user/name")
@click.option("--tag", type=TAG, default=None, help="tag the published Hub commit, e.g. v1.0.0")
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="run folder (default runs/<config name>); a finished run of the same config is reused",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="replace a run of another config in --out (atomically, once the new run is complete)",
)
@click.option("--private", is_flag=True, help="create the repo private")
@click.option("--no-pr", is_flag=True, help="commit straight to main (still smoke-tested) instead of via a PR")
@click.option("--quiet", is_flag=True, help="no progress bars")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON on stdout")
@click.option("--space", "with_space", is_flag=True, help="also publish a Gradio demo Space (hubkit space) and link it")
@click.option("--space-repo", default=None, help="the demo Space's id  [default: REPO-demo]")
def release(
    config_path, repo_id, tag, out_dir, overwrite, private, no_pr, quiet, as_json, with_space, space_repo
) -> None:
    """Train, build the card, push as one smoke-tested commit, tag: the whole release in one command."""
    import contextlib

    import datasets
    from transformers.utils import logging as hf_logging

    from ..publish.smoke import SmokeTestFailed, format_table
    from ..release import release as do_release

    # The training and eval bars stay; the many short loading bars go.
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()

    try:
        with contextlib.redirect_stdout(sys.stderr):  # libraries that print keep stdout for the result
            result = do_release(
                config_path,
                repo_id,
                out_dir=out_dir,
                tag=tag,
                private=private,
                create_pr=not no_pr,
                overwrite=overwrite,
                progress=not quiet,
                say=_say,
                space=(space_repo or f"{repo_id}-demo") if with_space or space_repo else None,
            )
    except SmokeTestFailed as exc:
        click.echo(format_table(exc.report))
        raise
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    pushed = result.push
    if pushed is not None and pushed.smoke is not None:
        click.echo(format_table(pushed.smoke))
    click.echo(f"card: {result.card}")
    if pushed is not None:
        click.echo(f"model: {pushed.url}" + (f" (tag {pushed.tag})" if pushed.tag else ""))
    if result.space is not None:
        click.echo(f"demo Space: {result.space.url} (open it locally: {result.space.serve_command()})")


@click.command()
@click.option(
    "--out",
    "out_dir",
    default="runs/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="where the run and the local Hub's storage go",
)
@click.option(
    "--config",
    "config_path",
    default=DEMO_CONFIG,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="experiment to release",
)
@click.option(
    "--repo",
    "repo_id",
    type=REPO_ID_WITH_NAMESPACE,
    default=DEMO_REPO,
    show_default=True,
    help="repo id on the local Hub",
)
@click.option("--tag", type=TAG, default="v0.1.0", show_default=True, help="tag for the local Hub commit")
def demo(out_dir, config_path, repo_id, tag) -> None:
    """Release the demo experiment to a local Hub this command starts: no account, no network, a few minutes."""
    out = Path(out_dir)
    # The child prints the smoke-test table, the card's path and the model's URL on the local Hub.
    code = run_demo(out, config_path=config_path, repo_id=repo_id, tag=tag, extra_args=("--space",), say=_say)
    if code != 0:
        raise click.exceptions.Exit(code)
    click.echo(
        f"browse it: hubkit hub serve --root {out / 'hub'}   then HF_ENDPOINT=<its url> "
        f"python -c \"from transformers import pipeline; pipeline('question-answering', model='{repo_id}')\""
    )
    click.echo(
        f"open the demo app: hubkit hub serve --root {out / 'hub'} --port 8000 &   then "
        f"HF_ENDPOINT=http://127.0.0.1:8000 hubkit space --model {repo_id} --serve   (http://127.0.0.1:7860)"
    )
