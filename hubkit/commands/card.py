"""`hubkit build-card` and `hubkit lint-card`: parse, call hubkit.card, print. No torch/transformers/peft here.

Both follow the CLI's exit codes (hubkit.cli): 1 when the card has lint problems, 2 for bad input.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import ChecksFailed
from .params import REPO_ID


@click.command("build-card")
@click.option(
    "--run", "run_dir", required=True, type=click.Path(path_type=Path), help="Run directory holding record.json."
)
@click.option(
    "--template",
    type=click.Path(path_type=Path),
    default=None,
    help="Your own Jinja template (rendered sandboxed; may import the built-in macros.md.j2).",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the card (default RUN_DIR/model/README.md); the loss plot goes beside it.",
)
@click.option(
    "--repo-id",
    type=REPO_ID,
    default=None,
    help="Repo id the usage snippet loads (default: the record's card.model_name).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def build_card(run_dir: Path, template: Path | None, out: Path | None, repo_id: str | None, as_json: bool) -> None:
    """Render the model card from a run's record.json, draw the loss plot, and lint it (exit 1 on lint problems)."""
    from ..card import build_card as build

    result = build(run_dir, template=template, out=out, repo_id=repo_id)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "card": str(result.card),
                    "plot": str(result.plot),
                    "ok": result.ok,
                    "problems": [p.to_dict() for p in result.problems],
                },
                indent=2,
            )
        )
        if not result.ok:
            raise click.exceptions.Exit(ChecksFailed.exit_code)
        return
    for problem in result.problems:
        click.echo(f"{result.card}: {problem}", err=True)
    if not result.ok:
        raise ChecksFailed(
            f"{result.card}: {len(result.problems)} lint problem(s); fix the record or template, "
            "do not publish this card"
        )
    click.echo(f"wrote {result.card} and {result.plot}")


@click.command("lint-card")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def lint_card(path: Path, as_json: bool) -> None:
    """Check a model card (README.md or its folder) and the model files beside it, offline. Exit 1 on problems."""
    from ..card.lint import lint_card as lint

    problems = lint(path)
    if as_json:
        click.echo(
            json.dumps({"path": str(path), "ok": not problems, "problems": [p.to_dict() for p in problems]}, indent=2)
        )
    else:
        for problem in problems:
            click.echo(f"{path}: {problem}")
        if not problems:
            click.echo(f"{path}: ok")
    if problems:
        raise click.exceptions.Exit(ChecksFailed.exit_code)
