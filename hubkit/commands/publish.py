"""`hubkit push` and `hubkit smoke-test`: parse options, call `hubkit.publish`, print.

Progress goes to stderr, results to stdout (a table, or JSON with `--json`). Bad input and failed Hub calls are
one-line errors (exit 2); a smoke test whose answers differ from the card's exits 1 after printing the table.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .params import REPO_ID, REPO_ID_WITH_NAMESPACE, TAG

TOLERANCE_HELP = "Largest allowed |score - claimed score|."


def _progress(message: str) -> None:
    click.echo(f"• {message}", err=True)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _plan_table(result) -> str:
    rows = [("status", "size", "file")] + [(e.status, _size(e.size), e.path) for e in result.plan.entries]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0].ljust(widths[0])}  {r[1].rjust(widths[1])}  {r[2]}" for r in rows]
    for path in result.plan.remote_only:
        if path in result.deletions:
            lines.append(
                f"{'delete'.ljust(widths[0])}  {''.rjust(widths[1])}  {path} (on the Hub only; not in this release)"
            )
        else:
            lines.append(f"{'kept'.ljust(widths[0])}  {''.rjust(widths[1])}  {path} (on the Hub only; kept)")
    return "\n".join(lines)


def _summary(result) -> str:
    if result.dry_run:
        counts = result.plan.counts()
        target = "a pull request to main" if result.mode == "pr" else "main"
        head = f"{result.repo_id}@{(result.base_commit or 'new repo')[:12]}"
        if not result.plan.has_changes and not result.deletions:
            return f"dry run: {head} already holds these files; nothing would be committed"
        return (
            f"dry run: would commit {counts['new']} new and {counts['changed']} changed file(s), "
            f"delete {len(result.deletions)}, "
            f"{_size(result.plan.bytes_to_upload)}, as {target} of {head}; nothing was written"
        )
    if not result.committed:
        tag = f"; tagged {result.tag}" if result.tag_created else ""
        at = (result.main_sha or "")[:12]
        return f"nothing to push: {result.repo_id} is up to date at {at} (0 bytes uploaded){tag}"
    parts = [f"pushed {result.repo_id}: commit {result.commit_sha[:12]}, {_size(result.bytes_uploaded)} uploaded"]
    if result.pr_url:
        parts.append(f"PR #{result.pr_num} {'merged' if result.merged else 'open'} ({result.pr_url})")
    if result.main_sha:
        parts.append(f"main at {result.main_sha[:12]}")
    if result.tag_created:
        parts.append(f"tag {result.tag}")
    return "; ".join(parts)


@click.command()
@click.option(
    "--repo", "repo_id", type=REPO_ID, required=True, help="Hub repo id, user/name (a bare name goes under your user)."
)
@click.option(
    "--run", "run_dir", required=True, type=click.Path(path_type=Path), help="Run folder (record.json + model/)."
)
@click.option("--tag", type=TAG, default=None, help="Tag the published commit, e.g. v1.0.0.")
@click.option("--private", is_flag=True, help="Create the repo private (an existing repo keeps its visibility).")
@click.option("--dry-run", is_flag=True, help="Print the commit plan and the README diff; write nothing.")
@click.option("--no-pr", is_flag=True, help="Commit straight to main (still smoke-tested) instead of via a PR.")
@click.option(
    "--keep-remote", is_flag=True, help="Keep files on the Hub that this release does not have (default: delete them)."
)
@click.option("--tolerance", type=click.FloatRange(min=0), default=1e-3, show_default=True, help=TOLERANCE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def push(
    repo_id: str,
    run_dir: Path,
    tag: str | None,
    private: bool,
    dry_run: bool,
    no_pr: bool,
    keep_remote: bool,
    tolerance: float,
    as_json: bool,
) -> None:
    """Publish a run's model, tokenizer, card and plots to the Hub as one smoke-tested commit."""
    from ..publish.push import push as do_push
    from ..publish.smoke import SmokeTestFailed, format_table

    try:
        result = do_push(
            run_dir,
            repo_id,
            tag=tag,
            private=private,
            dry_run=dry_run,
            create_pr=not no_pr,
            keep_remote=keep_remote,
            tolerance=tolerance,
            progress=_progress,
        )
    except SmokeTestFailed as exc:
        partial = exc.result
        if as_json and partial is not None:
            click.echo(json.dumps(partial.to_dict() | {"smoke": exc.report.to_dict(), "error": str(exc)}, indent=2))
        else:
            click.echo(format_table(exc.report))
        raise
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    if result.dry_run:
        click.echo(_plan_table(result))
        if result.readme_diff:
            click.echo(result.readme_diff.rstrip("\n"))
        elif any(e.path == "README.md" for e in result.plan.entries):
            click.echo("README.md: unchanged")
    elif result.smoke is not None:
        click.echo(format_table(result.smoke))
    click.echo(_summary(result))


@click.command("smoke-test")
@click.option("--repo", "repo_id", type=REPO_ID_WITH_NAMESPACE, required=True, help="Hub repo id, user/name.")
@click.option("--revision", default="main", show_default=True, help="Branch, tag or commit to test.")
@click.option("--tolerance", type=click.FloatRange(min=0), default=1e-3, show_default=True, help=TOLERANCE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def smoke_test(repo_id: str, revision: str, tolerance: float, as_json: bool) -> None:
    """Run the Python blocks of REPO's README.md at REVISION (loaders pinned to it unless it is main) in a fresh
    process and cache, and check every `# ->` answer (exit 1 on a mismatch)."""
    from ..publish.auth import resolve_token
    from ..publish.smoke import format_table
    from ..publish.smoke import smoke_test as run_smoke

    _progress(f"smoke test of {repo_id}@{revision} in a fresh cache...")
    report = run_smoke(repo_id, revision, token=resolve_token(required=False), tolerance=tolerance)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(format_table(report))
        verdict = (
            f"ok: {report.checked} printed values match"
            if report.ok
            else f"FAILED: {len(report.failures)} of {len(report.rows)} checks fail"
        )
        click.echo(f"{repo_id}@{revision} ({report.commit[:12]}): {verdict}")
    if not report.ok:
        raise click.exceptions.Exit(1)
