"""Retry a run, replay a stream: one function each, refusing with the reason.

The caller owns the connection (autocommit, or its own transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from sentinel.db import queries
from sentinel.errors import InputError
from sentinel.types import Channel

SQL = queries.beside(__file__)


class UnknownRun(InputError):
    """No such run."""


class UnknownStream(InputError):
    """No such stream."""


class RetryRefused(InputError):
    """The run cannot be retried now."""


# Why a retry is refused in each status (only dead or failed runs go back).
_RETRY_REFUSED = {
    "succeeded": "already succeeded; only dead or failed runs can be retried",
    "queued": "is already queued",
    "running": "is running now; only dead or failed runs can be retried",
}


def retry(conn: psycopg.Connection[Any], run_id: int, *, now: datetime | None = None) -> None:
    """Put a dead or failed run back in the queue (and wake the schedulers),
    or raise UnknownRun / RetryRefused saying why not."""
    with conn.transaction():
        found = conn.execute(SQL["run_status"], {"run_id": run_id}).fetchone()
        if found is None:
            raise UnknownRun(f"no run {run_id}")
        if conn.execute(SQL["retry"], {"now": now, "run_id": run_id}).fetchone() is None:
            status, stream = found
            if status not in ("dead", "failed"):
                raise RetryRefused(f"run {run_id} {_RETRY_REFUSED.get(status, f'is {status}')}")
            raise RetryRefused(
                f"stream {stream} already has a queued or running run; it covers the same events"
            )
        conn.execute(SQL["notify"], {"channel": Channel.RUN.value})


def rewind(conn: psycopg.Connection[Any], stream: str, since: datetime) -> int | None:
    """Rewind the stream (see queries.sql): the number of events its next
    pass re-reads, or None when there is no such stream."""
    row = conn.execute(SQL["replay"], {"stream": stream, "since": since}).fetchone()
    return int(row[0]) if row else None


def replay(conn: psycopg.Connection[Any], stream: str, since: datetime) -> int:
    """Re-evaluate a stream from `since`: its next run re-reads every event
    (so the rules' state comes out as before) and writes the findings
    detected at or after `since` that are not stored yet. The number of
    events it re-reads; UnknownStream if there is no such stream."""
    events = rewind(conn, stream, since)
    if events is None:
        raise UnknownStream(f"no stream {stream}")
    conn.execute(SQL["notify"], {"channel": Channel.RUN.value})
    return events
