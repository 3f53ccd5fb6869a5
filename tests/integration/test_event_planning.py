"""Event-driven planning on a real Postgres: what the ingest store announces,
and what `plan_streams` plans — the due streams only, at most one run per
stream per gap (on a pinned clock), never a stream whose new events a pass
cannot read yet — and the planner that ties the two together."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from sentinel.db.connect import make_pool
from sentinel.ingest.store import ingest_events, ingest_lines
from sentinel.types import Channel
from sentinel.worker.planner import Planner, PlannerConfig
from sentinel.worker.store import RunStore
from tests.acceptance.fleet import wait_for

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _event(stream: str, n: int, source: str = "test") -> dict[str, object]:
    return {
        "source": source,
        "stream": stream,
        "external_id": f"{stream}-{n}",
        "occurred_at": T0 + timedelta(seconds=n),
        "payload": {"v": n},
    }


def _announced(listener: psycopg.Connection) -> list[list[str]]:
    return [
        json.loads(n.payload)
        for n in listener.notifies(timeout=0.5, stop_after=None)
        if n.channel == Channel.STREAM.value
    ]


def _drain(listener: psycopg.Connection) -> None:
    list(listener.notifies(timeout=0.2))


def _sql_events(conn: psycopg.Connection, stream: str, n: int = 1) -> None:
    conn.execute(
        "INSERT INTO event (source, stream, occurred_at, external_id) "
        "SELECT 'sql', %s, now(), %s || '-' || g || '-' || clock_timestamp() "
        "FROM generate_series(1, %s) g",
        [stream, stream, n],
    )


def _readable(conn: psycopg.Connection) -> None:
    """Wait until a pass could read every event: below the horizon (on a
    shared server another session's open transaction may hold it back)."""
    wait_for(
        lambda: (
            conn.execute(
                "SELECT max(xact) < (pg_snapshot_xmin(pg_current_snapshot())::text)::bigint"
                " FROM event"
            ).fetchone()
            == (True,)
        ),
        timeout=30,
        what="the events below the horizon",
    )


def _processed(conn: psycopg.Connection, *keys: str) -> None:
    """As a completed pass leaves them: every event read, looked at now."""
    conn.execute("UPDATE run SET status = 'succeeded', finished_at = now()")
    conn.execute(
        "UPDATE stream SET cursor_xid = (SELECT coalesce(max(xact), 0) + 1 FROM event),"
        " last_pass_at = now() WHERE key = ANY(%s)",
        [list(keys)],
    )


def test_an_ingest_announces_each_stream_it_gave_new_events_once_at_commit(
    db_url: str, conn: psycopg.Connection
) -> None:
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {Channel.STREAM.value}")
        events = [_event(s, n) for n in range(5) for s in ("b/1", "a/1", "c/1")]
        ingest_events(conn, events, batch_size=4)  # four batches, one transaction each
        payloads = _announced(listener)
        assert payloads and all(p == sorted(p) for p in payloads)
        assert {k for p in payloads for k in p} == {"a/1", "b/1", "c/1"}

        ingest_events(conn, events)  # nothing new: nothing to announce
        assert _announced(listener) == []

        ingest_events(conn, [*events, _event("d/1", 1)])  # the staging path: only d/1 is new
        assert _announced(listener) == [["d/1"]]

        lines = [json.dumps({**_event("e/1", 1), "occurred_at": T0.isoformat()}), "not json"]
        result = ingest_lines(conn, lines, fmt="jsonl", strict=True)
        assert result.accepted == 0  # all or nothing, rolled back: never announced
        assert _announced(listener) == []


def test_a_transaction_over_many_streams_is_announced_in_payloads_under_the_limit(
    db_url: str, conn: psycopg.Connection
) -> None:
    keys = [f"plant-a/line-{i:04d}/" + "x" * 60 for i in range(400)]  # about 30 kB of keys
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {Channel.STREAM.value}")
        ingest_events(conn, [_event(k, 1) for k in keys])
        payloads = _announced(listener)
    assert len(payloads) >= 4
    assert all(len(json.dumps(p, separators=(",", ":")).encode()) < 8000 for p in payloads)
    assert sorted(k for p in payloads for k in p) == sorted(keys)


def test_only_due_streams_are_planned_and_at_most_once_per_gap(conn: psycopg.Connection) -> None:
    ingest_events(conn, [_event("s/busy", 1), _event("s/idle", 1)])
    store = RunStore(conn, now=T0)
    assert store.plan_streams(None, 0.2, 5).planned == ["s/busy", "s/idle"]  # never looked at
    _processed(conn, "s/busy", "s/idle")
    assert store.plan_streams(None, 0.2, 5).planned == []  # nothing new anywhere

    _sql_events(conn, "s/busy")
    _readable(conn)
    early = RunStore(conn, now=T0 + timedelta(seconds=0.05)).plan_streams(["s/busy"], 0.2, 5)
    assert early.planned == []
    assert early.retry["s/busy"] == pytest.approx(0.15)  # the rest of its gap
    late = RunStore(conn, now=T0 + timedelta(seconds=0.25)).plan_streams(None, 0.2, 5)
    assert late.planned == ["s/busy"]  # the idle stream still gets nothing
    assert conn.execute("SELECT count(*) FROM run").fetchone() == (3,)


def test_a_stream_with_a_run_in_progress_is_tried_again_and_a_queued_one_is_left(
    conn: psycopg.Connection,
) -> None:
    ingest_events(conn, [_event("s/q", 1), _event("s/r", 1)])
    store = RunStore(conn, now=T0)
    assert store.plan_streams(None, 0.2, 5).planned == ["s/q", "s/r"]
    conn.execute(
        "UPDATE run SET status = 'running' FROM stream s WHERE s.id = run.stream_id"
        " AND s.key = 's/r'"
    )
    again = RunStore(conn, now=T0 + timedelta(seconds=1)).plan_streams(None, 0.2, 5)
    # The running pass may have started before these events: ask again after
    # a gap. The queued one will read them.
    assert again.planned == [] and again.retry == {"s/r": pytest.approx(0.2)}


def test_a_clock_rule_due_since_the_last_pass_makes_a_stream_due(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO stream (key, last_pass_at, next_due_at) VALUES"
        " ('silent', %(t)s, %(t)s + interval '5 minutes'),"
        " ('judged', %(t)s + interval '10 minutes', %(t)s + interval '5 minutes')",
        {"t": T0},
    )
    assert RunStore(conn, now=T0 + timedelta(minutes=4)).plan_streams(None, 0.2, 5).planned == []
    due = RunStore(conn, now=T0 + timedelta(minutes=6)).plan_streams(None, 0.2, 5)
    # 'judged' had its pass after its due time: the clock plan of the run
    # interval looks at it again, the sweep does not spin on it.
    assert due.planned == ["silent"]


def test_events_of_a_transaction_a_pass_cannot_read_yet_do_not_make_a_stream_due(
    db_url: str, conn: psycopg.Connection
) -> None:
    """Below the horizon only: while an older transaction is open anywhere, a
    pass would read nothing of a later one, so no run is planned for it."""
    ingest_events(conn, [_event("s/h", 1)])
    _processed(conn, "s/h")
    with psycopg.connect(db_url) as old:  # an open transaction with an id
        old.execute("SELECT pg_current_xact_id()")
        _sql_events(conn, "s/h")
        # Not below the horizon while `old` is open, whatever else runs.
        assert RunStore(conn).plan_streams(["s/h"], 0, 5).planned == []
        old.rollback()
    _readable(conn)
    assert RunStore(conn).plan_streams(["s/h"], 0, 5).planned == ["s/h"]


def test_the_planner_plans_what_it_is_told_and_retries_what_waits_its_gap(
    db_url: str, conn: psycopg.Connection
) -> None:
    ingest_events(conn, [_event("p/1", 1), _event("p/2", 1)])
    with make_pool(db_url, max_size=2) as pool:
        planner = Planner(pool, PlannerConfig(run_interval_seconds=600, stream_min_gap_seconds=30))
        planner.announce(["p/1"])
        assert planner.plan_announced(now=100.0) == 1
        assert planner.plan_announced(now=100.0) == 0  # nothing pending
        _processed(conn, "p/1")
        _sql_events(conn, "p/1")
        _readable(conn)
        planner.announce(["p/1"])
        assert planner.plan_announced(now=101.0) == 0  # within its 30 s gap
        [(key, at)] = planner.waiting().items()
        assert key == "p/1" and 101.0 + 25 < at <= 101.0 + 30  # tried again when it ends
        planner.announce(None)  # a lost notification: sweep now
        assert planner.next_due() == 0.0
        assert planner.sweep(now=102.0) == 1  # p/2, never looked at; p/1 waits its gap
        assert conn.execute("SELECT count(*) FROM run").fetchone() == (2,)

        off = Planner(pool, PlannerConfig(run_interval_seconds=600, event_planning=False))
        off.announce(["p/2"])
        assert off.plan_announced(now=0.0) == 0
