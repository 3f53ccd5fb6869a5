"""`sentinel recommendations list|ack|dismiss|history`: review what the fleet
advises, and read each finding's journal."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from sentinel import format as fmt
from sentinel.cli import render
from sentinel.cli.context import CliContext, pass_context
from sentinel.errors import InputError
from sentinel.views import statements

if TYPE_CHECKING:
    from sentinel.findings import review

RECOMMENDATION_STATUSES = statements.RECOMMENDATION_STATUSES
# as people read them: open, shelved, suppressed, acknowledged, dismissed
SHOWN_STATUSES = statements.SHOWN_RECOMMENDATION_STATUSES
FINDING_STATES = statements.FINDING_STATES
SEVERITIES = statements.SEVERITIES


@click.group("recommendations")
def recommendations() -> None:
    """Advisory recommendations: list, acknowledge, dismiss, history."""


@recommendations.command("list")
@click.option(
    "--status",
    type=click.Choice(SHOWN_STATUSES),
    help="The review (open: waiting for a person, not shelved or suppressed).",
)
@click.option("--state", type=click.Choice(FINDING_STATES), help="The combined state.")
@click.option("--severity", type=click.Choice(SEVERITIES))
@click.option("--stream", "stream", metavar="GLOB", help="Only streams matching this glob.")
@click.option("--limit", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--json", "json_output", is_flag=True, help="Print the rows as JSON.")
@pass_context
def list_(
    ctx: CliContext,
    status: str | None,
    state: str | None,
    severity: str | None,
    stream: str | None,
    limit: int,
    json_output: bool,
) -> None:
    """Recommendations, newest first."""
    from sentinel.db.connect import connection
    from sentinel.views import filters
    from sentinel.views.read import Views

    flt = filters.where(status=status, state=state, severity=severity, stream=stream)
    with connection(ctx.read_url) as conn:
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


def _review_options(fn: Callable[..., None]) -> Callable[..., None]:
    fn = click.option(
        "--by", "actor", metavar="WHO", help="Who reviews it (default: the OS user)."
    )(fn)
    fn = click.option("--comment", metavar="C", help="Why: kept in its journal.")(fn)
    return click.argument("recommendation_id", type=int, metavar="ID")(fn)


@recommendations.command("ack")
@_review_options
@pass_context
def ack(ctx: CliContext, recommendation_id: int, comment: str | None, actor: str | None) -> None:
    """Acknowledge recommendation ID (changes only its status; journaled)."""
    from sentinel.db.connect import connection
    from sentinel.findings import review

    with connection(ctx.url) as conn:
        result = review.acknowledge(conn, recommendation_id, actor=actor, comment=comment)
    click.echo(_said(result, "acknowledged"))


@recommendations.command("dismiss")
@_review_options
@pass_context
def dismiss(
    ctx: CliContext, recommendation_id: int, comment: str | None, actor: str | None
) -> None:
    """Dismiss recommendation ID (changes only its status; journaled)."""
    from sentinel.db.connect import connection
    from sentinel.findings import review

    with connection(ctx.url) as conn:
        result = review.dismiss(conn, recommendation_id, actor=actor, comment=comment)
    click.echo(_said(result, "dismissed"))


@recommendations.command("history")
@click.argument("recommendation_id", type=int, metavar="ID")
@click.option("--json", "json_output", is_flag=True, help="Print the rows as JSON.")
@pass_context
def history(ctx: CliContext, recommendation_id: int, json_output: bool) -> None:
    """Every change of recommendation ID's state, oldest first (its journal)."""
    from sentinel.db.connect import connection
    from sentinel.views.read import Views

    with connection(ctx.read_url) as conn:
        found = Views(conn).history(recommendation_id)
    if found is None:
        raise InputError(f"no recommendation with id {recommendation_id}")
    render.echo_rows(
        found,
        [
            ("at", lambda r: f"{r.at:%Y-%m-%d %H:%M:%S%z}"),
            ("actor", lambda r: r.actor),
            ("from", lambda r: r.from_state or "-"),
            ("to", lambda r: r.to_state),
            ("comment", lambda r: r.comment or ""),
        ],
        json_output=json_output,
        empty="no journal rows",
    )


def _said(result: review.Reviewed, verb: str) -> str:
    if result.changed:
        return f"recommendation {result.id} {verb}"
    return f"recommendation {result.id} was already {result.status}"


COMMANDS = [recommendations]
