"""`sentinel db …`: migrations and the URL in use."""

from __future__ import annotations

import click
import sqlalchemy.exc

from sentinel.cli.context import CliContext, pass_context
from sentinel.db import connect, migrate
from sentinel.errors import DatabaseError


@click.group("db")
def db_group() -> None:
    """Migrate the configured database."""


def _migrating(action: str, url: str, fn: object, *args: str) -> None:
    connect.connect(url).close()  # one clear line if unreachable
    try:
        fn(url, *args)  # type: ignore[operator]
    except sqlalchemy.exc.OperationalError as exc:
        raise connect.explain(exc.orig or exc, url) from exc
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"{action} failed: {exc.__class__.__name__}: {exc}") from exc


@db_group.command("upgrade")
@click.argument("revision", default="head")
@pass_context
def upgrade(ctx: CliContext, revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    _migrating("upgrade", ctx.url, migrate.upgrade, revision)
    click.echo(f"database at {migrate.revision_message(migrate.current(ctx.url))}")


@db_group.command("downgrade")
@click.argument("revision")
@pass_context
def downgrade(ctx: CliContext, revision: str) -> None:
    """Migrate the database down to REVISION ('base' removes everything)."""
    _migrating("downgrade", ctx.url, migrate.downgrade, revision)
    click.echo(f"database at {migrate.revision_message(migrate.current(ctx.url))}")


@db_group.command("current")
@pass_context
def current(ctx: CliContext) -> None:
    """Print the database's revision and whether it is the latest."""
    connect.connect(ctx.url).close()
    rev = migrate.current(ctx.url)
    head = migrate.head()
    state = "up to date" if rev == head else f"behind (head is {head})"
    click.echo(f"{migrate.revision_message(rev)} — {state}")


@db_group.command("url")
@pass_context
def url(ctx: CliContext) -> None:
    """Print the database URL in use (password masked)."""
    click.echo(connect.mask_url(ctx.url))


@db_group.command("sql")
def sql() -> None:
    """Print the upgrade as SQL without connecting (for review)."""
    click.echo(migrate.sql_of_upgrade())


COMMANDS = [db_group]
