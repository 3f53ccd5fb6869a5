"""The `sentinel` command: one click group; every subcommand is thin.

Subcommands are imported when they are run (or listed by `--help`), and their
modules import their heavy dependencies (psycopg, SQLAlchemy, alembic) inside
the commands, so `sentinel --help` and a command's help start at once."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from sentinel import __version__
from sentinel.errors import SentinelError

# name → "module:attribute"; the module is imported on first use.
COMMANDS = {
    "api": "sentinel.cli.api:api",
    "completions": "sentinel.cli.completions:completions",
    "db": "sentinel.cli.db:db_group",
    "demo": "sentinel.cli.demo:demo",
    "ingest": "sentinel.cli.ingest:ingest",
    "keys": "sentinel.cli.completions:keys",
    "notifications": "sentinel.cli.notifications:notifications",
    "recommendations": "sentinel.cli.recommendations:recommendations",
    "report": "sentinel.cli.report:report",
    "rules": "sentinel.cli.rules:rules",
    "run-once": "sentinel.cli.worker:run_once",
    "runs": "sentinel.cli.fleet:runs",
    "shelve": "sentinel.cli.shelves:shelve",
    "shelves": "sentinel.cli.shelves:shelves",
    "unshelve": "sentinel.cli.shelves:unshelve",
    "worker": "sentinel.cli.worker:worker",
    "workers": "sentinel.cli.fleet:workers",
}


def fail(message: str, status: int = 1) -> None:
    """The one error style of every command: `sentinel: error: …` on stderr."""
    click.echo(f"sentinel: error: {message}", err=True)
    sys.exit(status)


class SentinelGroup(click.Group):
    """Loads subcommands lazily, and turns every failure that reaches it
    (Sentinel's errors, psycopg's, click's usage errors) into one line
    `sentinel: error: …` and a non-zero exit status."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        module_name, attribute = COMMANDS[cmd_name].split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        self.add_command(command, cmd_name)
        return command

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            hint = ""
            if exc.ctx is not None:
                hint = f" (see '{exc.ctx.command_path} --help')"
            fail(f"{exc.format_message()}{hint}", exc.exit_code)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            fail("aborted", 1)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SentinelError as exc:
            fail(str(exc))
        except Exception as exc:
            error = _database_error(exc, ctx)
            if error is None:
                raise
            fail(str(error))


def _database_error(exc: Exception, ctx: click.Context) -> SentinelError | None:
    """A psycopg (or SQLAlchemy-wrapped) error as Sentinel's, else None."""
    if not any(m in sys.modules for m in ("psycopg", "sqlalchemy")):
        return None
    from sentinel.db import errors

    known = getattr(ctx.obj, "__dict__", {})  # what CliContext already resolved
    url = known.get("url")
    if url is None and known.get("settings") is not None:
        url = known["settings"].database_url
    return errors.translate(exc, url)


@click.group(cls=SentinelGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sentinel")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Sentinel: an advisory worker fleet over stored process events."""
    from sentinel.cli import context

    ctx.obj = context.CliContext()


def main() -> None:
    cli(prog_name="sentinel")
