"""`hubkit space`: publish a Gradio demo Space for a model on the Hub, or serve it locally (`--serve`).

Progress goes to stderr, results to stdout (a table and a summary, or JSON with `--json`). gradio is never imported
here: `--serve` runs the generated app in a child process.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click


def _progress(message: str) -> None:
    click.echo(f"• {message}", err=True)


def _summary(result) -> str:
    if result.dry_run:
        changes = [f for f in result.files if f["status"] != "unchanged"]
        if not changes:
            return f"dry run: Space {result.space_id} already holds these files; nothing would be committed"
        return f"dry run: would commit {len(changes)} file(s) to Space {result.space_id}; nothing was written"
    if result.committed:
        head = f"published Space {result.space_id}: commit {result.commit_sha[:12]}"
    else:
        head = f"Space {result.space_id} is up to date (no commit)"
    return f"{head}; {result.url}"


@click.command()
@click.option("--model", "model_id", required=True, help="The model on the Hub to demo, user/name.")
@click.option("--repo", "space_id", default=None, help="The Space's id.  [default: MODEL-demo]")
@click.option(
    "--run",
    "run_dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="The model's run folder: its record must be the one on the Hub; its card gets the link too.",
)
@click.option(
    "--out",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the Space's files here.  [default: RUN/space with --run]",
)
@click.option("--dry-run", is_flag=True, help="Render, lint and print the plan; write nothing to the Hub.")
@click.option("--no-card-link", is_flag=True, help='Do not add the "Try it" link to the model card.')
@click.option("--serve", is_flag=True, help="Run the app locally against the model (nothing is published).")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve: the interface to listen on.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="With --serve: the port.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def space(model_id, space_id, run_dir, out, dry_run, no_card_link, serve, host, port, as_json) -> None:
    """Publish a Gradio Space (app.py, requirements.txt, README.md) that demos MODEL, in one commit.

    The app's examples are the model's smoke examples with the answers its card shows; the model card then links the
    Space. The model id the app loads comes from HUBKIT_MODEL_ID (default: MODEL) and the Hub from HF_ENDPOINT.
    """
    if out is None and run_dir is not None:
        out = run_dir / "space"
    if serve:
        _serve(model_id, space_id, run_dir, out, host, port)
        return
    from ..space.publish import publish_space

    result = publish_space(
        model_id,
        space_id=space_id,
        run_dir=run_dir,
        out=out,
        dry_run=dry_run,
        link=not no_card_link,
        progress=_progress,
    )
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    width = max(len(f["path"]) for f in result.files)
    for f in result.files:
        click.echo(f"{f['status']:<9}  {f['path']:<{width}}  {f['size']} B")
    click.echo(_summary(result))
    if result.card is not None:
        click.echo(f"model card: {result.card.status}: {result.card.detail}")
    click.echo(f"open it locally: {result.serve_command()}")


def _serve(model_id, space_id, run_dir, out, host, port) -> None:
    from ..space.publish import prepare
    from ..space.serve import require_gradio, serve

    require_gradio()
    _, model, files, _, _ = prepare(model_id, space_id=space_id, run_dir=run_dir, require_token=False)
    with tempfile.TemporaryDirectory(prefix="hubkit-space-") as tmp:
        folder = Path(out) if out is not None else Path(tmp)
        files.write(folder)
        _progress(f"serving the demo of {model.model_id}@{model.commit[:12]} from {folder}")
        click.echo(f"open http://{host}:{port} (Ctrl-C stops it)", err=True)
        code = serve(folder, model.model_id, host=host, port=port)
    if code:
        raise click.exceptions.Exit(code)
