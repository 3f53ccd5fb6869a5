"""`sentinel notifications list|retry`: the notification outbox."""

from __future__ import annotations

import click

from sentinel.cli import render
from sentinel.cli.context import CliContext, pass_context
from sentinel.errors import InputError
from sentinel.types import NotificationStatus, values

STATUSES = values(NotificationStatus)


@click.group("notifications")
def notifications() -> None:
    """The notification outbox: what was told, where, and what is pending."""


@notifications.command("list")
@click.option("--status", "statuses", type=click.Choice(STATUSES), multiple=True)
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--json", "json_output", is_flag=True, help="Print the rows as JSON.")
@pass_context
def list_(ctx: CliContext, statuses: tuple[str, ...], limit: int, json_output: bool) -> None:
    """Notifications, newest first (--status may be given more than once)."""
    from sentinel.db.connect import connection
    from sentinel.views.read import Views

    with connection(ctx.read_url) as conn:
        rows = Views(conn).notifications(statuses, limit=limit + 1)
    render.notice_limit(rows, limit, "notification(s)")
    render.echo_rows(
        rows[:limit],
        [
            ("id", lambda r: r.id),
            ("status", lambda r: r.status),
            ("kind", lambda r: r.kind),
            ("channel", lambda r: r.channel),
            ("route", lambda r: r.route),
            ("severity", lambda r: r.severity),
            ("stream", lambda r: r.stream),
            ("rule", lambda r: r.rule),
            ("attempts", lambda r: f"{r.attempts}/{r.max_attempts}"),
            ("created", lambda r: r.created),
            ("error", lambda r: render.one_line(r.last_error or "", 60)),
        ],
        json_output=json_output,
        empty="no notifications",
    )


@notifications.command("retry")
@click.argument("notification_id", type=int, metavar="ID")
@pass_context
def retry(ctx: CliContext, notification_id: int) -> None:
    """Send notification ID again (a dead, failed or skipped one), now, with
    its attempts back to zero and its idempotency key unchanged."""
    from sentinel.db.connect import connection
    from sentinel.notify import outbox

    with connection(ctx.url) as conn:
        refused = outbox.retry(conn, notification_id)
    if refused == "missing":
        raise InputError(f"no notification with id {notification_id}")
    if refused:
        raise InputError(
            f"notification {notification_id} is {refused}: only a dead, failed or skipped "
            "one can be retried"
        )
    click.echo(f"notification {notification_id} queued again")



COMMANDS = [notifications]
