"""`sentinel worker` and `sentinel run-once`: a worker process, or one round."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from sentinel.cli import render
from sentinel.cli.context import CliContext, pass_context
from sentinel.errors import ConfigError

if TYPE_CHECKING:
    from sentinel.health import HealthServer
    from sentinel.worker.models import Outcome
    from sentinel.worker.service import WorkerService

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


COMMANDS = [worker, run_once]
