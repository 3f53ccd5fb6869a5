"""The LISTEN-with-reconnect helper on a real Postgres: it delivers
notifications, comes back after its connection is killed, and delivers again."""

from __future__ import annotations

import threading

import psycopg

from sentinel.db.listen import ListenThread
from sentinel.types import Channel
from tests.acceptance.fleet import wait_for

APP = "sentinel-listen-test"


class _Calls:
    def __init__(self) -> None:
        self.n = 0
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.n += 1


def _listener_pid(conn: psycopg.Connection) -> int | None:
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity"
        " WHERE application_name = %s AND datname = current_database()",
        [APP],
    ).fetchone()
    return None if row is None else int(row[0])


def test_it_reconnects_after_its_connection_is_terminated_and_delivers_again(
    db_url: str,
) -> None:
    calls = _Calls()
    listener = ListenThread(
        db_url, calls, [Channel.RUN], application_name=APP, first_backoff=0.05, poll=0.1
    )
    listener.start()
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            wait_for(lambda: listener.connects == 1, timeout=10, what="the first connect")
            assert calls.n == 1  # the catch-up call after connecting, nothing else yet
            conn.execute("SELECT pg_notify(%s, '')", [Channel.RUN.value])
            wait_for(lambda: calls.n == 2, timeout=5, what="the first notification")

            first = _listener_pid(conn)
            assert first is not None
            conn.execute("SELECT pg_terminate_backend(%s)", [first])
            wait_for(lambda: listener.connects == 2, timeout=10, what="the reconnect")
            assert calls.n == 3  # the catch-up call after reconnecting
            second = _listener_pid(conn)
            assert second is not None and second != first

            conn.execute("SELECT pg_notify(%s, '')", [Channel.RUN.value])
            wait_for(lambda: calls.n == 4, timeout=5, what="a notification after the reconnect")
    finally:
        listener.stop()
        listener.join(timeout=5)
    assert not listener.is_alive()
