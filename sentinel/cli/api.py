"""`sentinel api`: the HTTP service, and its bearer tokens."""

from __future__ import annotations

import click

from sentinel.cli import render
from sentinel.cli.context import CliContext, pass_context


@click.group("api", invoke_without_command=True)
@click.option("--host", help="Address to listen on  [default: SENTINEL_API_HOST, 127.0.0.1]")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help="Port to listen on  [default: SENTINEL_API_PORT, 8080]",
)
@click.pass_context
def api(click_ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the HTTP API (docs/api.md; OpenAPI at /docs); `tokens` manages
    its bearer tokens.

    Plain HTTP: put TLS in a reverse proxy in front of it."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: CliContext = click_ctx.find_object(CliContext)  # type: ignore[assignment]
    from sentinel.api.serve import serve
    from sentinel.api.state import ApiConfig
    from sentinel.db import connect, errors

    settings = ctx.settings
    connect.connect(ctx.url).close()  # unreachable: one line
    errors.require_schema(ctx.url)
    github = settings.github_webhook_secret
    jenkins = settings.jenkins_webhook_token
    config = ApiConfig(
        database_url=ctx.url,
        read_database_url=settings.read_database_url,
        github_webhook_secret=github.get_secret_value() if github else None,
        jenkins_webhook_token=jenkins.get_secret_value() if jenkins else None,
    )
    serve(config, host or settings.api_host, port or settings.api_port)


@api.group("tokens")
def tokens() -> None:
    """Bearer tokens: create (shown once), list, revoke."""


@tokens.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    required=True,
    metavar="SCOPES",
    help="Comma list of read, write, ingest.",
)
@pass_context
def create(ctx: CliContext, name: str, scopes: str) -> None:
    """Create a token for NAME (the actor of its writes) and print it once:
    only its hash is kept."""
    from sentinel.api import tokens as store
    from sentinel.db.connect import connection

    with connection(ctx.url) as conn:
        token = store.create(conn, name, store.parse_scopes(scopes))
    click.echo(token)
    click.echo(f"sentinel: token {name} created; it is not shown again", err=True)


@tokens.command("list")
@click.option("--json", "json_output", is_flag=True, help="Print the rows as JSON.")
@pass_context
def list_(ctx: CliContext, json_output: bool) -> None:
    """Every token, live ones first (never the token itself)."""
    from sentinel.db.connect import connection
    from sentinel.views.read import Views

    with connection(ctx.url) as conn:
        rows = Views(conn).tokens()
    render.echo_rows(
        rows,
        [
            ("name", lambda t: t.name),
            ("scopes", lambda t: ",".join(t.scopes)),
            ("created", lambda t: t.created),
            ("last used", lambda t: t.last_used_at),
            ("revoked", lambda t: t.revoked_at),
        ],
        json_output=json_output,
        empty="no tokens",
    )


@tokens.command("revoke")
@click.argument("name")
@pass_context
def revoke(ctx: CliContext, name: str) -> None:
    """Revoke NAME's live token: requests with it get 401 from then on."""
    from sentinel.api import tokens as store
    from sentinel.db.connect import connection

    with connection(ctx.url) as conn:
        store.revoke(conn, name)
    click.echo(f"token {name} revoked")


COMMANDS = [api]
