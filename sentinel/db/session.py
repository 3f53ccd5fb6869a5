"""The worker's one session connection: what needs a real server session
(the liveness lock, the sweep turn, LISTEN) shares it, so a worker costs the
server one connection beside its small pool, and the pool may go through
PgBouncer in transaction mode while this one goes direct
(SENTINEL_SESSION_DATABASE_URL).

Whoever holds a session-level lock (`registration.liveness`) owns the
connection's life: `open()` replaces it and runs the owner's setup (taking
the lock) before anything else may use it; nothing here reconnects on its
own, because a new session without the lock would be a lie. LISTEN rides
along: every (re)open LISTENs on the subscribed channels again and calls
each subscriber once, since notifications sent meanwhile are lost.

The listen thread waits for the socket outside the mutex and drains
notifications under it, so statements from other threads (the sweep turn)
never wait for a listen timeout; its wait also notices a closed session at
once, which is how `healthy()` answers without a statement.
"""

from __future__ import annotations

import functools
import logging
import select
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import psycopg
from psycopg import sql

from sentinel.db.connect import connect
from sentinel.errors import DatabaseError, first_line
from sentinel.types import Channel

log = logging.getLogger(__name__)

# A session that stops answering (a peer gone without a FIN) is noticed by
# TCP keepalives within about idle + interval * count seconds, so the lock
# and the subscriptions are re-taken instead of trusted for a kernel timeout.
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


class SessionBusy(DatabaseError):
    """The session connection is not open."""


class Subscriber(Protocol):
    """What LISTENs through the session (`sentinel.db.listen.ListenThread`
    has this shape, so the worker's listener subscribes instead of opening a
    connection of its own)."""

    @property
    def channels(self) -> Iterable[Channel]: ...

    def received(self, notify: psycopg.Notify) -> None:
        """One notification on one of its channels."""

    def reconnected(self) -> None:
        """After each (re)open: notifications sent meanwhile are lost."""


class Session:
    """One direct connection with a session of its own. `open(setup)` (re)opens
    it, `execute()` runs a statement on it from any thread, `subscribe()`
    adds LISTEN channels, `start()` runs the listen thread."""

    def __init__(self, url: str, *, application_name: str, poll: float = 0.5) -> None:
        self.url = url
        self.application_name = application_name[:63]
        self.poll = poll
        self.last_error: str | None = None  # why the session was lost last
        self.opens = 0  # successful (re)opens, for tests and logs
        self._conn: psycopg.Connection | None = None
        self._mutex = threading.Lock()
        self._subscribers: list[tuple[frozenset[str], Subscriber]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the connection ----------------------------------------------------

    def open(self, setup: Callable[[psycopg.Connection], bool] = lambda conn: True) -> bool:
        """Close the current session, open a new one and run `setup` on it
        first; keep it only if `setup` returns True. Raises what connecting
        raises (DatabaseUnavailable)."""
        with self._mutex:
            self._close()
            conn = connect(
                self.url, application_name=self.application_name, pgbouncer=False, **KEEPALIVES
            )
            try:
                if not setup(conn):
                    conn.close()
                    return False
                for channel in self._channels():
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            self.opens += 1
        self._catch_up()
        return True

    def healthy(self) -> bool:
        """Is the session still open? (The listen thread and every statement
        notice a lost one; this asks the server nothing.)"""
        with self._mutex:
            conn = self._conn
            return conn is not None and not conn.closed and not conn.broken

    def execute(self, query: str, params: dict[str, Any] | None = None) -> tuple[Any, ...] | None:
        """One statement on the session; its first row. A failure closes the
        session (its locks went with it, or soon will) and is raised."""
        with self._mutex:
            conn = self._conn
            if conn is None:
                raise SessionBusy("the session connection is not open")
            try:
                row = conn.execute(query, params).fetchone()
                notifies = list(conn.notifies(timeout=0))  # received meanwhile
            except psycopg.Error as exc:
                self.last_error = first_line(exc)
                self._close()
                raise
        self._dispatch(notifies)
        return row

    def close(self) -> None:
        """End the session (which releases its locks); `open()` may follow."""
        with self._mutex:
            self._close()

    def stop(self) -> None:
        """End the session and the listen thread, for good."""
        self._stop.set()
        self.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.poll * 4)

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None

    # ---- LISTEN -------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> None:
        """Hand `subscriber` each notification on its channels, and tell it
        after each (re)open. LISTENs at once if the session is open."""
        names = frozenset(Channel(c).value for c in subscriber.channels)
        with self._mutex:
            self._subscribers.append((names, subscriber))
            conn = self._conn
            if conn is not None:
                try:
                    for channel in sorted(names):
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                except psycopg.Error as exc:
                    self.last_error = first_line(exc)
                    self._close()

    def start(self) -> None:
        """Run the listen thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._listen, name=f"session-{self.application_name}", daemon=True
            )
            self._thread.start()

    def _channels(self) -> list[str]:
        return sorted({name for names, _ in self._subscribers for name in names})

    def _listen(self) -> None:
        while not self._stop.is_set():
            with self._mutex:
                conn = self._conn
            if conn is None or conn.closed:
                self._stop.wait(self.poll)
                continue
            try:
                select.select([conn.fileno()], [], [], self.poll)
            except (OSError, ValueError, psycopg.Error):
                continue  # closed under us: the next round sees it
            with self._mutex:
                if self._conn is not conn:
                    continue
                try:
                    notifies = list(conn.notifies(timeout=0))
                except psycopg.Error as exc:
                    self.last_error = first_line(exc)
                    log.debug("session lost", extra={"error": self.last_error})
                    self._close()
                    continue
            self._dispatch(notifies)

    def _dispatch(self, notifies: list[psycopg.Notify]) -> None:
        for notify in notifies:
            for names, subscriber in list(self._subscribers):
                if notify.channel in names:
                    self._call(functools.partial(subscriber.received, notify))

    def _catch_up(self) -> None:
        for _, subscriber in list(self._subscribers):
            self._call(subscriber.reconnected)

    @staticmethod
    def _call(hook: Callable[[], None]) -> None:
        try:
            hook()
        except Exception:  # a subscriber's bug must not end the session
            log.exception("notification handler failed")
