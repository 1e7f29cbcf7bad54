"""`hubkit hub serve`: run the local Hub-compatible server in the foreground.

Why a command: a user (or CI) can publish and download offline with the real clients by pointing `HF_ENDPOINT` at it.
Tokens are given as TOKEN=USER, in a file (`--token-file`, one per line: not visible in `ps`) or on the command line,
and are never printed; the banner names the users only.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import click

from ..errors import HubkitError


def _parse_tokens(values: tuple[str, ...]) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for value in values:
        token, sep, user = value.partition("=")
        if not sep or not token or not user:
            # the message must not echo the value: it holds a token
            raise HubkitError("--token expects TOKEN=USER (a token, '=', then the user it belongs to)")
        tokens[token] = user
    return tokens


def _read_token_file(path: Path | None) -> dict[str, str]:
    """TOKEN=USER lines; blank lines and lines starting with '#' are skipped. Errors name the line, never its text."""
    if path is None:
        return {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise HubkitError(f"cannot read --token-file {path}: {reason}") from None
    tokens: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        token, sep, user = line.partition("=")
        if not sep or not token.strip() or not user.strip():
            raise HubkitError(f"--token-file {path}, line {number}: expected TOKEN=USER")
        tokens[token.strip()] = user.strip()
    return tokens


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@click.group()
def hub() -> None:
    """A local Hugging Face Hub-compatible server (for offline publishing and tests)."""


@hub.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="Port (0: a free one).  [default: 0]")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("localhub"),
    show_default=True,
    help="Directory holding the repos and blobs (created if missing).",
)
@click.option("--token", "tokens", multiple=True, metavar="TOKEN=USER", help="A write token and its user; repeatable.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file of TOKEN=USER lines ('#' comments allowed): keeps tokens out of the command line (and `ps`).",
)
@click.option(
    "--lfs-uploads/--no-lfs-uploads",
    default=lambda: os.environ.get("HF_HUB_DISABLE_XET", "").strip().lower() in ("1", "true", "yes", "on"),
    help="Ask clients to upload LFS files through the LFS batch API. Only clients with HF_HUB_DISABLE_XET=1 can; "
    "others need the default (every file sent inline). [default: on when HF_HUB_DISABLE_XET is set]",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every request (method, path, status).")
def serve(
    host: str, port: int, root: Path, tokens: tuple[str, ...], token_file: Path | None, lfs_uploads: bool, verbose: bool
) -> None:
    """Serve the Hub API on HOST:PORT until Ctrl-C. Point clients at it with HF_ENDPOINT=<url>."""
    from ..localhub import LocalHub

    token_map = _parse_tokens(tokens)
    token_map.update(_read_token_file(token_file))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")
    try:
        server = LocalHub.start(root, token_map, host=host, port=port, lfs_uploads=lfs_uploads, background=False)
    except OSError as exc:
        raise HubkitError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    users = ", ".join(sorted(set(token_map.values()))) or "none (read-only)"
    click.echo(f"Local hub serving {root} at {server.url}")
    click.echo(f"Users with write tokens: {users}")
    click.echo(f"Use it with: HF_ENDPOINT={server.url}")
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)  # `kill` stops it as cleanly as Ctrl-C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        click.echo("Local hub stopped.")
