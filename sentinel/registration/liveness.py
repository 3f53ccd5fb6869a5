"""The liveness lock: a session-level advisory lock keyed by the worker's name,
held on a dedicated connection for the worker's whole life.

When the process dies (even by SIGKILL) the kernel closes its socket, the
server ends the session and the lock disappears at once; any peer's sweep sees
that within a second. The same lock refuses a second live process that tries
to register under a name already in use.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from sentinel.db.connect import connect
from sentinel.errors import first_line
from sentinel.registration.store import LOCK_CLASS

log = logging.getLogger(__name__)


class LivenessLock:
    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self._conn: psycopg.Connection | None = None
        self._mutex = threading.Lock()
        self.last_error: str | None = None  # why the lock's connection was lost

    def acquire(self, wait: float = 0.0) -> bool:
        """Open the connection and take the lock; False if another session
        still holds it after `wait` seconds."""
        with self._mutex:
            self._close()
            conn = connect(self.url)
            conn.execute("SELECT set_config('application_name', %s, false)", [self.name[:63]])
            deadline = time.monotonic() + wait
            while True:
                row = conn.execute(
                    "SELECT pg_try_advisory_lock(%s, hashtext(%s))", [LOCK_CLASS, self.name]
                ).fetchone()
                if row and row[0]:
                    self._conn = conn
                    return True
                if time.monotonic() >= deadline:
                    conn.close()
                    return False
                time.sleep(0.05)

    def healthy(self) -> bool:
        """Is the lock still ours? (False when its connection broke.)"""
        with self._mutex:
            conn = self._conn
            if conn is None or conn.closed:
                return False
            try:
                conn.execute("SELECT 1")
                return True
            except psycopg.Error as exc:
                self.last_error = first_line(exc)
                self._close()
                return False

    def release(self) -> None:
        with self._mutex:
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # closing the session releases the lock
            except psycopg.Error:
                pass
            self._conn = None
