"""What every command shares: settings and the database URL, resolved (and
their modules imported) lazily, so `--help` works whatever the configuration
and starts at once."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sentinel.db import embedded
    from sentinel.settings import Settings


class CliContext:
    @cached_property
    def settings(self) -> Settings:
        from sentinel.logs import setup_logging
        from sentinel.settings import load_settings

        settings = load_settings()
        setup_logging(settings)
        return settings

    @cached_property
    def url(self) -> str:
        from sentinel.db.connect import database_url

        return database_url(self.settings, on_start=announce_start)

    @cached_property
    def read_url(self) -> str:
        """For the list commands' reads: the replica when one is configured
        (SENTINEL_READ_DATABASE_URL), else the database. Writes use `url`."""
        return self.settings.read_database_url or self.url


def announce_start(server: embedded.ServerState) -> None:
    """One line on stderr when a command started the embedded server (not when
    it found it running)."""
    click.echo(f"sentinel: {server.start_notice}", err=True)


pass_context = click.make_pass_decorator(CliContext)
