"""`sentinel db …`: migrations, the URL in use, the embedded server's state and stop."""

from __future__ import annotations

import click

from sentinel.cli.context import CliContext, pass_context
from sentinel.errors import DatabaseError

# psycopg (sentinel.db.connect), SQLAlchemy and alembic (sentinel.db.migrate)
# load inside the commands, so `sentinel --help` and `sentinel db --help` start
# at once.


@click.group("db")
def db_group() -> None:
    """Migrate the database; show or stop the embedded server."""


def _migrating(action: str, url: str, revision: str) -> None:
    import alembic.util
    import sqlalchemy.exc

    from sentinel.db import connect, migrate

    connect.connect(url).close()  # one clear line if unreachable
    try:
        getattr(migrate, action)(url, revision)
    except alembic.util.CommandError as exc:
        raise DatabaseError(f"{action} to {revision} failed: {_alembic_reason(exc)}") from exc
    except sqlalchemy.exc.OperationalError as exc:
        raise connect.explain(exc.orig or exc, url) from exc
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"{action} failed: {exc.__class__.__name__}: {exc}") from exc


def _alembic_reason(exc: Exception) -> str:
    """Alembic's complaint on one line, with the revisions there are when it
    could not find the one asked for."""
    reason = " ".join(str(exc).split())
    if "locate revision" in reason or "not a valid" in reason:
        from sentinel.db import migrate

        known = migrate.revisions()
        reason += f" (revisions: base, {', '.join(known)}; or head, or a relative one like -1)"
    return reason


def _revision_line(url: str) -> str:
    from sentinel.db import migrate

    return f"database at {migrate.revision_message(migrate.current(url))}"


@db_group.command("upgrade")
@click.argument("revision", default="head")
@pass_context
def upgrade(ctx: CliContext, revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    _migrating("upgrade", ctx.url, revision)
    click.echo(_revision_line(ctx.url))


@db_group.command("downgrade")
@click.argument("revision")
@pass_context
def downgrade(ctx: CliContext, revision: str) -> None:
    """Migrate the database down to REVISION ('base' removes everything)."""
    _migrating("downgrade", ctx.url, revision)
    click.echo(_revision_line(ctx.url))


@db_group.command("current")
@pass_context
def current(ctx: CliContext) -> None:
    """Print the database's revision and whether it is the latest."""
    from sentinel.db import connect, migrate

    connect.connect(ctx.url).close()
    rev = migrate.current(ctx.url)
    head = migrate.head()
    state = "up to date" if rev == head else f"behind (head is {head})"
    click.echo(f"{migrate.revision_message(rev)} — {state}")


@db_group.command("url")
@pass_context
def url(ctx: CliContext) -> None:
    """Print the database URL in use (password masked)."""
    from sentinel.db import connect

    click.echo(connect.mask_url(ctx.url))


def _answers(url: str) -> str | None:
    """None if the server answers, else the one-line reason."""
    from sentinel.db import connect

    try:
        connect.connect(url).close()
    except DatabaseError as exc:
        return str(exc)
    return None


@db_group.command("status")
@click.option("--json", "json_output", is_flag=True, help="Print the state as JSON.")
@pass_context
def status(ctx: CliContext, json_output: bool) -> None:
    """Show the database in use: the embedded server's state, or the external URL.

    Never starts the embedded server."""
    from sentinel.db import connect, embedded

    settings = ctx.settings
    if settings.database_url:
        problem = _answers(settings.database_url)
        report: dict[str, object] = {
            "kind": "external",
            "url": connect.mask_url(settings.database_url),
            "answers": problem is None,
            "error": problem,
        }
        lines = [
            "database: external (SENTINEL_DATABASE_URL); sentinel db stop does not apply",
            f"url: {report['url']}",
            "state: answers" if problem is None else f"state: does not answer: {problem}",
        ]
    else:
        server = embedded.state(settings.home)
        problem = _answers(server.admin_url) if server.admin_url else None
        report = {"kind": "embedded", **server.to_json()}
        report["answers"] = server.running and problem is None
        lines = [f"database: the embedded Postgres under {server.home}"]
        created = "" if server.initialised else " (not created yet)"
        lines.append(f"data dir: {server.data_dir}{created}")
        if server.running:
            answers = "accepting connections" if problem is None else f"not answering: {problem}"
            lines.append(f"state: running, {answers}")
            lines.append(f"pid: {server.pid}")
            lines.append(f"port: {server.port} (unix socket in {server.socket_dir}; no TCP)")
            if server.started_at:
                lines.append(f"started: {server.started_at.isoformat(timespec='seconds')}")
        else:
            lines.append("state: not running (the next command that needs it starts it)")
    if json_output:
        import json

        click.echo(json.dumps(report, indent=2))
    else:
        click.echo("\n".join(lines))


@db_group.command("stop")
@pass_context
def stop(ctx: CliContext) -> None:
    """Stop the embedded Postgres (connected workers and dashboards lose it)."""
    from sentinel.db import embedded

    settings = ctx.settings
    if settings.database_url:
        raise DatabaseError(
            "the database is external (SENTINEL_DATABASE_URL is set): "
            "sentinel db stop only stops the embedded Postgres"
        )
    stopped = embedded.stop_server(settings.home)
    if stopped is None:
        click.echo(f"the embedded Postgres under {settings.home} is not running; nothing to stop")
    else:
        click.echo(f"stopped the embedded Postgres under {settings.home} (pid {stopped.pid})")


@db_group.command("sql")
def sql() -> None:
    """Print the upgrade as SQL without connecting (for review)."""
    from sentinel.db import migrate

    click.echo(migrate.sql_of_upgrade())


COMMANDS = [db_group]
