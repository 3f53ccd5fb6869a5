"""`event`'s partitions: created ahead, dropped whole after the retention.

`event` is partitioned by range of `occurred_at` (migration 0013): one
partition per interval, named by its lower bound (`event_p20261202`, or
`event_p20261202_1300` for intervals that do not start at midnight), on a
grid aligned to 1970-01-01 UTC, plus `event_default` for any instant no
partition covers yet. One worker of the fleet maintains them per maintenance
interval (a transaction-level advisory lock): it creates the partitions of
the current interval and the next ones, and those of what the default
partition holds (moving those events in), and drops every partition wholly
older than the retention, after taking its keys out of `event_key` (the
contract's unique (source, external_id), migration 0013).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import psycopg
import psycopg.errors
from psycopg import sql

from sentinel.db import queries

log = logging.getLogger(__name__)

SQL = queries.load(Path(__file__).with_name("partitions.sql"))

# pg_try_advisory_xact_lock key of the partition maintainer's turn.
TURN_KEY = 0x5E1A
# Keys deleted per transaction before a partition is dropped.
KEY_BATCH = 50_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime
    upper: datetime


@dataclass(frozen=True)
class Outcome:
    """What one maintenance did; `turn` is False when another worker had it,
    `busy` when a lock was not granted in time (the rest waits for the next
    interval)."""

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
    """If this worker has the turn: create the partitions from the current
    interval to `ahead` more (and those of what the default partition holds,
    so it goes when its time comes), in one transaction; then, one partition
    at a time, drop those whose whole range is older than `retention` (None:
    keep), each after deleting its keys in transactions of their own, so
    that a drop that cannot lock in time keeps the work done and is tried
    again at the next interval."""
    created: list[str] = []
    dropped: list[str] = []
    try:
        with conn.transaction():
            if not _turn(conn):
                return Outcome(turn=False)
            at = _clock(conn, now)
            existing = listed(conn)
            created = _create_wanted(conn, existing, at, width, ahead)
        if retention is not None:
            horizon = at - retention
            for p in listed(conn):
                if p.upper > horizon:
                    break  # oldest first
                if not _drop(conn, p):
                    return Outcome(turn=False, created=created, dropped=dropped)
                dropped.append(p.name)
    except psycopg.errors.LockNotAvailable:
        log.warning("event partitions busy; next interval", extra={"action": "partitions"})
        return Outcome(turn=True, busy=True, created=created, dropped=dropped)
    finally:
        if created or dropped:
            log.info(
                "event partitions maintained",
                extra={"action": "partitions", "partitions_created": created, "dropped": dropped},
            )
    return Outcome(turn=True, created=created, dropped=dropped)


def _turn(conn: psycopg.Connection) -> bool:
    """This transaction has the maintainer's turn (and a short lock_timeout)."""
    row = conn.execute(SQL["turn"], {"key": TURN_KEY}).fetchone()
    if row is None or not row[0]:
        return False
    conn.execute(SQL["lock_timeout"])
    return True


def _clock(conn: psycopg.Connection, now: datetime | None) -> datetime:
    row = conn.execute(SQL["now"], {"now": now}).fetchone()
    assert row is not None
    return cast(datetime, row[0])


def _create_wanted(
    conn: psycopg.Connection,
    existing: list[Partition],
    at: datetime,
    width: timedelta,
    ahead: int,
) -> list[str]:
    lower, _ = cell(at, width)
    wanted = {lower + width * n for n in range(ahead + 1)}
    held = conn.execute(SQL["default_cells"], {"epoch": EPOCH, "width": width}).fetchall()
    wanted.update(lo for (lo,) in held)
    created = []
    for lo in sorted(wanted):
        hi = lo + width
        # A grid cell that overlaps a partition (made with another width)
        # is left to the default partition until the old ones run out.
        if any(p.lower < hi and p.upper > lo for p in existing):
            continue
        created.append(_create(conn, lo, hi))
        existing.append(Partition(name_for(lo), lo, hi))
    return created


def _drop(conn: psycopg.Connection, partition: Partition) -> bool:
    """Its keys out of event_key, KEY_BATCH a transaction, then the
    partition; False when another worker has the turn."""
    name = sql.Identifier(partition.name)
    after: int | None = 0
    try:
        while after is not None:
            with conn.transaction():
                if not _turn(conn):
                    return False
                forget = sql.SQL(SQL["forget_keys"]).format(name=name)
                row = conn.execute(forget, {"after": after, "limit": KEY_BATCH}).fetchone()
                after = None if row is None else row[0]
        with conn.transaction():
            if not _turn(conn):
                return False
            conn.execute(sql.SQL(SQL["drop"]).format(name=name))
    except psycopg.errors.UndefinedTable:
        pass  # dropped meanwhile by the worker that had the turn before
    return True


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
