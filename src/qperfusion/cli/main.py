"""The ``qperfusion`` command group.

Sub-commands live one per module and are imported only when called, so ``qperfusion --help``
stays fast and a heavy stage never loads for a command that does not need it.
"""

from __future__ import annotations

import importlib

import click

from qperfusion import __version__

# name -> "module:attribute"; one small module per command (nibabel/cmdline style).
COMMANDS: dict[str, str] = {
    "info": "qperfusion.cli.info:info",
    "phantom": "qperfusion.cli.phantom:phantom",
    "demo": "qperfusion.cli.demo:demo",
    "run": "qperfusion.cli.run:run",
    "batch": "qperfusion.cli.batch:batch",
}


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qperfusion")
def cli() -> None:
    """Absolute myocardial blood flow from first-pass perfusion CMR, fully automated."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (tests call this); returns the exit status."""
    try:
        cli.main(args=argv, prog_name="qperfusion", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 1
    return 0
