"""The `hubkit` command line: one click group, every command registered with `add_command`.

Each command lives in `hubkit/commands/<area>.py`, parses its options, calls the library and prints. Importing a
command module is cheap; heavy libraries (torch, transformers, peft) are imported inside the commands that need them,
so `hubkit build-card` and `hubkit --help` start fast.

Exit codes, the same for every command:

    0  done; every check passed
    1  the work ran and a check failed: card lint problems (build-card, lint-card, release), a smoke test whose
       answers differ from the card's (push, smoke-test, release)
    2  bad input or a failed operation: a usage error, a missing or malformed file, a Hub call that failed
       (one line on stderr, never a traceback)
"""

from __future__ import annotations

import click

from . import __version__
from .commands.card import build_card, lint_card
from .commands.hub import hub
from .commands.publish import push, smoke_test
from .commands.release import demo, release
from .commands.space import space
from .commands.train import train
from .errors import HubkitError
from .secret_scan import redact

EXIT_OK, EXIT_CHECKS_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class OneLineError(click.ClickException):
    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT):
        super().__init__(redact(" ".join(message.split("\n"))))  # last line of defence: no secret is printed
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class; set per error here


class HubkitGroup(click.Group):
    """Turns HubkitError into a one-line error with the error's exit code (2 for bad input, 1 for failed checks)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HubkitError as exc:
            raise OneLineError(str(exc), exc.exit_code) from None


@click.group(cls=HubkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hubkit")
def cli() -> None:
    """Train a LoRA fine-tune, render its model card from the run, and publish it to the Hugging Face Hub.

    Exit codes: 0 done, 1 a check failed (card lint, smoke test), 2 bad input or a failed operation.
    """


for command in (train, build_card, lint_card, push, smoke_test, hub, release, demo, space):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="hubkit")


if __name__ == "__main__":
    main()
