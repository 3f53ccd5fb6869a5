"""`sentinel recommendations list|ack|dismiss`: review what the fleet advises."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from sentinel import format as fmt
from sentinel.cli import render
from sentinel.cli.context import CliContext, pass_context
from sentinel.views import statements

if TYPE_CHECKING:
    from sentinel.findings import review

RECOMMENDATION_STATUSES = statements.RECOMMENDATION_STATUSES
SEVERITIES = statements.SEVERITIES


@click.group("recommendations")
def recommendations() -> None:
    """Advisory recommendations: list, acknowledge, dismiss."""


@recommendations.command("list")
@click.option("--status", type=click.Choice(RECOMMENDATION_STATUSES))
@click.option("--severity", type=click.Choice(SEVERITIES))
@click.option("--stream", "stream", metavar="GLOB", help="Only streams matching this glob.")
@click.option("--limit", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--json", "json_output", is_flag=True, help="Print the rows as JSON.")
@pass_context
def list_(
    ctx: CliContext,
    status: str | None,
    severity: str | None,
    stream: str | None,
    limit: int,
    json_output: bool,
) -> None:
    """Recommendations, newest first."""
    from sentinel.db.connect import connection
    from sentinel.views import filters
    from sentinel.views.read import Views

    flt = filters.where(status=status, severity=severity, stream=stream)
    with connection(ctx.url) as conn:
        rows = Views(conn).latest_recommendations(flt, limit=limit + 1)
    render.notice_limit(rows, limit, "recommendation(s)")
    render.echo_rows(
        rows[:limit],
        [
            ("id", lambda r: r.id),
            ("severity", lambda r: r.severity),
            ("stream", lambda r: r.stream),
            ("rule", lambda r: r.rule),
            ("state", lambda r: r.state),
            ("age", lambda r: fmt.age(r.age)),
            ("text", lambda r: r.text),
        ],
        json_output=json_output,
        empty="no recommendations",
    )


@recommendations.command("ack")
@click.argument("recommendation_id", type=int, metavar="ID")
@pass_context
def ack(ctx: CliContext, recommendation_id: int) -> None:
    """Acknowledge recommendation ID (changes only its status)."""
    from sentinel.db.connect import connection
    from sentinel.findings import review

    with connection(ctx.url) as conn:
        result = review.acknowledge(conn, recommendation_id)
    click.echo(_said(result, "acknowledged"))


@recommendations.command("dismiss")
@click.argument("recommendation_id", type=int, metavar="ID")
@pass_context
def dismiss(ctx: CliContext, recommendation_id: int) -> None:
    """Dismiss recommendation ID (changes only its status)."""
    from sentinel.db.connect import connection
    from sentinel.findings import review

    with connection(ctx.url) as conn:
        result = review.dismiss(conn, recommendation_id)
    click.echo(_said(result, "dismissed"))


def _said(result: review.Reviewed, verb: str) -> str:
    if result.changed:
        return f"recommendation {result.id} {verb}"
    return f"recommendation {result.id} was already {result.status}"


COMMANDS = [recommendations]
