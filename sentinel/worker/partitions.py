"""`event`'s partitions: created ahead, dropped whole after the retention.

`event` is partitioned by range of `occurred_at` (migration 0013): one
partition per interval, named by its lower bound (`event_p20261202`, or
`event_p20261202_1300` for intervals that do not start at midnight), on a
grid aligned to 1970-01-01 UTC, plus `event_default` for any instant no
partition covers (far ahead, or older than the oldest partition). One worker
of the fleet maintains them per maintenance interval (a transaction-level
advisory lock): it creates the partitions of the current interval and the
next ones, moving what the default partition holds of their range into them,
and drops every partition wholly older than the retention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import psycopg.errors
from psycopg import sql

from sentinel.db import queries

log = logging.getLogger(__name__)

SQL = queries.load(Path(__file__).with_name("partitions.sql"))

# pg_try_advisory_xact_lock key of the partition maintainer's turn.
TURN_KEY = 0x5E1A
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime
    upper: datetime


@dataclass(frozen=True)
class Outcome:
    """What one maintenance did; `turn` is False when another worker had it,
    `busy` when a lock was not granted in time (nothing done: next interval)."""

    turn: bool
    busy: bool = False
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def name_for(lower: datetime) -> str:
    lower = lower.astimezone(UTC)
    if lower.hour == 0 and lower.minute == 0:
        return f"event_p{lower:%Y%m%d}"
    return f"event_p{lower:%Y%m%d_%H%M}"


def cell(at: datetime, width: timedelta) -> tuple[datetime, datetime]:
    """The grid interval holding `at`."""
    lower = EPOCH + width * ((at - EPOCH) // width)
    return lower, lower + width


def listed(conn: psycopg.Connection) -> list[Partition]:
    rows = conn.execute(SQL["partitions"]).fetchall()
    return [Partition(name, lower, upper) for name, lower, upper in rows]


def maintain(
    conn: psycopg.Connection,
    *,
    width: timedelta = timedelta(days=1),
    ahead: int = 3,
    retention: timedelta | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Create the partitions from the current interval to `ahead` more, and
    drop those whose whole range is older than `retention` (None: keep), in
    one transaction, if this worker has the turn."""
    try:
        return _maintain(conn, width=width, ahead=ahead, retention=retention, now=now)
    except psycopg.errors.LockNotAvailable:
        log.warning("event partitions busy; next interval", extra={"action": "partitions"})
        return Outcome(turn=True, busy=True)


def _maintain(
    conn: psycopg.Connection,
    *,
    width: timedelta,
    ahead: int,
    retention: timedelta | None,
    now: datetime | None,
) -> Outcome:
    with conn.transaction():
        row = conn.execute(SQL["turn"], {"key": TURN_KEY}).fetchone()
        if row is None or not row[0]:
            return Outcome(turn=False)
        conn.execute(SQL["lock_timeout"])
        clock = conn.execute(SQL["now"], {"now": now}).fetchone()
        assert clock is not None
        at: datetime = clock[0]
        existing = listed(conn)
        created = []
        lower, _ = cell(at, width)
        for n in range(ahead + 1):
            lo, hi = lower + width * n, lower + width * (n + 1)
            # A grid cell that overlaps a partition (made with another width)
            # is left to the default partition until the old ones run out.
            if any(p.lower < hi and p.upper > lo for p in existing):
                continue
            created.append(_create(conn, lo, hi))
        dropped = []
        if retention is not None:
            horizon = at - retention
            for p in existing:
                if p.upper <= horizon:
                    conn.execute(sql.SQL(SQL["drop"]).format(name=sql.Identifier(p.name)))
                    dropped.append(p.name)
    if created or dropped:
        log.info(
            "event partitions maintained",
            extra={"action": "partitions", "partitions_created": created, "dropped": dropped},
        )
    return Outcome(turn=True, created=created, dropped=dropped)


def _create(conn: psycopg.Connection, lower: datetime, upper: datetime) -> str:
    name = name_for(lower)
    params = {
        "name": sql.Identifier(name),
        "lower": sql.Literal(lower),
        "upper": sql.Literal(upper),
    }
    conn.execute(SQL["lock_default"])
    for step in ("create_table", "move_from_default", "attach"):
        conn.execute(sql.SQL(SQL[step]).format(**params))
    return name
