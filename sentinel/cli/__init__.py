"""The `sentinel` command: one click group; every subcommand is thin."""

from __future__ import annotations

import sys
from typing import Any

import click

from sentinel import __version__
from sentinel.cli import context
from sentinel.errors import SentinelError


class SentinelGroup(click.Group):
    """Turns Sentinel's errors into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SentinelError as exc:
            click.echo(f"sentinel: error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=SentinelGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sentinel")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Sentinel: an advisory worker fleet over stored process events."""
    ctx.obj = context.CliContext()


def _register() -> None:
    # Subcommand modules import this module's `cli`; import them after it exists.
    from sentinel.cli import db, demo, ingest, recommendations, rules, worker

    for module in (db, ingest, worker, rules, demo, recommendations):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="sentinel")
