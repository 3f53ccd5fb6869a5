"""Every registration statement, one method each. The caller owns the
connection and the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sentinel.db import queries
from sentinel.registration.models import Beat, Sweep, WorkerInfo

SQL = queries.beside(__file__)

# Advisory lock class (first key) of worker liveness locks; the second key is
# hashtext(name). Chosen once; any constant unlikely to clash works.
LOCK_CLASS = 0x5E17
# Advisory lock class of the sweep turns; the second key is the tick's number.
TURN_CLASS = 0x5E18


class WorkerStore:
    def __init__(self, conn: psycopg.Connection, now: datetime | None = None) -> None:
        self.conn = conn
        # The time the protocol's statements go by: None is the database's
        # now() (production); tests pin it instead of sleeping or rewriting rows.
        self.now = now

    def register(self, info: WorkerInfo) -> int:
        row = self.conn.execute(
            SQL["register"],
            {
                "now": self.now,
                "name": info.name,
                "worker_type": info.worker_type,
                "worker_role": info.worker_role,
                "runtime": info.runtime,
                "host": info.host,
                "port": info.port,
                "capabilities": Jsonb(info.capabilities),
                "meta": Jsonb(info.meta),
            },
        ).fetchone()
        assert row is not None
        return int(row[0])

    def requeue_orphans(self, worker_id: int, in_hand: Iterable[int] = ()) -> int:
        cur = self.conn.execute(
            SQL["requeue_orphans"],
            {"now": self.now, "worker_id": worker_id, "in_hand": list(in_hand)},
        )
        return cur.rowcount

    def holder(self, name: str) -> dict[str, object] | None:
        with self.conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(SQL["holder"], {"name": name}).fetchone()

    def heartbeat(self, worker_id: int, lease_seconds: float, in_hand: Iterable[int]) -> Beat:
        """Beat, and renew the leases of the runs in hand (only those)."""
        row = self.conn.execute(
            SQL["heartbeat"],
            {
                "now": self.now,
                "worker_id": worker_id,
                "lease_seconds": lease_seconds,
                "in_hand": list(in_hand),
            },
        ).fetchone()
        assert row is not None
        return Beat(
            active=row[0], renewed=frozenset(row[1]), lost=frozenset(row[2]), db_now=row[3]
        )

    def set_status(self, worker_id: int, status: str) -> None:
        self.conn.execute(
            SQL["set_status"], {"now": self.now, "worker_id": worker_id, "status": status}
        )

    def set_capabilities(self, worker_id: int, capabilities: dict[str, object]) -> None:
        self.conn.execute(
            SQL["set_capabilities"],
            {"worker_id": worker_id, "capabilities": Jsonb(capabilities)},
        )

    def deregister(self, worker_id: int) -> int:
        """Mark inactive; returns how many held runs went back to the queue."""
        return self.conn.execute(
            SQL["deregister"], {"now": self.now, "worker_id": worker_id}
        ).rowcount

    def sweep(self, worker_id: int, stale_seconds: float, lock_grace_seconds: float) -> Sweep:
        row = self.conn.execute(
            SQL["sweep"],
            {
                "now": self.now,
                "worker_id": worker_id,
                "stale_seconds": stale_seconds,
                "lock_grace": lock_grace_seconds,
                "lock_class": LOCK_CLASS,
            },
        ).fetchone()
        assert row is not None
        return Sweep(dead=tuple(row[0]), requeued=int(row[1]), expired=int(row[2]))

    def prune(self, older_than_seconds: float) -> list[str]:
        rows = self.conn.execute(SQL["prune"], {"older_than": older_than_seconds}).fetchall()
        return [r[0] for r in rows]
