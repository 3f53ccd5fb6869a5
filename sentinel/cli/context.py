"""What every command shares: settings and the database URL, resolved lazily so
`--help` works whatever the configuration."""

from __future__ import annotations

from functools import cached_property

import click

from sentinel.db.connect import database_url
from sentinel.logs import setup_logging
from sentinel.settings import Settings, load_settings


class CliContext:
    @cached_property
    def settings(self) -> Settings:
        settings = load_settings()
        setup_logging(settings)
        return settings

    @cached_property
    def url(self) -> str:
        return database_url(self.settings)


pass_context = click.make_pass_decorator(CliContext)
