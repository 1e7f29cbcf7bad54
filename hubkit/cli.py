"""The `hubkit` command line: a click group whose commands are imported only when they run.

Each command lives in `hubkit/commands/<area>.py`, parses its options, calls the library and prints. Importing a
command module is cheap; heavy libraries (torch, transformers, peft) are imported inside the commands that need them,
so `hubkit build-card` and `hubkit --help` start fast.
"""

from __future__ import annotations

import importlib

import click

from . import __version__
from .errors import HubkitError
from .secret_scan import redact

# command name -> "module:attribute"
COMMANDS = {
    "train": "hubkit.commands.train:train",
    "build-card": "hubkit.commands.card:build_card",
    "lint-card": "hubkit.commands.card:lint_card",
    "push": "hubkit.commands.publish:push",
    "smoke-test": "hubkit.commands.publish:smoke_test",
    "hub": "hubkit.commands.hub:hub",
    "release": "hubkit.commands.release:release",
    "demo": "hubkit.commands.release:demo",
    "space": "hubkit.commands.space:space",
}


class LazyGroup(click.Group):
    """Loads each subcommand's module on first use, and turns HubkitError into a one-line error, exit 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def _load(self, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not built yet in this checkout
                return None
            raise
        return getattr(module, attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HubkitError as exc:
            raise OneLineError(str(exc), exc.exit_code) from None


class OneLineError(click.ClickException):
    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(redact(" ".join(message.split("\n"))))  # last line of defence: no secret is printed
        self.exit_code = exit_code


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hubkit")
def cli() -> None:
    """Train a LoRA fine-tune, render its model card from the run, and publish it to the Hugging Face Hub."""


def main() -> None:
    cli(prog_name="hubkit")


if __name__ == "__main__":
    main()
