"""What every command shares: settings and the database URL, resolved lazily so
`--help` works whatever the configuration."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import click

from sentinel.db.connect import database_url
from sentinel.logs import setup_logging
from sentinel.settings import Settings, load_settings

if TYPE_CHECKING:
    from sentinel.db import embedded


class CliContext:
    @cached_property
    def settings(self) -> Settings:
        settings = load_settings()
        setup_logging(settings)
        return settings

    @cached_property
    def url(self) -> str:
        return database_url(self.settings, on_start=announce_start)


def announce_start(server: embedded.ServerState) -> None:
    """One line on stderr when a command started the embedded server (not when
    it found it running)."""
    click.echo(
        f"sentinel: started the embedded Postgres in {server.data_dir} "
        "(stop it with: sentinel db stop)",
        err=True,
    )


pass_context = click.make_pass_decorator(CliContext)
