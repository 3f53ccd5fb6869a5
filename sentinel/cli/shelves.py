"""`sentinel shelve`, `shelves list`, `unshelve`: shelving (docs/alarms.md).

While a shelf is live, new findings it matches are still written but enter
shelved (not open, never notified); it expires on the database clock."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from sentinel import format as fmt
from sentinel.cli import render
from sentinel.cli.context import CliContext, pass_context
from sentinel.errors import InputError
from sentinel.views import statements


@click.command("shelve")
@click.option("--stream", "stream_glob", required=True, metavar="GLOB", help="Streams it shelves.")
@click.option("--rule", "rule_glob", metavar="GLOB", help="Only findings of these rules.")
@click.option("--severity", type=click.Choice(statements.SEVERITIES), help="Only this severity.")
@click.option("--for", "for_", metavar="D", help="How long: 90s, 30m, 4h, 1d, 1h30m.")
@click.option("--until", metavar="T", help="Until an ISO time (UTC unless it has a zone).")
@click.option("--reason", required=True, metavar="R", help="Why (required).")
@click.option("--by", "actor", metavar="WHO", help="Who shelves (default: the OS user).")
@pass_context
def shelve(
    ctx: CliContext,
    stream_glob: str,
    rule_glob: str | None,
    severity: str | None,
    for_: str | None,
    until: str | None,
    reason: str,
    actor: str | None,
) -> None:
    """Shelve new findings of streams matching GLOB for a while: they are
    still written, but enter shelved (not counted as open, never notified)."""
    from sentinel.db.connect import connection
    from sentinel.findings import shelves
    from sentinel.findings.review import os_user
    from sentinel.rules.durations import parse_duration

    if (for_ is None) == (until is None):
        raise InputError("give exactly one of --for D and --until T")
    for_seconds = None
    if for_ is not None:
        try:
            for_seconds = parse_duration(for_).total_seconds()
        except ValueError as exc:
            raise InputError(f"--for: {exc}") from None
    with connection(ctx.url) as conn:
        shelf = shelves.shelve(
            conn,
            stream_glob=stream_glob,
            rule_glob=rule_glob,
            severity=severity,
            until=_time(until) if until is not None else None,
            for_seconds=for_seconds,
            reason=reason,
            actor=(actor or "").strip() or os_user(),
        )
    left = (shelf.expires_at - shelf.created).total_seconds()
    click.echo(
        f"shelf {shelf.id} live until {_at(shelf.expires_at)} "
        f"(the database's clock; {fmt.duration(left)} from now)"
    )


@click.group("shelves")
def shelves() -> None:
    """Shelves: what is shelved, why, by whom, until when."""


@shelves.command("list")
@click.option("--all", "everything", is_flag=True, help="Also the ended and expired ones.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--json", "json_output", is_flag=True, help="Print the rows as JSON.")
@pass_context
def list_(ctx: CliContext, everything: bool, limit: int, json_output: bool) -> None:
    """The live shelves, expiring soonest first (--all: then the ended ones)."""
    from sentinel.db.connect import connection
    from sentinel.views.read import Views

    with connection(ctx.read_url) as conn:
        rows = Views(conn).shelves(everything=everything, limit=limit)
    render.echo_rows(
        rows,
        [
            ("id", lambda r: r.id),
            ("state", lambda r: r.state),
            ("stream", lambda r: r.stream_glob),
            ("rule", lambda r: r.rule_glob or "*"),
            ("severity", lambda r: r.severity or "*"),
            ("until", lambda r: _at(r.expires_at)),
            ("left", lambda r: fmt.duration(r.expires_in) if r.expires_in is not None else "-"),
            ("findings", lambda r: r.findings),
            ("by", lambda r: r.actor),
            ("reason", lambda r: render.one_line(r.reason, 60)),
        ],
        json_output=json_output,
        empty="no shelves" if everything else "no live shelves",
    )


@click.command("unshelve")
@click.argument("shelf_id", type=int, metavar="ID")
@click.option("--by", "actor", metavar="WHO", help="Who unshelves (default: the OS user).")
@click.option("--comment", metavar="C", help="Why: kept in the journal of its findings.")
@pass_context
def unshelve(ctx: CliContext, shelf_id: int, actor: str | None, comment: str | None) -> None:
    """End shelf ID now: its still-active findings become unacknowledged."""
    from sentinel.db.connect import connection
    from sentinel.findings import shelves
    from sentinel.findings.review import os_user

    with connection(ctx.url) as conn:
        shelf = shelves.unshelve(
            conn, shelf_id, actor=(actor or "").strip() or os_user(), comment=comment
        )
    click.echo(f"shelf {shelf.id} unshelved by {shelf.ended_by}")


def _at(value: datetime) -> str:
    return value.isoformat(sep=" ", timespec="seconds")


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--until {text!r} is not an ISO time (e.g. 2026-12-02T18:00 or 2026-12-02T18:00+01:00)"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


COMMANDS = [shelve, shelves, unshelve]
