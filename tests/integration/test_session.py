"""The worker's one session connection on a real Postgres: the liveness lock,
the sweep turn and LISTEN share it; a pool sized to the passes does the rest;
one sweeper per tick, fleet-wide."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from sentinel.db.connect import make_pool
from sentinel.db.session import Session
from sentinel.registration.heartbeat import Heartbeat
from sentinel.registration.registrar import Registration
from sentinel.registration.store import LOCK_CLASS, TURN_CLASS
from sentinel.settings import load_settings
from sentinel.types import Channel
from sentinel.worker.service import WorkerService, pool_size
from tests.acceptance.fleet import wait_for


class Recorder:
    """A subscriber that counts what the session hands it."""

    channels = (Channel.RUN,)

    def __init__(self) -> None:
        self.payloads: list[str] = []
        self.reconnects = 0
        self.lock = threading.Lock()

    def received(self, notify: psycopg.Notify) -> None:
        with self.lock:
            self.payloads.append(notify.payload)

    def reconnected(self) -> None:
        with self.lock:
            self.reconnects += 1


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with make_pool(db_url, max_size=4) as opened:
        yield opened


def _backends(conn: psycopg.Connection, name: str) -> list[tuple[int, str]]:
    """(pid, application_name) of the other sessions on this database whose
    application name starts with `name`."""
    return [
        (int(pid), str(app))
        for pid, app in conn.execute(
            "SELECT pid, application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name LIKE %s",
            [name + "%"],
        ).fetchall()
    ]


def _lock_holder(conn: psycopg.Connection, name: str) -> int | None:
    row = conn.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
        "AND objid = hashtext(%s)::oid AND objsubid = 2 AND granted",
        [LOCK_CLASS, name],
    ).fetchone()
    return int(row[0]) if row else None


def test_a_worker_holds_one_session_connection_and_a_pool_sized_to_its_passes(
    db_url: str, conn: psycopg.Connection
) -> None:
    settings = load_settings(max_concurrent_runs=2)
    service = WorkerService(settings, db_url, name="w-conns")
    service.start()
    try:
        sessions = _backends(conn, "w-conns")
        assert len(sessions) == 1, sessions  # the lock and LISTEN share one
        assert _lock_holder(conn, "w-conns") == sessions[0][0]
        # No listener connection of its own, as the worker had before.
        assert _backends(conn, "sentinel-worker-listen") == []
        pooled = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND application_name NOT LIKE 'w-conns%%'"
        ).fetchone()
        assert pooled is not None and 1 <= pooled[0] <= pool_size(settings) == 4
        # The listener hears a NOTIFY through the session: the loop is woken.
        service.wake.clear()
        conn.execute("NOTIFY sentinel_run")
        wait_for(service.wake.is_set, timeout=10, what="the loop woken by a NOTIFY")
    finally:
        service.close()
    assert _backends(conn, "w-conns") == []  # closed, and with it the lock


def test_the_session_listens_and_takes_statements_from_other_threads(
    db_url: str, conn: psycopg.Connection
) -> None:
    session = Session(db_url, application_name="s-listen", poll=0.2)
    recorder = Recorder()
    session.subscribe(recorder)
    assert session.open()
    session.start()
    try:
        assert recorder.reconnects == 1  # told once at open
        conn.execute("NOTIFY sentinel_run, 'one'")
        wait_for(lambda: recorder.payloads == ["one"], timeout=10, what="the notification")
        # A statement from this thread while the listen thread waits: no stall,
        # and a notification that arrives with it is handed on too.
        conn.execute("NOTIFY sentinel_run, 'two'")
        row = session.execute("SELECT pg_backend_pid()")
        assert row is not None and _backends(conn, "s-listen") == [(row[0], "s-listen")]
        wait_for(lambda: "two" in recorder.payloads, timeout=10, what="the second")
        assert recorder.payloads == ["one", "two"]
        conn.execute("NOTIFY sentinel_recommendation, 'not ours'")
        conn.execute("NOTIFY sentinel_run, 'three'")
        wait_for(lambda: "three" in recorder.payloads, timeout=10, what="the third")
        assert "not ours" not in recorder.payloads
    finally:
        session.stop()
    assert not session.healthy()


def test_a_terminated_session_is_reopened_with_its_lock_and_its_listens(
    db_url: str, pool: ConnectionPool, conn: psycopg.Connection
) -> None:
    registration = Registration(load_settings(), db_url, pool, name="w-reopen")
    recorder = Recorder()
    registration.session.subscribe(recorder)
    registration.register()
    registration.session.start()
    heartbeat = Heartbeat(registration, in_hand=set, on_lost=lambda ids, why: None)
    try:
        first = _lock_holder(conn, "w-reopen")
        assert first is not None and registration.lock.healthy()
        conn.execute("SELECT pg_terminate_backend(%s)", [first])
        # The listen thread notices at once; no statement needed.
        wait_for(lambda: not registration.lock.healthy(), timeout=10, what="the loss noticed")
        heartbeat.check_once()  # what the heartbeat thread does next
        second = _lock_holder(conn, "w-reopen")
        assert second is not None and second != first
        assert registration.lock.healthy() and recorder.reconnects == 2
        conn.execute("NOTIFY sentinel_run, 'after'")
        wait_for(lambda: recorder.payloads == ["after"], timeout=10, what="listening again")
    finally:
        registration.deregister()
        registration.session.stop()


def test_one_worker_of_the_fleet_sweeps_each_tick(
    db_url: str, pool: ConnectionPool, conn: psycopg.Connection
) -> None:
    check = load_settings().liveness_check_seconds
    fleet = [Registration(load_settings(), db_url, pool, name=f"w-turn-{i}") for i in range(4)]
    for registration in fleet:
        registration.register()
    try:
        tick = datetime(2026, 11, 1, 12, tzinfo=UTC)
        winner = fleet[0]
        for step in range(6):
            now = tick + timedelta(seconds=check * step)
            # Everyone asks, some twice: one turn per tick, never the same twice.
            turns = [r.lock.my_turn(check, now=now) for r in fleet + fleet]
            assert turns.count(True) == 1, (step, turns)
            winner = fleet[turns.index(True) % len(fleet)]
            # Each session keeps at most the one turn it was given last.
            held = conn.execute(
                "SELECT pid, count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = %s GROUP BY pid",
                [TURN_CLASS],
            ).fetchall()
            assert held and all(count == 1 for _, count in held)
        # A holder that died gives its tick to whoever asks next.
        winner.lock.release()
        others = [r for r in fleet if r is not winner]
        wait_for(
            lambda: any(r.lock.my_turn(check, now=now) for r in others),
            timeout=5,
            what="the tick given up by its holder's death",
        )
    finally:
        for registration in fleet:
            registration.deregister()
            registration.session.stop()
