"""The liveness lock and the sweep turn, on the worker's one session
connection (`sentinel.db.session.Session`, shared with LISTEN).

The liveness lock is a session-level advisory lock keyed by the worker's
name, held for the worker's whole life. When the process dies (even by
SIGKILL) the kernel closes its socket, the server ends the session and the
lock disappears at once; the next sweep sees that. The same lock refuses a
second live process that tries to register under a name already in use.

The sweep turn keeps the registry's cost linear in the fleet: every worker
asks each liveness check whether this tick is its turn (one statement that
touches no table), and only the one that gets the tick sweeps (see
`sweep_turn` in queries.sql).
"""

from __future__ import annotations

import logging
import time

import psycopg

from sentinel.db import queries
from sentinel.db.session import Session
from sentinel.errors import ConfigError
from sentinel.registration.store import LOCK_CLASS, TURN_CLASS

log = logging.getLogger(__name__)

SQL = queries.beside(__file__)

NOT_DIRECT = (
    "the worker's session connection goes through a pooler such as PgBouncer "
    "(SENTINEL_SESSION_DATABASE_URL, else SENTINEL_DATABASE_URL): set "
    "SENTINEL_SESSION_DATABASE_URL to a direct URL of the server, because the "
    "liveness lock and LISTEN need a session of their own"
)


class LivenessLock:
    def __init__(self, session: Session, name: str) -> None:
        self.session = session
        self.name = name
        self._held_tick: int | None = None  # the sweep turn this session holds

    @property
    def last_error(self) -> str | None:
        """Why the lock's session was lost last."""
        return self.session.last_error

    def acquire(self, wait: float = 0.0) -> bool:
        """(Re)open the session and take the lock; False if another session
        still holds it after `wait` seconds."""

        def take(conn: psycopg.Connection) -> bool:
            from sentinel.db.connect import behind_pooler

            if behind_pooler(conn):
                raise ConfigError(NOT_DIRECT)
            deadline = time.monotonic() + wait
            while True:
                row = conn.execute(
                    SQL["take_lock"], {"lock_class": LOCK_CLASS, "name": self.name}
                ).fetchone()
                if row and row[0]:
                    return True
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)

        self._held_tick = None  # a new session holds no turn
        return self.session.open(take)

    def healthy(self) -> bool:
        """Is the lock still ours? (False when its session was lost.)"""
        return self.session.healthy()

    def my_turn(self, check_seconds: float, now: object = None) -> bool:
        """Is this liveness tick this worker's to sweep? Raises what the
        session raises (then the lock is gone too, and `healthy()` says so)."""
        row = self.session.execute(
            SQL["sweep_turn"],
            {
                "now": now,
                "check_seconds": check_seconds,
                "held": self._held_tick,
                "turn_class": TURN_CLASS,
            },
        )
        assert row is not None
        tick, mine = int(row[0]), bool(row[1])
        if mine:
            self._held_tick = tick
        return mine

    def release(self) -> None:
        self.session.close()  # ending the session releases the lock
