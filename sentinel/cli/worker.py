"""`sentinel worker`, `sentinel run-once`, `sentinel workers …`, `sentinel runs …`."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from sentinel import format as fmt
from sentinel.cli import render
from sentinel.cli.context import CliContext, pass_context
from sentinel.errors import ConfigError, InputError
from sentinel.views import statements

if TYPE_CHECKING:
    from sentinel.health import HealthServer
    from sentinel.worker.models import Outcome
    from sentinel.worker.service import WorkerService

# What `runs list` shows and filters by: the run's status as the dashboard
# shows it (sentinel.views.rows.run_status), where a queued run that has
# failed before is `retrying`.
RUN_STATUSES = statements.SHOWN_RUN_STATUSES


@click.command("worker")
@pass_context
def worker(ctx: CliContext) -> None:
    """Run a long-lived worker: register, heartbeat, plan, claim, run passes.

    SIGTERM or SIGINT drains (finishes or releases the runs in hand, then
    deregisters); a second signal exits at once.
    """
    from sentinel.worker.service import WorkerService

    _ready_to_run(ctx)
    service = WorkerService(ctx.settings, ctx.url)
    signals = {"count": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals["count"] += 1
        if signals["count"] > 1:
            os._exit(130)  # leave the leases to expire
        service.request_stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    health = _health_server(ctx, service)
    service.start()
    try:
        service.run_forever()
    finally:
        service.close()
        if health is not None:
            health.stop()


def _ready_to_run(ctx: CliContext) -> None:
    """Refuse to start on a database behind this code, or with a pinned rule
    pack that does not load: each would make every run fail, with the reason
    only in `runs list`."""
    from sentinel.db import connect, errors

    connect.connect(ctx.url).close()  # unreachable: one line
    errors.require_schema(ctx.url)
    path = ctx.settings.rules_path
    if path is not None:
        from sentinel.rules import pack as packs

        issues = packs.check_path(path)
        if issues:
            more = f" and {len(issues) - 1} more" if len(issues) > 1 else ""
            raise ConfigError(
                f"SENTINEL_RULES_PATH: {path} is not a valid rule pack: {issues[0]}{more} "
                f"(see `sentinel rules check {path}`)"
            )


def _health_server(ctx: CliContext, service: WorkerService) -> HealthServer | None:
    port = ctx.settings.metrics_port
    if port is None:
        return None
    from sentinel.health import HealthServer

    server = HealthServer(port, service.readiness)
    server.start()
    return server


@click.command("run-once")
@click.option("--json", "json_output", is_flag=True, help="Print the runs as JSON.")
@pass_context
def run_once(ctx: CliContext, json_output: bool) -> None:
    """One complete pass over every enabled stream, then exit.

    Exit status 0 when every run succeeded.
    """
    from sentinel.worker.service import WorkerService

    _ready_to_run(ctx)
    service = WorkerService(ctx.settings, ctx.url)
    service.start()
    try:
        summary = service.run_once()
    finally:
        service.close()
    rows = [_outcome_row(o) for o in summary.outcomes]
    if json_output:
        import json

        click.echo(json.dumps(rows, indent=2))
    else:
        totals = {k: sum(int(r[k]) for r in rows) for k in _COUNT_KEYS}
        click.echo(
            render.table(
                [*rows, {"run": "total", "status": "", **totals}],
                [(k, _cell(k)) for k in ("run", "status", *_COUNT_KEYS)],
            )
        )
    sys.exit(0 if summary.ok else 1)


_COUNT_KEYS = ("events", "detections", "evidence", "recommendations")


def _cell(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row.get(key, "")


def _outcome_row(outcome: Outcome) -> dict[str, Any]:
    from sentinel.worker.models import Completed, CursorMoved, LeaseLost

    row: dict[str, Any] = {"run": outcome.run_id, **dict.fromkeys(_COUNT_KEYS, 0)}
    if isinstance(outcome, Completed):
        c = outcome.counts
        row.update(
            status="succeeded",
            events=c.events,
            detections=c.detections,
            evidence=c.evidence,
            recommendations=c.recommendations,
        )
    elif isinstance(outcome, LeaseLost):
        row["status"] = "lease lost"
    elif isinstance(outcome, CursorMoved):
        row["status"] = "given back (replayed meanwhile)"
    else:
        row.update(status=outcome.status or "failed (not yet recorded)", error=outcome.error)
    return row


# ---- workers ---------------------------------------------------------------


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

    with connection(ctx.url) as conn:
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
    with connection(ctx.url) as conn:
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
    from sentinel.db.connect import connection
    from sentinel.worker.store import RunStore

    with connection(ctx.url) as conn:
        store = RunStore(conn)
        found = store.run_status(run_id)
        if found is None:
            raise InputError(f"no run {run_id}")
        if not store.retry(run_id):
            status, stream = found
            if status not in ("dead", "failed"):
                raise InputError(f"run {run_id} {_RETRY_REFUSED.get(status, f'is {status}')}")
            raise InputError(
                f"stream {stream} already has a queued or running run; it covers the same events"
            )
        store.notify()
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
    from sentinel.db.connect import connection
    from sentinel.worker.store import RunStore

    with connection(ctx.url) as conn:
        events = RunStore(conn).replay(stream_key, when)
    if events is None:
        raise InputError(f"no stream {stream_key}")
    click.echo(
        f"stream {stream_key} rewound: its next run re-reads its {events} event(s) and "
        f"writes what it detects from {when.isoformat()} on"
    )


# Why `runs retry` refuses a run in each status (only dead or failed runs go back).
_RETRY_REFUSED = {
    "succeeded": "already succeeded; only dead or failed runs can be retried",
    "queued": "is already queued",
    "running": "is running now; only dead or failed runs can be retried",
}


def _duration(text: str, hint: str) -> float:
    from sentinel.rules.durations import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from exc


COMMANDS = [worker, run_once, workers, runs]
