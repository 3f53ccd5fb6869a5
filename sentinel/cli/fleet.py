"""`sentinel workers …` and `sentinel runs …`: the fleet's workers and runs,
listed through the read model, and an operator's retry and replay."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from sentinel import format as fmt
from sentinel.cli import render
from sentinel.cli.context import CliContext, pass_context
from sentinel.views import statements

# What `runs list` shows and filters by: the run's status as the dashboard
# shows it (sentinel.views.rows.run_status), where a queued run that has
# failed before is `retrying`.
RUN_STATUSES = statements.SHOWN_RUN_STATUSES


@click.group("workers")
def workers() -> None:
    """The fleet's workers."""


@workers.command("list")
@click.option("--role", type=click.Choice(statements.WORKER_ROLES))
@click.option("--status", type=click.Choice(statements.WORKER_STATUSES))
@click.option("--json", "json_output", is_flag=True)
@pass_context
def workers_list(ctx: CliContext, role: str | None, status: str | None, json_output: bool) -> None:
    """Workers with heartbeat age, running runs and capacity."""
    from sentinel.db.connect import connection
    from sentinel.views import filters
    from sentinel.views.read import Views

    with connection(ctx.read_url) as conn:
        rows = Views(conn).workers(filters.where(role=role, status=status), limit=None)
    render.echo_rows(
        rows,
        [
            ("name", lambda w: w.name),
            ("role", lambda w: w.worker_role),
            ("type", lambda w: w.worker_type),
            ("host", lambda w: w.host),
            ("status", lambda w: w.status),
            ("heartbeat", lambda w: fmt.age(w.heartbeat_age)),
            ("runs", lambda w: f"{w.running}/{'?' if w.capacity is None else w.capacity}"),
            ("runtimes", lambda w: ",".join(w.runtimes)),
            ("version", lambda w: w.version),
        ],
        json_output=json_output,
        empty="no workers registered",
    )


@workers.command("prune")
@click.option("--older-than", default="7d", show_default=True, help="e.g. 90s, 5m, 2h, 7d")
@pass_context
def workers_prune(ctx: CliContext, older_than: str) -> None:
    """Remove workers inactive for longer than --older-than."""
    from sentinel.db.connect import connection
    from sentinel.registration.store import WorkerStore

    seconds = _duration(older_than, "--older-than")
    with connection(ctx.url) as conn:
        names = WorkerStore(conn).prune(seconds)
    click.echo(f"pruned {len(names)} worker(s)" + (f": {', '.join(names)}" if names else ""))


# ---- runs ------------------------------------------------------------------


@click.group("runs")
def runs() -> None:
    """Run slots: list, retry, replay."""


@runs.command("list")
@click.option(
    "--status",
    type=click.Choice(RUN_STATUSES),
    help="Only runs shown with this status (retrying: queued again after a failed attempt).",
)
@click.option("--stream", help="Only this stream key.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "json_output", is_flag=True)
@pass_context
def runs_list(
    ctx: CliContext, status: str | None, stream: str | None, limit: int, json_output: bool
) -> None:
    """The newest runs first."""
    from sentinel.db.connect import connection
    from sentinel.views import filters
    from sentinel.views.read import Views

    flt = filters.where(status=status, stream=stream)
    with connection(ctx.read_url) as conn:
        rows = Views(conn).runs(flt, limit=limit + 1, show_empty=True, active_first=False)
    render.notice_limit(rows, limit, "run(s)")
    render.echo_rows(
        rows[:limit],
        [
            ("id", lambda r: r.id),
            ("stream", lambda r: r.stream),
            ("window", lambda r: r.window_start),
            ("status", lambda r: r.status + (" (recovered)" if r.recovered else "")),
            ("attempt", lambda r: f"{r.attempts}/{r.max_attempts}"),
            ("owner", lambda r: r.owner),
            ("events", lambda r: r.event_count),
            ("detections", lambda r: r.detection_count),
            ("evidence", lambda r: r.evidence_count),
            ("recs", lambda r: r.recommendation_count),
            ("error", lambda r: render.one_line(r.error or "", 60)),
        ],
        json_output=json_output,
        empty="no runs",
    )


@runs.command("retry")
@click.argument("run_id", type=int)
@pass_context
def runs_retry(ctx: CliContext, run_id: int) -> None:
    """Put a dead or failed run back in the queue."""
    from sentinel.control import runs as control
    from sentinel.db.connect import connection

    with connection(ctx.url) as conn:
        control.retry(conn, run_id)
    click.echo(f"run {run_id} queued")


@runs.command("replay")
@click.option("--stream", "stream_key", required=True, help="The stream key.")
@click.option("--since", required=True, help="ISO time, e.g. 2026-11-22T10:00:00Z")
@pass_context
def runs_replay(ctx: CliContext, stream_key: str, since: str) -> None:
    """Re-evaluate a stream from an earlier time.

    The next run re-reads the stream from its first event, so the rules'
    state (open episodes, SPC baselines) comes out exactly as before, and
    writes the findings detected at or after --since that are not stored
    yet (detections stay deduplicated by fingerprint)."""
    try:
        when = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO time: {since}", param_hint="--since") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    from sentinel.control import runs as control
    from sentinel.db.connect import connection

    with connection(ctx.url) as conn:
        events = control.replay(conn, stream_key, when)
    click.echo(
        f"stream {stream_key} rewound: its next run re-reads its {events} event(s) and "
        f"writes what it detects from {when.isoformat()} on"
    )


def _duration(text: str, hint: str) -> float:
    from sentinel.rules.durations import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from exc


COMMANDS = [workers, runs]
