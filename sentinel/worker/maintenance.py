"""Maintenance: retention of finished runs, `event`'s partitions (created
ahead, dropped after the event retention: sentinel/worker/partitions.py), and
the expiry of shelves.
(Sweeping dead workers is the heartbeat's, sentinel/registration/heartbeat.py:
it must run every fraction of a second, whatever a pass is doing.)"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

from psycopg_pool import ConnectionPool

from sentinel.findings import shelves
from sentinel.settings import Settings
from sentinel.worker import partitions
from sentinel.worker.store import RunStore

log = logging.getLogger(__name__)

SHELF_EXPIRY_SECONDS = 1.0


@dataclass(frozen=True)
class MaintenanceConfig:
    run_retention_days: float = 7.0
    every_seconds: float = 300.0
    # None: events are kept forever.
    event_retention_days: float | None = None
    event_partition_hours: int = 24
    # Partitions created beyond the current one.
    event_partitions_ahead: int = 3

    def __post_init__(self) -> None:
        if (
            self.run_retention_days <= 0
            or self.every_seconds <= 0
            or (self.event_retention_days is not None and self.event_retention_days <= 0)
            or self.event_partition_hours <= 0
            or self.event_partitions_ahead < 1
        ):
            raise ValueError(f"invalid maintenance config: {self}")

    @classmethod
    def from_settings(cls, settings: Settings) -> MaintenanceConfig:
        return cls(
            run_retention_days=settings.run_retention_days,
            event_retention_days=settings.event_retention_days,
            event_partition_hours=settings.event_partition_hours,
        )


class Maintenance:
    def __init__(
        self, pool: ConnectionPool, config: MaintenanceConfig, stopping: threading.Event
    ) -> None:
        self.pool = pool
        self.config = config
        self.stopping = stopping
        self._next: float | None = None
        self._next_expiry = 0.0

    def tick(self, now: float) -> None:
        # A shelf expires on the database clock, and the findings it covered
        # must not wait minutes to become unacknowledged: once a second (one
        # probe of ix_shelf_live when none is due), not at every tick, which
        # comes with every notification when the fleet is busy.
        if now >= self._next_expiry:
            self.expire_shelves()
            self._next_expiry = now + SHELF_EXPIRY_SECONDS
        if self._next is None:  # not at start: a fleet restarting all at once
            self._next = now + self.config.every_seconds
        elif now >= self._next:
            self.run_once()
            self._next = now + self.config.every_seconds

    def expire_shelves(self) -> int:
        """End every shelf past its expiry (the database's clock); how many."""
        with self.pool.connection() as conn:
            ended = shelves.expire(conn)
        if ended:
            log.info("shelves expired", extra={"action": "shelf_expiry", "ended": ended})
        return ended

    def run_once(self) -> int:
        """Maintain `event`'s partitions, drop the stream activity that has
        been read, then delete old finished runs in small batches; how many
        runs went."""
        self.maintain_partitions()
        removed = 0
        older_than = self.config.run_retention_days * 86400
        with self.pool.connection() as conn:
            store = RunStore(conn)
            store.prune_activity()
            while (batch := store.prune_finished(older_than)) > 0:
                removed += batch
                if self.stopping.is_set():
                    break
        if removed:
            log.info("old runs pruned", extra={"action": "retention", "removed": removed})
        return removed

    def maintain_partitions(self) -> partitions.Outcome:
        days = self.config.event_retention_days
        with self.pool.connection() as conn:
            return partitions.maintain(
                conn,
                width=timedelta(hours=self.config.event_partition_hours),
                ahead=self.config.event_partitions_ahead,
                retention=None if days is None else timedelta(days=days),
            )
